"""``rasemu demo``: install, run and uninstall a bundled good DLL and a known-bad one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "emulator", "demo", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60)


def test_demo_shows_a_pass_and_a_caught_bad_dll(tmp_path: Path) -> None:
    res = demo(cwd=tmp_path)  # any folder: the samples are found next to the package
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    out = res.stdout
    good, bad = out.split("\n1. ", 1)[1].split("\n2. ", 1)
    assert good.startswith("good64.dll") and "\n   PASS: 0 error(s)" in good
    assert "registered  C:\\Program Files\\Contoso\\RAS\\contoso_rasadm.dll -> good64.dll (pe, x64)" in good
    assert "uninstall   registry as before the install: no findings" in good
    assert bad.startswith("bad_no_notify64.dll") and "\n   FAIL: 1 error(s)" in bad
    assert "error R61: MprAdminGetIpAddressForUser returned NO_ERROR" in bad
    assert "What happened:" in out
    assert "ok   the good DLL passes" in out and "ok   the known-bad DLL is caught with R61" in out
    assert "FAIL " not in out.split("What happened:")[1]
    assert "Traceback" not in out


def test_demo_json_holds_both_combined_reports(tmp_path: Path) -> None:
    res = demo("--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["expected"] is True
    assert doc["checks"] == {"good_passes": True, "bad_caught_with_R61": True}
    good, bad = doc["reports"]
    assert good["passed"] and not bad["passed"]
    assert [(f["rule"], f["extra"]["phase"]) for f in bad["findings"]
            if f["severity"] == "error"] == [("R61", "run")]
    for r in (good, bad):
        assert r["setup"]["installer"].endswith("good_install.reg")
        assert r["setup"]["uninstall_diff"] == []
