"""A real MSVC-built DLL that nobody in this project wrote: MarkupSafe's ``_speedups`` extension.

MarkupSafe 2.1.5's Windows wheels carry ``_speedups.cp311-win_amd64.pyd`` / ``-win32.pyd``: small
MSVC /MD DLLs (VCRUNTIME140 + api-ms-win-crt-* + KERNEL32 + python311.dll). The wheels are
fetched with pip in the module's setup and cached under fixtures/build/wheels/ (git-ignored); the
tests skip when the download fails (no network). Pinned files and hashes:

* ``MarkupSafe-2.1.5-cp311-cp311-win_amd64.whl``
  sha256 2b7c57a4dfc4f16f7142221afe5ba4e093e09e728ca65c51f5620c9aaeb9a617,
  ``markupsafe/_speedups.cp311-win_amd64.pyd`` (15872 bytes)
  sha256 304aa793204e1e6b2dc10af9d212a2b68bc78eb1e1309d20626c9ae05bb50cad
* ``MarkupSafe-2.1.5-cp311-cp311-win32.whl``
  sha256 397081c1a0bfb5124355710fe79478cdbeb39626492b15d399526ae53422b906,
  ``markupsafe/_speedups.cp311-win32.pyd`` (13312 bytes)
  sha256 a3dc07cd22bb94cb61f87d3543bb6491cf7078cc9b5cd3396d45e7810719aa82
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.abi.callbacks import SIGNATURES
from emulator.loaders.pe.loader import PeDll, PeLoader
from emulator.loaders.pe.winapi import REGISTRY, load_all

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "fixtures" / "build" / "wheels"
PACKAGE = "markupsafe"
VERSION = "2.1.5"
WHEELS = {
    64: (
        "MarkupSafe-2.1.5-cp311-cp311-win_amd64.whl",
        "2b7c57a4dfc4f16f7142221afe5ba4e093e09e728ca65c51f5620c9aaeb9a617",
        "markupsafe/_speedups.cp311-win_amd64.pyd",
        "304aa793204e1e6b2dc10af9d212a2b68bc78eb1e1309d20626c9ae05bb50cad",
        "win_amd64",
    ),
    32: (
        "MarkupSafe-2.1.5-cp311-cp311-win32.whl",
        "397081c1a0bfb5124355710fe79478cdbeb39626492b15d399526ae53422b906",
        "markupsafe/_speedups.cp311-win32.pyd",
        "a3dc07cd22bb94cb61f87d3543bb6491cf7078cc9b5cd3396d45e7810719aa82",
        "win32",
    ),
}
#: what the pyd imports from the Python runtime: the emulator has none of it
PYTHON_IMPORTS = {
    "_Py_NoneStruct", "PyUnicode_InternFromString", "PyUnicode_New", "PyBool_Type", "PyFloat_Type",
    "PyLong_Type", "_Py_Dealloc", "PyObject_CallFunctionObjArgs", "PyModule_Create2",
    "PyObject_GetAttrString", "PyErr_Clear", "PyObject_CallObject", "PyObject_Str", "_PyUnicode_Ready",
    "PyObject_GetAttr", "PyImport_ImportModule",
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_pyd(bits: int) -> Path:
    """The pinned .pyd for ``bits`` (downloaded once, verified); skips the test when offline."""
    wheel, wheel_sha, member, pyd_sha, platform = WHEELS[bits]
    CACHE.mkdir(parents=True, exist_ok=True)
    whl = CACHE / wheel
    if not whl.is_file():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--platform", platform, "--python-version", "3.11", f"{PACKAGE}=={VERSION}",
               "-d", str(CACHE), "--disable-pip-version-check", "-q"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"cannot download {wheel} (no network?): {exc}")
        if proc.returncode or not whl.is_file():
            pytest.skip(f"cannot download {wheel} (no network?): {proc.stderr.strip()[-300:]}")
    got = _sha256(whl.read_bytes())
    assert got == wheel_sha, f"{whl}: sha256 {got} is not the pinned {wheel_sha}; delete it and rerun"
    pyd = CACHE / Path(member).name
    if not pyd.is_file():
        with zipfile.ZipFile(whl) as z:
            pyd.write_bytes(z.read(member))
    assert _sha256(pyd.read_bytes()) == pyd_sha
    return pyd


class Trace:
    """Records every Python-handled import call (by ``dll!name``) while active."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.active = False


@pytest.fixture(scope="module")
def trace() -> Iterator[Trace]:
    load_all()
    t = Trace()
    saved = dict(REGISTRY)
    for key, spec in saved.items():
        if spec.kind != "python" or spec.handler is None:
            continue

        def make(handler=spec.handler, label=spec.label):  # type: ignore[no-untyped-def]
            def traced(ctx, *args):  # type: ignore[no-untyped-def]
                if t.active:
                    t.calls.append(label)
                return handler(ctx, *args)

            return traced

        REGISTRY[key] = dataclasses.replace(spec, handler=make())
    try:
        yield t
    finally:
        REGISTRY.clear()
        REGISTRY.update(saved)


@pytest.fixture(scope="module", params=[64, 32], ids=["x64", "x86"])
def bits(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(scope="module")
def pyd(bits: int) -> Path:
    return fetch_pyd(bits)


def test_loads_runs_crt_startup_and_unloads(pyd: Path, bits: int, trace: Trace) -> None:
    trace.calls.clear()
    trace.active = True
    try:
        dll: PeDll = PeLoader().load(str(pyd), bitness=bits)
        loaded = list(trace.calls)
        trace.calls.clear()
        assert dll.machine == ("x64" if bits == 64 else "x86")
        assert dll.exports == frozenset({"PyInit__speedups"})
        # imports from python311.dll are listed as missing; the load does not fail over them
        missing = {m.split("!", 1)[1] for m in dll.missing_imports if m.lower().startswith("python311.dll!")}
        assert missing == PYTHON_IMPORTS
        assert all(m.lower().startswith("python311.dll!") for m in dll.missing_imports)
        dll.close()
        unloaded = list(trace.calls)
    finally:
        trace.active = False
    # DllMain ran the MSVC CRT startup: the /GS cookie init, then the onexit tables
    for want in ("kernel32.dll!GetSystemTimeAsFileTime", "kernel32.dll!GetCurrentThreadId",
                 "kernel32.dll!GetCurrentProcessId", "kernel32.dll!QueryPerformanceCounter",
                 "ucrtbase.dll!_initialize_onexit_table", "kernel32.dll!DisableThreadLibraryCalls"):
        assert want in loaded, (want, loaded)
    assert loaded.index("kernel32.dll!GetSystemTimeAsFileTime") < loaded.index("ucrtbase.dll!_initialize_onexit_table")
    # DLL_PROCESS_DETACH ran the CRT shutdown
    assert "ucrtbase.dll!_execute_onexit_table" in unloaded, unloaded
    assert "vcruntime140.dll!__std_type_info_destroy_list" in unloaded
    print(f"x{bits} load: {loaded}\nunload: {unloaded}")


def test_host_refuses_it_as_not_an_admin_dll(pyd: Path, bits: int) -> None:
    from emulator.host.exports import plan_exports
    from emulator.host.profiles import get_profile

    dll = PeLoader().load(str(pyd), bitness=bits)
    try:
        exports = dll.exports
    finally:
        dll.close()
    assert not exports & set(SIGNATURES)  # not one RAS admin callback
    profile = get_profile("win7-x64" if bits == 64 else "win7-x86")
    plan = plan_exports(exports, profile, "practice", pyd.name)
    assert plan.meets == {"strict": False, "practice": False}
    (finding,) = [f for f in plan.findings if f.rule == "R48"]
    for name in ("MprAdminAcceptNewLink", "MprAdminLinkHangupNotification", "MprAdminTerminateDll",
                 "MprAdminAcceptNewConnection"):
        assert name in finding.message
    assert plan.accept is None and plan.get_ip is None


def test_calling_into_python_is_reported_as_a_missing_api(pyd: Path, bits: int) -> None:
    from emulator.loaders.base import Call

    dll = PeLoader().load(str(pyd), bitness=bits)
    try:
        r = dll.handle_call(Call("PyInit__speedups", ()))
    finally:
        dll.close()
    assert r.fault is not None and r.fault.kind == "missing-api"
    assert "python311.dll!" in r.fault.message
