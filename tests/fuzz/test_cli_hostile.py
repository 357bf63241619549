"""``python -m emulator`` with odd arguments: one error line, exit status 2, never a traceback."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz

from .helpers import check

ROOT = Path(__file__).resolve().parents[2]


def _paths(tmp: Path) -> dict[str, str]:
    (tmp / "empty.dll").write_bytes(b"")
    (tmp / "empty.reg").write_bytes(b"")
    (tmp / "folder.dll").mkdir()
    odd = {"missing": str(tmp / "missing.dll"), "directory": str(tmp / "folder.dll"),
           "empty-dll": str(tmp / "empty.dll"), "empty-reg": str(tmp / "empty.reg"),
           "too-long": str(tmp / ("a" * 5000)), "unicode": str(tmp / "\u00e9\u6f22\U0001f600.dll")}
    if sys.platform != "win32":
        nl = tmp / "new\nline.dll"
        nl.write_bytes(b"MZ")
        odd["newline"] = str(nl)
    return odd


COMMANDS = [["check", "{}"], ["inspect", "{}"], ["reg", "check", "{}"],
            ["setup", "check", "--install", "{}"], ["run", "x.dll", "--scenario", "{}"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: "-".join(a).replace("{}", "P"))
def test_odd_paths_in_a_real_process(argv: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    for what, path in _paths(tmp_path).items():
        args = [a.replace("{}", path) for a in argv]
        proc = subprocess.run([sys.executable, "-m", "emulator", *args], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path, env=env,
                              errors="surrogateescape")
        err = proc.stderr
        assert "Traceback" not in err, (what, err[-3000:])
        assert proc.returncode == 2, (what, proc.returncode, err[-500:])
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("rasemu: error: "), (what, err[:500])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_arguments_in_process(seed: int, tmp_path: Path) -> None:
    fuzz._prepare(["cli"])
    check("cli", fuzz.gen_cli(random.Random(seed)), tmp_path)
