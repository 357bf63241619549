"""``rasemu check --jobs N`` (worker processes, input order kept), ``--quiet`` and the progress bar
(a terminal only: never in pipes or CI logs)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import helpers

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
DLLS = [STANDINS / n for n in ("bad_no_notify.py", "good.py", "bad_dup_address.py", "bad_byteswap.py")]


def rasemu(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The command line with CI unset unless ``env`` sets it."""
    return helpers.rasemu(*args, env={"CI": None, **env})


def untimed(obj: Any) -> Any:
    """``obj`` without timings (evidence events carry ``t``, the time of the call)."""
    if isinstance(obj, dict):
        return {k: untimed(v) for k, v in obj.items() if k not in ("t", "seconds")}
    if isinstance(obj, list):
        return [untimed(v) for v in obj]
    return obj


def stable(doc: dict[str, Any]) -> list[Any]:
    """What must not depend on --jobs: per report its DLL, verdict and findings."""
    return [(r["dll"], r["passed"], r["summary"], untimed(r["findings"]),
             [s["name"] for s in r["scenarios"]]) for r in doc["reports"]]


def test_jobs_2_gives_the_same_findings_in_input_order() -> None:
    args = ["check", "--scenario", "basic", "--scenario", "many-users", "--format", "json", *DLLS]
    one = rasemu(*args, "--jobs", "1", "--separately")
    two = rasemu(*args, "--jobs", "2")
    assert one.returncode == two.returncode == 1, two.stderr
    d1, d2 = json.loads(one.stdout), json.loads(two.stdout)
    assert [r["dll"] for r in d2["reports"]] == [str(p) for p in DLLS]
    assert stable(d1) == stable(d2)
    rules = {r["dll"].rsplit("/", 1)[-1]: {f["rule"] for f in r["findings"] if f["severity"] != "info"}
             for r in d2["reports"]}
    assert rules["good.py"] == set() and rules["bad_no_notify.py"] == {"R61"}
    assert "R63" in rules["bad_dup_address.py"] and "R62" in rules["bad_byteswap.py"]


def test_jobs_reports_input_errors_as_one_line() -> None:
    res = rasemu("check", "--jobs", "2", DLLS[0], "no/such.dll")
    assert res.returncode == 2 and res.stderr == "rasemu: error: no/such.dll: no such file\n"
    res = rasemu("check", "--jobs", "0", DLLS[0])
    assert res.returncode == 2 and "--jobs" in res.stderr and "Traceback" not in res.stderr


def test_quiet_prints_only_the_summary_line(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = rasemu("check", "-q", "--scenario", "basic", "--jobs", "2", "--format", "json", "-o", out,
                 *DLLS[:2])
    assert res.returncode == 1 and res.stderr == ""
    assert res.stdout == ("FAIL: 2 DLL(s) in 2 run(s), 1 passed, 1 failed; 1 error(s), "
                          "0 warning(s), 2 note(s)\n")
    assert len(json.loads(out.read_text())["reports"]) == 2  # the report file is still written
    ok = rasemu("check", "--quiet", "--scenario", "basic", DLLS[1])
    assert ok.returncode == 0 and ok.stdout.count("\n") == 1 and ok.stdout.startswith("PASS: 1 DLL(s)")


def _stderr_on_a_terminal(*args: str | Path, **env: str) -> str:
    master, slave = pty.openpty()
    full = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120", "TERM": "xterm", **env}
    if "CI" not in env:
        full.pop("CI", None)
    proc = subprocess.Popen([sys.executable, "-m", "emulator", *map(str, args)], cwd=ROOT,
                            env=full, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_only() -> None:
    args = ("check", "--scenario", "basic", "--jobs", "2", *DLLS[:3])
    tty = _stderr_on_a_terminal(*args)
    assert "3/3" in tty or "/3" in tty, tty
    assert _stderr_on_a_terminal(*args, "--quiet") == ""
    assert _stderr_on_a_terminal(*args, CI="true") == ""
    piped = rasemu(*args)
    assert piped.stderr == ""  # a pipe never gets the bar


def test_a_worker_that_dies_is_one_clear_error(tmp_path: Path) -> None:
    """A DLL run in-process that kills its process (here: os._exit in GetIp) takes its worker
    down; --jobs reports it in one line instead of a BrokenProcessPool traceback."""
    killer = tmp_path / "killer.py"
    killer.write_text(
        "import os\nfrom fixtures.standins._reference import ReferenceAdminDll\n\n"
        "class AdminDll(ReferenceAdminDll):\n"
        "    def MprAdminGetIpAddressForUser(self, user, port, address, notify):\n"
        "        os._exit(3)\n")
    res = rasemu("check", "--jobs", "2", "--scenario", "basic", "--no-isolate", DLLS[1], killer)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith("rasemu: error: a worker process died while checking one of: ")
    assert str(killer) in res.stderr
    assert "--jobs 1" in res.stderr and res.stderr.count("\n") == 1
