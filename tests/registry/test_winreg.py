"""FakeWinreg against CPython's winreg (PC/winreg.c) and the Win32 registry API documentation."""

from __future__ import annotations

import errno
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.registry import Registry
from emulator.registry.winreg import (
    WINREG_NAMES,
    FakeWinreg,
    PyHKEY,
    from_registry,
    to_registry,
)

RAS = r"SOFTWARE\Microsoft\RAS\AdminDll"

# -- audit hook (hooks cannot be removed: one per process, switched by a list) ----------

_AUDIT: list[list[tuple[str, tuple[Any, ...]]]] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if _AUDIT and event.startswith("winreg."):
        _AUDIT[-1].append((event, args))


sys.addaudithook(_hook)


@pytest.fixture
def audit() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    events: list[tuple[str, tuple[Any, ...]]] = []
    _AUDIT.append(events)
    yield events
    _AUDIT.remove(events)


@pytest.fixture
def w() -> FakeWinreg:
    return FakeWinreg(Registry())


def winerror(info: pytest.ExceptionInfo[OSError]) -> int:
    return info.value.winerror  # type: ignore[attr-defined,no-any-return]


# -- module surface -------------------------------------------------------------


CPYTHON_NAMES = ["CloseKey", "ConnectRegistry", "CreateKey", "CreateKeyEx", "DeleteKey", "DeleteKeyEx", "DeleteValue", "DisableReflectionKey", "EnableReflectionKey", "EnumKey", "EnumValue", "ExpandEnvironmentStrings", "FlushKey", "HKEYType", "HKEY_CLASSES_ROOT", "HKEY_CURRENT_CONFIG", "HKEY_CURRENT_USER", "HKEY_DYN_DATA", "HKEY_LOCAL_MACHINE", "HKEY_PERFORMANCE_DATA", "HKEY_USERS", "KEY_ALL_ACCESS", "KEY_CREATE_LINK", "KEY_CREATE_SUB_KEY", "KEY_ENUMERATE_SUB_KEYS", "KEY_EXECUTE", "KEY_NOTIFY", "KEY_QUERY_VALUE", "KEY_READ", "KEY_SET_VALUE", "KEY_WOW64_32KEY", "KEY_WOW64_64KEY", "KEY_WRITE", "LoadKey", "OpenKey", "OpenKeyEx", "QueryInfoKey", "QueryReflectionKey", "QueryValue", "QueryValueEx", "REG_BINARY", "REG_CREATED_NEW_KEY", "REG_DWORD", "REG_DWORD_BIG_ENDIAN", "REG_DWORD_LITTLE_ENDIAN", "REG_EXPAND_SZ", "REG_FULL_RESOURCE_DESCRIPTOR", "REG_LEGAL_CHANGE_FILTER", "REG_LEGAL_OPTION", "REG_LINK", "REG_MULTI_SZ", "REG_NONE", "REG_NOTIFY_CHANGE_ATTRIBUTES", "REG_NOTIFY_CHANGE_LAST_SET", "REG_NOTIFY_CHANGE_NAME", "REG_NOTIFY_CHANGE_SECURITY", "REG_NO_LAZY_FLUSH", "REG_OPENED_EXISTING_KEY", "REG_OPTION_BACKUP_RESTORE", "REG_OPTION_CREATE_LINK", "REG_OPTION_NON_VOLATILE", "REG_OPTION_OPEN_LINK", "REG_OPTION_RESERVED", "REG_OPTION_VOLATILE", "REG_QWORD", "REG_QWORD_LITTLE_ENDIAN", "REG_REFRESH_HIVE", "REG_RESOURCE_LIST", "REG_RESOURCE_REQUIREMENTS_LIST", "REG_SZ", "REG_WHOLE_HIVE_VOLATILE", "SaveKey", "SetValue", "SetValueEx", "error"]


def test_every_winreg_name_exists(w: FakeWinreg) -> None:
    for name in CPYTHON_NAMES:
        assert hasattr(w, name), name
    assert set(CPYTHON_NAMES) <= set(WINREG_NAMES)
    assert w.error is OSError
    assert w.HKEYType is PyHKEY and PyHKEY.__name__ == "PyHKEY"


def test_constants_have_real_values(w: FakeWinreg) -> None:
    assert tuple(
        range(0x80000000, 0x80000007)) == (w.HKEY_CLASSES_ROOT, w.HKEY_CURRENT_USER, w.HKEY_LOCAL_MACHINE, w.HKEY_USERS,
            w.HKEY_PERFORMANCE_DATA, w.HKEY_CURRENT_CONFIG, w.HKEY_DYN_DATA)
    assert (w.KEY_READ, w.KEY_WRITE, w.KEY_EXECUTE, w.KEY_ALL_ACCESS) == (
        131097, 131078, 131097, 983103)
    assert (w.KEY_WOW64_64KEY, w.KEY_WOW64_32KEY) == (256, 512)
    assert w.REG_LEGAL_CHANGE_FILTER == 268435471 and w.REG_LEGAL_OPTION == 31
    assert (w.REG_SZ, w.REG_MULTI_SZ, w.REG_QWORD, w.REG_DWORD_BIG_ENDIAN) == (1, 7, 11, 5)


@pytest.mark.skipif(sys.platform != "win32", reason="compares with the real winreg module")
def test_same_constants_as_real_winreg(w: FakeWinreg) -> None:  # pragma: no cover - Windows
    import winreg as real

    for name in dir(real):
        if name.isupper():
            assert getattr(w, name) == getattr(real, name), name


# -- handles ----------------------------------------------------------------------


def test_handle_object_behaviour(w: FakeWinreg) -> None:
    h = w.CreateKey(w.HKEY_CURRENT_USER, "K")
    assert isinstance(h, w.HKEYType)
    assert bool(h) and int(h) == h.handle != 0
    assert str(h) == f"<PyHKEY:{h.handle:#x}>"
    assert hash(h) == hash(h) and h == h and h != w.OpenKey(h, None)
    with pytest.raises(TypeError, match="bad operand type"):
        h + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        float(h)
    h.Close()
    h.Close()  # closing twice is fine
    assert not h and h.handle == 0


def test_closed_handle_is_invalid_winerror_6(w: FakeWinreg) -> None:
    h = w.CreateKey(w.HKEY_CURRENT_USER, "K")
    number = h.handle
    w.CloseKey(h)
    with pytest.raises(OSError) as info:
        w.QueryValueEx(h, "x")
    assert winerror(info) == 6 and info.value.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        w.EnumKey(number, 0)
    assert winerror(info) == 6
    with pytest.raises(OSError) as info:
        w.CloseKey(number)
    assert winerror(info) == 6


def test_context_manager_closes(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        assert w.open_handles() == [(h.handle, r"HKEY_CURRENT_USER\K")]
    assert w.open_handles() == []


def test_detach_keeps_the_handle_open_and_int_handles_work(w: FakeWinreg, audit: list[Any]) -> None:
    h = w.CreateKey(w.HKEY_CURRENT_USER, "K")
    number = h.Detach()
    assert audit[-1] == ("winreg.PyHKEY.Detach", (number,))
    assert h.handle == 0 and h.Detach() == 0
    w.SetValueEx(number, "v", 0, w.REG_DWORD, 1)
    assert w.QueryValueEx(number, "v") == (1, w.REG_DWORD)
    assert len(w.open_handles()) == 1
    w.CloseKey(number)
    assert w.open_handles() == []


def test_leaked_handles_are_listed_and_close_all(w: FakeWinreg) -> None:
    a = w.CreateKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\A")
    b = w.OpenKey(w.HKEY_LOCAL_MACHINE, "SOFTWARE")
    assert [p for _, p in w.open_handles()] == [r"HKEY_LOCAL_MACHINE\SOFTWARE\A",
                                                r"HKEY_LOCAL_MACHINE\SOFTWARE"]
    assert w.close_all() == 2
    assert w.open_handles() == []
    with pytest.raises(OSError) as info:
        w.QueryInfoKey(a)
    assert winerror(info) == 6
    with pytest.raises(OSError):
        b.Close()  # closing an already closed number fails, as RegCloseKey does
    assert not b


def test_garbage_collected_handle_is_closed(w: FakeWinreg) -> None:
    w.CreateKey(w.HKEY_CURRENT_USER, "K")  # result dropped at once, as CPython closes it
    assert w.open_handles() == []


@pytest.mark.parametrize("bad", [None, "HKLM", 1.5, object()])
def test_bad_key_argument_types(w: FakeWinreg, bad: object) -> None:
    with pytest.raises(TypeError):
        w.OpenKey(bad, "x")
    with pytest.raises(TypeError):
        w.QueryValueEx(bad, "x")


def test_closekey_type_error(w: FakeWinreg) -> None:
    with pytest.raises(TypeError, match="HKEY object or an integer"):
        w.CloseKey("x")


# -- open / create ----------------------------------------------------------------


def test_openkey_missing_is_file_not_found_2(w: FakeWinreg) -> None:
    with pytest.raises(FileNotFoundError) as info:
        w.OpenKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Nope")
    assert winerror(info) == 2


def test_openkey_signature_and_keywords(w: FakeWinreg) -> None:
    w.CreateKey(w.HKEY_LOCAL_MACHINE, RAS).Close()
    with w.OpenKey(w.HKEY_LOCAL_MACHINE, RAS.upper(), reserved=0, access=w.KEY_READ) as h:
        assert w.QueryInfoKey(h)[:2] == (0, 0)
    with w.OpenKeyEx(key=w.HKEY_LOCAL_MACHINE, sub_key=RAS) as h:
        assert h
    with pytest.raises(TypeError):
        w.CloseKey(hkey=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="argument 2 must be str or None, not int"):
        w.OpenKey(w.HKEY_LOCAL_MACHINE, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="embedded null"):
        w.OpenKey(w.HKEY_LOCAL_MACHINE, "a\0b")
    with pytest.raises(TypeError):
        w.OpenKey(w.HKEY_LOCAL_MACHINE, RAS, "0")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        w.OpenKey(w.HKEY_LOCAL_MACHINE, RAS, 0, 0x80000000)


def test_openkey_bad_reserved_and_both_views_are_error_87(w: FakeWinreg) -> None:
    with pytest.raises(OSError) as info:
        w.OpenKey(w.HKEY_LOCAL_MACHINE, "", 1)
    assert winerror(info) == 87
    with pytest.raises(OSError) as info:
        w.OpenKey(w.HKEY_LOCAL_MACHINE, "", 0, w.KEY_READ | w.KEY_WOW64_32KEY | w.KEY_WOW64_64KEY)
    assert winerror(info) == 87


def test_key_name_too_long_is_87_and_bad_path_161(w: FakeWinreg) -> None:
    w.CreateKey(w.HKEY_CURRENT_USER, "k" * 255).Close()
    with pytest.raises(OSError) as info:
        w.CreateKey(w.HKEY_CURRENT_USER, "k" * 256)
    assert winerror(info) == 87
    with pytest.raises(FileNotFoundError) as info2:
        w.CreateKey(w.HKEY_CURRENT_USER, r"\lead")
    assert info2.value.winerror == 161  # type: ignore[attr-defined]
    with pytest.raises(FileNotFoundError):
        w.CreateKey(w.HKEY_CURRENT_USER, r"a\\b")


def test_trailing_backslash_is_accepted(w: FakeWinreg) -> None:
    w.CreateKey(w.HKEY_CURRENT_USER, "Software\\").Close()
    assert w.registry.key_exists(r"HKCU\Software")


def test_openkey_none_or_empty_gives_new_handle_to_same_key(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h, w.OpenKey(h, None) as same:
        w.SetValueEx(h, "v", 0, w.REG_SZ, "x")
        assert same.handle != h.handle
        assert w.QueryValueEx(same, "v") == ("x", w.REG_SZ)


def test_createkey_none_on_predefined_returns_it(w: FakeWinreg) -> None:
    h = w.CreateKey(w.HKEY_CURRENT_USER, None)
    assert h.handle == w.HKEY_CURRENT_USER
    h.Close()
    assert w.open_handles() == []


def test_createkey_makes_parents_and_keeps_case(w: FakeWinreg) -> None:
    w.CreateKey(w.HKEY_LOCAL_MACHINE, r"Software\Vendor\App").Close()
    w.CreateKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\VENDOR\APP\Sub").Close()
    with w.OpenKey(w.HKEY_LOCAL_MACHINE, "software") as h:
        assert w.EnumKey(h, 0) == "Vendor"


def test_createkeyex_default_access_is_write_only(w: FakeWinreg) -> None:
    with w.CreateKeyEx(w.HKEY_CURRENT_USER, "K") as h:
        w.SetValueEx(h, "v", 0, w.REG_DWORD, 1)
        with pytest.raises(PermissionError) as info:
            w.QueryValueEx(h, "v")
        assert winerror(info) == 5
        with pytest.raises(PermissionError):
            w.EnumKey(h, 0)


def test_write_through_read_handle_is_permission_error_5(w: FakeWinreg) -> None:
    w.CreateKey(w.HKEY_CURRENT_USER, r"K\Existing").Close()
    with w.OpenKey(w.HKEY_CURRENT_USER, "K") as h:
        for call in (lambda: w.SetValueEx(h, "v", 0, w.REG_SZ, "x"),
                     lambda: w.DeleteValue(h, "v"),
                     lambda: w.SetValue(h, None, w.REG_SZ, "x"),
                     lambda: w.CreateKey(h, "New")):
            with pytest.raises(PermissionError) as info:
                call()
            assert winerror(info) == 5
        # opening an existing subkey needs no right on the parent
        w.CreateKey(h, "Existing").Close()


def test_query_needs_query_value_right(w: FakeWinreg) -> None:
    w.CreateKey(w.HKEY_CURRENT_USER, "K").Close()
    with w.OpenKey(w.HKEY_CURRENT_USER, "K", 0, w.KEY_ENUMERATE_SUB_KEYS) as h:
        with pytest.raises(PermissionError):
            w.QueryValueEx(h, "")
        with pytest.raises(PermissionError):
            w.EnumValue(h, 0)
        with pytest.raises(PermissionError):
            w.QueryInfoKey(h)
        with pytest.raises(OSError) as info:
            w.EnumKey(h, 0)
        assert winerror(info) == 259


# -- delete -------------------------------------------------------------------------


def test_deletekey_rules(w: FakeWinreg) -> None:
    w.CreateKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\A\B").Close()
    with pytest.raises(PermissionError) as info:
        w.DeleteKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\A")
    assert winerror(info) == 5
    with pytest.raises(FileNotFoundError) as info2:
        w.DeleteKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Nope")
    assert info2.value.winerror == 2  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="must be str, not None"):
        w.DeleteKey(w.HKEY_LOCAL_MACHINE, None)  # type: ignore[arg-type]
    w.DeleteKey(w.HKEY_LOCAL_MACHINE, r"software\a\b")
    w.DeleteKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\A")
    assert not w.registry.key_exists(r"HKLM\SOFTWARE\A")


def test_deletekey_empty_subkey_deletes_the_handle_key(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        w.DeleteKey(h, "")
        with pytest.raises(OSError) as info:
            w.QueryInfoKey(h)
        assert winerror(info) == 1018
    with pytest.raises(PermissionError):
        w.DeleteKey(w.HKEY_CURRENT_USER, "")


def test_deletekeyex_picks_the_view(w: FakeWinreg) -> None:
    w.CreateKeyEx(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Vendor", 0, w.KEY_WRITE | w.KEY_WOW64_32KEY).Close()
    w.CreateKeyEx(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Vendor", 0, w.KEY_WRITE | w.KEY_WOW64_64KEY).Close()
    w.DeleteKeyEx(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Vendor", access=w.KEY_WOW64_32KEY, reserved=0)
    assert not w.registry.key_exists(r"HKLM\SOFTWARE\Wow6432Node\Vendor", view=64)
    assert w.registry.key_exists(r"HKLM\SOFTWARE\Vendor", view=64)
    w.DeleteKeyEx(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Vendor")  # default KEY_WOW64_64KEY
    assert not w.registry.key_exists(r"HKLM\SOFTWARE\Vendor", view=64)
    with pytest.raises(OSError) as info:
        w.DeleteKeyEx(w.HKEY_LOCAL_MACHINE, r"SOFTWARE", w.KEY_WOW64_64KEY, 1)
    assert winerror(info) == 87


def test_deletevalue(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        w.SetValueEx(h, None, 0, w.REG_SZ, "default")
        w.SetValueEx(h, "v", 0, w.REG_SZ, "x")
        w.DeleteValue(h, "V")
        w.DeleteValue(h, None)
        assert w.QueryInfoKey(h)[1] == 0
        with pytest.raises(FileNotFoundError) as info:
            w.DeleteValue(h, "v")
        assert winerror(info) == 2


# -- enumeration ------------------------------------------------------------------------


def test_enumkey_order_and_end_is_259(w: FakeWinreg) -> None:
    for name in ["b", "A", "_x", "Z"]:
        w.CreateKey(w.HKEY_CURRENT_USER, "T\\" + name).Close()
    with w.OpenKey(w.HKEY_CURRENT_USER, "T") as h:
        names = []
        i = 0
        while True:
            try:
                names.append(w.EnumKey(h, i))
            except OSError as e:
                assert e.winerror == 259  # type: ignore[attr-defined]
                assert e.errno == errno.EINVAL
                break
            i += 1
        assert names == ["A", "b", "Z", "_x"]
        with pytest.raises(OSError) as info:
            w.EnumKey(h, -1)
        assert winerror(info) == 259
        with pytest.raises(TypeError):
            w.EnumKey(h, "0")  # type: ignore[arg-type]


def test_enumvalue_order_types_and_end(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        w.SetValueEx(h, "b", 0, w.REG_SZ, "s")
        w.SetValueEx(h, "a", 0, w.REG_DWORD, 5)
        w.SetValueEx(h, "", 0, w.REG_BINARY, b"\1")
        assert [w.EnumValue(h, i) for i in range(3)] == [
            ("b", "s", 1), ("a", 5, 4), ("", b"\x01", 3)]
        with pytest.raises(OSError) as info:
            w.EnumValue(h, 3)
        assert winerror(info) == 259


def test_queryinfokey_counts_and_last_write_time(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        w.CreateKey(h, "S1").Close()
        w.CreateKey(h, "S2").Close()
        n_sub, n_val, t0 = w.QueryInfoKey(h)
        assert (n_sub, n_val) == (2, 0)
        assert t0 > 116444736000000000  # after 1970 in 100 ns ticks since 1601
        w.SetValueEx(h, "v", 0, w.REG_DWORD, 1)
        assert w.QueryInfoKey(h)[1:] >= (1, t0)


# -- values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "value", "data", "back"),
    [
        (4, 0x12345678, b"\x78\x56\x34\x12", 0x12345678),
        (4, None, b"\0\0\0\0", 0),
        (4, True, b"\1\0\0\0", 1),
        (11, 2**64 - 1, b"\xff" * 8, 2**64 - 1),
        (11, None, b"\0" * 8, 0),
        (1, "héllo", "héllo\0".encode("utf-16-le"), "héllo"),
        (1, "a\0b", "a\0b\0".encode("utf-16-le"), "a"),
        (1, None, b"\0\0", ""),
        (1, "😀", "😀\0".encode("utf-16-le"), "😀"),
        (2, "%SystemRoot%\\x", "%SystemRoot%\\x\0".encode("utf-16-le"), "%SystemRoot%\\x"),
        (7, ["a", "", "b"], "a\0\0b\0\0".encode("utf-16-le"), ["a", "", "b"]),
        (7, [], b"\0\0", []),
        (7, None, b"\0\0", []),
        (3, b"\x00\x01", b"\x00\x01", b"\x00\x01"),
        (3, bytearray(b"ab"), b"ab", b"ab"),
        (3, memoryview(b"xyz"), b"xyz", b"xyz"),
        (3, b"", b"", None),
        (3, None, b"", None),
        (0, None, b"", None),
        (5, b"\0\0\0\1", b"\0\0\0\1", b"\0\0\0\1"),  # big-endian DWORD: bytes in CPython
        (0x1234, b"zz", b"zz", b"zz"),
    ],
)
def test_value_conversion_like_cpython(w: FakeWinreg, typ: int, value: Any, data: bytes, back: Any) -> None:
    assert to_registry(value, typ) == data
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        w.SetValueEx(h, "v", 0, typ, value)
        assert w.registry.get_value(r"HKCU\K", "v") == (typ, data)
        assert w.QueryValueEx(h, "v") == (back, typ)


@pytest.mark.parametrize(
    ("data", "typ", "value"),
    [
        (b"", 4, 0), (b"\1", 4, 1), (b"", 11, 0), (b"", 1, ""), (b"a\0b", 1, "a"),
        (b"a\0\0\0b\0", 1, "a"), (b"", 7, []), (b"a\0", 7, ["a"]), ("a\0b".encode("utf-16-le"), 7, ["a", "b"]),
        (b"\0\0\0\0", 7, [""]), (b"\0\0", 7, []), (b"\x01\x02\x03", 3, b"\x01\x02\x03"),
    ],
)
def test_reading_odd_data_like_cpython(data: bytes, typ: int, value: Any) -> None:
    assert from_registry(data, typ) == value


@pytest.mark.parametrize(
    ("typ", "value", "exc", "message"),
    [
        (4, "1", ValueError, "Could not convert the data to the specified type."),
        (4, 1.0, ValueError, "Could not convert"),
        (4, -1, OverflowError, "negative"),
        (4, 2**32, OverflowError, "too large"),
        (11, 2**64, OverflowError, "too big"),
        (1, b"x", ValueError, "Could not convert"),
        (7, ("a",), ValueError, "Could not convert"),
        (7, ["a", 1], ValueError, "Could not convert"),
        (3, "text", TypeError, "Objects of type 'str' can not be used as binary registry values"),
        (3, 5, TypeError, "Objects of type 'int'"),
    ],
)
def test_setvalueex_conversion_errors(w: FakeWinreg, typ: int, value: object, exc: type, message: str) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h, pytest.raises(exc, match=message):
        w.SetValueEx(h, "v", 0, typ, value)


def test_setvalueex_type_is_masked_to_32_bits_and_reserved_ignored(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        w.SetValueEx(h, "v", "anything", -1, b"x")
        assert w.QueryValueEx(h, "v") == (b"x", 0xFFFFFFFF)


def test_queryvalueex_missing_is_2_and_names_case_insensitive(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_LOCAL_MACHINE, RAS) as h:
        w.SetValueEx(h, "DllPath", 0, w.REG_SZ, "C:\\a.dll")
        assert w.QueryValueEx(h, "DLLPATH") == ("C:\\a.dll", 1)  # spec: both spellings are used
        with pytest.raises(FileNotFoundError) as info:
            w.QueryValueEx(h, "DisplayName")
        assert winerror(info) == 2
        with pytest.raises(TypeError):
            w.QueryValueEx(h, 1)  # type: ignore[arg-type]


def test_queryvalue_and_setvalue(w: FakeWinreg) -> None:
    assert w.QueryValue(w.HKEY_CURRENT_USER, None) == ""  # no default value: empty string
    w.SetValue(w.HKEY_CURRENT_USER, r"A\B", w.REG_SZ, "dflt")
    assert w.QueryValue(w.HKEY_CURRENT_USER, r"a\b") == "dflt"
    with w.OpenKey(w.HKEY_CURRENT_USER, r"A\B") as h:
        assert w.QueryValueEx(h, "") == ("dflt", w.REG_SZ)
        assert w.QueryValue(h, "") == "dflt"
    with pytest.raises(FileNotFoundError):
        w.QueryValue(w.HKEY_CURRENT_USER, "Nope")
    with pytest.raises(TypeError, match=r"type must be winreg\.REG_SZ"):
        w.SetValue(w.HKEY_CURRENT_USER, "A", w.REG_EXPAND_SZ, "x")
    with pytest.raises(TypeError, match="argument 4 must be str"):
        w.SetValue(w.HKEY_CURRENT_USER, "A", w.REG_SZ, 5)  # type: ignore[arg-type]
    with w.CreateKey(w.HKEY_CURRENT_USER, "D") as h:
        w.SetValueEx(h, "", 0, w.REG_DWORD, 1)
        with pytest.raises(OSError) as info:
            w.QueryValue(h, None)
        assert winerror(info) == 13
    assert w.open_handles() == []


def test_value_name_limit_16383(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        w.SetValueEx(h, "n" * 16383, 0, w.REG_SZ, "x")
        with pytest.raises(OSError) as info:
            w.SetValueEx(h, "n" * 16384, 0, w.REG_SZ, "x")
        assert winerror(info) == 87


# -- deleted keys under open handles ---------------------------------------------------


def test_key_deleted_under_open_handle_is_1018(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, r"K\Sub") as h:
        w.SetValueEx(h, "v", 0, w.REG_SZ, "x")
        w.DeleteKey(w.HKEY_CURRENT_USER, r"K\Sub")
        w.CreateKey(w.HKEY_CURRENT_USER, r"K\Sub").Close()  # a new key with the same name
        for call in (lambda: w.QueryValueEx(h, "v"), lambda: w.SetValueEx(h, "v", 0, 1, "y"),
                     lambda: w.EnumKey(h, 0), lambda: w.EnumValue(h, 0), lambda: w.OpenKey(h, ""),
                     lambda: w.CreateKey(h, "x"), lambda: w.FlushKey(h)):
            with pytest.raises(OSError) as info:
                call()
            assert winerror(info) == 1018
    assert not w.registry.key_exists(r"HKCU\K\Sub\x")


def test_handle_survives_snapshot_and_restore(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        w.SetValueEx(h, "v", 0, w.REG_DWORD, 1)
        snap = w.registry.snapshot()
        w.SetValueEx(h, "v", 0, w.REG_DWORD, 2)  # copy-on-write after the snapshot
        assert w.QueryValueEx(h, "v") == (2, 4)
        assert snap.value_items(r"HKCU\K") == [("v", 4, b"\1\0\0\0")]
        w.registry.restore(snap)
        assert w.QueryValueEx(h, "v") == (1, 4)


# -- views and merged root -----------------------------------------------------------------


def test_wow64_flags_and_shared_ras_key(w: FakeWinreg) -> None:
    with w.CreateKeyEx(w.HKEY_LOCAL_MACHINE, RAS, 0, w.KEY_ALL_ACCESS | w.KEY_WOW64_32KEY) as h:
        w.SetValueEx(h, "DLLPath", 0, w.REG_SZ, "C:\\Windows\\System32\\vendor.dll")
    with w.OpenKey(w.HKEY_LOCAL_MACHINE, RAS, 0, w.KEY_READ | w.KEY_WOW64_64KEY) as h:
        assert w.QueryValueEx(h, "DLLPath")[0] == "C:\\Windows\\System32\\vendor.dll"
    with w.CreateKeyEx(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Vendor", 0,
                       w.KEY_ALL_ACCESS | w.KEY_WOW64_32KEY) as h:
        w.SetValueEx(h, "bits", 0, w.REG_DWORD, 32)
    with pytest.raises(FileNotFoundError):
        w.OpenKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Vendor", 0, w.KEY_READ | w.KEY_WOW64_64KEY)
    with w.OpenKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\WOW6432Node\Vendor") as h:
        assert w.QueryValueEx(h, "bits") == (32, 4)
    with w.OpenKey(w.HKEY_LOCAL_MACHINE, "SOFTWARE", 0, w.KEY_READ | w.KEY_WOW64_32KEY) as h:
        assert sorted(w.EnumKey(h, i) for i in range(w.QueryInfoKey(h)[0])) == ["Microsoft", "Vendor"]
        # relative open below a 32-bit handle still reaches the shared key
        with w.OpenKey(h, r"Microsoft\RAS\AdminDll", 0, w.KEY_READ | w.KEY_WOW64_32KEY) as k:
            assert w.QueryInfoKey(k)[1] == 1


def test_32bit_process_default_view() -> None:
    w = FakeWinreg(Registry(default_view=32))
    w.CreateKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Vendor").Close()
    assert w.registry.key_exists(r"HKLM\SOFTWARE\Wow6432Node\Vendor", view=64)


def test_hkcr_through_winreg(w: FakeWinreg) -> None:
    w.SetValue(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Classes\.rasx", w.REG_SZ, "machine")
    w.CreateKey(w.HKEY_CURRENT_USER, r"Software\Classes\.user").Close()
    with w.OpenKey(w.HKEY_CLASSES_ROOT, "") as h:
        assert [w.EnumKey(h, i) for i in range(2)] == [".rasx", ".user"]
    assert w.QueryValue(w.HKEY_CLASSES_ROOT, ".rasx") == "machine"
    with w.OpenKey(w.HKEY_CLASSES_ROOT, ".user", 0, w.KEY_ALL_ACCESS) as h:
        w.SetValueEx(h, "", 0, w.REG_SZ, "user")
    assert w.registry.get_value(r"HKCU\Software\Classes\.user", "")[1] == "user\0".encode("utf-16-le")


def test_performance_data_and_dyn_data_are_invalid_handles(w: FakeWinreg) -> None:
    for h in (w.HKEY_PERFORMANCE_DATA, w.HKEY_DYN_DATA):
        with pytest.raises(OSError) as info:
            w.OpenKey(h, "x")
        assert winerror(info) == 6


# -- remaining functions ---------------------------------------------------------------------


def test_invalid_handle_is_audited_then_fails_6(w: FakeWinreg, audit: list[Any]) -> None:
    with pytest.raises(OSError) as info:
        w.QueryValueEx(0x7777, "v")
    assert winerror(info) == 6
    assert audit == [("winreg.QueryValue", (0x7777, None, "v"))]
    for call in (lambda: w.SetValueEx(0x7777, "v", 0, 1, "x"), lambda: w.EnumKey(0x7777, 0),
                 lambda: w.OpenKey(0x7777, "x"), lambda: w.CreateKey(0x7777, "x"),
                 lambda: w.DeleteKey(0x7777, "x"), lambda: w.QueryInfoKey(0x7777),
                 lambda: w.LoadKey(0x7777, "x", "f"), lambda: w.FlushKey(0x7777),
                 lambda: w.QueryReflectionKey(0x7777), lambda: w.QueryValue(0x7777, None)):
        with pytest.raises(OSError) as info:
            call()
        assert winerror(info) == 6


def test_connectregistry(w: FakeWinreg, audit: list[Any]) -> None:
    h = w.ConnectRegistry(None, w.HKEY_LOCAL_MACHINE)
    assert h.handle == w.HKEY_LOCAL_MACHINE
    assert audit[-1] == ("winreg.ConnectRegistry", (None, w.HKEY_LOCAL_MACHINE))
    assert w.ConnectRegistry("", w.HKEY_USERS).handle == w.HKEY_USERS
    with pytest.raises(FileNotFoundError) as info:
        w.ConnectRegistry(r"\\rasserver", w.HKEY_LOCAL_MACHINE)
    assert winerror(info) == 53
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as k, pytest.raises(OSError) as info2:
        w.ConnectRegistry(None, k)
    assert info2.value.winerror == 6  # type: ignore[attr-defined]


def test_expand_environment_strings(w: FakeWinreg) -> None:
    w.environ.clear()
    w.environ.update({"SystemRoot": "C:\\Windows", "A": "1"})
    assert w.ExpandEnvironmentStrings("%systemroot%\\System32") == "C:\\Windows\\System32"
    assert w.ExpandEnvironmentStrings("%UNDEF%x") == "%UNDEF%x"
    assert w.ExpandEnvironmentStrings("%UNDEF%A%") == "%UNDEF1"
    assert w.ExpandEnvironmentStrings("100%") == "100%"
    assert w.ExpandEnvironmentStrings("%%") == "%%"
    with pytest.raises(TypeError):
        w.ExpandEnvironmentStrings(None)  # type: ignore[arg-type]


def test_flush_and_reflection(w: FakeWinreg) -> None:
    with w.CreateKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\K") as h:
        w.FlushKey(h)
        assert w.QueryReflectionKey(h) is False
        w.DisableReflectionKey(h)
        assert w.QueryReflectionKey(h) is True
        w.EnableReflectionKey(h)
        assert w.QueryReflectionKey(h) is False


def test_savekey_loadkey_round_trip(w: FakeWinreg, tmp_path: Path) -> None:
    with w.CreateKey(w.HKEY_LOCAL_MACHINE, RAS) as h:
        w.SetValueEx(h, "DLLPath", 0, w.REG_SZ, "C:\\a.dll")
        w.SetValueEx(h, "odd", 0, 0x4242, b"\xff")
        w.CreateKey(h, "Sub").Close()
    file = tmp_path / "hive.json"
    with w.OpenKey(w.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\RAS") as h:
        w.SaveKey(h, str(file))
        with pytest.raises(FileExistsError) as info:
            w.SaveKey(h, str(file))
        assert winerror(info) == 183
    w.LoadKey(w.HKEY_USERS, "Loaded", str(file))
    assert w.registry.value_items(r"HKU\Loaded\AdminDll") == w.registry.value_items(
        r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll")
    assert w.registry.subkey_names(r"HKU\Loaded\AdminDll") == ["Sub"]
    with pytest.raises(PermissionError):
        w.LoadKey(w.HKEY_USERS, "Loaded", str(file))
    with pytest.raises(OSError) as info2:
        w.LoadKey(w.HKEY_CURRENT_USER, "X", str(file))
    assert info2.value.winerror == 87  # type: ignore[attr-defined]
    with pytest.raises(FileNotFoundError):
        w.LoadKey(w.HKEY_USERS, "Y", str(tmp_path / "missing"))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(OSError) as info3:
        w.LoadKey(w.HKEY_USERS, "Z", str(tmp_path / "bad.json"))
    assert info3.value.winerror == 1009  # type: ignore[attr-defined]


# -- audit events ----------------------------------------------------------------------------


def test_audit_events_match_cpython(w: FakeWinreg, audit: list[tuple[str, tuple[Any, ...]]]) -> None:
    hk = w.HKEY_LOCAL_MACHINE
    h = w.CreateKeyEx(hk, "SOFTWARE\\K", 0, w.KEY_ALL_ACCESS)
    w.SetValueEx(h, "v", 0, w.REG_DWORD, 1)
    w.QueryValueEx(h, "v")
    w.EnumValue(h, 0)
    w.QueryInfoKey(h)
    w.DeleteValue(h, "v")
    w.SetValue(h, "S", w.REG_SZ, "x")
    w.QueryValue(h, "S")
    h2 = w.OpenKey(hk, "SOFTWARE\\K")
    w.EnumKey(h2, 0)
    w.DeleteKeyEx(hk, "SOFTWARE\\K\\S")
    w.DeleteKey(hk, "SOFTWARE\\K")
    w.ExpandEnvironmentStrings("x")
    events = [(name, args) for name, args in audit]
    n, n2 = h.handle, h2.handle
    assert events == [
        ("winreg.CreateKey", (hk, "SOFTWARE\\K", w.KEY_ALL_ACCESS)),
        ("winreg.OpenKey/result", (n,)),
        ("winreg.SetValue", (n, "v", 4, 1)),
        ("winreg.QueryValue", (n, None, "v")),
        ("winreg.EnumValue", (n, 0)),
        ("winreg.QueryInfoKey", (n,)),
        ("winreg.DeleteValue", (n, "v")),
        ("winreg.SetValue", (n, "S", 1, "x")),  # no CreateKey event for the subkey (as CPython)
        ("winreg.QueryValue", (n, "S", None)),  # no OpenKey event either
        ("winreg.OpenKey", (hk, "SOFTWARE\\K", w.KEY_READ)),
        ("winreg.OpenKey/result", (n2,)),
        ("winreg.EnumKey", (n2, 0)),
        ("winreg.DeleteKey", (hk, "SOFTWARE\\K\\S", w.KEY_WOW64_64KEY)),
        ("winreg.DeleteKey", (hk, "SOFTWARE\\K", 0)),
        ("winreg.ExpandEnvironmentStrings", ("x",)),
    ]
    h.Close()
    h2.Close()


# -- threads ---------------------------------------------------------------------------------------


def test_threads_share_one_fake(w: FakeWinreg) -> None:
    def work(t: int) -> None:
        for i in range(200):
            with w.CreateKey(w.HKEY_LOCAL_MACHINE, rf"SOFTWARE\T{t}") as h:
                w.SetValueEx(h, f"v{i}", 0, w.REG_DWORD, i)
                assert w.QueryValueEx(h, f"v{i}") == (i, 4)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(len(w.registry.value_items(rf"HKLM\SOFTWARE\T{t}")) == 200 for t in range(4))
    assert w.open_handles() == []


def test_savekey_loadkey_error_paths(w: FakeWinreg, tmp_path: Path) -> None:
    with w.CreateKey(w.HKEY_CURRENT_USER, "K") as h:
        with pytest.raises(FileNotFoundError) as info:
            w.SaveKey(h, str(tmp_path / "no" / "dir.json"))
        assert winerror(info) == 3
        w.SaveKey(h, str(tmp_path / "k.json"))
    with pytest.raises(OSError) as info2:
        w.LoadKey(w.HKEY_USERS, r"a\b", str(tmp_path / "k.json"))
    assert info2.value.winerror == 87  # type: ignore[attr-defined]
    text = (tmp_path / "k.json").read_text().replace('"subkeys": []', '"subkeys": [{"name": "x\\\\y", "values": [], "subkeys": []}]', 1)
    (tmp_path / "bad.json").write_text(text)
    with pytest.raises(OSError) as info3:
        w.LoadKey(w.HKEY_USERS, "Bad", str(tmp_path / "bad.json"))
    assert info3.value.winerror == 1009  # type: ignore[attr-defined]
    assert not w.registry.key_exists(r"HKU\Bad")
    with pytest.raises(TypeError):
        w.SaveKey(h, None)  # type: ignore[arg-type]
