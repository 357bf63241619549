"""Hostile installers through validate_installer: reg.exe scripts, .reg files, Python winreg code.

Invariant: a SetupResult or one InputError; never another exception or a hang.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz
from emulator.errors import InputError
from emulator.setup.validate import validate_installer

from .helpers import check

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run(tmp_path: Path, name: str, data: bytes) -> str | None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        with fuzz.time_limit(20):
            validate_installer(path, dll_name="contoso_rasadm.dll")
    except InputError as exc:
        return fuzz.check_message(exc)
    return None


@pytest.mark.parametrize(
    "script",
    [
        'copy "%~dp0' + "a" * 300 + '" "C:\\x.dll"',
        'if exist "%~dp0' + "a" * 300 + '\\" echo x',
        "reg add HKLM\\" + "k\\" * 600 + "k /f",
        "reg add HKLM\\x /v " + "v" * 20000 + " /d x /f",
        "reg add HKLM\\x /v v /t REG_DWORD /d 0xffffffffffffffffffff /f",
        "reg add HKLM\\x /v v /t REG_BINARY /d zz /f",
        "reg add HKLM\\x /v v /t REG_MULTI_SZ /d a\\0\\0\\0b /f",
        "reg add \"HKLM\\x\\\" /f",
        "set X=%X%%X%\r\n" * 40 + "reg add HKLM\\%X% /f",
        "^" * 10000,
        "\"" * 10001,
        "&" * 5000,
        "%" * 9999,
        "reg import \"%~dp0" + "\x00" + ".reg\"",
        "reg\x00 add HKLM\\x /f",
    ],
    ids=lambda s: s[:30],
)
def test_reg_exe_scripts(tmp_path: Path, script: str) -> None:
    run(tmp_path, "install.cmd", script.encode("utf-8"))


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe", b"\x00" * 100, b"\xef\xbb\xbf", b"\xff" * 1000,
     "Windows Registry Editor Version 5.00\r\n[HKLM\\x]\r\n".encode("utf-16-le")],
)
def test_reg_installers(tmp_path: Path, data: bytes) -> None:
    assert run(tmp_path, "install.reg", data) is not None or data.startswith(b"W")


@pytest.mark.parametrize(
    "source",
    ["import winreg\nwinreg.CreateKey(winreg.HKEY_LOCAL_MACHINE, 'a' * 300)\n",
     "raise SystemExit(3)\n", "x = 1/0\n", "\x00", "(((",
     "import winreg\nwinreg.SetValueEx(None, 'x', 0, 99, object())\n"],
)
def test_python_installers(tmp_path: Path, source: str) -> None:
    msg = run(tmp_path, "install.py", source.encode("utf-8"))
    assert msg is not None and "install.py" in msg


@settings(SETTINGS, max_examples=120)
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_reg_exe_scripts(seed: int, tmp_path: Path) -> None:
    check("regexe", fuzz.gen_cmd(random.Random(seed)), tmp_path)


@settings(SETTINGS, max_examples=60)
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_reg_installers(seed: int, tmp_path: Path) -> None:
    check("reginstaller", fuzz.gen_reg(random.Random(seed)), tmp_path)


@settings(SETTINGS, max_examples=25)
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_python_installers(seed: int, tmp_path: Path) -> None:
    check("pyinstaller", fuzz.gen_py(random.Random(seed)), tmp_path)
