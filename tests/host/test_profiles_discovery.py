"""Profiles (section 8) and registry discovery (R01-R04, R11-R14)."""

from __future__ import annotations

import pytest
from fakes import KEY, Opener, registry_with, rules

from emulator.errors import InputError
from emulator.host.discovery import discover
from emulator.host.engine import RasHost
from emulator.host.profiles import PROFILES, get_profile
from emulator.registry.model import REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_SZ, Registry


def test_profile_table() -> None:
    assert set(PROFILES) == {"nt4-x86", "win2000-x86", "win2000-x64", "win2003-x86",
                             "win2003-x64", "win2008-x86", "win2008-x64", "win7-x86", "win7-x64"}
    assert get_profile("win7") is PROFILES["win7-x64"]
    assert get_profile("NT4").bitness == 32
    w2k, w3, w8, w7 = (get_profile(n) for n in ("win2000", "win2003", "win2008", "win7"))
    assert not w2k.multi_dll and w3.multi_dll
    assert not w2k.hangup_after_refusal and w3.hangup_after_refusal
    assert not get_profile("nt4").hangup_after_refusal  # "2000 and earlier"
    assert "3" not in w3.variants and "3" in w8.variants and "Ex" not in w8.variants
    assert w8.ipv6 and w8.reauth and not w3.reauth
    assert w7.initialize_ex and "Ex" in w7.variants and not w8.initialize_ex


def test_unknown_profile_lists_names() -> None:
    with pytest.raises(InputError) as e:
        get_profile("win95")
    assert "win7-x64" in str(e.value) and "win95" in str(e.value)


@pytest.mark.parametrize("text", ["C:\\a.dll;C:\\b.dll", "C:\\a.dll; C:\\b.dll",
                                  " C:\\a.dll ;; C:\\b.dll ; "])
def test_semicolon_list_trimmed_in_order(text: str) -> None:  # R11, R12
    d = discover(registry_with(text), get_profile("win2003"))
    assert d.paths == ["C:\\a.dll", "C:\\b.dll"]


def test_value_name_case_insensitive() -> None:  # R13
    d = discover(registry_with("C:\\a.dll", name="DllPath"), get_profile("win7"))
    assert d.paths == ["C:\\a.dll"]
    d = discover(registry_with("C:\\a.dll", name="dllpath"), get_profile("win7"))
    assert d.paths == ["C:\\a.dll"]


def test_win2000_takes_one_path_and_does_not_split() -> None:  # R14
    d = discover(registry_with("C:\\a.dll;C:\\b.dll"), get_profile("win2000"))
    assert d.paths == ["C:\\a.dll;C:\\b.dll"]
    assert any(f.rule == "R14" and f.severity.value == "error" for f in d.findings)
    op = Opener(**{"C:\\a.dll;C:\\b.dll": {"missing": True}})
    host = RasHost(registry_with("C:\\a.dll;C:\\b.dll"), "win2000", opener=op)
    assert host.start() is False
    assert {"R14", "R15"} <= rules(host)


def test_multi_sz_is_finding_and_first_string() -> None:  # R02
    data = "C:\\a.dll\0C:\\b.dll\0\0".encode("utf-16-le")
    d = discover(registry_with(None, REG_MULTI_SZ, data), get_profile("win7"))
    assert d.paths == ["C:\\a.dll"]
    assert [f.rule for f in d.findings if f.severity.value == "error"] == ["R02"]


def test_expand_sz_not_expanded() -> None:  # R02
    data = "%SystemRoot%\\a.dll\0".encode("utf-16-le")
    d = discover(registry_with(None, REG_EXPAND_SZ, data), get_profile("win7"))
    assert d.paths == ["%SystemRoot%\\a.dll"]
    assert any(f.rule == "R02" for f in d.findings)


def test_dword_value_gives_no_dll() -> None:
    d = discover(registry_with(None, REG_DWORD, b"\1\0\0\0"), get_profile("win7"))
    assert d.paths == [] and any(f.rule == "R02" for f in d.findings)


def test_missing_key_means_no_admin_dll() -> None:
    host = RasHost(Registry(), "win7", opener=Opener())
    assert host.start() is True
    assert any(f.rule == "R01" and f.severity.value == "info" for f in host.findings)
    s = host.connect("alice", "VPN0")
    assert s.state == "connected" and s.address is not None
    host.stop()


def test_display_name_type() -> None:  # R03
    reg = registry_with("C:\\a.dll", display=None)
    reg.set_value(KEY, "DisplayName", REG_DWORD, b"\0\0\0\0")
    d = discover(reg, get_profile("win7"))
    assert any(f.rule == "R03" and f.severity.value == "error" for f in d.findings)
    reg2 = registry_with("C:\\a.dll")
    assert discover(reg2, get_profile("win7")).display_name == "Test admin DLL"
    assert REG_SZ == 1


def test_path_map_case_insensitive() -> None:
    op = Opener()
    host = RasHost(registry_with("C:\\Windows\\System32\\Vendor.DLL"), "win7", opener=op,
                   path_map={"c:\\windows\\system32\\vendor.dll": "/tmp/vendor.so"})
    assert host.start()
    assert {d.path for d in op.instances} == {"/tmp/vendor.so"}
    assert host.dlls[0].path == "C:\\Windows\\System32\\Vendor.DLL"
    host.stop()
