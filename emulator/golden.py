"""Golden traces: record a scenario's normalised call trace once, replay it later and diff.

A golden file is JSON lines. Line 1 is the header::

    {"golden": "rasemu-golden/1", "rasemu": "0.1.0", "scenario": "basic",
     "scenario_source": "standard:basic", "scenario_text": "<the TOML>", "profile": "win7-x64",
     "loader": "auto", "strictness": "practice", "dlls": ["good.py"], "events": 10}

then one event per line, normalised so the same DLL gives the same bytes on every run:
times dropped, handles renumbered in order of appearance (:func:`emulator.host.trace.normalise`),
the registered DLL paths (and the real files behind them) replaced by ``dll1``, ``dll2`` ...
in registry order, and ``seq`` renumbered from 0.

Determinism: a scenario with a concurrent step (``concurrent = true``) lets the thread
scheduler pick the call order, the session numbers and which user gets which address, so its
trace differs from run to run even for a perfect DLL. Golden files are therefore recorded only
for sequential scenarios; :func:`require_sequential` rejects the others with an explanation
(sorting events would not help: the *content* of the events changes, not only their order).

The scenario's TOML text is stored in the header, so a replay runs exactly what was recorded
even when the file moved or the standard library changed.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator import __version__
from emulator.errors import InputError
from emulator.host.scenarios import Scenario, parse_scenario, scenario_text
from emulator.host.trace import Event, normalise

__all__ = [
    "FORMAT",
    "Golden",
    "Hunk",
    "canonical",
    "diff",
    "event_line",
    "read_golden",
    "record",
    "render_diff",
    "replay",
    "require_sequential",
    "write_golden",
]

#: the header's format identifier
FORMAT = "rasemu-golden/1"


@dataclass(slots=True)
class Golden:
    """A golden trace: its header and normalised events."""

    header: dict[str, Any]
    events: list[Event]

    @property
    def scenario(self) -> Scenario:
        """The scenario recorded in the header (parsed from its stored TOML text)."""
        where = f"{self.header.get('path', 'golden file')}:1 (header scenario_text)"
        text = self.header.get("scenario_text")
        if not isinstance(text, str):
            raise InputError("the header has no scenario_text", where=where)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"the stored scenario is not valid TOML: {exc}", where=where) from None
        return parse_scenario(data, where=where,
                              source=str(self.header.get("scenario_source", where)))


def require_sequential(scn: Scenario) -> None:
    """InputError when ``scn`` has a concurrent step: its trace is not deterministic."""
    for step in scn.steps:
        if step.params.get("concurrent"):
            raise InputError(
                f"scenario {scn.name!r} step {step.number} ({step.do}) runs concurrently; its call "
                "order, session numbers and addresses depend on thread scheduling, so it cannot "
                "have a golden trace. Record a sequential scenario (concurrent = false)",
                where="--scenario")


def _replace_paths(obj: Any, names: Mapping[str, str]) -> Any:
    if isinstance(obj, str):
        for old, new in names.items():
            if old in obj:
                obj = obj.replace(old, new)
        return obj
    if isinstance(obj, dict):
        return {k: _replace_paths(v, names) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace_paths(v, names) for v in obj]
    return obj


def canonical(events: Sequence[Mapping[str, Any]], dll_paths: Sequence[Sequence[str]] = ()
              ) -> list[Event]:
    """Normalised events: no times, handles renumbered, DLL paths as ``dllN``, ``seq`` from 0.

    ``dll_paths`` lists, per registered DLL in registry order, the strings naming it (the
    registered Windows path, the real file path); DLLs first seen in events get the next numbers.
    """
    names: dict[str, str] = {}
    for k, aliases in enumerate(dll_paths, 1):
        for a in aliases:
            if a:
                names.setdefault(a, f"dll{k}")
    n = len(dll_paths)
    for e in events:
        d = e.get("dll")
        if isinstance(d, str) and d not in names:
            n += 1
            names[d] = f"dll{n}"
    # longest first, so a path is replaced before any shorter path it contains
    ordered = dict(sorted(names.items(), key=lambda kv: -len(kv[0])))
    out = []
    for seq, e in enumerate(normalise(events)):
        ev = _replace_paths(e, ordered)
        ev["seq"] = seq
        out.append(ev)
    return out


def record(paths: Sequence[str | Path], scenario: Scenario, *, profile: str = "win7-x64",
           loader: str = "auto", strictness: str = "practice", call_timeout: float = 5.0,
           isolate: bool | None = None, text: str | None = None) -> tuple[Golden, Any]:
    """Run ``scenario`` on ``paths`` (registered together) and return its golden trace and report.

    ``text`` is the scenario's TOML for the header (default: read from its source).
    """
    from emulator.conformance.run import check_dlls
    from emulator.host.profiles import get_profile

    require_sequential(scenario)
    prof = get_profile(profile)
    if not scenario.applies_to(prof, len(paths)):
        need = (f"needs at least {scenario.min_dlls} DLLs" if len(paths) < scenario.min_dlls
                else f"applies to {', '.join(scenario.profiles)} only")
        raise InputError(f"scenario {scenario.name!r} {need}, not {prof.name} with "
                         f"{len(paths)} DLL(s)", where="--scenario")
    reports = check_dlls(list(paths), profile=prof, loader=loader, isolate=isolate,
                         strictness="strict" if strictness == "strict" else "practice",
                         scenarios=[scenario], together=True, call_timeout=call_timeout,
                         keep_traces=True)
    report = reports[0]
    aliases = [[str(paths[k]), str(Path(paths[k]).resolve())] for k in range(len(paths))]
    for k, info in enumerate(report.dll_info[: len(paths)]):
        aliases[k] += [str(info.get("registered", "")), str(info.get("path", ""))]
    events = canonical(report.traces.get(scenario.name, []), aliases)
    try:
        if text is None:
            text = scenario_text(scenario)
    except OSError as exc:
        raise InputError(f"cannot read the scenario's file: {exc}", where=scenario.source) from None
    header: dict[str, Any] = {
        "golden": FORMAT,
        "rasemu": __version__,
        "scenario": scenario.name,
        "scenario_source": scenario.source,
        "scenario_text": text,
        "profile": prof.name,
        "loader": loader,
        "strictness": strictness,
        "dlls": [Path(p).name for p in paths],
        "events": len(events),
    }
    return Golden(header, events), report


def _dump(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def write_golden(path: str | Path, golden: Golden) -> None:
    """Write the header line and one line per event (atomically)."""
    from emulator.report import write_atomic

    header = {k: v for k, v in golden.header.items() if k != "path"}
    text = "".join(_dump(x) + "\n" for x in [header, *golden.events])
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot write the golden file: {exc.strerror or exc}",
                         where=str(path)) from None


def read_golden(path: str | Path) -> Golden:
    """Read a golden file; InputError naming ``file:line`` for anything damaged."""
    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError("no such golden file" if not p.exists() else "not a file", where=where)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the golden file: {exc}", where=where) from None
    if not lines or not lines[0].strip():
        raise InputError(f"not a golden file: empty first line (expected a {FORMAT} header)",
                         where=where, line=1)
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("golden") != FORMAT:
        raise InputError(f"not a golden file: the first line is not a {FORMAT} header "
                         "(record one with 'rasemu record')", where=where, line=1)
    for key in ("scenario", "scenario_text", "profile", "loader", "events"):
        if key not in header:
            raise InputError(f"damaged header: no {key!r}", where=where, line=1)
    events: list[Event] = []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"damaged line: not JSON ({exc.msg} at column {exc.colno})",
                             where=where, line=n) from None
        if not isinstance(ev, dict) or not isinstance(ev.get("call"), str):
            raise InputError("damaged line: not a call event (a JSON object with 'call')",
                             where=where, line=n)
        events.append(ev)
    if header["events"] != len(events):
        raise InputError(f"damaged golden file: the header announces {header['events']} events, "
                         f"the file has {len(events)} (truncated?)", where=where,
                         line=len(lines))
    header["path"] = where
    return Golden(header, events)


def _short(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      default=str)


def event_line(e: Mapping[str, Any]) -> str:
    """One event as a readable line: ``#seq instance call(args) -> returned out=... [fault]``."""
    text = f"{e.get('instance', '?')} {e.get('call')}({_short(e.get('args', []))[1:-1]})"
    text += f" -> {_short(e.get('returned'))}"
    if e.get("outputs"):
        text += f" out={_short(e['outputs'])}"
    if e.get("fault"):
        text += f" FAULT={_short(e['fault'])}"
    if e.get("issues"):
        text += f" issues={_short(e['issues'])}"
    if e.get("probe"):
        text += " (probe)"
    if e.get("session") is not None:
        text += f" [session {e['session']}]"
    extra = {k: v for k, v in e.items() if k not in _SHOWN}
    if extra:
        text += f" {_short(extra)}"
    if e.get("dll") not in (None, "dll1"):  # name the DLL only when several are registered
        text = f"{e['dll']}: " + text
    return text


_SHOWN = frozenset({"seq", "instance", "call", "args", "returned", "outputs", "fault", "issues",
                    "probe", "session", "dll"})


@dataclass(frozen=True, slots=True)
class Hunk:
    """One difference: events ``expected[e0:e1]`` became ``actual[a0:a1]``."""

    e0: int
    e1: int
    a0: int
    a1: int


def diff(expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
         ) -> list[Hunk]:
    """Where two canonical traces differ (``seq`` is ignored: only content and order count)."""
    a = [event_line(e) for e in expected]
    b = [event_line(e) for e in actual]
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [Hunk(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]


def _seqs(events: Sequence[Mapping[str, Any]], i: int, j: int) -> str:
    if i == j:
        return f"after #{i - 1}" if i else "at the start"
    return f"#{i}" if j - i == 1 else f"#{i}-#{j - 1}"


def render_diff(expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]],
                hunks: Sequence[Hunk], *, limit: int = 5, context: int = 1,
                labels: tuple[str, str] = ("golden", "replay")) -> str:
    """A unified diff of the first ``limit`` differing hunks, one event per line with ``#seq``."""
    out = [f"--- {labels[0]} ({len(expected)} events)", f"+++ {labels[1]} ({len(actual)} events)"]
    for h in hunks[:limit]:
        names = sorted({str(e.get("call")) for e in [*expected[h.e0:h.e1], *actual[h.a0:h.a1]]})
        out.append(f"@@ -{_seqs(expected, h.e0, h.e1)} +{_seqs(actual, h.a0, h.a1)}: "
                   f"{', '.join(names)} @@")
        for k in range(max(0, h.e0 - context), h.e0):
            out.append(f"  #{k} {event_line(expected[k])}")
        for k in range(h.e0, h.e1):
            out.append(f"- #{k} {event_line(expected[k])}")
        for k in range(h.a0, h.a1):
            out.append(f"+ #{k} {event_line(actual[k])}")
        for k in range(h.e1, min(len(expected), h.e1 + context)):
            out.append(f"  #{k} {event_line(expected[k])}")
    if len(hunks) > limit:
        out.append(f"... and {len(hunks) - limit} more difference(s) (--max-diffs to see more)")
    return "\n".join(out) + "\n"


def replay(golden: Golden, paths: Sequence[str | Path], *, profile: str | None = None,
           loader: str | None = None, call_timeout: float = 5.0, isolate: bool | None = None
           ) -> tuple[list[Event], list[Hunk], Any]:
    """Run the golden file's scenario again on ``paths``: (canonical events, hunks, report)."""
    h = golden.header
    scn = golden.scenario
    fresh, report = record(paths, scn, profile=profile or str(h["profile"]),
                           loader=loader or str(h["loader"]),
                           strictness=str(h.get("strictness", "practice")),
                           call_timeout=call_timeout, isolate=isolate,
                           text=str(h["scenario_text"]))
    return fresh.events, diff(golden.events, fresh.events), report
