"""The msvcrt ``printf`` family's formatting, for narrow and wide functions.

Microsoft semantics: in a *wide* function ``%s``/``%c`` take wide strings/chars and ``%S``/``%C``
narrow ones; in a *narrow* function the other way round. ``%ls``/``%ws``/``%lc`` are always wide,
``%hs``/``%hc`` always narrow. Length modifiers: ``h hh l ll L I I32 I64 j z t w``.
"""

from __future__ import annotations

import math
import re

from emulator.loaders.pe.winapi import ACP, Ctx, VaList

_SPEC = re.compile(
    r"%(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d*))?"
    r"(?P<len>hh|h|ll|l|L|I64|I32|I|j|z|t|w)?(?P<conv>[diouxXcCsSpnfFeEgGaA%])"
)


def _pad(body: str, flags: str, width: int, numeric: bool, sign: str = "", prefix: str = "") -> str:
    total = len(sign) + len(prefix) + len(body)
    if width <= total:
        return sign + prefix + body
    fill = width - total
    if "-" in flags:
        return sign + prefix + body + " " * fill
    if "0" in flags and numeric:
        return sign + prefix + "0" * fill + body
    return " " * fill + sign + prefix + body


Piece = str | tuple[str, str, str | None, str | None, str]


def _parse(fmt: str) -> list[Piece]:
    """Split ``fmt`` into literal text and (conv, flags, width, prec, length) specs."""
    out: list[Piece] = []
    pos = 0
    while True:
        i = fmt.find("%", pos)
        if i < 0:
            if pos < len(fmt):
                out.append(fmt[pos:])
            return out
        if i > pos:
            out.append(fmt[pos:i])
        m = _SPEC.match(fmt, i)
        if m is None:  # malformed: msvcrt prints the rest verbatim
            out.append(fmt[i:])
            return out
        pos = m.end()
        if m.group("conv") == "%":
            out.append("%")
        else:
            out.append(
                (
                    m.group("conv"),
                    m.group("flags"),
                    m.group("width"),
                    m.group("prec"),
                    m.group("len") or "",
                )
            )


_CACHE: dict[str, list[Piece]] = {}


def format_printf(ctx: Ctx, fmt: str, va: VaList, *, wide: bool) -> str:
    """Expand ``fmt`` with arguments from ``va``; ``wide`` selects the wide-function rules."""
    pieces = _CACHE.get(fmt)
    if pieces is None:
        pieces = _parse(fmt)
        if len(_CACHE) < 4096:
            _CACHE[fmt] = pieces
    out: list[str] = []
    for p in pieces:
        if isinstance(p, str):
            out.append(p)
            continue
        conv, flags, w, pr, ln = p
        width = 0
        if w == "*":
            width = Ctx.s32(va.int32())
            if width < 0:
                flags += "-"
                width = -width
        elif w:
            width = int(w)
        prec: int | None = None
        if pr == "*":
            prec = Ctx.s32(va.int32())
            if prec < 0:
                prec = None
        elif pr is not None:
            prec = int(pr) if pr else 0
        if not flags and not width and prec is None and not ln:
            if conv == "d" or conv == "i":
                out.append(str(Ctx.s32(va.int32())))
                continue
            if conv == "u":
                out.append(str(va.int32()))
                continue
            if conv == "x":
                out.append(f"{va.int32():x}")
                continue
        out.append(_one(ctx, conv, flags, width, prec, ln, va, wide))
    return "".join(out)


def _int_arg(ctx: Ctx, ln: str, va: VaList, signed: bool) -> int:
    if ln in ("ll", "I64", "j") or (ln in ("I", "z", "t") and ctx.bits == 64):
        v = va.int64()
        bits = 64
    else:
        v = va.int32()
        bits = 32
    if ln == "h":
        v &= 0xFFFF
        bits = 16
    elif ln == "hh":
        v &= 0xFF
        bits = 8
    if signed and v >> (bits - 1) & 1:
        v -= 1 << bits
    return v


def _one(
    ctx: Ctx, conv: str, flags: str, width: int, prec: int | None, ln: str, va: VaList, wide: bool
) -> str:
    if conv in "di":
        v = _int_arg(ctx, ln, va, True)
        sign = "-" if v < 0 else "+" if "+" in flags else " " if " " in flags else ""
        body = str(abs(v))
        if prec is not None:
            body = "" if prec == 0 and v == 0 else body.rjust(prec, "0")
        return _pad(body, flags if prec is None else flags.replace("0", ""), width, True, sign)
    if conv in "ouxX":
        v = _int_arg(ctx, ln, va, False)
        base = {"o": 8, "u": 10, "x": 16, "X": 16}[conv]
        body = {8: "%o", 10: "%d", 16: "%x"}[base] % v
        if conv == "X":
            body = body.upper()
        prefix = ""
        if "#" in flags and v and conv in "xX":
            prefix = "0x" if conv == "x" else "0X"
        if prec is not None:
            body = "" if prec == 0 and v == 0 else body.rjust(prec, "0")
        if "#" in flags and conv == "o" and not body.startswith("0"):
            body = "0" + body  # C: '#' makes the first octal digit a 0
        return _pad(
            body, flags if prec is None else flags.replace("0", ""), width, True, "", prefix
        )
    if conv == "p":
        v = va.pointer()
        return _pad(f"{v:0{ctx.ptr_size * 2}X}", flags, width, False)
    if conv in "cC":
        v = va.int32()
        is_wide = (wide and conv == "c") or (not wide and conv == "C")
        if ln in ("l", "w"):
            is_wide = True
        elif ln == "h":
            is_wide = False
        ch = chr(v & 0xFFFF) if is_wide else bytes([v & 0xFF]).decode(ACP, "replace")
        return _pad(ch, flags, width, False)
    if conv in "sS":
        ptr = va.pointer()
        is_wide = (wide and conv == "s") or (not wide and conv == "S")
        if ln in ("l", "w"):
            is_wide = True
        elif ln == "h":
            is_wide = False
        if ptr == 0:
            text = "(null)"
        elif is_wide:
            text = ctx.wstr(ptr, prec if prec is not None else 1 << 20)
        else:
            text = ctx.cstr(ptr, prec if prec is not None else 1 << 20)
        if prec is not None:
            text = text[:prec]
        return _pad(text, flags, width, False)
    if conv == "n":
        # msvcrt disables %n by default (invalid parameter); print nothing
        va.pointer()
        return ""
    # floating point
    f = va.double()
    if math.isnan(f) or math.isinf(f):
        body = "nan" if math.isnan(f) else "inf"
        if conv.isupper():
            body = body.upper()
        sign = "-" if math.copysign(1.0, f) < 0 and not math.isnan(f) else ""
        return _pad(body, flags.replace("0", ""), width, False, sign)
    sign = (
        "-" if math.copysign(1.0, f) < 0 else "+" if "+" in flags else " " if " " in flags else ""
    )
    if conv in "aA":
        body = float.hex(abs(f))
        body = body.upper().replace("X", "x") if conv == "A" else body
    else:
        spec = "%" + ("#" if "#" in flags else "") + "." + str(6 if prec is None else prec) + conv
        body = spec % abs(f)
    if conv in "eEgG":
        # msvcrt prints three exponent digits (1.000000e+001)
        body = re.sub(r"([eE][+-])(\d\d)$", lambda mm: mm.group(1) + "0" + mm.group(2), body)
    return _pad(body, flags, width, True, sign)
