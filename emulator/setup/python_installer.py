"""Python installers: code using ``winreg`` (and optionally ``shutil``/``os``) run as a script.

The script runs with :func:`runpy.run_path` as ``__main__`` with:

* ``winreg`` = rasemu's fake bound to the run's registry (:class:`emulator.registry.patcher.Patcher`);
  the process bitness decides the default registry view (32-bit process on a 64-bit OS:
  32-bit view; ``KEY_WOW64_32KEY``/``KEY_WOW64_64KEY`` choose explicitly);
* a Windows file system faked by pyfakefs (drive letters, case-insensitive), filled from the
  run's :class:`~emulator.setup.winfs.WinFS` and copied back afterwards; a 32-bit process
  on a 64-bit OS gets the File System Redirector (System32 -> SysWOW64, S25);
* ``__file__`` = ``C:\\Setup\\<script name>``, current folder ``C:\\Setup``, ``sys.argv`` = [that path],
  an empty stdin (the run is unattended: ``input()`` gets EOF),
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
import stat
import sys
import traceback
import warnings
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
        # Windows' os.environ matches names case-insensitively (stored upper-cased)
        os.environ.update({k.upper(): v for k, v in values.items()})
        if not wow64:
            os.environ.pop("PROCESSOR_ARCHITEW6432", None)
            os.environ.pop("PROCESSOR_ARCHITEW6432".upper(), None)
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
            from pyfakefs.fake_io import PatchMode
        except ImportError:
            raise InputError("Python installers need pyfakefs for the fake file system "
                             "(pip install pyfakefs)", where=str(self.path)) from None
        source = self.read("installer")
        if FsPatcher.REF_COUNT > 0:  # a pyfakefs session is active and would be reused
            raise InputError("Python installers cannot run inside another pyfakefs session "
                             "(stop it first)", where=str(self.path))
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
                fs: Any = fs_patcher.fs
                fake_os: Any = fs_patcher.fake_modules["os"]
                try:
                    fs.os = OSType.WINDOWS
                    temp_dirs = {p.upper() for p in self._existing_dirs(fs)}
                    # create_file makes parent folders: create only the other (leaf) folders
                    entries = list(env.fs.files())
                    for entry in entries:
                        fs.create_file(entry.path, contents=entry.data)
                    if win_script.upper() not in {e.path.upper() for e in entries}:
                        fs.create_file(win_script, contents=source)
                    made = [e.path.upper() for e in entries] + [win_script.upper()]
                    for folder in reversed(env.fs.folders()):  # children before parents
                        key = folder.upper().rstrip("\\") + "\\"
                        if not any(m.startswith(key) for m in made):
                            with contextlib.suppress(FileExistsError):
                                fs.create_dir(folder)
                            made.append(key)
                    fake_os.chdir(SETUP_DIR)
                    if env.wow64:
                        self._install_redirector(fs, redirected)
                    sys.argv = [win_script]
                    saved_stdin = sys.stdin
                    sys.stdin = io.StringIO()  # unattended: input() gets EOF, never waits
                    try:
                        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                            self._execute(win_script, env)
                    finally:
                        sys.stdin = saved_stdin
                    if "absnormpath" in vars(fs):
                        del fs.absnormpath  # back to the class method
                    self._harvest(env, fs, temp_dirs, redirected, win_script)
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
    def _tree(fs: Any) -> Iterator[tuple[str, Any]]:
        """(path, object) of every folder and file under C:\\ (object tree walk, no path parsing)."""
        from pyfakefs.fake_file import FakeDirectory

        stack = [("C:", fs.get_object("C:\\"))]
        while stack:
            path, folder = stack.pop()
            for name, obj in folder.entries.items():
                full = path + "\\" + name
                yield full, obj
                if isinstance(obj, FakeDirectory):
                    stack.append((full, obj))

    @classmethod
    def _existing_dirs(cls, fs: Any) -> list[str]:
        """Paths pyfakefs made itself (its temp folder and the link to it)."""
        return [p for p, _ in cls._tree(fs)]

    def _execute(self, win_script: str, env: SetupEnv) -> None:
        try:
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                try:
                    runpy.run_path(win_script, run_name="__main__")
                finally:
                    # the script's own warnings (an invalid escape such as "C:\Myapp" when it
                    # is compiled) go to the log with their line; others are not the vendor's
                    for w in seen:
                        if w.filename == win_script:
                            env.log.add("note", f"Python {w.category.__name__} at line "
                                        f"{w.lineno}: {w.message}", str(self.path))
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

    def _harvest(self, env: SetupEnv, fs: Any, temp_dirs: set[str],
                 redirected: dict[str, str], win_script: str) -> None:
        """Copy the fake file system's files and folders back into ``env.fs``."""
        before = {e.path.upper(): e for e in env.fs.files()}
        files: dict[str, FileEntry] = {}
        folders: list[str] = []
        from pyfakefs.fake_file import FakeDirectory

        known = {f.upper() for f in env.fs.folders()}
        for full, obj in self._tree(fs):
            if full.upper() in temp_dirs and full.upper() not in known and \
                    full.upper() not in before:
                continue  # pyfakefs's own temp folder and link
            if stat.S_ISLNK(obj.st_mode):
                continue
            if isinstance(obj, FakeDirectory):
                folders.append(full)
                continue
            if full.upper() == win_script.upper() and full.upper() not in before:
                continue
            data = obj.byte_contents or b""
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
