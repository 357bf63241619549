"""Stand-in for interruption tests: the reference DLL, 50 ms slower per address request.

With ``RASEMU_TEST_DIE_ON_CALL=N`` the process running it kills itself with SIGKILL on the
N-th address request (once per run: ``RASEMU_TEST_DIE_FLAG`` names a file that marks it done),
to play a DLL whose child process dies mid-call. With ``RASEMU_TEST_READY_ON=N`` and
``RASEMU_TEST_READY_FILE`` it creates that file on the N-th request, so a test knows the run is
well under way before it interrupts it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from fixtures.standins._reference import ReferenceAdminDll

DELAY = float(os.environ.get("RASEMU_TEST_DELAY", "0.05"))


class AdminDll(ReferenceAdminDll):
    BAD = ""
    calls = 0

    def _slow(self) -> None:
        AdminDll.calls += 1
        die = int(os.environ.get("RASEMU_TEST_DIE_ON_CALL", "0") or 0)
        flag = os.environ.get("RASEMU_TEST_DIE_FLAG")
        if die and AdminDll.calls == die and flag and not Path(flag).exists():
            Path(flag).write_text(str(os.getpid()))
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
        ready = int(os.environ.get("RASEMU_TEST_READY_ON", "0") or 0)
        if ready and AdminDll.calls == ready and os.environ.get("RASEMU_TEST_READY_FILE"):
            Path(os.environ["RASEMU_TEST_READY_FILE"]).write_text(str(os.getpid()))
        time.sleep(DELAY)

    def MprAdminGetIpAddressForUser(self, *args: Any) -> int:
        self._slow()
        return super().MprAdminGetIpAddressForUser(*args)

    def RasAdminGetIpAddressForUser(self, *args: Any) -> int:
        self._slow()
        return super().RasAdminGetIpAddressForUser(*args)
