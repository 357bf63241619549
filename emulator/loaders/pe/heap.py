"""A simple guest heap: 16-byte aligned blocks in one region, size-bucketed reuse.

Every live block remembers its heap handle, size and allocation site (the return
address of the allocating import call) so leak reports (R76) can say where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.loaders.pe.memory import Memory, Region

_ALIGN = 16


@dataclass(slots=True)
class Block:
    """A live allocation."""

    size: int
    heap: int
    site: int  # guest return address of the allocating call (0 = emulator-internal)
    api: str


class Heap:
    """All heaps of the emulated process share one region; ``heap`` is a tag per handle."""

    def __init__(self, mem: Memory, region: Region) -> None:
        self.mem = mem
        self.region = region
        self._top = region.base + _ALIGN  # never hand out the region base itself
        self.blocks: dict[int, Block] = {}
        self._cap: dict[int, int] = {}  # block address -> capacity (rounded size)
        self._free: dict[int, list[int]] = {}  # capacity -> addresses

    def alloc(self, size: int, *, heap: int, site: int, api: str, zero: bool = True) -> int:
        """Allocate ``size`` bytes; 0 when the region is exhausted."""
        cap = max(_ALIGN, (size + _ALIGN - 1) & ~(_ALIGN - 1))
        bucket = self._free.get(cap)
        if bucket:
            addr = bucket.pop()
        else:
            addr = self._top
            if addr + cap > self.region.end:
                return 0
            self._top += cap
        self._cap[addr] = cap
        self.blocks[addr] = Block(size, heap, site, api)
        if zero:
            off = addr - self.region.base
            self.region.buf[off : off + cap] = bytes(cap)
        return addr

    def free(self, addr: int) -> bool:
        """Free a live block; False if ``addr`` is not one (double free / foreign pointer)."""
        if self.blocks.pop(addr, None) is None:
            return False
        cap = self._cap.pop(addr)
        self._free.setdefault(cap, []).append(addr)
        return True

    def size(self, addr: int) -> int | None:
        """Requested size of a live block."""
        b = self.blocks.get(addr)
        return None if b is None else b.size

    def realloc(self, addr: int, size: int, *, heap: int, site: int, api: str) -> int:
        """Resize (moving when needed); 0 on failure, leaving the old block alone."""
        b = self.blocks.get(addr)
        if b is None:
            return 0
        cap = self._cap[addr]
        if size <= cap:
            b.size = size
            return addr
        new = self.alloc(size, heap=heap, site=site, api=api, zero=True)
        if not new:
            return 0
        self.mem.write(new, self.mem.read(addr, b.size))
        self.free(addr)
        return new

    def destroy(self, heap: int) -> None:
        """Free every block of one heap (HeapDestroy)."""
        for addr in [a for a, b in self.blocks.items() if b.heap == heap]:
            self.free(addr)

    def live(self, *, include_internal: bool = False) -> dict[int, Block]:
        """Live blocks (those the emulator made for itself excluded unless asked)."""
        if include_internal:
            return dict(self.blocks)
        return {a: b for a, b in self.blocks.items() if b.site}
