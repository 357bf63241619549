"""Python winreg installers: fake winreg, fake Windows files, bitness, errors, no leaks into the host."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.errors import InputError
from emulator.setup import validate_installer
from tests.setup.conftest import DLL64, NAME

Write = Callable[[str, str], Path]

REGISTER = f"""
import os, shutil, winreg
target = os.path.join({{folder}}, "{NAME}")
os.makedirs(os.path.dirname(target), exist_ok=True)
shutil.copy(os.path.join(os.path.dirname(__file__), "{NAME}"), target)
with winreg.CreateKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\\Microsoft\\RAS\\AdminDll") as k:
    winreg.SetValueEx(k, "DisplayName", 0, winreg.REG_SZ, "Contoso")
    winreg.SetValueEx(k, "DLLPath", 0, winreg.REG_SZ, target)
print("installed to", target)
"""


def test_32bit_python_copy_to_system32_is_redirected(write: Write) -> None:
    path = write("i.py", REGISTER.format(folder='os.environ["windir"] + r"\\System32"'))
    result = validate_installer(path, dll=DLL64, dll_name=NAME, installer_bits=32)
    assert [f.rule for f in result.findings] == ["R09"]
    assert result.files == {"C:\\Windows\\SysWOW64\\contoso_rasadm.dll": "written"}
    assert any("File System Redirector" in line for line in result.log)
    ok = validate_installer(path, dll=DLL64, dll_name=NAME, installer_bits=64)
    assert ok.findings == [] and ok.files == {"C:\\Windows\\System32\\contoso_rasadm.dll": "written"}


def test_environment_view_and_output_of_a_32bit_process(write: Write) -> None:
    path = write("i.py", """
import os, winreg
print(os.environ["ProgramFiles"], os.environ.get("PROCESSOR_ARCHITEW6432"), os.getcwd())
with winreg.CreateKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\\Contoso") as k:
    winreg.SetValueEx(k, "Bits", 0, winreg.REG_SZ, "32")
""")
    result = validate_installer(path, installer_bits=32)
    assert "[output] " + str(path) + ": C:\\Program Files (x86) AMD64 C:\\Setup" in result.log
    assert [p for p in result.install_diff.keys_added] == [
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Contoso"]


def test_host_state_is_restored(write: Write) -> None:
    path = write("i.py", "import os, sys\nos.environ['RASEMU_LEAK'] = '1'\nsys.argv.append('x')\n")
    argv, cwd, winreg_module = list(sys.argv), os.getcwd(), sys.modules.get("winreg")
    validate_installer(path)
    assert ("RASEMU_LEAK" not in os.environ and "ProgramW6432" not in os.environ) or sys.platform == "win32"
    assert sys.argv == argv and os.getcwd() == cwd
    assert not Path("C:\\Setup").exists()
    assert sys.modules.get("winreg") is winreg_module


def test_exception_in_installer_is_an_input_error_at_its_line(write: Write) -> None:
    path = write("i.py", "import winreg\n\nwinreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r'SOFTWARE\\Nope')\n")
    with pytest.raises(InputError) as info:
        validate_installer(path)
    assert str(info.value).startswith(f"{path}:3: the installer raised FileNotFoundError")


def test_nonzero_exit_is_an_input_error(write: Write) -> None:
    with pytest.raises(InputError, match="exited with status 3"):
        validate_installer(write("i.py", "import sys\nsys.exit(3)\n"))
    assert validate_installer(write("j.py", "import sys\nsys.exit(0)\n")).install_diff.is_empty


def test_unattended_input_gets_eof(write: Write) -> None:
    with pytest.raises(InputError) as info:
        validate_installer(write("i.py", "print('Continue?')\nanswer = input()\n"))
    assert str(info.value).endswith(":2: the installer raised EOFError: EOF when reading a line")


def test_refuses_to_run_inside_another_pyfakefs_session(write: Write) -> None:
    from pyfakefs.fake_filesystem_unittest import Patcher

    path = write("i.py", "print('hi')\n")
    source = path.read_bytes()
    with Patcher() as outer:
        outer.fs.create_file(str(path), contents=source)
        with pytest.raises(InputError, match="inside another pyfakefs session"):
            validate_installer(path)


def test_the_scripts_own_warnings_are_logged_with_their_line(write: Write) -> None:
    """An invalid escape in a Windows path ("C:\\Myapp") is the vendor's latent bug: it shows in
    the log at its line (and not as a warning of the process running rasemu)."""
    import warnings

    path = write("i.py", 'import winreg\n\nname = "C:\\\\Temp\\\\x"\nname2 = "C:\\Myapp"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping to the caller fails the test
        result = validate_installer(path)
    notes = [line for line in result.log if "invalid escape" in line]
    kind = "SyntaxWarning" if sys.version_info >= (3, 12) else "DeprecationWarning"
    assert notes == [f"[note] {path}: Python {kind} at line 4: invalid escape sequence '\\M'"]
