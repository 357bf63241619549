"""IPv4 addresses as admin DLLs see them: a DWORD in network byte order (AMBIG-5, R62).

The DWORD's memory bytes are ``a, b, c, d`` for ``"a.b.c.d"``; read as a little-endian integer
(what a DLL or a Python stand-in handles) ``192.168.100.10`` is ``0x0A64A8C0``.
"""

from __future__ import annotations

import ipaddress

__all__ = ["dword_to_ip", "ip_to_dword", "looks_byteswapped"]


def ip_to_dword(ip: str) -> int:
    """The DWORD value a DLL stores for dotted ``ip`` (network byte order in memory)."""
    return int.from_bytes(ipaddress.IPv4Address(ip).packed, "little")


def dword_to_ip(value: int) -> str:
    """Dotted text of a DWORD a DLL returned (memory bytes read as a.b.c.d)."""
    return str(ipaddress.IPv4Address((value & 0xFFFFFFFF).to_bytes(4, "little")))


def looks_byteswapped(value: int, pool: ipaddress.IPv4Network) -> bool:
    """Whether ``value`` lies outside ``pool`` but its byte-swapped form lies inside (R62)."""
    addr = ipaddress.IPv4Address((value & 0xFFFFFFFF).to_bytes(4, "little"))
    swapped = ipaddress.IPv4Address((value & 0xFFFFFFFF).to_bytes(4, "big"))
    return addr not in pool and swapped in pool
