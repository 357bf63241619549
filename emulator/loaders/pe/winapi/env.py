"""Shared plumbing of the breadth handlers (advapi32, kernel32_extra, ucrtbase, vcruntime, user32, ...).

* :func:`soft_api` registers a handler only when nobody registered the name before; the core
  modules (kernel32, msvcrt, ntdll) are imported first, so their handlers always win and a name
  added there later never makes two registrations collide.
* :class:`PeOptions` is what the breadth handlers need from outside the DLL: the registry, the
  file sandbox, the OS version. A handler reads it with :func:`options`; a caller passes it to
  ``PeLoader(options=...)`` (or :func:`load`), which puts it into every (re)loaded process.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from emulator.loaders.pe.winapi import REGISTRY, Conv, Ctx, Handler, _norm_dll, api

if TYPE_CHECKING:
    from emulator.loaders.pe.loader import PeDll
    from emulator.registry.model import Registry

for _core in ("kernel32", "msvcrt", "ntdll"):
    importlib.import_module(f"emulator.loaders.pe.winapi.{_core}")

_F = TypeVar("_F", bound=Handler)

#: key of the options in ``Process.extra``
OPTIONS_KEY = "rasemu.options"


def soft_api(
    dll: str,
    name: str | None = None,
    *,
    argc: int | None = None,
    conv: Conv = "stdcall",
    varargs: bool = False,
    ret64: bool = False,
    also: tuple[str, ...] = (),
    wide_args: tuple[int, ...] = (),
) -> Callable[[_F], _F]:
    """Like :func:`~emulator.loaders.pe.winapi.api`, but skips DLL names that already have ``name``."""

    def deco(fn: _F) -> _F:
        sym = name or fn.__name__
        free = [d for d in (dll, *also) if (_norm_dll(d), sym) not in REGISTRY]
        if free:  # the core modules were imported first (top of this module), so they win
            api(
                free[0],
                sym,
                argc=argc,
                conv=conv,
                varargs=varargs,
                ret64=ret64,
                also=tuple(free[1:]),
                wide_args=wide_args,
            )(fn)
        return fn

    return deco


@dataclass
class PeOptions:
    """Environment of the emulated machine that the breadth handlers consult.

    ``registry``: the registry advapi32 works on (None: a private empty one per process).
    ``sandbox``: host folder that Windows paths map into (None: every file access is denied
    and recorded). ``os_version``: (major, minor, build) of the emulated Windows (RtlGetVersion,
    VerifyVersionInfo). ``wow64``: a 32-bit DLL runs under WOW64 on 64-bit Windows (registry and
    System32 redirection, IsWow64Process); False models a 32-bit Windows. ``environment``: extra
    environment variables.
    """

    registry: Registry | None = None
    sandbox: str | None = None
    os_version: tuple[int, int, int] = (6, 1, 7601)
    wow64: bool = True
    computer_name: str = "RASSRV01"
    user_name: str = "SYSTEM"
    environment: dict[str, str] = field(default_factory=dict)
    #: every file access refused for lack of a sandbox or for escaping it: (api, path, reason)
    denied: list[tuple[str, str, str]] = field(default_factory=list)
    #: event-log entries ReportEvent wrote (R46 evidence)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: message boxes the DLL showed (caption, text)
    message_boxes: list[tuple[str, str]] = field(default_factory=list)


#: (major, minor, build) of each host profile's OS (the server editions RRAS runs on)
OS_VERSIONS: dict[str, tuple[int, int, int]] = {
    "nt4": (4, 0, 1381),
    "win2000": (5, 0, 2195),
    "win2003": (5, 2, 3790),
    "win2008": (6, 0, 6002),
    "win7": (6, 1, 7601),
}


def for_profile(profile: Any, **kw: Any) -> PeOptions:
    """Options matching a host profile (:class:`emulator.host.profiles.Profile`): its OS version,
    and WOW64 only on a 64-bit OS."""
    return PeOptions(os_version=OS_VERSIONS[profile.os], wow64=profile.bitness == 64, **kw)


_DEFAULT: contextvars.ContextVar[PeOptions | None] = contextvars.ContextVar(
    "rasemu_pe_options", default=None
)


@contextlib.contextmanager
def using(opts: PeOptions) -> Iterator[PeOptions]:
    """Make ``opts`` the options of every emulated process that first asks inside this block."""
    token = _DEFAULT.set(opts)
    try:
        yield opts
    finally:
        _DEFAULT.reset(token)


def default_options() -> PeOptions:
    """The options of an enclosing :func:`using` block, else fresh defaults."""
    return _DEFAULT.get() or PeOptions()


def options(ctx: Ctx) -> PeOptions:
    """The options of the process ``ctx`` belongs to (the loader puts them in at every (re)load)."""
    opts = ctx.proc.extra.get(OPTIONS_KEY)
    if opts is None:  # an Emulator made without the loader
        opts = default_options()
        ctx.proc.extra[OPTIONS_KEY] = opts
    assert isinstance(opts, PeOptions)
    return opts


def configure(dll: PeDll, opts: PeOptions) -> PeDll:
    """Make ``opts`` the options of a loaded DLL from now on (its live process and every reload).

    Prefer ``PeLoader(options=opts)``: that also covers DllMain of the first load.
    """
    dll.options = opts
    emu = dll._emu
    if emu is not None:
        emu.proc.extra[OPTIONS_KEY] = opts
    return dll


def load(
    path: str, *, bitness: int | None = None, opts: PeOptions | None = None, **loader_kw: Any
) -> PeDll:
    """``PeLoader(options=opts, **loader_kw).load(path, bitness=bitness)``."""
    from emulator.loaders.pe.loader import PeLoader

    return PeLoader(opts or PeOptions(), **loader_kw).load(path, bitness=bitness)


SYSTEM_ROOT = "C:\\Windows"


def environment(ctx: Ctx) -> dict[str, str]:
    """The fixed environment (upper-cased names), overridable through ``PeOptions.environment``."""
    opts = options(ctx)
    env = {
        "SYSTEMROOT": SYSTEM_ROOT,
        "WINDIR": SYSTEM_ROOT,
        "SYSTEMDRIVE": "C:",
        "PROGRAMFILES": "C:\\Program Files (x86)" if ctx.bits == 32 else "C:\\Program Files",
        "PROGRAMDATA": "C:\\ProgramData",
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "TEMP": "C:\\Windows\\TEMP",
        "TMP": "C:\\Windows\\TEMP",
        "COMPUTERNAME": opts.computer_name,
        "USERNAME": opts.computer_name + "$",
        "OS": "Windows_NT",
        "COMSPEC": "C:\\Windows\\system32\\cmd.exe",
    }
    if ctx.bits == 32:
        env["PROGRAMFILES(X86)"] = "C:\\Program Files (x86)"
        env["PROGRAMW6432"] = "C:\\Program Files"
    else:
        env["PROGRAMFILES(X86)"] = "C:\\Program Files (x86)"
    for k, v in opts.environment.items():
        env[k.upper()] = v
    return env


# the display spelling of the fixed variable names (GetEnvironmentStrings)
ENV_NAMES = {
    "SYSTEMROOT": "SystemRoot",
    "WINDIR": "windir",
    "SYSTEMDRIVE": "SystemDrive",
    "PROGRAMFILES": "ProgramFiles",
    "PROGRAMDATA": "ProgramData",
    "ALLUSERSPROFILE": "ALLUSERSPROFILE",
    "TEMP": "TEMP",
    "TMP": "TMP",
    "COMPUTERNAME": "COMPUTERNAME",
    "USERNAME": "USERNAME",
    "OS": "OS",
    "COMSPEC": "ComSpec",
    "PROGRAMFILES(X86)": "ProgramFiles(x86)",
    "PROGRAMW6432": "ProgramW6432",
}


def expand(ctx: Ctx, text: str) -> str:
    """``%VAR%`` expansion the way ExpandEnvironmentStrings does it (unknown names stay)."""
    env = environment(ctx)
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            j = text.find("%", i + 1)
            if j > i + 1:
                val = env.get(text[i + 1 : j].upper())
                if val is not None:
                    out.append(val)
                    i = j + 1
                    continue
            if j == i + 1:
                out.append("%")
                i += 1
                continue
        out.append(c)
        i += 1
    return "".join(out)
