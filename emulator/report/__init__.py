"""Conformance reports: the :class:`Report` data and its renderers (text, JSON, JUnit XML).

A report covers one conformance run: the DLL(s) registered together, the host profile, the
loader, the strictness gate, every finding (deduplicated), statistics and per-scenario results.
Renderers live in :mod:`emulator.report.text`, :mod:`emulator.report.json` and
:mod:`emulator.report.junit`; :func:`write_atomic` writes any of them safely.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator import __version__
from emulator.conformance.findings import Finding, Severity

__all__ = [
    "FAIL_ON",
    "SCHEMA",
    "Report",
    "ScenarioSummary",
    "dedupe",
    "sort_findings",
    "waiver_of",
    "write_atomic",
]

#: the JSON report's schema identifier (emulator/report/schema/report-1.json)
SCHEMA = "rasemu-report/1"

LEVELS = ("strict", "practice")
#: severity gates: findings at or above the gate fail the run (unless waived)
FAIL_ON = ("error", "warning", "info")


def waiver_of(f: Finding) -> Mapping[str, Any] | None:
    """The waiver a configuration file put on ``f`` (``{"reason": ..., ...}``), or None."""
    w = f.extra.get("waived") if f.extra else None
    return w if isinstance(w, Mapping) else None


@dataclass(frozen=True, slots=True)
class ScenarioSummary:
    """How one scenario went: ``ok`` is False when it produced error findings or the host did not start."""

    name: str
    ok: bool
    findings: int
    seconds: float = 0.0
    skipped: str | None = None
    sessions: int = 0
    calls: int = 0
    #: why the scenario stopped half-way (``"interrupted by SIGTERM"``), None when it ran to its end
    interrupted: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The scenario entry of the JSON report."""
        return {
            "name": self.name,
            "ok": self.ok,
            "findings": self.findings,
            "seconds": round(self.seconds, 6),
            "skipped": self.skipped,
            "sessions": self.sessions,
            "calls": self.calls,
            **({"interrupted": self.interrupted} if self.interrupted else {}),
        }


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Findings without repeats of the same (rule, subject, message), first occurrence kept."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.rule, f.subject, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _rule_key(rule: str) -> tuple[int, str]:
    return (int(rule[1:]), rule) if rule[1:].isdigit() else (10_000, rule)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; within a severity by rule number."""
    return sorted(findings, key=lambda f: (-f.severity.rank, _rule_key(f.rule)))


@dataclass(slots=True)
class Report:
    """The result of checking one DLL (or several registered together) under one profile.

    ``level_met`` is the strictest required-export level (AMBIG-1, section 8) every DLL meets:
    ``"strict"``, ``"practice"`` or None. ``stats`` holds at least ``sessions``, ``calls`` and
    ``seconds`` (wall time of the run). ``dll_info`` has one mapping per DLL (path, loader,
    machine, chosen variant) when the host loaded it. ``traces`` (scenario name -> events) is
    kept in memory for ``--trace-dir`` and is not part of the JSON report. ``fail_on`` is the
    severity gate (``error``, ``warning`` or ``info``); waived findings (see
    :mod:`emulator.config`) stay in the report but never fail it. ``setup`` is set when an
    installer put the DLL in place (``rasemu check --install``): installer and uninstaller,
    both registry diffs (evidence dicts with a ``text`` line each), files and log; findings
    then carry ``extra["phase"]`` (install, run, uninstall).

    ``partial`` is set when the run was interrupted (Ctrl-C, SIGTERM): ``reason``,
    ``completed_scenarios``, ``interrupted_scenario`` (or None) and ``not_run``; a partial
    report never passes. ``profile_source`` says how the profile was chosen when none was
    given (``"dll-machine"``: from the DLL's PE machine; ``"default"``), None when given.
    """

    dlls: list[str]
    profile: str
    loader: str
    strictness: str
    level_met: str | None
    findings: list[Finding]
    stats: dict[str, Any]
    scenarios: list[ScenarioSummary] = field(default_factory=list)
    started: bool = True
    dll_info: list[dict[str, Any]] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    version: str = __version__
    schema: str = SCHEMA
    traces: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    fail_on: str = "error"
    setup: dict[str, Any] | None = None
    partial: dict[str, Any] | None = None
    profile_source: str | None = None

    @property
    def dll(self) -> str:
        """The DLL path, or the ``;``-joined list when several were registered together."""
        return ";".join(self.dlls)

    def count(self, severity: Severity) -> int:
        """How many findings have ``severity``."""
        return sum(1 for f in self.findings if f.severity is severity)

    def gates(self, f: Finding) -> bool:
        """Whether ``f`` fails the run: not waived and at least as severe as ``fail_on``."""
        return f.severity.rank >= Severity(self.fail_on).rank and waiver_of(f) is None

    @property
    def waived(self) -> list[Finding]:
        """The findings a waiver covers."""
        return [f for f in self.findings if waiver_of(f) is not None]

    @property
    def failing(self) -> list[Finding]:
        """The findings that fail the gate."""
        return [f for f in self.findings if self.gates(f)]

    @property
    def passed(self) -> bool:
        """True when no finding fails the gate (the CLI's exit status 0).

        With the default gate (``error``) and no waivers: no finding has error severity.
        A partial (interrupted) report never passes.
        """
        return self.partial is None and not any(self.gates(f) for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """The report as a ``rasemu-report/1`` JSON object."""
        return {
            "schema": self.schema,
            "rasemu": self.version,
            "created": self.created,
            "dll": self.dll,
            "dlls": list(self.dlls),
            "profile": self.profile,
            **({"profile_source": self.profile_source} if self.profile_source else {}),
            "loader": self.loader,
            "strictness": self.strictness,
            "level_met": self.level_met,
            "started": self.started,
            "passed": self.passed,
            "fail_on": self.fail_on,
            "summary": {**{s.value: self.count(s) for s in Severity},
                        "waived": len(self.waived)},
            "findings": [_finding_json(f) for f in sort_findings(self.findings)],
            "stats": _stats_json(self.stats),
            "scenarios": [s.to_json() for s in self.scenarios],
            "dll_info": [dict(d) for d in self.dll_info],
            **({"setup": _plain(self.setup)} if self.setup is not None else {}),
            **({"partial": _plain(self.partial)} if self.partial is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_json` output (traces are not stored)."""
        return cls(
            dlls=list(data["dlls"]),
            profile=data["profile"],
            loader=data["loader"],
            strictness=data["strictness"],
            level_met=data["level_met"],
            findings=[
                Finding(
                    f["rule"],
                    Severity(f["severity"]),
                    f["message"],
                    tuple(f.get("evidence", ())),
                    f.get("subject", ""),
                    {**f.get("extra", {}), **({"waived": f["waived"]} if f.get("waived") else {})},
                )
                for f in data["findings"]
            ],
            stats=dict(data["stats"]),
            scenarios=[
                ScenarioSummary(s["name"], s["ok"], s["findings"], s["seconds"], s.get("skipped"),
                                s.get("sessions", 0), s.get("calls", 0), s.get("interrupted"))
                for s in data["scenarios"]
            ],
            started=data.get("started", True),
            dll_info=[dict(d) for d in data.get("dll_info", [])],
            created=data.get("created", ""),
            version=data["rasemu"],
            schema=data["schema"],
            fail_on=data.get("fail_on", "error"),
            setup=dict(data["setup"]) if isinstance(data.get("setup"), Mapping) else None,
            partial=dict(data["partial"]) if isinstance(data.get("partial"), Mapping) else None,
            profile_source=data.get("profile_source"),
        )


def _plain(value: Any) -> Any:
    """JSON-able copy: mappings and sequences recursively, anything else unknown as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _finding_json(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = _plain(f.to_json())
    extra = out.get("extra")
    if isinstance(extra, dict) and "waived" in extra:
        out["waived"] = extra.pop("waived")
        if not extra:
            del out["extra"]
    return out


def _stats_json(stats: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _plain(stats)
    out.setdefault("sessions", 0)
    out.setdefault("calls", 0)
    out["seconds"] = round(float(out.get("seconds", 0.0)), 6)
    return out


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    target = Path(path)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the report the mode a plain open() would (umask applied).
        umask = os.umask(0)
        os.umask(umask)
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def findings_by_phase(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by ``extra["phase"]`` (install, run, uninstall; "" when unset), in that order."""
    order = {"install": 0, "run": 1, "uninstall": 2, "": 3}
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(str(f.extra.get("phase", "")) if f.extra else "", []).append(f)
    return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], 4), kv[0])))


def findings_by_rule(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by rule id, groups ordered errors first then by rule number."""
    groups: dict[str, list[Finding]] = {}
    for f in sort_findings(findings):
        groups.setdefault(f.rule, []).append(f)
    return groups
