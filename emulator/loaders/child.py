"""Child-process side of :mod:`emulator.loaders.isolated` (``python -m emulator.loaders.child``).

Usage: ``python -m emulator.loaders.child SHARED_FILE [--preload LOADER] [--spin SECONDS]``
(SHARED_FILE may be ``fd:N``, an inherited descriptor; ``--preload`` imports that loader's module
before the first request, so a pooled child is warm; ``--spin`` polls stdin that long before
blocking on it, POSIX only). Frames on stdin/stdout are a 4-byte little-endian length
followed by a pickle (protocol 5). Requests::

    ("load", loader, path, bitness, options) -> ("loaded", exports, machine, loader, addresses)
                                               | ("error", "LoadError"|type, message)
    ("calls", seq, [(target, args, signature, timeout), ...][, stop_on_fault])
                                               -> ("done", seq, count); with stop_on_fault
                                                  the batch ends after a faulted result
    ("usage",)                                 -> ("usage", ResourceUsage | None)
    ("unload",)                                -> ("unloaded", [leftover, ...]); the child then
                                                  waits for the next "load", or exits when the
                                                  list is not empty (it must not be reused)
    ("close",)                                 -> ("closed",) then exit 0

End of input unloads the DLL and exits 0.

Results of a batch are not sent over the pipe: each one is appended to the shared file as it
completes (so a crash loses nothing that finished), and the header tells the parent which call is
running and since when (so it can enforce per-call timeouts)::

    0  u64 seq      8  u32 running index (0xFFFFFFFF = idle)   12 u32 records written
    16 f64 start (time.monotonic of the running call)          24 u64 bytes used after HEADER
    HEADER.. records: u32 length + pickle of a result tuple (see :func:`result_to_tuple`)

When the record area is full, the records so far are sent as ``("chunk", seq, [bytes, ...])``.
The DLL's own writes to stdout are redirected to stderr so they cannot corrupt the protocol.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import sysconfig
import time
import traceback
from typing import IO, Any

from emulator.loaders.base import Call, CallFault, CallIssue, CallResult

HEADER = 64
SHM_SIZE = 8 << 20
IDLE = 0xFFFFFFFF
_LEN = struct.Struct("<I")
_PROGRESS = struct.Struct("<IIdQ")  # index, count, start, used at offset 8


def result_to_tuple(r: CallResult) -> tuple[Any, ...]:
    """A CallResult as plain data (cheaper to pickle than the dataclass)."""
    fault = None if r.fault is None else (r.fault.kind, r.fault.message, dict(r.fault.detail))
    issues = tuple((i.rule, i.message, dict(i.detail)) for i in r.issues)
    return (
        r.returned,
        dict(r.outputs),
        r.modified_inputs,
        fault,
        issues,
        r.debug_output,
        r.seconds,
    )


_FIELDS = ("returned", "outputs", "modified_inputs", "fault", "issues", "debug_output", "seconds")
try:
    _SETTERS = (
        [CallResult.__dict__[n].__set__ for n in _FIELDS]
        if tuple(CallResult.__slots__) == _FIELDS
        else None
    )
except (AttributeError, KeyError):  # pragma: no cover - base.py without slots
    _SETTERS = None


def tuple_to_result(t: tuple[Any, ...]) -> CallResult:
    """Inverse of :func:`result_to_tuple`."""
    returned, outputs, modified, fault, issues, debug, seconds = t
    if fault is not None:
        fault = CallFault(fault[0], fault[1], fault[2])
    if issues:
        issues = tuple(CallIssue(a, b, c) for a, b, c in issues)
    if _SETTERS is None:  # pragma: no cover
        return CallResult(returned, outputs, modified, fault, issues, debug, seconds)
    # the frozen dataclass __init__ is ~3x slower than setting the slots directly
    r = object.__new__(CallResult)
    for setter, value in zip(
        _SETTERS, (returned, outputs, modified, fault, issues, debug, seconds), strict=True
    ):
        setter(r, value)
    return r


def read_frame(fh: IO[bytes]) -> Any:
    """One length-prefixed pickle from ``fh``; EOFError at end of stream."""
    head = fh.read(4)
    if len(head) < 4:
        raise EOFError
    (n,) = _LEN.unpack(head)
    data = fh.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)


def write_frame(fh: IO[bytes], obj: Any) -> None:
    """Write one length-prefixed pickle and flush."""
    data = pickle.dumps(obj, protocol=5)
    fh.write(_LEN.pack(len(data)) + data)
    fh.flush()


def _run_batch(
    dll: Any, mm: mmap.mmap, out: IO[bytes], seq: int, calls: list[tuple[Any, ...]],
    stop_on_fault: bool = False,
) -> None:
    struct.pack_into("<Q", mm, 0, seq)
    _PROGRESS.pack_into(mm, 8, IDLE, 0, 0.0, 0)
    used = 0
    count = 0
    capacity = len(mm) - HEADER
    dumps = pickle.dumps
    mono = time.monotonic
    for index, (target, args, sig, timeout) in enumerate(calls):
        _PROGRESS.pack_into(mm, 8, index, count, mono(), used)
        stop = False
        try:
            res = dll.handle_call(Call(target, args, sig, timeout))
            rec = dumps(result_to_tuple(res), 5)
            stop = stop_on_fault and res.fault is not None
        except Exception as e:  # a host mistake (unknown export, wrong args): re-raised by parent
            rec = dumps(("raise", type(e).__name__, str(e), traceback.format_exc(limit=-2)), 5)
            stop = True
        if used + 4 + len(rec) > capacity:
            chunk = [bytes(mm[HEADER + o + 4 : HEADER + o + 4 + n]) for o, n in _records(mm, used)]
            write_frame(out, ("chunk", seq, chunk))
            used = 0
        base = HEADER + used
        _LEN.pack_into(mm, base, len(rec))
        mm[base + 4 : base + 4 + len(rec)] = rec
        used += 4 + len(rec)
        count += 1
        _PROGRESS.pack_into(mm, 8, IDLE, count, 0.0, used)
        if stop:
            break
    write_frame(out, ("done", seq, count))


def _records(mm: mmap.mmap, used: int) -> list[tuple[int, int]]:
    out = []
    o = 0
    while o < used:
        (n,) = _LEN.unpack_from(mm, HEADER + o)
        out.append((o, n))
        o += 4 + n
    return out


_LINUX = sys.platform.startswith("linux")


class _Snapshot:
    """Process-wide state a DLL could change and leave behind (compared by :func:`leftovers`)."""

    def __init__(self) -> None:
        self.threads = _thread_count()
        self.fds = _fd_count()
        self.cwd = _cwd()
        self.environ = dict(os.environ)
        self.modules = set(sys.modules)


def _thread_count() -> int:
    """Threads running now, not counting the loaders' own helpers (e.g. the pe watchdog)."""
    import threading

    ours = 0
    for t in threading.enumerate():
        target = getattr(t, "_target", None)
        if str(getattr(target, "__module__", "")).startswith("emulator."):
            ours += 1
    if _LINUX:
        try:
            return len(os.listdir("/proc/self/task")) - ours  # natively started threads too
        except OSError:
            pass
    return threading.active_count() - ours


def _fd_count() -> int | None:
    for d in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(d))
        except OSError:
            continue
    return None


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def _trusted_roots() -> tuple[str, ...]:
    """Where modules that any load may import live: the stdlib, site-packages, emulator."""
    key = tuple(sys.path)
    cached = _ROOTS.get(key)
    if cached is not None:
        return cached
    roots = {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(Exception):
            roots.add(sysconfig.get_paths()[name])
    for p in sys.path:
        if p and os.path.basename(p) in ("site-packages", "dist-packages"):
            roots.add(p)
    out = tuple(os.path.normcase(os.path.abspath(r)) + os.sep for r in roots if r)
    _ROOTS.clear()
    _ROOTS[key] = out
    return out


_ROOTS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _still_mapped(path: str) -> bool:
    """Whether the library file ``path`` is still loaded in this process.

    Linux: the memory map; macOS: dyld's image list; Windows: ``GetModuleHandleW``.
    """
    try:
        if _LINUX:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
                return any(path in line for line in fh)
        import ctypes

        if sys.platform == "darwin":
            dyld = ctypes.CDLL(None)
            dyld._dyld_get_image_name.restype = ctypes.c_char_p
            dyld._dyld_get_image_name.argtypes = [ctypes.c_uint32]
            real = os.path.realpath(path)
            for i in range(dyld._dyld_image_count()):
                name = dyld._dyld_get_image_name(i)
                if name and os.path.realpath(os.fsdecode(name)) == real:
                    return True
            return False
        if sys.platform == "win32":
            k32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
            k32.GetModuleHandleW.restype = ctypes.c_void_p
            k32.GetModuleHandleW.argtypes = [ctypes.c_wchar_p]
            return bool(k32.GetModuleHandleW(path))
    except (OSError, AttributeError, ValueError):
        return False
    return False


def leftovers(before: _Snapshot, image: str | None) -> list[str]:
    """What an unloaded DLL left in this process; empty when the child can serve another load.

    ``image`` is the file the native loader dlopened (its private copy), checked in the memory
    map; threads and descriptors are counted (natively on Linux), and cwd, ``os.environ`` and
    modules imported from outside the stdlib, site-packages and emulator are compared.
    """
    out: list[str] = []
    if image and _still_mapped(image):
        out.append(f"{image} is still mapped after unloading")
    threads = _thread_count()
    if threads > before.threads:
        out.append(f"{threads - before.threads} thread(s) still running")
    fds = _fd_count()
    if fds is not None and before.fds is not None and fds > before.fds:
        out.append(f"{fds - before.fds} file descriptor(s) left open")
    if _cwd() != before.cwd:
        out.append(f"working directory changed to {_cwd()!r}")
    if dict(os.environ) != before.environ:
        out.append("environment changed")
    roots = _trusted_roots()
    for name in set(sys.modules) - before.modules:
        f = getattr(sys.modules.get(name), "__file__", None)
        if f and not os.path.normcase(os.path.abspath(f)).startswith(roots):
            out.append(f"module {name} ({f}) stays imported")
            break
    return out


def main(argv: list[str] | None = None) -> int:
    """Serve DLLs one after another (``load`` ... ``unload``) until ``close`` or end of input."""
    args = list(sys.argv[1:] if argv is None else argv)
    options: dict[str, str] = {}
    while len(args) >= 3 and args[-2] in ("--preload", "--spin") and args[-2] not in options:
        options[args[-2]] = args[-1]
        del args[-2:]
    preload = options.get("--preload")
    try:
        spin = float(options.get("--spin", "0"))
    except ValueError:
        spin = -1.0
    if len(args) != 1 or not 0.0 <= spin < 1.0:
        print(
            "usage: python -m emulator.loaders.child SHARED_FILE [--preload LOADER] "
            "[--spin SECONDS (0 <= SECONDS < 1)]",
            file=sys.stderr,
        )
        return 2
    if sys.platform == "win32":
        spin = 0.0  # select() takes sockets only there
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    # private copies of the protocol pipes; fd 0/1 become /dev/null and stderr for the DLL
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if args[0].startswith("fd:"):  # POSIX: an inherited descriptor of an unlinked file
        fd = int(args[0][3:])
        mm = mmap.mmap(fd, 0)
        os.close(fd)
    else:
        with open(args[0], "r+b") as fh:
            mm = mmap.mmap(fh.fileno(), 0)
    if preload:
        with contextlib.suppress(Exception):  # only a head start: a failure shows again at "load"
            from emulator.loaders.select import _loader_class

            _loader_class(preload)
    dll: Any = None
    before: _Snapshot | None = None
    try:
        while True:
            if spin:
                end = time.monotonic() + spin
                while time.monotonic() < end and not select.select([proto_in], [], [], 0)[0]:
                    pass
            try:
                msg = read_frame(proto_in)
            except EOFError:
                break
            op = msg[0]
            if op == "calls":
                _run_batch(dll, mm, proto_out, msg[1], msg[2], len(msg) > 3 and bool(msg[3]))
            elif op == "load":
                _, loader_name, path, bitness, options = msg
                before = _Snapshot()
                try:
                    from emulator.loaders.select import make_loader

                    dll = make_loader(loader_name, options).load(path, bitness=bitness)
                    exports = dll.exports
                    addresses = {n: dll.export_address(n) for n in exports}
                    write_frame(
                        proto_out, ("loaded", exports, dll.machine, dll.loader_name, addresses)
                    )
                except Exception as e:
                    write_frame(proto_out, ("error", type(e).__name__, str(e)))
            elif op == "usage":
                write_frame(proto_out, ("usage", dll.resource_usage() if dll else None))
            elif op == "unload":
                image = getattr(dll, "image_path", None)
                if dll is not None:
                    dll.close()
                    dll = None
                left = ["nothing was loaded"] if before is None else leftovers(before, image)
                before = None
                write_frame(proto_out, ("unloaded", left))
                if left:
                    break
            elif op == "close":
                if dll is not None:
                    dll.close()
                    dll = None
                write_frame(proto_out, ("closed",))
                break
    finally:
        if dll is not None:
            dll.close()
        mm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
