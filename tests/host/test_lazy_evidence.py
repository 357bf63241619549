"""Call records: trace events and finding evidence are built on demand, identical either way."""

from __future__ import annotations

from typing import Any

from fakes import Opener, make_host

from emulator.conformance.checks.dll import SENTINEL
from emulator.conformance.findings import Finding
from emulator.host.connection import ip_to_dword
from emulator.loaders.base import Call, CallResult

SAME = ip_to_dword("10.1.1.1")


def _same_address(dll: Any, call: Call) -> CallResult:
    # every user gets 10.1.1.1 and *bNotifyRelease stays the sentinel: R61 and R63
    return CallResult(0, {2: SAME, 3: SENTINEL})


def _run(trace: bool) -> tuple[list[Finding], list[dict[str, Any]]]:
    op = Opener(**{"*": {"overrides": {"MprAdminGetIpAddressForUser": _same_address}}})
    host, _ = make_host(opener=op, trace=trace)
    assert host.start()
    a = host.connect("alice", "VPN0")
    b = host.connect("bob", "VPN1")
    host.probe_release_unknown("nobody", "VPN9", "10.9.9.9")
    host.disconnect(a)
    host.disconnect(b)
    host.stop()
    return host.findings, host.trace


def _no_t(ev: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ev.items() if k != "t"}


def test_evidence_is_the_same_with_and_without_a_trace() -> None:
    on, _ = _run(True)
    off, none = _run(False)
    assert none == []
    assert {f.rule for f in on} >= {"R61", "R63"}
    assert [(f.rule, f.severity, f.message, f.subject, f.extra) for f in on] == \
        [(f.rule, f.severity, f.message, f.subject, f.extra) for f in off]
    for f_on, f_off in zip(on, off, strict=True):
        assert [_no_t(e) for e in f_on.evidence] == [_no_t(e) for e in f_off.evidence]


def test_evidence_of_a_kept_trace_is_its_event() -> None:
    findings, trace = _run(True)
    by_seq = {e["seq"]: e for e in trace}
    r63 = next(f for f in findings if f.rule == "R63")
    assert [e["call"] for e in r63.evidence] == ["MprAdminGetIpAddressForUser"] * 2
    for e in r63.evidence:
        assert e == by_seq[e["seq"]]
        assert e["outputs"] == {"lpdwIpAddress": "10.1.1.1", "bNotifyRelease": SENTINEL}
