"""The Windows file table: path rules, case-insensitivity, the File System Redirector (S25)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import InputError
from emulator.setup.winfs import WinFS, normalize


def test_normalize() -> None:
    assert normalize("c:/Program Files/./X/../Y/a.dll") == "C:\\Program Files\\Y\\a.dll"
    assert normalize('"C:\\a\\"') == "C:\\a"
    assert normalize("d:\\") == "D:\\"
    for bad in ("a.dll", "C:a.dll", "\\\\srv\\share\\a.dll", "C:\\a|b"):
        with pytest.raises(InputError):
            normalize(bad)


def test_case_insensitive_and_case_preserving() -> None:
    fs = WinFS()
    fs.mkdir("C:\\Vendor")
    fs.write("C:\\Vendor\\Adm.DLL", b"1")
    fs.write("c:\\VENDOR\\adm.dll", b"2")
    assert fs.read("C:\\vendor\\ADM.dll") == b"2"
    assert [e.path for e in fs.files()] == ["C:\\Vendor\\Adm.DLL"]


def test_write_needs_the_folder() -> None:
    fs = WinFS()
    with pytest.raises(InputError, match="does not exist"):
        fs.write("C:\\Nope\\a.dll", b"")
    fs.mkdir("C:\\Nope\\Deeper")
    assert fs.isdir("C:\\Nope") and fs.rmdir("C:\\Nope\\Deeper") and not fs.rmdir("C:\\Missing")


def test_redirector_only_for_32bit_processes_on_a_64bit_os() -> None:
    fs = WinFS(64)
    assert fs.write("C:\\Windows\\System32\\a.dll", b"x", 32) == "C:\\Windows\\SysWOW64\\a.dll"
    assert fs.entry("C:\\Windows\\SysWOW64\\a.dll").requested == "C:\\Windows\\System32\\a.dll"  # type: ignore[union-attr]
    assert fs.read("C:\\Windows\\System32\\a.dll", 32) == b"x"  # the 32-bit view finds it
    assert fs.read("C:\\Windows\\System32\\a.dll", 64) is None
    assert fs.physical("C:\\Windows\\Sysnative\\b.dll", 32) == "C:\\Windows\\System32\\b.dll"
    assert fs.physical("C:\\Windows\\System32\\spool\\x", 32) == "C:\\Windows\\System32\\spool\\x"
    assert fs.physical("C:\\Windows\\System32\\drivers\\etc\\hosts", 32).endswith("System32\\drivers\\etc\\hosts")
    assert fs.physical("C:\\Windows\\System32\\drivers\\x.sys", 32).startswith("C:\\Windows\\SysWOW64")
    fs32 = WinFS(32)
    assert fs32.physical("C:\\Windows\\System32\\a.dll", 32) == "C:\\Windows\\System32\\a.dll"
    assert not fs32.isdir("C:\\Windows\\SysWOW64")


def test_media_folder_reads_local_files(tmp_path: Path) -> None:
    (tmp_path / "pkg.reg").write_bytes(b"data")
    fs = WinFS()
    fs.add_media("C:\\Setup", tmp_path)
    assert fs.read("c:\\setup\\PKG.reg") in (b"data", None)  # host file systems may be case-sensitive
    assert fs.read("C:\\Setup\\pkg.reg") == b"data"
    assert fs.read("C:\\Setup\\..\\Setup\\missing") is None
    assert list(fs.files()) == [], "media files are not part of the table"
