"""The structures the host passes to accept/hang-up/link callbacks, filled with plausible data.

Everything the DLL sees for one dial-in session comes from :class:`SessionInfo`; the builders
create fresh abi structure objects per call so a DLL that scribbles on one (R69) cannot corrupt
the next call. Data is deterministic (handles and GUIDs derive from the session id) so traces
are reproducible.

Address byte order (AMBIG-5, section 8): a ``DWORD`` address holds the bytes a,b,c,d of
"a.b.c.d" in memory, i.e. ``int.from_bytes(ip.packed, "little")``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from emulator.abi import structs as S

RAS_FLAGS_PPP_CONNECTION = 0x1
RAS_FLAGS_MESSENGER_PRESENT = 0x2
RAS_FLAGS_QUARANTINE_PRESENT = 0x8
ROUTER_IF_TYPE_CLIENT = 0
RAS_HARDWARE_OPERATIONAL = 0
RAS_PORT_AUTHENTICATED = 5  # mprapi RAS_PORT_CONDITION
NT4_RAS_PORT_AUTHENTICATED = 6  # rassapi #define (1-based)
NT4_RAS_MODEM_OPERATIONAL = 1
NT4_USER_AUTHENTICATED = 0x1
NT4_PPP_CLIENT = 0x4
NT4_PORT_MULTILINKED = 0x20
PPP_LCP_CHAP = 0xC223
PPP_LCP_CHAP_MSV2 = 0x81
HANDLE_BASE = 0x10000


#: DWORD -> address object, and id(address) -> (address, its text, the server's text): pools
#: hand the same addresses out again and again (caches, cleared past _CACHE_LIMIT entries)
_ADDRS: dict[int, IPv4Address] = {}
_TEXTS: dict[int, tuple[IPv4Address, str, str]] = {}
_CACHE_LIMIT = 65536


def dword_to_ip(value: int) -> IPv4Address:
    """The address a DLL wrote as a DWORD in network byte order (memory a,b,c,d)."""
    a = _ADDRS.get(value)
    if a is None:
        a = IPv4Address(((value & 0xFF) << 24) | ((value >> 8 & 0xFF) << 16)
                        | ((value >> 16 & 0xFF) << 8) | (value >> 24 & 0xFF))
        if len(_ADDRS) >= _CACHE_LIMIT:
            _ADDRS.clear()
        _ADDRS[value] = a
    return a


def _texts(a: IPv4Address) -> tuple[str, str]:
    """(text of ``a``, text of the server address the host pairs with it)."""
    got = _TEXTS.get(id(a))
    if got is not None and got[0] is a:
        return got[1], got[2]
    n = int(a)
    remote, server = str(a), str(IPv4Address((n & 0xFFFFFF00) + (1 if n & 0xFF != 1 else 2)))
    if len(_TEXTS) >= _CACHE_LIMIT:
        _TEXTS.clear()
    _TEXTS[id(a)] = (a, remote, server)
    return remote, server


def dotted(value: int) -> str:
    """``dword_to_ip(value)`` as text, without building an address object."""
    return f"{value & 0xFF}.{value >> 8 & 0xFF}.{value >> 16 & 0xFF}.{value >> 24 & 0xFF}"


def ip_to_dword(addr: IPv4Address | int | str | None) -> int:
    """The DWORD whose memory bytes are the address in network order; 0 for None/0."""
    if addr is None or addr == 0:
        return 0
    a = addr if isinstance(addr, IPv4Address) else IPv4Address(addr)
    return int.from_bytes(a.packed, "little")


def byteswap32(value: int) -> int:
    """``value`` with its four bytes reversed."""
    return int.from_bytes((value & 0xFFFFFFFF).to_bytes(4, "little"), "big")


def fit(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` UTF-16 code units (room for the NUL is the caller's concern)."""
    return text if len(text) <= chars else text[:chars]


@dataclass(slots=True)
class SessionInfo:
    """What the host knows about one dial-in session; the source of every structure built."""

    id: int
    user: str
    port: str
    domain: str = "RASEMU"
    computer: str = ""
    address: IPv4Address | None = None
    server_address: IPv4Address | None = None
    links: list[str] = field(default_factory=list)
    quarantine_state: int = 0
    ipv6_id: bytes | None = None
    started: float = field(default_factory=time.monotonic)
    started_epoch: int = field(default_factory=lambda: int(time.time()))
    #: (address, server_address, remote text, server text) for the addresses last formatted
    _text: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.computer:
            self.computer = fit(f"PC-{self.id:06d}", 15)

    @property
    def h_connection(self) -> int:
        """The connection handle (``hConnection``)."""
        return HANDLE_BASE + self.id * 0x100

    @property
    def h_interface(self) -> int:
        """The interface handle (``hInterface``)."""
        return HANDLE_BASE + self.id * 0x100 + 0x80

    def h_port(self, port: str) -> int:
        """The handle of link ``port`` (stable per position in ``links``)."""
        try:
            i = self.links.index(port)
        except ValueError:
            i = len(self.links)
        return HANDLE_BASE + self.id * 0x100 + 1 + i

    @property
    def duration(self) -> int:
        """Seconds since the session started."""
        return int(time.monotonic() - self.started)

    @property
    def guid(self) -> S.GUID:
        """A GUID derived from the session id."""
        return S.GUID.from_uuid(uuid.UUID(int=(0x7A5E_0000 << 96) | self.id))

    def set_guid(self, g: S.GUID) -> None:
        """Fill ``g`` in place with :attr:`guid`'s value (no UUID object on the hot path)."""
        u = (0x7A5E_0000 << 96) | self.id
        g.Data1, g.Data2, g.Data3 = u >> 96 & 0xFFFFFFFF, u >> 80 & 0xFFFF, u >> 64 & 0xFFFF
        g.Data4 = (u & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")

    def texts(self) -> tuple[str, str]:
        """(:attr:`server`, :attr:`remote`), formatted once per address."""
        t = self._text
        a, sa = self.address, self.server_address
        if t is None or t[0] is not a or t[1] is not sa:
            if a is None:
                remote, server = "", "" if sa is None else str(sa)
            elif sa is None:
                remote, server = _texts(a)
            else:
                remote, server = str(a), str(sa)
            t = self._text = (a, sa, remote, server)
        return t[3], t[2]

    @property
    def remote(self) -> str:
        """The client address as dotted text ("" before one is known)."""
        return self.texts()[1]

    @property
    def server(self) -> str:
        """The server-side IPCP address: .1 of the client's /24 (.2 if the client is .1)."""
        return self.texts()[0]

    def flags(self) -> int:
        """``dwConnectionFlags``."""
        f = RAS_FLAGS_PPP_CONNECTION
        if self.quarantine_state:
            f |= RAS_FLAGS_QUARANTINE_PRESENT
        return f


def conn0(s: SessionInfo) -> S.RAS_CONNECTION_0:
    """``RAS_CONNECTION_0`` for the session."""
    return S.RAS_CONNECTION_0(
        hConnection=s.h_connection, hInterface=s.h_interface, dwConnectDuration=s.duration,
        dwInterfaceType=ROUTER_IF_TYPE_CLIENT, dwConnectionFlags=s.flags(),
        wszInterfaceName=fit(s.user, S.MAX_INTERFACE_NAME_LEN), wszUserName=s.user,
        wszLogonDomain=s.domain, wszRemoteComputer=s.computer)


def conn1(s: SessionInfo, stats: int = 0) -> S.RAS_CONNECTION_1:
    """``RAS_CONNECTION_1``: ``PppInfo.ip.wszRemoteAddress`` is the DLL's address (R33)."""
    c = S.RAS_CONNECTION_1(hConnection=s.h_connection, hInterface=s.h_interface)
    c.PppInfo.ip.wszAddress = s.server
    c.PppInfo.ip.wszRemoteAddress = s.remote
    c.PppInfo.nbf.dwError = c.PppInfo.ipx.dwError = c.PppInfo.at.dwError = 733  # not negotiated
    if stats:
        c.dwBytesXmited, c.dwBytesRcved = stats * 1500, stats * 1200
        c.dwFramesXmited, c.dwFramesRcved = stats, stats
        c.dwCompressionRatioIn = c.dwCompressionRatioOut = 100
    return c


def _lcp(lcp: S.PPP_LCP_INFO) -> None:
    lcp.dwAuthenticationProtocol = PPP_LCP_CHAP
    lcp.dwAuthenticationData = PPP_LCP_CHAP_MSV2


def conn2(s: SessionInfo) -> S.RAS_CONNECTION_2:
    """``RAS_CONNECTION_2``."""
    c = S.RAS_CONNECTION_2(hConnection=s.h_connection, wszUserName=s.user,
                           dwInterfaceType=ROUTER_IF_TYPE_CLIENT, guid=s.guid)
    c.PppInfo2.ip.wszAddress = s.server
    c.PppInfo2.ip.wszRemoteAddress = s.remote
    c.PppInfo2.nbf.dwError = c.PppInfo2.ipx.dwError = c.PppInfo2.at.dwError = 733
    _lcp(c.PppInfo2.lcp)
    return c


def conn3(s: SessionInfo, bitness: int) -> S.RAS_CONNECTION_3:
    """``RAS_CONNECTION_3`` with ``dwSize`` = its size (R40); ``dwVersion`` 0 (undocumented)."""
    c = S.RAS_CONNECTION_3(dwVersion=0, dwSize=S.sizeof("RAS_CONNECTION_3", bitness),
                           hConnection=s.h_connection, wszUserName=s.user,
                           dwInterfaceType=ROUTER_IF_TYPE_CLIENT, guid=s.guid,
                           rasQuarState=s.quarantine_state)
    c.PppInfo3.ip.wszAddress = s.server
    c.PppInfo3.ip.wszRemoteAddress = s.remote
    c.PppInfo3.nbf.dwError = 733
    c.PppInfo3.ipv6.dwSize = S.sizeof("PPP_IPV6_CP_INFO", bitness)
    _v6(c.PppInfo3.ipv6, s)
    _lcp(c.PppInfo3.lcp)
    return c


def _v6(v6: S.PPP_IPV6_CP_INFO, s: SessionInfo) -> None:
    if s.ipv6_id is None:
        v6.dwError, v6.bRemoteInterfaceIdentifier = 733, bytes(8)  # not negotiated
    else:
        v6.dwError, v6.bRemoteInterfaceIdentifier = 0, s.ipv6_id[8:16]


def conn_ex(s: SessionInfo, bitness: int, stats: int = 0) -> S.RAS_CONNECTION_EX:
    """``RAS_CONNECTION_EX`` with its header: revision 1, type 1, size = sizeof (R39)."""
    c = S.RAS_CONNECTION_EX(
        Header=S.MPRAPI_OBJECT_HEADER(S.MPRAPI_RAS_CONNECTION_OBJECT_REVISION_1,
                                      S.MPRAPI_OBJECT_TYPE_RAS_CONNECTION_OBJECT,
                                      S.sizeof("RAS_CONNECTION_EX", bitness)),
        dwConnectDuration=s.duration, dwInterfaceType=ROUTER_IF_TYPE_CLIENT,
        dwConnectionFlags=s.flags(), wszInterfaceName=fit(s.user, S.MAX_INTERFACE_NAME_LEN),
        wszUserName=s.user, wszLogonDomain=s.domain, wszRemoteComputer=s.computer,
        guid=s.guid, rasQuarState=s.quarantine_state,
        wszRemoteEndpointAddress=f"198.51.100.{s.id % 250 + 1}",
        wszLocalEndpointAddress="203.0.113.1",
        hConnection=s.h_connection, hInterface=s.h_interface)
    if stats:
        c.dwBytesXmited, c.dwBytesRcved = stats * 1500, stats * 1200
        c.dwFramesXmited, c.dwFramesRcved = stats, stats
    pi = c.ProjectionInfo
    pi.projectionInfoType = S.MPRAPI_PPP_PROJECTION_INFO_TYPE
    pi.PppProjectionInfo.wszAddress = s.server
    pi.PppProjectionInfo.wszRemoteAddress = s.remote
    pi.PppProjectionInfo.dwIPv6NegotiationError = 733 if s.ipv6_id is None else 0
    pi.PppProjectionInfo.bRemoteInterfaceIdentifier = (bytes(8) if s.ipv6_id is None
                                                       else s.ipv6_id[8:16])
    pi.PppProjectionInfo.dwAuthenticationProtocol = PPP_LCP_CHAP
    pi.PppProjectionInfo.dwAuthenticationData = PPP_LCP_CHAP_MSV2
    return c


def port0(s: SessionInfo, port: str) -> S.RAS_PORT_0:
    """``RAS_PORT_0`` for link ``port``."""
    return S.RAS_PORT_0(
        hPort=s.h_port(port), hConnection=s.h_connection,
        dwPortCondition=RAS_PORT_AUTHENTICATED, dwTotalNumberOfCalls=1,
        dwConnectDuration=s.duration, wszPortName=fit(port, S.MAX_PORT_NAME),
        wszMediaName="rastapi", wszDeviceName="WAN Miniport (SSTP)", wszDeviceType="vpn")


def port1(s: SessionInfo, port: str, stats: int = 0) -> S.RAS_PORT_1:
    """``RAS_PORT_1`` for link ``port``."""
    p = S.RAS_PORT_1(hPort=s.h_port(port), hConnection=s.h_connection,
                     dwHardwareCondition=RAS_HARDWARE_OPERATIONAL, dwLineSpeed=100_000_000)
    if stats:
        p.dwBytesXmited, p.dwBytesRcved = stats * 1500, stats * 1200
        p.dwFramesXmited, p.dwFramesRcved = stats, stats
    return p


def nt4_port1(s: SessionInfo, port: str, params: int) -> S.NT4_RAS_PORT_1:
    """NT 4.0 ``RAS_PORT_1`` for ``port``; ``params`` = entries of the parameter array."""
    flags = NT4_USER_AUTHENTICATED | NT4_PPP_CLIENT
    if len(s.links) > 1:
        flags |= NT4_PORT_MULTILINKED
    p0 = S.NT4_RAS_PORT_0(
        wszPortName=fit(port, S.RASSAPI_MAX_PORT_NAME - 1), wszDeviceType="modem",
        wszDeviceName="Standard 28800 bps Modem", wszMediaName="rasser", Flags=flags,
        wszUserName=s.user, wszComputer=fit(s.computer, S.NETBIOS_NAME_LEN - 1),
        dwStartSessionTime=s.started_epoch, wszLogonDomain=s.domain, fAdvancedServer=1)
    p = S.NT4_RAS_PORT_1(rasport0=p0, LineCondition=NT4_RAS_PORT_AUTHENTICATED,
                         HardwareCondition=NT4_RAS_MODEM_OPERATIONAL, LineSpeed=28800,
                         NumStatistics=28, NumMediaParms=params,
                         SizeMediaParms=0)
    p.ProjResult.ip.wszAddress = s.remote
    p.ProjResult.nbf.dwError = p.ProjResult.ipx.dwError = p.ProjResult.at.dwError = 733
    return p


def nt4_stats(s: SessionInfo, stats: int = 0) -> S.RAS_PORT_STATISTICS:
    """NT 4.0 ``RAS_PORT_STATISTICS`` (counting starts at connect)."""
    st = S.RAS_PORT_STATISTICS()
    if stats:
        st.dwBytesXmited = st.dwPortBytesXmited = stats * 1500
        st.dwBytesRcved = st.dwPortBytesRcved = stats * 1200
    return st


def nt4_params() -> list[S.RAS_PARAMETERS]:
    """NT 4.0 media parameters (``MAXCONNECTBPS``, ``CONNECTBPS``)."""
    return [
        S.RAS_PARAMETERS(P_Key="MAXCONNECTBPS", P_Type=S.ParamNumber,
                         P_Value=S.RAS_PARAMS_VALUE(Number=115200)),
        S.RAS_PARAMETERS(P_Key="CONNECTBPS", P_Type=S.ParamNumber,
                         P_Value=S.RAS_PARAMS_VALUE(Number=28800)),
    ]


def build_args(sig: str, s: SessionInfo, bitness: int, *, port: str | None = None,
               stats: int = 0) -> tuple[object, ...]:
    """The argument tuple for structure-taking callback ``sig`` (accept/hang-up/link/reauth)."""
    if sig.startswith("RasAdmin"):
        params = nt4_params()
        p = nt4_port1(s, port or s.port, len(params))
        p.SizeMediaParms = S.sizeof("RAS_PARAMETERS", bitness) * len(params)
        return (p, nt4_stats(s, stats), params)
    if sig.endswith("Ex"):
        return (conn_ex(s, bitness, stats),)
    if "Link" in sig:
        lp = port or s.port
        return (port0(s, lp), port1(s, lp, stats))
    n = sig[-1]
    if n == "3" or sig == "MprAdminAcceptReauthentication":
        return (conn0(s), conn1(s, stats), conn2(s), conn3(s, bitness))
    if n == "2":
        return (conn0(s), conn1(s, stats), conn2(s))
    return (conn0(s), conn1(s, stats))


_SHAPES: dict[str, str] = {}


def shape(sig: str) -> str:
    """Which structures callback ``sig`` takes: ``nt4``, ``ex``, ``link``, ``3``, ``2`` or ``1``.

    Callbacks of one shape take the same argument objects, so a session builds them once.
    """
    if sig.startswith("RasAdmin"):
        return "nt4"
    if sig.endswith("Ex"):
        return "ex"
    if "Link" in sig:
        return "link"
    if sig[-1] == "3" or sig == "MprAdminAcceptReauthentication":
        return "3"
    if sig[-1] == "2":
        return "2"
    return "1"


def _stats(o: Any, stats: int) -> None:
    o.dwBytesXmited, o.dwBytesRcved = stats * 1500, stats * 1200
    o.dwFramesXmited = o.dwFramesRcved = stats


def _fill0(o: S.RAS_CONNECTION_0, s: SessionInfo) -> None:
    o.hConnection, o.hInterface = s.h_connection, s.h_interface
    o.dwConnectDuration, o.dwConnectionFlags = s.duration, s.flags()
    o.wszInterfaceName = fit(s.user, S.MAX_INTERFACE_NAME_LEN)
    o.wszUserName, o.wszLogonDomain, o.wszRemoteComputer = s.user, s.domain, s.computer


def _fill1(o: S.RAS_CONNECTION_1, s: SessionInfo, server: str, remote: str, stats: int) -> None:
    o.hConnection, o.hInterface = s.h_connection, s.h_interface
    o.PppInfo.ip.wszAddress, o.PppInfo.ip.wszRemoteAddress = server, remote
    _stats(o, stats)
    o.dwCompressionRatioIn = o.dwCompressionRatioOut = 100 if stats else 0


def _fill2(o: S.RAS_CONNECTION_2, s: SessionInfo, server: str, remote: str) -> None:
    o.hConnection, o.wszUserName = s.h_connection, s.user
    s.set_guid(o.guid)
    o.PppInfo2.ip.wszAddress, o.PppInfo2.ip.wszRemoteAddress = server, remote


def _fill3(o: S.RAS_CONNECTION_3, s: SessionInfo, server: str, remote: str) -> None:
    o.hConnection, o.wszUserName = s.h_connection, s.user
    s.set_guid(o.guid)
    o.rasQuarState = s.quarantine_state
    o.PppInfo3.ip.wszAddress, o.PppInfo3.ip.wszRemoteAddress = server, remote
    _v6(o.PppInfo3.ipv6, s)


def _fill_ex(o: S.RAS_CONNECTION_EX, s: SessionInfo, server: str, remote: str,
             stats: int) -> None:
    o.dwConnectDuration, o.dwConnectionFlags = s.duration, s.flags()
    o.wszInterfaceName = fit(s.user, S.MAX_INTERFACE_NAME_LEN)
    o.wszUserName, o.wszLogonDomain, o.wszRemoteComputer = s.user, s.domain, s.computer
    s.set_guid(o.guid)
    o.rasQuarState = s.quarantine_state
    _stats(o, stats)
    o.wszRemoteEndpointAddress = f"198.51.100.{s.id % 250 + 1}"
    o.hConnection, o.hInterface = s.h_connection, s.h_interface
    pp = o.ProjectionInfo.PppProjectionInfo
    pp.wszAddress, pp.wszRemoteAddress = server, remote
    pp.dwIPv6NegotiationError = 733 if s.ipv6_id is None else 0
    pp.bRemoteInterfaceIdentifier = bytes(8) if s.ipv6_id is None else s.ipv6_id[8:16]


def _fill_port(p0: S.RAS_PORT_0, p1: S.RAS_PORT_1, s: SessionInfo, port: str,
               stats: int) -> None:
    h = s.h_port(port)
    p0.hPort = p1.hPort = h
    p0.hConnection = p1.hConnection = s.h_connection
    p0.dwConnectDuration = s.duration
    p0.wszPortName = fit(port, S.MAX_PORT_NAME)
    _stats(p1, stats)


def _fill_nt4(args: tuple[Any, ...], s: SessionInfo, port: str, stats: int) -> None:
    p, st, _params = args
    flags = NT4_USER_AUTHENTICATED | NT4_PPP_CLIENT
    if len(s.links) > 1:
        flags |= NT4_PORT_MULTILINKED
    p0 = p.rasport0
    p0.wszPortName = fit(port, S.RASSAPI_MAX_PORT_NAME - 1)
    p0.Flags, p0.wszUserName = flags, s.user
    p0.wszComputer = fit(s.computer, S.NETBIOS_NAME_LEN - 1)
    p0.dwStartSessionTime, p0.wszLogonDomain = s.started_epoch, s.domain
    p.ProjResult.ip.wszAddress = s.remote
    st.dwBytesXmited = st.dwPortBytesXmited = stats * 1500
    st.dwBytesRcved = st.dwPortBytesRcved = stats * 1200


def _ex_key(s: SessionInfo) -> tuple[Any, ...]:
    """Everything :func:`_fill_ex` reads from ``s`` except the duration and the counters."""
    return (s.id, s.user, s.domain, s.computer, s.address, s.server_address, s.ipv6_id,
            s.quarantine_state, s.started)


class ArgTemplates:
    """One set of argument objects per callback shape, refilled for every call.

    Loaders copy or pack the arguments during the call, so the objects can be reused; the
    caller must hold the DLL instance's lock from :meth:`args` until the call returned.
    This keeps per-call cost to field assignments and per-session memory at zero.
    """

    def __init__(self, bitness: int) -> None:
        self.bits = bitness
        self._t: dict[str, tuple[Any, ...]] = {}
        #: what the ``ex`` template was last filled from (see :func:`_ex_key`)
        self._ex_key: tuple[Any, ...] | None = None

    def args(self, sig: str, s: SessionInfo, port: str | None = None,
             stats: int = 0) -> tuple[Any, ...]:
        """The argument tuple for structure-taking callback ``sig``, filled for ``s``."""
        shp = _SHAPES.get(sig)
        if shp is None:
            shp = _SHAPES[sig] = shape(sig)
        t = self._t.get(shp)
        if t is None:
            t = build_args(sig, s, self.bits, port=port, stats=stats)
            self._t[shp] = t
            if shp == "ex":
                self._ex_key = _ex_key(s)
            return t
        if shp == "link":
            _fill_port(t[0], t[1], s, port or s.port, stats)
            return t
        if shp == "ex":
            key = _ex_key(s)
            o = t[0]
            if key == self._ex_key:
                # filled for this session with these values already (its accept, then its
                # hang-up): only the duration and the counters can differ
                o.dwConnectDuration = s.duration
                _stats(o, stats)
            else:
                server, remote = s.texts()
                _fill_ex(o, s, server, remote, stats)
                self._ex_key = key
        elif shp == "nt4":
            _fill_nt4(t, s, port or s.port, stats)
        else:
            server, remote = s.texts()
            _fill0(t[0], s)
            _fill1(t[1], s, server, remote, stats)
            if shp in ("2", "3"):
                _fill2(t[2], s, server, remote)
            if shp == "3":
                _fill3(t[3], s, server, remote)
        return t
