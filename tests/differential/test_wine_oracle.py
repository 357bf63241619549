"""Wine as an oracle: the same GetIp/Release sequence on Windows code (Wine) and in rasemu's PE loader.

fixtures/dlls/src_oracle/host.c loads the admin DLL with LoadLibraryW, resolves the plain export
names with GetProcAddress and prints one line per call (rc, the address's four bytes as they
lie in memory, the notify flag). Under Wine that is the DLL's behaviour on a Windows loader;
:func:`pe_lines` replays the identical sequence through rasemu's PE loader and must print the
same lines. Wine is not installed here (nor by CI): those tests skip, while the build of the
host for both bitnesses and the replay itself are tested without it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pefile
import pytest

from emulator.loaders.base import Call
from emulator.loaders.select import open_dll
from fixtures.dlls.build import native_library, prebuilt_dll
from fixtures.dlls.build_oracle import (
    SENTINEL,
    build_host,
    content_hash,
    host_arguments,
    run_under_wine,
    windows_path,
    wine_command,
)

#: (user, port, proposed): plain users, a proposal from the pool, the same proposal again while
#: it is leased (the DLL must pick another), a proposal outside the pool, a maximum-length port
CALLS: tuple[tuple[str, str, str], ...] = (
    ("alice", "VPN1-0", "0.0.0.0"),
    ("bob", "VPN1-1", "0.0.0.0"),
    ("carol", "VPN1-2", "192.168.100.40"),
    ("dave", "VPN1-3", "192.168.100.40"),
    ("eve", "VPN1-4", "10.0.0.1"),
    ("Mallory.Long-Name", "PPPoE-port-0123", "0.0.0.0"),
)
CYCLES = 3
GET, RELEASE = "MprAdminGetIpAddressForUser", "MprAdminReleaseIpAddress"


def _dword(value: int | None) -> int:
    assert value is not None, "a DWORD callback returned nothing"
    return value & 0xFFFFFFFF


def _ascii(text: str) -> str:
    return "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text)


def _dotted(value: int) -> str:
    return ".".join(str(b) for b in (value & 0xFFFFFFFF).to_bytes(4, "little"))


def _proposal(text: str) -> int:
    return int.from_bytes(bytes(int(p) for p in text.split(".")), "little")


def pe_lines(dll: Path, bits: int, cycles: int = CYCLES,
             calls: Sequence[tuple[str, str, str]] = CALLS, loader: str = "pe") -> list[str]:
    """host.c's output for this sequence, produced through a rasemu loader instead of Windows."""
    admin = open_dll(str(dll), loader=loader, bitness=bits, isolate=False)
    lines: list[str] = []
    try:
        if "MprAdminInitializeDll" in admin.exports:
            res = admin.handle_call(Call("MprAdminInitializeDll", ()))
            lines.append(f"init rc={_dword(res.returned)}")
        else:
            lines.append("init absent")
        for cycle in range(cycles):
            got: list[tuple[int, int, int]] = []
            for i, (user, port, proposed) in enumerate(calls):
                res = admin.handle_call(Call(GET, (user, port, _proposal(proposed), SENTINEL)))
                assert res.fault is None, res.fault
                rc = _dword(res.returned)
                addr = int(res.outputs.get(2, _proposal(proposed))) & 0xFFFFFFFF
                notify = int(res.outputs.get(3, SENTINEL)) & 0xFFFFFFFF
                got.append((rc, addr, notify))
                lines.append(f"get {cycle} {i} {_ascii(user)} {_ascii(port)} rc={rc} "
                             f"addr={_dotted(addr)} notify={notify}")
            for i, ((user, port, _), (rc, addr, notify)) in enumerate(zip(calls, got,
                                                                          strict=True)):
                if rc != 0 or addr == 0 or notify == 0:
                    continue
                res = admin.handle_call(Call(RELEASE, (user, port, addr)))
                assert res.fault is None, res.fault
                lines.append(f"release {cycle} {i} {_ascii(user)} {_ascii(port)} "
                             f"addr={_dotted(addr)}")
        if "MprAdminTerminateDll" in admin.exports:
            res = admin.handle_call(Call("MprAdminTerminateDll", ()))
            lines.append(f"terminate rc={_dword(res.returned)}")
        else:
            lines.append("terminate absent")
    finally:
        admin.close()
    return lines


# ----------------------------------------------------------------------- without Wine


@pytest.mark.mingw
@pytest.mark.parametrize("bits", [32, 64])
def test_oracle_host_builds(bits: int, tmp_path: Path) -> None:
    """host.c compiles with mingw for both bitnesses into a console program importing the loader API."""
    exe = build_host(bits, tmp_path)
    assert exe.parent.name == content_hash(bits)
    pe = pefile.PE(str(exe))
    try:
        assert pe.FILE_HEADER.Machine == (0x14C if bits == 32 else 0x8664)
        assert pe.OPTIONAL_HEADER.Subsystem == 3  # IMAGE_SUBSYSTEM_WINDOWS_CUI
        assert not pe.is_dll()
        imports = {(e.dll.decode().lower(), i.name.decode())
                   for e in pe.DIRECTORY_ENTRY_IMPORT for i in e.imports if i.name}
    finally:
        pe.close()
    for name in ("LoadLibraryW", "GetProcAddress", "FreeLibrary"):
        assert ("kernel32.dll", name) in imports
    # cached: a second request reuses the file
    stamp = exe.stat().st_mtime_ns
    assert build_host(bits, tmp_path) == exe and exe.stat().st_mtime_ns == stamp


def test_content_hash_depends_on_bitness() -> None:
    assert content_hash(32) != content_hash(64)
    assert len(content_hash(64)) == 16


def test_host_arguments_and_paths(tmp_path: Path) -> None:
    args = host_arguments("Z:\\x\\good64.dll", 2, CALLS[:2])
    assert args == ["Z:\\x\\good64.dll", "2", "alice", "VPN1-0", "0.0.0.0",
                    "bob", "VPN1-1", "0.0.0.0"]
    dll = tmp_path / "a b" / "good64.dll"
    assert windows_path(dll) == "Z:" + str(dll.resolve()).replace("/", "\\")


def test_pe_replay_prints_the_reference_behaviour() -> None:
    """The PE replay of good64.dll prints what the reference DLL must do (README: pool, notify)."""
    lines = pe_lines(prebuilt_dll("good", 64), 64, cycles=2)
    assert lines[0] == "init rc=0" and lines[-1] == "terminate rc=0"
    n = len(CALLS)
    first = lines[1 : 1 + n]
    assert first == [
        "get 0 0 alice VPN1-0 rc=0 addr=192.168.100.10 notify=1",
        "get 0 1 bob VPN1-1 rc=0 addr=192.168.100.11 notify=1",
        "get 0 2 carol VPN1-2 rc=0 addr=192.168.100.40 notify=1",
        "get 0 3 dave VPN1-3 rc=0 addr=192.168.100.12 notify=1",
        "get 0 4 eve VPN1-4 rc=0 addr=192.168.100.13 notify=1",
        "get 0 5 Mallory.Long-Name PPPoE-port-0123 rc=0 addr=192.168.100.14 notify=1",
    ]
    releases = lines[1 + n : 1 + 2 * n]
    assert [ln.split()[0] for ln in releases] == ["release"] * n
    # everything was released: the second cycle hands out the same addresses again
    second = lines[1 + 2 * n : 1 + 3 * n]
    assert [ln.replace("get 1 ", "get 0 ", 1) for ln in second] == first


@pytest.mark.parametrize(("variant", "needle"), [
    ("bad_byteswap", "addr=10.100.168.192"),
    ("bad_no_notify", f"notify={SENTINEL}"),
    ("bad_dup_address", "get 0 1 bob VPN1-1 rc=0 addr=192.168.100.10"),
])
def test_pe_replay_shows_a_broken_variant(variant: str, needle: str) -> None:
    """The oracle's lines expose each break (so an agreeing Wine run is a real check)."""
    assert any(needle in ln for ln in pe_lines(prebuilt_dll(variant, 64), 64, cycles=1))


@pytest.mark.parametrize("variant", ["good", "bad_byteswap", "bad_no_notify"])
def test_pe_replay_agrees_across_bitness_and_native(variant: str) -> None:
    """x86 and x64 PE builds under emulation and the host library via cffi print the same lines."""
    x64 = pe_lines(prebuilt_dll(variant, 64), 64)
    assert pe_lines(prebuilt_dll(variant, 32), 32) == x64
    assert pe_lines(native_library(variant), 64, loader="native") == x64


# ----------------------------------------------------------------------- with Wine


def _wine_skip_reason(bits: int, proc: subprocess.CompletedProcess[str]) -> str | None:
    """Why a failed Wine run means "no Wine for this bitness" rather than a divergence."""
    text = (proc.stderr + proc.stdout).lower()
    for hint in ("bad exe format", "wow64", "not supported", "cannot execute", "wine64",
                 "is a 32-bit installation", "could not load"):
        if hint in text:
            return f"wine cannot run {bits}-bit programs here: {proc.stderr.strip()[:300]}"
    return None


@pytest.mark.wine
@pytest.mark.mingw
@pytest.mark.parametrize("bits", [64, 32])
def test_wine_oracle(bits: int) -> None:
    """host.exe under Wine and the PE loader print the same lines for good<bits>.dll."""
    if wine_command() is None:
        pytest.skip("wine is not on PATH: the Wine oracle needs Wine installed (rasemu and CI "
                    "never install it)")
    exe = build_host(bits)
    dll = prebuilt_dll("good", bits)
    proc = run_under_wine(exe, dll, CYCLES, CALLS)
    if proc.returncode != 0:
        reason = _wine_skip_reason(bits, proc)
        if reason is not None and bits == 32:
            pytest.skip(reason)
        pytest.fail(f"host{bits}.exe under wine exited {proc.returncode}\n"
                    f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    wine_lines = [ln.rstrip("\r") for ln in proc.stdout.splitlines() if ln.strip()]
    expected = pe_lines(dll, bits)
    for i, (w, e) in enumerate(zip(wine_lines, expected, strict=False)):
        assert w == e, f"line {i}: wine printed {w!r}, the PE loader {e!r}"
    assert len(wine_lines) == len(expected), (wine_lines[len(expected):],
                                              expected[len(wine_lines):])
