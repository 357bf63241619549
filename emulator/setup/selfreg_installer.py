"""Self-registering PE DLLs: DllRegisterServer / DllUnregisterServer run in the PE emulator.

Modelled as ``regsvr32 %windir%\\System32\\<name>.dll``: the DLL file is placed (natively, no
redirection) at ``C:\\Windows\\System32\\<name>`` -- the path the emulator reports to
GetModuleFileName -- and the export runs through :mod:`emulator.loaders.pe.selfreg` with the
run's registry, at the DLL's own bitness. A failed HRESULT or a crash is logged as ``failed``
(the checks then show what was or was not registered); a DLL that cannot be loaded or lacks
the export is an InputError.
"""

from __future__ import annotations

import os

from emulator.errors import InputError
from emulator.setup.env import SetupEnv
from emulator.setup.installers import Installer
from emulator.setup.pe import pe_header
from emulator.setup.winfs import SYSTEM32


class SelfRegInstaller(Installer):
    """Call the DLL's DllRegisterServer (or DllUnregisterServer) against the run's registry."""

    kind = "self-registering DLL"

    def __init__(self, path: str | os.PathLike[str], *, unregister: bool = False) -> None:
        super().__init__(path)
        self.unregister = unregister

    def native_bits(self) -> int | None:
        """The DLL's own bitness (regsvr32 of the matching bitness runs it)."""
        head = pe_header(self.read("self-registering DLL"))
        return head.bits if head is not None else None

    def run(self, env: SetupEnv) -> None:
        """Place the DLL in System32 and run the export; InputError for a file that is not a PE DLL."""
        from emulator.loaders.pe import selfreg as module
        from emulator.loaders.pe.winapi.env import PeOptions

        data = self.read("self-registering DLL")
        head = pe_header(data)
        if head is None or head.bits is None:
            raise InputError(
                "not an x86 or x64 PE DLL, expected a self-registering DLL", where=str(self.path)
            )
        if head.bits == 64 and env.os_bits == 32:
            raise InputError(
                "a 64-bit DLL cannot be registered on a 32-bit profile", where=str(self.path)
            )
        target = SYSTEM32 + "\\" + self.path.name
        if not self.unregister:
            env.fs.write(target, data, 64)
            env.log.add("action", f"copied {self.path.name} to {target}", str(self.path))
        export = "DllUnregisterServer" if self.unregister else "DllRegisterServer"
        result = module.run_export(
            self.path,
            env.registry,
            export,
            bitness=head.bits,
            options=PeOptions(wow64=env.os_bits == 64),
        )
        for line in result.debug_output:
            env.log.add("output", str(line), str(self.path))
        if result.fault is not None:
            env.log.add(
                "failed",
                f"{export} crashed: {result.fault.kind}: {result.fault.message}",
                str(self.path),
            )
        elif not result.succeeded:
            env.log.add(
                "failed", f"{export} returned HRESULT {result.returned:#010x}", str(self.path)
            )
        else:
            env.log.add(
                "action",
                f"regsvr32{' /u' if self.unregister else ''} {target}: {export} "
                f"returned S_OK ({head.bits}-bit DLL)",
                str(self.path),
            )
        if self.unregister and env.fs.delete(target, 64):
            env.log.add("action", f"deleted {target}", str(self.path))
