"""kernel32.dll beyond the core: files in a sandbox, standard handles, directories, environment,
computer name, locale/code-page helpers the MSVC CRT asks for.

Files: a Windows path (``C:\\ProgramData\\Vendor\\pool.cfg``) maps to ``<sandbox>/c/ProgramData/
Vendor/pool.cfg`` (components matched case-insensitively, like NTFS). Paths that would leave the
sandbox (``..`` above the drive root, UNC and device paths, a symlink pointing outside) are refused
with ERROR_ACCESS_DENIED. Without a sandbox every file access is refused the same way. Each refusal
is recorded in ``PeOptions.denied`` and in the call's debug output. A 32-bit DLL's
``C:\\Windows\\System32`` is redirected to ``SysWOW64`` as the WOW64 file system redirector does.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass

from emulator.loaders.pe.winapi import ACP, Ctx
from emulator.loaders.pe.winapi._env import (
    ENV_NAMES,
    SYSTEM_ROOT,
    environment,
    expand,
    options,
    soft_api,
)

K32 = "kernel32.dll"

ERROR_FILE_NOT_FOUND = 2
ERROR_PATH_NOT_FOUND = 3
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_HANDLE = 6
ERROR_NOT_ENOUGH_MEMORY = 8
ERROR_NO_MORE_FILES = 18
ERROR_HANDLE_EOF = 38
ERROR_FILE_EXISTS = 80
ERROR_INVALID_PARAMETER = 87
ERROR_BUFFER_OVERFLOW = 111
ERROR_INSUFFICIENT_BUFFER = 122
ERROR_INVALID_NAME = 123
ERROR_DIR_NOT_EMPTY = 145
ERROR_ALREADY_EXISTS = 183
ERROR_ENVVAR_NOT_FOUND = 203
ERROR_MORE_DATA = 234
ERROR_NEGATIVE_SEEK = 131

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
    if (redirect and ctx.bits == 32 and drive == "c" and len(parts) >= 2
            and parts[0].lower() == "windows" and parts[1].lower() == "system32"):
        parts[1] = "SysWOW64"
    return drive, parts


def _host_path(ctx: Ctx, api_name: str, path: str) -> str:
    """Host path inside the sandbox for a Windows path; SandboxDenied (recorded) when refused."""
    opts = options(ctx)
    try:
        if opts.sandbox is None:
            raise SandboxDenied("no file sandbox is configured (PeOptions.sandbox)")
        drive, parts = _components(ctx, path)
        root = os.path.realpath(opts.sandbox)
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
    f = _file(ctx, h)
    if f is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    if not f.write:
        ctx.set_last_error(ERROR_ACCESS_DENIED)
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
    f = _file(ctx, h)
    if f is None:
        ctx.set_last_error(ERROR_INVALID_HANDLE)
        return 0
    if not f.read:
        ctx.set_last_error(ERROR_ACCESS_DENIED)
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
    f = _file(ctx, h)
    if f is None or not f.write:
        ctx.set_last_error(ERROR_INVALID_HANDLE if f is None else ERROR_ACCESS_DENIED)
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
    raw = text.encode("utf-16-le", "surrogatepass")
    units = len(raw) // 2
    cap = Ctx.s32(dstlen)
    if cap == 0:
        return units
    if cap < units:
        ctx.set_last_error(ERROR_INSUFFICIENT_BUFFER)
        return 0
    ctx.mem.write(dst, raw)
    return units


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
