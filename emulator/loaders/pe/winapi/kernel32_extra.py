"""kernel32.dll beyond the core: files in a sandbox, standard handles, directories, environment,
computer name, locale/code-page helpers the MSVC CRT asks for.

Files: a Windows path (``C:\\ProgramData\\Vendor\\pool.cfg``) maps to ``<sandbox>/c/ProgramData/
Vendor/pool.cfg`` (components matched case-insensitively, like NTFS). Paths that would leave the
sandbox (``..`` above the drive root, UNC and device paths, a symlink pointing outside) are refused
with ERROR_ACCESS_DENIED. Without a sandbox every file access is refused the same way. Each refusal
is recorded in ``PeOptions.denied`` and in the call's debug output. A 32-bit DLL's
``C:\\Windows\\System32`` is redirected to ``SysWOW64`` as the WOW64 file system redirector does.
The standard folders (:data:`SKELETON`) are created in the sandbox on first use.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass

from emulator.loaders.pe.winapi import ACP, ApiFault, Ctx
from emulator.loaders.pe.winapi.env import (
    ENV_NAMES,
    SYSTEM_ROOT,
    environment,
    expand,
    options,
    soft_api,
)
from emulator.loaders.pe.winapi.kernel32 import store_counted
from emulator.winerror import (
    ERROR_ACCESS_DENIED,
    ERROR_ALREADY_EXISTS,
    ERROR_BUFFER_OVERFLOW,
    ERROR_DIR_NOT_EMPTY,
    ERROR_ENVVAR_NOT_FOUND,
    ERROR_FILE_EXISTS,
    ERROR_FILE_NOT_FOUND,
    ERROR_INSUFFICIENT_BUFFER,
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_NAME,
    ERROR_INVALID_PARAMETER,
    ERROR_KEY_DELETED,
    ERROR_MORE_DATA,
    ERROR_MR_MID_NOT_FOUND,
    ERROR_NEGATIVE_SEEK,
    ERROR_NO_MORE_FILES,
    ERROR_NO_MORE_ITEMS,
    ERROR_NOT_ENOUGH_MEMORY,
    ERROR_NOT_OWNER,
    ERROR_OLD_WIN_VERSION,
    ERROR_OUTOFMEMORY,
    ERROR_PATH_NOT_FOUND,
    ERROR_SUCCESS,
    ERROR_TOO_MANY_POSTS,
    MESSAGES,
)

K32 = "kernel32.dll"

GENERIC_READ = 0x80000000
GENERIC_WRITE = 0x40000000
GENERIC_ALL = 0x10000000
FILE_READ_DATA = 0x1
FILE_WRITE_DATA = 0x2
FILE_APPEND_DATA = 0x4
CREATE_NEW = 1
CREATE_ALWAYS = 2
OPEN_EXISTING = 3
OPEN_ALWAYS = 4
TRUNCATE_EXISTING = 5
FILE_FLAG_BACKUP_SEMANTICS = 0x02000000
FILE_FLAG_DELETE_ON_CLOSE = 0x04000000
FILE_ATTRIBUTE_READONLY = 0x1
FILE_ATTRIBUTE_DIRECTORY = 0x10
FILE_ATTRIBUTE_ARCHIVE = 0x20
FILE_ATTRIBUTE_NORMAL = 0x80
INVALID_FILE_ATTRIBUTES = 0xFFFFFFFF
INVALID_SET_FILE_POINTER = 0xFFFFFFFF
FILE_TYPE_UNKNOWN = 0
FILE_TYPE_DISK = 1
FILE_TYPE_CHAR = 2

STD_INPUT_HANDLE = 0xFFFFFFF6  # (DWORD)-10
STD_OUTPUT_HANDLE = 0xFFFFFFF5
STD_ERROR_HANDLE = 0xFFFFFFF4
#: console handles GetStdHandle returns (outside the handle table: never reported as leaks)
STD_HANDLES = {STD_INPUT_HANDLE: 0x50, STD_OUTPUT_HANDLE: 0x54, STD_ERROR_HANDLE: 0x58}
_STD_NAME = {0x50: "stdin", 0x54: "stdout", 0x58: "stderr"}

FILETIME_EPOCH = 116444736000000000
_POINTER_COOKIE = 0x2B992DDFA232 & 0xFFFFFFFF


def _dw(v: int) -> int:
    return v & 0xFFFFFFFF


def _invalid(ctx: Ctx) -> int:
    return (1 << ctx.bits) - 1


# --- the sandbox ---------------------------------------------------------------------------------
class SandboxDenied(Exception):
    """The path cannot be mapped into the sandbox (why in the message)."""


def _components(ctx: Ctx, path: str, redirect: bool = True) -> tuple[str, list[str]]:
    """(drive letter, components) of an absolute or relative Windows path, ``..`` resolved."""
    p = path.replace("/", "\\")
    if p.startswith("\\\\?\\") and len(p) > 6 and p[5] == ":":
        p = p[4:]
    elif p.startswith("\\\\"):
        raise SandboxDenied("UNC and device paths are outside the sandbox")
    if len(p) >= 2 and p[1] == ":" and p[0].isalpha():
        drive, rest = p[0].lower(), p[2:]
        if not rest.startswith("\\"):
            rest = "\\" + rest  # C:foo: relative to the drive's root in this model
    elif p.startswith("\\"):
        drive, rest = "c", p
    else:
        drive, rest = "c", "\\Windows\\System32\\" + p  # svchost's working directory
    parts: list[str] = []
    for comp in rest.split("\\"):
        comp = comp.rstrip(" .") if comp not in (".", "..") else comp
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise SandboxDenied("'..' climbs above the drive root")
            parts.pop()
            continue
        if ":" in comp or any(c in comp for c in '<>"|?*') or any(ord(c) < 32 for c in comp):
            raise SandboxDenied(f"invalid file name component {comp!r}")
        parts.append(comp)
    if (
        redirect
        and ctx.bits == 32
        and drive == "c"
        and len(parts) >= 2
        and parts[0].lower() == "windows"
        and parts[1].lower() == "system32"
    ):
        parts[1] = "SysWOW64"
    return drive, parts


#: the folders every Windows system has, created in a sandbox on first use
SKELETON = (
    "c/Windows/System32",
    "c/Windows/SysWOW64",
    "c/Windows/Temp",
    "c/ProgramData",
    "c/Program Files",
    "c/Program Files (x86)",
)


def _make_skeleton(root: str) -> None:
    if not os.path.isdir(root):
        raise SandboxDenied(f"the sandbox folder {root!r} does not exist")
    for sub in SKELETON:
        os.makedirs(os.path.join(root, *sub.split("/")), exist_ok=True)


def _host_path(ctx: Ctx, api_name: str, path: str) -> str:
    """Host path inside the sandbox for a Windows path; SandboxDenied (recorded) when refused."""
    opts = options(ctx)
    try:
        if opts.sandbox is None:
            raise SandboxDenied("no file sandbox is configured (PeOptions.sandbox)")
        drive, parts = _components(ctx, path)
        root = os.path.realpath(opts.sandbox)
        if ctx.proc.extra.get("sandbox_ready") != root:
            _make_skeleton(root)
            ctx.proc.extra["sandbox_ready"] = root
        cur = os.path.join(root, drive)
        for comp in parts:
            nxt = os.path.join(cur, comp)
            if not os.path.lexists(nxt) and os.path.isdir(cur):
                low = comp.lower()
                for entry in os.listdir(cur):
                    if entry.lower() == low:
                        nxt = os.path.join(cur, entry)
                        break
            cur = nxt
        real = os.path.realpath(cur)
        if real != root and not real.startswith(root + os.sep):
            raise SandboxDenied("the path resolves outside the sandbox")
        return cur
    except SandboxDenied as exc:
        opts.denied.append((api_name, path, str(exc)))
        ctx.log(f"[rasemu] {api_name}({path!r}) refused: {exc}")
        raise


@dataclass(slots=True)
class OpenFile:
    """A file handle's state (the host file is opened per operation, so nothing leaks on the host)."""

    host: str
    path: str
    read: bool
    write: bool
    pos: int = 0
    delete_on_close: bool = False


def _file(ctx: Ctx, h: int) -> OpenFile | None:
    e = ctx.proc.handles.get(h, "file")
    if e is None:
        return None
    assert isinstance(e.obj, OpenFile)
    return e.obj


def _file_for(ctx: Ctx, h: int, *, write: bool) -> OpenFile | None:
    """The file behind ``h`` if it was opened for writing (or reading); else None with the last
    error set (ERROR_INVALID_HANDLE, ERROR_ACCESS_DENIED)."""
    f = _file(ctx, h)
    if f is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return None
    if not (f.write if write else f.read):
        ctx.set_last_error(ERROR_ACCESS_DENIED)
        return None
    return f


def _errno_to_win(exc: OSError) -> int:
    import errno

    return {
        errno.ENOENT: ERROR_FILE_NOT_FOUND,
        errno.ENOTDIR: ERROR_PATH_NOT_FOUND,
        errno.EACCES: ERROR_ACCESS_DENIED,
        errno.EPERM: ERROR_ACCESS_DENIED,
        errno.EEXIST: ERROR_ALREADY_EXISTS,
        errno.EISDIR: ERROR_ACCESS_DENIED,
        errno.ENOTEMPTY: ERROR_DIR_NOT_EMPTY,
    }.get(exc.errno or 0, ERROR_ACCESS_DENIED)


def _create_file(ctx: Ctx, path: str, access: int, disposition: int, flags: int) -> int:
    fail = _invalid(ctx)
    if not path:
        ctx.set_last_error(ERROR_PATH_NOT_FOUND)
        return fail
    try:
        host = _host_path(ctx, ctx.api.split("!")[-1], path)
    except SandboxDenied:
        ctx.set_last_error(ERROR_ACCESS_DENIED)
        return fail
    access = _dw(access)
    read = bool(access & (GENERIC_READ | GENERIC_ALL | FILE_READ_DATA))
    write = bool(access & (GENERIC_WRITE | GENERIC_ALL | FILE_WRITE_DATA | FILE_APPEND_DATA))
    disposition = _dw(disposition)
    if not CREATE_NEW <= disposition <= TRUNCATE_EXISTING:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return fail
    parent = os.path.dirname(host)
    if not os.path.isdir(parent):
        ctx.set_last_error(ERROR_PATH_NOT_FOUND)
        return fail
    exists = os.path.lexists(host)
    if exists and os.path.isdir(host):
        if not _dw(flags) & FILE_FLAG_BACKUP_SEMANTICS:
            ctx.set_last_error(ERROR_ACCESS_DENIED)
            return fail
        h = ctx.proc.handles.new(
            "file", OpenFile(host, path, False, False), site=ctx.caller, api=ctx.api
        )
        ctx.set_last_error(0)
        return h
    last = 0
    try:
        if disposition == CREATE_NEW:
            if exists:
                ctx.set_last_error(ERROR_FILE_EXISTS)
                return fail
            open(host, "xb").close()
        elif disposition == CREATE_ALWAYS:
            open(host, "wb").close()
            last = ERROR_ALREADY_EXISTS if exists else 0
        elif disposition == OPEN_EXISTING:
            if not exists:
                ctx.set_last_error(ERROR_FILE_NOT_FOUND)
                return fail
        elif disposition == OPEN_ALWAYS:
            if exists:
                last = ERROR_ALREADY_EXISTS
            else:
                open(host, "xb").close()
        else:  # TRUNCATE_EXISTING
            if not exists:
                ctx.set_last_error(ERROR_FILE_NOT_FOUND)
                return fail
            if not write:
                ctx.set_last_error(ERROR_INVALID_PARAMETER)
                return fail
            with open(host, "r+b") as fh:
                fh.truncate(0)
        if write and exists and not os.access(host, os.W_OK):
            ctx.set_last_error(ERROR_ACCESS_DENIED)
            return fail
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return fail
    f = OpenFile(
        host, path, read, write, delete_on_close=bool(_dw(flags) & FILE_FLAG_DELETE_ON_CLOSE)
    )
    h = ctx.proc.handles.new("file", f, site=ctx.caller, api=ctx.api)
    ctx.set_last_error(last)
    return h


@soft_api(K32)
def CreateFileW(
    ctx: Ctx, name: int, access: int, share: int, sa: int, disp: int, flags: int, template: int
) -> int:
    return _create_file(ctx, ctx.wstr(name) if name else "", access, disp, flags)


@soft_api(K32)
def CreateFileA(
    ctx: Ctx, name: int, access: int, share: int, sa: int, disp: int, flags: int, template: int
) -> int:
    return _create_file(ctx, ctx.cstr(name) if name else "", access, disp, flags)


def _std_write(ctx: Ctx, h: int, raw: bytes) -> None:
    text = raw.decode("utf-8", "replace")
    ctx.log(f"[{_STD_NAME[h]}] {text}")


@soft_api(K32)
def WriteFile(ctx: Ctx, h: int, buf: int, size: int, written: int, overlapped: int) -> int:
    size = _dw(size)
    raw = ctx.mem.read(buf, size) if size else b""
    if h in _STD_NAME:
        _std_write(ctx, h, raw)
        if written:
            ctx.mem.w32(written, size)
        return 1
    f = _file_for(ctx, h, write=True)
    if f is None:
        return 0
    try:
        with open(f.host, "r+b") as fh:
            fh.seek(f.pos)
            fh.write(raw)
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return 0
    f.pos += size
    if written:
        ctx.mem.w32(written, size)
    return 1


@soft_api(K32)
def ReadFile(ctx: Ctx, h: int, buf: int, size: int, read: int, overlapped: int) -> int:
    size = _dw(size)
    if h in _STD_NAME:
        if read:
            ctx.mem.w32(read, 0)
        return 1
    f = _file_for(ctx, h, write=False)
    if f is None:
        return 0
    try:
        with open(f.host, "rb") as fh:
            fh.seek(f.pos)
            raw = fh.read(size)
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return 0
    if raw:
        ctx.mem.write(buf, raw)
    f.pos += len(raw)
    if read:
        ctx.mem.w32(read, len(raw))
    return 1


def _size_of(f: OpenFile) -> int:
    try:
        return os.path.getsize(f.host)
    except OSError:
        return 0


@soft_api(K32)
def GetFileSize(ctx: Ctx, h: int, high: int) -> int:
    f = _file(ctx, h)
    if f is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0xFFFFFFFF
    n = _size_of(f)
    if high:
        ctx.mem.w32(high, n >> 32)
    ctx.set_last_error(0)
    return n & 0xFFFFFFFF


@soft_api(K32)
def GetFileSizeEx(ctx: Ctx, h: int, out: int) -> int:
    f = _file(ctx, h)
    if f is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    ctx.mem.w64(out, _size_of(f))
    return 1


def _seek(ctx: Ctx, f: OpenFile, dist: int, method: int) -> int | None:
    method = _dw(method)
    if method == 0:
        new = dist
    elif method == 1:
        new = f.pos + dist
    elif method == 2:
        new = _size_of(f) + dist
    else:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return None
    if new < 0:
        ctx.set_last_error(ERROR_NEGATIVE_SEEK)
        return None
    f.pos = new
    return new


@soft_api(K32)
def SetFilePointer(ctx: Ctx, h: int, low: int, high: int, method: int) -> int:
    f = _file(ctx, h)
    if f is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return INVALID_SET_FILE_POINTER
    dist = Ctx.s32(ctx.mem.u32(high)) << 32 | _dw(low) if high else Ctx.s32(low)
    new = _seek(ctx, f, dist, method)
    if new is None:
        return INVALID_SET_FILE_POINTER
    if high:
        ctx.mem.w32(high, (new >> 32) & 0xFFFFFFFF)
    ctx.set_last_error(0)
    return new & 0xFFFFFFFF


@soft_api(K32, argc=5)
def SetFilePointerEx(ctx: Ctx, h: int, a1: int, a2: int, a3: int, a4: int) -> int:
    # x86: LARGE_INTEGER by value takes two stack slots (5 slots in all); x64: one register
    if ctx.bits == 32:
        dist, newpos, method = (a2 << 32 | a1), a3, a4
        if dist >= 1 << 63:
            dist -= 1 << 64
    else:
        dist, newpos, method = a1 - (1 << 64) if a1 >= 1 << 63 else a1, a2, a3
    f = _file(ctx, h)
    if f is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    new = _seek(ctx, f, dist, method)
    if new is None:
        return 0
    if newpos:
        ctx.mem.w64(newpos, new)
    return 1


@soft_api(K32)
def SetEndOfFile(ctx: Ctx, h: int) -> int:
    f = _file_for(ctx, h, write=True)
    if f is None:
        return 0
    with open(f.host, "r+b") as fh:
        fh.truncate(f.pos)
    return 1


@soft_api(K32)
def FlushFileBuffers(ctx: Ctx, h: int) -> int:
    if h in _STD_NAME or _file(ctx, h) is not None:
        return 1
    ctx.set_last_error(ERROR_INVALID_HANDLE)
    return 0


@soft_api(K32)
def GetFileType(ctx: Ctx, h: int) -> int:
    if h in _STD_NAME:
        return FILE_TYPE_CHAR
    if _file(ctx, h) is not None:
        ctx.set_last_error(0)
        return FILE_TYPE_DISK
    ctx.set_last_error(ERROR_INVALID_HANDLE)
    return FILE_TYPE_UNKNOWN


@soft_api(K32)
def GetStdHandle(ctx: Ctx, which: int) -> int:
    h = STD_HANDLES.get(_dw(which))
    if h is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return _invalid(ctx)
    return h


def _path_op(ctx: Ctx, name: int, wide: bool) -> str | None:
    path = (ctx.wstr(name) if wide else ctx.cstr(name)) if name else ""
    try:
        return _host_path(ctx, ctx.api.split("!")[-1], path)
    except SandboxDenied:
        ctx.set_last_error(ERROR_ACCESS_DENIED)
        return None


def _delete_file(ctx: Ctx, name: int, wide: bool) -> int:
    host = _path_op(ctx, name, wide)
    if host is None:
        return 0
    if not os.path.lexists(host):
        ctx.set_last_error(
            ERROR_FILE_NOT_FOUND if os.path.isdir(os.path.dirname(host)) else ERROR_PATH_NOT_FOUND
        )
        return 0
    if os.path.isdir(host):
        ctx.set_last_error(ERROR_ACCESS_DENIED)
        return 0
    try:
        os.remove(host)
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return 0
    return 1


@soft_api(K32)
def DeleteFileW(ctx: Ctx, name: int) -> int:
    return _delete_file(ctx, name, True)


@soft_api(K32)
def DeleteFileA(ctx: Ctx, name: int) -> int:
    return _delete_file(ctx, name, False)


def _create_dir(ctx: Ctx, name: int, wide: bool) -> int:
    host = _path_op(ctx, name, wide)
    if host is None:
        return 0
    if os.path.lexists(host):
        ctx.set_last_error(ERROR_ALREADY_EXISTS)
        return 0
    if not os.path.isdir(os.path.dirname(host)):
        ctx.set_last_error(ERROR_PATH_NOT_FOUND)
        return 0
    try:
        os.mkdir(host)
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return 0
    return 1


@soft_api(K32)
def CreateDirectoryW(ctx: Ctx, name: int, sa: int) -> int:
    return _create_dir(ctx, name, True)


@soft_api(K32)
def CreateDirectoryA(ctx: Ctx, name: int, sa: int) -> int:
    return _create_dir(ctx, name, False)


@soft_api(K32)
def RemoveDirectoryW(ctx: Ctx, name: int) -> int:
    host = _path_op(ctx, name, True)
    if host is None:
        return 0
    try:
        os.rmdir(host)
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return 0
    return 1


def _attributes(host: str) -> int | None:
    try:
        st = os.stat(host)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return FILE_ATTRIBUTE_DIRECTORY
    attrs = FILE_ATTRIBUTE_ARCHIVE
    if not os.access(host, os.W_OK):
        attrs |= FILE_ATTRIBUTE_READONLY
    return attrs


def _get_attributes(ctx: Ctx, name: int, wide: bool) -> int:
    host = _path_op(ctx, name, wide)
    if host is None:
        return INVALID_FILE_ATTRIBUTES
    a = _attributes(host)
    if a is None:
        ctx.set_last_error(
            ERROR_FILE_NOT_FOUND if os.path.isdir(os.path.dirname(host)) else ERROR_PATH_NOT_FOUND
        )
        return INVALID_FILE_ATTRIBUTES
    return a


@soft_api(K32)
def GetFileAttributesW(ctx: Ctx, name: int) -> int:
    return _get_attributes(ctx, name, True)


@soft_api(K32)
def GetFileAttributesA(ctx: Ctx, name: int) -> int:
    return _get_attributes(ctx, name, False)


# FindFirstFileW / FindNextFileW / FindClose ---------------------------------------------------------
FIND_DATA_SIZE_W = 592
FIND_DATA_SIZE_A = 320


@dataclass(slots=True)
class _Find:
    entries: list[tuple[str, str]]  # (name, host path)
    wide: bool


def _write_find(ctx: Ctx, out: int, name: str, host: str, wide: bool) -> None:
    try:
        st = os.stat(host)
        size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
        ft = int(st.st_mtime * 10_000_000) + FILETIME_EPOCH
        attrs = _attributes(host) or FILE_ATTRIBUTE_NORMAL
    except OSError:
        size, ft, attrs = 0, FILETIME_EPOCH, FILE_ATTRIBUTE_DIRECTORY
    ctx.mem.fill(out, FIND_DATA_SIZE_W if wide else FIND_DATA_SIZE_A)
    ctx.mem.w32(out, attrs)
    for off in (4, 12, 20):
        ctx.mem.w64(out + off, ft)
    ctx.mem.w32(out + 28, size >> 32)
    ctx.mem.w32(out + 32, size & 0xFFFFFFFF)
    if wide:
        ctx.write_wstr(out + 44, name[:259])
    else:
        ctx.write_cstr(out + 44, name[:259])


def _find_first(ctx: Ctx, pattern: int, out: int, wide: bool) -> int:
    text = (ctx.wstr(pattern) if wide else ctx.cstr(pattern)) if pattern else ""
    fail = _invalid(ctx)
    norm = text.replace("/", "\\")
    folder, _, mask = norm.rpartition("\\")
    if not mask:
        ctx.set_last_error(ERROR_FILE_NOT_FOUND)
        return fail
    try:
        host_dir = _host_path(ctx, ctx.api.split("!")[-1], (folder or ".") + "\\")
    except SandboxDenied:
        ctx.set_last_error(ERROR_ACCESS_DENIED)
        return fail
    if not os.path.isdir(host_dir):
        ctx.set_last_error(ERROR_PATH_NOT_FOUND)
        return fail
    names = sorted(os.listdir(host_dir), key=str.lower)
    drive_root = os.path.dirname(host_dir.rstrip(os.sep)) == os.path.realpath(
        options(ctx).sandbox or ""
    )
    if not drive_root:
        names = [".", "..", *names]
    m = mask.lower()
    if m in ("*.*", "*"):
        m = "*"
    hits = [(n, os.path.join(host_dir, n)) for n in names if fnmatch.fnmatchcase(n.lower(), m)]
    if not hits:
        ctx.set_last_error(ERROR_FILE_NOT_FOUND)
        return fail
    name, host = hits[0]
    _write_find(ctx, out, name, host, wide)
    return ctx.proc.handles.new("find", _Find(hits[1:], wide), site=ctx.caller, api=ctx.api)


@soft_api(K32)
def FindFirstFileW(ctx: Ctx, pattern: int, out: int) -> int:
    return _find_first(ctx, pattern, out, True)


@soft_api(K32)
def FindFirstFileA(ctx: Ctx, pattern: int, out: int) -> int:
    return _find_first(ctx, pattern, out, False)


@soft_api(K32)
def FindNextFileW(ctx: Ctx, h: int, out: int) -> int:
    e = ctx.proc.handles.get(h, "find")
    if e is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    f = e.obj
    assert isinstance(f, _Find)
    if not f.entries:
        ctx.set_last_error(ERROR_NO_MORE_FILES)
        return 0
    name, host = f.entries.pop(0)
    _write_find(ctx, out, name, host, f.wide)
    return 1


@soft_api(K32)
def FindNextFileA(ctx: Ctx, h: int, out: int) -> int:
    return FindNextFileW(ctx, h, out)


@soft_api(K32)
def FindClose(ctx: Ctx, h: int) -> int:
    if ctx.proc.handles.get(h, "find") is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    ctx.proc.handles.close(h)
    return 1


# --- directories / environment / names -------------------------------------------------------------
def _put_path(ctx: Ctx, buf: int, size: int, text: str, wide: bool) -> int:
    """GetWindowsDirectory-style result: length without NUL, or the size needed (with NUL)."""
    size = _dw(size)
    n = len(text) if wide else len(text.encode(ACP, "replace"))
    if size <= n or not buf:
        return n + 1
    if wide:
        ctx.write_wstr(buf, text)
    else:
        ctx.write_cstr(buf, text)
    return n


@soft_api(K32)
def GetWindowsDirectoryW(ctx: Ctx, buf: int, size: int) -> int:
    return _put_path(ctx, buf, size, SYSTEM_ROOT, True)


@soft_api(K32)
def GetWindowsDirectoryA(ctx: Ctx, buf: int, size: int) -> int:
    return _put_path(ctx, buf, size, SYSTEM_ROOT, False)


@soft_api(K32)
def GetSystemWindowsDirectoryW(ctx: Ctx, buf: int, size: int) -> int:
    return _put_path(ctx, buf, size, SYSTEM_ROOT, True)


@soft_api(K32)
def GetSystemDirectoryW(ctx: Ctx, buf: int, size: int) -> int:
    # WOW64 processes get System32 too; the file system redirector sends it to SysWOW64
    return _put_path(ctx, buf, size, SYSTEM_ROOT + "\\system32", True)


@soft_api(K32)
def GetSystemDirectoryA(ctx: Ctx, buf: int, size: int) -> int:
    return _put_path(ctx, buf, size, SYSTEM_ROOT + "\\system32", False)


@soft_api(K32)
def GetSystemWow64DirectoryW(ctx: Ctx, buf: int, size: int) -> int:
    return _put_path(ctx, buf, size, SYSTEM_ROOT + "\\SysWOW64", True)


@soft_api(K32)
def GetTempPathW(ctx: Ctx, size: int, buf: int) -> int:
    return _put_path(ctx, buf, size, environment(ctx)["TEMP"] + "\\", True)


@soft_api(K32)
def ExpandEnvironmentStringsW(ctx: Ctx, src: int, dst: int, size: int) -> int:
    text = expand(ctx, ctx.wstr(src))
    need = len(text.encode("utf-16-le", "surrogatepass")) // 2 + 1
    if dst and _dw(size) >= need:
        ctx.write_wstr(dst, text)
    return need


@soft_api(K32)
def ExpandEnvironmentStringsA(ctx: Ctx, src: int, dst: int, size: int) -> int:
    text = expand(ctx, ctx.cstr(src)).encode(ACP, "replace")
    need = len(text) + 1
    if dst and _dw(size) >= need:
        ctx.write_cstr(dst, text)
    return need


def _env_block(ctx: Ctx) -> str:
    env = environment(ctx)
    items = sorted((ENV_NAMES.get(k, k), v) for k, v in env.items())
    return "".join(f"{k}={v}\0" for k, v in sorted(items, key=lambda kv: kv[0].upper())) + "\0"


@soft_api(K32)
def GetEnvironmentStringsW(ctx: Ctx) -> int:
    raw = _env_block(ctx).encode("utf-16-le")
    p = ctx.alloc(len(raw))
    if p:
        ctx.mem.write(p, raw)
    return p


@soft_api(K32)
def GetEnvironmentStrings(ctx: Ctx) -> int:
    raw = _env_block(ctx).encode(ACP, "replace")
    p = ctx.alloc(len(raw))
    if p:
        ctx.mem.write(p, raw)
    return p


@soft_api(K32)
def FreeEnvironmentStringsW(ctx: Ctx, block: int) -> int:
    return int(ctx.heap.free(block))


@soft_api(K32)
def FreeEnvironmentStringsA(ctx: Ctx, block: int) -> int:
    return int(ctx.heap.free(block))


@soft_api(K32)
def SetEnvironmentVariableW(ctx: Ctx, name: int, value: int) -> int:
    env = options(ctx).environment
    key = ctx.wstr(name)
    if value:
        env[key] = ctx.wstr(value)
    else:
        env.pop(key, None)
    return 1


def _computer_name(ctx: Ctx, buf: int, psize: int, wide: bool, err_small: int) -> int:
    name = options(ctx).computer_name
    if not psize:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    cap = ctx.mem.u32(psize)
    if cap < len(name) + 1 or not buf:
        ctx.mem.w32(psize, len(name) + 1)
        ctx.set_last_error(err_small)
        return 0
    if wide:
        ctx.write_wstr(buf, name)
    else:
        ctx.write_cstr(buf, name)
    ctx.mem.w32(psize, len(name))
    return 1


@soft_api(K32)
def GetComputerNameW(ctx: Ctx, buf: int, psize: int) -> int:
    return _computer_name(ctx, buf, psize, True, ERROR_BUFFER_OVERFLOW)


@soft_api(K32)
def GetComputerNameA(ctx: Ctx, buf: int, psize: int) -> int:
    return _computer_name(ctx, buf, psize, False, ERROR_BUFFER_OVERFLOW)


@soft_api(K32)
def GetComputerNameExW(ctx: Ctx, fmt: int, buf: int, psize: int) -> int:
    return _computer_name(ctx, buf, psize, True, ERROR_MORE_DATA)


# --- CRT startup helpers ------------------------------------------------------------------------
@soft_api(K32)
def GetStartupInfoW(ctx: Ctx, info: int) -> int:
    size = 104 if ctx.bits == 64 else 68
    ctx.mem.fill(info, size)
    ctx.mem.w32(info, size)
    return 0


@soft_api(K32)
def GetStartupInfoA(ctx: Ctx, info: int) -> int:
    return GetStartupInfoW(ctx, info)


@soft_api(K32)
def EncodePointer(ctx: Ctx, p: int) -> int:
    return p ^ _POINTER_COOKIE


@soft_api(K32)
def DecodePointer(ctx: Ctx, p: int) -> int:
    return p ^ _POINTER_COOKIE


@soft_api(K32)
def GetCommandLineW(ctx: Ctx) -> int:
    cell: int = ctx.proc.extra.get("cmdline_w", 0)
    if not cell:
        text = "C:\\Windows\\system32\\svchost.exe -k netsvcs"
        cell = ctx.heap.alloc(2 * len(text) + 2, heap=0, site=0, api="GetCommandLineW")
        ctx.write_wstr(cell, text)
        ctx.proc.extra["cmdline_w"] = cell
    return cell


@soft_api(K32)
def GetCommandLineA(ctx: Ctx) -> int:
    cell: int = ctx.proc.extra.get("cmdline_a", 0)
    if not cell:
        text = "C:\\Windows\\system32\\svchost.exe -k netsvcs"
        cell = ctx.heap.alloc(len(text) + 1, heap=0, site=0, api="GetCommandLineA")
        ctx.write_cstr(cell, text)
        ctx.proc.extra["cmdline_a"] = cell
    return cell


(
    C1_UPPER,
    C1_LOWER,
    C1_DIGIT,
    C1_SPACE,
    C1_PUNCT,
    C1_CNTRL,
    C1_BLANK,
    C1_XDIGIT,
    C1_ALPHA,
    C1_DEFINED,
) = (
    0x1,
    0x2,
    0x4,
    0x8,
    0x10,
    0x20,
    0x40,
    0x80,
    0x100,
    0x200,
)


def _ctype1(ch: str) -> int:
    f = C1_DEFINED
    if ch.isupper():
        f |= C1_UPPER
    if ch.islower():
        f |= C1_LOWER
    if ch.isdigit() and ch.isascii():
        f |= C1_DIGIT
    if ch.isspace():
        f |= C1_SPACE
    if ch in " \t":
        f |= C1_BLANK
    if ch in "0123456789abcdefABCDEF":
        f |= C1_XDIGIT
    if ch.isalpha():
        f |= C1_ALPHA
    o = ord(ch)
    if o < 32 or o == 127:
        f |= C1_CNTRL
    elif not ch.isalnum() and not ch.isspace() and ch.isprintable():
        f |= C1_PUNCT
    return f


@soft_api(K32)
def GetStringTypeW(ctx: Ctx, info_type: int, src: int, count: int, out: int) -> int:
    n = Ctx.s32(count)
    text = (
        ctx.wstr(src) + "\0"
        if n == -1
        else ctx.mem.read(src, 2 * n).decode("utf-16-le", "surrogatepass")
    )
    kind = _dw(info_type)
    vals = [_ctype1(c) if kind == 1 else 0 for c in text]
    ctx.mem.write(out, b"".join(v.to_bytes(2, "little") for v in vals))
    return 1


@soft_api(K32)
def GetStringTypeExW(ctx: Ctx, locale: int, info_type: int, src: int, count: int, out: int) -> int:
    return GetStringTypeW(ctx, info_type, src, count, out)


LCMAP_LOWERCASE = 0x100
LCMAP_UPPERCASE = 0x200


def _lcmap(ctx: Ctx, flags: int, src: int, srclen: int, dst: int, dstlen: int) -> int:
    n = Ctx.s32(srclen)
    text = (
        ctx.wstr(src) + "\0"
        if n == -1
        else ctx.mem.read(src, 2 * n).decode("utf-16-le", "surrogatepass")
    )
    flags = _dw(flags)
    if flags & LCMAP_LOWERCASE:
        text = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    elif flags & LCMAP_UPPERCASE:
        text = "".join(c.upper() if len(c.upper()) == 1 else c for c in text)
    return store_counted(ctx, dst, dstlen, text.encode("utf-16-le", "surrogatepass"), 2)


@soft_api(K32)
def LCMapStringEx(
    ctx: Ctx,
    locale: int,
    flags: int,
    src: int,
    srclen: int,
    dst: int,
    dstlen: int,
    ver: int,
    res: int,
    param: int,
) -> int:
    return _lcmap(ctx, flags, src, srclen, dst, dstlen)


@soft_api(K32)
def LCMapStringW(
    ctx: Ctx, lcid: int, flags: int, src: int, srclen: int, dst: int, dstlen: int
) -> int:
    return _lcmap(ctx, flags, src, srclen, dst, dstlen)


@soft_api(K32)
def GetCPInfo(ctx: Ctx, cp: int, info: int) -> int:
    cp = _dw(cp)
    if cp == 65001:
        max_size = 4
    elif cp in (0, 1, 3, 437, 850, 1252, 20127):
        max_size = 1
    else:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    ctx.mem.fill(info, 20)
    ctx.mem.w32(info, max_size)
    ctx.mem.write(info + 4, b"?\0")
    return 1


@soft_api(K32)
def GetUserDefaultLCID(ctx: Ctx) -> int:
    return 0x409


@soft_api(K32)
def GetSystemDefaultLCID(ctx: Ctx) -> int:
    return 0x409


@soft_api(K32)
def GetUserDefaultLocaleName(ctx: Ctx, buf: int, size: int) -> int:
    if Ctx.s32(size) < 6:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    ctx.write_wstr(buf, "en-US")
    return 6


@soft_api(K32)
def IsValidLocale(ctx: Ctx, lcid: int, flags: int) -> int:
    return int(_dw(lcid) in (0x409, 0x400, 0x800))


@soft_api(K32)
def GetConsoleMode(ctx: Ctx, h: int, mode: int) -> int:
    ctx.set_last_error(ERROR_INVALID_HANDLE)  # a service has no console
    return 0


@soft_api(K32)
def GetConsoleOutputCP(ctx: Ctx) -> int:
    return 437


@soft_api(K32)
def WriteConsoleW(ctx: Ctx, h: int, buf: int, n: int, written: int, res: int) -> int:
    ctx.set_last_error(ERROR_INVALID_HANDLE)
    return 0


@soft_api(K32)
def SetConsoleCtrlHandler(ctx: Ctx, handler: int, add: int) -> int:
    return 1


@soft_api(K32)
def SetStdHandle(ctx: Ctx, which: int, h: int) -> int:
    return 1


@soft_api(K32)
def GetFullPathNameW(ctx: Ctx, name: int, size: int, buf: int, filepart: int) -> int:
    text = ctx.wstr(name)
    try:
        drive, parts = _components(ctx, text, redirect=False)
    except SandboxDenied:
        ctx.set_last_error(ERROR_INVALID_NAME)
        return 0
    full = drive.upper() + ":\\" + "\\".join(parts)
    n = _put_path(ctx, buf, size, full, True)
    if n == len(full) and filepart and buf:
        ctx.write_ptr(filepart, buf + 2 * (full.rfind("\\") + 1))
    return n


# --- string comparison --------------------------------------------------------------------------
CSTR_LESS_THAN = 1
CSTR_EQUAL = 2
CSTR_GREATER_THAN = 3
NORM_IGNORECASE = 0x1
LINGUISTIC_IGNORECASE = 0x10


def _counted(ctx: Ctx, s: int, n: int) -> str:
    count = Ctx.s32(n)
    if count < 0:
        return ctx.wstr(s)
    return ctx.mem.read(s, 2 * count).decode("utf-16-le", "surrogatepass") if count else ""


def _upper(text: str) -> str:
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def _cstr_result(a: str, b: str) -> int:
    return CSTR_LESS_THAN if a < b else CSTR_GREATER_THAN if a > b else CSTR_EQUAL


@soft_api(K32)
def CompareStringOrdinal(ctx: Ctx, s1: int, n1: int, s2: int, n2: int, ignore_case: int) -> int:
    if not s1 or not s2:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    a, b = _counted(ctx, s1, n1), _counted(ctx, s2, n2)
    if _dw(ignore_case):
        a, b = _upper(a), _upper(b)
    # ordinal: compare UTF-16 code units
    ka, kb = a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass")
    return CSTR_LESS_THAN if ka < kb else CSTR_GREATER_THAN if ka > kb else CSTR_EQUAL


def _compare_linguistic(ctx: Ctx, flags: int, s1: int, n1: int, s2: int, n2: int) -> int:
    if not s1 or not s2:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    a, b = _counted(ctx, s1, n1), _counted(ctx, s2, n2)
    if Ctx.s32(n1) < 0:
        a = a.split("\0", 1)[0]
    if Ctx.s32(n2) < 0:
        b = b.split("\0", 1)[0]
    if _dw(flags) & (NORM_IGNORECASE | LINGUISTIC_IGNORECASE):
        a, b = a.lower(), b.lower()
    return _cstr_result(a, b)


@soft_api(K32)
def CompareStringW(ctx: Ctx, lcid: int, flags: int, s1: int, n1: int, s2: int, n2: int) -> int:
    return _compare_linguistic(ctx, flags, s1, n1, s2, n2)


@soft_api(K32)
def CompareStringEx(
    ctx: Ctx,
    locale: int,
    flags: int,
    s1: int,
    n1: int,
    s2: int,
    n2: int,
    ver: int,
    res: int,
    param: int,
) -> int:
    return _compare_linguistic(ctx, flags, s1, n1, s2, n2)


# --- synchronisation objects (one emulated thread: a wait nobody can satisfy is a deadlock) -------
WAIT_OBJECT_0 = 0
WAIT_ABANDONED = 0x80
WAIT_TIMEOUT = 0x102
WAIT_FAILED = 0xFFFFFFFF
INFINITE = 0xFFFFFFFF


@dataclass(slots=True)
class SyncObject:
    """An event, mutex, semaphore or (never started) thread."""

    kind: str
    name: str = ""
    signaled: bool = False
    manual: bool = False
    owner: int = 0
    count: int = 0
    maximum: int = 0


def _named(ctx: Ctx) -> dict[str, SyncObject]:
    named: dict[str, SyncObject] = ctx.proc.extra.setdefault("named_objects", {})
    return named


def _new_sync(ctx: Ctx, kind: str, name: int, make: SyncObject) -> int:
    label = ctx.wstr(name) if name else ""
    if label:
        obj = _named(ctx).get(label.upper())
        if obj is not None:
            if obj.kind != kind:
                ctx.set_last_error(ERROR_INVALID_HANDLE)
                return 0
            ctx.set_last_error(ERROR_ALREADY_EXISTS)
            return ctx.proc.handles.new(kind, obj, site=ctx.caller, api=ctx.api)
        make.name = label
        _named(ctx)[label.upper()] = make
    ctx.set_last_error(0)
    return ctx.proc.handles.new(kind, make, site=ctx.caller, api=ctx.api)


def _sync(ctx: Ctx, h: int, kind: str | None = None) -> SyncObject | None:
    e = ctx.proc.handles.get(h)
    if e is None or not isinstance(e.obj, SyncObject) or (kind is not None and e.obj.kind != kind):
        return None
    return e.obj


@soft_api(K32)
def CreateEventW(ctx: Ctx, sa: int, manual: int, initial: int, name: int) -> int:
    return _new_sync(ctx, "event", name, SyncObject("event", signaled=bool(_dw(initial)), manual=bool(_dw(manual))))


@soft_api(K32)
def CreateEventExW(ctx: Ctx, sa: int, name: int, flags: int, access: int) -> int:
    f = _dw(flags)
    return _new_sync(ctx, "event", name, SyncObject("event", signaled=bool(f & 2), manual=bool(f & 1)))


@soft_api(K32)
def CreateEventA(ctx: Ctx, sa: int, manual: int, initial: int, name: int) -> int:
    if name:
        text = ctx.cstr(name)
        tmp = ctx.alloc(2 * len(text) + 2)
        ctx.write_wstr(tmp, text)
        try:
            return CreateEventW(ctx, sa, manual, initial, tmp)
        finally:
            ctx.heap.free(tmp)
    return CreateEventW(ctx, sa, manual, initial, 0)


@soft_api(K32)
def SetEvent(ctx: Ctx, h: int) -> int:
    obj = _sync(ctx, h, "event")
    if obj is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    obj.signaled = True
    return 1


@soft_api(K32)
def ResetEvent(ctx: Ctx, h: int) -> int:
    obj = _sync(ctx, h, "event")
    if obj is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    obj.signaled = False
    return 1


@soft_api(K32)
def CreateMutexW(ctx: Ctx, sa: int, initial_owner: int, name: int) -> int:
    from emulator.loaders.pe.process import THREAD_ID

    owned = bool(_dw(initial_owner))
    h = _new_sync(ctx, "mutex", name, SyncObject("mutex", owner=THREAD_ID if owned else 0, count=int(owned)))
    return h


@soft_api(K32)
def ReleaseMutex(ctx: Ctx, h: int) -> int:
    from emulator.loaders.pe.process import THREAD_ID

    obj = _sync(ctx, h, "mutex")
    if obj is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    if obj.owner != THREAD_ID or obj.count == 0:
        ctx.set_last_error(ERROR_NOT_OWNER)
        return 0
    obj.count -= 1
    if obj.count == 0:
        obj.owner = 0
    return 1


@soft_api(K32)
def CreateSemaphoreW(ctx: Ctx, sa: int, initial: int, maximum: int, name: int) -> int:
    ini, mx = Ctx.s32(initial), Ctx.s32(maximum)
    if mx <= 0 or ini < 0 or ini > mx:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    return _new_sync(ctx, "semaphore", name, SyncObject("semaphore", count=ini, maximum=mx))


@soft_api(K32)
def ReleaseSemaphore(ctx: Ctx, h: int, n: int, prev: int) -> int:
    obj = _sync(ctx, h, "semaphore")
    if obj is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    add = Ctx.s32(n)
    if add <= 0 or obj.count + add > obj.maximum:
        ctx.set_last_error(ERROR_TOO_MANY_POSTS if add > 0 else ERROR_INVALID_PARAMETER)
        return 0
    if prev:
        ctx.mem.w32(prev, obj.count)
    obj.count += add
    return 1


@soft_api(K32)
def CreateThread(ctx: Ctx, sa: int, stack: int, start: int, param: int, flags: int, tid: int) -> int:
    # one emulated thread: a second one is recorded, never run (its handle never becomes signaled)
    ctx.proc.extra.setdefault("threads_not_run", []).append((start, param))
    ctx.log(f"[rasemu] CreateThread(start=0x{start:x}, param=0x{param:x}): the thread is not run "
            "(the emulator runs the DLL on one thread)")
    if tid:
        ctx.mem.w32(tid, 0x700 + 4 * len(ctx.proc.extra["threads_not_run"]))
    return ctx.proc.handles.new("thread", SyncObject("thread"), site=ctx.caller, api=ctx.api)


def _ready(obj: SyncObject) -> bool:
    from emulator.loaders.pe.process import THREAD_ID

    if obj.kind == "event":
        return obj.signaled
    if obj.kind == "mutex":
        return obj.owner in (0, THREAD_ID)
    if obj.kind == "semaphore":
        return obj.count > 0
    return False


def _acquire(obj: SyncObject) -> None:
    from emulator.loaders.pe.process import THREAD_ID

    if obj.kind == "event" and not obj.manual:
        obj.signaled = False
    elif obj.kind == "mutex":
        obj.owner = THREAD_ID
        obj.count += 1
    elif obj.kind == "semaphore":
        obj.count -= 1


def _wait(ctx: Ctx, handles: list[int], wait_all: bool, ms: int) -> int:
    objs: list[SyncObject] = []
    for h in handles:
        obj = _sync(ctx, h)
        if obj is None:
            ctx.set_last_error(ERROR_INVALID_HANDLE)
            return WAIT_FAILED
        objs.append(obj)
    if wait_all and all(_ready(o) for o in objs):
        for o in objs:
            _acquire(o)
        return WAIT_OBJECT_0
    if not wait_all:
        for i, o in enumerate(objs):
            if _ready(o):
                _acquire(o)
                return WAIT_OBJECT_0 + i
    ms = _dw(ms)
    if ms == INFINITE:
        what = ", ".join(f"{o.kind}{' ' + repr(o.name) if o.name else ''}" for o in objs)
        raise ApiFault("timeout", f"{ctx.api.split('!')[-1]} would wait forever: nothing can signal the {what} "
                       "(the emulator runs the DLL on one thread)")
    ctx.proc.slept_ms += ms
    return WAIT_TIMEOUT


@soft_api(K32)
def WaitForSingleObject(ctx: Ctx, h: int, ms: int) -> int:
    return _wait(ctx, [h], False, ms)


@soft_api(K32)
def WaitForSingleObjectEx(ctx: Ctx, h: int, ms: int, alertable: int) -> int:
    return _wait(ctx, [h], False, ms)


@soft_api(K32)
def WaitForMultipleObjects(ctx: Ctx, n: int, handles: int, wait_all: int, ms: int) -> int:
    count = _dw(n)
    if not 0 < count <= 64:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return WAIT_FAILED
    hs = [ctx.ptr(handles + i * ctx.ptr_size) for i in range(count)]
    return _wait(ctx, hs, bool(_dw(wait_all)), ms)


# --- INI files (GetPrivateProfileString & co.) in the sandbox -----------------------------------------
def _ini_path(ctx: Ctx, file: str) -> str:
    if "\\" not in file and "/" not in file:
        file = SYSTEM_ROOT + "\\" + file
    return file


def _read_ini(host: str) -> tuple[list[tuple[str, list[tuple[str, str]]]], str]:
    try:
        with open(host, "rb") as fh:
            raw = fh.read()
    except OSError:
        return [], "ansi"
    if raw.startswith(b"\xff\xfe"):
        text, enc = raw[2:].decode("utf-16-le", "replace"), "utf16"
    else:
        text, enc = raw.decode(ACP, "replace"), "ansi"
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith(";"):
            continue
        if s.startswith("[") and "]" in s:
            sections.append((s[1 : s.index("]")].strip(), []))
        elif sections:
            key, eq, value = s.partition("=")
            if eq:
                v = value.strip()
                if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                    v = v[1:-1]
                sections[-1][1].append((key.strip(), v))
            else:
                sections[-1][1].append((s, ""))
    return sections, enc


def _write_ini(host: str, sections: list[tuple[str, list[tuple[str, str]]]], enc: str) -> None:
    text = "".join(f"[{name}]\r\n" + "".join(f"{k}={v}\r\n" for k, v in items) for name, items in sections)
    data = b"\xff\xfe" + text.encode("utf-16-le") if enc == "utf16" else text.encode(ACP, "replace")
    with open(host, "wb") as fh:
        fh.write(data)


def _profile_string(ctx: Ctx, app: int, key: int, default: int, buf: int, size: int, file: int) -> int:
    size = _dw(size)
    path = _ini_path(ctx, ctx.wstr(file) if file else "win.ini")
    try:
        host = _host_path(ctx, ctx.api.split("!")[-1], path)
        sections, _ = _read_ini(host)
    except SandboxDenied:
        sections = []
    if not buf or size == 0:
        return 0
    if not app or not key:
        if not app:
            names = [n for n, _ in sections]
        else:
            a = ctx.wstr(app).upper()
            names = [k for n, items in sections if n.upper() == a for k, _ in items]
        block = "".join(n + "\0" for n in names)
        if len(block) + 1 > size:
            block = block[: max(size - 2, 0)] + "\0"
            ctx.write_wstr(buf, block)
            return max(size - 2, 0)
        ctx.write_wstr(buf, block)
        return len(block) - 1 if block else 0
    a, k = ctx.wstr(app).upper(), ctx.wstr(key).upper()
    value = None
    for n, items in sections:
        if n.upper() == a:
            for kk, v in items:
                if kk.upper() == k:
                    value = v
                    break
            if value is not None:
                break
    if value is None:
        value = (ctx.wstr(default) if default else "").rstrip(" ")
        ctx.set_last_error(ERROR_FILE_NOT_FOUND)
    if len(value) + 1 > size:
        ctx.write_wstr(buf, value[: size - 1])
        return size - 1
    ctx.write_wstr(buf, value)
    return len(value)


@soft_api(K32)
def GetPrivateProfileStringW(ctx: Ctx, app: int, key: int, default: int, buf: int, size: int, file: int) -> int:
    return _profile_string(ctx, app, key, default, buf, size, file)


@soft_api(K32)
def GetPrivateProfileIntW(ctx: Ctx, app: int, key: int, default: int, file: int) -> int:
    tmp = ctx.alloc(512)
    try:
        n = _profile_string(ctx, app, key, 0, tmp, 256, file)
        text = ctx.wstr(tmp)[:n].strip() if n else ""
    finally:
        ctx.heap.free(tmp)
    if not text:
        return _dw(default)
    sign = -1 if text.startswith("-") else 1
    digits = ""
    for c in text.lstrip("+-"):
        if not c.isdigit():
            break
        digits += c
    return _dw(sign * int(digits)) if digits else 0


@soft_api(K32)
def WritePrivateProfileStringW(ctx: Ctx, app: int, key: int, value: int, file: int) -> int:
    if not app:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    path = _ini_path(ctx, ctx.wstr(file) if file else "win.ini")
    try:
        host = _host_path(ctx, ctx.api.split("!")[-1], path)
    except SandboxDenied:
        ctx.set_last_error(ERROR_ACCESS_DENIED)
        return 0
    if not os.path.isdir(os.path.dirname(host)):
        ctx.set_last_error(ERROR_PATH_NOT_FOUND)
        return 0
    sections, enc = _read_ini(host)
    a = ctx.wstr(app)
    sec = next((s for s in sections if s[0].upper() == a.upper()), None)
    if not key:
        if sec is not None:
            sections.remove(sec)
    else:
        k = ctx.wstr(key)
        if sec is None:
            if not value:
                return 1
            sec = (a, [])
            sections.append(sec)
        items = sec[1]
        idx = next((i for i, (kk, _) in enumerate(items) if kk.upper() == k.upper()), None)
        if not value:
            if idx is not None:
                del items[idx]
        elif idx is None:
            items.append((k, ctx.wstr(value)))
        else:
            items[idx] = (items[idx][0], ctx.wstr(value))
    try:
        _write_ini(host, sections, enc)
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return 0
    return 1


# --- time ------------------------------------------------------------------------------------------
def _filetime_to_fields(ft: int) -> tuple[int, ...] | None:
    import datetime

    if ft >= 0x8000000000000000:
        return None
    dt = datetime.datetime(1601, 1, 1) + datetime.timedelta(microseconds=ft // 10)
    wday = (dt.weekday() + 1) % 7
    return (dt.year, dt.month, wday, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond // 1000)


@soft_api(K32)
def FileTimeToSystemTime(ctx: Ctx, ft: int, st: int) -> int:
    fields = _filetime_to_fields(ctx.mem.u64(ft))
    if fields is None:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    ctx.mem.write(st, b"".join(v.to_bytes(2, "little") for v in fields))
    return 1


@soft_api(K32)
def SystemTimeToFileTime(ctx: Ctx, st: int, ft: int) -> int:
    import datetime

    raw = ctx.mem.read(st, 16)
    y, mo, _, d, h, mi, s, ms = (int.from_bytes(raw[i : i + 2], "little") for i in range(0, 16, 2))
    try:
        dt = datetime.datetime(y, mo, d, h, mi, s, ms * 1000)
    except ValueError:
        ctx.set_last_error(ERROR_INVALID_PARAMETER)
        return 0
    delta = dt - datetime.datetime(1601, 1, 1)
    ticks = (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    ctx.mem.w64(ft, ticks)
    return 1


@soft_api(K32)
def FileTimeToLocalFileTime(ctx: Ctx, ft: int, out: int) -> int:
    ctx.mem.w64(out, ctx.mem.u64(ft))  # the emulated machine's time zone is UTC
    return 1


@soft_api(K32)
def LocalFileTimeToFileTime(ctx: Ctx, ft: int, out: int) -> int:
    ctx.mem.w64(out, ctx.mem.u64(ft))
    return 1


@soft_api(K32)
def GetTimeZoneInformation(ctx: Ctx, info: int) -> int:
    ctx.mem.fill(info, 172)
    ctx.write_wstr(info + 4, "Coordinated Universal Time")
    ctx.write_wstr(info + 88, "Coordinated Universal Time")
    return 0  # TIME_ZONE_ID_UNKNOWN: no daylight saving


# --- version --------------------------------------------------------------------------------------
VER_NT_SERVER = 3


def _fill_version(ctx: Ctx, info: int, wide: bool = True) -> None:
    major, minor, build = options(ctx).os_version
    size = ctx.mem.u32(info)
    ctx.mem.w32(info + 4, major)
    ctx.mem.w32(info + 8, minor)
    ctx.mem.w32(info + 12, build)
    ctx.mem.w32(info + 16, 2)  # VER_PLATFORM_WIN32_NT
    csd_len = 128 * (2 if wide else 1)
    ctx.mem.fill(info + 20, csd_len)
    sp = 1 if (major, minor) in ((6, 1), (6, 0)) and build in (7601, 6002) else 0
    if sp:
        text = f"Service Pack {sp}"
        if wide:
            ctx.write_wstr(info + 20, text)
        else:
            ctx.write_cstr(info + 20, text)
    ext = 20 + csd_len
    if size >= ext + 8:
        ctx.mem.write(info + ext, sp.to_bytes(2, "little") + b"\0\0" + (0x110).to_bytes(2, "little")
                      + bytes([VER_NT_SERVER, 0]))  # SP major/minor, suite (terminal|singleuser), server


@soft_api("ntdll.dll")
def RtlGetVersion(ctx: Ctx, info: int) -> int:
    _fill_version(ctx, info)
    return 0  # STATUS_SUCCESS


@soft_api(K32)
def GetVersionExW(ctx: Ctx, info: int) -> int:
    size = ctx.mem.u32(info)
    if size not in (276, 284):
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    _fill_version(ctx, info)
    return 1


@soft_api(K32)
def GetVersionExA(ctx: Ctx, info: int) -> int:
    size = ctx.mem.u32(info)
    if size not in (148, 156):
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    _fill_version(ctx, info, wide=False)
    return 1


@soft_api(K32)
def GetVersion(ctx: Ctx) -> int:
    major, minor, build = options(ctx).os_version
    return (build & 0x7FFF) << 16 | minor << 8 | major


@soft_api(K32, ret64=True, wide_args=(0,))
def VerSetConditionMask(ctx: Ctx, mask: int, type_mask: int, condition: int) -> int:
    cond = condition & 0x7
    t = _dw(type_mask)
    for i in range(8):
        if t & (1 << i):
            mask = (mask & ~(0x7 << (3 * i))) | cond << (3 * i)
    return mask & 0xFFFFFFFFFFFFFFFF


_VER_FIELDS = ((0x2, 4, 4), (0x1, 8, 4), (0x4, 12, 4), (0x20, 276, 2), (0x10, 278, 2))  # bit, offset, size


@soft_api(K32, wide_args=(2,))
def VerifyVersionInfoW(ctx: Ctx, info: int, type_mask: int, cond_mask: int) -> int:
    t = _dw(type_mask)
    major, minor, build = options(ctx).os_version
    sp = 1 if build in (7601, 6002) else 0
    actual = {0x2: major, 0x1: minor, 0x4: build, 0x20: sp, 0x10: 0}
    wanted = {bit: int.from_bytes(ctx.mem.read(info + off, size), "little") for bit, off, size in _VER_FIELDS}

    def cond(bit: int) -> int:
        return (cond_mask >> (3 * (bit.bit_length() - 1))) & 0x7

    def holds(c: int, a: tuple[int, ...], w: tuple[int, ...]) -> bool:
        return {1: a == w, 2: a > w, 3: a >= w, 4: a < w, 5: a <= w}.get(c, False)

    # major/minor/service pack compare as one version number (the documented hierarchy)
    order = [b for b in (0x2, 0x1, 0x20, 0x10) if t & b]
    ok = True
    if order:
        ok = holds(cond(order[0]), tuple(actual[b] for b in order), tuple(wanted[b] for b in order))
    if ok and t & 0x4:
        ok = holds(cond(0x4), (build,), (wanted[0x4],))
    if ok and t & 0x80:
        ok = holds(cond(0x80), (VER_NT_SERVER,), (ctx.mem.u8(info + 282),))
    if not ok:
        ctx.set_last_error(ERROR_OLD_WIN_VERSION)
    return int(ok)


@soft_api(K32)
def IsWow64Process(ctx: Ctx, process: int, out: int) -> int:
    ctx.mem.w32(out, int(ctx.bits == 32 and options(ctx).wow64))
    return 1


@soft_api(K32)
def GetEnvironmentVariableW(ctx: Ctx, name: int, buf: int, size: int) -> int:
    value = environment(ctx).get(ctx.wstr(name).upper())
    if value is None:
        ctx.set_last_error(ERROR_ENVVAR_NOT_FOUND)
        return 0
    if _dw(size) <= len(value) or not buf:
        return len(value) + 1
    ctx.write_wstr(buf, value)
    return len(value)


@soft_api(K32)
def GetEnvironmentVariableA(ctx: Ctx, name: int, buf: int, size: int) -> int:
    value = environment(ctx).get(ctx.cstr(name).upper())
    if value is None:
        ctx.set_last_error(ERROR_ENVVAR_NOT_FOUND)
        return 0
    raw = value.encode(ACP, "replace")
    if _dw(size) <= len(raw) or not buf:
        return len(raw) + 1
    ctx.write_cstr(buf, raw)
    return len(raw)


# --- FormatMessage ---------------------------------------------------------------------------------
FORMAT_MESSAGE_ALLOCATE_BUFFER = 0x100
FORMAT_MESSAGE_IGNORE_INSERTS = 0x200
FORMAT_MESSAGE_FROM_STRING = 0x400
FORMAT_MESSAGE_FROM_HMODULE = 0x800
FORMAT_MESSAGE_FROM_SYSTEM = 0x1000
FORMAT_MESSAGE_ARGUMENT_ARRAY = 0x2000
#: the system message table entries admin DLLs typically print
SYSTEM_MESSAGES = {
    code: MESSAGES[code]
    for code in (
        ERROR_SUCCESS,
        ERROR_FILE_NOT_FOUND,
        ERROR_PATH_NOT_FOUND,
        ERROR_ACCESS_DENIED,
        ERROR_INVALID_HANDLE,
        ERROR_NOT_ENOUGH_MEMORY,
        ERROR_OUTOFMEMORY,
        ERROR_INVALID_PARAMETER,
        ERROR_INSUFFICIENT_BUFFER,
        ERROR_ALREADY_EXISTS,
        ERROR_MORE_DATA,
        ERROR_NO_MORE_ITEMS,
        ERROR_KEY_DELETED,
    )
}


def _format_message(ctx: Ctx, flags: int, source: int, msgid: int, buf: int, size: int, args: int,
                    wide: bool) -> int:
    flags = _dw(flags)
    if flags & FORMAT_MESSAGE_FROM_STRING:
        text = (ctx.wstr(source) if wide else ctx.cstr(source)) if source else ""
    elif flags & FORMAT_MESSAGE_FROM_SYSTEM and _dw(msgid) in SYSTEM_MESSAGES:
        text = SYSTEM_MESSAGES[_dw(msgid)] + "\r\n"
    else:
        ctx.set_last_error(ERROR_MR_MID_NOT_FOUND)
        return 0
    out: list[str] = []
    i = 0
    arg_list = args
    va_pos = ctx.ptr(args) if args and not flags & FORMAT_MESSAGE_ARGUMENT_ARRAY else 0
    while i < len(text):
        c = text[i]
        if c != "%" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in "rn":
            out.append("\r" if nxt == "r" else "\r\n")
            i += 2
        elif nxt in "%.!tb 0":
            out.append({"%": "%", ".": ".", "!": "!", "t": "\t", "b": " ", " ": " ", "0": ""}[nxt])
            if nxt == "0":
                break
            i += 2
        elif nxt.isdigit():
            j = i + 1
            while j < len(text) and text[j].isdigit() and j < i + 3:
                j += 1
            n = int(text[i + 1 : j])
            spec = "s"
            if j < len(text) and text[j] == "!":
                end = text.find("!", j + 1)
                if end > j:
                    spec = text[j + 1 : end]
                    j = end + 1
            if flags & FORMAT_MESSAGE_IGNORE_INSERTS or not args:
                out.append(text[i:j])
            else:
                slot = (arg_list + (n - 1) * ctx.ptr_size) if flags & FORMAT_MESSAGE_ARGUMENT_ARRAY else (
                    va_pos + (n - 1) * ctx.ptr_size)
                value = ctx.ptr(slot)
                if spec in ("s", "ls", "ws", "S"):
                    wide_arg = wide if spec == "s" else spec in ("ls", "ws")
                    out.append((ctx.wstr(value) if wide_arg else ctx.cstr(value)) if value else "(null)")
                elif spec in ("d", "i", "u", "x", "X", "lu", "ld", "lx"):
                    v = _dw(value)
                    if spec[-1] in "di" and v >> 31:
                        v -= 1 << 32
                    out.append(format(v, "x" if spec[-1] == "x" else "X" if spec[-1] == "X" else "d"))
                else:
                    out.append(text[i:j])
            i = j
        else:
            out.append(nxt)
            i += 2
    result = "".join(out)
    n = len(result)
    if flags & FORMAT_MESSAGE_ALLOCATE_BUFFER:
        unit = 2 if wide else 1
        p = ctx.alloc(max(n + 1, _dw(size)) * unit)
        if not p:
            ctx.set_last_error(ERROR_NOT_ENOUGH_MEMORY)
            return 0
        if wide:
            ctx.write_wstr(p, result)
        else:
            ctx.write_cstr(p, result)
        ctx.write_ptr(buf, p)
        return n
    if n + 1 > _dw(size):
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    if wide:
        ctx.write_wstr(buf, result)
    else:
        ctx.write_cstr(buf, result)
    return n


@soft_api(K32)
def FormatMessageW(ctx: Ctx, flags: int, source: int, msgid: int, lang: int, buf: int, size: int, args: int) -> int:
    return _format_message(ctx, flags, source, msgid, buf, size, args, True)


@soft_api(K32)
def FormatMessageA(ctx: Ctx, flags: int, source: int, msgid: int, lang: int, buf: int, size: int, args: int) -> int:
    return _format_message(ctx, flags, source, msgid, buf, size, args, False)


# --- more file helpers ------------------------------------------------------------------------------
@soft_api(K32)
def GetFileAttributesExW(ctx: Ctx, name: int, level: int, info: int) -> int:
    host = _path_op(ctx, name, True)
    if host is None:
        return 0
    a = _attributes(host)
    if a is None:
        ctx.set_last_error(ERROR_FILE_NOT_FOUND if os.path.isdir(os.path.dirname(host)) else ERROR_PATH_NOT_FOUND)
        return 0
    st = os.stat(host)
    ft = int(st.st_mtime * 10_000_000) + FILETIME_EPOCH
    size = 0 if a & FILE_ATTRIBUTE_DIRECTORY else st.st_size
    ctx.mem.w32(info, a)
    for off in (4, 12, 20):
        ctx.mem.w64(info + off, ft)
    ctx.mem.w32(info + 28, size >> 32)
    ctx.mem.w32(info + 32, size & 0xFFFFFFFF)
    return 1


@soft_api(K32)
def MoveFileExW(ctx: Ctx, src: int, dst: int, flags: int) -> int:
    a = _path_op(ctx, src, True)
    b = _path_op(ctx, dst, True) if dst else None
    if a is None or (dst and b is None):
        return 0
    if not os.path.lexists(a):
        ctx.set_last_error(ERROR_FILE_NOT_FOUND)
        return 0
    try:
        if b is None:
            os.remove(a)
        elif os.path.lexists(b) and not _dw(flags) & 0x1:  # MOVEFILE_REPLACE_EXISTING
            ctx.set_last_error(ERROR_ALREADY_EXISTS)
            return 0
        else:
            os.replace(a, b)
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return 0
    return 1


@soft_api(K32)
def CopyFileW(ctx: Ctx, src: int, dst: int, fail_if_exists: int) -> int:
    import shutil

    a, b = _path_op(ctx, src, True), _path_op(ctx, dst, True)
    if a is None or b is None:
        return 0
    if not os.path.isfile(a):
        ctx.set_last_error(ERROR_FILE_NOT_FOUND)
        return 0
    if _dw(fail_if_exists) and os.path.lexists(b):
        ctx.set_last_error(ERROR_FILE_EXISTS)
        return 0
    try:
        shutil.copyfile(a, b)
    except OSError as exc:
        ctx.set_last_error(_errno_to_win(exc))
        return 0
    return 1


@soft_api(K32)
def GetDriveTypeW(ctx: Ctx, root: int) -> int:
    text = ctx.wstr(root) if root else "C:\\"
    return 3 if text[:1].upper() == "C" else 1  # DRIVE_FIXED; DRIVE_NO_ROOT_DIR


@soft_api(K32)
def GetDiskFreeSpaceExW(ctx: Ctx, root: int, avail: int, total: int, free: int) -> int:
    for p, v in ((avail, 50 << 30), (total, 100 << 30), (free, 50 << 30)):
        if p:
            ctx.mem.w64(p, v)
    return 1


@soft_api(K32)
def lstrcpynA(ctx: Ctx, dst: int, src: int, n: int) -> int:
    count = Ctx.s32(n)
    if count <= 0:
        return dst
    raw = ctx.mem.cstr(src, count)[: count - 1]
    ctx.mem.write(dst, raw + b"\0")
    return dst
