"""A simple guest heap: 16-byte aligned blocks in one region, size-bucketed reuse.

Every live block remembers its heap handle, size and allocation site (the return
address of the allocating import call) so leak reports (R76) can say where it came from.

Each block is followed by guard bytes (from its requested size up to the next 16-byte boundary,
plus 16 more) filled with 0xFD; freeing or resizing a block whose guard changed raises
:class:`HeapCorruption` (a write past the end of the block, as Windows' heap checks would catch).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.loaders.pe.memory import Memory, Region

_ALIGN = 16
#: guard bytes after each block's capacity
GUARD = 16
GUARD_BYTE = 0xFD


_FILL = bytes([GUARD_BYTE]) * 64


class HeapCorruption(Exception):
    """A block's guard bytes were overwritten (detected when it is freed or resized)."""

    def __init__(self, message: str, detail: dict[str, object]) -> None:
        self.message = message
        self.detail = detail
        super().__init__(message)


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
        self._freed: set[int] = set()  # freed blocks not handed out again (double-free evidence)

    def alloc(self, size: int, *, heap: int, site: int, api: str, zero: bool = True) -> int:
        """Allocate ``size`` bytes; 0 when the region is exhausted."""
        cap = max(_ALIGN, (size + _ALIGN - 1) & ~(_ALIGN - 1))
        bucket = self._free.get(cap)
        if bucket:
            addr = bucket.pop()
            self._freed.discard(addr)
        else:
            addr = self._top
            if addr + cap + GUARD > self.region.end:
                return 0
            self._top += cap + GUARD
        self._cap[addr] = cap
        self.blocks[addr] = Block(size, heap, site, api)
        off = addr - self.region.base
        buf = self.region.buf
        if zero:
            buf[off : off + size] = bytes(size)
        buf[off + size : off + cap + GUARD] = _FILL[: cap + GUARD - size]
        return addr

    def check(self, addr: int) -> None:
        """Raise HeapCorruption if the guard bytes after live block ``addr`` were overwritten."""
        b = self.blocks.get(addr)
        if b is None:
            return
        cap = self._cap[addr]
        off = addr - self.region.base
        n = cap + GUARD - b.size
        guard = self.region.buf[off + b.size : off + cap + GUARD]
        if guard == _FILL[:n]:
            return
        first = next(i for i in range(n) if guard[i] != GUARD_BYTE)
        last = max(i for i in range(n) if guard[i] != GUARD_BYTE)
        raise HeapCorruption(
            f"heap corruption: the {b.size}-byte block at 0x{addr:x} (allocated by "
            f"{b.api or 'the emulator'}) was written past its end (guard bytes from offset "
            f"{b.size + first} on changed)",
            {
                "rule": "R76",
                "block": addr,
                "block_size": b.size,
                "overrun_offset": b.size + first,
                "overrun_bytes": last - first + 1,
                "alloc_site": b.site,
                "alloc_api": b.api,
            },
        )

    def free(self, addr: int) -> bool:
        """Free a live block; False if ``addr`` is not one (double free / foreign pointer)."""
        if addr not in self.blocks:
            return False
        self.check(addr)
        del self.blocks[addr]
        cap = self._cap.pop(addr)
        self._free.setdefault(cap, []).append(addr)
        self._freed.add(addr)
        return True

    def bad_free(self, api: str, addr: int) -> tuple[str, dict[str, object]]:
        """Message and detail for freeing ``addr``, which is no live block (a double free or a
        pointer the heap never returned): heap corruption, which Windows stops the process for."""
        if addr in self._freed:
            why = "a block that was already freed (double free)"
        elif self.region.base <= addr < self.region.end:
            why = "not the start of a heap block (a pointer into or between blocks)"
        else:
            why = "not a heap pointer at all"
        return (
            f"heap corruption: {api} of 0x{addr:x}, {why}",
            {"rule": "R76", "address": addr, "double_free": addr in self._freed},
        )

    def size(self, addr: int) -> int | None:
        """Requested size of a live block."""
        b = self.blocks.get(addr)
        return None if b is None else b.size

    def realloc(self, addr: int, size: int, *, heap: int, site: int, api: str) -> int:
        """Resize (moving when needed); 0 on failure, leaving the old block alone."""
        b = self.blocks.get(addr)
        if b is None:
            return 0
        self.check(addr)
        cap = self._cap[addr]
        if size <= cap:
            off = addr - self.region.base
            if size > b.size:  # the grown part was guard bytes: the caller expects old contents
                self.region.buf[off + b.size : off + size] = bytes(size - b.size)
            b.size = size
            self.region.buf[off + size : off + cap + GUARD] = _FILL[: cap + GUARD - size]
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
