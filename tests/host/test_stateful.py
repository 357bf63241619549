"""Random connect/disconnect (one by one and at once)/add_link/hangup_link/reauth
interleavings on the good stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import registry_with
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
)

from emulator.host.engine import RasHost, Session

GOOD = Path(__file__).resolve().parents[2] / "fixtures" / "standins" / "good.py"
pytestmark = pytest.mark.skipif(not GOOD.exists(), reason="fixtures/standins/good.py missing")


def opener(path: str, **kw: object) -> object:
    from emulator.loaders.python import PythonLoader

    return PythonLoader().load(path, bitness=kw.get("bitness"))  # type: ignore[arg-type]


class HostMachine(RuleBasedStateMachine):
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self.host = RasHost(registry_with("C:\\v.dll"), "win7", opener=opener,
                            path_map={"C:\\v.dll": str(GOOD)})
        assert self.host.start()
        self.n = 0
        self.connects = 0
        self.released_expected = 0
        self.live: dict[int, Session] = {}

    @rule(target=sessions, links=st.integers(1, 3))
    def connect(self, links: int) -> Session:
        self.n += 1
        self.connects += 1
        if len(self.live) >= 40:  # the reference pool has 64 addresses
            s = self.host.connect(f"user{self.n}", f"P{self.n}")
            self.host.disconnect(s)
            if s.notify_release:
                self.released_expected += 1
            return s
        s = self.host.connect(f"user{self.n}", f"P{self.n}", links=links)
        assert s.state == "connected"
        assert len(s.links) == links
        self.live[s.id] = s
        return s

    @rule(target=sessions, k=st.integers(1, 6))
    def connect_many(self, k: int) -> object:
        if len(self.live) + k > 40:  # the reference pool has 64 addresses
            return multiple()
        names = []
        for _ in range(k):
            self.n += 1
            names.append((f"user{self.n}", f"P{self.n}"))
        self.connects += k
        made = self.host.connect_many(names)
        assert [s.state for s in made] == ["connected"] * k
        for s in made:
            self.live[s.id] = s
        return multiple(*made)

    @rule(data=st.data())
    def disconnect_many(self, data: st.DataObject) -> None:
        if not self.live:
            return
        chosen = data.draw(st.lists(st.sampled_from(sorted(self.live)), unique=True, max_size=6))
        leaving = [self.live[i] for i in chosen]
        self.host.disconnect_many(leaving)
        for s in leaving:
            assert s.state == "disconnected"
            self.live.pop(s.id)
            if s.notify_release:
                self.released_expected += 1

    @rule(s=consumes(sessions))
    def disconnect(self, s: Session) -> None:
        was = s.state == "connected"
        self.host.disconnect(s)
        if was:
            assert s.state == "disconnected"
            self.live.pop(s.id)
            if s.notify_release:
                self.released_expected += 1

    @rule(s=sessions, k=st.integers(0, 9))
    def add_link(self, s: Session, k: int) -> None:
        port = f"L{s.id}-{k}"
        before = list(s.links)
        ok = self.host.add_link(s, port)
        if s.state == "connected" and port not in before:
            assert ok and s.links == [*before, port]
        else:
            assert not ok

    @rule(s=sessions, data=st.data())
    def hangup_link(self, s: Session, data: st.DataObject) -> None:
        if s.state != "connected":
            return
        port = data.draw(st.sampled_from(s.links))
        last = len(s.links) == 1
        self.host.hangup_link(s, port)
        if last:
            assert s.state == "disconnected"
            self.live.pop(s.id)
            if s.notify_release:
                self.released_expected += 1
        else:
            assert port not in s.links

    @rule(s=sessions, q=st.integers(0, 3))
    def reauth(self, s: Session, q: int) -> None:
        ok = self.host.reauthenticate(s, q)
        assert ok == (s.state == "connected")

    @invariant()
    def consistent(self) -> None:
        live = [s for s in self.live.values()]
        addrs = [s.address for s in live]
        assert len(addrs) == len(set(addrs)), "duplicate address among connected users"
        st_ = self.host.stats
        assert st_["connected_now"] == len(live)
        assert st_["sessions"] == self.connects
        rels = sum(1 for e in self.host.trace if e["call"] == "MprAdminReleaseIpAddress")
        assert rels == self.released_expected
        bad = [f for f in self.host.findings if f.severity.value != "info"]
        assert not bad, bad

    def teardown(self) -> None:
        self.host.stop()
        bad = [f for f in self.host.findings if f.severity.value != "info"]
        assert not bad, bad
        assert self.host.stats["connected_now"] == 0


TestHostMachine = HostMachine.TestCase
TestHostMachine.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow])
