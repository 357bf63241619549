"""Registry model: paths, keys, values, case rules, limits, HKCR merge, threads, snapshots."""

from __future__ import annotations

import threading

import pytest

from emulator.errors import InputError
from emulator.registry import (
    HKEY_CLASSES_ROOT,
    HKEY_CURRENT_CONFIG,
    HKEY_CURRENT_USER,
    HKEY_LOCAL_MACHINE,
    HKEY_USERS,
    REG_BINARY,
    REG_DWORD,
    REG_QWORD,
    REG_SZ,
    KeyHasSubkeysError,
    KeyNotFoundError,
    Registry,
    RegistryPathError,
    ValueNotFoundError,
    diff,
    model,
    split_path,
)

RAS = r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll"


def sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


# -- constants and paths --------------------------------------------------------


def test_type_constants_have_windows_values() -> None:
    expected = {
        "REG_NONE": 0, "REG_SZ": 1, "REG_EXPAND_SZ": 2, "REG_BINARY": 3, "REG_DWORD": 4,
        "REG_DWORD_BIG_ENDIAN": 5, "REG_LINK": 6, "REG_MULTI_SZ": 7, "REG_RESOURCE_LIST": 8,
        "REG_FULL_RESOURCE_DESCRIPTOR": 9, "REG_RESOURCE_REQUIREMENTS_LIST": 10, "REG_QWORD": 11,
    }
    for name, value in expected.items():
        assert getattr(model, name) == value


@pytest.mark.parametrize(
    ("text", "root"),
    [
        ("HKLM", HKEY_LOCAL_MACHINE), ("hkey_local_machine", HKEY_LOCAL_MACHINE),
        ("HKCU", HKEY_CURRENT_USER), ("HKU", HKEY_USERS), ("hkcr", HKEY_CLASSES_ROOT),
        ("HKCC", HKEY_CURRENT_CONFIG), ("HKEY_USERS", HKEY_USERS),
    ],
)
def test_split_path_accepts_full_names_and_abbreviations(text: str, root: str) -> None:
    assert split_path(text) == (root, ())
    assert split_path(text + r"\A\b c") == (root, ("A", "b c"))


def test_split_path_keeps_forward_slash_inside_names() -> None:
    assert split_path(r"HKCR\MIME\Database\Content Type\text/plain")[1][-1] == "text/plain"


@pytest.mark.parametrize(
    "bad",
    ["HKXX\\A", "", "\\HKLM", "HKLM\\", "HKLM\\\\A", "HKLM\\A\\\\B", "HKLM\\A\\", "HKLM\\" + "x" * 256,
     "HKLM\\a\x00b"],
)
def test_split_path_rejects_bad_text_with_input_error(bad: str) -> None:
    with pytest.raises(RegistryPathError) as info:
        split_path(bad)
    assert isinstance(info.value, InputError)
    assert bad in str(info.value) or len(bad) > 200


def test_key_name_of_255_chars_is_allowed_256_is_error_87() -> None:
    reg = Registry()
    reg.create_key("HKLM\\" + "k" * 255)
    assert reg.key_exists("HKLM\\" + "K" * 255)
    with pytest.raises(RegistryPathError) as info:
        reg.create_key("HKLM\\" + "k" * 256)
    assert info.value.winerror == 87


def test_unknown_root_names_the_choices() -> None:
    with pytest.raises(RegistryPathError, match="HKEY_LOCAL_MACHINE"):
        split_path(r"HKEY_NOPE\x")


def test_depth_limit_512() -> None:
    reg = Registry()
    reg.create_key("HKCU\\" + "\\".join(["a"] * 512))
    with pytest.raises(RegistryPathError):
        reg.create_key("HKCU\\" + "\\".join(["a"] * 513))


# -- keys ---------------------------------------------------------------------------


def test_create_key_creates_parents_and_preserves_first_case() -> None:
    reg = Registry()
    reg.create_key(r"HKLM\Software\Vendor\Product")
    reg.create_key(r"HKLM\SOFTWARE\VENDOR\PRODUCT\Sub")
    assert reg.key_exists(r"hklm\software\vendor")
    assert reg.subkey_names("HKLM") == ["Software"]
    assert reg.subkey_names(r"HKLM\SOFTWARE\vendor") == ["Product"]


def test_subkeys_enumerate_in_upper_case_order() -> None:
    reg = Registry()
    for name in ["b", "A", "_x", "a1", "Z", "[", "ä"]:
        reg.create_key("HKCU\\T\\" + name)
    # Upper-cased order: 'A' < 'A1' < 'B' < 'Z' < '[' < '_X' < 'Ä' (Windows compares
    # upper-cased names; '[' (0x5B) and '_' (0x5F) sort after 'Z' only once upper-cased).
    assert reg.subkey_names(r"HKCU\T") == ["A", "a1", "b", "Z", "[", "_x", "ä"]


def test_key_names_with_different_case_are_one_key() -> None:
    reg = Registry()
    reg.create_key(r"HKCU\Abc")
    reg.create_key(r"HKCU\ABC")
    reg.create_key(r"HKCU\äbc")
    reg.create_key(r"HKCU\ÄBC")
    assert reg.subkey_names("HKCU") == ["Abc", "äbc"]


def test_delete_key_errors_and_recursive() -> None:
    reg = Registry()
    reg.create_key(r"HKLM\A\B\C")
    with pytest.raises(KeyHasSubkeysError):
        reg.delete_key(r"HKLM\A")
    with pytest.raises(KeyNotFoundError):
        reg.delete_key(r"HKLM\Nope")
    reg.delete_key(r"HKLM\a\b\c")
    assert not reg.key_exists(r"HKLM\A\B\C")
    reg.create_key(r"HKLM\A\B\C")
    reg.delete_key(r"HKLM\A", recursive=True)
    assert not reg.key_exists(r"HKLM\A")
    assert reg.subkey_names("HKLM") == []


def test_cannot_delete_a_root() -> None:
    reg = Registry()
    with pytest.raises(RegistryPathError) as info:
        reg.delete_key("HKLM")
    assert info.value.winerror == 5


def test_missing_key_errors() -> None:
    reg = Registry()
    with pytest.raises(KeyNotFoundError):
        reg.subkey_names(r"HKLM\X")
    with pytest.raises(KeyNotFoundError):
        reg.value_items(r"HKLM\X")
    with pytest.raises(KeyNotFoundError):
        reg.get_value(r"HKLM\X", "")
    with pytest.raises(KeyNotFoundError):
        reg.delete_value(r"HKLM\X", "")


def test_roots_exist_and_are_separate() -> None:
    reg = Registry()
    for root in ("HKLM", "HKCU", "HKU", "HKCR", "HKCC"):
        assert reg.key_exists(root)
    reg.create_key(r"HKU\.DEFAULT")
    assert not reg.key_exists(r"HKLM\.DEFAULT")


# -- values ---------------------------------------------------------------------------


def test_set_get_value_all_types_and_any_type_number() -> None:
    reg = Registry()
    reg.set_value(RAS, "DLLPath", REG_SZ, sz(r"C:\a.dll"))
    reg.set_value(RAS, "n", REG_DWORD, b"\x01\x00\x00\x00")
    reg.set_value(RAS, "q", REG_QWORD, b"\x01" * 8)
    reg.set_value(RAS, "odd", 0x12345, b"\xff")
    reg.set_value(RAS, "", REG_BINARY, b"")
    assert reg.get_value(RAS.lower(), "dllpath") == (REG_SZ, sz(r"C:\a.dll"))
    assert reg.get_value(RAS, "ODD") == (0x12345, b"\xff")
    assert reg.get_value(RAS, "") == (REG_BINARY, b"")
    with pytest.raises(ValueError):
        reg.set_value(RAS, "x", -1, b"")
    with pytest.raises(ValueError):
        reg.set_value(RAS, "x", 1 << 32, b"")


def test_value_order_is_insertion_and_overwrite_keeps_place_and_case() -> None:
    reg = Registry()
    reg.set_value(r"HKCU\K", "b", REG_SZ, sz("1"))
    reg.set_value(r"HKCU\K", "a", REG_SZ, sz("2"))
    reg.set_value(r"HKCU\K", "c", REG_SZ, sz("3"))
    reg.set_value(r"HKCU\K", "B", REG_DWORD, b"\0\0\0\0")
    assert [n for n, _, _ in reg.value_items(r"HKCU\K")] == ["b", "a", "c"]
    assert reg.value_items(r"HKCU\K")[0] == ("b", REG_DWORD, b"\0\0\0\0")
    reg.delete_value(r"HKCU\K", "A")
    reg.set_value(r"HKCU\K", "a", REG_SZ, sz("4"))
    assert [n for n, _, _ in reg.value_items(r"HKCU\K")] == ["b", "c", "a"]


def test_value_names_may_contain_backslash_and_be_16383_long() -> None:
    reg = Registry()
    reg.set_value(r"HKCU\K", r"a\b", REG_SZ, b"")
    reg.set_value(r"HKCU\K", "v" * 16383, REG_SZ, b"")
    assert reg.get_value(r"HKCU\K", r"A\B") == (REG_SZ, b"")
    assert not reg.key_exists(r"HKCU\K\a")
    with pytest.raises(RegistryPathError) as info:
        reg.set_value(r"HKCU\K", "v" * 16384, REG_SZ, b"")
    assert info.value.winerror == 87


def test_missing_value_errors() -> None:
    reg = Registry()
    reg.create_key(r"HKCU\K")
    with pytest.raises(ValueNotFoundError):
        reg.get_value(r"HKCU\K", "x")
    with pytest.raises(ValueNotFoundError):
        reg.delete_value(r"HKCU\K", "x")


def test_data_is_copied_to_bytes() -> None:
    reg = Registry()
    buf = bytearray(b"abc")
    reg.set_value(r"HKCU\K", "x", REG_BINARY, buf)  # type: ignore[arg-type]
    buf[0] = 0
    assert reg.get_value(r"HKCU\K", "x") == (REG_BINARY, b"abc")


# -- HKEY_CLASSES_ROOT merge ----------------------------------------------------------


def test_hkcr_merges_subkeys_and_prefers_user_values() -> None:
    reg = Registry()
    reg.set_value(r"HKLM\SOFTWARE\Classes\.txt", "", REG_SZ, sz("txtfile"))
    reg.set_value(r"HKLM\SOFTWARE\Classes\.txt", "Content Type", REG_SZ, sz("text/plain"))
    reg.create_key(r"HKLM\SOFTWARE\Classes\CLSID\2")
    reg.create_key(r"HKLM\SOFTWARE\Classes\CLSID\4\inprocserver32")
    reg.create_key(r"HKCU\Software\Classes\CLSID\1")
    reg.create_key(r"HKCU\Software\Classes\CLSID\4\localserver")
    assert reg.subkey_names(r"HKCR\CLSID") == ["1", "2", "4"]
    assert reg.get_value(r"HKCR\.txt", "") == (REG_SZ, sz("txtfile"))
    reg.set_value(r"HKCU\Software\Classes\.txt", "", REG_SZ, sz("mine"))
    assert reg.get_value(r"HKCR\.txt", "") == (REG_SZ, sz("mine"))
    # The user key hides the machine key's values (documented merge rule).
    with pytest.raises(ValueNotFoundError):
        reg.get_value(r"HKCR\.txt", "Content Type")


def test_hkcr_writes_go_to_user_key_if_it_exists_else_machine() -> None:
    reg = Registry()
    reg.set_value(r"HKCR\.abc", "", REG_SZ, sz("m"))
    assert reg.key_exists(r"HKLM\SOFTWARE\Classes\.abc")
    assert not reg.key_exists(r"HKCU\Software\Classes\.abc")
    reg.create_key(r"HKCU\Software\Classes\.abc")
    reg.set_value(r"HKCR\.abc", "", REG_SZ, sz("u"))
    assert reg.get_value(r"HKCU\Software\Classes\.abc", "") == (REG_SZ, sz("u"))
    assert reg.get_value(r"HKLM\SOFTWARE\Classes\.abc", "") == (REG_SZ, sz("m"))
    reg.create_key(r"HKCR\.new")
    assert reg.key_exists(r"HKLM\SOFTWARE\Classes\.new")
    reg.delete_key(r"HKCR\.abc")  # user copy first
    assert reg.key_exists(r"HKLM\SOFTWARE\Classes\.abc")
    assert not reg.key_exists(r"HKCU\Software\Classes\.abc")


def test_snapshot_of_hkcr_is_refused() -> None:
    with pytest.raises(RegistryPathError):
        Registry().snapshot("HKCR")


# -- snapshots ------------------------------------------------------------------------


def test_snapshot_is_immutable_and_restore_round_trips() -> None:
    reg = Registry()
    reg.set_value(RAS, "DLLPath", REG_SZ, sz("a"))
    snap = reg.snapshot()
    reg.set_value(RAS, "DLLPath", REG_SZ, sz("b"))
    reg.create_key(r"HKLM\X")
    reg.delete_key(r"HKLM\SOFTWARE", recursive=True)
    assert snap.value_items(RAS) == [("DLLPath", REG_SZ, sz("a"))]
    assert not snap.key_exists(r"HKLM\X")
    reg.restore(snap)
    assert reg.get_value(RAS, "DLLPath") == (REG_SZ, sz("a"))
    assert not reg.key_exists(r"HKLM\X")
    # writing after restore must not alter the snapshot
    reg.set_value(RAS, "DLLPath", REG_SZ, sz("c"))
    assert snap.value_items(RAS) == [("DLLPath", REG_SZ, sz("a"))]
    assert diff(snap, reg.snapshot()).values_changed[0].new == (REG_SZ, sz("c"))


def test_subtree_snapshot_and_restore_rejects_it() -> None:
    reg = Registry()
    reg.set_value(RAS, "DLLPath", REG_SZ, sz("a"))
    sub = reg.snapshot(r"HKLM\SOFTWARE\Microsoft\RAS")
    assert sub.path == r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RAS"
    assert [p for p, _ in sub.walk()] == [sub.path, sub.path + r"\AdminDll"]
    with pytest.raises(ValueError):
        reg.restore(sub)
    with pytest.raises(KeyNotFoundError):
        reg.snapshot(r"HKLM\Nope")


def test_snapshot_shares_unchanged_subtrees() -> None:
    reg = Registry()
    for i in range(50):
        reg.set_value(rf"HKLM\SOFTWARE\V{i}", "x", REG_DWORD, b"\0\0\0\0")
    a = reg.snapshot()
    reg.set_value(r"HKLM\SOFTWARE\V7", "x", REG_DWORD, b"\1\0\0\0")
    b = reg.snapshot()
    sa, sb = a.nodes[HKEY_LOCAL_MACHINE], b.nodes[HKEY_LOCAL_MACHINE]
    soft_a, soft_b = sa.subkeys["SOFTWARE"], sb.subkeys["SOFTWARE"]
    assert soft_a is not soft_b
    shared = sum(soft_a.subkeys[k] is soft_b.subkeys[k] for k in soft_a.subkeys)
    assert shared == 49
    assert a.nodes[HKEY_CURRENT_USER] is b.nodes[HKEY_CURRENT_USER]


def test_default_view_must_be_32_or_64() -> None:
    with pytest.raises(ValueError):
        Registry(default_view=16)
    with pytest.raises(ValueError):
        Registry().key_exists("HKLM", view=48)


# -- threads --------------------------------------------------------------------------


def test_concurrent_writers_lose_nothing() -> None:
    reg = Registry()
    snaps = []

    def work(t: int) -> None:
        for i in range(300):
            reg.set_value(rf"HKLM\SOFTWARE\T{t}\K{i % 7}", f"v{i}", REG_DWORD, i.to_bytes(4, "little"))
            if i % 50 == 0:
                snaps.append(reg.snapshot())

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in range(4):
        total = sum(len(reg.value_items(rf"HKLM\SOFTWARE\T{t}\K{k}")) for k in range(7))
        assert total == 300
    assert len(snaps) == 24
