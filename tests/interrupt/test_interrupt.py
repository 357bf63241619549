"""An interrupted run loses nothing: Ctrl-C (SIGINT), SIGTERM or a killed child process still
give a valid report in every format, marked partial, and traces of complete JSON lines.

Each test runs ``python -m emulator check`` in a subprocess on ``data/slow.py`` (the reference
stand-in, 50 ms slower per address request), waits until the stand-in says the run is well
under way (its 20th request, inside the ``many-users`` scenario, so ``basic`` is done) and then
signals it. Exit status: 130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

ROOT = Path(__file__).resolve().parents[2]
SLOW = Path(__file__).parent / "data" / "slow.py"
READY_ON = 20


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(tmp: Path, *args: str | Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], Path]:
    ready = tmp / "ready"
    full_env = {**os.environ, "RASEMU_TEST_READY_ON": str(READY_ON),
                "RASEMU_TEST_READY_FILE": str(ready), **(env or {})}
    full_env.pop("CI", None)
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "check", *map(str, args)],
                            cwd=ROOT, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, ready


def _interrupt(proc: subprocess.Popen[str], ready: Path, sig: int) -> tuple[int, str, str]:
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = proc.communicate()
            pytest.fail(f"the run ended (or stalled) before it was under way: {proc.returncode}\n{err}")
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _check_partial(doc: dict, reason: str) -> None:
    part = doc["partial"]
    assert part["reason"] == reason
    assert "basic" in part["completed_scenarios"]
    assert part["interrupted_scenario"] == "many-users"
    assert doc["passed"] is False
    by_name = {s["name"]: s for s in doc["scenarios"]}
    assert by_name["basic"]["ok"] is True and by_name["basic"]["skipped"] is None
    # the scenario in flight keeps what it did, and says it was cut short
    assert by_name["many-users"]["interrupted"] == reason
    assert by_name["many-users"]["calls"] > 0
    assert part["not_run"] and all(by_name[n]["skipped"] == f"not run: {reason}" for n in part["not_run"])
    # every scenario is accounted for exactly once
    named = set(part["completed_scenarios"]) | {part["interrupted_scenario"]} | set(part["not_run"])
    assert named == {s["name"] for s in doc["scenarios"] if not (s["skipped"] or "").startswith("not for")
                     and not (s["skipped"] or "").startswith("needs")}


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"),
                                                   (signal.SIGTERM, 143, "SIGTERM")])
def test_interrupted_json_report_is_valid_and_partial(tmp_path: Path, sig: int, code: int,
                                                       name: str) -> None:
    out = tmp_path / "out.json"
    traces = tmp_path / "traces"
    proc, ready = _start(tmp_path, SLOW, "-o", out, "--format", "json", "--trace-dir", traces)
    rc, _stdout, err = _interrupt(proc, ready, sig)
    assert rc == code, err
    assert f"interrupted by {name}" in err and "Traceback" not in err
    doc = json.loads(out.read_text())
    _check_partial(doc, f"interrupted by {name}")
    from emulator.report import Report

    assert Report.from_json(doc).partial == doc["partial"]
    # traces: the completed and the interrupted scenario, every line a complete JSON object
    files = sorted(p.name for p in traces.iterdir())
    assert files == ["slow.basic.jsonl", "slow.many-users.jsonl"]
    lines = (traces / "slow.many-users.jsonl").read_text().splitlines()
    assert len(lines) > READY_ON
    events = [json.loads(line) for line in lines]
    assert all("call" in e for e in events)
    # the host was stopped in order: TerminateDll on both instances ends the interrupted trace
    assert [e["call"] for e in events[-2:]] == ["MprAdminTerminateDll"] * 2
    assert not list(traces.glob(".*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_sigterm_junit_report_marks_unfinished_work_skipped(tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    out = tmp_path / "out.xml"
    proc, ready = _start(tmp_path, SLOW, "-o", out, "--format", "junit")
    rc, _stdout, err = _interrupt(proc, ready, signal.SIGTERM)
    assert rc == 143, err
    xml = junitparser.JUnitXml.fromfile(str(out))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    props = {p.name: p.value for p in suite.properties()}
    assert props["rasemu.partial"] == "interrupted by SIGTERM"
    cases = {c.name: c for c in suite}
    scen = {n: c for n, c in cases.items() if n.startswith("scenario ")}
    assert "scenario many-users" in scen and "scenario pool-exhaustion" in scen
    assert "scenario basic" not in scen  # completed scenarios are not test cases of their own
    for case in scen.values():
        assert case.result and isinstance(case.result[0], junitparser.Skipped)
    assert "interrupted while running: interrupted by SIGTERM" in scen["scenario many-users"].result[0].message
    # a rule without findings was not shown to hold by a cut-short run: skipped, with the reason
    r61 = next(c for n, c in cases.items() if n.startswith("R61 "))
    assert isinstance(r61.result[0], junitparser.Skipped)
    assert "interrupted by SIGTERM" in r61.result[0].message
    assert int(suite.skipped) == sum(1 for c in cases.values()
                                     if c.result and isinstance(c.result[0], junitparser.Skipped))


def test_sigint_html_and_text_reports_show_the_partial_banner(tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    proc, ready = _start(tmp_path, SLOW, "-o", out, "--format", "html")
    rc, _stdout, err = _interrupt(proc, ready, signal.SIGINT)
    assert rc == 130, err
    page = out.read_text()
    assert page.rstrip().endswith("</html>")
    assert '<div class="banner partial" role="alert"><strong>PARTIAL REPORT</strong>' in page
    assert "interrupted by SIGINT" in page and "<title>rasemu PARTIAL:" in page

    (tmp_path / "t").mkdir()
    proc, ready = _start(tmp_path / "t", SLOW)
    rc, stdout, err = _interrupt(proc, ready, signal.SIGTERM)
    assert rc == 143, err
    assert "*** PARTIAL REPORT: the run was interrupted by SIGTERM." in stdout
    assert "many-users INTERRUPTED" in stdout
    assert stdout.rstrip().splitlines()[-1].startswith("PARTIAL (interrupted by SIGTERM):")


def test_sigterm_with_isolated_children_leaves_no_orphans(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    proc, ready = _start(tmp_path, SLOW, "--loader", "python", "--isolate", "-o", out,
                         "--format", "json")
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    kids = _children(proc.pid)
    assert kids, "the isolated loader runs the DLL in a child process"
    rc, _stdout, err = _interrupt(proc, ready, signal.SIGTERM)
    assert rc == 143, err
    _check_partial(json.loads(out.read_text()), "interrupted by SIGTERM")
    assert not [k for k in kids if _alive(k)], "child processes outlived the interrupted CLI"


def test_a_child_that_kills_itself_mid_call_is_a_finding_in_a_complete_report(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    flag = tmp_path / "died"
    proc = subprocess.run(
        [sys.executable, "-m", "emulator", "check", str(SLOW), "--loader", "python", "--isolate",
         "--scenario", "basic", "--scenario", "many-users", "--scenario", "restart",
         "-o", str(out), "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "RASEMU_TEST_DELAY": "0", "RASEMU_TEST_DIE_ON_CALL": "5",
             "RASEMU_TEST_DIE_FLAG": str(flag)})
    assert proc.returncode == 1, proc.stderr
    assert flag.exists()  # the child really died
    doc = json.loads(out.read_text())
    assert "partial" not in doc
    assert [s["name"] for s in doc["scenarios"]] == ["basic", "many-users", "restart"]
    assert all(s["skipped"] is None for s in doc["scenarios"])
    died = [f for f in doc["findings"] if "killed by SIGKILL" in f["message"]]
    assert died and died[0]["severity"] == "error"
    # the run went on after the crash: the DLL was reloaded and the later scenario passed
    assert doc["scenarios"][2]["ok"] is True and doc["scenarios"][2]["calls"] > 0


def test_killing_the_native_child_from_outside_keeps_the_report_complete(tmp_path: Path) -> None:
    from fixtures.dlls.build import native_library

    lib = native_library("good")
    out = tmp_path / "out.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "check", str(lib), "--loader", "native", "--isolate",
         "-o", str(out), "--format", "json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed: list[int] = []
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline and not killed:
        for pid in _children(proc.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"emulator.loaders.child" in cmd:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
    _stdout, err = proc.communicate(timeout=120)
    assert killed, "no child process was seen"
    assert proc.returncode in (0, 1), err
    assert "Traceback" not in err
    doc = json.loads(out.read_text())
    assert "partial" not in doc
    assert all(s["skipped"] is None or not s["skipped"].startswith("not run") for s in doc["scenarios"])
    for f in doc["findings"]:
        if "child process" in f["message"] and "killed" in f["message"]:
            assert "SIGKILL" in f["message"]
    assert not _alive(killed[0])
    assert not [k for k in _children(proc.pid) if _alive(k)]


def test_ctrl_c_at_a_terminal_stops_parallel_workers_with_their_partial_reports(tmp_path: Path) -> None:
    # a terminal's Ctrl-C reaches the whole process group: the CLI and its workers
    out = tmp_path / "out.json"
    ready = tmp_path / "ready"
    env = {**os.environ, "RASEMU_TEST_READY_ON": str(READY_ON), "RASEMU_TEST_READY_FILE": str(ready)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "check", str(SLOW), str(SLOW), str(SLOW), "--jobs", "2",
         "-o", str(out), "--format", "json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    deadline = time.monotonic() + 60
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    doc = json.loads(out.read_text())
    reps = doc["reports"]
    assert len(reps) == 3 and all(r["partial"]["reason"] == "interrupted by SIGINT" for r in reps)
    # at least the worker that reached its 20th request kept what it did
    assert any(r["partial"]["interrupted_scenario"] == "many-users"
               and "basic" in r["partial"]["completed_scenarios"] for r in reps)
    time.sleep(0.2)
    assert not [w for w in workers if _alive(w)]


def _launch(tmp: Path, *args: str | Path) -> tuple[subprocess.Popen[str], Path]:
    ready = tmp / "ready"
    env = {**os.environ, "RASEMU_TEST_READY_ON": str(READY_ON), "RASEMU_TEST_READY_FILE": str(ready),
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "emulator", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), ready


def test_rasemu_run_writes_a_partial_report_and_a_valid_trace(tmp_path: Path) -> None:
    out, trace = tmp_path / "out.json", tmp_path / "trace.jsonl"
    proc, ready = _launch(tmp_path, "run", SLOW, "--scenario", "many-users", "--trace", trace,
                          "--format", "json", "-o", out)
    rc, _stdout, err = _interrupt(proc, ready, signal.SIGTERM)
    assert rc == 143, err
    doc = json.loads(out.read_text())
    assert doc["partial"] == {"reason": "interrupted by SIGTERM", "completed_scenarios": [],
                              "interrupted_scenario": "many-users", "not_run": []}
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(events) > READY_ON and events[-1]["call"] == "MprAdminTerminateDll"


def test_install_run_uninstall_interrupted_keeps_the_install_phase(tmp_path: Path) -> None:
    pytest.importorskip("pyfakefs")
    inst = ROOT / "fixtures" / "installers"
    out = tmp_path / "out.json"
    proc, ready = _launch(tmp_path, "check", SLOW, "--install", inst / "good_install.py",
                          "--uninstall", inst / "good_uninstall.py", "--dll-name",
                          "contoso_rasadm.dll", "--format", "json", "-o", out)
    rc, _stdout, err = _interrupt(proc, ready, signal.SIGINT)
    assert rc == 130, err
    doc = json.loads(out.read_text())
    assert doc["partial"]["interrupted_scenario"] == "many-users"
    assert doc["partial"]["not_run"][-1] == "uninstall"
    assert doc["setup"]["install_diff"] and doc["setup"]["uninstall_diff"] is None
    assert "[note] uninstall: not run (interrupted by SIGINT)" in doc["setup"]["log"]


def test_a_hung_isolated_call_does_not_hold_up_the_stop(tmp_path: Path) -> None:
    # GetIpAddressForUser never returns; the per-call limit (60 s) is far away when SIGTERM comes
    out = tmp_path / "out.json"
    proc, _ready = _launch(tmp_path, "check", ROOT / "fixtures" / "standins" / "bad_hang.py",
                           "--loader", "python", "--isolate", "--timeout", "60",
                           "--scenario", "basic", "--format", "json", "-o", out)
    deadline = time.monotonic() + 30
    kids: list[int] = []
    while not kids and proc.poll() is None and time.monotonic() < deadline:
        kids = _children(proc.pid)
        time.sleep(0.05)
    time.sleep(1.0)  # loaded and inside the hung call
    proc.send_signal(signal.SIGTERM)
    _stdout, err = proc.communicate(timeout=30)  # hang guard only
    assert proc.returncode == 143, err
    doc = json.loads(out.read_text())
    assert doc["partial"]["interrupted_scenario"] == "basic"
    # the child rasemu had to kill is not blamed on the DLL
    assert not [f for f in doc["findings"] if "killed" in f["message"]]
    assert kids and not [k for k in kids if _alive(k)]
