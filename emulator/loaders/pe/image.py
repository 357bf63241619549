"""Parse a PE file into the facts the loader and ``rasemu inspect`` need (pefile, fast path).

Only the import, export, base-relocation, TLS and delay-import directories are parsed
(a full pefile parse is 3-4x slower, notes pitfall 13).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import pefile

from emulator.errors import LoadError

PeMachine = Literal["x86", "x64"]

MACHINE_I386 = 0x14C
MACHINE_AMD64 = 0x8664
_IMAGE_FILE_DLL = 0x2000
_SCN_EXEC = 0x20000000
_SCN_READ = 0x40000000
_SCN_WRITE = 0x80000000
#: the largest SizeOfImage accepted (admin DLLs are well under 1 MiB); refused before any mapping
MAX_IMAGE_SIZE = 256 << 20

_DIRS = (
    "IMAGE_DIRECTORY_ENTRY_IMPORT",
    "IMAGE_DIRECTORY_ENTRY_EXPORT",
    "IMAGE_DIRECTORY_ENTRY_BASERELOC",
    "IMAGE_DIRECTORY_ENTRY_TLS",
    "IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT",
)


@dataclass(frozen=True, slots=True)
class Section:
    """One section: name, RVA, mapped size, raw bytes and r/w/x protection."""

    name: str
    rva: int
    vsize: int
    data: bytes
    readable: bool
    writable: bool
    executable: bool


@dataclass(frozen=True, slots=True)
class Export:
    """One export: name (None for ordinal-only), ordinal, RVA (0 when forwarded), forwarder."""

    name: str | None
    ordinal: int
    rva: int
    forwarder: str | None = None


@dataclass(frozen=True, slots=True)
class Import:
    """One imported symbol: DLL (as written), name or ordinal, the IAT slot RVA, delay-loaded?"""

    dll: str
    name: str | None
    ordinal: int | None
    iat_rva: int
    delayed: bool = False

    @property
    def label(self) -> str:
        """``dll!name`` or ``dll!#ordinal``, the DLL part lower-case."""
        sym = self.name if self.name is not None else f"#{self.ordinal}"
        return f"{self.dll.lower()}!{sym}"


@dataclass(frozen=True, slots=True)
class Tls:
    """The TLS directory (all as RVAs): template range, index slot, callback array, zero fill."""

    start_rva: int
    end_rva: int
    index_rva: int
    callbacks_rva: int
    zero_fill: int
    callbacks: tuple[int, ...]  # callback RVAs


@dataclass(slots=True)
class PeImage:
    """A parsed PE32/PE32+ image."""

    path: str
    machine: PeMachine
    is_dll: bool
    image_base: int
    size_of_image: int
    size_of_headers: int
    entry_rva: int
    headers: bytes
    sections: list[Section] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    export_dll_name: str = ""
    imports: list[Import] = field(default_factory=list)
    relocations: list[tuple[int, int]] = field(default_factory=list)  # (rva, type)
    tls: Tls | None = None
    has_bound_imports: bool = False

    @property
    def bits(self) -> int:
        """32 or 64."""
        return 64 if self.machine == "x64" else 32

    @property
    def ptr_size(self) -> int:
        """4 or 8."""
        return 8 if self.machine == "x64" else 4

    def export_map(self) -> dict[str, Export]:
        """Named exports by exact name."""
        return {e.name: e for e in self.exports if e.name is not None}


_RELOC_WIDTH = {1: 2, 2: 2, 3: 4, 10: 8}  # HIGH, LOW, HIGHLOW, DIR64


def _sym(name: bytes | None, ordinal: int | None) -> str:
    return name.decode("latin-1") if name else f"#{ordinal}"


def _page_up(n: int) -> int:
    return (n + 0xFFF) & ~0xFFF


def parse_pe(path: str | os.PathLike[str], data: bytes | None = None) -> PeImage:
    """Parse ``path`` (or ``data``); raise :class:`LoadError` naming the file if it is not a PE image."""
    where = os.fspath(path)
    if data is None:
        try:
            with open(where, "rb") as fh:
                data = fh.read()
        except IsADirectoryError:
            raise LoadError("is a directory, expected a PE DLL file", where=where) from None
        except FileNotFoundError:
            raise LoadError("no such file, expected a PE DLL file", where=where) from None
        except OSError as exc:
            raise LoadError(f"cannot read: {exc.strerror}", where=where) from None
    if data[:2] != b"MZ":
        raise LoadError("not a PE image (no MZ header); expected a Windows DLL", where=where)
    try:
        pe = pefile.PE(data=data, fast_load=True)
        pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY[d] for d in _DIRS])
    except pefile.PEFormatError as exc:
        raise LoadError(
            f"not a valid PE image ({exc.value}); expected a Windows DLL", where=where
        ) from None
    except Exception as exc:  # pefile raises assorted errors on truncated/corrupt input
        raise LoadError(f"corrupt PE image ({exc}); expected a Windows DLL", where=where) from None
    # no pe.close(): we passed bytes (nothing to unmap) and close() runs a full gc.collect()
    return _build(pe, where, data)


def _build(pe: pefile.PE, where: str, data: bytes) -> PeImage:
    fh = pe.FILE_HEADER
    oh = pe.OPTIONAL_HEADER
    if fh.Machine == MACHINE_I386 and oh.Magic == 0x10B:
        machine: PeMachine = "x86"
    elif fh.Machine == MACHINE_AMD64 and oh.Magic == 0x20B:
        machine = "x64"
    else:
        raise LoadError(
            f"unsupported PE machine 0x{fh.Machine:04x} (optional header magic 0x{oh.Magic:x}); "
            "expected x86 (PE32) or x64 (PE32+)",
            where=where,
        )
    base = int(oh.ImageBase)
    size = int(oh.SizeOfImage)
    if not 0 < size <= MAX_IMAGE_SIZE:
        raise LoadError(
            f"SizeOfImage 0x{size:x} is outside 1..0x{MAX_IMAGE_SIZE:x} "
            f"({MAX_IMAGE_SIZE >> 20} MiB); the PE header is corrupt",
            where=where,
        )
    if base & 0xFFFF or base + size > (1 << (64 if machine == "x64" else 32)):
        raise LoadError(
            f"ImageBase 0x{base:x} is not a multiple of 64 KiB or the image does not fit the "
            f"{'64' if machine == 'x64' else '32'}-bit address space; the PE header is corrupt",
            where=where,
        )
    if int(oh.SizeOfHeaders) > size:
        raise LoadError(
            f"SizeOfHeaders 0x{int(oh.SizeOfHeaders):x} exceeds SizeOfImage 0x{size:x}; "
            "the PE header is corrupt",
            where=where,
        )
    img = PeImage(
        path=where,
        machine=machine,
        is_dll=bool(fh.Characteristics & _IMAGE_FILE_DLL),
        image_base=base,
        size_of_image=size,
        size_of_headers=int(oh.SizeOfHeaders),
        entry_rva=int(oh.AddressOfEntryPoint),
        headers=bytes(data[: min(int(oh.SizeOfHeaders), len(data))]),
    )
    for s in pe.sections:
        raw = s.get_data() or b""
        vsize = int(s.Misc_VirtualSize) or len(raw)
        ch = int(s.Characteristics)
        rva = int(s.VirtualAddress)
        if rva + vsize > _page_up(size):
            label = s.Name.rstrip(b"\0").decode("latin-1")
            raise LoadError(
                f"section {label!r} (RVA 0x{rva:x}, size 0x{vsize:x}) lies outside the image "
                f"(SizeOfImage 0x{size:x}); the section table is corrupt",
                where=where,
            )
        img.sections.append(
            Section(
                name=s.Name.rstrip(b"\0").decode("latin-1"),
                rva=rva,
                vsize=vsize,
                data=raw[: max(vsize, 0)] if vsize else raw,
                readable=bool(ch & _SCN_READ),
                writable=bool(ch & _SCN_WRITE),
                executable=bool(ch & _SCN_EXEC),
            )
        )
    exp = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    if exp is not None:
        name = exp.name
        img.export_dll_name = name.decode("latin-1") if isinstance(name, bytes) else ""
        for sym in exp.symbols:
            if sym.address is None and not sym.forwarder:
                raise LoadError(
                    f"export {_sym(sym.name, sym.ordinal)} has no valid address (its "
                    "AddressOfFunctions entry is unreadable); the export directory is corrupt",
                    where=where,
                )
            img.exports.append(
                Export(
                    name=sym.name.decode("latin-1") if sym.name else None,
                    ordinal=int(sym.ordinal),
                    rva=0 if sym.forwarder else int(sym.address),
                    forwarder=sym.forwarder.decode("latin-1") if sym.forwarder else None,
                )
            )
    for attr, delayed in (
        ("DIRECTORY_ENTRY_IMPORT", False),
        ("DIRECTORY_ENTRY_DELAY_IMPORT", True),
    ):
        for entry in getattr(pe, attr, None) or ():
            dll = entry.dll.decode("latin-1") if entry.dll else "?"
            for imp in entry.imports:
                iat_rva = int(imp.address) - base
                if not 0 <= iat_rva <= size - (8 if machine == "x64" else 4):
                    raise LoadError(
                        f"the import address table slot of {dll}!{_sym(imp.name, imp.ordinal)} "
                        f"(RVA 0x{iat_rva & 0xFFFFFFFFFFFFFFFF:x}) lies outside the image "
                        f"(SizeOfImage 0x{size:x}); the import directory is corrupt",
                        where=where,
                    )
                by_ord = bool(imp.import_by_ordinal) or imp.name is None
                img.imports.append(
                    Import(
                        dll=dll,
                        name=None if by_ord else imp.name.decode("latin-1"),
                        ordinal=int(imp.ordinal) if by_ord and imp.ordinal is not None else None,
                        iat_rva=iat_rva,
                        delayed=delayed,
                    )
                )
    for block in getattr(pe, "DIRECTORY_ENTRY_BASERELOC", None) or ():
        for ent in block.entries:
            if ent.type:  # type 0 is padding
                rva = int(ent.rva)
                if rva + _RELOC_WIDTH.get(int(ent.type), 8) > size:
                    raise LoadError(
                        f"base relocation at RVA 0x{rva:x} lies outside the image "
                        f"(SizeOfImage 0x{size:x}); the relocation table is corrupt",
                        where=where,
                    )
                img.relocations.append((rva, int(ent.type)))
    tls = getattr(pe, "DIRECTORY_ENTRY_TLS", None)
    if tls is not None:
        t = tls.struct
        cb_rva = int(t.AddressOfCallBacks) - base if t.AddressOfCallBacks else 0
        callbacks: list[int] = []
        if cb_rva:
            ps = img.ptr_size
            for i in range(1024):
                try:
                    raw = pe.get_data(cb_rva + i * ps, ps)
                except pefile.PEFormatError:
                    break
                va = int.from_bytes(raw, "little")
                if va == 0:
                    break
                callbacks.append(va - base)
        for label, va, width in (
            ("AddressOfIndex", t.AddressOfIndex, 4),
            ("StartAddressOfRawData", t.StartAddressOfRawData, 0),
            ("EndAddressOfRawData", t.EndAddressOfRawData, 0),
        ):
            if va and not 0 <= int(va) - base <= size - width:
                raise LoadError(
                    f"TLS directory {label} (VA 0x{int(va):x}) lies outside the image "
                    f"(0x{base:x}..0x{base + size:x}); the TLS directory is corrupt",
                    where=where,
                )
        if int(t.SizeOfZeroFill) > MAX_IMAGE_SIZE:
            raise LoadError(
                f"TLS SizeOfZeroFill 0x{int(t.SizeOfZeroFill):x} is larger than any image; "
                "the TLS directory is corrupt",
                where=where,
            )
        img.tls = Tls(
            start_rva=int(t.StartAddressOfRawData) - base if t.StartAddressOfRawData else 0,
            end_rva=int(t.EndAddressOfRawData) - base if t.EndAddressOfRawData else 0,
            index_rva=int(t.AddressOfIndex) - base if t.AddressOfIndex else 0,
            callbacks_rva=cb_rva,
            zero_fill=int(t.SizeOfZeroFill),
            callbacks=tuple(callbacks),
        )
    dirs = pe.OPTIONAL_HEADER.DATA_DIRECTORY  # NumberOfRvaAndSizes may leave out entry 11
    bound = dirs[11] if len(dirs) > 11 else None
    img.has_bound_imports = bool(bound is not None and bound.VirtualAddress and bound.Size)
    return img
