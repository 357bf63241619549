"""Partial (interrupted) reports and the chosen-profile note in every renderer and the schema."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from report_helpers import validate

from emulator.report import Report, ScenarioSummary
from emulator.report import html as rhtml
from emulator.report import json as rjson
from emulator.report import junit as rjunit
from emulator.report import text as rtext

REASON = "interrupted by SIGTERM"


def partial_report() -> Report:
    return Report(
        dlls=["vendor32.dll"], profile="win7-x86", loader="pe", strictness="practice",
        level_met="strict", findings=[], stats={"sessions": 3, "calls": 40, "seconds": 1.5},
        scenarios=[ScenarioSummary("basic", True, 0, 0.1, None, 1, 10),
                   ScenarioSummary("many-users", False, 0, 1.2, None, 2, 30, interrupted=REASON),
                   ScenarioSummary("restart", False, 0, skipped=f"not run: {REASON}")],
        partial={"reason": REASON, "completed_scenarios": ["basic"],
                 "interrupted_scenario": "many-users", "not_run": ["restart"]},
        profile_source="dll-machine")


def test_partial_json_is_valid_against_the_schema_and_round_trips() -> None:
    r = partial_report()
    doc = r.to_json()
    assert validate(doc, rjson.schema()) == []
    assert doc["passed"] is False and doc["partial"]["reason"] == REASON
    assert doc["profile_source"] == "dll-machine"
    assert doc["scenarios"][1]["interrupted"] == REASON and "interrupted" not in doc["scenarios"][0]
    back = Report.from_json(doc)
    assert back.partial == r.partial and back.profile_source == "dll-machine"
    assert back.to_json() == doc


def test_text_shows_banner_profile_note_and_partial_verdict() -> None:
    text = rtext.render_plain([partial_report()])
    lines = text.splitlines()
    assert lines[1] == ("*** PARTIAL REPORT: the run was interrupted by SIGTERM. Completed scenarios: "
                        "basic. Interrupted: many-users. Not run: restart. The findings cover only "
                        "what ran. ***")
    assert "  profile    win7-x86 (chosen from the DLL's machine; use --profile to choose)" in lines
    assert "many-users INTERRUPTED" in text
    assert lines[-1] == "PARTIAL (interrupted by SIGTERM): 0 error(s), 0 warning(s), 0 note(s)"
    assert rtext.summary_line([partial_report()]).startswith(
        "PARTIAL (interrupted by SIGTERM): 1 DLL(s) in 1 run(s), 0 passed, 0 failed, 1 partial;")


def test_junit_skips_unfinished_scenarios_and_unproven_rules() -> None:
    root = ET.fromstring(rjunit.render([partial_report()]))
    suite = root.find("testsuite")
    assert suite is not None
    cases = {c.get("name", ""): c for c in suite.findall("testcase")}
    scen = {n: c for n, c in cases.items() if n.startswith("scenario ")}
    assert sorted(scen) == ["scenario many-users", "scenario restart"]
    for c in cases.values():
        skip = c.find("skipped")
        assert skip is not None and REASON in skip.get("message", ""), c.get("name")
    assert suite.get("skipped") == str(len(cases)) == suite.get("tests")


def test_html_has_the_partial_banner_and_badge() -> None:
    page = rhtml.render([partial_report()])
    assert '<div class="banner partial" role="alert"><strong>PARTIAL REPORT</strong>' in page
    assert '">PARTIAL</span>' in page and "<title>rasemu PARTIAL:" in page
    assert "chosen from the DLL&#x27;s machine" in page or "chosen from the DLL's machine" in page


def test_complete_reports_are_unchanged() -> None:
    r = partial_report()
    r.partial, r.profile_source = None, None
    doc = r.to_json()
    assert "partial" not in doc and "profile_source" not in doc and doc["passed"] is True
    assert "PARTIAL" not in rtext.render_plain([r]) and "PARTIAL" not in rhtml.render([r])
