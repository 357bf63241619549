"""Findings are data: rule id, severity, message, evidence. Checks return them; reports render them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from emulator.conformance.rules import RULES


class Severity(StrEnum):
    """How bad a finding is; ``ERROR`` fails a conformance gate by default."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for error."""
        return {"info": 0, "warning": 1, "error": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation (or note) of a contract rule.

    ``evidence`` is a short excerpt of the call trace or registry diff, as plain JSON-able data.
    ``subject`` names what the finding is about (a DLL path, an installer, ``host``).
    """

    rule: str
    severity: Severity
    message: str
    evidence: tuple[Mapping[str, Any], ...] = ()
    subject: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rule not in RULES and not self.rule.startswith("X-"):
            raise ValueError(f"finding uses unknown rule id {self.rule!r}")

    def to_json(self) -> dict[str, Any]:
        """The finding as the JSON report writes it."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": [dict(e) for e in self.evidence],
        }
        if self.subject:
            out["subject"] = self.subject
        if self.extra:
            out["extra"] = dict(self.extra)
        return out


def worst(findings: Iterable[Finding]) -> Severity | None:
    """The highest severity among ``findings``, or None when there are none."""
    best: Severity | None = None
    for f in findings:
        if best is None or f.severity.rank > best.rank:
            best = f.severity
    return best
