"""The setup checks on small hand-written installers: each rule's positive and negative cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.conformance.findings import Severity
from emulator.errors import InputError
from emulator.setup import validate_installer
from emulator.setup.checks import is_absolute, path_entries
from emulator.setup.pe import MACHINE_AMD64, MACHINE_I386, pe_header, placeholder_dll
from tests.setup.conftest import DLL32, DLL64, FABRIKAM, NAME

Write = Callable[[str, str], Path]
SELFREG = DLL64.parents[1] / "prebuilt_selfreg"
HEAD = "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll]\n"
GOOD_PATH = "C:\\\\Program Files\\\\Contoso\\\\contoso_rasadm.dll"


def reg(write: Write, body: str, name: str = "i.reg") -> Path:
    return write(name, HEAD + body)


def rules(result: object) -> list[tuple[str, str]]:
    return sorted((f.rule, f.severity.value) for f in result.findings)  # type: ignore[attr-defined]


def test_reg_install_without_dll_reports_r08_as_not_checked(write: Write) -> None:
    path = reg(write, f'"DisplayName"="Contoso"\n"DLLPath"="{GOOD_PATH}"\n')
    result = validate_installer(path)
    assert rules(result) == [("R08", "info")] and result.passed


def test_r01_nothing_registered(write: Write) -> None:
    path = write("i.cmd", "reg add HKLM\\SOFTWARE\\Contoso /v Installed /t REG_DWORD /d 1 /f\n")
    result = validate_installer(path)
    assert rules(result) == [("R01", "error")]
    assert "did not write a DLLPath" in result.findings[0].message


def test_r01_hkcu_is_the_wrong_key(write: Write) -> None:
    path = write("i.reg", "Windows Registry Editor Version 5.00\n\n"
                 "[HKEY_CURRENT_USER\\Software\\Microsoft\\RAS\\AdminDll]\n"
                 f'"DisplayName"="Contoso"\n"DLLPath"="{GOOD_PATH}"\n')
    result = validate_installer(path, dll=DLL64)
    assert [f.rule for f in result.findings] == ["R01"]
    assert "HKEY_CURRENT_USER" in result.findings[0].message


def test_r02_unexpanded_variable_in_reg_sz(write: Write) -> None:
    path = reg(write, '"DisplayName"="Contoso"\n"DLLPath"="%ProgramFiles%\\\\Contoso\\\\x.dll"\n')
    result = validate_installer(path, dll=DLL64)
    assert ("R02", "error") in rules(result)
    assert any("unexpanded environment variable" in f.message for f in result.findings)


@pytest.mark.parametrize(("display", "expected"), [
    ('"DisplayName"=hex(2):43,00,00,00', [("R03", "error")]),
    ('"DisplayName"="Fabrikam Address Allocator; Contoso"', [("R03", "error")]),
    ('"DisplayName"="Contoso"', []),
])
def test_r03_display_name(write: Write, display: str, expected: list[tuple[str, str]]) -> None:
    # a ';' list of names needs the other vendor's name in it to be recognised
    path = reg(write, f'{display}\n"DLLPath"="{FABRIKAM.replace(chr(92), chr(92) * 2)};{GOOD_PATH}"\n')
    result = validate_installer(path, dll=DLL64, preexisting=FABRIKAM)
    assert rules(result) == expected, [f.message for f in result.findings]


def test_r03_missing_display_name(write: Write) -> None:
    result = validate_installer(reg(write, f'"DLLPath"="{GOOD_PATH}"\n'), dll=DLL64)
    assert rules(result) == [("R03", "error")]
    assert "did not write DisplayName" in result.findings[0].message


def test_r04_only_on_single_dll_profiles(write: Write) -> None:
    two = f'"DisplayName"="Contoso"\n"DLLPath"="C:\\\\a\\\\one.dll; {GOOD_PATH}"\n'
    assert [f.rule for f in validate_installer(reg(write, two), dll=DLL64,
                                               profile="win2000").findings] == ["R04"]
    assert validate_installer(reg(write, two), dll=DLL64, profile="win2003").findings == []


def test_r05_prepending_is_a_warning(write: Write) -> None:
    fab = FABRIKAM.replace("\\", "\\\\")
    path = reg(write, f'"DisplayName"="Contoso"\n"DLLPath"="{GOOD_PATH};{fab}"\n')
    result = validate_installer(path, dll=DLL64, preexisting=FABRIKAM)
    assert rules(result) == [("R05", "warning")] and result.passed


def test_r05_not_applied_on_win2000(write: Write) -> None:
    path = reg(write, f'"DisplayName"="Contoso"\n"DLLPath"="{GOOD_PATH}"\n')
    result = validate_installer(path, dll=DLL64, preexisting=FABRIKAM, profile="win2000")
    assert result.findings == []


def test_r08_missing_file_and_not_a_pe(write: Write, tmp_path: Path) -> None:
    path = write("i.cmd", "reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DisplayName /d C /f\n"
                 "reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DLLPath /d C:\\nowhere\\x.dll /f\n")
    result = validate_installer(path, dll=DLL64)
    assert rules(result) == [("R08", "error")]
    assert "does not exist" in result.findings[0].message
    text = tmp_path / "readme.txt"
    text.write_bytes(b"not a dll")
    path = write("j.cmd", f"copy %~dp0{NAME} C:\\x.dll\n"
                 "reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DisplayName /d C /f\n"
                 "reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DLLPath /d C:\\x.dll /f\n")
    result = validate_installer(path, dll=text, dll_name=NAME)
    assert [f.message for f in result.findings] == ["C:\\x.dll is not a PE image"]


def test_r08_x64_dll_on_x86_profile(write: Write) -> None:
    path = reg(write, f'"DisplayName"="Contoso"\n"DLLPath"="{GOOD_PATH}"\n')
    assert [f.rule for f in validate_installer(path, dll=DLL64, profile="win7-x86").findings] == ["R08"]
    assert validate_installer(path, dll=DLL32, profile="win7-x86").findings == []


def test_r08_network_path_is_a_warning(write: Write) -> None:
    path = reg(write, '"DisplayName"="Contoso"\n"DLLPath"="\\\\\\\\srv\\\\share\\\\c.dll"\n')
    result = validate_installer(path, dll=DLL64)
    assert rules(result) == [("R08", "warning")]
    assert result.findings[0].message.startswith("\\\\srv\\share\\c.dll is a network path")


def test_r09_32bit_reg_import_with_system32_path(write: Write) -> None:
    path = reg(write, '"DisplayName"="Contoso"\n"DLLPath"="C:\\\\Windows\\\\System32\\\\c.dll"\n')
    result = validate_installer(path, dll=DLL64, installer_bits=32)
    assert [f.rule for f in result.findings] == ["R09"]
    assert validate_installer(path, dll=DLL64, installer_bits=64).findings == []


def test_32bit_installer_using_sysnative_is_fine(write: Write) -> None:
    path = write("i.cmd", f"copy %~dp0{NAME} %windir%\\Sysnative\\{NAME}\n"
                 "reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DisplayName /d C /f\n"
                 f"reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DLLPath /d %windir%\\System32\\{NAME} /f\n")
    result = validate_installer(path, dll=DLL64, dll_name=NAME, installer_bits=32)
    assert result.findings == [], [f.message for f in result.findings]
    assert result.files == {f"C:\\Windows\\System32\\{NAME}": "written"}


def test_r06_empty_key_left_is_info_other_leftovers_a_warning(write: Write) -> None:
    inst = write("i.cmd", f"copy %~dp0{NAME} C:\\c.dll\n"
                 "reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DisplayName /d C /f\n"
                 "reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DLLPath /d C:\\c.dll /f\n"
                 "reg add HKLM\\SOFTWARE\\Contoso /v Version /d 1 /f\n")
    uninst = write("u.cmd", "reg delete HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /va /f\n")
    result = validate_installer(inst, uninst, dll=DLL64, dll_name=NAME)
    assert rules(result) == [("R06", "info"), ("R06", "warning")]
    assert result.passed
    assert "HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso" in result.findings[1].message


def test_r07_uninstall_deleting_the_ras_key(write: Write) -> None:
    fab = FABRIKAM.replace("\\", "\\\\")
    inst = reg(write, f'"DisplayName"="Contoso"\n"DLLPath"="{fab};{GOOD_PATH}"\n')
    uninst = write("u.cmd", "reg delete HKLM\\SOFTWARE\\Microsoft\\RAS /f\n")
    result = validate_installer(inst, uninst, dll=DLL64, preexisting=FABRIKAM)
    assert {f.rule for f in result.findings} == {"R07"}
    assert any("existed before the install" in f.message for f in result.findings)


def test_r06_own_path_left_in_the_list(write: Write) -> None:
    fab = FABRIKAM.replace("\\", "\\\\")
    inst = reg(write, f'"DisplayName"="Contoso"\n"DLLPath"="{fab};{GOOD_PATH}"\n')
    uninst = write("u.reg", "Windows Registry Editor Version 5.00\n")
    result = validate_installer(inst, uninst, dll=DLL64, preexisting=FABRIKAM)
    assert [f.rule for f in result.findings] == ["R06"]
    assert "left its path" in result.findings[0].message


def test_wrong_input_is_an_input_error(tmp_path: Path, write: Write) -> None:
    with pytest.raises(InputError, match=r"no such \.reg installer file"):
        validate_installer(tmp_path / "missing.reg")
    with pytest.raises(InputError, match=r"unknown installer kind '\.ps1'"):
        validate_installer(write("x.ps1", ""))
    path = reg(write, "")
    with pytest.raises(InputError, match="unknown host profile"):
        validate_installer(path, profile="win95")
    with pytest.raises(InputError, match="64-bit installer cannot run on the 32-bit profile"):
        validate_installer(path, profile="win7-x86", installer_bits=64)
    with pytest.raises(InputError, match="absolute Windows path"):
        validate_installer(path, preexisting="fabadm.dll")
    with pytest.raises(InputError, match="no such DLL file"):
        validate_installer(path, dll=tmp_path / "nope.dll")
    with pytest.raises(InputError, match="unknown registry seed"):
        validate_installer(path, seed="nope")


def test_selfreg_dll_that_writes_only_the_wow6432node_copy() -> None:
    dll = SELFREG / "selfreg_wow32.dll"
    result = validate_installer(dll, dll)
    assert result.installer_bits == 32, "regsvr32 runs at the DLL's bitness"
    assert [f.rule for f in result.findings if f.severity is Severity.ERROR] == ["R10", "R01"]


def test_helpers() -> None:
    assert path_entries((1, "C:\\a.dll; ;C:\\b.dll ;\0".encode("utf-16-le"))) == ["C:\\a.dll", "C:\\b.dll"]
    assert path_entries((7, "C:\\a.dll\0C:\\b.dll\0\0".encode("utf-16-le"))) == ["C:\\a.dll", "C:\\b.dll"]
    assert is_absolute("C:\\x.dll") and is_absolute("\\\\srv\\share\\x.dll")
    assert not is_absolute("x.dll") and not is_absolute("C:x.dll") and not is_absolute("%windir%\\x.dll")
    h64, h32 = pe_header(DLL64.read_bytes()), pe_header(DLL32.read_bytes())
    assert h64 is not None and h64.machine == MACHINE_AMD64 and h64.is_dll and h64.magic == 0x20B
    assert h32 is not None and h32.machine == MACHINE_I386 and h32.magic == 0x10B
    for bits in (32, 64):
        head = pe_header(placeholder_dll(bits))
        assert head is not None and head.bits == bits and head.is_dll
    assert pe_header(b"MZ" + b"\0" * 100) is None and pe_header(b"") is None
    assert Severity.ERROR.rank == 2
