"""``rasemu check DLL --install ... --uninstall ...`` end to end, through ``python -m emulator``.

The installer puts the DLL in place in a fake file system, the host finds it through the
DLLPath the installer wrote, the scenarios run, the uninstaller runs: one report, findings
labelled install / run / uninstall.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.installers import manifest
from tests.helpers import one_error_line, rasemu

ROOT = Path(__file__).resolve().parents[2]
GOOD64 = ROOT / "fixtures" / "dlls" / "prebuilt" / "good64.dll"
STANDIN = ROOT / "fixtures" / "standins" / "good.py"
INSTALLERS = ROOT / "fixtures" / "installers"
ENTRIES = manifest()
PHASES = {"install", "run", "uninstall"}


def entry_args(entry: dict[str, Any], dll: Path | None = None) -> list[str | Path]:
    args: list[str | Path] = [dll or entry["dll"] or entry["install"], "--install", entry["install"],
                              "--profile", entry["profile"], "--installer-bits", str(entry["bits"])]
    if entry["uninstall"] is not None:
        args += ["--uninstall", entry["uninstall"]]
    for pre in entry["preexisting"]:
        args += ["--preexisting", pre]
    return args


def check_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    res = rasemu("check", *args, "--format", "json")
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode in (0, 1), (res.returncode, res.stderr)
    return res.returncode, json.loads(res.stdout)


def rules(doc: dict[str, Any], *phases: str, errors_only: bool = False) -> set[str]:
    """Rule ids of the error and warning findings of ``phases``."""
    bad = {"error"} if errors_only else {"error", "warning"}
    return {f["rule"] for f in doc["findings"]
            if f["severity"] in bad and f["extra"]["phase"] in phases}


def assert_combined(doc: dict[str, Any], entry: dict[str, Any]) -> None:
    assert all(f["extra"]["phase"] in PHASES for f in doc["findings"]), doc["findings"]
    setup = doc["setup"]
    assert setup["installer"] == str(entry["install"])
    assert setup["uninstaller"] == (None if entry["uninstall"] is None else str(entry["uninstall"]))
    assert setup["install_diff"] and all("text" in e for e in setup["install_diff"])
    assert setup["log"]


# -- good installer pairs ---------------------------------------------------------------------

GOOD_PAIRS = sorted(n for n, e in ENTRIES.items() if not e["rule"] and e["dll"])


@pytest.mark.parametrize("name", GOOD_PAIRS)
def test_good_pair_with_the_pe_dll(name: str) -> None:
    entry = ENTRIES[name]
    code, doc = check_json(*entry_args(entry))
    assert code == 0 and doc["passed"], [(f["rule"], f["message"]) for f in doc["findings"]]
    assert_combined(doc, entry)
    assert doc["started"] and doc["loader"] == "pe"
    # the host found the DLL through the registry, at the path the installer wrote
    ours = [d for d in doc["dll_info"] if "contoso_rasadm.dll" in d["registered"]]
    assert len(ours) == 1 and ours[0]["path"] == str(entry["dll"])
    assert ours[0]["registered"] != str(entry["dll"])
    assert doc["setup"]["uninstall_diff"] == []
    assert sum(s["sessions"] for s in doc["scenarios"]) > 100


@pytest.mark.parametrize("name", ["good_reg", "good_cmd", "good_py"])
def test_good_pair_with_the_python_stand_in(name: str) -> None:
    entry = ENTRIES[name]
    code, doc = check_json(*entry_args(entry, STANDIN))
    assert code == 0 and doc["passed"], [(f["rule"], f["message"]) for f in doc["findings"]]
    assert doc["loader"] == "python" and doc["dll_info"][0]["path"] == str(STANDIN)
    r08 = [f for f in doc["findings"] if f["rule"] == "R08"]
    assert [f["severity"] for f in r08] == ["info"] and "stand-in" in r08[0]["message"]


def test_self_registering_dll_registers_itself_and_is_loaded_from_system32() -> None:
    entry = ENTRIES["good_selfreg"]
    code, doc = check_json(*entry_args(entry))
    assert rules(doc, "install", "uninstall") == set()
    registered = [d["registered"] for d in doc["dll_info"]]
    assert "C:\\Windows\\System32\\selfreg64.dll" in registered
    # the selfreg sample exports only two callbacks: the host says so, it does not crash
    assert code == 1 and "R48" in rules(doc, "run")


# -- known-bad installers ---------------------------------------------------------------------

BAD = sorted(n for n, e in ENTRIES.items() if e["rule"])


@pytest.mark.parametrize("name", BAD)
def test_bad_installer_caught_with_exactly_its_rule(name: str) -> None:
    entry = ENTRIES[name]
    code, doc = check_json(*entry_args(entry))
    assert code == 1 and not doc["passed"]
    assert_combined(doc, entry)
    assert rules(doc, "install", "uninstall") == {entry["rule"]}, doc["findings"]
    phase = "uninstall" if entry["rule"] in ("R06", "R07") else "install"
    assert rules(doc, phase, errors_only=True) == {entry["rule"]}


def test_wrong_registered_path_is_a_load_failure_not_a_crash(tmp_path: Path) -> None:
    installer = tmp_path / "typo_install.cmd"
    installer.write_bytes(
        b'@echo off\r\n'
        b'mkdir "%ProgramFiles%\\Contoso\\RAS"\r\n'
        b'copy /y "%~dp0contoso_rasadm.dll" "%ProgramFiles%\\Contoso\\RAS\\contoso_rasadm.dll"\r\n'
        b'reg add "HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll" /v DisplayName /t REG_SZ '
        b'/d "Contoso" /f /reg:64\r\n'
        b'reg add "HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll" /v DLLPath /t REG_SZ '
        b'/d "%ProgramFiles%\\Contoso\\contoso_rasadm.dll" /f /reg:64\r\n')
    code, doc = check_json(GOOD64, "--install", installer)
    assert code == 1 and not doc["started"]
    assert rules(doc, "install") == {"R08"}
    (load,) = [f for f in doc["findings"] if f["rule"] == "R15" and f["severity"] == "error"]
    assert load["extra"]["phase"] == "run"
    assert load["message"].startswith(
        "cannot load C:\\Program Files\\Contoso\\contoso_rasadm.dll: ")
    assert all(s["sessions"] == 0 for s in doc["scenarios"])
    # no temporary path of rasemu's leaks into the report
    assert "rasemu-installed-" not in json.dumps(doc)


def test_uninstaller_leaving_displayname_is_r06_in_the_uninstall_phase() -> None:
    entry = ENTRIES["bad_uninstall_leaves_displayname"]
    res = rasemu("check", *entry_args(entry))
    assert res.returncode == 1, res.stderr
    out = res.stdout
    head = "Findings (uninstall phase"
    assert head in out and "the uninstaller left DisplayName behind" in out.split(head)[1]
    left = out.split("Left behind after the uninstall")[1]
    assert "DisplayName = REG_SZ 'Contoso RAS Address Allocator'" in left
    assert "Registry changes by the install" in out and out.rstrip().splitlines()[-1].startswith("FAIL")


def test_json_report_matches_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from emulator.report.json import schema

    _, doc = check_json(*entry_args(ENTRIES["bad_uninstall_deletes_key"]))
    jsonschema.validate(doc, schema())
    bad = dict(doc, setup={**doc["setup"], "install_diff": [{"change": "moved"}]})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())


def test_combined_junit_parses(tmp_path: Path) -> None:
    from junitparser import Failure, JUnitXml

    out = tmp_path / "report.xml"
    res = rasemu("check", *entry_args(ENTRIES["bad_uninstall_leaves_displayname"]),
                 "--format", "junit", "-o", out)
    assert res.returncode == 1 and res.stdout == "", res.stderr
    (suite,) = list(JUnitXml.fromfile(str(out)))
    cases = {c.name.split()[0]: c for c in suite}
    assert {"R01", "R06", "R10", "R61"} <= set(cases)  # setup rules next to the DLL rules
    failed = sorted(k for k, c in cases.items() if any(isinstance(r, Failure) for r in c.result))
    assert failed == ["R06"]
    fail = next(r for r in cases["R06"].result if isinstance(r, Failure))
    assert "(uninstall phase)" in (fail.text or "")
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]
    assert props["rasemu.uninstaller"].endswith("bad_uninstall_leaves_displayname.reg")


def test_html_page_has_the_setup_section(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    entry = ENTRIES["bad_uninstall_leaves_displayname"]
    res = rasemu("check", *entry_args(entry), "--format", "html", "-o", page)
    assert res.returncode == 1, res.stderr
    html = page.read_text("utf-8")
    setup = html.split('id="r0-setup"', 1)[1]
    assert "Registry changes by the install" in setup
    assert "Left behind after the uninstall" in setup
    assert "+ value HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll DisplayName" in setup
    assert 'data-phase="uninstall"' in html and 'href="#r0-setup"' in html


# -- wrong input: one line, exit 2 ------------------------------------------------------------


def test_missing_installer() -> None:
    line = one_error_line(rasemu("check", GOOD64, "--install", "no/such/setup.cmd"))
    assert line == "rasemu: error: no/such/setup.cmd: no such reg.exe script installer file"


def test_unknown_installer_kind() -> None:
    line = one_error_line(rasemu("check", GOOD64, "--install", INSTALLERS / "manifest.toml"))
    assert "manifest.toml: unknown installer kind '.toml'" in line


def test_reg_exe_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    script = tmp_path / "setup.cmd"
    script.write_bytes(b"@echo off\r\nreg add HKLM\\SOFTWARE\\X /v A /t REG_BOGUS /d 1 /f\r\n")
    line = one_error_line(rasemu("check", GOOD64, "--install", script))
    assert f"{script}:2: " in line and "REG_BOGUS" in line


def test_installer_options_need_install_and_one_dll() -> None:
    line = one_error_line(rasemu("check", GOOD64, "--uninstall", INSTALLERS / "good_uninstall.reg"))
    assert "--uninstall needs --install" in line
    line = one_error_line(rasemu("check", GOOD64, STANDIN, "--install",
                                 INSTALLERS / "good_install.reg"))
    assert "--install checks one DLL" in line
