"""The printf engine against Python's C-style ``%`` formatting (same rules for integer conversions)."""

from __future__ import annotations

import struct
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.loaders.pe import PeLoader
from emulator.loaders.pe.cpu import Emulator
from emulator.loaders.pe.winapi.fmt import format_printf
from tests.pe.conftest import prebuilt


@cache
def _loaded() -> tuple[Emulator, int]:
    """One emulator (kept for the session) and a 64-byte guest buffer for va_list arguments."""
    emu = PeLoader().load(str(prebuilt("good", 32)), bitness=32)._emu
    assert emu is not None
    return emu, emu.heap.alloc(64, heap=0, site=0, api="test")


flags = st.text(alphabet="-+ #0", max_size=3)
widths = st.one_of(st.just(""), st.integers(1, 12).map(str))
precs = st.one_of(st.just(""), st.integers(0, 8).map(lambda p: f".{p}"))


@settings(max_examples=150, deadline=None)
@given(flags, widths, precs, st.sampled_from("dixXou"), st.integers(-(2**31), 2**32 - 1))
def test_integer_conversions_match_c(fl: str, width: str, prec: str, conv: str, value: int) -> None:
    emu, args = _loaded()
    emu.mem.write(args, struct.pack("<I", value & 0xFFFFFFFF))
    spec = f"%{fl}{width}{prec}{conv}"
    got = format_printf(emu.ctx, f"[{spec}]", emu.ctx.va_list(args), wide=False)
    signed = value - (1 << 32) if value >= 2**31 else value
    py_value = signed if conv in "di" else value & 0xFFFFFFFF
    py_conv = "d" if conv == "u" else conv
    py_flags = (
        fl if conv in "di" else fl.replace("+", "").replace(" ", "")
    )  # C: sign flags are for d/i
    if prec:
        py_flags = py_flags.replace("0", "")  # C: a precision disables zero padding
    expected = f"[%{py_flags}{width}{prec}{py_conv}]" % py_value
    if prec == ".0" and py_value == 0:  # C prints no digits for a zero with precision 0
        sign = ("+" if "+" in fl else " " if " " in fl else "") if conv in "di" else ""
        body = sign + ("0" if conv == "o" and "#" in fl else "")
        w = int(width or 0)
        expected = "[" + (body.ljust(w) if "-" in fl else body.rjust(w)) + "]"
    if conv == "o" and "#" in fl:  # C: '#' forces a leading 0 digit (Python adds "0o")
        digits = f"{py_value:o}"
        if prec:
            digits = "" if prec == ".0" and py_value == 0 else digits.rjust(int(prec[1:]), "0")
        if not digits.startswith("0"):
            digits = "0" + digits
        w = int(width or 0)
        if "-" in fl:
            digits = digits.ljust(w)
        elif "0" in fl and not prec:
            digits = digits.rjust(w, "0")
        else:
            digits = digits.rjust(w)
        expected = f"[{digits}]"
    if conv in "xX" and "#" in fl and value & 0xFFFFFFFF == 0:
        expected = expected.replace("0x", "").replace("0X", "")  # C: no prefix for zero
    assert got == expected


def test_strings_and_widths() -> None:
    emu, args = _loaded()
    ctx = emu.ctx
    text = emu.heap.alloc(32, heap=0, site=0, api="test")
    wide = emu.heap.alloc(32, heap=0, site=0, api="test")
    ctx.write_cstr(text, "abc")
    ctx.write_wstr(wide, "wxyz")
    emu.mem.write(args, struct.pack("<IIII", text, wide, text, 0))
    got = format_printf(ctx, "%-5s|%.2ls|%5hs|%s", ctx.va_list(args), wide=False)
    assert got == "abc  |wx|  abc|(null)"
    emu.mem.write(args, struct.pack("<III", wide, text, ord("Q")))
    assert format_printf(ctx, "%s/%S/%c", ctx.va_list(args), wide=True) == "wxyz/abc/Q"
