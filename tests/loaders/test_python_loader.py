"""PythonLoader: the stand-in protocol, fresh state per load, faults, R69 via structures."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from emulator.abi import structs as S
from emulator.abi.addresses import dword_to_ip, ip_to_dword
from emulator.abi.callbacks import SIGNATURES
from emulator.errors import LoadError
from emulator.loaders.base import Call
from emulator.loaders.python import PythonAdminDll, PythonLoader

STANDINS = Path(__file__).resolve().parents[2] / "fixtures" / "standins"
SENTINEL = 0xA5A5A5A5


def load(name: str) -> PythonAdminDll:
    return PythonLoader().load(str(STANDINS / f"{name}.py"))


def get_ip(
    dll: PythonAdminDll, user: str, port: str = "VPN0", proposal: int = 0
) -> tuple[int, int, int]:
    r = dll.handle_call(Call("MprAdminGetIpAddressForUser", (user, port, proposal, SENTINEL)))
    assert r.fault is None, r.fault
    assert r.returned is not None
    return r.returned, r.outputs[2], r.outputs[3]


def test_good_exports_every_callback_of_the_reference() -> None:
    dll = load("good")
    assert dll.machine == "python" and dll.loader_name == "python"
    expected = set(SIGNATURES) - {"MprAdminInitializeDllEx"}
    assert expected | {"RasemuTestLeaseCount", "RasemuTestConnectionCount"} == set(dll.exports)


def test_pool_semantics_match_the_c_reference() -> None:
    dll = load("good")
    rc, addr, notify = get_ip(dll, "alice")
    assert (rc, dword_to_ip(addr), notify) == (0, "192.168.100.10", 1)
    assert addr.to_bytes(4, "little") == bytes([192, 168, 100, 10])
    _, addr2, _ = get_ip(dll, "bob")
    assert dword_to_ip(addr2) == "192.168.100.11"
    # a free pool proposal is honoured, an outside one is replaced
    _, addr3, _ = get_ip(dll, "carol", proposal=ip_to_dword("192.168.100.50"))
    assert dword_to_ip(addr3) == "192.168.100.50"
    _, addr4, _ = get_ip(dll, "dave", proposal=ip_to_dword("10.0.0.1"))
    assert dword_to_ip(addr4) == "192.168.100.12"
    # release needs user, port and address to match (R65)
    dll.handle_call(Call("MprAdminReleaseIpAddress", ("alice", "OTHER", addr)))
    assert dll.handle_call(Call("RasemuTestLeaseCount")).returned == 4
    r = dll.handle_call(Call("MprAdminReleaseIpAddress", ("alice", "VPN0", addr)))
    assert r.returned is None and r.fault is None and r.outputs == {2: addr}
    assert dll.handle_call(Call("RasemuTestLeaseCount")).returned == 3
    # exhaustion after 64 live leases -> ERROR_NO_MORE_ITEMS (259)
    fresh = load("good")
    for i in range(64):
        assert get_ip(fresh, f"u{i}")[0] == 0
    assert get_ip(fresh, "one-too-many")[0] == 259


def test_each_load_has_fresh_state_r36() -> None:
    a, b = load("good"), load("good")
    get_ip(a, "alice")
    assert a.handle_call(Call("RasemuTestLeaseCount")).returned == 1
    assert b.handle_call(Call("RasemuTestLeaseCount")).returned == 0
    assert dword_to_ip(get_ip(b, "bob")[1]) == "192.168.100.10"


def test_debug_output_and_ipv6_refs() -> None:
    dll = load("good")
    r = dll.handle_call(Call("MprAdminGetIpAddressForUser", ("alice", "VPN0", 0, SENTINEL)))
    assert r.debug_output == ("rasemu-admin: alice <- 192.168.100.10\n",)
    r6 = dll.handle_call(Call("MprAdminGetIpv6AddressForUser", ("alice", "VPN0", bytes(16), 0)))
    assert r6.returned == 0
    assert r6.outputs[2] == bytes(8) + bytes([2, 0, 0x5E, 0xFF, 0xFE, 0, 0, 1])
    assert r6.outputs[3] == 1


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("bad_no_notify", lambda rc, a, n: n == SENTINEL),
        ("bad_dup_address", None),
        ("bad_byteswap", lambda rc, a, n: a.to_bytes(4, "little") == bytes([10, 100, 168, 192])),
        ("bad_broadcast", lambda rc, a, n: a == 0xFFFFFFFF),
        ("bad_zero_address", lambda rc, a, n: (rc, a, n) == (0, 0, 0)),
    ],
)
def test_bad_address_variants(variant: str, check: object) -> None:
    dll = load(variant)
    first = get_ip(dll, "alice")
    if variant == "bad_dup_address":
        second = get_ip(dll, "bob")
        assert first[1] == second[1] == ip_to_dword("192.168.100.10")
        return
    assert callable(check) and check(*first)


def test_struct_arguments_are_copies_and_writes_are_reported_r69() -> None:
    c0 = S.RAS_CONNECTION_0(hConnection=7, wszUserName="alice")
    c1 = S.RAS_CONNECTION_1(PppInfo=S.PPP_INFO(ip=S.PPP_IPCP_INFO(wszRemoteAddress="1.2.3.4")))
    good = load("good")
    r = good.handle_call(Call("MprAdminAcceptNewConnection", (c0, c1)))
    assert (r.returned, r.modified_inputs) == (1, ())
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 1
    bad = load("bad_writes_username")
    r = bad.handle_call(Call("MprAdminAcceptNewConnection", (c0, c1)))
    assert r.returned == 1 and r.modified_inputs == (0,)
    assert c0.wszUserName == "alice"  # the host's object is untouched


def test_nt4_accept_with_parameter_array() -> None:
    dll = load("good")
    port1 = S.NT4_RAS_PORT_1(
        rasport0=S.NT4_RAS_PORT_0(wszUserName="alice", wszPortName="COM1"), NumMediaParms=1
    )
    params = [
        S.RAS_PARAMETERS(
            P_Key="MAXCONNECTBPS",
            P_Type=S.ParamString,
            P_Value=S.RAS_PARAMS_VALUE(String=S.RAS_PARAMS_STRING(Data=b"33600")),
        )
    ]
    r = dll.handle_call(
        Call("RasAdminAcceptNewConnection", (port1, S.RAS_PORT_STATISTICS(), params))
    )
    assert r.returned == 1 and r.modified_inputs == ()
    assert dll._owner._conns[0].max_bps == 33600  # type: ignore[attr-defined]
    dll.handle_call(
        Call("RasAdminConnectionHangupNotification", (port1, S.RAS_PORT_STATISTICS(), params))
    )
    assert dll.handle_call(Call("RasemuTestConnectionCount")).returned == 0


def test_table_out_addresses_are_callable_and_match_exports() -> None:
    dll = load("good_table")
    r = dll.handle_call(Call("MprAdminInitializeDllEx", (None,)))
    assert r.returned == 0
    table = r.outputs[0]
    assert table["revision"] == 2
    get_addr = table["lpfnMprAdminGetIpAddressForUser"]
    assert get_addr == dll.export_address("MprAdminGetIpAddressForUser")
    assert table["lpfnRasAdminAcceptEndpointChangeEx"] == 0
    assert table["lpfnRASValidatePreAuthenticatedConnectionEx"] == 0
    rr = dll.handle_call(
        Call(get_addr, ("bob", "p", 0, SENTINEL), signature="MprAdminGetIpAddressForUser")
    )
    assert rr.returned == 0 and dword_to_ip(rr.outputs[2]) == "192.168.100.10"
    bogus = dll.handle_call(Call(0x1234, (), signature="MprAdminTerminateDll"))
    assert bogus.fault is not None and bogus.fault.kind == "crash"


def test_mingw_table_variant_shifts_slots_r73() -> None:
    dll = load("bad_mingw_table")
    table = dll.handle_call(Call("MprAdminInitializeDllEx", (None,))).outputs[0]
    assert table["lpfnRasAdminAcceptEndpointChangeEx"] == dll.export_address(
        "MprAdminAcceptReauthenticationEx"
    )
    assert table["lpfnRasAdminAcceptReauthenticationEx"] == dll.export_address(
        "MprAdminConnectionHangupNotificationEx"
    )
    assert table["lpfnRasAdminConnectionHangupNotificationEx"] == 0


def test_exception_is_a_crash_fault_and_the_standin_reloads() -> None:
    dll = load("bad_raises")
    dll.handle_call(
        Call(
            "MprAdminAcceptNewConnection", (S.RAS_CONNECTION_0(hConnection=1), S.RAS_CONNECTION_1())
        )
    )
    assert dll.handle_call(Call("RasemuTestConnectionCount")).returned == 1
    r = dll.handle_call(Call("MprAdminGetIpAddressForUser", ("a", "b", 0, SENTINEL)))
    assert r.fault is not None and r.fault.kind == "crash"
    assert "RuntimeError" in r.fault.message and "_reference.py:" in r.fault.message
    assert r.returned is None
    # reloaded: fresh state
    assert dll.handle_call(Call("RasemuTestConnectionCount")).returned == 0


def test_release_crash_variant_r65() -> None:
    dll = load("bad_release_crash")
    _, addr, _ = get_ip(dll, "alice")
    ok = dll.handle_call(Call("MprAdminReleaseIpAddress", ("alice", "VPN0", addr)))
    assert ok.fault is None
    bad = dll.handle_call(Call("MprAdminReleaseIpAddress", ("nobody", "VPN0", addr)))
    assert bad.fault is not None and "AttributeError" in bad.fault.message


def test_resource_hook_shows_leaks_r76() -> None:
    for variant, leaked in (("good", 0), ("bad_leak", 3)):
        dll = load(variant)
        base = dll.resource_usage()
        assert base is not None and base.heap_blocks == 0
        _, addr, _ = get_ip(dll, "alice")
        c0 = S.RAS_CONNECTION_0(hConnection=9, wszUserName="alice")
        dll.handle_call(Call("MprAdminAcceptNewConnection", (c0, S.RAS_CONNECTION_1())))
        dll.handle_call(Call("MprAdminConnectionHangupNotification", (c0, S.RAS_CONNECTION_1())))
        dll.handle_call(Call("MprAdminReleaseIpAddress", ("alice", "VPN0", addr)))
        usage = dll.resource_usage()
        assert usage is not None and usage.heap_blocks == leaked, variant
        assert dll.handle_call(Call("RasemuTestLeaseCount")).returned == 0


def test_dropped_exports() -> None:
    assert "MprAdminGetIpAddressForUser" not in load("bad_release_without_get").exports
    assert "MprAdminReleaseIpAddress" in load("bad_release_without_get").exports
    assert "MprAdminAcceptNewLink" not in load("bad_no_accept_link").exports
    assert "RasAdminConnectionHangupNotification" not in load("bad_nt4_incomplete").exports
    assert load("bad_terminate_true").handle_call(Call("MprAdminTerminateDll")).returned == 1
    assert load("good").handle_call(Call("MprAdminTerminateDll")).returned == 0


def test_module_level_functions_garbage_returns_and_decorated_names(tmp_path: Path) -> None:
    src = tmp_path / "mini.py"
    src.write_text(
        textwrap.dedent(
            """
            from emulator.loaders.python import Ref
            from emulator.abi.addresses import ip_to_dword

            def MprAdminGetIpAddressForUser(user, port, addr, notify):
                addr.value = ip_to_dword("10.1.1.1")
                notify.value = True
                return None

            def MprAdminTerminateDll():
                return "done"

            def MprAdminInitializeDll():
                return -1

            def MprAdminReleaseIpAddress(user, port, addr):
                addr.value = "oops"

            def _helper():
                pass

            RASEMU_EXPORTS = {"_MprAdminTerminateDll@0": MprAdminTerminateDll}
            """
        )
    )
    dll = PythonLoader().load(str(src))
    assert dll.exports == {
        "MprAdminGetIpAddressForUser",
        "MprAdminTerminateDll",
        "MprAdminInitializeDll",
        "MprAdminReleaseIpAddress",
        "_MprAdminTerminateDll@0",
    }
    r = dll.handle_call(Call("MprAdminGetIpAddressForUser", ("u", "p", 0, SENTINEL)))
    assert r.returned == 0 and r.outputs == {2: ip_to_dword("10.1.1.1"), 3: 1}
    assert [i.rule for i in r.issues] == ["R59"]
    t = dll.handle_call(Call("MprAdminTerminateDll"))
    assert t.returned == 0 and [i.rule for i in t.issues] == ["R57"]
    assert dll.handle_call(Call("MprAdminInitializeDll")).returned == 0xFFFFFFFF
    rel = dll.handle_call(Call("MprAdminReleaseIpAddress", ("u", "p", 5)))
    assert rel.outputs == {2: 5} and rel.issues and rel.issues[0].rule == "R42"
    with pytest.raises(KeyError):
        dll.handle_call(Call("MprAdminAcceptNewLink", ()))


def test_module_class_spec_and_load_errors(tmp_path: Path) -> None:
    dll = PythonLoader().load("fixtures.standins.good:AdminDll")
    assert "MprAdminGetIpAddressForUser" in dll.exports
    with pytest.raises(LoadError, match="not found"):
        PythonLoader().load(str(tmp_path / "missing.py"))
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    with pytest.raises(LoadError, match="SyntaxError"):
        PythonLoader().load(str(broken))
    boom = tmp_path / "boom.py"
    boom.write_text("raise ValueError('no config')\n")
    with pytest.raises(LoadError, match=r"ValueError: no config at boom.py:1"):
        PythonLoader().load(str(boom))
    with pytest.raises(LoadError, match="no importable module"):
        PythonLoader().load("no_such_module_xyz:AdminDll")
    with pytest.raises(LoadError, match="not a class"):
        PythonLoader().load("fixtures.standins.good:NoSuchClass")


def test_close_calls_detach_hook(tmp_path: Path) -> None:
    src = tmp_path / "detach.py"
    marker = tmp_path / "detached"
    src.write_text(
        f"def MprAdminInitializeDll():\n    return 0\n\n"
        f"def rasemu_detach():\n    open({str(marker)!r}, 'w').close()\n"
    )
    dll = PythonLoader().load(str(src))
    assert "rasemu_detach" not in dll.exports
    dll.close()
    dll.close()
    assert marker.exists()
    with pytest.raises(RuntimeError):
        dll.handle_call(Call("MprAdminInitializeDll"))


def test_standin_with_dataclasses_and_module_identity(tmp_path: Path) -> None:
    import sys

    import fixtures.standins.good as imported

    src = tmp_path / "dc.py"
    src.write_text(
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n\n"
        "@dataclass\nclass Lease:\n    user: str\n\n"
        "class AdminDll:\n"
        "    def __init__(self) -> None:\n        self.leases = [Lease('a')]\n"
        "    def RasemuTestLeaseCount(self) -> int:\n        return len(self.leases)\n"
    )
    assert PythonLoader().load(str(src)).handle_call(Call("RasemuTestLeaseCount")).returned == 1
    PythonLoader().load("fixtures.standins.good")
    assert sys.modules["fixtures.standins.good"] is imported
