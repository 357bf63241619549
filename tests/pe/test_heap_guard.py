"""The emulated heap's guard bytes: overruns are heap corruption at free/resize time (R76)."""

from __future__ import annotations

import pytest
from unicorn import UC_ARCH_X86, UC_MODE_32, Uc

from emulator.loaders.pe.heap import GUARD_BYTE, Heap, HeapCorruption
from emulator.loaders.pe.memory import Memory


@pytest.fixture
def heap() -> Heap:
    mem = Memory(Uc(UC_ARCH_X86, UC_MODE_32))
    return Heap(mem, mem.map("heap", 0x02000000, 0x100000))


def test_in_bounds_use_is_fine_and_blocks_do_not_touch(heap: Heap) -> None:
    a = heap.alloc(10, heap=0, site=0x1000, api="HeapAlloc")
    b = heap.alloc(10, heap=0, site=0x1000, api="HeapAlloc")
    assert b - a >= 16 + 16  # capacity plus guard
    heap.mem.write(a, b"x" * 10)
    assert heap.mem.read(a + 10, 1) == bytes([GUARD_BYTE])
    assert heap.free(a) and heap.free(b)


def test_overrun_by_one_byte_is_caught_at_free(heap: Heap) -> None:
    a = heap.alloc(10, heap=0, site=0x1234, api="kernel32.dll!HeapAlloc")
    heap.mem.write(a, b"y" * 11)
    with pytest.raises(HeapCorruption) as info:
        heap.free(a)
    d = info.value.detail
    assert d["rule"] == "R76" and d["block_size"] == 10 and d["overrun_offset"] == 10
    assert d["alloc_site"] == 0x1234 and "kernel32.dll!HeapAlloc" in info.value.message


def test_resize_in_place_keeps_contents_and_moves_the_guard(heap: Heap) -> None:
    a = heap.alloc(4, heap=0, site=1, api="malloc", zero=False)
    heap.mem.write(a, b"abcd")
    assert heap.realloc(a, 12, heap=0, site=1, api="realloc") == a  # fits the 16-byte capacity
    assert heap.mem.read(a, 12) == b"abcd" + bytes(8)
    heap.mem.write(a, b"z" * 12)
    assert heap.realloc(a, 2, heap=0, site=1, api="realloc") == a
    heap.mem.write(a + 2, b"!")  # past the new, smaller size
    with pytest.raises(HeapCorruption):
        heap.free(a)


def test_double_free_and_foreign_pointers_are_described(heap: Heap) -> None:
    a = heap.alloc(8, heap=0, site=1, api="HeapAlloc")
    assert heap.free(a) and not heap.free(a)
    msg, detail = heap.bad_free("HeapFree", a)
    assert "double free" in msg and detail == {"rule": "R76", "address": a, "double_free": True}
    assert "into or between blocks" in heap.bad_free("HeapFree", a + 4)[0]
    assert "not a heap pointer" in heap.bad_free("free", 0x1234)[0]
    assert heap.alloc(8, heap=0, site=1, api="HeapAlloc") == a  # reused: no longer "freed"
    assert "double free" not in heap.bad_free("HeapFree", a)[0]
