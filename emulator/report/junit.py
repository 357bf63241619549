"""JUnit XML reports for CI: one ``<testsuite>`` per DLL, one ``<testcase>`` per rule.

Test cases are the DLL-side rules (R48-R77) plus every other rule with a finding about that DLL
(e.g. R15 load failures, X-SCENARIO expectations). A rule with error findings gets a
``<failure>``; warnings and notes go to the case's ``<system-out>``. Rules the run could not
check (the service did not start, or the profile has no such callback) are ``<skipped>``.
The layout follows the common JUnit schema as CI servers read it (Jenkins' junit-10.xsd:
attribute sets and child order of ``testsuites``/``testsuite``/``testcase``).
"""

from __future__ import annotations

import platform
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import PurePath, PureWindowsPath

from emulator.conformance.findings import Finding, Severity
from emulator.conformance.rules import RULES
from emulator.report import Report, sort_findings, waiver_of
from emulator.report.text import evidence_excerpt, rule_title, waived_note

#: DLL-side rules that only apply to some profiles: rule -> predicate name on the profile name
_NT4_ONLY = frozenset({"R74", "R75"})
_NOT_NT4 = frozenset({"R53", "R54", "R55", "R56", "R57", "R60", "R61", "R72", "R73"})
_WIN7_ONLY = frozenset({"R72", "R73"})
DLL_RULES = tuple(r.id for r in RULES.values() if r.side == "DLL")


SETUP_RULES = tuple(r.id for r in RULES.values() if r.side == "SETUP")


def _phase(f: Finding) -> str:
    """`` (install phase)`` for a finding of ``rasemu check --install``, else ""."""
    phase = f.extra.get("phase") if f.extra else None
    return f" ({phase} phase)" if phase else ""


def _stem(path: str) -> str:
    name = PureWindowsPath(path).name if "\\" in path else PurePath(path).name
    return name or path


def _applies(rule: str, profile: str) -> bool:
    os_name = profile.split("-", 1)[0]
    if rule in _NT4_ONLY:
        return os_name == "nt4"
    if rule in _WIN7_ONLY and os_name != "win7":
        return False
    return not (rule in _NOT_NT4 and os_name == "nt4")


def _belongs(f: Finding, dll: str, only: bool) -> bool:
    if only or not f.subject:
        return True
    s = f.subject
    return s == dll or _stem(s).lower() == _stem(dll).lower()


def _suite(r: Report, dll: str, findings: list[Finding], timestamp: str, host: str, idx: int,
           *, dll_rules: bool = True) -> ET.Element:
    by_rule: dict[str, list[Finding]] = {}
    for f in sort_findings(findings):
        by_rule.setdefault(f.rule, []).append(f)
    rules = [x for x in DLL_RULES if dll_rules and _applies(x, r.profile)]
    if r.setup is not None and dll_rules:
        # an installer ran (rasemu check --install): its rules are test cases too
        rules = [*SETUP_RULES, *rules]
    rules += sorted((x for x in by_rule if x not in rules), key=lambda x: (not x.startswith("R"), x))
    suite = ET.Element("testsuite")
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("rasemu.version", r.version),
        ("rasemu.dll", dll),
        ("rasemu.profile", r.profile),
        ("rasemu.loader", r.loader),
        ("rasemu.strictness", r.strictness),
        ("rasemu.level_met", r.level_met or "none"),
        ("rasemu.started", "true" if r.started else "false"),
        ("rasemu.rules", ",".join(rules)),
        ("rasemu.failed_rules", ",".join(x for x in rules if any(
            r.gates(f) for f in by_rule.get(x, ())))),
        ("rasemu.waived_rules", ",".join(x for x in rules if any(
            waiver_of(f) is not None for f in by_rule.get(x, ())))),
        ("rasemu.fail_on", r.fail_on),
        *((("rasemu.partial", str(r.partial.get("reason") or "interrupted")),)
          if r.partial is not None else ()),
        *((("rasemu.installer", str(r.setup.get("installer") or "")),
           ("rasemu.uninstaller", str(r.setup.get("uninstaller") or "")))
          if r.setup is not None else ()),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    failures = skipped = 0
    cls = f"rasemu.{r.profile}.{_stem(dll)}"
    for rule in rules:
        items = by_rule.get(rule, [])
        case = ET.SubElement(suite, "testcase", name=f"{rule} {rule_title(rule)}", classname=cls, time="0")
        errors = [f for f in items if r.gates(f)]
        others = [f for f in items if not r.gates(f)]
        waived = [f for f in items if waiver_of(f) is not None and f.severity.rank >= Severity(r.fail_on).rank]
        if errors:
            failures += 1
            fail = ET.SubElement(case, "failure", message=errors[0].message, type=rule)
            fail.text = "\n".join(
                f"[{f.severity.value}]{_phase(f)} {f.message}" + (f"\n  evidence: {evidence_excerpt(f, 400)}" if f.evidence else "")
                for f in errors
            )
        elif waived:
            # a waiver turns the failure into a skip that says why (kept, never a failure)
            skipped += 1
            ET.SubElement(case, "skipped", message="waived: " + "; ".join(
                dict.fromkeys(str((waiver_of(f) or {}).get("reason", "")) for f in waived)))
        elif not items and not r.started and rule.startswith("R") and not (
                r.setup is not None and rule in SETUP_RULES):
            skipped += 1
            ET.SubElement(case, "skipped", message="not checked: the service did not start")
        elif r.partial is not None:
            # an interrupted run: no failure seen is not a pass
            skipped += 1
            ET.SubElement(case, "skipped", message=f"not fully checked: the run was "
                          f"{r.partial.get('reason') or 'interrupted'} (partial report)")
        if others:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(f"[{f.severity.value}]{_phase(f)}{waived_note(f)} {f.message}"
                                 for f in others)
    tests = len(rules)
    if r.partial is not None and dll_rules:
        # the scenarios that did not run to their end, each a skipped case saying why
        reason = str(r.partial.get("reason") or "interrupted")
        for s in r.scenarios:
            if s.interrupted or (s.skipped or "").startswith("not run:"):
                case = ET.SubElement(suite, "testcase", name=f"scenario {s.name}",
                                     classname=f"{cls}.scenarios", time=f"{s.seconds:.3f}")
                why = (f"interrupted while running: {reason}" if s.interrupted
                       else f"not run: {reason}")
                ET.SubElement(case, "skipped", message=why)
                skipped += 1
                tests += 1
    seconds = float(r.stats.get("seconds", 0.0))
    suite.attrib.update(
        name=_stem(dll),
        tests=str(tests),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{seconds:.3f}",
        timestamp=timestamp,
        hostname=host,
        id=str(idx),
        package=f"rasemu.{r.profile}",
    )
    ET.SubElement(suite, "system-out").text = (
        f"profile {r.profile}, loader {r.loader}, level met: {r.level_met or 'none'}; scenarios: "
        + ", ".join(f"{s.name}={'interrupted' if s.interrupted else 'skipped' if s.skipped else ('ok' if s.ok else 'failed')}"
                    for s in r.scenarios)
        + (f"\nPARTIAL: the run was {r.partial.get('reason') or 'interrupted'}" if r.partial is not None else "")
    )
    ET.SubElement(suite, "system-err")
    return suite


def to_element(reports: Sequence[Report]) -> ET.Element:
    """The ``<testsuites>`` element for ``reports``."""
    root = ET.Element("testsuites", name="rasemu")
    host = platform.node() or "localhost"
    idx = 0
    for r in reports:
        timestamp = (r.created or "1970-01-01T00:00:00")[:19]
        only = len(r.dlls) == 1
        for dll in r.dlls:
            mine = [f for f in r.findings if _belongs(f, dll, only)]
            root.append(_suite(r, dll, mine, timestamp, host, idx))
            idx += 1
        if not only:
            known = [f for f in r.findings if not any(_belongs(f, d, False) for d in r.dlls)]
            if known:
                root.append(_suite(r, "host", known, timestamp, host, idx, dll_rules=False))
                idx += 1
    totals = {"tests": 0, "failures": 0, "errors": 0}  # junit-10.xsd: no "skipped" on the root
    t = 0.0
    for suite in root:
        for k in totals:
            totals[k] += int(suite.get(k, "0"))
        t += float(suite.get("time", "0"))
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.set("time", f"{t:.3f}")
    return root


def render(reports: Sequence[Report]) -> str:
    """JUnit XML text (UTF-8 declaration, indented)."""
    root = to_element(reports)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
