"""Export: regedit's exact bytes (layout, order, escapes, hex wrapping, encodings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import InputError
from emulator.registry import Registry
from emulator.registry.regfile import (
    export,
    export_text,
    format_name,
    format_value,
    import_bytes,
    import_file,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reg"
K = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso"


def w(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass") + b"\0\0"


def crlf(*lines: str) -> str:
    return "".join(line + "\r\n" for line in lines)


def sample_registry() -> Registry:
    reg = Registry()
    reg.set_value(K, "b", 1, w('say "hi" C:\\x'))
    reg.set_value(K, "", 1, w("default"))
    reg.set_value(K, "dw", 4, b"\x2a\0\0\0")
    reg.set_value(K, "dw3", 4, b"\1\2\3")
    reg.set_value(K, "q", 11, b"\1" + b"\0" * 7)
    reg.set_value(K, "none", 0, b"")
    reg.set_value(K, "embedded", 1, "a\0b\0".encode("utf-16-le"))
    reg.set_value(K, "big", 3, bytes(range(60)))
    for name in ("beta", "_x", "Alpha"):
        reg.create_key(K + "\\" + name)
    return reg


GOLDEN = crlf(
    "Windows Registry Editor Version 5.00",
    "",
    f"[{K}]",
    '@="default"',
    '"b"="say \\"hi\\" C:\\\\x"',
    '"dw"=dword:0000002a',
    '"dw3"=hex(4):01,02,03',
    '"q"=hex(b):01,00,00,00,00,00,00,00',
    '"none"=hex(0):',
    '"embedded"="a"',  # regedit stops at the first NUL
    '"big"=hex:00,01,02,03,04,05,06,07,08,09,0a,0b,0c,0d,0e,0f,10,11,12,13,14,15,16,\\',
    "  17,18,19,1a,1b,1c,1d,1e,1f,20,21,22,23,24,25,26,27,28,29,2a,2b,2c,2d,2e,2f,\\",
    "  30,31,32,33,34,35,36,37,38,39,3a,3b",
    "",
    f"[{K}\\Alpha]",
    "",
    f"[{K}\\beta]",
    "",
    f"[{K}\\_x]",
    "",
)


def test_export_subtree_exact_bytes() -> None:
    data = export(sample_registry(), K)
    assert data[:2] == b"\xff\xfe"
    assert data[2:].decode("utf-16-le") == GOLDEN
    # Re-import gives the same registry and the same bytes.
    again = Registry()
    import_bytes(data, again)
    assert export(again, K) == data


def test_export_everything_lists_roots_with_content_only() -> None:
    reg = Registry()
    reg.set_value("HKCU\\Software\\A", "v", 4, b"\1\0\0\0")
    reg.set_value("HKEY_CURRENT_CONFIG", "root value", 1, w("r"))
    assert export_text(reg) == crlf(
        "Windows Registry Editor Version 5.00",
        "",
        "[HKEY_CURRENT_USER]",
        "",
        "[HKEY_CURRENT_USER\\Software]",
        "",
        "[HKEY_CURRENT_USER\\Software\\A]",
        '"v"=dword:00000001',
        "",
        "[HKEY_CURRENT_CONFIG]",
        '"root value"="r"',
        "",
    )


def test_export_empty_registry() -> None:
    assert export(Registry()) == b"\xff\xfe" + crlf(
        "Windows Registry Editor Version 5.00", "").encode("utf-16-le")


@pytest.mark.parametrize(
    ("name", "vtype", "size", "first_line_bytes"),
    [
        ("", 3, 60, 24),       # '@=hex:' is 6 characters
        ("big", 3, 60, 23),    # '"big"=hex:' is 10
        ("big", 3, 23, 23),    # fits exactly: no continuation
        ("big", 3, 24, 23),    # one byte over: one byte on the next line
        ("m", 7, 60, 22),      # '"m"=hex(7):' is 11
        ("x" * 70, 3, 5, 1),   # long name: break after the first byte
        ("\U0001f600ab", 3, 60, 22),  # a non-BMP character counts as two UTF-16 units
    ],
)
def test_hex_wrapping(name: str, vtype: int, size: int, first_line_bytes: int) -> None:
    text = format_value(name, vtype, bytes(size))
    lines = text.split("\r\n")
    assert lines[0].endswith(":" + ",".join(["00"] * first_line_bytes) + (",\\" if size > first_line_bytes else ""))
    rest = size - first_line_bytes
    for line in lines[1:-1]:
        assert line == "  " + "00," * 25 + "\\"
        rest -= 25
    if len(lines) > 1:
        assert lines[-1] == "  " + ",".join(["00"] * rest)
        assert 0 < rest <= 25
    if len(name) < 60:
        for line in lines:
            assert len(line.encode("utf-16-le")) // 2 <= 80


def test_string_forms_like_regedit_and_lossless() -> None:
    assert format_value("n", 1, w("a\r\nb")) == '"n"="a\\r\\nb"'
    assert format_value("n", 1, w("")) == '"n"=""'
    # regedit takes the last character as the terminator and stops at the first NUL.
    assert format_value("n", 1, b"") == '"n"=""'
    assert format_value("n", 1, w("abc\0def")) == '"n"="abc"'
    assert format_value("n", 1, "abc".encode("utf-16-le")) == '"n"="ab"'
    assert format_value("n", 1, b"a\0\0") == '"n"=""'  # odd length
    # lossless: what the quoted form would shorten is written as hex(1):
    assert format_value("n", 1, b"", lossless=True) == '"n"=hex(1):'
    assert format_value("n", 1, b"a\0b\0", lossless=True) == '"n"=hex(1):61,00,62,00'
    assert format_value("n", 1, b"a\0\0", lossless=True) == '"n"=hex(1):61,00,00'
    assert format_value("n", 1, w("plain"), lossless=True) == '"n"="plain"'
    assert format_value("n", 1, w("\ud800x")) == '"n"="\ud800x"'  # lone surrogate kept
    assert format_value('q"\\', 4, b"\xff\xff\xff\xff") == '"q\\"\\\\"=dword:ffffffff'
    assert format_value("d", 4, b"") == '"d"=hex(4):'
    assert format_value("t", 0xFFFF0001, b"\1") == '"t"=hex(ffff0001):01'
    assert format_value("be", 5, b"\0\0\0\1") == '"be"=hex(5):00,00,00,01'


def test_regedit4_export_is_ansi_and_narrows_expand_and_multi_sz() -> None:
    reg = Registry()
    reg.set_value(K, "s", 1, w("Caf\u00e9 \u20ac \u65e5\u0081\u0080\U0001f600"))
    reg.set_value(K, "e", 2, w("%A%"))
    reg.set_value(K, "m", 7, "a\0\u00e9\0\0".encode("utf-16-le"))
    reg.set_value(K, "b", 3, b"\1")
    data = export(reg, K, version=4)
    assert data == (
        b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso]\r\n"
        b'"s"="Caf\xe9 \x80 ?\x81??"\r\n'
        b'"e"=hex(2):25,41,25,00\r\n'
        b'"m"=hex(7):61,00,e9,00,00\r\n'
        b'"b"=hex:01\r\n\r\n'
    )
    again = Registry()
    import_bytes(data, again)
    assert again.get_value(K, "e") == (2, w("%A%"))
    assert again.get_value(K, "m") == reg.get_value(K, "m")


def test_export_key_checks() -> None:
    reg = sample_registry()
    with pytest.raises(InputError, match="no such key to export"):
        export(reg, K + "\\Missing")
    with pytest.raises(InputError, match="unknown root key"):
        export(reg, "HKEY_NOPE\\X")
    # An abbreviation names the key; the file shows the full root name (as regedit needs).
    assert export_text(reg, "HKLM\\SOFTWARE\\Contoso\\Alpha").splitlines()[2] == f"[{K}\\Alpha]"


def test_export_classes_root_merged_view() -> None:
    reg = Registry()
    reg.set_value("HKLM\\SOFTWARE\\Classes\\.txt", "", 1, w("txtfile"))
    reg.set_value("HKCU\\Software\\Classes\\.txt", "Content Type", 1, w("text/plain"))
    assert export_text(reg, "HKEY_CLASSES_ROOT\\.txt") == crlf(
        "Windows Registry Editor Version 5.00", "", "[HKEY_CLASSES_ROOT\\.txt]",
        '"Content Type"="text/plain"', "")


def test_fixtures_reexport() -> None:
    # The bundled sample is in regedit's export form: its re-export is identical.
    original = (FIXTURES / "ras_admindll_install.reg").read_bytes()
    reg = Registry()
    import_file(FIXTURES / "ras_admindll_install.reg", reg)
    assert export(reg, "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS") == original
    # A hand-written file normalises to regedit's form.
    reg = Registry()
    import_file(FIXTURES / "handwritten_lf.reg", reg)
    assert export_text(reg, K) == crlf(
        "Windows Registry Editor Version 5.00",
        "",
        f"[{K}]",
        "",
        f"[{K}\\Hand]",
        '@="default"',
        '"Spaced"="value with = sign"',
        '"Upper"=hex:de,ad,be,ef',
        '"Long"=hex:00,01,02,03,04,05',
        "",
    )


def test_export_version_argument() -> None:
    with pytest.raises(ValueError, match="version must be 4 or 5"):
        export(Registry(), version=3)


def test_layout_matches_windows_reg_export() -> None:
    """Values and expected text as Windows' reg.exe writes them (facts from Wine's
    conformance tests, which run on Windows): creation order, wrapping, quoting."""
    base = "HKEY_CURRENT_USER\\Software\\Wine\\reg_test"
    reg = Registry()
    reg.set_value(base, "DWORD", 4, (0x100).to_bytes(4, "little"))
    reg.set_value(base, "String", 1, w("Your text here..."))
    reg.set_value(base + "\\Subkey1", "Binary", 3, b"\x11\x22\x33\x44")
    reg.set_value(base + "\\Subkey1", "Undefined hex", 0x100, b"%PATH%\0")
    reg.set_value(base + "\\Subkey2a", 'double"quote', 1, w('"Hello, World!"'))
    reg.set_value(base + "\\Subkey2a\\Subkey2b", "", 1, w("Default value name"))
    reg.set_value(base + "\\Subkey2a\\Subkey2b", "Multiple strings", 7,
                  "Line1\0Line2\0Line3\0\0".encode("utf-16-le"))
    reg.set_value(base + "\\Subkey3a\\Subkey3b\\Subkey3c", "String expansion", 2,
                  w("%HOME%\\%PATH%"))
    reg.set_value(base + "\\Subkey3a\\Subkey3b\\Subkey3c", "Zero data type", 0, b"Value\0")
    reg.set_value(base + "\\Subkey4", "", 4, (0x12345678).to_bytes(4, "little"))
    reg.set_value(base + "\\Subkey4", "43981", 0xABCD, b"Value\0")
    assert export_text(reg, base) == crlf(
        "Windows Registry Editor Version 5.00",
        "",
        f"[{base}]",
        '"DWORD"=dword:00000100',
        '"String"="Your text here..."',
        "",
        f"[{base}\\Subkey1]",
        '"Binary"=hex:11,22,33,44',
        '"Undefined hex"=hex(100):25,50,41,54,48,25,00',
        "",
        f"[{base}\\Subkey2a]",
        '"double\\"quote"="\\"Hello, World!\\""',
        "",
        f"[{base}\\Subkey2a\\Subkey2b]",
        '@="Default value name"',
        '"Multiple strings"=hex(7):4c,00,69,00,6e,00,65,00,31,00,00,00,4c,00,69,00,6e,\\',
        "  00,65,00,32,00,00,00,4c,00,69,00,6e,00,65,00,33,00,00,00,00,00",
        "",
        f"[{base}\\Subkey3a]",
        "",
        f"[{base}\\Subkey3a\\Subkey3b]",
        "",
        f"[{base}\\Subkey3a\\Subkey3b\\Subkey3c]",
        '"String expansion"=hex(2):25,00,48,00,4f,00,4d,00,45,00,25,00,5c,00,25,00,50,\\',
        "  00,41,00,54,00,48,00,25,00,00,00",
        '"Zero data type"=hex(0):56,61,6c,75,65,00',
        "",
        f"[{base}\\Subkey4]",
        "@=dword:12345678",
        '"43981"=hex(abcd):56,61,6c,75,65,00',
        "",
    )


def test_empty_data_of_every_type() -> None:
    reg = Registry()
    for name, vtype in [("a", 0), ("b", 1), ("c", 2), ("d", 3), ("e", 4), ("f", 7), ("g", 0x100)]:
        reg.set_value(K, name, vtype, b"")
    assert export_text(reg, K).splitlines()[3:10] == [
        '"a"=hex(0):', '"b"=""', '"c"=hex(2):', '"d"=hex:', '"e"=hex(4):', '"f"=hex(7):',
        '"g"=hex(100):',
    ]


def test_format_name() -> None:
    assert format_name("") == "@"
    assert format_name('a"b\\c\r\n') == '"a\\"b\\\\c\\r\\n"'
