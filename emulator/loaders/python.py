"""Run a Python stand-in for an admin DLL (``--loader python``).

Stand-in protocol
-----------------
A stand-in is a ``.py`` file, or an importable ``"module"`` / ``"module:Class"`` spec. It defines
callbacks under their plain export names (R16), either as module-level functions or as methods of
a class named ``AdminDll`` (or the ``Class`` of the spec), instantiated once per load. Every load
executes the module anew, so two loads (the host's IP-group and connection-group instances, R36)
share no state, and a load after a fault starts fresh.

Arguments, by the parameter kinds of :mod:`emulator.abi.callbacks`:

* ``wstr`` -> ``str``.
* ``dword_inout``, ``bool_out`` -> :class:`Ref` holding an ``int``; ``in6_inout`` -> :class:`Ref`
  holding 16 ``bytes``. The stand-in assigns ``ref.value``; that is what the host reads back.
* ``struct`` -> a deep copy (:func:`emulator.abi.structs.clone`) of the host's structure object;
  ``struct_array`` -> a list of copies. Changing them is the Python form of writing through an
  ``[in]`` pointer: the index is reported in ``modified_inputs`` (R69). Strings are immutable,
  so a stand-in can break R69 only through a structure.
* ``table_out`` -> a :class:`CallbackTable`: set ``revision`` and slot attributes (SDK names of
  spec 2.7, e.g. ``lpfnMprAdminGetIpAddressForUser``) to callables. The host reads back fake
  addresses; :meth:`PythonAdminDll.export_address` gives the same address for the same function,
  and a ``Call`` whose target is such an address runs that callable.

Return values: ``int``/``bool`` (masked to 32 bits like EAX). ``None`` or anything not int-like
from a non-void callback is reported as a :class:`CallIssue` and read as 0.
An exception is a ``CallFault("crash")`` naming the exception and the stand-in's last frame; the
stand-in is then reloaded. Time limits cannot be enforced in-process (a hanging stand-in hangs the
caller): run stand-ins through :class:`emulator.loaders.isolated.IsolatedDll` for timeouts.

Optional hooks (module-level or on the class; never exported):

* ``rasemu_resources()`` -> :class:`ResourceUsage`, a mapping of its fields, or an ``int``
  (heap blocks); returned by ``resource_usage()`` for leak checks (R76). Without it, None.
* ``rasemu_detach()`` -> called by ``close()`` (the DLL_PROCESS_DETACH equivalent).
* ``RASEMU_EXPORTS``: a mapping ``{export name: callable}`` that adds exports under names that are
  not Python identifiers (e.g. decorated ``"_MprAdminTerminateDll@0"``, R49).

Debug output: call :func:`OutputDebugString` during a callback; the text lands in
``CallResult.debug_output``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import itertools
import os
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any

from emulator.abi.callbacks import TABLE_SLOTS, Signature, signature
from emulator.abi.structs import clone
from emulator.errors import LoadError
from emulator.loaders.base import (
    AdminDll,
    Call,
    CallFault,
    CallIssue,
    CallResult,
    Loader,
    ResourceUsage,
)

__all__ = [
    "CallbackTable",
    "OutputDebugString",
    "PythonAdminDll",
    "PythonLoader",
    "Ref",
    "is_python_spec",
]

_LOADS = itertools.count(1)
_HOOKS = frozenset({"rasemu_resources", "rasemu_detach"})
_MASK = 0xFFFFFFFF
# Fake code addresses handed out for stand-in callables (never dereferenced).
_ADDRESS_BASE = 0x5A000000
_ADDRESS_STEP = 0x10


class Ref:
    """An in/out parameter: the stand-in reads and assigns ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: Any = 0) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Ref({self.value!r})"


class CallbackTable:
    """The ``MPRAPI_ADMIN_DLL_CALLBACKS`` a stand-in fills in ``MprAdminInitializeDllEx``."""

    revision: int
    lpfnMprAdminGetIpAddressForUser: Callable[..., Any] | None
    lpfnMprAdminReleaseIpAddress: Callable[..., Any] | None
    lpfnMprAdminGetIpv6AddressForUser: Callable[..., Any] | None
    lpfnMprAdminReleaseIpV6AddressForUser: Callable[..., Any] | None
    lpfnRasAdminAcceptNewLink: Callable[..., Any] | None
    lpfnRasAdminLinkHangupNotification: Callable[..., Any] | None
    lpfnRasAdminTerminateDll: Callable[..., Any] | None
    lpfnRasAdminAcceptNewConnectionEx: Callable[..., Any] | None
    lpfnRasAdminAcceptEndpointChangeEx: Callable[..., Any] | None
    lpfnRasAdminAcceptReauthenticationEx: Callable[..., Any] | None
    lpfnRasAdminConnectionHangupNotificationEx: Callable[..., Any] | None
    lpfnRASValidatePreAuthenticatedConnectionEx: Callable[..., Any] | None

    def __init__(self) -> None:
        self.revision = 0
        for slot, _ in TABLE_SLOTS:
            setattr(self, slot, None)


_debug = threading.local()


def OutputDebugString(text: str) -> None:
    """Record debug text from inside a callback (lands in ``CallResult.debug_output``)."""
    sink: list[str] | None = getattr(_debug, "sink", None)
    if sink is not None:
        sink.append(str(text))


def is_python_spec(path: str) -> bool:
    """Whether ``path`` names a stand-in: a ``.py`` file or a ``module[:attr]`` spec."""
    if path.endswith(".py"):
        return True
    if os.sep in path or (os.altsep and os.altsep in path) or os.path.exists(path):
        return False
    module, _, attr = path.partition(":")
    return (
        bool(module)
        and all(p.isidentifier() for p in module.split("."))
        and (not attr or attr.isidentifier())
    )


def _function_key(fn: Any) -> tuple[str, str, int] | None:
    """Identity of a function that survives re-executing its module."""
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    return (getattr(func, "__qualname__", "?"), code.co_filename, code.co_firstlineno)


_RETURN_RULE = {
    "MprAdminInitializeDll": "R56",
    "MprAdminInitializeDllEx": "R56",
    "MprAdminTerminateDll": "R57",
    "RasAdminAcceptNewConnection": "R75",
}


def _return_rule(sig: Signature) -> str:
    if sig.name in _RETURN_RULE:
        return _RETURN_RULE[sig.name]
    return "R58" if sig.returns == "bool" else "R59"


class PythonAdminDll(AdminDll):
    """A loaded stand-in. See the module docstring for the protocol."""

    loader_name = "python"
    machine = "python"

    def __init__(self, path: str, *, bitness: int | None = None) -> None:
        self.path = path
        self.bitness = bitness
        self._counter = itertools.count()
        self._addr_of_key: dict[tuple[str, str, int], int] = {}
        self._key_of_addr: dict[int, tuple[str, str, int]] = {}
        self._closed = False
        self._load()

    # -- loading -------------------------------------------------------------------------

    def _source(self) -> tuple[Any, str | None]:
        """(module spec, class name or None)."""
        path = self.path
        if path.endswith(".py"):
            if not os.path.exists(path):
                raise LoadError("stand-in file not found", where=path)
            if os.path.isdir(path):
                raise LoadError("is a directory, expected a Python stand-in file", where=path)
            stem = os.path.splitext(os.path.basename(path))[0]
            name = f"rasemu_standin_{stem}_{next(_LOADS)}"
            spec = importlib.util.spec_from_file_location(name, path)
            return spec, None
        module, _, attr = path.partition(":")
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError) as e:
            raise LoadError(f"cannot find stand-in module {module!r}: {e}", where=path) from None
        if spec is None:
            raise LoadError(
                f"no importable module {module!r} (expected module[:Class])", where=path
            )
        return spec, attr or None

    def _load(self) -> None:
        spec, attr = self._source()
        if spec is None or spec.loader is None:
            raise LoadError("cannot load as a Python module", where=self.path)
        module = importlib.util.module_from_spec(spec)
        # registered while it executes (dataclasses and typing look the module up by name);
        # an imported "module:Class" spec gets its old sys.modules entry back afterwards
        previous = sys.modules.get(spec.name)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise LoadError(
                f"stand-in failed while loading (DllMain equivalent): "
                f"{type(e).__name__}: {e}{_where(e, spec.origin)}",
                where=self.path,
            ) from None
        finally:
            if previous is not None:
                sys.modules[spec.name] = previous
            else:
                sys.modules.pop(spec.name, None)
        self._module = module
        names: dict[str, Callable[..., Any]] = {}
        owner: Any = module
        cls_name = attr or (
            "AdminDll" if inspect.isclass(getattr(module, "AdminDll", None)) else None
        )
        if cls_name is not None:
            cls = getattr(module, cls_name, None)
            if not inspect.isclass(cls):
                raise LoadError(f"{cls_name!r} is not a class in the stand-in", where=self.path)
            try:
                owner = cls()
            except Exception as e:
                raise LoadError(
                    f"stand-in class {cls_name} failed to instantiate: {type(e).__name__}: {e}",
                    where=self.path,
                ) from None
            for n in dir(owner):
                if n.startswith("_") or n in _HOOKS:
                    continue
                v = getattr(owner, n, None)
                if callable(v) and not inspect.isclass(v):
                    names[n] = v
        else:
            for n, v in vars(module).items():
                if n.startswith("_") or n in _HOOKS or inspect.isclass(v):
                    continue
                if inspect.isfunction(v) and v.__module__ == module.__name__:
                    names[n] = v
        extra = getattr(owner, "RASEMU_EXPORTS", None) or getattr(module, "RASEMU_EXPORTS", None)
        if isinstance(extra, Mapping):
            for n, v in extra.items():
                if callable(v):
                    names[str(n)] = v
        self._owner = owner
        self._functions = names
        self._exports = frozenset(names)
        # re-bind every fake address handed out before a reload
        self._by_key: dict[tuple[str, str, int], Callable[..., Any]] = {}
        for fn in self._all_callables():
            key = _function_key(fn)
            if key is not None:
                self._by_key[key] = fn
        # deterministic fake addresses (exports by name, then the other functions), so a fresh
        # process loading the same stand-in hands out the same addresses (isolation restarts)
        for n in sorted(names):
            self._address_of(names[n])
        for key in sorted(self._by_key):
            if key not in self._addr_of_key:
                self._address_of(self._by_key[key])

    def _all_callables(self) -> list[Callable[..., Any]]:
        out: list[Callable[..., Any]] = list(self._functions.values())
        for v in vars(self._module).values():
            if inspect.isfunction(v):
                out.append(v)
        if self._owner is not self._module:
            for n in dir(type(self._owner)):
                v = getattr(self._owner, n, None)
                if inspect.ismethod(v):
                    out.append(v)
        return out

    def _hook(self, name: str) -> Callable[..., Any] | None:
        fn = getattr(self._owner, name, None) or getattr(self._module, name, None)
        return fn if callable(fn) else None

    # -- addresses -----------------------------------------------------------------------

    def _address_of(self, fn: Callable[..., Any]) -> int:
        key = _function_key(fn)
        if key is None:
            # a callable without code (builtin, partial): still give it a stable slot
            key = (repr(fn), "", id(fn))
        addr = self._addr_of_key.get(key)
        if addr is None:
            addr = _ADDRESS_BASE + _ADDRESS_STEP * (next(self._counter) + 1)
            self._addr_of_key[key] = addr
            self._key_of_addr[addr] = key
        self._by_key[key] = fn
        return addr

    def export_address(self, name: str) -> int | None:
        fn = self._functions.get(name)
        return None if fn is None else self._address_of(fn)

    # -- AdminDll ------------------------------------------------------------------------

    @property
    def exports(self) -> frozenset[str]:
        return self._exports

    def handle_call(self, call: Call) -> CallResult:
        if self._closed:
            raise RuntimeError(f"{self.path}: stand-in is closed")
        target = call.target
        if isinstance(target, str):
            fn = self._functions.get(target)
            if fn is None:
                raise KeyError(f"{self.path} has no export {target!r}")
        else:
            key = self._key_of_addr.get(target)
            fn = self._by_key.get(key) if key is not None else None
            if fn is None:
                return CallResult(
                    fault=CallFault(
                        "crash",
                        f"call to address {target:#x}, which is no function of the stand-in",
                        {"address": target},
                    )
                )
        name = call.signature_name
        try:
            sig = signature(name)
        except KeyError:
            sig = None  # a non-callback export: called with the given args, DWORD result
        return self._invoke(fn, sig, call)

    def _invoke(self, fn: Callable[..., Any], sig: Signature | None, call: Call) -> CallResult:
        args = call.args
        params = sig.params if sig is not None else ()
        if sig is not None and len(args) != len(params):
            raise ValueError(
                f"{sig.name} takes {len(params)} arguments, the call gives {len(args)}"
            )
        py_args: list[Any] = []
        for p, a in zip(params, args, strict=True):
            k = p.kind
            if k == "wstr":
                py_args.append(a)
            elif k in ("dword_inout", "bool_out", "in6_inout"):
                py_args.append(Ref(a))
            elif k in ("struct", "struct_array"):
                py_args.append(clone(a))
            else:  # table_out
                py_args.append(CallbackTable())
        if sig is None:
            py_args = list(args)
        sink: list[str] = []
        _debug.sink = sink
        start = time.perf_counter()
        try:
            ret = fn(*py_args)
        except BaseException as e:  # a stand-in's crash must not take the host down
            if isinstance(e, KeyboardInterrupt):
                raise
            seconds = time.perf_counter() - start
            _debug.sink = None
            fault = CallFault(
                "crash",
                f"{type(e).__name__}: {e}{_where(e, None, self._module)}",
                {"exception": type(e).__name__, "traceback": traceback.format_exc(limit=-3)},
            )
            self._reload_after_fault()
            return CallResult(fault=fault, debug_output=tuple(sink), seconds=seconds)
        seconds = time.perf_counter() - start
        _debug.sink = None
        issues: list[CallIssue] = []
        returned: int | None
        if sig is not None and sig.returns == "void":
            returned = None
        else:
            returned = self._int_return(ret, sig, issues)
        outputs: dict[int, Any] = {}
        modified: list[int] = []
        for i, (p, a) in enumerate(zip(params, args, strict=True)):
            k = p.kind
            v = py_args[i]
            if k in ("dword_inout", "bool_out"):
                outputs[i] = self._int_out(v.value, a, p.name, issues)
            elif k == "in6_inout":
                outputs[i] = self._in6_out(v.value, a, p.name, issues)
            elif k in ("struct", "struct_array"):
                if v != a:
                    modified.append(i)
            elif k == "table_out":
                outputs[i] = self._table_out(v, issues)
        return CallResult(
            returned=returned,
            outputs=outputs,
            modified_inputs=tuple(modified),
            issues=tuple(issues),
            debug_output=tuple(sink),
            seconds=seconds,
        )

    @staticmethod
    def _int_return(ret: Any, sig: Signature | None, issues: list[CallIssue]) -> int:
        rule = _return_rule(sig) if sig is not None else "R59"
        name = sig.name if sig is not None else "export"
        if isinstance(ret, bool):
            return int(ret)
        if ret is None:
            issues.append(
                CallIssue(rule, f"{name} returned None: the host reads garbage in EAX (taken as 0)")
            )
            return 0
        try:
            value = ret.__index__()
        except (AttributeError, TypeError):
            issues.append(
                CallIssue(
                    rule,
                    f"{name} returned {type(ret).__name__} {ret!r}, not an integer (taken as 0)",
                )
            )
            return 0
        if not -(1 << 31) <= value <= _MASK:
            issues.append(CallIssue(rule, f"{name} returned {value}, which does not fit 32 bits"))
        return int(value) & _MASK

    @staticmethod
    def _int_out(value: Any, before: Any, pname: str, issues: list[CallIssue]) -> Any:
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value.__index__()) & _MASK
        except (AttributeError, TypeError):
            issues.append(
                CallIssue(
                    "R42",
                    f"*{pname} set to {type(value).__name__} {value!r}, not a DWORD (left unchanged)",
                )
            )
            return before

    @staticmethod
    def _in6_out(value: Any, before: Any, pname: str, issues: list[CallIssue]) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == 16:
            return bytes(value)
        issues.append(CallIssue("R42", f"*{pname} set to {value!r}, not 16 bytes (left unchanged)"))
        return before

    def _table_out(self, table: CallbackTable, issues: list[CallIssue]) -> dict[str, int]:
        out: dict[str, int] = {}
        rev = getattr(table, "revision", 0)
        try:
            out["revision"] = int(rev.__index__()) & 0xFF
        except (AttributeError, TypeError):
            issues.append(CallIssue("R72", f"table revision {rev!r} is not an integer"))
            out["revision"] = 0
        for slot, _ in TABLE_SLOTS:
            v = getattr(table, slot, None)
            if v is None or v == 0:
                out[slot] = 0
            elif callable(v):
                out[slot] = self._address_of(v)
            else:
                issues.append(CallIssue("R72", f"table slot {slot} holds {v!r}, not a function"))
                out[slot] = 0
        return out

    def _reload_after_fault(self) -> None:
        # on a LoadError keep the old instance; the next call shows whatever state it is in
        with contextlib.suppress(LoadError):
            self._load()

    def resource_usage(self) -> ResourceUsage | None:
        hook = self._hook("rasemu_resources")
        if hook is None:
            return None
        value = hook()
        if isinstance(value, ResourceUsage):
            return value
        if isinstance(value, Mapping):
            return ResourceUsage(
                heap_blocks=int(value.get("heap_blocks", 0)),
                heap_bytes=int(value.get("heap_bytes", 0)),
                handles=int(value.get("handles", 0)),
                sites={str(k): str(v) for k, v in dict(value.get("sites", {})).items()},
            )
        if isinstance(value, int):
            return ResourceUsage(heap_blocks=value)
        return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        hook = self._hook("rasemu_detach")
        if hook is not None:
            with contextlib.suppress(Exception):
                hook()


def _where(exc: BaseException, origin: str | None, module: types.ModuleType | None = None) -> str:
    """`` at file:line in func`` for the innermost frame inside the stand-in (else innermost)."""
    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return ""
    files = {origin} if origin else set()
    mfile = getattr(module, "__file__", None) if module is not None else None
    if mfile:
        files.add(mfile)
    chosen = tb[-1]
    for fr in reversed(tb):
        if fr.filename in files:
            chosen = fr
            break
    return f" at {os.path.basename(chosen.filename)}:{chosen.lineno} in {chosen.name}"


class PythonLoader(Loader):
    """Loads Python stand-ins; see the module docstring for the protocol."""

    name = "python"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = dict(options or {})

    def can_load(self, path: str, head: bytes) -> bool:
        return is_python_spec(path)

    def load(self, path: str, *, bitness: int | None = None) -> PythonAdminDll:
        if not is_python_spec(path):
            raise LoadError(
                "not a Python stand-in (expected a .py file or module[:Class])", where=path
            )
        # make "module:Class" specs importable from the working directory, like `python -m`
        if not path.endswith(".py") and "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.append(os.getcwd())
        return PythonAdminDll(path, bitness=bitness)
