"""Golden traces: ``rasemu record`` / ``rasemu replay`` as a user runs them, and the library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.errors import InputError
from emulator.golden import canonical, read_golden, record, require_sequential
from emulator.host.scenarios import load_scenario
from tests.helpers import one_error_line, rasemu

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
DATA = Path(__file__).resolve().parent / "data"
GOOD = STANDINS / "good.py"
DUP = STANDINS / "bad_dup_address.py"
TWO_USERS = DATA / "two-users.toml"


@pytest.fixture(scope="module")
def golden_basic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden") / "good.basic.jsonl"
    res = rasemu("record", "--scenario", "basic", GOOD, "-o", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"recorded 10 calls of scenario 'basic' (win7-x64) to {out}; PASS")
    return out


def test_record_writes_header_and_normalised_events(golden_basic: Path) -> None:
    lines = golden_basic.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["golden"] == "rasemu-golden/1" and header["scenario"] == "basic"
    assert header["profile"] == "win7-x64" and header["loader"] == "auto"
    assert header["rasemu"] and header["dlls"] == ["good.py"] and header["events"] == 10
    assert "[[steps]]" in header["scenario_text"]
    events = [json.loads(x) for x in lines[1:]]
    assert [e["seq"] for e in events] == list(range(10))
    assert all("t" not in e and e["dll"] == "dll1" for e in events)
    assert "good.py" not in "".join(lines[1:])  # no paths: the same trace for any file name
    calls = [e["call"] for e in events]
    assert calls[:3] == ["MprAdminInitializeDll", "MprAdminInitializeDll",
                         "MprAdminGetIpAddressForUser"]
    accept = events[3]["args"][0]
    assert accept["hConnection"] == 1 and events[4]["args"][0]["hPort"] == 2  # renumbered


def test_replay_of_the_same_dll_is_identical(golden_basic: Path, tmp_path: Path) -> None:
    res = rasemu("replay", golden_basic, GOOD)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout == "replay: identical (10 calls, scenario 'basic', profile win7-x64)\n"
    # a copy under another name is the same DLL: paths are normalised away
    twin = tmp_path / "renamed_vendor.py"
    twin.write_text(GOOD.read_text())
    assert rasemu("replay", golden_basic, twin).returncode == 0


def test_recording_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (a, b):
        assert rasemu("record", "--scenario", "restart", GOOD, "-o", out).returncode == 0
    assert a.read_bytes() == b.read_bytes()


def test_committed_golden_file_still_matches() -> None:
    """tests/golden/data/good.two-users.jsonl was recorded with
    ``rasemu record --scenario two-users.toml fixtures/standins/good.py -o good.two-users.jsonl``
    (in tests/golden/data); re-record it when the trace format changes on purpose."""
    res = rasemu("replay", DATA / "good.two-users.jsonl", GOOD)
    assert res.returncode == 0, res.stdout + res.stderr


def test_replay_against_a_different_dll_shows_the_differing_calls() -> None:
    res = rasemu("replay", DATA / "good.two-users.jsonl", DUP)
    assert res.returncode == 1, res.stderr
    out = res.stdout.splitlines()
    assert out[0].startswith("replay: the call trace differs from ")
    assert out[1].startswith("--- ") and out[2].startswith("+++ ")
    hunk = out[3]
    assert hunk.startswith("@@ -#5-#6 +#5-#6: ") and "MprAdminGetIpAddressForUser" in hunk
    minus = [x for x in out if x.startswith("- #5 ")]
    plus = [x for x in out if x.startswith("+ #5 ")]
    assert minus and plus
    assert '"lpdwIpAddress":"192.168.100.11"' in minus[0]  # the golden: a second address
    assert '"lpdwIpAddress":"192.168.100.10"' in plus[0]   # bad_dup_address: the same again
    assert "MprAdminGetIpAddressForUser" in plus[0] and "[session 2]" in plus[0]


def test_max_diffs_limits_the_output() -> None:
    res = rasemu("replay", "--max-diffs", "1", DATA / "good.two-users.jsonl", DUP)
    assert res.returncode == 1
    assert res.stdout.count("\n@@ ") == 1
    assert "... and 1 more difference(s) (--max-diffs to see more)" in res.stdout


def test_damaged_files_exit_2_with_file_and_line(tmp_path: Path, golden_basic: Path) -> None:
    lines = golden_basic.read_text().splitlines()
    bad = tmp_path / "g.jsonl"
    bad.write_text("\n".join([*lines[:4], '{"seq": 3, "call": "MprAdmin', *lines[5:]]) + "\n")
    assert one_error_line(rasemu("replay", bad, GOOD)).startswith(
        f"rasemu: error: {bad}:5: damaged line: not JSON")
    bad.write_text("\n".join([*lines[:3], "[1, 2]", *lines[4:]]) + "\n")
    assert f"{bad}:4: damaged line: not a call event" in one_error_line(rasemu("replay", bad, GOOD))
    bad.write_text("\n".join(lines[:-2]) + "\n")
    assert "the header announces 10 events, the file has 8 (truncated?)" in one_error_line(
        rasemu("replay", bad, GOOD))
    trace = tmp_path / "trace.jsonl"
    trace.write_text("\n".join(lines[1:]) + "\n")  # a plain trace, not a golden file
    assert one_error_line(rasemu("replay", trace, GOOD)) == (
        f"rasemu: error: {trace}:1: not a golden file: the first line is not a rasemu-golden/1 "
        "header (record one with 'rasemu record')")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert f"{empty}:1: not a golden file" in one_error_line(rasemu("replay", empty, GOOD))
    assert one_error_line(rasemu("replay", tmp_path / "none.jsonl", GOOD)).endswith(
        "none.jsonl: no such golden file")
    assert "no such file" in one_error_line(rasemu("replay", golden_basic, tmp_path / "x.dll"))


def test_concurrent_scenarios_are_refused_with_the_reason(tmp_path: Path) -> None:
    line = one_error_line(rasemu("record", "--scenario", "concurrency", GOOD, "-o", tmp_path / "c.jsonl"))
    assert "scenario 'concurrency' step 1 (connect) runs concurrently" in line
    assert "thread scheduling" in line and not (tmp_path / "c.jsonl").exists()
    with pytest.raises(InputError, match="concurrently"):
        require_sequential(load_scenario("concurrency"))
    require_sequential(load_scenario(TWO_USERS))


def test_replay_uses_the_scenario_stored_in_the_header(tmp_path: Path) -> None:
    scn = tmp_path / "mine.toml"
    scn.write_text(TWO_USERS.read_text())
    golden = tmp_path / "g.jsonl"
    assert rasemu("record", "--scenario", scn, GOOD, "-o", golden).returncode == 0
    scn.unlink()  # the golden file carries the scenario text
    assert rasemu("replay", golden, GOOD).returncode == 0


def test_profile_override_changes_the_trace(golden_basic: Path) -> None:
    res = rasemu("replay", "--profile", "win2000-x86", golden_basic, GOOD)
    assert res.returncode == 1 and "MprAdmin" in res.stdout


def test_canonical_renumbers_handles_and_names_dlls() -> None:
    events = [
        {"seq": 7, "t": 0.5, "dll": "C:\\W\\v.dll", "call": "A", "args": [{"hConnection": 900}],
         "issues": [{"message": "in C:\\W\\v.dll at /real/v.dll"}]},
        {"seq": 8, "t": 0.6, "dll": "C:\\W\\w.dll", "call": "B",
         "args": [{"hConnection": 900, "hPort": 77}]},
    ]
    out = canonical(events, [["C:\\W\\v.dll", "/real/v.dll"]])
    assert out[0] == {"seq": 0, "dll": "dll1", "call": "A", "args": [{"hConnection": 1}],
                      "issues": [{"message": "in dll1 at dll1"}]}
    assert out[1]["dll"] == "dll2" and out[1]["args"] == [{"hConnection": 1, "hPort": 2}]


def test_library_record_and_read_round_trip(tmp_path: Path) -> None:
    from emulator.golden import diff, write_golden

    golden, report = record([GOOD], load_scenario("multilink"))
    assert report.passed and golden.header["scenario"] == "multilink"
    path = tmp_path / "m.jsonl"
    write_golden(path, golden)
    back = read_golden(path)
    assert back.events == golden.events and back.scenario.name == "multilink"
    assert diff(back.events, golden.events) == []


def test_pe_golden_replays_on_its_python_twin(tmp_path: Path) -> None:
    """A golden trace recorded on the real 32-bit PE image (CPU emulation) replays identically
    on its Python stand-in twin, and shows bad_dup_address32.dll's second-user address."""
    pe = ROOT / "fixtures" / "dlls" / "prebuilt"
    golden = tmp_path / "pe.jsonl"
    res = rasemu("record", "--scenario", TWO_USERS, "--profile", "win2003-x86", pe / "good32.dll",
                 "-o", golden)
    assert res.returncode == 0, res.stderr
    assert json.loads(golden.read_text().splitlines()[0])["profile"] == "win2003-x86"
    assert rasemu("replay", golden, GOOD).returncode == 0
    bad = rasemu("replay", golden, pe / "bad_dup_address32.dll")
    assert bad.returncode == 1 and '+ #5 ip MprAdminGetIpAddressForUser("user1"' in bad.stdout
