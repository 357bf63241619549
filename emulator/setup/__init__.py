"""Setup and uninstall validation: run admin-DLL installers in a sandbox and check R01-R10.

``validate_installer(install, uninstall, profile=..., dll=..., preexisting=...)`` returns a
:class:`SetupResult`; installer kinds live in their own modules (see :mod:`.installers`).
"""

from __future__ import annotations

from emulator.setup.env import SETUP_DIR, SetupEnv, SetupLog
from emulator.setup.installers import Installer, installer_for
from emulator.setup.validate import SetupResult, SetupSession, media_dll_name, validate_installer
from emulator.setup.winfs import WinFS

__all__ = ["SETUP_DIR", "Installer", "SetupEnv", "SetupLog", "SetupResult", "SetupSession",
           "WinFS", "installer_for", "media_dll_name", "validate_installer"]
