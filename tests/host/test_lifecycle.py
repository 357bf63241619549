"""The dial-in lifecycle and DLL-side checks through the host (sections 1.3, 2.5, 8)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from fakes import (
    ALL_MPR,
    ALL_NT4,
    FakeDll,
    Opener,
    fault,
    ip_to_dword,
    make_host,
    registry_with,
    rules,
)

from emulator.host.engine import RasHost
from emulator.loaders.base import CallIssue, CallResult, ResourceUsage

M = "MprAdmin"
A, B = "C:\\ras\\a.dll", "C:\\ras\\b.dll"


def calls(host: RasHost, session: int | None = None) -> list[tuple[str, str, str]]:
    return [(e["dll"], e["instance"], e["call"]) for e in host.trace
            if session is None or e["session"] == session]


def two_dll_host(profile: str = "win7", **cfg) -> tuple[RasHost, Opener]:  # type: ignore[no-untyped-def]
    op = Opener(**cfg)
    host = RasHost(registry_with(f"{A}; {B}"), profile, opener=op)
    assert host.start()
    return host, op


def test_full_session_order() -> None:  # section 2.5, 8 order; R24, R30, R31
    host, _ = make_host()
    assert host.start()
    s = host.connect("alice", "VPN0")
    assert s.state == "connected" and s.address == IPv4Address("10.50.0.11")
    host.disconnect(s)
    assert s.state == "disconnected"
    assert [c for _, _, c in calls(host, s.id)] == [
        f"{M}GetIpAddressForUser", f"{M}AcceptNewConnectionEx", f"{M}AcceptNewLink",
        f"{M}LinkHangupNotification", f"{M}ConnectionHangupNotificationEx",
        f"{M}ReleaseIpAddress"]
    host.stop()
    assert not rules(host)
    assert host.stats["connected_now"] == 0


def test_sentinel_and_proposed_address() -> None:  # R27, R78
    host, op = make_host()
    host.start()
    host.connect("alice", "VPN0", proposed=int(IPv4Address("192.168.50.99")))
    ip = op.instances[1]  # the connection instance is loaded first
    _name, args = next(c for c in ip.calls if c[0].endswith("GetIpAddressForUser"))
    assert args[2] == ip_to_dword("192.168.50.99") and args[3] == 0xA5A5A5A5
    assert bytes.fromhex(f"{args[2]:08x}")[::-1] == IPv4Address("192.168.50.99").packed
    host.stop()


def test_separate_instances_r36() -> None:
    host, op = make_host()
    host.start()
    host.disconnect(host.connect("alice", "VPN0"))
    cn, ip = op.of(A)
    assert ip is not cn
    assert {c[0] for c in ip.calls} == {f"{M}InitializeDll", f"{M}GetIpAddressForUser",
                                        f"{M}ReleaseIpAddress"}
    assert not any("Ip" in c[0] for c in cn.calls)
    host.stop()
    assert ip.closed and cn.closed


def test_getip_only_first_exporter_r26() -> None:
    no_ip = ALL_MPR - {f"{M}GetIpAddressForUser", f"{M}ReleaseIpAddress"}
    host, _op = two_dll_host(**{A: {"exports": no_ip}, B: {}})
    s = host.connect("alice", "VPN0")
    host.disconnect(s)
    ip_calls = [(d, c) for d, _, c in calls(host, s.id) if "Ip" in c]
    assert ip_calls and all(d == B for d, _ in ip_calls)
    acc = [d for d, _, c in calls(host, s.id) if "AcceptNewConnection" in c]
    assert acc == [A, B]  # R20 order
    host.stop()
    assert not rules(host)


def test_getip_error_refuses_r28() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpAddressForUser": lambda d, c: CallResult(5, {2: 0, 3: 0})}}}))
    host.start()
    s = host.connect("alice", "VPN0")
    assert s.state == "refused" and s.address is None
    assert [c for _, _, c in calls(host, s.id)] == [f"{M}GetIpAddressForUser"]
    host.stop()
    assert not rules(host)  # R59: refusing is legitimate


def test_zero_in_zero_out_r29_r60() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpAddressForUser": lambda d, c: CallResult(0, {2: 0, 3: 0})}}}))
    host.start()
    s = host.connect("alice", "VPN0")
    assert s.state == "failed"
    assert [c for _, _, c in calls(host, s.id)] == [f"{M}GetIpAddressForUser"]
    host.stop()
    assert rules(host) == {"R60"}


def test_refused_accept_still_releases_r32_and_hangs_up_on_2003() -> None:
    host, _ = two_dll_host("win2003", **{A: {}, B: {"accept": False}})
    s = host.connect("alice", "VPN0")
    assert s.state == "refused" and s.refused_by == B
    seq = [(d, c) for d, _, c in calls(host, s.id)]
    assert seq == [(A, f"{M}GetIpAddressForUser"), (A, f"{M}AcceptNewConnection2"),
                   (B, f"{M}AcceptNewConnection2"), (A, f"{M}ConnectionHangupNotification2"),
                   (B, f"{M}ConnectionHangupNotification2"), (A, f"{M}ReleaseIpAddress")]
    host.stop()
    assert not rules(host)


def test_first_refusal_stops_asking() -> None:  # AMBIG-3 decision
    host, _ = two_dll_host("win7", **{A: {"accept": False}, B: {}})
    s = host.connect("alice", "VPN0")
    assert not [d for d, _, c in calls(host, s.id) if d == B]
    host.stop()


def test_win2000_no_hangup_after_refusal_r23() -> None:
    host, _ = make_host(profile="win2000", opener=Opener(**{"*": {"accept": False}}))
    host.start()
    s = host.connect("alice", "VPN0")
    assert s.state == "refused"
    assert [c for _, _, c in calls(host, s.id)] == [
        f"{M}GetIpAddressForUser", f"{M}AcceptNewConnection2", f"{M}ReleaseIpAddress"]
    host.stop()
    assert not rules(host)


def test_refused_link_r22() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"link": False}}))
    host.start()
    s = host.connect("alice", "VPN0")
    assert s.state == "refused"
    names = [c for _, _, c in calls(host, s.id)]
    assert names == [f"{M}GetIpAddressForUser", f"{M}AcceptNewConnectionEx", f"{M}AcceptNewLink",
                     f"{M}LinkHangupNotification", f"{M}ConnectionHangupNotificationEx",
                     f"{M}ReleaseIpAddress"]
    host.stop()
    assert not rules(host)


def test_multilink_r21_r24() -> None:
    host, _op = make_host()
    host.start()
    s = host.connect("alice", "VPN0", links=3)
    assert s.links == ["VPN0", "VPN0-2", "VPN0-3"]
    assert host.add_link(s, "VPN9")
    host.hangup_link(s, "VPN0-2")
    assert s.links == ["VPN0", "VPN0-3", "VPN9"]
    host.disconnect(s)
    names = [c for _, _, c in calls(host, s.id)]
    assert names.count(f"{M}AcceptNewLink") == 4
    assert names.count(f"{M}LinkHangupNotification") == 4
    last_link = max(i for i, n in enumerate(names) if n == f"{M}LinkHangupNotification")
    assert names.index(f"{M}ConnectionHangupNotificationEx") > last_link
    ports = [e["args"][0]["port"] for e in host.trace if e["call"] == f"{M}AcceptNewLink"]
    assert ports == ["VPN0", "VPN0-2", "VPN0-3", "VPN9"]
    host.stop()
    assert not rules(host)


def test_hangup_last_link_disconnects() -> None:
    host, _ = make_host()
    host.start()
    s = host.connect("alice", "VPN0")
    host.hangup_link(s, "VPN0")
    assert s.state == "disconnected"
    host.stop()
    assert not rules(host)


def test_no_release_without_notify_r30() -> None:
    host, _op = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpAddressForUser": lambda d, c: CallResult(0, {2: ip_to_dword("10.1.1.5"), 3: 0})}}}))
    host.start()
    host.disconnect(host.connect("alice", "VPN0"))
    assert not [c for c in calls(host) if c[2] == f"{M}ReleaseIpAddress"]
    host.stop()
    assert not rules(host)


def test_sentinel_left_r61_treated_true() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpAddressForUser": lambda d, c: CallResult(0, {2: ip_to_dword("10.1.1.5"),
                                                                3: 0xA5A5A5A5})}}}))
    host.start()
    s = host.connect("alice", "VPN0")
    assert s.notify_release is True
    host.disconnect(s)
    assert [c for c in calls(host) if c[2] == f"{M}ReleaseIpAddress"]
    host.stop()
    assert rules(host) == {"R61"}


def test_bool_other_than_0_1_r58() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}AcceptNewConnectionEx": lambda d, c: CallResult(7)}}}))
    host.start()
    assert host.connect("alice", "VPN0").state == "connected"  # R45
    host.stop()
    assert rules(host) == {"R58"}
    assert all(f.severity.value == "warning" for f in host.findings if f.rule == "R58")


@pytest.mark.parametrize("addr,rule,sev", [
    ("255.255.255.255", "R64", "error"), ("127.0.0.5", "R64", "error"),
    ("224.1.1.1", "R64", "error"), ("0.1.2.3", "R64", "error"),
    ("192.168.7.255", "R64", "warning"), ("10.100.168.192", "R62", "warning")])
def test_address_checks(addr: str, rule: str, sev: str) -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpAddressForUser": lambda d, c: CallResult(0, {2: ip_to_dword(addr), 3: 1})}}}))
    host.start()
    host.disconnect(host.connect("alice", "VPN0"))
    host.stop()
    got = {(f.rule, f.severity.value) for f in host.findings if f.severity.value != "info"}
    assert got == {(rule, sev)}


def test_duplicate_address_r63() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpAddressForUser": lambda d, c: CallResult(0, {2: ip_to_dword("10.1.1.5"), 3: 1})}}}))
    host.start()
    a = host.connect("alice", "VPN0")
    host.disconnect(a)
    b = host.connect("bob", "VPN1")  # sequential reuse is fine
    assert not rules(host)
    c = host.connect("carol", "VPN2")  # concurrent duplicate
    host.disconnect(b)
    host.disconnect(c)
    host.stop()
    assert rules(host) == {"R63"}
    f = next(f for f in host.findings if f.rule == "R63")
    assert f.extra["users"] == ["bob", "carol"] and "10.1.1.5" in f.message
    assert [e["args"][0] for e in f.evidence] == ["bob", "carol"]  # both Get calls


def test_probe_release_unknown_r65() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {f"{M}ReleaseIpAddress": fault()}}}))
    host.start()
    host.probe_release_unknown("nobody", "VPN99", "10.9.9.9")
    host.stop()
    assert rules(host) == {"R65"}
    assert host.trace[-3]["probe"] is True or any(e["probe"] for e in host.trace)


def test_fault_fails_session_and_host_continues_r46() -> None:
    n = {"i": 0}

    def flaky(d: FakeDll, c):  # type: ignore[no-untyped-def]
        n["i"] += 1
        return fault("timeout")(d, c) if n["i"] == 1 else d.default(c)

    host, _ = make_host(opener=Opener(**{"*": {"overrides": {f"{M}AcceptNewConnectionEx": flaky}}}))
    host.start()
    a = host.connect("alice", "VPN0")
    assert a.state == "failed"
    b = host.connect("bob", "VPN1")
    assert b.state == "connected"
    host.stop()
    assert rules(host) == {"R46"}
    f = next(f for f in host.findings if f.rule == "R46")
    assert f.evidence[0]["fault"]["kind"] == "timeout"


def test_odd_names_r71() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpAddressForUser": lambda d, c: fault()(d, c) if len(c.args[0]) >= 256
        else d.default(c)}}}))
    host.start()
    assert host.connect("u" * 256, "VPN0").state == "failed"
    assert host.connect("", "").state == "connected"
    host.stop()
    assert rules(host) == {"R71"}


def test_modified_inputs_and_issues_passed_through() -> None:  # R69, R51
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}AcceptNewLink": lambda d, c: CallResult(1, modified_inputs=(0,)),
        f"{M}GetIpAddressForUser": lambda d, c: CallResult(
            0, {2: ip_to_dword("10.1.1.9"), 3: 1}, issues=(CallIssue("R51", "EBX changed"),))}}}))
    host.start()
    host.connect("alice", "VPN0")
    host.stop()
    assert rules(host) == {"R69", "R51"}


def test_terminate_true_r57() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}TerminateDll": lambda d, c: CallResult(1)}}}))
    host.start()
    host.stop()
    assert rules(host) == {"R57"}
    assert "callout sample" in next(f.message for f in host.findings if f.rule == "R57")


def test_leak_r76() -> None:
    def leaky_accept(d: FakeDll, c):  # type: ignore[no-untyped-def]
        d.blocks += 1
        return CallResult(1)

    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}AcceptNewConnectionEx": leaky_accept}}}))
    host.start()
    for i in range(4):
        host.disconnect(host.connect(f"u{i}", "VPN0"))
    host.stop()
    assert rules(host) == {"R76"}
    f = next(f for f in host.findings if f.rule == "R76")
    assert f.extra["blocks"] == 4 and "1.00 blocks per session" in f.message


def test_reauth() -> None:
    host, _ = make_host(profile="win2008")
    host.start()
    s = host.connect("alice", "VPN0")
    assert host.reauthenticate(s, 1)
    ev = [e for e in host.trace if e["call"] == f"{M}AcceptReauthentication"]
    assert ev[0]["args"][3]["rasQuarState"] == 1 and ev[0]["args"][3]["dwSize"] == 792
    host.stop()
    host2, _ = make_host(profile="win7", opener=Opener(**{"*": {"reauth": False}}))
    host2.start()
    s2 = host2.connect("bob", "VPN0")
    assert host2.reauthenticate(s2, 1) is False and s2.state == "disconnected"
    host2.stop()
    assert not rules(host2)


def test_struct_contents_r33_r39_r40() -> None:
    host, op = make_host(profile="win7-x86")
    host.start()
    host.connect("alice", "VPN0", proposed="192.168.50.77")
    cn = op.of(A)[0]
    args = next(a for n, a in cn.calls if n == f"{M}AcceptNewConnectionEx")
    cx = args[0]
    assert (cx.Header.revision, cx.Header.type, cx.Header.size) == (1, 1, 1664)
    assert cx.ProjectionInfo.PppProjectionInfo.wszRemoteAddress == "192.168.50.77"
    assert cx.wszUserName == "alice" and cx.hConnection
    host.stop()
    host3, op3 = make_host(profile="win2008-x64")
    host3.start()
    host3.connect("bob", "VPN1", proposed="192.168.50.78")
    a3 = next(a for n, a in op3.of(A)[0].calls if n == f"{M}AcceptNewConnection3")
    assert a3[1].PppInfo.ip.wszRemoteAddress == "192.168.50.78"  # R33
    assert a3[3].dwSize == 792  # R40
    assert a3[0].hConnection == a3[1].hConnection == a3[2].hConnection == a3[3].hConnection
    host3.stop()


def test_nt4_per_port_r37() -> None:
    op = Opener(**{"*": {"exports": ALL_NT4}})
    host = RasHost(registry_with(A), "nt4", opener=op)
    assert host.start()
    s = host.connect("alice", "COM1", links=2)
    assert s.state == "connected"
    host.disconnect(s)
    names = [(c, e["args"][0]["port"] if isinstance(e["args"][0], dict) else None)
             for e in host.trace for c in [e["call"]] if e["session"] == s.id]
    assert names == [("RasAdminGetIpAddressForUser", None),
                     ("RasAdminAcceptNewConnection", "COM1"),
                     ("RasAdminAcceptNewConnection", "COM1-2"),
                     ("RasAdminConnectionHangupNotification", "COM1"),
                     ("RasAdminConnectionHangupNotification", "COM1-2"),
                     ("RasAdminReleaseIpAddress", None)]
    p1, _stats, params = next(a for n, a in op.of(A)[0].calls if n == "RasAdminAcceptNewConnection")
    assert p1.NumMediaParms == len(params) == 2 and p1.rasport0.wszUserName == "alice"
    host.stop()
    assert not rules(host)


def test_nt4_refuses_mpradmin_only_dll() -> None:
    op = Opener(**{"*": {"exports": ALL_MPR}})
    host = RasHost(registry_with(A), "nt4", opener=op)
    assert host.start() is False
    assert rules(host) == {"R74"}


def test_wrong_names_are_input_errors() -> None:
    from emulator.errors import InputError, RasemuError
    host, _ = make_host()
    with pytest.raises(RasemuError):
        host.connect("a", "b")
    host.start()
    with pytest.raises(InputError):
        host.connect("u" * 257, "VPN0")
    with pytest.raises(InputError):
        host.connect("u", "P" * 17)
    host.stop()


def test_trace_events_are_json_and_normalise() -> None:
    import io
    import json

    from emulator.host.trace import normalise, read_jsonl, write_jsonl
    host, _ = make_host()
    host.start()
    host.disconnect(host.connect("alice", "VPN0"))
    host.stop()
    buf = io.StringIO()
    write_jsonl(host.trace, buf)
    back = read_jsonl(buf.getvalue())
    assert len(back) == len(host.trace)
    n1 = normalise(back)
    assert all("t" not in e for e in n1)
    host2, _ = make_host()
    host2.start()
    host2.connect("zed", "VPN9")
    host2.disconnect(host2.connect("alice", "VPN0"))
    host2.stop()
    hs = [e["args"][0]["hConnection"] for e in normalise(host2.trace)
          if e["call"].startswith(f"{M}AcceptNewConnection")]
    assert hs == [1, 3]  # renumbered by appearance (hInterface is not summarised)
    json.dumps(n1)


def test_resource_usage_none_is_fine() -> None:
    assert ResourceUsage().heap_blocks == 0


def test_restart_reloads_and_keeps_findings() -> None:
    host, op = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}TerminateDll": lambda d, c: CallResult(1)}}}))
    assert host.start()
    s = host.connect("alice", "VPN0")
    host.stop()
    assert s.state == "disconnected"  # stop() disconnects everyone first
    assert host.start()
    assert len(host.dlls) == 1 and len(op.instances) == 4  # reloaded: two fresh instances
    host.disconnect(host.connect("bob", "VPN1"))
    host.stop()
    assert rules(host) == {"R57"}
    assert host.stats["sessions"] == 2
    assert not [f for f in host.findings if f.subject == "host"]


def test_release_after_reload_is_a_consequence_not_a_defect() -> None:
    crashed = {"n": 0}

    def release(d: FakeDll, c):  # type: ignore[no-untyped-def]
        if c.args[0] == "nobody" or (c.args[0], c.args[1]) not in d.leases:
            crashed["n"] += 1
            return fault()(d, c)
        return d.default(c)

    op = Opener(**{"*": {"overrides": {f"{M}ReleaseIpAddress": release}}})
    host, _ = make_host(opener=op)
    host.start()
    a = host.connect("alice", "VPN0")
    host.probe_release_unknown("nobody", "VPN9", "10.9.9.9")
    # a real loader reloads after a fault: simulate the lost state
    op.of(A)[1].leases.clear()
    host.disconnect(a)
    host.stop()
    assert crashed["n"] == 2
    assert rules(host) == {"R65"}
    assert any(f.rule == "R46" and f.severity.value == "info" for f in host.findings)


def test_ipv6_pair() -> None:  # 2008+: IPv6 analogue, first exporting DLL (AMBIG-8), R61
    host, op = make_host(profile="win2008", ipv6=True)
    host.start()
    s = host.connect("alice", "VPN0")
    assert s.state == "connected"
    host.disconnect(s)
    names = [c for _, _, c in calls(host, s.id)]
    assert names[:2] == [f"{M}GetIpAddressForUser", f"{M}GetIpv6AddressForUser"]
    assert names[-2:] == [f"{M}ReleaseIpv6AddressForUser", f"{M}ReleaseIpAddress"]
    g6 = next(e for e in host.trace if e["call"] == f"{M}GetIpv6AddressForUser")
    assert g6["args"][3] == 0xA5A5A5A5 and g6["args"][2] == "00" * 16
    a3 = next(a for n, a in op.of(A)[0].calls if n == f"{M}AcceptNewConnection3")
    assert a3[3].PppInfo3.ipv6.bRemoteInterfaceIdentifier == bytes([2, 0, 0x5E, 0xFF, 0xFE, 0, 0, 1])
    host.stop()
    assert not rules(host)
    # off by default, never on profiles without IPv6
    for prof, kw in (("win2008", {}), ("win2003", {"ipv6": True})):
        h, _ = make_host(profile=prof, **kw)
        h.start()
        h.disconnect(h.connect("bob", "VPN1"))
        h.stop()
        assert not [e for e in h.trace if "Ipv6" in e["call"]]


def test_ipv6_sentinel_r61() -> None:
    host, _ = make_host(profile="win7", ipv6=True, opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpv6AddressForUser": lambda d, c: CallResult(0, {2: bytes(16), 3: 0xA5A5A5A5})}}}))
    host.start()
    host.disconnect(host.connect("alice", "VPN0"))
    host.stop()
    assert rules(host) == {"R61"}
    assert [e for e in host.trace if e["call"] == f"{M}ReleaseIpv6AddressForUser"]


def test_monitor_forgets_finished_sessions() -> None:
    host, _ = make_host(opener=Opener(**{"*": {"overrides": {
        f"{M}GetIpAddressForUser": lambda d, c: CallResult(5, {})
        if c.args[0].startswith("x") else d.default(c)}}}))
    host.start()
    for i in range(50):
        host.disconnect(host.connect(f"u{i}", "VPN0"))
        host.connect(f"x{i}", "VPN1")  # refused by GetIp
    assert host._monitor.sessions == {}
    host.stop()
    assert not rules(host)


def test_bad_inputs() -> None:
    from emulator.errors import InputError
    host, _ = make_host()
    host.start()
    with pytest.raises(InputError, match="proposed"):
        host.connect("a", "b", proposed="10.0.0.300")
    with pytest.raises(InputError, match="links"):
        host.connect("a", "b", links=0)
    with pytest.raises(InputError, match="strictness"):
        RasHost(registry_with(A), strictness="lenient")  # type: ignore[arg-type]
    host.stop()


def test_loader_exception_is_load_finding() -> None:
    def boom(path: str, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("corrupt image")

    host = RasHost(registry_with(A), "win7", opener=boom)
    assert host.start() is False
    f = next(f for f in host.findings if f.rule == "R15" and f.severity.value == "error")
    assert "corrupt image" in f.message


def test_nt4_refused_extra_port() -> None:  # R37 with a refusal: the bundle stays up (R23)
    def accept(d: FakeDll, c):  # type: ignore[no-untyped-def]
        return CallResult(0 if c.args[0].rasport0.wszPortName == "COM9" else 1)

    op = Opener(**{"*": {"exports": ALL_NT4, "overrides": {"RasAdminAcceptNewConnection": accept}}})
    host = RasHost(registry_with(A), "nt4", opener=op)
    host.start()
    s = host.connect("alice", "COM1")
    assert host.add_link(s, "COM9") is False and s.state == "connected" and s.links == ["COM1"]
    assert host.add_link(s, "COM2") is True
    host.disconnect(s)
    downs = [e["args"][0]["port"] for e in host.trace
             if e["call"] == "RasAdminConnectionHangupNotification"]
    assert downs == ["COM1", "COM2"]  # nothing for the refused COM9 (R23)
    host.stop()
    assert not rules(host)


@pytest.mark.parametrize("trace", [True, False])
def test_monitor_works_without_kept_trace(trace: bool) -> None:
    for profile, exports in (("nt4", ALL_NT4), ("win7", ALL_MPR)):
        host = RasHost(registry_with(A), profile, opener=Opener(**{"*": {"exports": exports}}),
                       trace=trace)
        host.start()
        for i in range(5):
            s = host.connect(f"u{i}", f"COM{i}", links=3)
            host.hangup_link(s, s.links[1])
            host.disconnect(s)
        host.stop()
        assert not rules(host), [f.message for f in host.findings]
        assert (len(host.trace) > 0) == trace
        assert host.stats["calls"] > 0
