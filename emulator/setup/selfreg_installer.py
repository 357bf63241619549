"""Self-registering PE DLLs: DllRegisterServer / DllUnregisterServer run in the PE emulator.

This kind needs :mod:`emulator.loaders.pe.selfreg` (written separately). When that module is
missing or lacks ``run_selfreg``, running this installer is an InputError saying so.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from emulator.errors import InputError
from emulator.setup.env import SetupEnv
from emulator.setup.installers import Installer


class SelfRegInstaller(Installer):
    """Call the DLL's DllRegisterServer (or DllUnregisterServer) against the run's registry."""

    kind = "self-registering DLL"

    def __init__(self, path: str | os.PathLike[str], *, unregister: bool = False) -> None:
        super().__init__(path)
        self.unregister = unregister

    def run(self, env: SetupEnv) -> None:
        """Run the export through selfreg.py; InputError when that component is not available."""
        try:
            module: Any = importlib.import_module("emulator.loaders.pe.selfreg")
        except ImportError:
            raise InputError(
                "self-registering DLL installers are not available in this build: "
                "emulator.loaders.pe.selfreg is missing; use a .reg, .cmd or .py installer",
                where=str(self.path)) from None
        runner = getattr(module, "run_selfreg", None)
        if runner is None:
            raise InputError(
                "self-registering DLL installers are not available: emulator.loaders.pe.selfreg "
                "has no run_selfreg(path, registry, *, bitness, unregister)", where=str(self.path))
        runner(self.path, env.registry, bitness=env.bits, unregister=self.unregister)
        what = "DllUnregisterServer" if self.unregister else "DllRegisterServer"
        env.log.add("action", f"called {what} of {self.path.name}", str(self.path))
