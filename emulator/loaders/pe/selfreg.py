"""Run a DLL's self-registration (DllRegisterServer / DllUnregisterServer / DllInstall / any named
install export) against a :class:`~emulator.registry.model.Registry` and report what it changed.

The registry is snapshotted before the DLL is loaded (DllMain may write too) and after it is
unloaded; the result carries the :class:`~emulator.registry.snapshot.RegistryDiff`, the export's
HRESULT, a fault if the export crashed, and setup-rule findings on the written values
(R01/R02/R03/R10).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.conformance.findings import Finding, Severity
from emulator.errors import LoadError
from emulator.loaders.base import Call, CallFault
from emulator.loaders.pe.loader import PeLoader
from emulator.loaders.pe.winapi.env import PeOptions
from emulator.registry.model import REG_EXPAND_SZ, REG_SZ, TYPE_NAMES, Registry
from emulator.registry.snapshot import RegistryDiff, diff

ADMIN_KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll"
WOW_ADMIN_KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\Microsoft\\RAS"

Arg = int | str | None


@dataclass(frozen=True)
class SelfRegResult:
    """What one self-registration export did."""

    export: str
    #: the export's return value (an HRESULT) as an unsigned 32-bit integer; None after a fault
    returned: int | None
    diff: RegistryDiff
    fault: CallFault | None = None
    #: why DLL_PROCESS_DETACH did not complete after the export ran, if it did not
    unload_fault: CallFault | None = None
    debug_output: tuple[str, ...] = ()
    #: file accesses refused (no sandbox, or a path escaping it): (api, path, reason)
    denied_files: tuple[tuple[str, str, str], ...] = ()
    #: event-log entries the DLL wrote (R46 evidence)
    events: tuple[dict[str, Any], ...] = ()
    findings: tuple[Finding, ...] = field(default=())

    @property
    def succeeded(self) -> bool:
        """SUCCEEDED(hr): the export returned and its HRESULT has the severity bit clear."""
        return self.fault is None and self.returned is not None and not self.returned & 0x80000000


def _guest_args(dll: Any, args: Sequence[Arg]) -> list[int]:
    """Integers as they are; strings copied into the DLL's heap as UTF-16 (freed with the DLL)."""
    out: list[int] = []
    emu = dll._emu
    for a in args:
        if a is None:
            out.append(0)
        elif isinstance(a, str):
            raw = a.encode("utf-16-le", "surrogatepass") + b"\0\0"
            p = emu.heap.alloc(len(raw), heap=0, site=0, api="selfreg-argument")
            emu.mem.write(p, raw)
            out.append(p)
        else:
            out.append(int(a))
    return out


def run_export(
    path: str | os.PathLike[str],
    registry: Registry,
    export: str = "DllRegisterServer",
    *,
    args: Sequence[Arg] = (),
    bitness: int | None = None,
    sandbox: str | os.PathLike[str] | None = None,
    timeout: float = 5.0,
    options: PeOptions | None = None,
) -> SelfRegResult:
    """Load ``path``, call ``export(*args)`` with ``registry`` as the machine's registry, unload, diff.

    Raises LoadError when the DLL cannot be loaded or has no such export.
    """
    opts = options or PeOptions()
    opts.registry = registry
    if sandbox is not None:
        opts.sandbox = os.fspath(sandbox)
    before = registry.snapshot()
    dll = PeLoader(opts).load(os.fspath(path), bitness=bitness)
    try:
        if export not in dll.exports:
            raise LoadError(
                f"the DLL has no export named {export!r} (exports: {', '.join(sorted(dll.exports)) or 'none'})",
                where=os.fspath(path),
            )
        result = dll.handle_call(Call(export, tuple(_guest_args(dll, args)), timeout=timeout))
    finally:
        dll.close()
    after = registry.snapshot()
    d = diff(before, after)
    debug = tuple(dll.load_debug_output) + tuple(result.debug_output) + dll.unload_debug_output
    return SelfRegResult(
        export=export,
        returned=result.returned if result.fault is None else None,
        diff=d,
        fault=result.fault,
        unload_fault=dll.unload_fault,
        debug_output=debug,
        denied_files=tuple(opts.denied),
        events=tuple(opts.events),
        findings=tuple(check_registration(d, subject=os.path.basename(os.fspath(path)))),
    )


def register(path: str | os.PathLike[str], registry: Registry, **kw: Any) -> SelfRegResult:
    """DllRegisterServer."""
    return run_export(path, registry, "DllRegisterServer", **kw)


def unregister(path: str | os.PathLike[str], registry: Registry, **kw: Any) -> SelfRegResult:
    """DllUnregisterServer."""
    return run_export(path, registry, "DllUnregisterServer", **kw)


def _fold(path: str) -> str:
    return path.upper()


def check_registration(d: RegistryDiff, *, subject: str = "") -> list[Finding]:
    """Setup-rule findings on what a registration wrote (R01/R02/R03 value types, R10 WOW6432Node)."""
    out: list[Finding] = []
    admin = _fold(ADMIN_KEY)
    wow = _fold(WOW_ADMIN_KEY)
    written = [(p, n, v) for p, n, v in d.values_added] + [
        (c.path, c.name, c.new) for c in d.values_changed
    ]
    for p, name, (typ, raw) in written:
        fp = _fold(p)
        if fp.startswith(wow):
            out.append(
                Finding(
                    "R10",
                    Severity.WARNING,
                    f"the DLL wrote {p}\\{name or '(Default)'}: HKLM\\SOFTWARE\\Microsoft\\RAS is shared "
                    "between the 32- and 64-bit views, so no WOW6432Node copy is needed; RRAS never reads it",
                    ({"key": p, "value": name, "type": TYPE_NAMES.get(typ, str(typ))},),
                    subject=subject,
                )
            )
            continue
        if fp != admin:
            continue
        tname = TYPE_NAMES.get(typ, f"type {typ}")
        if name.upper() == "DLLPATH":
            text = raw.decode("utf-16-le", "replace").split("\0", 1)[0]
            if typ != REG_SZ:
                out.append(
                    Finding(
                        "R02",
                        Severity.ERROR,
                        f"DLLPath was written as {tname}; it must be REG_SZ holding absolute paths"
                        + (
                            " (RRAS does not expand %variables% in it)"
                            if typ == REG_EXPAND_SZ
                            else ""
                        ),
                        ({"key": p, "value": name, "type": tname, "data": text},),
                        subject=subject,
                    )
                )
            else:
                for item in (s.strip() for s in text.split(";")):
                    if (
                        item
                        and not (len(item) > 2 and item[1] == ":" and item[2] == "\\")
                        and not item.startswith("\\\\")
                    ):
                        out.append(
                            Finding(
                                "R02",
                                Severity.ERROR,
                                f"DLLPath entry {item!r} is not an absolute path",
                                ({"key": p, "value": name, "data": text},),
                                subject=subject,
                            )
                        )
        elif name.upper() == "DISPLAYNAME" and typ != REG_SZ:
            out.append(
                Finding(
                    "R03",
                    Severity.ERROR,
                    f"DisplayName was written as {tname}; it must be REG_SZ",
                    ({"key": p, "value": name, "type": tname},),
                    subject=subject,
                )
            )
    return out
