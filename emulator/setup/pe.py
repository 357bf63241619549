"""Just enough PE header parsing to tell a DLL's machine (R08): no pefile needed."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

MACHINE_I386: Final = 0x014C
MACHINE_AMD64: Final = 0x8664
MACHINE_NAMES: Final = {MACHINE_I386: "x86 (I386)", MACHINE_AMD64: "x64 (AMD64)",
                        0xAA64: "ARM64", 0x01C4: "ARMNT", 0x0200: "IA64"}


@dataclass(frozen=True)
class PeHeader:
    """Machine, optional-header magic (0x10b PE32, 0x20b PE32+) and whether it is a DLL."""

    machine: int
    magic: int
    is_dll: bool

    @property
    def machine_name(self) -> str:
        """Readable machine name."""
        return MACHINE_NAMES.get(self.machine, f"machine {self.machine:#06x}")

    @property
    def bits(self) -> int | None:
        """32 for I386, 64 for AMD64, None for other machines."""
        return {MACHINE_I386: 32, MACHINE_AMD64: 64}.get(self.machine)


def pe_header(data: bytes) -> PeHeader | None:
    """Parse the DOS stub pointer, PE signature and COFF header; None when not a PE image."""
    if len(data) < 0x40 or data[:2] != b"MZ":
        return None
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    if lfanew + 24 + 2 > len(data) or data[lfanew:lfanew + 4] != b"PE\0\0":
        return None
    machine, _nsect, _ts, _sym, _nsym, opt_size, chars = struct.unpack_from("<HHIIIHH", data,
                                                                            lfanew + 4)
    magic = struct.unpack_from("<H", data, lfanew + 24)[0] if opt_size >= 2 else 0
    return PeHeader(machine, magic, bool(chars & 0x2000))


def placeholder_dll(bits: int) -> bytes:
    """A header-only PE DLL image of the given bitness (not loadable; for other vendors' files)."""
    lfanew = 0x40
    opt_size = 0xF0 if bits == 64 else 0xE0
    head = bytearray(lfanew)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, lfanew)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", MACHINE_AMD64 if bits == 64 else MACHINE_I386,
                       0, 0, 0, 0, opt_size, 0x2022 if bits == 64 else 0x2102)
    opt = bytearray(opt_size)
    struct.pack_into("<H", opt, 0, 0x20B if bits == 64 else 0x10B)
    return bytes(head) + coff + bytes(opt)
