"""run_scenario drives a host through the steps; checked against the in-memory FakeHost."""

from __future__ import annotations

from pathlib import Path

from scenario_fakehost import FakeHost

from emulator.conformance.findings import Severity
from emulator.host.scenarios import load_scenario, run_scenario, standard_scenarios

HEAD = '[scenario]\nname = "t"\ndescription = "d"\n'


def scn(tmp_path: Path, body: str):  # type: ignore[no-untyped-def]
    p = tmp_path / "s.toml"
    p.write_text(HEAD + body, encoding="utf-8")
    return load_scenario(p)


def test_lifecycle_and_cleanup(tmp_path: Path) -> None:
    host = FakeHost()
    res = run_scenario(host, scn(tmp_path, '[[steps]]\ndo = "connect"\ncount = 3\n'))
    assert res.ok and res.started and res.steps_run == 1
    ops = [c[0] for c in host.calls]
    # started, 3 connects, the 3 leftovers disconnected, stopped
    assert ops == ["start", "connect", "connect", "connect", "disconnect", "disconnect", "disconnect", "stop"]
    assert [c[1:3] for c in host.calls[1:4]] == [("user0", "VPN1-0"), ("user1", "VPN1-1"), ("user2", "VPN1-2")]


def test_expect_counters_and_pick(tmp_path: Path) -> None:
    host = FakeHost(pool=5)
    body = (
        '[[steps]]\ndo = "connect"\ncount = 8\n'
        '[[steps]]\ndo = "expect"\nconnected = 5\nrefused = 3\naccepted = 5\n'
        '[[steps]]\ndo = "disconnect"\ncount = 2\npick = "last"\n'
        '[[steps]]\ndo = "expect"\nconnected = 3\naccepted = 2\n'
    )
    res = run_scenario(host, scn(tmp_path, body))
    assert res.ok, [f.message for f in res.findings]
    assert ("disconnect", "user3") in host.calls and ("disconnect", "user4") in host.calls
    assert host.calls.index(("disconnect", "user4")) < host.calls.index(("disconnect", "user0"))


def test_failed_expectation_is_a_finding(tmp_path: Path) -> None:
    body = ('[[steps]]\ndo = "connect"\ncount = 4\n'
            '[[steps]]\ndo = "expect"\nrefused_at_least = 1\nconnected_at_most = 2\n')
    res = run_scenario(FakeHost(pool=10), scn(tmp_path, body))
    assert not res.ok
    xs = [f for f in res.findings if f.rule == "X-SCENARIO"]
    assert [f.evidence[0]["check"] for f in xs] == ["refused_at_least", "connected_at_most"]
    assert xs[1].evidence[0]["expected"] == 2 and xs[1].evidence[0]["actual"] == 4
    assert "step 2" in xs[0].message and xs[0].severity is Severity.ERROR


def test_warning_expectation_keeps_ok(tmp_path: Path) -> None:
    body = '[[steps]]\ndo = "expect"\nconnected = 1\nseverity = "warning"\nmessage = "m"\n'
    res = run_scenario(FakeHost(), scn(tmp_path, body))
    assert res.ok and [f.message for f in res.findings] == ["scenario 't' step 1: m"]


def test_host_that_does_not_start(tmp_path: Path) -> None:
    host = FakeHost(start_ok=False)
    res = run_scenario(host, scn(tmp_path, '[[steps]]\ndo = "connect"\n'))
    assert not res.ok and not res.started and res.steps_run == 0
    assert [f.rule for f in res.findings] == ["R15"]
    assert [c[0] for c in host.calls] == ["start"]  # no connect, no stop


def test_multilink_standard(tmp_path: Path) -> None:
    host = FakeHost()
    res = run_scenario(host, load_scenario("multilink"))
    assert res.ok, [f.message for f in res.findings]
    links = [c for c in host.calls if c[0] in ("add_link", "hangup_link")]
    assert links == [("add_link", "bundle", "VPN1-2"), ("add_link", "bundle", "VPN1-3"),
                     ("hangup_link", "bundle", "VPN1-3"), ("hangup_link", "bundle", "VPN1-0"),
                     ("hangup_link", "bundle", "VPN1-2")]
    # the last link's hang-up ended the session, so nothing is left to disconnect
    assert not any(c[0] == "disconnect" for c in host.calls)


def test_refused_links_and_reauth_are_counted(tmp_path: Path) -> None:
    body = ('[[steps]]\ndo = "connect"\ncount = 2\n[[steps]]\ndo = "add_link"\n'
            '[[steps]]\ndo = "expect"\nrefused = 2\naccepted = 0\n'
            '[[steps]]\ndo = "reauth"\nquarantine = "probation"\n'
            '[[steps]]\ndo = "expect"\nrefused = 2\nconnected = 0\n')
    host = FakeHost(refuse_links=True, refuse_reauth=True)
    res = run_scenario(host, scn(tmp_path, body))
    assert res.ok, [f.message for f in res.findings]
    assert ("reauth", "user0", 2) in host.calls


def test_restart_stops_and_starts(tmp_path: Path) -> None:
    host = FakeHost(pool=5)
    res = run_scenario(host, load_scenario("restart"))
    assert res.ok and host.starts == 2 and host.stops == 2
    i = [c[0] for c in host.calls].index("stop")
    assert all(c[0] == "disconnect" for c in host.calls[i - 5 : i])


def test_release_unknown_catches_a_dll_that_frees_live_addresses() -> None:
    good = run_scenario(FakeHost(), load_scenario("release-unknown"))
    assert good.ok
    bad_host = FakeHost(release_any=True)
    bad = run_scenario(bad_host, load_scenario("release-unknown"))
    assert [(f.rule, f.severity, f.evidence[0]["check"]) for f in bad.findings] == [
        ("X-SCENARIO", Severity.WARNING, "unique_addresses")]
    probes = [c for c in bad_host.calls if c[0] == "probe"]
    assert probes[0][1:] == ("nobody0", "VPN9-0", 0x0AFEFE00)
    assert probes[3][1:3] == ("thief0", "VPN8-0") and probes[3][3] == 0x0A000001


def test_pool_exhaustion_detects_leaks() -> None:
    assert run_scenario(FakeHost(pool=64), load_scenario("pool-exhaustion")).ok
    res = run_scenario(FakeHost(pool=64, leak=True), load_scenario("pool-exhaustion"))
    assert [(f.rule, f.severity) for f in res.findings] == [("X-SCENARIO", Severity.WARNING)]


def test_concurrent_steps_run_every_item() -> None:
    host = FakeHost(pool=100)
    res = run_scenario(host, load_scenario("concurrency"))
    assert res.ok
    connects = [c for c in host.calls if c[0] == "connect"]
    assert len(connects) == 60 and {c[1] for c in connects} == {f"user{i}" for i in range(60)}


def test_every_standard_scenario_runs_on_the_fake_host() -> None:
    for s in standard_scenarios():
        res = run_scenario(FakeHost(pool=64), s)
        assert res.started and res.steps_run == len(s.steps), s.name
        assert res.ok, (s.name, [f.message for f in res.findings])


AT_ONCE = (
    '[[steps]]\ndo = "connect"\ncount = 6\nat_once = true\nproposed = "0.0.0.0"\n'
    '[[steps]]\ndo = "expect"\nconnected = 6\naccepted = 6\nunique_addresses = true\n'
    '[[steps]]\ndo = "disconnect"\ncount = 4\nat_once = true\n'
    '[[steps]]\ndo = "expect"\nconnected = 2\naccepted = 4\n'
)


def test_at_once_steps_use_the_batched_host_calls(tmp_path: Path) -> None:
    host = FakeHost()
    res = run_scenario(host, scn(tmp_path, AT_ONCE))
    assert res.ok, [f.message for f in res.findings]
    assert [c[1] for c in host.calls if c[0] == "connect"] == [f"user{i}" for i in range(6)]


def test_at_once_orders_the_callbacks_on_a_real_host(tmp_path: Path) -> None:
    """Every GetIp before the first accept; the hang-ups of the sessions leaving together before
    their releases; findings as one by one (none for the reference stand-in)."""
    from emulator.conformance.run import check_dll

    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "s.toml"
    path.write_text(HEAD + AT_ONCE, encoding="utf-8")
    r = check_dll(root / "fixtures" / "standins" / "good.py", scenarios=[path],
                  profile="win7-x64", isolate=False)
    assert r.passed, [f.message for f in r.findings if f.severity is Severity.ERROR]
    calls = [e["call"] for e in r.traces["t"]]
    gets = [i for i, c in enumerate(calls) if c == "MprAdminGetIpAddressForUser"]
    accepts = [i for i, c in enumerate(calls) if c.startswith("MprAdminAcceptNewConnection")]
    assert len(gets) == 6 and max(gets) < min(accepts)
    releases = [i for i, c in enumerate(calls) if c == "MprAdminReleaseIpAddress"]
    hangups = [i for i, c in enumerate(calls) if c.startswith("MprAdminConnectionHangup")]
    assert len(releases) >= 4 and max(hangups[:4]) < min(releases)
