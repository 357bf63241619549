"""A small in-memory stand-in for RasHost, so scenario semantics are tested without any DLL.

It follows host-api.md: sessions carry ``state``/``address``/``links``; the pool hands out
10.0.0.1 .. 10.0.0.<pool>; behaviour knobs let tests provoke refusals and duplicate addresses.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any

from emulator.conformance.findings import Finding, Severity


@dataclass
class FakeSession:
    user: str
    port: str
    state: str
    address: ipaddress.IPv4Address | None
    links: list[str] = field(default_factory=list)
    notify_release: bool | None = True
    id: int = 0


class FakeHost:
    """Deterministic host: a pool of ``pool`` addresses, optional misbehaviour."""

    def __init__(self, pool: int = 64, *, start_ok: bool = True, refuse_links: bool = False,
                 refuse_reauth: bool = False, leak: bool = False, release_any: bool = False) -> None:
        self.pool = pool
        self.start_ok = start_ok
        self.refuse_links = refuse_links
        self.refuse_reauth = refuse_reauth
        self.leak = leak  # addresses are never returned to the pool
        self.release_any = release_any  # a probe with a live address frees it (an R65 breach)
        self.free = [ipaddress.IPv4Address(f"10.0.0.{k}") for k in range(1, pool + 1)]
        self.calls: list[tuple[Any, ...]] = []
        self.started = False
        self.starts = 0
        self.stops = 0
        self._findings: list[Finding] = []
        self._lock = threading.Lock()
        self._ids = 0
        self.active = 0
        self.max_active = 0

    # -- API --
    def start(self) -> bool:
        self.starts += 1
        self.calls.append(("start",))
        if not self.start_ok:
            self._findings.append(Finding("R15", Severity.ERROR, "fake: DLL failed to load", subject="fake.dll"))
            return False
        self.started = True
        return True

    def stop(self) -> None:
        self.stops += 1
        self.calls.append(("stop",))
        self.started = False

    def connect(self, user: str, port: str, *, proposed: int = 0, links: int = 1) -> FakeSession:
        assert self.started, "connect on a stopped host"
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self._ids += 1
            sid = self._ids
            self.calls.append(("connect", user, port, proposed, links))
            addr = self.free.pop(0) if self.free else None
        try:
            if addr is None:
                return FakeSession(user, port, "refused", None, [], None, sid)
            ports = [port] + [f"{port}/{k}" for k in range(1, links)]
            return FakeSession(user, port, "connected", addr, ports, True, sid)
        finally:
            with self._lock:
                self.active -= 1

    def connect_many(self, requests: Any, *, links: int = 1) -> list[FakeSession]:
        return [self.connect(r[0], r[1], proposed=r[2] if len(r) > 2 else 0, links=links)
                for r in requests]

    def disconnect_many(self, sessions: Any) -> None:
        for s in list(sessions):
            self.disconnect(s)

    def add_link(self, session: FakeSession, port: str) -> bool:
        self.calls.append(("add_link", session.user, port))
        if self.refuse_links:
            return False
        session.links.append(port)
        return True

    def hangup_link(self, session: FakeSession, port: str) -> None:
        self.calls.append(("hangup_link", session.user, port))
        session.links.remove(port)
        if not session.links:
            self._teardown(session)

    def reauthenticate(self, session: FakeSession, quarantine_state: int) -> bool:
        self.calls.append(("reauth", session.user, quarantine_state))
        if self.refuse_reauth:
            self._teardown(session)
            return False
        return True

    def disconnect(self, session: FakeSession) -> None:
        self.calls.append(("disconnect", session.user))
        self._teardown(session)

    def probe_release_unknown(self, user: str, port: str, address: int) -> None:
        self.calls.append(("probe", user, port, address))
        if self.release_any:
            with self._lock:
                self.free.insert(0, ipaddress.IPv4Address(address))

    def _teardown(self, session: FakeSession) -> None:
        with self._lock:
            if session.state == "connected" and session.address is not None and not self.leak:
                self.free.append(session.address)
            session.state = "disconnected"
            session.links = []

    @property
    def findings(self) -> list[Finding]:
        return list(self._findings)

    @property
    def trace(self) -> list[dict[str, Any]]:
        return [{"seq": i, "call": c[0], "args": list(c[1:])} for i, c in enumerate(self.calls)]

    @property
    def stats(self) -> dict[str, Any]:
        n = sum(1 for c in self.calls if c[0] == "connect")
        return {"sessions": n, "calls": len(self.calls), "seconds": 0.0,
                "connected_now": 0, "peak_connected": 0}

