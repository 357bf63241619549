"""Python installers: code using ``winreg`` (and optionally ``shutil``/``os``) run as a script.

The script runs with :func:`runpy.run_path` as ``__main__`` with:

* ``winreg`` = rasemu's fake bound to the run's registry (:class:`emulator.registry.patcher.Patcher`);
  the process bitness decides the default registry view (32-bit process on a 64-bit OS:
  32-bit view; ``KEY_WOW64_32KEY``/``KEY_WOW64_64KEY`` choose explicitly);
* a Windows file system faked by pyfakefs (drive letters, case-insensitive), filled from the
  run's :class:`~emulator.setup.winfs.WinFS` and copied back afterwards; a 32-bit process
  on a 64-bit OS gets the File System Redirector (System32 -> SysWOW64, S25);
* ``__file__`` = ``C:\\Setup\\<script name>``, current folder ``C:\\Setup``, ``sys.argv`` = [that path],
  and the Windows environment variables of the process bitness (``ProgramFiles``, ``windir``,
  ``PROCESSOR_ARCHITEW6432``...) laid over ``os.environ``.

Limits: the script sees the host's ``sys.maxsize``/``platform`` (bitness is visible only through
the environment, the registry view and the redirector); only the script and the media files
in the WinFS (the DLL) are in the fake file system, not the script's other sibling files.
Needs pyfakefs (a test extra of rasemu); without it the run is an InputError saying so.
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import sys
import traceback
from collections.abc import Iterator
from typing import Any

from emulator.errors import InputError
from emulator.registry.patcher import Patcher as WinregPatcher
from emulator.setup.env import SETUP_DIR, SetupEnv
from emulator.setup.installers import Installer
from emulator.setup.winfs import REDIRECT_EXEMPT, SYSNATIVE, SYSTEM32, SYSWOW64, FileEntry, is_under


@contextlib.contextmanager
def _environ(values: dict[str, str], wow64: bool) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        os.environ.update(values)
        if not wow64:
            os.environ.pop("PROCESSOR_ARCHITEW6432", None)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class PythonInstaller(Installer):
    """A ``.py`` installer (see the module docstring)."""

    kind = "Python"

    def run(self, env: SetupEnv) -> None:
        """Run the script against ``env``; an exception in it is an InputError at its line."""
        try:
            from pyfakefs.fake_filesystem import OSType
            from pyfakefs.fake_filesystem_unittest import Patcher as FsPatcher
            from pyfakefs.fake_filesystem_unittest import PatchMode
        except ImportError:
            raise InputError("Python installers need pyfakefs for the fake file system "
                             "(pip install pyfakefs)", where=str(self.path)) from None
        try:
            source = self.path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the installer: {exc.strerror or exc}",
                             where=str(self.path)) from None
        win_script = SETUP_DIR + "\\" + self.path.name
        registry = env.registry
        saved_view = registry.default_view
        registry.default_view = env.reg_view(None)
        out = io.StringIO()
        saved_argv = sys.argv
        reg_patcher = WinregPatcher(registry, seed="empty")
        fake_reg: Any = reg_patcher.winreg
        fake_reg.environ = dict(env.environ)
        redirected: dict[str, str] = {}
        fs_patcher = FsPatcher(patch_open_code=PatchMode.AUTO, use_cache=True)
        try:
            with reg_patcher, _environ(env.environ, env.wow64):
                fs_patcher.setUp()
                fs = fs_patcher.fs
                fake_os = fs_patcher.fake_modules["os"]
                try:
                    fs.os = OSType.WINDOWS
                    temp_dirs = {p.upper() for p in self._existing_dirs(fake_os)}
                    for folder in env.fs.folders():
                        if not fs.exists(folder):
                            fs.create_dir(folder)
                    for entry in env.fs.files():
                        fs.create_file(entry.path, contents=entry.data)
                    if not fs.exists(win_script):
                        fs.create_file(win_script, contents=source)
                    fake_os.chdir(SETUP_DIR)
                    if env.wow64:
                        self._install_redirector(fs, redirected)
                    sys.argv = [win_script]
                    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                        self._execute(win_script)
                    if "absnormpath" in vars(fs):
                        del fs.absnormpath  # back to the class method
                    self._harvest(env, fs, fake_os, temp_dirs, redirected, win_script)
                finally:
                    if "absnormpath" in vars(fs):
                        del fs.absnormpath  # back to the class method
                    fs_patcher.tearDown()
        finally:
            sys.argv = saved_argv
            registry.default_view = saved_view
            for line in out.getvalue().splitlines():
                env.log.add("output", line, str(self.path))
        env.log.add("action", f"ran {self.path.name} as a {env.bits}-bit Python installer",
                    str(self.path))

    @staticmethod
    def _existing_dirs(fake_os: Any) -> list[str]:
        found: list[str] = []
        for root, dirs, _ in fake_os.walk("C:\\"):
            found.extend(root.rstrip("\\") + "\\" + d for d in dirs)
        return found

    def _execute(self, win_script: str) -> None:
        try:
            runpy.run_path(win_script, run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise InputError(f"the installer exited with status {exc.code!r}",
                                 where=str(self.path)) from None
        except InputError:
            raise
        except Exception as exc:
            line = None
            for frame in traceback.extract_tb(exc.__traceback__):
                if frame.filename == win_script:
                    line = frame.lineno
            raise InputError(f"the installer raised {type(exc).__name__}: {exc}",
                             where=str(self.path), line=line) from None

    @staticmethod
    def _install_redirector(fs: Any, redirected: dict[str, str]) -> None:
        original = fs.absnormpath

        def absnormpath(path: Any) -> Any:
            result = original(path)
            if not isinstance(result, str):
                return result
            if is_under(result, SYSNATIVE):
                return SYSTEM32 + result[len(SYSNATIVE):]
            if is_under(result, SYSTEM32):
                rest = result[len(SYSTEM32):].lstrip("\\")
                if not any(is_under(rest, ex) for ex in REDIRECT_EXEMPT):
                    target = SYSWOW64 + result[len(SYSTEM32):]
                    redirected[target.upper()] = result
                    return target
            return result

        fs.absnormpath = absnormpath

    def _harvest(self, env: SetupEnv, fs: Any, fake_os: Any, temp_dirs: set[str],
                 redirected: dict[str, str], win_script: str) -> None:
        """Copy the fake file system's files and folders back into ``env.fs``."""
        before = {e.path.upper(): e for e in env.fs.files()}
        files: dict[str, FileEntry] = {}
        folders: list[str] = []
        for root, dirs, names in fake_os.walk("C:\\"):
            for d in dirs:
                full = root.rstrip("\\") + "\\" + d
                if full.upper() in temp_dirs or any(full.upper().startswith(t + "\\")
                                                    for t in temp_dirs):
                    continue
                folders.append(full)
            if root.upper() in temp_dirs or any(root.upper().startswith(t + "\\")
                                                for t in temp_dirs):
                continue
            for name in names:
                full = root.rstrip("\\") + "\\" + name
                if full.upper() == win_script.upper() and full.upper() not in before:
                    continue
                data = fs.get_object(full).byte_contents or b""
                old = before.get(full.upper())
                if old is not None and old.data == data:
                    files[full.upper()] = old
                    continue
                requested = redirected.get(full.upper(), full)
                files[full.upper()] = FileEntry(full, data, requested, env.bits)
                env.log.add("action", f"wrote {requested}"
                            + (f" (File System Redirector: written to {full})"
                               if requested != full else ""), str(self.path))
        gone = sorted(set(before) - set(files))
        for key in gone:
            env.log.add("action", f"deleted {before[key].path}", str(self.path))
        env.fs.redirections.extend((v, k) for k, v in redirected.items())
        env.fs.replace_all(files, ["C:\\", *folders])
