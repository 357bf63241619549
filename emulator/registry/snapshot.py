"""Immutable registry snapshots and their differences."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from emulator.registry._node import Node, fold, order_key

ValueData = tuple[int, bytes]


class Snapshot:
    """A frozen physical registry tree (or subtree). Cheap to take; never changes.

    ``nodes`` maps root names to frozen key nodes; ``prefix`` is None for a whole
    registry or ``(root, components)`` of the subtree's key.
    """

    __slots__ = ("nodes", "prefix")

    def __init__(self, nodes: Mapping[str, Node], prefix: tuple[str, tuple[str, ...]] | None) -> None:
        self.nodes: Mapping[str, Node] = MappingProxyType(dict(nodes))
        self.prefix = prefix

    def _find(self, path: tuple[str, tuple[str, ...]]) -> Node | None:
        root, names = path
        if self.prefix is not None:
            proot, pnames = self.prefix
            if root != proot or len(names) < len(pnames) or tuple(
                fold(n) for n in names[: len(pnames)]
            ) != tuple(fold(n) for n in pnames):
                return None
            names = names[len(pnames):]
        node = self.nodes.get(root)
        for n in names:
            if node is None:
                return None
            node = node.subkeys.get(fold(n))
        return node

    def key_exists(self, path: str) -> bool:
        """True when the key (a physical path) is in the snapshot."""
        from emulator.registry.model import split_path

        return self._find(split_path(path)) is not None

    def subkey_names(self, path: str) -> list[str]:
        """Subkey names of a key in the snapshot (Windows order)."""
        from emulator.registry.model import KeyNotFoundError, split_path

        node = self._find(split_path(path))
        if node is None:
            raise KeyNotFoundError(path)
        return list(node.subkey_names())

    def value_items(self, path: str) -> list[tuple[str, int, bytes]]:
        """Values of a key in the snapshot, in insertion order."""
        from emulator.registry.model import KeyNotFoundError, split_path

        node = self._find(split_path(path))
        if node is None:
            raise KeyNotFoundError(path)
        return list(node.values.values())

    def walk(self) -> Iterator[tuple[str, list[tuple[str, int, bytes]]]]:
        """Yield (full path, values) for every key, parents first, siblings in Windows order."""
        if self.prefix is None:
            tops = [(root, self.nodes[root]) for root in self.nodes]
        else:
            root, names = self.prefix
            tops = [("\\".join((root, *names)), self.nodes[root])]
        stack = list(reversed(tops))
        while stack:
            path, node = stack.pop()
            yield path, list(node.values.values())
            for name in reversed(node.subkey_names()):
                stack.append((path + "\\" + name, node.subkeys[fold(name)]))

    @property
    def path(self) -> str | None:
        """Full path of the subtree's key, or None for a whole registry."""
        if self.prefix is None:
            return None
        return "\\".join((self.prefix[0], *self.prefix[1]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return self.prefix == other.prefix and diff(self, other).is_empty

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ValueChange:
    """One changed value: key path, value name, old and new (type, data)."""

    path: str
    name: str
    old: ValueData
    new: ValueData


@dataclass(frozen=True)
class RegistryDiff:
    """Differences from snapshot ``a`` to snapshot ``b``."""

    keys_added: tuple[str, ...] = ()
    keys_removed: tuple[str, ...] = ()
    values_added: tuple[tuple[str, str, ValueData], ...] = ()
    values_removed: tuple[tuple[str, str, ValueData], ...] = ()
    values_changed: tuple[ValueChange, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        """True when the two snapshots are equal."""
        return not (self.keys_added or self.keys_removed or self.values_added
                    or self.values_removed or self.values_changed)

    def to_text(self) -> str:
        """Readable lines: ``+ key``, ``- key``, ``+ value``, ``- value``, ``~ value old -> new``."""
        lines = [f"+ key {p}" for p in self.keys_added]
        lines += [f"- key {p}" for p in self.keys_removed]
        lines += [f"+ value {p} {_vname(n)} = {_show(v)}" for p, n, v in self.values_added]
        lines += [f"- value {p} {_vname(n)} (was {_show(v)})" for p, n, v in self.values_removed]
        lines += [f"~ value {c.path} {_vname(c.name)}: {_show(c.old)} -> {_show(c.new)}"
                  for c in self.values_changed]
        return "\n".join(lines) + ("\n" if lines else "")

    def to_reg(self) -> str:
        """A .reg (version 5) text that turns snapshot ``a`` into ``b`` when imported.

        Removed keys come first as ``[-KEY]``; then each added or changed key with its
        new values, and ``"name"=-`` for removed values. Lines end with CRLF.
        """
        from emulator.registry.regfile import HEADER_V5, format_value

        out = [HEADER_V5, "\r\n"]
        for path in self.keys_removed:
            out.append(f"\r\n[-{path}]\r\n")
        per_key: dict[str, list[str]] = {}
        for path in self.keys_added:
            per_key.setdefault(path, [])
        for path, name, (t, d) in self.values_added:
            per_key.setdefault(path, []).append(format_value(name, t, d))
        for c in self.values_changed:
            per_key.setdefault(c.path, []).append(format_value(c.name, c.new[0], c.new[1]))
        for path, name, _ in self.values_removed:
            per_key.setdefault(path, []).append(('"' + _reg_escape(name) + '"' if name else "@") + "=-")
        for path, lines in per_key.items():
            out.append(f"\r\n[{path}]\r\n")
            for line in lines:
                out.append(line + "\r\n")
        out.append("\r\n")
        return "".join(out)


def _reg_escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def _vname(name: str) -> str:
    return repr(name) if name else "(default)"


def _show(v: ValueData) -> str:
    from emulator.registry.model import TYPE_NAMES

    t, d = v
    tname = TYPE_NAMES.get(t, f"type {t:#x}")
    if t in (1, 2) and len(d) % 2 == 0:
        text = d.decode("utf-16-le", "surrogatepass")
        return f"{tname} {text.rstrip(chr(0))!r}"
    if t == 4 and len(d) == 4:
        return f"{tname} {int.from_bytes(d, 'little'):#010x}"
    if t == 11 and len(d) == 8:
        return f"{tname} {int.from_bytes(d, 'little'):#018x}"
    if t == 7 and len(d) % 2 == 0:
        parts = d.decode("utf-16-le", "surrogatepass").rstrip(chr(0)).split(chr(0))
        return f"{tname} {parts!r}"
    return f"{tname} hex:{d.hex(',')}"


def diff(a: Snapshot, b: Snapshot) -> RegistryDiff:
    """Differences from ``a`` to ``b``; subtrees shared by both are skipped in O(1).

    ``keys_added`` lists every added key (parents first) and ``values_added`` includes
    their values; ``keys_removed`` lists only the topmost removed keys (their subtrees
    and values go with them, as ``[-KEY]`` does in a .reg file).
    """
    if _prefix_key(a) != _prefix_key(b):
        raise ValueError(f"cannot diff snapshots of different trees: {a.path!r} vs {b.path!r}")
    acc = _DiffAcc()
    if a.prefix is None:
        for root in a.nodes:
            nb = b.nodes.get(root)
            if nb is not None:
                acc.pair(root, a.nodes[root], nb)
    else:
        root = next(iter(a.nodes))
        acc.pair(a.path or root, a.nodes[root], b.nodes[root])
    return RegistryDiff(
        keys_added=tuple(acc.keys_added),
        keys_removed=tuple(acc.keys_removed),
        values_added=tuple(acc.values_added),
        values_removed=tuple(acc.values_removed),
        values_changed=tuple(acc.values_changed),
    )


def _prefix_key(s: Snapshot) -> object:
    if s.prefix is None:
        return None
    return s.prefix[0], tuple(fold(n) for n in s.prefix[1])


class _DiffAcc:
    __slots__ = ("keys_added", "keys_removed", "values_added", "values_changed", "values_removed")

    def __init__(self) -> None:
        self.keys_added: list[str] = []
        self.keys_removed: list[str] = []
        self.values_added: list[tuple[str, str, ValueData]] = []
        self.values_removed: list[tuple[str, str, ValueData]] = []
        self.values_changed: list[ValueChange] = []

    def pair(self, path: str, na: Node, nb: Node) -> None:
        if na is nb:
            return
        if na.values is not nb.values:
            for f, (name, t, d) in na.values.items():
                e = nb.values.get(f)
                if e is None:
                    self.values_removed.append((path, name, (t, d)))
                elif e[1] != t or e[2] != d:
                    self.values_changed.append(ValueChange(path, name, (t, d), (e[1], e[2])))
            for f, (name, t, d) in nb.values.items():
                if f not in na.values:
                    self.values_added.append((path, name, (t, d)))
        if na.subkeys is nb.subkeys:
            return
        sa, sb = na.subkeys, nb.subkeys
        changed = [f for f, ca in sa.items() if sb.get(f) is not ca]  # keys are folded names
        added = [f for f in sb if f not in sa]
        if len(changed) > 1:
            changed.sort(key=order_key)
        for f in changed:
            cb = sb.get(f)
            if cb is None:
                self.keys_removed.append(path + "\\" + sa[f].name)
            else:
                self.pair(path + "\\" + sa[f].name, sa[f], cb)
        if len(added) > 1:
            added.sort(key=order_key)
        for f in added:
            self.added(path + "\\" + sb[f].name, sb[f])

    def added(self, path: str, node: Node) -> None:
        self.keys_added.append(path)
        for name, t, d in node.values.values():
            self.values_added.append((path, name, (t, d)))
        for name in node.subkey_names():
            self.added(path + "\\" + name, node.subkeys[fold(name)])
