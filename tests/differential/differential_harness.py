"""Run one fixture variant through a RasHost with each loader and compare the traces.

Sides (how the same admin DLL source is run):

* ``so``  - the host shared library through cffi, in-process (``isolate=False``), x64 profile;
* ``x64`` - the x86_64 PE DLL under the CPU emulator, x64 profile;
* ``x86`` - the i686 PE DLL under the CPU emulator, x86 profile;
* ``py``  - the Python stand-in of the same variant (fixtures/standins), x64 profile.

Every side registers its file under the same Windows path, so discovery, the ``dll`` field of
events and the findings' subjects are the same. :func:`comparable` removes what legitimately
differs between loaders (each rule documented there); :func:`first_difference` explains the
first event that still differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from emulator.abi.structs import sizeof
from emulator.conformance.findings import Finding
from emulator.host.discovery import ADMIN_DLL_KEY
from emulator.host.engine import RasHost
from emulator.host.profiles import Profile, get_profile
from emulator.host.scenarios import Scenario, load_scenario, run_scenario
from emulator.host.trace import normalise
from emulator.loaders.base import AdminDll
from emulator.loaders.select import open_dll
from emulator.registry.model import REG_SZ, Registry
from fixtures.dlls.build import native_library, prebuilt_dll, variants

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
WIN_PATH = "C:\\Windows\\System32\\vendoradm.dll"
#: where the second DLL of a two-DLL registration (the multi-dll scenario) is registered
WIN_PATH_2 = "C:\\Program Files\\Partner\\partneradm.dll"

#: the scenarios whose call order is deterministic (no threads)
SEQUENTIAL = ("basic", "many-users", "pool-exhaustion", "multilink", "odd-names",
              "release-unknown", "restart", "quarantine")

#: fault kinds that name the same event seen through different loaders: a native library run in
#: a child process dies of SIGSEGV ("child-died") where the emulator reports an access violation
#: and a stand-in an exception ("crash")
_FAULT_CLASS = {"child-died": "crash"}

#: variants whose Python stand-in does not mirror the C code call for call, and why
STANDIN_DIFFERS: dict[str, str] = {
    "bad_writes_username": (
        "the stand-in cannot write into the caller's (immutable) user-name string, so it "
        "upper-cases the name in the accept callbacks' structure instead of in GetIp "
        "(fixtures/standins/README.md); the C DLL's leases then key on the upper-cased name"),
}


@dataclass(frozen=True)
class Side:
    """One way of running a variant."""

    name: str
    loader: str
    bits: int
    isolate: bool | None = None

    def path(self, variant: str) -> Path:
        """The file this side loads for ``variant``."""
        if self.loader == "native":
            return native_library(variant)
        if self.loader == "pe":
            return prebuilt_dll(variant, self.bits)
        return STANDINS / f"{variant}.py"

    def profile(self, os_name: str) -> Profile:
        """The ``os_name`` profile at this side's bitness."""
        return get_profile(f"{os_name}-{'x64' if self.bits == 64 else 'x86'}")


SO = Side("so", "native", 64, isolate=False)
#: the native side for variants that kill an in-process host (bad_release_crash: SIGSEGV)
SO_CHILD = Side("so-child", "native", 64, isolate=True)
X64 = Side("x64", "pe", 64)
X86 = Side("x86", "pe", 32)
PY = Side("py", "python", 64)
PY32 = Side("py32", "python", 32)  # NT 4.0 has no x64 profile
SIDES = {s.name: s for s in (SO, SO_CHILD, X64, X86, PY, PY32)}

#: variants the native library cannot run in-process (the host process would die)
NATIVE_IN_CHILD = frozenset({"bad_release_crash"})


def native_side(variant: str) -> Side:
    """The native side for ``variant``: in-process unless the variant crashes its process."""
    return SO_CHILD if variant in NATIVE_IN_CHILD else SO


def common_variants() -> list[str]:
    """Manifest variants built as a host library and as x86 and x64 PE DLLs, with a stand-in."""
    return [name for name, v in variants().items()
            if {"so", "x86", "x64"} <= set(v["builds"]) and (STANDINS / f"{name}.py").is_file()]


def blind_rules(side: Side) -> frozenset[str]:
    """Rules the manifest says ``side``'s loader cannot see (the breaking variant omits it).

    Only ``native`` is blind to anything: cffi has no heap accounting (R76, bad_leak), and in
    process a NULL dereference kills the host instead of becoming a finding (R65,
    bad_release_crash; its manifest notes: only a child-process native loader reports it).
    The stand-ins simulate heap accounting and raise instead of crashing, so python sees what
    pe sees.
    """
    if side.loader != "native":
        return frozenset()
    rules = {v["rule"] for v in variants().values()
             if v["rule"] and "so" in v["builds"] and "native" not in v["loaders"]}
    if side.isolate:
        rules.discard("R65")
    return frozenset(rules)


def registry(profile: Profile, paths: Sequence[str] = (WIN_PATH,)) -> Registry:
    """A registry naming the admin DLLs ``paths`` (a ``;`` list, R11)."""
    reg = Registry(default_view=64 if profile.bitness == 64 else 32)
    reg.set_value(ADMIN_DLL_KEY, "DisplayName", REG_SZ, "differential\0".encode("utf-16-le"))
    reg.set_value(ADMIN_DLL_KEY, "DLLPath", REG_SZ,
                  (";".join(paths) + "\0").encode("utf-16-le"))
    return reg


@dataclass
class Run:
    """What one side produced for one scenario."""

    side: Side
    variant: str
    scenario: str
    profile: str
    raw_trace: list[dict[str, Any]]
    findings: list[Finding]
    stats: dict[str, Any]
    ok: bool
    started: bool
    selection: list[dict[str, Any]]
    #: registered path -> export address -> name, for every instance the host opened
    #: (addresses differ per load; two DLLs may share an address in separate emulators)
    export_names: dict[str, dict[int, str]] = field(default_factory=dict)

    def trace(self) -> list[dict[str, Any]]:
        """The comparable trace (see :func:`comparable`)."""
        return comparable(self.raw_trace, self.export_names, self.side.bits)

    def rules(self) -> set[tuple[str, str]]:
        """(rule, severity) of every finding."""
        return {(f.rule, f.severity.value) for f in self.findings}

    def counters(self) -> dict[str, Any]:
        """Host counters that must agree (not times)."""
        return {k: self.stats.get(k) for k in ("sessions", "calls", "connected_now",
                                                "peak_connected")}


def _recording_opener(names: dict[str, dict[int, str]], registered: Mapping[str, str]) -> Any:
    def opener(real: str, *, loader: str, bitness: int | None, isolate: bool | None,
               options: Mapping[str, Any]) -> AdminDll:
        dll = open_dll(real, loader=loader, bitness=bitness, isolate=isolate, options=options)
        table = names.setdefault(registered[real], {})
        for name in dll.exports:
            addr = dll.export_address(name)
            if addr:
                table[addr] = name
        return dll
    return opener


def run_side(variant: str, side: Side, scenario: str | Scenario, os_name: str = "win7",
             partner: str | None = None) -> Run:
    """Run ``scenario`` on a fresh host with ``side``'s build of ``variant``.

    ``partner`` registers a second variant (same side) after it, for multi-DLL scenarios.
    """
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    prof = side.profile(os_name)
    names: dict[str, dict[int, str]] = {}
    paths = {WIN_PATH: str(side.path(variant))}
    if partner is not None:
        paths[WIN_PATH_2] = str(side.path(partner))
    host = RasHost(registry(prof, list(paths)), prof, loader=side.loader, isolate=side.isolate,
                   path_map=paths,
                   opener=_recording_opener(names, {real: win for win, real in paths.items()}))
    res = run_scenario(host, scn)
    sel = [dict(d.variants) for d in host.dlls]
    return Run(side, variant, scn.name, prof.name, res.trace, res.findings, res.stats, res.ok,
               res.started, sel, names)


@cache
def cached_run(variant: str, side_name: str, scenario: str, os_name: str = "win7",
               partner: str | None = None) -> Run:
    """:func:`run_side`, once per process for each argument tuple."""
    return run_side(variant, SIDES[side_name], scenario, os_name, partner)


# ------------------------------------------------------------------------------- normalisation


def _name_of(addr_text: Any, names: Mapping[int, str]) -> Any:
    if not isinstance(addr_text, str) or not addr_text.startswith("0x"):
        return addr_text
    value = int(addr_text, 16)
    if value == 0:
        return "NULL"
    return names.get(value, f"not-an-export:{addr_text}")


def comparable(events: Iterable[Mapping[str, Any]],
               export_names: Mapping[str, Mapping[int, str]],
               bits: int) -> list[dict[str, Any]]:
    """Events with only what legitimately differs between loaders replaced.

    * ``t``/``seconds`` dropped and handles renumbered (:func:`emulator.host.trace.normalise`);
    * ``target`` (a table slot's code address) and the ``lpfn*`` pointers a callbacks table
      returns become the name of the event's DLL's export at that address ("NULL" for 0); an
      address that is no export stays visible as ``not-an-export:<hex>`` and so still differs;
    * a structure's own size field (``RAS_CONNECTION_EX`` header size, ``RAS_CONNECTION_3``
      dwSize) is checked against ``sizeof`` at the side's bitness, then written as
      ``sizeof(...)`` - the host fills it per bitness, so its value differs by design;
    * a fault keeps its kind (``child-died`` counted as ``crash``) and drops its message, which
      names loader internals (a program counter, a signal, a Python traceback);
    * ``debug`` (the call's debug output) is dropped: only some loaders capture
      OutputDebugString (the PE emulator does, a native library's goes nowhere).

    Everything else - calls, order, instances, sessions, arguments, returned values, outputs,
    call issues, probes - is kept as is.
    """
    out: list[dict[str, Any]] = []
    for ev in normalise(events):
        ev.pop("debug", None)
        names = export_names.get(ev.get("dll", ""), {})
        if "target" in ev:
            ev["target"] = _name_of(ev["target"], names)
        outputs = ev.get("outputs") or {}
        for key, value in list(outputs.items()):
            if isinstance(value, dict):
                outputs[key] = {slot: (_name_of(v, names) if slot.startswith("lpfn")
                                       else v) for slot, v in value.items()}
        for arg in ev.get("args") or ():
            if not isinstance(arg, dict):
                continue
            struct = arg.get("struct")
            if struct == "RAS_CONNECTION_EX" and isinstance(arg.get("header"), list):
                header = list(arg["header"])
                if header[2] == sizeof("RAS_CONNECTION_EX", bits):
                    header[2] = "sizeof(RAS_CONNECTION_EX)"
                arg["header"] = header
            elif struct == "RAS_CONNECTION_3" and arg.get("dwSize") == sizeof(
                    "RAS_CONNECTION_3", bits):
                arg["dwSize"] = "sizeof(RAS_CONNECTION_3)"
        fault = ev.get("fault")
        if fault is not None:
            ev["fault"] = {"kind": _FAULT_CLASS.get(fault["kind"], fault["kind"])}
        out.append(ev)
    return out


# ------------------------------------------------------------------------------- reporting


def _show(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def first_difference(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]],
                     name_a: str, name_b: str) -> str | None:
    """A readable account of the first event where ``a`` and ``b`` differ; None if equal."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x == y:
            continue
        lines = [f"event {i} differs ({x.get('call')} on {name_a}, {y.get('call')} on {name_b};"
                 f" session {x.get('session')}):"]
        for key in sorted(set(x) | set(y)):
            if x.get(key) != y.get(key):
                lines.append(f"  {key}:")
                lines.append(f"    {name_a:>4}: {_show(x.get(key))}")
                lines.append(f"    {name_b:>4}: {_show(y.get(key))}")
        if i:
            lines.append(f"  previous event (equal): {_show(a[i - 1], 300)}")
        lines.append(f"  {name_a} event: {_show(x, 1200)}")
        lines.append(f"  {name_b} event: {_show(y, 1200)}")
        return "\n".join(lines)
    if len(a) != len(b):
        longer, name = (a, name_a) if len(a) > len(b) else (b, name_b)
        n = min(len(a), len(b))
        return (f"{name_a} has {len(a)} events, {name_b} has {len(b)}; the first {n} agree; "
                f"{name}'s next event: {_show(longer[n], 1200)}")
    return None
