"""Guest memory backed by host buffers (anonymous ``mmap``, mapped with ``mem_map_ptr``), so
Python reads cost ~0.1 µs.

Host writes into executable pages go through ``uc.mem_write`` so unicorn drops stale
translated code (notes pitfall 2); everything else is a plain slice assignment.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from bisect import bisect_right
from typing import Any

from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE

PAGE = 0x1000

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class GuestMemoryError(Exception):
    """A host-side access to guest memory that is not mapped (the guest passed a bad pointer)."""

    def __init__(self, address: int, size: int, write: bool) -> None:
        self.address = address
        self.size = size
        self.write = write
        super().__init__(
            f"{'write' if write else 'read'} of {size} bytes at 0x{address:x} (unmapped)"
        )


def page_up(n: int) -> int:
    """``n`` rounded up to a whole page."""
    return (n + PAGE - 1) & ~(PAGE - 1)


class Region:
    """One mapped range and its host buffer."""

    __slots__ = ("_keep", "base", "buf", "code", "end", "name", "perms")

    def __init__(self, name: str, base: int, size: int, perms: int) -> None:
        self.name = name
        self.base = base
        self.end = base + size
        # anonymous mmap: zeroed, committed lazily (a 16 MiB heap costs only the pages used)
        self.buf = mmap.mmap(-1, size)
        self.perms = perms
        #: (start, end) absolute ranges holding code: host writes there go through unicorn
        self.code: list[tuple[int, int]] = []
        self._keep: Any = (ctypes.c_char * size).from_buffer(self.buf)

    @property
    def address(self) -> int:
        """Host address of the buffer."""
        return ctypes.addressof(self._keep)


class Memory:
    """All guest memory of one emulator instance."""

    def __init__(self, uc: Any) -> None:
        self.uc = uc
        self.regions: list[Region] = []
        self._bases: list[int] = []
        self._last: Region | None = None

    # -- mapping -------------------------------------------------------------------
    def map(
        self, name: str, base: int, size: int, perms: int = UC_PROT_READ | UC_PROT_WRITE
    ) -> Region:
        """Map ``size`` bytes (page-rounded) at ``base`` with a host buffer."""
        size = page_up(size)
        r = Region(name, base, size, perms)
        self.uc.mem_map_ptr(base, size, perms, r.address)
        i = bisect_right(self._bases, base)
        self.regions.insert(i, r)
        self._bases.insert(i, base)
        return r

    def unmap(self, region: Region) -> None:
        """Remove a region (VirtualFree)."""
        self.uc.mem_unmap(region.base, region.end - region.base)
        i = self.regions.index(region)
        del self.regions[i]
        del self._bases[i]
        self._last = None

    def find_free(self, start: int, size: int, limit: int) -> int:
        """Lowest page-aligned address >= ``start`` where ``size`` bytes fit below ``limit``."""
        addr = start
        for r in self.regions:
            if r.end <= addr:
                continue
            if r.base >= addr + size:
                break
            addr = page_up(r.end)
        if addr + size > limit:
            raise MemoryError("guest address space exhausted")
        return addr

    def region_at(self, addr: int) -> Region | None:
        """The region containing ``addr``."""
        r = self._last
        if r is not None and r.base <= addr < r.end:
            return r
        i = bisect_right(self._bases, addr) - 1
        if i >= 0:
            r = self.regions[i]
            if addr < r.end:
                self._last = r
                return r
        return None

    def protect(self, addr: int, size: int, perms: int) -> None:
        """Change page protections (VirtualProtect, section protections)."""
        self.uc.mem_protect(addr & ~(PAGE - 1), page_up(size + (addr & (PAGE - 1))), perms)

    # -- access --------------------------------------------------------------------
    def _span(self, addr: int, size: int, write: bool) -> tuple[Region, int]:
        r = self._last
        if r is None or not (r.base <= addr and addr + size <= r.end):
            r = self.region_at(addr)
            if r is None or addr + size > r.end:
                raise GuestMemoryError(addr, size, write)
        return r, addr - r.base

    def read(self, addr: int, size: int) -> bytes:
        """``size`` bytes at ``addr``."""
        r, off = self._span(addr, size, False)
        return bytes(r.buf[off : off + size])

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` at ``addr`` (through unicorn when it overlaps code)."""
        n = len(data)
        r, off = self._span(addr, n, True)
        if r.code:
            for lo, hi in r.code:
                if addr < hi and addr + n > lo:
                    self.uc.mem_write(addr, bytes(data))
                    return
        r.buf[off : off + n] = data

    def u8(self, addr: int) -> int:
        """Byte at ``addr``."""
        r, off = self._span(addr, 1, False)
        return r.buf[off]

    def u16(self, addr: int) -> int:
        """Little-endian WORD at ``addr``."""
        r, off = self._span(addr, 2, False)
        return int(_U16.unpack_from(r.buf, off)[0])

    def u32(self, addr: int) -> int:
        """Little-endian DWORD at ``addr``."""
        r = self._last
        if r is not None and r.base <= addr and addr + 4 <= r.end:
            return int(_U32.unpack_from(r.buf, addr - r.base)[0])
        r, off = self._span(addr, 4, False)
        return int(_U32.unpack_from(r.buf, off)[0])

    def u64(self, addr: int) -> int:
        """Little-endian QWORD at ``addr``."""
        r = self._last
        if r is not None and r.base <= addr and addr + 8 <= r.end:
            return int(_U64.unpack_from(r.buf, addr - r.base)[0])
        r, off = self._span(addr, 8, False)
        return int(_U64.unpack_from(r.buf, off)[0])

    def w32(self, addr: int, value: int) -> None:
        """Store a DWORD."""
        r = self._last
        if r is not None and not r.code and r.base <= addr and addr + 4 <= r.end:
            _U32.pack_into(r.buf, addr - r.base, value & 0xFFFFFFFF)
            return
        self.write(addr, _U32.pack(value & 0xFFFFFFFF))

    def w64(self, addr: int, value: int) -> None:
        """Store a QWORD."""
        r = self._last
        if r is not None and not r.code and r.base <= addr and addr + 8 <= r.end:
            _U64.pack_into(r.buf, addr - r.base, value & 0xFFFFFFFFFFFFFFFF)
            return
        self.write(addr, _U64.pack(value & 0xFFFFFFFFFFFFFFFF))

    def fill(self, addr: int, size: int, byte: int = 0) -> None:
        """Set ``size`` bytes to ``byte``."""
        self.write(addr, bytes([byte]) * size)

    def cstr(self, addr: int, limit: int = 1 << 20) -> bytes:
        """The NUL-terminated byte string at ``addr`` (without the NUL)."""
        r, off = self._span(addr, 1, False)
        end = r.buf.find(b"\0", off, min(len(r.buf), off + limit))
        if end < 0:
            if off + limit <= len(r.buf):
                return bytes(r.buf[off : off + limit])
            raise GuestMemoryError(r.end, 1, False)
        return bytes(r.buf[off:end])

    def wstr_bytes(self, addr: int, limit: int = 1 << 20) -> bytes:
        """The NUL-terminated UTF-16LE string at ``addr`` as raw bytes (without the NUL)."""
        r, off = self._span(addr, 2, False)
        buf = r.buf
        end = off
        stop = min(len(buf) - 1, off + 2 * limit)
        while True:
            end = buf.find(b"\0\0", end, stop + 1)
            if end < 0:
                if off + 2 * limit <= len(buf):
                    return bytes(buf[off : off + 2 * limit])
                raise GuestMemoryError(r.end, 2, False)
            if (end - off) % 2 == 0:
                return bytes(buf[off:end])
            end += 1

    def wstr(self, addr: int, limit: int = 1 << 20) -> str:
        """The NUL-terminated UTF-16LE string at ``addr``."""
        return self.wstr_bytes(addr, limit).decode("utf-16-le", "surrogatepass")


def perms_of(readable: bool, writable: bool, executable: bool) -> int:
    """Unicorn protection bits for section flags (anything mapped is at least readable)."""
    p = UC_PROT_READ
    if writable:
        p |= UC_PROT_WRITE
    if executable:
        p |= UC_PROT_EXEC
    return p
