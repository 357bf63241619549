"""Fixtures for the PE loader tests: the project's prebuilt sample DLLs and small test DLLs
compiled from tests/pe/csrc/testdll.c with mingw-w64 (skipped when mingw is absent)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.loaders.pe import PeDll, PeLoader

CSRC = Path(__file__).parent / "csrc"
GCC = {32: "i686-w64-mingw32-gcc", 64: "x86_64-w64-mingw32-gcc"}
DLLTOOL = {32: "i686-w64-mingw32-dlltool", 64: "x86_64-w64-mingw32-dlltool"}


def prebuilt(variant: str, bits: int) -> Path:
    """A committed sample DLL from fixtures/dlls/prebuilt."""
    from fixtures.dlls.build import prebuilt_dll

    return Path(prebuilt_dll(variant, bits))


def _cache_dir() -> Path:
    d = Path(tempfile.gettempdir()) / "rasemu-pe-testdlls"
    d.mkdir(exist_ok=True)
    return d


def build_testdll(
    bits: int, *defines: str, ws2: str | None = None, deffile: str | None = None
) -> Path:
    """Compile testdll.c for ``bits`` with ``-D`` ``defines``; ``ws2`` = "ordinal" or "delay"
    links ws2_32 htonl/ntohl by ordinal (an import library made from a .def file) or delay-loaded;
    ``deffile`` (in csrc/) replaces the export list."""
    gcc = GCC[bits]
    if shutil.which(gcc) is None:
        pytest.skip(f"{gcc} not installed")
    src = (CSRC / "testdll.c").read_bytes()
    key = hashlib.sha256(src + repr((bits, defines, ws2, deffile)).encode()).hexdigest()[:16]
    out = _cache_dir() / f"testdll{bits}-{key}.dll"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [gcc, "-shared", "-O2", "-o", str(Path(tmp) / "t.dll"), str(CSRC / "testdll.c")]
        if bits == 32:
            cmd.append("-Wl,--kill-at")
        cmd += [f"-D{d}" for d in defines]
        absent = Path(tmp) / "libabsent.a"
        absent_def = CSRC / ("absent32.def" if bits == 32 else "absent.def")
        subprocess.run(
            [DLLTOOL[bits], "-d", str(absent_def), "-l", str(absent)]
            + (["-k"] if bits == 32 else []),
            check=True,
            capture_output=True,
        )
        cmd.append(str(absent))
        if deffile is not None:
            cmd.append(str(CSRC / deffile))
        if ws2 is not None:
            deffile = CSRC / ("ws2_32.def" if bits == 32 else "ws2.def")
            lib = Path(tmp) / "libws.a"
            flag = "-l" if ws2 == "ordinal" else "-y"
            tool = [DLLTOOL[bits], "-d", str(deffile), flag, str(lib)] + (
                ["-k"] if bits == 32 else []
            )
            subprocess.run(tool, check=True, capture_output=True)
            cmd += ["-DWITH_WS2", str(lib)]
        subprocess.run(cmd, check=True, capture_output=True)
        tmp_out = out.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(Path(tmp) / "t.dll", tmp_out)
        os.replace(tmp_out, out)
    return out


@pytest.fixture(params=[32, 64], ids=["x86", "x64"])
def bits(request: pytest.FixtureRequest) -> int:
    """Both bitnesses."""
    return int(request.param)


@pytest.fixture
def good(bits: int) -> Iterator[PeDll]:
    """The reference sample DLL, loaded."""
    dll = PeLoader().load(str(prebuilt("good", bits)), bitness=bits)
    yield dll
    dll.close()


@pytest.fixture
def testdll(bits: int) -> Iterator[PeDll]:
    """tests/pe/csrc/testdll.c, loaded."""
    dll = PeLoader().load(str(build_testdll(bits)), bitness=bits)
    yield dll
    dll.close()


def build_ucrtdll(bits: int) -> Path:
    """csrc/ucrtdll.c linked against the UCRT import library (api-ms-win-crt-*), no CRT startup."""
    gcc = GCC[bits]
    if shutil.which(gcc) is None:
        pytest.skip(f"{gcc} not installed")
    src = (CSRC / "ucrtdll.c").read_bytes()
    key = hashlib.sha256(src + repr(bits).encode()).hexdigest()[:16]
    out = _cache_dir() / f"ucrtdll{bits}-{key}.dll"
    if out.exists():
        return out
    entry = "DllEntry" if bits == 64 else "_DllEntry@12"
    with tempfile.TemporaryDirectory() as tmp:
        dll = Path(tmp) / "u.dll"
        cmd = [
            gcc,
            "-shared",
            "-O2",
            "-nostartfiles",
            "-e",
            entry,
            "-o",
            str(dll),
            str(CSRC / "ucrtdll.c"),
        ]
        if bits == 32:
            cmd.append("-Wl,--kill-at")
        subprocess.run([*cmd, "-lucrt", "-lkernel32"], check=True, capture_output=True)
        tmp_out = out.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(dll, tmp_out)
        os.replace(tmp_out, out)
    return out
