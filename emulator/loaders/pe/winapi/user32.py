"""user32.dll: message boxes (recorded, answered IDOK: a service has nobody to click) and wsprintf."""

from __future__ import annotations

from emulator.loaders.pe.winapi import ACP, Ctx
from emulator.loaders.pe.winapi.env import options, soft_api
from emulator.loaders.pe.winapi.fmt import format_printf

U32 = "user32.dll"
IDOK = 1
WSPRINTF_MAX = 1024  # wsprintf writes at most 1024 characters


def _box(ctx: Ctx, text: str, caption: str, style: int) -> int:
    options(ctx).message_boxes.append((caption, text))
    ctx.proc.extra.setdefault("message_boxes", []).append((caption, text, style & 0xFFFFFFFF))
    ctx.log(f"[MessageBox] {caption}: {text}")
    return IDOK


@soft_api(U32)
def MessageBoxW(ctx: Ctx, hwnd: int, text: int, caption: int, style: int) -> int:
    return _box(
        ctx, ctx.wstr(text) if text else "", ctx.wstr(caption) if caption else "Error", style
    )


@soft_api(U32)
def MessageBoxA(ctx: Ctx, hwnd: int, text: int, caption: int, style: int) -> int:
    return _box(
        ctx, ctx.cstr(text) if text else "", ctx.cstr(caption) if caption else "Error", style
    )


@soft_api(U32)
def MessageBoxExW(ctx: Ctx, hwnd: int, text: int, caption: int, style: int, lang: int) -> int:
    return MessageBoxW(ctx, hwnd, text, caption, style)


@soft_api(U32)
def MessageBoxExA(ctx: Ctx, hwnd: int, text: int, caption: int, style: int, lang: int) -> int:
    return MessageBoxA(ctx, hwnd, text, caption, style)


def _wsprintf(ctx: Ctx, buf: int, fmt: str, va_first: int | None, va_ptr: int, wide: bool) -> int:
    va = ctx.varargs(va_first) if va_first is not None else ctx.va_list(va_ptr)
    text = format_printf(ctx, fmt, va, wide=wide)
    if wide:
        raw = text.encode("utf-16-le", "surrogatepass")[: 2 * (WSPRINTF_MAX - 1)]
        ctx.mem.write(buf, raw + b"\0\0")
        return len(raw) // 2
    rawa = text.encode(ACP, "replace")[: WSPRINTF_MAX - 1]
    ctx.mem.write(buf, rawa + b"\0")
    return len(rawa)


@soft_api(U32, conv="cdecl", varargs=True)
def wsprintfW(ctx: Ctx, buf: int, fmt: int) -> int:
    return _wsprintf(ctx, buf, ctx.wstr(fmt), 2, 0, True)


@soft_api(U32, conv="cdecl", varargs=True)
def wsprintfA(ctx: Ctx, buf: int, fmt: int) -> int:
    return _wsprintf(ctx, buf, ctx.cstr(fmt), 2, 0, False)


@soft_api(U32)
def wvsprintfW(ctx: Ctx, buf: int, fmt: int, va: int) -> int:
    return _wsprintf(ctx, buf, ctx.wstr(fmt), None, va, True)


@soft_api(U32)
def wvsprintfA(ctx: Ctx, buf: int, fmt: int, va: int) -> int:
    return _wsprintf(ctx, buf, ctx.cstr(fmt), None, va, False)


@soft_api(U32)
def CharUpperW(ctx: Ctx, s: int) -> int:
    if s < 0x10000:
        return ord(chr(s).upper()[0]) if len(chr(s).upper()) == 1 else s
    ctx.write_wstr(s, "".join(c.upper() if len(c.upper()) == 1 else c for c in ctx.wstr(s)))
    return s


@soft_api(U32)
def CharLowerW(ctx: Ctx, s: int) -> int:
    if s < 0x10000:
        return ord(chr(s).lower()[0]) if len(chr(s).lower()) == 1 else s
    ctx.write_wstr(s, "".join(c.lower() if len(c.lower()) == 1 else c for c in ctx.wstr(s)))
    return s
