"""Helpers for vendors' own pytest suites: :func:`assert_conformant`.

    from emulator.testing import assert_conformant

    def test_two_users(ras_host):
        a = ras_host.connect("alice", "VPN1-0")
        b = ras_host.connect("bob", "VPN1-1")
        assert a.address != b.address
        assert_conformant(ras_host)

Inside a pytest run (the rasemu plugin is loaded automatically) every call also records the
rule ids as test properties, so ``pytest --junitxml`` carries them: ``rasemu.rules`` (every
rule with a finding), ``rasemu.failed_rules``, ``rasemu.waived_rules`` and one
``rasemu.finding.N`` per failing finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from emulator.conformance.findings import Finding, Severity
from emulator.report import sort_findings, waiver_of

__all__ = ["ConformanceError", "assert_conformant", "findings_of", "format_findings"]

#: the pytest item running now (set by the plugin; None outside pytest)
_current_item: list[Any] = []


class ConformanceError(AssertionError):
    """Findings at or above the asked severity; ``findings`` holds them."""

    def __init__(self, message: str, findings: Sequence[Finding]) -> None:
        super().__init__(message)
        self.findings = list(findings)


def findings_of(subject: Any, *, stop: bool = True) -> list[Finding]:
    """The findings of a RasHost (stopped first when ``stop`` and running, so TerminateDll and
    the leak check count), a Report or list of Reports, a ScenarioResult, or Findings."""
    if isinstance(subject, Finding):
        return [subject]
    if hasattr(subject, "findings"):
        if stop and getattr(subject, "started", False) and callable(getattr(subject, "stop", None)):
            subject.stop()
        found = subject.findings
        waivers = getattr(subject, "rasemu_waivers", None)
        if waivers:
            from emulator.config import waive

            dlls = [str(getattr(d, "real_path", "")) for d in getattr(subject, "dlls", [])]
            reg = {str(d.path): str(d.real_path) for d in getattr(subject, "dlls", [])}
            found = waive(found, waivers, dlls, reg)
        return list(found)
    if isinstance(subject, Iterable) and not isinstance(subject, str | bytes):
        out: list[Finding] = []
        for x in subject:
            out += findings_of(x, stop=stop)
        return out
    raise TypeError(f"assert_conformant expects a RasHost, a Report, a ScenarioResult or "
                    f"findings, not {type(subject).__name__}")


def format_findings(findings: Sequence[Finding], *, evidence_chars: int = 240) -> str:
    """One block per finding: rule id, severity, rule text, message, evidence excerpt."""
    from emulator.report.text import evidence_excerpt, rule_title, waived_note

    lines = []
    for f in sort_findings(findings):
        lines.append(f"{f.rule} [{f.severity.value}]{waived_note(f)} {rule_title(f.rule)}")
        lines.append(f"    {f.message}")
        ev = evidence_excerpt(f, evidence_chars)
        if ev:
            lines.append(f"    evidence: {ev}")
    return "\n".join(lines)


def _record(item: Any, everything: Sequence[Finding], failing: Sequence[Finding]) -> None:
    props = getattr(item, "user_properties", None)
    if props is None:
        return

    def rules(fs: Iterable[Finding]) -> str:
        return ",".join(dict.fromkeys(f.rule for f in sort_findings(fs)))

    props.append(("rasemu.rules", rules(everything)))
    props.append(("rasemu.failed_rules", rules(failing)))
    waived = [f for f in everything if waiver_of(f) is not None]
    if waived:
        props.append(("rasemu.waived_rules", rules(waived)))
    for n, f in enumerate(sort_findings(failing), 1):
        props.append((f"rasemu.finding.{n}", f"{f.rule} {f.severity.value}: {f.message}"))


def assert_conformant(subject: Any, *, severity: str | Severity = "error", stop: bool = True,
                      item: Any = None) -> None:
    """Fail (``ConformanceError``, an AssertionError) when ``subject`` has findings at or above
    ``severity`` that no waiver covers; the message lists them with rule id, severity, message
    and an evidence excerpt.

    ``subject``: a RasHost (stopped first unless ``stop=False``, so the verdict covers
    TerminateDll and the leak check), a Report or list of them, a ScenarioResult or Findings.
    """
    try:
        level = Severity(severity)
    except ValueError:
        raise ValueError(f"severity must be error, warning or info, not {severity!r}") from None
    everything = findings_of(subject, stop=stop)
    failing = [f for f in everything
               if f.severity.rank >= level.rank and waiver_of(f) is None]
    node = item if item is not None else (_current_item[-1] if _current_item else None)
    if node is not None:
        _record(node, everything, failing)
    if failing:
        rules = ", ".join(dict.fromkeys(f.rule for f in sort_findings(failing)))
        raise ConformanceError(
            f"rasemu: {len(failing)} finding(s) at or above {level.value!r} ({rules}):\n"
            + format_findings(failing), failing)
