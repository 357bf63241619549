"""The HTML report without a browser: structure, escaping, charts from real traces, downsampling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_html_support import (
    HOSTILE_USERS,
    STANDINS,
    StrictTree,
    csp_of,
    hostile_scenario,
    parse,
    sha256_source,
    synthetic_trace,
    visible_text,
)

from emulator.conformance.findings import Finding, Severity
from emulator.conformance.rules import RULES
from emulator.conformance.run import check_dll, check_dlls
from emulator.report import Report, ScenarioSummary
from emulator.report import html as rhtml

# -- fixtures: real conformance runs of the Python stand-ins ---------------------------------------


@pytest.fixture(scope="module")
def no_notify() -> Report:
    return check_dll(STANDINS / "bad_no_notify.py")


@pytest.fixture(scope="module")
def good() -> Report:
    return check_dll(STANDINS / "good.py")


@pytest.fixture(scope="module")
def not_started() -> Report:
    return check_dll(STANDINS / "bad_no_accept_link.py")


@pytest.fixture(scope="module")
def page(no_notify: Report) -> StrictTree:
    return well_formed(rhtml.render([no_notify]))


def well_formed(text: str) -> StrictTree:
    """Parse a page and check what every page must satisfy."""
    tree = parse(text)
    assert tree.errors == [], tree.errors[:5]
    assert [n.tag for n in tree.stack] == ["#root"], "unclosed elements"
    assert tree.doctype == ["DOCTYPE html"]
    ids = [n.attrs["id"] for n in tree.root.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    # self-contained: no external resource, no link element, no src attribute anywhere
    for n in tree.root.iter():
        assert n.tag not in ("link", "img", "iframe", "object", "embed"), n.tag
        assert "src" not in n.attrs, n.tag
        href = n.attrs.get("href")
        assert href is None or href.startswith("#"), href
        assert not any(k.startswith("on") for k in n.attrs), (n.tag, n.attrs)
    styles, scripts = tree.root.find_all("style"), tree.root.find_all("script")
    assert len(styles) == 1 and len(scripts) == 1
    css, js = styles[0].all_text(), scripts[0].all_text()
    assert "url(" not in css and "@import" not in css and "http" not in css + js
    csp = csp_of(tree)
    assert csp["default-src"] == "'none'"
    assert csp["style-src"] == sha256_source(css) and csp["script-src"] == sha256_source(js)
    body = tree.root.find_all("body")[0]
    assert body.attrs["data-ready"] == "0"
    return tree


def section_text(tree: StrictTree, sid: str) -> str:
    """Text of the heading with id ``sid`` and everything after it up to the next h2."""
    parts: list[str] = []
    on = False
    for n in tree.root.iter():
        if n.tag == "h2":
            on = n.attrs.get("id") == sid
        if on and n.tag not in ("style", "script"):
            parts.append("".join(n.text))
    return " ".join(parts)


# -- structure -------------------------------------------------------------------------------------


def test_failing_report_summary(page: StrictTree, no_notify: Report) -> None:
    hero = page.root.find_all("header", class_="hero")[0]
    assert "fail" in hero.attrs["class"].split()
    text = re.sub(r"\s+", " ", hero.all_text())
    assert "FAIL" in text and "bad_no_notify.py" in text
    assert "FAIL — 1 error, 0 warnings, 1 note" in text
    meta = {dt.all_text(): dd.all_text() for dt, dd in zip(hero.find_all("dt"), hero.find_all("dd"), strict=True)}
    assert meta["profile"] == "win7-x64" and meta["loader"] == "python"
    assert meta["strictness"] == "practice" and meta["fails on"] == "errors"
    assert meta["level met"] == "strict (documented set) and practice"
    assert meta["sessions · calls"] == f"{no_notify.stats['sessions']:,} · {no_notify.stats['calls']:,}"
    assert meta["rasemu"] == no_notify.version and meta["service started"] == "yes"
    counts = {n.attrs["class"].split()[1]: n.all_text() for n in hero.find_all("div", class_="count")}
    assert counts["error"].startswith("1") and counts["warning"].startswith("0") and counts["info"].startswith("1")
    assert "registered as C:\\Windows\\System32\\bad_no_notify.py" in text


def test_findings_grouped_by_rule_with_rule_text(page: StrictTree, no_notify: Report) -> None:
    groups = page.root.find_all("article", class_="rule")
    assert [g.attrs["data-rule"] for g in groups] == ["R61", "R47"]  # errors first
    r61 = groups[0]
    assert "sev-error" in r61.attrs["class"]
    text = r61.all_text()
    assert RULES["R61"].text.replace("`", "") in text
    assert "did not write" in text or "without writing *bNotifyRelease" in text
    ev = r61.find_all("details", class_="evidence")
    assert len(ev) == 1 and "open" not in ev[0].attrs
    code = ev[0].all_text()
    assert "MprAdminGetIpAddressForUser" in code and "bNotifyRelease=2779096485" in code


def test_scenario_table(page: StrictTree, no_notify: Report) -> None:
    table = page.root.find_all("table")[0]
    rows = table.find_all("tr")[1:]
    assert len(rows) == len(no_notify.scenarios)
    cells = {r.find_all("td")[0].all_text(): [c.all_text() for c in r.find_all("td")] for r in rows}
    assert cells["basic"][1] == "failed" and cells["basic"][2] == "2"
    assert cells["many-users"][5] == "50"  # peak addresses out at once
    assert cells["multi-dll"][1] == "skipped: needs 2 DLLs"


def test_timeline_one_panel_per_traced_scenario(page: StrictTree, no_notify: Report) -> None:
    panels = page.root.find_all("div", role="tabpanel")
    traced = [n for n, ev in no_notify.traces.items() if ev]
    assert [p.find_all("h3")[0].all_text() for p in panels] == traced
    tabs = page.root.find_all("button", role="tab")
    assert len(tabs) == len(traced)
    basic = panels[0].find_all("svg", class_="timeline")[0]
    labels = ["".join(t.text) for t in basic.find_all("text", class_="lbl")]
    assert labels == ["VPN1-0"]
    bars = basic.find_all("rect", class_="bar-ok")
    assert len(bars) == 1  # alice's one session
    assert "session 1 on VPN1-0" in bars[0].all_text() and "192.168.100.10" in bars[0].all_text()
    assert len(basic.find_all("circle", class_="mk")) == len(no_notify.traces["basic"])
    many = panels[1].find_all("svg", class_="timeline")[0]
    assert len(many.find_all("text", class_="lbl")) == 60  # VPN1-0 .. VPN1-59
    assert len(many.find_all("rect", class_="bar-ok")) == 60


def test_pool_charts(page: StrictTree) -> None:
    cards = page.root.find_all("div", class_="card")
    pool = [c for c in cards if c.find_all("svg", class_="pool")]
    names = [c.find_all("h3")[0].text[0] for c in pool]
    assert names[:3] == ["basic", "many-users", "pool-exhaustion"]
    many = pool[1]
    assert "peak 50" in many.all_text() and "60 addresses handed out" in many.all_text()
    assert "all released" in many.all_text()
    # the step path climbs to 50: its highest point (smallest y) sits on the top gridline's level
    path = many.find_all("path", class_="v4")[0].attrs["d"]
    ys = [float(v) for v in re.findall(r"[ML][\d.]+ ([\d.]+)", path)]
    assert min(ys) < max(ys)


def test_passing_report_has_no_findings_box(good: Report) -> None:
    tree = well_formed(rhtml.render([good]))
    hero = tree.root.find_all("header", class_="hero")[0]
    assert "fail" not in hero.attrs["class"].split()
    assert tree.root.find_all("span", class_="badge")[0].all_text() == "PASS"
    # good.py still gets the R47 note about variant selection; remove it to get an empty report
    empty = Report(good.dlls, good.profile, good.loader, good.strictness, good.level_met, [], good.stats,
                   good.scenarios, good.started, good.dll_info, traces=good.traces)
    tree = well_formed(rhtml.render([empty]))
    assert not tree.root.find_all("article", class_="rule")
    box = tree.root.find_all("div", class_="ok-box")
    assert len(box) == 1 and "No findings." in box[0].all_text()
    assert "0 findings about 0 rules" in section_text(tree, "r0-findings")


def test_load_failure(not_started: Report) -> None:
    tree = well_formed(rhtml.render([not_started]))
    banner = tree.root.find_all("div", class_="banner")
    assert len(banner) == 1 and "did not start" in banner[0].all_text()
    assert [g.attrs["data-rule"] for g in tree.root.find_all("article", class_="rule")] == ["R48", "R15"]
    assert "MprAdminAcceptNewLink" in tree.root.find_all("article", class_="rule")[0].all_text()
    assert "No timeline: the service did not start" in section_text(tree, "r0-timeline")
    assert not tree.root.find_all("svg")
    assert "No address was handed out" in section_text(tree, "r0-pool")
    text = visible_text(tree)
    assert "skipped: the service did not start" in text and "level met none" in text.replace("\n", " ")


def test_report_without_traces(no_notify: Report) -> None:
    """A report rebuilt from its JSON (no traces) still renders, and says why there is no timeline."""
    back = Report.from_json(no_notify.to_json())
    tree = well_formed(rhtml.render([back]))
    assert "carries no call trace" in section_text(tree, "r0-timeline")
    assert [g.attrs["data-rule"] for g in tree.root.find_all("article", class_="rule")] == ["R61", "R47"]


def test_several_reports_on_one_page(tmp_path: Path) -> None:
    reports = check_dlls([STANDINS / "good.py", STANDINS / "bad_dup_address.py"], together=False,
                         scenarios=["basic", "many-users"])
    tree = well_formed(rhtml.render(reports))
    sections = tree.root.find_all("section", class_="report")
    assert [s.attrs["data-passed"] for s in sections] == ["1", "0"]
    links = [a.attrs["href"] for a in tree.root.find_all("nav", class_="contents")[0].find_all("a")]
    assert links == ["#r0", "#r1"]
    assert "R63" in [g.attrs["data-rule"] for g in sections[1].find_all("article", class_="rule")]
    # a DLL handing every user the same address: occupancy counts each hand-out (50 at the peak)
    pool = [c for c in sections[1].find_all("div", class_="card") if c.find_all("svg", class_="pool")]
    assert "peak 50" in pool[1].all_text()
    assert tree.root.find_all("title")[0].all_text().startswith("rasemu FAIL: good.py, bad_dup_address.py")


def test_waived_findings_shown_apart(no_notify: Report) -> None:
    waived = [Finding(f.rule, f.severity, f.message, f.evidence, f.subject,
                      {**f.extra, "waived": {"reason": "vendor fix <b>due</b> in 2.1", "config": "rasemu.toml:7"}})
              if f.rule == "R61" else f for f in no_notify.findings]
    r = Report(no_notify.dlls, no_notify.profile, no_notify.loader, no_notify.strictness,
               no_notify.level_met, waived, no_notify.stats, no_notify.scenarios, no_notify.started,
               no_notify.dll_info, traces=no_notify.traces)
    tree = well_formed(rhtml.render([r]))
    main = [g.attrs["data-rule"] for g in tree.root.find_all("article", class_="rule")
            if "waived" not in g.attrs["class"]]
    apart = tree.root.find_all("article", class_="waived")
    assert main == ["R47"] and [g.attrs["data-rule"] for g in apart] == ["R61"]
    assert "waived: vendor fix <b>due</b> in 2.1 (rasemu.toml:7)" in apart[0].all_text()
    hero = re.sub(r"\s+", " ", tree.root.find_all("header", class_="hero")[0].all_text())
    assert r.passed  # the gate ignores waived findings
    assert "PASS — 0 errors, 0 warnings, 1 note, 1 waived" in hero


# -- escaping --------------------------------------------------------------------------------------


def test_hostile_names_from_a_real_run_cannot_inject_markup(tmp_path: Path) -> None:
    scn = hostile_scenario(tmp_path / "hostile.toml")
    dll = tmp_path / "<img src=x onerror=alert(1)> & 'q'.py"
    dll.write_bytes((STANDINS / "bad_no_notify.py").read_bytes())
    (tmp_path / "_reference.py").write_bytes((STANDINS / "_reference.py").read_bytes())
    r = check_dll(dll, scenarios=[scn])
    assert r.started and r.traces["hostile-names"], "the stand-in did not run"
    text = rhtml.render([r])
    tree = well_formed(text)
    for bad in ("<script>document", "<img", "<svg onload", "<b>bold</b>", "<b>P</b>", '"><i>'):
        assert bad not in text, bad
    assert not [b for b in tree.root.find_all("b") if b.all_text() in ("bold", "P")]
    assert not tree.root.find_all("i")
    shown = visible_text(tree)
    for user in HOSTILE_USERS[:5]:
        assert user in "".join(n.all_text() for n in tree.root.find_all("title")), user
    assert "<img src=x onerror=alert(1)> & 'q'.py" in shown  # the DLL's name, as text
    assert "Jürgen \U0001F600\\u202eevil\\u202c" in "".join(n.all_text() for n in tree.root.find_all("title"))
    assert "\u202e" not in text  # bidi overrides never reach the page raw
    labels = ["".join(t.text) for t in tree.root.find_all("text", class_="lbl")]
    assert "<b>P</b>" in labels  # drawn as text
    assert any(lab.endswith("PPPPPPPPPPPPPPPP") for lab in labels)


def test_hostile_strings_everywhere_in_a_synthetic_report() -> None:
    evil = "</pre></code></details><script>x()</script>\x00\x1b[31m\ud800\u2066"
    ev = synthetic_trace(3, 2)
    ev[2]["args"][0] = evil
    ev[3]["args"][0]["port"] = evil
    r = Report(dlls=[evil], profile="win7-x64", loader=evil, strictness="practice", level_met=None,
               findings=[Finding("R63", Severity.ERROR, evil, ({"user": evil, "call": evil, "args": [evil]},),
                                 subject=evil, extra={"waived": {"reason": evil}}),
                         Finding("X-SCENARIO", Severity.WARNING, evil, ({evil: evil},), subject=evil)],
               stats={"sessions": 3, "calls": len(ev), "seconds": 0.1},
               scenarios=[ScenarioSummary(evil, False, 1, skipped=evil), ScenarioSummary("s", False, 1)],
               traces={evil: ev}, created=evil)
    text = rhtml.render([r])
    text.encode("utf-8")  # lone surrogates were escaped
    tree = well_formed(text)
    assert len(tree.root.find_all("script")) == 1
    assert "\x00" not in text and "\x1b" not in text and "\u2066" not in text
    assert "\\x00\\x1b[31m\\ud800\\u2066" in visible_text(tree)
    assert "</pre></code></details><script>x()</script>" in visible_text(tree)


# -- downsampling and size -------------------------------------------------------------------------


def big_report(sessions: int = 10_000, ports: int = 60, findings: int = 3_000) -> tuple[Report, set[int]]:
    faults = set(range(97, sessions, 997))
    ev = synthetic_trace(sessions, ports, faults=faults)
    found = [Finding("R63", Severity.ERROR, f"user{k} got an address already in use",
                     tuple(ev[k * 3: k * 3 + 3])) for k in range(findings)]
    r = Report(dlls=["big.dll"], profile="win7-x64", loader="pe", strictness="practice",
               level_met="strict", findings=found,
               stats={"sessions": sessions, "calls": len(ev), "seconds": 12.5},
               scenarios=[ScenarioSummary("flood", False, findings, 12.0, None, sessions, len(ev)),
                          ScenarioSummary("basic", True, 0, 0.01, None, 1, 10)],
               traces={"flood": ev, "basic": synthetic_trace(1, 1)})
    return r, faults


@pytest.fixture(scope="module")
def big() -> tuple[Report, set[int], str]:
    r, faults = big_report()
    return r, faults, rhtml.render([r])


def test_ten_thousand_sessions_stay_small_and_keep_every_fault(big: tuple[Report, set[int], str]) -> None:
    _, faults, text = big
    size = len(text.encode("utf-8"))
    assert size < 3_000_000, size
    tree = well_formed(text)
    flood = tree.root.find_all("div", role="tabpanel")[0]
    notes = " ".join(n.all_text() for n in flood.find_all("p", class_="note"))
    assert "Downsampled:" in notes and "calls are marked" in notes and "session bars drawn as" in notes
    svg = flood.find_all("svg", class_="timeline")[0]
    assert len(svg.find_all("text", class_="lbl")) == 60
    marks = svg.find_all("circle", class_="mk")
    assert len(marks) <= rhtml.MARKER_BUDGET + 10
    assert len(svg.find_all("circle", class_="mk-fault")) == len(faults)  # failing calls always kept
    assert len(svg.find_all("rect", class_="bar-fault")) == len(faults)
    assert len(svg.find_all("rect", class_="bar")) <= rhtml.BAR_BUDGET + 10
    # findings: the first 100 of the rule in full, the rest counted
    group = tree.root.find_all("article", class_="rule")[0]
    assert len(group.find_all("li", class_="finding")) == rhtml.MAX_FINDINGS_PER_RULE
    fold = group.find_all("details", class_="findings-more")
    assert len(fold) == 1 and "Show 90 more findings of R63" in fold[0].find_all("summary")[0].all_text()
    assert len(fold[0].find_all("li", class_="finding")) == 90  # 10 shown, 90 behind the fold
    assert "… and 2,900 more findings of R63" in group.all_text()
    assert "3,000 findings" in group.all_text()


def test_many_ports_keep_the_failing_ones() -> None:
    faults = {1_234, 2_345}
    tl = rhtml.timeline("flood", synthetic_trace(3_000, 1_500, faults=faults))
    svg = parse(rhtml.timeline_svg(tl, marker_budget=500, bar_budget=400, label="flood"))
    assert "1,421 of 1,500 ports are not drawn" in " ".join(tl.notes)
    labels = ["".join(t.text) for t in svg.root.find_all("text", class_="lbl")]
    assert len(labels) == rhtml.MAX_ROWS - 1  # plus the service row
    assert {f"VPN1-{k % 1_500}" for k in faults} <= set(labels)
    assert len(svg.root.find_all("circle", class_="mk-fault")) == len(faults)
    assert len(svg.root.find_all("circle", class_="mk")) <= 500


def test_long_evidence_is_cut() -> None:
    ev = synthetic_trace(30, 5)
    blob = {"dump": "x" * 20_000}
    r = Report(dlls=["a.dll"], profile="win7-x64", loader="pe", strictness="practice", level_met=None,
               findings=[Finding("R63", Severity.ERROR, "many calls", tuple(ev)),
                         Finding("R76", Severity.WARNING, "a big blob", (blob,))],
               stats={"sessions": 30, "calls": len(ev), "seconds": 1.0})
    tree = well_formed(rhtml.render([r]))
    codes = [d.all_text() for d in tree.root.find_all("details", class_="evidence")]
    assert "Evidence · 184 trace events" in codes[0]
    assert f"… cut: {rhtml.EVIDENCE_ITEMS} of 184 shown" in codes[0]
    assert codes[0].count("MprAdmin") == rhtml.EVIDENCE_ITEMS
    assert len(codes[1]) < rhtml.EVIDENCE_CHARS + 300 and "… cut: 1 of 1 shown" in codes[1]


def test_occupancy_is_decimated_but_keeps_the_peak(big: tuple[Report, set[int], str]) -> None:
    r, faults, _ = big
    ps = rhtml.occupancy("flood", r.traces["flood"])
    assert ps.peak_v4 == 41 and ps.left_v4 == 0 and ps.handed_out == 10_000 - len(faults)
    svg, decimated = rhtml.pool_svg(ps)
    assert decimated
    tree = parse(svg)
    path = tree.root.find_all("path", class_="v4")[0].attrs["d"]
    assert path.count("L") < 4 * 400
    ys = [float(v) for v in re.findall(r"[ML][\d.]+ ([\d.]+)", path)]
    assert abs(min(ys) - rhtml._PT) < 0.2  # the peak (41) is the chart's maximum: the top of the plot


def test_occupancy_counts_hand_outs_and_releases() -> None:
    ev = synthetic_trace(3, 3, live=5)
    ps = rhtml.occupancy("s", ev)
    assert [v for _, v, _ in ps.points] == [0, 1, 2, 3, 2, 1, 0, 0]  # the last point: the trace's end
    assert ps.points[-1][0] == ev[-1]["seq"]
    assert ps.peak_v4 == 3 and ps.left_v4 == 0 and ps.unknown_releases == 0
    # drop the last release: one address is never released; a release of an unknown address is ignored
    rel = [e for e in ev if e["call"] == "MprAdminReleaseIpAddress"]
    ev2 = [e for e in ev if e is not rel[-1]]
    probe = dict(rel[0], args=["nobody", "VPN9-0", "10.254.254.0"], outputs={"lpdwIpAddress": "10.254.254.0"},
                 probe=True, session=None, seq=999)
    ps2 = rhtml.occupancy("s", [*ev2, probe])
    assert ps2.left_v4 == 1 and ps2.unknown_releases == 1 and ps2.peak_v4 == 3


def test_multilink_and_probes_on_the_timeline(good: Report) -> None:
    tl = rhtml.timeline("multilink", good.traces["multilink"])
    assert tl.rows == ["service", "VPN1-0", "VPN1-2", "VPN1-3"]  # links numbered 2 and 3 in the bundle
    assert sorted(b.row for b in tl.bars if b.cls == "ok") == ["VPN1-0", "VPN1-2", "VPN1-3"]
    link = next(b for b in tl.bars if b.row == "VPN1-3")
    assert "extra link" in link.title and "user bundle" in link.title
    probes = rhtml.timeline("release-unknown", good.traces["release-unknown"])
    assert any(m.probe for m in probes.marks)
    svg = rhtml.timeline_svg(probes, marker_budget=1000, bar_budget=1000, label="x")
    assert 'class="mk mk-ok" d="M' in svg  # probes are diamonds


def test_result_classes() -> None:
    ev = synthetic_trace(1, 1)
    get = ev[2]
    assert rhtml.result_class(get) == "ok"
    assert rhtml.result_class({**get, "returned": 259}) == "refused"  # an error code
    accept = ev[3]
    assert rhtml.result_class({**accept, "returned": 0}) == "refused"
    assert rhtml.result_class({**accept, "fault": {"kind": "timeout", "message": "5 s"}}) == "fault"
    assert rhtml.result_class({**accept, "issues": [{"rule": "R51", "message": "stack"}]}) == "issue"


# -- writing ---------------------------------------------------------------------------------------


def test_write_is_atomic_and_cli_writes_html(tmp_path: Path, no_notify: Report) -> None:
    out = tmp_path / "report.html"
    rhtml.write([no_notify], str(out))
    assert out.read_text("utf-8") == rhtml.render([no_notify])
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left over
    with pytest.raises(OSError):
        rhtml.write([no_notify], str(tmp_path / "missing" / "report.html"))
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]

    from emulator.cli import cli

    target = tmp_path / "cli.html"
    res = CliRunner().invoke(cli, ["check", "--format", "html", "-o", str(target),
                                   "--scenario", "basic", str(STANDINS / "bad_no_notify.py")])
    assert res.exit_code == 1, res.output
    tree = well_formed(target.read_text("utf-8"))
    assert [g.attrs["data-rule"] for g in tree.root.find_all("article", class_="rule")] == ["R61", "R47"]
    assert len(tree.root.find_all("svg", class_="timeline")) == 1  # traces kept for the page
