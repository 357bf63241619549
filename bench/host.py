"""Benchmark the simulated RAS host (emulator.host) against a raw cffi baseline.

Measured in one run, on the conforming native fixture (fixtures/dlls good, built for this host):

1. baseline: GetIpAddressForUser + ReleaseIpAddress called straight through cffi, buffers
   allocated once (the least any host written in Python can do);
2. the same pair through the native loader (``AdminDll.handle_call``) in-process;
3. the same pair through the host's IP path in-process: call by call (what ``connect`` and
   ``disconnect`` run) and batched (the IP phases of ``connect_many``/``disconnect_many``);
4. the pair in child-process mode: at the loader per call and batched with ``handle_calls``,
   and through the host call by call and batched; full sessions in a child process;
5. full sessions/s (GetIp, accept, link, link hang-up, hang-up, release) for the Python
   stand-in and the native library in-process, trace on and off, and batched x32;
6. 10,000 concurrently connected users (a big-pool in-bench DLL; the fixtures' pool has 64
   addresses): time, tracemalloc peak and ru_maxrss growth;
7. a standard conformance run (``emulator.conformance.run.check_dlls``) wall time;
8. structure packing, the compiled packer against the reference encoder (same run), the
   Python stand-in's argument copy (``structs.clone`` against ``copy.deepcopy``), and the
   import time of ``emulator.abi.structs`` in a fresh interpreter.

Targets: host in-process overhead <= 3x the raw cffi loop; >= 20k full sessions/s native
in-process; child-process mode >= 20k get+release cycles/s through the host (batched:
connect_many/disconnect_many); 10k concurrent users with peak < 300 MB. A "floor" row shows the
raw loop plus only the checks a conforming host cannot skip, inline (what is left of the 3x
budget for call records, the host-side monitor and session bookkeeping).

``--before DIR`` also measures the full-session figures (5) with the ``emulator`` package of
another tree (e.g. ``git archive HEAD | tar -x -C /tmp/before``) in a child process of the same
run, and prints before/after ratios.

    python bench/host.py [--n 20000] [--users 10000] [--quick] [--before DIR]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
#: --tree DIR (internal, for --before): import the emulator package from another tree
TREE = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--tree"), None)
if TREE:
    sys.path.insert(0, TREE)

from emulator.host.connection import ip_to_dword  # noqa: E402
from emulator.host.engine import RasHost  # noqa: E402
from emulator.loaders.base import AdminDll, Call, CallResult  # noqa: E402
from emulator.registry.model import REG_SZ, Registry  # noqa: E402

KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll"
WIN = "C:\\Windows\\System32\\vendor.dll"
GET, REL = "MprAdminGetIpAddressForUser", "MprAdminReleaseIpAddress"


def registry() -> Registry:
    reg = Registry()
    reg.set_value(KEY, "DLLPath", REG_SZ, (WIN + "\0").encode("utf-16-le"))
    reg.set_value(KEY, "DisplayName", REG_SZ, "bench\0".encode("utf-16-le"))
    return reg


def rate(n: int, fn: Callable[[], None], repeat: int = 3) -> float:
    """Best of ``repeat`` runs of ``fn`` (which performs ``n`` operations): operations/s."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def raw_cffi(lib: str, n: int) -> float:
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("""
        uint32_t MprAdminGetIpAddressForUser(wchar_t *, wchar_t *, uint32_t *, int32_t *);
        void MprAdminReleaseIpAddress(wchar_t *, wchar_t *, uint32_t *);
    """)
    dll = ffi.dlopen(lib)
    user = ffi.new("wchar_t[]", "alice")
    port = ffi.new("wchar_t[]", "VPN0")
    addr = ffi.new("uint32_t[1]")
    notify = ffi.new("int32_t[1]")
    get, rel = dll.MprAdminGetIpAddressForUser, dll.MprAdminReleaseIpAddress

    def loop() -> None:
        for _ in range(n):
            addr[0] = 0
            notify[0] = -0x5A5A5A5B
            get(user, port, addr, notify)
            rel(user, port, addr)

    return rate(2 * n, loop)


def checked_floor(lib: str, n: int) -> float:
    """The raw loop plus the least checking any conforming host must do per call, inline:
    the input strings compared after the call (R69), the return value, *bNotifyRelease and the
    address read and checked (R56, R61, R62), the address's owner kept (R63). No call records,
    no monitor, no sessions: a floor for a host written in Python, not a host."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("""
        uint32_t MprAdminGetIpAddressForUser(uint16_t *, uint16_t *, uint32_t *, uint32_t *);
        void MprAdminReleaseIpAddress(uint16_t *, uint16_t *, uint32_t *);
    """)
    dll = ffi.dlopen(lib)

    def wide(text: str) -> tuple[Any, bytes, Any]:
        raw = (text + "\0").encode("utf-16-le")
        buf = ffi.new("uint16_t[]", len(raw) // 2)
        ffi.memmove(buf, raw, len(raw))
        return buf, raw, ffi.buffer(buf)

    user, user_raw, user_view = wide("alice")
    port, port_raw, port_view = wide("VPN0")
    addr = ffi.new("uint32_t[1]")
    notify = ffi.new("uint32_t[1]")
    get, rel = dll.MprAdminGetIpAddressForUser, dll.MprAdminReleaseIpAddress
    bad_first = bytes(1 if b in (0, 127) or b >= 224 else 0 for b in range(256))
    sentinel = 0xA5A5A5A5

    def loop() -> None:
        owners: dict[int, int] = {}
        odd = 0
        for i in range(n):
            addr[0] = 0
            notify[0] = sentinel
            rc = get(user, port, addr, notify)
            value = addr[0]
            told = notify[0]
            if rc or not value or told > 1 or bad_first[value & 0xFF] or value in owners \
                    or user_view != user_raw or port_view != port_raw:
                odd += 1
                continue
            owners[value] = i
            if told:
                rel(user, port, addr)
                if user_view != user_raw or port_view != port_raw:
                    odd += 1
            del owners[value]
        assert not odd

    return rate(2 * n, loop)


def loader_pair(dll: AdminDll, n: int, batched: bool = False) -> float:
    def loop() -> None:
        for _ in range(n):
            r = dll.handle_call(Call(GET, ("alice", "VPN0", 0, 0xA5A5A5A5)))
            dll.handle_call(Call(REL, ("alice", "VPN0", r.outputs[2])))

    def loop_batched() -> None:
        # one lease at a time (the pool has 64 addresses): Get then Release, batched per 32 users
        k = 32
        for i in range(0, n, k):
            users = [f"u{j}" for j in range(min(k, n - i))]
            got = dll.handle_calls([Call(GET, (u, "VPN0", 0, 0xA5A5A5A5)) for u in users])
            dll.handle_calls([Call(REL, (u, "VPN0", r.outputs.get(2, 0)))
                              for u, r in zip(users, got, strict=True)])

    return rate(2 * n, loop_batched if batched else loop)


def host_for(path: str, opener: Any = None, trace: bool = False, **kw: Any) -> RasHost:
    host = RasHost(registry(), "win7-x64", path_map={WIN: path}, trace=trace, opener=opener,
                   **kw)
    if not host.start():
        raise SystemExit(f"host did not start: {[f.message for f in host.findings]}")
    return host


def host_ip_pair(host: RasHost, n: int) -> float:
    ipd = host._ip_dll
    assert ipd is not None
    from emulator.host.connection import SessionInfo
    from emulator.host.engine import Session

    def loop() -> None:
        for i in range(n):
            info = SessionInfo(i, "alice", "VPN0")
            s = Session("alice", "VPN0", "refused", None, info.links, None, i, info)
            host._get_ip(ipd, s, 0, False)
            host._release(s)

    return rate(2 * n, loop)


def host_ip_batched(host: RasHost, n: int, k: int = 32) -> float:
    """The IP phases of connect_many/disconnect_many: GetIp for ``k`` sessions in one batch,
    then their releases in one batch (the fixtures' pool has 64 addresses)."""
    ipd = host._ip_dll
    assert ipd is not None
    from emulator.host.connection import SessionInfo
    from emulator.host.engine import Session

    def loop() -> None:
        for i in range(0, n, k):
            batch = []
            for j in range(i, min(i + k, n)):
                info = SessionInfo(j, f"u{j - i}", "VPN0")
                batch.append(Session(info.user, "VPN0", "refused", None, info.links, None, j,
                                     info))
            oks = host._get_ips(ipd, [(s, 0, False) for s in batch])
            assert all(oks)
            host._release_many(batch)

    return rate(2 * n, loop)


def sessions_batched(host: RasHost, n: int, k: int = 32) -> float:
    """Full sessions through connect_many/disconnect_many, ``k`` users at a time."""
    users = [(f"u{j}", f"VPN{j}") for j in range(k)]

    def loop() -> None:
        for i in range(0, n, k):
            host.disconnect_many(host.connect_many(users[: min(k, n - i)]))

    return rate(n, loop)


def sessions(host: RasHost, n: int) -> float:
    def loop() -> None:
        for _ in range(n):
            host.disconnect(host.connect("alice", "VPN0"))

    return rate(n, loop)


class BigPoolDll(AdminDll):
    """A conforming in-bench DLL with a 2^20-address pool (for the 10k-users figure)."""

    loader_name = "bench"
    machine = "python"
    _EX = frozenset({GET, REL, "MprAdminAcceptNewConnectionEx", "MprAdminAcceptNewLink",
                     "MprAdminConnectionHangupNotificationEx", "MprAdminLinkHangupNotification",
                     "MprAdminTerminateDll", "MprAdminInitializeDll"})

    def __init__(self, path: str, **kw: Any) -> None:
        self.path = path
        self.free: list[int] = []
        self.next = 1
        self.leases: dict[tuple[str, str], int] = {}

    @property
    def exports(self) -> frozenset[str]:
        return self._EX

    def handle_call(self, call: Call) -> CallResult:
        name = call.target
        a = call.args
        if name == GET:
            if self.free:
                n = self.free.pop()
            else:
                n, self.next = self.next, self.next + 1
            addr = ip_to_dword(0x0A000000 + n)
            self.leases[(a[0], a[1])] = n
            return CallResult(0, {2: addr, 3: 1})
        if name == REL:
            n2 = self.leases.pop((a[0], a[1]), None)
            if n2 is not None:
                self.free.append(n2)
            return CallResult(None, {2: a[2]})
        if name in ("MprAdminTerminateDll", "MprAdminInitializeDll"):
            return CallResult(0)
        return CallResult(1 if "Accept" in str(name) else None)

    def close(self) -> None:
        self.free = []


def peak_rss_mb() -> float:
    """This process's peak resident set: VmHWM on Linux (reset by exec, unlike ru_maxrss,
    which a child inherits from its parent), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def many_users(users: int, trace: bool, measure_peak: bool) -> dict[str, float]:
    """Connect ``users`` users, then disconnect them; run in a fresh process for ru_maxrss."""
    gc.collect()
    rss0 = peak_rss_mb()
    if measure_peak:
        tracemalloc.start()
    t = time.perf_counter()
    host = host_for("bigpool", opener=lambda p, **kw: BigPoolDll(p), trace=trace)
    live = [host.connect(f"user{i:06d}", f"VPN{i % 10000}") for i in range(users)]
    t_conn = time.perf_counter() - t
    assert host.stats["connected_now"] == users
    peak = tracemalloc.get_traced_memory()[1] if measure_peak else 0
    for s in live:
        host.disconnect(s)
    host.stop()
    if measure_peak:
        tracemalloc.stop()
    rss1 = peak_rss_mb()
    bad = [f for f in host.findings if f.severity.value == "error"]
    assert not bad, bad
    return {"connect_s": t_conn, "peak_mb": peak / 1e6, "rss0_mb": rss0, "rss_mb": rss1}


def conformance_run(paths: list[str]) -> list[tuple[str, float, int]]:
    from emulator.conformance.run import check_dlls

    out = []
    for p in paths:
        t = time.perf_counter()
        reports = check_dlls([p])
        dt = time.perf_counter() - t
        n = sum(len(getattr(r, "findings", [])) for r in reports)
        out.append((Path(p).name, dt, n))
    return out


def per_op_us(fn: Callable[[], object], n: int) -> float:
    """Best-of-3 microseconds per call of ``fn``."""
    def loop() -> None:
        for _ in range(n):
            fn()

    return 1e6 / rate(n, loop)


def packing(n: int) -> list[str]:
    """Rows for structure packing and copying (compiled vs reference in this run)."""
    import copy
    import subprocess

    from emulator.abi import structs as S
    from emulator.host.connection import SessionInfo, build_args

    info = SessionInfo(7, "alice", "VPN0")
    info.address = info.server_address = None
    objs = [*build_args("MprAdminAcceptNewConnectionEx", info, 64),
            *build_args("MprAdminAcceptNewLink", info, 64, port="VPN0")]
    names = "+".join(type(o).__name__ for o in objs)
    for o in objs:
        assert S.pack(o, 64) == S.pack_reference(o, 64)
    ref = per_op_us(lambda: [S.pack_reference(o, 64) for o in objs], n)
    fast = per_op_us(lambda: [S.pack(o, 64) for o in objs], n)
    ex = objs[0]
    dc = per_op_us(lambda: copy.deepcopy(ex), n)
    cl = per_op_us(lambda: S.clone(ex), n)
    rows = [f"  structs.pack {names}: reference {ref:7.1f} us, compiled {fast:6.1f} us "
            f"({ref / fast:5.1f}x faster)",
            f"  stand-in argument copy RAS_CONNECTION_EX: deepcopy {dc:6.1f} us, structs.clone "
            f"{cl:5.1f} us ({dc / cl:4.1f}x faster)"]
    best = float("inf")
    for _ in range(5):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c",
                              "import emulator.abi.structs"], capture_output=True, text=True,
                             cwd=str(ROOT), check=True).stderr
        for line in err.splitlines():
            if line.rstrip().endswith("| emulator.abi.structs"):
                best = min(best, int(line.split("|")[1]) / 1000)
    rows.append(f"  import emulator.abi.structs (cumulative, best of 5)  {best:6.1f} ms")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="get+release pairs / sessions per figure")
    ap.add_argument("--users", type=int, default=10000, help="concurrently connected users")
    ap.add_argument("--quick", action="store_true", help="smaller counts, skip the child process")
    ap.add_argument("--users-only", choices=["rss", "peak", "rss-trace", "peak-trace"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--before", metavar="DIR",
                    help="another tree whose emulator package gives the 'before' session figures")
    ap.add_argument("--tree", help=argparse.SUPPRESS)
    ap.add_argument("--sessions-only", choices=["python-off", "python-on", "native-off",
                                                "native-on"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.users_only:
        mu = many_users(args.users, args.users_only.endswith("trace"),
                        args.users_only.startswith("peak"))
        print(f"{mu['connect_s']} {mu['peak_mb']} {mu['rss0_mb']} {mu['rss_mb']}")
        return 0
    n = 2000 if args.quick else args.n

    from emulator.loaders.native import NativeLoader
    from fixtures.dlls.build import native_library

    lib = str(native_library("good"))
    standin = str(ROOT / "fixtures" / "standins" / "good.py")

    def native(p: str, **kw: Any) -> AdminDll:
        return NativeLoader().load(p, bitness=kw.get("bitness"))

    def python(p: str, **kw: Any) -> AdminDll:
        from emulator.loaders.python import PythonLoader

        return PythonLoader().load(p, bitness=kw.get("bitness"))

    def session_rate(kind: str, trace: bool, count: int) -> float:
        path, op = (lib, native) if kind == "native" else (standin, python)
        hh = host_for(path, opener=op, trace=trace)
        r = sessions(hh, count)
        hh.stop()
        return r

    if args.sessions_only:
        kind, _, tr = args.sessions_only.partition("-")
        print(session_rate(kind, tr == "on", n))
        return 0

    def before_rate(kind: str, trace: bool, count: int) -> float | None:
        if not args.before:
            return None
        import subprocess

        out = subprocess.run(
            [sys.executable, __file__, "--tree", args.before, "--n", str(count),
             "--sessions-only", f"{kind}-{'on' if trace else 'off'}"],
            capture_output=True, text=True, check=True).stdout.split()
        return float(out[-1])

    print(f"rasemu host benchmark (n={n}, users={args.users})"
          + (f"; before = {args.before}" if args.before else ""))
    for row in packing(max(200, n // 10)):
        print(row)
    base = raw_cffi(lib, n)
    print(f"  raw cffi get+release          {base:12,.0f} calls/s   (baseline)")
    fl = checked_floor(lib, n)
    print(f"  raw + inline checks (floor)   {fl:12,.0f} calls/s   {base / fl:6.1f}x raw "
          "(R56/R61-R63/R69 only: no records, monitor or sessions)")
    d = NativeLoader().load(lib)
    ld = loader_pair(d, n)
    d.close()
    print(f"  native loader handle_call     {ld:12,.0f} calls/s   {base / ld:6.1f}x slower than raw")
    h = host_for(lib, opener=native)
    hp = host_ip_pair(h, n)
    hb = host_ip_batched(h, n)
    h.stop()
    print(f"  host IP path, in-process      {hp:12,.0f} calls/s   {base / hp:6.1f}x raw, "
          f"{ld / hp:4.2f}x the loader (target <= 3x raw)")
    print(f"  host IP path, batched x32     {hb:12,.0f} calls/s   {base / hb:6.1f}x raw "
          "(connect_many/disconnect_many)")
    if not args.quick:
        from emulator.loaders.select import open_dll

        iso = open_dll(lib, loader="native", isolate=True)
        m = max(200, n // 20)
        per = loader_pair(iso, m)
        bat = loader_pair(iso, m, batched=True)
        iso.close()
        print(f"  child process, per call       {per:12,.0f} calls/s   {base / per:6.1f}x raw")
        print(f"  child process, batched x32    {bat:12,.0f} calls/s   {base / bat:6.1f}x raw")
        hc = host_for(lib, loader="native", isolate=True)
        hcp = host_ip_pair(hc, m)
        hcb = host_ip_batched(hc, m)
        hcs = sessions(hc, m // 4)
        hcsb = sessions_batched(hc, m // 2)
        hc.stop()
        print(f"  host IP path, child process   {hcp / 2:12,.0f} get+release cycles/s (per call)")
        print(f"  host IP path, child, x32      {hcb / 2:12,.0f} get+release cycles/s "
              "(connect_many/disconnect_many; target >= 20k)")
        print(f"  full sessions, native child   {hcs:12,.0f} sessions/s (connect/disconnect)")
        print(f"  full sessions, child, x32     {hcsb:12,.0f} sessions/s "
              "(connect_many/disconnect_many)")
    hn = host_for(lib, opener=native)
    nb = sessions_batched(hn, n)
    hn.stop()
    print(f"  full sessions, native, in-process, x32 {nb:10,.0f} sessions/s "
          "(connect_many/disconnect_many)")
    for label, kind in (("python stand-in", "python"), ("native, in-process", "native")):
        for trace in (False, True):
            count = n if trace is False else n // 2
            b = before_rate(kind, trace, count)
            r = session_rate(kind, trace, count)
            print(f"  full sessions, {label:19s} trace={'on ' if trace else 'off'} "
                  f"{r:10,.0f} sessions/s"
                  + (f"   (before {b:,.0f}/s: {r / b:4.2f}x)" if b else "")
                  + ("   (target >= 20k)" if kind == "native" and not trace else ""))
    import subprocess

    for trace in ("", "-trace"):
        figs = {}
        for kind in ("rss", "peak"):
            out = subprocess.run(
                [sys.executable, __file__, "--users", str(args.users), "--users-only",
                 kind + trace], capture_output=True, text=True, check=True).stdout.split()
            figs[kind] = [float(x) for x in out]
        print(f"  {args.users:,} concurrent users, trace={'on ' if trace else 'off'}: connect "
              f"{figs['rss'][0]:.2f} s, process peak RSS {figs['rss'][3]:.1f} MB (before: "
              f"{figs['rss'][2]:.1f} MB), tracemalloc peak {figs['peak'][1]:.1f} MB "
              "(target < 300 MB)")
    if not args.quick and (ROOT / "emulator" / "conformance" / "run.py").exists():
        for name, dt, nf in conformance_run([standin, lib]):
            print(f"  standard conformance run {name:18s} {dt:6.2f} s  ({nf} findings incl. info)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
