"""advapi32.dll: the registry API over rasemu's in-memory :class:`~emulator.registry.model.Registry`,
plus GetUserName and the event log (R46).

Windows semantics kept: predefined HKEYs (sign-extended on x64), access masks checked per handle,
the WOW64 view (a 32-bit DLL's default view is 32; KEY_WOW64_64KEY / KEY_WOW64_32KEY override),
ERROR_MORE_DATA with the required size written back, ERROR_KEY_DELETED for a handle whose key was
deleted, LSTATUS error codes returned (not SetLastError). The registry is ``PeOptions.registry``
(a private empty one when none is given).
"""

from __future__ import annotations

import functools
import inspect
import struct
from collections.abc import Callable
from dataclasses import dataclass

from emulator.loaders.pe.winapi import ACP, Ctx
from emulator.loaders.pe.winapi.env import expand, options, soft_api
from emulator.registry.model import (
    HKEY_HANDLES,
    KEY_ALL_ACCESS,
    KEY_CREATE_SUB_KEY,
    KEY_ENUMERATE_SUB_KEYS,
    KEY_QUERY_VALUE,
    KEY_READ,
    KEY_SET_VALUE,
    KEY_WOW64_32KEY,
    KEY_WOW64_64KEY,
    KEY_WRITE,
    MAXIMUM_ALLOWED,
    REG_BINARY,
    REG_CREATED_NEW_KEY,
    REG_DWORD,
    REG_EXPAND_SZ,
    REG_MULTI_SZ,
    REG_NONE,
    REG_OPENED_EXISTING_KEY,
    REG_QWORD,
    REG_SZ,
    ROOTS,
    KeyHasSubkeysError,
    KeyNotFoundError,
    Registry,
    RegistryPathError,
    ValueNotFoundError,
)
from emulator.winerror import (
    ERROR_ACCESS_DENIED,
    ERROR_BAD_PATHNAME,
    ERROR_DATATYPE_MISMATCH,
    ERROR_FILE_NOT_FOUND,
    ERROR_INSUFFICIENT_BUFFER,
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER,
    ERROR_INVALID_SID,
    ERROR_KEY_DELETED,
    ERROR_MORE_DATA,
    ERROR_NO_MORE_ITEMS,
    ERROR_NO_TOKEN,
    ERROR_NOACCESS,
    ERROR_NONE_MAPPED,
    ERROR_SUCCESS,
    ERROR_UNSUPPORTED_TYPE,
)

ADV = "advapi32.dll"
_ALSO = (
    "kernel32.dll",
)  # kernel32 exports these too (and api-ms-win-core-registry-* resolve there)

HKEY_CURRENT_USER = HKEY_HANDLES["HKEY_CURRENT_USER"]
HKEY_LOCAL_MACHINE = HKEY_HANDLES["HKEY_LOCAL_MACHINE"]
#: Predefined handle -> root abbreviation (the keys the model has a tree for).
PREDEFINED = {HKEY_HANDLES[full]: abbr for full, abbr in ROOTS.items()}

DELETE = 0x00010000
WRITE_DAC = 0x00040000
WRITE_OWNER = 0x00080000
GENERIC_READ = 0x80000000
GENERIC_WRITE = 0x40000000
GENERIC_EXECUTE = 0x20000000
GENERIC_ALL = 0x10000000

RRF_RT_REG_NONE = 0x1
RRF_RT_REG_SZ = 0x2
RRF_RT_REG_EXPAND_SZ = 0x4
RRF_RT_REG_BINARY = 0x8
RRF_RT_REG_DWORD = 0x10
RRF_RT_REG_MULTI_SZ = 0x20
RRF_RT_REG_QWORD = 0x40
RRF_RT_DWORD = RRF_RT_REG_BINARY | RRF_RT_REG_DWORD
RRF_RT_QWORD = RRF_RT_REG_BINARY | RRF_RT_REG_QWORD
RRF_RT_ANY = 0xFFFF
RRF_SUBKEY_WOW6464KEY = 0x10000
RRF_SUBKEY_WOW6432KEY = 0x20000
RRF_NOEXPAND = 0x10000000
RRF_ZEROONFAILURE = 0x20000000

_STRING_TYPES = (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ)
_HANDLE_KIND = "hkey"


def _dw(v: int) -> int:
    return v & 0xFFFFFFFF


@dataclass(slots=True)
class Key:
    """An open registry key: its logical path, the WOW64 view it was opened in, its access."""

    path: str
    view: int
    access: int


def _registry(ctx: Ctx) -> Registry:
    opts = options(ctx)
    if opts.registry is None:
        from emulator.registry.model import Registry as _Registry

        opts.registry = _Registry()
    return opts.registry


def _predefined(h: int) -> int | None:
    """The 32-bit HKEY_* constant of ``h`` (x64 passes them sign-extended), else None."""
    low = h & 0xFFFFFFFF
    if h >> 32 not in (0, 0xFFFFFFFF) or low not in PREDEFINED:
        return None
    return low


def _default_view(ctx: Ctx) -> int:
    return 32 if ctx.bits == 32 and options(ctx).wow64 else 64


def _view_of(ctx: Ctx, sam: int) -> int | None:
    """The view a call's access mask asks for; None for both flags at once (invalid)."""
    w = sam & (KEY_WOW64_32KEY | KEY_WOW64_64KEY)
    if w == KEY_WOW64_32KEY | KEY_WOW64_64KEY:
        return None
    if ctx.bits == 32 and not options(ctx).wow64:
        return 64  # 32-bit Windows: one registry, the WOW64 flags are ignored
    if w == KEY_WOW64_64KEY:
        return 64
    if w == KEY_WOW64_32KEY:
        return 32
    return _default_view(ctx)


def _map_generic(sam: int) -> int:
    if sam & GENERIC_READ or sam & GENERIC_EXECUTE:
        sam |= KEY_READ
    if sam & GENERIC_WRITE:
        sam |= KEY_WRITE
    if sam & (GENERIC_ALL | MAXIMUM_ALLOWED):
        sam |= KEY_ALL_ACCESS
    return sam & 0x00FFFFFF


def _resolve(ctx: Ctx, h: int) -> tuple[Key | None, int]:
    """The key behind handle ``h`` (a predefined key or an open one); (None, error) when invalid."""
    pre = _predefined(h)
    if pre is not None:
        return Key(PREDEFINED[pre], _default_view(ctx), KEY_ALL_ACCESS), ERROR_SUCCESS
    e = ctx.proc.handles.get(h, _HANDLE_KIND)
    if e is None:
        return None, ERROR_INVALID_HANDLE
    key = e.obj
    assert isinstance(key, Key)
    if not _registry(ctx).key_exists(key.path, view=key.view):
        return None, ERROR_KEY_DELETED
    return key, ERROR_SUCCESS


def _resolve_for(ctx: Ctx, h: int, access: int) -> tuple[Key | None, int]:
    """:func:`_resolve`, then (None, ERROR_ACCESS_DENIED) unless the handle grants ``access``."""
    key, err = _resolve(ctx, h)
    if key is not None and not key.access & access:
        return None, ERROR_ACCESS_DENIED
    return key, err


def _value_reader(ctx: Ctx, h: int, reserved: int, data: int, pcb: int) -> tuple[Key | None, int]:
    """The checks RegQueryValueEx and RegEnumValue share: no reserved argument, a size for any
    data buffer, a handle with KEY_QUERY_VALUE; (None, error) when one fails."""
    if reserved or (data and not pcb):
        return None, ERROR_INVALID_PARAMETER
    return _resolve_for(ctx, h, KEY_QUERY_VALUE)


def _join(base: str, sub: str) -> tuple[str | None, int]:
    """``base\\sub`` validated; (None, error) for a malformed sub-path."""
    if not sub:
        return base, ERROR_SUCCESS
    if sub.startswith("\\"):
        return None, ERROR_BAD_PATHNAME
    if sub.endswith("\\"):
        sub = sub[:-1]
        if not sub or sub.endswith("\\"):
            return None, ERROR_BAD_PATHNAME
    if "\\\\" in sub:
        return None, ERROR_BAD_PATHNAME
    if any(len(part) > 255 for part in sub.split("\\")):
        return None, ERROR_INVALID_PARAMETER
    return base + "\\" + sub, ERROR_SUCCESS


def _new_handle(ctx: Ctx, key: Key) -> int:
    return ctx.proc.handles.new(_HANDLE_KIND, key, site=ctx.caller, api=ctx.api)


def _text(ctx: Ctx, ptr: int, wide: bool) -> str:
    if not ptr:
        return ""
    return ctx.wstr(ptr) if wide else ctx.cstr(ptr)


def _ansi_and_wide(
    stem: str, *, also: tuple[str, ...] = _ALSO
) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Register ``impl(ctx, <Windows parameters>, wide)`` as ``<stem>W`` and ``<stem>A``.

    One implementation serves both: ``wide`` says whether strings (and string data) are UTF-16
    or ANSI. The registered handlers take the Windows parameters only (their count is the argc).
    """

    def deco(impl: Callable[..., int]) -> Callable[..., int]:
        params = list(inspect.signature(impl).parameters.values())
        assert params[-1].name == "wide", impl.__name__
        for suffix, wide in (("W", True), ("A", False)):
            handler = functools.partial(impl, wide=wide)
            handler.__signature__ = inspect.Signature(params[:-1])  # type: ignore[attr-defined]
            soft_api(ADV, stem + suffix, also=also)(handler)
        return impl

    return deco


# --- open / create / close ----------------------------------------------------------------------
def _locate(ctx: Ctx, h: int, sam: int, sub: Callable[[], str]) -> tuple[Key, int, str] | int:
    """(parent key, WOW64 view, full path) of sub-key ``sub()`` under handle ``h``, or the error
    code, checked in Windows' order: the view in ``sam``, the handle, then the sub-key text."""
    view = _view_of(ctx, sam)
    if view is None:
        return ERROR_INVALID_PARAMETER
    parent, err = _resolve(ctx, h)
    if parent is None:
        return err
    path, err = _join(parent.path, sub())
    if path is None:
        return err
    return parent, view, path


def _open(ctx: Ctx, h: int, sub: int, sam: int, out: int, wide: bool) -> int:
    if not out:
        return ERROR_INVALID_PARAMETER
    loc = _locate(ctx, h, sam, lambda: _text(ctx, sub, wide))
    if isinstance(loc, int):
        return loc
    _, view, path = loc
    try:
        exists = _registry(ctx).key_exists(path, view=view)
    except RegistryPathError as exc:
        return exc.winerror
    if not exists:
        return ERROR_FILE_NOT_FOUND
    ctx.write_ptr(out, _new_handle(ctx, Key(path, view, _map_generic(sam))))
    return ERROR_SUCCESS


@_ansi_and_wide("RegOpenKeyEx")
def _open_key_ex(ctx: Ctx, h: int, sub: int, opts: int, sam: int, out: int, wide: bool) -> int:
    return _open(ctx, h, sub, _dw(sam), out, wide)


@_ansi_and_wide("RegOpenKey", also=())
def _open_key(ctx: Ctx, h: int, sub: int, out: int, wide: bool) -> int:
    return _open(ctx, h, sub, MAXIMUM_ALLOWED, out, wide)


def _create(
    ctx: Ctx, h: int, sub: int, options_: int, sam: int, out: int, disp: int, wide: bool
) -> int:
    if not out:
        return ERROR_INVALID_PARAMETER
    loc = _locate(ctx, h, sam, lambda: _text(ctx, sub, wide))
    if isinstance(loc, int):
        return loc
    parent, view, path = loc
    reg = _registry(ctx)
    try:
        existed = reg.key_exists(path, view=view)
        if not existed:
            if not parent.access & KEY_CREATE_SUB_KEY:
                return ERROR_ACCESS_DENIED
            if path.count("\\") == 0:
                return ERROR_INVALID_PARAMETER
            reg.create_key(path, view=view)
    except RegistryPathError as exc:
        return exc.winerror
    ctx.write_ptr(out, _new_handle(ctx, Key(path, view, _map_generic(sam))))
    if disp:
        ctx.mem.w32(disp, REG_OPENED_EXISTING_KEY if existed else REG_CREATED_NEW_KEY)
    return ERROR_SUCCESS


@_ansi_and_wide("RegCreateKeyEx")
def _create_key_ex(
    ctx: Ctx,
    h: int,
    sub: int,
    reserved: int,
    cls: int,
    opts: int,
    sam: int,
    sa: int,
    out: int,
    disp: int,
    wide: bool,
) -> int:
    return _create(ctx, h, sub, _dw(opts), _dw(sam), out, disp, wide)


@_ansi_and_wide("RegCreateKey", also=())
def _create_key(ctx: Ctx, h: int, sub: int, out: int, wide: bool) -> int:
    return _create(ctx, h, sub, 0, MAXIMUM_ALLOWED, out, 0, wide)


@soft_api(ADV, also=_ALSO)
def RegCloseKey(ctx: Ctx, h: int) -> int:
    if _predefined(h) is not None:
        return ERROR_SUCCESS
    if ctx.proc.handles.get(h, _HANDLE_KIND) is None:
        return ERROR_INVALID_HANDLE
    ctx.proc.handles.close(h)
    return ERROR_SUCCESS


@soft_api(ADV, also=_ALSO)
def RegFlushKey(ctx: Ctx, h: int) -> int:
    return _resolve(ctx, h)[1]


# --- values -------------------------------------------------------------------------------------
def _to_wide_data(typ: int, raw: bytes) -> bytes:
    """ANSI value data as the registry stores it (string types widened, like RegSetValueExA)."""
    if typ in _STRING_TYPES:
        return raw.decode(ACP, "replace").encode("utf-16-le", "surrogatepass")
    return raw


def _to_ansi_data(typ: int, raw: bytes) -> bytes:
    if typ in _STRING_TYPES:
        if len(raw) % 2:
            raw = raw[:-1]
        return raw.decode("utf-16-le", "replace").encode(ACP, "replace")
    return raw


def _set(ctx: Ctx, h: int, name: str, typ: int, data: int, size: int, wide: bool) -> int:
    key, err = _resolve_for(ctx, h, KEY_SET_VALUE)
    if key is None:
        return err
    if size and not data:
        return ERROR_NOACCESS
    raw = ctx.mem.read(data, size) if size else b""
    if not wide:
        raw = _to_wide_data(typ, raw)
    try:
        _registry(ctx).set_value(key.path, name, typ, raw, view=key.view)
    except RegistryPathError as exc:
        return exc.winerror
    return ERROR_SUCCESS


@_ansi_and_wide("RegSetValueEx")
def _set_value_ex(
    ctx: Ctx, h: int, name: int, reserved: int, typ: int, data: int, size: int, wide: bool
) -> int:
    return _set(ctx, h, _text(ctx, name, wide), _dw(typ), data, _dw(size), wide)


@soft_api(ADV, also=_ALSO)
def RegSetKeyValueW(ctx: Ctx, h: int, sub: int, name: int, typ: int, data: int, size: int) -> int:
    if not sub:
        return _set(ctx, h, _text(ctx, name, True), _dw(typ), data, _dw(size), True)
    tmp = ctx.alloc(ctx.ptr_size)
    try:
        err = _create(ctx, h, sub, 0, KEY_SET_VALUE, tmp, 0, True)
        if err:
            return err
        hk = ctx.ptr(tmp)
        err = _set(ctx, hk, _text(ctx, name, True), _dw(typ), data, _dw(size), True)
        ctx.proc.handles.close(hk)
        return err
    finally:
        ctx.heap.free(tmp)


def _get(ctx: Ctx, key: Key, name: str) -> tuple[int, bytes] | int:
    try:
        return _registry(ctx).get_value(key.path, name, view=key.view)
    except (KeyNotFoundError, ValueNotFoundError):
        return ERROR_FILE_NOT_FOUND
    except RegistryPathError as exc:
        return exc.winerror


def _deliver(ctx: Ctx, raw: bytes, data: int, pcb: int) -> int:
    """Copy ``raw`` to ``data`` if it fits in ``*pcb``; always store the size in ``*pcb``."""
    if not pcb:
        return ERROR_SUCCESS if not data else ERROR_INVALID_PARAMETER
    cap = ctx.mem.u32(pcb)
    ctx.mem.w32(pcb, len(raw))
    if not data:
        return ERROR_SUCCESS
    if len(raw) > cap:
        return ERROR_MORE_DATA
    ctx.mem.write(data, raw)
    return ERROR_SUCCESS


@_ansi_and_wide("RegQueryValueEx")
def _query(
    ctx: Ctx, h: int, name: int, reserved: int, ptype: int, data: int, pcb: int, wide: bool
) -> int:
    key, err = _value_reader(ctx, h, reserved, data, pcb)
    if key is None:
        return err
    got = _get(ctx, key, _text(ctx, name, wide))
    if isinstance(got, int):
        return got
    typ, raw = got
    if not wide:
        raw = _to_ansi_data(typ, raw)
    if ptype:
        ctx.mem.w32(ptype, typ)
    return _deliver(ctx, raw, data, pcb)


_RRF_OF_TYPE = {
    REG_NONE: RRF_RT_REG_NONE,
    REG_SZ: RRF_RT_REG_SZ,
    REG_EXPAND_SZ: RRF_RT_REG_EXPAND_SZ,
    REG_BINARY: RRF_RT_REG_BINARY,
    REG_DWORD: RRF_RT_REG_DWORD,
    REG_MULTI_SZ: RRF_RT_REG_MULTI_SZ,
    REG_QWORD: RRF_RT_REG_QWORD,
}


@_ansi_and_wide("RegGetValue")
def _get_value(
    ctx: Ctx, h: int, sub: int, name: int, flags: int, ptype: int, data: int, pcb: int, wide: bool
) -> int:
    flags = _dw(flags)
    if data and not pcb:
        return ERROR_INVALID_PARAMETER
    if not flags & RRF_RT_ANY:
        return ERROR_INVALID_PARAMETER
    if (
        flags & RRF_RT_REG_EXPAND_SZ
        and not flags & RRF_NOEXPAND
        and flags & RRF_RT_ANY != RRF_RT_ANY
    ):
        return ERROR_INVALID_PARAMETER  # asking for REG_EXPAND_SZ needs RRF_NOEXPAND (RRF_RT_ANY excepted)
    cap = ctx.mem.u32(pcb) if pcb else 0
    err = _get_value_inner(ctx, h, sub, name, flags, ptype, data, pcb, wide)
    if err not in (ERROR_SUCCESS,) and flags & RRF_ZEROONFAILURE and data and cap:
        ctx.mem.fill(data, cap)
    return err


def _get_value_inner(
    ctx: Ctx, h: int, sub: int, name: int, flags: int, ptype: int, data: int, pcb: int, wide: bool
) -> int:
    key, err = _resolve(ctx, h)
    if key is None:
        return err
    if sub:
        sam = KEY_QUERY_VALUE
        if flags & RRF_SUBKEY_WOW6464KEY:
            sam |= KEY_WOW64_64KEY
        if flags & RRF_SUBKEY_WOW6432KEY:
            sam |= KEY_WOW64_32KEY
        view = _view_of(ctx, sam)
        if view is None:
            return ERROR_INVALID_PARAMETER
        path, err = _join(key.path, _text(ctx, sub, wide))
        if path is None:
            return err
        try:
            if not _registry(ctx).key_exists(path, view=view):
                return ERROR_FILE_NOT_FOUND
        except RegistryPathError as exc:
            return exc.winerror
        key = Key(path, view, KEY_QUERY_VALUE)
    elif not key.access & KEY_QUERY_VALUE:
        return ERROR_ACCESS_DENIED
    got = _get(ctx, key, _text(ctx, name, wide))
    if isinstance(got, int):
        return got
    typ, raw = got
    if typ == REG_EXPAND_SZ and not flags & RRF_NOEXPAND:
        text = raw.decode("utf-16-le", "replace").split("\0", 1)[0]
        raw = expand(ctx, text).encode("utf-16-le", "surrogatepass")
        typ = REG_SZ
        allowed = flags & RRF_RT_REG_SZ
    else:
        allowed = flags & _RRF_OF_TYPE.get(typ, 0)
    if not allowed:
        return ERROR_UNSUPPORTED_TYPE
    expect = 0
    if typ == REG_DWORD:
        expect = 4
    elif typ == REG_QWORD:
        expect = 8
    elif typ == REG_BINARY:
        if flags & RRF_RT_ANY & ~RRF_RT_DWORD == 0 and flags & RRF_RT_DWORD == RRF_RT_DWORD:
            expect = 4
        elif flags & RRF_RT_ANY & ~RRF_RT_QWORD == 0 and flags & RRF_RT_QWORD == RRF_RT_QWORD:
            expect = 8
    if expect and len(raw) != expect:
        return ERROR_DATATYPE_MISMATCH
    if typ in _STRING_TYPES:
        # RegGetValue guarantees NUL termination (a double NUL for REG_MULTI_SZ)
        if len(raw) % 2:
            raw += b"\0"
        if not raw.endswith(b"\0\0"):
            raw += b"\0\0"
        if typ == REG_MULTI_SZ and not raw.endswith(b"\0\0\0\0"):
            raw += b"\0\0"
        if not wide:
            raw = _to_ansi_data(typ, raw)
    if ptype:
        ctx.mem.w32(ptype, typ)
    return _deliver(ctx, raw, data, pcb)


def _delete_value(ctx: Ctx, h: int, name: str) -> int:
    key, err = _resolve_for(ctx, h, KEY_SET_VALUE)
    if key is None:
        return err
    try:
        _registry(ctx).delete_value(key.path, name, view=key.view)
    except (KeyNotFoundError, ValueNotFoundError):
        return ERROR_FILE_NOT_FOUND
    return ERROR_SUCCESS


@_ansi_and_wide("RegDeleteValue")
def _delete_value_named(ctx: Ctx, h: int, name: int, wide: bool) -> int:
    return _delete_value(ctx, h, _text(ctx, name, wide))


# --- deleting keys --------------------------------------------------------------------------------
def _delete_key(ctx: Ctx, h: int, sub: str, sam: int, recursive: bool) -> int:
    loc = _locate(ctx, h, sam, lambda: sub)
    if isinstance(loc, int):
        return loc
    _, view, path = loc
    if "\\" not in path:
        return ERROR_ACCESS_DENIED  # a root key
    reg = _registry(ctx)
    try:
        if not reg.key_exists(path, view=view):
            return ERROR_FILE_NOT_FOUND
        reg.delete_key(path, recursive=recursive, view=view)
    except KeyHasSubkeysError:
        return ERROR_ACCESS_DENIED
    except KeyNotFoundError:
        return ERROR_FILE_NOT_FOUND
    except RegistryPathError as exc:
        return exc.winerror
    return ERROR_SUCCESS


@_ansi_and_wide("RegDeleteKey")
def _delete_subkey(ctx: Ctx, h: int, sub: int, wide: bool) -> int:
    return _delete_subkey_ex(ctx, h, sub, 0, 0, wide)


@_ansi_and_wide("RegDeleteKeyEx")
def _delete_subkey_ex(ctx: Ctx, h: int, sub: int, sam: int, reserved: int, wide: bool) -> int:
    if not sub:
        return ERROR_INVALID_PARAMETER
    return _delete_key(ctx, h, _text(ctx, sub, wide), _dw(sam), False)


@_ansi_and_wide("RegDeleteTree")
def _delete_tree(ctx: Ctx, h: int, sub: int, wide: bool) -> int:
    if sub:
        return _delete_key(ctx, h, _text(ctx, sub, wide), 0, True)
    # no sub-key: empty the key itself (values and subkeys), keep the key
    key, err = _resolve(ctx, h)
    if key is None:
        return err
    reg = _registry(ctx)
    for child in reg.subkey_names(key.path, view=key.view):
        reg.delete_key(key.path + "\\" + child, recursive=True, view=key.view)
    for vname, _, _ in reg.value_items(key.path, view=key.view):
        reg.delete_value(key.path, vname, view=key.view)
    return ERROR_SUCCESS


# --- enumeration / info ------------------------------------------------------------------------
def _put_name(ctx: Ctx, buf: int, pcch: int, name: str, wide: bool) -> int:
    """Store ``name`` (+NUL) if ``*pcch`` (characters, NUL included) allows; the stored count excludes NUL."""
    if not pcch or not buf:
        return ERROR_INVALID_PARAMETER
    cap = ctx.mem.u32(pcch)
    raw = name.encode("utf-16-le", "surrogatepass") if wide else name.encode(ACP, "replace")
    n = len(raw) // 2 if wide else len(raw)
    if n + 1 > cap:
        return ERROR_MORE_DATA
    if wide:
        ctx.write_wstr(buf, name)
    else:
        ctx.write_cstr(buf, raw)
    ctx.mem.w32(pcch, n)
    return ERROR_SUCCESS


@_ansi_and_wide("RegEnumKeyEx")
def _enum_key(
    ctx: Ctx,
    h: int,
    index: int,
    buf: int,
    pcch: int,
    reserved: int,
    cls: int,
    pcls: int,
    ft: int,
    wide: bool,
) -> int:
    key, err = _resolve_for(ctx, h, KEY_ENUMERATE_SUB_KEYS)
    if key is None:
        return err
    names = _registry(ctx).subkey_names(key.path, view=key.view)
    index = _dw(index)
    if index >= len(names):
        return ERROR_NO_MORE_ITEMS
    err = _put_name(ctx, buf, pcch, names[index], wide)
    if err:
        return err
    if cls and pcls:
        if ctx.mem.u32(pcls) >= 1:
            ctx.mem.write(cls, b"\0\0" if wide else b"\0")
        ctx.mem.w32(pcls, 0)
    if ft:
        ctx.mem.w64(ft, _mtime(ctx, key.path + "\\" + names[index], key.view))
    return ERROR_SUCCESS


@soft_api(ADV)
def RegEnumKeyW(ctx: Ctx, h: int, index: int, name: int, cch: int) -> int:
    tmp = ctx.alloc(4)
    try:
        ctx.mem.w32(tmp, _dw(cch))
        return _enum_key(ctx, h, index, name, tmp, 0, 0, 0, 0, True)
    finally:
        ctx.heap.free(tmp)


@_ansi_and_wide("RegEnumValue")
def _enum_value(
    ctx: Ctx,
    h: int,
    index: int,
    buf: int,
    pcch: int,
    reserved: int,
    ptype: int,
    data: int,
    pcb: int,
    wide: bool,
) -> int:
    key, err = _value_reader(ctx, h, reserved, data, pcb)
    if key is None:
        return err
    items = _registry(ctx).value_items(key.path, view=key.view)
    index = _dw(index)
    if index >= len(items):
        return ERROR_NO_MORE_ITEMS
    vname, typ, raw = items[index]
    if not wide:
        raw = _to_ansi_data(typ, raw)
    err = _put_name(ctx, buf, pcch, vname, wide)
    if err:
        if err == ERROR_MORE_DATA and pcb:
            ctx.mem.w32(pcb, len(raw))
        return err
    if ptype:
        ctx.mem.w32(ptype, typ)
    return _deliver(ctx, raw, data, pcb)


def _mtime(ctx: Ctx, path: str, view: int) -> int:
    reg = _registry(ctx)
    try:
        with reg.lock:
            _, node = reg._existing(path, view)
        return int(node.mtime)
    except (KeyNotFoundError, AttributeError):
        return 0


@_ansi_and_wide("RegQueryInfoKey")
def _query_info(
    ctx: Ctx,
    h: int,
    cls: int,
    pcls: int,
    reserved: int,
    psub: int,
    pmaxsub: int,
    pmaxcls: int,
    pvals: int,
    pmaxname: int,
    pmaxdata: int,
    psd: int,
    ft: int,
    wide: bool,
) -> int:
    key, err = _resolve_for(ctx, h, KEY_QUERY_VALUE)
    if key is None:
        return err
    reg = _registry(ctx)
    subs = reg.subkey_names(key.path, view=key.view)
    vals = reg.value_items(key.path, view=key.view)

    def units(s: str) -> int:
        return (
            len(s.encode("utf-16-le", "surrogatepass")) // 2
            if wide
            else len(s.encode(ACP, "replace"))
        )

    if cls and pcls:
        if ctx.mem.u32(pcls) < 1:
            return ERROR_MORE_DATA
        ctx.mem.write(cls, b"\0\0" if wide else b"\0")
    if pcls:
        ctx.mem.w32(pcls, 0)
    for ptr, v in (
        (psub, len(subs)),
        (pmaxsub, max((units(s) for s in subs), default=0)),
        (pmaxcls, 0),
        (pvals, len(vals)),
        (pmaxname, max((units(n) for n, _, _ in vals), default=0)),
        (pmaxdata, max((len(d) for _, _, d in vals), default=0)),
        (psd, 0x80),
    ):
        if ptr:
            ctx.mem.w32(ptr, v)
    if ft:
        ctx.mem.w64(ft, _mtime(ctx, key.path, key.view))
    return ERROR_SUCCESS


# --- user / event log --------------------------------------------------------------------------
@_ansi_and_wide("GetUserName", also=())
def _get_user_name(ctx: Ctx, buf: int, pcch: int, wide: bool) -> int:
    name = options(ctx).user_name
    need = len(name) + 1
    if not pcch:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    cap = ctx.mem.u32(pcch)
    ctx.mem.w32(pcch, need)
    if cap < need or not buf:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    if wide:
        ctx.write_wstr(buf, name)
    else:
        ctx.write_cstr(buf, name)
    return 1


_EVENT_TYPES = {
    0: "success",
    1: "error",
    2: "warning",
    4: "information",
    8: "audit-success",
    16: "audit-failure",
}


@_ansi_and_wide("RegisterEventSource", also=())
def _register_source(ctx: Ctx, server: int, source: int, wide: bool) -> int:
    _server, name = _text(ctx, server, wide), _text(ctx, source, wide)
    if not name:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    return ctx.proc.handles.new("eventsource", name, site=ctx.caller, api=ctx.api)


@soft_api(ADV)
def DeregisterEventSource(ctx: Ctx, h: int) -> int:
    if ctx.proc.handles.get(h, "eventsource") is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    ctx.proc.handles.close(h)
    return 1


@_ansi_and_wide("ReportEvent", also=())
def _report(
    ctx: Ctx,
    h: int,
    typ: int,
    cat: int,
    eid: int,
    sid: int,
    nstr: int,
    size: int,
    strings: int,
    raw: int,
    wide: bool,
) -> int:
    e = ctx.proc.handles.get(h, "eventsource")
    if e is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    texts = []
    for i in range(nstr & 0xFFFF):
        p = ctx.ptr(strings + i * ctx.ptr_size)
        texts.append(_text(ctx, p, wide) if p else "")
    data = ctx.mem.read(raw, _dw(size)) if raw and _dw(size) else b""
    kind = _EVENT_TYPES.get(typ & 0xFFFF, f"type{typ & 0xFFFF}")
    entry = {
        "source": e.obj,
        "type": kind,
        "category": cat & 0xFFFF,
        "event_id": _dw(eid),
        "code": _dw(eid) & 0xFFFF,
        "strings": texts,
        "data": data.hex(),
    }
    options(ctx).events.append(entry)
    ctx.proc.extra.setdefault("event_log", []).append(entry)
    ctx.log(f"[eventlog] {e.obj} {kind} id={_dw(eid) & 0xFFFF}: " + " | ".join(texts))
    return 1


# a pre-packed DWORD helper for tests and callers that seed values
def dword(value: int) -> bytes:
    """REG_DWORD data for ``value``."""
    return struct.pack("<I", value & 0xFFFFFFFF)


# --- tokens and SIDs (the RRAS service runs as LocalSystem) ------------------------------------------
SYSTEM_SID = bytes([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0])  # S-1-5-18
TOKEN_USER = 1
TOKEN_GROUPS = 2
TOKEN_ELEVATION = 20
#: SIDs LocalSystem is a member of: itself, Everyone, Authenticated Users, Administrators, Users
_MEMBER_OF = {"S-1-5-18", "S-1-1-0", "S-1-5-11", "S-1-5-32-544", "S-1-5-32-545", "S-1-2-0", "S-1-16-16384"}


def sid_string(raw: bytes) -> str:
    """``S-1-5-...`` for a binary SID."""
    count = raw[1]
    auth = int.from_bytes(raw[2:8], "big")
    subs = [int.from_bytes(raw[8 + 4 * i : 12 + 4 * i], "little") for i in range(count)]
    return "S-" + "-".join(str(x) for x in [raw[0], auth, *subs])


def _read_sid(ctx: Ctx, p: int) -> bytes | None:
    if not p:
        return None
    head = ctx.mem.read(p, 8)
    if head[0] != 1 or head[1] > 15:
        return None
    return head + ctx.mem.read(p + 8, 4 * head[1])


@soft_api(ADV)
def OpenProcessToken(ctx: Ctx, process: int, access: int, out: int) -> int:
    ctx.write_ptr(out, ctx.proc.handles.new("token", "SYSTEM", site=ctx.caller, api=ctx.api))
    return 1


@soft_api(ADV)
def OpenThreadToken(ctx: Ctx, thread: int, access: int, as_self: int, out: int) -> int:
    ctx.set_last_error(ERROR_NO_TOKEN)  # not impersonating
    return 0


@soft_api(ADV)
def GetTokenInformation(ctx: Ctx, token: int, cls: int, buf: int, size: int, ret: int) -> int:
    if ctx.proc.handles.get(token, "token") is None and _dw(token) not in (0xFFFFFFFC, 0xFFFFFFFB, 0xFFFFFFFA):
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    ps = ctx.ptr_size
    c = _dw(cls)
    if c == TOKEN_USER:
        head = 2 * ps
        need = head + len(SYSTEM_SID)
    elif c == TOKEN_ELEVATION:
        need = 4
    else:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    if ret:
        ctx.mem.w32(ret, need)
    if _dw(size) < need or not buf:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    if c == TOKEN_USER:
        ctx.write_ptr(buf, buf + head)
        ctx.mem.fill(buf + ps, ps)
        ctx.mem.write(buf + head, SYSTEM_SID)
    else:
        ctx.mem.w32(buf, 1)
    return 1


@soft_api(ADV)
def AllocateAndInitializeSid(
    ctx: Ctx, auth: int, count: int, s0: int, s1: int, s2: int, s3: int, s4: int, s5: int, s6: int, s7: int,
    out: int,
) -> int:
    n = count & 0xFF
    if n > 8 or not out:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    raw = bytes([1, n]) + ctx.mem.read(auth, 6) + b"".join(
        _dw(v).to_bytes(4, "little") for v in (s0, s1, s2, s3, s4, s5, s6, s7)[:n])
    p = ctx.alloc(len(raw))
    ctx.mem.write(p, raw)
    ctx.write_ptr(out, p)
    return 1


@soft_api(ADV)
def FreeSid(ctx: Ctx, sid: int) -> int:
    ctx.heap.free(sid)
    return 0


@soft_api(ADV)
def IsValidSid(ctx: Ctx, sid: int) -> int:
    return int(_read_sid(ctx, sid) is not None)


@soft_api(ADV)
def GetLengthSid(ctx: Ctx, sid: int) -> int:
    raw = _read_sid(ctx, sid)
    return len(raw) if raw else 0


@soft_api(ADV)
def EqualSid(ctx: Ctx, a: int, b: int) -> int:
    ra, rb = _read_sid(ctx, a), _read_sid(ctx, b)
    ctx.set_last_error(0)
    return int(ra is not None and ra == rb)


@soft_api(ADV)
def CheckTokenMembership(ctx: Ctx, token: int, sid: int, out: int) -> int:
    raw = _read_sid(ctx, sid)
    if raw is None:
        ctx.set_last_error(ERROR_INVALID_SID)
        return 0
    ctx.mem.w32(out, int(sid_string(raw) in _MEMBER_OF))
    return 1


@soft_api(ADV)
def ConvertSidToStringSidW(ctx: Ctx, sid: int, out: int) -> int:
    raw = _read_sid(ctx, sid)
    if raw is None:
        ctx.set_last_error(ERROR_INVALID_SID)
        return 0
    text = sid_string(raw)
    p = ctx.alloc(2 * len(text) + 2)
    ctx.write_wstr(p, text)
    ctx.write_ptr(out, p)
    return 1


@soft_api(ADV)
def LookupAccountSidW(
    ctx: Ctx, system: int, sid: int, name: int, pcch_name: int, domain: int, pcch_domain: int, use: int
) -> int:
    raw = _read_sid(ctx, sid)
    known = {"S-1-5-18": ("SYSTEM", "NT AUTHORITY", 5), "S-1-5-32-544": ("Administrators", "BUILTIN", 4),
             "S-1-1-0": ("Everyone", "", 5)}
    hit = known.get(sid_string(raw)) if raw else None
    if hit is None:
        ctx.set_last_error(ERROR_NONE_MAPPED)
        return 0
    n, d, kind = hit
    cap_n, cap_d = ctx.mem.u32(pcch_name), ctx.mem.u32(pcch_domain)
    ctx.mem.w32(pcch_name, len(n) + 1 if cap_n <= len(n) else len(n))
    ctx.mem.w32(pcch_domain, len(d) + 1 if cap_d <= len(d) else len(d))
    if cap_n <= len(n) or cap_d <= len(d) or not name or not domain:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    ctx.write_wstr(name, n)
    ctx.write_wstr(domain, d)
    if use:
        ctx.mem.w32(use, kind)
    return 1


# --- random numbers ---------------------------------------------------------------------------------
@soft_api(ADV)
def CryptAcquireContextW(ctx: Ctx, out: int, container: int, provider: int, ptype: int, flags: int) -> int:
    ctx.write_ptr(out, ctx.proc.handles.new("cryptprov", None, site=ctx.caller, api=ctx.api))
    return 1


@soft_api(ADV)
def CryptGenRandom(ctx: Ctx, prov: int, n: int, buf: int) -> int:
    import os

    if ctx.proc.handles.get(prov, "cryptprov") is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    if _dw(n):
        ctx.mem.write(buf, os.urandom(_dw(n)))
    return 1


@soft_api(ADV)
def CryptReleaseContext(ctx: Ctx, prov: int, flags: int) -> int:
    if not ctx.proc.handles.close(prov):
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    return 1


@soft_api(ADV)
def SystemFunction036(ctx: Ctx, buf: int, n: int) -> int:  # RtlGenRandom
    import os

    if _dw(n):
        ctx.mem.write(buf, os.urandom(_dw(n)))
    return 1


# --- more registry --------------------------------------------------------------------------------
@soft_api(ADV, also=_ALSO)
def RegOpenCurrentUser(ctx: Ctx, sam: int, out: int) -> int:
    return _open(ctx, HKEY_CURRENT_USER, 0, _dw(sam), out, True)


@soft_api(ADV, also=_ALSO)
def RegNotifyChangeKeyValue(ctx: Ctx, h: int, subtree: int, filt: int, event: int, asynchronous: int) -> int:
    from emulator.loaders.pe.winapi import ApiFault

    key, err = _resolve(ctx, h)
    if key is None:
        return err
    if not _dw(asynchronous):
        raise ApiFault("timeout", f"RegNotifyChangeKeyValue on {key.path} waits for a change nobody will make "
                       "(the emulator runs the DLL on one thread)")
    return ERROR_SUCCESS  # the event is signaled only by a change, which never happens during a call
