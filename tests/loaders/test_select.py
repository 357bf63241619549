"""open_dll / detect_loader: choice by content, isolation defaults, clear LoadErrors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from emulator.errors import LoadError
from emulator.loaders import LOADERS, detect_loader, make_loader, open_dll
from emulator.loaders.base import Call
from emulator.loaders.isolated import IsolatedDll
from emulator.loaders.native import NativeAdminDll
from emulator.loaders.python import PythonAdminDll

ROOT = Path(__file__).resolve().parents[2]
GOOD_PY = str(ROOT / "fixtures" / "standins" / "good.py")
PE = ROOT / "fixtures" / "dlls" / "prebuilt" / "good64.dll"


def test_loader_table_is_lazy_and_complete() -> None:
    assert set(LOADERS) == {"python", "native", "pe"}
    assert all(":" in v for v in LOADERS.values())


def test_auto_detection(tmp_path: Path) -> None:
    assert detect_loader(GOOD_PY) == "python"
    assert detect_loader("fixtures.standins.good:AdminDll") == "python"
    if PE.exists():
        assert detect_loader(str(PE)) == "pe"
    elf = tmp_path / "x.bin"
    elf.write_bytes(b"\x7fELF" + bytes(60))
    assert detect_loader(str(elf)) == "native"
    macho = tmp_path / "x.dylib"
    macho.write_bytes(b"\xcf\xfa\xed\xfe" + bytes(60))
    assert detect_loader(str(macho)) == "native"


def test_open_python_in_process_by_default() -> None:
    with open_dll(GOOD_PY) as dll:
        assert isinstance(dll, PythonAdminDll)
        assert dll.handle_call(Call("RasemuTestLeaseCount")).returned == 0
    with open_dll(GOOD_PY, isolate=True) as iso:
        assert isinstance(iso, IsolatedDll) and iso.loader_name == "python"


@pytest.mark.skipif(sys.platform == "win32", reason="fixtures build .so/.dylib here")
def test_open_native_isolated_by_default() -> None:
    from fixtures.dlls.build import native_library

    path = str(native_library("good"))
    with open_dll(path) as dll:
        assert isinstance(dll, IsolatedDll) and dll.loader_name == "native"
        assert dll.handle_call(Call("RasemuTestLeaseCount")).returned == 0
    with open_dll(path, isolate=False, options={"private_copy": False}) as local:
        assert isinstance(local, NativeAdminDll)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="file not found") as e:
        open_dll(str(tmp_path / "nothing.dll"))
    assert "nothing.dll" in str(e.value)
    with pytest.raises(LoadError, match="is a directory"):
        open_dll(str(tmp_path))
    junk = tmp_path / "readme.dll"
    junk.write_bytes(b"PK\x03\x04 not a dll")
    with pytest.raises(LoadError, match=r"first bytes 50 4b 03 04.*expected a Windows DLL"):
        open_dll(str(junk))
    with pytest.raises(LoadError, match="unknown loader 'wine'; known loaders: auto, python"):
        open_dll(GOOD_PY, loader="wine")
    with pytest.raises(LoadError, match="file not found"):
        open_dll(str(tmp_path / "x.so"), loader="native")
    with pytest.raises(LoadError, match="has no option bogus"):
        make_loader("pe", {"bogus": 1})
