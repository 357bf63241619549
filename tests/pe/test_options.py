"""PeLoader options: the emulated machine (PeOptions) is in force from DllMain on, survives the
reload after a fault, reaches the loader through open_dll(options=...), and bad options are
LoadErrors naming them. Also: unload debug output holds only what the unload wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import LoadError
from emulator.loaders.base import Call
from emulator.loaders.pe import PeDll, PeLoader
from emulator.loaders.pe.winapi.env import PeOptions, configure, load, using
from emulator.loaders.select import open_dll
from emulator.registry.model import REG_DWORD, Registry
from fixtures.dlls.build_selfreg import MingwMissing, build_snippet

SRC = r"""
#include <windows.h>
static DWORD g_seen = 0xFFFFFFFF, g_version, g_wow = 7;
BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID r)
{
    (void)h; (void)r;
    if (reason == DLL_PROCESS_ATTACH) {
        HKEY k;
        DWORD v = 0, cb = sizeof v;
        BOOL wow = FALSE;
        if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Vendor\\Pool", 0, KEY_READ, &k) == 0) {
            if (RegQueryValueExW(k, L"Size", NULL, NULL, (BYTE *)&v, &cb) == 0)
                g_seen = v;
            RegCloseKey(k);
        }
        g_version = GetVersion() & 0xFFFF;
        IsWow64Process(GetCurrentProcess(), &wow);
        g_wow = wow;
        OutputDebugStringA("attached");
    } else if (reason == DLL_PROCESS_DETACH) {
        OutputDebugStringA("detached");
    }
    return TRUE;
}
__declspec(dllexport) DWORD WINAPI Seen(void) { OutputDebugStringA("seen"); return g_seen; }
__declspec(dllexport) DWORD WINAPI Version(void) { return g_version; }
__declspec(dllexport) DWORD WINAPI Wow(void) { return g_wow; }
__declspec(dllexport) DWORD WINAPI Env(void)
{
    char buf[64];
    return GetEnvironmentVariableA("POOL_NAME", buf, sizeof buf);
}
__declspec(dllexport) DWORD WINAPI Crash(void) { return *(volatile DWORD *)(ULONG_PTR)16; }
"""
POOL = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Vendor\\Pool"


@pytest.fixture(params=[32, 64], ids=["x86", "x64"])
def dll_path(request: pytest.FixtureRequest) -> str:
    try:
        return str(build_snippet(SRC, request.param, libs=("advapi32",)))
    except MingwMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.create_key(POOL)
    reg.set_value(POOL, "Size", REG_DWORD, (64).to_bytes(4, "little"))
    return reg


def _call(dll: PeDll, name: str) -> int:
    r = dll.handle_call(Call(name, ()))
    assert r.fault is None, r.fault
    return int(r.returned or 0)


def test_open_dll_options_reach_dllmain_and_survive_reload(dll_path: str, registry: Registry) -> None:
    dll = open_dll(
        dll_path,
        loader="pe",
        options={
            "registry": registry,
            "os_version": [5, 2, 3790],  # a list, as a config file would give it
            "wow64": False,
            "environment": {"POOL_NAME": "edge"},
            "load_timeout": 2.0,
        },
    )
    assert isinstance(dll, PeDll)
    try:
        assert dll.options.registry is registry and dll.options.os_version == (5, 2, 3790)
        assert _call(dll, "Seen") == 64  # read by DllMain: the options were in force
        assert _call(dll, "Version") == 0x0205
        assert _call(dll, "Wow") == 0  # 32-bit Windows: no WOW64
        assert _call(dll, "Env") == len("edge")
        registry.set_value(POOL, "Size", REG_DWORD, (32).to_bytes(4, "little"))
        r = dll.handle_call(Call("Crash", ()))
        assert r.fault is not None and r.fault.kind == "crash" and dll.reloads == 1
        assert _call(dll, "Seen") == 32  # the reloaded DllMain saw the same registry
        assert _call(dll, "Version") == 0x0205 and _call(dll, "Env") == 4
    finally:
        dll.close()


def test_keywords_and_pe_options_object(dll_path: str, registry: Registry) -> None:
    opts = PeOptions(os_version=(6, 0, 6002))  # wow64 by default: a 32-bit DLL is redirected
    dll = PeLoader(opts, registry=registry).load(dll_path)
    try:
        assert dll.options is opts and opts.registry is registry
        redirected = dll.bits == 32  # it reads HKLM\SOFTWARE\WOW6432Node\Vendor\Pool: absent
        assert _call(dll, "Seen") == (0xFFFFFFFF if redirected else 64)
        assert _call(dll, "Version") == 0x0006 and _call(dll, "Wow") == int(redirected)
    finally:
        dll.close()
    dll = PeLoader({"options": PeOptions(), "sandbox": Path("/tmp")}).load(dll_path)
    try:
        assert dll.options.sandbox == "/tmp" and _call(dll, "Seen") == 0xFFFFFFFF  # empty registry
    finally:
        dll.close()


def test_without_options_each_dll_gets_its_own_machine(dll_path: str, registry: Registry) -> None:
    a, b = PeLoader().load(dll_path), PeLoader().load(dll_path)
    try:
        assert a.options is not b.options and _call(a, "Seen") == 0xFFFFFFFF
    finally:
        a.close()
        b.close()
    with using(PeOptions(registry=registry, wow64=False)):  # the public helpers keep working
        c = PeLoader().load(dll_path)
    d = load(dll_path, opts=PeOptions(registry=registry, wow64=False))
    try:
        assert _call(c, "Seen") == 64 and _call(d, "Seen") == 64
        configure(d, PeOptions(environment={"POOL_NAME": "x"}))
        d.handle_call(Call("Crash", ()))
        assert _call(d, "Env") == 1 and _call(d, "Seen") == 0xFFFFFFFF  # the new options, reloaded
    finally:
        c.close()
        d.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"regsitry": None}, "the pe loader has no option regsitry"),
        ({"colour": 1, "shape": 2}, "no option colour, shape"),
        ({"os_version": (6, 1)}, "option os_version must be (major, minor, build)"),
        ({"wow64": "yes"}, "option wow64 must be true or false"),
        ({"environment": {"A": 1}}, "option environment must map names to strings"),
        ({"registry": {}}, "option registry must be an emulator Registry"),
        ({"options": 3}, "option options must be PeOptions"),
        ({"load_timeout": 0}, "option load_timeout must be seconds > 0"),
        ({"instruction_budget": "many"}, "option instruction_budget must be a count"),
    ],
)
def test_bad_options_are_load_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(LoadError) as info:
        PeLoader(options)
    assert message in str(info.value)
    with pytest.raises(LoadError, match="its options: options, force_base"):
        PeLoader(colour=1)


def test_unload_output_is_only_the_unload(dll_path: str) -> None:
    dll = PeLoader().load(dll_path)
    assert dll.load_debug_output == ("attached",)
    r = dll.handle_call(Call("Seen", ()))
    assert r.debug_output == ("seen",)
    assert dll.handle_call(Call("Version", ())).debug_output == ()
    dll.close()
    assert dll.unload_debug_output == ("detached",)
