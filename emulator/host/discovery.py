"""Finding the admin DLLs in the registry the way the RAS service does (R01, R02, R11-R14).

Decisions (documented here and in the report):

* The key is ``HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll`` (R01); value names match
  case-insensitively (R13), so ``DLLPath`` and ``DllPath`` are the same value.
* ``REG_SZ`` is the only documented type (R02). ``REG_EXPAND_SZ`` is read as its raw text,
  without expanding ``%VAR%`` (nothing documents expansion, spec section 3), so a path with
  ``%SystemRoot%`` will not load. ``REG_MULTI_SZ`` is read as a reader expecting a string
  would see it: the first string only. Any other type gives no admin DLL.
* Profiles with ``multi_dll`` (2003+) split on ``;``, trim whitespace, skip empty entries
  (R11, R12). Windows 2000 / NT 4.0 do not split (R14): the whole trimmed text is one path,
  so a ``;`` list there fails to load and the service does not start (R04/R14 finding).
* No key, or no ``DLLPath`` value: the service runs without an admin DLL (info finding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.conformance.findings import Finding, Severity
from emulator.host.profiles import Profile
from emulator.registry.model import (
    REG_EXPAND_SZ,
    REG_MULTI_SZ,
    REG_SZ,
    TYPE_NAMES,
    KeyNotFoundError,
    Registry,
    ValueNotFoundError,
)

ADMIN_DLL_KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll"


@dataclass
class Discovery:
    """What the service read: DLL paths in call order, the display name, and findings."""

    paths: list[str] = field(default_factory=list)
    display_name: str | None = None
    raw: str | None = None
    value_type: int | None = None
    findings: list[Finding] = field(default_factory=list)


def _decode(data: bytes) -> str:
    text = data.decode("utf-16-le", "replace")
    nul = text.find("\0")
    return text if nul < 0 else text[:nul]


def _type_name(t: int) -> str:
    return TYPE_NAMES.get(t, f"type {t}")


def discover(registry: Registry, profile: Profile) -> Discovery:
    """Read ``DLLPath``/``DisplayName`` per the profile; never raises for bad registry content."""
    d = Discovery()
    ev = {"key": ADMIN_DLL_KEY}
    try:
        vtype, data = registry.get_value(ADMIN_DLL_KEY, "DLLPath")
    except (KeyNotFoundError, ValueNotFoundError) as exc:
        missing = "key" if isinstance(exc, KeyNotFoundError) else "value DLLPath"
        d.findings.append(Finding(
            "R01", Severity.INFO,
            f"no admin DLL registered: {missing} missing under {ADMIN_DLL_KEY}; "
            "the RAS service runs without one",
            (ev,), subject="registry"))
        return d
    d.value_type = vtype
    ev = {"key": ADMIN_DLL_KEY, "value": "DLLPath", "type": _type_name(vtype)}
    if vtype == REG_SZ:
        text = _decode(data)
    elif vtype == REG_EXPAND_SZ:
        text = _decode(data)
        d.findings.append(Finding(
            "R02", Severity.ERROR,
            "DLLPath is REG_EXPAND_SZ; it must be REG_SZ. RAS reads the raw text and does not "
            "expand %variables%, so write the absolute path",
            ({**ev, "data": text},), subject="registry"))
    elif vtype == REG_MULTI_SZ:
        text = _decode(data)
        rest = [s for s in data.decode("utf-16-le", "replace").split("\0")[1:] if s]
        d.findings.append(Finding(
            "R02", Severity.ERROR,
            "DLLPath is REG_MULTI_SZ; it must be REG_SZ (use one ';'-separated string). A string "
            "reader sees only the first entry" + (f"; ignored: {rest}" if rest else ""),
            ({**ev, "data": [text, *rest]},), subject="registry"))
    else:
        d.findings.append(Finding(
            "R02", Severity.ERROR,
            f"DLLPath is {_type_name(vtype)}; it must be REG_SZ holding an absolute path. "
            "The RAS service cannot use it and runs without an admin DLL",
            ({**ev, "data": data.hex()},), subject="registry"))
        return d
    d.raw = text
    try:
        dtype, ddata = registry.get_value(ADMIN_DLL_KEY, "DisplayName")
    except (KeyNotFoundError, ValueNotFoundError):
        d.findings.append(Finding(
            "R03", Severity.WARNING, "DisplayName is missing under " + ADMIN_DLL_KEY,
            ({"key": ADMIN_DLL_KEY, "value": "DisplayName"},), subject="registry"))
    else:
        if dtype != REG_SZ:
            d.findings.append(Finding(
                "R03", Severity.ERROR, f"DisplayName is {_type_name(dtype)}; it must be REG_SZ",
                ({"key": ADMIN_DLL_KEY, "value": "DisplayName", "type": _type_name(dtype)},),
                subject="registry"))
        d.display_name = _decode(ddata) if dtype in (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ) else None

    if profile.multi_dll:
        entries = [p.strip() for p in text.split(";")]
        d.paths = [p for p in entries if p]
        if len(d.paths) != len(entries):
            d.findings.append(Finding(
                "R12", Severity.INFO,
                "DLLPath has empty ';' entries; they are skipped",
                ({**ev, "data": text},), subject="registry"))
    else:
        path = text.strip()
        if ";" in path and any(p.strip() for p in path.split(";")[1:]):
            d.findings.append(Finding(
                "R14", Severity.ERROR,
                f"DLLPath lists several DLLs but {profile.os} accepts exactly one path (R04); "
                "the whole text is taken as one file name, which does not load",
                ({**ev, "data": text},), subject="registry"))
        d.paths = [path] if path else []
    if not d.paths:
        d.findings.append(Finding(
            "R02", Severity.ERROR, "DLLPath is empty; the RAS service runs without an admin DLL",
            ({**ev, "data": text},), subject="registry"))
    for p in d.paths:
        if not _is_absolute_windows(p) and not p.startswith("/"):
            d.findings.append(Finding(
                "R02", Severity.WARNING,
                f"DLLPath entry {p!r} is not an absolute path; LoadLibrary would search for it",
                ({**ev, "data": p},), subject="registry"))
    return d


def _is_absolute_windows(p: str) -> bool:
    return (len(p) >= 3 and p[1] == ":" and p[2] in "\\/") or p.startswith("\\\\")
