"""Export resolution, required sets, variant selection (R16, R41, R47-R49, R53-R55, R72-R74)."""

from __future__ import annotations

import pytest
from fakes import ALL_MPR, ALL_NT4, FakeDll, Opener, make_host, rules

from emulator.host.exports import apply_table, plan_exports
from emulator.host.profiles import get_profile
from emulator.loaders.base import CallResult

W7 = get_profile("win7")
M = "MprAdmin"
MIN_PRACTICE = frozenset({f"{M}AcceptNewLink", f"{M}LinkHangupNotification", f"{M}TerminateDll",
                          f"{M}AcceptNewConnection", f"{M}ConnectionHangupNotification"})


def errors(plan) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.rule for f in plan.findings if f.severity.value == "error"}


def test_good_picks_newest_pair_per_profile() -> None:  # R47, R25
    for prof, want in (("win2000", "2"), ("win2003", "2"), ("win2008", "3"), ("win7", "Ex")):
        p = plan_exports(ALL_MPR, get_profile(prof), "practice", "d")
        assert p.variant == want
        assert p.accept and p.hangup
        assert p.accept.signature.endswith(want if want != "" else "Connection")
        assert p.hangup.signature.endswith(want)
        assert p.meets == {"strict": True, "practice": True}
        assert not errors(p)


def test_never_mixes_variants() -> None:  # R25, R55
    ex = (MIN_PRACTICE | {f"{M}AcceptNewConnection3", f"{M}ConnectionHangupNotification2"})
    p = plan_exports(frozenset(ex), get_profile("win2008"), "practice", "d")
    assert p.variant == ""
    assert {f.rule for f in p.findings if f.severity.value == "warning"} == {"R55"}


def test_unmatched_only_is_error() -> None:  # R55
    ex = MIN_PRACTICE - {f"{M}ConnectionHangupNotification"}
    p = plan_exports(frozenset(ex), W7, "practice", "d")
    assert errors(p) == {"R55"} and not p.meets["practice"]


def test_case_sensitive_names() -> None:  # R16
    ex = (MIN_PRACTICE - {f"{M}TerminateDll"}) | {"mpradminterminatedll"}
    p = plan_exports(frozenset(ex), W7, "practice", "d")
    assert errors(p) == {"R48"}
    assert "MprAdminTerminateDll" in next(f.message for f in p.findings if f.rule == "R48")


def test_practice_vs_strict() -> None:  # AMBIG-1, R48
    p = plan_exports(MIN_PRACTICE, W7, "practice", "d")
    assert p.meets == {"strict": False, "practice": True}
    assert not errors(p)
    info = [f for f in p.findings if f.rule == "R48"]
    assert info and info[0].severity.value == "info"
    assert "InitializeDll" in info[0].message and "Reauthentication" in info[0].message
    s = plan_exports(MIN_PRACTICE, W7, "strict", "d")
    assert errors(s) == {"R48"}


def test_win2000_strict_requires_ipv4_pair() -> None:
    p = plan_exports(MIN_PRACTICE | {f"{M}InitializeDll"}, get_profile("win2000"), "strict", "d")
    assert not p.meets["strict"] and "GetIpAddressForUser" in " ".join(p.missing["strict"])


def test_decorated_names_r49() -> None:
    ex = {n for n in MIN_PRACTICE if n != f"{M}TerminateDll"} | {"MprAdminTerminateDll@0"}
    p = plan_exports(frozenset(ex), get_profile("win7-x86"), "practice", "d")
    assert errors(p) == {"R49"}
    f = next(f for f in p.findings if f.rule == "R49")
    assert "'MprAdminTerminateDll'" in f.message and "--kill-at" in f.message and ".def" in f.message
    assert not p.meets["practice"]


def test_all_decorated_only_r49() -> None:
    from emulator.abi.callbacks import SIGNATURES
    ex = frozenset(SIGNATURES[n].decorated_names()[0] for n in ALL_MPR)
    p = plan_exports(ex, get_profile("win7-x86"), "practice", "d")
    assert errors(p) == {"R49"}


def test_ip_pairs_r53_r54() -> None:
    p = plan_exports(MIN_PRACTICE | {f"{M}ReleaseIpAddress"}, W7, "practice", "d")
    assert errors(p) == {"R53"} and p.get_ip is None and p.meets["practice"]
    p = plan_exports(MIN_PRACTICE | {f"{M}GetIpv6AddressForUser"}, W7, "practice", "d")
    assert errors(p) == {"R54"} and p.get_ipv6 is None


def test_nt4_all_four_r74() -> None:
    p = plan_exports(ALL_NT4, get_profile("nt4"), "practice", "d")
    assert p.meets["practice"] and p.variant == ""
    p = plan_exports(ALL_NT4 - {"RasAdminConnectionHangupNotification"}, get_profile("nt4"),
                     "practice", "d")
    assert errors(p) == {"R74"}
    # the MprAdmin family alone is not enough for NT 4.0
    assert errors(plan_exports(ALL_MPR, get_profile("nt4"), "practice", "d")) == {"R74"}


def test_missing_export_stops_service() -> None:  # R15, R48
    op = Opener(**{"*": {"exports": ALL_MPR - {f"{M}AcceptNewLink"}}})
    host, _ = make_host(opener=op)
    assert host.start() is False
    assert rules(host) == {"R48"}
    assert all(d.closed for d in op.instances)


def _table(**slots: int) -> dict[str, int]:
    return {"revision": 2, **slots}


def _addr(d: FakeDll):  # type: ignore[no-untyped-def]
    return d.export_address


EXT = ALL_MPR | {f"{M}InitializeDllEx"}


def test_table_ex_pointers_used_with_revision_2() -> None:  # R41, R47
    d = FakeDll("x", EXT)
    p = plan_exports(EXT, W7, "practice", "d")
    a = _addr(d)
    t = _table(lpfnRasAdminAcceptNewConnectionEx=a(f"{M}AcceptNewConnectionEx"),
               lpfnRasAdminConnectionHangupNotificationEx=a(f"{M}ConnectionHangupNotificationEx"),
               lpfnRasAdminAcceptReauthenticationEx=a(f"{M}AcceptReauthenticationEx"))
    apply_table(p, t, W7, a, "d", {})
    assert p.accept and p.accept.source == "table"
    assert p.hangup and p.hangup.address == a(f"{M}ConnectionHangupNotificationEx")
    assert not [f for f in p.findings if f.rule in ("R72", "R73")]


def test_table_revision_1_ignored() -> None:  # R41
    d = FakeDll("x", EXT)
    a = _addr(d)
    p = plan_exports(EXT, W7, "practice", "d")
    apply_table(p, {"revision": 1, "lpfnRasAdminAcceptNewConnectionEx": a(f"{M}AcceptNewConnectionEx"),
                    "lpfnRasAdminConnectionHangupNotificationEx": 5}, W7, a, "d", {})
    assert p.accept and p.accept.source == "export"
    assert any(f.rule == "R41" for f in p.findings)


def test_table_bad_revision_and_half_pairs_r72() -> None:
    d = FakeDll("x", EXT)
    p = plan_exports(EXT, W7, "practice", "d")
    apply_table(p, {"revision": 7, "lpfnMprAdminGetIpAddressForUser": 0x1234}, W7, d.export_address,
                "d", {})
    assert errors(p) == {"R72"}
    assert len([f for f in p.findings if f.rule == "R72"]) == 2


def test_table_mingw_shift_r73() -> None:
    d = FakeDll("x", EXT)
    a = _addr(d)
    p = plan_exports(EXT, W7, "practice", "d")
    t = _table(lpfnMprAdminGetIpAddressForUser=a(f"{M}GetIpAddressForUser"),
               lpfnMprAdminReleaseIpAddress=a(f"{M}ReleaseIpAddress"),
               lpfnRasAdminAcceptNewConnectionEx=a(f"{M}AcceptNewConnectionEx"),
               lpfnRasAdminAcceptEndpointChangeEx=a(f"{M}AcceptReauthenticationEx"),
               lpfnRasAdminAcceptReauthenticationEx=a(f"{M}ConnectionHangupNotificationEx"))
    apply_table(p, t, W7, a, "d", {})
    assert errors(p) == {"R73"}
    assert p.accept and p.accept.source == "export"  # shifted table never used


def test_table_through_host() -> None:
    def init_ex(d: FakeDll, c):  # type: ignore[no-untyped-def]
        a = d.export_address
        return CallResult(0, {0: {
            "revision": 2,
            "lpfnRasAdminAcceptNewConnectionEx": a(f"{M}AcceptNewConnectionEx"),
            "lpfnRasAdminConnectionHangupNotificationEx": a(f"{M}ConnectionHangupNotificationEx")}})

    op = Opener(**{"*": {"exports": EXT, "overrides": {f"{M}InitializeDllEx": init_ex}}})
    host, _ = make_host(opener=op)
    assert host.start()
    assert host.dlls[0].variants["source"] == "table"
    s = host.connect("alice", "VPN0")
    host.disconnect(s)
    host.stop()
    ev = [e for e in host.trace if e["call"] == f"{M}AcceptNewConnectionEx"]
    assert ev and ev[0]["target"].startswith("0x")
    assert not rules(host)


@pytest.mark.parametrize("ret,rule", [(1, "R56"), (87, "R56")])
def test_initialize_failure_stops_service(ret: int, rule: str) -> None:  # R18, R56
    op = Opener(**{"*": {"overrides": {f"{M}InitializeDll": lambda d, c: CallResult(ret)}}})
    host, _ = make_host(opener=op)
    assert host.start() is False
    assert rules(host) == {rule}
