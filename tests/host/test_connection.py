"""Structures built for callbacks: contents (R33, R39, R40, R42) and template reuse."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from emulator.abi import structs as S
from emulator.host import connection as C

SIGS = ["MprAdminAcceptNewConnection", "MprAdminAcceptNewConnection2",
        "MprAdminAcceptNewConnection3", "MprAdminAcceptNewConnectionEx",
        "MprAdminAcceptNewLink", "MprAdminAcceptReauthentication", "RasAdminAcceptNewConnection"]


def session(i: int, user: str, addr: str | None, links: int = 1, q: int = 0) -> C.SessionInfo:
    s = C.SessionInfo(i, user, f"VPN{i}", address=None if addr is None else IPv4Address(addr),
                      quarantine_state=q)
    s.links.extend(f"VPN{i}-{k}" if k else f"VPN{i}" for k in range(links))
    s.started = 0.0 if False else s.started
    return s


def packed(args: tuple[object, ...], bits: int) -> list[bytes]:
    return [S.pack_array(a, bits) if isinstance(a, list) else S.pack(a, bits) for a in args]


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("sig", SIGS)
def test_refilled_template_equals_fresh_build(sig: str, bits: int) -> None:
    a = session(1, "alice", "10.0.0.5", links=2, q=1)
    b = session(77, "bob" * 80, "192.168.3.1")
    b.started_epoch = a.started_epoch + 5
    t = C.ArgTemplates(bits)
    t.args(sig, a, "VPN1-1", 1)
    for stats in (0, 1):
        b.started = a.started  # same duration
        got = packed(t.args(sig, b, b.port, stats), bits)
        want = packed(C.build_args(sig, b, bits, port=b.port, stats=stats), bits)
        assert got == want


def test_contents() -> None:
    s = session(3, "alice", "10.1.2.3")
    c0, c1, c2, c3 = C.build_args("MprAdminAcceptNewConnection3", s, 64)
    assert c1.PppInfo.ip.wszRemoteAddress == "10.1.2.3"  # R33
    assert c1.PppInfo.ip.wszAddress == "10.1.2.1"
    assert c3.dwSize == S.sizeof("RAS_CONNECTION_3", 64) == 792  # R40
    assert c0.wszUserName == c2.wszUserName == c3.wszUserName == "alice"
    assert len({c0.hConnection, c1.hConnection, c2.hConnection, c3.hConnection}) == 1
    (ex,) = C.build_args("MprAdminAcceptNewConnectionEx", s, 32)
    assert (ex.Header.revision, ex.Header.type, ex.Header.size) == (1, 1, 1664)  # R39
    assert ex.ProjectionInfo.projectionInfoType == 1
    p0, p1 = C.build_args("MprAdminAcceptNewLink", s, 64, port="VPN3")
    assert p0.wszPortName == "VPN3" and p0.hPort == p1.hPort == s.h_port("VPN3")
    p, _st, params = C.build_args("RasAdminAcceptNewConnection", s, 32)
    assert p.NumMediaParms == 2 and p.SizeMediaParms == 2 * S.sizeof("RAS_PARAMETERS", 32)
    assert p.ProjResult.ip.wszAddress == "10.1.2.3" and params[0].P_Key == "MAXCONNECTBPS"


def test_address_byte_order() -> None:
    dw = C.ip_to_dword("192.168.100.10")
    assert dw.to_bytes(4, "little") == bytes([192, 168, 100, 10])
    assert C.dword_to_ip(dw) == IPv4Address("192.168.100.10")
    assert C.dotted(dw) == "192.168.100.10"
    assert C.dword_to_ip(C.byteswap32(dw)) == IPv4Address("10.100.168.192")
    assert C.ip_to_dword(0) == 0 and C.ip_to_dword(None) == 0


def test_max_length_names_fit() -> None:  # R42, R71
    s = session(5, "u" * 256, "10.0.0.9")
    s.port = "P" * 16
    for sig in SIGS:
        for a in C.build_args(sig, s, 64, port=s.port):
            if isinstance(a, list):
                S.pack_array(a, 64)
            else:
                S.pack(a, 64)


def test_formatted_addresses_follow_changes() -> None:
    """server/remote are formatted once per address, and re-formatted when it changes (R33)."""
    s = session(3, "carol", None)
    assert (s.server, s.remote) == ("", "")
    s.address = IPv4Address("10.1.2.1")
    assert (s.server, s.remote) == ("10.1.2.2", "10.1.2.1")
    s.address = IPv4Address("10.1.2.9")
    assert (s.server, s.remote) == ("10.1.2.1", "10.1.2.9")
    s.server_address = IPv4Address("10.9.9.9")
    assert (s.server, s.remote) == ("10.9.9.9", "10.1.2.9")
    s.server_address = None
    s.address = None
    assert (s.server, s.remote) == ("", "")


@pytest.mark.parametrize("sid", [1, 0xFFFF, 1 << 64, (1 << 96) - 1])
def test_guid_filled_in_place_equals_the_derived_guid(sid: int) -> None:
    s = C.SessionInfo(sid, "u", "p")
    g = S.GUID(Data1=5, Data4=b"x" * 8)
    s.set_guid(g)
    assert g == s.guid and g.to_uuid() == s.guid.to_uuid()


def test_argument_summariser_matches_the_generic_form() -> None:
    from emulator.host.engine import _arg_summariser

    fns = (None, False, C.dotted, None)
    summ = _arg_summariser(fns)
    assert summ(("alice", object(), 0x0500000A, 7)) == ["alice", None, "10.0.0.5", 7]
    # a call with fewer or more arguments than parameters: the generic form (zip) decides
    assert summ(("alice",)) == ["alice"]
    assert summ(("a", 1, 0x0100007F, 2, "extra")) == ["a", None, "127.0.0.1", 2]
    assert _arg_summariser(())(()) == []
