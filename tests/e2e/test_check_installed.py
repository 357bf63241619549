"""``check_installed`` in-process: how DLLPath entries resolve through the installer's fake file system."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from emulator.conformance.run import check_installed
from emulator.report import Report
from fixtures.installers import manifest

ROOT = Path(__file__).resolve().parents[2]
PREBUILT = ROOT / "fixtures" / "dlls" / "prebuilt"
GOOD64 = PREBUILT / "good64.dll"
ENTRIES = manifest()


def registered(report: Report) -> dict[str, str]:
    return {str(d["registered"]): str(d["path"]) for d in report.dll_info}


def test_bare_file_name_loads_through_the_system32_search_as_on_windows() -> None:
    e = ENTRIES["bad_relative"]
    report = check_installed(GOOD64, e["install"], e["uninstall"], keep_traces=False)
    assert report.started
    assert registered(report) == {"contoso_rasadm.dll": str(GOOD64)}
    phases = {(f.rule, f.extra["phase"]) for f in report.findings if f.severity.value != "info"}
    assert phases == {("R02", "install"), ("R02", "run")}  # the run-phase one is a warning


def test_other_vendors_dll_is_played_by_the_reference_dll() -> None:
    e = ENTRIES["good_py_preexisting"]
    report = check_installed(PREBUILT / "bad_no_notify64.dll", e["install"], e["uninstall"],
                             preexisting=e["preexisting"], keep_traces=False)
    paths = registered(report)
    assert paths["C:\\Program Files\\Fabrikam\\fabadm.dll"] == str(GOOD64)
    assert paths["C:\\Program Files\\Contoso\\RAS\\contoso_rasadm.dll"].endswith("bad_no_notify64.dll")
    assert any("played by rasemu's reference DLL" in line for line in report.setup["log"])  # type: ignore[index]


def test_a_file_the_installer_copied_from_its_own_folder_is_what_the_host_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a temp folder of its own, so parallel workers' checks cannot show up in the glob below
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    # the media folder carries the real DLL under another name; the installer copies that one
    shutil.copyfile(PREBUILT / "bad_no_notify64.dll", tmp_path / "vendor_real.dll")
    installer = tmp_path / "setup.cmd"
    installer.write_bytes(
        b'mkdir "%ProgramFiles%\\Vendor"\r\n'
        b'copy /y "%~dp0vendor_real.dll" "%ProgramFiles%\\Vendor\\vendor.dll"\r\n'
        b'reg add "HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll" /v DisplayName /t REG_SZ /d V /f\r\n'
        b'reg add "HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll" /v DLLPath /t REG_SZ '
        b'/d "%ProgramFiles%\\Vendor\\vendor.dll" /f\r\n')
    before = set(Path(tempfile.gettempdir()).glob("rasemu-installed-*"))
    report = check_installed(GOOD64, installer, dll_name="unused.dll", keep_traces=False)
    assert registered(report) == {"C:\\Program Files\\Vendor\\vendor.dll":
                                  "C:\\Program Files\\Vendor\\vendor.dll (copied out of the fake "
                                  "file system)"}
    # it ran the copied bytes (the no-notify DLL), not the DLL named on the command line
    assert {f.rule for f in report.findings if f.severity.value == "error"} == {"R61"}
    assert set(Path(tempfile.gettempdir()).glob("rasemu-installed-*")) == before


def test_dll_name_is_guessed_from_the_installer() -> None:
    e = ENTRIES["good_cmd"]
    report = check_installed(GOOD64, e["install"], keep_traces=False)
    assert report.passed
    assert any("holds good64.dll as C:\\Setup\\contoso_rasadm.dll" in line
               for line in report.setup["log"])  # type: ignore[index]


def test_json_round_trip_keeps_the_setup_and_the_phases() -> None:
    e = ENTRIES["bad_uninstall_leaves_displayname"]
    report = check_installed(GOOD64, e["install"], e["uninstall"], keep_traces=False)
    again = Report.from_json(report.to_json())
    assert again.setup == report.to_json()["setup"]
    phases = sorted((f.rule, f.extra["phase"]) for f in again.findings)
    assert phases == sorted((f.rule, f.extra["phase"]) for f in report.findings)
    assert ("R06", "uninstall") in phases
    assert again.to_json() == report.to_json()
