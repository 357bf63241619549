"""AdminDll.call_exports: one call per argument tuple, in order, up to and including the first
fault; IsolatedDll makes them in one round trip to its child and restarts it after a fault."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.abi.addresses import dword_to_ip
from emulator.loaders.base import AdminDll, Call, CallFault, CallResult
from emulator.loaders.isolated import IsolatedDll
from emulator.loaders.python import PythonLoader
from tests.helpers import CRASH_ONE_STANDIN

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
SENTINEL = 0xA5A5A5A5
GET = "MprAdminGetIpAddressForUser"


def get_args(*names: str) -> list[tuple[Any, ...]]:
    return [(n, "VPN0", 0, SENTINEL) for n in names]


class Recorder(AdminDll):
    """Returns the call's position (1-based) and faults on the calls listed in ``fault_at``."""

    loader_name = "test"
    machine = "python"

    def __init__(self, fault_at: tuple[int, ...] = ()) -> None:
        self.path = "recorder"
        self.fault_at = fault_at
        self.calls: list[Call] = []

    @property
    def exports(self) -> frozenset[str]:
        return frozenset({"Echo"})

    def handle_call(self, call: Call) -> CallResult:
        self.calls.append(call)
        n = len(self.calls)
        if n in self.fault_at:
            return CallResult(fault=CallFault("crash", f"fault in call {n}"))
        return CallResult(n)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------ the base class


def test_base_results_in_order() -> None:
    d = Recorder()
    rs = d.call_exports("Echo", [(1,), (2,), (3,)], timeout=1.5)
    assert [r.returned for r in rs] == [1, 2, 3]
    assert [c.args for c in d.calls] == [(1,), (2,), (3,)]
    assert {(c.target, c.signature, c.timeout) for c in d.calls} == {("Echo", None, 1.5)}


def test_base_stops_after_first_fault() -> None:
    d = Recorder(fault_at=(2, 3))
    rs = d.call_exports("Echo", [(1,), (2,), (3,), (4,)])
    assert len(rs) == 2
    assert rs[0].returned == 1 and rs[0].fault is None
    assert rs[1].fault is not None and rs[1].fault.message == "fault in call 2"
    assert len(d.calls) == 2  # the calls after the fault were not made


def test_base_fault_on_first_call() -> None:
    d = Recorder(fault_at=(1,))
    rs = d.call_exports("Echo", [(1,), (2,)])
    assert len(rs) == 1 and rs[0].fault is not None and len(d.calls) == 1


def test_base_no_args_no_call() -> None:
    d = Recorder()
    assert d.call_exports("Echo", []) == []
    assert d.calls == []


def test_python_loader_stops_at_a_raising_standin() -> None:
    """In-process stand-in (base implementation): bad_raises faults at once, nothing after."""
    d = PythonLoader().load(str(STANDINS / "bad_raises.py"))
    try:
        rs = d.call_exports(GET, get_args("a", "b", "c"))
    finally:
        d.close()
    assert len(rs) == 1 and rs[0].fault is not None and rs[0].fault.kind == "crash"


# ------------------------------------------------------------------ IsolatedDll


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of calls in each IsolatedDll._run_batch round trip."""
    seen: list[int] = []
    real = IsolatedDll._run_batch

    def counting(self: IsolatedDll, calls: list[Call], *rest: Any) -> Any:
        seen.append(len(calls))
        return real(self, calls, *rest)

    monkeypatch.setattr(IsolatedDll, "_run_batch", counting)
    return seen


def isolated(path: Path) -> Iterator[IsolatedDll]:
    d = IsolatedDll("python", str(path))
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def good() -> Iterator[IsolatedDll]:
    yield from isolated(STANDINS / "good.py")


def test_isolated_one_round_trip_in_order(good: IsolatedDll, round_trips: list[int]) -> None:
    rs = good.call_exports(GET, get_args(*(f"u{i}" for i in range(5))))
    assert round_trips == [5]
    assert [r.fault for r in rs] == [None] * 5
    assert [str(dword_to_ip(r.outputs[2])) for r in rs] == [
        f"192.168.100.{10 + i}" for i in range(5)]
    assert good.handle_call(Call("RasemuTestLeaseCount")).returned == 5


def test_isolated_no_args_no_round_trip(good: IsolatedDll, round_trips: list[int]) -> None:
    assert good.call_exports(GET, []) == []
    assert round_trips == []


def test_isolated_same_results_as_base(good: IsolatedDll) -> None:
    base = PythonLoader().load(str(STANDINS / "good.py"))
    try:
        args = get_args("a", "b", "a", "c")
        want = base.call_exports(GET, args)
    finally:
        base.close()
    got = good.call_exports(GET, args)
    assert [(r.returned, dict(r.outputs), r.fault) for r in got] == [
        (r.returned, dict(r.outputs), r.fault) for r in want]




@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_isolated_child_death_stops_and_restarts(tmp_path: Path,
                                                 round_trips: list[int]) -> None:
    path = tmp_path / "crash_one.py"
    path.write_text(CRASH_ONE_STANDIN)
    for d in isolated(path):
        rs = d.call_exports(GET, get_args("a", "crasher", "b", "c"))
        assert round_trips == [4]  # one round trip; the rest is not sent again
        assert len(rs) == 2
        assert rs[0].fault is None
        assert rs[1].fault is not None and rs[1].fault.kind == "child-died"
        assert d.restarts == 1
        # the restarted child is fresh and b, c were never called in it
        assert d.handle_call(Call("RasemuTestLeaseCount")).returned == 0
        # and it works
        again = d.call_exports(GET, get_args("b"))
        assert again[0].fault is None and again[0].returned == 0


def test_isolated_timeout_stops_and_restarts(round_trips: list[int]) -> None:
    for d in isolated(STANDINS / "bad_hang.py"):
        rs = d.call_exports(GET, get_args("a", "b", "c"), timeout=0.2)
        assert len(rs) == 1
        assert rs[0].fault is not None and rs[0].fault.kind == "timeout"
        assert round_trips == [3]
        assert d.restarts == 1


def test_handle_calls_still_goes_on_after_a_fault(tmp_path: Path) -> None:
    """handle_calls (unlike call_exports) runs the rest in the restarted child."""
    path = tmp_path / "crash_one.py"
    path.write_text(CRASH_ONE_STANDIN)
    for d in isolated(path):
        rs = d.handle_calls([Call(GET, a) for a in get_args("a", "crasher", "b")])
        assert [r.fault.kind if r.fault else None for r in rs] == [None, "child-died", None]
        assert d.restarts == 1


def test_isolated_stops_after_fault_reported_in_child(round_trips: list[int]) -> None:
    for d in isolated(STANDINS / "bad_raises.py"):
        rs = d.call_exports(GET, get_args("a", "b", "c"))
        assert rs[0].fault is not None and rs[0].fault.kind == "crash"
        assert len(rs) == 1
