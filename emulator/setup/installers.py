"""The installer interface and the choice of an installer kind from a file name.

Kinds (one module each): ``.reg`` files (:mod:`~emulator.setup.regfile_installer`), reg.exe
command scripts ``.cmd``/``.bat`` (:mod:`~emulator.setup.regexe`), Python ``winreg`` code ``.py``
(:mod:`~emulator.setup.python_installer`) and self-registering PE DLLs ``.dll``
(:mod:`~emulator.setup.selfreg_installer`).
"""

from __future__ import annotations

import abc
import os
from pathlib import Path

from emulator.errors import InputError
from emulator.setup.env import SetupEnv


class Installer(abc.ABC):
    """One install or uninstall step read from a file."""

    #: False for kinds that cannot copy files (the DLL is then placed where DLLPath says).
    copies_files: bool = True
    #: Short kind name shown in logs and reports.
    kind: str = ""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"no such {self.kind} installer file", where=str(self.path))
        if not self.path.is_file():
            raise InputError(f"is not a file, expected a {self.kind} installer", where=str(self.path))

    def read(self, what: str) -> bytes:
        """The installer file's bytes; InputError "cannot read the ``what``" naming the file."""
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the {what}: {exc.strerror or exc}",
                             where=str(self.path)) from None

    def native_bits(self) -> int | None:
        """Bitness the installer itself dictates (a DLL's own), or None to use the caller's."""
        return None

    @abc.abstractmethod
    def run(self, env: SetupEnv) -> None:
        """Carry out the installer against ``env``; InputError for input it cannot run."""


#: File suffix -> kind name.
SUFFIXES = {
    ".reg": "reg",
    ".cmd": "cmd",
    ".bat": "cmd",
    ".py": "python",
    ".dll": "selfreg",
    ".msi": "msi",
}


def installer_for(path: str | os.PathLike[str], *, reg32: bool = False,
                  unregister: bool = False) -> Installer:
    """An installer for ``path`` chosen by its suffix (.reg, .cmd/.bat, .py, .dll, .msi).

    ``reg32`` imports a .reg file through the 32-bit view; ``unregister`` makes a .dll
    installer call DllUnregisterServer instead of DllRegisterServer, and a .msi package
    run its uninstall.
    """
    p = Path(path)
    kind = SUFFIXES.get(p.suffix.lower())
    if kind == "reg":
        from emulator.setup.regfile_installer import RegFileInstaller

        return RegFileInstaller(p, reg32=reg32)
    if kind == "cmd":
        from emulator.setup.regexe import RegExeScript

        return RegExeScript(p)
    if kind == "python":
        from emulator.setup.python_installer import PythonInstaller

        return PythonInstaller(p)
    if kind == "selfreg":
        from emulator.setup.selfreg_installer import SelfRegInstaller

        return SelfRegInstaller(p, unregister=unregister)
    if kind == "msi":
        from emulator.setup.msi_installer import MsiInstaller

        return MsiInstaller(p, uninstall=unregister)
    raise InputError(
        f"unknown installer kind {p.suffix or '(no suffix)'!r}; expected a .reg file, a reg.exe "
        "script (.cmd/.bat), Python winreg code (.py), a self-registering DLL (.dll) or a "
        "Windows Installer package (.msi)",
        where=str(p),
    )
