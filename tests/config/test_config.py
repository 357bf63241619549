"""The configuration file: discovery, validation (file:line: key: message), waivers, the gate,
and its wiring into ``rasemu check`` / ``rasemu run`` (CLI options override it)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from emulator.config import Config, Waiver, find_config, load_config, waive
from emulator.conformance.findings import Finding, Severity
from emulator.errors import InputError
from tests.helpers import rasemu

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
GOOD = STANDINS / "good.py"
NO_NOTIFY = STANDINS / "bad_no_notify.py"
DUP = STANDINS / "bad_dup_address.py"


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_config(path)
    return str(info.value)


# -- discovery --------------------------------------------------------------------------------


def test_found_from_a_subfolder_and_pyproject_without_section_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.rasemu]\nprofile = "win2008"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(sub) == tmp_path / "pyproject.toml"
    cfg = load_config(start=sub)
    assert cfg.profile == "win2008-x64" and cfg.path == tmp_path / "pyproject.toml"
    (tmp_path / "a" / "rasemu.toml").write_text('profile = "nt4"\n')
    assert load_config(start=sub).profile == "nt4-x86"


def test_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "rasemu.toml").write_text('profile = "nt4"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert find_config(repo) is None and load_config(start=repo) == Config()


def test_all_keys(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('[scenario]\nname = "mine"\n[[steps]]\ndo = "connect"\n')
    f = tmp_path / "rasemu.toml"
    f.write_text('profile = "win2003-x86"\nloader = "python"\nstrictness = "strict"\n'
                 'scenarios = ["basic", "mine.toml"]\nfail_on = "warning"\ntimeout = 2\n'
                 '[[waive]]\nrule = "R62"\nreason = "legacy"\ndll = "old*.dll"\n')
    cfg = load_config(f)
    assert (cfg.profile, cfg.loader, cfg.strictness, cfg.fail_on, cfg.timeout) == (
        "win2003-x86", "python", "strict", "warning", 2.0)
    assert cfg.scenarios == ("basic", str(tmp_path / "mine.toml"))  # relative to the file
    assert cfg.waivers == (Waiver("R62", "legacy", "old*.dll", f"{f}:7"),)
    assert cfg.get("profile", None, "x") == "win2003-x86" and cfg.get("profile", "nt4", "x") == "nt4"


# -- wrong input: file, line, key, did-you-mean -------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ('profile = "win7"\nprofil = "win7"\n',
     ":2: profil: unknown key (did you mean 'profile'?); known keys: profile, loader"),
    ('[[waive]]\nrule = "R61"\n', ":1: waive[1].reason: the waiver of R61 has no reason"),
    ('[[waive]]\nrule = "R61"\nreason = "  "\n', ":1: waive[1].reason: the waiver of R61 has no reason"),
    ('\n[[waive]]\nrule = "R6"\nreason = "x"\n', ":3: waive[1].rule: unknown rule id 'R6' (did you mean 'R06'?)"),
    ('[[waive]]\nrule = "R611"\nreason = "x"\n', "waive[1].rule: unknown rule id 'R611' (did you mean 'R61'?)"),
    ('[[waive]]\nrule = "R61"\nreason = "x"\n[[waive]]\nrule = "R62"\nresaon = "x"\n',
     ":6: waive[2].resaon: unknown key (did you mean 'reason'?)"),
    ('fail_on = "errors"\n', ":1: fail_on: expected error, warning or info, got 'errors' (did you mean 'error'?)"),
    ('loader = "wine"\n', "loader: expected auto, python, native or pe, got 'wine'"),
    ('timeout = -1\n', "timeout: expected a number of seconds > 0, got -1"),
    ('profile = "win10"\n', "profile: unknown host profile 'win10'"),
    ('scenarios = ["pool-exhaustoin"]\n', "(did you mean 'pool-exhaustion'?)"),
    ('scenarios = "basic"\n', "scenarios: expected a list of scenario names or .toml files"),
    ('waive = 3\n', "waive: expected a list of tables"),
    ('profile = \n', ":1:11: not valid TOML"),
])
def test_wrong_input_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    f = tmp_path / "rasemu.toml"
    f.write_text(text)
    msg = error_of(f)
    assert msg.startswith(str(f)) and expected in msg, msg


def test_pyproject_keys_are_shown_with_their_table(tmp_path: Path) -> None:
    f = tmp_path / "pyproject.toml"
    f.write_text('[project]\nname = "x"\n\n[tool.rasemu]\nstrictnes = "strict"\n')
    assert error_of(f) == (f"{f}:5: tool.rasemu.strictnes: unknown key (did you mean "
                           "'strictness'?); known keys: profile, loader, strictness, scenarios, "
                           "fail_on, timeout, waive")


def test_missing_config_file(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.toml").endswith("nope.toml: configuration file not found")


# -- waivers ------------------------------------------------------------------------------------


def test_waiver_dll_glob_matches_the_findings_dll() -> None:
    f1 = Finding("R62", Severity.ERROR, "m", subject="C:\\Windows\\System32\\old1.dll")
    f2 = Finding("R62", Severity.ERROR, "m", subject="C:\\Windows\\System32\\new.dll")
    f3 = Finding("R63", Severity.ERROR, "m", subject="C:\\Windows\\System32\\old1.dll")
    reg = {"C:\\Windows\\System32\\old1.dll": "/x/old1.dll", "C:\\Windows\\System32\\new.dll": "/x/new.dll"}
    out = waive([f1, f2, f3], [Waiver("R62", "why", "OLD*.dll", "c:1")], ["/x/old1.dll", "/x/new.dll"], reg)
    assert out[0].extra["waived"] == {"reason": "why", "config": "c:1", "dll": "OLD*.dll"}
    assert "waived" not in out[1].extra and "waived" not in out[2].extra


def test_check_waiver_keeps_the_finding_in_every_format(tmp_path: Path) -> None:
    (tmp_path / "rasemu.toml").write_text(
        'scenarios = ["basic"]\n[[waive]]\nrule = "R61"\nreason = "fixed in 2.1"\ndll = "bad_no_*"\n')
    res = rasemu("check", NO_NOTIFY, "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    (r61,) = [f for f in doc["findings"] if f["rule"] == "R61"]
    assert r61["severity"] == "error" and r61["waived"]["reason"] == "fixed in 2.1"
    assert doc["passed"] is True and doc["summary"]["waived"] == 1 and doc["summary"]["error"] == 1
    text = rasemu("check", NO_NOTIFY, cwd=tmp_path)
    assert text.returncode == 0
    assert "- error (waived: fixed in 2.1): MprAdminGetIpAddressForUser" in text.stdout
    assert "PASS: 0 error(s), 0 warning(s), 1 note(s); 1 waived" in text.stdout
    xml = rasemu("check", NO_NOTIFY, "--format", "junit", cwd=tmp_path)
    root = ET.fromstring(xml.stdout)
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("R61 "))
    assert case.find("failure") is None
    assert case.find("skipped").get("message") == "waived: fixed in 2.1"  # type: ignore[union-attr]
    assert root.get("failures") == "0"
    # the glob does not cover another DLL: bad_no_notify's twin under a different name fails
    other = tmp_path / "vendor.py"
    other.write_text(NO_NOTIFY.read_text())
    assert rasemu("check", other, cwd=tmp_path).returncode == 1


def test_cli_overrides_config_and_fail_on_gate(tmp_path: Path) -> None:
    (tmp_path / "rasemu.toml").write_text('scenarios = ["basic"]\nfail_on = "info"\nprofile = "nt4"\n')
    res = rasemu("check", GOOD, "--format", "json", cwd=tmp_path)
    doc = json.loads(res.stdout)
    assert res.returncode == 1 and doc["fail_on"] == "info" and doc["profile"] == "nt4-x86"
    assert [s["name"] for s in doc["scenarios"]] == ["basic"]
    res = rasemu("check", GOOD, "--fail-on", "error", "--profile", "win2008", "--format", "json",
                 cwd=tmp_path)
    doc = json.loads(res.stdout)
    assert res.returncode == 0 and doc["fail_on"] == "error" and doc["profile"] == "win2008-x64"
    run = rasemu("run", "--scenario", "basic", GOOD, cwd=tmp_path)
    assert run.returncode == 1 and "(gate: fail on info)" in run.stdout and "nt4-x86" in run.stdout


def test_explicit_config_and_bad_config_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "ci.toml"
    cfg.write_text('scenarios = ["basic"]\n[[waive]]\nrule = "R61"\nreason = "known"\n')
    assert rasemu("check", "--config", cfg, NO_NOTIFY, cwd=ROOT).returncode == 0
    assert rasemu("run", "--config", cfg, "--scenario", "basic", NO_NOTIFY, cwd=ROOT).returncode == 0
    cfg.write_text('[[waive]]\nrule = "R61"\n')
    res = rasemu("check", "--config", cfg, GOOD, cwd=ROOT)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == (f"rasemu: error: {cfg}:1: waive[1].reason: the waiver of R61 "
                                  "has no reason; every waiver must say why the finding is accepted")


def test_waived_report_round_trips_and_matches_the_schema() -> None:
    from emulator.config import apply_waivers
    from emulator.conformance.run import check_dll
    from emulator.report import Report
    from emulator.report import json as rjson
    from tests.report.report_helpers import validate

    r = check_dll(NO_NOTIFY, scenarios=["basic"])
    assert not r.passed
    apply_waivers(r, [Waiver("R61", "vendor ticket 7", None, "rasemu.toml:3")])
    assert r.passed and [f.rule for f in r.waived] == ["R61"] and r.failing == []
    doc = r.to_json()
    assert validate(doc, rjson.schema()) == []
    back = Report.from_json(json.loads(json.dumps(doc)))
    assert back.passed and back.waived[0].extra["waived"]["reason"] == "vendor ticket 7"
    r.fail_on = "info"  # the gate: R47 (info) now fails, R61 stays waived
    assert not r.passed and [f.rule for f in r.failing] == ["R47"]
