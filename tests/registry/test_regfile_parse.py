"""Parsing and importing .reg files: every feature and every error path (file:line:column)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import InputError
from emulator.registry import Registry
from emulator.registry.regfile import (
    CreateKey,
    DeleteKey,
    DeleteValue,
    SetValue,
    import_bytes,
    import_file,
    parse,
    parse_file,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reg"
V5 = "Windows Registry Editor Version 5.00"
K = "HKEY_LOCAL_MACHINE\\SOFTWARE\\T"


def u16(text: str) -> bytes:
    return b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")


def body(*lines: str, header: str = V5, key: str = K) -> bytes:
    return u16("\n".join([header, "", f"[{key}]", *lines, ""]))


def values(data: bytes, *, strict: bool = True) -> dict[str, tuple[int, bytes]]:
    reg = Registry()
    import_bytes(data, reg, name="t.reg", strict=strict)
    return {name: (t, d) for name, t, d in reg.value_items(K)}


def err(data: bytes, *, name: str = "t.reg") -> str:
    with pytest.raises(InputError) as info:
        parse(data, name=name)
    return str(info.value)


def w(text: str) -> bytes:
    return text.encode("utf-16-le") + b"\0\0"


# -- the happy paths ---------------------------------------------------------


def test_ops_carry_file_line_column() -> None:
    reg = parse(body('"a"="x"', "  @=dword:00000001", '"a"=-', f"[-{K}]"), name="f.reg")
    assert reg.version == 5 and reg.encoding == "utf-16-le"
    assert reg.ops == [
        CreateKey(K, "f.reg", 3, 1),
        SetValue(K, "a", 1, w("x"), "f.reg", 4, 1),
        SetValue(K, "", 4, b"\1\0\0\0", "f.reg", 5, 3),
        DeleteValue(K, "a", "f.reg", 6, 1),
        DeleteKey(K, "f.reg", 7, 1),
    ]


def test_string_escapes_and_default_value() -> None:
    got = values(body(r'"q\"uo\\te"="C:\\dir\\\"x\" \n\r"', '@="d"'))
    assert got['q"uo\\te'] == (1, w('C:\\dir\\"x" \n\r'))
    assert got[""] == (1, w("d"))


def test_blanks_around_equals_and_trailing_comment() -> None:
    got = values(body('"a" = "v" ; note', '"b"=dword:0000000a ;c', '"c"=hex:01,02 ; c'))
    assert got == {"a": (1, w("v")), "b": (4, b"\n\0\0\0"), "c": (3, b"\1\2")}


def test_dword_value_is_little_endian() -> None:
    assert values(body('"d"=dword:DEADbeef'))["d"] == (4, bytes.fromhex("efbeadde"))


@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 0xA, 0xB, 0xFF, 0x7FFFFFFF, 0xFFFF0001, 0xFFFFFFFF])
def test_hex_n_any_type(n: int) -> None:
    got = values(body(f'"v"=hex({n:x}):01,02,03,00'))
    expected = b"\1\2\3\0"
    if n in (1, 2, 7):  # string types: regedit appends the missing NUL character
        expected += b"\0\0"
    assert got["v"] == (n, expected)


def test_hex_continuation_with_leading_blanks_comments_and_blank_lines() -> None:
    data = body('"b"=hex:01,02,\\', "    03,04,\\", "", "; comment", "\t05, 06,\\ ; c", "  07")
    assert values(data)["b"] == (3, bytes(range(1, 8)))


def test_empty_hex_values() -> None:
    got = values(body('"a"=hex:', '"b"=hex(0):', '"c"=hex(2):', ))
    assert got == {"a": (3, b""), "b": (0, b""), "c": (2, b"")}


def test_string_types_get_a_terminating_nul() -> None:
    reg = parse(body('"e"=hex(2):41,00', '"m"=hex(7):41,00,00,00', '"s"=hex(1):41,00'))
    data = {op.name: op.data for op in reg.ops if isinstance(op, SetValue)}
    assert data == {"e": b"A\0\0\0", "m": b"A\0\0\0", "s": b"A\0\0\0"}
    assert any("terminating NUL" in n.reason for n in reg.notes)


def test_crlf_lf_and_cr_line_ends_are_equivalent() -> None:
    text = "\n".join([V5, "", f"[{K}]", '"a"=hex:01,\\', "  02", '"b"="x"', ""])
    results = []
    for nl in ("\r\n", "\n", "\r"):
        results.append(values(b"\xff\xfe" + text.replace("\n", nl).encode("utf-16-le")))
    assert results[0] == results[1] == results[2] == {"a": (3, b"\1\2"), "b": (1, w("x"))}


def test_ansi_file_is_cp1252() -> None:
    data = "\r\n".join([V5, "", f"[{K}]", '"n"="Caf\u00e9 \u20ac"', ""]).encode("cp1252")
    reg = parse(data)
    assert reg.encoding == "cp1252"
    assert values(data)["n"] == (1, w("Caf\u00e9 \u20ac"))


def test_ansi_undefined_cp1252_bytes_map_to_same_code_point() -> None:
    data = b"REGEDIT4\r\n\r\n[" + K.encode() + b']\r\n"n"="\x81\x9d"\r\n'
    assert values(data)["n"] == (1, w("\x81\x9d"))


def test_utf8_with_bom() -> None:
    data = b"\xef\xbb\xbf" + "\n".join([V5, "", f"[{K}]", '"\u65e5"="\U0001f600"', ""]).encode()
    assert parse(data).encoding == "utf-8-sig"
    assert values(data)["\u65e5"] == (1, w("\U0001f600"))


def test_regedit4_widens_ansi_string_hex_data() -> None:
    data = u16("\n".join(["REGEDIT4", "", f"[{K}]", '"p"=hex(2):25,41,e9,25', '"m"=hex(7):61,00,62,00,00',
                          '"b"=hex:41,e9', '"s"="\u00e9"', ""]))
    got = values(data)
    assert got["p"] == (2, w("%A\u00e9%"))
    assert got["m"] == (7, "a\0b\0\0".encode("utf-16-le"))
    assert got["b"] == (3, b"A\xe9")  # binary data is not converted
    assert got["s"] == (1, w("\u00e9"))


def test_version5_string_hex_data_is_utf16() -> None:
    assert values(body('"p"=hex(2):25,00,41,00,00,00'))["p"] == (2, w("%A"))


def test_root_names_are_case_insensitive_and_canonicalised() -> None:
    reg = parse(body('"a"="b"', key="hkey_local_machine\\SOFTWARE\\T"))
    assert reg.ops[0] == CreateKey(K, "<bytes>", 3, 1)


def test_comment_after_key_line() -> None:
    assert parse(u16(f"{V5}\n\n[{K}] ; the key\n")).ops == [CreateKey(K, "<bytes>", 3, 1)]


def test_key_name_ends_at_last_bracket() -> None:
    reg = parse(u16(f"{V5}\n\n[{K}\\a]b]\n"))
    assert reg.ops == [CreateKey(K + "\\a]b", "<bytes>", 3, 1)]


def test_root_key_alone_and_all_roots() -> None:
    for root in ("HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "HKEY_USERS", "HKEY_CURRENT_CONFIG",
                 "HKEY_CLASSES_ROOT"):
        reg = Registry()
        import_bytes(u16(f"{V5}\n\n[{root}\\X]\n\"v\"=\"1\"\n"), reg)
        assert reg.get_value(f"{root}\\X", "v") == (1, w("1"))


def test_delete_key_and_value_semantics() -> None:
    reg = Registry()
    reg.set_value(K + "\\Sub\\Deep", "x", 4, b"\1\0\0\0")
    reg.set_value(K, "keep", 1, w("k"))
    reg.set_value(K, "gone", 1, w("g"))
    report = import_bytes(u16(f'{V5}\n\n[-{K}\\Sub]\n[-{K}\\Missing]\n[{K}]\n"gone"=-\n"never"=-\n'), reg)
    assert not reg.key_exists(K + "\\Sub")
    assert reg.value_items(K) == [("keep", 1, w("k"))]
    assert (report.keys_deleted, report.values_deleted) == (1, 1)


def test_later_lines_override_earlier_ones() -> None:
    got = values(body('"a"="1"', '"A"=dword:00000002'))
    assert got == {"a": (4, b"\2\0\0\0")}


def test_import_into_32bit_view_redirects_software_but_not_ras() -> None:
    reg = Registry()
    data = u16(f"{V5}\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso]\n\"a\"=\"1\"\n\n"
               "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll]\n\"DLLPath\"=\"c:\\\\x.dll\"\n")
    import_bytes(data, reg, view=32)
    assert reg.key_exists("HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Contoso", view=64)
    assert not reg.key_exists("HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso", view=64)
    # R10: the AdminDll key is shared, so the 64-bit service sees the 32-bit installer's value.
    assert reg.get_value("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll", "DLLPath", view=64)


def test_fixture_files_import() -> None:
    reg = Registry()
    for name in ("handwritten_lf.reg", "regedit4_ansi.reg", "utf8_bom.reg", "ras_admindll_install.reg"):
        report = import_file(FIXTURES / name, reg)
        assert report.clean, report.skipped
    hand = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso\\Hand"
    assert reg.value_items(hand) == [
        ("Spaced", 1, w("value with = sign")), ("", 1, w("default")),
        ("Upper", 3, bytes.fromhex("deadbeef")), ("Long", 3, bytes(range(6))),
    ]
    assert not reg.key_exists("HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso\\Temp")
    assert reg.get_value("HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso\\Legacy", "Path") == (
        2, w("%SystemRoot%\\ras"))
    assert reg.get_value("HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll", "DLLPath") == (
        1, w("C:\\Windows\\System32\\contoso_rasadm.dll"))


def test_ras_sample_follows_contract_r01_r03() -> None:
    reg = Registry()
    import_file(FIXTURES / "ras_admindll_install.reg", reg)
    key = "HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll"
    assert reg.get_value(key, "DllPath")[0] == 1  # R02/R13: REG_SZ, name case-insensitive
    assert reg.get_value(key, "DisplayName")[0] == 1  # R03


# -- strict errors: file:line:column and what was expected -------------------


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['"d"=dword:1234'], "t.reg:4:11: expected 8 hex digits after 'dword:', got '1234'"),
        (['"d"=dword:123456789'], "t.reg:4:11: expected 8 hex digits after 'dword:', got 9"),
        (['"d"=dword:'], "t.reg:4:11: expected 8 hex digits after 'dword:'"),
        (['"d"='], "t.reg:4:5: expected data after '='"),
        (['"d"=dword:0000000g'], "t.reg:4:11: expected 8 hex digits after 'dword:', got '0000000g'"),
        (['"d"=dword: 00000001'], "t.reg:4:11: expected 8 hex digits after 'dword:', got ' 00000001'"),
        (['"h"=hex:01,zz'], "t.reg:4:12: expected two hex digits, got 'zz'"),
        (['"h"=hex:01,1,02'], "t.reg:4:12: expected two hex digits, got '1'"),
        (['"h"=hex:01,100'], "t.reg:4:12: hex byte '100' is larger than ff"),
        (['"h"=hex:01 02'], "t.reg:4:12: expected ',' between hex bytes, got '02'"),
        (['"h"=hex:01,02,'], "t.reg:4:14: trailing ',' at the end of a hex list"),
        (['"h"=hex:01,02\\', "  03"], "t.reg:4:14: expected ',' before the continuation '\\'"),
        (['"h"=hex:01,\\ x', "  03"], "t.reg:4:14: unexpected text after the continuation '\\': 'x'"),
        (['"h"=hex:01,\\', '"x"="y"'], "t.reg:5:1: expected hex bytes on the continuation line"),
        (['"h"=hex(:01'], "t.reg:4:9: expected 'hex(N):' with N in hex"),
        (['"h"=hex(1ffffffff):01'], "t.reg:4:9: value type hex(1ffffffff) is larger than ffffffff"),
        (['"h"=hex():01'], "t.reg:4:9: 'hex():' without a type number is read as hex(0):"),
        (['"s"="abc'], "t.reg:4:5: unterminated string: expected a closing '\"'"),
        (['"s"="a\\'], "t.reg:4:7: unterminated string: the line ends after '\\'"),
        (['"s"="a\\0b"'], "t.reg:4:7: '\\0' is not allowed in a string"),
        (['"s"="a\\tb"'], "t.reg:4:7: unknown escape '\\t' in a string"),
        (['"s"="a" x'], "t.reg:4:9: unexpected text after the closing '\"': 'x'"),
        (['"s"=-x'], "t.reg:4:6: unexpected text after '-': 'x'"),
        (['"n=1'], "t.reg:4:1: unterminated value name"),
        (['"n" "v"'], "t.reg:4:5: expected '=' after the value name, got '\"v\"'"),
        (['@:"v"'], "t.reg:4:2: expected '=' after the value name"),
        (['"n"=str:"v"'], "t.reg:4:5: expected '\"string\"', 'dword:', 'hex:', 'hex(N):' or '-' after '=', got 'str:\"v\"'"),
        (['"n"=DWORD:00000001'], "t.reg:4:5: expected '\"string\"', 'dword:'"),
        (["junk"], "t.reg:4:1: expected '[KEY]', '\"name\"=', '@=', a ';' comment or a blank line, got 'junk'"),
        (["# hash comment"], "t.reg:4:1: expected '[KEY]'"),
        ([f"[{K}"], "t.reg:4:31: expected ']' at the end of the key line"),
        ([f"[{K}] x"], "t.reg:4:33: unexpected text after ']': 'x'"),
        (["[ HKEY_LOCAL_MACHINE\\X]"], "t.reg:4:2: key name starts with a blank"),
        (["[HKLM\\SOFTWARE\\X]"], "t.reg:4:2: root key 'HKLM' is an abbreviation: regedit accepts only full names in .reg files (use HKEY_LOCAL_MACHINE)"),
        (["[HKCU\\Software\\X]"], "t.reg:4:2: root key 'HKCU' is an abbreviation"),
        (["[-HKLM\\SOFTWARE\\X]"], "t.reg:4:3: root key 'HKLM' is an abbreviation"),
        (["[HKEY_NOWHERE\\X]"], "t.reg:4:2: expected a root key name (HKEY_LOCAL_MACHINE"),
        (["[HKEY_DYN_DATA\\X]"], "t.reg:4:2: HKEY_DYN_DATA exists only on Windows 9x"),
        (["[-HKEY_LOCAL_MACHINE]"], "t.reg:4:3: cannot delete the root key HKEY_LOCAL_MACHINE"),
        (["[-SOFTWARE\\X]"], "t.reg:4:3: expected a root key name after '[-', got 'SOFTWARE\\\\X'"),
        (["[HKEY_LOCAL_MACHINE\\a\\\\b]"], "t.reg:4:21: bad key path 'HKEY_LOCAL_MACHINE\\\\a\\\\\\\\b': empty key name component"),
        (["[HKEY_LOCAL_MACHINE\\" + "k" * 256 + "]"], "t.reg:4:21: bad key path"),
    ],
)
def test_strict_errors(lines: list[str], message: str) -> None:
    assert err(body(*lines)).startswith(message)


def test_value_before_any_key_is_an_error() -> None:
    assert err(u16(f'{V5}\n\n"v"="x"\n')) == (
        "t.reg:3:1: value outside a key section (no '[KEY]' line is open above it)")


def test_file_ending_inside_continuation() -> None:
    assert err(u16(f'{V5}\n\n[{K}]\n"h"=hex:01,\\')) == (
        "t.reg:4:12: the file ends inside a hex list continued with '\\'")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "t.reg: not a registry script: the file is empty"),
        (u16("REGEDIT5\n"), "t.reg:1:1: expected the header 'Windows Registry Editor Version 5.00' or 'REGEDIT4', got 'REGEDIT5': regedit accepts this header but imports nothing"),
        (u16(V5 + " \n"), "t.reg:1:1: trailing blanks after the header; regedit does not accept this file"),
        (u16(" " + V5 + "\n"), "t.reg:1:1: blanks before the header"),
        (u16("[HKEY_LOCAL_MACHINE\\X]\n"), "t.reg:1:1: not a registry script: expected the header"),
        ((V5 + "\r\n").encode("utf-16-le"), "t.reg: not a registry script: looks like UTF-16LE without a byte order mark"),
        (b"\xfe\xff" + (V5 + "\r\n").encode("utf-16-be"), "t.reg: not a registry script: UTF-16 big-endian"),
        (b"\xff\xfe" + (V5 + "\r\n").encode("utf-16-le") + b"x", "t.reg: UTF-16LE file has an odd number of bytes"),
        (b"\xef\xbb\xbf" + (V5 + "\r\n\r\n\xff").encode("latin-1"), "t.reg:3: invalid UTF-8 byte 0xff"),
        (b"\xef\xbb\xbf\xff\xfe" + (V5 + "\r\n").encode("utf-16-le"), "t.reg:1: invalid UTF-8 byte 0xff"),
    ],
)
def test_file_level_errors(data: bytes, message: str) -> None:
    assert err(data).startswith(message)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.reg: no such \.reg file"):
        parse_file(tmp_path / "nope.reg")
    with pytest.raises(InputError, match="is a directory"):
        parse_file(tmp_path)


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad_dword.reg", "bad_dword.reg:5:15: expected 8 hex digits after 'dword:', got '1234'"),
        ("bad_hex.reg", "bad_hex.reg:5:14: expected two hex digits, got 'zz,03'"),
        ("hklm_abbrev.reg", "hklm_abbrev.reg:3:2: root key 'HKLM' is an abbreviation"),
        ("unterminated_string.reg", "unterminated_string.reg:4:8: unterminated string"),
        ("no_header.reg", "no_header.reg:1:1: not a registry script"),
        ("utf16_no_bom.reg", "utf16_no_bom.reg: not a registry script: looks like UTF-16LE"),
        ("value_outside_key.reg", "value_outside_key.reg:3:1: value outside a key section"),
        ("garbage_line.reg", "garbage_line.reg:4:1: expected '[KEY]'"),
        ("truncated_continuation.reg", "truncated_continuation.reg:4:18: the file ends inside a hex list"),
    ],
)
def test_damaged_fixtures_strict(fixture: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        import_file(FIXTURES / fixture, Registry())
    assert str(info.value).startswith(str(FIXTURES / message))


def test_strict_error_leaves_registry_untouched() -> None:
    reg = Registry()
    with pytest.raises(InputError):
        import_file(FIXTURES / "bad_hex.reg", reg)
    assert not reg.key_exists("HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso")


# -- lenient mode: what regedit does, with each skipped thing reported --------


def test_lenient_skips_like_regedit_and_reports_positions() -> None:
    data = body(
        '"ok"="1"',
        "junk line",
        '"short"=dword:12',
        '"bad"=hex:01,zz',
        '"s"="unterminated',
        '"t"="a\\tb"',
        '"trail"=hex:01,02,',
        '"n"=str:"x"',
        "[HKLM\\SOFTWARE\\X]",
        '"lost"="1"',
        f"[{K}]",
        '"after"="2"',
    )
    reg = Registry()
    report = import_bytes(data, reg, name="l.reg", strict=False)
    assert [str(i) for i in report.skipped] == [
        "l.reg:5:1: expected '[KEY]', '\"name\"=', '@=', a ';' comment or a blank line, got 'junk line'",
        "l.reg:7:14: expected two hex digits, got 'zz'",
        "l.reg:8:5: unterminated string: expected a closing '\"'",
        "l.reg:11:5: expected '\"string\"', 'dword:', 'hex:', 'hex(N):' or '-' after '=', got 'str:\"x\"'",
        "l.reg:12:2: root key 'HKLM' is an abbreviation: regedit accepts only full names in .reg files "
        "(use HKEY_LOCAL_MACHINE); the key and its values are skipped",
        "l.reg:13:1: value skipped: the key line 12 above it did not open a key",
    ]
    assert {n.line for n in report.notes} == {6, 9, 10}
    assert dict((n, (t, d)) for n, t, d in reg.value_items(K)) == {
        "ok": (1, w("1")), "short": (4, b"\x12\0\0\0"), "t": (1, w("atb")),
        "trail": (3, b"\1\2"), "after": (1, w("2")),
    }
    assert not reg.key_exists("HKEY_LOCAL_MACHINE\\SOFTWARE\\X")


def test_lenient_bad_continuation_line_is_consumed_like_regedit() -> None:
    # regedit drops the value and the offending line (here a key line), so the next
    # values still go to the previous key.
    data = body('"h"=hex:01,\\', "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Other]", '"v"="x"')
    reg = Registry()
    report = import_bytes(data, reg, strict=False)
    assert [i.line for i in report.skipped] == [5]
    assert reg.value_items(K) == [("v", 1, w("x"))]
    assert not reg.key_exists("HKEY_LOCAL_MACHINE\\SOFTWARE\\Other")


def test_lenient_unclosed_key_line_keeps_previous_key_open() -> None:
    data = body(f"[{K}\\Broken", '"v"="x"')
    reg = Registry()
    report = import_bytes(data, reg, strict=False)
    assert [i.line for i in report.skipped] == [4]
    assert reg.value_items(K) == [("v", 1, w("x"))]


def test_lenient_delete_with_bad_root_stops_import() -> None:
    data = body('"a"="1"', "[-HKLM\\SOFTWARE\\X]", f"[{K}]", '"b"="2"')
    reg = Registry()
    report = import_bytes(data, reg, strict=False)
    assert "regedit stops the import here" in report.skipped[0].reason
    assert reg.value_items(K) == [("a", 1, w("1"))]


def test_lenient_fuzzy_header_imports_nothing() -> None:
    reg = Registry()
    report = import_bytes(u16(f"REGEDIT5\n\n[{K}]\n\"a\"=\"1\"\n"), reg, strict=False)
    assert "imports nothing" in report.notes[0].reason and report.version == 0
    assert not reg.key_exists(K)


def test_lenient_still_rejects_files_regedit_rejects() -> None:
    with pytest.raises(InputError, match="not a registry script"):
        parse(u16("hello\n"), strict=False)


def test_lenient_odd_utf16_and_bad_utf8_are_noted() -> None:
    reg = parse(b"\xff\xfe" + (V5 + "\r\n").encode("utf-16-le") + b"x", strict=False)
    assert "odd trailing byte" in reg.notes[0].reason
    reg = parse(b"\xef\xbb\xbf" + (V5 + "\r\n\r\n[" + K + ']\r\n"a"="\xff"\r\n').encode("latin-1"),
                strict=False)
    assert reg.ops[1] == SetValue(K, "a", 1, w("\ufffd"), "<bytes>", 4, 1)


# -- streaming: the file is decoded ~1 MB at a time; chunk edges must not matter -----


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64])
@pytest.mark.parametrize("nl", ["\r\n", "\n", "\r"])
@pytest.mark.parametrize("encoding", ["utf-16", "cp1252"])
def test_chunk_edges_do_not_change_the_result(
    chunk: int, nl: str, encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emulator.registry.regfile as regfile

    lines = [V5, "", f"[{K}\\\u00e9]", '"a"="x\u00e9"', '"b"=hex:01,02,\\', "  03", "", '@=dword:00000001', ""]
    if encoding == "utf-16":
        lines[3] = '"a"="\U0001f600 \ud83d\ude00x"'  # surrogate pairs may straddle a chunk edge
        data = b"\xff\xfe" + nl.join(lines).encode("utf-16-le", "surrogatepass")
    else:
        data = nl.join(lines).encode("cp1252")
    whole = parse(data)
    monkeypatch.setattr(regfile, "_CHUNK", chunk)
    assert parse(data) == whole
    assert [op.line for op in whole.ops] == [3, 4, 5, 8]


def test_hex_comment_cases_like_regedit() -> None:
    # A comment after the data ends the list even when a backslash follows inside it.
    got = values(body('"a"=hex:01 ; comment \\', '"b"=hex:02,\\ ; more', "  03"))
    assert got == {"a": (3, b"\1"), "b": (3, b"\2\3")}


def test_ansi_file_that_looks_like_utf8_gets_a_note() -> None:
    data = "\r\n".join([V5, "", f"[{K}]", '"n"="Gr\u00fc\u00dfe"', ""]).encode("utf-8")
    reg = parse(data)  # strict: still accepted, read as cp1252 like regedit does
    assert reg.ops[1] == SetValue(K, "n", 1, w("Gr\u00c3\u00bc\u00c3\u0178e"), "<bytes>", 4, 1)
    assert "look like UTF-8" in reg.notes[0].reason
    assert not parse(data.replace("Gr\u00fc\u00dfe".encode(), "Gr\u00fc\u00dfe".encode("cp1252"))).notes


def test_value_name_too_long_is_a_parse_error() -> None:
    assert err(body('"' + "n" * 16384 + '"="x"')).startswith(
        "t.reg:4:1: value name longer than 16383 characters")


def test_windows31_format() -> None:
    lines = ["REGEDIT", "HKEY_CLASSES_ROOT\\.a = Value0", "HKEY_CLASSES_ROOT\\.b =  Value2",
             "HKEY_CLASSES_ROOT\\.c = Value3 ", "HKEY_CLASSES_ROOT\\.d  Value5", "",
             "HKEY_CLASSES_ROOT\\.e", "HKEY_CLASSES_ROOT\\.f =Value1"]
    reg = Registry()
    report = import_bytes("\r\n".join(lines).encode("cp1252"), reg)
    assert report.version == 3
    got = {k: reg.get_value("HKEY_CLASSES_ROOT\\" + k, "") for k in (".a", ".b", ".c", ".d", ".e", ".f")}
    assert got == {".a": (1, w("Value0")), ".b": (1, w(" Value2")), ".c": (1, w("Value3 ")),
                   ".d": (1, w("Value5")), ".e": (1, w("")), ".f": (1, w("Value1"))}
    # Windows 3.1 files hold only HKEY_CLASSES_ROOT lines; regedit ignores the rest.
    data = "\r\n".join(["REGEDIT", "junk", "HKEY_CLASSES_ROOT\\.g = x"]).encode()
    assert err(data) == "t.reg:2:1: expected 'HKEY_CLASSES_ROOT\\...' (Windows 3.1 REGEDIT format), got 'junk'"
    lenient = parse(data, strict=False)
    assert [i.line for i in lenient.skipped] == [2] and len(lenient.ops) == 2
