"""A minimal admin-DLL stand-in: hands out 10.8.0.10 .. 10.8.0.41 to dial-in users.

Check it with ``rasemu check docs/examples/pool_standin.py``. Every callback is a method of
``AdminDll`` under its plain export name; the loader makes one instance per load of the "DLL".
"""

from __future__ import annotations

from typing import Any

from emulator.abi.addresses import ip_to_dword
from emulator.loaders.python import Ref

NO_ERROR = 0
ERROR_NO_MORE_ITEMS = 259
POOL = [ip_to_dword(f"10.8.0.{n}") for n in range(10, 42)]  # network byte order (R62)


class AdminDll:
    def __init__(self) -> None:
        self.leases: dict[int, tuple[str, str]] = {}  # address -> (user, port)

    def MprAdminInitializeDll(self) -> int:
        return NO_ERROR

    def MprAdminTerminateDll(self) -> int:
        self.leases.clear()
        return NO_ERROR  # not TRUE (R57)

    def MprAdminGetIpAddressForUser(self, user: str, port: str, address: Ref, notify: Ref) -> int:
        free = [a for a in POOL if a not in self.leases]
        if not free:
            return ERROR_NO_MORE_ITEMS
        chosen = address.value if address.value in free else free[0]
        self.leases[chosen] = (user, port)
        address.value = chosen
        notify.value = 1  # ask for MprAdminReleaseIpAddress (R61)
        return NO_ERROR

    def MprAdminReleaseIpAddress(self, user: str, port: str, address: Ref) -> None:
        if self.leases.get(address.value) == (user, port):  # ignore unknown leases (R65)
            del self.leases[address.value]

    def MprAdminAcceptNewConnection(self, conn0: Any, conn1: Any) -> bool:
        return True

    def MprAdminConnectionHangupNotification(self, conn0: Any, conn1: Any) -> None:
        return None

    def MprAdminAcceptNewLink(self, port0: Any, port1: Any) -> bool:
        return True

    def MprAdminLinkHangupNotification(self, port0: Any, port1: Any) -> None:
        return None

