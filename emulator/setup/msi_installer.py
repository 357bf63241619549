"""Windows Installer packages (``.msi``): the Registry, RemoveRegistry and File tables applied.

The tables are read with ``msiinfo export`` from msitools (GNOME; Debian package ``msitools``),
run as a subprocess; no Windows Installer code runs. What an INSTALL does here:

* components: those of features with ``0 < Level <= INSTALLLEVEL`` (all components when the
  package has no Feature table); a component's ``Condition`` is not evaluated (logged);
* directories: resolved from the Directory table, standard folder properties
  (``ProgramFilesFolder``, ``ProgramFiles64Folder``, ``SystemFolder``, ``System64Folder``,
  ``WindowsFolder``, ``CommonFilesFolder``, ...) and directory ids set in the Property table;
  on a 64-bit OS ``SystemFolder``/``ProgramFilesFolder`` are the 32-bit folders (SysWOW64,
  Program Files (x86)), as Windows Installer sets them;
* files: each File row of an installed component is written to its resolved folder. The
  payload is the DLL given on the command line when its name matches the row's file name (or
  when the package holds exactly one ``.dll`` and the given name matches none), otherwise the
  file extracted from the package with ``msiextract``. A 32-bit component's file in SysWOW64
  is recorded as a System32 write through the File System Redirector (that is what
  ``[SystemFolder]`` means for 32-bit components), so R09 sees it;
* RemoveRegistry rows (value, or key with ``-``) are applied, then the Registry rows: Root
  ``-1`` (HKLM when ALLUSERS is 1 or 2, else HKCU), 0 (HKLM or HKCU ``Software\\Classes``), 1
  HKCU, 2 HKLM, 3 HKU; Key, Name and Value are formatted text (``[Property]``, ``[#File]``,
  ``[!File]``, ``[$Component]``, ``[%ENV]``, ``[\\c]``, ``[~]``, ``{...}`` groups); the Value
  prefixes ``#x`` (REG_BINARY), ``#%`` (REG_EXPAND_SZ), ``#`` (REG_DWORD), ``##`` (a REG_SZ
  starting with ``#``) and ``[~]`` (REG_MULTI_SZ: leading = append, trailing = prepend, both
  or neither = replace) are honoured; a Null Value with Name ``+``/``*`` creates the key, ``-``
  does nothing at install. The component's ``msidbComponentAttributes64bit`` (256) bit picks
  the registry view (a 32-bit component writes through the 32-bit view: WOW6432Node except
  for shared keys).

An UNINSTALL (the same ``.msi`` given as uninstaller) removes, per installed component, the
values its Registry rows wrote (REG_MULTI_SZ append/prepend rows: only their strings), deletes
a key left with no values and no subkeys by that (its parents are kept), deletes the keys of
``-`` and ``*`` rows with their subtrees (``+`` keys only when empty), removes the files and
the package's folders left empty. RemoveRegistry rows are not undone (as on Windows).

Not modelled (each listed in the log as ``skipped`` when the package has rows for it): custom
actions (never run), conditions (LaunchCondition, Condition table, component conditions),
AppSearch/RegLocator, SelfReg, COM/ProgId/TypeLib/Extension tables, services, environment,
INI files, shortcuts, DuplicateFile/MoveFile/RemoveFile, upgrades and repair/patch logic,
per-user installs beyond the HKCU root choice, transforms and command-line properties.

Sources: Microsoft Learn, Windows Installer "Registry Table", "RemoveRegistry Table",
"Component Table", "Directory Table", "Formatted" (column data type) and the folder property
pages (SystemFolder, ProgramFilesFolder, ...). rasemu's choices where they say nothing: a key
emptied by the uninstall is deleted but its parents are not (keys such as
``HKLM\\SOFTWARE\\Microsoft\\RAS`` survive); ``+`` keys are deleted at uninstall only when empty.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from emulator.errors import InputError
from emulator.registry.model import (
    REG_BINARY,
    REG_DWORD,
    REG_EXPAND_SZ,
    REG_MULTI_SZ,
    REG_SZ,
    TYPE_NAMES,
    KeyNotFoundError,
    Registry,
    ValueNotFoundError,
)
from emulator.setup.env import SETUP_DIR, SetupEnv
from emulator.setup.installers import Installer
from emulator.setup.winfs import SYSTEM32, SYSWOW64, WINDIR, is_under, normalize, parent

#: The message when msiinfo is not on PATH.
NEEDS_MSITOOLS = "the .msi installer kind needs msitools (apt-get install msitools)"

#: msidbComponentAttributes64bit.
ATTR_64BIT = 256

_CFB_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")

#: Tables this installer kind reads.
USED_TABLES = ("Registry", "RemoveRegistry", "Component", "Directory", "File", "Property",
               "Feature", "FeatureComponents", "CreateFolder", "CustomAction",
               "_SummaryInformation")

#: Tables whose rows change the machine but are not modelled (logged as skipped).
UNMODELLED_TABLES = (
    "SelfReg", "Class", "ProgId", "TypeLib", "Extension", "Verb", "AppId", "MIME",
    "ServiceInstall", "ServiceControl", "Environment", "IniFile", "RemoveIniFile",
    "DuplicateFile", "MoveFile", "RemoveFile", "Shortcut", "Font", "LaunchCondition",
    "AppSearch", "Condition", "Upgrade", "MsiServiceConfig",
)

Row = dict[str, "str | None"]


# -- reading the database ------------------------------------------------------------------


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise InputError(NEEDS_MSITOOLS + f": {name} was not found on PATH")
    return exe


def _run_tool(args: list[str], path: Path) -> str:
    try:
        proc = subprocess.run(args, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"cannot run {Path(args[0]).name}: {exc}", where=str(path)) from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        detail = next((ln.strip() for ln in err.splitlines()
                       if ln.strip() and "WARNING" not in ln), err.strip()) or "no message"
        raise InputError(f"damaged or unreadable Windows Installer package: "
                         f"{Path(args[0]).name} {args[1]} failed ({detail})", where=str(path))
    return proc.stdout.decode("utf-8", "replace")


_IDT_ESCAPES = str.maketrans({"\x10": "\t", "\x19": "\n", "\x11": "\r"})


def parse_idt(text: str, *, where: str = "") -> list[Row]:
    """Rows of an IDT text export (column names, column types, table line, then rows).

    Nullable columns (type letter upper-case) read as None when empty.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) < 3 or not lines[0]:
        raise InputError("msiinfo export gave no table header", where=where)
    names = lines[0].split("\t")
    types = lines[1].split("\t")
    if len(types) != len(names):
        raise InputError("msiinfo export gave a malformed table header", where=where)
    nullable = [t[:1].isupper() for t in types]
    rows: list[Row] = []
    for number, line in enumerate(lines[3:], start=4):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(names):
            raise InputError(f"table row {number - 3} has {len(fields)} fields, expected "
                             f"{len(names)} (a field holding a tab or line break cannot be "
                             "read through msiinfo export)", where=where)
        row: Row = {}
        for name, value, null in zip(names, fields, nullable, strict=True):
            value = value.translate(_IDT_ESCAPES)
            row[name] = None if (null and value == "") else value
        rows.append(row)
    return rows


class MsiDatabase:
    """The tables of one .msi file read through msiinfo (InputError for a damaged file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open(path, "rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise InputError(f"cannot read the package: {exc.strerror or exc}",
                             where=str(path)) from None
        if head != _CFB_MAGIC:
            raise InputError("damaged or not a Windows Installer package: no OLE compound "
                             "file signature (D0 CF 11 E0 A1 B1 1A E1) at its start",
                             where=str(path))
        self.msiinfo = _tool("msiinfo")
        listed = _run_tool([self.msiinfo, "tables", str(path)], path)
        self.tables = {t.strip() for t in listed.splitlines() if t.strip()}
        if not {"Property", "Component"} <= self.tables:
            raise InputError("not a Windows Installer package: a compound file without the "
                             "Property and Component tables", where=str(path))
        self._cache: dict[str, list[Row]] = {}

    def table(self, name: str) -> list[Row]:
        """Rows of a table ([] when the package has no such table)."""
        if name not in self.tables:
            return []
        if name not in self._cache:
            text = _run_tool([self.msiinfo, "export", str(self.path), name], self.path)
            self._cache[name] = parse_idt(text, where=f"{self.path}:{name}")
        return self._cache[name]

    def template(self) -> str:
        """Summary information Template (``x64;1033``): platform before the ``;``."""
        for row in self.table("_SummaryInformation"):
            if row.get("PropertyId") == "7":
                return (row.get("Value") or "").split(";", 1)[0].strip()
        return ""


_DB_CACHE: dict[tuple[str, int, int], MsiDatabase] = {}


def open_database(path: Path) -> MsiDatabase:
    """A (cached per path, size and mtime) :class:`MsiDatabase`."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read the package: {exc.strerror or exc}",
                         where=str(path)) from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    db = _DB_CACHE.get(key)
    if db is None:
        if shutil.which("msiinfo") is None:
            raise InputError(NEEDS_MSITOOLS + ": msiinfo was not found on PATH", where=str(path))
        db = MsiDatabase(path)
        wanted = [t for t in (*USED_TABLES, *UNMODELLED_TABLES) if t in db.tables]
        with ThreadPoolExecutor(max_workers=8) as pool:  # one msiinfo process per table
            for _ in pool.map(db.table, wanted):
                pass
        if len(_DB_CACHE) > 32:
            _DB_CACHE.clear()
        _DB_CACHE[key] = db
    return db


# -- the package model ---------------------------------------------------------------------


def long_name(field_text: str) -> str:
    """The long name of a ``short|long`` Filename/DefaultDir item."""
    return field_text.split("|", 1)[-1]


def standard_folders(os_bits: int) -> dict[str, str]:
    """Windows Installer folder properties on a ``os_bits`` Windows (values end with ``\\``)."""
    x86_pf = "C:\\Program Files (x86)\\" if os_bits == 64 else "C:\\Program Files\\"
    props = {
        "ROOTDRIVE": "C:\\",
        "WindowsVolume": "C:\\",
        "WindowsFolder": WINDIR + "\\",
        "SystemFolder": (SYSWOW64 if os_bits == 64 else SYSTEM32) + "\\",
        "System16Folder": WINDIR + "\\System\\",
        "ProgramFilesFolder": x86_pf,
        "CommonFilesFolder": x86_pf + "Common Files\\",
        "CommonAppDataFolder": "C:\\ProgramData\\",
        "TempFolder": WINDIR + "\\Temp\\",
        "FontsFolder": WINDIR + "\\Fonts\\",
        "AppDataFolder": "C:\\Users\\Administrator\\AppData\\Roaming\\",
        "LocalAppDataFolder": "C:\\Users\\Administrator\\AppData\\Local\\",
        "SourceDir": SETUP_DIR + "\\",
        "INSTALLLEVEL": "1",
    }
    if os_bits == 64:
        props.update({
            "System64Folder": SYSTEM32 + "\\",
            "ProgramFiles64Folder": "C:\\Program Files\\",
            "CommonFiles64Folder": "C:\\Program Files\\Common Files\\",
            "VersionNT64": "601",
            "Msix64": "601",
        })
    return props


@dataclass
class Component:
    """One Component row."""

    id: str
    directory: str
    attributes: int
    condition: str | None

    @property
    def bits(self) -> int:
        """64 for msidbComponentAttributes64bit components, else 32."""
        return 64 if self.attributes & ATTR_64BIT else 32


@dataclass
class Package:
    """The parts of an .msi this installer kind uses, with directories resolved."""

    path: Path
    platform_bits: int
    properties: dict[str, str]
    components: dict[str, Component]
    installed: list[str]
    directories: dict[str, str]
    fixed_dirs: set[str]
    dir_parent: dict[str, str | None]
    files: list[Row]
    file_paths: dict[str, str]
    registry: list[Row]
    remove_registry: list[Row]
    create_folders: list[Row]
    skipped: list[str] = field(default_factory=list)


def _int(value: str | None, what: str, where: str) -> int:
    try:
        return int(value or "0")
    except ValueError:
        raise InputError(f"{what} is {value!r}, expected an integer", where=where) from None


def load_package(path: Path, os_bits: int) -> Package:
    """Read and resolve an .msi for a ``os_bits`` Windows; InputError for unusable input."""
    db = open_database(path)
    where = str(path)
    template = db.template()
    plat = template.upper()
    if plat in ("X64", "AMD64"):
        platform_bits = 64
    elif plat in ("INTEL", ""):
        platform_bits = 32
    else:
        raise InputError(f"package platform {template!r} (Template summary property) cannot be "
                         "installed on an x86/x64 Windows", where=where)
    if platform_bits == 64 and os_bits == 32:
        raise InputError("an x64 package cannot be installed on a 32-bit Windows profile "
                         "(Windows Installer refuses it)", where=where)
    props = standard_folders(os_bits)
    for row in db.table("Property"):
        props[row["Property"] or ""] = row.get("Value") or ""

    components: dict[str, Component] = {}
    for row in db.table("Component"):
        cid = row["Component"] or ""
        components[cid] = Component(
            cid, row.get("Directory_") or "",
            _int(row.get("Attributes"), f"Component {cid} Attributes", where),
            row.get("Condition"))

    # Features: install those with 0 < Level <= INSTALLLEVEL.
    features = db.table("Feature")
    if features:
        level = _int(props.get("INSTALLLEVEL", "1"), "INSTALLLEVEL", where)
        on = {r["Feature"] for r in features
              if 0 < _int(r.get("Level"), f"Feature {r['Feature']} Level", where) <= level}
        installed = sorted({r["Component_"] or "" for r in db.table("FeatureComponents")
                            if r["Feature_"] in on and r["Component_"] in components})
    else:
        installed = sorted(components)

    # Directories.
    rows = {r["Directory"] or "": r for r in db.table("Directory")}
    directories: dict[str, str] = {}
    fixed: set[str] = set()
    dir_parent: dict[str, str | None] = {}

    def resolve(did: str, depth: int = 0) -> str:
        if did in directories:
            return directories[did]
        if depth > 64:
            raise InputError(f"Directory {did!r}: parent chain loops", where=where)
        row = rows.get(did)
        if row is None:
            raise InputError(f"Directory {did!r} is referenced but not in the Directory table",
                             where=where)
        par = row.get("Directory_Parent")
        dir_parent[did] = None if (par is None or par == did) else par
        if props.get(did):
            value = props[did]
            fixed.add(did)
        elif dir_parent[did] is None:
            value = props.get("TARGETDIR") or props["ROOTDRIVE"]
            fixed.add(did)
        else:
            base = resolve(par or "", depth + 1)
            target = (row.get("DefaultDir") or ".").split(":", 1)[0]
            name = long_name(target)
            value = base if name in (".", "") else base + name
        value = value if value.endswith("\\") else value + "\\"
        directories[did] = value
        return value

    for did in rows:
        resolve(did)
    props.update(directories)  # directory ids are properties holding their paths

    files = db.table("File")
    file_paths: dict[str, str] = {}
    for f in files:
        comp = components.get(f.get("Component_") or "")
        if comp is None:
            raise InputError(f"File {f['File']!r} names component {f.get('Component_')!r}, "
                             "which is not in the Component table", where=where)
        base = directories.get(comp.directory)
        if base is None:
            base = resolve(comp.directory)
        file_paths[f["File"] or ""] = base + long_name(f.get("FileName") or "")

    skipped = []
    for row in db.table("CustomAction"):
        skipped.append(f"custom action {row.get('Action')} (type {row.get('Type')}, source "
                       f"{row.get('Source')!r}, target {row.get('Target')!r}) was not run: "
                       "custom actions are not modelled")
    for name in UNMODELLED_TABLES:
        count = len(db.table(name))
        if count:
            skipped.append(f"table {name} ({count} row(s)) is not modelled")
    for cid in installed:
        if components[cid].condition:
            skipped.append(f"component {cid}: condition {components[cid].condition!r} not "
                           "evaluated; the component is installed")
    return Package(path, platform_bits, props, components, installed, directories, fixed,
                   dir_parent, files, file_paths, db.table("Registry"),
                   db.table("RemoveRegistry"), db.table("CreateFolder"), skipped)


# -- formatted text ------------------------------------------------------------------------


class Formatter:
    """MsiFormatRecord-style formatting of Formatted columns for one package."""

    def __init__(self, pkg: Package, environ: dict[str, str], installed: set[str]) -> None:
        self.pkg = pkg
        self.environ = {k.upper(): v for k, v in environ.items()}
        self.installed = installed
        self.files = {k: v for k, v in pkg.file_paths.items()}
        self.file_comp = {f["File"] or "": f.get("Component_") or "" for f in pkg.files}

    def _ref(self, name: str) -> tuple[str, bool]:
        """(value, found) of one ``[...]`` reference."""
        if name.startswith("\\") and len(name) >= 2:
            return name[1], True
        if name == "~":
            return "\0", True
        if name[:1] in "#!":
            key = name[1:]
            if key in self.files and self.file_comp.get(key) in self.installed:
                return self.files[key], True
            return "", key in self.files
        if name[:1] == "$":
            comp = self.pkg.components.get(name[1:])
            if comp is None or comp.id not in self.installed:
                return "", comp is not None
            return self.pkg.directories.get(comp.directory, ""), True
        if name[:1] == "%":
            value = self.environ.get(name[1:].upper())
            return (value or "", value is not None)
        value = self.pkg.properties.get(name)
        return (value or "", value is not None)

    def format(self, text: str | None) -> str:
        """The formatted text ('' for None)."""
        if not text:
            return ""
        out, _ = self._format(text, 0)
        return out

    def _format(self, text: str, depth: int) -> tuple[str, bool]:
        out: list[str] = []
        all_found = True
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "[":
                j = self._match(text, i, "[", "]")
                if j < 0:
                    out.append(text[i:])
                    break
                inner = text[i + 1:j]
                if inner.startswith("\\") and len(inner) == 2:
                    out.append(inner[1])
                else:
                    if "[" in inner and depth < 8:
                        inner, _ = self._format(inner, depth + 1)
                    value, found = self._ref(inner)
                    all_found = all_found and found
                    out.append(value)
                i = j + 1
            elif ch == "{" and depth < 8:
                j = self._match(text, i, "{", "}")
                group = text[i + 1:j] if j >= 0 else ""
                if j < 0 or "[" not in group:
                    out.append(text[i:j + 1] if j >= 0 else text[i:])
                    i = j + 1 if j >= 0 else len(text)
                    continue
                value, found = self._format(group, depth + 1)
                if found:
                    out.append(value)
                i = j + 1
            else:
                out.append(ch)
                i += 1
        return "".join(out), all_found

    @staticmethod
    def _match(text: str, start: int, open_: str, close: str) -> int:
        level = 0
        i = start
        while i < len(text):
            if open_ == "[" and text.startswith("[\\", i) and text[i + 3:i + 4] == "]":
                i += 4
                if level == 0:
                    return i - 1
                continue
            if text[i] == open_:
                level += 1
            elif text[i] == close:
                level -= 1
                if level == 0:
                    return i
            i += 1
        return -1


# -- registry values -----------------------------------------------------------------------


def _sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def _multi(items: list[str]) -> bytes:
    return "".join(s + "\0" for s in items).encode("utf-16-le") + b"\0\0"


def _read_multi(data: bytes) -> list[str]:
    text = data[: len(data) - len(data) % 2].decode("utf-16-le", "replace")
    return [s for s in text.split("\0") if s]


@dataclass(frozen=True)
class RegValue:
    """A Registry row's Value column interpreted: type, data, and for REG_MULTI_SZ the mode."""

    type: int
    data: bytes
    items: tuple[str, ...] = ()
    mode: str = ""  # "append", "prepend" or "replace" for REG_MULTI_SZ


def interpret_value(raw: str, fmt: Formatter, where: str) -> RegValue:
    """Apply the Registry table's Value prefixes (``#x``, ``#%``, ``#``, ``##``, ``[~]``)."""
    if raw.startswith("##"):
        return RegValue(REG_SZ, _sz(fmt.format(raw[1:])))
    if raw[:2].lower() == "#x":
        digits = re.sub(r"\s", "", fmt.format(raw[2:]))
        if len(digits) % 2:
            digits = "0" + digits
        try:
            return RegValue(REG_BINARY, bytes.fromhex(digits))
        except ValueError:
            raise InputError(f"#x value {raw!r} is not hexadecimal", where=where) from None
    if raw.startswith("#%"):
        return RegValue(REG_EXPAND_SZ, _sz(fmt.format(raw[2:])))
    if raw.startswith("#"):
        text = fmt.format(raw[1:]).strip()
        try:
            number = int(text, 10)
        except ValueError:
            raise InputError(f"# value {raw!r} formats to {text!r}, not an integer (REG_DWORD)",
                             where=where) from None
        if not -(2 ** 31) <= number < 2 ** 32:
            raise InputError(f"# value {number} does not fit a REG_DWORD", where=where)
        return RegValue(REG_DWORD, (number & 0xFFFFFFFF).to_bytes(4, "little"))
    if "[~]" in raw:
        lead, trail = raw.startswith("[~]"), raw.endswith("[~]") and len(raw) > 3
        mode = "append" if lead and not trail else "prepend" if trail and not lead else "replace"
        items = tuple(s for s in fmt.format(raw).split("\0") if s)
        return RegValue(REG_MULTI_SZ, _multi(list(items)), items, mode)
    return RegValue(REG_SZ, _sz(fmt.format(raw)))


# -- the installer -------------------------------------------------------------------------


class MsiInstaller(Installer):
    """Install (or with ``uninstall``, remove) a Windows Installer package (module docstring)."""

    kind = "Windows Installer package"

    def __init__(self, path: str | os.PathLike[str], *, uninstall: bool = False) -> None:
        super().__init__(path)
        self.uninstall = uninstall

    def native_bits(self) -> int | None:
        """64 for an x64 package (Template ``x64``), 32 for an Intel one."""
        db = open_database(self.path)
        return 64 if db.template().upper() in ("X64", "AMD64") else 32

    # -- helpers ---------------------------------------------------------------------------

    def _where(self, table: str, key: str | None) -> str:
        return f"{self.path}:{table}.{key}"

    @staticmethod
    def _root(root: int, props: dict[str, str], where: str) -> str:
        per_machine = props.get("ALLUSERS", "") in ("1", "2") and \
            props.get("MSIINSTALLPERUSER", "") != "1"
        if root == -1:
            return "HKEY_LOCAL_MACHINE" if per_machine else "HKEY_CURRENT_USER"
        if root == 0:
            return ("HKEY_LOCAL_MACHINE\\Software\\Classes" if per_machine
                    else "HKEY_CURRENT_USER\\Software\\Classes")
        roots = {1: "HKEY_CURRENT_USER", 2: "HKEY_LOCAL_MACHINE", 3: "HKEY_USERS"}
        if root not in roots:
            raise InputError(f"Root {root} is not one of -1, 0, 1, 2, 3", where=where)
        return roots[root]

    def _key(self, row: Row, table: str, pkg: Package, fmt: Formatter) -> tuple[str, str]:
        key_id = row.get(table)
        where = self._where(table, key_id)
        root = self._root(_int(row.get("Root"), "Root", where), pkg.properties, where)
        sub = fmt.format(row.get("Key")).strip("\\")
        if not sub:
            raise InputError("empty Key", where=where)
        return f"{root}\\{sub}", where

    def _view(self, env: SetupEnv, comp: Component) -> int:
        return env.reg_view(comp.bits)

    def _registry_rows(self, env: SetupEnv, pkg: Package, fmt: Formatter, table: str, *,
                       strict: bool = False) -> Iterator[tuple[Component, str, str, int, str, str | None]]:
        """(component, key, where, view, Name, Value) of each ``table`` (Registry or
        RemoveRegistry) row whose component is installed; ``strict``: a row naming no
        component is an InputError, else skipped."""
        for row in pkg.registry if table == "Registry" else pkg.remove_registry:
            comp = pkg.components.get(row.get("Component_") or "")
            if comp is None and strict:
                raise InputError(f"{table} row names component {row.get('Component_')!r}, "
                                 "which is not in the Component table",
                                 where=self._where(table, row.get(table)))
            if comp is None or comp.id not in pkg.installed:
                continue
            key, where = self._key(row, table, pkg, fmt)
            yield (comp, key, where, self._view(env, comp), fmt.format(row.get("Name")),
                   row.get("Value"))

    @staticmethod
    def _file_target(path: str, comp_bits: int, os_bits: int) -> tuple[str, int]:
        """(path to write, writer bits) that lands at ``path`` (see the module docstring)."""
        norm = normalize(path)
        if os_bits == 64 and comp_bits == 32 and is_under(norm, SYSWOW64):
            return SYSTEM32 + norm[len(SYSWOW64):], 32
        if os_bits == 64 and is_under(norm, SYSTEM32):
            return norm, 64
        return norm, comp_bits if os_bits == 64 else 64

    # -- run -------------------------------------------------------------------------------

    def run(self, env: SetupEnv) -> None:
        """Install (or uninstall) the package against ``env``."""
        pkg = load_package(self.path, env.os_bits)
        installed = set(pkg.installed)
        fmt = Formatter(pkg, env.environ, installed)
        what = "uninstall" if self.uninstall else "install"
        env.log.add("note", f"{what} of {self.path.name}: {pkg.platform_bits}-bit package, "
                    f"component(s) {', '.join(pkg.installed) or '(none)'}", str(self.path))
        for line in pkg.skipped:
            env.log.add("skipped", line, str(self.path))
        if self.uninstall:
            self._remove_registry_values(env, pkg, fmt)
            self._remove_files(env, pkg)
        else:
            self._apply_remove_registry(env, pkg, fmt)
            self._install_files(env, pkg)
            self._write_registry(env, pkg, fmt)

    # -- install ---------------------------------------------------------------------------

    def _apply_remove_registry(self, env: SetupEnv, pkg: Package, fmt: Formatter) -> None:
        for _comp, key, where, view, name, _raw in self._registry_rows(env, pkg, fmt,
                                                                       "RemoveRegistry"):
            if name == "-":
                if env.registry.key_exists(key, view=view):
                    env.registry.delete_key(key, recursive=True, view=view)
                    env.log.add("action", f"deleted key {key} ({view}-bit view)", where)
                continue
            try:
                env.registry.delete_value(key, name, view=view)
                env.log.add("action", f"deleted value {key} {name or '(Default)'} "
                            f"({view}-bit view)", where)
            except (KeyNotFoundError, ValueNotFoundError):
                pass

    def _payloads(self, env: SetupEnv, pkg: Package) -> dict[str, bytes]:
        rows = [f for f in pkg.files if f.get("Component_") in pkg.installed]
        out: dict[str, bytes] = {}
        if env.dll is not None:
            given = (env.dll_name or env.dll.name).lower()
            match = [f for f in rows if long_name(f.get("FileName") or "").lower() == given]
            if not match:
                dlls = [f for f in rows
                        if long_name(f.get("FileName") or "").lower().endswith(".dll")]
                match = dlls if len(dlls) == 1 else []
            data = env.dll.read_bytes()
            for f in match:
                out[f["File"] or ""] = data
                env.log.add("note", f"the DLL given ({env.dll.name}) stands in for File "
                            f"{f['File']} ({long_name(f.get('FileName') or '')})", str(self.path))
        rest = [f for f in rows if (f["File"] or "") not in out]
        if rest:
            out.update(self._extract(env, rest))
        return out

    def _extract(self, env: SetupEnv, rows: list[Row]) -> dict[str, bytes]:
        exe = shutil.which("msiextract")
        if exe is None:
            env.log.add("failed", "msiextract (msitools) not found: the package's own files "
                        "cannot be extracted", str(self.path))
            return {}
        out: dict[str, bytes] = {}
        with tempfile.TemporaryDirectory(prefix="rasemu-msi-") as tmp:
            try:
                _run_tool([exe, "-C", tmp, str(self.path)], self.path)
            except InputError as exc:
                env.log.add("failed", f"cannot extract the package's files: {exc.message}",
                            str(self.path))
                return {}
            found: dict[str, list[Path]] = {}
            for p in Path(tmp).rglob("*"):
                if p.is_file():
                    found.setdefault(p.name.lower(), []).append(p)
            for f in rows:
                name = long_name(f.get("FileName") or "").lower()
                cands = found.get(name, [])
                size = f.get("FileSize")
                sized = [p for p in cands if size and str(p.stat().st_size) == size]
                pick = (sized or cands)[:1]
                if pick:
                    out[f["File"] or ""] = pick[0].read_bytes()
        return out

    def _install_files(self, env: SetupEnv, pkg: Package) -> None:
        for row in pkg.create_folders:
            if row.get("Component_") in pkg.installed:
                comp = pkg.components[row.get("Component_") or ""]
                folder = pkg.directories.get(row.get("Directory_") or "")
                if folder is None:
                    raise InputError(f"CreateFolder names directory {row.get('Directory_')!r}, "
                                     "which is not in the Directory table", where=str(self.path))
                path, bits = self._file_target(folder.rstrip("\\"), comp.bits, env.os_bits)
                env.fs.mkdir(path, bits)
        payloads = self._payloads(env, pkg) if pkg.files else {}
        for f in pkg.files:
            comp = pkg.components[f.get("Component_") or ""]
            if comp.id not in pkg.installed:
                continue
            key = f["File"] or ""
            dest = pkg.file_paths[key]
            where = self._where("File", key)
            data = payloads.get(key)
            if data is None:
                env.log.add("failed", f"no payload for File {key} ({dest}): not in the package "
                            "and no matching DLL given", where)
                continue
            path, bits = self._file_target(dest, comp.bits, env.os_bits)
            env.fs.mkdir(parent(path), bits, where=where)
            real = env.fs.write(path, data, bits, where=where)
            env.log.add("action", f"copied {long_name(f.get('FileName') or '')} to {dest} "
                        f"({comp.bits}-bit component {comp.id})"
                        + (f" (written to {real})" if real.upper() != dest.rstrip('\\').upper()
                           else ""), where)

    def _write_registry(self, env: SetupEnv, pkg: Package, fmt: Formatter) -> None:
        for comp, key, where, view, name, raw in self._registry_rows(env, pkg, fmt, "Registry",
                                                                     strict=True):
            if raw is None:
                if name in ("+", "*", ""):
                    env.registry.create_key(key, view=view)
                    env.log.add("action", f"created key {key} ({view}-bit view)", where)
                continue  # "-": deleted at uninstall only
            value = interpret_value(raw, fmt, where)
            data = value.data
            if value.type == REG_MULTI_SZ and value.mode != "replace":
                old = self._get(env.registry, key, name, view)
                if old is not None and old[0] == REG_MULTI_SZ:
                    keep = [s for s in _read_multi(old[1]) if s not in value.items]
                    items = (keep + list(value.items) if value.mode == "append"
                             else list(value.items) + keep)
                    data = _multi(items)
            env.registry.set_value(key, name, value.type, data, view=view)
            env.log.add("action", f"set {key} {name or '(Default)'} = "
                        f"{TYPE_NAMES[value.type]} {self._show(value.type, data)} "
                        f"({view}-bit view, component {comp.id})", where)

    @staticmethod
    def _get(registry: Registry, key: str, name: str, view: int) -> tuple[int, bytes] | None:
        try:
            return registry.get_value(key, name, view=view)
        except (KeyNotFoundError, ValueNotFoundError):
            return None

    @staticmethod
    def _show(vtype: int, data: bytes) -> str:
        if vtype in (REG_SZ, REG_EXPAND_SZ):
            return repr(data.decode("utf-16-le", "replace").rstrip("\0"))
        if vtype == REG_MULTI_SZ:
            return repr(_read_multi(data))
        if vtype == REG_DWORD:
            return f"{int.from_bytes(data, 'little'):#010x}"
        return "hex:" + data.hex(",")

    # -- uninstall -------------------------------------------------------------------------

    def _remove_registry_values(self, env: SetupEnv, pkg: Package, fmt: Formatter) -> None:
        reg = env.registry
        subtree: list[tuple[str, int, str]] = []
        maybe_empty: list[tuple[str, int, str]] = []
        for _comp, key, where, view, name, raw in self._registry_rows(env, pkg, fmt, "Registry"):
            if raw is None:
                if name in ("-", "*"):
                    subtree.append((key, view, where))
                elif name in ("+", ""):
                    maybe_empty.append((key, view, where))
                continue
            old = self._get(reg, key, name, view)
            if old is None:
                continue
            value = interpret_value(raw, fmt, where)
            if value.type == REG_MULTI_SZ and value.mode != "replace" and old[0] == REG_MULTI_SZ:
                keep = [s for s in _read_multi(old[1]) if s not in value.items]
                if keep:
                    reg.set_value(key, name, REG_MULTI_SZ, _multi(keep), view=view)
                    env.log.add("action", f"removed {list(value.items)!r} from {key} {name}",
                                where)
                    continue
            reg.delete_value(key, name, view=view)
            env.log.add("action", f"deleted value {key} {name or '(Default)'} ({view}-bit view)",
                        where)
            maybe_empty.append((key, view, where))
        for key, view, where in subtree:
            if reg.key_exists(key, view=view):
                reg.delete_key(key, recursive=True, view=view)
                env.log.add("action", f"deleted key {key} with its subkeys ({view}-bit view)",
                            where)
        for key, view, where in maybe_empty:
            if (reg.key_exists(key, view=view) and not reg.value_items(key, view=view)
                    and not reg.subkey_names(key, view=view)):
                reg.delete_key(key, view=view)
                env.log.add("action", f"deleted empty key {key} ({view}-bit view)", where)

    def _remove_files(self, env: SetupEnv, pkg: Package) -> None:
        dirs: list[tuple[str, int]] = []
        for f in pkg.files:
            comp = pkg.components[f.get("Component_") or ""]
            if comp.id not in pkg.installed:
                continue
            key = f["File"] or ""
            path, bits = self._file_target(pkg.file_paths[key], comp.bits, env.os_bits)
            if env.fs.delete(path, bits):
                env.log.add("action", f"deleted {pkg.file_paths[key]}", self._where("File", key))
            dirs.append((comp.directory, comp.bits))
        for row in pkg.create_folders:
            owner = pkg.components.get(row.get("Component_") or "")
            if owner is not None and owner.id in pkg.installed:
                dirs.append((row.get("Directory_") or "", owner.bits))
        for did, bits in dirs:
            cur: str | None = did
            while cur is not None and cur not in pkg.fixed_dirs and cur in pkg.directories:
                path, wbits = self._file_target(pkg.directories[cur].rstrip("\\"), bits,
                                                env.os_bits)
                if not env.fs.rmdir(path, wbits):
                    break
                env.log.add("action", f"removed empty folder {pkg.directories[cur]}",
                            str(self.path))
                cur = pkg.dir_parent.get(cur)
