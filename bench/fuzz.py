"""Bounded fuzz campaign over every parser and loader entry point of rasemu.

Each target turns random bytes/text (generated from the input grammar, or mutated from the
real fixtures) into a call of one entry point and checks the invariant: the call succeeds or
raises the documented error with a one-line message; never another exception, never a hang
(a wall-clock limit per input), memory bounded. The campaign cycles through the targets for
``--seconds`` and prints, per target: inputs tried, inputs/s, distinct error messages, crashes
(each input saved under a temp dir), the slowest input and its time, and peak memory.

    python bench/fuzz.py --seconds 60 [--target pe] [--seed 1] [--tracemalloc]

Exit status 1 when a crash was found. ``run_campaign`` is the API the tests use.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.errors import InputError, LoadError  # noqa: E402

# ---------------------------------------------------------------------------------------------
# the invariant checker


class FuzzTimeout(BaseException):
    """Raised by the per-input alarm (a BaseException so ``except Exception`` cannot eat it)."""


class Crash(Exception):
    """An input broke the invariant."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise FuzzTimeout in the main thread after ``seconds`` (no-op off the main thread/Unix)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise FuzzTimeout(f"no result within {seconds:g} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check_message(exc: BaseException) -> str:
    """The error's message; Crash unless it is a single non-empty line."""
    msg = str(exc)
    if isinstance(exc, InputError) and exc.where is not None:
        # a file name may hold a line break (the CLI escapes it); the message itself may not
        body = exc.message
        if not body.strip() or "\n" in body or "\r" in body:
            raise Crash(f"{type(exc).__name__} message is not one line: {msg[:200]!r}")
        return msg
    if not msg.strip() or "\n" in msg or "\r" in msg:
        raise Crash(f"{type(exc).__name__} message is not one line: {msg[:200]!r}")
    return msg


_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|\d+")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def message_class(msg: str) -> str:
    """A message with numbers and quoted text blanked, so equal kinds of errors count once."""
    msg = msg.split(": ", 1)[1] if msg.startswith(("/", "<", "f.", "m.", "x.")) else msg
    return _NUMBERS.sub("#", _QUOTED.sub("'…'", msg))[:160]


# ---------------------------------------------------------------------------------------------
# mutation helpers

INTERESTING32 = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                 0xFFFFFFFF, 0xFFFFFFF0, 0x10000, 0x1000)


def mutate_bytes(rng: random.Random, data: bytes, *, hot: int = 0, rounds: int = 8) -> bytes:
    """Bit flips, interesting values, insertions, deletions, splices and truncation.

    ``hot`` > 0 concentrates most edits in the first ``hot`` bytes (file headers).
    """
    buf = bytearray(data)
    for _ in range(rng.randint(1, rounds)):
        if not buf:
            buf += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            continue
        span = min(hot, len(buf)) if hot and rng.random() < 0.7 else len(buf)
        i = rng.randrange(span)
        op = rng.random()
        if op < 0.35:
            buf[i] ^= 1 << rng.randrange(8)
        elif op < 0.55:
            buf[i] = rng.choice((0, 0xFF, 0x7F, 0x80, 1, rng.randrange(256)))
        elif op < 0.75:
            v = rng.choice((*INTERESTING32, len(buf), rng.getrandbits(32)))
            buf[i : i + 4] = (v & 0xFFFFFFFF).to_bytes(4, "little")
        elif op < 0.83:
            del buf[i : i + rng.randint(1, 64)]
        elif op < 0.91:
            j = rng.randrange(len(buf))
            buf[i:i] = buf[j : j + rng.randint(1, 64)]
        elif op < 0.96:
            buf[i:i] = bytes(rng.choice((0, 0xFF, 0x41)) for _ in range(rng.randint(1, 32)))
        else:
            del buf[rng.randrange(len(buf) + 1) :]
    return bytes(buf)


def mutate_text(rng: random.Random, text: str, fragments: Sequence[str], rounds: int = 6) -> str:
    """Insert, delete, duplicate or replace pieces of ``text`` with grammar fragments."""
    s = text
    for _ in range(rng.randint(1, rounds)):
        i = rng.randrange(len(s) + 1)
        op = rng.random()
        if op < 0.45:
            s = s[:i] + rng.choice(fragments) + s[i:]
        elif op < 0.65:
            s = s[:i] + s[i + rng.randint(1, 20) :]
        elif op < 0.8:
            j = rng.randrange(len(s) + 1)
            s = s[:i] + s[j : j + rng.randint(1, 40)] + s[i:]
        elif op < 0.9 and s:
            s = s[:i] + chr(rng.choice((0, 0xD800, 0xDFFF, 0xFFFD, 0x80, 0xE9, 0x20AC,
                                        0x1F600, rng.randrange(0x110000)))) + s[i:]
        else:
            lines = s.split("\n")
            k = rng.randrange(len(lines))
            lines.insert(k, lines[rng.randrange(len(lines))])
            s = "\n".join(lines)
    return s


# ---------------------------------------------------------------------------------------------
# targets


@dataclass
class Target:
    """One entry point: ``generate`` makes an input, ``run`` feeds it (raising only ``allowed``)."""

    name: str
    generate: Callable[[random.Random], Any]
    run: Callable[[Any], list[str] | None]  # may return extra (checked) error messages
    allowed: tuple[type[BaseException], ...]
    suffix: str = ".bin"
    timeout: float = 10.0

    def save(self, value: Any, folder: Path, n: int) -> Path:
        path = folder / f"{self.name}-{n}{self.suffix}"
        if isinstance(value, bytes):
            path.write_bytes(value)
        elif isinstance(value, str):
            path.write_bytes(value.encode("utf-8", "surrogatepass"))
        else:
            path.write_text(repr(value), encoding="utf-8")
        return path


_WORK = Path(tempfile.mkdtemp(prefix="rasemu-fuzz-work-"))


def _scratch(suffix: str, data: bytes | str, name: str = "f") -> Path:
    path = _WORK / f"{name}{suffix}"
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


# -- .reg files --------------------------------------------------------------------------------

REG_FRAGMENTS = [
    "[", "]", "[-", "HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER\\Software", "HKLM", "HKCR", "\\",
    "\\\\", '"', "@", "=", "-", "dword:", "hex:", "hex(", "):", "hex(7):", "hex(2):", "hex(b):",
    "00", "0", "ff", "1ffffffff", ",", ", ", ",\\", ";", " ", "\t", "\r", "\n", "\r\n", "\\n",
    "\\0", "x", "\u00e9", "\U0001f600", "\x00", "\ud800", "\udc00", "a" * 300, "k\\" * 40,
    "hex(ffffffff):", "dword:ffffffff", "=-", "\"\"", "[HKEY_CURRENT_USER\\a]",
]
REG_HEADERS = ["Windows Registry Editor Version 5.00", "REGEDIT4", "REGEDIT", "", "junk",
               "\ufeffWindows Registry Editor Version 5.00"]


def _reg_samples() -> list[bytes]:
    out = []
    for folder in (ROOT / "fixtures" / "reg", ROOT / "fixtures" / "installers"):
        out += [p.read_bytes() for p in sorted(folder.glob("*.reg"))]
    return out


def _encode_reg(rng: random.Random, text: str) -> bytes:
    enc = rng.choice(("utf16le-bom",) * 6 + ("utf16le", "utf16be-bom", "utf16be", "utf8",
                                              "utf8-bom", "cp1252", "cp1252"))
    if enc.startswith("utf16"):
        codec = "utf-16-le" if "le" in enc else "utf-16-be"
        bom = (b"\xff\xfe" if "le" in enc else b"\xfe\xff") if enc.endswith("bom") else b""
        return bom + text.encode(codec, "surrogatepass")
    if enc.startswith("utf8"):
        return (b"\xef\xbb\xbf" if enc.endswith("bom") else b"") + text.encode(
            "utf-8", "surrogatepass")
    return text.encode("cp1252", "replace")


def gen_reg(rng: random.Random) -> bytes:
    samples = _REG_SAMPLES or [b""]
    kind = rng.random()
    if kind < 0.3:
        return mutate_bytes(rng, rng.choice(samples), rounds=6)
    if kind < 0.6:
        raw = rng.choice(samples)
        text = raw[2:].decode("utf-16-le", "replace") if raw[:2] == b"\xff\xfe" else raw.decode(
            "cp1252", "replace")
        return _encode_reg(rng, mutate_text(rng, text, REG_FRAGMENTS))
    lines = [rng.choice(REG_HEADERS)]
    for _ in range(rng.randint(0, 12)):
        lines.append("".join(rng.choice(REG_FRAGMENTS) for _ in range(rng.randint(0, 10))))
    if rng.random() < 0.1:  # a long run of continuation lines
        lines += ['"v"=hex:00,\\'] + ["  00,\\"] * rng.randint(1, 5000)
    if rng.random() < 0.05:  # deep nesting / long names
        lines.append("[HKEY_CURRENT_USER\\" + "\\".join(["k"] * rng.randint(500, 600)) + "]")
        lines.append("[HKEY_CURRENT_USER\\" + "n" * rng.randint(250, 260) + "]")
    return _encode_reg(rng, "\r\n".join(lines))


def run_reg(data: bytes) -> list[str]:
    from emulator.registry import Registry
    from emulator.registry.regfile import export, import_bytes

    seen: list[str] = []
    for strict in (True, False):
        reg = Registry()
        try:
            import_bytes(data, reg, name="f.reg", strict=strict)
        except InputError as exc:
            if not str(exc).startswith("f.reg"):
                raise Crash(f"error does not name the file: {exc}") from None
            if strict:
                seen.append(check_message(exc))
                continue
            raise
        export(reg)
    return seen


# -- registry paths and the winreg drop-in ------------------------------------------------------

PATH_PIECES = ["HKEY_LOCAL_MACHINE", "HKLM", "hkcu", "HKEY_CLASSES_ROOT", "HKU", "HKCC",
               "HKEY_PERFORMANCE_DATA", "Software", "Wow6432Node", "\\", "\\\\", "", " ", ".",
               "..", "\x00", "\ud800", "\U0001f600", "\u0130", "\u00df", "/", "*", "?", "\t",
               "\n", "a" * 255, "a" * 256, "k\\" * 300, "Classes", "CLSID", "{", "}", "%PATH%"]


def gen_path(rng: random.Random) -> tuple[str, str, int]:
    path = "".join(rng.choice(PATH_PIECES) for _ in range(rng.randint(0, 8)))
    if rng.random() < 0.5:
        path = rng.choice(("HKLM\\", "HKEY_CURRENT_USER\\")) + path
    name = "".join(rng.choice(PATH_PIECES) for _ in range(rng.randint(0, 3)))
    if rng.random() < 0.05:
        name = "v" * rng.choice((16383, 16384, 70000))
    return path, name, rng.choice((32, 64))


def run_path(arg: tuple[str, str, int]) -> None:
    from emulator.registry import Registry
    from emulator.registry.model import KeyHasSubkeysError, split_path

    path, name, view = arg
    with contextlib.suppress(InputError):
        split_path(path)
    reg = Registry()
    for op in (
        lambda: reg.create_key(path, view=view),
        lambda: reg.set_value(path, name, 1, b"x\0\0\0", view=view),
        lambda: reg.get_value(path, name, view=view),
        lambda: reg.key_exists(path, view=view),
        lambda: reg.delete_key(path, recursive=True, view=view),
    ):
        with contextlib.suppress(InputError, LookupError, KeyHasSubkeysError):
            op()


def run_winreg(arg: tuple[str, str, int]) -> None:
    from emulator.registry import winreg as fw

    path, name, view = arg
    wr = fw.FakeWinreg()
    sub = path.split("\\", 1)[1] if "\\" in path else path
    access = fw.KEY_ALL_ACCESS | (fw.KEY_WOW64_32KEY if view == 32 else fw.KEY_WOW64_64KEY)
    allowed = (OSError, TypeError, ValueError, OverflowError)
    try:
        with wr.CreateKeyEx(wr.HKEY_LOCAL_MACHINE, sub, 0, access) as key:
            for typ, value in ((wr.REG_SZ, name), (wr.REG_DWORD, 2**32), (wr.REG_MULTI_SZ, [name]),
                               (wr.REG_BINARY, name.encode("utf-8", "surrogatepass")),
                               (wr.REG_EXPAND_SZ, "%" + name + "%")):
                with contextlib.suppress(*allowed):
                    wr.SetValueEx(key, name, 0, typ, value)
                with contextlib.suppress(*allowed):
                    wr.QueryValueEx(key, name)
            with contextlib.suppress(*allowed):
                wr.EnumValue(key, 0)
        with contextlib.suppress(*allowed):
            wr.OpenKey(wr.HKEY_LOCAL_MACHINE, sub, 0, access)
        with contextlib.suppress(*allowed):
            wr.DeleteKeyEx(wr.HKEY_LOCAL_MACHINE, sub, access, 0)
        with contextlib.suppress(*allowed):
            wr.ExpandEnvironmentStrings(name)
    except allowed:
        pass


# -- scenario files -----------------------------------------------------------------------------

SCENARIO_BASE = """[scenario]
name = "fuzz"
description = "generated"
profiles = ["win7"]

[[steps]]
do = "connect"
count = 3
user = "user{i}"
proposed = "10.0.0.{i}"

[[steps]]
do = "probe_release_unknown"
count = 2
address = "10.254.254.{i}"

[[steps]]
do = "expect"
connected = 3
"""
SCENARIO_FRAGMENTS = [
    "count = 1000000000000\n", "count = -1\n", "count = 1.5\n", "count = \"all\"\n",
    "workers = 100000\n", "concurrent = true\n", "start = 250\n", "links = 0\n",
    "user = \"{\"\n", "user = \"}}{{\"\n", "user = \"{i*999999}\"\n", "port = \"{j}\"\n",
    "proposed = \"10.0.0.{i}{i}\"\n", "unknown = 1\n", "[[steps]]\n", "[scenario]\n",
    "do = \"connect\"\n", "do = \"nothing\"\n", "do = \"expect\"\n", "x = [[[[[[1]]]]]]\n",
    "a.b.c.d.e.f = 1\n", "=", "\"", "'''", "[", "]", "{", "}", "\x00", "\ud800", "\n",
    "sessions = \"all\"\n", "pick = \"random\"\n", "quarantine = 7\n", "min_dlls = 0\n",
    "profiles = [\"nt5\"]\n", "steal = true\n", "count = 100001\n", "a = " + "[" * 40 + "\n",
]


def gen_scenario(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return rng.choice(("a = " + "[" * 3000 + "]" * 3000, "a.b" + ".c" * 20000 + " = 1",
                           "x = {" + "y." * 20000 + "z = 1}", "a = [\n" + "[\n" * 2000))
    if rng.random() < 0.5:  # whole-line edits keep the TOML valid, so validation is reached
        lines = SCENARIO_BASE.splitlines(keepends=True)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(lines) + 1)
            frag = rng.choice([f for f in SCENARIO_FRAGMENTS if f.endswith("\n")])
            if rng.random() < 0.5 and i < len(lines) and "=" in lines[i]:
                lines[i] = frag
            else:
                lines.insert(i, frag)
        return "".join(lines)
    return mutate_text(rng, SCENARIO_BASE, SCENARIO_FRAGMENTS)


def run_scenario(text: str) -> None:
    from emulator.host.scenarios import load_scenario

    path = _scratch(".toml", text, "scn")
    load_scenario(path)


def gen_scenario_arg(rng: random.Random) -> str:
    pieces = ["basic", "many-users", "x", ".toml", "/", "\\", "\x00", "\n", "a" * 300, "b" * 5000,
              "\ud800", "\u00e9", "..", str(_WORK), " "]
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))


def run_scenario_arg(arg: str) -> None:
    from emulator.host.scenarios import load_scenario

    load_scenario(arg)


# -- reg.exe scripts and installers through validate_installer ------------------------------------

CMD_FRAGMENTS = [
    "reg add ", "reg delete ", "reg import ", "regedit /s ", "\"HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll\"",
    "HKCU\\x", " /v ", " /ve", " /t ", "REG_SZ", "REG_DWORD", "REG_MULTI_SZ", "REG_BINARY",
    "REG_QWORD", "REG_EXPAND_SZ", "REG_NONE", " /d ", " /f", " /reg:32", " /reg:64", " /s ", "\\0",
    "0xffffffffff", "-1", "zz", "%", "%%", "%~dp0", "%1", "%*", "%TARGET%", "%TARGET:~1%", "^",
    "&", "&&", "||", "|", ">nul", "2>&1", "\"", "\\\"", "set X=", "if exist ", "if not ",
    "if /i a==b ", "copy ", "xcopy ", "del ", "mkdir ", "rd /s /q ", "cd ", "pushd ", "popd",
    "exit /b 3", "goto :eof", "call ", "\r\n", "\n", "\x00", "\u00e9", "C:\\Windows\\Sysnative\\reg.exe ",
    "C:\\x\\", "..\\..\\", "@echo off", "rem ", "::", "a" * 300, "setlocal", "endlocal",
]


def _installer_samples(suffix: str) -> list[str]:
    return [p.read_text(encoding="utf-8", errors="replace")
            for p in sorted((ROOT / "fixtures" / "installers").glob("*" + suffix))]


def gen_cmd(rng: random.Random) -> str:
    samples = _CMD_SAMPLES or ["@echo off\r\n"]
    if rng.random() < 0.5:
        return mutate_text(rng, rng.choice(samples), CMD_FRAGMENTS)
    lines = ["".join(rng.choice(CMD_FRAGMENTS) for _ in range(rng.randint(1, 9)))
             for _ in range(rng.randint(1, 8))]
    return "\r\n".join(lines)


def run_cmd(text: str) -> None:
    from emulator.setup.validate import validate_installer

    path = _scratch(".cmd", text, "install")
    validate_installer(path, dll_name="contoso_rasadm.dll")


PY_FRAGMENTS = [
    "winreg.SetValueEx(k, 'DLLPath', 0, winreg.REG_SZ, 'x')\n", "winreg.DeleteKey(winreg.HKEY_LOCAL_MACHINE, KEY)\n",
    "k = winreg.CreateKey(winreg.HKEY_LOCAL_MACHINE, KEY)\n", "raise SystemExit(3)\n",
    "1/0\n", "import sys; sys.exit()\n", "(", ")", ":", "\x00", "\ud800", "'", "\"\"\"", "\t",
    "winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, 'a' * 300)\n", "open('C:/x', 'w').write('y')\n",
    "os.remove('C:/nope')\n", "KEY = None\n", "import nosuchmodule\n", "del winreg\n",
]


def gen_py(rng: random.Random) -> str:
    samples = _PY_SAMPLES or ["import winreg\n"]
    return mutate_text(rng, rng.choice(samples), PY_FRAGMENTS, rounds=3)


def run_py(text: str) -> None:
    from emulator.setup.validate import validate_installer

    path = _scratch(".py", text, "install")
    validate_installer(path, dll_name="contoso_rasadm.dll")


def run_reg_installer(data: bytes) -> None:
    from emulator.setup.validate import validate_installer

    path = _scratch(".reg", data, "install")
    validate_installer(path, dll_name="contoso_rasadm.dll")


# -- PE images ----------------------------------------------------------------------------------


def _pe_fields(data: bytes) -> list[tuple[int, int]]:
    """(file offset, width) of every header/directory field worth corrupting."""
    import pefile

    pe = pefile.PE(data=data, fast_load=True)
    pe.parse_data_directories()
    out: list[tuple[int, int]] = []

    def add(structure: Any) -> None:
        base = structure.get_file_offset()
        offs = sorted(structure.__field_offsets__.values())
        ends = [*offs[1:], structure.sizeof()]
        for off, end in zip(offs, ends, strict=True):
            if end > off:
                out.append((base + off, min(end - off, 8)))

    add(pe.DOS_HEADER)
    add(pe.FILE_HEADER)
    add(pe.OPTIONAL_HEADER)
    for d in pe.OPTIONAL_HEADER.DATA_DIRECTORY:
        add(d)
    for s in pe.sections:
        add(s)
    exp = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    if exp is not None:
        add(exp.struct)
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
        add(entry.struct)
        for imp in entry.imports[:4]:
            if imp.struct_table is not None:
                add(imp.struct_table)
    for block in getattr(pe, "DIRECTORY_ENTRY_BASERELOC", [])[:3]:
        add(block.struct)
        for ent in block.entries[:4]:
            add(ent.struct)
    tls = getattr(pe, "DIRECTORY_ENTRY_TLS", None)
    if tls is not None:
        add(tls.struct)
    return out


def gen_pe(rng: random.Random) -> bytes:
    bits = rng.choice((32, 64))
    data, fields = _PE[bits]
    k = rng.random()
    if k < 0.1:
        return data[: rng.randrange(len(data))]
    if k < 0.6:
        buf = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            off, width = rng.choice(fields)
            v = rng.choice((*INTERESTING32, rng.getrandbits(32), len(data), 0xFFFFFFFFFFFFFFFF))
            buf[off : off + width] = (v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        return bytes(buf)
    return mutate_bytes(rng, data, hot=0x400, rounds=6)


_PE_LOADER: Any = None


def run_pe(data: bytes) -> None:
    global _PE_LOADER
    from emulator.loaders.pe.loader import PeLoader

    if _PE_LOADER is None:
        _PE_LOADER = PeLoader(load_timeout=0.5)
    path = _scratch(".dll", data, "mutant")
    dll = _PE_LOADER.load(str(path))
    dll.close()


# -- ELF shared libraries (the reader; dlopen of hostile files runs in a child, see tests) --------


def gen_elf(rng: random.Random) -> bytes:
    data = _ELF or b"\x7fELF"
    if rng.random() < 0.1:
        return data[: rng.randrange(min(len(data), 4096))]
    return mutate_bytes(rng, data, hot=0x100, rounds=6)


def run_elf(data: bytes) -> None:
    from emulator.loaders.native import _check_host_format, describe_binary, list_exports

    describe_binary(data[:64])
    with contextlib.suppress(LoadError):
        _check_host_format("x.so", data)
    names = list_exports("x.so", data)
    if names is not None and not all(isinstance(n, str) for n in names):
        raise Crash(f"list_exports returned {names!r}")


# -- ABI structures -------------------------------------------------------------------------------


def gen_struct(rng: random.Random) -> tuple[str, bytes, int, int]:
    from emulator.abi import structs as S

    names = [n for n, v in vars(S).items() if isinstance(v, type) and n.isupper()
             and hasattr(v, "__dataclass_fields__")]
    name = rng.choice(sorted(names))
    bits = rng.choice((32, 64))
    size = S.sizeof(name, bits)
    n = rng.choice((0, 1, size - 1, size, size + 7, size * 2)) if size else 0
    data = bytes(rng.choice((0, 0xFF, rng.randrange(256))) for _ in range(max(n, 0)))
    return name, data, bits, rng.choice((0, 1, 2, -1, 1000))


def run_struct(arg: tuple[str, bytes, int, int]) -> None:
    from emulator.abi import structs as S

    name, data, bits, count = arg
    S.unpack(name, data, bits)
    S.unpack(name, memoryview(data), bits, base=0x1000)
    S.unpack_array(name, data, count, bits)


# -- command line -------------------------------------------------------------------------------


def _cli_paths() -> list[str]:
    d = _WORK / "cli"
    d.mkdir(exist_ok=True)
    (d / "empty.dll").write_bytes(b"")
    (d / "empty.reg").write_bytes(b"")
    (d / "empty.toml").write_bytes(b"")
    (d / "junk.dll").write_bytes(b"MZ" + b"\xff" * 100)
    (d / "text.reg").write_text("hello", encoding="utf-8")
    (d / "sub.dll").mkdir(exist_ok=True)
    odd = [str(d / "empty.dll"), str(d / "empty.reg"), str(d / "empty.toml"),
           str(d / "junk.dll"), str(d / "text.reg"), str(d / "sub.dll"), str(d),
           str(d / "no such.dll"), str(d / "nl\nname.dll"), str(d / "\u00e9\u6f22\U0001f600.reg"),
           "", "-", "--", "\x7f", "a" * 5000, str(d / "x\rname.reg")]
    for p in odd[8:10]:
        with contextlib.suppress(OSError, ValueError):
            Path(p).write_bytes(b"MZ")
    return odd


CLI_SHAPES = [
    ["check", "{p}"], ["check", "{p}", "--scenario", "{p}"], ["check", "--config", "{p}", "{p}"],
    ["run", "{p}", "--scenario", "{p}"], ["inspect", "{p}"], ["reg", "check", "{p}"],
    ["reg", "export", "--from", "{p}", "HKLM"], ["reg", "diff", "{p}", "{p}"],
    ["setup", "check", "--install", "{p}"], ["setup", "check", "--install", "{p}", "--uninstall", "{p}"],
    ["check", "{p}", "--profile", "{p}"], ["check", "{p}", "--loader", "pe"],
]


def gen_cli(rng: random.Random) -> list[str]:
    shape = rng.choice(CLI_SHAPES)
    return [rng.choice(_CLI_PATHS) if a == "{p}" else a for a in shape]


def run_cli(argv: list[str]) -> None:
    from emulator.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    old = os.getcwd()
    os.chdir(_WORK)  # no rasemu.toml / pyproject of the caller is picked up
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
            except SystemExit as exc:
                code = exc.code
    finally:
        os.chdir(old)
    text = err.getvalue()
    if "Traceback" in text or "Traceback" in out.getvalue():
        raise Crash(f"traceback printed for {argv!r}: {text[-300:]!r}")
    if code not in (0, 1, 2, None):
        raise Crash(f"exit status {code!r} for {argv!r}: {text[-300:]!r}")
    if code == 2:
        lines = text.strip("\n").split("\n")
        if lines[0].startswith("rasemu: error:"):
            if len(lines) != 1:
                raise Crash(f"error is not one line for {argv!r}: {text!r}")
            raise InputError(lines[0])
        if not lines[-1].startswith("Error:"):
            raise Crash(f"exit 2 without an error line for {argv!r}: {text!r}")
        raise InputError("usage: " + lines[-1])


# ---------------------------------------------------------------------------------------------
# target table (fixture data loaded lazily, once)

_REG_SAMPLES: list[bytes] = []
_CMD_SAMPLES: list[str] = []
_PY_SAMPLES: list[str] = []
_PE: dict[int, tuple[bytes, list[tuple[int, int]]]] = {}
_ELF: bytes = b""
_CLI_PATHS: list[str] = []


def _prepare(names: Sequence[str]) -> None:
    global _ELF
    if not _REG_SAMPLES:
        _REG_SAMPLES.extend(_reg_samples())
    if not _CMD_SAMPLES:
        _CMD_SAMPLES.extend(_installer_samples(".cmd"))
        _PY_SAMPLES.extend(_installer_samples(".py"))
    if "pe" in names and not _PE:
        for bits in (32, 64):
            data = (ROOT / "fixtures" / "dlls" / "prebuilt" / f"good{bits}.dll").read_bytes()
            _PE[bits] = (data, _pe_fields(data))
    if "elf" in names and not _ELF:
        with contextlib.suppress(Exception):  # no C compiler: the ELF target mutates a stub
            from fixtures.dlls.build import native_library

            _ELF = native_library("good").read_bytes()
    if "cli" in names and not _CLI_PATHS:
        _CLI_PATHS.extend(_cli_paths())


def targets() -> dict[str, Target]:
    """Every fuzz target by name."""
    from emulator.abi import structs  # noqa: F401  (import cost outside the timed loop)

    return {
        t.name: t
        for t in (
            Target("regfile", gen_reg, run_reg, (InputError,), ".reg"),
            Target("regpath", gen_path, run_path, (), ".txt"),
            Target("winreg", gen_path, run_winreg, (), ".txt"),
            Target("scenario", gen_scenario, run_scenario, (InputError,), ".toml"),
            Target("scenarioarg", gen_scenario_arg, run_scenario_arg, (InputError,), ".txt"),
            Target("regexe", gen_cmd, run_cmd, (InputError,), ".cmd"),
            Target("pyinstaller", gen_py, run_py, (InputError,), ".py"),
            Target("reginstaller", gen_reg, run_reg_installer, (InputError,), ".reg"),
            Target("pe", gen_pe, run_pe, (LoadError,), ".dll", timeout=15.0),
            Target("elf", gen_elf, run_elf, (), ".so"),
            Target("structs", gen_struct, run_struct, (ValueError,), ".txt"),
            Target("cli", gen_cli, run_cli, (InputError,), ".txt", timeout=30.0),
        )
    }


# ---------------------------------------------------------------------------------------------
# the campaign


@dataclass
class TargetStats:
    """What one target's share of the campaign found."""

    name: str
    tried: int = 0
    ok: int = 0
    seconds: float = 0.0
    messages: dict[str, int] = field(default_factory=dict)
    crashes: list[tuple[str, str]] = field(default_factory=list)  # (summary, saved input path)
    slowest: float = 0.0
    slowest_input: str = ""
    peak_rss_mb: float = 0.0
    peak_traced_mb: float = 0.0

    @property
    def rate(self) -> float:
        return self.tried / self.seconds if self.seconds else 0.0


def _rss_mb() -> float:
    """Peak resident memory of this process in MB (0 where ``resource`` is missing: Windows)."""
    try:
        import resource
    except ImportError:
        return 0.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


def _describe(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, bytes):
        text = f"{len(value)} bytes {value[:24]!r}"
    return text[:100] + ("..." if len(text) > 100 else "")


def fuzz_one(target: Target, value: Any, stats: TargetStats, crash_dir: Path) -> None:
    """Run one input and record the outcome in ``stats`` (never raises for the input's sake)."""
    t0 = time.perf_counter()
    problem: str | None = None
    try:
        with time_limit(target.timeout):
            extra = target.run(value)
        stats.ok += 1
        for msg in extra or ():
            key = message_class(msg)
            stats.messages[key] = stats.messages.get(key, 0) + 1
    except FuzzTimeout as exc:
        problem = f"hang: {exc}"
    except Crash as exc:
        problem = str(exc)
    except target.allowed as exc:
        try:
            msg = check_message(exc)
            key = message_class(msg)
            stats.messages[key] = stats.messages.get(key, 0) + 1
        except Crash as bad:
            problem = str(bad)
    except MemoryError:
        problem = "MemoryError"
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        problem = (f"{type(exc).__name__}: {str(exc)[:160]} "
                   f"[{Path(frame.filename).name}:{frame.lineno}]")
    elapsed = time.perf_counter() - t0
    stats.tried += 1
    stats.seconds += elapsed
    if elapsed > stats.slowest:
        stats.slowest, stats.slowest_input = elapsed, _describe(value)
    if problem is not None:
        saved = target.save(value, crash_dir, len(stats.crashes))
        stats.crashes.append((problem, str(saved)))


def run_campaign(
    seconds: float,
    names: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    crash_dir: Path | None = None,
    trace_memory: bool = False,
    out: Callable[[str], None] | None = None,
) -> dict[str, TargetStats]:
    """Cycle through ``names`` (default: all) for about ``seconds``; return per-target stats."""
    table = targets()
    chosen = list(names or table)
    unknown = [n for n in chosen if n not in table]
    if unknown:
        raise SystemExit(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(table)}")
    _prepare(chosen)
    rng = random.Random(seed)
    crash_dir = crash_dir or Path(tempfile.mkdtemp(prefix="rasemu-fuzz-crashes-"))
    stats = {n: TargetStats(n) for n in chosen}
    share = seconds / len(chosen)
    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        for n in chosen:
            target, st = table[n], stats[n]
            slot_end = min(deadline, time.monotonic() + min(share, 2.0))
            if trace_memory:
                tracemalloc.start()
            while True:
                value = target.generate(rng)
                fuzz_one(target, value, st, crash_dir)
                if time.monotonic() >= slot_end:
                    break
            if trace_memory:
                st.peak_traced_mb = max(st.peak_traced_mb, tracemalloc.get_traced_memory()[1] / 1e6)
                tracemalloc.stop()
            st.peak_rss_mb = max(st.peak_rss_mb, _rss_mb())
            if time.monotonic() >= deadline:
                break
        rounds += 1
    if out is not None:
        report(stats, crash_dir, out)
    return stats


def report(stats: dict[str, TargetStats], crash_dir: Path, out: Callable[[str], None]) -> None:
    """Print the per-target table and every crash."""
    out(f"{'target':13s} {'inputs':>7s} {'inp/s':>8s} {'ok':>6s} {'errors':>6s} {'crashes':>7s} "
        f"{'slowest':>8s} {'peakRSS':>8s} {'traced':>7s}")
    for st in stats.values():
        out(f"{st.name:13s} {st.tried:7d} {st.rate:8.1f} {st.ok:6d} {len(st.messages):6d} "
            f"{len(st.crashes):7d} {st.slowest:7.3f}s {st.peak_rss_mb:6.0f}MB "
            f"{st.peak_traced_mb:5.1f}MB")
    for st in stats.values():
        out(f"\n[{st.name}] slowest input ({st.slowest:.3f} s): {st.slowest_input}")
        for msg, count in sorted(st.messages.items(), key=lambda kv: -kv[1])[:8]:
            out(f"  {count:6d}  {msg}")
        if len(st.messages) > 8:
            out(f"  ... {len(st.messages) - 8} more distinct messages")
        kinds: dict[str, list[str]] = {}
        for problem, path in st.crashes:
            kinds.setdefault(message_class(problem), []).append(path)
        for kind, paths in kinds.items():
            out(f"  CRASH x{len(paths)} {kind}\n        first input: {paths[0]}")
    total = sum(len(s.crashes) for s in stats.values())
    out(f"\n{sum(s.tried for s in stats.values())} inputs, {total} crashes; inputs saved in {crash_dir}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="campaign length (default 60)")
    ap.add_argument("--target", action="append", help="only this target (repeatable): "
                    + ", ".join(targets()))
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also trace Python allocations (slower) for a per-target peak")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"seed {seed}, {args.seconds:g} s, targets: {', '.join(args.target or targets())}")
    stats = run_campaign(args.seconds, args.target, seed=seed, trace_memory=args.tracemalloc,
                         out=print)
    return 1 if any(s.crashes for s in stats.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
