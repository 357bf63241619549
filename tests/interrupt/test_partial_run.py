"""In-process: an interruption inside check_dlls gives partial reports, the host is stopped,
and the CLI's SIGTERM handler is installed only for the run and restored afterwards."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from emulator.cli.check import sigterm_stops
from emulator.conformance.run import RunInterrupted, SignalInterrupt, check_dlls, interrupt_info
from emulator.report import Report
from emulator.report import json as rjson

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "fixtures" / "standins" / "good.py"
SCN = ["basic", "many-users", "restart"]


class Stops:
    """A real RasHost that receives SIGTERM (as the CLI's handler raises it) on its n-th connect."""

    def __init__(self, host: Any, counter: dict[str, int], at: int) -> None:
        self._host, self._counter, self._at = host, counter, at

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        self._counter["n"] += 1
        if self._counter["n"] == self._at:
            raise SignalInterrupt(signal.SIGTERM)
        return self._host.connect(*args, **kwargs)


def factory(at: int) -> tuple[Any, dict[str, int]]:
    from emulator.host.engine import RasHost

    counter = {"n": 0}

    def make(**kwargs: Any) -> Any:
        return Stops(RasHost(**kwargs), counter, at)

    return make, counter


def test_interrupt_mid_scenario_gives_a_partial_report_and_stops_the_host() -> None:
    make, _ = factory(at=10)  # basic has 1 connect; the 10th is inside many-users
    with pytest.raises(RunInterrupted) as info:
        check_dlls([GOOD], scenarios=SCN, host_factory=make)
    exc = info.value
    assert isinstance(exc, KeyboardInterrupt) and exc.exit_code == 143
    (rep,) = exc.reports
    assert rep.partial == {"reason": "interrupted by SIGTERM", "completed_scenarios": ["basic"],
                           "interrupted_scenario": "many-users", "not_run": ["restart"]}
    assert not rep.passed
    names = [(s.name, s.interrupted, s.skipped) for s in rep.scenarios]
    assert names == [("basic", None, None), ("many-users", "interrupted by SIGTERM", None),
                     ("restart", None, "not run: interrupted by SIGTERM")]
    calls = [e["call"] for e in rep.traces["many-users"]]
    assert calls.count("MprAdminGetIpAddressForUser") == 8
    assert calls[-1] == "MprAdminTerminateDll"  # stopped in order
    doc = json.loads(rjson.render([rep]))
    assert doc["partial"]["interrupted_scenario"] == "many-users"
    assert Report.from_json(doc).scenarios[1].interrupted == "interrupted by SIGTERM"


def test_groups_not_reached_are_reported_as_not_run() -> None:
    make, _ = factory(at=2)  # the first DLL's many-users
    other = ROOT / "fixtures" / "standins" / "bad_no_notify.py"
    with pytest.raises(RunInterrupted) as info:
        check_dlls([GOOD, other], scenarios=SCN, together=False, host_factory=make)
    first, second = info.value.reports
    assert first.partial is not None and first.partial["completed_scenarios"] == ["basic"]
    assert second.dlls == [str(other)] and second.partial is not None
    assert second.partial["completed_scenarios"] == [] and second.partial["not_run"] == SCN
    assert all(s.skipped == "not run: interrupted by SIGTERM" for s in second.scenarios)
    assert not second.passed and second.findings == []


def test_an_uninterrupted_run_has_no_partial() -> None:
    make, counter = factory(at=10_000)
    (rep,) = check_dlls([GOOD], scenarios=["basic"], host_factory=make)
    assert counter["n"] == 1 and rep.partial is None and rep.passed
    assert "partial" not in rep.to_json()


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX SIGTERM")
def test_sigterm_handler_raises_in_the_run_and_is_restored() -> None:
    def previous(signum: int, frame: object) -> None:
        raise AssertionError("the previous handler ran inside the run")

    old = signal.signal(signal.SIGTERM, previous)
    try:
        with pytest.raises(SignalInterrupt) as info, sigterm_stops():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs at the next bytecode boundary
                pass
        assert interrupt_info(info.value) == ("interrupted by SIGTERM", 143)
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, old)
    assert interrupt_info(KeyboardInterrupt()) == ("interrupted by SIGINT", 130)
