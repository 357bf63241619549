"""``rasemu reg`` and ``rasemu demo`` through a real subprocess: outputs, exit codes, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import one_error_line
from tests.helpers import rasemu_bytes as run

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "reg"
SAMPLE = FIXTURES / "ras_admindll_install.reg"


def test_export_to_file_writes_regedit_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out.reg"
    proc = run("reg", "export", "--from", SAMPLE, "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS",
               "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == SAMPLE.read_bytes()


def test_export_to_stdout_is_utf8_with_lf_and_merges_files_in_order(tmp_path: Path) -> None:
    later = tmp_path / "later.reg"
    later.write_bytes(b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll]\r\n"
                      b'"DisplayName"="Caf\xe9"\r\n')
    proc = run("reg", "export", "--from", SAMPLE, "--from", later, "HKLM\\SOFTWARE\\Microsoft\\RAS")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode("utf-8") == (
        "Windows Registry Editor Version 5.00\n\n"
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS]\n\n"
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll]\n"
        '"DisplayName"="Caf\u00e9"\n'
        '"DLLPath"="C:\\\\Windows\\\\System32\\\\contoso_rasadm.dll"\n\n'
    )


def test_export_regedit4(tmp_path: Path) -> None:
    out = tmp_path / "out4.reg"
    assert run("reg", "export", "--from", SAMPLE, "--regedit4", "-o", out).returncode == 0
    assert out.read_bytes().startswith(b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE]\r\n")


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    line = one_error_line(run("reg", "export", "--from", tmp_path / "nope.reg"))
    assert line == f"rasemu: error: {tmp_path / 'nope.reg'}: no such .reg file"


def test_syntax_error_names_file_line_column() -> None:
    line = one_error_line(run("reg", "export", "--from", "bad_dword.reg", cwd=FIXTURES))
    assert line == "rasemu: error: bad_dword.reg:5:15: expected 8 hex digits after 'dword:', got '1234'"


def test_abbreviated_root_is_rejected_strictly_and_skipped_leniently() -> None:
    line = one_error_line(run("reg", "export", "--from", "hklm_abbrev.reg", cwd=FIXTURES))
    assert line.startswith("rasemu: error: hklm_abbrev.reg:3:2: root key 'HKLM' is an abbreviation")
    proc = run("reg", "export", "--lenient", "--from", "hklm_abbrev.reg", cwd=FIXTURES)
    assert proc.returncode == 0
    assert proc.stderr.decode().splitlines() == [
        "rasemu: skipped: hklm_abbrev.reg:3:2: root key 'HKLM' is an abbreviation: regedit accepts "
        "only full names in .reg files (use HKEY_LOCAL_MACHINE); the key and its values are skipped",
        "rasemu: skipped: hklm_abbrev.reg:4:1: value skipped: the key line 3 above it did not open a key",
    ]
    assert '"Kept"="yes"' in proc.stdout.decode() and "DLLPath" not in proc.stdout.decode()


def test_export_unknown_key_and_missing_from() -> None:
    line = one_error_line(run("reg", "export", "--from", SAMPLE, "HKEY_LOCAL_MACHINE\\Nope"))
    assert line == "rasemu: error: HKEY_LOCAL_MACHINE\\Nope: no such key to export"
    proc = run("reg", "export")
    assert proc.returncode == 2 and "Missing option '--from'" in proc.stderr.decode()


def test_diff_exit_codes_and_output(tmp_path: Path) -> None:
    assert run("reg", "diff", SAMPLE, SAMPLE).returncode == 0
    changed = tmp_path / "changed.reg"
    changed.write_bytes(
        "\r\n".join([
            "Windows Registry Editor Version 5.00", "",
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll]",
            '"DisplayName"="Other"', '"Extra"=dword:00000001', "",
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll\\New]", "",
        ]).encode("cp1252"))
    proc = run("reg", "diff", SAMPLE, changed)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.decode().splitlines() == [
        f"--- {SAMPLE}",
        f"+++ {changed}",
        " [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll]",
        '-"DLLPath"="C:\\\\Windows\\\\System32\\\\contoso_rasadm.dll"',
        '-"DisplayName"="Contoso RAS Address Allocator"',
        '+"DisplayName"="Other"',
        '+"Extra"=dword:00000001',
        "+[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll\\New]",
    ]
    line = one_error_line(run("reg", "diff", SAMPLE, FIXTURES / "bad_hex.reg"))
    assert line.endswith("bad_hex.reg:5:14: expected two hex digits, got 'zz,03'")


def test_diff_patch_turns_a_into_b(tmp_path: Path) -> None:
    b = tmp_path / "b.reg"
    b.write_bytes(
        "\r\n".join([
            "Windows Registry Editor Version 5.00", "",
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll]",
            '"DisplayName"="Caf\u00e9 \\"2\\""', '"Multi"=hex(7):61,00,00,00,00,00', "",
            "[HKEY_CURRENT_USER\\Software\\New]", '@=dword:00000001', "",
        ]).encode("utf-16-le").join([b"\xff\xfe", b""]))
    patch = tmp_path / "patch.reg"
    assert run("reg", "diff", SAMPLE, b, "--patch", patch).returncode == 1
    applied = run("reg", "export", "--from", SAMPLE, "--from", patch)
    expected = run("reg", "export", "--from", b)
    assert applied.returncode == expected.returncode == 0, applied.stderr
    assert applied.stdout == expected.stdout
    assert b"DLLPath" not in applied.stdout and b"Multi" in applied.stdout


def test_check_command() -> None:
    proc = run("reg", "check", SAMPLE)
    assert proc.returncode == 0
    assert proc.stdout.decode().strip().endswith("0 skipped")
    assert one_error_line(run("reg", "check", FIXTURES / "utf16_no_bom.reg")).endswith(
        "not a registry script: looks like UTF-16LE without a byte order mark; regedit needs the BOM (FF FE)")


@pytest.mark.parametrize("args", [("reg", "--help"), ("reg", "export", "--help"), ("reg", "diff", "--help"),
                                  ("demo", "--help")])
def test_help(args: tuple[str, ...]) -> None:
    proc = run(*args)
    assert proc.returncode == 0 and b"Usage:" in proc.stdout


def test_export_help_says_stdout_is_utf8() -> None:
    assert b"UTF-8" in run("reg", "export", "--help").stdout
