"""``rasemu check`` / ``run`` / ``scenarios`` driven as a user would: through ``python -m emulator``.

Wrong input gives exit status 2 and one clear error line naming the culprit, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import ROOT, one_error_line, rasemu

STANDINS = ROOT / "fixtures" / "standins"
DATA = ROOT / "tests" / "scenarios" / "data"
GOOD = STANDINS / "good.py"
NO_NOTIFY = STANDINS / "bad_no_notify.py"


def usage_error_line(res: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a click usage error (exit 2), which also prints Usage/Try lines."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    lines = [line for line in res.stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, res.stderr
    return lines[0]


# -- wrong input ---------------------------------------------------------------------------------


def test_missing_file() -> None:
    line = one_error_line(rasemu("check", "no/such/vendor.dll"))
    assert line == "rasemu: error: no/such/vendor.dll: no such file"


def test_not_a_dll(tmp_path: Path) -> None:
    line = one_error_line(rasemu("check", DATA / "notadll.txt"))
    assert "notadll.txt: not a DLL" in line and "'MZ'" in line
    line = one_error_line(rasemu("check", tmp_path))
    assert "not a file" in line
    dos = tmp_path / "dos.dll"
    dos.write_bytes(b"MZ\x90\x00" + bytes(200))
    assert "without a PE signature" in one_error_line(rasemu("check", dos))


def test_unknown_profile_lists_the_known_ones() -> None:
    line = one_error_line(rasemu("check", "--profile", "win10", GOOD))
    assert "unknown host profile 'win10'" in line and "win2003-x86" in line and "win7-x64" in line


def test_scenario_typos_name_the_field(tmp_path: Path) -> None:
    line = one_error_line(rasemu("check", "--scenario", "pool-exhaustoin", GOOD))
    assert "unknown scenario 'pool-exhaustoin' (did you mean 'pool-exhaustion'?)" in line
    bad = tmp_path / "mine.toml"
    bad.write_text('[scenario]\nname = "mine"\n[[steps]]\ndo = "connect"\ncout = 5\n')
    line = one_error_line(rasemu("check", "--scenario", bad, GOOD))
    assert f"{bad}: step 1: unknown field 'cout' for 'connect' (did you mean 'count'?)" in line
    bad.write_text('[scenario]\nname = "mine"\n[[steps]]\ndo = "connect"\ncount = -3\n')
    assert "step 1: field 'count' must be an integer >= 0, got -3" in one_error_line(
        rasemu("run", "--scenario", bad, GOOD))
    bad.write_text('[scenario\nname = "mine"\n')
    assert f"{bad}:1:" in one_error_line(rasemu("check", "--scenario", bad, GOOD))


def test_usage_errors() -> None:
    assert "--format" in usage_error_line(rasemu("check", "--format", "pdf", GOOD))
    assert "--loader" in usage_error_line(rasemu("check", "--loader", "wine", GOOD))
    assert "PATH" in usage_error_line(rasemu("check"))
    assert "--scenario" in usage_error_line(rasemu("run", GOOD))


def test_one_dll_profiles_refuse_a_list() -> None:
    line = one_error_line(rasemu("run", "--scenario", "basic", "--profile", "win2000", GOOD, GOOD))
    assert "needs" in line or "one admin DLL" in line
    line = one_error_line(rasemu("run", "--scenario", "quarantine", "--profile", "win2003", GOOD))
    assert "scenario 'quarantine' applies to win2008, win7 only" in line


def test_unwritable_output(tmp_path: Path) -> None:
    select = pytest.importorskip("emulator.loaders.select")
    del select
    line = one_error_line(rasemu("check", "--scenario", "basic", "-o", tmp_path / "no" / "r.json", GOOD))
    assert "cannot write the report" in line


# -- help and listing ----------------------------------------------------------------------------


def test_help_and_scenarios() -> None:
    for cmd in ("check", "run", "scenarios"):
        res = rasemu(cmd, "--help")
        assert res.returncode == 0 and "Usage:" in res.stdout
    res = rasemu("scenarios")
    assert res.returncode == 0
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert names[:3] == ["basic", "many-users", "pool-exhaustion"] and "release-unknown" in names
    assert "[profiles: win2008, win7]" in res.stdout
    res = rasemu("scenarios", "odd-names")
    assert res.returncode == 0 and res.stdout.startswith("[scenario]") and "{u*256}" in res.stdout


# -- real runs (Python stand-ins through the loader selection) -----------------------------------

needs_loaders = pytest.mark.skipif(
    not (ROOT / "emulator" / "loaders" / "select.py").exists(), reason="loader selection not built yet"
)


@needs_loaders
def test_check_good_passes_the_standard_set(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = rasemu("check", "--format", "json", "-o", out, GOOD)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert doc["schema"] == "rasemu-report/1" and doc["passed"] and doc["stats"]["sessions"] > 100
    assert {s["name"] for s in doc["scenarios"]} >= {"basic", "pool-exhaustion", "restart"}


@needs_loaders
def test_check_good_passes_in_every_format(tmp_path: Path) -> None:
    scn = ("--scenario", "basic", "--scenario", "pool-exhaustion", "--scenario", "odd-names")
    res = rasemu("check", *scn, GOOD)
    assert res.returncode == 0, res.stderr
    assert "PASS: 0 error(s)" in res.stdout and "level met  strict" in res.stdout
    out = tmp_path / "r.json"
    assert rasemu("check", *scn, "--format", "json", "-o", out, GOOD).returncode == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "rasemu-report/1" and doc["passed"] and doc["stats"]["sessions"] == 1 + 80 + 5
    assert [s["name"] for s in doc["scenarios"]] == ["basic", "pool-exhaustion", "odd-names"]
    res = rasemu("check", *scn, "--format", "junit", GOOD)
    root = ET.fromstring(res.stdout)
    assert root.tag == "testsuites" and root.get("failures") == "0"


@needs_loaders
def test_a_dll_that_cannot_load_is_a_finding_not_an_input_error() -> None:
    dll32 = ROOT / "fixtures" / "dlls" / "prebuilt" / "good32.dll"
    res = rasemu("check", "--scenario", "basic", "--format", "json", "--profile", "win7-x64", dll32)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    doc = json.loads(res.stdout)
    assert doc["started"] is False and [f["rule"] for f in doc["findings"] if f["severity"] == "error"] == ["R17"]
    assert "profile_source" not in doc  # an explicit profile is just that


@needs_loaders
def test_without_a_profile_a_32_bit_dll_runs_on_win7_x86() -> None:
    dll32 = ROOT / "fixtures" / "dlls" / "prebuilt" / "good32.dll"
    res = rasemu("check", "--scenario", "basic", "--format", "json", dll32)
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    assert doc["profile"] == "win7-x86" and doc["profile_source"] == "dll-machine"
    assert doc["started"] is True and doc["summary"]["error"] == 0
    text = rasemu("check", "--scenario", "basic", dll32).stdout
    assert "profile    win7-x86 (chosen from the DLL's machine; use --profile to choose)" in text


@needs_loaders
def test_without_a_profile_mixed_bitness_dlls_are_checked_one_by_one() -> None:
    pre = ROOT / "fixtures" / "dlls" / "prebuilt"
    res = rasemu("check", "--scenario", "basic", "--format", "json", pre / "good32.dll", pre / "good64.dll")
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    assert [(r["profile"], len(r["dlls"])) for r in doc["reports"]] == [("win7-x86", 1), ("win7-x64", 1)]
    run = rasemu("run", "--scenario", "basic", pre / "good32.dll", pre / "good64.dll")
    assert run.returncode == 2 and "different bitness" in run.stderr and "--profile" in run.stderr


@needs_loaders
def test_check_bad_dll_exits_1_and_names_the_rule(tmp_path: Path) -> None:
    res = rasemu("check", "--scenario", "basic", "--scenario", "many-users", NO_NOTIFY,
                 "--trace-dir", tmp_path / "traces")
    assert res.returncode == 1, res.stderr
    assert "R61 [error]" in res.stdout and "FAIL: 1 error(s)" in res.stdout
    traces = sorted(p.name for p in (tmp_path / "traces").iterdir())
    assert traces == ["bad_no_notify.basic.jsonl", "bad_no_notify.many-users.jsonl"]
    first = json.loads((tmp_path / "traces" / "bad_no_notify.basic.jsonl").read_text().splitlines()[0])
    assert {"seq", "call", "args", "returned"} <= set(first)


@needs_loaders
def test_separately_gives_one_report_per_dll() -> None:
    res = rasemu("check", "--separately", "--scenario", "basic", "--format", "json", GOOD, NO_NOTIFY)
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert [Path(r["dll"]).name for r in doc["reports"]] == ["good.py", "bad_no_notify.py"]
    assert [r["passed"] for r in doc["reports"]] == [True, False]
    together = json.loads(rasemu("check", "--scenario", "basic", "--format", "json", GOOD, NO_NOTIFY).stdout)
    assert [Path(d).name for d in together["dlls"]] == ["good.py", "bad_no_notify.py"]


@needs_loaders
def test_run_writes_a_golden_trace(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    res = rasemu("run", "--scenario", "multilink", GOOD, "--trace", out, "--golden")
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    calls = [e["call"] for e in events]
    assert calls.count("MprAdminAcceptNewLink") == 3 and calls.count("MprAdminLinkHangupNotification") == 3
    assert all("t" not in e for e in events)
    again = tmp_path / "t2.jsonl"
    rasemu("run", "--scenario", "multilink", GOOD, "--trace", again, "--golden")
    assert again.read_text() == out.read_text()  # golden traces are reproducible
