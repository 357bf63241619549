"""Every known-bad stand-in is caught with exactly its rule id; good ones with none.

Table-driven from fixtures/dlls/manifest.toml and fixtures/standins/; the same standard session
sequence runs for each. Findings counted: severities error and warning (info notes excluded).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from fakes import registry_with

from emulator.host.engine import RasHost
from emulator.loaders.base import AdminDll

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
MANIFEST = ROOT / "fixtures" / "dlls" / "manifest.toml"

EXPECTED: dict[str, str] = {}
if MANIFEST.exists():
    EXPECTED = {k: v.get("rule", "") for k, v in
                tomllib.loads(MANIFEST.read_text())["variants"].items()}
EXPECTED.setdefault("bad_raises", "R46")
# Python stand-ins mutate the accept structures rather than the GetIp name buffer (their docstring)
VARIANTS = sorted(p.stem for p in STANDINS.glob("*.py")
                  if not p.stem.startswith("_") and p.stem != "bad_hang") if STANDINS.exists() else []


def python_opener(path: str, **kw: Any) -> AdminDll:
    try:
        from emulator.loaders.select import open_dll
    except ImportError:
        from emulator.loaders.python import PythonLoader

        return PythonLoader().load(path, bitness=kw.get("bitness"))
    return open_dll(path, **{**kw, "loader": "python"})


def run_standard(path: str, profile: str = "win7-x64", opener: Any = python_opener,
                 **kw: Any) -> RasHost:
    """The standard sequence: three users, multilink, reauth, an R65 probe, teardown."""
    host = RasHost(registry_with("C:\\Windows\\System32\\vendor.dll"), profile, opener=opener,
                   path_map={"C:\\Windows\\System32\\vendor.dll": path}, **kw)
    if not host.start():
        return host
    a = host.connect("alice", "VPN0")
    b = host.connect("bob", "VPN1", links=2)
    c = host.connect("carol", "VPN2")
    host.reauthenticate(a, 1)
    host.disconnect(b)
    host.probe_release_unknown("nobody", "VPN9", "10.254.254.254")
    host.disconnect(c)
    host.disconnect(a)
    host.stop()
    return host


def judged(host: RasHost) -> set[str]:
    return {f.rule for f in host.findings if f.severity.value in ("error", "warning")}


@pytest.mark.skipif(not VARIANTS, reason="fixtures/standins not present")
@pytest.mark.parametrize("variant", VARIANTS)
def test_standin_caught_with_exactly_its_rule(variant: str) -> None:
    rule = EXPECTED.get(variant, "")
    profile = "nt4" if variant == "bad_nt4_incomplete" else "win7-x64"
    host = run_standard(str(STANDINS / f"{variant}.py"), profile)
    assert judged(host) == ({rule} if rule else set()), [
        (f.rule, f.severity.value, f.message) for f in host.findings]
    assert not [f for f in host.findings if f.subject == "host" and f.severity.value == "error"]


@pytest.mark.skipif(not (STANDINS / "bad_nt4_incomplete.py").exists(), reason="no stand-ins")
def test_nt4_incomplete_is_fine_for_win2000_plus() -> None:
    host = run_standard(str(STANDINS / "bad_nt4_incomplete.py"), "win2000-x86")
    assert judged(host) == set()


@pytest.mark.skipif(not (STANDINS / "good.py").exists(), reason="no stand-ins")
@pytest.mark.parametrize("profile", ["nt4-x86", "win2000-x86", "win2003-x64", "win2008-x86",
                                     "win7-x86"])
def test_good_clean_on_every_profile(profile: str) -> None:
    host = run_standard(str(STANDINS / "good.py"), profile)
    assert judged(host) == set(), [(f.rule, f.message) for f in host.findings]
    assert host.stats["sessions"] == 3 and host.stats["connected_now"] == 0


@pytest.mark.skipif(not (STANDINS / "good.py").exists(), reason="no stand-ins")
def test_good_strict_level_reported() -> None:
    host = run_standard(str(STANDINS / "good.py"), "win7-x64", strictness="strict")
    assert judged(host) == set()
    assert host.dlls[0].variants["meets"] == {"strict": True, "practice": True}


def _native_variants() -> list[str]:
    if not MANIFEST.exists():
        return []
    out = []
    for name, cfg in tomllib.loads(MANIFEST.read_text())["variants"].items():
        if "so" in cfg.get("builds", []) and "native" in cfg.get("loaders", []):
            out.append(name)
    return sorted(out)


def native_opener(path: str, **kw: Any) -> AdminDll:
    from emulator.loaders.native import NativeLoader

    return NativeLoader().load(path, bitness=kw.get("bitness"))


@pytest.mark.parametrize("variant", _native_variants())
def test_native_variant_caught_with_exactly_its_rule(variant: str) -> None:
    from emulator.loaders.native import host_bits

    build = pytest.importorskip("fixtures.dlls.build")
    try:
        lib = build.native_library(variant)
    except build.CompilerNotFoundError as exc:  # pragma: no cover - no compiler
        pytest.skip(str(exc))
    rule = EXPECTED.get(variant, "")
    arch = "x64" if host_bits() == 64 else "x86"
    profile = "nt4-x86" if variant == "bad_nt4_incomplete" else f"win7-{arch}"
    if profile == "nt4-x86" and host_bits() != 32:
        profile = "win7-x64"  # a native library runs at the host's bitness (R17)
        rule = ""  # NT 4.0 family gaps matter only to the nt4 profile
    host = run_standard(str(lib), profile, opener=native_opener)
    assert judged(host) == ({rule} if rule else set()), [
        (f.rule, f.severity.value, f.message) for f in host.findings]


@pytest.mark.slow
def test_native_release_crash_in_child_process() -> None:
    build = pytest.importorskip("fixtures.dlls.build")
    select = pytest.importorskip("emulator.loaders.select")
    try:
        lib = build.native_library("bad_release_crash")
    except build.CompilerNotFoundError as exc:  # pragma: no cover
        pytest.skip(str(exc))
    host = run_standard(str(lib), "win7-x64", opener=None, loader="native", isolate=True)
    assert judged(host) == {"R65"}, [(f.rule, f.message) for f in host.findings]
    assert select is not None


def _pe_cases() -> list[tuple[str, int]]:
    if not MANIFEST.exists():
        return []
    out = []
    for name, cfg in tomllib.loads(MANIFEST.read_text())["variants"].items():
        if "pe" not in cfg.get("loaders", []):
            continue
        for build, bits in (("x86", 32), ("x64", 64)):
            if build in cfg.get("builds", []):
                out.append((name, bits))
    return sorted(out)


@pytest.mark.parametrize(("variant", "bits"), _pe_cases())
def test_pe_variant_caught_with_exactly_its_rule(variant: str, bits: int) -> None:
    dll = ROOT / "fixtures" / "dlls" / "prebuilt" / f"{variant}{bits}.dll"
    if not dll.exists():
        pytest.skip(f"{dll.name} not built")
    rule = EXPECTED.get(variant, "")
    arch = "x86" if bits == 32 else "x64"
    profile = "nt4-x86" if variant == "bad_nt4_incomplete" and bits == 32 else f"win7-{arch}"
    if variant == "bad_nt4_incomplete" and bits == 64:
        rule = ""  # only the (x86-only) nt4 profile cares
    host = run_standard(str(dll), profile, opener=None, loader="pe")
    assert judged(host) == ({rule} if rule else set()), [
        (f.rule, f.severity.value, f.message) for f in host.findings]


def test_bitness_mismatch_r17() -> None:
    dll = ROOT / "fixtures" / "dlls" / "prebuilt" / "good32.dll"
    if not dll.exists():
        pytest.skip("good32.dll not built")
    host = run_standard(str(dll), "win7-x64", opener=None, loader="pe")
    assert not host.started and judged(host) == {"R17"}
    host = run_standard(str(dll), "win2003-x86", opener=None, loader="pe")
    assert judged(host) == set() and host.stats["sessions"] == 3


@pytest.mark.skipif(not (STANDINS / "bad_hang.py").exists(), reason="no stand-ins")
def test_hang_is_a_timeout_fault_in_child_process() -> None:  # R46; the host carries on
    pytest.importorskip("emulator.loaders.isolated")
    host = run_standard(str(STANDINS / "bad_hang.py"), "win7-x64", opener=None, loader="python",
                        isolate=True, call_timeout=0.3)
    assert judged(host) == {"R46"}
    f = next(f for f in host.findings if f.rule == "R46")
    assert f.extra["fault"] == "timeout" and f.extra.get("occurrences", 1) == 3
    assert host.stats["sessions"] == 3 and host.stats["connected_now"] == 0
