"""Child-process side of :mod:`emulator.loaders.isolated` (``python -m emulator.loaders.child``).

Usage: ``python -m emulator.loaders.child SHARED_FILE`` (or ``fd:N``, an inherited descriptor). Frames on stdin/stdout are a 4-byte
little-endian length followed by a pickle (protocol 5). Requests::

    ("load", loader, path, bitness, options) -> ("loaded", exports, machine, loader, addresses)
                                               | ("error", "LoadError"|type, message)
    ("calls", seq, [(target, args, signature, timeout), ...]) -> ("done", seq, count)
    ("usage",)                                 -> ("usage", ResourceUsage | None)
    ("close",)                                 -> ("closed",) then exit 0

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

import mmap
import os
import pickle
import signal
import struct
import sys
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
    dll: Any, mm: mmap.mmap, out: IO[bytes], seq: int, calls: list[tuple[Any, ...]]
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
        raised = False
        try:
            res = dll.handle_call(Call(target, args, sig, timeout))
            rec = dumps(result_to_tuple(res), 5)
        except Exception as e:  # a host mistake (unknown export, wrong args): re-raised by parent
            rec = dumps(("raise", type(e).__name__, str(e), traceback.format_exc(limit=-2)), 5)
            raised = True
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
        if raised:
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


def main(argv: list[str] | None = None) -> int:
    """Serve one DLL until ``close`` or end of input."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m emulator.loaders.child SHARED_FILE", file=sys.stderr)
        return 2
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
    dll: Any = None
    try:
        while True:
            try:
                msg = read_frame(proto_in)
            except EOFError:
                break
            op = msg[0]
            if op == "calls":
                _run_batch(dll, mm, proto_out, msg[1], msg[2])
            elif op == "load":
                _, loader_name, path, bitness, options = msg
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
