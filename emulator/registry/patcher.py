"""Put a fake ``winreg`` in place of the real one (pyfakefs style).

``with Patcher(seed="ras_server") as p:`` -- code that runs ``import winreg`` or
``from winreg import OpenKey`` inside the block gets ``p.winreg`` (a :class:`FakeWinreg`
over ``p.registry``). ``Patcher`` also works as a decorator. On Windows, modules that
already hold the real module or its functions get the fake ones until the patcher stops,
so tests never touch the machine's registry. ``guard=True`` installs a stand-in whose
every registry call fails with :class:`RegistryAccessError`.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable
from typing import Any, Final, ParamSpec, TypeVar

from emulator.registry.model import Registry
from emulator.registry.seeds import apply_seed
from emulator.registry.winreg import FakeWinreg

P = ParamSpec("P")
R = TypeVar("R")

#: The functions of ``winreg`` (all of them touch the registry except ExpandEnvironmentStrings).
FUNCTIONS: Final = (
    "CloseKey", "ConnectRegistry", "CreateKey", "CreateKeyEx", "DeleteKey", "DeleteKeyEx",
    "DeleteValue", "DisableReflectionKey", "EnableReflectionKey", "EnumKey", "EnumValue",
    "ExpandEnvironmentStrings", "FlushKey", "LoadKey", "OpenKey", "OpenKeyEx", "QueryInfoKey",
    "QueryReflectionKey", "QueryValue", "QueryValueEx", "SaveKey", "SetValue", "SetValueEx",
)

_MISSING: Final = object()


class RegistryAccessError(AssertionError):
    """Raised by the guard stand-in: the code under test touched the registry."""


class GuardedWinreg:
    """A ``winreg`` stand-in with every constant and no usable function."""

    error = OSError
    __name__ = "winreg"

    def __init__(self) -> None:
        for name in dir(FakeWinreg):
            if name.isupper() or name == "HKEYType":
                setattr(self, name, getattr(FakeWinreg, name))
        for name in FUNCTIONS:
            setattr(self, name, self._refuse(name))
        self.calls: list[str] = []

    def _refuse(self, name: str) -> Callable[..., Any]:
        def refuse(*args: object, **kwargs: object) -> Any:
            shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
            call = f"winreg.{name}({shown})"
            self.calls.append(call)
            raise RegistryAccessError(f"registry access is not allowed in this test: {call}")

        refuse.__name__ = name
        return refuse


class Patcher:
    """Install a fake ``winreg`` while active (context manager or decorator)."""

    def __init__(self, registry: Registry | None = None, seed: str = "empty", guard: bool = False,
                 *, default_view: int = 64) -> None:
        if registry is None:
            registry = Registry(default_view=default_view)
        apply_seed(registry, seed)
        self.registry = registry
        self.guard = guard
        self.winreg: FakeWinreg | GuardedWinreg = GuardedWinreg() if guard else FakeWinreg(registry)
        self._saved: object = _MISSING
        self._patched: list[tuple[Any, str, object]] = []
        self._depth = 0

    @property
    def fake(self) -> FakeWinreg:
        """The installed FakeWinreg (TypeError in guard mode)."""
        if isinstance(self.winreg, FakeWinreg):
            return self.winreg
        raise TypeError("a guard-mode Patcher has no FakeWinreg")

    def start(self) -> Patcher:
        """Install the fake (nestable: only the outermost start/stop pair acts)."""
        self._depth += 1
        if self._depth > 1:
            return self
        real = sys.modules.get("winreg", _MISSING)
        self._saved = real
        sys.modules["winreg"] = self.winreg  # type: ignore[assignment]
        if isinstance(real, types.ModuleType):
            self._patch_references(real)
        return self

    def stop(self) -> None:
        """Put back the real module and every patched reference."""
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth:
            return
        for owner, name, old in reversed(self._patched):
            setattr(owner, name, old)
        self._patched.clear()
        if self._saved is _MISSING:
            sys.modules.pop("winreg", None)
        else:
            sys.modules["winreg"] = self._saved  # type: ignore[assignment]
        self._saved = _MISSING

    setUp = start
    tearDown = stop

    def _patch_references(self, real: types.ModuleType) -> None:
        """Point modules that already imported the real winreg (or its functions) at the fake."""
        real_funcs = {id(getattr(real, n)): n for n in FUNCTIONS if hasattr(real, n)}
        for mod_name, mod in list(sys.modules.items()):
            if mod is None or mod is real or mod_name.startswith("emulator.registry"):
                continue
            try:
                namespace = vars(mod)
            except TypeError:
                continue
            for attr, value in list(namespace.items()):
                if value is real:
                    self._patched.append((mod, attr, value))
                    setattr(mod, attr, self.winreg)
                elif id(value) in real_funcs and callable(value):
                    self._patched.append((mod, attr, value))
                    setattr(mod, attr, getattr(self.winreg, real_funcs[id(value)]))

    def __enter__(self) -> Patcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``func`` so it runs with the fake installed."""

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return func(*args, **kwargs)

        return wrapper
