"""In-memory Windows registry: keys, typed values, WOW64 views, HKCR merge, snapshots.

Paths are ``ROOT\\sub\\key`` with ROOT a full root name or its abbreviation (HKLM, HKCU,
HKU, HKCR, HKCC; case-insensitive). Names are case-insensitive and case-preserving.
Values are ``(type, raw bytes)``. ``view=64`` addresses physical keys; ``view=32`` applies
WOW64 redirection (:mod:`emulator.registry.wow64`). ``HKEY_CLASSES_ROOT`` is the merged
view of ``HKLM\\SOFTWARE\\Classes`` and ``HKCU\\Software\\Classes``.

Snapshots are O(1): a snapshot freezes the current tree and later writes copy only the
nodes on the path they change, so both time and memory are proportional to changes.

Simplifications: ``HKEY_CURRENT_USER`` and ``HKEY_CURRENT_CONFIG`` are trees of their own
(not links into ``HKEY_USERS`` / ``HKLM\\SYSTEM``); ``CurrentControlSet`` is an ordinary key;
no security descriptors, volatile keys or REG_LINK symbolic links (only the WOW64 links of
:mod:`emulator.registry.wow64`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final

from emulator.errors import InputError
from emulator.registry import wow64
from emulator.registry._node import Node, ValueEntry, filetime_now, fold, order_key
from emulator.registry.snapshot import Snapshot
from emulator.winerror import (
    ERROR_ACCESS_DENIED,
    ERROR_BAD_PATHNAME,
    ERROR_INVALID_PARAMETER,
)

REG_NONE: Final = 0
REG_SZ: Final = 1
REG_EXPAND_SZ: Final = 2
REG_BINARY: Final = 3
REG_DWORD: Final = 4
REG_DWORD_LITTLE_ENDIAN: Final = 4
REG_DWORD_BIG_ENDIAN: Final = 5
REG_LINK: Final = 6
REG_MULTI_SZ: Final = 7
REG_RESOURCE_LIST: Final = 8
REG_FULL_RESOURCE_DESCRIPTOR: Final = 9
REG_RESOURCE_REQUIREMENTS_LIST: Final = 10
REG_QWORD: Final = 11
REG_QWORD_LITTLE_ENDIAN: Final = 11

TYPE_NAMES: Final[dict[int, str]] = {
    REG_NONE: "REG_NONE",
    REG_SZ: "REG_SZ",
    REG_EXPAND_SZ: "REG_EXPAND_SZ",
    REG_BINARY: "REG_BINARY",
    REG_DWORD: "REG_DWORD",
    REG_DWORD_BIG_ENDIAN: "REG_DWORD_BIG_ENDIAN",
    REG_LINK: "REG_LINK",
    REG_MULTI_SZ: "REG_MULTI_SZ",
    REG_RESOURCE_LIST: "REG_RESOURCE_LIST",
    REG_FULL_RESOURCE_DESCRIPTOR: "REG_FULL_RESOURCE_DESCRIPTOR",
    REG_RESOURCE_REQUIREMENTS_LIST: "REG_RESOURCE_REQUIREMENTS_LIST",
    REG_QWORD: "REG_QWORD",
}

HKEY_LOCAL_MACHINE: Final = "HKEY_LOCAL_MACHINE"
HKEY_CURRENT_USER: Final = "HKEY_CURRENT_USER"
HKEY_USERS: Final = "HKEY_USERS"
HKEY_CLASSES_ROOT: Final = "HKEY_CLASSES_ROOT"
HKEY_CURRENT_CONFIG: Final = "HKEY_CURRENT_CONFIG"

#: Full root name -> abbreviation.
ROOTS: Final[dict[str, str]] = {
    HKEY_LOCAL_MACHINE: "HKLM",
    HKEY_CURRENT_USER: "HKCU",
    HKEY_USERS: "HKU",
    HKEY_CLASSES_ROOT: "HKCR",
    HKEY_CURRENT_CONFIG: "HKCC",
}
#: Roots stored as trees; HKEY_CLASSES_ROOT is a merged view of two of them.
PHYSICAL_ROOTS: Final = (HKEY_LOCAL_MACHINE, HKEY_CURRENT_USER, HKEY_USERS, HKEY_CURRENT_CONFIG)

# -- Windows API values (winreg.h / winnt.h), shared by emulator.registry.winreg and the PE
# loader's advapi32; they are the same numbers in both, so they are defined here only.

#: Predefined key handle values by full root name (the last two have no tree in the model).
HKEY_HANDLES: Final[dict[str, int]] = {
    HKEY_CLASSES_ROOT: 0x80000000,
    HKEY_CURRENT_USER: 0x80000001,
    HKEY_LOCAL_MACHINE: 0x80000002,
    HKEY_USERS: 0x80000003,
    "HKEY_PERFORMANCE_DATA": 0x80000004,
    HKEY_CURRENT_CONFIG: 0x80000005,
    "HKEY_DYN_DATA": 0x80000006,
}

KEY_QUERY_VALUE: Final = 0x0001
KEY_SET_VALUE: Final = 0x0002
KEY_CREATE_SUB_KEY: Final = 0x0004
KEY_ENUMERATE_SUB_KEYS: Final = 0x0008
KEY_NOTIFY: Final = 0x0010
KEY_CREATE_LINK: Final = 0x0020
KEY_WOW64_64KEY: Final = 0x0100
KEY_WOW64_32KEY: Final = 0x0200
READ_CONTROL: Final = 0x00020000
KEY_READ: Final = READ_CONTROL | KEY_QUERY_VALUE | KEY_ENUMERATE_SUB_KEYS | KEY_NOTIFY  # 0x20019
KEY_WRITE: Final = READ_CONTROL | KEY_SET_VALUE | KEY_CREATE_SUB_KEY  # 0x20006
KEY_EXECUTE: Final = KEY_READ
KEY_ALL_ACCESS: Final = 0x000F003F
MAXIMUM_ALLOWED: Final = 0x02000000

REG_OPTION_VOLATILE: Final = 0x1
REG_OPTION_CREATE_LINK: Final = 0x2
REG_OPTION_OPEN_LINK: Final = 0x8
REG_CREATED_NEW_KEY: Final = 1
REG_OPENED_EXISTING_KEY: Final = 2

_ROOT_LOOKUP: Final[dict[str, str]] = {
    **{full: full for full in ROOTS},
    **{abbr: full for full, abbr in ROOTS.items()},
}

MAX_KEY_NAME: Final = 255
MAX_VALUE_NAME: Final = 16383
MAX_DEPTH: Final = 512

_CLASSES_HKCU: Final = ("Software", "Classes")
_CLASSES_HKLM: Final = ("SOFTWARE", "Classes")


class KeyNotFoundError(LookupError):
    """The key does not exist (Windows: ERROR_FILE_NOT_FOUND)."""


class ValueNotFoundError(LookupError):
    """The value does not exist (Windows: ERROR_FILE_NOT_FOUND)."""


class KeyHasSubkeysError(Exception):
    """A non-recursive delete of a key that has subkeys (Windows: ERROR_ACCESS_DENIED)."""


class RegistryPathError(InputError):
    """Bad path or name text. ``winerror`` is the Windows error code the same input gives."""

    def __init__(self, message: str, *, where: str | None = None, winerror: int = ERROR_INVALID_PARAMETER) -> None:
        self.winerror = winerror
        super().__init__(message, where=where)


_PathInfo = tuple[str, tuple[str, ...]]
_PATH_CACHE: dict[str, _PathInfo] = {}
_PATH_CACHE_MAX: Final = 16384


def check_key_name(name: str, where: str | None = None) -> None:
    """Raise RegistryPathError unless ``name`` is a valid single key name."""
    if not name:
        raise RegistryPathError("empty key name component", where=where, winerror=ERROR_BAD_PATHNAME)
    if len(name) > MAX_KEY_NAME:
        raise RegistryPathError(
            f"key name longer than {MAX_KEY_NAME} characters ({len(name)})", where=where
        )
    if "\\" in name:
        raise RegistryPathError("key name contains '\\'", where=where, winerror=ERROR_BAD_PATHNAME)
    if "\x00" in name:
        raise RegistryPathError("key name contains a NUL character", where=where)


def check_value_name(name: str, where: str | None = None) -> None:
    """Raise RegistryPathError unless ``name`` is a valid value name ("" = default value)."""
    if not isinstance(name, str):
        raise TypeError(f"value name must be str, not {type(name).__name__}")
    if len(name) > MAX_VALUE_NAME:
        raise RegistryPathError(
            f"value name longer than {MAX_VALUE_NAME} characters ({len(name)})", where=where
        )


def split_components(sub: str, where: str | None = None) -> tuple[str, ...]:
    """Split a relative key path into validated components ("" -> ())."""
    if not sub:
        return ()
    parts = tuple(sub.split("\\"))
    for part in parts:
        check_key_name(part, where)
    if len(parts) > MAX_DEPTH:
        raise RegistryPathError(f"path deeper than {MAX_DEPTH} levels", where=where)
    return parts


def split_path(path: str) -> tuple[str, tuple[str, ...]]:
    """Return (canonical full root name, components) for ``ROOT\\a\\b`` text."""
    info = _PATH_CACHE.get(path)
    if info is not None:
        return info
    if not isinstance(path, str):
        raise TypeError(f"registry path must be str, not {type(path).__name__}")
    head, sep, rest = path.partition("\\")
    root = _ROOT_LOOKUP.get(head.upper())
    if root is None:
        raise RegistryPathError(
            f"unknown root key {head!r}; expected one of "
            + ", ".join(f"{full} ({abbr})" for full, abbr in ROOTS.items()),
            where=path,
            winerror=ERROR_BAD_PATHNAME,
        )
    if sep and not rest:
        raise RegistryPathError("empty key name component (trailing '\\')", where=path,
                                winerror=ERROR_BAD_PATHNAME)
    info = (root, split_components(rest, where=path))
    if len(_PATH_CACHE) >= _PATH_CACHE_MAX:
        _PATH_CACHE.clear()
    _PATH_CACHE[path] = info
    return info


def join_path(root: str, names: Iterable[str]) -> str:
    """Inverse of :func:`split_path`."""
    return "\\".join((root, *names))


_Target = tuple[str, tuple[str, ...]]  # (physical root, physical component names)
# Path mapping is a pure function of (root, names, view): cache it (names keep their case).
_TARGET_CACHE: dict[tuple[str, tuple[str, ...], int], tuple[_Target, ...]] = {}
_FOLDED: dict[tuple[str, ...], tuple[str, ...]] = {}  # component names -> folded names


class Registry:
    """A whole in-memory registry; every method is thread-safe."""

    __slots__ = ("_gen", "_lock", "_roots", "_version", "default_view")

    def __init__(self, *, default_view: int = 64) -> None:
        if default_view not in (32, 64):
            raise ValueError(f"default_view must be 32 or 64, not {default_view!r}")
        self.default_view = default_view
        self._lock = threading.RLock()
        self._gen = 1
        self._version = 0  # bumped by every change; lets handles cache merged listings
        self._roots: dict[str, Node] = {r: Node(r, 1) for r in PHYSICAL_ROOTS}

    # -- path resolution -------------------------------------------------

    def _targets(self, root: str, names: tuple[str, ...], view: int | None) -> tuple[_Target, ...]:
        """Physical candidates for a logical path: one, or two for HKCR (HKCU first)."""
        if view is None:
            view = self.default_view
        cached = _TARGET_CACHE.get((root, names, view))
        if cached is not None:
            return cached
        if view not in (32, 64):
            raise ValueError(f"view must be 32, 64 or None, not {view!r}")
        if root == HKEY_CLASSES_ROOT:
            cands = [
                (HKEY_CURRENT_USER, _CLASSES_HKCU + names),
                (HKEY_LOCAL_MACHINE, _CLASSES_HKLM + names),
            ]
        else:
            cands = [(root, names)]
        out = []
        for r, n in cands:
            if view == 32:
                n = wow64.to_view32(r, n)
            out.append((r, wow64.resolve_links(r, n)))
        result = tuple(out)
        if len(_TARGET_CACHE) >= _PATH_CACHE_MAX:
            _TARGET_CACHE.clear()
        _TARGET_CACHE[(root, names, view)] = result
        return result

    def _node(self, root: str, names: tuple[str, ...]) -> Node | None:
        folded = _FOLDED.get(names)
        if folded is None:
            folded = tuple(fold(n) for n in names)
            if len(_FOLDED) >= _PATH_CACHE_MAX:
                _FOLDED.clear()
            _FOLDED[names] = folded
        node: Node | None = self._roots[root]
        for f in folded:
            node = node.subkeys.get(f)  # type: ignore[union-attr]
            if node is None:
                return None
        return node

    def _wnode(self, root: str, names: tuple[str, ...]) -> Node:
        """Writable node at a physical path, creating missing keys; copies frozen nodes."""
        gen = self._gen
        self._version += 1
        node = self._roots[root]
        if node.gen != gen:
            node = node.copy(gen)
            self._roots[root] = node
        for n in names:
            f = fold(n)
            child = node.subkeys.get(f)
            if child is None:
                child = Node(n, gen)
                node.subkeys[f] = child
                node.sorted_names = None
                node.mtime = child.mtime
            elif child.gen != gen:
                child = child.copy(gen)
                node.subkeys[f] = child
            node = child
        return node

    def _existing(self, path: str, view: int | None) -> tuple[_Target, Node]:
        root, names = split_path(path)
        for target in self._targets(root, names, view):
            node = self._node(*target)
            if node is not None:
                return target, node
        if root == HKEY_CLASSES_ROOT and not names:
            return target, Node("", -1)  # the merged root exists even with no sources
        raise KeyNotFoundError(path)

    # -- keys ------------------------------------------------------------

    def create_key(self, path: str, *, view: int | None = None) -> None:
        """Create a key and any missing parents (no-op when it exists)."""
        root, names = split_path(path)
        with self._lock:
            targets = self._targets(root, names, view)
            for t in targets:
                if self._node(*t) is not None:
                    return
            self._wnode(*targets[-1])
            self._ensure_view32_parents(root, names, view)

    def key_exists(self, path: str, *, view: int | None = None) -> bool:
        """True when the key exists in the given view."""
        root, names = split_path(path)
        with self._lock:
            return any(self._node(*t) is not None for t in self._targets(root, names, view)) or (
                root == HKEY_CLASSES_ROOT and not names)

    def delete_key(self, path: str, *, recursive: bool = False, view: int | None = None) -> None:
        """Delete a key (with its subtree when ``recursive``)."""
        if not split_path(path)[1]:
            raise RegistryPathError("cannot delete a root key", where=path,
                                    winerror=ERROR_ACCESS_DENIED)
        with self._lock:
            (root, names), node = self._existing(path, view)
            if not names:
                raise RegistryPathError("cannot delete a root key", where=path,
                                        winerror=ERROR_ACCESS_DENIED)
            if node.subkeys and not recursive:
                raise KeyHasSubkeysError(path)
            parent = self._wnode(root, names[:-1])
            del parent.subkeys[fold(names[-1])]
            parent.sorted_names = None
            parent.mtime = filetime_now()

    def subkey_names(self, path: str, *, view: int | None = None) -> list[str]:
        """Stored names of the subkeys, in Windows order (sorted by upper-cased name)."""
        root, names = split_path(path)
        with self._lock:
            return self._subkey_names(root, names, view, path)

    def _subkey_names(self, root: str, names: tuple[str, ...], view: int | None,
                      where: str) -> list[str]:
        targets = self._targets(root, names, view)
        found: dict[str, str] = {}
        exists = False
        for r, n in targets:
            node = self._node(r, n)
            if node is None:
                continue
            exists = True
            for name in node.subkey_names():
                found.setdefault(fold(name), name)
            for lname, ltarget in wow64.links_below(r, tuple(fold(x) for x in n)):
                if self._node(r, ltarget) is not None:
                    found.setdefault(fold(lname), lname)
        if not exists and not (root == HKEY_CLASSES_ROOT and not names):
            raise KeyNotFoundError(where)
        eff_view = self.default_view if view is None else view
        if eff_view == 32:
            # Shared children of a redirected parent live under the 64-bit path.
            for r, n in self._targets(root, names, 64):
                node = self._node(r, n)
                if node is None:
                    continue
                for name in node.subkey_names():
                    f = fold(name)
                    if f in found or f == wow64.WOW_NODE_FOLDED:
                        continue
                    child = (*names, name)
                    if any(t == (r, (*n, name)) for t in self._targets(root, child, 32)):
                        found[f] = name
        if len(targets) == 1 and eff_view == 64 and not found:
            return []
        return [found[f] for f in sorted(found, key=order_key)]

    # -- values ----------------------------------------------------------

    def set_value(self, path: str, name: str, type: int, data: bytes, *,
                  view: int | None = None) -> None:
        """Set a value (creating the key); ``name`` "" is the default value."""
        root, names = split_path(path)
        check_value_name(name, path)
        if not isinstance(type, int) or not 0 <= type <= 0xFFFFFFFF:
            raise ValueError(f"value type must be an int in 0..0xFFFFFFFF, not {type!r}")
        if not isinstance(data, bytes):
            data = bytes(data)
        with self._lock:
            targets = self._targets(root, names, view)
            target = targets[-1]
            for t in targets:
                if self._node(*t) is not None:
                    target = t
                    break
            self._store(self._wnode(*target), name, type, data)
            self._ensure_view32_parents(root, names, view)

    def _ensure_view32_parents(self, root: str, names: tuple[str, ...], view: int | None) -> None:
        """After a 32-bit write below a shared key, create the 32-bit view's parents too.

        Windows keeps both views' parents of a shared key present (e.g.
        ``SOFTWARE\\Wow6432Node\\Microsoft`` for the shared ``SOFTWARE\\Microsoft\\RAS``), so a
        32-bit caller can open every ancestor of a key it just wrote.
        """
        if (self.default_view if view is None else view) != 32:
            return
        for k in range(len(names) - 1, 0, -1):
            targets = self._targets(root, names[:k], 32)
            if all(self._node(*t) is None for t in targets):
                self._wnode(*targets[-1])

    @staticmethod
    def _store(node: Node, name: str, type: int, data: bytes) -> None:
        f = fold(name)
        old = node.values.get(f)
        node.values[f] = (old[0] if old is not None else name, type, data)
        node.mtime = filetime_now()

    def get_value(self, path: str, name: str, *, view: int | None = None) -> tuple[int, bytes]:
        """Return (type, data) of a value."""
        with self._lock:
            _, node = self._existing(path, view)
            entry = node.values.get(fold(name))
        if entry is None:
            raise ValueNotFoundError(f"{path}: {name!r}")
        return entry[1], entry[2]

    def delete_value(self, path: str, name: str, *, view: int | None = None) -> None:
        """Delete a value."""
        with self._lock:
            target, node = self._existing(path, view)
            f = fold(name)
            if f not in node.values:
                raise ValueNotFoundError(f"{path}: {name!r}")
            node = self._wnode(*target)
            del node.values[f]
            node.mtime = filetime_now()

    def value_items(self, path: str, *, view: int | None = None) -> list[tuple[str, int, bytes]]:
        """(stored name, type, data) of every value, in insertion order."""
        with self._lock:
            _, node = self._existing(path, view)
            return list(node.values.values())

    # -- snapshots -------------------------------------------------------

    def snapshot(self, path: str | None = None) -> Snapshot:
        """Freeze the physical registry (or the subtree at ``path``, 64-bit view) in O(1)."""
        with self._lock:
            if path is None:
                snap = Snapshot(dict(self._roots), None)
            else:
                root, names = split_path(path)
                if root == HKEY_CLASSES_ROOT:
                    raise RegistryPathError(
                        "HKEY_CLASSES_ROOT is a merged view; snapshot HKLM\\SOFTWARE\\Classes "
                        "or HKCU\\Software\\Classes", where=path)
                names = wow64.resolve_links(root, names)
                node = self._roots[root]
                stored = []
                for n in names:
                    child = node.subkeys.get(fold(n))
                    if child is None:
                        raise KeyNotFoundError(path)
                    node = child
                    stored.append(child.name)
                snap = Snapshot({root: node}, (root, tuple(stored)))
            self._gen += 1
            return snap

    def restore(self, snapshot: Snapshot) -> None:
        """Make the registry equal to a whole-registry snapshot."""
        if snapshot.prefix is not None:
            raise ValueError("restore() needs a whole-registry snapshot, not a subtree")
        with self._lock:
            self._roots = dict(snapshot.nodes)
            self._gen += 1
            self._version += 1

    # -- helpers for the winreg drop-in (same package) ------------------

    @property
    def lock(self) -> threading.RLock:
        """The registry's re-entrant lock (held by multi-step callers)."""
        return self._lock

    def entries(self, root: str, names: tuple[str, ...]) -> list[ValueEntry]:
        """Values of a physical key (no redirection); KeyNotFoundError when missing."""
        node = self._node(root, names)
        if node is None:
            raise KeyNotFoundError(join_path(root, names))
        return list(node.values.values())
