"""WOW64 redirection table (spec S24, rule R10): one test per table row plus links."""

from __future__ import annotations

import pytest

from emulator.registry import REG_SZ, Registry, wow64
from emulator.registry.wow64 import LINKS, REDIRECTED, SHARED, TABLE


def physical32(root: str, path: str) -> str:
    names = tuple(path.split("\\")) if path else ()
    return "\\".join(wow64.resolve_links(root, wow64.to_view32(root, names)))


@pytest.mark.parametrize(("root", "path", "how", "anchor"), TABLE, ids=[f"{r[:6]}:{p}" for r, p, _, _ in TABLE])
def test_each_row(root: str, path: str, how: str, anchor: int | None) -> None:
    folded = tuple(path.upper().split("\\")) if path else ()
    assert wow64.behaviour(root, folded) == (how, anchor)
    # A child inherits the row's behaviour.
    child = (*folded, "SOMECHILD")
    assert wow64.behaviour(root, child)[0] == how
    target = physical32(root, path + "\\Child" if path else "Child")
    if how == SHARED and path:
        assert target == path + "\\Child"
    if how == REDIRECTED:
        parts = (path + "\\Child").split("\\")
        assert target == "\\".join([*parts[:anchor], "Wow6432Node", *parts[anchor:]])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (r"SOFTWARE", r"SOFTWARE\Wow6432Node"),
        (r"SOFTWARE\Vendor\App", r"SOFTWARE\Wow6432Node\Vendor\App"),
        (r"SOFTWARE\Microsoft\RAS\AdminDll", r"SOFTWARE\Microsoft\RAS\AdminDll"),
        (r"software\microsoft\ras", r"software\microsoft\ras"),
        (r"SOFTWARE\Microsoft\RASX", r"SOFTWARE\Wow6432Node\Microsoft\RASX"),
        (r"SOFTWARE\Microsoft\Windows\CurrentVersion", r"SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion"),
        (r"SOFTWARE\Classes\.txt", r"SOFTWARE\Classes\.txt"),
        (r"SOFTWARE\Classes\CLSID\{1}", r"SOFTWARE\Classes\Wow6432Node\CLSID\{1}"),
        (r"SOFTWARE\Classes\AppID\{1}", r"SOFTWARE\Classes\AppID\{1}"),
        (r"SOFTWARE\Wow6432Node\X", r"SOFTWARE\Wow6432Node\X"),
        (r"SYSTEM\CurrentControlSet\Services", r"SYSTEM\CurrentControlSet\Services"),
        # Wow6432Node\Classes is a link to Classes\Wow6432Node.
        (r"SOFTWARE\Wow6432Node\Classes\CLSID", r"SOFTWARE\Classes\Wow6432Node\CLSID"),
        (r"SOFTWARE\Classes\Wow6432Node\TypeLib\x", r"SOFTWARE\Classes\Typelib\x"),
    ],
)
def test_hklm_32bit_view_mapping(path: str, expected: str) -> None:
    assert physical32(wow64.HKLM, path) == expected


def test_hkcu_software_is_shared_but_classes_clsid_redirected() -> None:
    assert physical32(wow64.HKCU, r"Software\Vendor") == r"Software\Vendor"
    assert physical32(wow64.HKCU, r"Software\Classes\CLSID\{x}") == r"Software\Classes\Wow6432Node\CLSID\{x}"
    assert physical32(wow64.HKCU, r"Software\Classes\.txt") == r"Software\Classes\.txt"


def test_other_roots_never_redirected() -> None:
    assert physical32("HKEY_USERS", r"SOFTWARE\X") == r"SOFTWARE\X"


def test_links_table_is_the_documented_four() -> None:
    assert len(LINKS) == 4
    for root, link, target in LINKS:
        names = tuple(link.split("\\"))
        assert "\\".join(wow64.resolve_links(root, names)) == target


def test_ras_key_is_shared_between_views_r10() -> None:
    reg = Registry(default_view=32)
    key = r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll"
    reg.set_value(key, "DLLPath", REG_SZ, b"3\x002\x00\x00\x00")  # a 32-bit installer writes
    assert reg.get_value(key, "DLLPath", view=64) == (REG_SZ, b"3\x002\x00\x00\x00")
    assert not reg.key_exists(r"HKLM\SOFTWARE\Wow6432Node\Microsoft\RAS", view=64)
    # Its 32-bit parents exist so a 32-bit caller can walk down to it.
    assert reg.subkey_names(r"HKLM\SOFTWARE", view=32) == ["Microsoft"]
    assert reg.subkey_names(r"HKLM\SOFTWARE\Microsoft", view=32) == ["RAS"]


def test_redirected_key_is_separate_per_view() -> None:
    reg = Registry()
    reg.set_value(r"HKLM\SOFTWARE\Vendor", "v", REG_SZ, b"6\x004\x00\x00\x00", view=64)
    reg.set_value(r"HKLM\SOFTWARE\Vendor", "v", REG_SZ, b"3\x002\x00\x00\x00", view=32)
    assert reg.get_value(r"HKLM\SOFTWARE\Vendor", "v")[1] == b"6\x004\x00\x00\x00"
    assert reg.get_value(r"HKLM\SOFTWARE\Wow6432Node\Vendor", "v")[1] == b"3\x002\x00\x00\x00"
    assert reg.subkey_names(r"HKLM\SOFTWARE") == ["Vendor", "Wow6432Node"]
    assert reg.subkey_names(r"HKLM\SOFTWARE", view=32) == ["Vendor"]


def test_hkcr_clsid_redirected_in_32bit_view() -> None:
    reg = Registry(default_view=32)
    reg.create_key(r"HKCR\CLSID\{abc}")
    assert reg.key_exists(r"HKLM\SOFTWARE\Classes\Wow6432Node\CLSID\{abc}", view=64)
    assert reg.key_exists(r"HKLM\SOFTWARE\Wow6432Node\Classes\CLSID\{abc}", view=64)
    assert not reg.key_exists(r"HKCR\CLSID\{abc}", view=64)
    reg.create_key(r"HKCR\.ext")
    assert reg.key_exists(r"HKCR\.ext", view=64)


def test_wow6432node_classes_link_is_listed_and_opens_the_target() -> None:
    reg = Registry()
    reg.create_key(r"HKLM\SOFTWARE\Wow6432Node\Vendor")
    assert reg.subkey_names(r"HKLM\SOFTWARE\Wow6432Node") == ["Vendor"]
    reg.create_key(r"HKLM\SOFTWARE\Classes\Wow6432Node\CLSID")
    assert reg.subkey_names(r"HKLM\SOFTWARE\Wow6432Node") == ["Classes", "Vendor"]
    assert reg.subkey_names(r"HKLM\SOFTWARE\Wow6432Node\Classes") == ["CLSID"]
    reg.set_value(r"HKLM\SOFTWARE\Wow6432Node\Classes\CLSID", "x", REG_SZ, b"")
    assert reg.get_value(r"HKLM\SOFTWARE\Classes\Wow6432Node\CLSID", "x") == (REG_SZ, b"")
    # the physical tree holds one key, not two
    paths = [p for p, _ in reg.snapshot().walk()]
    assert not any(p.upper().endswith(r"SOFTWARE\WOW6432NODE\CLASSES") for p in paths)


def test_32bit_enumeration_of_hklm_software_has_no_wow6432node() -> None:
    reg = Registry(default_view=32)
    reg.create_key(r"HKLM\SOFTWARE\A")
    reg.create_key(r"HKLM\SOFTWARE\Microsoft\RAS")
    assert reg.subkey_names(r"HKLM\SOFTWARE") == ["A", "Microsoft"]
    assert reg.subkey_names(r"HKLM\SOFTWARE", view=64) == ["Microsoft", "Wow6432Node"]
