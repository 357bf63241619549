"""Each hostile DLL through the whole product (``check_dll``): the run completes, every scenario
runs, and the failure is a finding with the rule of fixtures/dlls/hostile.toml."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.conformance.findings import Severity
from emulator.conformance.run import check_dll
from emulator.host.engine import RasHost
from emulator.host.scenarios import standard_scenarios
from emulator.report import Report
from tests.hostile.conftest import VARIANTS, prebuilt

#: the endless loop costs one time limit per GetIp call (about 230 per run): keep it short
CALL_TIMEOUT = {"hostile_loop": 0.02}
LOAD_TIMEOUT = 0.3
PROFILE = {32: "win7-x86", 64: "win7-x64"}


def _host(**kw: Any) -> RasHost:
    kw["load_options"] = {"load_timeout": LOAD_TIMEOUT}  # a DllMain that never returns
    return RasHost(**kw)


def _check(variant: str, bits: int) -> Report:
    # the short load time limit only for the DLL whose DllMain hangs: the others reload after
    # each fault, and a loaded test machine can take longer than 0.3 s for that
    return check_dll(
        prebuilt(variant, bits),
        profile=PROFILE[bits],
        loader="pe",
        call_timeout=CALL_TIMEOUT.get(variant, 1.0),
        host_factory=_host if VARIANTS[variant]["stage"] == "load" else None,
    )


def _params() -> list[Any]:
    return [pytest.param(variant, bits, id=f"{variant}-{bits}")
            for variant in sorted(VARIANTS) for bits in (32, 64)]


def _complete(rep: Report, *, started: bool) -> None:
    names = [s.name for s in standard_scenarios()]
    assert [s.name for s in rep.scenarios] == names
    for s in rep.scenarios:
        if s.skipped == "needs 2 DLLs":  # multi-dll: one DLL given
            continue
        if started:
            assert s.skipped is None, f"scenario {s.name} skipped: {s.skipped}"
        else:
            assert s.name == names[0] or s.skipped == "the service did not start"


@pytest.mark.parametrize(("variant", "bits"), _params())
def test_check_dll_reports_the_failure(variant: str, bits: int) -> None:
    spec = VARIANTS[variant]
    rep = _check(variant, bits)
    errors = [f for f in rep.findings if f.severity is Severity.ERROR]
    if spec["stage"] == "load":
        _complete(rep, started=False)
        hits = [f for f in errors if f.rule == spec["rule"] and spec["message"] in f.message]
        assert hits, [f.message for f in errors]
        return
    _complete(rep, started=True)
    assert rep.stats["sessions"] > 100
    if spec["fault"] != "timeout":  # endless loops: the host gives up after 3 timeouts
        assert rep.stats["calls"] >= rep.stats["sessions"]
    if not spec["rule"]:  # the DLL misbehaves in a way the contract allows
        assert errors == [], [f.message for f in errors]
        assert all(s.ok for s in rep.scenarios)
        return
    if not spec["fault"]:  # a call that returned something the contract does not allow
        hits = [f for f in rep.findings if f.rule == spec["rule"]]
        assert hits, [(f.rule, f.message) for f in rep.findings]
        assert all(f.subject and f.evidence for f in hits)
        return
    # the report uses the loader's rule where it names one (heap corruption R76, re-entry R66)
    rule = spec["rule"]
    assert not spec["fault_rule"] or spec["fault_rule"] == rule
    hits = [f for f in errors if f.rule == rule and f.extra.get("fault") == spec["fault"]
            and "consecutive timeouts" not in f.message]
    assert hits, [(f.rule, f.message) for f in rep.findings]
    assert any(spec["message"] in f.message for f in hits)
    assert all(f.subject and f.evidence for f in hits)
    # only this one failure: the host reports nothing the reference DLL would not get
    assert {f.rule for f in errors} <= {rule, "R46", "R71"}


@pytest.mark.parametrize("bits", [32, 64])
def test_garbage_return_is_an_r59_warning(bits: int) -> None:
    """0xDEADBEEF is no Win32 error code: the user is refused (R59) and the host says why."""
    rep = _check("hostile_garbage", bits)
    hits = [f for f in rep.findings if f.rule == "R59"]
    assert len(hits) == 1 and hits[0].severity is Severity.WARNING
    f = hits[0]
    assert f.message == ("MprAdminGetIpAddressForUser returned 0xDEADBEEF, which is not a Win32 "
                         "error code; the user was refused")
    assert f.subject.endswith(f"hostile_garbage{bits}.dll")
    ev = f.evidence[0]
    assert ev["returned"] == 0xDEADBEEF and ev["call"] == "MprAdminGetIpAddressForUser"
    # refused, never connected: no accept callback ran, and nothing else was judged an error
    assert not [g for g in rep.findings if g.severity is Severity.ERROR and g.rule != "X-SCENARIO"]


@pytest.mark.parametrize("bits", [32, 64])
def test_endless_loop_gives_up_after_three_timeouts(bits: int) -> None:
    """Three timeouts in a row stop the calls for the rest of the scenario; the next scenario
    starts fresh (so each scenario pays at most three time limits)."""
    rep = _check("hostile_loop", bits)
    gave_up = [f for f in rep.findings if "gave up after 3 consecutive timeouts in "
               "MprAdminGetIpAddressForUser" in f.message]
    assert gave_up and all(f.rule == "R46" and f.severity is Severity.ERROR for f in gave_up)
    assert all(len(f.evidence) == 3 and all(e["fault"]["kind"] == "timeout" for e in f.evidence)
               for f in gave_up)
    ran = [s for s in rep.scenarios if s.skipped is None and s.calls]
    assert ran and all(not s.ok for s in ran)
    # each scenario that reached GetIp three times gave up once: far fewer calls than sessions
    assert rep.stats["calls"] < rep.stats["sessions"]
