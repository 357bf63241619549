"""Helpers shared by several test areas: run the ``rasemu`` command line in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli_environment(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """``os.environ`` with the repository first on PYTHONPATH, then ``extra`` (None unsets)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def rasemu(
    *args: str | Path,
    cwd: Path | None = ROOT,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -m emulator ARGS`` with text output, 120 columns wide; ``env`` as in cli_environment."""
    return subprocess.run(
        [sys.executable, "-m", "emulator", *map(str, args)],
        capture_output=True,
        text=True,
        env=cli_environment({"COLUMNS": "120", **(env or {})}),
        cwd=cwd,
        timeout=timeout,
    )


def rasemu_bytes(
    *args: str | Path, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """``python -m emulator ARGS`` with the output as bytes and the terminal width left as it is."""
    return subprocess.run(
        [sys.executable, "-m", "emulator", *map(str, args)],
        capture_output=True,
        env=cli_environment(),
        cwd=cwd,
        timeout=timeout,
    )


def one_error_line(proc: subprocess.CompletedProcess[str] | subprocess.CompletedProcess[bytes]) -> str:
    """The single line a failed command printed: exit status 2, no traceback, one line on stderr."""
    out, err = (
        (proc.stdout.decode(), proc.stderr.decode())
        if isinstance(proc.stderr, bytes)
        else (proc.stdout, proc.stderr)
    )
    assert proc.returncode == 2, (proc.returncode, out, err)
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


#: a Python stand-in, correct but for killing its own process in the GetIp of user
#: "crasher" (a crash in one call of a batch; POSIX only: it needs SIGKILL)
CRASH_ONE_STANDIN = '''
import os
import signal

from fixtures.standins._reference import ReferenceAdminDll


class AdminDll(ReferenceAdminDll):
    BAD = ""

    def MprAdminGetIpAddressForUser(self, user, port, address, notify):
        if user == "crasher":
            os.kill(os.getpid(), signal.SIGKILL)
        return super().MprAdminGetIpAddressForUser(user, port, address, notify)
'''
