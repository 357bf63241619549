"""advapi32 registry handlers driven by real guest code (mingw DLLs built from C snippets).

Each export returns 0 and leaves its observations in ``out[]`` (read back through the ``Out``
export); the expected numbers are Windows' documented results.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.loaders.base import Call
from emulator.loaders.pe.loader import PeDll
from emulator.loaders.pe.winapi.env import PeOptions, load
from emulator.registry.model import REG_DWORD, REG_EXPAND_SZ, REG_SZ, Registry
from fixtures.dlls.build_selfreg import MingwMissing, build_snippet

SRC = r"""
#include <windows.h>
static DWORD out[64];
__declspec(dllexport) DWORD WINAPI Out(DWORD i) { return out[i]; }
#define W(s) (const BYTE *)(s), (DWORD)sizeof(s)

__declspec(dllexport) DWORD WINAPI SetQuery(void)
{
    HKEY k; DWORD disp = 0, type = 0, cb;
    static const WCHAR v[] = L"C:\\Vendor\\admin.dll";
    out[0] = RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\RAS\\AdminDll", 0, NULL, 0,
                             KEY_ALL_ACCESS, NULL, &k, &disp);
    out[1] = disp;
    out[2] = RegSetValueExW(k, L"DLLPath", 0, REG_SZ, W(v));
    BYTE small[8]; cb = sizeof small;
    out[3] = RegQueryValueExW(k, L"DLLPath", NULL, &type, small, &cb);
    out[4] = cb; out[5] = type;
    cb = 0;
    out[6] = RegQueryValueExW(k, L"DLLPath", NULL, NULL, NULL, &cb);
    out[7] = cb;
    WCHAR big[64]; cb = sizeof big;
    out[8] = RegQueryValueExW(k, L"dllpath", NULL, &type, (BYTE *)big, &cb);
    out[9] = lstrcmpW(big, v) == 0;
    out[10] = RegQueryValueExW(k, L"Missing", NULL, NULL, NULL, &cb);
    out[11] = RegCloseKey(k);
    out[12] = RegCloseKey(k);
    HKEY k2;
    out[13] = RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\RAS\\AdminDll", 0, NULL, 0,
                              KEY_READ, NULL, &k2, &disp);
    out[14] = disp;
    out[15] = RegSetValueExW(k2, L"X", 0, REG_SZ, W(v));
    out[16] = RegQueryValueExW(k2, L"DLLPath", (DWORD *)1, NULL, NULL, &cb);
    out[17] = RegQueryValueExW(k2, L"DLLPath", NULL, NULL, small, NULL);
    RegCloseKey(k2);
    return 0;
}

__declspec(dllexport) DWORD WINAPI Wow(void)
{
    HKEY k; DWORD one = 1;
    out[0] = RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Vendor\\Pool", 0, NULL, 0, KEY_WRITE, NULL, &k, NULL);
    out[1] = RegSetValueExW(k, L"Default", 0, REG_DWORD, (const BYTE *)&one, 4);
    RegCloseKey(k);
    out[2] = RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Vendor\\Pool64", 0, NULL, 0,
                             KEY_WRITE | KEY_WOW64_64KEY, NULL, &k, NULL);
    RegCloseKey(k);
    out[3] = RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Vendor\\Pool32", 0, NULL, 0,
                             KEY_WRITE | KEY_WOW64_32KEY, NULL, &k, NULL);
    RegCloseKey(k);
    out[4] = RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\RAS\\AdminDll", 0, NULL, 0,
                             KEY_WRITE, NULL, &k, NULL);
    out[5] = RegSetValueExW(k, L"DisplayName", 0, REG_SZ, W(L"Pool"));
    RegCloseKey(k);
    out[6] = RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Vendor", 0,
                           KEY_READ | KEY_WOW64_32KEY | KEY_WOW64_64KEY, &k);
    out[7] = RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Preset", 0, KEY_READ, &k);
    if (out[7] == 0) RegCloseKey(k);
    return 0;
}

__declspec(dllexport) DWORD WINAPI Errors(void)
{
    HKEY k, sub, gone;
    out[0] = RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Nope", 0, KEY_READ, &k);
    out[1] = RegCreateKeyExW(HKEY_CURRENT_USER, L"Software\\T\\A\\B", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &k, NULL);
    RegCloseKey(k);
    out[2] = RegDeleteKeyW(HKEY_CURRENT_USER, L"Software\\T\\A");
    out[3] = RegDeleteKeyW(HKEY_CURRENT_USER, L"Software\\T\\A\\B");
    out[4] = RegDeleteKeyW(HKEY_CURRENT_USER, L"Software\\T\\A\\B");
    RegCreateKeyExW(HKEY_CURRENT_USER, L"Software\\T\\A\\C\\D", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &k, NULL);
    RegCloseKey(k);
    out[5] = RegDeleteTreeW(HKEY_CURRENT_USER, L"Software\\T\\A");
    out[6] = RegOpenKeyExW(HKEY_CURRENT_USER, L"Software\\T\\A", 0, KEY_READ, &k);
    out[7] = RegSetValueExW((HKEY)(ULONG_PTR)0x1234, L"x", 0, REG_SZ, W(L"y"));
    out[8] = RegOpenKeyExW(HKEY_CURRENT_USER, L"\\Software", 0, KEY_READ, &k);
    RegCreateKeyExW(HKEY_CURRENT_USER, L"Software\\T\\Gone", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &gone, NULL);
    out[9] = RegDeleteKeyW(HKEY_CURRENT_USER, L"Software\\T\\Gone");
    out[10] = RegSetValueExW(gone, L"v", 0, REG_SZ, W(L"x"));
    out[11] = RegCloseKey(gone);
    out[12] = RegDeleteKeyW(HKEY_LOCAL_MACHINE, L"");
    RegCreateKeyExW(HKEY_CURRENT_USER, L"Software\\T", 0, NULL, 0, KEY_READ, NULL, &sub, NULL);
    out[13] = RegDeleteValueW(sub, L"nothing");
    RegCloseKey(sub);
    RegCreateKeyExW(HKEY_CURRENT_USER, L"Software\\T", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &sub, NULL);
    out[14] = RegDeleteValueW(sub, L"nothing");
    RegSetValueExW(sub, L"v", 0, REG_SZ, W(L"x"));
    out[15] = RegDeleteValueW(sub, L"V");
    out[16] = RegDeleteKeyExW(HKEY_CURRENT_USER, L"Software\\T", KEY_WOW64_64KEY, 0);
    RegCloseKey(sub);
    return 0;
}

__declspec(dllexport) DWORD WINAPI Enum(void)
{
    HKEY k, s;
    DWORD n, cb, type, i;
    RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\E", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &k, NULL);
    RegCreateKeyExW(k, L"beta", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &s, NULL); RegCloseKey(s);
    RegCreateKeyExW(k, L"Alpha", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &s, NULL); RegCloseKey(s);
    RegCreateKeyExW(k, L"gamma_long_name", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &s, NULL); RegCloseKey(s);
    RegSetValueExW(k, L"first", 0, REG_SZ, W(L"0123456789"));
    DWORD dw = 7;
    RegSetValueExW(k, L"second", 0, REG_DWORD, (const BYTE *)&dw, 4);
    WCHAR name[64];
    for (i = 0; i < 3; i++) {
        n = 64;
        out[i] = RegEnumKeyExW(k, i, name, &n, NULL, NULL, NULL, NULL);
        out[10 + i] = n;
        out[20 + i] = name[0];
    }
    n = 64;
    out[3] = RegEnumKeyExW(k, 3, name, &n, NULL, NULL, NULL, NULL);
    n = 3;
    out[4] = RegEnumKeyExW(k, 2, name, &n, NULL, NULL, NULL, NULL);
    BYTE data[4];
    n = 64; cb = sizeof data;
    out[5] = RegEnumValueW(k, 0, name, &n, NULL, &type, data, &cb);
    out[6] = cb;
    n = 64; cb = sizeof data;
    out[7] = RegEnumValueW(k, 1, name, &n, NULL, &type, data, &cb);
    out[8] = type; out[9] = *(DWORD *)data; out[14] = n;
    n = 64; cb = sizeof data;
    out[15] = RegEnumValueW(k, 2, name, &n, NULL, &type, data, &cb);
    DWORD subs, maxsub, vals, maxname, maxdata;
    out[16] = RegQueryInfoKeyW(k, NULL, NULL, NULL, &subs, &maxsub, NULL, &vals, &maxname, &maxdata, NULL, NULL);
    out[17] = subs; out[18] = maxsub; out[19] = vals; out[24] = maxname; out[25] = maxdata;
    RegCloseKey(k);
    return 0;
}

__declspec(dllexport) DWORD WINAPI GetValue(void)
{
    HKEY k;
    DWORD type, cb, dw;
    WCHAR buf[64];
    RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &k, NULL);
    RegSetValueExW(k, L"exp", 0, REG_EXPAND_SZ, W(L"%SystemRoot%\\ras"));
    RegSetValueExW(k, L"sz", 0, REG_SZ, (const BYTE *)L"abc", 6); /* stored without a NUL */
    BYTE three[3] = {1, 2, 3};
    RegSetValueExW(k, L"bin3", 0, REG_BINARY, three, 3);
    RegCloseKey(k);
    cb = sizeof buf;
    out[0] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", L"exp", RRF_RT_REG_SZ, &type, buf, &cb);
    out[1] = type; out[2] = cb; out[3] = lstrcmpW(buf, L"C:\\Windows\\ras") == 0;
    cb = sizeof buf;
    out[4] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", L"exp", RRF_RT_REG_EXPAND_SZ, &type, buf, &cb);
    cb = sizeof buf;
    out[5] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", L"exp", RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND,
                          &type, buf, &cb);
    out[6] = type; out[7] = cb;
    cb = sizeof dw;
    out[8] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", L"sz", RRF_RT_REG_DWORD, &type, &dw, &cb);
    cb = sizeof buf;
    out[9] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", L"sz", RRF_RT_REG_SZ, &type, buf, &cb);
    out[10] = cb; out[11] = buf[3];
    cb = 4;
    out[12] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", L"bin3", RRF_RT_DWORD, &type, &dw, &cb);
    cb = 2;
    out[13] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", L"sz", RRF_RT_ANY, &type, buf, &cb);
    out[14] = cb;
    out[15] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Nope", L"sz", RRF_RT_ANY, NULL, NULL, NULL);
    cb = 0;
    out[16] = RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\G", L"exp", RRF_RT_REG_SZ, NULL, NULL, &cb);
    out[17] = cb;
    return 0;
}

__declspec(dllexport) DWORD WINAPI Ansi(void)
{
    HKEY k;
    char buf[16];
    DWORD cb = sizeof buf, type;
    out[0] = RegCreateKeyExA(HKEY_LOCAL_MACHINE, "SOFTWARE\\A", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &k, NULL);
    out[1] = RegSetValueExA(k, "name", 0, REG_SZ, (const BYTE *)"caf\xe9", 5);
    out[2] = RegQueryValueExA(k, "name", NULL, &type, (BYTE *)buf, &cb);
    out[3] = cb; out[4] = (BYTE)buf[3];
    RegCloseKey(k);
    return 0;
}

__declspec(dllexport) DWORD WINAPI Events(void)
{
    WCHAR user[32];
    DWORD n = 2;
    out[0] = GetUserNameW(user, &n);
    out[1] = GetLastError(); out[2] = n;
    n = 32;
    out[3] = GetUserNameW(user, &n);
    out[4] = n;
    HANDLE h = RegisterEventSourceW(NULL, L"VendorPool");
    LPCWSTR strings[2] = {L"pool exhausted", L"192.168.1.0/24"};
    out[5] = ReportEventW(h, EVENTLOG_ERROR_TYPE, 0, 0xC0001001, NULL, 2, 0, strings, NULL);
    out[6] = DeregisterEventSource(h);
    return 0;
}
"""


@pytest.fixture(scope="module", autouse=True)
def _compile_in_parallel() -> None:
    from fixtures.dlls.build_selfreg import prebuild_snippets

    prebuild_snippets([(SRC, 32, ("advapi32",)), (SRC, 64, ("advapi32",))])


@pytest.fixture(scope="module", params=[32, 64], ids=["x86", "x64"])
def snippet(request: pytest.FixtureRequest) -> tuple[int, str]:
    bits = int(request.param)
    try:
        return bits, str(build_snippet(SRC, bits))
    except MingwMissing as exc:
        pytest.skip(str(exc))


class Guest:
    """A loaded snippet DLL plus its registry and options."""

    def __init__(self, bits: int, path: str, registry: Registry, wow64: bool = True) -> None:
        self.bits = bits
        self.reg = registry
        self.opts = PeOptions(registry=registry, wow64=wow64)
        self.dll: PeDll = load(path, bitness=bits, opts=self.opts)

    def run(self, export: str) -> list[int]:
        r = self.dll.handle_call(Call(export, ()))
        assert r.fault is None, r.fault
        assert r.returned == 0
        self.debug = r.debug_output
        return [int(self.dll.handle_call(Call("Out", (i,))).returned or 0) for i in range(32)]


@pytest.fixture
def guest(snippet: tuple[int, str]) -> Iterator[Guest]:
    g = Guest(snippet[0], snippet[1], Registry())
    yield g
    g.dll.close()


def test_create_set_query_with_more_data_sizes(guest: Guest) -> None:
    o = guest.run("SetQuery")
    path_bytes = len("C:\\Vendor\\admin.dll") * 2 + 2  # 40
    assert o[0] == 0 and o[1] == 1  # REG_CREATED_NEW_KEY
    assert o[2] == 0
    assert (o[3], o[4], o[5]) == (234, path_bytes, REG_SZ)  # ERROR_MORE_DATA + required size + type
    assert (o[6], o[7]) == (0, path_bytes)  # NULL data: size only
    assert (o[8], o[9]) == (0, 1)  # value names are case-insensitive
    assert o[10] == 2  # ERROR_FILE_NOT_FOUND
    assert (o[11], o[12]) == (0, 6)  # second close: ERROR_INVALID_HANDLE
    assert (o[13], o[14]) == (0, 2)  # REG_OPENED_EXISTING_KEY
    assert o[15] == 5  # KEY_READ handle cannot set values
    assert o[16] == 87 and o[17] == 87  # lpReserved != NULL; data without a size pointer
    typ, raw = guest.reg.get_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "DLLPath", view=64)
    assert typ == REG_SZ and raw == "C:\\Vendor\\admin.dll\0".encode("utf-16-le")
    # every key the DLL opened was closed: no handle is left
    assert guest.dll.resource_usage().handles == 0  # type: ignore[union-attr]


def test_wow64_redirection_follows_the_dll_bitness(guest: Guest) -> None:
    guest.reg.create_key(r"HKLM\SOFTWARE\Preset", view=64)  # only in the 64-bit view
    o = guest.run("Wow")
    assert o[:6] == [0] * 6
    reg = guest.reg
    wow = r"HKLM\SOFTWARE\WOW6432Node\Vendor"
    if guest.bits == 32:
        assert reg.key_exists(wow + r"\Pool", view=64)
        assert not reg.key_exists(r"HKLM\SOFTWARE\Vendor\Pool", view=64)
        assert reg.get_value(wow + r"\Pool", "Default", view=64) == (REG_DWORD, b"\1\0\0\0")
        assert o[7] == 2  # the 64-bit-only key is invisible to a 32-bit DLL
    else:
        assert reg.key_exists(r"HKLM\SOFTWARE\Vendor\Pool", view=64)
        assert not reg.key_exists(wow + r"\Pool", view=64)
        assert o[7] == 0
    # explicit view flags override the default in both bitnesses
    assert reg.key_exists(r"HKLM\SOFTWARE\Vendor\Pool64", view=64)
    assert reg.key_exists(wow + r"\Pool32", view=64)
    # HKLM\SOFTWARE\Microsoft\RAS is shared: one physical key for both (R10)
    assert reg.get_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "DisplayName", view=64)[0] == REG_SZ
    assert not reg.key_exists(r"HKLM\SOFTWARE\WOW6432Node\Microsoft\RAS\AdminDll", view=64)
    assert o[6] == 87  # KEY_WOW64_32KEY | KEY_WOW64_64KEY together


def test_32bit_windows_has_no_redirection(snippet: tuple[int, str]) -> None:
    bits, path = snippet
    g = Guest(bits, path, Registry(), wow64=False)  # e.g. the win2003-x86 host profile
    try:
        o = g.run("Wow")
    finally:
        g.dll.close()
    assert o[:6] == [0] * 6 and o[6] == 87
    for sub in ("Pool", "Pool64", "Pool32"):  # the view flags change nothing on 32-bit Windows
        assert g.reg.key_exists(rf"HKLM\SOFTWARE\Vendor\{sub}", view=64) == (bits == 32 or sub != "Pool32")
    assert g.reg.key_exists(r"HKLM\SOFTWARE\WOW6432Node\Vendor\Pool32", view=64) == (bits == 64)


def test_error_codes(guest: Guest) -> None:
    o = guest.run("Errors")
    assert o[0] == 2  # open of a missing key
    assert o[1] == 0
    assert o[2] == 5  # RegDeleteKey of a key with subkeys: ERROR_ACCESS_DENIED
    assert o[3] == 0 and o[4] == 2
    assert o[5] == 0 and o[6] == 2  # RegDeleteTree removed the whole subtree
    assert o[7] == 6  # bogus handle
    assert o[8] == 161  # leading backslash: ERROR_BAD_PATHNAME
    assert o[9] == 0 and o[10] == 1018 and o[11] == 0  # ERROR_KEY_DELETED on a stale handle
    assert o[12] == 5  # deleting a root key
    assert o[13] == 5 and o[14] == 2 and o[15] == 0  # KEY_READ cannot delete values
    assert o[16] == 0  # RegDeleteKeyEx of the now-empty key (values do not block a delete)
    assert not guest.reg.key_exists(r"HKCU\Software\T")


def test_enumeration_and_query_info(guest: Guest) -> None:
    o = guest.run("Enum")
    assert o[0:3] == [0, 0, 0]
    assert [chr(c) for c in o[20:23]] == ["A", "b", "g"]  # sorted case-insensitively, case kept
    assert o[10:13] == [5, 4, 15]  # lengths without the NUL
    assert o[3] == 259  # ERROR_NO_MORE_ITEMS
    assert o[4] == 234  # name buffer too small
    assert (o[5], o[6]) == (234, 22)  # value data too small: required size written back
    assert (o[7], o[8], o[9], o[14]) == (0, REG_DWORD, 7, 6)
    assert o[15] == 259
    assert o[16] == 0
    assert (o[17], o[18], o[19], o[24], o[25]) == (3, 15, 2, 6, 22)


def test_reggetvalue_type_restrictions_and_expansion(guest: Guest) -> None:
    o = guest.run("GetValue")
    expanded = len("C:\\Windows\\ras") * 2 + 2
    assert (o[0], o[1], o[2], o[3]) == (0, REG_SZ, expanded, 1)  # expanded, reported as REG_SZ
    assert o[4] == 87  # RRF_RT_REG_EXPAND_SZ without RRF_NOEXPAND
    assert (o[5], o[6], o[7]) == (0, REG_EXPAND_SZ, len("%SystemRoot%\\ras") * 2 + 2)
    assert o[8] == 1630  # ERROR_UNSUPPORTED_TYPE
    assert (o[9], o[10], o[11]) == (0, 8, 0)  # NUL appended to unterminated REG_SZ
    assert o[12] == 1629  # 3-byte REG_BINARY read as RRF_RT_DWORD: ERROR_DATATYPE_MISMATCH
    assert (o[13], o[14]) == (234, 8)
    assert o[15] == 2
    assert (o[16], o[17]) == (0, expanded)


def test_ansi_functions_widen_and_narrow_strings(guest: Guest) -> None:
    o = guest.run("Ansi")
    assert o[:3] == [0, 0, 0]
    assert (o[3], o[4]) == (5, 0xE9)
    assert guest.reg.get_value(r"HKLM\SOFTWARE\A", "name", view=64 if guest.bits == 64 else 32) == (
        REG_SZ,
        "café\0".encode("utf-16-le"),
    )


def test_username_and_event_log(guest: Guest) -> None:
    o = guest.run("Events")
    assert (o[0], o[1], o[2]) == (0, 122, 7)  # "SYSTEM" + NUL; ERROR_INSUFFICIENT_BUFFER
    assert (o[3], o[4]) == (1, 7)
    assert o[5] == 1 and o[6] == 1
    (ev,) = guest.opts.events
    assert ev["source"] == "VendorPool" and ev["type"] == "error" and ev["code"] == 0x1001
    assert ev["strings"] == ["pool exhausted", "192.168.1.0/24"]
    assert any(line.startswith("[eventlog] VendorPool error id=4097") for line in guest.debug)


def test_predefined_keys_are_sign_extended_on_x64() -> None:
    from emulator.loaders.pe.winapi.advapi32 import HKEY_LOCAL_MACHINE, _predefined

    assert _predefined(0xFFFFFFFF80000002) == HKEY_LOCAL_MACHINE
    assert _predefined(0x80000002) == HKEY_LOCAL_MACHINE
    assert _predefined(0x1_80000002) is None
    assert _predefined(0x100) is None
