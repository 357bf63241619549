"""Ways of running an admin DLL, each behind :class:`emulator.loaders.base.AdminDll`."""

from emulator.loaders.base import (
    AdminDll,
    Call,
    CallFault,
    CallIssue,
    CallResult,
    Loader,
    ResourceUsage,
)
from emulator.loaders.select import LOADERS, detect_loader, make_loader, open_dll

__all__ = [
    "LOADERS",
    "AdminDll",
    "Call",
    "CallFault",
    "CallIssue",
    "CallResult",
    "Loader",
    "ResourceUsage",
    "detect_loader",
    "make_loader",
    "open_dll",
]
