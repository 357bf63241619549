"""NativeLoader (cffi ABI mode) against the C fixtures of fixtures/dlls, in-process.

Variants that crash or hang are run only through isolation (test_isolated.py).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emulator.abi import structs as S
from emulator.abi.addresses import dword_to_ip, ip_to_dword
from emulator.errors import LoadError
from emulator.loaders.base import Call, CallResult
from emulator.loaders.native import (
    NativeAdminDll,
    NativeLoader,
    describe_binary,
    elf_exports,
    host_bits,
    macho_trie_names,
)
from emulator.loaders.python import PythonLoader

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fixtures build .so/.dylib here")

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
SENTINEL = 0xA5A5A5A5


def lib(variant: str) -> str:
    from fixtures.dlls.build import native_library

    return str(native_library(variant))


@pytest.fixture
def good() -> Any:
    dll = NativeLoader().load(lib("good"))
    yield dll
    dll.close()


def get_ip(dll: Any, user: str, port: str = "VPN0", proposal: int = 0) -> CallResult:
    return dll.handle_call(Call("MprAdminGetIpAddressForUser", (user, port, proposal, SENTINEL)))


def test_exports_are_read_from_the_elf_dynamic_symbols(good: NativeAdminDll) -> None:
    from fixtures.dlls.build import exports

    assert good.exports == frozenset(exports("good"))
    assert good.machine == "native" and good.loader_name == "native"
    if shutil.which("nm") and sys.platform.startswith("linux"):
        out = subprocess.run(
            ["nm", "-D", "--defined-only", lib("good")], capture_output=True, text=True, check=True
        ).stdout
        nm_names = {line.split()[-1] for line in out.splitlines() if line.split()[1] in "TtWiD"}
        assert set(good.exports) <= nm_names


def test_get_release_and_pool(good: NativeAdminDll) -> None:
    r = get_ip(good, "alice")
    assert r.fault is None and r.returned == 0
    assert dword_to_ip(r.outputs[2]) == "192.168.100.10" and r.outputs[3] == 1
    assert r.modified_inputs == () and r.seconds > 0
    honoured = get_ip(good, "bob", proposal=ip_to_dword("192.168.100.42"))
    assert dword_to_ip(honoured.outputs[2]) == "192.168.100.42"
    assert good.handle_call(Call("RasemuTestLeaseCount")).returned == 2
    rel = good.handle_call(Call("MprAdminReleaseIpAddress", ("alice", "VPN0", r.outputs[2])))
    assert rel.returned is None and rel.outputs == {2: r.outputs[2]}
    assert good.handle_call(Call("RasemuTestLeaseCount")).returned == 1
    for i in range(63):
        assert get_ip(good, f"u{i}").returned == 0
    assert get_ip(good, "late").returned == 259


def test_empty_and_maximum_length_names_r71(good: NativeAdminDll) -> None:
    assert get_ip(good, "", "").returned == 0
    long_user = "U" * 256
    r = get_ip(good, long_user, "P" * 16)
    assert r.returned == 0 and r.modified_inputs == ()
    rel = good.handle_call(Call("MprAdminReleaseIpAddress", (long_user, "P" * 16, r.outputs[2])))
    assert rel.fault is None
    assert good.handle_call(Call("RasemuTestLeaseCount")).returned == 1


def test_each_load_is_a_private_copy_r36() -> None:
    a = NativeLoader().load(lib("good"))
    b = NativeLoader().load(lib("good"))
    try:
        get_ip(a, "alice")
        assert a.handle_call(Call("RasemuTestLeaseCount")).returned == 1
        assert b.handle_call(Call("RasemuTestLeaseCount")).returned == 0
    finally:
        a.close()
        b.close()
    a.close()  # idempotent
    with pytest.raises(RuntimeError):
        a.handle_call(Call("RasemuTestLeaseCount"))


def test_in_place_write_of_user_name_is_reported_r69() -> None:
    dll = NativeLoader().load(lib("bad_writes_username"))
    try:
        r = get_ip(dll, "alice")
        assert r.returned == 0 and r.modified_inputs == (0,)
        # the cached buffer was dropped: the next call sends "alice" again and sees the write again
        assert get_ip(dll, "alice", "VPN1").modified_inputs == (0,)
        assert get_ip(dll, "BOB").modified_inputs == ()
    finally:
        dll.close()


def test_structures_reach_the_c_code(good: NativeAdminDll) -> None:
    c0 = S.RAS_CONNECTION_0(hConnection=0x77, wszUserName="alice")
    c1 = S.RAS_CONNECTION_1(PppInfo=S.PPP_INFO(ip=S.PPP_IPCP_INFO(wszRemoteAddress="1.2.3.4")))
    r = good.handle_call(Call("MprAdminAcceptNewConnection", (c0, c1)))
    assert (r.returned, r.modified_inputs) == (1, ())
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 1
    # a hang-up with another handle does not match (the handle made it through)
    other = S.RAS_CONNECTION_0(hConnection=0x78)
    good.handle_call(Call("MprAdminConnectionHangupNotification", (other, c1)))
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 1
    good.handle_call(Call("MprAdminConnectionHangupNotification", (c0, c1)))
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 0
    ex = S.RAS_CONNECTION_EX(hConnection=0x99, wszUserName="bob")
    assert good.handle_call(Call("MprAdminAcceptNewConnectionEx", (ex,))).returned == 1
    p0 = S.RAS_PORT_0(hConnection=0x99, wszPortName="VPN3")
    p1 = S.RAS_PORT_1(hConnection=0x99, dwLineSpeed=1000)
    assert good.handle_call(Call("MprAdminAcceptNewLink", (p0, p1))).returned == 1
    good.handle_call(Call("MprAdminConnectionHangupNotificationEx", (ex,)))
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 0


def test_nt4_parameter_array_with_out_of_line_string(good: NativeAdminDll) -> None:
    port1 = S.NT4_RAS_PORT_1(
        rasport0=S.NT4_RAS_PORT_0(wszUserName="alice", wszPortName="COM1"), NumMediaParms=2
    )
    params = [
        S.RAS_PARAMETERS(P_Key="OTHER", P_Type=S.ParamNumber),
        S.RAS_PARAMETERS(
            P_Key="MAXCONNECTBPS",
            P_Type=S.ParamString,
            P_Value=S.RAS_PARAMS_VALUE(String=S.RAS_PARAMS_STRING(Data=b"33600")),
        ),
    ]
    r = good.handle_call(
        Call("RasAdminAcceptNewConnection", (port1, S.RAS_PORT_STATISTICS(), params))
    )
    assert r.returned == 1 and r.modified_inputs == ()
    good.handle_call(
        Call("RasAdminConnectionHangupNotification", (port1, S.RAS_PORT_STATISTICS(), params))
    )
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 0


def test_ipv6_in_out(good: NativeAdminDll) -> None:
    r = good.handle_call(Call("MprAdminGetIpv6AddressForUser", ("a", "p", b"\xff" * 16, SENTINEL)))
    assert r.returned == 0
    assert r.outputs[2] == bytes(8) + bytes([2, 0, 0x5E, 0xFF, 0xFE, 0, 0, 1])
    rel = good.handle_call(Call("MprAdminReleaseIpv6AddressForUser", ("a", "p", r.outputs[2])))
    assert rel.returned == 0
    assert good.handle_call(Call("RasemuTestLeaseCount")).returned == 0


def test_table_out_and_calls_by_address() -> None:
    dll = NativeLoader().load(lib("good_table"))
    try:
        r = dll.handle_call(Call("MprAdminInitializeDllEx", (None,)))
        table = r.outputs[0]
        assert r.returned == 0 and table["revision"] == 2
        for slot, export in (
            ("lpfnMprAdminGetIpAddressForUser", "MprAdminGetIpAddressForUser"),
            (
                "lpfnRasAdminConnectionHangupNotificationEx",
                "MprAdminConnectionHangupNotificationEx",
            ),
        ):
            assert table[slot] == dll.export_address(export) != 0
        assert table["lpfnRasAdminAcceptEndpointChangeEx"] == 0
        rr = dll.handle_call(
            Call(
                table["lpfnMprAdminGetIpAddressForUser"],
                ("bob", "p", 0, SENTINEL),
                signature="MprAdminGetIpAddressForUser",
            )
        )
        assert rr.returned == 0 and dword_to_ip(rr.outputs[2]) == "192.168.100.10"
        wild = dll.handle_call(Call(0x10, (), signature="MprAdminTerminateDll"))
        assert wild.fault is not None and wild.fault.kind == "crash"
    finally:
        dll.close()


def test_mingw_table_layout_seen_through_sdk_slots_r73() -> None:
    dll = NativeLoader().load(lib("bad_mingw_table"))
    try:
        table = dll.handle_call(Call("MprAdminInitializeDllEx", (None,))).outputs[0]
        assert table["lpfnRasAdminAcceptEndpointChangeEx"] == dll.export_address(
            "MprAdminAcceptReauthenticationEx"
        )
        assert table["lpfnRasAdminConnectionHangupNotificationEx"] == 0
    finally:
        dll.close()


# --- parity: the Python stand-ins behave like the C fixtures -------------------------------

PARITY = [
    "good",
    "bad_no_notify",
    "bad_dup_address",
    "bad_byteswap",
    "bad_zero_address",
    "bad_broadcast",
    "bad_terminate_true",
]


def _script() -> list[Call]:
    calls = [Call("MprAdminInitializeDll")]
    for i in range(5):
        calls.append(Call("MprAdminGetIpAddressForUser", (f"user{i}", f"VPN{i}", 0, SENTINEL)))
    calls.append(
        Call("RasAdminGetIpAddressForUser", ("nt", "COM1", ip_to_dword("192.168.100.60"), SENTINEL))
    )
    calls.append(Call("RasemuTestLeaseCount"))
    return calls


@pytest.mark.parametrize("variant", PARITY)
def test_standin_matches_c_fixture(variant: str) -> None:
    native = NativeLoader().load(lib(variant))
    py = PythonLoader().load(str(STANDINS / f"{variant}.py"))

    def both(call: Call) -> CallResult:
        a, b = native.handle_call(call), py.handle_call(call)
        assert (a.returned, dict(a.outputs), a.modified_inputs) == (
            b.returned,
            dict(b.outputs),
            b.modified_inputs,
        ), call
        return a

    try:
        assert native.exports == py.exports
        results = [both(c) for c in _script()]
        # release every granted lease with what the DLL returned, then count and terminate
        for c, r in zip(_script(), results, strict=True):
            if c.target in ("MprAdminGetIpAddressForUser", "RasAdminGetIpAddressForUser"):
                release = c.target.replace("GetIpAddressForUser", "ReleaseIpAddress")
                both(Call(release, (c.args[0], c.args[1], r.outputs[2])))
        both(Call("RasemuTestLeaseCount"))
        both(Call("MprAdminTerminateDll"))
    finally:
        native.close()
        py.close()


# --- load errors ---------------------------------------------------------------------------


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="file not found"):
        NativeLoader().load(str(tmp_path / "missing.so"))
    with pytest.raises(LoadError, match="directory"):
        NativeLoader().load(str(tmp_path))
    text = tmp_path / "notes.so"
    text.write_text("hello")
    with pytest.raises(LoadError, match=r"unknown format \(first bytes 68 65 6c 6c 6f\)"):
        NativeLoader().load(str(text))
    pe = ROOT / "fixtures" / "dlls" / "prebuilt" / "good64.dll"
    if pe.exists():
        with pytest.raises(LoadError, match="use --loader pe"):
            NativeLoader().load(str(pe))
    # the same .so with another machine in its ELF header
    data = bytearray(Path(lib("good")).read_bytes())
    struct.pack_into("<H", data, 18, 183 if data[18] != 183 else 62)
    wrong = tmp_path / "libwrong.so"
    wrong.write_bytes(bytes(data))
    with pytest.raises(LoadError, match="wrong architecture") as e:
        NativeLoader().load(str(wrong))
    assert str(wrong) in str(e.value)
    with pytest.raises(LoadError, match="R17"):
        NativeLoader().load(lib("good"), bitness=96 - host_bits())


def test_unknown_export_is_a_host_error(good: NativeAdminDll) -> None:
    with pytest.raises(KeyError):
        good.handle_call(Call("NoSuchExport"))
    with pytest.raises(ValueError, match="takes 4 arguments"):
        good.handle_call(Call("MprAdminGetIpAddressForUser", ("a",)))


def test_binary_helpers() -> None:
    assert describe_binary(Path(lib("good")).read_bytes()[:64]).startswith("ELF 64-bit")
    assert "MZ" in describe_binary(b"MZ\x90\x00")
    with pytest.raises(ValueError):
        elf_exports(b"MZ")
    # a hand-made dyld export trie: root -> "_Mpr" -> {"A", "B"} (terminal nodes)
    trie = bytearray()
    trie += b"\x00\x01_Mpr\x00\x08"  # root (8 bytes): not terminal, 1 child at offset 8
    trie += b"\x00\x02A\x00\x10B\x00\x13"  # node@8: 2 children at 16 and 19
    trie += b"\x00" * (16 - len(trie))
    trie += b"\x01\x00\x00"  # node@16: terminal (1 byte of info), 0 children
    trie += b"\x01\x00\x00"  # node@19
    assert sorted(macho_trie_names(bytes(trie))) == ["_MprA", "_MprB"]
