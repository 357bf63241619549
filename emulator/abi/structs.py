# ruff: noqa: RUF009  (field helpers return dataclasses.field(); defaults are not shared)
"""Structure layouts passed to admin-DLL callbacks (spec section 4.2, 4.3 and 2.7).

Every structure is a plain ``@dataclass`` named like its C type (NT 4.0 ones prefixed ``NT4_``
where names clash). Field names are the C names; handles and pointers are ``int``; ``WCHAR[n]``
and ``CHAR[n]`` arrays are ``str``; ``BYTE[n]`` arrays are ``bytes`` (default ``n`` zero bytes; shorter values
are zero-padded when packed); nested structures are
dataclass instances. Layouts follow the MSVC rules (natural alignment, default packing) for
x86 (``bitness=32``) and x64 (``bitness=64``); ``ULONG64`` is 8-aligned on both.

Unions: ``PROJECTION_INFO`` carries both members as fields; :func:`pack` writes the one named
by ``projectionInfoType`` (2 = IKEv2, anything else = PPP) and :func:`unpack` fills only that
one. ``RAS_PARAMS_VALUE`` likewise follows ``RAS_PARAMETERS.P_Type`` (1 = ParamString).

Out-of-line data (the ``RAS_PARAMETERS`` string bytes) is appended after the packed structure
(after the whole array for :func:`pack_array`); the pointer written is ``base`` + its offset.
"""

from __future__ import annotations

import copy
import dataclasses
import struct as _st
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uuid

__all__ = [
    "AUTH_VALIDATION_EX",
    "FILETIME",
    "GUID",
    "IKEV2_PROJECTION_INFO",
    "MPRAPI_ADMIN_DLL_CALLBACKS",
    "MPRAPI_ADMIN_DLL_CALLBACKS_MINGW",
    "MPRAPI_OBJECT_HEADER",
    "NT4_RAS_PORT_0",
    "NT4_RAS_PORT_1",
    "PPP_ATCP_INFO",
    "PPP_CCP_INFO",
    "PPP_INFO",
    "PPP_INFO_2",
    "PPP_INFO_3",
    "PPP_IPCP_INFO",
    "PPP_IPCP_INFO2",
    "PPP_IPV6_CP_INFO",
    "PPP_IPXCP_INFO",
    "PPP_LCP_INFO",
    "PPP_NBFCP_INFO",
    "PPP_PROJECTION_INFO",
    "PROJECTION_INFO",
    "RAS_CONNECTION_0",
    "RAS_CONNECTION_1",
    "RAS_CONNECTION_2",
    "RAS_CONNECTION_3",
    "RAS_CONNECTION_EX",
    "RAS_PARAMETERS",
    "RAS_PARAMS_STRING",
    "RAS_PARAMS_VALUE",
    "RAS_PORT_0",
    "RAS_PORT_1",
    "RAS_PORT_STATISTICS",
    "RAS_PPP_ATCP_RESULT",
    "RAS_PPP_IPCP_RESULT",
    "RAS_PPP_IPXCP_RESULT",
    "RAS_PPP_NBFCP_RESULT",
    "RAS_PPP_PROJECTION_RESULT",
    "STRUCTS",
    "compiled",
    "offsetof",
    "pack",
    "pack_array",
    "pack_array_reference",
    "pack_reference",
    "sizeof",
    "unpack",
    "unpack_array",
]

# --------------------------------------------------------------------------- C types


class _CType:
    """A C type: size and alignment per bitness, encoder and decoder for one value."""

    def size(self, bitness: int) -> int:
        raise NotImplementedError

    def align(self, bitness: int) -> int:
        raise NotImplementedError


@dataclass(frozen=True)
class _Int(_CType):
    fmt: str  # struct format char; "P" = pointer-sized unsigned

    def _real(self, bitness: int) -> str:
        if self.fmt == "P":
            return "I" if bitness == 32 else "Q"
        return self.fmt

    def size(self, bitness: int) -> int:
        return _st.calcsize("<" + self._real(bitness))

    def align(self, bitness: int) -> int:
        return self.size(bitness)


@dataclass(frozen=True)
class _WStr(_CType):
    n: int  # WCHAR count including the terminator

    def size(self, bitness: int) -> int:
        return 2 * self.n

    def align(self, bitness: int) -> int:
        return 2


@dataclass(frozen=True)
class _CStr(_CType):
    n: int  # CHAR count including the terminator (ANSI, encoded as latin-1)

    def size(self, bitness: int) -> int:
        return self.n

    def align(self, bitness: int) -> int:
        return 1


@dataclass(frozen=True)
class _Bytes(_CType):
    n: int
    tail: bool = False  # variable-length tail (BYTE x[1] at the end); size counts 1 element

    def size(self, bitness: int) -> int:
        return self.n

    def align(self, bitness: int) -> int:
        return 1


@dataclass(frozen=True)
class _Nested(_CType):
    cls: type

    def size(self, bitness: int) -> int:
        return _layout(self.cls, bitness).size

    def align(self, bitness: int) -> int:
        return _layout(self.cls, bitness).align


@dataclass(frozen=True)
class _DataPtr(_CType):
    """A pointer to out-of-line bytes held in the Python field (``PCHAR Data``)."""

    def size(self, bitness: int) -> int:
        return bitness // 8

    def align(self, bitness: int) -> int:
        return bitness // 8


U8 = _Int("B")
U16 = _Int("H")
U32 = _Int("I")
I32 = _Int("i")
U64 = _Int("Q")
PTR = _Int("P")

# field() helpers: the C type travels in the dataclass field metadata.


def _f(ctype: _CType, default: Any = 0, *, union: str | None = None) -> Any:
    md: dict[str, Any] = {"c": ctype}
    if union is not None:
        md["union"] = union
    return field(default=default, metadata=md)


def u8() -> Any:
    return _f(U8)


def u16() -> Any:
    return _f(U16)


def u32() -> Any:
    return _f(U32)


def i32() -> Any:
    return _f(I32)


def u64() -> Any:
    return _f(U64)


def handle() -> Any:
    return _f(PTR)


def wstr(n: int) -> Any:
    return _f(_WStr(n), "")


def cstr(n: int) -> Any:
    return _f(_CStr(n), "")


def byts(n: int) -> Any:
    return _f(_Bytes(n), bytes(n))


def nested(cls: type, *, union: str | None = None) -> Any:
    md: dict[str, Any] = {"c": _Nested(cls)}
    if union is not None:
        md["union"] = union
    return field(default_factory=cls, metadata=md)


# --------------------------------------------------------------------------- constants (spec 4.1)

UNLEN = 256
DNLEN = 15
CNLEN = 15
NETBIOS_NAME_LEN = 16
MAX_INTERFACE_NAME_LEN = 256
MAX_PORT_NAME = 16
MAX_MEDIA_NAME = 16
MAX_DEVICE_NAME = 128
MAX_DEVICETYPE_NAME = 16
IPADDRESSLEN = 15
IPXADDRESSLEN = 22
ATADDRESSLEN = 32
MAXIPADRESSLEN = 64
RASSAPI_MAX_PORT_NAME = 16
RASSAPI_MAX_MEDIA_NAME = 16
RASSAPI_MAX_DEVICE_NAME = 128
RASSAPI_MAX_DEVICETYPE_NAME = 16
RASSAPI_MAX_PARAM_KEY_SIZE = 32
RAS_IPADDRESSLEN = 15
RAS_IPXADDRESSLEN = 22
RAS_ATADDRESSLEN = 32

MPRAPI_OBJECT_TYPE_RAS_CONNECTION_OBJECT = 1
MPRAPI_OBJECT_TYPE_AUTH_VALIDATION_OBJECT = 4
MPRAPI_RAS_CONNECTION_OBJECT_REVISION_1 = 1
MPRAPI_ADMIN_DLL_VERSION_1 = 1
MPRAPI_ADMIN_DLL_VERSION_2 = 2
MPRAPI_PPP_PROJECTION_INFO_TYPE = 1
MPRAPI_IKEV2_PROJECTION_INFO_TYPE = 2
ParamNumber = 0
ParamString = 1

# --------------------------------------------------------------------------- common types


@dataclass
class GUID:
    """``GUID`` (16 bytes, align 4)."""

    Data1: int = u32()
    Data2: int = u16()
    Data3: int = u16()
    Data4: bytes = byts(8)

    @classmethod
    def from_uuid(cls, value: uuid.UUID | str) -> GUID:
        """The GUID with the same value as a :class:`uuid.UUID` (or its text form)."""
        import uuid  # imported on use: it is not needed to pack or unpack

        u = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
        b = u.bytes
        return cls(
            int.from_bytes(b[0:4], "big"),
            int.from_bytes(b[4:6], "big"),
            int.from_bytes(b[6:8], "big"),
            b[8:16],
        )

    def to_uuid(self) -> uuid.UUID:
        """This GUID as a :class:`uuid.UUID`."""
        import uuid

        return uuid.UUID(
            bytes=self.Data1.to_bytes(4, "big")
            + self.Data2.to_bytes(2, "big")
            + self.Data3.to_bytes(2, "big")
            + self.Data4.ljust(8, b"\0")
        )


@dataclass
class FILETIME:
    """``FILETIME`` (8 bytes, align 4): 100-ns intervals since 1601-01-01 UTC."""

    dwLowDateTime: int = u32()
    dwHighDateTime: int = u32()


@dataclass
class MPRAPI_OBJECT_HEADER:
    """``MPRAPI_OBJECT_HEADER`` (4 bytes, align 2)."""

    revision: int = u8()
    type: int = u8()
    size: int = u16()


# --------------------------------------------------------------------------- PPP blocks


@dataclass
class PPP_NBFCP_INFO:
    dwError: int = u32()
    wszWksta: str = wstr(NETBIOS_NAME_LEN + 1)


@dataclass
class PPP_IPCP_INFO:
    """``wszAddress`` is the server's address, ``wszRemoteAddress`` the client's (dotted text)."""

    dwError: int = u32()
    wszAddress: str = wstr(IPADDRESSLEN + 1)
    wszRemoteAddress: str = wstr(IPADDRESSLEN + 1)


@dataclass
class PPP_IPCP_INFO2:
    dwError: int = u32()
    wszAddress: str = wstr(IPADDRESSLEN + 1)
    wszRemoteAddress: str = wstr(IPADDRESSLEN + 1)
    dwOptions: int = u32()
    dwRemoteOptions: int = u32()


@dataclass
class PPP_IPXCP_INFO:
    dwError: int = u32()
    wszAddress: str = wstr(IPXADDRESSLEN + 1)


@dataclass
class PPP_ATCP_INFO:
    dwError: int = u32()
    wszAddress: str = wstr(ATADDRESSLEN + 1)


@dataclass
class PPP_CCP_INFO:
    dwError: int = u32()
    dwCompressionAlgorithm: int = u32()
    dwOptions: int = u32()
    dwRemoteCompressionAlgorithm: int = u32()
    dwRemoteOptions: int = u32()


@dataclass
class PPP_LCP_INFO:
    dwError: int = u32()
    dwAuthenticationProtocol: int = u32()
    dwAuthenticationData: int = u32()
    dwRemoteAuthenticationProtocol: int = u32()
    dwRemoteAuthenticationData: int = u32()
    dwTerminateReason: int = u32()
    dwRemoteTerminateReason: int = u32()
    dwOptions: int = u32()
    dwRemoteOptions: int = u32()
    dwEapTypeId: int = u32()
    dwRemoteEapTypeId: int = u32()


@dataclass
class PPP_IPV6_CP_INFO:
    dwVersion: int = u32()
    dwSize: int = u32()
    dwError: int = u32()
    bInterfaceIdentifier: bytes = byts(8)
    bRemoteInterfaceIdentifier: bytes = byts(8)
    dwOptions: int = u32()
    dwRemoteOptions: int = u32()
    bPrefix: bytes = byts(8)
    dwPrefixLength: int = u32()


@dataclass
class PPP_INFO:
    nbf: PPP_NBFCP_INFO = nested(PPP_NBFCP_INFO)
    ip: PPP_IPCP_INFO = nested(PPP_IPCP_INFO)
    ipx: PPP_IPXCP_INFO = nested(PPP_IPXCP_INFO)
    at: PPP_ATCP_INFO = nested(PPP_ATCP_INFO)


@dataclass
class PPP_INFO_2:
    nbf: PPP_NBFCP_INFO = nested(PPP_NBFCP_INFO)
    ip: PPP_IPCP_INFO2 = nested(PPP_IPCP_INFO2)
    ipx: PPP_IPXCP_INFO = nested(PPP_IPXCP_INFO)
    at: PPP_ATCP_INFO = nested(PPP_ATCP_INFO)
    ccp: PPP_CCP_INFO = nested(PPP_CCP_INFO)
    lcp: PPP_LCP_INFO = nested(PPP_LCP_INFO)


@dataclass
class PPP_INFO_3:
    nbf: PPP_NBFCP_INFO = nested(PPP_NBFCP_INFO)
    ip: PPP_IPCP_INFO2 = nested(PPP_IPCP_INFO2)
    ipv6: PPP_IPV6_CP_INFO = nested(PPP_IPV6_CP_INFO)
    ccp: PPP_CCP_INFO = nested(PPP_CCP_INFO)
    lcp: PPP_LCP_INFO = nested(PPP_LCP_INFO)


# --------------------------------------------------------------------------- connections


@dataclass
class RAS_CONNECTION_0:
    hConnection: int = handle()
    hInterface: int = handle()
    dwConnectDuration: int = u32()
    dwInterfaceType: int = u32()
    dwConnectionFlags: int = u32()
    wszInterfaceName: str = wstr(MAX_INTERFACE_NAME_LEN + 1)
    wszUserName: str = wstr(UNLEN + 1)
    wszLogonDomain: str = wstr(DNLEN + 1)
    wszRemoteComputer: str = wstr(NETBIOS_NAME_LEN + 1)


@dataclass
class RAS_CONNECTION_1:
    hConnection: int = handle()
    hInterface: int = handle()
    PppInfo: PPP_INFO = nested(PPP_INFO)
    dwBytesXmited: int = u32()
    dwBytesRcved: int = u32()
    dwFramesXmited: int = u32()
    dwFramesRcved: int = u32()
    dwCrcErr: int = u32()
    dwTimeoutErr: int = u32()
    dwAlignmentErr: int = u32()
    dwHardwareOverrunErr: int = u32()
    dwFramingErr: int = u32()
    dwBufferOverrunErr: int = u32()
    dwCompressionRatioIn: int = u32()
    dwCompressionRatioOut: int = u32()


@dataclass
class RAS_CONNECTION_2:
    hConnection: int = handle()
    wszUserName: str = wstr(UNLEN + 1)
    dwInterfaceType: int = u32()
    guid: GUID = nested(GUID)
    PppInfo2: PPP_INFO_2 = nested(PPP_INFO_2)


@dataclass
class RAS_CONNECTION_3:
    """``dwSize`` must be the structure size (R40)."""

    dwVersion: int = u32()
    dwSize: int = u32()
    hConnection: int = handle()
    wszUserName: str = wstr(UNLEN + 1)
    dwInterfaceType: int = u32()
    guid: GUID = nested(GUID)
    PppInfo3: PPP_INFO_3 = nested(PPP_INFO_3)
    rasQuarState: int = u32()
    timer: FILETIME = nested(FILETIME)


@dataclass
class PPP_PROJECTION_INFO:
    dwIPv4NegotiationError: int = u32()
    wszAddress: str = wstr(IPADDRESSLEN + 1)
    wszRemoteAddress: str = wstr(IPADDRESSLEN + 1)
    dwIPv4Options: int = u32()
    dwIPv4RemoteOptions: int = u32()
    IPv4SubInterfaceIndex: int = u64()
    dwIPv6NegotiationError: int = u32()
    bInterfaceIdentifier: bytes = byts(8)
    bRemoteInterfaceIdentifier: bytes = byts(8)
    bPrefix: bytes = byts(8)
    dwPrefixLength: int = u32()
    IPv6SubInterfaceIndex: int = u64()
    dwLcpError: int = u32()
    dwAuthenticationProtocol: int = u32()
    dwAuthenticationData: int = u32()
    dwRemoteAuthenticationProtocol: int = u32()
    dwRemoteAuthenticationData: int = u32()
    dwLcpTerminateReason: int = u32()
    dwLcpRemoteTerminateReason: int = u32()
    dwLcpOptions: int = u32()
    dwLcpRemoteOptions: int = u32()
    dwEapTypeId: int = u32()
    dwRemoteEapTypeId: int = u32()
    dwCcpError: int = u32()
    dwCompressionAlgorithm: int = u32()
    dwCcpOptions: int = u32()
    dwRemoteCompressionAlgorithm: int = u32()
    dwCcpRemoteOptions: int = u32()


@dataclass
class IKEV2_PROJECTION_INFO:
    dwIPv4NegotiationError: int = u32()
    wszAddress: str = wstr(IPADDRESSLEN + 1)
    wszRemoteAddress: str = wstr(IPADDRESSLEN + 1)
    IPv4SubInterfaceIndex: int = u64()
    dwIPv6NegotiationError: int = u32()
    bInterfaceIdentifier: bytes = byts(8)
    bRemoteInterfaceIdentifier: bytes = byts(8)
    bPrefix: bytes = byts(8)
    dwPrefixLength: int = u32()
    IPv6SubInterfaceIndex: int = u64()
    dwOptions: int = u32()
    dwAuthenticationProtocol: int = u32()
    dwEapTypeId: int = u32()
    dwCompressionAlgorithm: int = u32()
    dwEncryptionMethod: int = u32()


def _projection_member(obj: Any) -> str:
    if obj.projectionInfoType == MPRAPI_IKEV2_PROJECTION_INFO_TYPE:
        return "Ikev2ProjectionInfo"
    return "PppProjectionInfo"


@dataclass
class PROJECTION_INFO:
    """``projectionInfoType`` selects the union member packed: 1 = PPP, 2 = IKEv2."""

    projectionInfoType: int = u8()
    Ikev2ProjectionInfo: IKEV2_PROJECTION_INFO = nested(IKEV2_PROJECTION_INFO, union="u")
    PppProjectionInfo: PPP_PROJECTION_INFO = nested(PPP_PROJECTION_INFO, union="u")


PROJECTION_INFO.__rasemu_unions__ = {"u": _projection_member}  # type: ignore[attr-defined]


@dataclass
class RAS_CONNECTION_EX:
    """``Header`` must be revision 1, type 1, size = sizeof (R39); the host fills it."""

    Header: MPRAPI_OBJECT_HEADER = nested(MPRAPI_OBJECT_HEADER)
    dwConnectDuration: int = u32()
    dwInterfaceType: int = u32()
    dwConnectionFlags: int = u32()
    wszInterfaceName: str = wstr(MAX_INTERFACE_NAME_LEN + 1)
    wszUserName: str = wstr(UNLEN + 1)
    wszLogonDomain: str = wstr(DNLEN + 1)
    wszRemoteComputer: str = wstr(NETBIOS_NAME_LEN + 1)
    guid: GUID = nested(GUID)
    rasQuarState: int = u32()
    probationTime: FILETIME = nested(FILETIME)
    dwBytesXmited: int = u32()
    dwBytesRcved: int = u32()
    dwFramesXmited: int = u32()
    dwFramesRcved: int = u32()
    dwCrcErr: int = u32()
    dwTimeoutErr: int = u32()
    dwAlignmentErr: int = u32()
    dwHardwareOverrunErr: int = u32()
    dwFramingErr: int = u32()
    dwBufferOverrunErr: int = u32()
    dwCompressionRatioIn: int = u32()
    dwCompressionRatioOut: int = u32()
    dwNumSwitchOvers: int = u32()
    wszRemoteEndpointAddress: str = wstr(MAXIPADRESSLEN + 1)
    wszLocalEndpointAddress: str = wstr(MAXIPADRESSLEN + 1)
    ProjectionInfo: PROJECTION_INFO = nested(PROJECTION_INFO)
    hConnection: int = handle()
    hInterface: int = handle()


@dataclass
class RAS_PORT_0:
    hPort: int = handle()
    hConnection: int = handle()
    dwPortCondition: int = u32()
    dwTotalNumberOfCalls: int = u32()
    dwConnectDuration: int = u32()
    wszPortName: str = wstr(MAX_PORT_NAME + 1)
    wszMediaName: str = wstr(MAX_MEDIA_NAME + 1)
    wszDeviceName: str = wstr(MAX_DEVICE_NAME + 1)
    wszDeviceType: str = wstr(MAX_DEVICETYPE_NAME + 1)


@dataclass
class RAS_PORT_1:
    hPort: int = handle()
    hConnection: int = handle()
    dwHardwareCondition: int = u32()
    dwLineSpeed: int = u32()
    dwBytesXmited: int = u32()
    dwBytesRcved: int = u32()
    dwFramesXmited: int = u32()
    dwFramesRcved: int = u32()
    dwCrcErr: int = u32()
    dwTimeoutErr: int = u32()
    dwAlignmentErr: int = u32()
    dwHardwareOverrunErr: int = u32()
    dwFramingErr: int = u32()
    dwBufferOverrunErr: int = u32()
    dwCompressionRatioIn: int = u32()
    dwCompressionRatioOut: int = u32()


@dataclass
class AUTH_VALIDATION_EX:
    """``AuthInfo`` is the variable tail (``AuthInfoSize`` bytes, packed inline at its offset).

    ``AuthInfoSize`` is written as given; when left 0 it is set to ``len(AuthInfo)`` on creation.
    """

    Header: MPRAPI_OBJECT_HEADER = nested(MPRAPI_OBJECT_HEADER)
    hRasConnection: int = handle()
    wszUserName: str = wstr(UNLEN + 1)
    wszLogonDomain: str = wstr(DNLEN + 1)
    AuthInfoSize: int = u32()
    AuthInfo: bytes = _f(_Bytes(1, tail=True), b"")

    def __post_init__(self) -> None:
        if self.AuthInfoSize == 0 and self.AuthInfo:
            self.AuthInfoSize = len(self.AuthInfo)


@dataclass
class MPRAPI_ADMIN_DLL_CALLBACKS:
    """SDK layout (12 pointer slots, spec 2.7); slots hold code addresses."""

    revision: int = u8()
    lpfnMprAdminGetIpAddressForUser: int = handle()
    lpfnMprAdminReleaseIpAddress: int = handle()
    lpfnMprAdminGetIpv6AddressForUser: int = handle()
    lpfnMprAdminReleaseIpV6AddressForUser: int = handle()
    lpfnRasAdminAcceptNewLink: int = handle()
    lpfnRasAdminLinkHangupNotification: int = handle()
    lpfnRasAdminTerminateDll: int = handle()
    lpfnRasAdminAcceptNewConnectionEx: int = handle()
    lpfnRasAdminAcceptEndpointChangeEx: int = handle()
    lpfnRasAdminAcceptReauthenticationEx: int = handle()
    lpfnRasAdminConnectionHangupNotificationEx: int = handle()
    lpfnRASValidatePreAuthenticatedConnectionEx: int = handle()


@dataclass
class MPRAPI_ADMIN_DLL_CALLBACKS_MINGW:
    """mingw-w64's layout: two SDK slots missing, later ones shifted (spec 2.7, R73)."""

    revision: int = u8()
    lpfnMprAdminGetIpAddressForUser: int = handle()
    lpfnMprAdminReleaseIpAddress: int = handle()
    lpfnMprAdminGetIpv6AddressForUser: int = handle()
    lpfnMprAdminReleaseIpV6AddressForUser: int = handle()
    lpfnRasAdminAcceptNewLink: int = handle()
    lpfnRasAdminLinkHangupNotification: int = handle()
    lpfnRasAdminTerminateDll: int = handle()
    lpfnRasAdminAcceptNewConnectionEx: int = handle()
    lpfnRasAdminAcceptReauthenticationEx: int = handle()
    lpfnRasAdminConnectionHangupNotificationEx: int = handle()


# --------------------------------------------------------------------------- NT 4.0 (rassapi.h)


@dataclass
class NT4_RAS_PORT_0:
    """NT 4.0 ``RAS_PORT_0``: port name and computer arrays have no +1 for the terminator."""

    wszPortName: str = wstr(RASSAPI_MAX_PORT_NAME)
    wszDeviceType: str = wstr(RASSAPI_MAX_DEVICETYPE_NAME)
    wszDeviceName: str = wstr(RASSAPI_MAX_DEVICE_NAME)
    wszMediaName: str = wstr(RASSAPI_MAX_MEDIA_NAME)
    reserved: int = u32()
    Flags: int = u32()
    wszUserName: str = wstr(UNLEN + 1)
    wszComputer: str = wstr(NETBIOS_NAME_LEN)
    dwStartSessionTime: int = u32()
    wszLogonDomain: str = wstr(DNLEN + 1)
    fAdvancedServer: int = i32()


@dataclass
class RAS_PPP_NBFCP_RESULT:
    dwError: int = u32()
    dwNetBiosError: int = u32()
    szName: str = cstr(NETBIOS_NAME_LEN + 1)
    wszWksta: str = wstr(NETBIOS_NAME_LEN + 1)


@dataclass
class RAS_PPP_IPCP_RESULT:
    dwError: int = u32()
    wszAddress: str = wstr(RAS_IPADDRESSLEN + 1)


@dataclass
class RAS_PPP_IPXCP_RESULT:
    dwError: int = u32()
    wszAddress: str = wstr(RAS_IPXADDRESSLEN + 1)


@dataclass
class RAS_PPP_ATCP_RESULT:
    dwError: int = u32()
    wszAddress: str = wstr(RAS_ATADDRESSLEN + 1)


@dataclass
class RAS_PPP_PROJECTION_RESULT:
    nbf: RAS_PPP_NBFCP_RESULT = nested(RAS_PPP_NBFCP_RESULT)
    ip: RAS_PPP_IPCP_RESULT = nested(RAS_PPP_IPCP_RESULT)
    ipx: RAS_PPP_IPXCP_RESULT = nested(RAS_PPP_IPXCP_RESULT)
    at: RAS_PPP_ATCP_RESULT = nested(RAS_PPP_ATCP_RESULT)


@dataclass
class NT4_RAS_PORT_1:
    """NT 4.0 ``RAS_PORT_1``; ``NumMediaParms`` = entries in the ``RAS_PARAMETERS`` array."""

    rasport0: NT4_RAS_PORT_0 = nested(NT4_RAS_PORT_0)
    LineCondition: int = u32()
    HardwareCondition: int = u32()
    LineSpeed: int = u32()
    NumStatistics: int = u16()
    NumMediaParms: int = u16()
    SizeMediaParms: int = u32()
    ProjResult: RAS_PPP_PROJECTION_RESULT = nested(RAS_PPP_PROJECTION_RESULT)


@dataclass
class RAS_PORT_STATISTICS:
    dwBytesXmited: int = u32()
    dwBytesRcved: int = u32()
    dwFramesXmited: int = u32()
    dwFramesRcved: int = u32()
    dwCrcErr: int = u32()
    dwTimeoutErr: int = u32()
    dwAlignmentErr: int = u32()
    dwHardwareOverrunErr: int = u32()
    dwFramingErr: int = u32()
    dwBufferOverrunErr: int = u32()
    dwBytesXmitedUncompressed: int = u32()
    dwBytesRcvedUncompressed: int = u32()
    dwBytesXmitedCompressed: int = u32()
    dwBytesRcvedCompressed: int = u32()
    dwPortBytesXmited: int = u32()
    dwPortBytesRcved: int = u32()
    dwPortFramesXmited: int = u32()
    dwPortFramesRcved: int = u32()
    dwPortCrcErr: int = u32()
    dwPortTimeoutErr: int = u32()
    dwPortAlignmentErr: int = u32()
    dwPortHardwareOverrunErr: int = u32()
    dwPortFramingErr: int = u32()
    dwPortBufferOverrunErr: int = u32()
    dwPortBytesXmitedUncompressed: int = u32()
    dwPortBytesRcvedUncompressed: int = u32()
    dwPortBytesXmitedCompressed: int = u32()
    dwPortBytesRcvedCompressed: int = u32()


@dataclass
class RAS_PARAMS_STRING:
    """The ``String`` member: ``Length`` bytes at ``Data`` (a ``PCHAR``, packed out of line).

    ``Length`` is written as given; when left 0 it is set to ``len(Data)`` on creation.
    """

    Length: int = u32()
    Data: bytes = _f(_DataPtr(), b"")

    def __post_init__(self) -> None:
        if self.Length == 0 and self.Data:
            self.Length = len(self.Data)


@dataclass
class RAS_PARAMS_VALUE:
    """Union ``RAS_PARAMS_VALUE``: ``Number`` or ``String`` per the owner's ``P_Type``."""

    Number: int = _f(U32, union="v")
    String: RAS_PARAMS_STRING = nested(RAS_PARAMS_STRING, union="v")


def _value_member(obj: Any) -> str:
    # standalone (not inside RAS_PARAMETERS): String when it holds anything, else Number
    string = getattr(obj, "String", None)
    return "String" if string is not None and string != RAS_PARAMS_STRING() else "Number"


RAS_PARAMS_VALUE.__rasemu_unions__ = {"v": _value_member}  # type: ignore[attr-defined]


def _params_member(obj: Any) -> str:
    return "String" if obj.P_Type == ParamString else "Number"


@dataclass
class RAS_PARAMETERS:
    """NT 4.0 media parameter (``P_Type`` 0 = ParamNumber, 1 = ParamString)."""

    P_Key: str = cstr(RASSAPI_MAX_PARAM_KEY_SIZE)
    P_Type: int = u32()
    P_Attributes: int = u8()
    P_Value: RAS_PARAMS_VALUE = nested(RAS_PARAMS_VALUE)


# The union inside P_Value is selected by the RAS_PARAMETERS object that contains it.
RAS_PARAMETERS.__rasemu_select__ = {"P_Value": _params_member}  # type: ignore[attr-defined]


STRUCTS: dict[str, type] = {
    c.__name__: c
    for c in (
        GUID,
        FILETIME,
        MPRAPI_OBJECT_HEADER,
        PPP_NBFCP_INFO,
        PPP_IPCP_INFO,
        PPP_IPCP_INFO2,
        PPP_IPXCP_INFO,
        PPP_ATCP_INFO,
        PPP_CCP_INFO,
        PPP_LCP_INFO,
        PPP_IPV6_CP_INFO,
        PPP_INFO,
        PPP_INFO_2,
        PPP_INFO_3,
        RAS_CONNECTION_0,
        RAS_CONNECTION_1,
        RAS_CONNECTION_2,
        RAS_CONNECTION_3,
        PPP_PROJECTION_INFO,
        IKEV2_PROJECTION_INFO,
        PROJECTION_INFO,
        RAS_CONNECTION_EX,
        RAS_PORT_0,
        RAS_PORT_1,
        AUTH_VALIDATION_EX,
        MPRAPI_ADMIN_DLL_CALLBACKS,
        MPRAPI_ADMIN_DLL_CALLBACKS_MINGW,
        NT4_RAS_PORT_0,
        NT4_RAS_PORT_1,
        RAS_PPP_NBFCP_RESULT,
        RAS_PPP_IPCP_RESULT,
        RAS_PPP_IPXCP_RESULT,
        RAS_PPP_ATCP_RESULT,
        RAS_PPP_PROJECTION_RESULT,
        RAS_PORT_STATISTICS,
        RAS_PARAMS_STRING,
        RAS_PARAMS_VALUE,
        RAS_PARAMETERS,
    )
}

# --------------------------------------------------------------------------- layout engine


@dataclass(frozen=True)
class _FieldLayout:
    name: str
    offset: int
    ctype: _CType
    union: str | None


@dataclass(frozen=True)
class _Layout:
    cls: type
    size: int
    align: int
    fields: tuple[_FieldLayout, ...]
    by_name: dict[str, _FieldLayout]


def _resolve(struct: type | str) -> type:
    if isinstance(struct, str):
        try:
            return STRUCTS[struct]
        except KeyError:
            raise KeyError(f"unknown structure {struct!r}") from None
    if not dataclasses.is_dataclass(struct):
        raise TypeError(f"{struct!r} is not an abi structure")
    return struct


def _check_bitness(bitness: int) -> None:
    if bitness not in (32, 64):
        raise ValueError(f"bitness must be 32 or 64, not {bitness!r}")


def _round(n: int, a: int) -> int:
    return (n + a - 1) // a * a


@cache
def _layout(cls: type, bitness: int) -> _Layout:
    off = 0
    align = 1
    out: list[_FieldLayout] = []
    union_start: dict[str, int] = {}
    union_end: dict[str, int] = {}
    for f in dataclasses.fields(cls):
        ctype: _CType = f.metadata["c"]
        a = ctype.align(bitness)
        s = ctype.size(bitness)
        align = max(align, a)
        group = f.metadata.get("union")
        if group is not None:
            if group not in union_start:
                # a union's alignment is its strictest member's
                ua = max(
                    g.metadata["c"].align(bitness)
                    for g in dataclasses.fields(cls)
                    if g.metadata.get("union") == group
                )
                union_start[group] = _round(off, ua)
            start = union_start[group]
            union_end[group] = max(union_end.get(group, start), start + s)
            out.append(_FieldLayout(f.name, start, ctype, group))
            off = union_end[group]
            continue
        off = _round(off, a)
        out.append(_FieldLayout(f.name, off, ctype, None))
        off += s
    size = _round(off, align)
    return _Layout(cls, size, align, tuple(out), {fl.name: fl for fl in out})


def _sized(struct: type | str, bitness: int) -> tuple[type, int]:
    """(class, ``sizeof``) of ``struct``; ValueError for a bitness other than 32 or 64."""
    _check_bitness(bitness)
    cls = _resolve(struct)
    return cls, _layout(cls, bitness).size


def sizeof(struct: type | str, bitness: int) -> int:
    """``sizeof`` of the C structure for x86 (32) or x64 (64)."""
    return _sized(struct, bitness)[1]


def offsetof(struct: type | str, field: str, bitness: int) -> int:
    """``offsetof`` of a field; dotted paths reach into nested structures and union members."""
    _check_bitness(bitness)
    cls = _resolve(struct)
    total = 0
    for part in field.split("."):
        lay = _layout(cls, bitness)
        fl = lay.by_name.get(part)
        if fl is None:
            raise KeyError(f"{cls.__name__} has no field {part!r}")
        total += fl.offset
        if isinstance(fl.ctype, _Nested):
            cls = fl.ctype.cls
        elif part != field.split(".")[-1]:
            raise KeyError(f"{cls.__name__}.{part} is not a structure")
    return total


# --------------------------------------------------------------------------- pack


class _Ctx:
    __slots__ = ("base", "bitness", "buf")

    def __init__(self, buf: bytearray, base: int, bitness: int) -> None:
        self.buf = buf
        self.base = base
        self.bitness = bitness


_Op = Callable[[_Ctx, int, Any], None]


def _encode_wstr(n: int, where: str) -> _Op:
    def enc(ctx: _Ctx, off: int, value: Any) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{where}: expected str, got {type(value).__name__}")
        raw = value.encode("utf-16-le", "surrogatepass")
        if len(raw) // 2 + 1 > n:
            raise ValueError(
                f"{where}: {len(raw) // 2} UTF-16 units do not fit WCHAR[{n}] with the NUL (R42)"
            )
        ctx.buf[off : off + len(raw)] = raw
        # the rest of the array is already zero (fresh buffer)

    return enc


def _encode_cstr(n: int, where: str) -> _Op:
    def enc(ctx: _Ctx, off: int, value: Any) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{where}: expected str, got {type(value).__name__}")
        raw = value.encode("latin-1")
        if len(raw) + 1 > n:
            raise ValueError(f"{where}: {len(raw)} chars do not fit CHAR[{n}] with the NUL (R42)")
        ctx.buf[off : off + len(raw)] = raw

    return enc


def _encode_bytes(n: int, tail: bool, where: str) -> _Op:
    def enc(ctx: _Ctx, off: int, value: Any) -> None:
        raw = bytes(value)
        if not tail and len(raw) > n:
            raise ValueError(f"{where}: {len(raw)} bytes do not fit BYTE[{n}]")
        end = off + len(raw)
        if end > len(ctx.buf):
            ctx.buf.extend(bytes(end - len(ctx.buf)))
        ctx.buf[off:end] = raw

    return enc


def _encode_int(fmt: str, where: str) -> _Op:
    s = _st.Struct("<" + fmt)

    def enc(ctx: _Ctx, off: int, value: Any) -> None:
        try:
            s.pack_into(ctx.buf, off, value)
        except _st.error as e:
            raise ValueError(f"{where}: {value!r} does not fit ({e})") from None

    return enc


def _encode_dataptr(where: str) -> _Op:
    def enc(ctx: _Ctx, off: int, value: Any) -> None:
        raw = bytes(value)
        psize = ctx.bitness // 8
        if not raw:
            ptr = 0
        else:
            pos = _round(len(ctx.buf), psize)
            ctx.buf.extend(bytes(pos - len(ctx.buf)))
            ctx.buf.extend(raw)
            ptr = ctx.base + pos
        _st.pack_into("<I" if psize == 4 else "<Q", ctx.buf, off, ptr)

    return enc


def _member_op(
    member_ops: dict[str, list[tuple[int, Callable[[Any], Any], _Op]]], select: Callable[[Any], str]
) -> _Op:
    def enc(ctx: _Ctx, off: int, owner: Any) -> None:
        for o, get, op in member_ops[select(owner)]:
            op(ctx, off + o, get(owner))

    return enc


def _getter(name: str) -> Callable[[Any], Any]:
    def get(obj: Any) -> Any:
        return getattr(obj, name)

    return get


def _ident(obj: Any) -> Any:
    return obj


@cache
def _ops(cls: type, bitness: int) -> tuple[tuple[int, Callable[[Any], Any], _Op], ...]:
    """Flat list of (offset, getter, encoder) that packs one ``cls`` object."""
    lay = _layout(cls, bitness)
    out: list[tuple[int, Callable[[Any], Any], _Op]] = []
    groups: dict[str, list[_FieldLayout]] = {}
    for fl in lay.fields:
        if fl.union is not None:
            groups.setdefault(fl.union, []).append(fl)
            continue
        out.extend(_field_ops(cls, fl, bitness))
    unions = getattr(cls, "__rasemu_unions__", {})
    for g, members in groups.items():
        member_ops = {m.name: list(_field_ops(cls, m, bitness, rel=True)) for m in members}
        out.append((members[0].offset, _ident, _member_op(member_ops, unions[g])))
    return tuple(out)


def _field_ops(
    cls: type, fl: _FieldLayout, bitness: int, rel: bool = False
) -> list[tuple[int, Callable[[Any], Any], _Op]]:
    where = f"{cls.__name__}.{fl.name}"
    base_off = 0 if rel else fl.offset
    get = _getter(fl.name)
    c = fl.ctype
    if isinstance(c, _Int):
        return [(base_off, get, _encode_int(c._real(bitness), where))]
    if isinstance(c, _WStr):
        return [(base_off, get, _encode_wstr(c.n, where))]
    if isinstance(c, _CStr):
        return [(base_off, get, _encode_cstr(c.n, where))]
    if isinstance(c, _Bytes):
        return [(base_off, get, _encode_bytes(c.n, c.tail, where))]
    if isinstance(c, _DataPtr):
        return [(base_off, get, _encode_dataptr(where))]
    if isinstance(c, _Nested):
        sub = c.cls
        select = getattr(cls, "__rasemu_select__", {}).get(fl.name)
        if select is not None:
            # a union class: the owner (cls object) picks the member
            sub_lay = _layout(sub, bitness)
            member_ops = {
                m.name: [
                    (o, _chain(get, g), op) for (o, g, op) in _field_ops(sub, m, bitness, rel=True)
                ]
                for m in sub_lay.fields
            }
            return [(base_off, _ident, _member_op(member_ops, select))]
        return [(base_off + o, _chain(get, g), op) for (o, g, op) in _ops(sub, bitness)]
    raise TypeError(f"{where}: unsupported C type {c!r}")


def _chain(a: Callable[[Any], Any], b: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if b is _ident:
        return a

    def get(obj: Any) -> Any:
        return b(a(obj))

    return get


def _pack_into(ctx: _Ctx, obj: Any, cls: type, off: int) -> None:
    for o, get, op in _ops(cls, ctx.bitness):
        op(ctx, off + o, get(obj))


def pack_reference(obj: object, bitness: int, base: int = 0) -> bytes:
    """:func:`pack` by the field-by-field reference encoder (slow; the compiled one's oracle)."""
    return pack_array_reference([obj], bitness, base)


def pack_array_reference(objs: Sequence[object], bitness: int, base: int = 0) -> bytes:
    """:func:`pack_array` by the field-by-field reference encoder."""
    _check_bitness(bitness)
    if not objs:
        return b""
    cls: type = _resolve(type(objs[0]))
    for o in objs:
        if type(o) is not cls:
            raise TypeError(f"pack_array: mixed types {cls.__name__} and {type(o).__name__}")
    size = _layout(cls, bitness).size
    ctx = _Ctx(bytearray(size * len(objs)), base, bitness)
    for i, o in enumerate(objs):
        _pack_into(ctx, o, cls, i * size)
    return bytes(ctx.buf)


# --------------------------------------------------------------------------- compiled pack
#
# Per (class, bitness) a generated function reads every field along its attribute path and
# hands all values to one ``struct.Struct.pack`` whose format has the fields at their offsets
# ("x" padding in the gaps, "Ns" for character and byte arrays). Unions are compiled once per
# choice of members. Anything the compiled function does not cover (out-of-line data, the
# variable tail, a value of an unexpected type, any error) goes to the reference encoder, which
# also produces every error message; the output is byte-for-byte the reference's.


class _Unfit(Exception):
    """The compiled packer does not cover this layout or value: use the reference."""


_ENC_LIMIT = 4096
_WENC: dict[str, bytes] = {}
_CENC: dict[str, bytes] = {}


def _encoded(value: Any, room: int, cache: dict[str, bytes], encoding: str, errors: str) -> bytes:
    """``value`` encoded (through ``cache``) when it is a str of fewer than ``room`` bytes."""
    if type(value) is not str:
        raise _Unfit
    raw = cache.get(value)
    if raw is None:
        raw = value.encode(encoding, errors)
        if len(cache) >= _ENC_LIMIT:
            cache.clear()
        cache[value] = raw
    if len(raw) >= room:
        raise _Unfit
    return raw


def _w(value: Any, n2: int) -> bytes:
    """UTF-16LE of ``value`` for a ``WCHAR`` array of ``n2`` bytes (room left for the NUL)."""
    return _encoded(value, n2, _WENC, "utf-16-le", "surrogatepass")


def _c(value: Any, n: int) -> bytes:
    """latin-1 of ``value`` for a ``CHAR[n]`` array (room left for the NUL)."""
    return _encoded(value, n, _CENC, "latin-1", "strict")


def _b(value: Any, n: int) -> bytes:
    raw = value if type(value) is bytes else bytes(value)
    if len(raw) > n:
        raise _Unfit
    return raw


class _Plan:
    """Walks a layout and collects (offset, format, value expression) for one union choice.

    ``key`` None = discovery: unions are recorded (selector, owner path) and not entered.
    """

    def __init__(self, bitness: int, key: tuple[str, ...] | None) -> None:
        self.bitness = bitness
        self.key = key
        self.k = 0
        self.items: list[tuple[int, str, str]] = []
        self.lines: list[str] = []
        self.nvar = 0
        self.unions: list[tuple[Callable[[Any], str], tuple[str, ...]]] = []

    def _var(self, parent: str, attr: str) -> str:
        self.nvar += 1
        v = f"v{self.nvar}"
        self.lines.append(f"    {v} = {parent}.{attr}")
        return v

    def _choose(self, select: Callable[[Any], str], path: tuple[str, ...]) -> str | None:
        if self.key is None:
            self.unions.append((select, path))
            return None
        if self.k >= len(self.key):
            raise _Unfit
        m = self.key[self.k]
        self.k += 1
        return m

    def walk(self, cls: type, var: str, path: tuple[str, ...], base: int, in_union: bool) -> None:
        lay = _layout(cls, self.bitness)
        unions = getattr(cls, "__rasemu_unions__", {})
        selects = getattr(cls, "__rasemu_select__", {})
        chosen: dict[str, str | None] = {}
        for fl in lay.fields:
            off = base + fl.offset
            if fl.union is not None:
                if in_union:
                    raise _Unfit  # a union inside a union member: the reference handles it
                if fl.union not in chosen:
                    chosen[fl.union] = self._choose(unions[fl.union], path)
                if chosen[fl.union] != fl.name:
                    continue
                self._field(fl.ctype, cls, var, fl.name, path, off, True)
                continue
            select = selects.get(fl.name)
            if select is not None:
                if in_union:
                    raise _Unfit
                member = self._choose(select, path)
                if member is None:
                    continue
                sub = fl.ctype
                if not isinstance(sub, _Nested):
                    raise _Unfit
                m = _layout(sub.cls, self.bitness).by_name[member]
                sv = self._var(var, fl.name)
                self._field(m.ctype, sub.cls, sv, m.name, (*path, fl.name), off + m.offset, True)
                continue
            self._field(fl.ctype, cls, var, fl.name, path, off, in_union)

    def _field(self, c: _CType, cls: type, var: str, name: str, path: tuple[str, ...],
               off: int, in_union: bool) -> None:
        if isinstance(c, _Int):
            self.items.append((off, c._real(self.bitness), f"{var}.{name}"))
        elif isinstance(c, _WStr):
            # inlined cache hit; misses, non-str values and overlong strings go through _w
            self.nvar += 1
            sv, rv, n2 = f"s{self.nvar}", f"r{self.nvar}", 2 * c.n
            self.lines += [f"    {sv} = {var}.{name}",
                           f"    {rv} = _W({sv}) if type({sv}) is str else None",
                           f"    if {rv} is None or len({rv}) >= {n2}:",
                           f"        {rv} = _w({sv}, {n2})"]
            self.items.append((off, f"{n2}s", rv))
        elif isinstance(c, _CStr):
            self.items.append((off, f"{c.n}s", f"_c({var}.{name}, {c.n})"))
        elif isinstance(c, _Bytes) and not c.tail:
            self.items.append((off, f"{c.n}s", f"_b({var}.{name}, {c.n})"))
        elif isinstance(c, _Nested):
            self.walk(c.cls, self._var(var, name), (*path, name), off, in_union)
        else:
            raise _Unfit  # out-of-line data or a variable tail

    def build(self, cls: type) -> Callable[[Any], bytes]:
        size = _layout(cls, self.bitness).size
        fmt = ["<"]
        pos = 0
        exprs = []
        for off, f, expr in sorted(self.items, key=lambda t: t[0]):
            if off < pos:
                raise _Unfit
            if off > pos:
                fmt.append(f"{off - pos}x")
            fmt.append(f)
            pos = off + _st.calcsize("<" + f)
            exprs.append(expr)
        if size > pos:
            fmt.append(f"{size - pos}x")
        packer = _st.Struct("".join(fmt))
        if packer.size != size:
            raise _Unfit
        src = "def _pk(v0):\n" + "".join(ln + "\n" for ln in self.lines)
        src += f"    return _S({', '.join(exprs)})\n"
        ns: dict[str, Any] = {"_S": packer.pack, "_w": _w, "_c": _c, "_b": _b, "_W": _WENC.get}
        exec(compile(src, f"<rasemu pack {cls.__name__}/{self.bitness}>", "exec"), ns)
        fn: Callable[[Any], bytes] = ns["_pk"]
        return fn


def _unfit(obj: Any) -> bytes:
    raise _Unfit


def _compile_choice(cls: type, bitness: int, key: tuple[str, ...]) -> Callable[[Any], bytes]:
    try:
        plan = _Plan(bitness, key)
        plan.walk(cls, "v0", (), 0, False)
        if plan.k != len(key):
            raise _Unfit
        return plan.build(cls)
    except Exception:
        return _unfit


def _compile(cls: type, bitness: int) -> Callable[[Any], bytes]:
    """The compiled packer of ``cls`` (raises on anything it does not cover)."""
    try:
        _resolve(cls)
        disc = _Plan(bitness, None)
        disc.walk(cls, "v0", (), 0, False)
        if not disc.unions:
            return disc.build(cls)
    except Exception:
        return _unfit
    import operator

    sels = [(sel, operator.attrgetter(".".join(p)) if p else _ident) for sel, p in disc.unions]
    plans: dict[tuple[str, ...], Callable[[Any], bytes]] = {}

    if len(sels) == 1:
        sel1, get1 = sels[0]
        plans1: dict[str, Callable[[Any], bytes]] = {}

        def pk1(obj: Any) -> bytes:
            k = sel1(get1(obj))
            f = plans1.get(k) if type(k) is str else None
            if f is None:
                if type(k) is not str:
                    raise _Unfit
                f = plans1[k] = _compile_choice(cls, bitness, (k,))
            return f(obj)

        return pk1

    def pk(obj: Any) -> bytes:
        key = tuple([sel(get(obj)) for sel, get in sels])
        f = plans.get(key)
        if f is None:
            if not all(type(k) is str for k in key):
                raise _Unfit
            f = plans[key] = _compile_choice(cls, bitness, key)
        return f(obj)

    return pk


_FAST: dict[tuple[type, int], Callable[[Any], bytes]] = {}


def _fast(cls: type, bitness: int) -> Callable[[Any], bytes]:
    f = _FAST.get((cls, bitness))
    if f is None:
        f = _FAST[cls, bitness] = _compile(cls, bitness)
    return f


def compiled(struct: type | str, bitness: int) -> Callable[[Any], bytes]:
    """The compiled packer of ``struct``: :func:`pack` without its fallback. It raises on any
    value it does not cover (out-of-line data, a bad value); :func:`pack` then gives the bytes
    or the error message."""
    cls, _size = _sized(struct, bitness)
    return _fast(cls, bitness)


def pack(obj: object, bitness: int, base: int = 0) -> bytes:
    """The C bytes of ``obj``, followed by any out-of-line data it points to.

    Pointers are written as ``base`` + offset in the returned bytes. Raises ValueError when a
    string does not fit its array together with the NUL (R42) or an integer does not fit.
    """
    try:
        return _FAST[type(obj), bitness](obj)
    except Exception:
        pass
    if (bitness == 32 or bitness == 64) and (type(obj), bitness) not in _FAST:
        try:
            return _fast(type(obj), bitness)(obj)
        except Exception:
            pass
    return pack_array_reference([obj], bitness, base)


def pack_array(objs: Sequence[object], bitness: int, base: int = 0) -> bytes:
    """A C array of structures (all of one type), then the out-of-line data of all of them."""
    if objs and (bitness == 32 or bitness == 64):
        cls = type(objs[0])
        try:
            f = _fast(cls, bitness)
            if all(type(o) is cls for o in objs):
                return b"".join([f(o) for o in objs])
        except Exception:
            pass
    return pack_array_reference(objs, bitness, base)


# --------------------------------------------------------------------------- unpack


def _decode_wstr(data: bytes | bytearray | memoryview, off: int, n: int) -> str:
    raw = bytes(data[off : off + 2 * n])
    for i in range(0, len(raw) - 1, 2):
        if raw[i] == 0 and raw[i + 1] == 0:
            raw = raw[:i]
            break
    return raw.decode("utf-16-le", "surrogatepass")


def _decode_cstr(data: bytes | bytearray | memoryview, off: int, n: int) -> str:
    raw = bytes(data[off : off + n])
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _unpack_from(
    cls: type, data: bytes | bytearray | memoryview, off: int, bitness: int, base: int
) -> Any:
    lay = _layout(cls, bitness)
    values: dict[str, Any] = {}
    unions = getattr(cls, "__rasemu_unions__", {})
    selects = getattr(cls, "__rasemu_select__", {})
    chosen: dict[str, str] = {}
    for fl in lay.fields:
        c = fl.ctype
        pos = off + fl.offset
        if fl.union is not None:
            if fl.union not in chosen:
                proxy = _Proxy(values)
                chosen[fl.union] = unions[fl.union](proxy)
            if chosen[fl.union] != fl.name:
                continue
        if isinstance(c, _Int):
            values[fl.name] = _st.unpack_from("<" + c._real(bitness), data, pos)[0]
        elif isinstance(c, _WStr):
            values[fl.name] = _decode_wstr(data, pos, c.n)
        elif isinstance(c, _CStr):
            values[fl.name] = _decode_cstr(data, pos, c.n)
        elif isinstance(c, _Bytes):
            if c.tail:
                count = values.get("AuthInfoSize", 0)
                values[fl.name] = bytes(data[pos : pos + count])
            else:
                values[fl.name] = bytes(data[pos : pos + c.n])
        elif isinstance(c, _DataPtr):
            fmt = "<I" if bitness == 32 else "<Q"
            ptr = _st.unpack_from(fmt, data, pos)[0]
            length = values.get("Length", 0)
            rel = ptr - base
            if ptr and rel >= 0 and rel + length <= len(data):
                values[fl.name] = bytes(data[rel : rel + length])
            else:
                values[fl.name] = b""
        elif isinstance(c, _Nested):
            select = selects.get(fl.name)
            if select is not None:
                member = select(_Proxy(values))
                sub_lay = _layout(c.cls, bitness)
                m = sub_lay.by_name[member]
                sub_obj = c.cls()
                sub_vals = _unpack_field(m, data, pos, bitness, base)
                setattr(sub_obj, member, sub_vals)
                values[fl.name] = sub_obj
            else:
                values[fl.name] = _unpack_from(c.cls, data, pos, bitness, base)
    return cls(**values)


def _unpack_field(
    fl: _FieldLayout, data: bytes | bytearray | memoryview, pos: int, bitness: int, base: int
) -> Any:
    c = fl.ctype
    if isinstance(c, _Int):
        return _st.unpack_from("<" + c._real(bitness), data, pos)[0]
    if isinstance(c, _Nested):
        return _unpack_from(c.cls, data, pos, bitness, base)
    raise TypeError(f"unsupported union member {fl.name}")


class _Proxy:
    """Attribute view of the values decoded so far (for union selectors)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def unpack(
    struct: type | str, data: bytes | bytearray | memoryview, bitness: int, base: int = 0
) -> Any:
    """Decode one structure from the start of ``data``.

    Strings stop at the first NUL (or the array end when unterminated). Pointers to out-of-line
    data are followed when they fall inside ``data`` (which starts at address ``base``).
    """
    cls, size = _sized(struct, bitness)
    if len(data) < size:
        raise ValueError(
            f"{cls.__name__}: need {size} bytes for bitness {bitness}, got {len(data)}"
        )
    return _unpack_from(cls, data, 0, bitness, base)


def unpack_array(
    struct: type | str,
    data: bytes | bytearray | memoryview,
    count: int,
    bitness: int,
    base: int = 0,
) -> list[Any]:
    """Decode ``count`` consecutive structures (see :func:`unpack`)."""
    cls, size = _sized(struct, bitness)
    if len(data) < size * count:
        raise ValueError(f"{cls.__name__}[{count}]: need {size * count} bytes, got {len(data)}")
    return [_unpack_from(cls, data, i * size, bitness, base) for i in range(count)]


_PLAIN = frozenset({int, str, bytes, bool, float, type(None)})
_STRUCT_TYPES: frozenset[type] | None = None


def _struct_types() -> frozenset[type]:
    global _STRUCT_TYPES
    if _STRUCT_TYPES is None:
        _STRUCT_TYPES = frozenset(STRUCTS.values())
    return _STRUCT_TYPES


def _clone_struct(obj: Any, cls: type, kinds: frozenset[type]) -> Any:
    new: Any = object.__new__(cls)
    nd = new.__dict__
    for k, v in obj.__dict__.items():
        t = type(v)
        if t in _PLAIN:
            nd[k] = v
        elif t in kinds:
            nd[k] = _clone_struct(v, t, kinds)
        else:
            nd[k] = copy.deepcopy(v)
    return new


def clone(obj: Any) -> Any:
    """A deep copy of a structure object (or a list of them), like :func:`copy.deepcopy`.

    Structures of this module are copied attribute by attribute (immutable values shared);
    any other value goes through :func:`copy.deepcopy`. Unlike ``deepcopy``, two references
    to one sub-object become two copies.
    """
    kinds = _struct_types()
    t = type(obj)
    if t in kinds:
        return _clone_struct(obj, t, kinds)
    if t is list and all(type(x) in kinds for x in obj):
        return [_clone_struct(x, type(x), kinds) for x in obj]
    return copy.deepcopy(obj)
