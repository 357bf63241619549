"""Every size and offset of spec sections 2.7, 4.2 and 4.3, for x86 and x64."""

from __future__ import annotations

import pytest

from emulator.abi import structs as S
from emulator.abi.callbacks import SIGNATURES, TABLE_ONLY, TABLE_SLOTS

# (structure, x86 size, x64 size) - spec 4.2/4.3/2.7
SIZES = [
    ("RAS_CONNECTION_0", 1116, 1128),
    ("RAS_CONNECTION_1", 288, 296),
    ("RAS_CONNECTION_2", 844, 848),
    ("RAS_CONNECTION_3", 788, 792),
    ("RAS_CONNECTION_EX", 1664, 1672),
    ("MPRAPI_OBJECT_HEADER", 4, 4),
    ("PPP_NBFCP_INFO", 40, 40),
    ("PPP_IPCP_INFO", 68, 68),
    ("PPP_IPCP_INFO2", 76, 76),
    ("PPP_IPXCP_INFO", 52, 52),
    ("PPP_ATCP_INFO", 72, 72),
    ("PPP_CCP_INFO", 20, 20),
    ("PPP_LCP_INFO", 44, 44),
    ("PPP_IPV6_CP_INFO", 48, 48),
    ("PPP_INFO", 232, 232),
    ("PPP_INFO_2", 304, 304),
    ("PPP_INFO_3", 228, 228),
    ("PROJECTION_INFO", 200, 200),
    ("PPP_PROJECTION_INFO", 192, 192),
    ("IKEV2_PROJECTION_INFO", 144, 144),
    ("RAS_PORT_0", 380, 392),
    ("RAS_PORT_1", 64, 72),
    ("AUTH_VALIDATION_EX", 564, 576),
    ("GUID", 16, 16),
    ("FILETIME", 8, 8),
    ("MPRAPI_ADMIN_DLL_CALLBACKS", 52, 104),
    ("MPRAPI_ADMIN_DLL_CALLBACKS_MINGW", 44, 88),
    ("NT4_RAS_PORT_0", 948, 948),
    ("NT4_RAS_PORT_1", 1188, 1188),
    ("RAS_PPP_PROJECTION_RESULT", 220, 220),
    ("RAS_PPP_NBFCP_RESULT", 60, 60),
    ("RAS_PPP_IPCP_RESULT", 36, 36),
    ("RAS_PPP_IPXCP_RESULT", 52, 52),
    ("RAS_PPP_ATCP_RESULT", 72, 72),
    ("RAS_PORT_STATISTICS", 112, 112),
    ("RAS_PARAMETERS", 48, 56),
]

_STATS12 = [
    "dwBytesXmited",
    "dwBytesRcved",
    "dwFramesXmited",
    "dwFramesRcved",
    "dwCrcErr",
    "dwTimeoutErr",
    "dwAlignmentErr",
    "dwHardwareOverrunErr",
    "dwFramingErr",
    "dwBufferOverrunErr",
    "dwCompressionRatioIn",
    "dwCompressionRatioOut",
]

# (structure, field path, x86 offset, x64 offset)
OFFSETS: list[tuple[str, str, int, int]] = [
    # RAS_CONNECTION_0
    ("RAS_CONNECTION_0", "hConnection", 0, 0),
    ("RAS_CONNECTION_0", "hInterface", 4, 8),
    ("RAS_CONNECTION_0", "dwConnectDuration", 8, 16),
    ("RAS_CONNECTION_0", "dwInterfaceType", 12, 20),
    ("RAS_CONNECTION_0", "dwConnectionFlags", 16, 24),
    ("RAS_CONNECTION_0", "wszInterfaceName", 20, 28),
    ("RAS_CONNECTION_0", "wszUserName", 534, 542),
    ("RAS_CONNECTION_0", "wszLogonDomain", 1048, 1056),
    ("RAS_CONNECTION_0", "wszRemoteComputer", 1080, 1088),
    # PPP_INFO
    ("PPP_INFO", "nbf", 0, 0),
    ("PPP_INFO", "ip", 40, 40),
    ("PPP_INFO", "ipx", 108, 108),
    ("PPP_INFO", "at", 160, 160),
    # RAS_CONNECTION_1
    ("RAS_CONNECTION_1", "hConnection", 0, 0),
    ("RAS_CONNECTION_1", "hInterface", 4, 8),
    ("RAS_CONNECTION_1", "PppInfo", 8, 16),
    *[("RAS_CONNECTION_1", f, 240 + 4 * i, 248 + 4 * i) for i, f in enumerate(_STATS12)],
    # PPP_INFO_2 and its blocks
    ("PPP_INFO_2", "nbf", 0, 0),
    ("PPP_INFO_2", "ip", 40, 40),
    ("PPP_INFO_2", "ipx", 116, 116),
    ("PPP_INFO_2", "at", 168, 168),
    ("PPP_INFO_2", "ccp", 240, 240),
    ("PPP_INFO_2", "lcp", 260, 260),
    # RAS_CONNECTION_2
    ("RAS_CONNECTION_2", "hConnection", 0, 0),
    ("RAS_CONNECTION_2", "wszUserName", 4, 8),
    ("RAS_CONNECTION_2", "dwInterfaceType", 520, 524),
    ("RAS_CONNECTION_2", "guid", 524, 528),
    ("RAS_CONNECTION_2", "PppInfo2", 540, 544),
    # PPP_INFO_3, PPP_IPV6_CP_INFO
    ("PPP_INFO_3", "nbf", 0, 0),
    ("PPP_INFO_3", "ip", 40, 40),
    ("PPP_INFO_3", "ipv6", 116, 116),
    ("PPP_INFO_3", "ccp", 164, 164),
    ("PPP_INFO_3", "lcp", 184, 184),
    ("PPP_IPV6_CP_INFO", "dwVersion", 0, 0),
    ("PPP_IPV6_CP_INFO", "dwSize", 4, 4),
    ("PPP_IPV6_CP_INFO", "dwError", 8, 8),
    ("PPP_IPV6_CP_INFO", "bInterfaceIdentifier", 12, 12),
    ("PPP_IPV6_CP_INFO", "bRemoteInterfaceIdentifier", 20, 20),
    ("PPP_IPV6_CP_INFO", "dwOptions", 28, 28),
    ("PPP_IPV6_CP_INFO", "dwRemoteOptions", 32, 32),
    ("PPP_IPV6_CP_INFO", "bPrefix", 36, 36),
    ("PPP_IPV6_CP_INFO", "dwPrefixLength", 44, 44),
    # RAS_CONNECTION_3
    ("RAS_CONNECTION_3", "dwVersion", 0, 0),
    ("RAS_CONNECTION_3", "dwSize", 4, 4),
    ("RAS_CONNECTION_3", "hConnection", 8, 8),
    ("RAS_CONNECTION_3", "wszUserName", 12, 16),
    ("RAS_CONNECTION_3", "dwInterfaceType", 528, 532),
    ("RAS_CONNECTION_3", "guid", 532, 536),
    ("RAS_CONNECTION_3", "PppInfo3", 548, 552),
    ("RAS_CONNECTION_3", "rasQuarState", 776, 780),
    ("RAS_CONNECTION_3", "timer", 780, 784),
    # MPRAPI_OBJECT_HEADER
    ("MPRAPI_OBJECT_HEADER", "revision", 0, 0),
    ("MPRAPI_OBJECT_HEADER", "type", 1, 1),
    ("MPRAPI_OBJECT_HEADER", "size", 2, 2),
    # RAS_CONNECTION_EX
    ("RAS_CONNECTION_EX", "Header", 0, 0),
    ("RAS_CONNECTION_EX", "dwConnectDuration", 4, 4),
    ("RAS_CONNECTION_EX", "dwInterfaceType", 8, 8),
    ("RAS_CONNECTION_EX", "dwConnectionFlags", 12, 12),
    ("RAS_CONNECTION_EX", "wszInterfaceName", 16, 16),
    ("RAS_CONNECTION_EX", "wszUserName", 530, 530),
    ("RAS_CONNECTION_EX", "wszLogonDomain", 1044, 1044),
    ("RAS_CONNECTION_EX", "wszRemoteComputer", 1076, 1076),
    ("RAS_CONNECTION_EX", "guid", 1112, 1112),
    ("RAS_CONNECTION_EX", "rasQuarState", 1128, 1128),
    ("RAS_CONNECTION_EX", "probationTime", 1132, 1132),
    *[("RAS_CONNECTION_EX", f, 1140 + 4 * i, 1140 + 4 * i) for i, f in enumerate(_STATS12)],
    ("RAS_CONNECTION_EX", "dwCompressionRatioOut", 1184, 1184),
    ("RAS_CONNECTION_EX", "dwNumSwitchOvers", 1188, 1188),
    ("RAS_CONNECTION_EX", "wszRemoteEndpointAddress", 1192, 1192),
    ("RAS_CONNECTION_EX", "wszLocalEndpointAddress", 1322, 1322),
    ("RAS_CONNECTION_EX", "ProjectionInfo", 1456, 1456),
    ("RAS_CONNECTION_EX", "hConnection", 1656, 1656),
    ("RAS_CONNECTION_EX", "hInterface", 1660, 1664),
    # PROJECTION_INFO and its union members
    ("PROJECTION_INFO", "projectionInfoType", 0, 0),
    ("PROJECTION_INFO", "PppProjectionInfo", 8, 8),
    ("PROJECTION_INFO", "Ikev2ProjectionInfo", 8, 8),
    ("PPP_PROJECTION_INFO", "dwIPv4NegotiationError", 0, 0),
    ("PPP_PROJECTION_INFO", "wszAddress", 4, 4),
    ("PPP_PROJECTION_INFO", "wszRemoteAddress", 36, 36),
    ("PPP_PROJECTION_INFO", "dwIPv4Options", 68, 68),
    ("PPP_PROJECTION_INFO", "dwIPv4RemoteOptions", 72, 72),
    ("PPP_PROJECTION_INFO", "IPv4SubInterfaceIndex", 80, 80),
    ("PPP_PROJECTION_INFO", "dwIPv6NegotiationError", 88, 88),
    ("PPP_PROJECTION_INFO", "bInterfaceIdentifier", 92, 92),
    ("PPP_PROJECTION_INFO", "bRemoteInterfaceIdentifier", 100, 100),
    ("PPP_PROJECTION_INFO", "bPrefix", 108, 108),
    ("PPP_PROJECTION_INFO", "dwPrefixLength", 116, 116),
    ("PPP_PROJECTION_INFO", "IPv6SubInterfaceIndex", 120, 120),
    ("PPP_PROJECTION_INFO", "dwLcpError", 128, 128),
    ("PPP_PROJECTION_INFO", "dwRemoteEapTypeId", 168, 168),
    ("PPP_PROJECTION_INFO", "dwCcpError", 172, 172),
    ("PPP_PROJECTION_INFO", "dwCompressionAlgorithm", 176, 176),
    ("PPP_PROJECTION_INFO", "dwCcpOptions", 180, 180),
    ("PPP_PROJECTION_INFO", "dwRemoteCompressionAlgorithm", 184, 184),
    ("PPP_PROJECTION_INFO", "dwCcpRemoteOptions", 188, 188),
    ("IKEV2_PROJECTION_INFO", "wszRemoteAddress", 36, 36),
    ("IKEV2_PROJECTION_INFO", "IPv4SubInterfaceIndex", 72, 72),
    ("IKEV2_PROJECTION_INFO", "dwIPv6NegotiationError", 80, 80),
    ("IKEV2_PROJECTION_INFO", "bInterfaceIdentifier", 84, 84),
    ("IKEV2_PROJECTION_INFO", "bRemoteInterfaceIdentifier", 92, 92),
    ("IKEV2_PROJECTION_INFO", "bPrefix", 100, 100),
    ("IKEV2_PROJECTION_INFO", "dwPrefixLength", 108, 108),
    ("IKEV2_PROJECTION_INFO", "IPv6SubInterfaceIndex", 112, 112),
    ("IKEV2_PROJECTION_INFO", "dwOptions", 120, 120),
    ("IKEV2_PROJECTION_INFO", "dwAuthenticationProtocol", 124, 124),
    ("IKEV2_PROJECTION_INFO", "dwEapTypeId", 128, 128),
    ("IKEV2_PROJECTION_INFO", "dwCompressionAlgorithm", 132, 132),
    ("IKEV2_PROJECTION_INFO", "dwEncryptionMethod", 136, 136),
    # RAS_PORT_0 / RAS_PORT_1 (MprAdmin)
    ("RAS_PORT_0", "hPort", 0, 0),
    ("RAS_PORT_0", "hConnection", 4, 8),
    ("RAS_PORT_0", "dwPortCondition", 8, 16),
    ("RAS_PORT_0", "dwTotalNumberOfCalls", 12, 20),
    ("RAS_PORT_0", "dwConnectDuration", 16, 24),
    ("RAS_PORT_0", "wszPortName", 20, 28),
    ("RAS_PORT_0", "wszMediaName", 54, 62),
    ("RAS_PORT_0", "wszDeviceName", 88, 96),
    ("RAS_PORT_0", "wszDeviceType", 346, 354),
    ("RAS_PORT_1", "hPort", 0, 0),
    ("RAS_PORT_1", "hConnection", 4, 8),
    ("RAS_PORT_1", "dwHardwareCondition", 8, 16),
    ("RAS_PORT_1", "dwLineSpeed", 12, 20),
    *[("RAS_PORT_1", f, 16 + 4 * i, 24 + 4 * i) for i, f in enumerate(_STATS12)],
    # AUTH_VALIDATION_EX
    ("AUTH_VALIDATION_EX", "Header", 0, 0),
    ("AUTH_VALIDATION_EX", "hRasConnection", 4, 8),
    ("AUTH_VALIDATION_EX", "wszUserName", 8, 16),
    ("AUTH_VALIDATION_EX", "wszLogonDomain", 522, 530),
    ("AUTH_VALIDATION_EX", "AuthInfoSize", 556, 564),
    ("AUTH_VALIDATION_EX", "AuthInfo", 560, 568),
    # NT 4.0
    ("NT4_RAS_PORT_0", "wszPortName", 0, 0),
    ("NT4_RAS_PORT_0", "wszDeviceType", 32, 32),
    ("NT4_RAS_PORT_0", "wszDeviceName", 64, 64),
    ("NT4_RAS_PORT_0", "wszMediaName", 320, 320),
    ("NT4_RAS_PORT_0", "reserved", 352, 352),
    ("NT4_RAS_PORT_0", "Flags", 356, 356),
    ("NT4_RAS_PORT_0", "wszUserName", 360, 360),
    ("NT4_RAS_PORT_0", "wszComputer", 874, 874),
    ("NT4_RAS_PORT_0", "dwStartSessionTime", 908, 908),
    ("NT4_RAS_PORT_0", "wszLogonDomain", 912, 912),
    ("NT4_RAS_PORT_0", "fAdvancedServer", 944, 944),
    ("NT4_RAS_PORT_1", "rasport0", 0, 0),
    ("NT4_RAS_PORT_1", "LineCondition", 948, 948),
    ("NT4_RAS_PORT_1", "HardwareCondition", 952, 952),
    ("NT4_RAS_PORT_1", "LineSpeed", 956, 956),
    ("NT4_RAS_PORT_1", "NumStatistics", 960, 960),
    ("NT4_RAS_PORT_1", "NumMediaParms", 962, 962),
    ("NT4_RAS_PORT_1", "SizeMediaParms", 964, 964),
    ("NT4_RAS_PORT_1", "ProjResult", 968, 968),
    ("RAS_PPP_PROJECTION_RESULT", "nbf.szName", 8, 8),
    ("RAS_PPP_PROJECTION_RESULT", "nbf.wszWksta", 26, 26),
    ("RAS_PPP_PROJECTION_RESULT", "ip", 60, 60),
    ("RAS_PPP_PROJECTION_RESULT", "ipx", 96, 96),
    ("RAS_PPP_PROJECTION_RESULT", "at", 148, 148),
    ("RAS_PORT_STATISTICS", "dwBytesXmited", 0, 0),
    ("RAS_PORT_STATISTICS", "dwBytesRcvedCompressed", 52, 52),
    ("RAS_PORT_STATISTICS", "dwPortBytesXmited", 56, 56),
    ("RAS_PORT_STATISTICS", "dwPortBytesRcvedCompressed", 108, 108),
    ("RAS_PARAMETERS", "P_Key", 0, 0),
    ("RAS_PARAMETERS", "P_Type", 32, 32),
    ("RAS_PARAMETERS", "P_Attributes", 36, 36),
    ("RAS_PARAMETERS", "P_Value", 40, 40),
    ("RAS_PARAMETERS", "P_Value.Number", 40, 40),
    ("RAS_PARAMETERS", "P_Value.String.Length", 40, 40),
    ("RAS_PARAMETERS", "P_Value.String.Data", 44, 48),
    # dotted paths through nesting
    ("RAS_CONNECTION_1", "PppInfo.ip.wszRemoteAddress", 84, 92),
    ("RAS_CONNECTION_EX", "ProjectionInfo.PppProjectionInfo.wszRemoteAddress", 1500, 1500),
    ("MPRAPI_ADMIN_DLL_CALLBACKS", "revision", 0, 0),
    ("MPRAPI_ADMIN_DLL_CALLBACKS_MINGW", "revision", 0, 0),
    ("MPRAPI_ADMIN_DLL_CALLBACKS_MINGW", "lpfnRasAdminAcceptReauthenticationEx", 36, 72),
    ("MPRAPI_ADMIN_DLL_CALLBACKS_MINGW", "lpfnRasAdminConnectionHangupNotificationEx", 40, 80),
]
# SDK table: slot k at 4 + 4k / 8 + 8k (spec 2.7)
OFFSETS += [
    ("MPRAPI_ADMIN_DLL_CALLBACKS", slot, 4 + 4 * k, 8 + 8 * k)
    for k, (slot, _sig) in enumerate(TABLE_SLOTS)
]


@pytest.mark.parametrize(("name", "x86", "x64"), SIZES, ids=[s[0] for s in SIZES])
def test_size(name: str, x86: int, x64: int) -> None:
    assert S.sizeof(name, 32) == x86
    assert S.sizeof(name, 64) == x64
    assert S.sizeof(S.STRUCTS[name], 64) == x64


@pytest.mark.parametrize(
    ("name", "path", "x86", "x64"), OFFSETS, ids=[f"{o[0]}.{o[1]}" for o in OFFSETS]
)
def test_offset(name: str, path: str, x86: int, x64: int) -> None:
    assert S.offsetof(name, path, 32) == x86
    assert S.offsetof(name, path, 64) == x64


def test_every_struct_named_by_a_signature_exists() -> None:
    for sig in [*SIGNATURES.values(), *TABLE_ONLY.values()]:
        for p in sig.params:
            if p.struct is not None:
                assert p.struct in S.STRUCTS, (sig.name, p.struct)
                assert S.STRUCTS[p.struct].__name__ == p.struct


def test_table_slot_names_match_callbacks_module() -> None:
    names = [f for f in S.MPRAPI_ADMIN_DLL_CALLBACKS.__dataclass_fields__ if f != "revision"]
    assert names == [slot for slot, _ in TABLE_SLOTS]
    mingw = [f for f in S.MPRAPI_ADMIN_DLL_CALLBACKS_MINGW.__dataclass_fields__ if f != "revision"]
    assert set(names) - set(mingw) == {
        "lpfnRasAdminAcceptEndpointChangeEx",
        "lpfnRASValidatePreAuthenticatedConnectionEx",
    }


def test_unknown_names_rejected() -> None:
    with pytest.raises(KeyError, match="unknown structure"):
        S.sizeof("RAS_CONNECTION_9", 32)
    with pytest.raises(KeyError, match="no field"):
        S.offsetof("RAS_CONNECTION_0", "wszNope", 32)
    with pytest.raises(ValueError, match="bitness"):
        S.sizeof("RAS_CONNECTION_0", 16)
