"""Run an installer (and optionally its uninstaller) in a sandbox and check R01-R10.

The sandbox: a registry filled with a seed (default ``ras_server``), optionally with other
vendors' DLLs already registered (``preexisting``: their paths in ``DLLPath`` as one ``;``
list, a ``DisplayName``, and header-only PE files of the profile's bitness at those paths),
and a :class:`~emulator.setup.winfs.WinFS` whose ``C:\\Setup`` folder is the installer's
own folder (read-only) plus the DLL given as ``dll`` (named ``dll_name``, default its own name).

Installer kinds that copy no files (``.reg``) get the DLL placed where each new absolute
``DLLPath`` entry says, written with the installer's bitness (so the File System Redirector
applies); without ``dll`` the R08 file check is reported as not done (INFO).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.conformance.findings import Finding, Severity
from emulator.errors import InputError
from emulator.host.profiles import Profile, get_profile
from emulator.registry.model import REG_SZ, Registry
from emulator.registry.seeds import apply_seed
from emulator.registry.snapshot import RegistryDiff, Snapshot, diff
from emulator.setup.checks import (
    ADMIN_KEY,
    InstallContext,
    UninstallContext,
    admin_values,
    check_install,
    check_uninstall,
    diff_entries,
    is_absolute,
    path_entries,
    service_path,
)
from emulator.setup.env import SETUP_DIR, SetupEnv, SetupLog
from emulator.setup.installers import SUFFIXES, Installer, installer_for
from emulator.setup.pe import placeholder_dll
from emulator.setup.winfs import WinFS, normalize, parent

PREEXISTING_DISPLAY_NAME = "Fabrikam Address Allocator"


@dataclass
class SetupResult:
    """Findings, the install diff (before -> after install), the uninstall diff
    (before install -> after uninstall: what the pair leaves behind), the log and the files."""

    findings: list[Finding]
    install_diff: RegistryDiff
    uninstall_diff: RegistryDiff | None
    log: list[str]
    files: dict[str, str] = field(default_factory=dict)
    profile: str = ""
    installer_bits: int = 64

    @property
    def passed(self) -> bool:
        """True when no finding is an error."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def rules(self) -> set[str]:
        """Rule ids of the error and warning findings."""
        return {f.rule for f in self.findings if f.severity is not Severity.INFO}

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (``rasemu setup check --format json``)."""
        return {
            "profile": self.profile,
            "installer_bits": self.installer_bits,
            "passed": self.passed,
            "findings": [f.to_json() for f in self.findings],
            "install_diff": diff_entries(self.install_diff, "install"),
            "uninstall_diff": (None if self.uninstall_diff is None
                               else diff_entries(self.uninstall_diff, "uninstall")),
            "files": self.files,
            "log": self.log,
        }


def _preexisting_list(preexisting: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if preexisting is None:
        return []
    items = [preexisting] if isinstance(preexisting, str) else list(preexisting)
    out: list[str] = []
    for item in items:
        out.extend(p.strip() for p in item.split(";") if p.strip())
    return out


def _seed_preexisting(registry: Registry, fs: WinFS, paths: list[str], prof: Profile) -> None:
    if not paths:
        return
    if len(paths) > 1 and not prof.multi_dll:
        raise InputError(f"the {prof.name} profile allows one registered DLL; got {len(paths)} "
                         "preexisting paths", where="preexisting")
    for p in paths:
        if not is_absolute(p) or p.startswith("\\\\"):
            raise InputError(f"expected an absolute Windows path like C:\\Vendor\\adm.dll, got {p!r}",
                             where="preexisting")
        norm = normalize(p, where="preexisting")
        fs.mkdir(parent(norm), 64)
        fs.write(norm, placeholder_dll(prof.bitness), 64)
    registry.set_value(ADMIN_KEY, "DisplayName", REG_SZ,
                       (PREEXISTING_DISPLAY_NAME + "\0").encode("utf-16-le"), view=64)
    registry.set_value(ADMIN_KEY, "DLLPath", REG_SZ, (";".join(paths) + "\0").encode("utf-16-le"),
                       view=64)


def _place_dll(env: SetupEnv, before_entries: list[str]) -> None:
    """For kinds that copy no files: put the DLL where each new DLLPath entry says."""
    if env.dll is None:
        return
    data = env.dll.read_bytes()
    value = admin_values(env.registry.snapshot()).dll_path
    if value is None:
        return
    pre = {p.upper() for p in before_entries}
    for entry in path_entries(value):
        if entry.upper() in pre:
            continue
        target = service_path(entry, value[0], env.os_bits)
        if not is_absolute(target) or target.startswith("\\\\"):
            continue
        try:
            norm = normalize(target)
        except InputError:
            continue
        if env.fs.exists(norm, env.bits):
            continue
        env.fs.mkdir(parent(norm), env.bits)
        real = env.fs.write(norm, data, env.bits)
        env.log.add("note", f"placed {env.dll.name} at {norm}"
                    + (f" (redirected to {real})" if real != norm else "")
                    + ": this installer kind copies no files")


_DLL_NAME = re.compile(r"[A-Za-z0-9_.$~-]+\.dll\b", re.IGNORECASE)


def media_dll_name(installer: str | os.PathLike[str], default: str) -> str:
    """The file name the installer expects to find next to itself (``C:\\Setup\\<name>``).

    Guessed from the installer text (.cmd/.bat/.py): the one ``*.dll`` name it mentions;
    ``default`` when it mentions none or several, and for .reg files and self-registering DLLs.
    """
    path = Path(installer)
    if SUFFIXES.get(path.suffix.lower()) not in ("cmd", "python"):
        return default
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return default
    text = re.sub(r"%~[a-z]*dp[a-z]*0", "\\\\", text, flags=re.IGNORECASE)
    names = {m.group(0).lower(): m.group(0) for m in _DLL_NAME.finditer(text)}
    return next(iter(names.values())) if len(names) == 1 else default


def _run(installer: Installer, env: SetupEnv, phase: str) -> None:
    env.log.add("note", f"{phase}: {installer.kind} {installer.path} "
                        f"({env.bits}-bit installer on a {env.os_bits}-bit OS)")
    installer.run(env)


def _uninstaller_failed(path: str, exc: InputError) -> Finding:
    """R06: the uninstaller did not run to its end (``exc`` says why and where)."""
    at = exc.where or path
    if exc.line is not None:
        at += f":{exc.line}"
    return Finding(
        "R06", Severity.ERROR,
        f"the uninstaller failed at {at}: {exc.message}; whatever it was to remove after that "
        "point stays behind",
        ({"uninstaller": path, "at": at, "error": exc.message},),
        subject=path, extra={"phase": "uninstall"})


class SetupSession:
    """One installer (and uninstaller) run in a sandbox, in stages: :meth:`install`, then
    :meth:`uninstall`. Between them, :attr:`registry` and :attr:`fs` hold the installed state
    (``rasemu check --install`` runs the host on it); :meth:`result` gathers everything.

    Arguments as :func:`validate_installer`; ``pe_expected=False`` (a Python stand-in or a host
    shared library stands for the DLL) turns R08's "not a PE image" into a note.
    InputError for wrong input, raised by the constructor (files, profile, seed, bitness) or
    by the stage that runs the faulty installer (syntax errors, crashes).
    """

    def __init__(
        self,
        install: str | os.PathLike[str],
        uninstall: str | os.PathLike[str] | None = None,
        *,
        profile: str | Profile = "win7-x64",
        dll: str | os.PathLike[str] | None = None,
        seed: str = "ras_server",
        preexisting: str | list[str] | tuple[str, ...] | None = None,
        installer_bits: int | None = None,
        dll_name: str | None = None,
        reg32: bool = False,
        pe_expected: bool = True,
    ) -> None:
        prof = get_profile(profile)
        self.profile = prof
        self.installer = installer_for(install, reg32=reg32)
        self.uninstaller = (installer_for(uninstall, reg32=reg32, unregister=True)
                            if uninstall else None)
        bits = installer_bits
        if bits is None:
            native = self.installer.native_bits()
            bits = native if native is not None and native <= prof.bitness else prof.bitness
        if bits not in (32, 64):
            raise InputError(f"installer bitness must be 32 or 64, not {bits!r}",
                             where="installer-bits")
        if bits == 64 and prof.bitness == 32:
            raise InputError(f"a 64-bit installer cannot run on the 32-bit profile {prof.name}",
                             where="installer-bits")
        self.bits = bits
        dll_path = None
        if dll is not None:
            dll_path = Path(dll)
            if not dll_path.is_file():
                raise InputError("no such DLL file", where=str(dll))
        self.dll = dll_path
        self.registry = Registry(default_view=64)
        apply_seed(self.registry, seed)
        self.fs = WinFS(prof.bitness)
        self.fs.add_media(SETUP_DIR, self.installer.path.parent)
        name = dll_name or (dll_path.name if dll_path else None)
        self.dll_name = name
        if dll_path is not None and name is not None:
            self.fs.write(SETUP_DIR + "\\" + name, dll_path.read_bytes(), 64, where="dll")
        self.preexisting = _preexisting_list(preexisting)
        _seed_preexisting(self.registry, self.fs, self.preexisting, prof)
        self.pe_expected = pe_expected
        self.log = SetupLog()
        self.env = SetupEnv(self.registry, self.fs, bits, prof.bitness, self.log, dll_path, name)
        self.before = self.registry.snapshot()
        self.files_before = self.fs.state()
        self.installed: Snapshot | None = None
        self.install_diff: RegistryDiff | None = None
        self.uninstall_diff: RegistryDiff | None = None
        self.install_findings: list[Finding] = []
        self.uninstall_findings: list[Finding] = []
        self.files: dict[str, str] = {}

    def install(self) -> list[Finding]:
        """Run the installer and return the R01-R05, R08-R10 findings."""
        _run(self.installer, self.env, "install")
        if not self.installer.copies_files:
            _place_dll(self.env, self.preexisting)
        installed = self.registry.snapshot()
        self.installed = installed
        self.install_diff = diff(self.before, installed)
        self.install_findings = check_install(InstallContext(
            self.profile, self.before, installed, self.install_diff, self.fs, self.files_before,
            self.bits, str(self.installer.path),
            file_step=self.installer.copies_files or self.dll is not None,
            pe_expected=self.pe_expected))
        self.files = {p: "written" for p, d in self.fs.state().items()
                      if self.files_before.get(p) != d}
        return self.install_findings

    def uninstall(self, *, keep_going: bool = False) -> list[Finding]:
        """Run the uninstaller (none: no findings) and return the R06/R07 findings.

        An uninstaller that fails (raises, exits non-zero, a syntax error) is an InputError;
        with ``keep_going`` it is an R06 finding instead (the message names the failure and
        its file:line when known) and R06/R07 are checked on what it left behind.
        """
        if self.installed is None:
            raise RuntimeError("install() must run before uninstall()")
        if self.uninstaller is None:
            return []
        failed: list[Finding] = []
        try:
            _run(self.uninstaller, self.env, "uninstall")
        except InputError as exc:
            if not keep_going:
                raise
            self.log.add("failed", f"uninstall: {exc}")
            failed.append(_uninstaller_failed(str(self.uninstaller.path), exc))
        after = self.registry.snapshot()
        self.uninstall_diff = diff(self.before, after)
        self.uninstall_findings = failed + check_uninstall(UninstallContext(
            self.profile, self.before, self.installed, after, self.uninstall_diff,
            str(self.uninstaller.path)))
        files_after = self.fs.state()
        for p in self.files:
            if p in files_after:
                self.files[p] = "written, left after uninstall"
                self.log.add("note", f"{p} is still there after the uninstall")
            else:
                self.files[p] = "written, removed by uninstall"
        return self.uninstall_findings

    def result(self) -> SetupResult:
        """Everything so far as a :class:`SetupResult` (after :meth:`install`)."""
        if self.install_diff is None:
            raise RuntimeError("install() must run before result()")
        return SetupResult(self.install_findings + self.uninstall_findings, self.install_diff,
                           self.uninstall_diff, self.log.lines(), dict(self.files),
                           self.profile.name, self.bits)


def validate_installer(
    install: str | os.PathLike[str],
    uninstall: str | os.PathLike[str] | None = None,
    *,
    profile: str | Profile = "win7-x64",
    dll: str | os.PathLike[str] | None = None,
    seed: str = "ras_server",
    preexisting: str | list[str] | tuple[str, ...] | None = None,
    installer_bits: int | None = None,
    dll_name: str | None = None,
    reg32: bool = False,
) -> SetupResult:
    """Run ``install`` (then ``uninstall``) in a sandbox and return the R01-R10 findings.

    ``installer_bits`` defaults to the profile's bitness; ``preexisting`` lists other vendors'
    DLL paths registered before the install (a ``;`` string or a list). InputError for wrong
    input (missing files, unknown profile or seed, installer syntax errors or crashes).
    """
    session = SetupSession(install, uninstall, profile=profile, dll=dll, seed=seed,
                           preexisting=preexisting, installer_bits=installer_bits,
                           dll_name=dll_name, reg32=reg32)
    session.install()
    session.uninstall()
    return session.result()
