"""vcruntime140.dll / vcruntime140_1.dll: C++ exception support, type info, purecall.

The emulator does not dispatch exceptions, so a C++ ``throw`` (``_CxxThrowException``) stops the
call with a fault of kind ``exception`` naming the thrown type and its ``what()`` text: an exception
escaping a callback is a finding. The frame handlers are only reached during dispatch and report
"continue search". memcpy/memset/... come from the core msvcrt handlers.
"""

from __future__ import annotations

from emulator.loaders.pe.memory import GuestMemoryError
from emulator.loaders.pe.winapi import ApiFault, Ctx
from emulator.loaders.pe.winapi.env import soft_api

VC = "vcruntime140.dll"
VC1 = "vcruntime140_1.dll"
EXCEPTION_CONTINUE_SEARCH = 1  # ExceptionContinueSearch (EXCEPTION_DISPOSITION)
CXX_EXCEPTION = 0xE06D7363


def demangle_type(name: str) -> str:
    """``.?AVbad_alloc@std@@`` -> ``std::bad_alloc`` (class/struct type descriptors only)."""
    for prefix, kind in ((".?AV", ""), (".?AU", ""), (".?AW4", "enum ")):
        if name.startswith(prefix):
            body = name[len(prefix) :]
            if body.endswith("@@"):
                body = body[:-2]
            parts = [p for p in body.split("@") if p]
            return kind + "::".join(reversed(parts))
    simple = {
        ".H": "int",
        ".I": "unsigned int",
        ".J": "long",
        ".K": "unsigned long",
        ".D": "char",
        ".PEBD": "const char *",
        ".PBD": "const char *",
        ".PEB_W": "const wchar_t *",
        ".PB_W": "const wchar_t *",
        ".N": "double",
        "._J": "__int64",
        ".M": "float",
    }
    return simple.get(name, name)


def thrown_types(ctx: Ctx, throw_info: int) -> list[str]:
    """Mangled names of the catchable types in a ``_ThrowInfo`` (most derived first)."""
    if not throw_info:
        return []
    base = ctx.svc.image_base if ctx.bits == 64 else 0

    def ref(addr: int) -> int:
        v = ctx.mem.u32(addr)
        if ctx.bits == 64:
            return base + v if v else 0
        return v

    ps = 4  # every field of these structures is 32-bit (RVA on x64, pointer on x86)
    cta = ref(throw_info + 3 * ps)
    if not cta:
        return []
    count = min(ctx.mem.u32(cta), 32)
    names = []
    for i in range(count):
        ct = ref(cta + 4 + 4 * i)
        if not ct:
            continue
        td = ref(ct + 4)
        if not td:
            continue
        names.append(ctx.mem.cstr(td + 2 * ctx.ptr_size, 512).decode("latin-1"))
    return names


@soft_api(VC, also=("msvcrt.dll",))  # VC6-era DLLs import it from msvcrt.dll
def _CxxThrowException(ctx: Ctx, obj: int, throw_info: int) -> int:
    try:
        types = thrown_types(ctx, throw_info)
    except GuestMemoryError:
        types = []
    what = ""
    if any(t == ".?AVexception@std@@" for t in types) and obj:
        try:
            p = ctx.ptr(obj + ctx.ptr_size)
            if p:
                what = ctx.cstr(p, 1024)
        except GuestMemoryError:
            what = ""
    if types:
        shown = demangle_type(types[0])
        msg = f"a C++ exception of type {shown} escaped"
        if what:
            msg += f": {what!r}"
    elif throw_info == 0:
        msg = "a C++ exception was rethrown (throw;) with none active"
    else:
        msg = "a C++ exception escaped (unreadable _ThrowInfo)"
    raise ApiFault(
        "exception", msg + " (nothing in the DLL caught it; the host process would terminate)"
    )


@soft_api(VC, conv="cdecl", also=("msvcrt.dll",))
def __CxxFrameHandler3(ctx: Ctx, rec: int, frame: int, context: int, dispatch: int) -> int:
    return EXCEPTION_CONTINUE_SEARCH


@soft_api("msvcrt.dll", "__CxxFrameHandler", conv="cdecl")
def __CxxFrameHandler(ctx: Ctx, rec: int, frame: int, context: int, dispatch: int) -> int:
    return EXCEPTION_CONTINUE_SEARCH


@soft_api(VC, conv="cdecl")
def __CxxFrameHandler2(ctx: Ctx, rec: int, frame: int, context: int, dispatch: int) -> int:
    return EXCEPTION_CONTINUE_SEARCH


@soft_api(VC1, conv="cdecl")
def __CxxFrameHandler4(ctx: Ctx, rec: int, frame: int, context: int, dispatch: int) -> int:
    return EXCEPTION_CONTINUE_SEARCH


@soft_api(VC, conv="cdecl", also=("msvcrt.dll",))
def _except_handler3(ctx: Ctx, rec: int, frame: int, context: int, dispatch: int) -> int:
    return EXCEPTION_CONTINUE_SEARCH


@soft_api(VC, conv="cdecl")
def _local_unwind4(ctx: Ctx, cookie: int, frame: int, level: int) -> int:
    raise ApiFault("exception", "_local_unwind4: the DLL unwound an SEH frame (an exception path)")


@soft_api(VC, conv="cdecl")
def _local_unwind2(ctx: Ctx, frame: int, level: int) -> int:
    raise ApiFault("exception", "_local_unwind2: the DLL unwound an SEH frame (an exception path)")


@soft_api(VC, conv="cdecl")
def _global_unwind2(ctx: Ctx, frame: int) -> int:
    raise ApiFault("exception", "_global_unwind2: the DLL unwound the stack (an exception path)")


@soft_api(VC, conv="cdecl")
def __std_terminate(ctx: Ctx) -> int:
    raise ApiFault("crash", "std::terminate was called (an exception left a noexcept function)")


@soft_api(VC, conv="cdecl", also=("msvcrt.dll",))
def _purecall(ctx: Ctx) -> int:
    raise ApiFault("crash", "pure virtual function call (_purecall)")


def _str_exc_fields(ctx: Ctx, data: int) -> tuple[int, int]:
    return ctx.ptr(data), ctx.mem.u8(data + ctx.ptr_size)


@soft_api(VC, conv="cdecl")
def __std_exception_copy(ctx: Ctx, src: int, dst: int) -> int:
    what, do_free = _str_exc_fields(ctx, src)
    if do_free and what:
        raw = ctx.mem.cstr(what)
        copy = ctx.alloc(len(raw) + 1)
        if copy:
            ctx.mem.write(copy, raw + b"\0")
            ctx.write_ptr(dst, copy)
            ctx.mem.write(dst + ctx.ptr_size, b"\x01")
            return 0
    ctx.write_ptr(dst, what)
    ctx.mem.write(dst + ctx.ptr_size, b"\x00")
    return 0


@soft_api(VC, conv="cdecl")
def __std_exception_destroy(ctx: Ctx, data: int) -> int:
    what, do_free = _str_exc_fields(ctx, data)
    if do_free and what:
        ctx.heap.free(what)
    ctx.write_ptr(data, 0)
    ctx.mem.write(data + ctx.ptr_size, b"\x00")
    return 0


def _cell(ctx: Ctx, key: str, size: int) -> int:
    cell: int = ctx.proc.extra.get(key, 0)
    if not cell:
        cell = ctx.heap.alloc(max(size, 16), heap=0, site=0, api=key)
        ctx.proc.extra[key] = cell
    return cell


@soft_api(VC, conv="cdecl")
def __current_exception(ctx: Ctx) -> int:
    return _cell(ctx, "vc_current_exception", ctx.ptr_size)


@soft_api(VC, conv="cdecl")
def __current_exception_context(ctx: Ctx) -> int:
    return _cell(ctx, "vc_current_exception_context", ctx.ptr_size)


@soft_api(VC, conv="cdecl")
def __processing_throw(ctx: Ctx) -> int:
    return _cell(ctx, "vc_processing_throw", 4)


@soft_api(VC, conv="cdecl")
def __uncaught_exceptions(ctx: Ctx) -> int:
    return 0


@soft_api(VC, conv="cdecl")
def __uncaught_exception(ctx: Ctx) -> int:
    return 0


@soft_api(VC, conv="cdecl")
def __telemetry_main_invoke_trigger(ctx: Ctx, module: int) -> int:
    return 0


@soft_api(VC, conv="cdecl")
def __telemetry_main_return_trigger(ctx: Ctx, module: int) -> int:
    return 0


@soft_api(VC, conv="cdecl")
def __vcrt_GetModuleHandleW(ctx: Ctx, name: int) -> int:
    from emulator.loaders.pe.winapi.kernel32 import GetModuleHandleW

    return GetModuleHandleW(ctx, name)


@soft_api(VC, conv="cdecl")
def __vcrt_GetModuleFileNameW(ctx: Ctx, module: int, buf: int, size: int) -> int:
    from emulator.loaders.pe.winapi.kernel32 import GetModuleFileNameW

    return GetModuleFileNameW(ctx, module, buf, size)


@soft_api(VC, conv="cdecl")
def __vcrt_LoadLibraryExW(ctx: Ctx, name: int, file: int, flags: int) -> int:
    from emulator.loaders.pe.winapi.kernel32 import LoadLibraryExW

    return LoadLibraryExW(ctx, name, file, flags)


@soft_api(VC, conv="cdecl")
def __NLG_Notify(ctx: Ctx, a: int, b: int, c: int) -> int:
    return 0
