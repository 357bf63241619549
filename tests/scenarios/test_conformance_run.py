"""check_dll / check_dlls: registration through the registry, scenario selection, aggregation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scenario_fakehost import FakeHost

from emulator.conformance.findings import Severity
from emulator.conformance.run import check_dll, check_dlls, registry_for, sniff_dll
from emulator.errors import InputError
from emulator.host.discovery import discover
from emulator.host.profiles import get_profile
from emulator.host.scenarios import standard_scenarios

DATA = Path(__file__).resolve().parent / "data"
STANDINS = Path(__file__).resolve().parents[2] / "fixtures" / "standins"


class Recorder:
    """A host factory that keeps every host and the keyword arguments it got."""

    def __init__(self, **knobs: Any) -> None:
        self.knobs = knobs
        self.made: list[tuple[FakeHost, dict[str, Any]]] = []

    def __call__(self, **kwargs: Any) -> FakeHost:
        host = FakeHost(**self.knobs)
        self.made.append((host, kwargs))
        return host


def test_the_host_finds_the_dll_through_the_registry() -> None:
    rec = Recorder()
    check_dll(DATA / "mini_good.py", scenarios=["basic"], profile="win2003-x86", host_factory=rec)
    [(_, kw)] = rec.made
    assert kw["profile"].name == "win2003-x86" and kw["loader"] == "auto" and kw["strictness"] == "practice"
    found = discover(kw["registry"], kw["profile"])
    assert found.paths == ["C:\\Windows\\System32\\mini_good.py"]
    assert found.display_name and not [f for f in found.findings if f.severity is Severity.ERROR]
    assert kw["path_map"] == {"C:\\Windows\\System32\\mini_good.py": str(DATA / "mini_good.py")}


def test_several_dlls_become_one_semicolon_list_in_order(tmp_path: Path) -> None:
    other = tmp_path / "mini_good.py"  # same file name as the first: gets its own Windows path
    other.write_text((DATA / "mini_good.py").read_text())
    reg, pmap = registry_for([DATA / "mini_good.py", other, DATA / "mini_refuse_all.py"], get_profile("win7"))
    found = discover(reg, get_profile("win7"))
    assert [pmap[p] for p in found.paths] == [str(DATA / "mini_good.py"), str(other), str(DATA / "mini_refuse_all.py")]
    assert len(set(found.paths)) == 3


def test_one_fresh_host_per_applicable_scenario() -> None:
    rec = Recorder()
    r = check_dll(DATA / "mini_good.py", profile="win2003", host_factory=rec)
    ran = [s.name for s in r.scenarios if s.skipped is None]
    assert "quarantine" not in ran and "multi-dll" not in ran and "basic" in ran
    assert len(rec.made) == len(ran) and len({id(h) for h, _ in rec.made}) == len(ran)
    assert all(h.starts >= 1 and h.stops >= 1 for h, _ in rec.made)
    skipped = {s.name: s.skipped for s in r.scenarios if s.skipped}
    assert skipped == {"quarantine": "not for win2003-x64 (only win2008, win7)", "multi-dll": "needs 2 DLLs"}
    assert r.stats["sessions"] == sum(h.stats["sessions"] for h, _ in rec.made)
    assert r.stats["calls"] == sum(h.stats["calls"] for h, _ in rec.made)


def test_a_service_that_does_not_start_skips_the_rest() -> None:
    rec = Recorder(start_ok=False)
    r = check_dll(DATA / "mini_good.py", host_factory=rec)
    assert not r.started and len(rec.made) == 1 and not r.passed
    assert [f.rule for f in r.findings] == ["R15"]  # deduplicated
    assert all(s.skipped in ("the service did not start", "needs 2 DLLs") for s in r.scenarios[1:])


def test_no_applicable_scenario_still_starts_and_stops() -> None:
    rec = Recorder()
    r = check_dll(DATA / "mini_good.py", scenarios=["quarantine"], profile="win2000", host_factory=rec)
    assert r.started and len(rec.made) == 1 and rec.made[0][0].stops == 1
    assert r.scenarios[0].skipped


def test_emulator_failures_become_internal_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(FakeHost):
        def connect(self, user: str, port: str, *, proposed: int = 0, links: int = 1) -> Any:
            raise RuntimeError("boom")

    r = check_dll(DATA / "mini_good.py", scenarios=["basic"], host_factory=lambda **kw: Broken())
    [f] = [f for f in r.findings if f.rule == "X-INTERNAL"]
    assert "RuntimeError: boom" in f.message and "not a verdict on the DLL" in f.message
    assert not r.passed
    monkeypatch.setenv("RASEMU_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        check_dll(DATA / "mini_good.py", scenarios=["basic"], host_factory=lambda **kw: Broken())


def test_wrong_input() -> None:
    with pytest.raises(InputError, match="no such file"):
        check_dll(DATA / "nope.dll")
    with pytest.raises(InputError, match="not a DLL"):
        sniff_dll(DATA / "notadll.txt")
    with pytest.raises(InputError, match="unknown loader 'wine'"):
        check_dll(DATA / "mini_good.py", loader="wine")
    with pytest.raises(InputError, match="unknown host profile"):
        check_dll(DATA / "mini_good.py", profile="win95")
    with pytest.raises(InputError, match=r"accepts one admin DLL only \(R14\)"):
        check_dlls([DATA / "mini_good.py"] * 2, profile="win2000", together=True)
    assert sniff_dll(DATA / "mini_good.py") == "Python stand-in"


def test_one_report_per_dll_when_asked() -> None:
    paths = [DATA / "mini_good.py", DATA / "mini_refuse_all.py"]
    assert len(check_dlls(paths, scenarios=["basic"], host_factory=Recorder())) == 1
    sep = check_dlls(paths, scenarios=["basic"], together=False, host_factory=Recorder())
    assert [r.dlls for r in sep] == [[str(p)] for p in paths]
    # a one-DLL profile checks them one by one by default
    assert len(check_dlls(paths, scenarios=["basic"], profile="win2000", host_factory=Recorder())) == 2


# -- the real engine -----------------------------------------------------------------------------


def _engine(**kwargs: Any) -> Any:
    from emulator.host.engine import RasHost
    from emulator.loaders.python import PythonAdminDll

    return RasHost(opener=lambda real, **kw: PythonAdminDll(real, bitness=kw["bitness"]), **kwargs)


@pytest.mark.parametrize("scn", [s.name for s in standard_scenarios()])
def test_standard_scenarios_on_the_engine_with_the_reference_standin(scn: str) -> None:
    r = check_dll(STANDINS / "good.py", scenarios=[scn], host_factory=_engine)
    assert r.started and r.level_met == "strict"
    assert [f for f in r.findings if f.severity is not Severity.INFO] == []


def test_restart_on_the_engine() -> None:
    r = check_dll(STANDINS / "good.py", scenarios=["restart"], host_factory=_engine)
    assert r.passed and not [f for f in r.findings if f.rule == "X-INTERNAL"]
    calls = [e["call"] for e in r.traces["restart"] if e["instance"] == "conn"]
    assert calls.count("MprAdminInitializeDll") == 2 and calls.count("MprAdminTerminateDll") == 2


def test_refusal_by_the_second_dll_on_the_engine() -> None:
    r = check_dlls([STANDINS / "good.py", DATA / "mini_refuse_all.py"], profile="win2003",
                   scenarios=["multi-dll"], host_factory=_engine)[0]
    assert r.started and r.scenarios[0].skipped is None
    events = r.traces["multi-dll"]
    gets = [e for e in events if e["call"] == "MprAdminGetIpAddressForUser"]
    releases = [e for e in events if e["call"] == "MprAdminReleaseIpAddress"]
    assert len(gets) == 7 and len(releases) == 7  # R26, R32: the refused accept still releases
    assert {e["dll"] for e in gets} == {"C:\\Windows\\System32\\good.py"}
    assert r.passed, [f.message for f in r.findings]


def test_strictness_gate_on_the_engine() -> None:
    practice_only = STANDINS / "bad_release_without_get.py"  # meets practice, not strict (R53)
    r = check_dll(practice_only, scenarios=["basic"], host_factory=_engine)
    assert r.started and r.level_met == "practice"
    strict = check_dll(practice_only, scenarios=["basic"], strictness="strict", host_factory=_engine)
    assert not strict.started and strict.level_met is None and not strict.passed
    assert strict.strictness == "strict"


@pytest.mark.parametrize("profile", ["nt4-x86", "win2000-x86", "win2000-x64", "win2003-x86", "win2003-x64",
                                     "win2008-x86", "win2008-x64", "win7-x86", "win7-x64"])
def test_reference_standin_passes_the_standard_run_under_every_profile(profile: str) -> None:
    r = check_dll(STANDINS / "good.py", profile=profile, keep_traces=False, host_factory=_engine)
    assert r.started and r.passed, [f.message for f in r.findings if f.severity is Severity.ERROR]
    assert r.traces == {} and r.stats["sessions"] > 200
    ran = {s.name for s in r.scenarios if s.skipped is None}
    assert ("quarantine" in ran) == profile.startswith(("win2008", "win7"))
