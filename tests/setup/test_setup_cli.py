"""``rasemu setup check`` through a real subprocess: exit codes 0/1/2, text and JSON output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import one_error_line, rasemu_bytes
from tests.setup.conftest import DLL64, NAME

REPO = Path(__file__).resolve().parents[2]
INSTALLERS = REPO / "fixtures" / "installers"


def run(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return rasemu_bytes("setup", "check", *args)


def test_good_pair_exits_0_and_prints_the_diffs() -> None:
    proc = run("--install", INSTALLERS / "good_install.cmd", "--uninstall",
               INSTALLERS / "good_uninstall.cmd", "--dll", DLL64, "--dll-name", NAME)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert "result:      PASS (0 error(s), 0 warning(s))" in out
    assert ("+ value HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll DLLPath = REG_SZ "
            "'C:\\\\Program Files\\\\Contoso\\\\RAS\\\\contoso_rasadm.dll'") in out
    assert "(nothing: the registry is as before the install)" in out


def test_bad_installer_exits_1_with_the_rule_in_json() -> None:
    proc = run("--install", INSTALLERS / "bad_system32_install.cmd", "--installer-bits", "32",
               "--dll", DLL64, "--dll-name", NAME, "--format", "json")
    assert proc.returncode == 1, proc.stderr.decode()
    data = json.loads(proc.stdout)
    assert [f["rule"] for f in data["findings"]] == ["R09"]
    assert data["passed"] is False and data["uninstall_diff"] is None
    assert {e["change"] for e in data["install_diff"]} == {"key-added", "value-added"}


def test_preexisting_option() -> None:
    proc = run("--install", INSTALLERS / "bad_overwrite_install.py", "--dll", DLL64,
               "--dll-name", NAME, "--preexisting", "C:\\Program Files\\Fabrikam\\fabadm.dll")
    assert proc.returncode == 1
    assert "R05" in proc.stdout.decode()


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    line = one_error_line(run("--install", tmp_path / "nope.cmd"))
    assert line == f"rasemu: error: {tmp_path / 'nope.cmd'}: no such reg.exe script installer file"


def test_reg_exe_syntax_error_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.cmd"
    script.write_bytes(b"@echo off\r\nreg add HKLM\\SOFTWARE\\X /v A /t REG_WORD /d 1 /f\r\n")
    line = one_error_line(run("--install", script))
    assert line.startswith(f"rasemu: error: {script}:2: reg add: unknown type 'REG_WORD' for /t")


def test_reg_file_syntax_error_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.reg"
    bad.write_bytes(b"Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n\"A\"=dword:xyz\r\n")
    line = one_error_line(run("--install", bad))
    assert line.startswith(f"rasemu: error: {bad}:4:")


def test_unknown_profile_and_kind(tmp_path: Path) -> None:
    assert "unknown host profile 'win95'" in one_error_line(
        run("--install", INSTALLERS / "good_install.reg", "--profile", "win95"))
    other = tmp_path / "setup.ps1"
    other.write_bytes(b"")
    assert "unknown installer kind '.ps1'" in one_error_line(run("--install", other))


def test_help() -> None:
    proc = run("--help")
    assert proc.returncode == 0 and b"--preexisting" in proc.stdout
