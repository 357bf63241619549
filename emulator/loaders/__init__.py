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

__all__ = ["AdminDll", "Call", "CallFault", "CallIssue", "CallResult", "Loader", "ResourceUsage"]
