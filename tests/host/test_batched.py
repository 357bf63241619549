"""RasHost.connect_many/disconnect_many: the same findings, sessions and calls as connect and
disconnect one by one, R63 inside one batch, faults and timeouts mid-batch, input checks."""

from __future__ import annotations

import signal
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeDll, Opener, make_host, registry_with

from emulator.conformance.checks.host_monitor import check_trace
from emulator.errors import InputError, RasemuError
from emulator.host.connection import ip_to_dword
from emulator.host.engine import BATCH, GIVE_UP_AFTER, RasHost, Session
from emulator.loaders.base import AdminDll, Call, CallFault, CallResult
from emulator.loaders.isolated import IsolatedDll
from tests.helpers import CRASH_ONE_STANDIN

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
MANIFEST = ROOT / "fixtures" / "dlls" / "manifest.toml"
HOSTILE = ROOT / "fixtures" / "dlls" / "prebuilt_hostile"
VENDOR = "C:\\Windows\\System32\\vendor.dll"
GET = "MprAdminGetIpAddressForUser"
REL = "MprAdminReleaseIpAddress"

MANIFEST_VARIANTS: dict[str, dict[str, Any]] = tomllib.loads(MANIFEST.read_text())["variants"]
#: every stand-in but bad_hang (in-process it never returns)
STANDIN_VARIANTS = sorted(p.stem for p in STANDINS.glob("*.py")
                          if not p.stem.startswith("_") and p.stem != "bad_hang")
NATIVE_VARIANTS = sorted(n for n, v in MANIFEST_VARIANTS.items()
                         if "so" in v.get("builds", []) and "native" in v.get("loaders", []))
#: 10 users fit the fixtures' 64-address pool; 70 run it out (ERROR_NO_MORE_ITEMS for 6)
SIZES = (10, 70)


def users(n: int, prefix: str = "user") -> list[tuple[str, str]]:
    return [(f"{prefix}{i}", f"VPN{i}") for i in range(n)]


def python_opener(path: str, **kw: Any) -> AdminDll:
    from emulator.loaders.select import open_dll

    return open_dll(path, **{**kw, "loader": "python"})


def native_opener(path: str, **kw: Any) -> AdminDll:
    from emulator.loaders.native import NativeLoader

    return NativeLoader().load(path, bitness=kw.get("bitness"))


def host_for(path: str, opener: Any, **kw: Any) -> RasHost:
    from emulator.loaders.native import host_bits

    profile = "win7-x64" if host_bits() == 64 else "win7-x86"
    return RasHost(registry_with(VENDOR), profile, opener=opener, path_map={VENDOR: path}, **kw)


def run(path: str, opener: Any, n: int, batched: bool) -> tuple[RasHost, list[Session]]:
    """N users connected, then disconnected, one by one or through the batched API."""
    host = host_for(path, opener)
    if not host.start():
        with pytest.raises(RasemuError):
            host.connect_many(users(n)) if batched else host.connect("user0", "VPN0")
        return host, []
    if batched:
        made = host.connect_many(users(n))
        host.disconnect_many(made)
    else:
        made = [host.connect(u, p) for u, p in users(n)]
        for s in made:
            host.disconnect(s)
    host.stop()
    return host, made


def outcome(host: RasHost, made: list[Session]) -> tuple[set[Any], list[Any], Counter[Any]]:
    """(rule, severity) findings, (user, state, address) per session, calls made per export."""
    found = {(f.rule, f.severity.value) for f in host.findings}
    sessions = [(s.user, s.state, s.address) for s in made]
    calls = Counter(e["call"] for e in host.trace if not e.get("skipped"))
    return found, sessions, calls


def check_equivalent(path: str, opener: Any, n: int) -> set[Any]:
    one = outcome(*run(path, opener, n, batched=False))
    many = outcome(*run(path, opener, n, batched=True))
    assert many[0] == one[0], "findings differ"
    assert many[1] == one[1], "session states or addresses differ"
    assert many[2] == one[2], "calls made differ"
    return many[0]


# ------------------------------------------------------------------ 1. equivalence


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("variant", STANDIN_VARIANTS)
def test_standin_batched_equals_one_by_one(variant: str, n: int) -> None:
    found = check_equivalent(str(STANDINS / f"{variant}.py"), python_opener, n)
    if variant == "bad_dup_address":
        assert ("R63", "error") in found
    if variant == "good":
        assert not {f for f in found if f[1] != "info"}


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("variant", NATIVE_VARIANTS)
def test_native_batched_equals_one_by_one(variant: str, n: int) -> None:
    build = pytest.importorskip("fixtures.dlls.build")
    try:
        lib = build.native_library(variant)
    except build.CompilerNotFoundError as exc:  # pragma: no cover - no C compiler
        pytest.skip(str(exc))
    found = check_equivalent(str(lib), native_opener, n)
    if variant == "bad_dup_address":
        assert ("R63", "error") in found


def test_pool_runs_out_in_the_batch() -> None:
    """70 users of the 64-address pool: 64 connected with distinct addresses, 6 refused."""
    host, made = run(str(STANDINS / "good.py"), python_opener, 70, batched=True)
    states = Counter(s.state for s in made)
    assert states == {"disconnected": 64, "refused": 6}
    assert len({s.address for s in made if s.state == "disconnected"}) == 64
    assert host.stats["connected_now"] == 0 and host.stats["sessions"] == 70


# ------------------------------------------------------------------ 2. R63 within one batch


class SameAddressDll(AdminDll):
    """Gives the 1st and 3rd GetIp the same address, every other call a fresh one."""

    loader_name = "test"
    machine = "python"

    def __init__(self, path: str, **kw: Any) -> None:
        self.path = path
        self.gets = 0

    @property
    def exports(self) -> frozenset[str]:
        return frozenset({GET, REL, "MprAdminAcceptNewConnection", "MprAdminAcceptNewLink",
                          "MprAdminConnectionHangupNotification",
                          "MprAdminLinkHangupNotification", "MprAdminTerminateDll"})

    def handle_call(self, call: Call) -> CallResult:
        if call.target == GET:
            self.gets += 1
            n = 1 if self.gets == 3 else self.gets
            return CallResult(0, {2: ip_to_dword(f"10.9.0.{n}"), 3: 1})
        if call.target == REL:
            return CallResult(None, {2: call.args[2]})
        if call.target == "MprAdminTerminateDll":
            return CallResult(0)
        return CallResult(1 if "Accept" in str(call.target) else None)

    def close(self) -> None:
        pass


def test_r63_between_users_of_one_batch() -> None:
    host = RasHost(registry_with(VENDOR), "win7-x64", opener=SameAddressDll)
    assert host.start()
    made = host.connect_many(users(4, "u"))
    r63 = [f for f in host.findings if f.rule == "R63"]
    assert len(r63) == 1
    assert r63[0].severity.value == "error"
    assert r63[0].extra["users"] == ["u0", "u2"]
    assert r63[0].extra["address"] == "10.9.0.1"
    assert [str(s.address) for s in made] == ["10.9.0.1", "10.9.0.2", "10.9.0.1", "10.9.0.4"]
    host.disconnect_many(made)
    host.stop()


# ------------------------------------------------------------------ 3. a fault mid-batch


def faults_at(k: int, kind: str = "crash") -> Callable[[FakeDll, Call], CallResult]:
    """A GetIp override that faults on the k-th call (1-based) and behaves otherwise."""
    def fn(d: FakeDll, call: Call) -> CallResult:
        if sum(1 for name, _ in d.calls if name == GET) == k:
            return CallResult(fault=CallFault(kind, f"simulated {kind}"))  # type: ignore[arg-type]
        return d.default(call)
    return fn


def ip_instance(op: Opener) -> FakeDll:
    """The instance that got the GetIp calls."""
    return next(d for d in op.instances if any(name == GET for name, _ in d.calls))


def test_fault_mid_batch_fails_that_session_only() -> None:
    host, op = make_host(opener=Opener(**{"*": {"overrides": {GET: faults_at(3)}}}))
    assert host.start()
    made = host.connect_many(users(6))
    assert [s.state for s in made] == ["connected"] * 2 + ["failed"] + ["connected"] * 3
    gets = [a[0] for name, a in ip_instance(op).calls if name == GET]
    assert gets == [f"user{i}" for i in range(6)]  # the calls after the fault were made
    assert any(f.rule == "R46" and f.severity.value == "error" for f in host.findings)
    host.disconnect_many(made)
    assert host.stats["connected_now"] == 0
    rels = [a[0] for name, a in ip_instance(op).calls if name == REL]
    assert sorted(rels) == sorted(f"user{i}" for i in range(6) if i != 2)
    host.stop()


def test_fault_mid_release_batch_goes_on() -> None:
    def rel(d: FakeDll, call: Call) -> CallResult:
        if call.args[0] == "user1":
            return CallResult(fault=CallFault("crash", "simulated crash"))
        return d.default(call)

    host, op = make_host(opener=Opener(**{"*": {"overrides": {REL: rel}}}))
    assert host.start()
    made = host.connect_many(users(4))
    host.disconnect_many(made)
    rels = [a[0] for name, a in ip_instance(op).calls if name == REL]
    assert rels == [f"user{i}" for i in range(4)]
    assert [s.state for s in made] == ["disconnected"] * 4
    host.stop()




def crash_one_host(tmp_path: Path) -> RasHost:
    """A started host whose DLL (a stand-in run in a child process) kills its process in the
    GetIp of user "crasher"."""
    if not hasattr(signal, "SIGKILL"):  # pragma: no cover - Windows
        pytest.skip("needs SIGKILL")
    dll = tmp_path / "crash_one.py"
    dll.write_text(CRASH_ONE_STANDIN)
    host = RasHost(registry_with(VENDOR), "win7-x64", loader="python", isolate=True,
                   path_map={VENDOR: str(dll)})
    assert host.start()
    return host


CRASH_BATCH = [("a", "VPN0"), ("crasher", "VPN1"), ("b", "VPN2"), ("c", "VPN3")]


def test_child_process_dies_mid_batch(tmp_path: Path) -> None:
    """The child dies in the 2nd GetIp: it is restarted once and the rest still connect."""
    host = crash_one_host(tmp_path)
    ip = host.dlls[0].ip
    assert isinstance(ip, IsolatedDll)
    made = host.connect_many(CRASH_BATCH)
    assert [s.state for s in made] == ["connected", "failed", "connected", "connected"]
    assert ip.restarts == 1
    faults = [e["fault"]["kind"] for e in host.trace if e["call"] == GET and e["fault"]]
    assert faults == ["child-died"]
    assert [e["args"][0] for e in host.trace if e["call"] == GET] == [u for u, _ in CRASH_BATCH]
    # the restarted child has a fresh pool: b gets a's address again
    assert made[2].address == made[0].address and made[3].address != made[0].address
    host.disconnect_many(made)
    host.stop()
    assert host.stats["connected_now"] == 0


def test_address_reused_after_child_restart_is_a_consequence(tmp_path: Path) -> None:
    """As with connect one by one: R46 info (the reloaded DLL forgot the lease), no R63."""
    host = crash_one_host(tmp_path)
    host.connect_many(CRASH_BATCH)
    found = host.findings
    host.stop()
    assert not [f for f in found if f.rule == "R63"]
    assert any(f.rule == "R46" and f.severity.value == "info" and "reloaded" in f.message
               for f in found)


def test_child_restart_one_by_one_reference(tmp_path: Path) -> None:
    """The one-by-one run the test above compares with: R46 info and no R63."""
    host = crash_one_host(tmp_path)
    made = [host.connect(u, p) for u, p in CRASH_BATCH]
    assert [s.state for s in made] == ["connected", "failed", "connected", "connected"]
    found = host.findings
    host.stop()
    assert not [f for f in found if f.rule == "R63"]
    assert any(f.rule == "R46" and f.severity.value == "info" and "reloaded" in f.message
               for f in found)


# ------------------------------------------------------------------ 4. give up on timeouts


def test_give_up_after_timeouts_in_a_batch() -> None:
    host, op = make_host(opener=Opener(**{"*": {"overrides": {
        GET: lambda d, c: CallResult(fault=CallFault("timeout", "simulated timeout"))}}}))
    assert host.start()
    made = host.connect_many(users(10))
    assert [s.state for s in made] == ["failed"] * 10
    gets = [c for d in op.instances for c in d.calls if c[0] == GET]
    assert len(gets) == GIVE_UP_AFTER
    real = [e for e in host.trace if e["call"] == GET and not e.get("skipped")]
    assert len(real) == GIVE_UP_AFTER
    assert host.stats["calls"] == sum(1 for e in host.trace if not e.get("skipped"))
    gave_up = [f for f in host.findings if f.rule == "R46" and "gave up" in f.message]
    assert len(gave_up) == 1 and gave_up[0].severity.value == "error"
    host.stop()


def test_give_up_isolated_child_timeouts() -> None:
    """bad_hang in a child process: each GetIp is killed at the time limit; three, then none."""
    host = RasHost(registry_with(VENDOR), "win7-x64", loader="python", isolate=True,
                   call_timeout=0.2, path_map={VENDOR: str(STANDINS / "bad_hang.py")})
    assert host.start()
    made = host.connect_many(users(10))
    assert [s.state for s in made] == ["failed"] * 10
    real = [e for e in host.trace if e["call"] == GET and not e.get("skipped")]
    assert len(real) == GIVE_UP_AFTER
    assert all(e["fault"]["kind"] == "timeout" for e in real)
    assert any(f.rule == "R46" and "gave up" in f.message for f in host.findings)
    host.stop()


def test_give_up_isolated_pe_instruction_budget() -> None:
    """The PE emulator's instruction budget times the calls out inside the child process."""
    host = RasHost(registry_with(VENDOR), "win7-x64", loader="pe", isolate=True,
                   call_timeout=5.0, load_options={"instruction_budget": 100_000},
                   path_map={VENDOR: str(HOSTILE / "hostile_loop64.dll")})
    assert host.start()
    made = host.connect_many(users(10))
    assert [s.state for s in made] == ["failed"] * 10
    real = [e for e in host.trace if e["call"] == GET and not e.get("skipped")]
    host.stop()
    assert len(real) == GIVE_UP_AFTER


# ------------------------------------------------------------------ 5. input errors


@pytest.mark.parametrize("bad", [
    {"requests": [("ok", "VPN0"), ("x" * 300, "VPN1"), ("ok2", "VPN2")]},
    {"requests": [("ok", "VPN0"), ("ok2", "P" * 17)]},
    {"requests": [("ok", "VPN0")], "links": 0},
    {"requests": [("ok", "VPN0")], "proposed": "300.1.2.3"},
    {"requests": [("ok", "VPN0"), ("alone",)]},
    {"requests": [("ok", "VPN0"), ("u", 7)]},
    {"requests": ["alice"]},
], ids=["long-user", "long-port", "no-links", "bad-proposed", "one-item", "not-str", "bare-str"])
def test_bad_request_makes_no_call(bad: dict[str, Any]) -> None:
    host, op = make_host()
    assert host.start()
    before = host.stats
    calls_before = sum(len(d.calls) for d in op.instances)
    requests = bad.pop("requests")
    with pytest.raises(InputError) as err:
        host.connect_many(requests, **bad)
    assert err.value.where in ("user", "port", "links", "proposed", "requests[1]", "requests[0]")
    after = host.stats
    assert after["calls"] == before["calls"]
    assert after["sessions"] == before["sessions"] == 0
    assert sum(len(d.calls) for d in op.instances) == calls_before
    host.stop()


def test_empty_batch() -> None:
    host, _ = make_host()
    assert host.start()
    calls = host.stats["calls"]
    assert host.connect_many([]) == []
    host.disconnect_many([])
    assert host.stats["calls"] == calls
    host.stop()


# ------------------------------------------------------------------ 6. the trace


def _trace_run(batched: bool, n: int) -> RasHost:
    host, _ = make_host("C:\\ras\\a.dll; C:\\ras\\b.dll", trace=True)
    assert host.start()
    if batched:
        made = host.connect_many(users(n), links=2)
        host.disconnect_many(made)
    else:
        made = [host.connect(u, p, links=2) for u, p in users(n)]
        for s in made:
            host.disconnect(s)
    host.stop()
    return host


def _calls(host: RasHost) -> Counter[str]:
    return Counter(repr((e["dll"], e["call"], e["args"])) for e in host.trace)


def test_trace_holds_the_same_calls_and_is_clean() -> None:
    n = BATCH + 4  # two GetIp and two Release round trips
    one, many = _trace_run(False, n), _trace_run(True, n)
    assert _calls(many) == _calls(one)
    assert many.stats["calls"] == len(many.trace) == len(one.trace)
    assert [e["seq"] for e in many.trace] == list(range(len(many.trace)))
    for host in (one, many):
        dl = [(d.path, d.exports) for d in host.dlls]
        found = check_trace(host.trace, dl, host.profile)
        assert not [f for f in found if f.subject == "host"], [
            (f.rule, f.message) for f in found]
    # batched: every GetIp comes before the first accept
    calls = [e["call"] for e in many.trace]
    last_get = max(i for i, c in enumerate(calls) if c == GET)
    assert last_get < calls.index("MprAdminAcceptNewConnectionEx")
