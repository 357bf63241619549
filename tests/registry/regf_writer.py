"""A minimal regf (Windows hive) writer for tests: keys, values, inline/cell data, lf lists.

Layout per the published format notes (base block "regf" 4 KiB, one "hbin", cells with a
negative size prefix, "nk" key nodes, "vk" values, "lf" subkey lists). Enough to check that
rasemu reads hive files; it writes no security cells and no big-data blocks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

NONE = 0xFFFFFFFF


@dataclass
class Key:
    name: str
    values: list[tuple[str, int, bytes]] = field(default_factory=list)
    subkeys: list[Key] = field(default_factory=list)


def _name_bytes(name: str) -> tuple[bytes, bool]:
    try:
        return name.encode("latin-1"), True
    except UnicodeEncodeError:
        return name.encode("utf-16-le"), False


class _Bin:
    def __init__(self) -> None:
        self.data = bytearray()

    def cell(self, payload: bytes) -> int:
        offset = 0x20 + len(self.data)  # offsets count from the hbin start (header is 0x20)
        size = (len(payload) + 4 + 7) & ~7
        self.data += struct.pack("<i", -size) + payload + b"\0" * (size - 4 - len(payload))
        return offset

    def reserve(self, length: int) -> int:
        return self.cell(b"\0" * length)

    def patch(self, offset: int, payload: bytes) -> None:
        start = offset - 0x20 + 4
        self.data[start : start + len(payload)] = payload


def _nk(name: str, flags: int, parent: int, n_sub: int, sub_list: int, n_val: int,
        val_list: int) -> bytes:
    raw, compressed = _name_bytes(name)
    flags |= 0x20 if compressed else 0
    return (b"nk" + struct.pack("<HQ4sIIIIIIIIIIIIII", flags, 0, b"\0" * 4, parent, n_sub, 0,
                                sub_list, NONE, n_val, val_list, NONE, NONE, 0, 0, 0, 0, 0)
            + struct.pack("<HH", len(raw), 0) + raw)


def _write_key(b: _Bin, key: Key, parent: int, root: bool) -> int:
    nk_len = len(_nk(key.name, 0, 0, 0, 0, 0, 0))
    me = b.reserve(nk_len)  # the root must be the first cell: reserve, fill in later
    value_offsets = []
    for vname, vtype, data in key.values:
        raw, compressed = _name_bytes(vname)
        if len(data) <= 4:
            size, off = len(data) | 0x80000000, struct.unpack("<I", data.ljust(4, b"\0"))[0]
        else:
            size, off = len(data), b.cell(data)
        value_offsets.append(b.cell(b"vk" + struct.pack("<HIIIHH", len(raw), size, off, vtype,
                                                         1 if compressed and vname else 0, 0) + raw))
    val_list = b.cell(struct.pack(f"<{len(value_offsets)}I", *value_offsets)) if value_offsets else NONE
    children = sorted(key.subkeys, key=lambda k: k.name.upper())
    child_offsets = [_write_key(b, child, me, False) for child in children]
    if child_offsets:
        body = b"".join(struct.pack("<I4s", off, _name_bytes(c.name)[0][:4].ljust(4, b"\0"))
                        for off, c in zip(child_offsets, children, strict=True))
        sub_list = b.cell(b"lf" + struct.pack("<H", len(child_offsets)) + body)
    else:
        sub_list = NONE
    b.patch(me, _nk(key.name, 0x2C if root else 0, parent, len(child_offsets), sub_list,
                    len(value_offsets), val_list))
    return me


def build_hive(root: Key, file_name: str = "rasemu.hiv") -> bytes:
    """Bytes of a hive file holding ``root`` and its subtree."""
    b = _Bin()
    root_offset = _write_key(b, root, NONE, True)
    size = (0x20 + len(b.data) + 4095) & ~4095
    free = size - 0x20 - len(b.data)
    if free:
        b.data += struct.pack("<i", free) + b"\0" * (free - 4)  # one unallocated cell
    hbin = b"hbin" + struct.pack("<IIIIQI", 0, size, 0, 0, 0, 0) + bytes(b.data)
    head = bytearray(4096)
    struct.pack_into("<4sIIQIIIIIII", head, 0, b"regf", 1, 1, 0, 1, 5, 0, 1, root_offset,
                     size, 1)
    name = file_name.encode("utf-16-le")[:64]
    head[48 : 48 + len(name)] = name
    checksum = 0
    for (word,) in struct.iter_unpack("<I", bytes(head[:508])):
        checksum ^= word
    struct.pack_into("<I", head, 508, checksum)
    return bytes(head) + hbin
