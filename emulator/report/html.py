"""Single-file HTML reports: summary, findings by rule, call timeline and address-pool charts.

The page is self-contained (inline CSS from ``html/report.css``, inline SVG charts, a little
inline JS from ``html/report.js``; no network access, a Content-Security-Policy that allows
only those two inline blocks), follows the reader's light or dark colour scheme and prints with
every evidence block open. Every string that came from a DLL, a trace or a file name is
HTML-escaped; control and bidi-override characters are shown as escapes. Long traces are
downsampled for the charts (the page says so) and evidence excerpts are cut.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import PurePath, PureWindowsPath
from typing import Any

from emulator.abi.callbacks import SIGNATURES
from emulator.conformance.findings import Finding, Severity
from emulator.conformance.rules import RULES
from emulator.report import Report, findings_by_rule, sort_findings
from emulator.report.text import partial_banner, profile_text, rule_title

__all__ = [
    "PoolSeries",
    "Timeline",
    "clean",
    "esc",
    "occupancy",
    "pool_svg",
    "render",
    "result_class",
    "timeline",
    "timeline_svg",
    "write",
]

#: port rows drawn per timeline (ports with failing calls are kept first)
MAX_ROWS = 80
#: call markers and session bars drawn over all timelines of one report
MARKER_BUDGET = 10_000
BAR_BUDGET = 8_000
#: findings of one rule shown in full; the rest are counted
MAX_FINDINGS_PER_RULE = 100
#: findings of one rule shown before a "show more" fold
FINDINGS_SHOWN = 10
#: evidence items and characters shown per finding
EVIDENCE_ITEMS = 8
EVIDENCE_CHARS = 4_000
#: characters of one argument shown in an evidence call line
ARG_CHARS = 300
#: characters of a port name drawn as a row label (the full name is in the tooltip)
LABEL_CHARS = 20
#: tooltip length
TITLE_CHARS = 240

_W = 1000  # timeline viewBox width
_PX0, _PX1 = 168, 988  # timeline plot area
_SVC = "service"
_DASH = "\u2013"
_ABNORMAL = frozenset({"fault", "issue", "refused"})


# -- text ----------------------------------------------------------------------------------------

_CTRL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)}
_CTRL.update({c: f"\\u{c:04x}" for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                                         *range(0x2066, 0x206A))})


def clean(value: object) -> str:
    """``value`` as text that displays safely: controls, bidi overrides and lone surrogates escaped."""
    s = str(value).translate(_CTRL)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def esc(value: object) -> str:
    """``value`` escaped for HTML text and attribute values."""
    return html.escape(clean(value), quote=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _stem(path: str) -> str:
    name = PureWindowsPath(path).name if "\\" in path else PurePath(path).name
    return name or path


def _num(x: float) -> str:
    """A compact SVG coordinate."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


# -- trace analysis ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _wstr_params(call: str, suffix: str) -> frozenset[int]:
    """Indexes of ``call``'s string parameters whose name ends with ``suffix``."""
    sig = SIGNATURES.get(call)
    if sig is None:
        return frozenset()
    return frozenset(k for k, p in enumerate(sig.params) if p.kind == "wstr" and p.name.endswith(suffix))


def _ports(ev: Mapping[str, Any]) -> list[str]:
    """Port names an event mentions: ``wszPortName`` arguments and ``port`` fields of structures."""
    out: list[str] = []
    args = ev.get("args")
    if not isinstance(args, list):
        return out
    named = _wstr_params(str(ev.get("call", "")), "PortName")
    for k, a in enumerate(args):
        if isinstance(a, dict):
            p = a.get("port")
            if isinstance(p, str) and p not in out:
                out.append(p)
        elif k in named and isinstance(a, str) and a not in out:
            out.append(a)
    return out


def _user(ev: Mapping[str, Any]) -> str | None:
    args = ev.get("args")
    if not isinstance(args, list):
        return None
    named = _wstr_params(str(ev.get("call", "")), "UserName")
    for k, a in enumerate(args):
        if isinstance(a, dict) and isinstance(a.get("user"), str):
            return str(a["user"])
        if k in named and isinstance(a, str):
            return a
    return None


def result_class(ev: Mapping[str, Any]) -> str:
    """How a call went: ``fault``, ``issue`` (ABI problem), ``refused`` (FALSE / error code) or ``ok``."""
    if ev.get("fault"):
        return "fault"
    if ev.get("issues"):
        return "issue"
    sig = SIGNATURES.get(str(ev.get("call", "")))
    ret = ev.get("returned")
    if sig is not None and isinstance(ret, bool | int):
        if sig.returns == "bool" and not ret:
            return "refused"
        if sig.returns == "dword" and ret != 0:
            return "refused"
    return "ok"


def _address_out(ev: Mapping[str, Any]) -> tuple[str, str] | None:
    """(family, address) a successful Get*AddressForUser call handed out, else None."""
    call = str(ev.get("call", ""))
    sig = SIGNATURES.get(call)
    if sig is None or "Get" not in call or ev.get("fault") or ev.get("returned") != 0:
        return None
    return _address_param(ev, sig.params)


def _address_released(ev: Mapping[str, Any]) -> tuple[str, str] | None:
    call = str(ev.get("call", ""))
    sig = SIGNATURES.get(call)
    if sig is None or "Release" not in call or ev.get("fault"):
        return None
    return _address_param(ev, sig.params)


def _address_param(ev: Mapping[str, Any], params: Sequence[Any]) -> tuple[str, str] | None:
    outputs = ev.get("outputs") or {}
    args = ev.get("args") or []
    for k, p in enumerate(params):
        if p.kind not in ("dword_inout", "in6_inout"):
            continue
        fam = "v4" if p.kind == "dword_inout" else "v6"
        value = outputs.get(p.name) if isinstance(outputs, dict) else None
        if value is None and isinstance(args, list) and k < len(args):
            value = args[k]
        if value is None or value in ("0.0.0.0", "0" * 32):
            return None
        return fam, str(value)
    return None


def _seq(ev: Mapping[str, Any], default: int) -> int:
    s = ev.get("seq")
    return s if isinstance(s, int) and not isinstance(s, bool) else default


@dataclass(slots=True)
class Bar:
    """A session on one port (or the service between initialise and terminate)."""

    row: str
    start: int
    end: int
    cls: str
    title: str
    merged: int = 1


@dataclass(slots=True)
class Mark:
    """One callback call."""

    row: str
    seq: int
    cls: str
    probe: bool
    event: Mapping[str, Any]

    @property
    def title(self) -> str:
        """The tooltip: call, result, fault or issues, user, time."""
        return _call_title(self.event, self.seq, self.cls)


@dataclass(slots=True)
class Timeline:
    """A scenario's sessions and calls laid out per port (before downsampling)."""

    scenario: str
    rows: list[str]
    bars: list[Bar]
    marks: list[Mark]
    first: int
    last: int
    sessions: int
    calls: int
    dropped_rows: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Sess:
    first: int
    last: int
    user: str | None = None
    address: str | None = None
    spans: dict[str, list[int]] = field(default_factory=dict)
    fault: bool = False
    refused: bool = False
    calls: int = 0


def _call_title(ev: Mapping[str, Any], seq: int, cls: str) -> str:
    call = clean(ev.get("call", "?"))
    ret = ev.get("returned")
    dll = ev.get("dll")
    parts = [f"#{seq} {call}" + (f" in {clean(_stem(dll))}" if isinstance(dll, str) and dll else "")]
    fault = ev.get("fault")
    if isinstance(fault, dict):
        parts.append(f"fault {clean(fault.get('kind', ''))}: {clean(fault.get('message', ''))}")
    elif ret is not None:
        parts.append(f"returned {clean(ret)}" + (" (refused)" if cls == "refused" else ""))
    for issue in ev.get("issues") or ():
        if isinstance(issue, dict):
            parts.append(f"{clean(issue.get('rule', ''))}: {clean(issue.get('message', ''))}")
    user = _user(ev)
    if user is not None:
        parts.append(f"user {clean(user)}")
    if ev.get("probe"):
        parts.append("robustness probe")
    t = ev.get("t")
    if isinstance(t, int | float):
        parts.append(f"t={t:.4f} s")
    return _cut(" · ".join(parts), TITLE_CHARS)


def timeline(scenario: str, events: Sequence[Mapping[str, Any]]) -> Timeline:
    """Sessions (bars from the first to the last call about them) and calls, one row per port.

    Calls about no session and no port (initialise, terminate) go to a ``service`` row whose bars
    run from an initialise call to the next terminate call.
    """
    sessions: dict[Any, _Sess] = {}
    marks: list[tuple[int, str | None, Any, str, bool, Mapping[str, Any]]] = []  # seq, port, session, cls, probe, event
    rows: dict[str, None] = {}
    svc_bars: list[Bar] = []
    svc_open: int | None = None
    running: set[tuple[str, str]] = set()
    first = last = None
    for n, ev in enumerate(events):
        seq = _seq(ev, n)
        first = seq if first is None else min(first, seq)
        last = seq if last is None else max(last, seq)
        cls = result_class(ev)
        ports = _ports(ev)
        sid = ev.get("session")
        probe = bool(ev.get("probe"))
        call = str(ev.get("call", ""))
        if sid is not None:
            s = sessions.get(sid)
            if s is None:
                s = sessions[sid] = _Sess(seq, seq)
            s.first, s.last = min(s.first, seq), max(s.last, seq)
            s.calls += 1
            for p in ports:
                span = s.spans.setdefault(p, [seq, seq])
                span[0], span[1] = min(span[0], seq), max(span[1], seq)
                rows.setdefault(p, None)
            if s.user is None:
                s.user = _user(ev)
            got = _address_out(ev)
            if got is not None and s.address is None:
                s.address = got[1]
            s.fault = s.fault or cls == "fault"
            s.refused = s.refused or (cls == "refused" and "Accept" in call)
            marks.append((seq, ports[0] if ports else None, sid, cls, probe, ev))
        elif ports:
            rows.setdefault(ports[0], None)
            marks.append((seq, ports[0], None, cls, probe, ev))
        else:
            rows.setdefault(_SVC, None)
            marks.append((seq, _SVC, None, cls, probe, ev))
            inst = (str(ev.get("dll", "")), str(ev.get("instance", "")))
            if "Initialize" in call:
                svc_open = seq if svc_open is None else svc_open
                running.add(inst)
            elif "Terminate" in call and svc_open is not None:
                running.discard(inst)
                if not running:  # every initialised instance has terminated: the service stopped
                    svc_bars.append(Bar(_SVC, svc_open, seq, "svc",
                                        f"service running: calls #{svc_open}{_DASH}#{seq}"))
                    svc_open = None
    if svc_open is not None and last is not None:
        svc_bars.append(Bar(_SVC, svc_open, last, "svc", f"service running from call #{svc_open}"))
    bars = list(svc_bars)
    primary: dict[Any, str] = {}
    for sid, s in sessions.items():
        if not s.spans:
            s.spans["(no port)"] = [s.first, s.last]
            rows.setdefault("(no port)", None)
        ports = list(s.spans)
        primary[sid] = ports[0]
        cls = "fault" if s.fault else "refused" if s.refused else "ok"
        who = f"user {clean(s.user)}" if s.user is not None else "unknown user"
        state = {"fault": "a call faulted", "refused": "refused", "ok": "accepted"}[cls]
        for k, p in enumerate(ports):
            start, end = (s.first, s.last) if k == 0 else s.spans[p]
            link = "" if k == 0 else " (extra link)"
            title = (f"session {clean(sid)}{link} on {clean(p)} · {who} · {state}"
                     + (f" · address {clean(s.address)}" if s.address else "")
                     + f" · calls #{start}{_DASH}#{end}")
            bars.append(Bar(p, start, end, cls, _cut(title, TITLE_CHARS)))
    out_marks = [Mark(port if port is not None else primary.get(sid, "(no port)"), seq, cls, probe, ev)
                 for seq, port, sid, cls, probe, ev in marks]
    order = ([_SVC] if _SVC in rows else []) + [r for r in rows if r != _SVC]
    return Timeline(scenario, order, bars, out_marks, first or 0, last or 0,
                    len(sessions), len(events))


def _limit_rows(tl: Timeline, max_rows: int) -> None:
    if len(tl.rows) <= max_rows:
        return
    bad = {m.row for m in tl.marks if m.cls in _ABNORMAL}
    ranked = sorted(range(len(tl.rows)), key=lambda k: (tl.rows[k] != _SVC, tl.rows[k] not in bad, k))
    keep = {tl.rows[k] for k in ranked[:max_rows]}
    ports = len(tl.rows) - (_SVC in tl.rows)
    tl.dropped_rows = len(tl.rows) - max_rows
    tl.rows = [r for r in tl.rows if r in keep]
    tl.bars = [b for b in tl.bars if b.row in keep]
    tl.marks = [m for m in tl.marks if m.row in keep]
    tl.notes.append(f"{tl.dropped_rows:,} of {ports:,} ports are not drawn "
                    "(ports with failing calls were kept first)")


def _evenly(items: list[Any], n: int) -> list[Any]:
    if n <= 0:
        return []
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(k * step)] for k in range(n)]


def _limit_marks(tl: Timeline, budget: int) -> None:
    total = len(tl.marks)
    if total <= budget:
        return
    bad = [m for m in tl.marks if m.cls in _ABNORMAL or m.probe]
    good = [m for m in tl.marks if not (m.cls in _ABNORMAL or m.probe)]
    bad = _evenly(bad, budget)
    kept = bad + _evenly(good, budget - len(bad))
    kept.sort(key=lambda m: m.seq)
    tl.marks = kept
    tl.notes.append(f"{len(kept):,} of {total:,} calls are marked (failing and refused calls first, "
                    "the others evenly sampled)")


def _limit_bars(tl: Timeline, budget: int, px_per_seq: float) -> None:
    total = len(tl.bars)
    if total <= budget:
        return
    by_row: dict[tuple[str, str], list[Bar]] = {}
    for b in tl.bars:
        by_row.setdefault((b.row, b.cls), []).append(b)
    merged: list[Bar] = []
    for (row, cls), items in by_row.items():
        items.sort(key=lambda b: b.start)
        cur: Bar | None = None
        for b in items:
            if cur is not None and (b.start - cur.end) * px_per_seq < 1.5:
                cur.end = max(cur.end, b.end)
                cur.merged += b.merged
                continue
            if cur is not None:
                merged.append(cur)
            cur = Bar(row, b.start, b.end, cls, b.title, b.merged)
        if cur is not None:
            merged.append(cur)
    for b in merged:
        if b.merged > 1:
            b.title = f"{b.merged:,} sessions on {clean(b.row)}, calls #{b.start}{_DASH}#{b.end} (merged)"
    if len(merged) > budget:
        bad = [b for b in merged if b.cls != "ok"]
        bad = _evenly(bad, budget)
        merged = bad + _evenly([b for b in merged if b.cls == "ok"], budget - len(bad))
    tl.bars = merged
    tl.notes.append(f"{total:,} session bars drawn as {len(merged):,} (neighbours closer than a "
                    "pixel merged" + (", then evenly sampled)" if len(merged) == budget else ")"))


@dataclass(slots=True)
class PoolSeries:
    """Addresses handed out and not yet released after each call of one scenario (step series)."""

    scenario: str
    first: int
    last: int
    points: list[tuple[int, int, int]]  # (seq, v4 outstanding, v6 outstanding) where a count changed
    peak_v4: int
    peak_v6: int
    left_v4: int
    left_v6: int
    handed_out: int
    unknown_releases: int


def occupancy(scenario: str, events: Sequence[Mapping[str, Any]]) -> PoolSeries:
    """The address pool's occupancy: successful Get*AddressForUser calls minus releases of them.

    Addresses are counted per (DLL, family, address), so a DLL handing the same address to two
    users (R63) counts it twice. Releases of addresses never handed out (probes) change nothing.
    """
    out: Counter[tuple[str, str, str]] = Counter()
    v4 = v6 = peak4 = peak6 = handed = unknown = 0
    points: list[tuple[int, int, int]] = []
    first = last = None
    for n, ev in enumerate(events):
        seq = _seq(ev, n)
        if first is None:
            first = seq
            points.append((seq, 0, 0))
        last = seq
        dll = str(ev.get("dll", ""))
        got = _address_out(ev)
        rel = _address_released(ev) if got is None else None
        if got is not None:
            out[(dll, *got)] += 1
            handed += 1
        elif rel is not None:
            key = (dll, *rel)
            if out[key] > 0:
                out[key] -= 1
            else:
                unknown += 1
                continue
        else:
            continue
        fam = (got or rel or ("v4", ""))[0]
        if fam == "v4":
            v4 += 1 if got else -1
        else:
            v6 += 1 if got else -1
        peak4, peak6 = max(peak4, v4), max(peak6, v6)
        points.append((seq, v4, v6))
    if last is not None and points[-1][0] != last:
        points.append((last, v4, v6))
    return PoolSeries(scenario, first or 0, last or 0, points, peak4, peak6, v4, v6, handed, unknown)


# -- SVG -----------------------------------------------------------------------------------------


def _ticks(lo: float, hi: float, count: int = 8) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw and (m != 2.5 or mag >= 10))
    if step < 1:
        step = 1
    t = math.ceil(lo / step) * step
    out = []
    while t <= hi + 1e-9:
        out.append(t)
        t += step
    return out


def _fmt_tick(v: float) -> str:
    return f"{int(v):,}" if v == int(v) else f"{v:g}"


def _marker(cx: float, cy: float, r: float, mark: Mark, with_title: bool) -> str:
    cls = f"mk mk-{mark.cls}"
    title = f"<title>{esc(mark.title)}</title>" if with_title else ""
    if mark.probe:
        d = (f"M{_num(cx)} {_num(cy - r * 1.3)}l{_num(r * 1.3)} {_num(r * 1.3)}"
             f"l{_num(-r * 1.3)} {_num(r * 1.3)}l{_num(-r * 1.3)} {_num(-r * 1.3)}z")
        return f'<path class="{cls}" d="{d}">{title}</path>'
    return f'<circle class="{cls}" cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(r)}">{title}</circle>'


def timeline_svg(tl: Timeline, *, marker_budget: int, bar_budget: int, label: str) -> str:
    """The timeline as an inline SVG (downsampling ``tl`` in place to the budgets)."""
    span = max(tl.last - tl.first, 1)
    lo, hi = tl.first - span * 0.01, tl.last + span * 0.01
    px = (_PX1 - _PX0) / (hi - lo)
    _limit_rows(tl, MAX_ROWS)
    _limit_marks(tl, marker_budget)
    _limit_bars(tl, bar_budget, px)
    n = max(len(tl.rows), 1)
    rh = 18.0 if n <= 24 else max(7.0, min(18.0, 960.0 / n))
    top, bottom = 26.0, 22.0
    height = top + n * rh + bottom
    index = {r: k for k, r in enumerate(tl.rows)}

    def x(seq: float) -> float:
        return _PX0 + (seq - lo) * px

    out = [f'<svg class="chart timeline" viewBox="0 0 {_W} {_num(height)}" role="img" '
           f'aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">']
    for k in range(1, n, 2):
        out.append(f'<rect class="row-alt" x="0" y="{_num(top + k * rh)}" width="{_W}" height="{_num(rh)}"/>')
    for t in _ticks(tl.first, tl.last):
        xx = _num(x(t))
        out.append(f'<line class="grid" x1="{xx}" y1="{_num(top - 4)}" x2="{xx}" y2="{_num(top + n * rh)}"/>')
        out.append(f'<text x="{xx}" y="{_num(top - 8)}" text-anchor="middle">{_fmt_tick(t)}</text>')
    out.append(f'<text x="{_PX0 - 8}" y="{_num(top - 8)}" text-anchor="end">call #</text>')
    out.append(f'<line class="axis" x1="{_PX0}" y1="{_num(top + n * rh)}" x2="{_PX1}" y2="{_num(top + n * rh)}"/>')
    fs = min(11.0, rh * 0.72)
    show_labels = rh >= 9
    for row, k in index.items():
        y = top + k * rh + rh / 2
        if show_labels or row == _SVC:
            cls = "lbl-svc" if row == _SVC else "lbl"
            out.append(f'<text class="{cls}" x="{_PX0 - 8}" y="{_num(y + fs * 0.35)}" text-anchor="end" '
                       f'font-size="{_num(fs)}"><title>{esc(row)}</title>{esc(_cut(clean(row), LABEL_CHARS))}</text>')
    bar_titles = len(tl.bars) <= 1500
    bh = max(rh * 0.56, 3.0)
    for b in tl.bars:
        k = index[b.row]
        x0 = x(b.start)
        w = max(x(b.end) - x0, 2.0)
        title = f"<title>{esc(b.title)}</title>" if bar_titles or b.cls != "ok" else ""
        out.append(f'<rect class="bar bar-{b.cls}" x="{_num(x0)}" y="{_num(top + k * rh + (rh - bh) / 2)}" '
                   f'width="{_num(w)}" height="{_num(bh)}" rx="2">{title}</rect>')
    r = max(min(3.6, rh * 0.24), 1.6)
    mark_titles = len(tl.marks) <= 1500
    for m in tl.marks:
        k = index[m.row]
        out.append(_marker(x(m.seq), top + k * rh + rh / 2, r, m, mark_titles or m.cls != "ok"))
    if not show_labels:
        out.append(f'<text x="{_PX0 - 8}" y="{_num(top + n * rh / 2)}" text-anchor="end">'
                   f'{len(tl.rows):,} ports</text>')
    out.append("</svg>")
    return "".join(out)


_PW, _PH = 360, 150  # pool chart viewBox
_PL, _PR, _PT, _PB = 40, 10, 10, 22


def _decimate(points: list[tuple[int, int]], lo: int, hi: int, buckets: int) -> list[tuple[float, int]]:
    """A step series as polyline vertices, reduced to about 4 per bucket (min and max kept)."""
    if len(points) <= buckets * 2:
        out: list[tuple[float, int]] = []
        prev = None
        for s, v in points:
            if prev is not None:
                out.append((s, prev))
            out.append((s, v))
            prev = v
        return out
    width = (hi - lo) / buckets or 1
    res: list[tuple[float, int]] = []
    k = 0
    prev_v = points[0][1]
    for b in range(buckets):
        b_end = lo + (b + 1) * width
        vals = [prev_v]
        while k < len(points) and (points[k][0] < b_end or b == buckets - 1):
            vals.append(points[k][1])
            k += 1
        bx = lo + b * width
        res.append((bx, vals[0]))
        res.append((bx, min(vals)))
        res.append((bx, max(vals)))
        res.append((bx, vals[-1]))
        prev_v = vals[-1]
    res.append((hi, prev_v))
    return res


def pool_svg(ps: PoolSeries) -> tuple[str, bool]:
    """The occupancy step chart as an inline SVG, and whether it had to be decimated."""
    lo, hi = ps.first, max(ps.last, ps.first + 1)
    top = max(ps.peak_v4, ps.peak_v6, 1)
    ymax = max(_ticks(0, top, 3)[-1], top)
    w, h = _PW - _PL - _PR, _PH - _PT - _PB

    def x(s: float) -> float:
        return _PL + (s - lo) / (hi - lo) * w

    def y(v: float) -> float:
        return _PT + h - v / ymax * h

    out = [f'<svg class="chart pool" viewBox="0 0 {_PW} {_PH}" role="img" '
           f'aria-label="{esc("address pool occupancy, " + ps.scenario)}" xmlns="http://www.w3.org/2000/svg">']
    for t in _ticks(0, ymax, 3):
        yy = _num(y(t))
        out.append(f'<line class="grid" x1="{_PL}" y1="{yy}" x2="{_PW - _PR}" y2="{yy}"/>')
        out.append(f'<text x="{_PL - 5}" y="{_num(y(t) + 3.5)}" text-anchor="end">{_fmt_tick(t)}</text>')
    for t in _ticks(lo, hi, 4):
        out.append(f'<text x="{_num(x(t))}" y="{_PH - 6}" text-anchor="middle">{_fmt_tick(t)}</text>')
    out.append(f'<line class="axis" x1="{_PL}" y1="{_num(y(0))}" x2="{_PW - _PR}" y2="{_num(y(0))}"/>')
    decimated = False
    for fam, idx in (("v4", 1), ("v6", 2)):
        if fam == "v6" and ps.peak_v6 == 0:
            continue
        series = [(p[0], p[idx]) for p in ps.points]
        pts = _decimate(series, lo, hi, w)
        decimated = decimated or len(series) > w * 2
        if not pts:
            continue
        path = "M" + "L".join(f"{_num(x(s))} {_num(y(v))}" for s, v in pts)
        if fam == "v4":
            area = path + f"L{_num(x(pts[-1][0]))} {_num(y(0))}L{_num(x(pts[0][0]))} {_num(y(0))}z"
            out.append(f'<path class="area4" d="{area}"/>')
        out.append(f'<path class="{fam}" d="{path}"><title>IP{fam} addresses handed out and not '
                   f'released; peak {ps.peak_v4 if fam == "v4" else ps.peak_v6}</title></path>')
    out.append("</svg>")
    return "".join(out), decimated


# -- page ----------------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files("emulator.report").joinpath(f"html/{name}").read_text("utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _level_text(level: str | None) -> str:
    if level == "strict":
        return "strict (documented set) and practice"
    if level == "practice":
        return "practice only (not the strict documented set)"
    return "none"


_SEV_WORD = {Severity.ERROR: ("error", "errors"), Severity.WARNING: ("warning", "warnings"),
             Severity.INFO: ("note", "notes")}


_GATE = {"error": "errors", "warning": "warnings and errors", "info": "any finding"}


def _counts(r: Report) -> dict[Severity, int]:
    active, _ = _split(r)
    return {s: sum(1 for f in active if f.severity is s) for s in Severity}


def _verdict(r: Report) -> str:
    counts = _counts(r)
    parts = [_plural(counts[s], *_SEV_WORD[s]) for s in Severity]
    waived = len(_split(r)[1])
    if waived:
        parts.append(f"{waived:,} waived")
    gate = str(getattr(r, "fail_on", "error"))
    tail = "" if gate == "error" else f" (gate: fail on {gate})"
    word = "PASS" if r.passed else "FAIL"
    if r.partial is not None:
        word = f"PARTIAL ({r.partial.get('reason') or 'interrupted'})"
    return word + " \u2014 " + ", ".join(parts) + tail


def _event_line(ev: Mapping[str, Any]) -> str:
    """A trace event as one readable call line (escaped HTML)."""
    seq = ev.get("seq")
    args = ev.get("args")
    shown = []

    def js(v: Any) -> str:
        return _cut(json.dumps(v, ensure_ascii=False, default=str), ARG_CHARS)

    if isinstance(args, list):
        for a in args:
            if isinstance(a, dict):
                inner = ", ".join(f"{k}={js(v)}" for k, v in a.items() if k != "struct")
                shown.append(f"{a.get('struct', '')}{{{inner}}}")
            else:
                shown.append(js(a))
    head = (f"#{seq} " if seq is not None else "") + f"{ev.get('instance', '')} ".lstrip()
    line = f'<span class="ev-dim">{esc(head)}</span><span class="ev-call">{esc(ev.get("call", "?"))}</span>'
    line += esc("(" + ", ".join(shown) + ")")
    fault = ev.get("fault")
    if isinstance(fault, dict):
        line += f' <span class="ev-fault">→ fault {esc(fault.get("kind", ""))}: {esc(fault.get("message", ""))}</span>'
    else:
        line += esc(f" → {json.dumps(ev.get('returned'), default=str)}")
    outs = ev.get("outputs")
    if isinstance(outs, dict) and outs:
        line += '\n    <span class="ev-dim">outputs</span> ' + esc(
            ", ".join(f"{k}={js(v)}" for k, v in outs.items()))
    for issue in ev.get("issues") or ():
        if isinstance(issue, dict):
            line += f'\n    <span class="ev-fault">{esc(issue.get("rule", ""))}: {esc(issue.get("message", ""))}</span>'
    extra = {k: v for k, v in ev.items() if k in ("probe", "session", "t") and v not in (None, False)}
    if extra:
        line += '\n    <span class="ev-dim">' + esc(", ".join(f"{k}={v}" for k, v in extra.items())) + "</span>"
    return line


def _evidence(f: Finding) -> str:
    if not f.evidence:
        return ""
    chunks: list[str] = []
    used = 0
    items = list(f.evidence)
    shown = 0
    cut = False
    for item in items[:EVIDENCE_ITEMS]:
        if isinstance(item, Mapping) and "call" in item:
            text = _event_line(item)
            plain_len = len(text)
        else:
            raw = json.dumps(item, ensure_ascii=False, default=str, indent=2)
            if used + len(raw) > EVIDENCE_CHARS:
                raw = _cut(raw, max(EVIDENCE_CHARS - used, 200))
                cut = True
            text, plain_len = esc(raw), len(raw)
        if used and used + plain_len > EVIDENCE_CHARS:
            cut = True
            break
        chunks.append(text)
        used += plain_len
        shown += 1
    calls = sum(1 for i in items if isinstance(i, Mapping) and "call" in i)
    what = _plural(len(items), "trace event") if calls == len(items) else _plural(len(items), "item")
    more = ""
    if shown < len(items) or cut:
        more = (f'\n<span class="ev-dim">… cut: {shown} of {len(items)} shown; '
                "the JSON report (--format json) has the full evidence</span>")
    return (f'<details class="evidence"><summary>Evidence · {what}</summary>'
            f"<pre><code>{chr(10).join(chunks)}{more}</code></pre></details>")


def _finding_li(f: Finding, reason: str | None = None) -> str:
    sev = f.severity.value
    label = "note" if f.severity is Severity.INFO else sev
    subj = f'<p class="subject">about {esc(f.subject)}</p>' if f.subject else ""
    phase = f.extra.get("phase") if isinstance(f.extra, Mapping) else None
    if phase:
        subj = f'<p class="subject" data-phase="{esc(phase)}">{esc(phase)} phase</p>' + subj
    why = f'<p class="reason">waived: {esc(reason)}</p>' if reason else ""
    return (f'<li class="finding sev-{sev}"><span class="pill {sev}">{label}</span><div class="body">'
            f'<p class="msg">{esc(f.message)}</p>{subj}{why}{_evidence(f)}</div></li>')


def _rule_meta(rule: str) -> str:
    r = RULES.get(rule)
    if r is None:
        return "rasemu's own check (not a contract rule)"
    side = {"DLL": "DLL side", "HOST": "host side", "SETUP": "installer side"}.get(r.side, r.side)
    return f"contract rule · {side} · {r.tag} · sources {r.sources}"


def _rule_group(rid: str, rule: str, items: Sequence[tuple[Finding, str | None]], waived: bool) -> str:
    worst = max((f.severity for f, _ in items), key=lambda s: s.rank)
    sev = worst.value
    cls = "rule waived" if waived else f"rule sev-{sev}"
    pill = ('<span class="pill waived">waived</span>' if waived
            else f'<span class="pill {sev}">{"note" if worst is Severity.INFO else sev}</span>')
    lis = [_finding_li(f, reason) for f, reason in items[:FINDINGS_SHOWN]]
    rest = items[FINDINGS_SHOWN:MAX_FINDINGS_PER_RULE]
    if rest:
        lis.append(f'<li class="fold"><details class="findings-more"><summary>Show {len(rest):,} more '
                   f'finding{"s" if len(rest) > 1 else ""} of {esc(rule)}</summary><ul class="findings">'
                   + "".join(_finding_li(f, reason) for f, reason in rest) + "</ul></details></li>")
    more = ""
    if len(items) > MAX_FINDINGS_PER_RULE:
        more = (f'<li class="more">\u2026 and {len(items) - MAX_FINDINGS_PER_RULE:,} more findings of '
                f"{esc(rule)}; the JSON report (--format json) lists them all</li>")
    return (f'<article class="{cls}" id="{rid}-{esc(rule)}" data-rule="{esc(rule)}"><header>'
            f'<span class="rule-id">{esc(rule)}</span>{pill}<h3>{esc(rule_title(rule))}</h3>'
            f'<span class="n">{_plural(len(items), "finding")}</span></header>'
            f'<p class="rule-meta">{esc(_rule_meta(rule))}</p>'
            f'<ul class="findings">{"".join(lis)}{more}</ul></article>')


def _waiver(f: Finding) -> Mapping[str, Any] | None:
    w = f.extra.get("waived") if isinstance(f.extra, Mapping) else None
    return w if isinstance(w, Mapping) else None


def _split(r: Report) -> tuple[list[Finding], list[tuple[Finding, str | None]]]:
    """The findings that count, and the waived ones with their reason (``extra["waived"]``)."""
    active: list[Finding] = []
    waived: list[tuple[Finding, str | None]] = []
    for f in r.findings:
        w = _waiver(f)
        if w is None:
            active.append(f)
        else:
            reason = str(w.get("reason", "")) or None
            src = w.get("config")
            waived.append((f, f"{reason} ({src})" if reason and src else reason))
    return active, waived


def _findings_section(r: Report, rid: str) -> str:
    active, waived = _split(r)
    groups = findings_by_rule(active)
    head = (f'<h2 id="{rid}-findings">Findings <span class="sub">{_plural(len(active), "finding")} '
            f'about {_plural(len(groups), "rule")}</span>')
    if any(f.evidence for f in r.findings):
        head += (f'<span class="tools"><button type="button" data-evidence="open" data-scope="{rid}-fl">'
                 f'Expand evidence</button><button type="button" data-evidence="close" '
                 f'data-scope="{rid}-fl">Collapse</button></span>')
    head += "</h2>"
    if not groups:
        body = ('<div class="ok-box"><strong>No findings.</strong> Every check that ran passed'
                + ("" if r.started else " (but the service did not start, so few checks ran)") + ".</div>")
    else:
        body = "".join(_rule_group(rid, rule, [(f, None) for f in items], False)
                       for rule, items in groups.items())
    out = f'{head}<div id="{rid}-fl">{body}</div>'
    if waived:
        wg: dict[str, list[tuple[Finding, str | None]]] = {}
        order = {id(f): k for k, f in enumerate(sort_findings(f for f, _ in waived))}
        for f, why in sorted(waived, key=lambda p: order[id(p[0])]):
            wg.setdefault(f.rule, []).append((f, why))
        out += (f'<h2 id="{rid}-waived">Waived findings <span class="sub">{_plural(len(waived), "finding")}'
                " accepted by configuration; they do not affect the verdict</span></h2>")
        out += "".join(_rule_group(rid + "-w", rule, items, True) for rule, items in wg.items())
    return out


def _scenario_section(r: Report, rid: str, pools: Mapping[str, PoolSeries]) -> str:
    if not r.scenarios:
        return ""
    rows = []
    for s in r.scenarios:
        if s.interrupted:
            res = f'<span class="res failed">{esc(s.interrupted)}</span>'
        elif s.skipped:
            res = f'<span class="res skipped">skipped: {esc(s.skipped)}</span>'
        else:
            res = f'<span class="res {"ok" if s.ok else "failed"}">{"ok" if s.ok else "failed"}</span>'
        ps = pools.get(s.name)
        peak = left = ""
        if ps is not None and not s.skipped:
            peak = f"{ps.peak_v4:,}" + (f" / {ps.peak_v6:,} v6" if ps.peak_v6 else "")
            left = f"{ps.left_v4 + ps.left_v6:,}"
        rows.append(f'<tr><td class="wrap">{esc(s.name)}</td><td>{res}</td><td class="num">{s.findings:,}</td>'
                    f'<td class="num">{s.sessions:,}</td><td class="num">{s.calls:,}</td>'
                    f'<td class="num">{peak}</td><td class="num">{left}</td>'
                    f'<td class="num">{s.seconds:.3f}</td></tr>')
    return (f'<h2 id="{rid}-scenarios">Scenarios <span class="sub">each on a fresh host</span></h2>'
            '<table><thead><tr><th>scenario</th><th>result</th><th class="num">findings</th>'
            '<th class="num">sessions</th><th class="num">calls</th><th class="num">peak addresses</th>'
            '<th class="num">not released</th><th class="num">seconds</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _swatch(kind: str) -> str:
    if kind == "probe":
        return ('<svg width="12" height="12" aria-hidden="true"><path class="swatch-probe" '
                'd="M6 1.5L10.5 6L6 10.5L1.5 6z"/></svg>')
    if kind.startswith("bar"):
        return f'<svg width="18" height="10" aria-hidden="true"><rect class="swatch-{kind}" width="18" height="10" rx="2"/></svg>'
    if kind in ("v4", "v6"):
        return f'<svg width="20" height="10" aria-hidden="true"><line class="swatch-{kind}" x1="0" y1="5" x2="20" y2="5"/></svg>'
    return f'<svg width="10" height="10" aria-hidden="true"><circle class="swatch-{kind}" cx="5" cy="5" r="4"/></svg>'


def _timeline_section(r: Report, rid: str) -> str:
    head = (f'<h2 id="{rid}-timeline">Call timeline <span class="sub">one row per port; a bar runs from a '
            "session's first call to its last; hover for details</span></h2>")
    traced = [(name, ev) for name, ev in r.traces.items() if ev]
    if not traced:
        why = ("the service did not start, so no session was run" if not r.started
               else "this report carries no call trace (it was rebuilt from JSON or traces were not kept)")
        return head + f'<p class="muted">No timeline: {esc(why)}.</p>'
    ok = {s.name: s.ok for s in r.scenarios}
    tls = [timeline(name, ev) for name, ev in traced]
    weights = [max(len(t.marks), 1) for t in tls]
    total = sum(weights)
    legend = ('<div class="legend">'
              f'<span>{_swatch("bar")}session</span>'
              f'<span>{_swatch("bar-refused")}refused session</span>'
              f'<span>{_swatch("bar-fault")}session with a fault</span>'
              f'<span>{_swatch("ok")}call ok</span>'
              f'<span>{_swatch("refused")}refused / error code</span>'
              f'<span>{_swatch("fault")}fault (crash, timeout)</span>'
              f'<span>{_swatch("issue")}ABI issue</span>'
              f'<span>{_swatch("probe")}robustness probe</span></div>')
    active = next((k for k, t in enumerate(tls) if not ok.get(t.scenario, True)), 0)
    tabs = []
    panels = []
    for k, tl in enumerate(tls):
        share = weights[k] / total
        mb = max(400, int(MARKER_BUDGET * share))
        bb = max(400, int(BAR_BUDGET * share))
        failed = not ok.get(tl.scenario, True)
        pid = f"{rid}-tl-{k}"
        svg = timeline_svg(tl, marker_budget=mb, bar_budget=bb, label=f"call timeline, scenario {tl.scenario}")
        notes = "".join(f'<p class="note">Downsampled: {esc(n)}.</p>' for n in tl.notes)
        tabs.append(f'<button type="button" role="tab" id="{pid}-tab" aria-controls="{pid}">'
                    f'<span class="dot{" failed" if failed else ""}"></span>{esc(tl.scenario)}</button>')
        panels.append(f'<div class="panel" role="tabpanel" id="{pid}" aria-labelledby="{pid}-tab">'
                      f'<h3>{esc(tl.scenario)}</h3><p class="desc">{_plural(tl.sessions, "session")}, '
                      f'{_plural(tl.calls, "call")}, calls #{tl.first:,}{_DASH}#{tl.last:,}'
                      f'{" · scenario failed" if failed else ""}</p>{notes}{svg}</div>')
    return (head + f'<div class="card" data-tabs data-active="{active}">{legend}'
            f'<div class="tabs" role="tablist">{"".join(tabs)}</div>{"".join(panels)}</div>')


def _pool_section(rid: str, pools: Sequence[PoolSeries]) -> str:
    head = (f'<h2 id="{rid}-pool">Address pool occupancy <span class="sub">addresses handed out and not '
            "yet released, by call number</span></h2>")
    if not pools:
        return head + '<p class="muted">No address was handed out in this run.</p>'
    legend = f'<div class="legend"><span>{_swatch("v4")}IPv4</span>'
    if any(p.peak_v6 for p in pools):
        legend += f'<span>{_swatch("v6")}IPv6</span>'
    legend += "</div>"
    cards = []
    note = False
    for ps in pools:
        svg, dec = pool_svg(ps)
        note = note or dec
        left = ps.left_v4 + ps.left_v6
        peak = f"peak {ps.peak_v4:,}" + (f" (+{ps.peak_v6:,} IPv6)" if ps.peak_v6 else "")
        lefttext = (f"<strong>{_plural(left, 'address', 'addresses')} never released</strong>" if left
                    else "all released")
        extra = f" · {ps.unknown_releases:,} release(s) of unknown addresses" if ps.unknown_releases else ""
        cards.append(f'<div class="card{" leak" if left else ""}"><h3>{esc(ps.scenario)}<span>{peak}</span></h3>'
                     f'<p>{_plural(ps.handed_out, "address", "addresses")} handed out · {lefttext}{extra}</p>'
                     f"{svg}</div>")
    dec_note = ('<p class="note">Downsampled: long series are drawn per pixel column with the '
                "minimum and maximum kept, so peaks stay visible.</p>") if note else ""
    return head + legend + dec_note + f'<div class="pool-grid">{"".join(cards)}</div>'


def _header(r: Report, rid: str) -> str:
    names = " + ".join(_stem(d) for d in r.dlls) or "(no DLL)"
    fail = "" if r.passed else " fail"
    counts = []
    numbers = _counts(r)
    for s in Severity:
        one, many = _SEV_WORD[s]
        n = numbers[s]
        counts.append(f'<div class="count {s.value}{" zero" if not n else ""}"><b>{n:,}</b>'
                      f"<span>{one if n == 1 else many}</span></div>")
    waived = len(_split(r)[1])
    if waived:
        counts.append(f'<div class="count waived"><b>{waived:,}</b><span>waived</span></div>')
    st = r.stats
    meta = [
        ("profile", profile_text(r)),
        ("loader", r.loader),
        ("strictness", r.strictness),
        ("fails on", _GATE.get(str(getattr(r, "fail_on", "error")), str(getattr(r, "fail_on", "")))),
        ("level met", _level_text(r.level_met)),
        ("service started", "yes" if r.started else "no"),
        ("sessions · calls", f"{int(st.get('sessions', 0)):,} · {int(st.get('calls', 0)):,}"),
        ("wall time", f"{float(st.get('seconds', 0.0)):.2f} s"
         + (f" (DLL {float(st['dll_seconds']):.2f} s)" if isinstance(st.get("dll_seconds"), int | float) else "")),
        ("rasemu", r.version),
        ("created", (r.created or "-").replace("T", " ").replace("+00:00", " UTC")),
    ]
    dl = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in meta)
    reg = []
    for d in r.dll_info:
        if d.get("registered"):
            how = ", ".join(dict.fromkeys(str(d[k]) for k in ("loader", "machine") if d.get(k)))
            sel = d.get("selection") if isinstance(d.get("selection"), Mapping) else {}
            variant = sel.get("variant") if sel else None
            if variant is not None:
                how += f", accept/hang-up variant {variant or '1'}"
            reg.append(f'<li class="wrap">registered as <span class="mono">{esc(d["registered"])}</span>'
                       f" ({esc(how)})</li>")
    banner = ""
    if r.partial is not None:
        banner += ('<div class="banner partial" role="alert"><strong>PARTIAL REPORT</strong> '
                   f"{esc(partial_banner(r).removeprefix('PARTIAL REPORT: '))}</div>")
    if not r.started and r.partial is None:
        banner = ('<div class="banner"><strong>The RAS service did not start with this DLL.</strong> '
                  "No session was run; the findings below say why (see R15 and the rules it names).</div>")
    return (f'<header class="hero{fail}"><div class="hero-top"><span class="badge{fail}">'
            f'{"PARTIAL" if r.partial is not None else "PASS" if r.passed else "FAIL"}</span><h1 class="wrap">{esc(names)}</h1></div>'
            f'<p class="paths mono wrap">{esc(r.dll)}</p><p class="verdict">{esc(_verdict(r))}</p>'
            f'<div class="counts">{"".join(counts)}</div><dl class="meta">{dl}</dl>'
            + (f'<ul class="registered">{"".join(reg)}</ul>' if reg else "")
            + f"{banner}</header>"
            f'<nav class="toc"><a href="#{rid}-findings">Findings</a>'
            + (f'<a href="#{rid}-setup">Setup</a>' if r.setup is not None else "")
            + f'<a href="#{rid}-scenarios">Scenarios</a>'
            f'<a href="#{rid}-timeline">Timeline</a><a href="#{rid}-pool">Address pool</a></nav>')


def _setup_section(r: Report, rid: str) -> str:
    """Installer, uninstaller and both registry diffs (``rasemu check --install``)."""
    st = r.setup
    if st is None:
        return ""

    def changes(title: str, items: Sequence[Any] | None, empty: str) -> str:
        text = "\n".join(str(e.get("text", e)) if isinstance(e, Mapping) else str(e)
                         for e in items or ()) or empty
        return (f'<details class="evidence" open><summary>{esc(title)}</summary>'
                f"<pre><code>{esc(text)}</code></pre></details>")

    who = [("installer", st.get("installer")), ("uninstaller", st.get("uninstaller")),
           ("installer bits", st.get("installer_bits"))]
    who += [("registered before", p) for p in st.get("preexisting") or ()]
    dl = "".join(f"<div><dt>{esc(k)}</dt><dd class=\"mono wrap\">{esc(v)}</dd></div>"
                 for k, v in who if v not in (None, ""))
    out = (f'<h2 id="{rid}-setup">Setup <span class="sub">install, run, uninstall; findings say '
           f'their phase</span></h2><dl class="meta">{dl}</dl>'
           + changes("Registry changes by the install", st.get("install_diff"), "(none)"))
    if st.get("uninstaller"):
        out += changes("Left behind after the uninstall (compared with before the install)",
                       st.get("uninstall_diff"), "(nothing: the registry is as before the install)")
    if st.get("log"):
        out += ('<details class="evidence"><summary>Installer log</summary><pre><code>'
                + esc("\n".join(str(x) for x in st["log"])) + "</code></pre></details>")
    return out


def _report_section(r: Report, k: int) -> str:
    rid = f"r{k}"
    pools = {name: occupancy(name, ev) for name, ev in r.traces.items() if ev}
    shown = [p for p in pools.values() if p.handed_out]
    return (f'<section class="report" id="{rid}" data-passed="{"1" if r.passed else "0"}">'
            + _header(r, rid) + _findings_section(r, rid) + _setup_section(r, rid)
            + _scenario_section(r, rid, pools)
            + _timeline_section(r, rid) + _pool_section(rid, shown) + "</section>")


def render(reports: Sequence[Report]) -> str:
    """The HTML page for ``reports`` (one section per report), as text."""
    css, js = _asset("report.css"), _asset("report.js")
    csp = (f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    passed = all(r.passed for r in reports)
    names = ", ".join(_stem(d) for r in reports for d in r.dlls)
    word = "PASS" if passed else "FAIL"
    if any(r.partial is not None for r in reports):
        word = "PARTIAL"
    title = f"rasemu {word}: {_cut(clean(names), 120)}"
    contents = ""
    if len(reports) > 1:
        items = "".join(f'<li><a href="#r{k}">{esc(" + ".join(_stem(d) for d in r.dlls))}</a> '
                        f'<span class="pill {"info" if r.passed else "error"}">{"pass" if r.passed else "fail"}</span></li>'
                        for k, r in enumerate(reports))
        contents = f'<nav class="contents"><strong>{len(reports)} reports</strong><ol>{items}</ol></nav>'
    version = reports[0].version if reports else ""
    body = "".join(_report_section(r, k) for k, r in enumerate(reports))
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            '<meta name="generator" content="rasemu">'
            f"<title>{esc(title)}</title><style>{css}</style></head>\n"
            f'<body data-ready="0"><main><div class="masthead"><span class="brand">rasemu conformance report</span>'
            f"<span>{esc('rasemu ' + version)}</span></div>{contents}{body}"
            f'<footer>Generated by rasemu. Rule texts: the RAS admin DLL contract (rules R01{_DASH}R78). '
            "Full data: <span class=\"mono\">rasemu check --format json</span>.</footer></main>"
            f"<script>{js}</script></body></html>\n")


def write(reports: Sequence[Report], path: str | os.PathLike[str]) -> None:
    """Render ``reports`` and write the page to ``path`` atomically."""
    from emulator.report import write_atomic

    write_atomic(path, render(reports))
