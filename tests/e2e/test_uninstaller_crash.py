"""An uninstaller that crashes after the run: the run's results stay, the crash is an R06
finding of the uninstall phase naming the failure and its file:line (exit 1, not 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.conformance.run import check_installed
from emulator.errors import InputError
from emulator.setup import SetupSession

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "fixtures" / "standins" / "good.py"
INSTALL = ROOT / "fixtures" / "installers" / "good_install.py"

CRASHING = '''"""Uninstaller that removes DisplayName, then crashes before it removes DLLPath."""
import winreg

KEY = r"SOFTWARE\\Microsoft\\RAS\\AdminDll"
with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, KEY, 0,
                    winreg.KEY_ALL_ACCESS | winreg.KEY_WOW64_64KEY) as key:
    winreg.DeleteValue(key, "DisplayName")
    entries = None
    entries.remove("contoso_rasadm.dll")
'''


@pytest.fixture
def crashing(tmp_path: Path) -> Path:
    path = tmp_path / "crash_uninstall.py"
    path.write_text(CRASHING)
    return path


def test_cli_keeps_the_run_and_reports_the_crash_as_r06(crashing: Path) -> None:
    pytest.importorskip("pyfakefs")
    res = subprocess.run(
        [sys.executable, "-m", "emulator", "check", str(STANDIN), "--install", str(INSTALL),
         "--uninstall", str(crashing), "--dll-name", "contoso_rasadm.dll", "--scenario", "basic",
         "--scenario", "many-users", "--format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "error:" not in res.stderr
    doc = json.loads(res.stdout)
    # the run phase is all there
    assert [(s["name"], s["ok"]) for s in doc["scenarios"]] == [("basic", True), ("many-users", True)]
    assert doc["stats"]["calls"] > 0
    crash = [f for f in doc["findings"] if f["extra"]["phase"] == "uninstall"
             and "the uninstaller failed" in f["message"]]
    assert len(crash) == 1 and crash[0]["rule"] == "R06" and crash[0]["severity"] == "error"
    assert f"{crashing}:9" in crash[0]["message"]  # file:line of the failing statement
    assert "AttributeError" in crash[0]["message"]
    # what the crash left behind is checked too: DLLPath still names the DLL
    assert doc["setup"]["uninstall_diff"], "the half-done uninstall left changes behind"
    assert any("failed" in line and "uninstall" in line for line in doc["setup"]["log"])


def test_library_check_installed_keeps_going(crashing: Path) -> None:
    pytest.importorskip("pyfakefs")
    report = check_installed(STANDIN, INSTALL, crashing, dll_name="contoso_rasadm.dll",
                             scenarios=["basic"], keep_traces=False)
    assert report.started and report.scenarios[0].ok
    assert any(f.rule == "R06" and f.extra["phase"] == "uninstall" and "failed at" in f.message
               for f in report.findings)
    assert not report.passed


def test_setup_session_still_raises_without_keep_going(crashing: Path) -> None:
    pytest.importorskip("pyfakefs")
    session = SetupSession(INSTALL, crashing, dll=STANDIN, dll_name="contoso_rasadm.dll",
                           pe_expected=False)
    session.install()
    with pytest.raises(InputError, match="AttributeError"):
        session.uninstall()
