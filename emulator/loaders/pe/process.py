"""State of the emulated process that Windows API handlers share (handles, TLS, debug log, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: fake process and thread ids (RRAS runs inside svchost.exe)
PROCESS_ID = 0x4D8
THREAD_ID = 0x5E4
#: pseudo handles GetCurrentProcess / GetCurrentThread return
CURRENT_PROCESS = 0xFFFFFFFFFFFFFFFF
CURRENT_THREAD = 0xFFFFFFFFFFFFFFFE


@dataclass(slots=True)
class Handle:
    """One open kernel handle: what it is, the object, where it was made."""

    kind: str
    obj: Any
    site: int
    api: str


class HandleTable:
    """Kernel handles, numbered like Windows (multiples of 4 from 0x100)."""

    def __init__(self) -> None:
        self._next = 0x100
        self.open: dict[int, Handle] = {}

    def new(self, kind: str, obj: Any = None, *, site: int = 0, api: str = "") -> int:
        """Open a handle and return its value."""
        h = self._next
        self._next += 4
        self.open[h] = Handle(kind, obj, site, api)
        return h

    def get(self, h: int, kind: str | None = None) -> Handle | None:
        """The handle ``h`` (of ``kind`` if given), else None."""
        e = self.open.get(h)
        if e is None or (kind is not None and e.kind != kind):
            return None
        return e

    def close(self, h: int) -> bool:
        """Close ``h``; False if it was not open."""
        return self.open.pop(h, None) is not None


@dataclass(slots=True)
class Process:
    """Per-emulator process state. Module-specific state goes into ``extra`` under the module's name."""

    handles: HandleTable = field(default_factory=HandleTable)
    #: OutputDebugString / stdio text captured during the current call
    debug: list[str] = field(default_factory=list)
    #: TlsAlloc'd slot indexes
    tls_used: set[int] = field(default_factory=set)
    #: FlsAlloc'd slots: index -> value
    fls: dict[int, int] = field(default_factory=dict)
    #: functions registered with atexit/_onexit (run at unload, newest first)
    onexit: list[int] = field(default_factory=list)
    #: milliseconds Sleep() has "waited" (added to the clocks, no real sleeping)
    slept_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
