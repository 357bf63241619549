"""Run a host shared library (.so/.dylib, or a .dll on Windows) through cffi ABI mode.

Every callback of :mod:`emulator.abi.callbacks` is declared with fixed-width types only:
strings are ``uint16_t *`` (UTF-16LE + NUL, never ``wchar_t``), structures are ``void *`` to
buffers filled by :func:`emulator.abi.structs.pack` at the buffer's real address, ``DWORD`` is
``uint32_t`` and ``BOOL`` is ``int32_t``; on Windows x86 the callbacks are ``__stdcall``.

After each call the input buffers are compared with what was written (R69 ->
``modified_inputs``) and the out-parameters are read back. A crash or a hang of the library takes
the calling process with it: run native libraries through :class:`~emulator.loaders.isolated.IsolatedDll`
(the default of :func:`emulator.loaders.select.open_dll`) to survive them and to enforce timeouts.

Each load dlopens a private copy of the file (option ``private_copy``, default True), so two
loads in one process have separate globals like the two RAS processes (R36).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import cffi

from emulator.abi import structs as S
from emulator.abi.callbacks import SIGNATURES, TABLE_ONLY, TABLE_SLOTS, Signature, signature
from emulator.errors import LoadError
from emulator.loaders.base import AdminDll, Call, CallFault, CallIssue, CallResult, Loader

__all__ = [
    "NativeAdminDll",
    "NativeLoader",
    "describe_binary",
    "elf_exports",
    "host_bits",
    "macho_exports",
    "pe_exports",
]

_MASK = 0xFFFFFFFF
_IS_WINDOWS = sys.platform == "win32"


def host_bits() -> int:
    """Pointer width of this interpreter (32 or 64)."""
    return struct.calcsize("P") * 8


# ------------------------------------------------------------------------------------------
# Binary formats: what a file is, and which names it exports
# ------------------------------------------------------------------------------------------

_ELF_MACHINES = {
    3: "x86",
    62: "x86-64",
    40: "ARM",
    183: "AArch64",
    243: "RISC-V",
    21: "PowerPC64",
    22: "S/390",
    8: "MIPS",
}
_HOST_ELF_MACHINE = {
    "x86_64": 62,
    "amd64": 62,
    "i386": 3,
    "i686": 3,
    "x86": 3,
    "aarch64": 183,
    "arm64": 183,
    "armv7l": 40,
    "riscv64": 243,
    "ppc64le": 21,
    "ppc64": 21,
    "s390x": 22,
}
_MACHO_CPU = {0x01000007: "x86-64", 7: "x86", 0x0100000C: "arm64", 12: "ARM"}
_HOST_MACHO_CPU = {"x86_64": 0x01000007, "arm64": 0x0100000C, "i386": 7}
_PE_MACHINES = {0x14C: "x86", 0x8664: "x64", 0xAA64: "ARM64", 0x1C4: "ARM"}
_HOST_PE_MACHINE = {"amd64": 0x8664, "x86_64": 0x8664, "x86": 0x14C, "arm64": 0xAA64}


def describe_binary(head: bytes) -> str:
    """A short description of a file's format from its first bytes (for error messages)."""
    if head.startswith(b"\x7fELF") and len(head) >= 20:
        cls = {1: "32-bit", 2: "64-bit"}.get(head[4], "?-bit")
        endian = "<" if head[5] == 1 else ">"
        etype, machine = struct.unpack_from(endian + "HH", head, 16)
        kind = {1: "relocatable object", 2: "executable", 3: "shared object", 4: "core"}.get(
            etype, f"type {etype}"
        )
        return f"ELF {cls} {_ELF_MACHINES.get(machine, f'machine {machine}')} {kind}"
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe") and len(head) >= 16:
        cpu, _sub, ftype = struct.unpack_from("<iII", head, 4)
        kind = {6: "dylib", 8: "bundle", 2: "executable"}.get(ftype, f"filetype {ftype}")
        return f"Mach-O {_MACHO_CPU.get(cpu & 0xFFFFFFFF, hex(cpu))} {kind}"
    if head[:4] in (b"\xca\xfe\xba\xbe", b"\xbe\xba\xfe\xca"):
        return "Mach-O universal binary"
    if head.startswith(b"MZ"):
        return "PE/MZ image (a Windows DLL)"
    if not head:
        return "an empty file"
    return f"unknown format (first bytes {head[:16].hex(' ')})"


def _is_exported_elf(info: int, other: int, shndx: int) -> bool:
    bind, typ = info >> 4, info & 0xF
    return shndx != 0 and bind in (1, 2, 10) and typ in (0, 1, 2, 10) and (other & 3) in (0, 3)


def elf_exports(data: bytes) -> list[str]:
    """Defined global symbols of an ELF file's ``.dynsym`` (what dlsym can find)."""
    if not data.startswith(b"\x7fELF"):
        raise ValueError("not an ELF file")
    is64 = data[4] == 2
    e = "<" if data[5] == 1 else ">"
    if is64:
        (shoff,) = struct.unpack_from(e + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(e + "HH", data, 0x3A)
    else:
        (shoff,) = struct.unpack_from(e + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(e + "HH", data, 0x2E)
    if shoff == 0 or shnum == 0:
        raise ValueError("ELF file has no section headers")
    sections = []
    for i in range(shnum):
        off = shoff + i * shentsize
        if is64:
            _n, typ, _f, _a, s_off, s_size, link, _i, _al, entsize = struct.unpack_from(
                e + "IIQQQQIIQQ", data, off
            )
        else:
            _n, typ, _f, _a, s_off, s_size, link, _i, _al, entsize = struct.unpack_from(
                e + "IIIIIIIIII", data, off
            )
        sections.append((typ, s_off, s_size, link, entsize))
    names: list[str] = []
    for typ, s_off, s_size, link, entsize in sections:
        if typ != 11:  # SHT_DYNSYM
            continue
        _st, str_off, str_size, _l, _e = sections[link]
        strtab = data[str_off : str_off + str_size]
        entsize = entsize or (24 if is64 else 16)
        for k in range(1, s_size // entsize):
            so = s_off + k * entsize
            if is64:
                name_off, info, other, shndx = struct.unpack_from(e + "IBBH", data, so)
            else:
                (name_off,) = struct.unpack_from(e + "I", data, so)
                info, other, shndx = struct.unpack_from(e + "BBH", data, so + 12)
            if not _is_exported_elf(info, other, shndx):
                continue
            end = strtab.find(b"\0", name_off)
            names.append(strtab[name_off:end].decode("utf-8", "replace"))
    return names


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def macho_trie_names(trie: bytes) -> list[str]:
    """Symbol names of a Mach-O export trie (dyld's compressed export table)."""
    out: list[str] = []
    stack = [(0, b"")]
    seen: set[int] = set()
    while stack:
        node, prefix = stack.pop()
        if node in seen or node >= len(trie):
            continue
        seen.add(node)
        size, pos = _uleb(trie, node)
        if size:
            out.append(prefix.decode("utf-8", "replace"))
        pos += size
        count = trie[pos]
        pos += 1
        for _ in range(count):
            end = trie.index(b"\0", pos)
            edge = trie[pos:end]
            child, pos = _uleb(trie, end + 1)
            stack.append((child, prefix + edge))
    return out


def _macho_slice(data: bytes) -> bytes:
    if data[:4] == b"\xca\xfe\xba\xbe":  # universal (fat) binary, big-endian header
        want = _HOST_MACHO_CPU.get(platform.machine().lower())
        (n,) = struct.unpack_from(">I", data, 4)
        for i in range(n):
            cpu, _sub, off, size, _align = struct.unpack_from(">iiIII", data, 8 + 20 * i)
            if want is None or cpu & 0xFFFFFFFF == want:
                return data[off : off + size]
        raise ValueError("universal binary has no slice for this machine")
    return data


def macho_exports(data: bytes) -> list[str]:
    """Exported C names (leading underscore removed) of a Mach-O dylib or bundle."""
    data = _macho_slice(data)
    magic = data[:4]
    if magic not in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe"):
        raise ValueError("not a Mach-O file")
    is64 = magic == b"\xcf\xfa\xed\xfe"
    (ncmds,) = struct.unpack_from("<I", data, 16)
    pos = 32 if is64 else 28
    trie = b""
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, pos)
        if cmd in (0x22, 0x80000022):  # LC_DYLD_INFO(_ONLY): export_off/size at +40
            off, sz = struct.unpack_from("<II", data, pos + 40)
            trie = data[off : off + sz]
        elif cmd == 0x80000033:  # LC_DYLD_EXPORTS_TRIE
            off, sz = struct.unpack_from("<II", data, pos + 8)
            trie = data[off : off + sz]
        pos += size
    names = macho_trie_names(trie) if trie else []
    return [n[1:] if n.startswith("_") else n for n in names]


def pe_exports(path: str) -> list[str]:
    """Export names of a PE image (pefile)."""
    import pefile

    try:
        pe = pefile.PE(path, fast_load=True)
    except pefile.PEFormatError as exc:
        raise ValueError(str(exc)) from None
    try:
        pe.parse_data_directories(
            directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]]
        )
        exp = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
        if exp is None:
            return []
        return [s.name.decode("ascii", "replace") for s in exp.symbols if s.name]
    finally:
        pe.close()


def _check_elf_layout(path: str, what: str, data: bytes, is64: bool, e: str) -> None:
    """LoadError unless the program headers and loaded segments lie inside the file.

    The system loader maps segments without checking the file size, so a truncated library
    kills the process with SIGBUS inside dlopen; this refuses it with a message instead.
    """
    size = len(data)
    if is64:
        (phoff,) = struct.unpack_from(e + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(e + "HH", data, 0x36)
        ph_fmt, want_ent = e + "IIQQQQQQ", 56
    else:
        (phoff,) = struct.unpack_from(e + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(e + "HH", data, 0x2A)
        ph_fmt, want_ent = e + "IIIIIIII", 32
    if phnum == 0 or phentsize != want_ent or phoff + phnum * phentsize > size:
        raise LoadError(
            f"{what}: corrupt ELF program header table ({phnum} entries of {phentsize} bytes at "
            f"offset {phoff}, file {size} bytes); the file is truncated or damaged",
            where=path,
        )
    for i in range(phnum):
        fields = struct.unpack_from(ph_fmt, data, phoff + i * phentsize)
        if is64:
            p_type, _flags, p_offset, _va, _pa, p_filesz, p_memsz, _align = fields
        else:
            p_type, p_offset, _va, _pa, p_filesz, p_memsz, _flags, _align = fields
        if p_type in (1, 2) and (p_offset + p_filesz > size or p_filesz > p_memsz):  # LOAD, DYNAMIC
            raise LoadError(
                f"{what}: segment {i} (file offset {p_offset}, {p_filesz} bytes) lies outside the "
                f"{size}-byte file; the library is truncated or damaged",
                where=path,
            )


def _check_host_format(path: str, data: bytes) -> None:
    """LoadError unless ``data`` is a shared library this process can dlopen."""
    what = describe_binary(data[:64])
    machine = platform.machine().lower()
    bits = host_bits()
    if data.startswith(b"\x7fELF"):
        if _IS_WINDOWS or sys.platform == "darwin":
            raise LoadError(f"{what}: not loadable on {sys.platform}", where=path)
        if len(data) < 64 or data[4] not in (1, 2) or data[5] not in (1, 2):
            raise LoadError(
                f"{what}: truncated or corrupt ELF header ({len(data)} bytes); expected an ELF "
                "shared object (.so)",
                where=path,
            )
        is64 = data[4] == 2
        e = "<" if data[5] == 1 else ">"
        etype, em = struct.unpack_from(e + "HH", data, 16)
        if etype != 3:
            raise LoadError(f"{what}: expected an ELF shared object (.so)", where=path)
        _check_elf_layout(path, what, data, is64, e)
        want = _HOST_ELF_MACHINE.get(machine)
        if (want is not None and em != want) or is64 != (bits == 64):
            raise LoadError(
                f"{what}: wrong architecture, this Python needs an ELF {bits}-bit "
                f"{_ELF_MACHINES.get(want or -1, machine)} shared object",
                where=path,
            )
        return
    if data[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        if sys.platform != "darwin":
            raise LoadError(f"{what}: Mach-O libraries load only on macOS", where=path)
        try:
            _macho_slice(data)
        except ValueError as e:
            raise LoadError(f"{what}: {e}", where=path) from None
        return
    if data.startswith(b"MZ"):
        if not _IS_WINDOWS:
            raise LoadError(
                f"{what}: a Windows DLL is not a host shared library here; use --loader pe",
                where=path,
            )
        try:
            (pe_off,) = struct.unpack_from("<I", data, 0x3C)
            (mach,) = struct.unpack_from("<H", data, pe_off + 4)
        except struct.error:
            raise LoadError(f"{what}: truncated PE header", where=path) from None
        want = _HOST_PE_MACHINE.get(machine)
        if want is not None and (mach != want or (mach == 0x8664) != (bits == 64)):
            raise LoadError(
                f"PE {_PE_MACHINES.get(mach, hex(mach))} DLL: wrong architecture for this "
                f"{bits}-bit Python (R17); use --loader pe",
                where=path,
            )
        return
    raise LoadError(
        f"{what}: expected a host shared library (ELF .so, Mach-O .dylib or Windows .dll)",
        where=path,
    )


def list_exports(path: str, data: bytes) -> list[str] | None:
    """Real exported names, or None when the format cannot be read."""
    try:
        if data.startswith(b"\x7fELF"):
            return elf_exports(data)
        if data[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
            return macho_exports(data)
        if data.startswith(b"MZ"):
            return pe_exports(path)
    except (ValueError, struct.error, IndexError, OverflowError, OSError):
        return None
    return None


# ------------------------------------------------------------------------------------------
# cffi declarations
# ------------------------------------------------------------------------------------------

_CTYPE = {
    "wstr": "uint16_t *",
    "dword_inout": "uint32_t *",
    "bool_out": "int32_t *",
    "in6_inout": "uint8_t *",
    "struct": "void *",
    "struct_array": "void *",
    "table_out": "void *",
}
_RTYPE = {"dword": "uint32_t", "bool": "int32_t", "void": "void"}
_CONV = "__stdcall " if (_IS_WINDOWS and host_bits() == 32) else ""


def _params_c(sig: Signature) -> str:
    return ", ".join(_CTYPE[p.kind] for p in sig.params) or "void"


def _decl(sig: Signature) -> str:
    return f"{_RTYPE[sig.returns]} {_CONV}{sig.name}({_params_c(sig)});"


def _fnptr_type(sig: Signature) -> str:
    return f"{_RTYPE[sig.returns]}({_CONV}*)({_params_c(sig)})"


_ffi = cffi.FFI()
_ffi.cdef("\n".join(_decl(s) for s in SIGNATURES.values()))
_FNPTR = {s.name: _ffi.typeof(_fnptr_type(s)) for s in [*SIGNATURES.values(), *TABLE_ONLY.values()]}
_PLAIN_FNPTR = _ffi.typeof(f"uint32_t({_CONV}*)(void)")
_C_KEYWORDS = frozenset(
    [
        "auto",
        "break",
        "case",
        "char",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "register",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
        "bool",
        "_Bool",
    ]
)


def _is_c_identifier(name: str) -> bool:
    return name.isidentifier() and name.isascii() and name not in _C_KEYWORDS


# ------------------------------------------------------------------------------------------
# The loaded library
# ------------------------------------------------------------------------------------------


def _result_factory() -> Callable[[int | None, dict[int, Any], tuple[int, ...], float], CallResult]:
    """A CallResult constructor for the hot path (the frozen dataclass __init__ is 3x slower)."""
    try:
        setters = [CallResult.__dict__[n].__set__ for n in CallResult.__slots__]
    except (AttributeError, KeyError):  # pragma: no cover - base.py without slots
        return lambda r, o, m, s: CallResult(returned=r, outputs=o, modified_inputs=m, seconds=s)
    if list(CallResult.__slots__) != [
        "returned",
        "outputs",
        "modified_inputs",
        "fault",
        "issues",
        "debug_output",
        "seconds",
    ]:  # pragma: no cover - a changed base.py
        return lambda r, o, m, s: CallResult(returned=r, outputs=o, modified_inputs=m, seconds=s)
    s_ret, s_out, s_mod, s_fault, s_iss, s_dbg, s_sec = setters
    new = object.__new__

    def make(
        returned: int | None, outputs: dict[int, Any], modified: tuple[int, ...], seconds: float
    ) -> CallResult:
        r = new(CallResult)
        s_ret(r, returned)
        s_out(r, outputs)
        s_mod(r, modified)
        s_fault(r, None)
        s_iss(r, ())
        s_dbg(r, ())
        s_sec(r, seconds)
        return r

    return make


fast_result = _result_factory()


def _slot_setters() -> tuple[Callable[[CallResult, Any], None], ...] | None:
    """The slot setters of CallResult in field order, or None if base.py changed its layout."""
    fields = ("returned", "outputs", "modified_inputs", "fault", "issues", "debug_output", "seconds")
    try:
        if tuple(CallResult.__slots__) != fields:
            return None
        return tuple(CallResult.__dict__[f].__set__ for f in fields)
    except (AttributeError, KeyError):  # pragma: no cover - base.py without slots
        return None


_SETTERS = _slot_setters()


class _WStrCache:
    """UTF-16LE + NUL buffers for repeated names (users, ports); bounded, oldest dropped first.

    Items are (owner cdata, ``uint16_t *``, encoded bytes, buffer view of owner). Hot paths
    call ``items.get(s) or cache.get(s)`` to skip a method call on hits.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.items: dict[str, tuple[Any, Any, bytes, Any]] = {}
        self._limit = limit

    def get(self, s: str) -> tuple[Any, Any, bytes, Any]:
        item = self.items.get(s)
        if item is None:
            raw = s.encode("utf-16-le", "surrogatepass") + b"\0\0"
            owner = _ffi.new("char[]", len(raw))  # exact size: ffi.buffer(owner) == raw
            _ffi.memmove(owner, raw, len(raw))
            view = memoryview(_ffi.buffer(owner))  # compares with bytes without a copy
            item = (owner, _ffi.cast("uint16_t *", owner), raw, view)
            self.items[s] = item
            if len(self.items) > self._limit:
                del self.items[next(iter(self.items))]
        return item

    def drop(self, s: str) -> None:
        self.items.pop(s, None)


class _StructBuf:
    __slots__ = ("addr", "buf", "cap", "ptr")

    def __init__(self) -> None:
        self.cap = 0
        self.buf: Any = None
        self.ptr: Any = None
        self.addr = 0

    def ensure(self, n: int) -> None:
        if n > self.cap:
            self.cap = max(n, 2 * self.cap, 256)
            self.buf = _ffi.new("uint8_t[]", self.cap)
            self.ptr = _ffi.cast("void *", self.buf)
            self.addr = int(_ffi.cast("uintptr_t", self.buf))


Invoker = Callable[[tuple[Any, ...]], CallResult]


class NativeAdminDll(AdminDll):
    """A host shared library opened with ``cffi.FFI.dlopen``."""

    loader_name = "native"
    machine = "native"

    def __init__(self, path: str, *, private_copy: bool = True) -> None:
        self.path = path
        self._bits = host_bits()
        #: no subclass overrides handle_call: call_export may go straight to the invoker
        self._direct = type(self).handle_call is NativeAdminDll.handle_call
        self._closed = False
        self._tmpdir: str | None = None
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except IsADirectoryError:
            raise LoadError("is a directory, expected a shared library", where=path) from None
        except FileNotFoundError:
            raise LoadError("file not found (expected a host shared library)", where=path) from None
        except OSError as e:
            raise LoadError(f"cannot read: {e.strerror}", where=path) from None
        _check_host_format(path, data)
        names = list_exports(path, data)
        load_path = os.path.abspath(path)
        if private_copy:
            self._tmpdir = tempfile.mkdtemp(prefix="rasemu-native-")
            load_path = os.path.join(self._tmpdir, os.path.basename(path))
            shutil.copyfile(path, load_path)
        #: the file actually dlopened (the private copy, removed from disk once mapped)
        self.image_path = load_path
        try:
            self._lib = _ffi.dlopen(load_path)
        except OSError as e:
            self._cleanup_tmp()
            raise LoadError(f"dlopen failed: {e}", where=path) from None
        if names is None:
            names = [n for n in SIGNATURES if self._has(n)]
        self._exports = frozenset(names)
        self._wstr = _WStrCache()
        self._fns: dict[str, Any] = {}
        for n in SIGNATURES:
            if n in self._exports and self._has(n):
                self._fns[n] = getattr(self._lib, n)
        self._extra_lib: Any = None
        self._extra_ffi: cffi.FFI | None = None
        extras = [n for n in self._exports if n not in SIGNATURES and _is_c_identifier(n)]
        if extras:
            self._extra_ffi = cffi.FFI()
            try:
                self._extra_ffi.cdef("\n".join(f"uint32_t {_CONV}{n}(void);" for n in extras))
                self._extra_lib = self._extra_ffi.dlopen(load_path)
            except (cffi.CDefError, OSError, cffi.FFIError):
                self._extra_lib = None
        self._extra_names = frozenset(extras) if self._extra_lib is not None else frozenset()
        self._invokers: dict[str | int | tuple[int, str], Invoker] = {}
        self._addresses: dict[str, int] = {}
        for n, fn in self._fns.items():
            self._addresses[n] = int(_ffi.cast("uintptr_t", fn))
        for n in self._extra_names:
            with contextlib.suppress(AttributeError):
                self._addresses[n] = int(_ffi.cast("uintptr_t", getattr(self._extra_lib, n)))
        self._address_names = {a: n for n, a in self._addresses.items()}
        # pre-build the marshalling closures of every bound callback
        for n, fn in self._fns.items():
            self._invokers[n] = self._make_invoker(fn, SIGNATURES[n])
        if self._tmpdir is not None and not _IS_WINDOWS:
            # the mapping stays valid; nothing is left on disk even if we are killed
            self._cleanup_tmp()

    def _has(self, name: str) -> bool:
        try:
            getattr(self._lib, name)
        except AttributeError:
            return False
        return True

    def _cleanup_tmp(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # -- marshalling -----------------------------------------------------------------------

    def _make_invoker(self, fn: Any, sig: Signature) -> Invoker:
        """A closure that marshals ``args`` per ``sig``, calls ``fn`` and reads everything back."""
        bits = self._bits
        wcache = self._wstr
        n = len(sig.params)
        kinds = tuple(p.kind for p in sig.params)
        returns = sig.returns
        # fixed per-parameter buffers, reused across calls
        cells: list[Any] = [None] * n
        ptrs: list[Any] = [None] * n
        sbufs: list[_StructBuf | None] = [None] * n
        table_size = S.sizeof("MPRAPI_ADMIN_DLL_CALLBACKS", bits)
        for i, k in enumerate(kinds):
            if k in ("dword_inout", "bool_out"):
                cells[i] = _ffi.new("uint32_t[1]")
                ptrs[i] = _ffi.cast(_CTYPE[k], cells[i])
            elif k == "in6_inout":
                cells[i] = _ffi.new("uint8_t[16]")
                ptrs[i] = cells[i]
            elif k == "table_out":
                cells[i] = _ffi.new("uint8_t[]", table_size)
                ptrs[i] = _ffi.cast("void *", cells[i])
            elif k in ("struct", "struct_array"):
                sbufs[i] = _StructBuf()
        simple_ip = kinds in (
            ("wstr", "wstr", "dword_inout", "bool_out"),
            ("wstr", "wstr", "dword_inout"),
        )
        buffer = _ffi.buffer
        perf = time.perf_counter
        make = fast_result

        if simple_ip and _SETTERS is not None:
            return self._ip_invoker(fn, sig, cells, ptrs)
        if n and all(k == "struct" for k in kinds):
            return self._struct_invoker(fn, sig, sbufs)

        def invoke(args: tuple[Any, ...]) -> CallResult:
            if len(args) != n:
                raise ValueError(f"{sig.name} takes {n} arguments, the call gives {len(args)}")
            cargs: list[Any] = [None] * n
            checks: list[tuple[int, Any, int, bytes, Any]] = []
            for i in range(n):
                k = kinds[i]
                a = args[i]
                if k == "wstr":
                    if a is None:
                        cargs[i] = _ffi.NULL
                    else:
                        owner, ptr, raw, _view = wcache.get(a)
                        cargs[i] = ptr
                        checks.append((i, owner, len(raw), raw, a))
                elif k in ("dword_inout", "bool_out"):
                    cells[i][0] = a & _MASK
                    cargs[i] = ptrs[i]
                elif k == "in6_inout":
                    raw16 = bytes(a)
                    if len(raw16) != 16:
                        raise ValueError(f"{sig.params[i].name}: IN6_ADDR needs 16 bytes")
                    _ffi.memmove(cells[i], raw16, 16)
                    cargs[i] = ptrs[i]
                elif k in ("struct", "struct_array"):
                    sb = sbufs[i]
                    assert sb is not None
                    if a is None:
                        cargs[i] = _ffi.NULL
                        continue
                    if k == "struct":
                        raw = S.pack(a, bits)
                        sb.ensure(len(raw))
                    else:
                        objs = list(a)
                        raw = S.pack_array(objs, bits) if objs else b""
                        sb.ensure(max(len(raw), 1))
                        if objs:
                            raw = S.pack_array(objs, bits, base=sb.addr)
                    _ffi.memmove(sb.buf, raw, len(raw))
                    cargs[i] = sb.ptr
                    checks.append((i, sb.buf, len(raw), raw, None))
                else:  # table_out: the host's buffer, zero-filled (slots the DLL skips stay 0)
                    _ffi.memmove(cells[i], bytes(table_size), table_size)
                    cargs[i] = ptrs[i]
            t0 = perf()
            ret = fn(*cargs)
            dt = perf() - t0
            modified: list[int] = []
            for i, owner, size, raw, s in checks:
                if buffer(owner, size) != raw:  # compares without copying the buffer
                    modified.append(i)
                    if s is not None:
                        wcache.drop(s)
            outputs: dict[int, Any] = {}
            for i in range(n):
                k = kinds[i]
                if k in ("dword_inout", "bool_out"):
                    outputs[i] = cells[i][0]
                elif k == "in6_inout":
                    outputs[i] = bytes(buffer(cells[i], 16))
                elif k == "table_out":
                    tab = S.unpack(
                        "MPRAPI_ADMIN_DLL_CALLBACKS", bytes(buffer(cells[i], table_size)), bits
                    )
                    outputs[i] = {"revision": tab.revision} | {
                        slot: getattr(tab, slot) for slot, _ in TABLE_SLOTS
                    }
            return make(None if returns == "void" else ret & _MASK, outputs, tuple(modified), dt)

        return invoke

    def _struct_invoker(self, fn: Any, sig: Signature, sbufs: list[_StructBuf | None]) -> Invoker:
        """Callbacks taking only structures (accept, hang-up, link, reauth): each is packed into
        its reused buffer, and compared with what was written after the call (R69)."""
        bits = self._bits
        n = len(sig.params)
        name = sig.name
        bufs = [sb for sb in sbufs if sb is not None]
        assert len(bufs) == n
        pack = S.pack
        memmove = _ffi.memmove
        buffer = _ffi.buffer
        null = _ffi.NULL
        perf = time.perf_counter
        make = fast_result
        is_void = sig.returns == "void"

        sb0, sb1 = [*bufs, _StructBuf(), _StructBuf()][:2]
        # the compiled packers of the signature's structures (pack() for other types or values)
        types: list[type | None] = [S.STRUCTS[p.struct] for p in sig.params if p.struct]
        c0, c1 = [*types, None, None][:2]

        def packer(c: type | None) -> Callable[[Any], bytes]:
            return (lambda o: pack(o, bits)) if c is None else S.compiled(c, bits)

        f0, f1 = packer(c0), packer(c1)

        def invoke1(args: tuple[Any, ...]) -> CallResult:
            # one structure (the connection callbacks): the loop below, unrolled
            if len(args) != 1 or args[0] is None:
                return invoke(args)
            a0 = args[0]
            if type(a0) is c0:
                try:
                    raw = f0(a0)
                except Exception:
                    raw = pack(a0, bits)
            else:
                raw = pack(a0, bits)
            size = len(raw)
            if size > sb0.cap:
                sb0.ensure(size)
            memmove(sb0.buf, raw, size)
            t0 = perf()
            ret = fn(sb0.ptr)
            dt = perf() - t0
            return make(None if is_void else ret & _MASK, {},
                        (0,) if buffer(sb0.buf, size) != raw else (), dt)

        def invoke2(args: tuple[Any, ...]) -> CallResult:
            # two structures (the link callbacks): the loop below, unrolled
            if len(args) != 2 or args[0] is None or args[1] is None:
                return invoke(args)
            a0 = args[0]
            a1 = args[1]
            if type(a0) is c0 and type(a1) is c1:
                try:
                    raw0 = f0(a0)
                    raw1 = f1(a1)
                except Exception:
                    raw0 = pack(a0, bits)
                    raw1 = pack(a1, bits)
            else:
                raw0 = pack(a0, bits)
                raw1 = pack(a1, bits)
            size0 = len(raw0)
            size1 = len(raw1)
            if size0 > sb0.cap:
                sb0.ensure(size0)
            if size1 > sb1.cap:
                sb1.ensure(size1)
            memmove(sb0.buf, raw0, size0)
            memmove(sb1.buf, raw1, size1)
            t0 = perf()
            ret = fn(sb0.ptr, sb1.ptr)
            dt = perf() - t0
            modified: tuple[int, ...] = ()
            if buffer(sb0.buf, size0) != raw0:
                modified = (0,)
            if buffer(sb1.buf, size1) != raw1:
                modified += (1,)
            return make(None if is_void else ret & _MASK, {}, modified, dt)

        def invoke(args: tuple[Any, ...]) -> CallResult:
            if len(args) != n:
                raise ValueError(f"{name} takes {n} arguments, the call gives {len(args)}")
            cargs: list[Any] = []
            raws: list[bytes | None] = []
            for sb, a in zip(bufs, args, strict=True):
                if a is None:
                    cargs.append(null)
                    raws.append(None)
                    continue
                raw = pack(a, bits)
                size = len(raw)
                if size > sb.cap:
                    sb.ensure(size)
                memmove(sb.buf, raw, size)
                cargs.append(sb.ptr)
                raws.append(raw)
            t0 = perf()
            ret = fn(*cargs)
            dt = perf() - t0
            modified = tuple([i for i, (sb, raw) in enumerate(zip(bufs, raws, strict=True))
                              if raw is not None and buffer(sb.buf, len(raw)) != raw])
            return make(None if is_void else ret & _MASK, {}, modified, dt)

        return invoke1 if n == 1 else invoke2 if n == 2 else invoke

    def _ip_invoker(self, fn: Any, sig: Signature, cells: list[Any], ptrs: list[Any]) -> Invoker:
        """The hot path: Get/ReleaseIpAddress (both families), specialised and inlined.

        Same marshalling and checks as the general invoker (R69 on both strings, outputs read
        back); one function serves both arities (Get: user, port, ip, notify; Release: user,
        port, ip), the CallResult built by :func:`fast_result`.
        """
        make = fast_result
        wcache = self._wstr
        hit = wcache.items.get
        get = wcache.get
        drop = wcache.drop
        perf = time.perf_counter
        null = _ffi.NULL
        n = len(sig.params)
        name = sig.name
        c2, p2 = cells[2], ptrs[2]
        mask_ret = sig.returns == "bool"  # int32_t; a uint32_t return is in range already

        four = n == 4
        c3: Any = cells[3] if four else None
        p3: Any = ptrs[3] if four else None
        is_void = sig.returns == "void"

        def invoke_ip(args: tuple[Any, ...]) -> CallResult:
            if len(args) != n:
                raise ValueError(f"{name} takes {n} arguments, the call gives {len(args)}")
            user = args[0]
            port = args[1]
            u = None if user is None else hit(user) or get(user)
            p = None if port is None else hit(port) or get(port)
            c2[0] = args[2] & _MASK
            if four:
                c3[0] = args[3] & _MASK
                t0 = perf()
                ret = fn(null if u is None else u[1], null if p is None else p[1], p2, p3)
                dt = perf() - t0
                outputs = {2: c2[0], 3: c3[0]}
            else:
                t0 = perf()
                ret = fn(null if u is None else u[1], null if p is None else p[1], p2)
                dt = perf() - t0
                outputs = {2: c2[0]}
            modified: tuple[int, ...] = ()
            if u is not None and u[3] != u[2]:
                modified = (0,)
                drop(user)
            if p is not None and p[3] != p[2]:
                modified += (1,)
                drop(port)
            return make(None if is_void else ret & _MASK if mask_ret else ret, outputs, modified, dt)

        return invoke_ip

    def _plain_invoker(self, fn: Any, name: str) -> Invoker:
        def invoke(args: tuple[Any, ...]) -> CallResult:
            if args:
                raise ValueError(f"{name} is not a callback; it is called as DWORD {name}(void)")
            t0 = time.perf_counter()
            ret = fn()
            return CallResult(returned=int(ret) & _MASK, seconds=time.perf_counter() - t0)

        return invoke

    # -- AdminDll --------------------------------------------------------------------------

    @property
    def exports(self) -> frozenset[str]:
        return self._exports

    def export_address(self, name: str) -> int | None:
        return self._addresses.get(name)

    def handle_call(self, call: Call) -> CallResult:
        # hot path: a bound export by name (close() empties the table, so this stays correct)
        inv = self._invokers.get(call.target)
        if inv is not None and call.signature is None:
            return inv(call.args)
        if self._closed:
            raise RuntimeError(f"{self.path}: library is closed")
        target = call.target
        if isinstance(target, str) and call.signature is None:
            return self._invoker_for_name(target)(call.args)
        return self._invoker_for_target(call)(call.args)

    def call_export(self, name: str, args: tuple[Any, ...], timeout: float = 5.0) -> CallResult:
        inv = self._invokers.get(name)
        if inv is not None and self._direct and "handle_call" not in self.__dict__:
            return inv(args)
        return self.handle_call(Call(name, args, None, timeout))

    def _invoker_for_name(self, name: str) -> Invoker:
        if name in self._extra_names:
            inv = self._plain_invoker(getattr(self._extra_lib, name), name)
            self._invokers[name] = inv
            return inv
        if name in self._exports:
            raise KeyError(f"{self.path}: export {name!r} cannot be bound (not a C identifier)")
        raise KeyError(f"{self.path} has no export {name!r}")

    def _invoker_for_target(self, call: Call) -> Invoker:
        sig = signature(call.signature_name)
        target = call.target
        key: tuple[int, str]
        if isinstance(target, str):
            addr = self._addresses.get(target)
            if addr is None:
                raise KeyError(f"{self.path} has no export {target!r}")
            key = (addr, sig.name)
        else:
            key = (target, sig.name)
        inv = self._invokers.get(key)
        if inv is None:
            addr = key[0]
            if not self._address_is_code(addr):
                return lambda args: CallResult(
                    fault=CallFault(
                        "crash",
                        f"call to {addr:#x}, which is not code of {os.path.basename(self.path)}"
                        " (not called: it would crash the process)",
                        {"address": addr},
                    ),
                    issues=(CallIssue("R72", f"table pointer {addr:#x} is outside the library"),),
                )
            inv = self._make_invoker(_ffi.cast(_FNPTR[sig.name], addr), sig)
            self._invokers[key] = inv
        return inv

    def _address_is_code(self, addr: int) -> bool:
        """Whether ``addr`` lies in this library's image (so calling it cannot be a wild jump)."""
        if addr in self._address_names:
            return True
        if addr < 0x10000:
            return False
        base = _image_base(next(iter(self._addresses.values()), 0))
        return base is not None and _image_base(addr) == base

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._invokers.clear()
        self._fns.clear()
        if self._extra_lib is not None and self._extra_ffi is not None:
            with contextlib.suppress(OSError, ValueError):
                self._extra_ffi.dlclose(self._extra_lib)
        with contextlib.suppress(OSError, ValueError):
            _ffi.dlclose(self._lib)
        self._cleanup_tmp()


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


_dladdr: Any = None
if not _IS_WINDOWS:
    try:
        _libdl = ctypes.CDLL(None)
        _dladdr = _libdl.dladdr
        _dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
        _dladdr.restype = ctypes.c_int
    except (OSError, AttributeError):
        _dladdr = None


def _image_base(addr: int) -> int | None:
    """Load address of the image that contains ``addr``, or None when unknown.

    POSIX: ``dladdr``; Windows: ``GetModuleHandleExW(FROM_ADDRESS)`` (an HMODULE is the base).
    """
    if addr == 0:
        return None
    if _IS_WINDOWS:
        handle = ctypes.c_void_p()
        flags = 0x4 | 0x2  # GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | _UNCHANGED_REFCOUNT
        k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        ok = k32.GetModuleHandleExW(flags, ctypes.c_void_p(addr), ctypes.byref(handle))
        return int(handle.value or 0) or None if ok else None
    if _dladdr is None:
        return None
    info = _DlInfo()
    if not _dladdr(ctypes.c_void_p(addr), ctypes.byref(info)):
        return None
    return int(info.dli_fbase or 0) or None


class NativeLoader(Loader):
    """Loads host shared libraries with cffi (options: ``private_copy``, default True)."""

    name = "native"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = dict(options or {})

    def can_load(self, path: str, head: bytes) -> bool:
        if head.startswith(b"\x7fELF"):
            return not _IS_WINDOWS and sys.platform != "darwin"
        if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
            return sys.platform == "darwin"
        return False

    def load(self, path: str, *, bitness: int | None = None) -> NativeAdminDll:
        if bitness is not None and bitness != host_bits():
            raise LoadError(
                f"a native library runs at this Python's bitness ({host_bits()}); "
                f"the {bitness}-bit host profile needs --loader pe (R17)",
                where=path,
            )
        return NativeAdminDll(path, private_copy=bool(self.options.get("private_copy", True)))
