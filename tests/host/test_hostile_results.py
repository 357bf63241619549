"""What the host makes of hostile call results: garbage GetIp returns (R59), debug output in
the trace, rules named by the loader's fault detail, and giving up after repeated timeouts."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeDll, Opener, fault, make_host

from emulator.conformance.checks import dll as dchk
from emulator.conformance.findings import Severity
from emulator.host.engine import GIVE_UP_AFTER
from emulator.loaders.base import Call, CallFault, CallResult

M = "MprAdmin"
GET = f"{M}GetIpAddressForUser"


def _returning(value: int) -> Any:
    return lambda d, c: CallResult(value, {2: 0xDEADBEEF, 3: 0x5A5A5A5A})


@pytest.mark.parametrize(("value", "garbage"), [
    (0xDEADBEEF, True), (0x10000, True), (0xFFFFFFFF, True), (0x80004005, True),
    (5, False), (0xFFFF, False), (718, False), (0x80070005, False), (0x8007FFFF, False)])
def test_garbage_getip_return_is_an_r59_warning(value: int, garbage: bool) -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {GET: _returning(value)}}}))
    assert host.start()
    s = host.connect("alice", "VPN0")
    assert s.state == "refused"  # R59/R28 either way
    host.stop()
    r59 = [f for f in host.findings if f.rule == "R59"]
    if not garbage:
        assert r59 == []
        return
    assert len(r59) == 1 and r59[0].severity is Severity.WARNING
    assert r59[0].message == (f"{GET} returned 0x{value:08X}, which is not a Win32 error code; "
                              "the user was refused")
    assert r59[0].evidence[0]["returned"] == value and r59[0].subject == "C:\\ras\\a.dll"
    assert not [f for f in host.findings if f.severity is Severity.ERROR]


def test_garbage_getipv6_return_is_an_r59_warning() -> None:
    v6 = f"{M}GetIpv6AddressForUser"
    garbage = lambda d, c: CallResult(0xDEADBEEF, {2: b"\xee" * 16, 3: 7})  # noqa: E731
    host, _ = make_host(profile="win7-x64", ipv6=True,
                        opener=Opener(**{"*": {"overrides": {v6: garbage}}}))
    assert host.start()
    assert host.connect("alice", "VPN0").state == "refused"
    host.stop()
    assert [(f.rule, f.severity) for f in host.findings if "0xDEADBEEF" in f.message] == [
        ("R59", Severity.WARNING)]


def test_plausible_error_code_rule() -> None:
    assert dchk.plausible_error_code(0xFFFF) and dchk.plausible_error_code(0x80070057)
    assert not dchk.plausible_error_code(0x10000) and not dchk.plausible_error_code(0xC0000005)


def _printing(d: FakeDll, c: Call) -> CallResult:
    r = d.default(c)
    return CallResult(r.returned, r.outputs, debug_output=(f"lease for {c.args[0]}\n",))


def test_debug_output_lands_in_the_event_only_when_present() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {GET: _printing}}}))
    assert host.start()
    host.disconnect(host.connect("alice", "VPN0"))
    host.stop()
    with_debug = [e for e in host.trace if "debug" in e]
    assert [(e["call"], e["debug"]) for e in with_debug] == [(GET, ["lease for alice\n"])]
    assert all("debug" not in e for e in host.trace if e["call"] != GET)


@pytest.mark.parametrize(("detail", "odd", "rule"), [
    ({"rule": "R76", "block_size": 16}, False, "R76"),
    ({"rule": "R76"}, True, "R76"),  # the loader's rule wins over the context (R71)
    ({}, False, "R46"),
    ({}, True, "R71")])
def test_fault_detail_rule_becomes_the_finding_rule(detail: dict[str, Any], odd: bool,
                                                    rule: str) -> None:
    crash = lambda d, c: CallResult(fault=CallFault("crash", "heap corruption", detail))  # noqa: E731
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {GET: crash}}}))
    assert host.start()
    assert host.connect("" if odd else "alice", "VPN0").state == "failed"
    host.stop()
    errors = [f for f in host.findings if f.severity is Severity.ERROR]
    assert [f.rule for f in errors] == [rule]
    assert errors[0].extra["fault"] == "crash"
    assert "R46" not in {f.rule for f in host.findings} or rule == "R46"


def test_reentry_without_detail_rule_stays_r66() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {GET: fault("host-reentry")}}}))
    assert host.start()
    host.connect("alice", "VPN0")
    host.stop()
    assert {f.rule for f in host.findings if f.severity is Severity.ERROR} == {"R66"}


def test_gives_up_after_consecutive_timeouts() -> None:
    op = Opener(**{"*": {"overrides": {GET: fault("timeout")}}})
    host, _ = make_host(opener=op)
    assert host.start()
    states = [host.connect(f"u{i}", f"VPN{i}").state for i in range(10)]
    assert states == ["failed"] * 10
    assert [e["call"] for e in host.trace].count(GET) == GIVE_UP_AFTER == 3
    assert host.stats["sessions"] == 10
    host.stop()
    gave_up = [f for f in host.findings if "consecutive timeouts" in f.message]
    assert len(gave_up) == 1
    f = gave_up[0]
    assert f.rule == "R46" and f.severity is Severity.ERROR and f.subject == "C:\\ras\\a.dll"
    assert f.message.startswith(f"gave up after 3 consecutive timeouts in {GET}")
    assert len(f.evidence) == 3 and all(e["fault"]["kind"] == "timeout" for e in f.evidence)
    # no calls at all after giving up: not even TerminateDll
    assert not [e for e in host.trace if e["call"] == f"{M}TerminateDll"]
    assert all(inst.calls for inst in op.instances)


def test_timeouts_must_be_consecutive_and_restart_starts_fresh() -> None:
    n = {"i": 0}

    def every_third_works(d: FakeDll, c: Call) -> CallResult:
        n["i"] += 1
        return d.default(c) if n["i"] % 3 == 0 else fault("timeout")(d, c)

    host, _ = make_host(opener=Opener(**{"*": {"overrides": {GET: every_third_works}}}))
    assert host.start()
    for i in range(9):
        host.connect(f"u{i}", f"VPN{i}")
    assert not [f for f in host.findings if "consecutive" in f.message]
    assert [e["call"] for e in host.trace].count(GET) == 9

    host.stop()
    n["i"] = 1  # now: timeout, timeout, timeout, ...
    host2, _ = make_host(opener=Opener(**{"*": {"overrides": {GET: fault("timeout")}}}))
    assert host2.start()
    for i in range(4):
        host2.connect(f"u{i}", f"VPN{i}")
    host2.stop()
    assert host2.start()  # a restart loads the DLL afresh and calls it again
    host2.connect("again", "VPN9")
    host2.stop()
    assert [e["call"] for e in host2.trace].count(GET) == 4
