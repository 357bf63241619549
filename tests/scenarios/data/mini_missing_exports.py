"""Stand-in missing most required exports: the service must not start (R15, R48)."""

from __future__ import annotations

from typing import Any


def MprAdminTerminateDll() -> int:
    return 0


def MprAdminAcceptNewConnection(c0: Any, c1: Any) -> int:
    return 1
