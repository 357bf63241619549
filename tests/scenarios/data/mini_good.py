"""A tiny conforming admin DLL stand-in for the scenario/run tests: 64-address pool, leases by user/port/address.

mini_no_notify.py and mini_crash_release.py subclass it and set ``BAD`` to their one defect.
"""

from __future__ import annotations

from typing import Any

NO_ERROR = 0
ERROR_NO_MORE_ITEMS = 259


def _dword(host: int) -> int:
    return int.from_bytes(bytes([10, 9, 0, host]), "little")  # network byte order in memory


class AdminDll:
    BAD = ""  # the one defect of a variant ("" = none)

    def __init__(self) -> None:
        self.leases: dict[int, tuple[str, str]] = {}

    def MprAdminInitializeDll(self) -> int:
        return NO_ERROR

    def MprAdminTerminateDll(self) -> int:
        return NO_ERROR

    def MprAdminGetIpAddressForUser(self, user: str, port: str, address: Any, notify: Any) -> int:
        for host in range(10, 74):
            dw = _dword(host)
            if dw not in self.leases:
                self.leases[dw] = (user, port)
                address.value = dw
                if self.BAD != "no_notify":
                    notify.value = 1
                return NO_ERROR
        return ERROR_NO_MORE_ITEMS

    def MprAdminReleaseIpAddress(self, user: str, port: str, address: Any) -> None:
        owner = self.leases.get(address.value)
        if self.BAD == "crash_release":
            _ = owner[0]  # type: ignore[index]  # crashes on an unknown lease (R65)
        if owner == (user, port):
            del self.leases[address.value]

    def MprAdminAcceptNewConnection2(self, c0: Any, c1: Any, c2: Any) -> int:
        return 1

    def MprAdminConnectionHangupNotification2(self, c0: Any, c1: Any, c2: Any) -> None:
        return None

    def MprAdminAcceptNewLink(self, p0: Any, p1: Any) -> int:
        return 1

    def MprAdminLinkHangupNotification(self, p0: Any, p1: Any) -> None:
        return None

    def MprAdminAcceptReauthentication(self, c0: Any, c1: Any, c2: Any, c3: Any) -> int:
        return 1
