"""The same admin DLL source run four ways gives the same host trace, call for call.

For every fixture variant built as a host library and as x86/x64 PE DLLs (manifest.toml), each
sequential standard scenario (plus multi-dll with a second DLL, and concurrency compared
without its thread-dependent order) runs on a fresh RasHost with the native library through cffi (the
reference: real code on the real CPU), the x64 and x86 PE builds under emulation, and the
Python stand-in. The comparable traces (differential_harness.comparable: only timestamps,
handle numbers, code addresses, structure sizes and fault messages are normalised) must be
identical, and so must the findings' (rule, severity) pairs, except for rules the manifest
says a loader cannot see (R76 heap leaks and in-process R65 crashes are invisible to cffi).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from differential_harness import (
    NATIVE_IN_CHILD,
    PY,
    PY32,
    SEQUENTIAL,
    SIDES,
    STANDIN_DIFFERS,
    WIN_PATH,
    WIN_PATH_2,
    X64,
    X86,
    Side,
    blind_rules,
    cached_run,
    common_variants,
    comparable,
    first_difference,
    native_side,
    run_side,
)

from emulator.host.profiles import get_profile
from emulator.host.scenarios import load_scenario

VARIANTS = common_variants()

#: older profiles, on the variants whose behaviour depends on the profile's lifecycle
#: (hang-up after refusal, reauthentication, per-port NT 4.0 callbacks)
OLD_OS = ("win2000", "win2003", "win2008")
OLD_OS_VARIANTS = ("good", "bad_dup_address", "bad_zero_address", "bad_no_notify")


def _applies(scenario: str, os_name: str) -> bool:
    return load_scenario(scenario).applies_to(get_profile(f"{os_name}-x86"), 1)


def _cases(os_names: tuple[str, ...], variants: list[str] | tuple[str, ...],
           sides: tuple[Side, ...], scenarios: tuple[str, ...] = SEQUENTIAL) -> list[Any]:
    out = []
    for os_name in os_names:
        for variant in variants:
            for scenario in scenarios:
                if not _applies(scenario, os_name):
                    continue
                for side in sides:
                    marks = []
                    if side.loader == "python" and variant in STANDIN_DIFFERS:
                        marks.append(pytest.mark.skip(
                            reason=f"stand-in does not mirror the C code: "
                                   f"{STANDIN_DIFFERS[variant]}"))
                    out.append(pytest.param(os_name, variant, scenario, side.name, marks=marks,
                                            id=f"{os_name}-{variant}-{scenario}-{side.name}"))
    return out


#: every side compared with the native reference, on the x64-capable profiles
CASES = (_cases(("win7",), VARIANTS, (X64, X86, PY))
         + _cases(OLD_OS, OLD_OS_VARIANTS, (X64, X86, PY),
                  tuple(s for s in SEQUENTIAL if s != "quarantine")))
#: NT 4.0 exists for x86 only: the x86 PE build against the stand-in at 32 bits
NT4_CASES = _cases(("nt4",), VARIANTS, (PY32,))


def _reference(os_name: str, variant: str, scenario: str) -> Any:
    if os_name == "nt4":
        return cached_run(variant, X86.name, scenario, os_name)
    return cached_run(variant, native_side(variant).name, scenario, os_name)


def _assert_same_run(ref: Any, other: Any) -> None:
    a, b = ref.trace(), other.trace()
    diff = first_difference(a, b, ref.side.name, other.side.name)
    where = f"{ref.variant} / {ref.scenario} / {ref.profile} vs {other.profile}"
    assert diff is None, f"{where}: traces differ\n{diff}"
    assert other.started == ref.started, where
    assert other.selection == ref.selection, f"{where}: callback variants chosen differently"
    assert other.counters() == ref.counters(), f"{where}: host counters differ"


@pytest.mark.parametrize(("os_name", "variant", "scenario", "side"), CASES + NT4_CASES)
def test_same_trace(os_name: str, variant: str, scenario: str, side: str) -> None:
    ref = _reference(os_name, variant, scenario)
    other = cached_run(variant, side, scenario, os_name)
    _assert_same_run(ref, other)


@pytest.mark.parametrize(("os_name", "variant", "scenario", "side"), CASES + NT4_CASES)
def test_same_findings(os_name: str, variant: str, scenario: str, side: str) -> None:
    """(rule, severity) of the findings agree, minus what the manifest says a loader can't see."""
    ref = _reference(os_name, variant, scenario)
    other = cached_run(variant, side, scenario, os_name)
    blind = blind_rules(ref.side) | blind_rules(other.side)
    a = {r for r in ref.rules() if r[0] not in blind}
    b = {r for r in other.rules() if r[0] not in blind}
    assert a == b, (f"{variant} / {scenario} / {os_name}: only on {ref.side.name}: "
                    f"{sorted(a - b)}; only on {other.side.name}: {sorted(b - a)}")


@pytest.mark.parametrize("side", [X64.name, X86.name, PY.name])
@pytest.mark.parametrize("variant", VARIANTS)
def test_same_trace_two_dlls(variant: str, side: str) -> None:
    """multi-dll: the variant registered before the reference DLL (both asked to accept, R20;
    the first with the IP pair hands out addresses, R26) - traces and findings agree."""
    if side == PY.name and variant in STANDIN_DIFFERS:
        pytest.skip(f"stand-in does not mirror the C code: {STANDIN_DIFFERS[variant]}")
    ref = cached_run(variant, native_side(variant).name, "multi-dll", "win7", "good")
    other = cached_run(variant, side, "multi-dll", "win7", "good")
    assert {ev["dll"] for ev in ref.raw_trace} == (
        {WIN_PATH, WIN_PATH_2} if ref.started else set())
    _assert_same_run(ref, other)
    blind = blind_rules(ref.side) | blind_rules(other.side)
    assert {r for r in ref.rules() if r[0] not in blind} == {
        r for r in other.rules() if r[0] not in blind}


def _call_counts(run: Any) -> Counter[tuple[Any, ...]]:
    return Counter((e["dll"], e["instance"], e["call"], e["returned"],
                    (e["fault"] or {}).get("kind"), e["probe"]) for e in run.trace())


@pytest.mark.parametrize("side", [X64.name, X86.name, PY.name])
@pytest.mark.parametrize("variant", VARIANTS)
def test_concurrency_same_calls(variant: str, side: str) -> None:
    """concurrency (8 threads): the order varies run to run, so compare what does not - how
    often each callback ran with which result - plus the findings and the host counters."""
    if side == PY.name and variant in STANDIN_DIFFERS:
        pytest.skip(f"stand-in does not mirror the C code: {STANDIN_DIFFERS[variant]}")
    ref = cached_run(variant, native_side(variant).name, "concurrency")
    other = cached_run(variant, side, "concurrency")
    a, b = _call_counts(ref), _call_counts(other)
    assert a == b, (f"{variant}: only on {ref.side.name}: {dict(a - b)}; "
                    f"only on {side}: {dict(b - a)}")
    assert other.counters() == ref.counters()
    blind = blind_rules(ref.side) | blind_rules(other.side)
    assert {r for r in ref.rules() if r[0] not in blind} == {
        r for r in other.rules() if r[0] not in blind}


@pytest.mark.parametrize("variant", ["bad_leak", "bad_release_crash"])
def test_blind_rules_are_seen_by_pe(variant: str) -> None:
    """What the native side is excused from is really found by the emulator (and the stand-in)."""
    from fixtures.dlls.build import variants

    rule = variants()[variant]["rule"]
    scenario = "release-unknown"
    for side in (X64.name, X86.name, PY.name):
        assert rule in {r for r, _ in cached_run(variant, side, scenario).rules()}, side
    native = cached_run(variant, native_side(variant).name, scenario)
    seen = {r for r, _ in native.rules()}
    if variant in NATIVE_IN_CHILD:
        assert rule in seen, "a child-process native loader reports the crash"
    else:
        assert rule not in seen and rule in blind_rules(native.side)


def test_native_side_is_the_real_library() -> None:
    """The reference side runs the host build through cffi, in-process, for ordinary variants."""
    run = cached_run("good", native_side("good").name, "basic")
    assert run.side.loader == "native" and run.side.isolate is False
    assert run.side.path("good").suffix in (".so", ".dylib", ".dll")
    assert run.raw_trace and run.raw_trace[0]["call"] == "MprAdminInitializeDll"


# ----------------------------------------------------------------- the comparison can fail


def test_a_real_behaviour_difference_is_reported() -> None:
    """good vs bad_byteswap under the same loader: the first GetIp output differs, and says so."""
    a = cached_run("good", X64.name, "basic").trace()
    b = cached_run("bad_byteswap", X64.name, "basic").trace()
    diff = first_difference(a, b, "good", "swap")
    assert diff is not None
    assert "MprAdminGetIpAddressForUser" in diff
    assert "192.168.100.10" in diff and "10.100.168.192" in diff
    assert "outputs:" in diff


def test_extra_event_is_reported() -> None:
    a = cached_run("good", X64.name, "basic").trace()
    diff = first_difference(a, a[:-1], "x", "y")
    assert diff is not None and f"x has {len(a)} events, y has {len(a) - 1}" in diff


def test_normalisation_keeps_unknown_code_addresses_and_sizes() -> None:
    """A table slot that is no export, or a wrong structure size, is not normalised away."""
    event = {"seq": 0, "t": 1.0, "call": "MprAdminInitializeDllEx", "instance": "ip",
             "dll": WIN_PATH,
             "args": [{"struct": "RAS_CONNECTION_EX", "hConnection": 77,
                       "header": [1, 1, 1234]}],
             "outputs": {"pAdminCallbacks": {"revision": 2,
                                             "lpfnMprAdminGetIpAddressForUser": "0x1000",
                                             "lpfnMprAdminReleaseIpAddress": "0x2000",
                                             "lpfnRasAdminTerminateDll": "0x0"}},
             "fault": {"kind": "child-died", "message": "killed by SIGSEGV"}}
    names = {WIN_PATH: {0x1000: "MprAdminGetIpAddressForUser"},
             WIN_PATH_2: {0x2000: "MprAdminReleaseIpAddress"}}  # another DLL's export
    (ev,) = comparable([event], names, 64)
    table = ev["outputs"]["pAdminCallbacks"]
    assert table["lpfnMprAdminGetIpAddressForUser"] == "MprAdminGetIpAddressForUser"
    assert table["lpfnMprAdminReleaseIpAddress"] == "not-an-export:0x2000"
    assert table["lpfnRasAdminTerminateDll"] == "NULL"
    assert ev["args"][0]["header"] == [1, 1, 1234]
    assert ev["args"][0]["hConnection"] == 1
    assert ev["fault"] == {"kind": "crash"}
    assert "t" not in ev


def test_table_slots_map_to_the_same_exports_on_every_side() -> None:
    """good_table's InitializeDllEx: each filled slot names the export of the same name."""
    for side in ("so", "x64", "x86", "py"):
        ev = cached_run("good_table", side, "basic").trace()[0]
        assert ev["call"] == "MprAdminInitializeDllEx"
        table = ev["outputs"]["pAdminCallbacks"]
        assert table["lpfnMprAdminGetIpAddressForUser"] == "MprAdminGetIpAddressForUser", side
        assert table["lpfnRasAdminAcceptNewConnectionEx"] == "MprAdminAcceptNewConnectionEx"
        assert table["lpfnRasAdminAcceptEndpointChangeEx"] == "NULL"


def test_side_profiles() -> None:
    assert SIDES["x86"].profile("win7").bitness == 32
    assert SIDES["so"].profile("win2003").name == "win2003-x64"
    assert PY32.profile("nt4").name == "nt4-x86"


def test_run_side_uncached_matches_cached() -> None:
    """Runs are deterministic: a second run of the same side gives the same comparable trace."""
    again = run_side("good", X86, "multilink")
    assert again.trace() == cached_run("good", X86.name, "multilink").trace()
