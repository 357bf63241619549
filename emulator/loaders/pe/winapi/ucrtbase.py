"""ucrtbase.dll (the Universal CRT behind the ``api-ms-win-crt-*`` sets of MSVC /MD builds).

Only what the core msvcrt module does not already provide (imports from the api sets fall back
to msvcrt's malloc/str*/wcs*/printf): aligned allocation, the secure ``*_s`` printf and string
functions, stdio to the debug log, startup/argv/environment plumbing, errno helpers, qsort and
bsearch (guest code calling the DLL's comparator), strerror, terminate/invalid-parameter faults.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from emulator.loaders.pe.winapi import ACP, REGISTRY, ApiFault, ApiSpec, Ctx, _norm_dll, _register
from emulator.loaders.pe.winapi.env import soft_api
from emulator.loaders.pe.winapi.fmt import format_printf

UCRT = "ucrtbase.dll"
CRT_HEAP = 0x00A70000

EINVAL = 22
ERANGE = 34
STRUNCATE = 80
_TRUNCATE = -1


def _dw(v: int) -> int:
    return v & 0xFFFFFFFF


def _size(ctx: Ctx, v: int) -> int:
    return v & ((1 << ctx.bits) - 1)


def _ssize(ctx: Ctx, v: int) -> int:
    v = _size(ctx, v)
    return v - (1 << ctx.bits) if v >> (ctx.bits - 1) else v


def _soft_guest(dll: str, name: str, *, x86: bytes, x64: bytes, argc: int) -> None:
    if (_norm_dll(dll), name) not in REGISTRY:
        _register(
            ApiSpec(_norm_dll(dll), name, "guest", argc=argc, conv="cdecl", code32=x86, code64=x64)
        )


def _cell(ctx: Ctx, key: str, size: int, init: bytes = b"") -> int:
    """A process-lifetime CRT variable (allocated once, never reported as a leak)."""
    cell: int = ctx.proc.extra.get(key, 0)
    if not cell:
        cell = ctx.heap.alloc(max(size, 16), heap=CRT_HEAP, site=0, api=key)
        if init:
            ctx.mem.write(cell, init)
        ctx.proc.extra[key] = cell
    return cell


def _set_errno(ctx: Ctx, value: int) -> None:
    ctx.mem.w32(_cell(ctx, "errno", 4), value)


# --- heap ------------------------------------------------------------------------------------------
@soft_api(UCRT, conv="cdecl")
def _aligned_malloc(ctx: Ctx, size: int, align: int) -> int:
    size, align = _size(ctx, size), _size(ctx, align)
    if align == 0 or align & (align - 1):
        _set_errno(ctx, EINVAL)
        raise ApiFault(
            "crash", f"_aligned_malloc: alignment {align} is not a power of two (invalid parameter)"
        )
    if align <= 16:
        return ctx.alloc(size, heap=CRT_HEAP, zero=False)
    raw = ctx.alloc(size + align, heap=CRT_HEAP, zero=False)
    if not raw:
        _set_errno(ctx, 12)
        return 0
    p = (raw + align - 1) & ~(align - 1)
    if p == raw:
        return raw
    ctx.proc.extra.setdefault("aligned", {})[p] = raw
    return p


@soft_api(UCRT, conv="cdecl")
def _aligned_free(ctx: Ctx, p: int) -> int:
    if not p:
        return 0
    raw = ctx.proc.extra.setdefault("aligned", {}).pop(p, p)
    if not ctx.heap.free(raw):
        raise ApiFault(
            "crash", f"_aligned_free of 0x{p:x}, which is not a live aligned block (double free?)"
        )
    return 0


@soft_api(UCRT, conv="cdecl")
def _aligned_realloc(ctx: Ctx, p: int, size: int, align: int) -> int:
    if not p:
        return _aligned_malloc(ctx, size, align)
    if not _size(ctx, size):
        _aligned_free(ctx, p)
        return 0
    raw = ctx.proc.extra.setdefault("aligned", {}).get(p, p)
    old = ctx.heap.size(raw)
    if old is None:
        raise ApiFault("crash", f"_aligned_realloc of 0x{p:x}, which is not a live aligned block")
    new = _aligned_malloc(ctx, size, align)
    if new:
        ctx.mem.write(new, ctx.mem.read(p, min(old - (p - raw), _size(ctx, size))))
        _aligned_free(ctx, p)
    return new


for _base, _name in (
    ("malloc", "_malloc_base"),
    ("calloc", "_calloc_base"),
    ("free", "_free_base"),
    ("realloc", "_realloc_base"),
    ("_msize", "_msize_base"),
):
    _spec = REGISTRY.get(("msvcrt.dll", _base))
    if _spec is not None and (UCRT, _name) not in REGISTRY:
        _register(
            ApiSpec(UCRT, _name, "python", argc=_spec.argc, conv="cdecl", handler=_spec.handler)
        )


@soft_api(UCRT, conv="cdecl")
def _callnewh(ctx: Ctx, size: int) -> int:
    return 0  # no new-handler installed: operator new then reports failure


@soft_api(UCRT, conv="cdecl")
def _set_new_mode(ctx: Ctx, mode: int) -> int:
    old: int = ctx.proc.extra.get("new_mode", 0)
    ctx.proc.extra["new_mode"] = _dw(mode)
    return old


@soft_api(UCRT, conv="cdecl")
def _query_new_mode(ctx: Ctx) -> int:
    return int(ctx.proc.extra.get("new_mode", 0))


# --- printf family (secure and stream variants) ----------------------------------------------------
def _store(ctx: Ctx, buf: int, text: str, wide: bool) -> int:
    raw = text.encode("utf-16-le", "surrogatepass") if wide else text.encode(ACP, "replace")
    unit = 2 if wide else 1
    ctx.mem.write(buf, raw + b"\0" * unit)
    return len(raw) // unit


def _units(text: str, wide: bool) -> int:
    return (
        len(text.encode("utf-16-le", "surrogatepass")) // 2
        if wide
        else len(text.encode(ACP, "replace"))
    )


def _format(ctx: Ctx, fmt: int, va: int, wide: bool) -> str:
    if not fmt:
        raise ApiFault(
            "crash", "printf-family function called with a NULL format (invalid parameter)"
        )
    return format_printf(ctx, ctx.wstr(fmt) if wide else ctx.cstr(fmt), ctx.va_list(va), wide=wide)


def _secure(
    ctx: Ctx, buf: int, size: int, maxcount: int | None, text: str, wide: bool, name: str
) -> int:
    """``_vsnwprintf_s`` / ``vswprintf_s`` semantics: truncation only with _TRUNCATE, else a fault."""
    size = _size(ctx, size)
    if not buf or size == 0:
        raise ApiFault("crash", f"{name}: NULL or empty buffer (invalid parameter)")
    unit = 2 if wide else 1
    n = _units(text, wide)
    limit = size - 1
    if maxcount is not None and maxcount != _TRUNCATE:
        limit = min(limit, maxcount)
        text_n = min(n, maxcount)
    else:
        text_n = n
    if text_n <= size - 1:
        raw = text.encode("utf-16-le", "surrogatepass") if wide else text.encode(ACP, "replace")
        ctx.mem.write(buf, raw[: text_n * unit] + b"\0" * unit)
        return text_n if text_n == n else 0xFFFFFFFF  # truncated by count: -1
    if maxcount == _TRUNCATE:
        raw = text.encode("utf-16-le", "surrogatepass") if wide else text.encode(ACP, "replace")
        ctx.mem.write(buf, raw[: limit * unit] + b"\0" * unit)
        return 0xFFFFFFFF
    ctx.mem.write(buf, b"\0" * unit)
    _set_errno(ctx, ERANGE)
    raise ApiFault(
        "crash",
        f"{name}: the formatted text ({n} characters) does not fit the {size}-character buffer "
        "(the CRT's invalid-parameter handler terminates the process)",
    )


def _vsnwprintf_s(ctx: Ctx, buf: int, size: int, maxcount: int, fmt: int, locale: int, va: int) -> int:
    return _secure(ctx, buf, size, _ssize(ctx, maxcount), _format(ctx, fmt, va, True), True, "_vsnwprintf_s")


def _vsnprintf_s(ctx: Ctx, buf: int, size: int, maxcount: int, fmt: int, locale: int, va: int) -> int:
    return _secure(ctx, buf, size, _ssize(ctx, maxcount), _format(ctx, fmt, va, False), False, "_vsnprintf_s")


def _vswprintf_s(ctx: Ctx, buf: int, size: int, fmt: int, locale: int, va: int) -> int:
    return _secure(ctx, buf, size, None, _format(ctx, fmt, va, True), True, "vswprintf_s")


def _vsprintf_s(ctx: Ctx, buf: int, size: int, fmt: int, locale: int, va: int) -> int:
    return _secure(ctx, buf, size, None, _format(ctx, fmt, va, False), False, "vsprintf_s")


def _stream(ctx: Ctx, stream: int) -> str:
    base: int = ctx.proc.extra.get("iob", 0)
    size = 48 if ctx.bits == 64 else 32
    if base and base <= stream < base + 3 * size:
        return ("stdin", "stdout", "stderr")[(stream - base) // size]
    return f"FILE@0x{stream:x}"


def _vfprintf(ctx: Ctx, stream: int, fmt: int, locale: int, va: int) -> int:
    text = _format(ctx, fmt, va, False)
    ctx.log(f"[{_stream(ctx, stream)}] {text}")
    return _units(text, False)


def _vfwprintf(ctx: Ctx, stream: int, fmt: int, locale: int, va: int) -> int:
    text = _format(ctx, fmt, va, True)
    ctx.log(f"[{_stream(ctx, stream)}] {text}")
    return _units(text, True)


def _common(name: str, impl: Callable[..., int], nargs: int) -> None:
    """Register a ``__stdio_common_*`` function: its first parameter is an ``unsigned __int64``
    option mask, two stack slots on x86 (so ``nargs + 1`` slots there, ``nargs`` on x64)."""

    def handler(ctx: Ctx, *slots: int) -> int:
        args = slots[2 : nargs + 1] if ctx.bits == 32 else slots[1:nargs]
        return impl(ctx, *args)

    handler.__name__ = name
    soft_api(UCRT, name, conv="cdecl", varargs=True, argc=nargs + 1)(handler)


_common("__stdio_common_vsnwprintf_s", _vsnwprintf_s, 7)
_common("__stdio_common_vsnprintf_s", _vsnprintf_s, 7)
_common("__stdio_common_vswprintf_s", _vswprintf_s, 6)
_common("__stdio_common_vsprintf_s", _vsprintf_s, 6)
_common("__stdio_common_vswprintf_p", _vswprintf_s, 6)
_common("__stdio_common_vfprintf", _vfprintf, 5)
_common("__stdio_common_vfwprintf", _vfwprintf, 5)
_common("__stdio_common_vfprintf_s", _vfprintf, 5)
_common("__stdio_common_vfwprintf_s", _vfwprintf, 5)


@soft_api(UCRT, conv="cdecl")
def _lock_file(ctx: Ctx, stream: int) -> int:
    return 0


@soft_api(UCRT, conv="cdecl")
def _unlock_file(ctx: Ctx, stream: int) -> int:
    return 0


# --- secure string functions -------------------------------------------------------------------------
def _invalid(ctx: Ctx, what: str) -> int:
    _set_errno(ctx, EINVAL)
    raise ApiFault("crash", f"{what} (invalid parameter: the CRT terminates the process)")


def _cat_s(
    ctx: Ctx, dst: int, size: int, src: int, count: int | None, wide: bool, name: str
) -> int:
    size = _size(ctx, size)
    unit = 2 if wide else 1
    if not dst or size == 0 or not src:
        return _invalid(ctx, f"{name}: NULL pointer or zero size")
    cur = ctx.mem.wstr_bytes(dst, size) if wide else ctx.mem.cstr(dst, size)
    if len(cur) // unit >= size:
        ctx.mem.write(dst, b"\0" * unit)
        return _invalid(ctx, f"{name}: the destination is not NUL-terminated within its size")
    add = ctx.mem.wstr_bytes(src) if wide else ctx.mem.cstr(src)
    if count is not None and count != _TRUNCATE:
        add = add[: count * unit]
    room = size - 1 - len(cur) // unit
    if len(add) // unit > room:
        if count == _TRUNCATE:
            ctx.mem.write(dst + len(cur), add[: room * unit] + b"\0" * unit)
            return STRUNCATE
        ctx.mem.write(dst, b"\0" * unit)
        _set_errno(ctx, ERANGE)
        raise ApiFault(
            "crash",
            f"{name}: buffer of {size} characters too small (the CRT terminates the process)",
        )
    ctx.mem.write(dst + len(cur), add + b"\0" * unit)
    return 0


@soft_api(UCRT, conv="cdecl")
def strcat_s(ctx: Ctx, dst: int, size: int, src: int) -> int:
    return _cat_s(ctx, dst, size, src, None, False, "strcat_s")


@soft_api(UCRT, conv="cdecl")
def wcsncat_s(ctx: Ctx, dst: int, size: int, src: int, count: int) -> int:
    return _cat_s(ctx, dst, size, src, _ssize(ctx, count), True, "wcsncat_s")


@soft_api(UCRT, conv="cdecl")
def strncat_s(ctx: Ctx, dst: int, size: int, src: int, count: int) -> int:
    return _cat_s(ctx, dst, size, src, _ssize(ctx, count), False, "strncat_s")


@soft_api(UCRT, conv="cdecl")
def strncpy_s(ctx: Ctx, dst: int, size: int, src: int, count: int) -> int:
    size = _size(ctx, size)
    if dst and size:
        ctx.mem.write(dst, b"\0")
    return _cat_s(ctx, dst, size, src, _ssize(ctx, count), False, "strncpy_s")


def _mem_s(ctx: Ctx, dst: int, size: int, src: int, count: int, name: str, unit: int = 1) -> int:
    size, count = _size(ctx, size) * unit, _size(ctx, count) * unit
    if count == 0:
        return 0
    if not dst or not src:
        return _invalid(ctx, f"{name}: NULL pointer")
    if count > size:
        ctx.mem.fill(dst, size)
        _set_errno(ctx, ERANGE)
        raise ApiFault(
            "crash", f"{name}: copying {count} bytes into a {size}-byte buffer (the CRT terminates)"
        )
    ctx.mem.write(dst, ctx.mem.read(src, count))
    return 0


@soft_api(UCRT, conv="cdecl")
def memcpy_s(ctx: Ctx, dst: int, size: int, src: int, count: int) -> int:
    return _mem_s(ctx, dst, size, src, count, "memcpy_s")


@soft_api(UCRT, conv="cdecl")
def memmove_s(ctx: Ctx, dst: int, size: int, src: int, count: int) -> int:
    return _mem_s(ctx, dst, size, src, count, "memmove_s")


@soft_api(UCRT, conv="cdecl")
def wmemcpy_s(ctx: Ctx, dst: int, size: int, src: int, count: int) -> int:
    return _mem_s(ctx, dst, size, src, count, "wmemcpy_s", 2)


@soft_api(UCRT, conv="cdecl")
def wmemmove_s(ctx: Ctx, dst: int, size: int, src: int, count: int) -> int:
    return _mem_s(ctx, dst, size, src, count, "wmemmove_s", 2)


def _case_s(ctx: Ctx, s: int, size: int, upper: bool) -> int:
    size = _size(ctx, size)
    if not s:
        return _invalid(ctx, "_wcslwr_s/_wcsupr_s: NULL string")
    raw = ctx.mem.wstr_bytes(s, size)
    if len(raw) // 2 >= size:
        return _invalid(ctx, "_wcslwr_s/_wcsupr_s: not NUL-terminated within the size")
    text = raw.decode("utf-16-le", "surrogatepass")
    text = "".join(
        (c.upper() if upper else c.lower()) if len(c.upper() if upper else c.lower()) == 1 else c
        for c in text
    )
    ctx.write_wstr(s, text)
    return 0


@soft_api(UCRT, conv="cdecl")
def _wcslwr_s(ctx: Ctx, s: int, size: int) -> int:
    return _case_s(ctx, s, size, False)


@soft_api(UCRT, conv="cdecl")
def _wcsupr_s(ctx: Ctx, s: int, size: int) -> int:
    return _case_s(ctx, s, size, True)


def _int_to_s(ctx: Ctx, value: int, buf: int, size: int, radix: int, wide: bool, name: str) -> int:
    size, radix = _size(ctx, size), _dw(radix)
    if not buf or size == 0 or not 2 <= radix <= 36:
        return _invalid(ctx, f"{name}: bad buffer or radix")
    neg = value < 0 and radix == 10
    v = -value if neg else value
    digits = ""
    while True:
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[v % radix] + digits
        v //= radix
        if not v:
            break
    text = ("-" if neg else "") + digits
    if len(text) + 1 > size:
        ctx.mem.write(buf, b"\0\0" if wide else b"\0")
        _set_errno(ctx, ERANGE)
        raise ApiFault(
            "crash", f"{name}: buffer of {size} characters too small (the CRT terminates)"
        )
    if wide:
        ctx.write_wstr(buf, text)
    else:
        ctx.write_cstr(buf, text)
    return 0


@soft_api(UCRT, conv="cdecl")
def _itow_s(ctx: Ctx, value: int, buf: int, size: int, radix: int) -> int:
    v = Ctx.s32(value) if _dw(radix) == 10 else _dw(value)
    return _int_to_s(ctx, v, buf, size, radix, True, "_itow_s")


@soft_api(UCRT, conv="cdecl")
def _itoa_s(ctx: Ctx, value: int, buf: int, size: int, radix: int) -> int:
    v = Ctx.s32(value) if _dw(radix) == 10 else _dw(value)
    return _int_to_s(ctx, v, buf, size, radix, False, "_itoa_s")


@soft_api(UCRT, conv="cdecl")
def _ultow_s(ctx: Ctx, value: int, buf: int, size: int, radix: int) -> int:
    return _int_to_s(ctx, _dw(value), buf, size, radix, True, "_ultow_s")


@soft_api(UCRT, conv="cdecl")
def _ltow_s(ctx: Ctx, value: int, buf: int, size: int, radix: int) -> int:
    return _itow_s(ctx, value, buf, size, radix)


def _tok(ctx: Ctx, s: int, delims: int, context: int, wide: bool) -> int:
    unit = 2 if wide else 1
    if not context or not delims:
        return _invalid(ctx, "wcstok_s/strtok_s: NULL context or delimiters")
    if not s:
        s = ctx.ptr(context)
        if not s:
            return 0
    delim = ctx.wstr(delims) if wide else ctx.cstr(delims)
    text = ctx.wstr(s) if wide else ctx.cstr(s)
    i = 0
    while i < len(text) and text[i] in delim:
        i += 1
    if i == len(text):
        ctx.write_ptr(context, s + len(text.encode("utf-16-le" if wide else ACP, "replace")))
        return 0
    j = i
    while j < len(text) and text[j] not in delim:
        j += 1

    def off(k: int) -> int:
        return (
            len(text[:k].encode("utf-16-le", "surrogatepass"))
            if wide
            else len(text[:k].encode(ACP, "replace"))
        )

    start = s + off(i)
    if j < len(text):
        ctx.mem.write(s + off(j), b"\0" * unit)
        ctx.write_ptr(context, s + off(j) + unit)
    else:
        ctx.write_ptr(context, s + off(j))
    return start


@soft_api(UCRT, conv="cdecl")
def wcstok_s(ctx: Ctx, s: int, delims: int, context: int) -> int:
    return _tok(ctx, s, delims, context, True)


@soft_api(UCRT, conv="cdecl")
def strtok_s(ctx: Ctx, s: int, delims: int, context: int) -> int:
    return _tok(ctx, s, delims, context, False)


def _span(ctx: Ctx, s: int, chars: int, wide: bool, inside: bool) -> int:
    text = ctx.wstr(s) if wide else ctx.cstr(s)
    cs = ctx.wstr(chars) if wide else ctx.cstr(chars)
    n = 0
    for c in text:
        if (c in cs) != inside:
            break
        n += 1
    return n


@soft_api(UCRT, conv="cdecl")
def wcsspn(ctx: Ctx, s: int, chars: int) -> int:
    return _span(ctx, s, chars, True, True)


@soft_api(UCRT, conv="cdecl")
def wcscspn(ctx: Ctx, s: int, chars: int) -> int:
    return _span(ctx, s, chars, True, False)


@soft_api(UCRT, conv="cdecl")
def strspn(ctx: Ctx, s: int, chars: int) -> int:
    return _span(ctx, s, chars, False, True)


@soft_api(UCRT, conv="cdecl")
def strcspn(ctx: Ctx, s: int, chars: int) -> int:
    return _span(ctx, s, chars, False, False)


@soft_api(UCRT, conv="cdecl")
def wmemset(ctx: Ctx, dst: int, c: int, n: int) -> int:
    n = _size(ctx, n)
    if n:
        ctx.mem.write(dst, (c & 0xFFFF).to_bytes(2, "little") * n)
    return dst


@soft_api(UCRT, conv="cdecl")
def _wtol(ctx: Ctx, s: int) -> int:
    text = ctx.wstr(s).lstrip()
    sign = 1
    if text[:1] in "+-" and text:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    digits = ""
    for c in text:
        if not ("0" <= c <= "9"):
            break
        digits += c
    v = sign * int(digits) if digits else 0
    return v & 0xFFFFFFFF


def _classify(pred: str) -> None:
    def make(name: str, wide: bool) -> None:
        def handler(ctx: Ctx, c: int) -> int:
            ch = chr(c & (0xFFFF if wide else 0xFF))
            if not wide and (c & 0xFFFFFFFF) > 0xFF:
                return 0
            return int(bool(getattr(ch, pred)()) and (ch.isascii() or wide or pred != "isdigit"))

        handler.__name__ = name
        soft_api(UCRT, name, conv="cdecl")(handler)

    base = pred[2:]
    make(f"is{base}", False)
    make(f"isw{base}", True)


for _pred in ("isalpha", "isdigit", "isalnum", "isupper", "islower", "isspace"):
    _classify(_pred)


@soft_api(UCRT, conv="cdecl")
def isxdigit(ctx: Ctx, c: int) -> int:
    return int(chr(c & 0xFF) in "0123456789abcdefABCDEF" and (c & 0xFFFFFFFF) <= 0xFF)


@soft_api(UCRT, conv="cdecl")
def iswxdigit(ctx: Ctx, c: int) -> int:
    return int(chr(c & 0xFFFF) in "0123456789abcdefABCDEF")


@soft_api(UCRT, conv="cdecl")
def ispunct(ctx: Ctx, c: int) -> int:
    ch = chr(c & 0xFF)
    return int(
        ch.isprintable() and not ch.isalnum() and not ch.isspace() and (c & 0xFFFFFFFF) <= 0x7F
    )


def _convert(ctx: Ctx, dst: int, src: int, n: int, to_wide: bool) -> int:
    n = _size(ctx, n)
    if to_wide:
        text = ctx.cstr(src)
        raw = text.encode("utf-16-le", "surrogatepass")
        units = len(raw) // 2
        if dst:
            keep = min(units, n)
            ctx.mem.write(dst, raw[: 2 * keep] + (b"\0\0" if keep < n else b""))
            return keep
        return units
    rawa = ctx.wstr(src).encode(ACP, "replace")
    if dst:
        keep = min(len(rawa), n)
        ctx.mem.write(dst, rawa[:keep] + (b"\0" if keep < n else b""))
        return keep
    return len(rawa)


@soft_api(UCRT, conv="cdecl")
def mbstowcs(ctx: Ctx, dst: int, src: int, n: int) -> int:
    return _convert(ctx, dst, src, n, True)


@soft_api(UCRT, conv="cdecl")
def wcstombs(ctx: Ctx, dst: int, src: int, n: int) -> int:
    return _convert(ctx, dst, src, n, False)


# --- startup, argv, environment ----------------------------------------------------------------------
@soft_api(UCRT, conv="cdecl")
def _initialize_wide_environment(ctx: Ctx) -> int:
    return 0


@soft_api(UCRT, conv="cdecl")
def _configure_wide_argv(ctx: Ctx, mode: int) -> int:
    return 0


def _empty_vector(ctx: Ctx, key: str) -> int:
    return _cell(ctx, key, 2 * ctx.ptr_size)


@soft_api(UCRT, conv="cdecl")
def _get_initial_narrow_environment(ctx: Ctx) -> int:
    return _empty_vector(ctx, "initial_env_a")


@soft_api(UCRT, conv="cdecl")
def _get_initial_wide_environment(ctx: Ctx) -> int:
    return _empty_vector(ctx, "initial_env_w")


@soft_api(UCRT, conv="cdecl")
def __p___argc(ctx: Ctx) -> int:
    return _cell(ctx, "argc", 4)


@soft_api(UCRT, conv="cdecl")
def __p___argv(ctx: Ctx) -> int:
    cell = _cell(ctx, "argv_p", ctx.ptr_size)
    ctx.write_ptr(cell, _empty_vector(ctx, "argv"))
    return cell


@soft_api(UCRT, conv="cdecl")
def __p___wargv(ctx: Ctx) -> int:
    cell = _cell(ctx, "wargv_p", ctx.ptr_size)
    ctx.write_ptr(cell, _empty_vector(ctx, "wargv"))
    return cell


@soft_api(UCRT, conv="cdecl")
def __p__environ(ctx: Ctx) -> int:
    cell = _cell(ctx, "environ_p", ctx.ptr_size)
    ctx.write_ptr(cell, _empty_vector(ctx, "initial_env_a"))
    return cell


@soft_api(UCRT, conv="cdecl")
def __p__wenviron(ctx: Ctx) -> int:
    cell = _cell(ctx, "wenviron_p", ctx.ptr_size)
    ctx.write_ptr(cell, _empty_vector(ctx, "initial_env_w"))
    return cell


@soft_api(UCRT, conv="cdecl")
def __p__commode(ctx: Ctx) -> int:
    return _cell(ctx, "commode", 4)


@soft_api(UCRT, conv="cdecl")
def __p__fmode(ctx: Ctx) -> int:
    return _cell(ctx, "fmode", 4)


@soft_api(UCRT, conv="cdecl")
def _set_fmode(ctx: Ctx, mode: int) -> int:
    ctx.mem.w32(_cell(ctx, "fmode", 4), _dw(mode))
    return 0


@soft_api(UCRT, conv="cdecl")
def _configthreadlocale(ctx: Ctx, flag: int) -> int:
    old: int = ctx.proc.extra.get("threadlocale", 2)  # _DISABLE_PER_THREAD_LOCALE
    f = Ctx.s32(flag)
    if f in (1, 2):
        ctx.proc.extra["threadlocale"] = f
    elif f not in (0, -1):
        return _invalid(ctx, f"_configthreadlocale({f})")
    return old


@soft_api(UCRT, conv="cdecl")
def _set_app_type(ctx: Ctx, kind: int) -> int:
    return 0


@soft_api(UCRT, conv="cdecl")
def __setusermatherr(ctx: Ctx, fn: int) -> int:
    return 0


@soft_api(UCRT, conv="cdecl")
def _register_thread_local_exe_atexit_callback(ctx: Ctx, fn: int) -> int:
    return 0


@soft_api(UCRT, conv="cdecl")
def _crt_at_quick_exit(ctx: Ctx, fn: int) -> int:
    return 0


@soft_api(UCRT, conv="cdecl")
def _get_errno(ctx: Ctx, out: int) -> int:
    if not out:
        return EINVAL
    ctx.mem.w32(out, ctx.mem.u32(_cell(ctx, "errno", 4)))
    return 0


@soft_api(UCRT, conv="cdecl", name="_set_errno")
def _set_errno_api(ctx: Ctx, value: int) -> int:
    _set_errno(ctx, _dw(value))
    return 0


@soft_api(UCRT, conv="cdecl")
def __doserrno(ctx: Ctx) -> int:
    return _cell(ctx, "doserrno", 4)


_STRERROR = {
    0: "No error",
    1: "Operation not permitted",
    2: "No such file or directory",
    3: "No such process",
    4: "Interrupted function call",
    5: "Input/output error",
    9: "Bad file descriptor",
    11: "Resource temporarily unavailable",
    12: "Not enough space",
    13: "Permission denied",
    14: "Bad address",
    17: "File exists",
    22: "Invalid argument",
    24: "Too many open files",
    28: "No space left on device",
    33: "Domain error",
    34: "Result too large",
    36: "Resource deadlock avoided",
    80: "Unknown error",
}


@soft_api(UCRT, conv="cdecl")
def strerror(ctx: Ctx, errnum: int) -> int:
    text = _STRERROR.get(Ctx.s32(errnum), "Unknown error")
    cell = _cell(ctx, "strerror_buf", 96)
    ctx.write_cstr(cell, text)
    return cell


@soft_api(UCRT, conv="cdecl")
def _wcserror(ctx: Ctx, errnum: int) -> int:
    text = _STRERROR.get(Ctx.s32(errnum), "Unknown error")
    cell = _cell(ctx, "wcserror_buf", 192)
    ctx.write_wstr(cell, text)
    return cell


@soft_api(UCRT, conv="cdecl")
def strerror_s(ctx: Ctx, buf: int, size: int, errnum: int) -> int:
    text = _STRERROR.get(Ctx.s32(errnum), "Unknown error")
    size = _size(ctx, size)
    if not buf or not size:
        return EINVAL
    raw = text.encode("ascii")[: size - 1]
    ctx.mem.write(buf, raw + b"\0")
    return 0


# --- termination ----------------------------------------------------------------------------------
@soft_api(UCRT, conv="cdecl")
def terminate(ctx: Ctx) -> int:
    raise ApiFault(
        "crash", "the DLL called terminate() (an unhandled C++ exception or a noexcept violation)"
    )


@soft_api(UCRT, conv="cdecl")
def _invalid_parameter_noinfo_noreturn(ctx: Ctx) -> int:
    raise ApiFault(
        "crash", "the C runtime detected an invalid parameter (_invalid_parameter_noinfo_noreturn)"
    )


@soft_api(UCRT, conv="cdecl")
def _invalid_parameter(ctx: Ctx, expr: int, func: int, file: int, line: int, res: int) -> int:
    what = ctx.wstr(expr) if expr else "?"
    raise ApiFault("crash", f"the C runtime detected an invalid parameter: {what}")


@soft_api(UCRT, conv="cdecl")
def quick_exit(ctx: Ctx, code: int) -> int:
    raise ApiFault("crash", f"the DLL called quick_exit({Ctx.s32(code)})")


@soft_api(UCRT, conv="cdecl")
def _crt_debugger_hook(ctx: Ctx, kind: int) -> int:
    return 0


# --- misc -----------------------------------------------------------------------------------------
@soft_api(UCRT, conv="cdecl")
def rand(ctx: Ctx) -> int:
    state: int = ctx.proc.extra.get("rand_state", 1)
    state = (state * 214013 + 2531011) & 0xFFFFFFFF
    ctx.proc.extra["rand_state"] = state
    return (state >> 16) & 0x7FFF


@soft_api(UCRT, conv="cdecl")
def srand(ctx: Ctx, seed: int) -> int:
    ctx.proc.extra["rand_state"] = _dw(seed)
    return 0


@soft_api(UCRT, conv="cdecl", ret64=True)
def _time64(ctx: Ctx, out: int) -> int:
    now = int(time.time()) + ctx.proc.slept_ms // 1000
    if out:
        ctx.mem.w64(out, now)
    return now


@soft_api(UCRT, conv="cdecl")
def _time32(ctx: Ctx, out: int) -> int:
    now = (int(time.time()) + ctx.proc.slept_ms // 1000) & 0xFFFFFFFF
    if out:
        ctx.mem.w32(out, now)
    return now


# qsort / bsearch call the DLL's comparator, so they are guest code. Compiled once from C with
# mingw-w64 gcc 12 (-O2 -ffreestanding -fno-builtin -fno-pic): an insertion sort (a valid,
# comparison-only qsort) and a binary search; position independent, no relocations, no imports.
_soft_guest(
    UCRT,
    "qsort",
    argc=4,
    x86=bytes.fromhex(
        "55575653bb0100000083ec2c8b6c24488b54244001ea837c24440176728d7600895c241489d689d7895c24188954241c"
        "89f329ee836c241401897c2404893424ff54244c85c07e3485ed7426895c241089fa89f08d7426000fb6080fb61a83c0"
        "0183c2018858ff884aff8b4c241039c875e68b44241429ef85c075b48b5c24188b54241c83c30101ea395c2444759183"
        "c42c5b5e5f5dc3"
    ),
    x64=bytes.fromhex(
        "4883fa010f8692000000415741564d89c641554989d541544989cc55bd01000000574c89cf56534883ec280f1f440000"
        "4c89e34989ef662e0f1f8400000000004a8d34334983ef014889d94889f2ffd785c07e2b4d85f6741e31c00f1f440000"
        "0fb614030fb60c06880c038814064883c0014939c675e94c29f34d85ff75c14883c5014d01f44939ed75a54883c4285b"
        "5e5f5d415c415d415e415fc3c3"
    ),
)
_soft_guest(
    UCRT,
    "bsearch",
    argc=5,
    x86=bytes.fromhex(
        "5557565383ec1c8b7c243885ff74468b6c243831ffeb108db4260000000066908d7b0139ef732e89eb8b74243c8b4424"
        "3029fbd1eb89042401fb0faff30374243489742404ff54244085c0740a79d189dd39ef72d231f683c41c89f05b5e5f5d"
        "c3"
    ),
    x64=bytes.fromhex(
        "4157415641554154555756534883ec284c8bac24900000004d85c074494889cf4889d54d89c74d89cc4531f6eb0b6690"
        "4c8d73014d39fe732d4c89fb4889f94c29f348d1eb4c01f34889de490faff44801ee4889f241ffd585c0740c79d24989"
        "df4d39fe72d331f64883c4284889f05b5e5f5d415c415d415e415fc3"
    ),
)
