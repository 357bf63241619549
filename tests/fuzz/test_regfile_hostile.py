""".reg import under every kind of damage and every encoding (strict and lenient).

Invariant: import_bytes/import_file succeed (lenient: skipping what is wrong) or raise one
InputError naming the file (and line); never another exception; bounded time and memory.
"""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz
from emulator.errors import InputError
from emulator.registry import Registry
from emulator.registry.model import MAX_DEPTH, MAX_KEY_NAME
from emulator.registry.regfile import import_bytes, import_file

from .helpers import check

HEADER = "Windows Registry Editor Version 5.00\r\n\r\n"
KEY = "[HKEY_CURRENT_USER\\Software\\Fuzz]\r\n"


def u16(text: str, bom: bool = True) -> bytes:
    return (b"\xff\xfe" if bom else b"") + text.encode("utf-16-le", "surrogatepass")


def outcome(data: bytes, strict: bool) -> tuple[Registry, str | None]:
    """(registry, error message or None); fails on anything but InputError."""
    reg = Registry()
    try:
        with fuzz.time_limit(30):
            import_bytes(data, reg, name="f.reg", strict=strict)
    except InputError as exc:
        msg = fuzz.check_message(exc)
        assert msg.startswith("f.reg"), msg
        return reg, msg
    return reg, None


BODY = HEADER + KEY + '"v"="x"\r\n'
ENCODINGS = {
    "utf16le-bom": u16(BODY),
    "utf16le-nobom": u16(BODY, bom=False),
    "utf16be-bom": b"\xfe\xff" + BODY.encode("utf-16-be"),
    "utf16be-nobom": BODY.encode("utf-16-be"),
    "utf8-bom": b"\xef\xbb\xbf" + BODY.encode(),
    "utf8-nobom-nonascii": (BODY + '"\u00e9"="\u20ac"\r\n').encode(),
    "cp1252": (BODY + '"\u00e9"="\u20ac"\r\n').encode("cp1252"),
    "utf8-bom-invalid": b"\xef\xbb\xbf" + BODY.encode() + b'"\xff"="x"\r\n',
    "utf16-odd-length": u16(BODY) + b"\x00",
    "only-bom": b"\xff\xfe",
    "empty": b"",
    "nuls-utf16": u16(HEADER + "[HKEY_CURRENT_USER\\a\x00b]\r\n\"v\x00\"=\"x\x00y\"\r\n"),
    "nuls-ansi": (HEADER + "[HKEY_CURRENT_USER\\a\x00b]\r\n\"v\x00\"=\"x\x00y\"\r\n").encode(),
    "lone-surrogates": u16(HEADER + "[HKEY_CURRENT_USER\\a\ud800]\r\n\"v\udc00\"=\"\ud800\"\r\n"),
    "cr-only": u16(BODY.replace("\r\n", "\r")),
    "regedit4-utf16": u16("REGEDIT4\r\n" + KEY),
}


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_encodings(name: str, strict: bool) -> None:
    reg, msg = outcome(ENCODINGS[name], strict)
    if name in ("utf16le-bom", "utf8-bom", "cp1252", "utf8-nobom-nonascii"):
        assert msg is None and reg.get_value("HKCU\\Software\\Fuzz", "v")[1] == "x\0".encode(
            "utf-16-le")
    if name.startswith("utf16be") or name in ("utf16le-nobom", "empty", "only-bom"):
        assert msg is not None  # regedit refuses these too: the message says why


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_nesting_deeper_than_512_and_names_over_255(strict: bool) -> None:
    deep = "[HKEY_CURRENT_USER\\" + "\\".join(["k"] * (MAX_DEPTH + 1)) + "]\r\n"
    ok_deep = "[HKEY_CURRENT_USER\\" + "\\".join(["k"] * (MAX_DEPTH - 1)) + "]\r\n"
    long_name = "[HKEY_CURRENT_USER\\" + "n" * (MAX_KEY_NAME + 1) + "]\r\n"
    long_value = KEY + '"' + "v" * 16384 + '"="x"\r\n'
    for text in (deep, long_name, long_value, "[HKEY_CURRENT_USER\\" + "k\\" * 100_000 + "k]\r\n"):
        reg, msg = outcome(u16(HEADER + text), strict)
        if strict:
            assert msg is not None and ("deeper than" in msg or "longer than" in msg), msg
        else:
            assert msg is None
    reg, msg = outcome(u16(HEADER + ok_deep), strict)
    assert msg is None and reg.key_exists("HKCU\\" + "\\".join(["k"] * (MAX_DEPTH - 1)))


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_a_million_continuation_lines(strict: bool) -> None:
    n = 1_000_000
    data = u16(HEADER + KEY + '"v"=hex:00,\\\r\n' + "  00,\\\r\n" * n + "  00\r\n")
    reg, msg = outcome(data, strict)
    assert msg is None
    assert reg.get_value("HKCU\\Software\\Fuzz", "v")[1] == bytes(n + 2)
    # the list never terminated (the slow, line-by-line path): an error at the last line
    # (strict) or the bytes read so far kept (lenient)
    m = n if strict else n // 10
    data = u16(HEADER + KEY + '"v"=hex:00,\\\r\n' + "  00,\\\r\n" * m)
    reg, msg = outcome(data, strict)
    if strict:
        assert msg is not None and f":{m + 4}:" in msg and "ends inside a hex list" in msg
    else:
        assert msg is None and reg.get_value("HKCU\\Software\\Fuzz", "v")[1] == bytes(m + 1)


def test_huge_line_memory_is_bounded() -> None:
    line = '"v"="' + "x" * 5_000_000 + '"\r\n'
    data = u16(HEADER + KEY + line)
    tracemalloc.start()
    try:
        reg, msg = outcome(data, True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert msg is None and len(reg.get_value("HKCU\\Software\\Fuzz", "v")[1]) == 10_000_002
    assert peak < 5 * len(data)


def test_import_file_odd_paths(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "missing.reg", tmp_path / ("a" * 5000 + ".reg")):
        with pytest.raises(InputError) as info:
            import_file(path, Registry())
        assert "\n" not in str(info.value)
    empty = tmp_path / "empty.reg"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        import_file(empty, Registry())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_and_mutated_files(seed: int, tmp_path: Path) -> None:
    fuzz._prepare(["regfile"])
    check("regfile", fuzz.gen_reg(random.Random(seed)), tmp_path)
