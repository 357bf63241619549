"""kernel32.dll: heap, critical sections, TLS/FLS, interlocked, errors, time, modules, virtual memory."""

from __future__ import annotations

import struct
import time

from unicorn import UC_PROT_EXEC, UC_PROT_NONE, UC_PROT_READ, UC_PROT_WRITE

from emulator.loaders.pe.process import CURRENT_PROCESS, CURRENT_THREAD, PROCESS_ID, THREAD_ID
from emulator.loaders.pe.winapi import ACP, ApiFault, Ctx, api
from emulator.winerror import (
    ERROR_INSUFFICIENT_BUFFER,
    ERROR_INVALID_ADDRESS,
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER,
    ERROR_MOD_NOT_FOUND,
    ERROR_NO_UNICODE_TRANSLATION,
    ERROR_NOT_ENOUGH_MEMORY,
    ERROR_PROC_NOT_FOUND,
    ERROR_SUCCESS,
)

K32 = "kernel32.dll"

HEAP_ZERO_MEMORY = 0x8
HEAP_REALLOC_IN_PLACE_ONLY = 0x10
PROCESS_HEAP = 0x00A60000  # GetProcessHeap's handle (a tag; blocks live in the emulator heap)
LMEM_ZEROINIT = 0x40
TLS_SLOTS = 64
TLS_OUT_OF_INDEXES = 0xFFFFFFFF
FILETIME_EPOCH = 116444736000000000
_BOOT = time.monotonic()


def _dw(v: int) -> int:
    return v & 0xFFFFFFFF


# --- errors ----------------------------------------------------------------------------------
@api(K32)
def GetLastError(ctx: Ctx) -> int:
    return ctx.last_error


@api(K32)
def SetLastError(ctx: Ctx, code: int) -> int:
    ctx.set_last_error(_dw(code))
    return 0


# --- heap --------------------------------------------------------------------------------
def _heap_ok(ctx: Ctx, heap: int) -> bool:
    return heap == PROCESS_HEAP or ctx.proc.handles.get(heap, "heap") is not None


# Fast paths (assembled with mingw `as`): `mov eax, PROCESS_HEAP; ret`.
@api(K32, fast32=bytes.fromhex("b80000a600c3"), fast64=bytes.fromhex("b80000a600c3"))
def GetProcessHeap(ctx: Ctx) -> int:
    return PROCESS_HEAP


@api(K32)
def HeapCreate(ctx: Ctx, options: int, initial: int, maximum: int) -> int:
    return ctx.proc.handles.new("heap", None, site=ctx.caller, api=ctx.api)


@api(K32)
def HeapDestroy(ctx: Ctx, heap: int) -> int:
    if ctx.proc.handles.get(heap, "heap") is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    ctx.heap.destroy(heap)
    ctx.proc.handles.close(heap)
    return 1


@api(K32)
def HeapAlloc(ctx: Ctx, heap: int, flags: int, size: int) -> int:
    if not _heap_ok(ctx, heap):
        raise ApiFault("crash", f"HeapAlloc on an invalid heap handle 0x{heap:x}")
    return ctx.alloc(size, heap=heap, zero=bool(flags & HEAP_ZERO_MEMORY))


@api(K32)
def HeapFree(ctx: Ctx, heap: int, flags: int, mem: int) -> int:
    if mem == 0:
        return 1
    if not ctx.heap.free(mem):
        raise ApiFault("crash", *ctx.heap.bad_free("HeapFree", mem))
    return 1


@api(K32)
def HeapReAlloc(ctx: Ctx, heap: int, flags: int, mem: int, size: int) -> int:
    old = ctx.heap.size(mem)
    if old is None:
        raise ApiFault("crash", f"HeapReAlloc of 0x{mem:x}, which is not a live heap block")
    if flags & HEAP_REALLOC_IN_PLACE_ONLY and size > old:
        ctx.set_last_error(ERROR_NOT_ENOUGH_MEMORY)
        return 0
    new = ctx.heap.realloc(mem, size, heap=heap, site=ctx.caller, api=ctx.api)
    if new and size > old and flags & HEAP_ZERO_MEMORY:
        ctx.mem.fill(new + old, size - old)
    return new


@api(K32)
def HeapSize(ctx: Ctx, heap: int, flags: int, mem: int) -> int:
    s = ctx.heap.size(mem)
    return 0xFFFFFFFFFFFFFFFF if s is None else s


@api(K32)
def HeapValidate(ctx: Ctx, heap: int, flags: int, mem: int) -> int:
    return int(mem == 0 or ctx.heap.size(mem) is not None)


@api(K32)
def HeapSetInformation(ctx: Ctx, heap: int, cls: int, info: int, length: int) -> int:
    return 1


@api(K32)
def LocalAlloc(ctx: Ctx, flags: int, size: int) -> int:
    return ctx.alloc(size, heap=PROCESS_HEAP, zero=bool(flags & LMEM_ZEROINIT))


@api(K32)
def LocalFree(ctx: Ctx, mem: int) -> int:
    if mem and not ctx.heap.free(mem):
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return mem
    return 0


@api(K32)
def GlobalAlloc(ctx: Ctx, flags: int, size: int) -> int:
    return ctx.alloc(size, heap=PROCESS_HEAP, zero=bool(flags & LMEM_ZEROINIT))


@api(K32)
def GlobalFree(ctx: Ctx, mem: int) -> int:
    if mem and not ctx.heap.free(mem):
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return mem
    return 0


# --- critical sections ------------------------------------------------------------------------
# RTL_CRITICAL_SECTION: DebugInfo, LockCount (LONG), RecursionCount (LONG), OwningThread (HANDLE), ...
_CS32 = struct.Struct("<iiI")  # at +4: LockCount, RecursionCount, OwningThread
_CS64 = struct.Struct("<iiQ")  # at +8


def _cs(ctx: Ctx) -> tuple[struct.Struct, int]:
    return (_CS64, 8) if ctx.bits == 64 else (_CS32, 4)


@api(K32)
def InitializeCriticalSection(ctx: Ctx, cs: int) -> int:
    size = 40 if ctx.bits == 64 else 24
    ctx.mem.fill(cs, size)
    ctx.write_ptr(cs, (1 << ctx.bits) - 1)  # DebugInfo = -1: no debug info
    st, off = _cs(ctx)
    ctx.mem.write(cs + off, st.pack(-1, 0, 0))
    ctx.proc.extra.setdefault("critical_sections", {})[cs] = ctx.caller
    return 0


@api(K32)
def InitializeCriticalSectionAndSpinCount(ctx: Ctx, cs: int, spin: int) -> int:
    InitializeCriticalSection(ctx, cs)
    return 1


@api(K32)
def InitializeCriticalSectionEx(ctx: Ctx, cs: int, spin: int, flags: int) -> int:
    InitializeCriticalSection(ctx, cs)
    return 1


# Fast path: if OwningThread is 0 or us, ++LockCount, ++RecursionCount, OwningThread = us;
# otherwise fall through to the Python handler (which reports the would-be deadlock).
_ENTER32 = bytes.fromhex(
    "8b4c24048b410c85c074073de40500007510ff4104ff4108c7410ce4050000c20400b85eebb55effe0"
)
_ENTER64 = bytes.fromhex(
    "488b41104885c07408483de4050000750fff4108ff410c48c74110e4050000c348b85eebb55e5eebb55effe0"
)
# Fast path: if RecursionCount > 0 and we own it, decrement both counts and clear the owner at 0;
# otherwise the Python handler (which logs the misuse).
_LEAVE32 = bytes.fromhex(
    "8b4c24048b410885c07e1b81790ce40500007512ff4904ff49087507c7410c00000000c20400b85eebb55effe0"
)
_LEAVE64 = bytes.fromhex(
    "8b410c85c07e1b48817910e40500007511ff4908ff490c750848c7411000000000c348b85eebb55e5eebb55effe0"
)


@api(K32, fast32=_ENTER32, fast64=_ENTER64)
def EnterCriticalSection(ctx: Ctx, cs: int) -> int:
    st, off = _cs(ctx)
    lock, rec, owner = st.unpack(ctx.mem.read(cs + off, st.size))
    if owner not in (0, THREAD_ID):
        raise ApiFault(
            "timeout",
            f"EnterCriticalSection(0x{cs:x}) would wait forever: owned by thread 0x{owner:x}",
        )
    ctx.mem.write(cs + off, st.pack(lock + 1, rec + 1, THREAD_ID))
    return 0


@api(K32)
def TryEnterCriticalSection(ctx: Ctx, cs: int) -> int:
    st, off = _cs(ctx)
    owner = st.unpack(ctx.mem.read(cs + off, st.size))[2]
    if owner not in (0, THREAD_ID):
        return 0
    EnterCriticalSection(ctx, cs)
    return 1


@api(K32, fast32=_LEAVE32, fast64=_LEAVE64)
def LeaveCriticalSection(ctx: Ctx, cs: int) -> int:
    st, off = _cs(ctx)
    lock, rec, owner = st.unpack(ctx.mem.read(cs + off, st.size))
    if rec <= 0 or owner != THREAD_ID:
        ctx.log(f"[rasemu] LeaveCriticalSection(0x{cs:x}) on a section this thread does not own")
        return 0
    ctx.mem.write(cs + off, st.pack(lock - 1, rec - 1, THREAD_ID if rec > 1 else 0))
    return 0


@api(K32)
def DeleteCriticalSection(ctx: Ctx, cs: int) -> int:
    ctx.proc.extra.setdefault("critical_sections", {}).pop(cs, None)
    return 0


# SRW locks and one-time init (single-threaded: never contended)
@api(K32)
def InitializeSRWLock(ctx: Ctx, lock: int) -> int:
    ctx.write_ptr(lock, 0)
    return 0


@api(K32)
def AcquireSRWLockExclusive(ctx: Ctx, lock: int) -> int:
    if ctx.ptr(lock):
        raise ApiFault(
            "timeout", f"AcquireSRWLockExclusive(0x{lock:x}) would wait forever: already held"
        )
    ctx.write_ptr(lock, 1)
    return 0


@api(K32)
def ReleaseSRWLockExclusive(ctx: Ctx, lock: int) -> int:
    ctx.write_ptr(lock, 0)
    return 0


@api(K32)
def AcquireSRWLockShared(ctx: Ctx, lock: int) -> int:
    if ctx.ptr(lock) == 1:
        raise ApiFault(
            "timeout", f"AcquireSRWLockShared(0x{lock:x}) would wait forever: held exclusively"
        )
    ctx.write_ptr(lock, ctx.ptr(lock) + 0x10)
    return 0


@api(K32)
def ReleaseSRWLockShared(ctx: Ctx, lock: int) -> int:
    v = ctx.ptr(lock)
    ctx.write_ptr(lock, v - 0x10 if v >= 0x10 else 0)
    return 0


# --- TLS / FLS --------------------------------------------------------------------------------
def _tls_slot(ctx: Ctx, index: int) -> int:
    return ctx.svc.teb + (0x1480 + 8 * index if ctx.bits == 64 else 0xE10 + 4 * index)


@api(K32)
def TlsAlloc(ctx: Ctx) -> int:
    for i in range(TLS_SLOTS):
        if i not in ctx.proc.tls_used:
            ctx.proc.tls_used.add(i)
            ctx.write_ptr(_tls_slot(ctx, i), 0)
            return i
    return TLS_OUT_OF_INDEXES


@api(K32)
def TlsFree(ctx: Ctx, index: int) -> int:
    index = _dw(index)
    if index not in ctx.proc.tls_used:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    ctx.proc.tls_used.discard(index)
    return 1


@api(K32)
def TlsGetValue(ctx: Ctx, index: int) -> int:
    index = _dw(index)
    if index >= TLS_SLOTS:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    ctx.set_last_error(ERROR_SUCCESS)
    return ctx.ptr(_tls_slot(ctx, index))


@api(K32)
def TlsSetValue(ctx: Ctx, index: int, value: int) -> int:
    index = _dw(index)
    if index >= TLS_SLOTS:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    ctx.write_ptr(_tls_slot(ctx, index), value)
    return 1


@api(K32)
def FlsAlloc(ctx: Ctx, callback: int) -> int:
    i = 0
    while i in ctx.proc.fls:
        i += 1
    ctx.proc.fls[i] = 0
    return i


@api(K32)
def FlsFree(ctx: Ctx, index: int) -> int:
    return int(ctx.proc.fls.pop(_dw(index), None) is not None)


@api(K32)
def FlsGetValue(ctx: Ctx, index: int) -> int:
    ctx.set_last_error(ERROR_SUCCESS)
    return ctx.proc.fls.get(_dw(index), 0)


@api(K32)
def FlsSetValue(ctx: Ctx, index: int, value: int) -> int:
    index = _dw(index)
    if index not in ctx.proc.fls:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    ctx.proc.fls[index] = value
    return 1


# --- interlocked (exported by kernel32 on x86; intrinsics on x64) ---------------------------
@api(K32)
def InterlockedIncrement(ctx: Ctx, addr: int) -> int:
    v = _dw(ctx.mem.u32(addr) + 1)
    ctx.mem.w32(addr, v)
    return v


@api(K32)
def InterlockedDecrement(ctx: Ctx, addr: int) -> int:
    v = _dw(ctx.mem.u32(addr) - 1)
    ctx.mem.w32(addr, v)
    return v


@api(K32)
def InterlockedExchange(ctx: Ctx, addr: int, value: int) -> int:
    old = ctx.mem.u32(addr)
    ctx.mem.w32(addr, value)
    return old


@api(K32)
def InterlockedExchangeAdd(ctx: Ctx, addr: int, value: int) -> int:
    old = ctx.mem.u32(addr)
    ctx.mem.w32(addr, old + value)
    return old


@api(K32)
def InterlockedCompareExchange(ctx: Ctx, addr: int, exchange: int, comparand: int) -> int:
    old = ctx.mem.u32(addr)
    if old == _dw(comparand):
        ctx.mem.w32(addr, exchange)
    return old


@api(K32)
def InitializeSListHead(ctx: Ctx, head: int) -> int:
    ctx.mem.fill(head, 16 if ctx.bits == 64 else 8)
    return 0


# --- process / thread / misc -----------------------------------------------------------------
@api(K32)
def GetCurrentProcessId(ctx: Ctx) -> int:
    return PROCESS_ID


@api(K32)
def GetCurrentThreadId(ctx: Ctx) -> int:
    return THREAD_ID


@api(K32)
def GetCurrentProcess(ctx: Ctx) -> int:
    return CURRENT_PROCESS & ((1 << ctx.bits) - 1)


@api(K32)
def GetCurrentThread(ctx: Ctx) -> int:
    return CURRENT_THREAD & ((1 << ctx.bits) - 1)


@api(K32)
def IsDebuggerPresent(ctx: Ctx) -> int:
    return 0


@api(K32)
def IsProcessorFeaturePresent(ctx: Ctx, feature: int) -> int:
    # PF_XMMI (6), PF_XMMI64 (10), PF_NX (12), PF_SSE3 (13), PF_COMPARE_EXCHANGE128 (14),
    # PF_FASTFAIL_AVAILABLE (23): report what the emulated CPU provides
    return int(_dw(feature) in (6, 10, 12, 13, 14, 17, 23))


@api(K32)
def DisableThreadLibraryCalls(ctx: Ctx, module: int) -> int:
    return 1


@api(K32)
def CloseHandle(ctx: Ctx, handle: int) -> int:
    if not ctx.proc.handles.close(handle):
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    return 1


@api(K32)
def Sleep(ctx: Ctx, ms: int) -> int:
    ctx.proc.slept_ms += _dw(ms) if _dw(ms) != 0xFFFFFFFF else 0
    if _dw(ms) == 0xFFFFFFFF:
        raise ApiFault("timeout", "Sleep(INFINITE) never returns")
    return 0


@api(K32)
def SleepEx(ctx: Ctx, ms: int, alertable: int) -> int:
    Sleep(ctx, ms)
    return 0


def _now_ms(ctx: Ctx) -> int:
    return int((time.monotonic() - _BOOT) * 1000) + 3_600_000 + ctx.proc.slept_ms


@api(K32)
def GetTickCount(ctx: Ctx) -> int:
    return _dw(_now_ms(ctx))


@api(K32, ret64=True)
def GetTickCount64(ctx: Ctx) -> int:
    return _now_ms(ctx)


@api(K32)
def QueryPerformanceFrequency(ctx: Ctx, out: int) -> int:
    ctx.mem.w64(out, 10_000_000)
    return 1


@api(K32)
def QueryPerformanceCounter(ctx: Ctx, out: int) -> int:
    ctx.mem.w64(out, time.perf_counter_ns() // 100 + ctx.proc.slept_ms * 10_000)
    return 1


def _filetime_now(ctx: Ctx) -> int:
    return time.time_ns() // 100 + FILETIME_EPOCH + ctx.proc.slept_ms * 10_000


@api(K32)
def GetSystemTimeAsFileTime(ctx: Ctx, out: int) -> int:
    ctx.mem.w64(out, _filetime_now(ctx))
    return 0


@api(K32)
def GetSystemTimePreciseAsFileTime(ctx: Ctx, out: int) -> int:
    return GetSystemTimeAsFileTime(ctx, out)


def _write_systemtime(ctx: Ctx, out: int, t: time.struct_time, ms: int) -> None:
    wday = (t.tm_wday + 1) % 7  # Python: Monday=0; Windows: Sunday=0
    vals = (t.tm_year, t.tm_mon, wday, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms)
    ctx.mem.write(out, b"".join(v.to_bytes(2, "little") for v in vals))


@api(K32)
def GetSystemTime(ctx: Ctx, out: int) -> int:
    now = time.time() + ctx.proc.slept_ms / 1000
    _write_systemtime(ctx, out, time.gmtime(now), int(now * 1000) % 1000)
    return 0


@api(K32)
def GetLocalTime(ctx: Ctx, out: int) -> int:
    now = time.time() + ctx.proc.slept_ms / 1000
    _write_systemtime(ctx, out, time.localtime(now), int(now * 1000) % 1000)
    return 0


@api(K32)
def OutputDebugStringW(ctx: Ctx, text: int) -> int:
    if text:
        ctx.log(ctx.wstr(text))
    return 0


@api(K32)
def OutputDebugStringA(ctx: Ctx, text: int) -> int:
    if text:
        ctx.log(ctx.cstr(text))
    return 0


@api(K32)
def SetUnhandledExceptionFilter(ctx: Ctx, filt: int) -> int:
    old: int = ctx.proc.extra.get("unhandled_filter", 0)
    ctx.proc.extra["unhandled_filter"] = filt
    return old


@api(K32)
def UnhandledExceptionFilter(ctx: Ctx, info: int) -> int:
    return 0  # EXCEPTION_CONTINUE_SEARCH


@api(K32)
def TerminateProcess(ctx: Ctx, process: int, code: int) -> int:
    raise ApiFault("crash", f"the DLL called TerminateProcess (exit code {_dw(code)})")


@api(K32)
def ExitProcess(ctx: Ctx, code: int) -> int:
    raise ApiFault("crash", f"the DLL called ExitProcess({_dw(code)})")


@api(K32)
def RaiseException(ctx: Ctx, code: int, flags: int, nargs: int, args: int) -> int:
    # the emulator dispatches no SEH: nothing in the DLL can catch it, so it escapes the callback
    c = _dw(code)
    known = {0xE06D7363: "a C++ exception", 0xC0000005: "an access violation"}.get(c)
    raise ApiFault(
        "exception",
        f"the DLL raised exception 0x{c:08x} (RaiseException{', noncontinuable' if flags & 1 else ''}"
        f"{'; ' + known if known else ''}) and it escaped the callback",
        {"exception_code": c},
    )


# --- strings -------------------------------------------------------------------------------
@api(K32)
def lstrlenW(ctx: Ctx, s: int) -> int:
    return 0 if s == 0 else len(ctx.mem.wstr_bytes(s)) // 2


@api(K32)
def lstrlenA(ctx: Ctx, s: int) -> int:
    return 0 if s == 0 else len(ctx.mem.cstr(s))


@api(K32)
def lstrcpyW(ctx: Ctx, dst: int, src: int) -> int:
    ctx.mem.write(dst, ctx.mem.wstr_bytes(src) + b"\0\0")
    return dst


@api(K32)
def lstrcpyA(ctx: Ctx, dst: int, src: int) -> int:
    ctx.mem.write(dst, ctx.mem.cstr(src) + b"\0")
    return dst


@api(K32)
def lstrcpynW(ctx: Ctx, dst: int, src: int, n: int) -> int:
    n = Ctx.s32(n)
    if n <= 0:
        return dst
    raw = ctx.mem.wstr_bytes(src, n)[: 2 * (n - 1)]
    ctx.mem.write(dst, raw + b"\0\0")
    return dst


@api(K32)
def lstrcatW(ctx: Ctx, dst: int, src: int) -> int:
    end = dst + len(ctx.mem.wstr_bytes(dst))
    ctx.mem.write(end, ctx.mem.wstr_bytes(src) + b"\0\0")
    return dst


def _cmp(a: str, b: str) -> int:
    return (a > b) - (a < b)


@api(K32)
def lstrcmpW(ctx: Ctx, a: int, b: int) -> int:
    return _cmp(ctx.wstr(a), ctx.wstr(b)) & 0xFFFFFFFF


@api(K32)
def lstrcmpiW(ctx: Ctx, a: int, b: int) -> int:
    return _cmp(ctx.wstr(a).lower(), ctx.wstr(b).lower()) & 0xFFFFFFFF


@api(K32)
def lstrcmpA(ctx: Ctx, a: int, b: int) -> int:
    return _cmp(ctx.cstr(a), ctx.cstr(b)) & 0xFFFFFFFF


@api(K32)
def lstrcmpiA(ctx: Ctx, a: int, b: int) -> int:
    return _cmp(ctx.cstr(a).lower(), ctx.cstr(b).lower()) & 0xFFFFFFFF


CP_ACP = 0
CP_UTF8 = 65001


def _codec(cp: int) -> str:
    cp = _dw(cp)
    if cp == CP_UTF8:
        return "utf-8"
    if cp in (0, 1, 2, 3, 1252):  # CP_ACP, CP_OEMCP, CP_MACCP, CP_THREAD_ACP
        return ACP
    return f"cp{cp}"


def store_counted(ctx: Ctx, dst: int, dstlen: int, data: bytes, unit: int) -> int:
    """Store ``data`` in a caller's buffer of ``dstlen`` units of ``unit`` bytes, as the string
    conversions (MultiByteToWideChar, WideCharToMultiByte, LCMapString) do: ``dstlen`` 0 asks for
    the size (the unit count, nothing written); a smaller buffer fails with
    ERROR_INSUFFICIENT_BUFFER (0); else ``data`` is written and its unit count returned."""
    units = len(data) // unit
    cap = Ctx.s32(dstlen)
    if cap == 0:
        return units
    if cap < units:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    ctx.mem.write(dst, data)
    return units


@api(K32)
def MultiByteToWideChar(
    ctx: Ctx, cp: int, flags: int, src: int, srclen: int, dst: int, dstlen: int
) -> int:
    n = Ctx.s32(srclen)
    raw = ctx.mem.cstr(src) + b"\0" if n == -1 else ctx.mem.read(src, n)
    try:
        text = raw.decode(_codec(cp), "strict" if _dw(flags) & 0x8 else "replace")
    except (UnicodeDecodeError, LookupError):
        ctx.set_last_error(ERROR_NO_UNICODE_TRANSLATION)
        return 0
    return store_counted(ctx, dst, dstlen, text.encode("utf-16-le", "surrogatepass"), 2)


@api(K32)
def WideCharToMultiByte(
    ctx: Ctx,
    cp: int,
    flags: int,
    src: int,
    srclen: int,
    dst: int,
    dstlen: int,
    default: int,
    used: int,
) -> int:
    n = Ctx.s32(srclen)
    raw = ctx.mem.wstr_bytes(src) + b"\0\0" if n == -1 else ctx.mem.read(src, 2 * n)
    text = raw.decode("utf-16-le", "surrogatepass")
    codec = _codec(cp)
    try:
        out = text.encode(codec, "strict")
        lossy = False
    except UnicodeEncodeError:
        out = text.encode(codec, "replace")
        lossy = True
    except LookupError:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    if used:
        ctx.mem.w32(used, int(lossy))
    return store_counted(ctx, dst, dstlen, out, 1)


@api(K32)
def GetACP(ctx: Ctx) -> int:
    return 1252


@api(K32)
def GetOEMCP(ctx: Ctx) -> int:
    return 437


@api(K32)
def IsValidCodePage(ctx: Ctx, cp: int) -> int:
    return int(_dw(cp) in (437, 850, 1252, 65001, 20127))


# --- modules -------------------------------------------------------------------------------
@api(K32)
def GetModuleHandleW(ctx: Ctx, name: int) -> int:
    h = ctx.svc.module_handle(ctx.wstr(name) if name else None)
    if not h:
        ctx.set_last_error(ERROR_MOD_NOT_FOUND)
    return h


@api(K32)
def GetModuleHandleA(ctx: Ctx, name: int) -> int:
    h = ctx.svc.module_handle(ctx.cstr(name) if name else None)
    if not h:
        ctx.set_last_error(ERROR_MOD_NOT_FOUND)
    return h


@api(K32)
def GetModuleHandleExW(ctx: Ctx, flags: int, name: int, out: int) -> int:
    if _dw(flags) & 0x4:  # GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
        h = (
            ctx.svc.image_base
            if ctx.svc.image_base <= name < ctx.svc.image_base + ctx.svc.image_size
            else 0
        )
    else:
        h = ctx.svc.module_handle(ctx.wstr(name) if name else None)
    if out:
        ctx.write_ptr(out, h)
    if not h:
        ctx.set_last_error(ERROR_MOD_NOT_FOUND)
    return int(h != 0)


@api(K32)
def LoadLibraryA(ctx: Ctx, name: int) -> int:
    return GetModuleHandleA(ctx, name)


@api(K32)
def LoadLibraryW(ctx: Ctx, name: int) -> int:
    return GetModuleHandleW(ctx, name)


@api(K32)
def LoadLibraryExW(ctx: Ctx, name: int, file: int, flags: int) -> int:
    return GetModuleHandleW(ctx, name)


@api(K32)
def LoadLibraryExA(ctx: Ctx, name: int, file: int, flags: int) -> int:
    return GetModuleHandleA(ctx, name)


@api(K32)
def FreeLibrary(ctx: Ctx, module: int) -> int:
    return 1


@api(K32)
def GetProcAddress(ctx: Ctx, module: int, name: int) -> int:
    symbol: str | int = name if name < 0x10000 else ctx.cstr(name)
    addr = ctx.svc.proc_address(module, symbol)
    if not addr:
        ctx.set_last_error(ERROR_PROC_NOT_FOUND)
    return addr


def _module_file_name(ctx: Ctx, module: int, buf: int, size: int, wide: bool) -> int:
    path = ctx.svc.module_file_name(module)
    if path is None:
        ctx.set_last_error(ERROR_MOD_NOT_FOUND)
        return 0
    size = _dw(size)
    if size == 0:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    text = path[: size - 1]
    if wide:
        ctx.write_wstr(buf, text)
    else:
        ctx.write_cstr(buf, text)
    if len(path) >= size:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return size
    return len(path)


@api(K32)
def GetModuleFileNameW(ctx: Ctx, module: int, buf: int, size: int) -> int:
    return _module_file_name(ctx, module, buf, size, True)


@api(K32)
def GetModuleFileNameA(ctx: Ctx, module: int, buf: int, size: int) -> int:
    return _module_file_name(ctx, module, buf, size, False)


# --- virtual memory -----------------------------------------------------------------------------
PAGE_NOACCESS = 0x01
PAGE_READONLY = 0x02
PAGE_READWRITE = 0x04
PAGE_WRITECOPY = 0x08
PAGE_EXECUTE = 0x10
PAGE_EXECUTE_READ = 0x20
PAGE_EXECUTE_READWRITE = 0x40
PAGE_EXECUTE_WRITECOPY = 0x80
MEM_COMMIT = 0x1000
MEM_RESERVE = 0x2000
MEM_RELEASE = 0x8000
MEM_FREE = 0x10000
MEM_PRIVATE = 0x20000
MEM_IMAGE = 0x1000000

_TO_UC = {
    PAGE_NOACCESS: UC_PROT_NONE,
    PAGE_READONLY: UC_PROT_READ,
    PAGE_READWRITE: UC_PROT_READ | UC_PROT_WRITE,
    PAGE_WRITECOPY: UC_PROT_READ | UC_PROT_WRITE,
    PAGE_EXECUTE: UC_PROT_EXEC | UC_PROT_READ,
    PAGE_EXECUTE_READ: UC_PROT_EXEC | UC_PROT_READ,
    PAGE_EXECUTE_READWRITE: UC_PROT_EXEC | UC_PROT_READ | UC_PROT_WRITE,
    PAGE_EXECUTE_WRITECOPY: UC_PROT_EXEC | UC_PROT_READ | UC_PROT_WRITE,
}


def uc_to_page(perms: int) -> int:
    """Windows PAGE_* constant for unicorn perms."""
    x = perms & UC_PROT_EXEC
    w = perms & UC_PROT_WRITE
    r = perms & UC_PROT_READ
    if x:
        return PAGE_EXECUTE_READWRITE if w else PAGE_EXECUTE_READ
    if w:
        return PAGE_READWRITE
    return PAGE_READONLY if r else PAGE_NOACCESS


@api(K32)
def VirtualAlloc(ctx: Ctx, addr: int, size: int, kind: int, prot: int) -> int:
    uc_prot = _TO_UC.get(_dw(prot) & 0xFF)
    if uc_prot is None or size == 0:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    if addr and ctx.svc.query_virtual(addr) is not None:
        # committing inside an existing reservation: already committed in this model
        return addr & ~0xFFF
    out = ctx.svc.map_virtual(addr, size, uc_prot)
    if not out:
        ctx.set_last_error(ERROR_NOT_ENOUGH_MEMORY)
    return out


@api(K32)
def VirtualFree(ctx: Ctx, addr: int, size: int, kind: int) -> int:
    if _dw(kind) & MEM_RELEASE and not ctx.svc.unmap_virtual(addr):
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    return 1


@api(K32)
def VirtualProtect(ctx: Ctx, addr: int, size: int, prot: int, old: int) -> int:
    uc_prot = _TO_UC.get(_dw(prot) & 0xFF)
    if uc_prot is None:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    prev = ctx.svc.protect_virtual(addr, size, uc_prot)
    if prev is None:
        ctx.set_last_error(ERROR_INVALID_ADDRESS)
        return 0
    if old:
        ctx.mem.w32(old, uc_to_page(prev))
    return 1


@api(K32)
def VirtualQuery(ctx: Ctx, addr: int, info: int, length: int) -> int:
    q = ctx.svc.query_virtual(addr)
    ps = ctx.ptr_size
    size = 48 if ps == 8 else 28
    if length < size:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    ctx.mem.fill(info, size)
    if q is None:
        ctx.write_ptr(info, addr & ~0xFFF)
        ctx.write_ptr(info + 3 * ps if ps == 8 else info + 12, 0x1000)
        ctx.mem.w32(info + (32 if ps == 8 else 16), MEM_FREE)
        ctx.mem.w32(info + (36 if ps == 8 else 20), PAGE_NOACCESS)
        return size
    alloc_base, base, rsize, perms = q
    image = ctx.svc.image_base <= addr < ctx.svc.image_base + ctx.svc.image_size
    if ps == 8:
        ctx.mem.w64(info, base)
        ctx.mem.w64(info + 8, alloc_base)
        ctx.mem.w32(info + 16, uc_to_page(perms))
        ctx.mem.w64(info + 24, rsize)
        ctx.mem.w32(info + 32, MEM_COMMIT)
        ctx.mem.w32(info + 36, uc_to_page(perms))
        ctx.mem.w32(info + 40, MEM_IMAGE if image else MEM_PRIVATE)
    else:
        ctx.mem.w32(info, base)
        ctx.mem.w32(info + 4, alloc_base)
        ctx.mem.w32(info + 8, uc_to_page(perms))
        ctx.mem.w32(info + 12, rsize)
        ctx.mem.w32(info + 16, MEM_COMMIT)
        ctx.mem.w32(info + 20, uc_to_page(perms))
        ctx.mem.w32(info + 24, MEM_IMAGE if image else MEM_PRIVATE)
    return size


@api(K32)
def GetSystemInfo(ctx: Ctx, info: int) -> int:
    ps = ctx.ptr_size
    ctx.mem.fill(info, 48 if ps == 8 else 36)
    ctx.mem.w32(info, 9 if ps == 8 else 0)  # PROCESSOR_ARCHITECTURE_AMD64 / INTEL
    ctx.mem.w32(info + 4, 0x1000)
    ctx.write_ptr(info + 8, 0x10000)
    ctx.write_ptr(info + 8 + ps, (0x7FFEFFFF if ps == 4 else 0x7FFFFFFEFFFF))
    ctx.write_ptr(info + 8 + 2 * ps, 1)
    ctx.mem.w32(info + 8 + 3 * ps, 1)  # one processor
    ctx.mem.w32(info + 12 + 3 * ps, 8664 if ps == 8 else 586)
    ctx.mem.w32(info + 16 + 3 * ps, 0x10000)
    return 0


@api(K32)
def GetNativeSystemInfo(ctx: Ctx, info: int) -> int:
    return GetSystemInfo(ctx, info)
