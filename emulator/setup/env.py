"""What an installer runs against: registry, file system, process bitness, environment, log."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from emulator.registry.model import Registry
from emulator.setup.winfs import SYSTEM32, WINDIR, WinFS

#: Windows folder holding the installation media (the installer's own folder and the DLL).
SETUP_DIR = "C:\\Setup"

LogKind = Literal["action", "skipped", "failed", "note", "output"]


@dataclass(frozen=True)
class LogEntry:
    """One thing an installer did, skipped or failed at (``where`` = file:line when known)."""

    kind: LogKind
    message: str
    where: str = ""

    def __str__(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        return f"[{self.kind}] {prefix}{self.message}"


@dataclass
class SetupLog:
    """Ordered log of an installer run (phases ``install`` and ``uninstall``)."""

    entries: list[LogEntry] = field(default_factory=list)

    def add(self, kind: LogKind, message: str, where: str = "") -> None:
        """Append one entry."""
        self.entries.append(LogEntry(kind, message, where))

    def lines(self) -> list[str]:
        """The entries as text lines."""
        return [str(e) for e in self.entries]


def environment(os_bits: int, process_bits: int) -> dict[str, str]:
    """Environment variables a process of ``process_bits`` sees on a ``os_bits`` Windows."""
    wow = os_bits == 64 and process_bits == 32
    pf = "C:\\Program Files (x86)" if wow else "C:\\Program Files"
    env = {
        "SystemDrive": "C:",
        "SystemRoot": WINDIR,
        "windir": WINDIR,
        "ProgramFiles": pf,
        "CommonProgramFiles": pf + "\\Common Files",
        "ProgramData": "C:\\ProgramData",
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "TEMP": "C:\\Windows\\Temp",
        "TMP": "C:\\Windows\\Temp",
        "ComSpec": SYSTEM32 + "\\cmd.exe",
        "OS": "Windows_NT",
        "COMPUTERNAME": "RASEMU",
        "PROCESSOR_ARCHITECTURE": "AMD64" if (os_bits == 64 and not wow) else "x86",
    }
    if os_bits == 64:
        env["ProgramFiles(x86)"] = "C:\\Program Files (x86)"
        env["CommonProgramFiles(x86)"] = "C:\\Program Files (x86)\\Common Files"
        env["ProgramW6432"] = "C:\\Program Files"
        env["CommonProgramW6432"] = "C:\\Program Files\\Common Files"
    if wow:
        env["PROCESSOR_ARCHITEW6432"] = "AMD64"
    return env


_VAR = re.compile(r"%([^%]+)%")


def expand(text: str, env: dict[str, str]) -> str:
    """ExpandEnvironmentStrings: ``%NAME%`` -> value (case-insensitive); unknown names stay."""
    folded = {k.upper(): v for k, v in env.items()}

    def sub(m: re.Match[str]) -> str:
        return folded.get(m.group(1).upper(), m.group(0))

    return _VAR.sub(sub, text)


@dataclass
class SetupEnv:
    """Everything an installer touches.

    ``bits`` is the installer process's bitness, ``os_bits`` the profile's. ``view`` is the
    registry view the process gets by default (32 only for a 32-bit process on a 64-bit OS).
    ``dll`` is the local DLL the installation media carries, as ``SETUP_DIR\\dll_name``.
    """

    registry: Registry
    fs: WinFS
    bits: int
    os_bits: int
    log: SetupLog
    dll: Path | None = None
    dll_name: str | None = None

    @property
    def wow64(self) -> bool:
        """True for a 32-bit process on a 64-bit OS."""
        return self.os_bits == 64 and self.bits == 32

    @property
    def view(self) -> int:
        """Default registry view of the installer process."""
        return 32 if self.wow64 else 64

    def reg_view(self, requested: int | None) -> int:
        """Registry view for an explicit request (``/reg:32``, KEY_WOW64_*); 64 on a 32-bit OS."""
        if self.os_bits == 32:
            return 64
        return self.view if requested is None else requested

    @property
    def environ(self) -> dict[str, str]:
        """Environment variables of the installer process."""
        return environment(self.os_bits, self.bits)
