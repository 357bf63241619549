"""Setup-side conformance checks (R01-R10) on registry snapshots and the fake file system.

Install checks compare the registry before and after the installer (R01-R05, R08-R10);
uninstall checks compare the registry before the install with the registry after the
uninstaller (R06, R07). Every finding carries the relevant registry-diff lines as evidence:
``{"phase", "change", "key", "name", "value", "old", "text"}`` (``text`` is the readable line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from emulator.conformance.findings import Finding, Severity
from emulator.errors import InputError
from emulator.host.profiles import Profile
from emulator.registry.model import (
    REG_EXPAND_SZ,
    REG_MULTI_SZ,
    REG_SZ,
    TYPE_NAMES,
    KeyNotFoundError,
)
from emulator.registry.snapshot import RegistryDiff, Snapshot
from emulator.setup.env import environment, expand
from emulator.setup.pe import pe_header
from emulator.setup.winfs import SYSTEM32, SYSWOW64, WINDIR, FileEntry, WinFS, basename, is_under

ADMIN_KEY: Final = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll"
RAS_KEY: Final = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS"
WOW_RAS_KEY: Final = "HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\RAS"

ValueData = tuple[int, bytes]


# -- reading the AdminDll values ------------------------------------------------------------


@dataclass(frozen=True)
class AdminValues:
    """The AdminDll key in one snapshot: whether it exists and its two values (any name case)."""

    key_exists: bool
    dll_path: ValueData | None
    display_name: ValueData | None
    others: tuple[str, ...] = ()


def admin_values(snap: Snapshot, key: str = ADMIN_KEY) -> AdminValues:
    """Read ``DLLPath`` and ``DisplayName`` (names matched case-insensitively, R13)."""
    try:
        items = snap.value_items(key)
    except KeyNotFoundError:
        return AdminValues(False, None, None)
    dll = disp = None
    others = []
    for name, vtype, data in items:
        if name.upper() == "DLLPATH":
            dll = (vtype, data)
        elif name.upper() == "DISPLAYNAME":
            disp = (vtype, data)
        else:
            others.append(name)
    return AdminValues(True, dll, disp, tuple(others))


def value_text(value: ValueData) -> list[str]:
    """Strings of a string-typed value (one for SZ/EXPAND_SZ, the items of MULTI_SZ)."""
    vtype, data = value
    text = data[: len(data) - len(data) % 2].decode("utf-16-le", "replace")
    if vtype == REG_MULTI_SZ:
        return [s for s in text.split("\0") if s]
    return [text.split("\0", 1)[0]]


def path_entries(value: ValueData) -> list[str]:
    """The DLL paths a value lists: ``;``-separated, trimmed, empty entries skipped (R11, R12)."""
    out: list[str] = []
    for text in value_text(value):
        out.extend(p.strip() for p in text.split(";") if p.strip())
    return out


def _fold(entries: Iterable[str]) -> list[str]:
    return [e.upper() for e in entries]


_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+)")


def is_absolute(path: str) -> bool:
    """True for ``X:\\...`` and UNC ``\\\\server\\share\\...`` paths."""
    return bool(_ABSOLUTE.match(path))


# -- evidence -------------------------------------------------------------------------------


def show_value(value: ValueData) -> str:
    """``TYPE data`` as one readable string."""
    vtype, data = value
    tname = TYPE_NAMES.get(vtype, f"type {vtype:#x}")
    if vtype in (REG_SZ, REG_EXPAND_SZ):
        return f"{tname} {value_text(value)[0]!r}"
    if vtype == REG_MULTI_SZ:
        return f"{tname} {value_text(value)!r}"
    if vtype == 4 and len(data) == 4:
        return f"{tname} {int.from_bytes(data, 'little'):#010x}"
    return f"{tname} hex:{data.hex(',')}"


def diff_entries(diff: RegistryDiff, phase: str) -> list[dict[str, Any]]:
    """Every change of ``diff`` as an evidence dict (see the module docstring)."""
    out: list[dict[str, Any]] = []
    for path in diff.keys_added:
        out.append({"phase": phase, "change": "key-added", "key": path, "text": f"+ key {path}"})
    for path in diff.keys_removed:
        out.append({"phase": phase, "change": "key-removed", "key": path,
                    "text": f"- key {path}"})
    for path, name, value in diff.values_added:
        out.append({"phase": phase, "change": "value-added", "key": path, "name": name,
                    "value": show_value(value),
                    "text": f"+ value {path} {name or '(Default)'} = {show_value(value)}"})
    for path, name, value in diff.values_removed:
        out.append({"phase": phase, "change": "value-removed", "key": path, "name": name,
                    "old": show_value(value),
                    "text": f"- value {path} {name or '(Default)'} (was {show_value(value)})"})
    for c in diff.values_changed:
        out.append({"phase": phase, "change": "value-changed", "key": c.path, "name": c.name,
                    "old": show_value(c.old), "value": show_value(c.new),
                    "text": f"~ value {c.path} {c.name or '(Default)'}: {show_value(c.old)} -> "
                            f"{show_value(c.new)}"})
    return out


def _under(entries: Sequence[dict[str, Any]], *keys: str) -> tuple[dict[str, Any], ...]:
    return tuple(e for e in entries if any(is_under(e["key"], k) or is_under(k, e["key"])
                                           for k in keys))


def _named(entries: Sequence[dict[str, Any]], *names: str) -> tuple[dict[str, Any], ...]:
    want = {n.upper() for n in names}
    return tuple(e for e in entries if str(e.get("name", "")).upper() in want)


# -- context --------------------------------------------------------------------------------


@dataclass
class InstallContext:
    """What the install checks look at."""

    profile: Profile
    before: Snapshot
    after: Snapshot
    diff: RegistryDiff
    fs: WinFS
    files_before: dict[str, bytes]
    installer_bits: int
    subject: str = ""
    file_step: bool = True
    #: False when a stand-in (Python, host shared library) plays the DLL: no PE checks in R08
    pe_expected: bool = True
    evidence: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.evidence = diff_entries(self.diff, "install")


def _finding(rule: str, message: str, evidence: Iterable[dict[str, Any]], subject: str,
             severity: Severity = Severity.ERROR, **extra: Any) -> Finding:
    return Finding(rule, severity, message, tuple(evidence), subject, extra)


def _new_entries(before: AdminValues, after: AdminValues) -> tuple[list[str], list[str]]:
    pre = path_entries(before.dll_path) if before.dll_path else []
    post = path_entries(after.dll_path) if after.dll_path else []
    pre_f = set(_fold(pre))
    return pre, [p for p in post if p.upper() not in pre_f]


def service_path(entry: str, value_type: int, os_bits: int) -> str:
    """The path the RAS service (a native process) would open for one ``DLLPath`` entry.

    REG_EXPAND_SZ is expanded (what a lenient reader would do, so R08 judges the file and
    R02 the type); other entries are returned as they are.
    """
    return expand(entry, environment(os_bits, os_bits)) if value_type == REG_EXPAND_SZ else entry


def _locate(fs: WinFS, entry: str, value_type: int, os_bits: int) -> tuple[str, bytes | None]:
    """(path, contents or None); a relative name is looked up in the service's folder
    (System32) and then the Windows folder, as the DLL search order does."""
    path = service_path(entry, value_type, os_bits)
    if is_absolute(path):
        if path.startswith("\\\\"):
            return path, None
        try:
            return path, fs.read(path, os_bits)
        except InputError:  # not a path the file table can hold
            return path, None
    for folder in (SYSTEM32, WINDIR):
        try:
            data = fs.read(folder + "\\" + path, os_bits)
        except InputError:
            data = None
        if data is not None:
            return folder + "\\" + path, data
    return SYSTEM32 + "\\" + path, None


def check_install(ctx: InstallContext) -> list[Finding]:
    """R01-R05 and R08-R10 on the registry after the installer ran."""
    out: list[Finding] = []
    subj = ctx.subject
    ev = ctx.evidence
    before = admin_values(ctx.before)
    after = admin_values(ctx.after)
    prof = ctx.profile

    # R10: a WOW6432Node copy of the RAS key (spec S24: the key is shared).
    wow = _under(ev, WOW_RAS_KEY)
    wow = tuple(e for e in wow if is_under(e["key"], WOW_RAS_KEY))
    if wow:
        out.append(_finding(
            "R10", "the installer wrote a copy under HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\RAS; "
            "HKLM\\SOFTWARE\\Microsoft\\RAS is shared by both registry views, so RAS never reads "
            "that copy", wow, subj))

    # R01: the DLL must be registered in the key RAS reads.
    pre, new = _new_entries(before, after)
    if after.dll_path is None or not new:
        elsewhere = tuple(e for e in _named(ev, "DLLPath", "DisplayName")
                          if not is_under(e["key"], ADMIN_KEY) and "value" in e)
        if elsewhere:
            keys = sorted({e["key"] for e in elsewhere})
            msg = (f"DLLPath/DisplayName were written under {', '.join(keys)}, not under "
                   f"{ADMIN_KEY}, the key RAS reads")
        elif after.dll_path is None:
            msg = f"the installer did not write a DLLPath value under {ADMIN_KEY}"
        else:
            msg = f"the installer did not add a path to DLLPath under {ADMIN_KEY}"
        out.append(_finding("R01", msg, elsewhere or _under(ev, ADMIN_KEY), subj))
        return out

    admin_ev = _under(ev, ADMIN_KEY)
    dll_ev = _named(admin_ev, "DLLPath") or admin_ev
    assert after.dll_path is not None
    vtype = after.dll_path[0]

    # R02: REG_SZ with absolute paths.
    if vtype != REG_SZ:
        tname = TYPE_NAMES.get(vtype, f"type {vtype:#x}")
        why = {
            REG_EXPAND_SZ: "RAS reads a REG_SZ and does not expand %variables%",
            REG_MULTI_SZ: "several DLLs go in one REG_SZ separated by ';', never REG_MULTI_SZ",
        }.get(vtype, "RAS reads a REG_SZ string")
        out.append(_finding("R02", f"DLLPath is {tname}, expected REG_SZ: {why}", dll_ev, subj,
                            value_type=tname))
    else:
        for entry in new:
            if "%" in entry:
                out.append(_finding(
                    "R02", f"DLLPath entry {entry!r} holds an unexpanded environment variable; "
                    "REG_SZ is not expanded, write the full path", dll_ev, subj, entry=entry))
            elif not is_absolute(entry):
                out.append(_finding(
                    "R02", f"DLLPath entry {entry!r} is not an absolute path; write the full "
                    "path (e.g. C:\\Program Files\\Vendor\\vendoradm.dll)", dll_ev, subj,
                    entry=entry))

    # R03: DisplayName REG_SZ, one name.
    disp_ev = _named(admin_ev, "DisplayName") or admin_ev
    if after.display_name is None:
        out.append(_finding("R03", "the installer did not write DisplayName (REG_SZ) under "
                            f"{ADMIN_KEY}", admin_ev, subj))
    elif after.display_name[0] != REG_SZ:
        tname = TYPE_NAMES.get(after.display_name[0], f"type {after.display_name[0]:#x}")
        out.append(_finding("R03", f"DisplayName is {tname}, expected REG_SZ", disp_ev, subj,
                            value_type=tname))
    elif after.display_name != before.display_name:
        name = value_text(after.display_name)[0]
        old = value_text(before.display_name)[0] if before.display_name else ""
        if old.strip() and ";" in name and old.strip() in [p.strip() for p in name.split(";")]:
            out.append(_finding("R03", f"DisplayName {name!r} looks like a ';' list of names; "
                                "it holds a single name even when several DLLs are listed",
                                disp_ev, subj))

    entries = path_entries(after.dll_path)
    # R04: one path on Windows 2000 / NT 4.0.
    if not prof.multi_dll and len(entries) > 1:
        out.append(_finding(
            "R04", f"the {prof.name} profile allows exactly one DLLPath entry; found "
            f"{len(entries)}: {'; '.join(entries)}", dll_ev, subj, entries=entries))

    # R05: append to an existing list (2003+).
    if prof.multi_dll and pre:
        post_f = _fold(entries)
        lost = [p for p in pre if p.upper() not in post_f]
        if lost:
            out.append(_finding(
                "R05", "the installer overwrote DLLPath and dropped already registered "
                f"DLL(s): {'; '.join(lost)}; append ';<path>' instead", dll_ev, subj, lost=lost))
        elif new:
            last_pre = max(post_f.index(p.upper()) for p in pre)
            first_new = min(post_f.index(p.upper()) for p in new)
            if first_new < last_pre:
                out.append(_finding(
                    "R05", "the installer put its path before already registered DLL(s); append "
                    "it at the end: RAS calls DLLs in list order and GetIpAddressForUser only in "
                    "the first DLL exporting it (R26)", dll_ev, subj, Severity.WARNING))

    # R09 first: copies a 32-bit installer aimed at System32 that landed in SysWOW64.
    redirected: list[FileEntry] = []
    if prof.bitness == 64:
        for f in ctx.fs.files():
            if (f.writer_bits == 32 and is_under(f.path, SYSWOW64)
                    and is_under(f.requested, SYSTEM32)
                    and ctx.files_before.get(f.path) != f.data
                    and (pe_header(f.data) is not None or f.path.lower().endswith(".dll"))):
                redirected.append(f)
    redirected_names = {basename(f.path).upper() for f in redirected}
    for f in redirected:
        named = [e for e in new if basename(e).upper() == basename(f.path).upper()]
        msg = (f"the 32-bit installer copied to {f.requested}, which the File System Redirector "
               f"sends to {f.path}")
        if named:
            msg += f"; DLLPath names {named[0]}, so the 64-bit RAS service loads a different " \
                   "file or none (install to %ProgramFiles% or use %windir%\\Sysnative)"
        out.append(_finding("R09", msg, (
            {"phase": "install", "change": "file-redirected", "requested": f.requested,
             "written": f.path, "text": f"file {f.requested} -> {f.path}"}, *dll_ev), subj))

    # R08: the named file exists and matches the service's bitness.
    for entry in new:
        if basename(entry).upper() in redirected_names:
            continue
        where, data = _locate(ctx.fs, entry, vtype, prof.bitness)
        fev = ({"phase": "install", "change": "file-check", "dll_path": entry, "file": where,
                "text": f"DLLPath entry {entry} -> file {where}"}, *dll_ev)
        if where.startswith("\\\\"):
            out.append(_finding("R08", f"{where} is a network path and was not checked; the "
                                "service account may not reach it at boot", fev, subj,
                                Severity.WARNING))
            continue
        if data is None:
            if not ctx.file_step:
                out.append(_finding(
                    "R08", f"{where} was not checked: this installer kind copies no files and no "
                    "DLL was given (--dll)", fev, subj, Severity.INFO))
            else:
                out.append(_finding("R08", f"DLLPath names {where}, which does not exist after "
                                    "the install", fev, subj))
            continue
        head = pe_header(data)
        if head is None and not ctx.pe_expected:
            out.append(_finding("R08", f"{where} holds a stand-in for the DLL, not a PE image; "
                                "its bitness was not checked", fev, subj, Severity.INFO))
        elif head is None:
            out.append(_finding("R08", f"{where} is not a PE image", fev, subj))
        elif head.bits != prof.bitness:
            out.append(_finding(
                "R08", f"{where} is a {head.machine_name} DLL; the {prof.name} RAS service is "
                f"{prof.bitness}-bit and cannot load it", fev, subj, machine=head.machine_name))
    return out


@dataclass
class UninstallContext:
    """What the uninstall checks look at: the registry before install, after install and after uninstall."""

    profile: Profile
    before: Snapshot
    installed: Snapshot
    after: Snapshot
    diff: RegistryDiff
    subject: str = ""


def check_uninstall(ctx: UninstallContext) -> list[Finding]:
    """R06 (own entries gone) and R07 (only own entries gone) against the pre-install registry."""
    out: list[Finding] = []
    subj = ctx.subject
    ev = diff_entries(ctx.diff, "uninstall")
    before = admin_values(ctx.before)
    installed = admin_values(ctx.installed)
    after = admin_values(ctx.after)
    pre, own = _new_entries(before, installed)
    admin_ev = _under(ev, ADMIN_KEY)
    post = path_entries(after.dll_path) if after.dll_path else []
    post_f = _fold(post)

    if pre:
        if not after.key_exists:
            out.append(_finding(
                "R07", f"the uninstaller deleted {ADMIN_KEY} although other DLL(s) were "
                f"registered: {'; '.join(pre)}; remove only your own path", admin_ev, subj))
        else:
            if after.dll_path is None:
                out.append(_finding(
                    "R07", "the uninstaller deleted DLLPath although other DLL(s) were "
                    f"registered: {'; '.join(pre)}", _named(admin_ev, "DLLPath") or admin_ev,
                    subj))
            else:
                lost = [p for p in pre if p.upper() not in post_f]
                if lost:
                    out.append(_finding(
                        "R07", f"the uninstaller removed other DLL(s) from DLLPath: "
                        f"{'; '.join(lost)}", _named(admin_ev, "DLLPath") or admin_ev, subj))
            if before.display_name is not None and after.display_name is None:
                out.append(_finding(
                    "R07", "the uninstaller deleted DisplayName although other DLL(s) remain "
                    "registered", _named(admin_ev, "DisplayName") or admin_ev, subj))
    left = [e for e in own if e.upper() in post_f]
    if left:
        out.append(_finding("R06", f"the uninstaller left its path in DLLPath: {'; '.join(left)}",
                            _named(admin_ev, "DLLPath") or admin_ev, subj))
    if not pre:
        if after.dll_path is not None and not left:
            out.append(_finding("R06", "the uninstaller left a DLLPath value behind",
                                _named(admin_ev, "DLLPath") or admin_ev, subj))
        if after.display_name is not None and before.display_name is None:
            out.append(_finding("R06", "the uninstaller left DisplayName behind",
                                _named(admin_ev, "DisplayName") or admin_ev, subj))
        extra = [n for n in after.others if n not in before.others]
        if extra:
            out.append(_finding("R06", f"the uninstaller left value(s) {', '.join(extra)} under "
                                f"{ADMIN_KEY}", _named(admin_ev, *extra), subj))
        if (after.key_exists and not before.key_exists and after.dll_path is None
                and after.display_name is None and not extra):
            out.append(_finding("R06", f"the uninstaller left an empty {ADMIN_KEY} key "
                                "(harmless: no values remain)", admin_ev, subj, Severity.INFO))

    # Changes outside the AdminDll key.
    rest = [e for e in ev if not is_under(e["key"], ADMIN_KEY)]
    removed = [e for e in rest if e["change"] in ("key-removed", "value-removed", "value-changed")]
    if removed:
        out.append(_finding(
            "R07", "the uninstaller removed or changed registry entries that existed before the "
            "install: " + ", ".join(sorted({e["key"] for e in removed})), removed, subj))
    added = [e for e in rest if e["change"] in ("key-added", "value-added")]
    ras = [e for e in added if is_under(e["key"], RAS_KEY) or is_under(e["key"], WOW_RAS_KEY)]
    if ras:
        empty = all(e["change"] == "key-added" for e in ras)
        out.append(_finding(
            "R06", ("the uninstaller left empty keys behind (harmless: no values remain): "
                    if empty else "the uninstaller left registration entries behind: ")
            + ", ".join(sorted({e["key"] for e in ras})), ras, subj,
            Severity.INFO if empty else Severity.ERROR))
    other = [e for e in added if e not in ras]
    if other:
        out.append(_finding(
            "R06", "the uninstaller left other registry changes behind: "
            + ", ".join(sorted({e["key"] for e in other})), other, subj, Severity.WARNING))
    return out
