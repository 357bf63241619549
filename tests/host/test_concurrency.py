"""Many threads connecting and disconnecting: lock discipline (R34, R35, R36, R70)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fakes import Opener, registry_with, rules

from emulator.host.engine import RasHost

A, B = "C:\\ras\\a.dll", "C:\\ras\\b.dll"


def test_no_reentry_and_groups_overlap() -> None:
    active: set[int] = set()
    overlap = {"ip_conn": 0}
    guard = threading.Lock()
    op = Opener(**{"*": {"delay": 0.0002}})
    host = RasHost(registry_with(f"{A};{B}"), "win7", opener=op)
    assert host.start()
    # wrap every instance to see which instances run at the same time
    for d in op.instances:
        orig = d.handle_call

        def wrapped(call, _orig=orig, _d=d):  # type: ignore[no-untyped-def]
            with guard:
                active.add(id(_d))
                if len(active) > 1:
                    overlap["ip_conn"] += 1
            try:
                return _orig(call)
            finally:
                with guard:
                    active.discard(id(_d))

        d.handle_call = wrapped  # type: ignore[method-assign]

    def user(i: int) -> None:
        for k in range(6):
            s = host.connect(f"u{i}", f"VPN{i}", links=1 + k % 2)
            assert s.state == "connected", s
            if k % 3 == 0:
                host.add_link(s, f"X{i}")
            host.disconnect(s)

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(user, range(16)))
    host.stop()
    assert not any(d.reentered for d in op.instances), "an instance was re-entered (R34/R35)"
    assert overlap["ip_conn"] > 0, "the IP and connection groups never ran concurrently (R70)"
    assert len(op.instances) == 3  # A: conn + ip; B: conn only (R36)
    st = host.stats
    assert st["sessions"] == 96 and st["connected_now"] == 0 and st["peak_connected"] >= 2
    assert not rules(host)
    # every Get was released exactly once, with the same address
    gets = {e["session"]: e["outputs"]["lpdwIpAddress"] for e in host.trace
            if e["call"] == "MprAdminGetIpAddressForUser"}
    rels = [(e["session"], e["args"][2]) for e in host.trace
            if e["call"] == "MprAdminReleaseIpAddress"]
    assert sorted(rels) == sorted(gets.items())
    seqs = [e["seq"] for e in host.trace]
    assert seqs == sorted(seqs) == list(range(len(seqs)))


def test_concurrent_unique_addresses_from_host_view() -> None:
    host = RasHost(registry_with(A), "win2003", opener=Opener())
    host.start()
    with ThreadPoolExecutor(8) as ex:
        sessions = list(ex.map(lambda i: host.connect(f"u{i}", f"P{i}"), range(200)))
    assert len({s.address for s in sessions}) == 200
    assert host.stats["connected_now"] == 200
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(host.disconnect, sessions))
    host.stop()
    assert not rules(host)
