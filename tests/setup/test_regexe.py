"""reg.exe command scripts: reg add/delete/import syntax and data, cmd.exe text rules, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.errors import InputError
from emulator.registry.model import Registry
from emulator.registry.seeds import apply_seed
from emulator.setup.env import SETUP_DIR, SetupEnv, SetupLog
from emulator.setup.regexe import RegExeScript, crt_argv, expand_percent, split_chain
from emulator.setup.winfs import WinFS
from tests.setup.conftest import DLL64, NAME

KEY = "HKLM\\SOFTWARE\\Contoso\\Test"
Write = Callable[[str, str], Path]


def run(path: Path, *, bits: int = 64, os_bits: int = 64) -> SetupEnv:
    reg = Registry()
    apply_seed(reg, "ras_server")
    fs = WinFS(os_bits)
    fs.add_media(SETUP_DIR, path.parent)
    fs.write(SETUP_DIR + "\\" + NAME, DLL64.read_bytes())
    env = SetupEnv(reg, fs, bits, os_bits, SetupLog(), DLL64, NAME)
    RegExeScript(path).run(env)
    return env


def sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def test_reg_add_types_and_data(write: Write) -> None:
    env = run(write("t.cmd", f"""@echo off
reg add {KEY} /v Str /d "two words" /f
reg add {KEY} /v Exp /t REG_EXPAND_SZ /d %%SystemRoot%%\\x.dll /f
reg add {KEY} /v Multi /t REG_MULTI_SZ /d a\\0b\\0 /f
reg add {KEY} /v Multi2 /t REG_MULTI_SZ /s # /d a#b /f
reg add {KEY} /v Dw /t REG_DWORD /d 0x10 /f
reg add {KEY} /v Be /t REG_DWORD_BIG_ENDIAN /d 1 /f
reg add {KEY} /v Q /t REG_QWORD /d 5 /f
reg add {KEY} /v Bin /t REG_BINARY /d fe340ead /f
reg add {KEY} /ve /d default /f
reg add {KEY}\\Sub
"""))
    reg = env.registry
    assert reg.get_value(KEY, "Str") == (1, sz("two words"))
    assert reg.get_value(KEY, "Exp") == (2, sz("%SystemRoot%\\x.dll"))
    assert reg.get_value(KEY, "Multi") == (7, "a\0b\0\0".encode("utf-16-le"))
    assert reg.get_value(KEY, "Multi2") == (7, "a\0b\0\0".encode("utf-16-le"))
    assert reg.get_value(KEY, "Dw") == (4, b"\x10\0\0\0")
    assert reg.get_value(KEY, "Be") == (5, b"\0\0\0\x01")
    assert reg.get_value(KEY, "Q") == (11, b"\x05" + b"\0" * 7)
    assert reg.get_value(KEY, "Bin") == (3, bytes.fromhex("fe340ead"))
    assert reg.get_value(KEY, "") == (1, sz("default"))
    assert reg.key_exists(KEY + "\\Sub")


def test_reg_delete_value_all_values_and_key(write: Write) -> None:
    env = run(write("t.cmd", f"""reg add {KEY} /v A /d 1 /f
reg add {KEY} /v B /d 2 /f
reg add {KEY}\\Sub /v C /d 3 /f
reg delete {KEY} /v A /f
reg delete {KEY} /v Missing /f
reg delete {KEY} /va /f
"""))
    reg = env.registry
    assert reg.value_items(KEY) == []
    assert reg.key_exists(KEY + "\\Sub"), "/va leaves subkeys"
    failed = [e for e in env.log.entries if e.kind == "failed"]
    assert len(failed) == 1 and failed[0].where.endswith("t.cmd:5")
    env2 = run(write("u.cmd", f"reg add {KEY}\\Sub /f\nreg delete {KEY} /f\n"))
    assert not env2.registry.key_exists(KEY)


def test_32bit_reg_exe_uses_the_32bit_view_unless_told(write: Write) -> None:
    script = write("t.cmd", """reg add HKLM\\SOFTWARE\\Contoso /v A /d 1 /f
reg add HKLM\\SOFTWARE\\Contoso /v B /d 1 /f /reg:64
%windir%\\Sysnative\\reg.exe add HKLM\\SOFTWARE\\Contoso /v C /d 1 /f
reg add HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll /v DLLPath /d C:\\x.dll /f
""")
    reg = run(script, bits=32).registry
    names32 = {n for n, _, _ in reg.value_items("HKLM\\SOFTWARE\\WOW6432Node\\Contoso", view=64)}
    names64 = {n for n, _, _ in reg.value_items("HKLM\\SOFTWARE\\Contoso", view=64)}
    assert names32 == {"A"} and names64 == {"B", "C"}
    # the RAS key is shared (R10): the 32-bit write lands in the one physical key
    assert reg.get_value("HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll", "DLLPath", view=64)[0] == 1
    # on a 32-bit OS there is no WOW64 at all
    reg = run(script, bits=32, os_bits=32).registry
    assert {n for n, _, _ in reg.value_items("HKLM\\SOFTWARE\\Contoso", view=64)} == {"A", "B", "C"}


def test_copy_redirected_for_32bit_and_sysnative_escapes(write: Write) -> None:
    script = write("t.cmd", f"""copy "%~dp0{NAME}" %windir%\\System32\\a.dll
copy "%~dp0{NAME}" %windir%\\Sysnative\\b.dll
copy "%~dp0{NAME}" %windir%\\System32\\drivers\\etc\\c.dll
""")
    fs = run(script, bits=32).fs
    assert fs.exists("C:\\Windows\\SysWOW64\\a.dll") and not fs.exists("C:\\Windows\\System32\\a.dll")
    assert fs.exists("C:\\Windows\\System32\\b.dll")
    # drivers\etc is exempt from redirection (the copy fails: that folder does not exist)
    failed = [e.message for e in run(script, bits=32).log.entries if e.kind == "failed"]
    assert failed == ["copy: the folder C:\\Windows\\System32\\drivers\\etc does not exist "
                      "(cmd: The system cannot find the path specified)"]
    fs64 = run(script, bits=64).fs
    assert fs64.exists("C:\\Windows\\System32\\a.dll")


def test_reg_import_reads_a_sibling_reg_file_through_the_setup_folder(write: Write) -> None:
    write("part.reg", "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso]\n"
                      '"A"="1"\n')
    env = run(write("t.cmd", 'reg import "%~dp0part.reg"\n'), bits=32)
    assert env.registry.key_exists("HKLM\\SOFTWARE\\WOW6432Node\\Contoso", view=64)


def test_regedit_s_imports_like_reg_import(write: Write) -> None:
    write("part.reg", "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso]\n"
                      '"A"="1"\n')
    env = run(write("t.cmd", 'regedit /s "%~dp0part.reg"\nregedit /e C:\\out.reg HKEY_LOCAL_MACHINE\n'))
    assert env.registry.get_value("HKLM\\SOFTWARE\\Contoso", "A") == (1, sz("1"))
    assert [e.kind for e in env.log.entries] == ["action", "skipped"]


def test_reg_import_errors_name_the_reg_file_line(write: Write) -> None:
    write("bad.reg", "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\n"
                     '"A"=dword:zz\n')
    with pytest.raises(InputError) as info:
        run(write("t.cmd", "reg import %~dp0bad.reg\n"))
    assert "bad.reg:4" in str(info.value)


def test_other_lines_are_listed_as_skipped_not_ignored(write: Write) -> None:
    env = run(write("t.cmd", """@echo off
rem a comment with %UNDEFINED%
:: another comment
echo Installing...
net stop remoteaccess
reg query HKLM\\SOFTWARE
:label
"""))
    skipped = [(e.where.rsplit(":", 1)[1], e.message) for e in env.log.entries if e.kind == "skipped"]
    assert [line for line, _ in skipped] == ["4", "5", "6", "7"]
    assert "net stop remoteaccess" in skipped[1][1]
    assert not [e for e in env.log.entries if e.kind == "note"], "comments are not expanded"


def test_chaining_and_exit(write: Write) -> None:
    env = run(write("t.cmd", f"""copy missing.dll C:\\x.dll || exit /b 1
reg add {KEY} /v Never /d 1 /f
"""))
    assert not env.registry.key_exists(KEY)
    env = run(write("u.cmd", f"""copy missing.dll C:\\x.dll && reg add {KEY} /v A /d 1 /f
reg add {KEY} /v B /d 1 /f & reg add {KEY} /v C /d 1 /f >nul 2>&1
"""))
    assert {n for n, _, _ in env.registry.value_items(KEY)} == {"B", "C"}


@pytest.mark.parametrize(("line", "expected"), [
    ("reg add", "reg add: missing key name"),
    ("reg add /v X", "missing key name before '/v'"),
    ("reg add HKXX\\Software /v X /f", "invalid key name 'HKXX\\\\Software': the root must be HKLM"),
    ("reg add HKLM\\Software\\X /v", "option /v needs a value"),
    ("reg add HKLM\\Software\\X /v A /ve", "/v and /ve cannot be used together"),
    ("reg add HKLM\\Software\\X /v A /t REG_STRING /d x", "unknown type 'REG_STRING' for /t"),
    ("reg add HKLM\\Software\\X /v A /t REG_DWORD /d abc", "REG_DWORD data must be a number"),
    ("reg add HKLM\\Software\\X /v A /t REG_BINARY /d abc", "even number of hex digits"),
    ("reg add HKLM\\Software\\X /v A /d 1 /x", "unknown option '/x'"),
    ("reg add HKLM\\Software\\X /v A /v B", "option /v given twice"),
    ("reg add HKLM\\Software\\X /v A /reg:32 /reg:64", "/reg:32 and /reg:64 cannot be used together"),
    ("reg add HKLM\\Software\\X /v A /s ab /t REG_MULTI_SZ /d x", "/s needs exactly one separator"),
    ("reg add HKLM\\Software\\My Key /v A", "unexpected argument 'Key'"),
    ("reg add \\\\SERVER\\HKLM\\Software /v A", "remote registry key"),
    ("reg delete HKLM\\Software\\X /v A /va", "use only one of /v, /ve and /va"),
    ("reg frobnicate HKLM", "reg: unknown operation 'frobnicate'"),
    ("reg import", "reg import: missing file name"),
    ("copy", "copy: expected copy SOURCE"),
    ("copy *.dll C:\\x", "wildcards are not supported"),
])
def test_syntax_errors_name_file_and_line(write: Write, line: str, expected: str) -> None:
    path = write("bad.cmd", f"@echo off\nrem line 2\n{line}\n")
    with pytest.raises(InputError) as info:
        run(path)
    text = str(info.value)
    assert text.startswith(f"{path}:3: "), text
    assert expected in text, text


def test_trailing_backslash_before_quote_is_the_crt_escape() -> None:
    # "C:\dir\" swallows the closing quote under the C runtime's rules
    assert crt_argv('add K /d "C:\\dir\\" /f') == ["add", "K", "/d", 'C:\\dir" /f']
    assert crt_argv('/d "C:\\dir\\\\" /f') == ["/d", "C:\\dir\\", "/f"]
    assert crt_argv('/d "say ""hi"""') == ["/d", 'say "hi"']


def test_percent_expansion_follows_batch_rules() -> None:
    undefined: list[str] = []
    env = {"ProgramFiles": "C:\\Program Files", "windir": "C:\\Windows"}
    script = "C:\\Setup\\inst.cmd"
    assert expand_percent("%programfiles%\\X %%windir%% %~dp0a %0 %1 %NOPE%.", env, script,
                          undefined) == "C:\\Program Files\\X %windir% C:\\Setup\\a C:\\Setup\\inst.cmd  ."
    assert undefined == ["NOPE"]
    assert expand_percent("%~nx0 %~n0", env, script, []) == "inst.cmd inst"


def test_split_chain_handles_quotes_carets_and_redirections() -> None:
    assert split_chain('reg add "A & B" /f >nul 2>&1 && echo ok || exit /b 1') == [
        ("", 'reg add "A & B" /f'), ("&&", "echo ok"), ("||", "exit /b 1")]
    assert split_chain("echo a^&b") == [("", "echo a&b")]


def test_one_line_if_forms(write: Write) -> None:
    env = run(write("t.cmd", f"""set MODE=full
if not exist "C:\\Vendor" mkdir "C:\\Vendor"
if exist "C:\\Vendor" reg add {KEY} /v Exist /d 1 /f
if exist C:\\Nowhere\\x.dll reg add {KEY} /v Never /d 1 /f
if defined MODE reg add {KEY} /v Defined /d 1 /f
if /i "%MODE%"=="FULL" reg add {KEY} /v Compare /d 1 /f
if "%MODE%"=="FULL" reg add {KEY} /v CaseSensitive /d 1 /f
copy C:\\missing.dll C:\\Vendor\\
if errorlevel 1 reg add {KEY} /v AfterFailure /d 1 /f
if exist C:\\Vendor (
if %MODE% EQU full echo x
"""))
    names = {n for n, _, _ in env.registry.value_items(KEY)}
    assert names == {"Exist", "Defined", "Compare", "AfterFailure"}
    assert env.fs.isdir("C:\\Vendor")
    skipped = [e.message for e in env.log.entries if e.kind == "skipped"]
    assert len(skipped) == 2 and "parenthesised blocks" in skipped[0]
    assert "this form of 'if' is not modelled" in skipped[1]
