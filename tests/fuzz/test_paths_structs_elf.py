"""Registry paths and the winreg drop-in with odd text; ABI structures from short or garbage
buffers; the ELF reader (and dlopen, in a child process) with damaged shared libraries.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz
from emulator.abi import structs as S
from emulator.errors import LoadError
from emulator.loaders.native import _check_host_format, list_exports
from emulator.registry import Registry
from emulator.registry.model import RegistryPathError, split_path
from emulator.registry.winreg import FakeWinreg

from .helpers import check

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ODD = st.lists(st.sampled_from(["\\", "a", "K", "\x00", "\ud800", "\U0001f600", " ", ".", "\n",
                                "HKLM", "HKEY_CURRENT_USER", "\u0130", "/", "a" * 255]),
               max_size=20).map("".join)


@settings(SETTINGS, max_examples=300)
@given(path=ODD)
def test_split_path_gives_components_or_a_path_error(path: str) -> None:
    try:
        root, names = split_path(path)
    except RegistryPathError as exc:
        assert exc.winerror and str(exc)
        return
    assert root.startswith("HKEY_") and all(n and "\\" not in n and "\x00" not in n for n in names)


BAD_PATHS = ["HKLM\\" + "a" * 256, "HKLM\\" + "k\\" * 512 + "k", "HKLM\\a\\\\b", "HKLM\\",
             "HKLM\\a\x00", "", "\\", "HKXX\\a", "HKLM\\" + "\\" * 1000]
ODD_PATHS = ["HKLM\\" + "\U0001f600" * 255, "HKLM\\\ud800", "HKLM\\" + "k\\" * 511 + "k",
             "HKLM\\ \\.\\..\\*\\?", "HKLM\\" + "a" * 255]


@pytest.mark.parametrize("path", BAD_PATHS + ODD_PATHS)
def test_registry_and_winreg_odd_paths(path: str) -> None:
    reg = Registry()
    if path in BAD_PATHS:
        with pytest.raises(RegistryPathError):
            reg.create_key(path)
    else:
        reg.create_key(path)
        assert reg.key_exists(path)
    # winreg semantics: a refused path is an OSError (ValueError for an embedded NUL)
    wr = FakeWinreg(Registry())
    sub = path.split("\\", 1)[1] if "\\" in path else path
    try:
        wr.CreateKey(wr.HKEY_LOCAL_MACHINE, sub).Close()
    except OSError as exc:
        assert path in BAD_PATHS and isinstance(exc.errno, int)
    except ValueError:
        assert "\x00" in sub


@settings(SETTINGS, max_examples=150)
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_registry_and_winreg_calls(seed: int, tmp_path: Path) -> None:
    arg = fuzz.gen_path(random.Random(seed))
    check("regpath", arg, tmp_path)
    check("winreg", arg, tmp_path)


STRUCTS = sorted(n for n, v in vars(S).items() if isinstance(v, type) and n.isupper()
                 and hasattr(v, "__dataclass_fields__"))


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("name", STRUCTS)
def test_struct_unpack_short_and_garbage(name: str, bits: int) -> None:
    size = S.sizeof(name, bits)
    for n in {0, 1, size // 2, size - 1} - {size}:
        with pytest.raises(ValueError, match=f"need {size} bytes"):
            S.unpack(name, bytes(n), bits)
    rng = random.Random(size)
    for fill in (b"\xff" * size, bytes(rng.randrange(256) for _ in range(size))):
        S.unpack(name, fill, bits)
        S.unpack(name, memoryview(fill), bits, base=0x10000)
    with pytest.raises(ValueError):
        S.unpack_array(name, bytes(size), 2, bits)


@settings(SETTINGS, max_examples=200)
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_struct_buffers(seed: int, tmp_path: Path) -> None:
    check("structs", fuzz.gen_struct(random.Random(seed)), tmp_path)


def _elf() -> bytes:
    fuzz._prepare(["elf"])
    if not fuzz._ELF:
        pytest.skip("no C compiler to build the native fixture library")
    return fuzz._ELF


def test_elf_reader_truncations() -> None:
    data = _elf()
    for n in sorted({*range(0, 80), *range(80, len(data), 211)}):
        head = data[:n]
        try:
            _check_host_format("x.so", head)
        except LoadError as exc:
            assert "\n" not in str(exc)
        names = list_exports("x.so", head)
        assert names is None or all(isinstance(x, str) for x in names)


@settings(SETTINGS, max_examples=300)
@given(seed=st.integers(0, 2**32 - 1))
def test_elf_reader_mutations(seed: int, tmp_path: Path) -> None:
    _elf()
    check("elf", fuzz.gen_elf(random.Random(seed)), tmp_path)


_CHILD = """
import sys
from emulator.errors import LoadError
from emulator.loaders.native import NativeLoader
try:
    NativeLoader().load(sys.argv[1]).close()
    print("loaded")
except LoadError as exc:
    print("LoadError", str(exc).count(chr(10)))
"""


def _child_load(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.skipif(sys.platform != "linux", reason="ELF shared objects load on Linux")
def test_truncated_libraries_are_refused_before_dlopen(tmp_path: Path) -> None:
    """A truncated .so used to kill the process with SIGBUS inside dlopen; now a LoadError.

    dlopen runs in a child so that a regression cannot take the test run with it.
    """
    data = _elf()
    for n in (0, 4, 16, 64, 200, len(data) // 2, len(data) - 4096):
        path = tmp_path / f"lib{n}.so"
        path.write_bytes(data[:n])
        proc = _child_load(path)
        assert proc.returncode == 0, (n, proc.returncode, proc.stderr[-2000:])
        # past the last loaded segment only section headers are lost: dlopen copes
        expected = ("loaded", "LoadError 0") if n >= len(data) - 4096 else ("LoadError 0",)
        assert proc.stdout.strip() in expected, (n, proc.stdout, proc.stderr[-2000:])


@pytest.mark.skipif(sys.platform != "linux", reason="ELF shared objects load on Linux")
def test_damaged_headers_never_leave_a_traceback(tmp_path: Path) -> None:
    """Header damage: a LoadError or a load. Damaged *code* runs natively and may crash the
    process (the native loader trusts the library's code; --isolate contains that)."""
    data = _elf()
    rng = random.Random(7)
    for i in range(6):
        path = tmp_path / f"lib{i}.so"
        path.write_bytes(fuzz.mutate_bytes(rng, data, hot=0x40, rounds=2))
        proc = _child_load(path)
        if proc.returncode < 0:
            continue
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert proc.stdout.strip() in ("loaded", "LoadError 0"), proc.stdout
