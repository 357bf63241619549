"""pack/unpack: round trips, string limits (R42), unions, out-of-line data, addresses."""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.abi import structs as S
from emulator.abi.addresses import dword_to_ip, ip_to_dword, looks_byteswapped

BITS = [32, 64]


def _conn1() -> S.RAS_CONNECTION_1:
    return S.RAS_CONNECTION_1(
        hConnection=0x1234,
        hInterface=0x99,
        PppInfo=S.PPP_INFO(
            ip=S.PPP_IPCP_INFO(wszAddress="10.0.0.1", wszRemoteAddress="192.168.100.10"),
            nbf=S.PPP_NBFCP_INFO(dwError=5, wszWksta="WKSTA"),
        ),
        dwBytesXmited=1,
        dwCompressionRatioOut=0xFFFFFFFF,
    )


@pytest.mark.parametrize("bitness", BITS)
def test_round_trip_and_bytes_at_spec_offsets(bitness: int) -> None:
    c = _conn1()
    raw = S.pack(c, bitness)
    assert len(raw) == S.sizeof("RAS_CONNECTION_1", bitness)
    assert S.unpack("RAS_CONNECTION_1", raw, bitness) == c
    off = S.offsetof("RAS_CONNECTION_1", "PppInfo.ip.wszRemoteAddress", bitness)
    assert raw[off : off + 30] == "192.168.100.10".encode("utf-16-le") + b"\0\0"
    assert raw[4 if bitness == 32 else 8] == 0x99
    last = S.offsetof("RAS_CONNECTION_1", "dwCompressionRatioOut", bitness)
    assert raw[last : last + 4] == b"\xff\xff\xff\xff"


@pytest.mark.parametrize("bitness", BITS)
def test_default_objects_round_trip(bitness: int) -> None:
    for name, cls in S.STRUCTS.items():
        obj = cls()
        raw = S.pack(obj, bitness)
        assert len(raw) == S.sizeof(name, bitness), name
        assert raw == bytes(len(raw)), name
        assert S.unpack(name, raw, bitness) == obj, name


@pytest.mark.parametrize("bitness", BITS)
def test_string_limits_r42(bitness: int) -> None:
    S.pack(S.RAS_CONNECTION_0(wszUserName="u" * 256), bitness)  # UNLEN chars + NUL fit
    with pytest.raises(ValueError, match=r"wszUserName.*WCHAR\[257\].*R42"):
        S.pack(S.RAS_CONNECTION_0(wszUserName="u" * 257), bitness)
    # NT 4.0 port names have no +1: 15 chars max
    S.pack(S.NT4_RAS_PORT_0(wszPortName="p" * 15), bitness)
    with pytest.raises(ValueError, match="wszPortName"):
        S.pack(S.NT4_RAS_PORT_0(wszPortName="p" * 16), bitness)
    # a character outside the BMP takes two UTF-16 units
    with pytest.raises(ValueError):
        S.pack(S.RAS_PORT_0(wszPortName="\U0001f600" * 8 + "x"), bitness)
    with pytest.raises(ValueError, match="P_Key"):
        S.pack(S.RAS_PARAMETERS(P_Key="K" * 32), bitness)
    with pytest.raises(ValueError, match="does not fit"):
        S.pack(S.RAS_CONNECTION_0(dwConnectDuration=1 << 32), bitness)


def test_unterminated_string_is_read_to_the_array_end() -> None:
    raw = bytearray(S.pack(S.RAS_PORT_0(), 64))
    off = S.offsetof("RAS_PORT_0", "wszPortName", 64)
    raw[off : off + 34] = "A".encode("utf-16-le") * 17
    assert S.unpack("RAS_PORT_0", bytes(raw), 64).wszPortName == "A" * 17


@pytest.mark.parametrize("bitness", BITS)
def test_projection_union_follows_type(bitness: int) -> None:
    ike = S.RAS_CONNECTION_EX(
        wszUserName="bob",
        ProjectionInfo=S.PROJECTION_INFO(
            projectionInfoType=S.MPRAPI_IKEV2_PROJECTION_INFO_TYPE,
            Ikev2ProjectionInfo=S.IKEV2_PROJECTION_INFO(
                wszRemoteAddress="1.2.3.4", dwEncryptionMethod=7, IPv6SubInterfaceIndex=1 << 40
            ),
        ),
        hConnection=0xABCDEF,
    )
    raw = S.pack(ike, bitness)
    assert S.unpack("RAS_CONNECTION_EX", raw, bitness) == ike
    off = S.offsetof(
        "RAS_CONNECTION_EX", "ProjectionInfo.Ikev2ProjectionInfo.dwEncryptionMethod", bitness
    )
    assert struct.unpack_from("<I", raw, off)[0] == 7
    ppp = S.PROJECTION_INFO(
        projectionInfoType=1,
        PppProjectionInfo=S.PPP_PROJECTION_INFO(wszRemoteAddress="5.6.7.8", dwCcpRemoteOptions=9),
    )
    raw = S.pack(ppp, bitness)
    assert S.unpack("PROJECTION_INFO", raw, bitness) == ppp
    assert struct.unpack_from("<I", raw, 8 + 188)[0] == 9


@pytest.mark.parametrize("bitness", BITS)
def test_ras_parameters_array_with_out_of_line_strings(bitness: int) -> None:
    base = 0x7FF0_0000
    params = [
        S.RAS_PARAMETERS(
            P_Key="MAXCONNECTBPS", P_Type=S.ParamNumber, P_Value=S.RAS_PARAMS_VALUE(Number=33600)
        ),
        S.RAS_PARAMETERS(
            P_Key="DEVICENAME",
            P_Type=S.ParamString,
            P_Value=S.RAS_PARAMS_VALUE(String=S.RAS_PARAMS_STRING(Data=b"modem")),
        ),
    ]
    raw = S.pack_array(params, bitness, base=base)
    size = S.sizeof("RAS_PARAMETERS", bitness)
    assert len(raw) > 2 * size
    ptr_off = size + S.offsetof("RAS_PARAMETERS", "P_Value.String.Data", bitness)
    fmt = "<I" if bitness == 32 else "<Q"
    ptr = struct.unpack_from(fmt, raw, ptr_off)[0]
    assert ptr >= base + 2 * size
    assert raw[ptr - base : ptr - base + 5] == b"modem"
    assert struct.unpack_from("<I", raw, size + 40)[0] == 5  # String.Length
    assert struct.unpack_from("<I", raw, 40)[0] == 33600
    assert S.unpack_array("RAS_PARAMETERS", raw, 2, bitness, base=base) == params
    assert S.pack_array([], bitness) == b""
    with pytest.raises(TypeError, match="mixed"):
        S.pack_array([params[0], S.RAS_PORT_1()], bitness)


@pytest.mark.parametrize("bitness", BITS)
def test_auth_validation_variable_tail(bitness: int) -> None:
    a = S.AUTH_VALIDATION_EX(wszUserName="x", AuthInfo=bytes(range(200)) * 5)
    assert a.AuthInfoSize == 1000
    raw = S.pack(a, bitness)
    off = S.offsetof("AUTH_VALIDATION_EX", "AuthInfo", bitness)
    assert len(raw) == off + 1000
    assert raw[off : off + 3] == b"\x00\x01\x02"
    assert S.unpack("AUTH_VALIDATION_EX", raw, bitness) == a


def test_guid_matches_windows_byte_layout() -> None:
    u = uuid.UUID("12345678-9abc-def0-1122-334455667788")
    g = S.GUID.from_uuid(u)
    assert S.pack(g, 64) == u.bytes_le
    assert g.to_uuid() == u


def test_unpack_rejects_short_buffers() -> None:
    with pytest.raises(ValueError, match="need 1116 bytes"):
        S.unpack("RAS_CONNECTION_0", b"\0" * 10, 32)


@given(
    user=st.text(max_size=256).filter(lambda s: len(s.encode("utf-16-le", "surrogatepass")) <= 512),
    h=st.integers(0, 2**32 - 1),
    flags=st.integers(0, 2**32 - 1),
)
def test_round_trip_property(user: str, h: int, flags: int) -> None:
    user = user.split("\0", 1)[0]
    c = S.RAS_CONNECTION_0(hConnection=h, wszUserName=user, dwConnectionFlags=flags)
    for bitness in BITS:
        assert S.unpack("RAS_CONNECTION_0", S.pack(c, bitness), bitness) == c


def test_ip_dword_network_order() -> None:
    d = ip_to_dword("192.168.100.10")
    assert d.to_bytes(4, "little") == bytes([192, 168, 100, 10])
    assert d == 0x0A64A8C0
    assert dword_to_ip(d) == "192.168.100.10"
    import ipaddress

    pool = ipaddress.IPv4Network("192.168.100.0/24")
    assert looks_byteswapped(int.from_bytes(bytes([10, 100, 168, 192]), "little"), pool)
    assert not looks_byteswapped(d, pool)
