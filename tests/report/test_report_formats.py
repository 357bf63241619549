"""Reports from real conformance runs (engine + Python stand-ins), in every format."""

from __future__ import annotations

import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_helpers import DATA, engine_factory, validate

from emulator.conformance.findings import Finding, Severity
from emulator.conformance.run import check_dll, check_dlls
from emulator.report import SCHEMA, Report, write_atomic
from emulator.report import json as rjson
from emulator.report import junit as rjunit
from emulator.report import text as rtext

SCN = ["basic", "release-unknown"]


@pytest.fixture(scope="module")
def good() -> Report:
    return check_dll(DATA / "mini_good.py", scenarios=SCN, host_factory=engine_factory)


@pytest.fixture(scope="module")
def no_notify() -> Report:
    return check_dll(DATA / "mini_no_notify.py", scenarios=SCN, host_factory=engine_factory)


@pytest.fixture(scope="module")
def broken() -> Report:
    return check_dll(DATA / "mini_missing_exports.py", scenarios=SCN, host_factory=engine_factory)


@pytest.fixture(scope="module")
def pair() -> Report:
    return check_dlls([DATA / "mini_no_notify.py", DATA / "mini_refuse_all.py"], profile="win2003",
                      scenarios=["basic", "multi-dll"], host_factory=engine_factory)[0]


# -- the Report itself ---------------------------------------------------------------------------


def test_report_content(good: Report, no_notify: Report, broken: Report) -> None:
    assert good.passed and good.started and good.level_met == "strict" and good.loader == "python"
    assert good.stats["sessions"] == 7 and good.stats["calls"] > 20 and good.stats["seconds"] > 0
    assert [s.name for s in good.scenarios] == SCN and all(s.ok for s in good.scenarios)
    assert not no_notify.passed and {f.rule for f in no_notify.findings} >= {"R61"}
    assert no_notify.count(Severity.ERROR) == 1  # deduplicated across scenarios
    assert not broken.started and broken.level_met is None
    assert {"R48", "R55"} <= {f.rule for f in broken.findings}
    assert broken.scenarios[1].skipped == "the service did not start"


# -- JSON ----------------------------------------------------------------------------------------


def test_json_matches_the_schema(good: Report, no_notify: Report, broken: Report, pair: Report) -> None:
    schema = rjson.schema()
    for r in (good, no_notify, broken, pair):
        doc = json.loads(rjson.render([r]))
        assert validate(doc, schema) == [], r.dll
        assert doc["schema"] == SCHEMA == "rasemu-report/1"
    # the validator is not vacuous
    doc = json.loads(rjson.render([good]))
    del doc["stats"]["calls"]
    doc["findings"] = [{"rule": "R999", "severity": "fatal", "message": 1, "evidence": []}]
    errs = validate(doc, schema)
    assert any("calls" in e for e in errs) and any("R999" in e for e in errs)
    assert any("fatal" in e for e in errs) and any("message" in e for e in errs)


def test_json_content_and_round_trip(no_notify: Report) -> None:
    doc = json.loads(rjson.render([no_notify]))
    assert doc["dll"] == str(DATA / "mini_no_notify.py") and doc["profile"] == "win7-x64"
    assert doc["passed"] is False and doc["summary"]["error"] == 1
    assert doc["findings"][0]["rule"] == "R61" and doc["findings"][0]["severity"] == "error"
    assert doc["findings"][0]["evidence"][0]["call"] == "MprAdminGetIpAddressForUser"
    assert set(doc["stats"]) >= {"sessions", "calls", "seconds"}
    again = Report.from_json(doc).to_json()
    assert again == doc


def test_json_several_reports(good: Report, broken: Report) -> None:
    doc = json.loads(rjson.render([good, broken]))
    assert doc["schema"] == "rasemu-report-list/1"
    assert [r["dll"] for r in doc["reports"]] == [good.dll, broken.dll]


# -- text ----------------------------------------------------------------------------------------


def test_plain_text_groups_findings_by_rule(no_notify: Report, good: Report) -> None:
    out = rtext.render_plain([no_notify])
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("  R61 [error]"))
    assert "bNotifyRelease" in lines[i]  # the rule's own text
    assert lines[i + 1].startswith("    - error: MprAdminGetIpAddressForUser returned NO_ERROR")
    assert lines[i + 2].startswith("      evidence: {") and len(lines[i + 2]) < 200
    assert lines[-1].startswith("FAIL: 1 error(s)")
    assert "\x1b[" not in out
    assert rtext.render_plain([good]).splitlines()[-1].startswith("PASS: 0 error(s)")
    assert "level met  strict" in rtext.render_plain([good])


def test_rich_text(no_notify: Report) -> None:
    from rich.console import Console

    buf = io.StringIO()
    rtext.print_rich([no_notify], Console(file=buf, width=140, color_system=None))
    out = buf.getvalue()
    assert "Findings" in out and "R61" in out and "Scenarios" in out and "FAIL" in out


def test_evidence_excerpt_is_short() -> None:
    f = Finding("R61", Severity.ERROR, "m", ({"call": "x" * 500, "t": 1.5}, {"a": 1}))
    ex = rtext.evidence_excerpt(f)
    assert ex.endswith("… (+1 more)") and len(ex) <= rtext.EVIDENCE_CHARS + 12 and '"t"' not in ex


# -- JUnit ---------------------------------------------------------------------------------------


def test_junit_parses_and_has_one_case_per_rule(no_notify: Report, good: Report) -> None:
    from junitparser import Failure, JUnitXml

    xml = JUnitXml.fromstring(rjunit.render([good, no_notify]))
    suites = list(xml)
    assert [s.name for s in suites] == ["mini_good.py", "mini_no_notify.py"]
    good_suite, bad_suite = suites
    assert good_suite.failures == 0 and good_suite.tests == len(list(good_suite)) > 25
    names = [c.name.split()[0] for c in bad_suite]
    assert len(names) == len(set(names)) and "R61" in names and "R48" in names
    failed = [c for c in bad_suite if any(isinstance(r, Failure) for r in c.result)]
    assert [c.name.split()[0] for c in failed] == ["R61"]
    fail = next(r for r in failed[0].result if isinstance(r, Failure))
    assert fail.type == "R61" and "bNotifyRelease" in (fail.message or "")
    props = {p.name: p.value for p in bad_suite.properties()}
    assert props["rasemu.profile"] == "win7-x64" and props["rasemu.failed_rules"] == "R61"
    assert "R74" not in props["rasemu.rules"].split(",")  # NT 4.0 only


def test_junit_structure_follows_the_common_schema(broken: Report, pair: Report) -> None:
    root = ET.fromstring(rjunit.render([broken, pair]))
    assert root.tag == "testsuites"
    for suite in root:
        assert suite.tag == "testsuite"
        for attr in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname", "id", "package"):
            assert attr in suite.attrib, attr
        tags = [c.tag for c in suite]
        assert tags[0] == "properties" and tags[-2:] == ["system-out", "system-err"]
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("skipped", "")) == sum(1 for c in cases if c.find("skipped") is not None)
        for c in cases:
            assert set(c.attrib) == {"name", "classname", "time"}
            assert {x.tag for x in c} <= {"failure", "skipped", "system-out"}
    assert int(root.get("tests", "")) == sum(int(s.get("tests", "")) for s in root)
    suites = {s.get("name"): s for s in root}
    b = suites["mini_missing_exports.py"]
    assert {c.get("name", "").split()[0] for c in b.findall("testcase") if c.find("failure") is not None} == {"R48", "R55"}
    assert int(b.get("skipped", "")) > 20  # nothing else could be checked
    # several DLLs registered together: one suite each
    assert {"mini_no_notify.py", "mini_refuse_all.py"} <= set(suites)
    r61 = [c for c in suites["mini_refuse_all.py"].findall("testcase") if c.get("name", "").startswith("R61")]
    assert r61 and r61[0].find("failure") is None  # R61 belongs to the other DLL


# -- atomic writes -------------------------------------------------------------------------------


def test_write_atomic(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    write_atomic(target, "new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    assert os.listdir(tmp_path) == ["r.json"]
    with pytest.raises(OSError):
        write_atomic(tmp_path / "missing" / "r.json", "x")
    assert os.listdir(tmp_path) == ["r.json"]


# attributes and child order junit-10.xsd (the schema Jenkins/GitLab readers follow) allows
_SUITES_ATTRS = {"name", "time", "tests", "failures", "disabled", "errors"}
_SUITE_ATTRS = {"name", "tests", "failures", "errors", "time", "disabled", "skipped", "timestamp",
                "hostname", "id", "package", "file", "log", "url", "version", "group"}
_CASE_ATTRS = {"name", "assertions", "time", "classname", "status", "class", "file", "line"}
_CASE_ORDER = ["skipped", "error", "failure", "system-out", "system-err"]


def test_junit_attributes_and_child_order(no_notify: Report, broken: Report, pair: Report) -> None:
    root = ET.fromstring(rjunit.render([no_notify, broken, pair]))
    assert set(root.attrib) <= _SUITES_ATTRS
    for suite in root:
        assert set(suite.attrib) <= _SUITE_ATTRS
        props = suite.find("properties")
        assert props is not None
        for prop in props:
            assert prop.tag == "property" and set(prop.attrib) == {"name", "value"}
        for case in suite.findall("testcase"):
            assert set(case.attrib) <= _CASE_ATTRS
            order = [_CASE_ORDER.index(child.tag) for child in case]
            assert order == sorted(order)
            float(case.get("time", ""))
