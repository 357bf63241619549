"""Each hostile DLL through the PE loader on x86 and x64: the failure becomes a CallFault of the
manifest's kind with evidence (pc, export, symbol, disassembly), the DLL is reloaded, and the next
call works; DllMain that never returns fails the load after the load timeout."""

from __future__ import annotations

import time

import pytest

from emulator.errors import LoadError
from emulator.loaders.base import Call
from emulator.loaders.pe import PeDll, PeLoader
from emulator.loaders.pe.winapi import lookup
from emulator.loaders.select import open_dll
from tests.hostile.conftest import CALL_VARIANTS, FAULT_VARIANTS, LOAD_VARIANTS, VARIANTS, prebuilt

SENTINEL = 0xA5A5A5A5
GET_IP = "MprAdminGetIpAddressForUser"
FIRST = bytes([192, 168, 100, 10])


def _load(variant: str, bits: int, **kw: object) -> PeDll:
    return PeLoader(**kw).load(str(prebuilt(variant, bits)), bitness=bits)  # type: ignore[arg-type]


def _get_ip(dll: PeDll, user: str = "alice", port: str = "VPN1-1", timeout: float = 0.3):  # type: ignore[no-untyped-def]
    return dll.handle_call(Call(GET_IP, (user, port, 0, SENTINEL), timeout=timeout))


def _next_call_works(dll: PeDll) -> None:
    """A fresh process answers: no leases left (the reload dropped them), IPv6 callback works."""
    n = dll.handle_call(Call("RasemuTestLeaseCount", ()))
    assert n.fault is None and n.returned == 0
    v6 = dll.handle_call(Call("MprAdminGetIpv6AddressForUser", ("alice", "VPN1-1", bytes(16), SENTINEL)))
    assert v6.fault is None and v6.returned == 0
    assert v6.outputs[2][8:14] == bytes.fromhex("02005efffe00") and v6.outputs[3] == 1


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("variant", FAULT_VARIANTS)
def test_fault_with_evidence_then_reload(variant: str, bits: int) -> None:
    spec = VARIANTS[variant]
    dll = _load(variant, bits)
    try:
        r = _get_ip(dll)
        f = r.fault
        assert f is not None, f"{variant}: no fault (returned {r.returned})"
        assert f.kind == spec["fault"]
        assert spec["message"] in f.message
        assert f.message.startswith(f"{GET_IP}: ")
        d = f.detail
        assert d["export"] == GET_IP
        assert isinstance(d["pc"], int) and d["pc"]
        if spec["fault_rule"]:
            assert d["rule"] == spec["fault_rule"]
        if "api" in d:  # stopped inside an import: the call site in the DLL is the evidence
            assert f"{GET_IP}+0x" in d["caller_symbol"] and d["symbol"] == d["caller_symbol"]
        elif variant == "hostile_stack_smash":
            assert d["return_address"] == 0x41414141 and d["pc"] == 0x41414141
        else:  # a fault inside the DLL's own code
            assert d["symbol"].startswith(f"{variant}{bits}.dll+0x")
        if variant != "hostile_stack_smash":
            marked = [line for line in d["disassembly"] if line.startswith("=>")]
            assert len(marked) == 1 and f"0x{d['pc']:x}:" in marked[0]
        assert dll.reloads == 1 and r.returned is None and r.outputs == {}
        _next_call_works(dll)
    finally:
        dll.close()


def test_fault_details_name_the_failure(bits: int = 64) -> None:
    """The specifics a user reads: NULL write, exception code, heap block, host API."""
    dll = _load("hostile_crash", bits)
    try:
        d = _get_ip(dll).fault.detail  # type: ignore[union-attr]
        assert (d["address"], d["access"]) == (0, "write")
    finally:
        dll.close()
    dll = _load("hostile_throw", bits)
    try:
        d = _get_ip(dll).fault.detail  # type: ignore[union-attr]
        assert d["exception_code"] == 0xE0524153 and d["api"] == "kernel32.dll!RaiseException"
    finally:
        dll.close()
    dll = _load("hostile_heap_overflow", bits)
    try:
        f = _get_ip(dll).fault
        assert f is not None
        assert f.detail["block_size"] == 16 and f.detail["overrun_offset"] == 16
        assert f"{GET_IP}+0x" in f.detail["alloc_symbol"]  # where the overrun block came from
        assert "detected by kernel32.dll!HeapFree" in f.message
    finally:
        dll.close()
    dll = _load("hostile_reentry", bits)
    try:
        f = _get_ip(dll).fault
        assert f is not None and f.detail["host_api"] == "MprAdminServerConnect"
        assert "R66" in f.message and "never return" in f.message
    finally:
        dll.close()


@pytest.mark.parametrize("bits", [32, 64])
def test_timeout_stops_an_endless_loop_promptly(bits: int) -> None:
    dll = _load("hostile_loop", bits)
    try:
        t0 = time.perf_counter()
        r = _get_ip(dll, timeout=0.2)
        elapsed = time.perf_counter() - t0
        assert r.fault is not None and r.fault.kind == "timeout" and "0.2 s" in r.fault.message
        assert elapsed < 2.0
        _next_call_works(dll)
    finally:
        dll.close()


@pytest.mark.parametrize("bits", [32, 64])
def test_garbage_return_is_passed_through(bits: int) -> None:
    """R59 is the host's business: the loader reports exactly what came back."""
    dll = _load("hostile_garbage", bits)
    try:
        r = _get_ip(dll)
        assert r.fault is None and r.returned == 0xDEADBEEF
        assert r.outputs == {2: 0xDEADBEEF, 3: 0x5A5A5A5A}
        assert dll.reloads == 0
        _next_call_works(dll)
    finally:
        dll.close()


@pytest.mark.parametrize("bits", [32, 64])
def test_thread_is_recorded_not_run(bits: int) -> None:
    """CreateThread inside a callback: recorded, never run, said in the debug output; no fault."""
    dll = _load("hostile_thread", bits)
    try:
        r = _get_ip(dll)
        assert r.fault is None and r.returned == 0 and r.issues == ()
        assert r.outputs[2].to_bytes(4, "little") == FIRST and r.outputs[3] == 1
        assert any("CreateThread" in line and "not run" in line for line in r.debug_output)
        assert len(dll.threads_not_run) == 1
        assert dll.threads_not_run[0].startswith(f"start=hostile_thread{bits}.dll+0x")
        r2 = _get_ip(dll, "bob", "VPN1-2")
        assert r2.fault is None and r2.outputs[2].to_bytes(4, "little") == bytes([192, 168, 100, 11])
        assert len(dll.threads_not_run) == 2
        usage = dll.resource_usage()
        assert usage is not None and usage.handles == 0  # the DLL closed its thread handles
    finally:
        dll.close()


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("variant", LOAD_VARIANTS)
def test_dllmain_that_never_returns_fails_the_load(variant: str, bits: int) -> None:
    t0 = time.perf_counter()
    with pytest.raises(LoadError) as info:
        _load(variant, bits, load_timeout=0.3)
    assert time.perf_counter() - t0 < 3.0
    assert VARIANTS[variant]["message"] in info.value.message
    assert "0.3 s" in info.value.message and "DLL_PROCESS_ATTACH" in info.value.message
    assert str(prebuilt(variant, bits)) in str(info.value)
    # DllMain is not exported: the pc is never attributed to the nearest exported callback
    assert "in code run by DllMain (entry point at +0x" in info.value.message
    assert "RasemuTest" not in info.value.message and "MprAdmin" not in info.value.message
    if bits == 64:  # .pdata bounds: the function the loop is in
        assert "(unexported function at +0x" in info.value.message


def test_symbolize_names_the_entry_point() -> None:
    from emulator.loaders.pe.faults import ENTRY_NAME, symbolize

    for bits in (32, 64):
        dll = _load("hostile_garbage", bits)
        try:
            img, base = dll.image, dll.base
            at = symbolize(img, base, "m.dll", base + img.entry_rva + 2)
            assert at == f"m.dll+0x{img.entry_rva + 2:x} ({ENTRY_NAME}+0x2)"
            get = img.export_map()[GET_IP].rva
            assert symbolize(img, base, "m.dll", base + get + 5).endswith(f"({GET_IP}+0x5)")
            assert symbolize(img, base, "m.dll", base - 1) == f"0x{base - 1:x}"
        finally:
            dll.close()


def test_dllmain_hang_through_open_dll() -> None:
    path = str(prebuilt("hostile_dllmain_hang", 64))
    with pytest.raises(LoadError, match=r"DllMain did not return within 0\.25 s"):
        open_dll(path, loader="pe", options={"load_timeout": 0.25})


def test_every_call_variant_is_tested() -> None:
    assert set(CALL_VARIANTS) == set(FAULT_VARIANTS) | {"hostile_garbage", "hostile_thread"}
    assert LOAD_VARIANTS == ["hostile_dllmain_hang"]


@pytest.mark.parametrize(
    ("dll", "name"),
    [
        ("mprapi.dll", "MprAdminServerConnect"),
        ("mprapi.dll", "MprAdminPortEnum"),
        ("mprapi.dll", "MprAdminUserGetInfo"),
        ("mprapi.dll", "MprConfigServerConnect"),
        ("MPRAPI.dll", "RasAdminPortEnum"),
        ("rassapi.dll", "RasAdminServerGetInfo"),
        ("rassapi.dll", "RasAdminUserSetInfo"),
    ],
)
def test_server_admin_apis_are_host_reentry(dll: str, name: str) -> None:
    """R66: each server administration API an admin DLL might import stops the call."""
    from emulator.loaders.pe.winapi import ApiFault

    spec = lookup(dll, name)
    assert spec is not None and spec.handler is not None
    with pytest.raises(ApiFault) as info:
        spec.handler(None)
    assert info.value.kind == "host-reentry" and name in info.value.message
    assert info.value.detail == {"rule": "R66", "host_api": name}
    assert lookup("mprapi.dll", "MprInfoBlockAdd") is None  # a local helper, not the service
