"""ntdll.dll: the Rtl* helpers CRT startup code imports (also reached from kernel32 imports)."""

from __future__ import annotations

from emulator.loaders.pe.winapi import ApiFault, Ctx, api

NT = "ntdll.dll"


@api(NT)
def RtlCaptureContext(ctx: Ctx, context: int) -> int:
    # used by __report_gsfailure before it terminates; a zeroed CONTEXT is enough for that path
    ctx.mem.fill(context, 0x4D0 if ctx.bits == 64 else 0x2CC)
    return 0


@api(NT)
def RtlLookupFunctionEntry(ctx: Ctx, pc: int, base_out: int, history: int) -> int:
    if base_out:
        ctx.write_ptr(base_out, 0)
    return 0  # no unwind info: callers treat the frame as a leaf


@api(NT)
def RtlVirtualUnwind(
    ctx: Ctx,
    kind: int,
    base: int,
    pc: int,
    entry: int,
    context: int,
    data: int,
    frame: int,
    ptrs: int,
) -> int:
    raise ApiFault(
        "exception", "RtlVirtualUnwind: the DLL tried to unwind the stack (an exception path)"
    )


@api(NT)
def RtlUnwind(ctx: Ctx, frame: int, target: int, rec: int, value: int) -> int:
    raise ApiFault("exception", "RtlUnwind: the DLL tried to unwind the stack (an exception path)")


@api(NT)
def RtlGetLastWin32Error(ctx: Ctx) -> int:
    return ctx.last_error


@api(NT)
def RtlSetLastWin32Error(ctx: Ctx, code: int) -> int:
    ctx.set_last_error(code & 0xFFFFFFFF)
    return 0


@api(NT)
def RtlZeroMemory(ctx: Ctx, dst: int, n: int) -> int:
    if n:
        ctx.mem.fill(dst, n & ((1 << ctx.bits) - 1))
    return 0


@api(NT)
def RtlMoveMemory(ctx: Ctx, dst: int, src: int, n: int) -> int:
    n &= (1 << ctx.bits) - 1
    if n:
        ctx.mem.write(dst, ctx.mem.read(src, n))
    return 0


@api(NT)
def RtlNtStatusToDosError(ctx: Ctx, status: int) -> int:
    status &= 0xFFFFFFFF
    return {0: 0, 0xC0000005: 998, 0xC0000017: 8, 0xC000000D: 87}.get(status, 317)
