"""Pick a loader for a file and open it: :func:`open_dll`.

``loader="auto"`` decides by content: a ``.py`` file or ``module[:attr]`` spec -> ``python``;
an MZ/PE image -> ``pe`` (the CPU emulator; on Windows a PE of this interpreter's bitness can
also run ``native``, but only when asked for explicitly); ELF or Mach-O -> ``native``.
``isolate=None`` uses the loader's default: ``native`` runs in a child process (a crash or hang
of real code would take the host down), ``python`` and ``pe`` run in-process.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping
from typing import Any

from emulator.errors import LoadError
from emulator.loaders.base import AdminDll, Loader

__all__ = ["DEFAULT_ISOLATE", "LOADERS", "detect_loader", "make_loader", "open_dll"]

#: loader name -> "module:Class", imported on first use
LOADERS: dict[str, str] = {
    "python": "emulator.loaders.python:PythonLoader",
    "native": "emulator.loaders.native:NativeLoader",
    "pe": "emulator.loaders.pe:PeLoader",
}

#: whether each loader runs in a child process when ``isolate`` is None
DEFAULT_ISOLATE: dict[str, bool] = {"python": False, "native": True, "pe": False}


def _loader_class(name: str) -> type[Loader]:
    spec = LOADERS.get(name)
    if spec is None:
        raise LoadError(f"unknown loader {name!r}; known loaders: auto, {', '.join(LOADERS)}")
    module, _, attr = spec.partition(":")
    try:
        cls: type[Loader] = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise LoadError(f"loader {name!r} is not available: {e}") from None
    return cls


def make_loader(name: str, options: Mapping[str, Any] | None = None) -> Loader:
    """An instance of loader ``name``.

    ``options`` go to the constructor: as one ``options`` mapping when it has such a parameter,
    else as keyword arguments (e.g. the pe loader's ``instruction_budget``).
    """
    cls = _loader_class(name)
    opts = dict(options or {})
    params = inspect.signature(cls.__init__).parameters
    if "options" in params:
        return cls(opts)  # type: ignore[call-arg]
    accepted = [
        p.name
        for p in params.values()
        if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    unknown = sorted(set(opts) - set(accepted))
    if unknown:
        raise LoadError(
            f"loader {name!r} has no option {', '.join(unknown)}; "
            f"its options: {', '.join(accepted) or 'none'}"
        )
    return cls(**opts)


def _read_head(path: str) -> bytes:
    if not os.path.exists(path):
        raise LoadError("file not found", where=path)
    if os.path.isdir(path):
        raise LoadError(
            "is a directory, expected a DLL, shared library or .py stand-in", where=path
        )
    try:
        with open(path, "rb") as fh:
            return fh.read(64)
    except OSError as e:
        raise LoadError(f"cannot read: {e.strerror}", where=path) from None


def detect_loader(path: str) -> str:
    """The loader ``auto`` picks for ``path`` (LoadError if none fits)."""
    from emulator.loaders.python import is_python_spec

    if is_python_spec(path):
        if path.endswith(".py"):
            _read_head(path)
        return "python"
    head = _read_head(path)
    if head.startswith(b"MZ"):
        return "pe"
    if head.startswith(b"\x7fELF") or head[:4] in (
        b"\xcf\xfa\xed\xfe",
        b"\xce\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ):
        return "native"
    from emulator.loaders.native import describe_binary

    raise LoadError(
        f"{describe_binary(head)}: expected a Windows DLL (MZ/PE), a host shared library "
        "(ELF/Mach-O) or a Python stand-in (.py or module:Class)",
        where=path,
    )


def open_dll(
    path: str,
    *,
    loader: str = "auto",
    bitness: int | None = None,
    isolate: bool | None = None,
    options: Mapping[str, Any] | None = None,
) -> AdminDll:
    """Load ``path`` with ``loader`` (or the one ``auto`` picks), optionally in a child process.

    Raises LoadError for a missing file, a directory, an unknown format or loader name, and
    whatever the loader itself rejects.
    """
    path = os.fspath(path)
    name = detect_loader(path) if loader == "auto" else loader
    if name not in LOADERS:
        raise LoadError(f"unknown loader {name!r}; known loaders: auto, {', '.join(LOADERS)}")
    if loader != "auto" and name != "python":
        _read_head(path)
    use_child = DEFAULT_ISOLATE.get(name, False) if isolate is None else isolate
    if use_child:
        from emulator.loaders.isolated import IsolatedDll

        return IsolatedDll(name, path, bitness=bitness, options=options)
    return make_loader(name, options).load(path, bitness=bitness)
