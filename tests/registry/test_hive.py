"""Seeding from a regf hive file through regipy (optional dependency: skipped without it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from regf_writer import Key, build_hive

from emulator.errors import InputError
from emulator.registry import REG_DWORD, REG_MULTI_SZ, REG_SZ, Registry
from emulator.registry.hive import load_hive


@pytest.fixture
def regipy() -> None:
    pytest.importorskip("regipy")


def test_without_regipy_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    import importlib

    real = importlib.import_module

    def no_regipy(name: str, package: str | None = None) -> object:
        if name.startswith("regipy"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_regipy)
    with pytest.raises(InputError, match="pip install regipy"):
        load_hive(Registry(), tmp_path / "x.hiv", r"HKLM\SOFTWARE")


def sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def ras_hive() -> Key:
    admin = Key("AdminDll", values=[
        ("DisplayName", REG_SZ, sz("Vendor IP pool")),
        ("DLLPath", REG_SZ, sz(r"C:\Windows\System32\vendor.dll; C:\Windows\System32\second.dll")),
        ("", REG_SZ, sz("default")),
        ("Flags", REG_DWORD, b"\x01\x00\x00\x00"),
        ("Two", 0x4242, b"\xab\xcd"),
        ("Empty", 3, b""),
        ("Räume", REG_MULTI_SZ, "a\0b\0\0".encode("utf-16-le")),
    ])
    ras = Key("RAS", subkeys=[admin, Key("Protocols"), Key("Ωmega")])
    return Key("ROOT", subkeys=[Key("Microsoft", subkeys=[ras])])


def test_load_hive_copies_keys_and_raw_values(regipy: None, tmp_path: Path) -> None:
    path = tmp_path / "SOFTWARE.hiv"
    path.write_bytes(build_hive(ras_hive()))
    reg = Registry()
    stats = load_hive(reg, path, r"HKLM\SOFTWARE")
    assert (stats.keys, stats.values) == (6, 7)
    admin = r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll"
    assert reg.value_items(admin) == [(n, t, d) for n, t, d in ras_hive().subkeys[0].subkeys[0].subkeys[0].values]
    assert reg.subkey_names(r"HKLM\SOFTWARE\Microsoft\RAS") == ["AdminDll", "Protocols", "Ωmega"]
    assert reg.key_exists(admin, view=32)  # the shared RAS key (R10) is seen by 32-bit code too


def test_bad_files_are_input_errors(regipy: None, tmp_path: Path) -> None:
    reg = Registry()
    with pytest.raises(InputError, match="cannot read hive file"):
        load_hive(reg, tmp_path / "missing.hiv", r"HKLM\SOFTWARE")
    junk = tmp_path / "junk.hiv"
    junk.write_bytes(b"MZ" + b"\0" * 5000)
    with pytest.raises(InputError, match="not a Windows registry hive"):
        load_hive(reg, junk, r"HKLM\SOFTWARE")
    good = tmp_path / "good.hiv"
    good.write_bytes(build_hive(ras_hive()))
    with pytest.raises(InputError, match="bad mount point"):
        load_hive(reg, good, r"HKXX\SOFTWARE")
    bad_name = tmp_path / "badname.hiv"
    bad_name.write_bytes(build_hive(Key("ROOT", subkeys=[Key("a\\b")])))
    with pytest.raises(InputError, match="does not allow"):
        load_hive(reg, bad_name, r"HKLM\X")
