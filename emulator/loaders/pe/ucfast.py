"""cffi bindings for the few unicorn calls on the hot path (about 2x cheaper than ctypes).

The :class:`unicorn.Uc` object still owns the engine; these functions take its raw handle.
"""

from __future__ import annotations

from typing import Any

import cffi
from unicorn.unicorn_py3.unicorn import uclib

ffi = cffi.FFI()
ffi.cdef(
    """
    typedef void uc_engine;
    int uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count);
    int uc_emu_stop(uc_engine *uc);
    int uc_reg_read(uc_engine *uc, int regid, void *value);
    int uc_reg_write(uc_engine *uc, int regid, const void *value);
    int uc_reg_read_batch(uc_engine *uc, int *regs, void **vals, int count);
    int uc_reg_write_batch(uc_engine *uc, int *regs, void *const *vals, int count);
    """
)
lib: Any = ffi.dlopen(uclib._name)

#: signature of a UC_HOOK_CODE callback
HOOK_CODE = "void(void *, uint64_t, uint32_t, void *)"


def handle(uc: Any) -> Any:
    """The engine pointer of a :class:`unicorn.Uc` as a cffi ``void*``."""
    return ffi.cast("void *", uc._uch.value)


def reg_batch(ids: list[int], widths: list[int] | None = None) -> tuple[Any, Any, Any]:
    """(regs int[], ptrs void*[], vals uint64_t[]) for batch access; register i uses
    ``widths[i]`` 8-byte words (2 for XMM) starting at the sum of the previous widths."""
    widths = widths or [1] * len(ids)
    regs = ffi.new("int[]", ids)
    vals = ffi.new("uint64_t[]", max(1, sum(widths)))
    offs = []
    o = 0
    for w in widths:
        offs.append(o)
        o += w
    ptrs = ffi.new("void *[]", [vals + x for x in offs])
    return regs, ptrs, vals
