"""Signatures of every admin-DLL callback (spec sections 1.2 and 2.1).

Each parameter has a *kind* that tells a loader how to marshal it:

``wstr``        [in]  ``WCHAR*``, NUL-terminated UTF-16LE; Python value ``str``.
``dword_inout`` [in/out] ``DWORD*``/``IPADDR*``; Python value ``int`` in, ``int`` read back.
``bool_out``    [out] ``BOOL*``; the host pre-fills it (R78); ``int`` in, ``int`` read back.
``in6_inout``   [in/out] ``IN6_ADDR*``; ``bytes`` (16) in and read back.
``struct``      [in]  pointer to a structure named by ``struct``; value is an abi struct object.
``struct_array``[in]  pointer to an array of structures (NT 4.0 ``RAS_PARAMETERS``); a list.
``table_out``   [out] ``MPRAPI_ADMIN_DLL_CALLBACKS*`` the DLL fills (AMBIG-4); read back as a mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ParamKind = Literal[
    "wstr", "dword_inout", "bool_out", "in6_inout", "struct", "struct_array", "table_out"
]
ReturnKind = Literal["dword", "bool", "void"]
Family = Literal["rasadmin", "mpradmin"]


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its C name, marshalling kind and, for structures, the structure name."""

    name: str
    kind: ParamKind
    struct: str | None = None


@dataclass(frozen=True, slots=True)
class Signature:
    """A callback's plain export name, parameters, return kind and family."""

    name: str
    params: tuple[Param, ...]
    returns: ReturnKind
    family: Family

    @property
    def stdcall_bytes(self) -> int:
        """Bytes an x86 ``__stdcall`` callee pops (4 per parameter, R51)."""
        return 4 * len(self.params)

    def decorated_names(self) -> tuple[str, str]:
        """The two x86 decorated forms toolchains emit: ``Name@N`` (mingw) and ``_Name@N`` (MSVC)."""
        n = self.stdcall_bytes
        return (f"{self.name}@{n}", f"_{self.name}@{n}")


def _s(name: str, struct: str) -> Param:
    return Param(name, "struct", struct)


_C0 = _s("pRasConnection0", "RAS_CONNECTION_0")
_C1 = _s("pRasConnection1", "RAS_CONNECTION_1")
_C2 = _s("pRasConnection2", "RAS_CONNECTION_2")
_C3 = _s("pRasConnection3", "RAS_CONNECTION_3")
_CEX = _s("pRasConnectionEx", "RAS_CONNECTION_EX")
_P0 = _s("pRasPort0", "RAS_PORT_0")
_P1 = _s("pRasPort1", "RAS_PORT_1")
_USER = Param("lpwszUserName", "wstr")
_PORT = Param("lpwszPortName", "wstr")
_NT4_PORT = _s("pRasPort1", "NT4_RAS_PORT_1")
_NT4_STATS = _s("pRasStats", "RAS_PORT_STATISTICS")
_NT4_PARAMS = Param("pRasParams", "struct_array", "RAS_PARAMETERS")


def _m(name: str, returns: ReturnKind, *params: Param) -> Signature:
    return Signature(name, tuple(params), returns, "mpradmin")


def _r(name: str, returns: ReturnKind, *params: Param) -> Signature:
    return Signature(name, tuple(params), returns, "rasadmin")


SIGNATURES: dict[str, Signature] = {
    s.name: s
    for s in (
        # Windows 2000+ (mprapi.h), section 2.1
        _m("MprAdminInitializeDll", "dword"),
        _m("MprAdminInitializeDllEx", "dword", Param("pAdminCallbacks", "table_out")),
        _m("MprAdminTerminateDll", "dword"),
        _m("MprAdminAcceptNewConnection", "bool", _C0, _C1),
        _m("MprAdminAcceptNewConnection2", "bool", _C0, _C1, _C2),
        _m("MprAdminAcceptNewConnection3", "bool", _C0, _C1, _C2, _C3),
        _m("MprAdminAcceptNewConnectionEx", "bool", _CEX),
        _m("MprAdminAcceptNewLink", "bool", _P0, _P1),
        _m("MprAdminConnectionHangupNotification", "void", _C0, _C1),
        _m("MprAdminConnectionHangupNotification2", "void", _C0, _C1, _C2),
        _m("MprAdminConnectionHangupNotification3", "void", _C0, _C1, _C2, _C3),
        _m("MprAdminConnectionHangupNotificationEx", "void", _CEX),
        _m("MprAdminLinkHangupNotification", "void", _P0, _P1),
        _m(
            "MprAdminGetIpAddressForUser",
            "dword",
            _USER,
            _PORT,
            Param("lpdwIpAddress", "dword_inout"),
            Param("bNotifyRelease", "bool_out"),
        ),
        _m("MprAdminReleaseIpAddress", "void", _USER, _PORT, Param("lpdwIpAddress", "dword_inout")),
        _m(
            "MprAdminGetIpv6AddressForUser",
            "dword",
            _USER,
            _PORT,
            Param("lpdwIpv6Address", "in6_inout"),
            Param("bNotifyRelease", "bool_out"),
        ),
        # AMBIG-6: VOID or DWORD; the host reads EAX but does not judge it, and measures ESP on x86.
        _m(
            "MprAdminReleaseIpv6AddressForUser",
            "dword",
            _USER,
            _PORT,
            Param("lpdwIpv6Address", "in6_inout"),
        ),
        _m("MprAdminAcceptReauthentication", "bool", _C0, _C1, _C2, _C3),
        _m("MprAdminAcceptReauthenticationEx", "bool", _CEX),
        # NT 4.0 (rassapi.h), section 1.2
        _r("RasAdminAcceptNewConnection", "bool", _NT4_PORT, _NT4_STATS, _NT4_PARAMS),
        _r("RasAdminConnectionHangupNotification", "void", _NT4_PORT, _NT4_STATS, _NT4_PARAMS),
        _r(
            "RasAdminGetIpAddressForUser",
            "dword",
            _USER,
            _PORT,
            Param("pipAddress", "dword_inout"),
            Param("bNotifyRelease", "bool_out"),
        ),
        _r("RasAdminReleaseIpAddress", "void", _USER, _PORT, Param("pipAddress", "dword_inout")),
    )
}

# Signatures reached only through the InitializeDllEx table (section 2.7), by pointer.
TABLE_ONLY: dict[str, Signature] = {
    "AcceptTunnelEndpointChangeEx": _m("AcceptTunnelEndpointChangeEx", "bool", _CEX),
    "RASValidatePreAuthenticatedConnectionEx": _m(
        "RASValidatePreAuthenticatedConnectionEx",
        "dword",
        _s("pAuthValidation", "AUTH_VALIDATION_EX"),
    ),
}

# MPRAPI_ADMIN_DLL_CALLBACKS slots in SDK order (section 2.7): slot name -> signature name.
TABLE_SLOTS: tuple[tuple[str, str], ...] = (
    ("lpfnMprAdminGetIpAddressForUser", "MprAdminGetIpAddressForUser"),
    ("lpfnMprAdminReleaseIpAddress", "MprAdminReleaseIpAddress"),
    ("lpfnMprAdminGetIpv6AddressForUser", "MprAdminGetIpv6AddressForUser"),
    ("lpfnMprAdminReleaseIpV6AddressForUser", "MprAdminReleaseIpv6AddressForUser"),
    ("lpfnRasAdminAcceptNewLink", "MprAdminAcceptNewLink"),
    ("lpfnRasAdminLinkHangupNotification", "MprAdminLinkHangupNotification"),
    ("lpfnRasAdminTerminateDll", "MprAdminTerminateDll"),
    ("lpfnRasAdminAcceptNewConnectionEx", "MprAdminAcceptNewConnectionEx"),
    ("lpfnRasAdminAcceptEndpointChangeEx", "AcceptTunnelEndpointChangeEx"),
    ("lpfnRasAdminAcceptReauthenticationEx", "MprAdminAcceptReauthenticationEx"),
    ("lpfnRasAdminConnectionHangupNotificationEx", "MprAdminConnectionHangupNotificationEx"),
    ("lpfnRASValidatePreAuthenticatedConnectionEx", "RASValidatePreAuthenticatedConnectionEx"),
)


def signature(name: str) -> Signature:
    """The signature of callback ``name`` (plain export name or table-only name)."""
    sig = SIGNATURES.get(name) or TABLE_ONLY.get(name)
    if sig is None:
        raise KeyError(f"{name!r} is not an admin-DLL callback")
    return sig


def undecorate(export: str) -> str | None:
    """The plain callback name behind a decorated x86 export (``_Name@N``/``Name@N``), else None."""
    base, at, digits = export.rpartition("@")
    if not at or not digits.isdigit():
        return None
    plain = base[1:] if base.startswith("_") and base[1:] in SIGNATURES else base
    return plain if plain in SIGNATURES else None
