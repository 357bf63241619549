"""A small in-memory Windows file system for installer runs, with the WOW64 File System Redirector.

Paths are Windows paths (``C:\\dir\\file``, ``/`` accepted as a separator); lookups are
case-insensitive and case-preserving, as on NTFS. Only drive-letter paths exist (no UNC, no
device paths). ``.`` and ``..`` components are resolved lexically.

The File System Redirector (spec S25, rule R09) applies to writers and readers of bitness 32
on a 64-bit OS: ``%windir%\\System32`` maps to ``%windir%\\SysWOW64`` except for the exempt
subfolders the page lists (``catroot``, ``catroot2``, ``drivers\\etc``, ``logfiles``, ``spool``),
and ``%windir%\\Sysnative`` maps to the real ``System32``. Every file remembers the path its
writer asked for and the writer's bitness, so checks can show where a copy really landed.

Design choice: an own table instead of pyfakefs keeps the core free of a test-only dependency
and makes the redirector explicit; Python installers run under pyfakefs and their files are
moved in and out of this table (:mod:`emulator.setup.python_installer`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from emulator.errors import InputError

WINDIR = "C:\\Windows"
SYSTEM32 = WINDIR + "\\System32"
SYSWOW64 = WINDIR + "\\SysWOW64"
SYSNATIVE = WINDIR + "\\Sysnative"

#: System32 subfolders the redirector leaves alone (S25).
REDIRECT_EXEMPT = ("catroot", "catroot2", "drivers\\etc", "logfiles", "spool")


@dataclass(frozen=True)
class FileEntry:
    """One file: stored path, contents, and the path and bitness of its last writer."""

    path: str
    data: bytes
    requested: str
    writer_bits: int


def normalize(path: str, *, where: str | None = None) -> str:
    """Canonical form ``C:\\a\\b`` of a drive-letter path (case kept); InputError otherwise."""
    text = path.strip().replace("/", "\\")
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        text = text[1:-1]
    if len(text) < 2 or text[1] != ":" or not text[0].isalpha():
        raise InputError(f"expected an absolute Windows path like C:\\dir\\file, got {path!r}",
                         where=where)
    if len(text) > 2 and text[2] != "\\":
        raise InputError(f"drive-relative path {path!r} is not supported; write {text[:2]}\\...",
                         where=where)
    parts: list[str] = []
    for part in text[3:].split("\\"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        if any(c in part for c in '<>"|?*') or any(ord(c) < 32 for c in part):
            raise InputError(f"invalid character in Windows path {path!r}", where=where)
        parts.append(part.rstrip(" ."))
    return "\\".join([text[0].upper() + ":", *parts]) if parts else text[0].upper() + ":\\"


def fold(path: str) -> str:
    """Case-folded key of a normalized path."""
    return path.upper()


def is_under(path: str, folder: str) -> bool:
    """True when normalized ``path`` equals ``folder`` or lies below it (case-insensitive)."""
    p, f = fold(path), fold(folder).rstrip("\\")
    return p == f or p.startswith(f + "\\")


def parent(path: str) -> str:
    """The folder of a normalized path (the drive root for a top-level item)."""
    head, _, _ = path.rpartition("\\")
    return head + "\\" if len(head) == 2 else head


def basename(path: str) -> str:
    """Last component of a Windows path."""
    return path.replace("/", "\\").rstrip("\\").rpartition("\\")[2]


class WinFS:
    """In-memory Windows files and folders for one OS bitness (32 or 64).

    ``media`` maps a Windows folder (the installation media, e.g. ``C:\\Setup``) to a real
    local folder: files not in the table are read from there (read-only).
    """

    def __init__(self, os_bits: int = 64) -> None:
        if os_bits not in (32, 64):
            raise ValueError(f"os_bits must be 32 or 64, not {os_bits!r}")
        self.os_bits = os_bits
        self._files: dict[str, FileEntry] = {}
        self._dirs: dict[str, str] = {}
        self.media: dict[str, Path] = {}
        self.redirections: list[tuple[str, str]] = []
        for folder in ("C:\\", WINDIR, SYSTEM32, "C:\\Program Files", "C:\\ProgramData",
                       "C:\\Users"):
            self.mkdir(folder, 64)
        if os_bits == 64:
            self.mkdir(SYSWOW64, 64)
            self.mkdir("C:\\Program Files (x86)", 64)

    # -- paths ------------------------------------------------------------------------

    def physical(self, path: str, bits: int, *, where: str | None = None) -> str:
        """Where ``path`` opened by a process of ``bits`` really is (File System Redirector)."""
        norm = normalize(path, where=where)
        if self.os_bits != 64 or bits != 32:
            return norm  # native process: no redirection (64-bit processes have no Sysnative)
        if is_under(norm, SYSNATIVE):
            return SYSTEM32 + norm[len(SYSNATIVE):]
        if is_under(norm, SYSTEM32):
            rest = norm[len(SYSTEM32):].lstrip("\\")
            if not any(is_under(rest, ex) for ex in REDIRECT_EXEMPT):
                target = SYSWOW64 + norm[len(SYSTEM32):]
                self.redirections.append((norm, target))
                return target
        return norm

    # -- folders ----------------------------------------------------------------------

    def mkdir(self, path: str, bits: int = 64, *, where: str | None = None) -> str:
        """Create a folder and its parents (no error when it exists); returns the real path."""
        real = self.physical(path, bits, where=where)
        chain = []
        p = real
        while True:
            chain.append(p)
            up = parent(p)
            if up == p or len(p) <= 3:
                break
            p = up
        for p in reversed(chain):
            if fold(p) in self._files:
                raise InputError(f"cannot create folder {p}: a file has that name", where=where)
            self._dirs.setdefault(fold(p), p)
        return real

    def isdir(self, path: str, bits: int = 64) -> bool:
        """True when the folder exists (as seen by a process of ``bits``)."""
        real = self.physical(path, bits)
        if fold(real) in self._dirs:
            return True
        local = self._media_path(real)
        try:
            return local is not None and local.is_dir()
        except (OSError, ValueError):  # a name the host cannot hold
            return False

    def rmdir(self, path: str, bits: int = 64) -> bool:
        """Remove an empty folder; False when it does not exist or is not empty."""
        real = self.physical(path, bits)
        key = fold(real)
        if key not in self._dirs or len(real) <= 3:
            return False
        prefix = key + "\\"
        if any(k.startswith(prefix) for k in self._files) or any(
                k.startswith(prefix) for k in self._dirs):
            return False
        del self._dirs[key]
        return True

    # -- files ------------------------------------------------------------------------

    def _media_path(self, real: str) -> Path | None:
        for folder, local in self.media.items():
            if is_under(real, folder):
                rest = real[len(folder):].strip("\\")
                candidate = local.joinpath(*rest.split("\\")) if rest else local
                return candidate
        return None

    def write(self, path: str, data: bytes, bits: int = 64, *, where: str | None = None) -> str:
        """Write a file (its folder must exist); returns the real path. InputError otherwise."""
        requested = normalize(path, where=where)
        real = self.physical(requested, bits, where=where)
        if fold(real) in self._dirs:
            raise InputError(f"cannot write {real}: it is a folder", where=where)
        if not self.isdir(parent(real)):
            raise InputError(f"cannot write {real}: folder {parent(real)} does not exist",
                             where=where)
        old = self._files.get(fold(real))
        stored = old.path if old is not None else real
        self._files[fold(real)] = FileEntry(stored, bytes(data), requested, bits)
        return real

    def read(self, path: str, bits: int = 64) -> bytes | None:
        """Contents of a file, or None when it does not exist."""
        real = self.physical(path, bits)
        entry = self._files.get(fold(real))
        if entry is not None:
            return entry.data
        local = self._media_path(real)
        if local is None:
            return None
        try:  # is_file() raises for names the host cannot hold (ENAMETOOLONG, ...)
            return local.read_bytes() if local.is_file() else None
        except (OSError, ValueError):
            return None

    def exists(self, path: str, bits: int = 64) -> bool:
        """True when a file exists at ``path`` (folders do not count)."""
        return self.read(path, bits) is not None

    def entry(self, path: str, bits: int = 64) -> FileEntry | None:
        """The table entry of a file written during the run (media files have none)."""
        return self._files.get(fold(self.physical(path, bits)))

    def delete(self, path: str, bits: int = 64) -> bool:
        """Delete a file; False when it is not there."""
        return self._files.pop(fold(self.physical(path, bits)), None) is not None

    def files(self) -> Iterator[FileEntry]:
        """Every file written into the table, in path order."""
        for key in sorted(self._files):
            yield self._files[key]

    def folders(self) -> list[str]:
        """Every folder, in path order."""
        return [self._dirs[k] for k in sorted(self._dirs)]

    def state(self) -> dict[str, bytes]:
        """Path -> contents of every file (for before/after comparisons)."""
        return {e.path: e.data for e in self.files()}

    def add_media(self, folder: str, local: str | os.PathLike[str]) -> str:
        """Make the real folder ``local`` readable at Windows folder ``folder``."""
        real = self.mkdir(folder, 64)
        self.media[real] = Path(local)
        return real

    def replace_all(self, files: dict[str, FileEntry], folders: list[str]) -> None:
        """Replace the contents of the table (used after a run in another fake file system)."""
        self._files = {fold(e.path): e for e in files.values()}
        self._dirs = {fold(f): f for f in folders}
