"""One emulated process holding one PE DLL: unicorn setup, memory layout, TEB/PEB, import stubs, calls.

Layout (same for x86 and x64, all below 4 GiB except an x64 image at its preferred base)::

    0x00030000  SYS      TEB, PEB, TLS pointer array, GDT (x86), pseudo module pages
    0x00050000  DATA     DATA imports (msvcrt _iob, ...)
    0x00060000  SCRATCH  marshalled call arguments
    0x00100000  STUBS    16-byte import stubs (``ret``/``ret 4n``), hooked; slot 0 = return sentinel
    0x00110000  GUEST    guest-code imports (_initterm), not hooked
    0x001F0000  guard    unmapped: stack overflow lands here
    0x00200000  STACK    1 MiB
    0x02000000  HEAP     16 MiB
    0x03000000  VIRTUAL  VirtualAlloc (up to 0x08000000)

0x10000000 (MSVC's default DLL base) and everything above stay free for the image.
"""

from __future__ import annotations

import ctypes
import struct
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from unicorn import (
    UC_ARCH_X86,
    UC_HOOK_CODE,
    UC_HOOK_INTR,
    UC_HOOK_MEM_FETCH_PROT,
    UC_HOOK_MEM_FETCH_UNMAPPED,
    UC_HOOK_MEM_READ_PROT,
    UC_HOOK_MEM_READ_UNMAPPED,
    UC_HOOK_MEM_WRITE_PROT,
    UC_HOOK_MEM_WRITE_UNMAPPED,
    UC_MEM_FETCH_PROT,
    UC_MEM_FETCH_UNMAPPED,
    UC_MEM_READ_PROT,
    UC_MEM_READ_UNMAPPED,
    UC_MEM_WRITE_PROT,
    UC_MEM_WRITE_UNMAPPED,
    UC_MODE_32,
    UC_MODE_64,
    UC_PROT_ALL,
    UC_PROT_EXEC,
    UC_PROT_READ,
)
from unicorn import x86_const as X
from unicorn.unicorn_py3.unicorn import Uc, uclib

from emulator.errors import LoadError
from emulator.loaders.pe.heap import Heap, HeapCorruption
from emulator.loaders.pe.image import PeImage
from emulator.loaders.pe.memory import PAGE, GuestMemoryError, Memory, Region, page_up, perms_of
from emulator.loaders.pe.process import PROCESS_ID, THREAD_ID, Process
from emulator.loaders.pe.ucfast import HOOK_CODE, ffi, handle, reg_batch
from emulator.loaders.pe.ucfast import lib as _lib
from emulator.loaders.pe.winapi import (
    FALLBACK32,
    FALLBACK64,
    ApiFault,
    ApiSpec,
    Ctx,
    lookup,
    search_order,
)
from emulator.loaders.pe.winapi.kernel32 import PROCESS_HEAP

_unpack = ffi.unpack

SYS = 0x00030000
SYS_SIZE = 0x20000
TEB = SYS
PEB = SYS + 0x3000
TLS_ARRAY = SYS + 0x4000
GDT = SYS + 0x5000
MODULE_PAGES = SYS + 0x8000  # up to 24 pseudo modules, one page each
DATA = 0x00050000
DATA_SIZE = 0x10000
SCRATCH = 0x00060000
SCRATCH_SIZE = 0x20000
STUBS = 0x00100000
STUBS_SIZE = 0x10000
STUB_SLOT = 16
GUEST = STUBS + STUBS_SIZE
GUEST_SIZE = 0x4000
GUARD = 0x001F0000
STACK = 0x00200000
STACK_SIZE = 0x00100000
STACK_TOP = STACK + STACK_SIZE
HEAP = 0x02000000
HEAP_SIZE = 0x01000000
VIRTUAL = 0x03000000
VIRTUAL_END = 0x08000000
SENTINEL = STUBS  # return address of every host-made call; emulation stops when it is reached
LOW_END = VIRTUAL_END  # x86 images must not overlap anything below this
FALLBACK_BASE32 = 0x40000000

HOST_EXE = "C:\\Windows\\System32\\svchost.exe"
SYSTEM_DIR = "C:\\Windows\\System32\\"

#: canaries put in callee-saved registers before each call (R51/R52)
CANARY = 0x5A17C0DE
X86_SAVED = (
    ("EBX", X.UC_X86_REG_EBX),
    ("ESI", X.UC_X86_REG_ESI),
    ("EDI", X.UC_X86_REG_EDI),
    ("EBP", X.UC_X86_REG_EBP),
)
X64_SAVED = (
    ("RBX", X.UC_X86_REG_RBX),
    ("RBP", X.UC_X86_REG_RBP),
    ("RDI", X.UC_X86_REG_RDI),
    ("RSI", X.UC_X86_REG_RSI),
    ("R12", X.UC_X86_REG_R12),
    ("R13", X.UC_X86_REG_R13),
    ("R14", X.UC_X86_REG_R14),
    ("R15", X.UC_X86_REG_R15),
)
X64_XMM = tuple((f"XMM{i}", getattr(X, f"UC_X86_REG_XMM{i}")) for i in range(6, 16))
EFLAGS_DF = 0x400
_U64 = struct.Struct("<Q")
_ESP = X.UC_X86_REG_ESP
_RAX = X.UC_X86_REG_RAX
_EAX = X.UC_X86_REG_EAX
_EDX = X.UC_X86_REG_EDX

_ACCESS = {
    UC_MEM_READ_UNMAPPED: "read",
    UC_MEM_WRITE_UNMAPPED: "write",
    UC_MEM_FETCH_UNMAPPED: "execute",
    UC_MEM_READ_PROT: "read",
    UC_MEM_WRITE_PROT: "write",
    UC_MEM_FETCH_PROT: "execute",
}
_INTERRUPTS = {
    0: "division by zero (#DE)",
    1: "debug trap (#DB)",
    3: "breakpoint (int3 / __debugbreak)",
    4: "overflow (#OF)",
    5: "bound range exceeded (#BR)",
    6: "invalid instruction (#UD)",
    13: "general protection fault (#GP)",
    14: "page fault (#PF)",
    0x29: "__fastfail (int 0x29)",
    0x2C: "assertion failure (int 0x2c)",
}
_UC_ERRORS = {
    10: "invalid instruction",
    21: "unhandled CPU exception",
    16: "unaligned read",
    17: "unaligned write",
    18: "unaligned fetch",
}


class _Watchdog:
    """One daemon thread that stops emulations running past their deadline (``emu_start(timeout=)``
    spawns a thread per call in unicorn and costs ~120 µs, so it is not used)."""

    def __init__(self) -> None:
        self._emus: weakref.WeakSet[Emulator] = weakref.WeakSet()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def add(self, emu: Emulator) -> None:
        with self._cond:
            self._emus.add(emu)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="rasemu-pe-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def discard(self, emu: Emulator) -> None:
        with self._cond:
            self._emus.discard(emu)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._emus:
                    self._cond.wait()
                emus = list(self._emus)
            now = time.monotonic()
            busy = False
            for emu in emus:
                busy = emu._watch(now) or busy
            del emus
            # poll fast only while a call runs; an idle host costs 20 wake-ups per second
            self._wake.wait(0.005 if busy else 0.05)
            self._wake.clear()

    def wake(self) -> None:
        """Poll now: a call with a time limit shorter than the idle poll interval started."""
        self._wake.set()


_WATCHDOG = _Watchdog()


@dataclass(slots=True)
class Outcome:
    """What one guest call did, in raw machine terms (the loader interprets it)."""

    fault: tuple[str, str, dict[str, Any]] | None
    ret: int = 0
    entry_sp: int = 0
    sp: int = 0
    flags: int = 0
    pc: int = 0
    clobbered: list[tuple[str, int, int]] = field(default_factory=list)  # (reg, expected, found)


def _gdt_entry(base: int, limit: int, access: int, flags: int) -> int:
    return (
        (limit & 0xFFFF)
        | ((base & 0xFFFFFF) << 16)
        | (access << 40)
        | (((limit >> 16) & 0xF) << 48)
        | (flags << 52)
        | (((base >> 24) & 0xFF) << 56)
    )


def _module_key(name: str) -> str:
    n = name.replace("/", "\\").rsplit("\\", 1)[-1].lower()
    return n if "." in n else n + ".dll"


class Emulator:
    """A fresh emulated process with ``image`` mapped at ``base``, imports bound, TLS ready.

    :meth:`call` runs one guest function (the loader uses it for TLS callbacks, DllMain and
    exports); the object also serves the API handlers (:class:`~.winapi.Services`).
    """

    def __init__(
        self,
        image: PeImage,
        *,
        base: int,
        module_name: str,
        instruction_budget: int,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.image = image
        self.bits = image.bits
        self.x64 = self.bits == 64
        self.ptr_size = self.bits // 8
        self.image_base = base
        self.image_size = page_up(image.size_of_image)
        self.module_name = module_name
        self.module_path = SYSTEM_DIR + module_name
        self.teb = TEB
        self.peb = PEB
        self.budget = instruction_budget
        self.uc: Any = Uc(UC_ARCH_X86, UC_MODE_64 if self.x64 else UC_MODE_32)
        self._uch = self.uc._uch
        self.mem = Memory(self.uc)
        self.proc = Process()
        if extra:  # before anything runs: import binding may already consult it
            self.proc.extra.update(extra)
        self.missing: list[str] = []
        # stub address -> (handler, argument count, label, ret64, x86 stack unpacker)
        self._dispatch: dict[
            int, tuple[Callable[..., int | None], int, str, bool, struct.Struct]
        ] = {}
        self._stub_by_label: dict[str, int] = {}
        self._next_stub = STUBS + STUB_SLOT  # slot 0 is the sentinel
        self._next_guest = GUEST
        self._next_data = DATA
        self._modules: dict[str, int] = {}
        self._virtual: dict[int, Region] = {}
        self._pending: tuple[str, str, dict[str, Any]] | None = None
        #: when a list, every import call is appended as (label, args, result, return address)
        self.trace: list[tuple[str, tuple[int, ...], int, int]] | None = None
        self._mem_fault: tuple[str, int, int] | None = None
        self._intr: int | None = None
        self._lock = threading.Lock()
        self._running = False
        self._deadline = 0.0
        self._timed_out = False
        self._map_fixed()
        self.heap = Heap(self.mem, self.mem.map("heap", HEAP, HEAP_SIZE))
        self.ctx = Ctx(self.mem, self.heap, self.proc, self)
        self._map_image()
        self._setup_cpu()
        self._bind_imports()
        self._setup_tls()
        self._setup_batches()
        self._hooks: list[Any] = []
        self._install_hooks()
        _WATCHDOG.add(self)

    # ---------------------------------------------------------------------------------------------
    # setup
    def _map_fixed(self) -> None:
        m = self.mem
        self.sys = m.map("sys", SYS, SYS_SIZE)
        self.data = m.map("data", DATA, DATA_SIZE)
        self.scratch = m.map("scratch", SCRATCH, SCRATCH_SIZE)
        self.stubs = m.map("stubs", STUBS, STUBS_SIZE, UC_PROT_READ | UC_PROT_EXEC)
        self.stubs.code.append((STUBS, STUBS + STUBS_SIZE))
        self.guest = m.map("guest", GUEST, GUEST_SIZE, UC_PROT_READ | UC_PROT_EXEC)
        self.guest.code.append((GUEST, GUEST + GUEST_SIZE))
        self.stack = m.map("stack", STACK, STACK_SIZE)
        self.stubs.buf[0] = 0xF4  # sentinel: hlt (never executed: emulation stops before it)

    def _map_image(self) -> None:
        img = self.image
        base = self.image_base
        region = self.mem.map("image", base, self.image_size, UC_PROT_ALL)
        buf = region.buf
        buf[: len(img.headers)] = img.headers
        for s in img.sections:
            n = min(len(s.data), self.image_size - s.rva)
            if n > 0:
                buf[s.rva : s.rva + n] = s.data[:n]
        delta = base - img.image_base
        if delta:
            if not img.relocations:
                raise LoadError(
                    f"cannot load at 0x{base:x}: the DLL has no relocations and its preferred base "
                    f"0x{img.image_base:x} is not available",
                    where=img.path,
                )
            u32 = struct.Struct("<I")
            u64 = struct.Struct("<Q")
            for rva, typ in img.relocations:
                if typ == 3:  # HIGHLOW
                    u32.pack_into(buf, rva, (u32.unpack_from(buf, rva)[0] + delta) & 0xFFFFFFFF)
                elif typ == 10:  # DIR64
                    u64.pack_into(
                        buf, rva, (u64.unpack_from(buf, rva)[0] + delta) & 0xFFFFFFFFFFFFFFFF
                    )
                elif typ == 2:  # LOW
                    v = (int.from_bytes(buf[rva : rva + 2], "little") + delta) & 0xFFFF
                    buf[rva : rva + 2] = v.to_bytes(2, "little")
                elif typ == 1:  # HIGH
                    v = (int.from_bytes(buf[rva : rva + 2], "little") + (delta >> 16)) & 0xFFFF
                    buf[rva : rva + 2] = v.to_bytes(2, "little")
                else:
                    raise LoadError(
                        f"unsupported base relocation type {typ} at RVA 0x{rva:x}", where=img.path
                    )
        self.image_region = region

    def _protect_image(self) -> None:
        img = self.image
        base = self.image_base
        self.mem.protect(base, page_up(img.size_of_headers) or PAGE, UC_PROT_READ)
        for s in img.sections:
            if s.vsize <= 0:
                continue
            perms = perms_of(s.readable, s.writable, s.executable)
            self.mem.protect(base + s.rva, s.vsize, perms)  # protect() rounds to whole pages
            if s.executable:
                self.image_region.code.append((base + s.rva, base + s.rva + page_up(s.vsize)))

    def _setup_cpu(self) -> None:
        m = self.mem
        if self.x64:
            m.w64(TEB + 0x00, 0)  # ExceptionList (unused on x64)
            m.w64(TEB + 0x08, STACK_TOP)  # StackBase
            m.w64(TEB + 0x10, STACK)  # StackLimit
            m.w64(TEB + 0x30, TEB)  # Self
            m.w64(TEB + 0x40, PROCESS_ID)
            m.w64(TEB + 0x48, THREAD_ID)
            m.w64(TEB + 0x58, TLS_ARRAY)
            m.w64(TEB + 0x60, PEB)
            m.w64(PEB + 0x10, self.module_handle(None))
            m.w64(PEB + 0x30, PROCESS_HEAP)
            self.uc.reg_write(X.UC_X86_REG_GS_BASE, TEB)
        else:
            m.w32(TEB + 0x00, 0xFFFFFFFF)  # ExceptionList: end of SEH chain
            m.w32(TEB + 0x04, STACK_TOP)
            m.w32(TEB + 0x08, STACK)
            m.w32(TEB + 0x18, TEB)
            m.w32(TEB + 0x20, PROCESS_ID)
            m.w32(TEB + 0x24, THREAD_ID)
            m.w32(TEB + 0x2C, TLS_ARRAY)
            m.w32(TEB + 0x30, PEB)
            m.w32(PEB + 0x08, self.module_handle(None))
            m.w32(PEB + 0x18, PROCESS_HEAP)
            # Pitfall 1: FS_BASE writes are ignored in 32-bit mode; load FS from a GDT and give
            # SS/DS/ES flat 32-bit descriptors as well (a 16-bit SS wraps pushes at 64 KiB).
            gdt = [
                0,
                _gdt_entry(0, 0xFFFFF, 0x9A, 0xC),  # 0x08 code, flat
                _gdt_entry(0, 0xFFFFF, 0x92, 0xC),  # 0x10 data, flat
                _gdt_entry(TEB, 0x1FFF, 0x92, 0x4),  # 0x18 FS -> TEB
            ]
            m.write(GDT, b"".join(struct.pack("<Q", g) for g in gdt))
            self.uc.reg_write(X.UC_X86_REG_GDTR, (0, GDT, len(gdt) * 8 - 1, 0))
            for reg in (X.UC_X86_REG_SS, X.UC_X86_REG_DS, X.UC_X86_REG_ES, X.UC_X86_REG_GS):
                self.uc.reg_write(reg, 0x10)
            self.uc.reg_write(X.UC_X86_REG_FS, 0x18)

    def _bind_imports(self) -> None:
        img = self.image
        ps = self.ptr_size
        missing: list[str] = []
        for imp in img.imports:
            symbol: str | int = imp.name if imp.name is not None else (imp.ordinal or 0)
            spec = lookup(imp.dll, symbol)
            if spec is None:
                addr = self._missing_stub(imp.label)
                if imp.label not in missing:
                    missing.append(imp.label)
            else:
                addr = self.address_of(spec)
            slot = self.image_base + imp.iat_rva
            if ps == 8:
                self.mem.w64(slot, addr)
            else:
                self.mem.w32(slot, addr)
        self.missing = missing
        self._protect_image()

    def _setup_tls(self) -> None:
        tls = self.image.tls
        if tls is None:
            return
        base = self.image_base
        if tls.index_rva:
            self.mem.w32(base + tls.index_rva, 0)
        size = max(0, tls.end_rva - tls.start_rva) + tls.zero_fill
        block = self.heap.alloc(max(size, 16), heap=0, site=0, api="TLS")
        if tls.end_rva > tls.start_rva:
            self.mem.write(block, self.mem.read(base + tls.start_rva, tls.end_rva - tls.start_rva))
        if self.x64:
            self.mem.w64(TLS_ARRAY, block)
        else:
            self.mem.w32(TLS_ARRAY, block)

    def tls_callbacks(self) -> list[int]:
        """Current TLS callback addresses (read from the relocated image)."""
        tls = self.image.tls
        if tls is None or not tls.callbacks_rva:
            return []
        out: list[int] = []
        p = self.image_base + tls.callbacks_rva
        for _ in range(256):
            try:
                va = self.mem.u64(p) if self.x64 else self.mem.u32(p)
            except GuestMemoryError:
                break
            if not va:
                break
            out.append(va)
            p += self.ptr_size
        return out

    # ---------------------------------------------------------------------------------------------
    # stubs
    def address_of(self, spec: ApiSpec) -> int:
        """Guest address for an implemented import (stub, data or guest code), made on first use."""
        label = spec.label
        addr = self._stub_by_label.get(label)
        if addr is not None:
            return addr
        if spec.kind == "data":
            size = spec.size64 if self.x64 else spec.size32
            addr = self._next_data
            self._next_data += (size + 15) & ~15
            if self._next_data > DATA + DATA_SIZE:
                raise LoadError("too many DATA imports", where=self.image.path)
            if spec.init is not None:
                spec.init(self.ctx, addr)
        elif spec.kind == "guest":
            code = spec.code64 if self.x64 else spec.code32
            addr = self._next_guest
            self._next_guest += (len(code) + 15) & ~15
            self.uc.mem_write(addr, code)
        else:
            assert spec.handler is not None
            argc = spec.argc if self.x64 or spec.argc32 is None else spec.argc32
            pop = 4 * argc if (not self.x64 and spec.conv == "stdcall") else 0
            addr = self._new_stub(pop)
            unpack = struct.Struct(f"<{argc + 1}I") if not self.x64 else struct.Struct("<Q")
            self._dispatch[addr] = (spec.handler, argc, label, spec.ret64, unpack)
            fast = spec.code64 if self.x64 else spec.code32
            if fast:
                # guest-code fast path in front of the Python handler (see winapi docs)
                ph, size = (FALLBACK64, 8) if self.x64 else (FALLBACK32, 4)
                code = fast.replace(ph, addr.to_bytes(size, "little"))
                addr = self._next_guest
                self._next_guest += (len(code) + 15) & ~15
                self.uc.mem_write(addr, code)
        self._stub_by_label[label] = addr
        return addr

    def _new_stub(self, pop: int) -> int:
        addr = self._next_stub
        if addr + STUB_SLOT > STUBS + STUBS_SIZE:
            raise LoadError("too many imports (stub area full)", where=self.image.path)
        self._next_stub += STUB_SLOT
        code = b"\xc2" + struct.pack("<H", pop) if pop else b"\xc3"
        self.uc.mem_write(addr, code)
        return addr

    def _missing_stub(self, label: str) -> int:
        addr = self._stub_by_label.get(label)
        if addr is not None:
            return addr
        addr = self._new_stub(0)

        def missing(ctx: Ctx, *args: int) -> int:
            raise ApiFault("missing-api", f"{label} is not implemented by the emulator")

        self._dispatch[addr] = (missing, 0, label, False, struct.Struct("<I"))
        self._stub_by_label[label] = addr
        return addr

    def stub_label(self, addr: int) -> str | None:
        """The import a stub/guest-code address stands for."""
        for label, a in self._stub_by_label.items():
            if a == addr:
                return label
        ent = self._dispatch.get(addr)
        return ent[2] if ent is not None else None

    # ---------------------------------------------------------------------------------------------
    # hooks
    def _install_hooks(self) -> None:
        cb = ffi.callback(HOOK_CODE, self._on_stub)
        h = ctypes.c_size_t()
        err = uclib.uc_hook_add(
            self.uc._uch,
            ctypes.byref(h),
            UC_HOOK_CODE,
            ctypes.c_void_p(int(ffi.cast("uintptr_t", cb))),
            None,
            ctypes.c_uint64(STUBS + STUB_SLOT),
            ctypes.c_uint64(STUBS + STUBS_SIZE - 1),
        )
        if err:
            raise RuntimeError(f"uc_hook_add failed ({err})")
        self._hooks.append(cb)
        mem_types = (
            UC_HOOK_MEM_READ_UNMAPPED
            | UC_HOOK_MEM_WRITE_UNMAPPED
            | UC_HOOK_MEM_FETCH_UNMAPPED
            | UC_HOOK_MEM_READ_PROT
            | UC_HOOK_MEM_WRITE_PROT
            | UC_HOOK_MEM_FETCH_PROT
        )
        self.uc.hook_add(mem_types, self._on_mem_fault)
        self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt)

    def _on_mem_fault(
        self, uc: Any, access: int, address: int, size: int, value: int, user: Any
    ) -> bool:
        if self._mem_fault is None:
            self._mem_fault = (_ACCESS.get(access, "access"), address, size)
        return False

    def _on_interrupt(self, uc: Any, intno: int, user: Any) -> None:
        if self._intr is None:
            self._intr = intno
        uc.emu_stop()

    def _on_stub(self, uch: Any, address: int, size: int, user: Any) -> None:
        ent = self._dispatch.get(address)
        if ent is None:
            return
        fn, argc, label, ret64, unpack = ent
        ctx = self.ctx
        rv = self._rv
        try:
            if self.x64:
                # all four argument registers: handlers may read varargs through ctx.arg/varargs
                _lib.uc_reg_read_batch(uch, self._argregs, self._argptrs, 5)
                sp, *regs = _unpack(self._argvals, 5)
                ctx._regargs = regs
                ctx.sp = sp
                off = sp - STACK
                if off >= 0 and sp + 8 <= STACK_TOP:
                    ctx.caller = _U64.unpack_from(self.stack.buf, off)[0]
                else:
                    ctx.caller = self.mem.u64(sp)
                if argc <= 4:
                    args: Sequence[int] = regs[:argc]
                else:
                    args = regs + [self.mem.u64(sp + 40 + 8 * i) for i in range(argc - 4)]
            else:
                _lib.uc_reg_read(uch, _ESP, rv)
                sp = rv[0]
                off = sp - STACK
                if off >= 0 and sp + unpack.size <= STACK_TOP:
                    vals = unpack.unpack_from(self.stack.buf, off)
                else:
                    vals = unpack.unpack(self.mem.read(sp, unpack.size))
                ctx.sp = sp
                ctx.caller = vals[0]
                args = vals[1:]
            ctx.api = label
            res = fn(ctx, *args)
            if self.trace is not None:
                self.trace.append((label, tuple(args), res or 0, ctx.caller))
            if self.x64:
                rv[0] = (res or 0) & 0xFFFFFFFFFFFFFFFF
                _lib.uc_reg_write(uch, _RAX, rv)
            else:
                v = (res or 0) & 0xFFFFFFFFFFFFFFFF
                rv[0] = v & 0xFFFFFFFF
                _lib.uc_reg_write(uch, _EAX, rv)
                if ret64:
                    rv[0] = v >> 32
                    _lib.uc_reg_write(uch, _EDX, rv)
        except ApiFault as exc:
            self._pending = (exc.kind, exc.message, {"api": label, "caller": ctx.caller, **exc.detail})
            _lib.uc_emu_stop(uch)
        except HeapCorruption as exc:
            self._pending = (
                "crash",
                f"{exc.message}; detected by {label}",
                {"api": label, "caller": ctx.caller, **exc.detail},
            )
            _lib.uc_emu_stop(uch)
        except GuestMemoryError as exc:
            self._pending = (
                "crash",
                f"access violation in {label}: {'write to' if exc.write else 'read of'} "
                f"0x{exc.address:x} (a bad pointer argument)",
                {
                    "api": label,
                    "caller": ctx.caller,
                    "address": exc.address,
                    "access": "write" if exc.write else "read",
                },
            )
            _lib.uc_emu_stop(uch)
        except Exception as exc:  # an emulator bug must not kill the host
            self._pending = (
                "crash",
                f"internal error while emulating {label}: {type(exc).__name__}: {exc}",
                {"api": label, "caller": ctx.caller, "internal": True},
            )
            _lib.uc_emu_stop(uch)

    # ---------------------------------------------------------------------------------------------
    # calls
    def _setup_batches(self) -> None:
        self._uh = handle(self.uc)
        self._rv = ffi.new("uint64_t[1]")
        mask = (1 << self.bits) - 1
        saved_ids = [r for _, r in (X64_SAVED if self.x64 else X86_SAVED)]
        if self.x64:
            self._argregs, self._argptrs, self._argvals = reg_batch(
                [
                    X.UC_X86_REG_RSP,
                    X.UC_X86_REG_RCX,
                    X.UC_X86_REG_RDX,
                    X.UC_X86_REG_R8,
                    X.UC_X86_REG_R9,
                ]
            )
            self._saved = X64_SAVED + X64_XMM
            entry_ids = [
                X.UC_X86_REG_RSP,
                X.UC_X86_REG_RCX,
                X.UC_X86_REG_RDX,
                X.UC_X86_REG_R8,
                X.UC_X86_REG_R9,
            ]
            out_ids = [X.UC_X86_REG_RAX, X.UC_X86_REG_RSP, X.UC_X86_REG_EFLAGS, X.UC_X86_REG_RIP]
            xmm_ids = [r for _, r in X64_XMM]
            words = [1] * (4 + len(saved_ids)) + [2] * len(xmm_ids)
            canaries = [
                ((CANARY + 0x01010101 * i) * 0x100000001) & mask for i in range(len(saved_ids))
            ]
            for i in range(len(xmm_ids)):
                lo = (CANARY * 0x100000001 + 0x1000 + i) & mask
                canaries += [lo, ~lo & mask]
            set_ids = saved_ids + xmm_ids + [X.UC_X86_REG_EFLAGS]
            set_words = [1] * len(saved_ids) + [2] * len(xmm_ids) + [1]
        else:
            self._saved = X86_SAVED
            entry_ids = [X.UC_X86_REG_ESP]
            out_ids = [X.UC_X86_REG_EAX, X.UC_X86_REG_ESP, X.UC_X86_REG_EFLAGS, X.UC_X86_REG_EIP]
            xmm_ids = []
            words = [1] * (4 + len(saved_ids))
            canaries = [(CANARY + 0x01010101 * i) & mask for i in range(len(saved_ids))]
            set_ids = [*saved_ids, X.UC_X86_REG_EFLAGS]
            set_words = [1] * (len(saved_ids) + 1)
        self._entry = reg_batch(entry_ids)
        self._nentry = len(entry_ids)
        self._out = reg_batch(out_ids + saved_ids + xmm_ids, words)
        self._nout = len(out_ids) + len(saved_ids) + len(xmm_ids)
        self._canaries = canaries
        self._canary_set = reg_batch(set_ids, set_words)
        vals = self._canary_set[2]
        for i, v in enumerate(canaries):
            vals[i] = v
        vals[len(canaries)] = 0x202  # EFLAGS: IF set, DF clear
        self._nset = len(set_ids)
        self._ncanary = len(canaries)
        self._dirty = True  # canaries must be (re)written before the next call

    def _watch(self, now: float) -> bool:
        """Stop the emulation if it overran its deadline; True while a call is running."""
        with self._lock:
            if self._running and now > self._deadline:
                self._timed_out = True
                _lib.uc_emu_stop(self._uh)
            return self._running

    def call(self, addr: int, args: Sequence[int], *, timeout: float) -> Outcome:
        """Call guest ``addr`` with integer ``args`` (stdcall/x64 layout) and run until it returns."""
        n = len(args)
        uh = self._uh
        regs, ptrs, ev = self._entry
        if self.x64:
            sp = ((STACK_TOP - 0x800 - 32 - 8 * max(0, n - 4)) & ~15) - 8
            buf = self.stack.buf
            _U64.pack_into(buf, sp - STACK, SENTINEL)
            for i in range(4, n):
                _U64.pack_into(buf, sp - STACK + 40 + 8 * (i - 4), args[i] & 0xFFFFFFFFFFFFFFFF)
            ev[0] = sp
            for i in range(min(n, 4)):
                ev[1 + i] = args[i] & 0xFFFFFFFFFFFFFFFF
        else:
            sp = (STACK_TOP - 0x800) - 4 * n - 4
            struct.pack_into(
                f"<{n + 1}I",
                self.stack.buf,
                sp - STACK,
                SENTINEL,
                *[a & 0xFFFFFFFF for a in args],
            )
            ev[0] = sp
        _lib.uc_reg_write_batch(uh, regs, ptrs, self._nentry)
        if self._dirty:
            cregs, cptrs, _ = self._canary_set
            _lib.uc_reg_write_batch(uh, cregs, cptrs, self._nset)
            self._dirty = False
        self._pending = None
        self._mem_fault = None
        self._intr = None
        lock = self._lock
        lock.acquire()
        self._timed_out = False
        self._deadline = time.monotonic() + timeout
        self._running = True
        lock.release()
        if timeout < 0.25:  # the idle watchdog polls every 50 ms: too late for short limits
            _WATCHDOG.wake()
        status = _lib.uc_emu_start(uh, addr, SENTINEL, 0, self.budget)
        lock.acquire()
        self._running = False
        timed_out = self._timed_out
        lock.release()
        oregs, optrs, ov = self._out
        _lib.uc_reg_read_batch(uh, oregs, optrs, self._nout)
        vals = _unpack(ov, 4 + self._ncanary)
        ret, sp_after, flags, pc = vals[0], vals[1], vals[2], vals[3]
        out = Outcome(None, ret, sp, sp_after, flags, pc)
        if (
            status
            or pc != SENTINEL
            or self._pending is not None
            or self._mem_fault is not None
            or self._intr is not None
        ):
            out.fault = self._classify(status, pc, timed_out, timeout)
            self._dirty = True
            return out
        if flags & EFLAGS_DF:
            self._dirty = True
        got = vals[4:]
        if got != self._canaries:
            self._dirty = True
            self._diff(out, got)
        return out

    def _diff(self, out: Outcome, got: list[int]) -> None:
        want = self._canaries
        i = 0
        for name, _ in self._saved:
            if name.startswith("XMM"):
                w = want[i] | want[i + 1] << 64
                g = got[i] | got[i + 1] << 64
                i += 2
            else:
                w, g = want[i], got[i]
                i += 1
            if w != g:
                out.clobbered.append((name, w, g))

    def _classify(
        self, status: int, pc: int, timed_out: bool, timeout: float
    ) -> tuple[str, str, dict[str, Any]]:
        if self._pending is not None:
            return self._pending
        if self._mem_fault is not None:
            access, address, size = self._mem_fault
            detail: dict[str, Any] = {"pc": pc, "address": address, "access": access, "size": size}
            if GUARD <= address < STACK and access != "execute":
                return (
                    "crash",
                    f"stack overflow: {access} of 0x{address:x} at pc 0x{pc:x}",
                    detail,
                )
            if access == "execute":
                return (
                    "crash",
                    f"access violation: execute at 0x{address:x} (jump to a bad address)",
                    detail,
                )
            return ("crash", f"access violation: {access} of 0x{address:x} at pc 0x{pc:x}", detail)
        if self._intr is not None:
            what = _INTERRUPTS.get(self._intr, f"interrupt 0x{self._intr:x}")
            kind = "exception" if self._intr in (3, 0x29, 0x2C) else "crash"
            return (kind, f"{what} at pc 0x{pc:x}", {"pc": pc, "interrupt": self._intr})
        if status:
            what = _UC_ERRORS.get(status, f"CPU error {status}")
            return ("crash", f"{what} at pc 0x{pc:x}", {"pc": pc, "uc_error": status})
        if timed_out:
            return ("timeout", f"still running after {timeout:g} s (pc 0x{pc:x})", {"pc": pc})
        if not self.budget:
            return ("crash", f"emulation stopped unexpectedly at pc 0x{pc:x} (hlt?)", {"pc": pc})
        return (
            "timeout",
            f"instruction budget of {self.budget} exhausted (pc 0x{pc:x})",
            {"pc": pc, "budget": self.budget},
        )

    def close(self) -> None:
        """Stop watching, free the unicorn engine and drop the guest memory (idempotent).

        The engine and this object reference each other through hooks, so without this the
        memory (16 MiB heap and more per instance) would wait for a cyclic garbage collection.
        """
        _WATCHDOG.discard(self)
        with self._lock:
            self._running = False
        self._dispatch.clear()
        finalizer = getattr(self.uc, "_Uc__finalizer", None)
        if finalizer is not None:
            finalizer()  # uc_close, exactly once
        self._hooks.clear()
        self.mem.regions.clear()
        self.mem._bases.clear()
        self.mem._last = None

    # ---------------------------------------------------------------------------------------------
    # Services for the API handlers
    def module_handle(self, name: str | None) -> int:
        """HMODULE by name; None is the host process; unknown -> 0 (e.g. libgcc_s_dw2-1.dll)."""
        if name is None:
            key = "svchost.exe"
        else:
            key = _module_key(name)
            own = {_module_key(self.module_name)}
            if self.image.export_dll_name:
                own.add(_module_key(self.image.export_dll_name))
            if key in own:
                return self.image_base
            if not self._known_module(key):
                return 0
        h = self._modules.get(key)
        if h is None:
            h = MODULE_PAGES + PAGE * len(self._modules)
            if h >= SYS + SYS_SIZE:
                return 0
            self.mem.write(h, b"MZ")
            self._modules[key] = h
        return h

    @staticmethod
    def _known_module(key: str) -> bool:
        from emulator.loaders.pe.winapi import REGISTRY

        dlls = {d for d, _ in REGISTRY}
        return any(d in dlls for d in search_order(key))

    def proc_address(self, hmod: int, symbol: str | int) -> int:
        """GetProcAddress for the DLL itself and the emulated system modules."""
        if hmod == self.image_base:
            for e in self.image.exports:
                if (isinstance(symbol, int) and e.ordinal == symbol) or e.name == symbol:
                    if e.forwarder:
                        dll, _, sym = e.forwarder.partition(".")
                        spec = lookup(dll, int(sym[1:]) if sym.startswith("#") else sym)
                        return self.address_of(spec) if spec else 0
                    return self.image_base + e.rva
            return 0
        for key, h in self._modules.items():
            if h == hmod:
                spec = lookup(key, symbol)
                return self.address_of(spec) if spec is not None else 0
        return 0

    def module_file_name(self, hmod: int) -> str | None:
        """Windows path of a module handle."""
        if hmod == 0:
            return HOST_EXE
        if hmod == self.image_base:
            return self.module_path
        for key, h in self._modules.items():
            if h == hmod:
                return HOST_EXE if key == "svchost.exe" else SYSTEM_DIR + key
        return None

    def map_virtual(self, addr: int, size: int, prot: int) -> int:
        """VirtualAlloc: a new region (with a host buffer) in the VIRTUAL window or at ``addr``."""
        size = page_up(size)
        try:
            if addr:
                addr &= ~0xFFFF
                if self.mem.find_free(addr, size, addr + size) != addr:
                    return 0
            else:
                addr = self.mem.find_free(VIRTUAL, size, VIRTUAL_END)
            region = self.mem.map("virtual", addr, size, prot)
        except Exception:
            return 0
        if prot & UC_PROT_EXEC:
            region.code.append((region.base, region.end))
        self._virtual[addr] = region
        return addr

    def unmap_virtual(self, addr: int) -> bool:
        """VirtualFree(MEM_RELEASE)."""
        region = self._virtual.pop(addr, None)
        if region is None:
            return False
        self.mem.unmap(region)
        return True

    def _perm_run(self, addr: int) -> tuple[int, int, int] | None:
        for begin, end, perms in self.uc.mem_regions():
            if begin <= addr <= end:
                return begin, end + 1 - begin, perms
        return None

    def query_virtual(self, addr: int) -> tuple[int, int, int, int] | None:
        """VirtualQuery: (allocation base, base, size, perms) of the protection run at ``addr``."""
        region = self.mem.region_at(addr)
        run = self._perm_run(addr)
        if region is None or run is None:
            return None
        return region.base, run[0], run[1], run[2]

    def protect_virtual(self, addr: int, size: int, prot: int) -> int | None:
        """VirtualProtect: returns the previous perms of the first page."""
        region = self.mem.region_at(addr)
        run = self._perm_run(addr)
        if region is None or run is None or addr + size > region.end:
            return None
        self.mem.protect(addr, size, prot)
        if prot & UC_PROT_EXEC:
            region.code.append((addr & ~(PAGE - 1), page_up(addr + size)))
        return run[2]


def overlaps_fixed(base: int, size: int) -> bool:
    """Whether an image at ``base`` would collide with the emulator's fixed regions."""
    return base < LOW_END and base + size > SYS
