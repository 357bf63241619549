"""Run any loader in a child process: per-call timeouts and crash survival.

:class:`IsolatedDll` starts ``python -m emulator.loaders.child`` and loads the DLL there with the
named loader. :meth:`IsolatedDll.handle_calls` sends a whole batch in one round trip; results come
back through a shared file the child appends to as each call completes (see
:mod:`emulator.loaders.child`), so nothing that finished is lost when the child dies.

* A call that runs longer than its ``Call.timeout`` -> the child is killed, that call gets
  ``CallFault("timeout")``, a new child loads the DLL afresh and the batch continues.
* A child that dies during a call (segfault, abort, ``os._exit``) -> ``CallFault("child-died")``
  naming the signal or exit code, then the same restart.
* Addresses stay stable across restarts: the host sees the first child's export addresses;
  later children's addresses (ASLR) are translated both ways by the image's load delta.
* :meth:`close` asks the child to unload (DLL_PROCESS_DETACH equivalent) and waits for it.

Children are pooled: a child whose DLL was closed cleanly -- unloaded, and nothing of it left in
the process (threads, descriptors, a still-mapped image, foreign modules, cwd or environment
changes; see :func:`emulator.loaders.child.leftovers`) -- waits, warm, for the next DLL of the same
loader configuration, which it loads afresh (the native loader dlopens a new private copy, R36).
A child that crashed, timed out, was killed or left something behind is never reused. At most
:data:`MAX_IDLE` children wait; they are ended and reaped at interpreter exit. When no warm child
is idle, a spare is started alongside the one needed (the host opens two instances, R36).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import mmap
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import IO, Any

from emulator.abi.callbacks import TABLE_SLOTS
from emulator.errors import LoadError
from emulator.loaders.base import AdminDll, Call, CallFault, CallResult, Machine, ResourceUsage
from emulator.loaders.child import (
    HEADER,
    IDLE,
    SHM_SIZE,
    read_frame,
    tuple_to_result,
    write_frame,
)

__all__ = ["IsolatedDll"]

_POSIX = sys.platform != "win32"


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def spin_seconds(posix: bool, cpus: int) -> float:
    """How long the side waiting for a request (child) or a reply (parent) polls its pipe before
    it blocks: a round trip then mostly skips waking a blocked process (25 us instead of 32-65 us
    measured). POSIX only (Windows cannot select() on pipes), and only with two or more usable
    CPUs (on one, the poller would hold up the process it waits for)."""
    return 100e-6 if posix and cpus >= 2 else 0.0


SPIN_SECONDS = spin_seconds(_POSIX, _usable_cpus())
_PROGRESS = struct.Struct("<IIdQ")
_LEN = struct.Struct("<I")
_EOF = ("eof",)
_TABLE_SLOT_NAMES = tuple(slot for slot, _ in TABLE_SLOTS)
# raised again in the parent when the child's loader raised them for a call (host mistakes)
_HOST_ERRORS: dict[str, type[Exception]] = {
    "KeyError": KeyError,
    "ValueError": ValueError,
    "TypeError": TypeError,
    "RuntimeError": RuntimeError,
}


def _signal_name(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    if sys.platform == "win32" and returncode >= 0xC0000000:
        return f"exited with status {returncode:#x}"
    return f"exited with code {returncode}"


class _Child:
    """One child process: its pipes, stderr reader thread and shared result file."""

    def __init__(self, preload: str | None = None) -> None:
        fd, self._shm_path = tempfile.mkstemp(prefix="rasemu-child-", suffix=".shm")
        try:
            os.ftruncate(fd, SHM_SIZE)
            self.mm: Any = mmap.mmap(fd, SHM_SIZE)
        except BaseException:
            os.close(fd)
            os.unlink(self._shm_path)
            raise
        if _POSIX:
            # the child inherits the descriptor: nothing stays on disk even after a SIGKILL
            os.unlink(self._shm_path)
            shm_arg = f"fd:{fd}"
        else:
            os.close(fd)
            shm_arg = self._shm_path
        argv = [sys.executable, "-m", "emulator.loaders.child", shm_arg]
        if preload:
            argv += ["--preload", preload]
        if SPIN_SECONDS:
            argv += ["--spin", repr(SPIN_SECONDS)]
        try:
            # a new interpreter (fork + exec, never a bare fork): safe with threads in the parent
            self.proc = subprocess.Popen(
                argv,
                pass_fds=(fd,) if _POSIX else (),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_child_env(),
            )
        except BaseException:
            self._release_files()
            raise
        finally:
            if _POSIX:
                os.close(fd)  # the mmap holds its own reference
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self.pid = self.proc.pid
        self.stdin: IO[bytes] = self.proc.stdin
        self.stderr_tail: collections.deque[bytes] = collections.deque(maxlen=64)
        #: batch counter over the child's whole life (the shared file outlives one IsolatedDll)
        self.seq = 0
        #: how many DLLs this child has loaded so far
        self.loads = 0
        # POSIX: the caller reads the pipe itself (select + os.read, no thread hand-off per
        # round trip); Windows cannot select() on pipes, so a thread feeds a queue there.
        self._direct = _POSIX
        self._buf = bytearray()
        self._eof = False
        self._fd = self.proc.stdout.fileno()
        self.messages: queue.Queue[Any] = queue.Queue()
        if not self._direct:
            threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()

    def get(self, timeout: float) -> Any:
        """The next message; queue.Empty after ``timeout`` seconds; ``_EOF`` at end of stream."""
        if not self._direct:
            return self.messages.get(timeout=timeout)
        deadline = time.monotonic() + timeout
        buf = self._buf
        while True:
            if len(buf) >= 4:
                (n,) = _LEN.unpack_from(buf, 0)
                if len(buf) >= 4 + n:
                    try:
                        msg = pickle.loads(bytes(buf[4 : 4 + n]))
                    except Exception as e:  # a corrupt frame: treat like a dead child
                        msg = ("corrupt", repr(e))
                    del buf[: 4 + n]
                    return msg
            if self._eof:
                return _EOF
            now = time.monotonic()
            remaining = deadline - now
            if remaining < 0:
                raise queue.Empty
            ready: list[int] = []
            if SPIN_SECONDS:
                spin_end = now + min(SPIN_SECONDS, remaining)
                while not ready and time.monotonic() < spin_end:
                    ready, _, _ = select.select([self._fd], [], [], 0)
            if not ready:
                ready, _, _ = select.select([self._fd], [], [], remaining)
            if not ready:
                raise queue.Empty
            try:
                data = os.read(self._fd, 1 << 20)
            except OSError:
                data = b""
            if data:
                buf += data
            else:
                self._eof = True

    def get_nowait(self) -> Any:
        """The next message if one is already there, else queue.Empty."""
        return self.get(0.0)

    def wait_for(self, kinds: tuple[str, ...], timeout: float) -> Any:
        """The first message whose kind is in ``kinds`` (``_EOF`` at end, None on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                return None
            if msg is _EOF or msg[0] in ("eof", "corrupt") or msg[0] in kinds:
                return msg

    # Each reader thread owns (and finally closes) its stream: closing a stream another thread
    # is blocked on aborts the interpreter at shutdown.
    def _read(self, fh: IO[bytes]) -> None:
        try:
            while True:
                self.messages.put(read_frame(fh))
        except (EOFError, OSError, ValueError):
            pass
        except Exception as e:  # a corrupt frame: treat like a dead child
            self.messages.put(("corrupt", repr(e)))
        self.messages.put(_EOF)
        with contextlib.suppress(OSError, ValueError):
            fh.close()

    def _drain(self, fh: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in iter(fh.readline, b""):
                self.stderr_tail.append(line)
        with contextlib.suppress(OSError, ValueError):
            fh.close()

    def send(self, msg: Any) -> bool:
        try:
            write_frame(self.stdin, msg)
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def stderr_text(self) -> str:
        return b"".join(self.stderr_tail).decode("utf-8", "replace")[-4000:]

    def alive(self) -> bool:
        return self.proc.poll() is None and not self._eof

    def reset(self) -> None:
        """Prepare a pooled child for its next DLL: no old stderr, an idle header."""
        self.stderr_tail.clear()
        struct.pack_into("<Q", self.mm, 0, 0)
        _PROGRESS.pack_into(self.mm, 8, IDLE, 0, 0.0, 0)

    def kill(self) -> None:
        """Kill the process (if still running) and reap it; the shared file stays readable."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._close_pipes()

    def dispose(self) -> None:
        """Kill and reap the process, free the shared file."""
        self.kill()
        self._release_files()

    def retire(self, timeout: float = 5.0) -> None:
        """Let the child exit on end of input (it unloads what it holds), then reap it."""
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
        self.dispose()

    def forget(self) -> None:
        """In a forked copy of the parent: drop our copies of the pipes, touch nothing else."""
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                with contextlib.suppress(OSError, ValueError):
                    os.close(f.fileno())
        self.proc.returncode = 0  # never wait for or signal a process that is not ours

    def _close_pipes(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()
        if self._direct:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdout.close()  # type: ignore[union-attr]

    def _release_files(self) -> None:
        with contextlib.suppress(Exception):
            self.mm.close()
        if not _POSIX:
            with contextlib.suppress(OSError):
                os.unlink(self._shm_path)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [p for p in sys.path if p]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


PoolKey = tuple[str, str, int]

#: idle children kept for reuse, over all loader configurations
MAX_IDLE = 4


class _Pool:
    """Warm children waiting for their next DLL, per loader configuration (module-level, bounded).

    A child enters the pool only after it has unloaded its DLL and reported no leftovers (see
    :func:`emulator.loaders.child.leftovers`); a child that crashed, timed out or was killed
    never does. Thread-safe; forgotten in a forked copy of the process.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.prestart = True
        self._lock = threading.Lock()
        self._idle: collections.OrderedDict[_Child, PoolKey] = collections.OrderedDict()
        self._pid = os.getpid()
        self._closed = False
        self.spawned = 0
        self.reused = 0

    def take(self, key: PoolKey) -> _Child | None:
        """An idle child for ``key`` (most recently returned first), or None."""
        with self._lock:
            if self._pid != os.getpid():
                return None
            for child in reversed(list(self._idle)):
                if self._idle[child] != key:
                    continue
                del self._idle[child]
                if child.alive():
                    self.reused += 1
                    return child
                # died while idle: reap it outside the lock below
                threading.Thread(target=child.dispose, daemon=True).start()
        return None

    def spawn(self, key: PoolKey, *, warm_spare: bool) -> _Child:
        """A new child for ``key``; with ``warm_spare`` also start one for the pool (prestart)."""
        if not self.spawned:
            _hook_multiprocessing()
        child = _Child(preload=key[0])
        with self._lock:
            self.spawned += 1
            room = not self._closed and len(self._idle) < self.limit
            spare = warm_spare and self.prestart and room and key not in self._idle.values()
        if spare:
            extra = _Child(preload=key[0])
            if not self.put(key, extra):
                extra.retire()
            else:
                with self._lock:
                    self.spawned += 1
        return child

    def put(self, key: PoolKey, child: _Child) -> bool:
        """Keep ``child`` for reuse; False (caller retires it) when full or shutting down."""
        with self._lock:
            if self._closed or self._pid != os.getpid() or len(self._idle) >= self.limit:
                return False
            self._idle[child] = key
            return True

    def idle_pids(self) -> list[int]:
        with self._lock:
            return [c.pid for c in self._idle]

    def drain(self) -> None:
        """Retire every idle child: end of input for all first, then reap them together."""
        with self._lock:
            children = list(self._idle)
            self._idle.clear()
        for c in children:
            with contextlib.suppress(OSError, ValueError):
                c.stdin.close()
        deadline = time.monotonic() + 5
        for c in children:
            c.retire(timeout=max(deadline - time.monotonic(), 0.01))

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
        self.drain()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        for c in list(self._idle):
            c.forget()
        self._idle.clear()
        self._pid = os.getpid()


_POOL = _Pool(MAX_IDLE)


def pool_stats() -> dict[str, Any]:
    """Children spawned and reused so far, and the pids of the idle ones (tests, benchmarks)."""
    return {"spawned": _POOL.spawned, "reused": _POOL.reused, "idle": _POOL.idle_pids()}


def clear_pool() -> None:
    """Retire every idle child now (they are started again on demand)."""
    _POOL.drain()


def configure_pool(*, limit: int | None = None, prestart: bool | None = None) -> None:
    """Change the pool bound (0 turns reuse off) and whether a spare child is pre-started."""
    if limit is not None:
        _POOL.limit = max(0, limit)
    if prestart is not None:
        _POOL.prestart = prestart
    with _POOL._lock:
        excess = list(_POOL._idle)[: max(0, len(_POOL._idle) - _POOL.limit)]
        for c in excess:
            del _POOL._idle[c]
    for c in excess:
        c.retire()


class IsolatedDll(AdminDll):
    """Any loader's DLL, run in a child process (see the module docstring).

    ``reuse`` (default True) takes a warm child from the pool when one is idle and gives the
    child back after :meth:`close` unloaded the DLL there; False always starts a new child and
    ends it on close.
    """

    def __init__(
        self,
        loader: str,
        path: str,
        *,
        bitness: int | None = None,
        options: Mapping[str, Any] | None = None,
        start_timeout: float = 60.0,
        reuse: bool = True,
    ) -> None:
        self.path = path
        self.loader_name = loader
        self.isolated = True
        self._loader = loader
        self._bitness = bitness
        self._options = dict(options) if options else None
        self._start_timeout = start_timeout
        self._reuse = reuse
        self._key: PoolKey = (
            loader,
            repr(sorted(self._options.items())) if self._options else "",
            hash((tuple(sys.path), tuple(sorted(os.environ.items())))),
        )
        self._owner = os.getpid()
        self._closed = False
        self.restarts = 0
        self._child: _Child | None = None
        self._base_addresses: dict[str, int | None] = {}
        self._delta = 0
        exports, machine, inner, addresses = self._start()
        self._exports: frozenset[str] = frozenset(exports)
        self.machine: Machine = machine
        self.inner_loader_name: str = inner
        self._base_addresses = dict(addresses)
        _LIVE.add(self)

    # -- child management -------------------------------------------------------------------

    def _acquire(self) -> tuple[_Child, bool]:
        if self._reuse:
            child = _POOL.take(self._key)
            if child is not None:
                return child, True
        return _POOL.spawn(self._key, warm_spare=self._reuse), False

    @property
    def child_pid(self) -> int | None:
        """Process id of the child running the DLL now (None once closed)."""
        return None if self._child is None else self._child.pid

    def _start(self) -> tuple[frozenset[str], Machine, str, dict[str, int | None]]:
        child, reused = self._acquire()
        msg = self._load_in(child)
        if reused and (msg is _EOF or msg[0] in ("eof", "corrupt")):
            # the pooled child died in between: one more try with a new one
            child.dispose()
            child, reused = _POOL.spawn(self._key, warm_spare=False), False
            msg = self._load_in(child)
        if msg is None:
            child.dispose()
            raise LoadError(
                f"child process did not load the DLL within {self._start_timeout:g} s",
                where=self.path,
            )
        if msg[0] == "loaded":
            _, exports, machine, inner, addresses = msg
            child.loads += 1
            self._child = child
            self._delta = self._compute_delta(addresses)
            return exports, machine, inner, addresses
        if msg[0] == "error":
            # the child is fine, but a half-done load may have left something behind
            child.retire()
            if msg[1] in ("LoadError", "InputError"):
                raise LoadError(_strip_where(msg[2], self.path), where=self.path)
            raise LoadError(f"loading in the child failed: {msg[1]}: {msg[2]}", where=self.path)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=5)
        how, stderr = _signal_name(child.proc.poll()), child.stderr_text().strip()[-400:]
        child.dispose()
        raise LoadError(f"child process died while loading ({how}): {stderr}", where=self.path)

    def _load_in(self, child: _Child) -> Any:
        child.reset()
        if not child.send(("load", self._loader, self.path, self._bitness, self._options)):
            return _EOF
        return child.wait_for(("loaded", "error"), self._start_timeout)

    def _compute_delta(self, addresses: Mapping[str, int | None]) -> int:
        """Load delta of a new child's image relative to the first child's (0 for the first)."""
        if not self._base_addresses:
            return 0
        for name in sorted(addresses):
            new, old = addresses.get(name), self._base_addresses.get(name)
            if new is not None and old is not None:
                return new - old
        return 0

    def _restart(self) -> None:
        if self._child is not None:
            self._child.dispose()
            self._child = None
        self.restarts += 1
        self._start()

    # -- address translation ----------------------------------------------------------------

    def _to_child(self, call: Call) -> tuple[Any, ...]:
        target = call.target
        if isinstance(target, int) and self._delta:
            target += self._delta
        return (target, call.args, call.signature, call.timeout)

    def _from_child(self, r: CallResult) -> CallResult:
        if not self._delta or not r.outputs:
            return r
        outputs = dict(r.outputs)
        changed = False
        for i, v in outputs.items():
            if isinstance(v, dict) and "revision" in v:
                outputs[i] = {
                    k: (a - self._delta if k in _TABLE_SLOT_NAMES and a else a)
                    for k, a in v.items()
                }
                changed = True
        if not changed:
            return r
        return CallResult(
            r.returned, outputs, r.modified_inputs, r.fault, r.issues, r.debug_output, r.seconds
        )

    # -- AdminDll ---------------------------------------------------------------------------

    @property
    def exports(self) -> frozenset[str]:
        return self._exports

    def export_address(self, name: str) -> int | None:
        return self._base_addresses.get(name)

    def handle_call(self, call: Call) -> CallResult:
        return self.handle_calls([call])[0]

    def handle_calls(self, calls: Sequence[Call]) -> list[CallResult]:
        return self._handle(list(calls), stop_on_fault=False)

    def call_exports(self, name: str, args: Sequence[tuple[Any, ...]],
                     timeout: float = 5.0) -> list[CallResult]:
        return self._handle([Call(name, a, None, timeout) for a in args], stop_on_fault=True)

    def _handle(self, pending: list[Call], stop_on_fault: bool) -> list[CallResult]:
        """Run ``pending`` in batches: after a fault the child is restarted, then the rest
        run in it, or (``stop_on_fault``) the results end with the fault's."""
        if self._closed:
            raise RuntimeError(f"{self.path}: DLL is closed")
        results: list[CallResult] = []
        while pending:
            done, fault, raise_info = self._run_batch(pending, stop_on_fault)
            results.extend(done)
            if raise_info is not None:
                exc = _HOST_ERRORS.get(raise_info[0], RuntimeError)
                raise exc(raise_info[1])
            if fault is None:
                break
            results.append(fault)
            pending = pending[len(done) + 1 :]
            self._restart()
            if stop_on_fault:
                break
        return results

    def _run_batch(
        self, calls: list[Call], stop_on_fault: bool = False
    ) -> tuple[list[CallResult], CallResult | None, tuple[str, str] | None]:
        """Run ``calls``; returns (completed results, fault for the failed call, host error).

        With ``stop_on_fault`` the child ends the batch after a result with a fault (the
        completed results then end with it)."""
        child = self._child
        assert child is not None
        child.seq += 1
        seq = child.seq
        records: list[bytes] = []
        if not child.send(("calls", seq, [self._to_child(c) for c in calls], stop_on_fault)):
            return self._died(child, calls, records, seq)
        while True:
            index, start = self._running(child, seq, len(calls))
            if index is not None:
                remaining = start + calls[index].timeout - time.monotonic()
                wait = max(remaining, 0.0) + 0.002
            else:
                wait = 0.05
            try:
                msg = child.get(timeout=wait)
            except queue.Empty:
                index, start = self._running(child, seq, len(calls))
                if index is not None and time.monotonic() - start > calls[index].timeout:
                    child.kill()
                    got = self._collect(child, records, seq)
                    t = calls[index].timeout
                    fault = CallResult(
                        fault=CallFault(
                            "timeout",
                            f"call {index} ({_name(calls[index])}) still running after {t:g} s; "
                            "child process killed and the DLL reloaded",
                            {"timeout": t, "index": index},
                        ),
                        seconds=time.monotonic() - start,
                    )
                    return got[:index], fault, None
                if child.proc.poll() is not None:
                    return self._died(child, calls, records, seq)
                continue
            if msg[0] == "chunk" and msg[1] == seq:
                records.extend(msg[2])
            elif msg[0] == "done" and msg[1] == seq:
                got = self._collect(child, records, seq)
                return self._finish(got)
            elif msg is _EOF or msg[0] in ("eof", "corrupt"):
                return self._died(child, calls, records, seq)

    def _running(self, child: _Child, seq: int, n: int) -> tuple[int | None, float]:
        """(index, start) of the call the child is running in batch ``seq``, or (None, 0)."""
        mm = child.mm
        # the child writes the header while we read: take two equal snapshots (no torn read)
        while True:
            a = mm[0:32]
            if mm[0:32] == a:
                break
        (batch,) = struct.unpack_from("<Q", a, 0)
        index, _count, start, _used = _PROGRESS.unpack_from(a, 8)
        if batch != seq or index == IDLE or index >= n or start <= 0.0:
            return None, 0.0
        return index, start

    def _finish(
        self, got: list[CallResult | tuple[str, str]]
    ) -> tuple[list[CallResult], CallResult | None, tuple[str, str] | None]:
        out: list[CallResult] = []
        for r in got:
            if isinstance(r, tuple):
                return out, None, r
            out.append(r)
        return out, None, None

    def _collect(self, child: _Child, records: list[bytes], seq: int) -> list[Any]:
        """Decode the chunks received plus the records in the shared file."""
        mm = child.mm
        raw = list(records)
        if struct.unpack_from("<Q", mm, 0)[0] == seq:
            _i, _c, _s, used = _PROGRESS.unpack_from(mm, 8)
            o = 0
            while o < used:
                (n,) = _LEN.unpack_from(mm, HEADER + o)
                raw.append(bytes(mm[HEADER + o + 4 : HEADER + o + 4 + n]))
                o += 4 + n
        out: list[Any] = []
        for rec in raw:
            t = pickle.loads(rec)
            if t and t[0] == "raise":
                out.append((t[1], t[2]))
            else:
                out.append(self._from_child(tuple_to_result(t)))
        return out

    def _died(
        self, child: _Child, calls: list[Call], records: list[bytes], seq: int
    ) -> tuple[list[CallResult], CallResult | None, tuple[str, str] | None]:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=5)
        # drain chunk messages that arrived before the end of the stream
        while True:
            try:
                msg = child.get_nowait()
            except queue.Empty:
                break
            if msg is _EOF or msg[0] in ("eof", "corrupt"):
                break
            if msg[0] == "chunk" and msg[1] == seq:
                records.extend(msg[2])
        got = self._collect(child, records, seq)
        completed, _f, raise_info = self._finish(got)
        if raise_info is not None:
            return completed, None, raise_info
        index = len(completed)
        how = _signal_name(child.proc.returncode)
        stderr = child.stderr_text()
        child.kill()
        if index >= len(calls):
            # everything finished; the child died afterwards (e.g. in DLL cleanup)
            return completed, None, None
        fault = CallResult(
            fault=CallFault(
                "child-died",
                f"child process {how} during call {index} ({_name(calls[index])}); DLL reloaded",
                {
                    "returncode": child.proc.returncode,
                    "index": index,
                    "stderr": stderr[-2000:],
                },
            )
        )
        return completed, fault, None

    def resource_usage(self) -> ResourceUsage | None:
        child = self._child
        if self._closed or child is None or not child.send(("usage",)):
            return None
        while True:
            try:
                msg = child.get(timeout=30)
            except queue.Empty:
                return None
            if msg[0] == "usage":
                result: ResourceUsage | None = msg[1]
                return result
            if msg is _EOF or msg[0] == "eof":
                return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        child, self._child = self._child, None
        if child is None:
            return
        if self._owner != os.getpid():  # a forked copy: the child belongs to the parent
            child.forget()
            return
        # the child unloads the DLL (DLL_PROCESS_DETACH equivalent) and says whether anything
        # of it is left in the process; only a clean child goes back to the pool
        msg: Any = child.wait_for(("unloaded",), 5.0) if child.send(("unload",)) else _EOF
        clean = msg is not None and msg is not _EOF and msg[0] == "unloaded" and not msg[1]
        if clean and self._reuse and child.alive() and _POOL.put(self._key, child):
            return
        if msg is None:  # unload hangs: kill
            child.dispose()
        else:
            child.retire()

    def __del__(self) -> None:
        child = getattr(self, "_child", None)
        if child is None:
            return
        if sys.is_finalizing():
            with contextlib.suppress(Exception):
                child.proc.kill()
            return
        with contextlib.suppress(Exception):
            self.close()


_LIVE: weakref.WeakSet[IsolatedDll] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Unload every still-open isolated DLL, then end and reap the idle children."""
    for dll in list(_LIVE):
        with contextlib.suppress(Exception):
            dll.close()
    _POOL.shutdown()


def _hook_multiprocessing() -> None:
    """Reap our children in multiprocessing's forked workers too: they end with os._exit,
    which skips atexit, but they run multiprocessing's own exit finalizers."""
    try:
        from multiprocessing import util
    except ImportError:  # pragma: no cover - a Python without multiprocessing
        return

    def in_worker(pool: _Pool) -> None:
        util.Finalize(None, _close_all, exitpriority=10)

    util.register_after_fork(_POOL, in_worker)


def _after_fork() -> None:
    # a forked copy must not talk to (or keep pipes of) the parent's children
    for dll in list(_LIVE):
        dll._owner = -1
        if dll._child is not None:
            dll._child.forget()
    _POOL.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _name(call: Call) -> str:
    t = call.target
    return t if isinstance(t, str) else f"{call.signature or '?'} at {t:#x}"


def _strip_where(message: str, path: str) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
