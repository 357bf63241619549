"""A drop-in for CPython's ``winreg`` module, backed by an in-memory :class:`Registry`.

``FakeWinreg()`` instances carry every function and constant of ``winreg`` with the same
signatures, argument checks, value conversions, ``sys.audit`` events and ``OSError``
subclasses (with ``winerror``) as CPython's ``PC/winreg.c``. Install one with
:class:`emulator.registry.patcher.Patcher` (or the pytest fixtures).

The process is modelled as an administrator on 64-bit Windows 7 or newer whose bitness is
``registry.default_view``: predefined keys grant all access, ``KEY_WOW64_32KEY`` /
``KEY_WOW64_64KEY`` pick a view, reflection calls succeed without effect.

On non-Windows hosts the raised ``OSError`` has the errno CPython maps the Windows error to
(so the subclass matches: FileNotFoundError for 2, PermissionError for 5) and a ``winerror``
attribute; its ``str()`` says ``[Errno n]`` instead of ``[WinError n]``.

SaveKey/LoadKey file format (rasemu's own, UTF-8 JSON)::

    {"format": "rasemu-registry-hive", "version": 1,
     "key": {"name": "<stored key name>",
             "values": [["<name>", <type int>, "<data as lowercase hex>"], ...],
             "subkeys": [<key object>, ...]}}

Values keep their order; subkeys are written in Windows order.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import itertools
import json
import os
import sys
from collections.abc import Mapping, MutableMapping
from time import time_ns
from types import TracebackType
from typing import Any, Final

from emulator.registry import model as _m
from emulator.registry._node import _EPOCH_AS_FILETIME, _FOLD_CACHE, Node, filetime_now, fold
from emulator.registry.model import (
    KEY_ALL_ACCESS,
    KEY_CREATE_LINK,
    KEY_CREATE_SUB_KEY,
    KEY_ENUMERATE_SUB_KEYS,
    KEY_EXECUTE,
    KEY_NOTIFY,
    KEY_QUERY_VALUE,
    KEY_READ,
    KEY_SET_VALUE,
    KEY_WOW64_32KEY,
    KEY_WOW64_64KEY,
    KEY_WRITE,
    REG_CREATED_NEW_KEY,
    REG_OPENED_EXISTING_KEY,
    REG_OPTION_CREATE_LINK,
    REG_OPTION_OPEN_LINK,
    REG_OPTION_VOLATILE,
    Registry,
    RegistryPathError,
)
from emulator.registry.model import MAXIMUM_ALLOWED as _MAXIMUM_ALLOWED
from emulator.winerror import (
    ERROR_ACCESS_DENIED,
    ERROR_ALREADY_EXISTS,
    ERROR_BAD_NETPATH,
    ERROR_BAD_PATHNAME,
    ERROR_BADDB,
    ERROR_FILE_NOT_FOUND,
    ERROR_INVALID_DATA,
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER,
    ERROR_KEY_DELETED,
    ERROR_NO_MORE_ITEMS,
    ERROR_PATH_NOT_FOUND,
    MESSAGES,
)

# -- constants (values from winreg / winnt.h) ---------------------------------------

HKEY_CLASSES_ROOT: Final = _m.HKEY_HANDLES[_m.HKEY_CLASSES_ROOT]
HKEY_CURRENT_USER: Final = _m.HKEY_HANDLES[_m.HKEY_CURRENT_USER]
HKEY_LOCAL_MACHINE: Final = _m.HKEY_HANDLES[_m.HKEY_LOCAL_MACHINE]
HKEY_USERS: Final = _m.HKEY_HANDLES[_m.HKEY_USERS]
HKEY_PERFORMANCE_DATA: Final = _m.HKEY_HANDLES["HKEY_PERFORMANCE_DATA"]
HKEY_CURRENT_CONFIG: Final = _m.HKEY_HANDLES[_m.HKEY_CURRENT_CONFIG]
HKEY_DYN_DATA: Final = _m.HKEY_HANDLES["HKEY_DYN_DATA"]

REG_OPTION_RESERVED: Final = 0
REG_OPTION_NON_VOLATILE: Final = 0
REG_OPTION_BACKUP_RESTORE: Final = 4
REG_LEGAL_OPTION: Final = 31
REG_WHOLE_HIVE_VOLATILE: Final = 1
REG_REFRESH_HIVE: Final = 2
REG_NO_LAZY_FLUSH: Final = 4
REG_NOTIFY_CHANGE_NAME: Final = 1
REG_NOTIFY_CHANGE_ATTRIBUTES: Final = 2
REG_NOTIFY_CHANGE_LAST_SET: Final = 4
REG_NOTIFY_CHANGE_SECURITY: Final = 8
REG_LEGAL_CHANGE_FILTER: Final = 268435471

# OSError.strerror: the system text without its final period, as CPython gives it.
_MESSAGES: Final[dict[int, str]] = {
    code: MESSAGES[code].rstrip(".")
    for code in (
        ERROR_FILE_NOT_FOUND,
        ERROR_ACCESS_DENIED,
        ERROR_INVALID_HANDLE,
        ERROR_INVALID_DATA,
        ERROR_BAD_NETPATH,
        ERROR_INVALID_PARAMETER,
        ERROR_BAD_PATHNAME,
        ERROR_ALREADY_EXISTS,
        ERROR_NO_MORE_ITEMS,
        ERROR_BADDB,
        ERROR_KEY_DELETED,
    )
}
# Windows error -> errno, as CPython's PC/errmap.h maps them (default EINVAL).
_ERRNO: Final[dict[int, int]] = {
    ERROR_FILE_NOT_FOUND: _errno.ENOENT,
    ERROR_PATH_NOT_FOUND: _errno.ENOENT,
    ERROR_BAD_NETPATH: _errno.ENOENT,
    ERROR_BAD_PATHNAME: _errno.ENOENT,
    ERROR_ACCESS_DENIED: _errno.EACCES,
    ERROR_INVALID_HANDLE: _errno.EBADF,
    ERROR_ALREADY_EXISTS: _errno.EEXIST,
}

#: Predefined handle -> model root (None: performance and dynamic data, which have no tree).
_PREDEFINED: Final[dict[int, str | None]] = {
    handle: name if name in _m.ROOTS else None for name, handle in _m.HKEY_HANDLES.items()
}

_ON_WINDOWS: Final = sys.platform == "win32"


def win_error(code: int) -> OSError:
    """The ``OSError`` CPython raises for Windows error ``code`` (with ``winerror``)."""
    message = _MESSAGES.get(code, f"Windows error {code}")
    if _ON_WINDOWS:
        return OSError(None, message, None, code)
    exc = OSError(_ERRNO.get(code, _errno.EINVAL), message)
    exc.winerror = code  # type: ignore[attr-defined]
    return exc


def _default_environ() -> MutableMapping[str, str]:
    if _ON_WINDOWS:
        return dict(os.environ)
    return {
        "SystemDrive": "C:",
        "SystemRoot": "C:\\Windows",
        "windir": "C:\\Windows",
        "ProgramFiles": "C:\\Program Files",
        "ProgramFiles(x86)": "C:\\Program Files (x86)",
        "ProgramData": "C:\\ProgramData",
        "CommonProgramFiles": "C:\\Program Files\\Common Files",
        "ComSpec": "C:\\Windows\\system32\\cmd.exe",
        "TEMP": "C:\\Windows\\TEMP",
        "TMP": "C:\\Windows\\TEMP",
        "USERPROFILE": "C:\\Users\\rasemu",
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "COMPUTERNAME": "RASEMU",
        "USERNAME": "rasemu",
        "OS": "Windows_NT",
        "PATH": "C:\\Windows\\system32;C:\\Windows",
    }


_Targets = tuple[tuple[str, tuple[str, ...]], ...]


class _Open:
    """State of one open handle (or of a predefined key)."""

    __slots__ = ("access", "cache", "hkcr", "ident", "names", "node", "nver", "root", "targets",
                 "view")

    def __init__(self, root: str, names: tuple[str, ...], targets: _Targets,
                 ident: int | None, access: int, view: int) -> None:
        self.root = root  # model root name (HKEY_CLASSES_ROOT for the merged view)
        self.names = names  # logical components below the root
        self.targets = targets  # physical candidates (HKCR: user first)
        self.ident = ident  # identity of the key at open time (None: predefined)
        self.access = access
        self.view = view
        self.hkcr = root == _m.HKEY_CLASSES_ROOT or len(targets) != 1
        self.cache: tuple[int, list[str]] | None = None
        self.node: Node | None = None  # the key's node, valid while registry._version == nver
        self.nver = -1


#: State returned for a handle value that is not open (root "" -> ERROR_INVALID_HANDLE on use).
_INVALID: Final = _Open("", (), (), None, -1, 0)


class PyHKEY:
    """A registry handle (CPython's ``PyHKEY``, exposed as ``winreg.HKEYType``)."""

    __slots__ = ("_fake", "_h")

    def __init__(self, fake: FakeWinreg, handle: int) -> None:
        self._fake = fake
        self._h = handle

    @property
    def handle(self) -> int:
        """The integer handle (0 once closed or detached)."""
        return self._h

    def Close(self) -> None:
        """Close the handle; closing twice is not an error."""
        h, self._h = self._h, 0
        if h:
            self._fake._close(h)

    def Detach(self) -> int:
        """Return the handle and forget it without closing it (it stays open)."""
        sys.audit("winreg.PyHKEY.Detach", self._h)
        h, self._h = self._h, 0
        return h

    def __bool__(self) -> bool:
        return self._h != 0

    def __int__(self) -> int:
        return self._h

    def __str__(self) -> str:
        return f"<PyHKEY:{self._h:#x}>"

    def __enter__(self) -> PyHKEY:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.Close()

    def __del__(self) -> None:
        h = getattr(self, "_h", 0)
        if h:
            self._h = 0
            with contextlib.suppress(Exception):  # never raise from a finalizer
                self._fake._close(h)

    def _bad(self, *args: object) -> Any:
        raise TypeError("bad operand type")

    __add__ = __sub__ = __mul__ = __mod__ = __divmod__ = __pow__ = _bad
    __lshift__ = __rshift__ = __and__ = __xor__ = __or__ = _bad
    __neg__ = __pos__ = __abs__ = __invert__ = __float__ = _bad


PyHKEY.__name__ = "PyHKEY"
HKEYType = PyHKEY

_SUB_CACHE: dict[str, tuple[str, ...]] = {}


def _sub_names(sub_key: str) -> tuple[str, ...]:
    names = _SUB_CACHE.get(sub_key)
    if names is None:
        text = sub_key[:-1] if sub_key.endswith("\\") and len(sub_key) > 1 else sub_key
        if text.startswith("\\"):
            raise RegistryPathError("sub key starts with '\\'", where=sub_key,
                                    winerror=ERROR_BAD_PATHNAME)
        names = _m.split_components(text, where=sub_key)
        if len(_SUB_CACHE) > 16384:
            _SUB_CACHE.clear()
        _SUB_CACHE[sub_key] = names
    return names


def _str_arg(func: str, pos: int, value: object, none_ok: bool) -> str | None:
    if value is None:
        if none_ok:
            return None
        raise TypeError(f"{func}() argument {pos} must be str, not None")
    if type(value) is not str and not isinstance(value, str):
        want = "str or None" if none_ok else "str"
        raise TypeError(f"{func}() argument {pos} must be {want}, not {type(value).__name__}")
    if "\x00" in value:
        raise ValueError("embedded null character")
    return value


def _int_arg(value: object, signed32: bool = False) -> int:
    if isinstance(value, float):
        raise TypeError("'float' object cannot be interpreted as an integer")
    if not isinstance(value, int):
        try:
            value = value.__index__()  # type: ignore[attr-defined]
        except AttributeError:
            raise TypeError(
                f"'{type(value).__name__}' object cannot be interpreted as an integer"
            ) from None
    assert isinstance(value, int)
    if signed32:
        if value > 0x7FFFFFFF:
            raise OverflowError("signed integer is greater than maximum")
        if value < -0x80000000:
            raise OverflowError("signed integer is less than minimum")
    return value


def _dword_arg(value: object) -> int:
    """Argument Clinic 'k' (unsigned long, no overflow check): int only, masked to 32 bits."""
    if not isinstance(value, int):
        raise TypeError(f"an integer is required (got type {type(value).__name__})")
    return value & 0xFFFFFFFF


# -- value conversion (CPython's Py2Reg / Reg2Py) ---------------------------------------


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _unsigned(value: object, size: int, too_big: str) -> bytes:
    """REG_DWORD / REG_QWORD data of ``value`` (None: zero), with CPython's errors."""
    if value is None:
        return bytes(size)
    if not isinstance(value, int):
        raise ValueError("Could not convert the data to the specified type.")
    if value < 0:
        raise OverflowError("can't convert negative int to unsigned")
    if value >> (8 * size):
        raise OverflowError(too_big)
    return value.to_bytes(size, "little")


def to_registry(value: object, typ: int) -> bytes:
    """Convert a Python value to registry bytes as ``winreg.SetValueEx`` does."""
    if typ == _m.REG_DWORD:
        return _unsigned(value, 4, "Python int too large to convert to C unsigned long")
    if typ == _m.REG_QWORD:
        return _unsigned(value, 8, "int too big to convert")
    if typ == _m.REG_SZ or typ == _m.REG_EXPAND_SZ:
        if value is None:
            return b"\0\0"
        if not isinstance(value, str):
            raise ValueError("Could not convert the data to the specified type.")
        return _utf16(value) + b"\0\0"
    if typ == _m.REG_MULTI_SZ:
        if value is None:
            return b"\0\0"
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            raise ValueError("Could not convert the data to the specified type.")
        return b"".join(_utf16(s) + b"\0\0" for s in value) + b"\0\0"
    if value is None:
        return b""
    try:
        view = memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"Objects of type '{type(value).__name__}' can not be used as binary registry values"
        ) from None
    with view:
        return view.tobytes()


def from_registry(data: bytes, typ: int) -> Any:
    """Convert registry bytes to the Python value ``winreg.QueryValueEx`` returns."""
    if typ == _m.REG_DWORD:
        return int.from_bytes(data[:4].ljust(4, b"\0"), "little") if data else 0
    if typ == _m.REG_QWORD:
        return int.from_bytes(data[:8].ljust(8, b"\0"), "little") if data else 0
    if typ == _m.REG_SZ or typ == _m.REG_EXPAND_SZ:
        text = data[: len(data) & ~1].decode("utf-16-le", "surrogatepass")
        cut = text.find("\0")
        return text if cut < 0 else text[:cut]
    if typ == _m.REG_MULTI_SZ:
        if not data:
            return []
        text = data[: len(data) & ~1].decode("utf-16-le", "surrogatepass")
        if text.endswith("\0"):
            text = text[:-1]  # the list terminator
        if not text:
            return []
        if text.endswith("\0"):
            text = text[:-1]  # the last string's terminator
        return text.split("\0")
    return bytes(data) if data else None


def _expand(text: str, environ: Mapping[str, str]) -> str:
    """ExpandEnvironmentStrings: %NAME% replaced when defined (case-insensitive)."""
    if "%" not in text:
        return text
    upper = {k.upper(): v for k, v in environ.items()}
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        end = text.find("%", i + 1)
        if end < 0:
            out.append(text[i:])
            break
        name = text[i + 1 : end]
        value = upper.get(name.upper()) if name else None
        if value is None:
            out.append(text[i:end])  # keep '%NAME' and restart at the closing '%'
            i = end
        else:
            out.append(value)
            i = end + 1
    return "".join(out)


class FakeWinreg:
    """An object with the whole ``winreg`` API, backed by ``registry`` (a new empty one by default)."""

    # constants, as in winreg
    HKEY_CLASSES_ROOT = HKEY_CLASSES_ROOT
    HKEY_CURRENT_USER = HKEY_CURRENT_USER
    HKEY_LOCAL_MACHINE = HKEY_LOCAL_MACHINE
    HKEY_USERS = HKEY_USERS
    HKEY_PERFORMANCE_DATA = HKEY_PERFORMANCE_DATA
    HKEY_CURRENT_CONFIG = HKEY_CURRENT_CONFIG
    HKEY_DYN_DATA = HKEY_DYN_DATA
    KEY_QUERY_VALUE = KEY_QUERY_VALUE
    KEY_SET_VALUE = KEY_SET_VALUE
    KEY_CREATE_SUB_KEY = KEY_CREATE_SUB_KEY
    KEY_ENUMERATE_SUB_KEYS = KEY_ENUMERATE_SUB_KEYS
    KEY_NOTIFY = KEY_NOTIFY
    KEY_CREATE_LINK = KEY_CREATE_LINK
    KEY_WOW64_64KEY = KEY_WOW64_64KEY
    KEY_WOW64_32KEY = KEY_WOW64_32KEY
    KEY_READ = KEY_READ
    KEY_WRITE = KEY_WRITE
    KEY_EXECUTE = KEY_EXECUTE
    KEY_ALL_ACCESS = KEY_ALL_ACCESS
    REG_NONE = _m.REG_NONE
    REG_SZ = _m.REG_SZ
    REG_EXPAND_SZ = _m.REG_EXPAND_SZ
    REG_BINARY = _m.REG_BINARY
    REG_DWORD = _m.REG_DWORD
    REG_DWORD_LITTLE_ENDIAN = _m.REG_DWORD_LITTLE_ENDIAN
    REG_DWORD_BIG_ENDIAN = _m.REG_DWORD_BIG_ENDIAN
    REG_LINK = _m.REG_LINK
    REG_MULTI_SZ = _m.REG_MULTI_SZ
    REG_RESOURCE_LIST = _m.REG_RESOURCE_LIST
    REG_FULL_RESOURCE_DESCRIPTOR = _m.REG_FULL_RESOURCE_DESCRIPTOR
    REG_RESOURCE_REQUIREMENTS_LIST = _m.REG_RESOURCE_REQUIREMENTS_LIST
    REG_QWORD = _m.REG_QWORD
    REG_QWORD_LITTLE_ENDIAN = _m.REG_QWORD_LITTLE_ENDIAN
    REG_OPTION_RESERVED = REG_OPTION_RESERVED
    REG_OPTION_NON_VOLATILE = REG_OPTION_NON_VOLATILE
    REG_OPTION_VOLATILE = REG_OPTION_VOLATILE
    REG_OPTION_CREATE_LINK = REG_OPTION_CREATE_LINK
    REG_OPTION_BACKUP_RESTORE = REG_OPTION_BACKUP_RESTORE
    REG_OPTION_OPEN_LINK = REG_OPTION_OPEN_LINK
    REG_LEGAL_OPTION = REG_LEGAL_OPTION
    REG_CREATED_NEW_KEY = REG_CREATED_NEW_KEY
    REG_OPENED_EXISTING_KEY = REG_OPENED_EXISTING_KEY
    REG_WHOLE_HIVE_VOLATILE = REG_WHOLE_HIVE_VOLATILE
    REG_REFRESH_HIVE = REG_REFRESH_HIVE
    REG_NO_LAZY_FLUSH = REG_NO_LAZY_FLUSH
    REG_NOTIFY_CHANGE_NAME = REG_NOTIFY_CHANGE_NAME
    REG_NOTIFY_CHANGE_ATTRIBUTES = REG_NOTIFY_CHANGE_ATTRIBUTES
    REG_NOTIFY_CHANGE_LAST_SET = REG_NOTIFY_CHANGE_LAST_SET
    REG_NOTIFY_CHANGE_SECURITY = REG_NOTIFY_CHANGE_SECURITY
    REG_LEGAL_CHANGE_FILTER = REG_LEGAL_CHANGE_FILTER

    error = OSError
    HKEYType = PyHKEY
    __name__ = "winreg"

    def __init__(self, registry: Registry | None = None, *,
                 environ: MutableMapping[str, str] | None = None) -> None:
        self.registry = registry if registry is not None else Registry()
        self.environ: MutableMapping[str, str] = environ if environ is not None else _default_environ()
        # dict operations are atomic under the GIL: no lock for the handle table
        self._handles: dict[int, _Open] = {}
        self._next = itertools.count(0x1A4, 4)
        self._reflection_disabled: set[int] = set()
        # HKEY_PERFORMANCE_DATA / HKEY_DYN_DATA get root "" and fail with ERROR_INVALID_HANDLE
        self._predefined = {
            h: _Open(root or "", (), (), None, KEY_ALL_ACCESS | _MAXIMUM_ALLOWED, 0)
            for h, root in _PREDEFINED.items()
        }

    def __repr__(self) -> str:
        return f"<FakeWinreg (rasemu), {len(self._handles)} open handle(s)>"

    # -- handle bookkeeping ------------------------------------------------------

    def open_handles(self) -> list[tuple[int, str]]:
        """(handle, key path) of every handle still open, oldest first (leak check)."""
        items = list(self._handles.items())
        return [(h, _m.join_path(st.root, st.names)) for h, st in items]

    def close_all(self) -> int:
        """Close every open handle; return how many were open.

        Handle objects keep their number (as after ``CloseKey(number)``): using or closing
        them again fails with ERROR_INVALID_HANDLE.
        """
        n = len(self._handles)
        self._handles.clear()
        return n

    def _close(self, h: int) -> None:
        st = self._handles.pop(h, None)
        if st is None and h not in self._predefined:
            raise win_error(ERROR_INVALID_HANDLE)

    def _state(self, key: object) -> _Open:
        if type(key) is PyHKEY:
            st = self._handles.get(key._h)
            if st is not None:
                return st
            h = key._h
        elif isinstance(key, int) and not isinstance(key, bool):
            h = key
        elif key is None:
            raise TypeError("None is not a valid HKEY in this context")
        elif isinstance(key, PyHKEY):
            h = key._h
        else:
            raise TypeError("The object is not a PyHKEY object")
        st = self._handles.get(h)
        if st is None:
            st = self._predefined.get(h)
            if st is None:
                return _INVALID  # fails with ERROR_INVALID_HANDLE after the audit event
        return st

    @staticmethod
    def _handle_int(key: object) -> int:
        if isinstance(key, PyHKEY):
            return key._h
        if isinstance(key, int):
            return key
        return 0

    def _new_handle(self, st: _Open) -> PyHKEY:
        h = next(self._next)
        obj = PyHKEY(self, h)
        self._handles[h] = st
        return obj

    def _view(self, access: int) -> int:
        bits = access & (KEY_WOW64_32KEY | KEY_WOW64_64KEY)
        if bits == KEY_WOW64_32KEY:
            return 32
        if bits == KEY_WOW64_64KEY:
            return 64
        if bits:
            raise win_error(ERROR_INVALID_PARAMETER)
        return self.registry.default_view

    def _node(self, st: _Open) -> Node:
        """The key a handle refers to; ERROR_KEY_DELETED if it is gone."""
        reg = self.registry
        if st.nver == reg._version:
            return st.node  # type: ignore[return-value]
        if st.ident is None:
            if not st.root:
                raise win_error(ERROR_INVALID_HANDLE)
            if st.root == _m.HKEY_CLASSES_ROOT:
                for t in reg._targets(_m.HKEY_CLASSES_ROOT, (), 64):
                    node = reg._node(*t)
                    if node is not None:
                        return node
                return Node("", -1)
            return reg._roots[st.root]
        for t in st.targets:
            node = reg._node(*t)
            if node is not None:
                if node.ident != st.ident and not st.hkcr:
                    break
                st.node = node
                st.nver = reg._version
                return node
        raise win_error(ERROR_KEY_DELETED)

    def _resolve(self, st: _Open, names: tuple[str, ...], view: int
                 ) -> tuple[tuple[str, ...], _Targets]:
        if st.ident is not None or st.names:
            self._node(st)  # a deleted parent fails with ERROR_KEY_DELETED
        full = st.names + names
        return full, self.registry._targets(st.root, full, view)

    @staticmethod
    def _usable(st: _Open) -> None:
        if not st.root:  # HKEY_PERFORMANCE_DATA, HKEY_DYN_DATA
            raise win_error(ERROR_INVALID_HANDLE)

    @staticmethod
    def _need(st: _Open, right: int) -> None:
        if not st.access & (right | _MAXIMUM_ALLOWED):
            raise win_error(ERROR_ACCESS_DENIED)

    def _subkeys(self, st: _Open, node: Node) -> list[str]:
        if not st.hkcr and (st.view == 64 or st.ident is None):
            return node.subkey_names()
        reg = self.registry
        cache = st.cache
        if cache is not None and cache[0] == reg._version:
            return cache[1]
        names = reg._subkey_names(st.root, st.names, st.view or None, st.root)
        st.cache = (reg._version, names)
        return names

    # -- functions ------------------------------------------------------------------

    def CloseKey(self, hkey: object, /) -> None:
        """Close a key handle (an int handle is closed too)."""
        if isinstance(hkey, PyHKEY):
            hkey.Close()
        elif isinstance(hkey, int):
            self._close(hkey)
        else:
            raise TypeError("A handle must be a HKEY object or an integer")

    def ConnectRegistry(self, computer_name: str | None, key: object, /) -> PyHKEY:
        """Local (None or ""): the predefined key itself; any computer name: ERROR_BAD_NETPATH."""
        name = _str_arg("ConnectRegistry", 1, computer_name, True)
        h = self._handle_int(key)
        self._state(key)
        sys.audit("winreg.ConnectRegistry", name, h)
        if name:
            raise win_error(ERROR_BAD_NETPATH)
        if h not in _PREDEFINED:
            raise win_error(ERROR_INVALID_HANDLE)
        return PyHKEY(self, h)

    def _create(self, func: str, key: object, sub_key: object, reserved: int, access: int) -> PyHKEY:
        sub = _str_arg(func, 2, sub_key, True)
        st = self._state(key)
        h = self._handle_int(key)
        sys.audit("winreg.CreateKey", h, sub, KEY_WRITE if func == "CreateKey" else access)
        self._usable(st)
        if reserved != 0:
            raise win_error(ERROR_INVALID_PARAMETER)
        view = self._view(access)
        if not sub:
            if st.ident is None and func == "CreateKey":
                result = PyHKEY(self, h)
                sys.audit("winreg.OpenKey/result", h)
                return result
            names: tuple[str, ...] = ()
        else:
            names = self._names(sub)
        result = self._new_handle(self._create_state(st, names, access, view))
        sys.audit("winreg.OpenKey/result", result._h)
        return result

    def _create_state(self, st: _Open, names: tuple[str, ...], access: int, view: int) -> _Open:
        """RegCreateKeyEx without audit events or a handle: the state for ``st\\names``."""
        reg = self.registry
        with reg._lock:
            full, targets = self._resolve(st, names, view)
            node = None
            for t in targets:
                node = reg._node(*t)
                if node is not None:
                    break
            if node is None:
                self._need(st, KEY_CREATE_SUB_KEY)
                node = reg._wnode(*targets[-1])
                reg._ensure_view32_parents(st.root, full, view)
            state = _Open(st.root, full, targets, node.ident, access, view)
            state.node = node
            state.nver = reg._version
        return state

    @staticmethod
    def _names(sub: str) -> tuple[str, ...]:
        try:
            return _sub_names(sub)
        except RegistryPathError as e:
            raise win_error(e.winerror) from None

    def CreateKey(self, key: object, sub_key: str | None, /) -> PyHKEY:
        """Create or open a key (RegCreateKey asks for MAXIMUM_ALLOWED: full access here)."""
        return self._create("CreateKey", key, sub_key, 0, KEY_ALL_ACCESS | _MAXIMUM_ALLOWED)

    def CreateKeyEx(self, key: object, sub_key: str | None, reserved: int = 0,
                    access: int = KEY_WRITE) -> PyHKEY:
        """Create or open a key with the given access."""
        return self._create("CreateKeyEx", key, sub_key, _int_arg(reserved, True),
                            _int_arg(access, True))

    def _delete_key(self, func: str, key: object, sub_key: object, access: int, reserved: int) -> None:
        sub = _str_arg(func, 2, sub_key, False)
        assert sub is not None
        st = self._state(key)
        sys.audit("winreg.DeleteKey", self._handle_int(key), sub, access)
        self._usable(st)
        if reserved != 0:
            raise win_error(ERROR_INVALID_PARAMETER)
        view = self._view(access)
        names = self._names(sub) if sub else ()
        reg = self.registry
        with reg._lock:
            full, targets = self._resolve(st, names, view)
            if not full or (st.root == _m.HKEY_CLASSES_ROOT and not full):
                raise win_error(ERROR_ACCESS_DENIED)
            for root, pnames in targets:
                node = reg._node(root, pnames)
                if node is None:
                    continue
                if node.subkeys:
                    raise win_error(ERROR_ACCESS_DENIED)
                parent = reg._wnode(root, pnames[:-1])
                del parent.subkeys[fold(pnames[-1])]
                parent.sorted_names = None
                parent.mtime = filetime_now()
                return
        raise win_error(ERROR_FILE_NOT_FOUND)

    def DeleteKey(self, key: object, sub_key: str, /) -> None:
        """Delete a key that has no subkeys (PermissionError winerror 5 otherwise)."""
        self._delete_key("DeleteKey", key, sub_key, 0, 0)

    def DeleteKeyEx(self, key: object, sub_key: str, access: int = KEY_WOW64_64KEY,
                    reserved: int = 0) -> None:
        """Delete a key in the view chosen by ``access`` (default the 64-bit view)."""
        self._delete_key("DeleteKeyEx", key, sub_key, _int_arg(access, True),
                         _int_arg(reserved, True))

    def DeleteValue(self, key: object, value: str | None, /) -> None:
        """Remove a value (None or "" = the default value)."""
        name = _str_arg("DeleteValue", 2, value, True) or ""
        st = self._state(key)
        sys.audit("winreg.DeleteValue", self._handle_int(key), value)
        self._usable(st)
        self._need(st, KEY_SET_VALUE)
        reg = self.registry
        with reg._lock:
            node = self._node(st)
            f = fold(name)
            if f not in node.values:
                raise win_error(ERROR_FILE_NOT_FOUND)
            wnode = self._writable(st, node)
            del wnode.values[f]
            wnode.mtime = filetime_now()

    def _writable(self, st: _Open, node: Node) -> Node:
        reg = self.registry
        if node.gen == reg._gen:
            return node
        if st.ident is None and st.root != _m.HKEY_CLASSES_ROOT:
            return reg._wnode(st.root, ())
        for t in (st.targets or reg._targets(st.root, st.names, 64)):
            n = reg._node(*t)
            if n is node:
                return reg._wnode(*t)
        raise win_error(ERROR_KEY_DELETED)

    def EnumKey(self, key: object, index: int, /) -> str:
        """Name of the index-th subkey (Windows order); OSError 259 past the end."""
        index = _int_arg(index, True)
        st = self._state(key)
        sys.audit("winreg.EnumKey", self._handle_int(key), index)
        self._usable(st)
        self._need(st, KEY_ENUMERATE_SUB_KEYS)
        with self.registry._lock:
            names = self._subkeys(st, self._node(st))
            if 0 <= index < len(names):
                return names[index]
        raise win_error(ERROR_NO_MORE_ITEMS)

    def EnumValue(self, key: object, index: int, /) -> tuple[str, Any, int]:
        """(name, data, type) of the index-th value (insertion order); OSError 259 past the end."""
        index = _int_arg(index, True)
        st = self._state(key)
        sys.audit("winreg.EnumValue", self._handle_int(key), index)
        self._usable(st)
        self._need(st, KEY_QUERY_VALUE)
        with self.registry._lock:
            values = self._node(st).values
            if 0 <= index < len(values):
                name, typ, data = next(itertools.islice(values.values(), index, None))
                return name, from_registry(data, typ), typ
        raise win_error(ERROR_NO_MORE_ITEMS)

    def ExpandEnvironmentStrings(self, string: str, /) -> str:
        """Expand %NAME% references from ``self.environ`` as Windows does."""
        text = _str_arg("ExpandEnvironmentStrings", 1, string, False)
        assert text is not None
        sys.audit("winreg.ExpandEnvironmentStrings", text)
        return _expand(text, self.environ)

    def FlushKey(self, key: object, /) -> None:
        """Nothing to flush in memory; checks the handle."""
        st = self._state(key)
        self._usable(st)
        with self.registry._lock:
            self._node(st)

    def LoadKey(self, key: object, sub_key: str, file_name: str, /) -> None:
        """Load a file written by :meth:`SaveKey` as a new subkey of HKEY_USERS or HKEY_LOCAL_MACHINE."""
        sub = _str_arg("LoadKey", 2, sub_key, False)
        fname = _str_arg("LoadKey", 3, file_name, False)
        assert sub is not None and fname is not None
        st = self._state(key)
        sys.audit("winreg.LoadKey", self._handle_int(key), sub, fname)
        self._usable(st)
        root = {HKEY_USERS: _m.HKEY_USERS, HKEY_LOCAL_MACHINE: _m.HKEY_LOCAL_MACHINE}.get(
            self._handle_int(key))
        if root is None:
            raise win_error(ERROR_INVALID_PARAMETER)
        names = self._names(sub)
        if len(names) != 1:
            raise win_error(ERROR_INVALID_PARAMETER)
        try:
            with open(fname, encoding="utf-8") as fh:
                doc = json.load(fh)
        except FileNotFoundError:
            raise win_error(ERROR_FILE_NOT_FOUND) from None
        except (OSError, ValueError):
            raise win_error(ERROR_BADDB) from None
        reg = self.registry
        with reg._lock:
            if reg._node(root, names) is not None:
                raise win_error(ERROR_ACCESS_DENIED)
            try:
                tree = _parse_hive(doc)
            except (KeyError, TypeError, ValueError, RegistryPathError):
                raise win_error(ERROR_BADDB) from None
            parent = reg._wnode(root, ())
            node = _build(tree, names[0], reg._gen)
            parent.subkeys[fold(names[0])] = node
            parent.sorted_names = None

    def OpenKey(self, key: object, sub_key: str | None, reserved: int = 0,
                access: int = KEY_READ) -> PyHKEY:
        """Open an existing key; FileNotFoundError (winerror 2) if it does not exist."""
        # Checks in CPython's order; the common argument types take the short branches.
        if type(sub_key) is str and "\x00" not in sub_key:
            sub: str | None = sub_key
        else:
            sub = _str_arg("OpenKey", 2, sub_key, True)
        if type(reserved) is not int or not -0x80000000 <= reserved <= 0x7FFFFFFF:
            reserved = _int_arg(reserved, True)
        if type(access) is not int or not -0x80000000 <= access <= 0x7FFFFFFF:
            access = _int_arg(access, True)
        st = self._state(key)
        sys.audit("winreg.OpenKey", key if type(key) is int else self._handle_int(key), sub, access)
        if not st.root:
            raise win_error(ERROR_INVALID_HANDLE)
        if reserved and reserved != REG_OPTION_OPEN_LINK:
            raise win_error(ERROR_INVALID_PARAMETER)
        view = self._view(access) if access & 0x300 else self.registry.default_view
        if sub:
            names = _SUB_CACHE.get(sub)
            if names is None:
                names = self._names(sub)
        else:
            names = ()
        state = self._open_state(st, names, access, view)
        h = next(self._next)
        result = PyHKEY(self, h)
        self._handles[h] = state
        sys.audit("winreg.OpenKey/result", h)
        return result

    OpenKeyEx = OpenKey

    def _open_state(self, st: _Open, names: tuple[str, ...], access: int, view: int) -> _Open:
        """RegOpenKeyEx without audit events or a handle: the state for ``st\\names``."""
        reg = self.registry
        with reg._lock:
            if st.ident is None and not st.names:
                full = names
                targets = reg._targets(st.root, names, view)
            else:
                full, targets = self._resolve(st, names, view)
            node = None
            for t in targets:
                node = reg._node(*t)
                if node is not None:
                    break
            if node is None:
                if st.root == _m.HKEY_CLASSES_ROOT and not full:
                    node = Node("", -1)
                else:
                    raise win_error(ERROR_FILE_NOT_FOUND)
            state = _Open(st.root, full, targets, node.ident if full else None, access, view)
            if node.ident != -1:
                state.node = node
                state.nver = reg._version
        return state

    def QueryInfoKey(self, key: object, /) -> tuple[int, int, int]:
        """(number of subkeys, number of values, last write time as FILETIME int)."""
        st = self._state(key)
        sys.audit("winreg.QueryInfoKey", self._handle_int(key))
        self._usable(st)
        self._need(st, KEY_QUERY_VALUE)
        with self.registry._lock:
            node = self._node(st)
            return len(self._subkeys(st, node)), len(node.values), node.mtime

    def QueryValue(self, key: object, sub_key: str | None, /) -> str:
        """Default value (REG_SZ) of ``key\\sub_key``; "" if unset; OSError 13 if not REG_SZ."""
        sub = _str_arg("QueryValue", 2, sub_key, True)
        st = self._state(key)
        sys.audit("winreg.QueryValue", self._handle_int(key), sub, None)
        self._usable(st)
        if sub:  # CPython opens the subkey with RegOpenKeyEx directly: no further audit event
            child = self._open_state(st, self._names(sub), KEY_QUERY_VALUE,
                                     self.registry.default_view)
            return self._query_default(child)
        self._need(st, KEY_QUERY_VALUE)
        return self._query_default(st)

    def _query_default(self, st: _Open) -> str:
        with self.registry._lock:
            entry = self._node(st).values.get("")
        if entry is None:
            return ""
        if entry[1] != _m.REG_SZ:
            raise win_error(ERROR_INVALID_DATA)
        return from_registry(entry[2], _m.REG_SZ)  # type: ignore[no-any-return]

    def QueryValueEx(self, key: object, name: str | None, /) -> tuple[Any, int]:
        """(data, type) of a value; FileNotFoundError (winerror 2) if missing."""
        if name is not None and type(name) is not str:
            _str_arg("QueryValueEx", 2, name, True)
        elif name is not None and "\x00" in name:
            raise ValueError("embedded null character")
        if type(key) is PyHKEY:
            h = key._h
            st = self._handles.get(h) or self._state(key)
        else:
            st = self._state(key)
            h = self._handle_int(key)
        sys.audit("winreg.QueryValue", h, None, name)
        if not st.access & (KEY_QUERY_VALUE | _MAXIMUM_ALLOWED):
            raise win_error(ERROR_ACCESS_DENIED)
        reg = self.registry
        f = (_FOLD_CACHE.get(name) or fold(name)) if name else ""
        node = st.node
        if st.nver == reg._version and node is not None:
            entry = node.values.get(f)  # one atomic dict read: no lock needed
        else:
            with reg._lock:
                entry = self._node(st).values.get(f)
        if entry is None:
            self._usable(st)
            raise win_error(ERROR_FILE_NOT_FOUND)
        typ = entry[1]
        data = entry[2]
        if typ == 4 and len(data) == 4:
            return int.from_bytes(data, "little"), 4
        return from_registry(data, typ), typ

    def SaveKey(self, key: object, file_name: str, /) -> None:
        """Write the key and its subtree to a new file (rasemu JSON format, see module doc)."""
        fname = _str_arg("SaveKey", 2, file_name, False)
        assert fname is not None
        st = self._state(key)
        sys.audit("winreg.SaveKey", self._handle_int(key), fname)
        self._usable(st)
        with self.registry._lock:
            node = self._node(st)
            doc = {"format": HIVE_FORMAT, "version": 1, "key": _dump(node)}
        try:
            with open(fname, "x", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)
        except FileExistsError:
            raise win_error(ERROR_ALREADY_EXISTS) from None
        except FileNotFoundError:
            raise win_error(3) from None

    def SetValue(self, key: object, sub_key: str | None, type: int, value: str, /) -> None:
        """Set the default value of ``key\\sub_key`` (creating it) to a REG_SZ string."""
        sub = _str_arg("SetValue", 2, sub_key, True)
        typ = _dword_arg(type)
        if typ != _m.REG_SZ:
            raise TypeError("type must be winreg.REG_SZ")
        if not isinstance(value, str):
            raise TypeError(f"SetValue() argument 4 must be str, not {value.__class__.__name__}")
        st = self._state(key)
        sys.audit("winreg.SetValue", self._handle_int(key), sub, typ, value)
        self._usable(st)
        if sub:  # CPython creates the subkey with RegCreateKeyEx directly: no further audit event
            child = self._create_state(st, self._names(sub), KEY_SET_VALUE,
                                       self.registry.default_view)
            self._set(child, "", typ, to_registry(value, typ))
            return
        self._need(st, KEY_SET_VALUE)
        self._set(st, "", typ, to_registry(value, typ))

    def SetValueEx(self, key: object, value_name: str | None, reserved: object,
                   type: int, value: object, /) -> None:
        """Store a value converted as CPython's winreg does (REG_DWORD from int, ...)."""
        if value_name is not None and (not isinstance(value_name, str) or "\x00" in value_name):
            _str_arg("SetValueEx", 2, value_name, True)
        typ = _dword_arg(type)
        st = self._state(key)
        data = to_registry(value, typ)
        sys.audit("winreg.SetValue", key._h if key.__class__ is PyHKEY else self._handle_int(key),
                  value_name, typ, value)
        if not st.access & (KEY_SET_VALUE | _MAXIMUM_ALLOWED):
            raise win_error(ERROR_ACCESS_DENIED)
        self._set(st, value_name or "", typ, data)

    def _set(self, st: _Open, name: str, typ: int, data: bytes) -> None:
        if len(name) > _m.MAX_VALUE_NAME:
            raise win_error(ERROR_INVALID_PARAMETER)
        if not st.root:
            raise win_error(ERROR_INVALID_HANDLE)
        reg = self.registry
        with reg._lock:
            node = self._node(st)
            if node.ident == -1:  # HKCR root with no sources yet
                node = reg._wnode(*reg._targets(_m.HKEY_CLASSES_ROOT, (), 64)[-1])
            elif node.gen != reg._gen:
                node = self._writable(st, node)
            f = _FOLD_CACHE.get(name) or fold(name)
            values = node.values
            old = values.get(f)
            values[f] = (old[0] if old is not None else name, typ, data)
            node.mtime = time_ns() // 100 + _EPOCH_AS_FILETIME

    def _reflection_ident(self, key: object, event: str) -> int:
        """Identity of the key behind ``key`` for the reflection calls (after their audit event)."""
        st = self._state(key)
        sys.audit(event, self._handle_int(key))
        with self.registry._lock:
            return self._node(st).ident

    def DisableReflectionKey(self, key: object, /) -> None:
        """Windows 7+: succeeds without effect (recorded for QueryReflectionKey)."""
        self._reflection_disabled.add(self._reflection_ident(key, "winreg.DisableReflectionKey"))

    def EnableReflectionKey(self, key: object, /) -> None:
        """Windows 7+: succeeds without effect."""
        self._reflection_disabled.discard(self._reflection_ident(key, "winreg.EnableReflectionKey"))

    def QueryReflectionKey(self, key: object, /) -> bool:
        """True if DisableReflectionKey was called on the key."""
        return self._reflection_ident(key, "winreg.QueryReflectionKey") in self._reflection_disabled


HIVE_FORMAT: Final = "rasemu-registry-hive"

_Tree = tuple[str, list[tuple[str, int, bytes]], list[Any]]


def _dump(node: Node) -> dict[str, Any]:
    return {
        "name": node.name,
        "values": [[n, t, d.hex()] for n, t, d in node.values.values()],
        "subkeys": [_dump(node.subkeys[fold(n)]) for n in node.subkey_names()],
    }


def _parse_hive(doc: Any) -> _Tree:
    if not isinstance(doc, dict) or doc.get("format") != HIVE_FORMAT or doc.get("version") != 1:
        raise ValueError("not a rasemu registry hive file")
    return _parse_key(doc["key"])


def _parse_key(obj: Any) -> _Tree:
    name = obj["name"]
    if not isinstance(name, str):
        raise TypeError("name")
    if name:  # the top key's stored name may be "" (a root); LoadKey names it anew
        _m.check_key_name(name)
    values = []
    for vname, vtype, vhex in obj["values"]:
        if not isinstance(vname, str) or not isinstance(vtype, int) or not 0 <= vtype <= 0xFFFFFFFF:
            raise TypeError("value")
        values.append((vname, vtype, bytes.fromhex(vhex)))
    return name, values, [_parse_key(k) for k in obj["subkeys"]]


def _build(tree: _Tree, name: str, gen: int) -> Node:
    node = Node(name, gen)
    _, values, subkeys = tree
    for vname, vtype, data in values:
        node.values[fold(vname)] = (vname, vtype, data)
    for sub in subkeys:
        node.subkeys[fold(sub[0])] = _build(sub, sub[0], gen)
    return node


#: Names a real ``winreg`` module exports (functions, constants and types).
WINREG_NAMES: Final = tuple(
    n for n in dir(FakeWinreg)
    if not n.startswith("_") and n not in ("registry", "environ", "open_handles", "close_all")
)

FakeWinreg.__all__ = list(WINREG_NAMES)  # type: ignore[attr-defined]  # for `from winreg import *`
