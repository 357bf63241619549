"""Human-readable reports: rich tables on a terminal, plain text otherwise.

Findings are grouped by rule (errors first) with severity, message and a short evidence excerpt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from emulator.conformance.findings import Finding, Severity
from emulator.conformance.rules import RULES
from emulator.report import Report, findings_by_phase, findings_by_rule, waiver_of

EVIDENCE_CHARS = 160
_EXTRA_RULES = {"X-SCENARIO": "a scenario expectation (rasemu's own check)"}


def rule_title(rule: str) -> str:
    """The rule's short text from the contract (``X-...`` ids: rasemu's own checks)."""
    r = RULES.get(rule)
    if r is not None:
        return r.text.replace("`", "")
    return _EXTRA_RULES.get(rule, "rasemu check")


def evidence_excerpt(f: Finding, limit: int = EVIDENCE_CHARS) -> str:
    """The first evidence item as compact JSON, cut to ``limit`` characters ("" if none)."""
    if not f.evidence:
        return ""
    text = json.dumps(_compact(f.evidence[0]), ensure_ascii=False, default=str, separators=(", ", ": "))
    more = f" (+{len(f.evidence) - 1} more)" if len(f.evidence) > 1 else ""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text + more


_NOISE = frozenset({"t", "seconds", "seq", "dll", "instance", "probe", "session"})


def _compact(item: Mapping[str, Any]) -> dict[str, Any]:
    """An evidence item without bookkeeping keys (the finding already names the DLL)."""
    out = {k: v for k, v in item.items() if k not in _NOISE and v not in (None, [], {})}
    return out or dict(item)


def _level_line(r: Report) -> str:
    if r.level_met is None:
        return "none (the required exports of the 'practice' level are not all there)"
    if r.level_met == "strict":
        return "strict (documented required set [S2]) and practice"
    return "practice (observed practice [S1] + Microsoft's samples), not strict"


def _registered_lines(r: Report) -> list[str]:
    """How each DLL was registered (the Windows path findings name) and run."""
    lines = []
    for d in r.dll_info:
        reg = d.get("registered")
        if not reg:
            continue
        how = list(dict.fromkeys(str(d[k]) for k in ("loader", "machine") if d.get(k)))
        variant = (d.get("selection") or {}).get("variant")
        if variant is not None:
            how.append(f"accept/hang-up variant {variant or '1'}")
        lines.append(f"{reg} = {d.get('path', '')}" + (f" ({', '.join(how)})" if how else ""))
    return lines


def waived_note(f: Finding) -> str:
    """`` (waived: reason)`` for a waived finding, else ""."""
    w = waiver_of(f)
    return f" (waived: {w.get('reason', '')})" if w is not None else ""


def partial_banner(r: Report) -> str:
    """The PARTIAL banner of an interrupted run ("" for a complete report)."""
    p = r.partial
    if p is None:
        return ""
    parts = [f"PARTIAL REPORT: the run was {p.get('reason') or 'interrupted'}."]
    done = p.get("completed_scenarios") or []
    parts.append("Completed scenarios: " + (", ".join(map(str, done)) if done else "none") + ".")
    if p.get("interrupted_scenario"):
        parts.append(f"Interrupted: {p['interrupted_scenario']}.")
    if p.get("not_run"):
        parts.append("Not run: " + ", ".join(map(str, p["not_run"])) + ".")
    parts.append("The findings cover only what ran.")
    return " ".join(parts)


def profile_text(r: Report) -> str:
    """The profile, and how it was chosen when no --profile was given."""
    from emulator.conformance.run import AUTO_PROFILE_NOTE

    note = AUTO_PROFILE_NOTE.get(r.profile_source or "")
    return f"{r.profile} ({note})" if note else r.profile


def _verdict(r: Report) -> str:
    open_ = [f for f in r.findings if waiver_of(f) is None]
    e, w, i = (sum(1 for f in open_ if f.severity is s)
               for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    word = "PASS" if r.passed else "FAIL"
    if r.partial is not None:
        word = f"PARTIAL ({r.partial.get('reason') or 'interrupted'})"
    text = f"{word}: {e} error(s), {w} warning(s), {i} note(s)"
    if len(open_) != len(r.findings):
        text += f"; {len(r.findings) - len(open_)} waived"
    if r.fail_on != "error":
        text += f" (gate: fail on {r.fail_on})"
    return text


def verdict(r: Report) -> str:
    """The one-line verdict: PASS/FAIL and the counts of findings not waived."""
    return _verdict(r)


def _scenario_line(r: Report) -> str:
    parts = []
    for s in r.scenarios:
        mark = ("INTERRUPTED" if s.interrupted else "skipped" if s.skipped
                else ("ok" if s.ok else "FAILED"))
        parts.append(f"{s.name} {mark}")
    return ", ".join(parts) or "none"


def _stats_line(r: Report) -> str:
    st = r.stats
    return f"{st.get('sessions', 0)} sessions, {st.get('calls', 0)} calls, {float(st.get('seconds', 0.0)):.2f} s"


def _loader_line(r: Report) -> str:
    return f"{r.loader}; gate: {r.strictness}"


def summary_line(reports: Sequence[Report]) -> str:
    """One line for ``--quiet``: how many runs passed, and the findings that count."""
    failed = sum(1 for r in reports if not r.passed and r.partial is None)
    cut = sum(1 for r in reports if r.partial is not None)
    counts = {s: sum(1 for r in reports for f in r.findings
                     if f.severity is s and waiver_of(f) is None) for s in Severity}
    waived = sum(len(r.waived) for r in reports)
    word = "PASS" if not failed else "FAIL"
    stopped = next((r.partial for r in reports if r.partial is not None), None)
    if stopped is not None:
        word = f"PARTIAL ({stopped.get('reason') or 'interrupted'})"
    dlls = sum(len(r.dlls) for r in reports)
    text = (f"{word}: {dlls} DLL(s) in {len(reports)} run(s), {len(reports) - failed - cut} passed, "
            f"{failed} failed{f', {cut} partial' if cut else ''}; {counts[Severity.ERROR]} error(s), "
            f"{counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} note(s)")
    if waived:
        text += f", {waived} waived"
    gates = {r.fail_on for r in reports} - {"error"}
    if gates:
        text += f" (gate: fail on {', '.join(sorted(gates))})"
    return text


#: headings of the phases of ``rasemu check --install`` (``Finding.extra["phase"]``)
PHASE_TITLES = {"install": "install phase: the installer's registry and file changes, R01-R10",
                "run": "run phase: the RAS service with the DLL as installed",
                "uninstall": "uninstall phase: what the uninstaller left or removed, R06-R07"}


def _installer_rows(setup: Mapping[str, Any]) -> list[tuple[str, str]]:
    kind = setup.get("installer_kind")
    bits = setup.get("installer_bits")
    how = ", ".join(str(x) for x in (kind, f"{bits}-bit" if bits else None) if x)
    rows = [("installer", f"{setup.get('installer', '')}" + (f" ({how})" if how else ""))]
    if setup.get("uninstaller"):
        rows.append(("uninstall", str(setup["uninstaller"])))
    rows += [("other DLL", f"{pre} (registered before the install)")
             for pre in setup.get("preexisting") or ()]
    return rows


def _installer_lines(setup: Mapping[str, Any]) -> list[str]:
    return [f"  {k:<10} {v}" for k, v in _installer_rows(setup)]


def setup_diff_lines(setup: Mapping[str, Any]) -> list[str]:
    """The install and uninstall registry diffs of ``report.setup``, one change a line, and
    the files the installer wrote."""
    out = ["", "Registry changes by the install"]
    changes = setup.get("install_diff") or []
    out.extend(f"  {e.get('text', e)}" for e in changes)
    if not changes:
        out.append("  (none)")
    left = setup.get("uninstall_diff")
    if left is not None:
        out.append("")
        out.append("Left behind after the uninstall (compared with before the install)")
        out.extend(f"  {e.get('text', e)}" for e in left)
        if not left:
            out.append("  (nothing: the registry is as before the install)")
    files = setup.get("files") or {}
    if files:
        out.append("")
        out.append("Files written by the installer")
        out.extend(f"  {path}: {what}" for path, what in files.items())
    return out


def render_plain(reports: Sequence[Report]) -> str:
    """All reports as plain text (no colour, no box drawing)."""
    out: list[str] = []
    for n, r in enumerate(reports):
        if n:
            out.append("")
        out.append(f"rasemu {r.version} conformance report")
        banner = partial_banner(r)
        if banner:
            out.append(f"*** {banner} ***")
        out.append(f"  DLL        {r.dll}")
        for line in _registered_lines(r):
            out.append(f"  registered {line}")
        out.append(f"  profile    {profile_text(r)}")
        out.append(f"  loader     {_loader_line(r)}")
        out.append(f"  started    {'yes' if r.started else 'no (the service would not start)'}")
        out.append(f"  level met  {_level_line(r)}")
        out.append(f"  scenarios  {_scenario_line(r)}")
        out.append(f"  stats      {_stats_line(r)}")
        if r.setup is not None:
            out.extend(_installer_lines(r.setup))
        phases = findings_by_phase(r.findings) if r.setup is not None else {"": r.findings}
        for phase, found in phases.items():
            groups = findings_by_rule(found)
            if groups:
                out.append("")
                out.append(f"Findings ({PHASE_TITLES.get(phase, phase)})" if phase else "Findings")
            for rule, items in groups.items():
                worst = items[0].severity.value
                out.append(f"  {rule} [{worst}] {rule_title(rule)}")
                for f in items:
                    out.append(f"    - {f.severity.value}{waived_note(f)}: {f.message}")
                    ev = evidence_excerpt(f)
                    if ev:
                        out.append(f"      evidence: {ev}")
        if r.setup is not None:
            out.extend(setup_diff_lines(r.setup))
        out.append("")
        out.append(_verdict(r))
    return "\n".join(out) + "\n"


_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_rich(reports: Sequence[Report], console: Any) -> None:
    """Print all reports to a ``rich.console.Console`` as tables."""
    from rich.markup import escape
    from rich.table import Table

    for n, r in enumerate(reports):
        if n:
            console.print()
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        for k, v in (
            ("DLL", r.dll),
            *(("registered", line) for line in _registered_lines(r)),
            ("profile", profile_text(r)),
            ("loader", _loader_line(r)),
            ("started", "yes" if r.started else "[red]no (the service would not start)[/]"),
            ("level met", _level_line(r)),
            ("stats", _stats_line(r)),
            *(_installer_rows(r.setup) if r.setup is not None else ()),
        ):
            head.add_row(k, v if k == "started" else escape(v))
        console.print(f"[bold]rasemu {escape(r.version)} conformance report[/]")
        if r.partial is not None:
            console.print(f"[bold reverse yellow] {escape(partial_banner(r))} [/]")
        console.print(head)
        if r.scenarios:
            sc = Table(title="Scenarios", title_justify="left", show_edge=False)
            for col in ("scenario", "result", "findings", "sessions", "seconds"):
                sc.add_column(col, justify="right" if col in ("findings", "sessions", "seconds") else "left")
            for s in r.scenarios:
                res = (f"[bold yellow]{escape(s.interrupted)}[/]" if s.interrupted
                       else f"[dim]skipped: {escape(s.skipped)}[/]" if s.skipped
                       else ("[green]ok[/]" if s.ok else "[red]failed[/]"))
                sc.add_row(escape(s.name), res, str(s.findings), str(s.sessions), f"{s.seconds:.2f}")
            console.print(sc)
        phases = findings_by_phase(r.findings) if r.setup is not None else {"": r.findings}
        for phase, found in phases.items():
            _rich_findings(console, found, PHASE_TITLES.get(phase, phase) if phase else "")
        if r.setup is not None:
            for line in setup_diff_lines(r.setup):
                console.print(escape(line), soft_wrap=True, highlight=False)
        style = "bold green" if r.passed else "bold red"
        console.print(f"[{style}]{escape(_verdict(r))}[/]")


def _rich_findings(console: Any, findings: Sequence[Finding], phase: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    groups = findings_by_rule(findings)
    if groups:
        title = f"Findings ({phase})" if phase else "Findings"
        ft = Table(title=escape(title), title_justify="left", show_lines=True, expand=True)
        ft.add_column("rule", max_width=32)
        ft.add_column("severity", no_wrap=True)
        ft.add_column("message / evidence", ratio=1)
        for rule, items in groups.items():
            for j, f in enumerate(items):
                sev = f.severity.value
                label = f"[bold]{rule}[/]\n[dim]{escape(rule_title(rule))}[/]" if j == 0 else ""
                ev = evidence_excerpt(f)
                body = escape(f.message) + (f"\n[dim]{escape(ev)}[/]" if ev else "")
                wn = waived_note(f)
                if wn:
                    body = f"[dim]waived: {escape(wn[10:-1])}[/]\n" + body
                ft.add_row(label, f"[{_STYLE[sev]}]{sev}[/]", body)
        console.print(ft)
