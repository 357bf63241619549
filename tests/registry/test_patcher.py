"""Patcher, seeds and pytest fixtures: the code under test gets the fake winreg."""

from __future__ import annotations

import sys
import types

import pytest

from emulator.errors import InputError
from emulator.registry import Registry
from emulator.registry.patcher import GuardedWinreg, Patcher, RegistryAccessError
from emulator.registry.seeds import SEEDS, apply_seed, seeded
from emulator.registry.winreg import FakeWinreg

ADMIN = r"SOFTWARE\Microsoft\RAS\AdminDll"


def install_admin_dll(path: str) -> None:
    """What a vendor installer does (R01): plain winreg code."""
    import winreg

    with winreg.CreateKeyEx(winreg.HKEY_LOCAL_MACHINE, ADMIN, 0, winreg.KEY_ALL_ACCESS) as key:
        winreg.SetValueEx(key, "DisplayName", 0, winreg.REG_SZ, "Vendor IP pool")
        winreg.SetValueEx(key, "DLLPath", 0, winreg.REG_SZ, path)


def read_admin_dll() -> str:
    from winreg import HKEY_LOCAL_MACHINE, OpenKey, QueryValueEx

    with OpenKey(HKEY_LOCAL_MACHINE, ADMIN) as key:
        return str(QueryValueEx(key, "DllPath")[0])


def test_context_manager_installs_and_removes_the_fake() -> None:
    before = sys.modules.get("winreg")
    with Patcher(seed="ras_server") as p:
        assert sys.modules["winreg"] is p.winreg
        install_admin_dll(r"C:\Windows\System32\vendor.dll")
        assert read_admin_dll() == r"C:\Windows\System32\vendor.dll"
        assert p.registry.key_exists(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll")
        assert p.fake.open_handles() == []
    assert sys.modules.get("winreg") is before


def test_decorator_form() -> None:
    patcher = Patcher()

    @patcher
    def body() -> str:
        install_admin_dll("x.dll")
        return read_admin_dll()

    assert body() == "x.dll"
    assert body.__name__ == "body"
    assert patcher.registry.get_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "DLLPath")[0] == 1


def test_start_stop_nest_and_setup_aliases() -> None:
    p = Patcher()
    p.setUp()
    p.start()
    p.stop()
    assert sys.modules["winreg"] is p.winreg
    p.tearDown()
    assert sys.modules.get("winreg") is not p.winreg
    p.stop()  # extra stop is harmless


def test_given_registry_is_used_and_seeded() -> None:
    reg = Registry()
    with Patcher(registry=reg, seed="windows") as p:
        assert p.registry is reg
    assert reg.key_exists(r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion")


def test_unknown_seed_is_input_error() -> None:
    with pytest.raises(InputError, match="ras_server"):
        Patcher(seed="nope")


def test_guard_mode_names_the_call() -> None:
    with Patcher(guard=True) as p:
        import winreg

        assert winreg.HKEY_LOCAL_MACHINE == 0x80000002  # constants still readable
        with pytest.raises(RegistryAccessError, match=r"winreg\.OpenKey\(2147483650, 'SOFTWARE'\)"):
            winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, "SOFTWARE")
        assert isinstance(p.winreg, GuardedWinreg)
        assert p.winreg.calls == ["winreg.OpenKey(2147483650, 'SOFTWARE')"]
        with pytest.raises(TypeError):
            _ = p.fake
    assert issubclass(RegistryAccessError, AssertionError)


def test_existing_references_to_a_real_module_are_replaced() -> None:
    # Stand in for Windows: a "real" winreg module already imported by a module under test.
    real = types.ModuleType("winreg")

    def OpenKey(*args: object) -> None:
        raise AssertionError("the real registry was touched")

    real.OpenKey = OpenKey  # type: ignore[attr-defined]
    user = types.ModuleType("vendor_installer")
    user.winreg = real  # type: ignore[attr-defined]
    user.OpenKey = OpenKey  # type: ignore[attr-defined]
    saved = sys.modules.get("winreg")
    sys.modules["winreg"] = real
    sys.modules["vendor_installer"] = user
    try:
        with Patcher() as p:
            assert user.winreg is p.winreg  # type: ignore[attr-defined]
            assert user.OpenKey == p.fake.OpenKey  # type: ignore[attr-defined]
            with pytest.raises(FileNotFoundError):
                user.OpenKey(p.fake.HKEY_LOCAL_MACHINE, "x")  # type: ignore[attr-defined]
        assert user.winreg is real  # type: ignore[attr-defined]
        assert user.OpenKey is OpenKey  # type: ignore[attr-defined]
        assert sys.modules["winreg"] is real
    finally:
        del sys.modules["vendor_installer"]
        if saved is None:
            sys.modules.pop("winreg", None)
        else:
            sys.modules["winreg"] = saved


def test_reimporting_a_module_under_test_gets_the_fake() -> None:
    mod = types.ModuleType("reg_user")
    source = "import winreg\nHKLM = winreg.HKEY_LOCAL_MACHINE\nW = winreg\nfrom winreg import *\n"
    with Patcher() as p:
        exec(compile(source, "reg_user", "exec"), mod.__dict__)
        assert mod.W is p.winreg
        assert mod.OpenKey == p.fake.OpenKey and mod.REG_SZ == 1 and mod.HKEYType is p.fake.HKEYType
        assert not hasattr(mod, "registry")  # only winreg's own names


# -- seeds ------------------------------------------------------------------------------------


def test_seed_names() -> None:
    assert set(SEEDS) == {"empty", "windows", "ras_server"}
    assert list(seeded("empty").snapshot().walk()) == [
        ("HKEY_LOCAL_MACHINE", []), ("HKEY_CURRENT_USER", []), ("HKEY_USERS", []),
        ("HKEY_CURRENT_CONFIG", [])]


def test_windows_seed_skeleton() -> None:
    reg = seeded("windows")
    for key in (r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion",
                r"HKLM\SYSTEM\CurrentControlSet\Services", r"HKLM\SOFTWARE\WOW6432Node",
                r"HKLM\SOFTWARE\Classes", r"HKCU\Software", r"HKU\.DEFAULT"):
        assert reg.key_exists(key, view=64), key
    assert reg.get_value(r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion", "ProgramFilesDir",
                         view=32)[1] == "C:\\Program Files (x86)\0".encode("utf-16-le")
    assert not reg.key_exists(r"HKLM\SOFTWARE\Microsoft\RAS")


def test_ras_server_seed_has_rras_keys_but_no_admin_dll() -> None:
    reg = seeded("ras_server")
    assert reg.key_exists(r"HKLM\SOFTWARE\Microsoft\RAS")
    assert not reg.key_exists(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll")  # R01: the vendor adds it
    params = r"HKLM\SYSTEM\CurrentControlSet\Services\RemoteAccess\Parameters"
    assert [n for n, _, _ in reg.value_items(params)] == ["LANOnlyMode", "ServerFlags", "ServiceDLL"]
    assert reg.key_exists(r"HKLM\SOFTWARE\Microsoft\RAS", view=32)  # shared (R10)
    reg2 = Registry()
    apply_seed(reg2, "ras_server")
    from emulator.registry import diff

    assert diff(reg.snapshot(), reg2.snapshot()).is_empty


# -- fixtures ------------------------------------------------------------------------------------


def test_fake_registry_fixture_default_empty(fake_registry: FakeWinreg) -> None:
    import winreg

    assert winreg is fake_registry  # type: ignore[comparison-overlap]
    assert fake_registry.registry.subkey_names("HKLM") == []


@pytest.mark.parametrize("fake_registry", ["ras_server"], indirect=True)
def test_fake_registry_fixture_seeded(fake_registry: FakeWinreg) -> None:
    install_admin_dll("C:\\v.dll")
    assert read_admin_dll() == "C:\\v.dll"
    assert fake_registry.open_handles() == []


def test_no_registry_fixture(no_registry: GuardedWinreg) -> None:
    with pytest.raises(RegistryAccessError, match=r"winreg\.OpenKey\(2147483650"):
        read_admin_dll()


def test_composes_with_pyfakefs(fs: object, fake_registry: FakeWinreg) -> None:
    import os

    w = fake_registry
    with w.CreateKey(w.HKEY_LOCAL_MACHINE, ADMIN) as h:
        w.SetValueEx(h, "DLLPath", 0, w.REG_SZ, "x")
        os.makedirs("/hives")
        w.SaveKey(h, "/hives/admin.json")
    assert os.path.exists("/hives/admin.json")  # written into the fake file system
    w.LoadKey(w.HKEY_USERS, "Copy", "/hives/admin.json")
    assert w.registry.get_value(r"HKU\Copy", "DLLPath")[0] == 1


def test_composes_with_pyfakefs_in_either_order(fake_registry: FakeWinreg, fs: object) -> None:
    import os
    import winreg

    assert winreg is fake_registry  # type: ignore[comparison-overlap]
    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, "K") as h:
        winreg.SaveKey(h, "/k.json")
    assert os.path.exists("/k.json")


class TestClassScope:
    def test_first(self, fake_registry_class: FakeWinreg) -> None:
        fake_registry_class.CreateKey(fake_registry_class.HKEY_CURRENT_USER, "Shared").Close()

    def test_second_sees_first(self, fake_registry_class: FakeWinreg) -> None:
        assert fake_registry_class.registry.key_exists(r"HKCU\Shared")


def test_module_and_session_fixtures(fake_registry_module: FakeWinreg,
                                     fake_registry_session: FakeWinreg) -> None:
    assert isinstance(fake_registry_module, FakeWinreg)
    assert isinstance(fake_registry_session, FakeWinreg)
