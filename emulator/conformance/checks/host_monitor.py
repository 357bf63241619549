"""Host-side monitor: replays call-trace events and reports host breaches (subject ``host``).

It runs incrementally (``observe`` is O(1) per event) inside rasemu's own host after every call,
and post hoc over any trace (:func:`check_trace`). Rules: R20 (every DLL in order; nothing after a
refusal; GetIp before accept), R23 (2000/NT: no hang-up after refusal), R24 (link hang-ups before
the connection hang-up), R25 (same variant), R26 (first IP DLL), R28/R29 (no accept after a failed
GetIp), R30/R38 (release only after notify TRUE), R31 (same DLL/user/port/address), R32 (at most
once; released on every teardown), R33 (PppInfo address = the GetIp address), R37 (NT 4.0 once
per port), R39/R40 (structure headers). Probe events (R65 robustness probes) are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from emulator.conformance.findings import Finding, Severity
from emulator.host.connection import dotted
from emulator.host.profiles import Profile
from emulator.host.trace import CallRecord

_GET = ("MprAdminGetIpAddressForUser", "RasAdminGetIpAddressForUser")
_REL = ("MprAdminReleaseIpAddress", "RasAdminReleaseIpAddress")
_IP_PAIRS = {"mpradmin": ("MprAdminGetIpAddressForUser", "MprAdminReleaseIpAddress"),
             "rasadmin": ("RasAdminGetIpAddressForUser", "RasAdminReleaseIpAddress")}
_SIZES = {32: {"RAS_CONNECTION_EX": 1664, "RAS_CONNECTION_3": 788},
          64: {"RAS_CONNECTION_EX": 1672, "RAS_CONNECTION_3": 792}}


def _kind_of(call: str) -> str:
    if call in _GET:
        return "get"
    if call in _REL:
        return "release"
    if call.startswith(("MprAdminAcceptNewConnection", "RasAdminAcceptNewConnection")):
        return "accept"
    if call.startswith(("MprAdminConnectionHangupNotification",
                        "RasAdminConnectionHangupNotification")):
        return "hangup"
    if call == "MprAdminAcceptNewLink":
        return "link"
    if call == "MprAdminLinkHangupNotification":
        return "linkdown"
    return "other"


def _variant_of(call: str) -> str:
    for prefix in ("MprAdminAcceptNewConnection", "MprAdminConnectionHangupNotification",
                   "RasAdminAcceptNewConnection", "RasAdminConnectionHangupNotification"):
        if call.startswith(prefix):
            return call[len(prefix):] or "1"
    return ""


class _View:
    """A trace event dict read through :class:`CallRecord`'s interface (post-hoc checks)."""

    __slots__ = ("_ev", "call", "dll", "fault", "probe", "returned", "session")

    dicts = True

    def __init__(self, ev: Mapping[str, Any]) -> None:
        get = ev.get
        self._ev = ev
        self.probe = get("probe")
        self.call = get("call", "")
        self.session = get("session")
        self.dll = get("dll", "")
        self.returned = get("returned")
        self.fault = get("fault")

    def sargs(self) -> Any:
        return self._ev.get("args") or []

    def outs(self) -> Any:
        return self._ev.get("outputs") or {}

    def event(self) -> Mapping[str, Any]:
        return self._ev


#: what the monitor reads: the host's record, or a trace event dict through :class:`_View`
_Rec = CallRecord | _View


class _Sess:
    """What the monitor remembers about one session (a plain slotted class: one per session;
    the containers only NT 4.0 ports or several DLLs need are made on first use)."""

    __slots__ = (
        "accept_variant",
        "accepts",
        "address",
        "get",
        "get_ok",
        "hung_up",
        "notify",
        "ports_accepted",
        "ports_down",
        "refused",
        "refused_ports",
        "released",
    )

    def __init__(self) -> None:
        self.get: _Rec | None = None
        self.get_ok: bool | None = None
        #: the address GetIp returned: dotted text (trace events) or the raw DWORD (the
        #: host's records, turned into text by :func:`_text` only for messages); None for none
        self.address: str | int | None = None
        self.notify = False
        self.released = 0
        #: accept calls so far that reached a registered DLL (the registry-order position)
        self.accepts = 0
        self.refused = False
        self.refused_ports: set[Any] | None = None
        #: DLL -> the accept variant it was called with (made on the first accept)
        self.accept_variant: dict[str, str] | None = None
        self.hung_up = False
        self.ports_accepted: dict[str, set[str]] | None = None
        self.ports_down: dict[str, set[str]] | None = None


def _text(address: str | int | None) -> str | None:
    """An address as the monitor keeps it, as dotted text."""
    return address if address is None or isinstance(address, str) else dotted(address)


#: per signature name: (kind, NT 4.0 family, accept/hang-up variant)
_INFO: dict[str, tuple[str, bool, str]] = {}


def _info(call: str) -> tuple[str, bool, str]:
    got = _INFO.get(call)
    if got is None:
        got = _INFO[call] = (_kind_of(call), call.startswith("RasAdmin"), _variant_of(call))
    return got


class HostMonitor:
    """Watches events of one host run; ``dlls`` = (path, exports) in registry order."""

    def __init__(self, dlls: Sequence[tuple[str, frozenset[str]]], profile: Profile) -> None:
        self.profile = profile
        self.order = [p for p, _ in dlls]
        self.index = {p: i for i, p in enumerate(self.order)}
        get, rel = _IP_PAIRS[profile.family]
        self.first_ip: str | None = next(
            (p for p, ex in dlls if get in ex and rel in ex), None)
        self.sessions: dict[Any, _Sess] = {}
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, str]] = set()

    def _f(self, rule: str, message: str, *evs: _Rec) -> None:
        key = (rule, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.findings.append(Finding(rule, Severity.ERROR, message,
                                     tuple(dict(e) for e in (r.event() for r in evs) if e),
                                     subject="host"))

    def _sess(self, ev: _Rec, key: Any) -> _Sess:
        if key is None:
            args = ev.sargs()
            key = ("user", args[0] if args else None, args[1] if len(args) > 1 else None)
        s = self.sessions.get(key)
        if s is None:
            s = self.sessions[key] = _Sess()
        return s

    def observe(self, event: Mapping[str, Any] | CallRecord) -> None:
        """Check one call (the host's record, or a trace event dict) against the host rules."""
        ev = event if type(event) is CallRecord else _View(event)  # type: ignore[arg-type]
        if ev.probe:
            return
        call = ev.call
        kind, nt4, variant = _INFO.get(call) or _info(call)
        if kind == "other":
            return
        key = ev.session
        s = self.sessions.get(key) if key is not None else None
        if s is None:
            s = self._sess(ev, key)
        if kind == "get":
            self._get(ev, s, call)
        elif kind == "release":
            self._release(ev, s, call, nt4)
        elif kind == "accept":
            self._accept(ev, s, call, nt4, variant, key)
        elif kind == "hangup":
            self._hangup(ev, s, call, nt4, variant)
        elif kind == "link":
            if s.refused:
                self._f("R22", f"{call} was called although the connection was refused", ev)
            if s.hung_up:
                self._f("R21", f"{call} was called after the connection hang-up", ev)
        elif kind == "linkdown":
            if s.hung_up:
                self._f("R24", f"{call} came after the connection hang-up (links are dismantled "
                        "first)", ev)
            if s.refused and not self.profile.hangup_after_refusal:
                self._f("R23", f"{call} was sent for a refused connection on {self.profile.os}",
                        ev)

    def _get(self, ev: _Rec, s: _Sess, call: str) -> None:
        if self.first_ip is not None and ev.dll != self.first_ip:
            self._f("R26", f"{call} was called in {ev.dll}, but the first DLL (registry order) "
                    f"exporting the IP pair is {self.first_ip}", ev)
        if s.get is not None and s.get_ok and not s.released and s.notify:
            self._f("R32", f"{call} called twice for one session without a Release between",
                    s.get, ev)
        s.get = ev
        s.get_ok = ev.returned == 0 and ev.fault is None
        s.released = 0
        s.accepts = 0
        s.refused = False
        s.hung_up = False
        if s.get_ok:
            if type(ev) is CallRecord:
                outputs = ev.result.outputs
                raw = outputs.get(2)
                s.address = None if not raw else raw & 0xFFFFFFFF or None
                s.notify = bool(outputs.get(3))
                return
            vals = list(ev.outs().values())
            s.address = vals[0] if vals else None
            s.notify = bool(vals[1]) if len(vals) > 1 else False
            if s.address == "0.0.0.0":
                s.address = None
        else:
            s.address, s.notify = None, False

    def _release(self, ev: _Rec, s: _Sess, call: str, nt4: bool) -> None:
        g = s.get
        rule30 = "R38" if nt4 else "R30"
        if g is None or not s.get_ok:
            self._f(rule30, f"{call} was called without a successful GetIpAddressForUser "
                    "for that user and port", ev)
            return
        if not s.notify:
            self._f(rule30, f"{call} was called although GetIpAddressForUser left "
                    "*bNotifyRelease FALSE", g, ev)
        if s.released:
            self._f("R32", f"{call} was called {s.released + 1} times for one "
                    "GetIpAddressForUser", g, ev)
        s.released += 1
        if ev.dll != g.dll:
            self._f("R31", f"{call} went to {ev.dll}, but the address came from {g.dll}", g, ev)
        if type(ev) is CallRecord and type(g) is CallRecord:
            # Get/Release take (user, port, address, ...): the names are their own trace
            # form and the address's is dotted text; a clean pair needs no trace form
            a, ga = ev.args, g.args
            if len(a) > 2 and len(ga) >= 2 and a[0] == ga[0] and a[1] == ga[1] and (
                    s.address is None or a[2] == s.address):
                return
        gargs = g.sargs()
        args = ev.sargs()
        if gargs[:2] != args[:2]:
            self._f("R31", f"{call} got user/port {args[:2]} but GetIp had {gargs[:2]}", g, ev)
        address = _text(s.address)
        if len(args) > 2 and address is not None and args[2] != address:
            self._f("R31", f"{call} got address {args[2]} but the DLL had returned "
                    f"{address}", g, ev)

    def _accept(self, ev: _Rec, s: _Sess, call: str, nt4: bool, variant: str,
                key: Any) -> None:
        dll = ev.dll
        if s.get is not None and not s.get_ok:
            self._f("R28", f"{call} was called although GetIpAddressForUser failed for the "
                    "user (the connection must be terminated)", s.get, ev)
        elif s.get is not None and s.address is None:
            self._f("R29", f"{call} was called although the user got no address", s.get, ev)
        elif s.get is None and self.first_ip is not None and key is not None:
            self._f("R20", f"{call} was called before GetIpAddressForUser (section 2.5 "
                    "order: the address is known at accept time)", ev)
        if nt4:
            port = self._port(ev)
            if s.ports_accepted is None:
                s.ports_accepted = {}
            seen = s.ports_accepted.setdefault(dll, set())
            if port is not None and port in seen:
                self._f("R37", f"{call} was called twice for port {port!r} in {dll}", ev)
            seen.add(port)
            if s.refused_ports is not None and port in s.refused_ports:
                self._f("R20", f"{call} was called after a DLL refused port {port!r}", ev)
            self._order_port(s, dll, call, ev)
        else:
            if s.refused:
                self._f("R20", f"{call} was called after a DLL refused the connection", ev)
            idx = self.index.get(dll)
            if idx is not None:
                n = s.accepts
                s.accepts = n + 1
                if n < len(self.order) and self.order[n] != dll:
                    self._f("R20", f"{call} reached {dll} out of registry order (expected "
                            f"{self.order[n]})", ev)
        av = s.accept_variant
        if av is None:
            s.accept_variant = {dll: variant}
        else:
            av[dll] = variant
        if ev.returned == 0 or ev.fault is not None:
            if nt4:  # NT 4.0 accepts per port: a refused extra port leaves the bundle up
                if s.refused_ports is None:
                    s.refused_ports = set()
                s.refused_ports.add(self._port(ev))
            else:
                s.refused = True
        if ev.dicts:
            addr = self._struct_field(ev, "address")
            address = _text(s.address)
            if addr is not None and address is not None and addr != address:
                self._f("R33", f"{call} saw client address {addr!r} but GetIp returned "
                        f"{address}", ev)
            self._headers(ev)

    def _hangup(self, ev: _Rec, s: _Sess, call: str, nt4: bool, variant: str) -> None:
        dll = ev.dll
        refused = s.refused or (nt4 and s.refused_ports is not None
                                and self._port(ev) in s.refused_ports)
        if refused and not self.profile.hangup_after_refusal:
            self._f("R23", f"{call} was sent for a refused connection on "
                    f"{self.profile.os}, which sends no hang-up after a refusal", ev)
        v = None if s.accept_variant is None else s.accept_variant.get(dll)
        if v is not None and v != variant:
            self._f("R25", f"{call} does not match the accept variant "
                    f"{'AcceptNewConnection' + ('' if v == '1' else v)} used for {dll}", ev)
        if nt4:
            port = self._port(ev)
            acc = (s.ports_accepted or {}).get(dll, set())
            if s.ports_down is None:
                s.ports_down = {}
            down = s.ports_down.setdefault(dll, set())
            if port is not None and (port not in acc or port in down):
                self._f("R37", f"{call} for port {port!r} in {dll} does not match exactly one "
                        "accepted port", ev)
            down.add(port)
        elif s.released:
            self._f("R32", f"{call} came after ReleaseIpAddress (section 8 order: "
                    "hang-ups, then release)", ev)
        s.hung_up = True
        if ev.dicts:
            self._headers(ev)

    def _order_port(self, s: _Sess, dll: str, call: str, ev: _Rec) -> None:
        """R20 for NT 4.0's per-port accepts: the DLLs that accepted the port come first."""
        if self.index.get(dll) is None:
            return
        port = self._port(ev)
        done = [d for d, ps in (s.ports_accepted or {}).items() if port in ps and d != dll]
        expected = self.order[len(done)] if len(done) < len(self.order) else None
        if expected is not None and expected != dll:
            self._f("R20", f"{call} reached {dll} out of registry order (expected {expected})",
                    ev)

    @staticmethod
    def _port(ev: _Rec) -> Any:
        args = ev.sargs()
        return args[0].get("port") if args and isinstance(args[0], dict) else None

    @staticmethod
    def _struct_field(ev: _Rec, key: str) -> Any:
        for a in ev.sargs():
            if isinstance(a, dict) and key in a:
                return a[key]
        return None

    def _headers(self, ev: _Rec) -> None:
        sizes = _SIZES.get(self.profile.bitness, {})
        for a in ev.sargs():
            if not isinstance(a, dict):
                continue
            st = a.get("struct")
            if st == "RAS_CONNECTION_EX" and "header" in a:
                want = [1, 1, sizes.get(st)]
                if list(a["header"]) != want:
                    self._f("R39", f"RAS_CONNECTION_EX.Header is {a['header']}, expected "
                            f"revision 1, type 1, size {want[2]}", ev)
            elif st == "RAS_CONNECTION_3" and "dwSize" in a and a["dwSize"] != sizes.get(st):
                self._f("R40", f"RAS_CONNECTION_3.dwSize is {a['dwSize']}, expected "
                        f"{sizes.get(st)}", ev)

    def _check_released(self, s: _Sess) -> None:
        if (s.get is not None and s.get_ok and s.notify and not s.released
                and s.address is not None):
            self._f("R32", f"{s.get.call} asked for a Release (bNotifyRelease TRUE) "
                    "that never came", s.get)

    def end(self, session: Any) -> None:
        """The host finished tearing ``session`` down: check R32 now and forget its state."""
        s = self.sessions.pop(session, None)
        if s is not None:
            self._check_released(s)

    def finish(self) -> list[Finding]:
        """End of run: every notify-TRUE address must have been released (R32)."""
        for s in self.sessions.values():
            self._check_released(s)
        self.sessions.clear()
        return self.findings


def check_trace(events: Iterable[Mapping[str, Any]],
                dlls: Sequence[tuple[str, frozenset[str]]], profile: Profile,
                *, complete: bool = True) -> list[Finding]:
    """Run the host monitor over a recorded trace; ``complete`` = the run ended (R32 at end)."""
    m = HostMonitor(dlls, profile)
    for ev in events:
        m.observe(ev)
    return m.finish() if complete else m.findings
