"""msvcrt.dll (and ucrtbase through the search order): memory, strings, formatting, CRT startup."""

from __future__ import annotations

from emulator.loaders.pe.winapi import ACP, ApiFault, Ctx, api, data, guest_code
from emulator.loaders.pe.winapi.fmt import format_printf

CRT = "msvcrt.dll"
CRT_HEAP = 0x00A70000  # heap tag of malloc'd blocks
_FILE_SIZE = {32: 32, 64: 48}
_STD_NAMES = ("stdin", "stdout", "stderr")


def _dw(v: int) -> int:
    return v & 0xFFFFFFFF


def _size(ctx: Ctx, v: int) -> int:
    return v & ((1 << ctx.bits) - 1)


# --- allocation ------------------------------------------------------------------------------
@api(CRT, conv="cdecl")
def malloc(ctx: Ctx, size: int) -> int:
    return ctx.alloc(_size(ctx, size), heap=CRT_HEAP, zero=False)


@api(CRT, conv="cdecl")
def calloc(ctx: Ctx, count: int, size: int) -> int:
    return ctx.alloc(_size(ctx, count) * _size(ctx, size), heap=CRT_HEAP, zero=True)


@api(CRT, conv="cdecl")
def realloc(ctx: Ctx, ptr: int, size: int) -> int:
    if ptr == 0:
        return malloc(ctx, size)
    if size == 0:
        free(ctx, ptr)
        return 0
    if ctx.heap.size(ptr) is None:
        raise ApiFault("crash", f"realloc of 0x{ptr:x}, which is not a live heap block")
    return ctx.heap.realloc(ptr, _size(ctx, size), heap=CRT_HEAP, site=ctx.caller, api=ctx.api)


@api(CRT, conv="cdecl")
def free(ctx: Ctx, ptr: int) -> int:
    if ptr and not ctx.heap.free(ptr):
        raise ApiFault("crash", *ctx.heap.bad_free("free", ptr))
    return 0


@api(CRT, conv="cdecl")
def _msize(ctx: Ctx, ptr: int) -> int:
    s = ctx.heap.size(ptr)
    return (1 << ctx.bits) - 1 if s is None else s


@api(CRT, conv="cdecl")
def _strdup(ctx: Ctx, s: int) -> int:
    raw = ctx.mem.cstr(s) + b"\0"
    p = ctx.alloc(len(raw), heap=CRT_HEAP, zero=False)
    if p:
        ctx.mem.write(p, raw)
    return p


@api(CRT, conv="cdecl")
def _wcsdup(ctx: Ctx, s: int) -> int:
    raw = ctx.mem.wstr_bytes(s) + b"\0\0"
    p = ctx.alloc(len(raw), heap=CRT_HEAP, zero=False)
    if p:
        ctx.mem.write(p, raw)
    return p


# --- memory ----------------------------------------------------------------------------------
@api(CRT, conv="cdecl")
def memcpy(ctx: Ctx, dst: int, src: int, n: int) -> int:
    n = _size(ctx, n)
    if n:
        ctx.mem.write(dst, ctx.mem.read(src, n))
    return dst


@api(CRT, conv="cdecl")
def memmove(ctx: Ctx, dst: int, src: int, n: int) -> int:
    return memcpy(ctx, dst, src, n)


@api(CRT, conv="cdecl")
def memset(ctx: Ctx, dst: int, c: int, n: int) -> int:
    n = _size(ctx, n)
    if n:
        ctx.mem.fill(dst, n, c & 0xFF)
    return dst


@api(CRT, conv="cdecl")
def memcmp(ctx: Ctx, a: int, b: int, n: int) -> int:
    n = _size(ctx, n)
    x, y = ctx.mem.read(a, n), ctx.mem.read(b, n)
    for i in range(n):
        if x[i] != y[i]:
            return _dw(x[i] - y[i])
    return 0


@api(CRT, conv="cdecl")
def memchr(ctx: Ctx, s: int, c: int, n: int) -> int:
    i = ctx.mem.read(s, _size(ctx, n)).find(bytes([c & 0xFF]))
    return 0 if i < 0 else s + i


# --- narrow strings ----------------------------------------------------------------------------
@api(CRT, conv="cdecl")
def strlen(ctx: Ctx, s: int) -> int:
    return len(ctx.mem.cstr(s))


@api(CRT, conv="cdecl")
def strnlen(ctx: Ctx, s: int, n: int) -> int:
    return len(ctx.mem.cstr(s, _size(ctx, n)))


def _sign(v: int) -> int:
    return _dw((v > 0) - (v < 0))


def _bcmp(a: bytes, b: bytes) -> int:
    for x, y in zip(a, b, strict=False):
        if x != y:
            return _dw(x - y)
    return _dw(len(a) - len(b)) if len(a) != len(b) else 0


@api(CRT, conv="cdecl")
def strcmp(ctx: Ctx, a: int, b: int) -> int:
    return _bcmp(ctx.mem.cstr(a), ctx.mem.cstr(b))


@api(CRT, conv="cdecl")
def strncmp(ctx: Ctx, a: int, b: int, n: int) -> int:
    n = _size(ctx, n)
    return _bcmp(ctx.mem.cstr(a, n)[:n], ctx.mem.cstr(b, n)[:n])


@api(CRT, conv="cdecl")
def _stricmp(ctx: Ctx, a: int, b: int) -> int:
    return _bcmp(ctx.mem.cstr(a).lower(), ctx.mem.cstr(b).lower())


@api(CRT, conv="cdecl")
def _strnicmp(ctx: Ctx, a: int, b: int, n: int) -> int:
    n = _size(ctx, n)
    return _bcmp(ctx.mem.cstr(a, n)[:n].lower(), ctx.mem.cstr(b, n)[:n].lower())


@api(CRT, conv="cdecl")
def strcpy(ctx: Ctx, dst: int, src: int) -> int:
    ctx.mem.write(dst, ctx.mem.cstr(src) + b"\0")
    return dst


@api(CRT, conv="cdecl")
def strncpy(ctx: Ctx, dst: int, src: int, n: int) -> int:
    n = _size(ctx, n)
    raw = ctx.mem.cstr(src, n)[:n]
    ctx.mem.write(dst, raw + bytes(n - len(raw)))
    return dst


@api(CRT, conv="cdecl")
def strcat(ctx: Ctx, dst: int, src: int) -> int:
    ctx.mem.write(dst + len(ctx.mem.cstr(dst)), ctx.mem.cstr(src) + b"\0")
    return dst


@api(CRT, conv="cdecl")
def strchr(ctx: Ctx, s: int, c: int) -> int:
    raw = ctx.mem.cstr(s) + b"\0"
    i = raw.find(bytes([c & 0xFF]))
    return 0 if i < 0 else s + i


@api(CRT, conv="cdecl")
def strrchr(ctx: Ctx, s: int, c: int) -> int:
    raw = ctx.mem.cstr(s) + b"\0"
    i = raw.rfind(bytes([c & 0xFF]))
    return 0 if i < 0 else s + i


@api(CRT, conv="cdecl")
def strstr(ctx: Ctx, s: int, sub: int) -> int:
    i = ctx.mem.cstr(s).find(ctx.mem.cstr(sub))
    return 0 if i < 0 else s + i


def _atol(text: str) -> int:
    t = text.lstrip(" \t\n\r\v\f")
    sign = 1
    if t[:1] in "+-" and t:
        sign = -1 if t[0] == "-" else 1
        t = t[1:]
    digits = ""
    for ch in t:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


@api(CRT, conv="cdecl")
def atoi(ctx: Ctx, s: int) -> int:
    return _dw(max(-(1 << 31), min((1 << 31) - 1, _atol(ctx.cstr(s)))))


@api(CRT, conv="cdecl")
def atol(ctx: Ctx, s: int) -> int:
    return atoi(ctx, s)


@api(CRT, conv="cdecl")
def _wtoi(ctx: Ctx, s: int) -> int:
    return _dw(max(-(1 << 31), min((1 << 31) - 1, _atol(ctx.wstr(s)))))


def _strtol(ctx: Ctx, text: str, start: int, end: int, base: int, width: int, signed: bool) -> int:
    t = text.lstrip(" \t\n\r\v\f")
    i = len(text) - len(t)
    neg = False
    if t[:1] in ("+", "-") and t:
        neg = t[0] == "-"
        t = t[1:]
        i += 1
    base = Ctx.s32(base)
    if base in (0, 16) and t[:2].lower() == "0x":
        t = t[2:]
        i += 2
        base = 16
    elif base == 0:
        base = 8 if t[:1] == "0" else 10
    n = 0
    used = 0
    for ch in t:
        d = int(ch, 36) if ch.isalnum() and ch.isascii() else 99
        if d >= base:
            break
        n = n * base + d
        used += 1
    if end:
        ctx.write_ptr(end, start + (i + used if used else 0) * width)
    if neg:
        n = -n
    # strtol clamps to LONG_MIN..LONG_MAX; strtoul to ULONG_MAX (negative values wrap)
    lo, hi = (-(1 << 31), (1 << 31) - 1) if signed else (-(1 << 32), 0xFFFFFFFF)
    return _dw(max(lo, min(hi, n)))


@api(CRT, conv="cdecl")
def strtol(ctx: Ctx, s: int, end: int, base: int) -> int:
    return _strtol(ctx, ctx.cstr(s), s, end, base, 1, True)


@api(CRT, conv="cdecl")
def strtoul(ctx: Ctx, s: int, end: int, base: int) -> int:
    return _strtol(ctx, ctx.cstr(s), s, end, base, 1, False)


@api(CRT, conv="cdecl")
def wcstol(ctx: Ctx, s: int, end: int, base: int) -> int:
    return _strtol(ctx, ctx.wstr(s), s, end, base, 2, True)


@api(CRT, conv="cdecl")
def wcstoul(ctx: Ctx, s: int, end: int, base: int) -> int:
    return _strtol(ctx, ctx.wstr(s), s, end, base, 2, False)


@api(CRT, conv="cdecl")
def tolower(ctx: Ctx, c: int) -> int:
    c = _dw(c)
    return c + 32 if 65 <= c <= 90 else c


@api(CRT, conv="cdecl")
def toupper(ctx: Ctx, c: int) -> int:
    c = _dw(c)
    return c - 32 if 97 <= c <= 122 else c


@api(CRT, conv="cdecl")
def towlower(ctx: Ctx, c: int) -> int:
    return ord(chr(c & 0xFFFF).lower()[0]) if (c & 0xFFFF) else 0


@api(CRT, conv="cdecl")
def towupper(ctx: Ctx, c: int) -> int:
    return ord(chr(c & 0xFFFF).upper()[0]) if (c & 0xFFFF) else 0


@api(CRT, conv="cdecl")
def isdigit(ctx: Ctx, c: int) -> int:
    return int(48 <= _dw(c) <= 57)


@api(CRT, conv="cdecl")
def isspace(ctx: Ctx, c: int) -> int:
    return int(_dw(c) in (9, 10, 11, 12, 13, 32))


@api(CRT, conv="cdecl")
def isalpha(ctx: Ctx, c: int) -> int:
    c = _dw(c)
    return int(65 <= c <= 90 or 97 <= c <= 122)


@api(CRT, conv="cdecl")
def iswspace(ctx: Ctx, c: int) -> int:
    return int(chr(c & 0xFFFF).isspace())


# --- wide strings ----------------------------------------------------------------------------
def _wcmp(a: str, b: str) -> int:
    for x, y in zip(a, b, strict=False):
        if x != y:
            return _dw(ord(x) - ord(y))
    return _dw(len(a) - len(b)) if len(a) != len(b) else 0


def _wlower(s: str) -> str:
    # msvcrt's C-locale towlower only folds A-Z
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


@api(CRT, conv="cdecl")
def wcslen(ctx: Ctx, s: int) -> int:
    return len(ctx.mem.wstr_bytes(s)) // 2


@api(CRT, conv="cdecl")
def wcsnlen(ctx: Ctx, s: int, n: int) -> int:
    return min(len(ctx.mem.wstr_bytes(s, _size(ctx, n))) // 2, _size(ctx, n))


@api(CRT, conv="cdecl")
def wcscmp(ctx: Ctx, a: int, b: int) -> int:
    return _wcmp(ctx.wstr(a), ctx.wstr(b))


@api(CRT, conv="cdecl")
def wcsncmp(ctx: Ctx, a: int, b: int, n: int) -> int:
    n = _size(ctx, n)
    return _wcmp(ctx.wstr(a, n)[:n], ctx.wstr(b, n)[:n])


@api(CRT, conv="cdecl")
def _wcsicmp(ctx: Ctx, a: int, b: int) -> int:
    return _wcmp(_wlower(ctx.wstr(a)), _wlower(ctx.wstr(b)))


@api(CRT, conv="cdecl")
def _wcsnicmp(ctx: Ctx, a: int, b: int, n: int) -> int:
    n = _size(ctx, n)
    return _wcmp(_wlower(ctx.wstr(a, n)[:n]), _wlower(ctx.wstr(b, n)[:n]))


@api(CRT, conv="cdecl")
def wcscpy(ctx: Ctx, dst: int, src: int) -> int:
    ctx.mem.write(dst, ctx.mem.wstr_bytes(src) + b"\0\0")
    return dst


@api(CRT, conv="cdecl")
def wcsncpy(ctx: Ctx, dst: int, src: int, n: int) -> int:
    n = _size(ctx, n)
    raw = ctx.mem.wstr_bytes(src, n)[: 2 * n]
    ctx.mem.write(dst, raw + bytes(2 * n - len(raw)))
    return dst


@api(CRT, conv="cdecl")
def wcscat(ctx: Ctx, dst: int, src: int) -> int:
    ctx.mem.write(dst + len(ctx.mem.wstr_bytes(dst)), ctx.mem.wstr_bytes(src) + b"\0\0")
    return dst


@api(CRT, conv="cdecl")
def wcschr(ctx: Ctx, s: int, c: int) -> int:
    text = ctx.wstr(s) + "\0"
    i = text.find(chr(c & 0xFFFF))
    return 0 if i < 0 else s + 2 * i


@api(CRT, conv="cdecl")
def wcsrchr(ctx: Ctx, s: int, c: int) -> int:
    text = ctx.wstr(s) + "\0"
    i = text.rfind(chr(c & 0xFFFF))
    return 0 if i < 0 else s + 2 * i


@api(CRT, conv="cdecl")
def wcsstr(ctx: Ctx, s: int, sub: int) -> int:
    i = ctx.wstr(s).find(ctx.wstr(sub))
    return 0 if i < 0 else s + 2 * i


def _secure_copy(ctx: Ctx, dst: int, size: int, raw: bytes, unit: int) -> int:
    size = _size(ctx, size)
    if dst == 0 or size == 0:
        return 22  # EINVAL
    if len(raw) // unit + 1 > size:
        ctx.mem.write(dst, b"\0" * unit)
        return 34  # ERANGE
    ctx.mem.write(dst, raw + b"\0" * unit)
    return 0


@api(CRT, conv="cdecl")
def wcscpy_s(ctx: Ctx, dst: int, size: int, src: int) -> int:
    return _secure_copy(ctx, dst, size, ctx.mem.wstr_bytes(src), 2)


@api(CRT, conv="cdecl")
def strcpy_s(ctx: Ctx, dst: int, size: int, src: int) -> int:
    return _secure_copy(ctx, dst, size, ctx.mem.cstr(src), 1)


@api(CRT, conv="cdecl")
def wcsncpy_s(ctx: Ctx, dst: int, size: int, src: int, n: int) -> int:
    n = _size(ctx, n)
    raw = (
        ctx.mem.wstr_bytes(src, n)[: 2 * n] if n != (1 << ctx.bits) - 1 else ctx.mem.wstr_bytes(src)
    )
    return _secure_copy(ctx, dst, size, raw, 2)


@api(CRT, conv="cdecl")
def wcscat_s(ctx: Ctx, dst: int, size: int, src: int) -> int:
    cur = ctx.mem.wstr_bytes(dst)
    return _secure_copy(ctx, dst, size, cur + ctx.mem.wstr_bytes(src), 2)


# --- formatting ------------------------------------------------------------------------------
def _emit(ctx: Ctx, buf: int, count: int | None, text: str, wide: bool, c99: bool) -> int:
    """Store formatted ``text`` with _snprintf (-1 on truncation) or C99 vsnprintf semantics."""
    raw = text.encode("utf-16-le", "surrogatepass") if wide else text.encode(ACP, "replace")
    unit = 2 if wide else 1
    n = len(raw) // unit
    if count is None:  # unbounded sprintf/swprintf
        ctx.mem.write(buf, raw + b"\0" * unit)
        return n
    if c99:
        if count > 0:
            keep = min(n, count - 1)
            ctx.mem.write(buf, raw[: keep * unit] + b"\0" * unit)
        return n
    if n < count:
        ctx.mem.write(buf, raw + b"\0" * unit)
        return n
    if n == count:
        ctx.mem.write(buf, raw)
        return n
    ctx.mem.write(buf, raw[: count * unit])
    return 0xFFFFFFFF  # -1


def _fmt_w(ctx: Ctx, fmt: int, first: int) -> str:
    return format_printf(ctx, ctx.wstr(fmt), ctx.varargs(first), wide=True)


def _fmt_a(ctx: Ctx, fmt: int, first: int) -> str:
    return format_printf(ctx, ctx.cstr(fmt), ctx.varargs(first), wide=False)


@api(CRT, conv="cdecl", varargs=True)
def _snwprintf(ctx: Ctx, buf: int, count: int, fmt: int) -> int:
    return _emit(ctx, buf, _size(ctx, count), _fmt_w(ctx, fmt, 3), True, False)


@api(CRT, conv="cdecl", varargs=True)
def _snprintf(ctx: Ctx, buf: int, count: int, fmt: int) -> int:
    return _emit(ctx, buf, _size(ctx, count), _fmt_a(ctx, fmt, 3), False, False)


@api(CRT, conv="cdecl", varargs=True)
def snprintf(ctx: Ctx, buf: int, count: int, fmt: int) -> int:
    return _emit(ctx, buf, _size(ctx, count), _fmt_a(ctx, fmt, 3), False, True)


@api(CRT, conv="cdecl", varargs=True)
def swprintf(ctx: Ctx, buf: int, fmt: int) -> int:
    # msvcrt.dll's legacy swprintf has no count parameter
    return _emit(ctx, buf, None, _fmt_w(ctx, fmt, 2), True, False)


@api(CRT, conv="cdecl", varargs=True)
def sprintf(ctx: Ctx, buf: int, fmt: int) -> int:
    return _emit(ctx, buf, None, _fmt_a(ctx, fmt, 2), False, False)


@api(CRT, conv="cdecl", varargs=True)
def swprintf_s(ctx: Ctx, buf: int, count: int, fmt: int) -> int:
    return _emit(ctx, buf, _size(ctx, count), _fmt_w(ctx, fmt, 3), True, True)


@api(CRT, conv="cdecl", varargs=True)
def sprintf_s(ctx: Ctx, buf: int, count: int, fmt: int) -> int:
    return _emit(ctx, buf, _size(ctx, count), _fmt_a(ctx, fmt, 3), False, True)


@api(CRT, conv="cdecl")
def _vsnwprintf(ctx: Ctx, buf: int, count: int, fmt: int, va: int) -> int:
    text = format_printf(ctx, ctx.wstr(fmt), ctx.va_list(va), wide=True)
    return _emit(ctx, buf, _size(ctx, count), text, True, False)


@api(CRT, conv="cdecl")
def _vsnprintf(ctx: Ctx, buf: int, count: int, fmt: int, va: int) -> int:
    text = format_printf(ctx, ctx.cstr(fmt), ctx.va_list(va), wide=False)
    return _emit(ctx, buf, _size(ctx, count), text, False, False)


@api(CRT, conv="cdecl")
def vsnprintf(ctx: Ctx, buf: int, count: int, fmt: int, va: int) -> int:
    text = format_printf(ctx, ctx.cstr(fmt), ctx.va_list(va), wide=False)
    return _emit(ctx, buf, _size(ctx, count), text, False, True)


@api(CRT, conv="cdecl")
def vswprintf(ctx: Ctx, buf: int, fmt: int, va: int) -> int:
    text = format_printf(ctx, ctx.wstr(fmt), ctx.va_list(va), wide=True)
    return _emit(ctx, buf, None, text, True, False)


@api(CRT, conv="cdecl")
def vsprintf(ctx: Ctx, buf: int, fmt: int, va: int) -> int:
    text = format_printf(ctx, ctx.cstr(fmt), ctx.va_list(va), wide=False)
    return _emit(ctx, buf, None, text, False, False)


# ucrt: __stdio_common_vs[w]printf(options, buffer, count, format, locale, va_list)
_UCRT_STANDARD_SNPRINTF = 0x2  # return the untruncated length (C99 snprintf)
_UCRT_LEGACY_WIDE = 0x4  # %s/%c in wide formats take wide arguments (Microsoft's tradition)


@api("ucrtbase.dll", conv="cdecl", wide_args=(0,))  # options is unsigned __int64
def __stdio_common_vswprintf(
    ctx: Ctx, options: int, buf: int, count: int, fmt: int, locale: int, va: int
) -> int:
    # without _CRT_INTERNAL_PRINTF_LEGACY_WIDE_SPECIFIERS (4), %s in a wide format is narrow (ISO)
    text = format_printf(
        ctx, ctx.wstr(fmt), ctx.va_list(va), wide=bool(options & _UCRT_LEGACY_WIDE)
    )
    if buf == 0:
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    n = _emit(ctx, buf, _size(ctx, count), text, True, True)
    if options & _UCRT_STANDARD_SNPRINTF:
        return n
    return n if n < _size(ctx, count) else 0xFFFFFFFF


@api("ucrtbase.dll", conv="cdecl", wide_args=(0,))  # options is unsigned __int64
def __stdio_common_vsprintf(
    ctx: Ctx, options: int, buf: int, count: int, fmt: int, locale: int, va: int
) -> int:
    text = format_printf(ctx, ctx.cstr(fmt), ctx.va_list(va), wide=False)
    if buf == 0:
        return len(text.encode(ACP, "replace"))
    n = _emit(ctx, buf, _size(ctx, count), text, False, True)
    if options & _UCRT_STANDARD_SNPRINTF:
        return n
    return n if n < _size(ctx, count) else 0xFFFFFFFF


# --- stdio: everything written goes to the debug log -----------------------------------------
def _stream_name(ctx: Ctx, stream: int) -> str:
    base: int = ctx.proc.extra.get("iob", 0)
    size = _FILE_SIZE[ctx.bits]
    if base and base <= stream < base + 3 * size:
        return _STD_NAMES[(stream - base) // size]
    return f"FILE@0x{stream:x}"


def _write_stream(ctx: Ctx, stream: int, text: str) -> None:
    ctx.log(f"[{_stream_name(ctx, stream)}] {text}")


@data(CRT, "_iob", size32=3 * 32, size64=3 * 48)
def _iob(ctx: Ctx, addr: int) -> None:
    ctx.proc.extra["iob"] = addr


@api(CRT, conv="cdecl")
def __iob_func(ctx: Ctx) -> int:
    iob: int = ctx.proc.extra.get("iob", 0)
    if not iob:
        iob = ctx.heap.alloc(3 * _FILE_SIZE[ctx.bits], heap=CRT_HEAP, site=0, api="_iob")
        ctx.proc.extra["iob"] = iob
    return iob


@api("ucrtbase.dll", conv="cdecl")
def __acrt_iob_func(ctx: Ctx, index: int) -> int:
    return int(__iob_func(ctx)) + _dw(index) * _FILE_SIZE[ctx.bits]


@api(CRT, conv="cdecl")
def fwrite(ctx: Ctx, buf: int, size: int, count: int, stream: int) -> int:
    n = _size(ctx, size) * _size(ctx, count)
    _write_stream(ctx, stream, ctx.mem.read(buf, n).decode(ACP, "replace"))
    return _size(ctx, count)


@api(CRT, conv="cdecl")
def fputs(ctx: Ctx, s: int, stream: int) -> int:
    _write_stream(ctx, stream, ctx.cstr(s))
    return 0


@api(CRT, conv="cdecl")
def fputws(ctx: Ctx, s: int, stream: int) -> int:
    _write_stream(ctx, stream, ctx.wstr(s))
    return 0


@api(CRT, conv="cdecl")
def fputc(ctx: Ctx, c: int, stream: int) -> int:
    _write_stream(ctx, stream, chr(c & 0xFF))
    return c & 0xFF


@api(CRT, conv="cdecl")
def fflush(ctx: Ctx, stream: int) -> int:
    return 0


@api(CRT, conv="cdecl")
def puts(ctx: Ctx, s: int) -> int:
    ctx.log(f"[stdout] {ctx.cstr(s)}")
    return 0


@api(CRT, conv="cdecl", varargs=True)
def fprintf(ctx: Ctx, stream: int, fmt: int) -> int:
    text = _fmt_a(ctx, fmt, 2)
    _write_stream(ctx, stream, text)
    return len(text)


@api(CRT, conv="cdecl", varargs=True)
def fwprintf(ctx: Ctx, stream: int, fmt: int) -> int:
    text = _fmt_w(ctx, fmt, 2)
    _write_stream(ctx, stream, text)
    return len(text)


@api(CRT, conv="cdecl", varargs=True)
def printf(ctx: Ctx, fmt: int) -> int:
    text = _fmt_a(ctx, fmt, 1)
    ctx.log(f"[stdout] {text}")
    return len(text)


@api(CRT, conv="cdecl", varargs=True)
def wprintf(ctx: Ctx, fmt: int) -> int:
    text = _fmt_w(ctx, fmt, 1)
    ctx.log(f"[stdout] {text}")
    return len(text)


@api(CRT, conv="cdecl")
def vfprintf(ctx: Ctx, stream: int, fmt: int, va: int) -> int:
    text = format_printf(ctx, ctx.cstr(fmt), ctx.va_list(va), wide=False)
    _write_stream(ctx, stream, text)
    return len(text)


@api(CRT, conv="cdecl")
def vfwprintf(ctx: Ctx, stream: int, fmt: int, va: int) -> int:
    text = format_printf(ctx, ctx.wstr(fmt), ctx.va_list(va), wide=True)
    _write_stream(ctx, stream, text)
    return len(text)


# --- CRT startup / shutdown ------------------------------------------------------------------
@api(CRT, conv="cdecl")
def _lock(ctx: Ctx, n: int) -> int:
    return 0


@api(CRT, conv="cdecl")
def _unlock(ctx: Ctx, n: int) -> int:
    return 0


# _initterm(begin, end) / _initterm_e(begin, end) call guest function pointers: guest code.
# Assembled once with mingw `as` from a 10-instruction loop (see the module docstring of winapi).
guest_code(
    CRT,
    "_initterm",
    argc=2,
    x86=bytes.fromhex("56578b74240c8b7c241039fe730d8b0685c07402ffd083c604ebef31c05f5ec3"),
    x64=bytes.fromhex(
        "56574883ec284889ce4889d74839fe7310488b064885c07402ffd04883c608ebeb31c04883c4285f5ec3"
    ),
)
guest_code(
    CRT,
    "_initterm_e",
    argc=2,
    x86=bytes.fromhex("56578b74240c8b7c241039fe73118b0685c07406ffd085c0750783c604ebeb31c05f5ec3"),
    x64=bytes.fromhex(
        "56574883ec284889ce4889d74839fe7314488b064885c07406ffd085c075084883c608ebe731c04883c4285f5ec3"
    ),
)


@api(CRT, conv="cdecl")
def _amsg_exit(ctx: Ctx, code: int) -> int:
    raise ApiFault("crash", f"the DLL's C runtime gave up: _amsg_exit({_dw(code)})")


@api(CRT, conv="cdecl")
def abort(ctx: Ctx) -> int:
    raise ApiFault("crash", "the DLL called abort()")


@api(CRT, conv="cdecl")
def exit(ctx: Ctx, code: int) -> int:
    raise ApiFault("crash", f"the DLL called exit({Ctx.s32(code)})")


@api(CRT, conv="cdecl")
def _exit(ctx: Ctx, code: int) -> int:
    raise ApiFault("crash", f"the DLL called _exit({Ctx.s32(code)})")


@api(CRT, conv="cdecl")
def _onexit(ctx: Ctx, fn: int) -> int:
    ctx.proc.onexit.append(fn)
    return fn


@api(CRT, conv="cdecl")
def atexit(ctx: Ctx, fn: int) -> int:
    ctx.proc.onexit.append(fn)
    return 0


@api(CRT, conv="cdecl")
def __dllonexit(ctx: Ctx, fn: int, pbegin: int, pend: int) -> int:
    """Append ``fn`` to the DLL's own onexit table (``*pbegin``..``*pend``), growing it on the heap."""
    ps = ctx.ptr_size
    begin = ctx.ptr(pbegin)
    end = ctx.ptr(pend)
    used = (end - begin) if begin else 0
    size = ctx.heap.size(begin) if begin else None
    if begin == 0 or size is None or used + ps > size:
        new = ctx.heap.alloc(
            max(32 * ps, 2 * (used + ps)), heap=CRT_HEAP, site=ctx.caller, api=ctx.api
        )
        if not new:
            return 0
        if used:
            ctx.mem.write(new, ctx.mem.read(begin, used))
        if begin and size is not None:
            ctx.heap.free(begin)
        begin = new
    ctx.write_ptr(begin + used, fn)
    ctx.write_ptr(pbegin, begin)
    ctx.write_ptr(pend, begin + used + ps)
    return fn


@api(CRT, conv="cdecl")
def _cexit(ctx: Ctx) -> int:
    return 0


@api(CRT, conv="cdecl")
def signal(ctx: Ctx, sig: int, handler: int) -> int:
    return 0


@api(CRT, conv="cdecl")
def _errno(ctx: Ctx) -> int:
    cell: int = ctx.proc.extra.get("errno", 0)
    if not cell:
        cell = ctx.heap.alloc(4, heap=CRT_HEAP, site=0, api="errno")
        ctx.proc.extra["errno"] = cell
    return cell


@api(CRT, conv="cdecl")
def _set_invalid_parameter_handler(ctx: Ctx, handler: int) -> int:
    old: int = ctx.proc.extra.get("invalid_parameter_handler", 0)
    ctx.proc.extra["invalid_parameter_handler"] = handler
    return old


@api(CRT, conv="cdecl")
def _invalid_parameter_noinfo(ctx: Ctx) -> int:
    raise ApiFault(
        "crash", "the C runtime detected an invalid parameter (_invalid_parameter_noinfo)"
    )


@api(CRT, conv="cdecl")
def _invoke_watson(ctx: Ctx, e: int, f: int, file: int, line: int, r: int) -> int:
    raise ApiFault("crash", "the C runtime detected an invalid parameter (_invoke_watson)")


# ucrt onexit tables: struct { PVFV* first; PVFV* last; PVFV* end; }
@api("ucrtbase.dll", conv="cdecl")
def _initialize_onexit_table(ctx: Ctx, table: int) -> int:
    ps = ctx.ptr_size
    if table:
        ctx.mem.fill(table, 3 * ps)
    return 0


@api("ucrtbase.dll", conv="cdecl")
def _register_onexit_function(ctx: Ctx, table: int, fn: int) -> int:
    ps = ctx.ptr_size
    first, last, end = ctx.ptr(table), ctx.ptr(table + ps), ctx.ptr(table + 2 * ps)
    if last == end:
        used = last - first
        new = ctx.heap.alloc(max(32 * ps, 2 * used), heap=CRT_HEAP, site=ctx.caller, api=ctx.api)
        if not new:
            return 0xFFFFFFFF
        if used:
            ctx.mem.write(new, ctx.mem.read(first, used))
            ctx.heap.free(first)
        first, last, end = new, new + used, new + max(32 * ps, 2 * used)
    ctx.write_ptr(last, fn)
    ctx.write_ptr(table, first)
    ctx.write_ptr(table + ps, last + ps)
    ctx.write_ptr(table + 2 * ps, end)
    return 0


@api("ucrtbase.dll", conv="cdecl")
def _execute_onexit_table(ctx: Ctx, table: int) -> int:
    # the functions are queued and run by the loader at unload (a handler cannot call guest code)
    ps = ctx.ptr_size
    first, last = ctx.ptr(table), ctx.ptr(table + ps)
    p = last - ps
    while first and p >= first:
        fn = ctx.ptr(p)
        if fn:
            ctx.proc.onexit.insert(0, fn)
        p -= ps
    if first:
        ctx.heap.free(first)
    ctx.mem.fill(table, 3 * ps)
    return 0


@api("ucrtbase.dll", conv="cdecl")
def _seh_filter_dll(ctx: Ctx, code: int, info: int) -> int:
    return 0  # EXCEPTION_CONTINUE_SEARCH


@api("ucrtbase.dll", conv="cdecl")
def _configure_narrow_argv(ctx: Ctx, mode: int) -> int:
    return 0


@api("ucrtbase.dll", conv="cdecl")
def _initialize_narrow_environment(ctx: Ctx) -> int:
    return 0


@api("ucrtbase.dll", conv="cdecl")
def _crt_atexit(ctx: Ctx, fn: int) -> int:
    ctx.proc.onexit.append(fn)
    return 0


@api("vcruntime140.dll", conv="cdecl")
def __std_type_info_destroy_list(ctx: Ctx, head: int) -> int:
    return 0


@api("vcruntime140.dll", conv="cdecl")
def __C_specific_handler(ctx: Ctx, rec: int, frame: int, context: int, dispatch: int) -> int:
    return 1  # ExceptionContinueSearch


@api("vcruntime140.dll", conv="cdecl")
def _except_handler4_common(
    ctx: Ctx, a: int, b: int, rec: int, frame: int, context: int, d: int
) -> int:
    return 1


@api("vcruntime140.dll", conv="cdecl")
def __vcrt_InitializeCriticalSectionEx(ctx: Ctx, cs: int, spin: int, flags: int) -> int:
    from emulator.loaders.pe.winapi.kernel32 import InitializeCriticalSection

    InitializeCriticalSection(ctx, cs)
    return 1
