"""Damaged PE images (mutations of fixtures/dlls/prebuilt/good32.dll and good64.dll).

Invariant: PeLoader.load gives a loaded DLL or a LoadError with a one-line message naming the
file; never another exception, never a hang, and memory stays bounded (a 4 GB SizeOfImage is
refused before anything is mapped).
"""

from __future__ import annotations

import random
import struct
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pefile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz
from emulator.errors import LoadError
from emulator.loaders.pe import loader as loader_module
from emulator.loaders.pe.image import MAX_IMAGE_SIZE, parse_pe
from emulator.loaders.pe.loader import PeLoader

from .helpers import check

PREBUILT = Path(__file__).resolve().parents[2] / "fixtures" / "dlls" / "prebuilt"
GOOD = {bits: (PREBUILT / f"good{bits}.dll").read_bytes() for bits in (32, 64)}
Patch = Callable[[bytearray, pefile.PE], None]


def _pe(bits: int) -> pefile.PE:
    pe = pefile.PE(data=GOOD[bits], fast_load=True)
    pe.parse_data_directories()
    return pe


def _load(data: bytes, tmp_path: Path, name: str = "m.dll") -> str | None:
    """Load ``data``; None on success, else the LoadError message (any other exception fails)."""
    path = tmp_path / name
    path.write_bytes(data)
    try:
        with fuzz.time_limit(20):
            dll = PeLoader(load_timeout=0.5).load(str(path))
    except LoadError as exc:
        msg = str(exc)
        assert msg.startswith(str(path)) and "\n" not in msg, msg
        return msg
    dll.close()
    return None


def _set(buf: bytearray, structure: object, field: str, value: int, fmt: str = "<I") -> None:
    off = structure.get_field_absolute_offset(field)  # type: ignore[attr-defined]
    struct.pack_into(fmt, buf, off, value & ((1 << (8 * struct.calcsize(fmt))) - 1))


def _no_nul_names(buf: bytearray, pe: pefile.PE) -> None:
    exp = pe.DIRECTORY_ENTRY_EXPORT.struct
    sec = pe.get_section_by_rva(exp.Name)
    start = pe.get_offset_from_rva(exp.Name)
    end = sec.PointerToRawData + sec.SizeOfRawData
    buf[start:end] = b"A" * (end - start)


def _import_loop(buf: bytearray, pe: pefile.PE) -> None:
    # every import descriptor (and the terminator) becomes a copy of the first one
    first = pe.DIRECTORY_ENTRY_IMPORT[0].struct.get_file_offset()
    for i in range(1, len(pe.DIRECTORY_ENTRY_IMPORT) + 1):
        buf[first + 20 * i : first + 20 * i + 20] = buf[first : first + 20]


def _thunks_garbage(buf: bytearray, pe: pefile.PE) -> None:
    ilt = pe.get_offset_from_rva(pe.DIRECTORY_ENTRY_IMPORT[0].struct.OriginalFirstThunk)
    buf[ilt : ilt + 0x200] = b"\x41" * 0x200


def _tls_callbacks_garbage(buf: bytearray, pe: pefile.PE) -> None:
    tls = pe.DIRECTORY_ENTRY_TLS.struct
    base = pe.OPTIONAL_HEADER.ImageBase
    off = pe.get_offset_from_rva(tls.AddressOfCallBacks - base)
    width = 8 if pe.PE_TYPE == pefile.OPTIONAL_HEADER_MAGIC_PE_PLUS else 4
    buf[off : off + 4 * width] = b"\x13\x37\xc0\xde" * width


def _reloc_outside(buf: bytearray, pe: pefile.PE) -> None:
    block = pe.DIRECTORY_ENTRY_BASERELOC[0]
    _set(buf, block.entries[0].struct, "Data", 0x3FFF)  # type 0 with a large offset ...
    _set(buf, block.struct, "VirtualAddress", pe.OPTIONAL_HEADER.SizeOfImage - 0x1000)
    _set(buf, block.entries[0].struct, "Data", (3 << 12) | 0xFFF, "<H")  # HIGHLOW at the end


CASES: dict[str, Patch] = {
    "SizeOfImage 4 GB": lambda b, pe: _set(b, pe.OPTIONAL_HEADER, "SizeOfImage", 0xFFFFF000),
    "SizeOfImage 0": lambda b, pe: _set(b, pe.OPTIONAL_HEADER, "SizeOfImage", 0),
    "SizeOfHeaders huge": lambda b, pe: _set(b, pe.OPTIONAL_HEADER, "SizeOfHeaders", 0xFFFFFFFF),
    "NumberOfSections 0xFFFF": lambda b, pe: _set(b, pe.FILE_HEADER, "NumberOfSections", 0xFFFF,
                                                  "<H"),
    "NumberOfSections 0": lambda b, pe: _set(b, pe.FILE_HEADER, "NumberOfSections", 0, "<H"),
    "NumberOfRvaAndSizes 0": lambda b, pe: _set(b, pe.OPTIONAL_HEADER, "NumberOfRvaAndSizes", 0),
    "NumberOfRvaAndSizes max": lambda b, pe: _set(b, pe.OPTIONAL_HEADER, "NumberOfRvaAndSizes",
                                                  0xFFFFFFFF),
    "NumberOfNames 2^31": lambda b, pe: _set(b, pe.DIRECTORY_ENTRY_EXPORT.struct, "NumberOfNames",
                                             1 << 31),
    "NumberOfFunctions 2^31": lambda b, pe: _set(b, pe.DIRECTORY_ENTRY_EXPORT.struct,
                                                 "NumberOfFunctions", 1 << 31),
    "AddressOfNames outside": lambda b, pe: _set(b, pe.DIRECTORY_ENTRY_EXPORT.struct,
                                                 "AddressOfNames", 0xFFFFFFF0),
    "export names without NUL": _no_nul_names,
    "section data outside the file": lambda b, pe: _set(b, pe.sections[0], "PointerToRawData",
                                                        0x7FFFFFF0),
    "section raw size huge": lambda b, pe: _set(b, pe.sections[0], "SizeOfRawData", 0xFFFFFFF0),
    "section RVA outside the image": lambda b, pe: _set(b, pe.sections[0], "VirtualAddress",
                                                        0xFFFFF000),
    "section virtual size huge": lambda b, pe: _set(b, pe.sections[0], "Misc_VirtualSize",
                                                    0xFFFFFFF0),
    "import descriptors loop": _import_loop,
    "import thunks garbage": _thunks_garbage,
    "import directory size huge": lambda b, pe: _set(
        b, pe.OPTIONAL_HEADER.DATA_DIRECTORY[1], "Size", 0xFFFFFFFF),
    "import directory in the headers": lambda b, pe: _set(
        b, pe.OPTIONAL_HEADER.DATA_DIRECTORY[1], "VirtualAddress", 0x10),
    "relocation outside the image": _reloc_outside,
    "TLS callbacks garbage": _tls_callbacks_garbage,
    "TLS index outside": lambda b, pe: _set(b, pe.DIRECTORY_ENTRY_TLS.struct, "AddressOfIndex",
                                            0xFFFFFFF0, "<Q" if pe.PE_TYPE == 0x20B else "<I"),
    "TLS zero fill 4 GB": lambda b, pe: _set(b, pe.DIRECTORY_ENTRY_TLS.struct, "SizeOfZeroFill",
                                             0xFFFFFFFF),
    "entry point garbage": lambda b, pe: _set(b, pe.OPTIONAL_HEADER, "AddressOfEntryPoint",
                                              0xFFFFFFF0),
    "ImageBase 0": lambda b, pe: _set(b, pe.OPTIONAL_HEADER, "ImageBase", 0,
                                      "<Q" if pe.PE_TYPE == 0x20B else "<I"),
    "e_lfanew outside": lambda b, pe: _set(b, pe.DOS_HEADER, "e_lfanew", 0x7FFFFFFF),
    "machine unknown": lambda b, pe: _set(b, pe.FILE_HEADER, "Machine", 0x1234, "<H"),
}


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_targeted_damage(case: str, bits: int, tmp_path: Path) -> None:
    buf = bytearray(GOOD[bits])
    CASES[case](buf, _pe(bits))
    t0 = time.perf_counter()
    _load(bytes(buf), tmp_path)
    assert time.perf_counter() - t0 < 15


@pytest.mark.parametrize("bits", [32, 64])
def test_huge_size_of_image_is_refused_before_mapping(
    bits: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = bytearray(GOOD[bits])
    CASES["SizeOfImage 4 GB"](buf, _pe(bits))

    def no_emulator(*args: object, **kwargs: object) -> None:
        raise AssertionError("an emulator (and its memory) was created for a 4 GB image")

    monkeypatch.setattr(loader_module, "Emulator", no_emulator)
    tracemalloc.start()
    try:
        msg = _load(bytes(buf), tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert msg is not None and "SizeOfImage 0xfffff000" in msg and "corrupt" in msg
    assert peak < 8 << 20  # nothing close to the image size was allocated
    with pytest.raises(LoadError, match=f"outside 1..0x{MAX_IMAGE_SIZE:x}"):
        parse_pe("m.dll", bytes(buf))


@pytest.mark.parametrize("bits", [32, 64])
def test_sections_and_relocations_outside_the_image_are_named(bits: int, tmp_path: Path) -> None:
    buf = bytearray(GOOD[bits])
    CASES["section virtual size huge"](buf, _pe(bits))
    msg = _load(bytes(buf), tmp_path)
    assert msg is not None and "section '.text'" in msg and "outside the image" in msg
    buf = bytearray(GOOD[bits])
    CASES["relocation outside the image"](buf, _pe(bits))
    with pytest.raises(LoadError, match=r"base relocation at RVA .* outside the image"):
        parse_pe("m.dll", bytes(buf))


@pytest.mark.parametrize("bits", [32, 64])
def test_every_truncation(bits: int, tmp_path: Path) -> None:
    data = GOOD[bits]
    for n in sorted({0, 1, 2, 0x3C, 0x40, 0x80, 0x100, 0x200, 0x400, *range(0, len(data), 997)}):
        _load(data[:n], tmp_path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_mutations(seed: int, tmp_path: Path) -> None:
    fuzz._prepare(["pe"])
    check("pe", fuzz.gen_pe(random.Random(seed)), tmp_path)
