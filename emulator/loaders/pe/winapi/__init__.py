"""The Windows API layer: one small Python handler per imported function.

Writing a handler
-----------------
Put it in any module of this package (all modules are imported by :func:`load_all`)::

    from emulator.loaders.pe.winapi import Ctx, api

    @api("kernel32.dll", "HeapAlloc")            # stdcall, argc taken from the signature (3)
    def HeapAlloc(ctx: Ctx, heap: int, flags: int, size: int) -> int:
        return ctx.alloc(size, heap=heap, zero=bool(flags & 8))

* ``conv`` is ``"stdcall"`` (callee pops ``4*argc`` on x86; the stub ends in ``ret 4*argc``) or
  ``"cdecl"`` (caller pops; msvcrt/ucrt). On x64 both mean the Microsoft x64 convention.
* Arguments arrive as unsigned integers of the guest's pointer width (x86: 32-bit; x64: the full
  register, so mask DWORD arguments with ``& 0xFFFFFFFF`` where the high half is undefined).
* Return an ``int`` (``None`` means 0). ``ret64=True`` makes x86 return EDX:EAX.
* ``wide_args=(i, ...)``: parameters that are 64-bit integers on both bitnesses (they take two
  stack slots on x86; the handler still gets one int).
* ``varargs=True``: the declared parameters are the fixed ones; read the rest with
  ``ctx.arg(i)`` / :meth:`Ctx.varargs`.
* Raise :class:`ApiFault` to stop the call (``abort``, a deadlock, ...). A bad guest pointer raises
  :class:`~emulator.loaders.pe.memory.GuestMemoryError`, reported as an access violation in that API.
* ``ordinal=`` registers the ordinal too (imports by ordinal resolve through it).
* ``fast32=``/``fast64=``: optional guest machine code tried first, so hot trivial APIs
  (EnterCriticalSection, ...) cost no Python round trip. It handles the common case itself and
  jumps to the Python handler for everything else through the placeholder :data:`FALLBACK32` /
  :data:`FALLBACK64` (patched at load to the handler's stub). Fast paths bypass the call trace.
* ``@data(dll, name, size=...)`` declares a DATA import (the IAT slot points at guest data that
  ``init(ctx, address)`` fills once per load); ``@guest_code`` declares a function implemented as
  guest machine code (for imports that call guest function pointers, e.g. ``_initterm``).

DLL names are case-insensitive. ``api-ms-win-crt-*``, ``vcruntime*`` and ``msvcr*`` resolve to
ucrtbase and then msvcrt handlers; ``api-ms-win-core-*`` and ``kernelbase`` to kernel32 then ntdll.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from emulator.loaders.pe.heap import Heap
from emulator.loaders.pe.memory import Memory
from emulator.loaders.pe.process import Process

Conv = Literal["stdcall", "cdecl"]
Handler = Callable[..., int | None]
F = TypeVar("F", bound=Callable[..., Any])

#: ANSI code page of the emulated system
ACP = "cp1252"
#: placeholder immediates in fast-path guest code, replaced by the Python handler's stub address
FALLBACK32 = bytes.fromhex("5eebb55e")
FALLBACK64 = bytes.fromhex("5eebb55e5eebb55e")


class ApiFault(Exception):
    """Raised by a handler to stop the current call with a :class:`CallFault` of ``kind``.

    ``detail`` is merged into the fault's detail (e.g. ``{"rule": "R66"}``).
    """

    def __init__(self, kind: str, message: str, detail: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.message = message
        self.detail: dict[str, Any] = dict(detail or {})
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ApiSpec:
    """A registered import: a Python handler, a DATA symbol or guest code."""

    dll: str
    name: str
    kind: Literal["python", "data", "guest"]
    argc: int = 0
    #: stack slots on x86 when they differ from ``argc`` (64-bit parameters); None = argc
    argc32: int | None = None
    conv: Conv = "stdcall"
    handler: Handler | None = None
    varargs: bool = False
    ret64: bool = False
    ordinal: int | None = None
    #: DATA: bytes to reserve per bitness; init(ctx, address) fills them
    size32: int = 0
    size64: int = 0
    init: Callable[[Ctx, int], None] | None = None
    #: guest code per bitness (kind "guest"; for "python" the optional fast path)
    code32: bytes = b""
    code64: bytes = b""

    @property
    def label(self) -> str:
        """``dll!name``."""
        return f"{self.dll}!{self.name}"


REGISTRY: dict[tuple[str, str], ApiSpec] = {}
ORDINALS: dict[tuple[str, int], ApiSpec] = {}


def _norm_dll(dll: str) -> str:
    d = dll.lower()
    return d if d.endswith((".dll", ".drv", ".exe", ".sys")) else d + ".dll"


def _register(spec: ApiSpec) -> None:
    key = (spec.dll, spec.name)
    if key in REGISTRY:
        raise ValueError(f"{spec.label} is registered twice")
    REGISTRY[key] = spec
    if spec.ordinal is not None:
        ORDINALS[(spec.dll, spec.ordinal)] = spec


def api(
    dll: str,
    name: str | None = None,
    *,
    argc: int | None = None,
    conv: Conv = "stdcall",
    ordinal: int | None = None,
    varargs: bool = False,
    ret64: bool = False,
    also: tuple[str, ...] = (),
    fast32: bytes = b"",
    fast64: bytes = b"",
    wide_args: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Register the decorated function as the handler of ``dll!name`` (default: the function name).

    ``argc`` defaults to the number of parameters after ``ctx``; ``also`` registers the same
    handler under more DLL names.
    """

    def deco(fn: F) -> F:
        n = len(inspect.signature(fn).parameters) - 1
        if argc is not None and argc != n and not varargs:
            raise ValueError(f"{fn.__name__}: argc={argc} but the handler takes {n} arguments")
        count = n if argc is None else argc
        handler: Handler = fn
        if wide_args:
            handler = _joining(fn, wide_args)
        for d in (dll, *also):
            _register(
                ApiSpec(
                    dll=_norm_dll(d),
                    name=name or fn.__name__,
                    kind="python",
                    argc=count,
                    argc32=count + len(wide_args) if wide_args else None,
                    conv=conv,
                    handler=handler,
                    varargs=varargs,
                    ret64=ret64,
                    ordinal=ordinal if d == dll else None,
                    code32=fast32,
                    code64=fast64,
                )
            )
        return fn

    return deco


def _joining(fn: Handler, wide: tuple[int, ...]) -> Handler:
    """Wrap ``fn`` so that on x86 the two 32-bit halves of each 64-bit parameter arrive as one int."""

    def handler(ctx: Ctx, *slots: int) -> int | None:
        if ctx.bits == 64:
            return fn(ctx, *slots)
        args: list[int] = []
        i = 0
        for n in range(len(slots) - len(wide)):
            if n in wide:
                args.append(slots[i] | slots[i + 1] << 32)
                i += 2
            else:
                args.append(slots[i])
                i += 1
        return fn(ctx, *args)

    return handler


def data(
    dll: str,
    name: str,
    *,
    size32: int,
    size64: int,
    also: tuple[str, ...] = (),
) -> Callable[[Callable[[Ctx, int], None]], Callable[[Ctx, int], None]]:
    """Declare a DATA import; the decorated ``init(ctx, address)`` fills its memory at load."""

    def deco(init: Callable[[Ctx, int], None]) -> Callable[[Ctx, int], None]:
        for d in (dll, *also):
            _register(ApiSpec(_norm_dll(d), name, "data", size32=size32, size64=size64, init=init))
        return init

    return deco


def guest_code(
    dll: str,
    name: str,
    *,
    x86: bytes,
    x64: bytes,
    argc: int,
    conv: Conv = "cdecl",
    also: tuple[str, ...] = (),
) -> None:
    """Declare ``dll!name`` as guest machine code (position-independent, ends in ``ret``)."""
    for d in (dll, *also):
        _register(
            ApiSpec(_norm_dll(d), name, "guest", argc=argc, conv=conv, code32=x86, code64=x64)
        )


def search_order(dll: str) -> tuple[str, ...]:
    """The registry DLL names tried, in order, for an import from ``dll``."""
    d = _norm_dll(dll)
    if d.startswith("api-ms-win-crt-"):
        return ("ucrtbase.dll", "msvcrt.dll")
    if d.startswith(("vcruntime", "msvcr")) and d != "msvcrt.dll":
        return (d, "ucrtbase.dll", "msvcrt.dll")
    if d == "ucrtbase.dll":
        return (d, "msvcrt.dll")
    if d.startswith("api-ms-win-core-") or d == "kernelbase.dll":
        return ("kernel32.dll", "ntdll.dll")
    if d == "kernel32.dll":
        return (d, "ntdll.dll")
    return (d,)


def lookup(dll: str, symbol: str | int) -> ApiSpec | None:
    """The spec for an import by name (str) or ordinal (int), or None when not implemented."""
    load_all()
    for d in search_order(dll):
        spec = ORDINALS.get((d, symbol)) if isinstance(symbol, int) else REGISTRY.get((d, symbol))
        if spec is not None:
            return spec
    return None


_loaded = False


def load_all() -> None:
    """Import every handler module of this package (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


class Services(Protocol):
    """What the emulator offers handlers beyond memory (implemented by the CPU layer)."""

    bits: int
    image_base: int
    image_size: int
    module_name: str
    teb: int
    peb: int

    def module_handle(self, name: str | None) -> int:
        """HMODULE of a module by name (None: the host process), 0 if unknown."""

    def proc_address(self, hmod: int, symbol: str | int) -> int:
        """Address of an export of a known module, 0 if unknown."""

    def module_file_name(self, hmod: int) -> str | None:
        """Windows path of a module handle (0: the host process)."""

    def map_virtual(self, addr: int, size: int, prot: int) -> int:
        """Reserve+commit guest memory (VirtualAlloc); 0 on failure."""

    def unmap_virtual(self, addr: int) -> bool:
        """Release what :meth:`map_virtual` returned."""

    def query_virtual(self, addr: int) -> tuple[int, int, int, int] | None:
        """(allocation base, region base, region size, unicorn perms) of the page at ``addr``."""

    def protect_virtual(self, addr: int, size: int, prot: int) -> int | None:
        """Change protection; the old unicorn perms, or None for unmapped memory."""


_SIGNED32 = struct.Struct("<i")


class Ctx:
    """What a handler gets: guest memory, its arguments, the heap, process state, services.

    One instance per emulator, reused for every import call (no per-call allocation).
    """

    __slots__ = (
        "_regargs",
        "api",
        "bits",
        "caller",
        "heap",
        "mem",
        "proc",
        "ptr_size",
        "sp",
        "svc",
    )

    def __init__(self, mem: Memory, heap: Heap, proc: Process, svc: Services) -> None:
        self.mem = mem
        self.heap = heap
        self.proc = proc
        self.svc = svc
        self.bits = svc.bits
        self.ptr_size = svc.bits // 8
        #: the import being run (``dll!name``)
        self.api = ""
        #: return address of the current import call (the allocation site for leak reports)
        self.caller = 0
        #: stack pointer at the stub (points at the return address)
        self.sp = 0
        self._regargs: Sequence[int] = ()

    # -- arguments -------------------------------------------------------------------
    def arg(self, i: int) -> int:
        """Argument ``i`` (0-based) of the current call, as an unsigned pointer-width integer."""
        if self.bits == 32:
            return self.mem.u32(self.sp + 4 + 4 * i)
        if i < 4:
            return self._regargs[i]
        return self.mem.u64(self.sp + 8 + 8 * i)

    def varargs(self, first: int) -> VaList:
        """Variadic arguments starting at argument index ``first``."""
        if self.bits == 32:
            return VaList(self, self.sp + 4 + 4 * first)
        return VaList(self, self.sp + 8 + 8 * first, regs=self._regargs, first=first)

    def va_list(self, pointer: int) -> VaList:
        """A C ``va_list`` the guest passed (a pointer into its stack)."""
        return VaList(self, pointer)

    # -- memory helpers --------------------------------------------------------------------
    def ptr(self, addr: int) -> int:
        """Pointer-width value at ``addr``."""
        return self.mem.u64(addr) if self.bits == 64 else self.mem.u32(addr)

    def write_ptr(self, addr: int, value: int) -> None:
        """Store a pointer-width value."""
        if self.bits == 64:
            self.mem.w64(addr, value)
        else:
            self.mem.w32(addr, value)

    def wstr(self, addr: int, limit: int = 1 << 20) -> str:
        """NUL-terminated UTF-16LE string at ``addr``."""
        return self.mem.wstr(addr, limit)

    def cstr(self, addr: int, limit: int = 1 << 20, encoding: str = ACP) -> str:
        """NUL-terminated narrow string at ``addr`` (ANSI code page unless told)."""
        return self.mem.cstr(addr, limit).decode(encoding, "replace")

    def write_wstr(self, addr: int, text: str, nul: bool = True) -> int:
        """Write UTF-16LE ``text`` (+NUL); returns the number of code units written without NUL."""
        raw = text.encode("utf-16-le", "surrogatepass")
        self.mem.write(addr, raw + b"\0\0" if nul else raw)
        return len(raw) // 2

    def write_cstr(
        self, addr: int, text: str | bytes, nul: bool = True, encoding: str = ACP
    ) -> int:
        """Write a narrow string (+NUL); returns the bytes written without NUL."""
        raw = text if isinstance(text, bytes) else text.encode(encoding, "replace")
        self.mem.write(addr, raw + b"\0" if nul else raw)
        return len(raw)

    # -- services --------------------------------------------------------------------
    def alloc(self, size: int, *, heap: int = 0, zero: bool = True) -> int:
        """Allocate guest heap memory attributed to the current call site; 0 when exhausted."""
        return self.heap.alloc(size, heap=heap, site=self.caller, api=self.api, zero=zero)

    def log(self, text: str) -> None:
        """Append to the call's debug output (OutputDebugString, stdio)."""
        self.proc.debug.append(text)

    @property
    def last_error(self) -> int:
        """The thread's last-error value (kept in the TEB like Windows)."""
        return self.mem.u32(self.svc.teb + (0x68 if self.bits == 64 else 0x34))

    def set_last_error(self, code: int) -> None:
        """SetLastError."""
        self.mem.w32(self.svc.teb + (0x68 if self.bits == 64 else 0x34), code)

    @staticmethod
    def s32(value: int) -> int:
        """``value`` reinterpreted as a signed 32-bit integer."""
        return int(_SIGNED32.unpack(struct.pack("<I", value & 0xFFFFFFFF))[0])


class VaList:
    """Reads successive variadic arguments (ints, doubles, pointers) the way the callee would."""

    __slots__ = ("_ctx", "_first", "_i", "_regs", "addr")

    def __init__(self, ctx: Ctx, addr: int, regs: Sequence[int] = (), first: int = 4) -> None:
        self._ctx = ctx
        self.addr = addr
        self._regs = regs
        self._first = first
        self._i = first

    def _slot(self) -> int:
        ctx = self._ctx
        if ctx.bits == 64:
            if self._regs and self._i < 4:
                v = self._regs[self._i]
                self._i += 1
                self.addr += 8
                return v
            v = ctx.mem.u64(self.addr)
            self.addr += 8
            self._i += 1
            return v
        v = ctx.mem.u32(self.addr)
        self.addr += 4
        return v

    def int32(self) -> int:
        """Next ``int``/``unsigned`` (low 32 bits)."""
        return self._slot() & 0xFFFFFFFF

    def int64(self) -> int:
        """Next 64-bit integer (``%I64d``/``%lld``)."""
        if self._ctx.bits == 64:
            return self._slot()
        lo = self._slot()
        return lo | (self._slot() << 32)

    def pointer(self) -> int:
        """Next pointer-width value."""
        return self._slot()

    def double(self) -> float:
        """Next ``double``."""
        raw = self.int64()
        return float(struct.unpack("<d", struct.pack("<Q", raw))[0])
