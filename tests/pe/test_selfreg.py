"""Self-registration (DllRegisterServer / DllUnregisterServer / DllInstall) of the committed
fixture DLLs in fixtures/dlls/prebuilt_selfreg, against the in-memory registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import LoadError
from emulator.loaders.pe.selfreg import (
    ADMIN_KEY,
    check_registration,
    register,
    run_export,
    unregister,
)
from emulator.registry.model import REG_DWORD, REG_EXPAND_SZ, REG_SZ, Registry
from emulator.registry.snapshot import RegistryDiff
from fixtures.dlls.build_selfreg import prebuilt

ADMIN = r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll"


def _sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


@pytest.fixture(params=[32, 64], ids=["x86", "x64"])
def bits(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def test_register_then_unregister_round_trip(bits: int) -> None:
    reg = Registry()
    dll = prebuilt("selfreg", bits)
    r = register(dll, reg, bitness=bits)
    assert r.succeeded and r.returned == 0 and r.fault is None and r.unload_fault is None
    me = f"C:\\Windows\\System32\\selfreg{bits}.dll"
    assert reg.get_value(ADMIN, "DLLPath", view=64) == (REG_SZ, _sz(me))
    assert reg.get_value(ADMIN, "DisplayName", view=64) == (REG_SZ, _sz("Rasemu Vendor IP Pool"))
    added = {(p, n) for p, n, _ in r.diff.values_added}
    assert added == {(ADMIN_KEY, "DLLPath"), (ADMIN_KEY, "DisplayName")}
    assert ADMIN_KEY in r.diff.keys_added
    assert r.findings == ()  # R01-R03 satisfied; the shared key needs no WOW6432Node copy (R10)
    again = register(dll, reg, bitness=bits)
    assert again.succeeded and again.diff.is_empty  # idempotent
    u = unregister(dll, reg, bitness=bits)
    assert u.succeeded
    assert {n for _, n, _ in u.diff.values_removed} == {"DLLPath", "DisplayName"}  # R06
    assert reg.value_items(ADMIN, view=64) == []


def test_register_appends_to_an_existing_list_and_unregister_keeps_the_others(bits: int) -> None:
    reg = Registry()
    reg.set_value(ADMIN, "DLLPath", REG_SZ, _sz("C:\\Other\\a.dll"), view=64)
    reg.set_value(ADMIN, "DisplayName", REG_SZ, _sz("Other"), view=64)
    dll = prebuilt("selfreg", bits)
    r = register(dll, reg, bitness=bits)
    assert r.succeeded
    (change,) = r.diff.values_changed
    me = f"C:\\Windows\\System32\\selfreg{bits}.dll"
    assert change.name == "DLLPath" and change.new == (REG_SZ, _sz("C:\\Other\\a.dll;" + me))  # R05
    assert reg.get_value(ADMIN, "DisplayName", view=64)[1] == _sz("Other")  # R03: one name kept
    u = unregister(dll, reg, bitness=bits)
    assert u.succeeded
    assert reg.get_value(ADMIN, "DLLPath", view=64) == (REG_SZ, _sz("C:\\Other\\a.dll"))  # R07


def test_known_bad_expand_sz_is_an_r02_finding(bits: int) -> None:
    r = register(prebuilt("selfreg_expand", bits), Registry(), bitness=bits)
    assert r.succeeded
    (f,) = r.findings
    assert f.rule == "R02" and "REG_EXPAND_SZ" in f.message
    (dllpath,) = [v for _, n, v in r.diff.values_added if n == "DLLPath"]
    assert dllpath == (REG_EXPAND_SZ, _sz(f"%SystemRoot%\\System32\\selfreg_expand{bits}.dll"))


def test_known_bad_explicit_wow6432node_is_an_r10_finding() -> None:
    reg = Registry()
    r = register(prebuilt("selfreg_wow", 32), reg, bitness=32)
    assert r.succeeded
    assert {f.rule for f in r.findings} == {"R10"}
    assert reg.key_exists(r"HKLM\SOFTWARE\WOW6432Node\Microsoft\RAS\AdminDll", view=64)
    assert not reg.key_exists(ADMIN, view=64)  # RRAS reads the shared key, which stays empty


def test_dllinstall_with_a_string_argument_writes_registry_and_sandbox(bits: int, tmp_path: Path) -> None:
    reg = Registry()
    dll = prebuilt("selfreg", bits)
    r = run_export(dll, reg, "DllInstall", args=(1, "pool=10.0.0.1-10.0.0.50"), bitness=bits, sandbox=tmp_path)
    assert r.succeeded, (r.fault, r.debug_output)
    # HKLM\SOFTWARE\RasemuVendor is redirected for a 32-bit DLL
    phys = r"HKLM\SOFTWARE\WOW6432Node\RasemuVendor\Pool" if bits == 32 else r"HKLM\SOFTWARE\RasemuVendor\Pool"
    assert reg.get_value(phys, "Range", view=64) == (REG_SZ, _sz("10.0.0.1-10.0.0.50"))
    assert reg.get_value(phys, "RangeLength", view=64) == (REG_DWORD, (18).to_bytes(4, "little"))
    cfg = tmp_path / "c" / "ProgramData" / "RasemuVendor" / "pool.cfg"
    assert cfg.read_bytes() == b"10.0.0.1-10.0.0.50\r\n"
    u = run_export(dll, reg, "DllInstall", args=(0, None), bitness=bits, sandbox=tmp_path)
    assert u.succeeded and not cfg.exists()
    assert not reg.key_exists(phys, view=64)


def test_dllinstall_without_a_sandbox_fails_and_records_the_file_access(bits: int) -> None:
    r = run_export(prebuilt("selfreg", bits), Registry(), "DllInstall", args=(1, "pool=1-2"), bitness=bits)
    assert not r.succeeded and r.returned == 0x80070005  # HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)
    assert [api for api, _, _ in r.denied_files] == ["CreateDirectoryW", "CreateFileW"]
    assert any("refused: no file sandbox" in line for line in r.debug_output)


def test_bad_arguments_and_missing_exports(bits: int) -> None:
    r = run_export(prebuilt("selfreg", bits), Registry(), "DllInstall", args=(1, "nonsense"), bitness=bits)
    assert r.returned == 0x80070057 and not r.succeeded  # E_INVALIDARG
    with pytest.raises(LoadError, match="no export named 'DllMissing'"):
        run_export(prebuilt("selfreg", bits), Registry(), "DllMissing", bitness=bits)


def test_check_registration_on_a_handmade_diff() -> None:
    d = RegistryDiff(values_added=(
        (ADMIN_KEY, "DLLPath", (REG_SZ, _sz("vendor.dll"))),
        (ADMIN_KEY, "DisplayName", (REG_EXPAND_SZ, _sz("x"))),
    ))
    rules = sorted(f.rule for f in check_registration(d))
    assert rules == ["R02", "R03"]
