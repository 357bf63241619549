"""Key nodes shared by the model and snapshots (private).

A node belongs to a *generation*. The registry may change a node in place only
while the node's generation equals the registry's current one; taking a snapshot
starts a new generation, so every node reachable from the snapshot is frozen and
later writes copy the nodes on the changed path (path copying).
"""

from __future__ import annotations

import itertools
import time
from typing import Final

ValueEntry = tuple[str, int, bytes]  # (stored name, type, data)

_ids: Final = itertools.count(1)

_FOLD_CACHE: dict[str, str] = {}
_FOLD_CACHE_MAX: Final = 65536


def _fold_slow(name: str) -> str:
    # Windows upper-cases UTF-16 code units one by one; keep characters whose
    # Python upper case is not a single BMP character (e.g. 'ß' -> 'SS').
    out = []
    for ch in name:
        up = ch.upper()
        out.append(up if len(up) == 1 and ord(up) < 0x10000 and ord(ch) < 0x10000 else ch)
    return "".join(out)


def fold(name: str) -> str:
    """Return the case-insensitive comparison key Windows uses for ``name``."""
    f = _FOLD_CACHE.get(name)
    if f is None:
        f = name.upper() if name.isascii() else _fold_slow(name)
        if len(_FOLD_CACHE) >= _FOLD_CACHE_MAX:
            _FOLD_CACHE.clear()
        _FOLD_CACHE[name] = f
    return f


_EPOCH_AS_FILETIME: Final = 116444736000000000


def filetime_now() -> int:
    """Current time as a Windows FILETIME (100 ns ticks since 1601-01-01)."""
    return time.time_ns() // 100 + _EPOCH_AS_FILETIME


def order_key(folded: str) -> bytes:
    """Sort key giving Windows' subkey order (upper-cased UTF-16 code units)."""
    return folded.encode("utf-16-be", "surrogatepass")


class Node:
    """One key: stored name, identity, generation, subkeys and values."""

    __slots__ = ("gen", "ident", "mtime", "name", "sorted_names", "subkeys", "values")

    def __init__(self, name: str, gen: int) -> None:
        self.name = name
        self.ident = next(_ids)
        self.gen = gen
        self.subkeys: dict[str, Node] = {}
        self.values: dict[str, ValueEntry] = {}
        self.sorted_names: list[str] | None = None
        self.mtime = filetime_now()

    def copy(self, gen: int) -> Node:
        """Shallow copy for generation ``gen``; keeps the identity."""
        n = Node.__new__(Node)
        n.name = self.name
        n.ident = self.ident
        n.gen = gen
        n.subkeys = dict(self.subkeys)
        n.values = dict(self.values)
        n.sorted_names = self.sorted_names
        n.mtime = self.mtime
        return n

    def subkey_names(self) -> list[str]:
        """Stored names of the subkeys in Windows enumeration order (cached)."""
        names = self.sorted_names
        if names is None:
            names = [
                self.subkeys[k].name for k in sorted(self.subkeys, key=order_key)
            ]
            self.sorted_names = names
        return names
