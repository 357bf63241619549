"""Stand-in second DLL that refuses every connection (for multi-DLL checks, R20)."""

from __future__ import annotations

from typing import Any


def MprAdminInitializeDll() -> int:
    return 0


def MprAdminTerminateDll() -> int:
    return 0


def MprAdminAcceptNewConnection(c0: Any, c1: Any) -> int:
    return 0


def MprAdminConnectionHangupNotification(c0: Any, c1: Any) -> None:
    return None


def MprAdminAcceptNewLink(p0: Any, p1: Any) -> int:
    return 1


def MprAdminLinkHangupNotification(p0: Any, p1: Any) -> None:
    return None
