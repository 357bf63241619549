"""Seed a registry from a real Windows hive file (regf, as ``reg save`` writes it).

Parsing uses the optional ``regipy`` package (``pip install regipy``): its structures read
the base block, key nodes and subkey lists; value data is copied as raw bytes (inline data,
data cells and big-data ``db`` blocks), so types and bytes arrive unchanged, including
value types Windows does not define.

Usage: ``load_hive(registry, "SOFTWARE.hiv", r"HKLM\\SOFTWARE")`` after ``reg save
HKLM\\SOFTWARE SOFTWARE.hiv`` on a real RRAS server. Volatile subkeys are not in hive files.
"""

from __future__ import annotations

import importlib
import os
import struct
from dataclasses import dataclass
from typing import Any

from emulator.errors import InputError
from emulator.registry.model import (
    Registry,
    RegistryPathError,
    check_key_name,
    join_path,
    split_path,
)

_BASE = 4096  # hive bins start after the 4 KiB base block
_NONE = 0xFFFFFFFF
_BIG_DATA_LIMIT = 0x3FD8  # larger values are stored in "db" segments (hive format 1.4+)


@dataclass(frozen=True)
class HiveStats:
    """What :func:`load_hive` copied."""

    keys: int
    values: int


def _regipy() -> tuple[Any, Any]:
    try:
        registry_mod = importlib.import_module("regipy.registry")
        structs = importlib.import_module("regipy.structs")
    except ImportError:
        raise InputError("reading regf hive files needs the 'regipy' package: pip install regipy",
                         where="hive") from None
    return registry_mod, structs


def _name(raw: bytes, compressed: bool) -> str:
    # "Compressed" names hold one byte per character (Latin-1), others are UTF-16LE.
    return raw.decode("latin-1") if compressed else raw.decode("utf-16-le", "surrogatepass")


def load_hive(registry: Registry, path: str | os.PathLike[str], mount: str) -> HiveStats:
    """Copy every key and value of the hive file at ``path`` below ``mount`` (a registry path).

    The hive's root key becomes ``mount`` itself (created if missing). Bad input raises
    :class:`~emulator.errors.InputError` naming the file.
    """
    where = os.fspath(path)
    try:
        root_name, mount_names = split_path(mount)
    except RegistryPathError as exc:
        raise InputError(f"bad mount point: {exc.message}", where=mount) from None
    registry_mod, structs = _regipy()
    try:
        hive = registry_mod.RegistryHive(where)
    except OSError as exc:
        raise InputError(f"cannot read hive file: {exc.strerror or exc}", where=where) from None
    except Exception as exc:  # construct errors: not a regf file
        raise InputError(f"not a Windows registry hive (regf) file: {exc.__class__.__name__}",
                         where=where) from None
    stream = hive._stream
    minor = int(hive.header.minor_version)
    try:
        root = _nk_at(registry_mod, stream, int(hive.header.root_key_offset))
        keys = values = 0
        stack: list[tuple[Any, str]] = [(root, join_path(root_name, mount_names))]
        while stack:
            nk, key_path = stack.pop()
            registry.create_key(key_path, view=64)
            keys += 1
            for vname, vtype, data in _values(registry_mod, structs, stream, nk, minor):
                registry.set_value(key_path, vname, vtype, data, view=64)
                values += 1
            children = list(nk.iter_subkeys() or ())
            for child in reversed(children):
                cname = _name(bytes(child.header.key_name_string), bool(child.header.flags.KEY_COMP_NAME))
                check_key_name(cname)
                stack.append((child, key_path + "\\" + cname))
    except RegistryPathError as exc:
        raise InputError(f"hive holds a name Windows does not allow: {exc.message}", where=where) from None
    except InputError:
        raise
    except Exception as exc:  # structure errors inside the file
        raise InputError(f"corrupt hive file: {exc.__class__.__name__}: {exc}", where=where) from None
    return HiveStats(keys, values)


def _nk_at(registry_mod: Any, stream: Any, offset: int) -> Any:
    stream.seek(_BASE + offset)
    header = stream.read(6)
    if len(header) != 6 or header[4:6] != b"nk":
        raise InputError(f"no key node at hive offset {offset:#x}", where="hive")
    cell = registry_mod.Cell(cell_type="nk", offset=_BASE + offset + 6, size=0)
    return registry_mod.NKRecord(cell, stream)


def _values(registry_mod: Any, structs: Any, stream: Any, nk: Any, minor: int
            ) -> list[tuple[str, int, bytes]]:
    count = int(nk.header.values_count)
    if not count:
        return []
    stream.seek(_BASE + 4 + int(nk.header.values_list_offset))
    offsets = struct.unpack(f"<{count}I", stream.read(4 * count))
    out = []
    for off in offsets:
        stream.seek(_BASE + 4 + off)
        vk = structs.VALUE_KEY.parse_stream(stream)
        name = _name(bytes(vk.name), bool(vk.flags.VALUE_COMP_NAME)) if vk.name_size else ""
        size = int(vk.data_size)
        vtype = int(vk.data_type)
        if size & 0x80000000:  # up to 4 bytes stored in the offset field itself
            data = struct.pack("<I", int(vk.data_offset))[: size & 0x7FFFFFFF]
        elif size == 0:
            data = b""
        else:
            stream.seek(_BASE + 4 + int(vk.data_offset))
            data = stream.read(size)
            if size > _BIG_DATA_LIMIT and minor >= 4 and data[:2] == b"db":
                record = registry_mod.VKRecord(value_type=vtype, value_type_str=str(vtype),
                                               value=data, size=size)
                data = registry_mod.NKRecord._parse_indirect_block(stream, record)
        out.append((name, vtype, bytes(data)))
    return out
