"""Starting contents for a fake registry: ``empty``, ``windows`` and ``ras_server``.

``windows`` is the skeleton of a 64-bit Windows Server install (keys programs commonly
open, a few identifying values); ``ras_server`` adds what Routing and Remote Access
keeps in the registry, following Microsoft's "Routing and Remote Access Registry Layout"
(spec S31), and the shared ``HKLM\\SOFTWARE\\Microsoft\\RAS`` key (R10) **without** an
``AdminDll`` subkey, so tests register their own DLL (R01).

Simplification: ``CurrentControlSet`` is an ordinary key here, not a link to ``ControlSet001``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from emulator.errors import InputError
from emulator.registry.model import (
    REG_DWORD,
    REG_EXPAND_SZ,
    REG_MULTI_SZ,
    REG_SZ,
    Registry,
)


def _sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def _dword(n: int) -> bytes:
    return struct.pack("<I", n)


def _multi(items: list[str]) -> bytes:
    return "".join(s + "\0" for s in items).encode("utf-16-le") + b"\0\0"


def empty(registry: Registry) -> None:
    """Leave the registry empty (only the root keys exist)."""


def windows(registry: Registry) -> None:
    """Skeleton of a 64-bit Windows Server installation."""
    r = registry
    for key in (
        r"HKLM\HARDWARE\DESCRIPTION\System",
        r"HKLM\SAM",
        r"HKLM\SECURITY",
        r"HKLM\SOFTWARE\Classes\CLSID",
        r"HKLM\SOFTWARE\Classes\Interface",
        r"HKLM\SOFTWARE\Classes\Wow6432Node\CLSID",
        r"HKLM\SOFTWARE\Classes\Wow6432Node\Interface",
        r"HKLM\SOFTWARE\Clients",
        r"HKLM\SOFTWARE\Policies\Microsoft",
        r"HKLM\SOFTWARE\RegisteredApplications",
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
        r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon",
        r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
        r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows NT\CurrentVersion",
        r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment",
        r"HKLM\SYSTEM\CurrentControlSet\Enum",
        r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog\System",
        r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters",
        r"HKU\.DEFAULT\Software",
        r"HKCU\Software\Classes",
        r"HKCU\Software\Microsoft\Windows\CurrentVersion",
        r"HKCU\Environment",
        r"HKCC\Software\Fonts",
        r"HKCC\System\CurrentControlSet",
    ):
        r.create_key(key, view=64)
    nt = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
    for name, typ, data in (
        ("ProductName", REG_SZ, _sz("Windows Server 2019 Standard")),
        ("EditionID", REG_SZ, _sz("ServerStandard")),
        ("InstallationType", REG_SZ, _sz("Server")),
        ("CurrentVersion", REG_SZ, _sz("6.3")),
        ("CurrentBuild", REG_SZ, _sz("17763")),
        ("CurrentBuildNumber", REG_SZ, _sz("17763")),
        ("CurrentMajorVersionNumber", REG_DWORD, _dword(10)),
        ("CurrentMinorVersionNumber", REG_DWORD, _dword(0)),
        ("SystemRoot", REG_SZ, _sz("C:\\Windows")),
        ("PathName", REG_SZ, _sz("C:\\Windows")),
    ):
        r.set_value(nt, name, typ, data, view=64)
    cv = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion"
    r.set_value(cv, "ProgramFilesDir", REG_SZ, _sz("C:\\Program Files"), view=64)
    r.set_value(cv, "ProgramFilesDir (x86)", REG_SZ, _sz("C:\\Program Files (x86)"), view=64)
    r.set_value(cv, "CommonFilesDir", REG_SZ, _sz("C:\\Program Files\\Common Files"), view=64)
    r.set_value(cv, "ProgramFilesDir", REG_SZ, _sz("C:\\Program Files (x86)"), view=32)
    r.set_value(cv, "CommonFilesDir", REG_SZ,
                _sz("C:\\Program Files (x86)\\Common Files"), view=32)
    ccs = r"HKLM\SYSTEM\CurrentControlSet"
    r.set_value(ccs + r"\Control\ComputerName\ComputerName", "ComputerName", REG_SZ,
                _sz("RASEMU"), view=64)
    r.set_value(ccs + r"\Control\Session Manager\Environment", "windir", REG_EXPAND_SZ,
                _sz("%SystemRoot%"), view=64)
    r.set_value(ccs + r"\Control\Session Manager\Environment", "OS", REG_SZ,
                _sz("Windows_NT"), view=64)
    r.set_value(r"HKLM\SYSTEM\Select", "Current", REG_DWORD, _dword(1), view=64)
    r.set_value(r"HKCU\Environment", "TEMP", REG_EXPAND_SZ,
                _sz("%USERPROFILE%\\AppData\\Local\\Temp"), view=64)


def ras_server(registry: Registry) -> None:
    """``windows`` plus Routing and Remote Access keys (S31); no AdminDll key (R01)."""
    windows(registry)
    r = registry
    r.create_key(r"HKLM\SOFTWARE\Microsoft\RAS", view=64)
    r.create_key(r"HKLM\SOFTWARE\WOW6432Node\Microsoft", view=64)
    svc = r"HKLM\SYSTEM\CurrentControlSet\Services"
    ppp = svc + r"\RasMan\PPP"
    r.set_value(ppp + r"\ControlProtocols\BuiltIn", "Path", REG_EXPAND_SZ,
                _sz("%SystemRoot%\\System32\\rasppp.dll"), view=64)
    r.set_value(ppp + r"\ControlProtocols\Chap", "Path", REG_EXPAND_SZ,
                _sz("%SystemRoot%\\System32\\raschap.dll"), view=64)
    md5 = ppp + r"\EAP\4"
    r.set_value(md5, "FriendlyName", REG_SZ, _sz("MD5-Challenge"), view=64)
    r.set_value(md5, "InvokePasswordDialog", REG_DWORD, _dword(1), view=64)
    r.set_value(md5, "InvokeUsernameDialog", REG_DWORD, _dword(1), view=64)
    r.set_value(md5, "Path", REG_EXPAND_SZ, _sz("%SystemRoot%\\System32\\raschap.dll"), view=64)
    r.set_value(md5, "StandaloneSupported", REG_DWORD, _dword(0), view=64)
    ra = svc + r"\RemoteAccess"
    r.set_value(ra, "DisplayName", REG_SZ, _sz("Routing and Remote Access"), view=64)
    r.set_value(ra, "ImagePath", REG_EXPAND_SZ,
                _sz("%SystemRoot%\\System32\\svchost.exe -k netsvcs"), view=64)
    r.set_value(ra, "Start", REG_DWORD, _dword(2), view=64)
    r.set_value(ra, "Type", REG_DWORD, _dword(0x20), view=64)
    r.set_value(ra, "DependOnService", REG_MULTI_SZ, _multi(["RpcSS", "RasMan"]), view=64)
    for sub in (r"\Accounting\Providers", r"\Authentication\Providers", r"\Interfaces",
                r"\RouterManagers"):
        r.create_key(ra + sub, view=64)
    r.set_value(ra + r"\DemandDialManager", "DLLPath", REG_EXPAND_SZ,
                _sz("%SystemRoot%\\System32\\mprddm.dll"), view=64)
    params = ra + r"\Parameters"
    r.set_value(params, "LANOnlyMode", REG_DWORD, _dword(0), view=64)
    r.set_value(params, "ServerFlags", REG_DWORD, _dword(0), view=64)
    r.set_value(params, "ServiceDLL", REG_EXPAND_SZ,
                _sz("%SystemRoot%\\System32\\mprdim.dll"), view=64)
    ip = ra + r"\RouterManagers\Ip"
    r.set_value(ip, "DLLPath", REG_EXPAND_SZ, _sz("%SystemRoot%\\System32\\iprtrmgr.dll"), view=64)
    r.set_value(ip, "ProtocolId", REG_DWORD, _dword(0x21), view=64)
    r.create_key(r"HKLM\SOFTWARE\Microsoft\Router\CurrentVersion\RouterManagers\Ip", view=64)
    r.create_key(r"HKLM\SOFTWARE\Microsoft\Router\CurrentVersion\UIConfigDlls", view=64)


SEEDS: Final[dict[str, Callable[[Registry], None]]] = {
    "empty": empty,
    "windows": windows,
    "ras_server": ras_server,
}


def apply_seed(registry: Registry, name: str) -> None:
    """Fill ``registry`` with the named seed; InputError for an unknown name."""
    try:
        fill = SEEDS[name]
    except (KeyError, TypeError):
        raise InputError(
            f"unknown registry seed {name!r}; expected one of: {', '.join(SEEDS)}", where="seed"
        ) from None
    fill(registry)


def seeded(name: str, *, default_view: int = 64) -> Registry:
    """A new registry filled with the named seed."""
    registry = Registry(default_view=default_view)
    apply_seed(registry, name)
    return registry
