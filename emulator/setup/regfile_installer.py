"""``.reg`` installers: imported as regedit does (64-bit view unless ``reg32``)."""

from __future__ import annotations

import os

from emulator.registry import regfile
from emulator.setup.env import SetupEnv
from emulator.setup.installers import Installer


class RegFileInstaller(Installer):
    """Import a .reg file (strict parsing: any irregular line is an InputError with file:line:col).

    A .reg file cannot copy files, so ``copies_files`` is False: the validator puts the DLL
    where the registered ``DLLPath`` says, as the package's other setup step would.
    """

    copies_files = False
    kind = ".reg"

    def __init__(self, path: str | os.PathLike[str], *, reg32: bool = False) -> None:
        super().__init__(path)
        self.reg32 = reg32

    def run(self, env: SetupEnv) -> None:
        """Parse and apply the file through the 64-bit view (32-bit with ``reg32``)."""
        parsed = regfile.parse_file(self.path, strict=True)
        view = env.reg_view(32 if self.reg32 else 64)
        stats = regfile.apply(parsed.ops, env.registry, view, strict=True)
        for note in parsed.notes:
            env.log.add("note", note.reason, f"{note.file}:{note.line}")
        env.log.add(
            "action",
            f"imported {self.path.name} through the {view}-bit view: {stats.keys_created} key(s) "
            f"opened, {stats.keys_deleted} deleted, {stats.values_set} value(s) set, "
            f"{stats.values_deleted} deleted",
            str(self.path),
        )
