"""Tiny in-test admin DLLs (AdminDll implementations) and a host factory for tests/host."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from emulator.abi.callbacks import SIGNATURES
from emulator.host.connection import dword_to_ip, ip_to_dword
from emulator.host.engine import RasHost
from emulator.loaders.base import AdminDll, Call, CallFault, CallResult, ResourceUsage
from emulator.registry.model import REG_SZ, Registry

KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll"
ALL_MPR = frozenset(n for n, s in SIGNATURES.items() if s.family == "mpradmin"
                    and n != "MprAdminInitializeDllEx")
ALL_NT4 = frozenset(n for n, s in SIGNATURES.items() if s.family == "rasadmin")


class FakeDll(AdminDll):
    """A conforming pool DLL (10.50.0.11 upwards) whose behaviour tests can bend.

    ``overrides`` maps a callback name to ``fn(dll, call) -> CallResult`` replacing the default.
    Re-entry detection: ``reentered`` is set when two calls run at the same time in one
    instance (the host must serialise per instance, R34/R35).
    """

    loader_name = "fake"
    machine = "python"

    def __init__(self, path: str, exports: Iterable[str] = ALL_MPR | ALL_NT4,
                 overrides: dict[str, Callable[[FakeDll, Call], CallResult]] | None = None,
                 delay: float = 0.0, accept: bool = True, link: bool = True,
                 reauth: bool = True) -> None:
        self.path = path
        self._exports = frozenset(exports)
        self.overrides = overrides or {}
        self.leases: dict[tuple[str, str], int] = {}
        self.next = 10
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.busy = 0
        self.reentered = False
        self.delay = delay
        self.accept, self.link, self.reauth = accept, link, reauth
        self.closed = False
        self.blocks = 0
        self._guard = threading.Lock()

    @property
    def exports(self) -> frozenset[str]:
        return self._exports

    def export_address(self, name: str) -> int | None:
        return 0x1000_0000 + 0x10 * sorted(self._exports).index(name) \
            if name in self._exports else None

    def resource_usage(self) -> ResourceUsage:
        return ResourceUsage(heap_blocks=self.blocks, heap_bytes=16 * self.blocks)

    def handle_call(self, call: Call) -> CallResult:
        with self._guard:
            self.busy += 1
            if self.busy > 1:
                self.reentered = True
        try:
            if self.delay:
                time.sleep(self.delay)
            name = call.signature_name
            self.calls.append((name, copy.deepcopy(call.args)))  # loaders copy too
            fn = self.overrides.get(name)
            if fn is not None:
                return fn(self, call)
            return self.default(call)
        finally:
            with self._guard:
                self.busy -= 1

    def default(self, call: Call) -> CallResult:
        name = call.signature_name
        a = call.args
        if name.endswith("GetIpAddressForUser"):
            key = (a[0], a[1])
            want = a[2]
            used = set(self.leases.values())
            if want and want not in used:
                addr = want
            else:
                n = self.next
                while True:
                    addr = ip_to_dword(f"10.{50 + n // 62500}.{n // 250 % 250}.{n % 250 + 1}")
                    n += 1
                    if addr not in used:
                        break
                self.next = 10 if n > 200_000 else n
            self.leases[key] = addr
            return CallResult(0, {2: addr, 3: 1})
        if name == "MprAdminGetIpv6AddressForUser":
            return CallResult(0, {2: bytes(8) + bytes([2, 0, 0x5E, 0xFF, 0xFE, 0, 0, 1]), 3: 1})
        if name == "MprAdminReleaseIpv6AddressForUser":
            return CallResult(0, {2: a[2]})
        if name.endswith("ReleaseIpAddress"):
            if self.leases.get((a[0], a[1])) == a[2]:
                del self.leases[(a[0], a[1])]
            return CallResult(None, {2: a[2]})
        if "AcceptNewConnection" in name:
            return CallResult(int(self.accept))
        if name == "MprAdminAcceptNewLink":
            return CallResult(int(self.link))
        if "Reauthentication" in name:
            return CallResult(int(self.reauth))
        if name in ("MprAdminInitializeDll", "MprAdminTerminateDll"):
            return CallResult(0)
        if name == "MprAdminInitializeDllEx":
            return CallResult(0, {0: {"revision": 2}})
        return CallResult(None)

    def close(self) -> None:
        self.closed = True


def fault(kind: str = "crash") -> Callable[[FakeDll, Call], CallResult]:
    """An override that faults."""
    return lambda d, c: CallResult(fault=CallFault(kind, f"simulated {kind}"))  # type: ignore[arg-type]


class Opener:
    """Opens FakeDlls by path; remembers every instance (two per IP DLL, R36)."""

    def __init__(self, **per_path: dict[str, Any]) -> None:
        self.per_path = per_path
        self.instances: list[FakeDll] = []

    def __call__(self, path: str, **kw: Any) -> FakeDll:
        from emulator.errors import LoadError

        cfg = self.per_path.get(path, self.per_path.get("*", {}))
        if cfg.get("missing"):
            raise LoadError(f"{path}: no such file", where=path)
        d = FakeDll(path, **{k: v for k, v in cfg.items() if k != "missing"})
        self.instances.append(d)
        return d

    def of(self, path: str) -> list[FakeDll]:
        return [d for d in self.instances if d.path == path]


def registry_with(dllpath: str | None, type_: int = REG_SZ, data: bytes | None = None,
                  name: str = "DLLPath", display: str | None = "Test admin DLL") -> Registry:
    reg = Registry()
    reg.create_key(KEY)
    if dllpath is not None or data is not None:
        raw = data if data is not None else (dllpath or "").encode("utf-16-le") + b"\0\0"
        reg.set_value(KEY, name, type_, raw)
    if display is not None:
        reg.set_value(KEY, "DisplayName", REG_SZ, display.encode("utf-16-le") + b"\0\0")
    return reg


def make_host(dllpath: str = "C:\\ras\\a.dll", profile: str = "win7-x64",
              opener: Opener | None = None, **kw: Any) -> tuple[RasHost, Opener]:
    op = opener or Opener()
    host = RasHost(registry_with(dllpath), profile, opener=op, **kw)
    return host, op


def rules(host: RasHost, *, min_severity: str = "warning") -> set[str]:
    rank = {"info": 0, "warning": 1, "error": 2}[min_severity]
    return {f.rule for f in host.findings if f.severity.rank >= rank}


__all__ = ["ALL_MPR", "ALL_NT4", "KEY", "FakeDll", "Opener", "dword_to_ip", "fault",
           "make_host", "registry_with", "rules"]
