"""Loader throughput: get+release cycles per second, against a raw cffi loop measured in the same run.

    python bench/loaders.py [--cycles N] [--batch N] [--repeat N]

Rows: raw cffi loop on the good fixture's .so (baseline), NativeAdminDll in-process (targets:
<= 3x the raw loop's time per cycle), IsolatedDll(native) batched (target: >= 20k cycles/s),
IsolatedDll(native) unbatched, PythonLoader on the good stand-in, IsolatedDll(python) batched.
One cycle = GetIpAddressForUser + ReleaseIpAddress for one user, addresses read back.

Second table (milliseconds, best of N): IsolatedDll(native) open+close with a new child each
time (cold) and from the warm pool; the standard conformance run (check_dll) on the good .so
isolated -- first run in this process (pool empty) and again (pool warm) -- against the same run
with isolate=False (target: the isolated run under 2 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.loaders.base import AdminDll, Call  # noqa: E402

SENTINEL = 0xA5A5A5A5
USERS = [(f"user{i}", f"VPN{i}") for i in range(32)]


# In-process rows use this process's CPU time (other processes on a busy machine do not count);
# rows with a child process use wall time.
cpu_clock = time.process_time


def raw_cffi(lib_path: str, cycles: int, clock: Callable[[], float] = cpu_clock) -> float:
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(
        "uint32_t MprAdminGetIpAddressForUser(uint16_t *, uint16_t *, uint32_t *, int32_t *);"
        "void MprAdminReleaseIpAddress(uint16_t *, uint16_t *, uint32_t *);"
    )
    lib = ffi.dlopen(lib_path)
    get, rel = lib.MprAdminGetIpAddressForUser, lib.MprAdminReleaseIpAddress
    names = [
        (
            ffi.new("uint16_t[]", [ord(c) for c in u] + [0]),
            ffi.new("uint16_t[]", [ord(c) for c in p] + [0]),
        )
        for u, p in USERS
    ]
    ip = ffi.new("uint32_t[1]")
    notify = ffi.new("int32_t[1]")
    n = len(names)
    t0 = clock()
    for i in range(cycles):
        u, p = names[i % n]
        ip[0] = 0
        notify[0] = -1
        if get(u, p, ip, notify) != 0:
            raise RuntimeError("GetIp failed")
        rel(u, p, ip)
    dt = clock() - t0
    ffi.dlclose(lib)
    return cycles / dt


def per_call(dll: AdminDll, cycles: int, clock: Callable[[], float] = time.perf_counter) -> float:
    n = len(USERS)
    t0 = clock()
    for i in range(cycles):
        u, p = USERS[i % n]
        r = dll.handle_call(Call("MprAdminGetIpAddressForUser", (u, p, 0, SENTINEL)))
        dll.handle_call(Call("MprAdminReleaseIpAddress", (u, p, r.outputs[2])))
    return cycles / (clock() - t0)


def batched(dll: AdminDll, cycles: int, batch: int) -> float:
    """Batches of ``batch`` gets (distinct users), then the matching releases."""
    batch = min(batch, len(USERS))
    t0 = time.perf_counter()
    done = 0
    while done < cycles:
        k = min(batch, cycles - done)
        gets = [Call("MprAdminGetIpAddressForUser", (u, p, 0, SENTINEL)) for u, p in USERS[:k]]
        res = dll.handle_calls(gets)
        rels = [
            Call("MprAdminReleaseIpAddress", (u, p, r.outputs[2]))
            for (u, p), r in zip(USERS[:k], res, strict=True)
        ]
        dll.handle_calls(rels)
        done += k
    return cycles / (time.perf_counter() - t0)


def batched_mixed(dll: AdminDll, cycles: int, batch: int) -> float:
    """One batch = ``batch`` get+release pairs (release address from the pool's known first slot).

    Every get in this batch is followed by its release, so the pool hands out the first address
    each time; that address is known in advance, which lets a whole cycle run in one round trip.
    """
    from emulator.abi.addresses import ip_to_dword

    first = ip_to_dword("192.168.100.10")
    calls: list[Call] = []
    for i in range(batch):
        u, p = USERS[i % len(USERS)]
        calls.append(Call("MprAdminGetIpAddressForUser", (u, p, 0, SENTINEL)))
        calls.append(Call("MprAdminReleaseIpAddress", (u, p, first)))
    t0 = time.perf_counter()
    done = 0
    while done < cycles:
        res = dll.handle_calls(calls)
        if res[0].outputs[2] != first:
            raise RuntimeError("unexpected address")
        done += batch
    return done / (time.perf_counter() - t0)


def prebuilt_calls(dll: AdminDll, cycles: int) -> float:
    """Like per_call, with the Call objects built once (handle_call alone is timed)."""
    from emulator.abi.addresses import ip_to_dword

    first = ip_to_dword("192.168.100.10")
    gets = [Call("MprAdminGetIpAddressForUser", (u, p, 0, SENTINEL)) for u, p in USERS]
    rels = [Call("MprAdminReleaseIpAddress", (u, p, first)) for u, p in USERS]
    n = len(USERS)
    handle = dll.handle_call
    t0 = cpu_clock()
    for i in range(cycles):
        j = i % n
        if handle(gets[j]).outputs[2] != first:
            raise RuntimeError("unexpected address")
        handle(rels[j])
    return cycles / (cpu_clock() - t0)


def row(name: str, rate: float, base: float) -> None:
    print(f"{name:<44} {rate:>12,.0f} cycles/s   {base / rate:>6.2f}x raw time/cycle")


def ms_row(name: str, seconds: float, base: float | None = None, note: str = "") -> None:
    ratio = f"{seconds / base:>6.2f}x" if base else " " * 7
    print(f"{name:<52} {seconds * 1e3:>9.1f} ms  {ratio} {note}")


def open_close(lib: str, n: int, *, reuse: bool) -> float:
    """Seconds per IsolatedDll open + close (reuse=False: a new child every time)."""
    from emulator.loaders.isolated import IsolatedDll

    t0 = time.perf_counter()
    for _ in range(n):
        IsolatedDll("native", lib, reuse=reuse).close()
    return (time.perf_counter() - t0) / n


def open_pair(lib: str, prestart: bool) -> float:
    """Seconds to open the host's two instances with no warm child idle."""
    from emulator.loaders import isolated

    isolated.clear_pool()
    isolated.configure_pool(prestart=prestart)
    t0 = time.perf_counter()
    a = isolated.IsolatedDll("native", lib)
    b = isolated.IsolatedDll("native", lib)
    dt = time.perf_counter() - t0
    a.close()
    b.close()
    return dt


def lifecycle(lib: str, repeat: int) -> None:
    from emulator.conformance.run import check_dll
    from emulator.loaders import isolated

    print()
    print("open/close and the standard conformance run (wall time, best of N)")
    isolated.clear_pool()
    first_in_process = _timed(lambda: check_dll(lib, isolate=False))  # pays the imports
    t0 = time.perf_counter()
    report = check_dll(lib)
    cold_check = time.perf_counter() - t0
    warm_check = min(_timed(lambda: check_dll(lib)) for _ in range(repeat))
    in_process = min(_timed(lambda: check_dll(lib, isolate=False)) for _ in range(repeat))
    if report.findings != check_dll(lib, isolate=False).findings:
        print("  !! isolated and in-process runs found different things")
    cold = min(open_close(lib, 3, reuse=False) for _ in range(repeat))
    isolated.clear_pool()
    isolated.IsolatedDll("native", lib).close()  # the pool now holds warm children
    warm = min(open_close(lib, 20, reuse=True) for _ in range(repeat))
    pair = {flag: min(open_pair(lib, flag) for _ in range(repeat)) for flag in (False, True)}
    isolated.configure_pool(prestart=True)
    ms_row("IsolatedDll(native) open+close (cold, new child)", cold)
    ms_row("IsolatedDll(native) open+close (warm pool)", warm, cold, "of cold")
    ms_row("two instances (R36) from an empty pool, no prestart", pair[False])
    ms_row("two instances (R36) from an empty pool, prestart", pair[True], pair[False])
    ms_row("check_dll good .so, isolate=False (baseline)", in_process, in_process)
    ms_row("check_dll good .so, isolate=False, first in process", first_in_process, in_process)
    ms_row("check_dll good .so, isolated, pool empty", cold_check, in_process)
    ms_row("check_dll good .so, isolated, pool warm", warm_check, in_process)
    stats = isolated.pool_stats()
    print(f"  children started {stats['spawned']}, reused {stats['reused']} times")


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs per row (noise)")
    ap.add_argument("--no-lifecycle", action="store_true", help="skip the open/close table")
    a = ap.parse_args()
    from emulator.loaders.isolated import IsolatedDll
    from emulator.loaders.native import NativeLoader
    from emulator.loaders.python import PythonLoader
    from fixtures.dlls.build import native_library

    lib = str(native_library("good"))
    standin = str(ROOT / "fixtures" / "standins" / "good.py")
    n = a.cycles
    base = max(raw_cffi(lib, n) for _ in range(max(a.repeat, 5)))
    wall = max(raw_cffi(lib, n, time.perf_counter) for _ in range(max(a.repeat, 5)))
    print(f"cycles={n} batch={a.batch} best of {a.repeat}  (one cycle = GetIp + ReleaseIp)")
    print("in-process rows: CPU time of this process, against the raw loop's CPU time;")
    print("isolated rows: wall time, against the raw loop's wall time")
    row("raw cffi loop (baseline, CPU time)", base, base)
    row("raw cffi loop (baseline, wall time)", wall, wall)
    runs: list[tuple[str, Callable[[], float]]] = []
    native = NativeLoader().load(lib)
    runs.append(("NativeAdminDll in-process, handle_call", lambda: per_call(native, n, cpu_clock)))
    runs.append(
        ("NativeAdminDll in-process, Calls prebuilt", lambda: prebuilt_calls(native, n))
    )
    iso = IsolatedDll("native", lib)
    runs.append(
        (
            f"IsolatedDll(native), batches of {a.batch} pairs",
            lambda: batched_mixed(iso, n, a.batch),
        )
    )
    runs.append(("IsolatedDll(native), gets then releases x32", lambda: batched(iso, n // 4, 32)))
    runs.append(("IsolatedDll(native), handle_call (unbatched)", lambda: per_call(iso, n // 50)))
    py = PythonLoader().load(standin)
    runs.append(("PythonLoader in-process, handle_call", lambda: per_call(py, n // 5, cpu_clock)))
    iso_py = IsolatedDll("python", standin)
    runs.append(
        (
            f"IsolatedDll(python), batches of {a.batch} pairs",
            lambda: batched_mixed(iso_py, n // 5, a.batch),
        )
    )
    for name, fn in runs:
        row(name, max(fn() for _ in range(a.repeat)), wall if "Isolated" in name else base)
    native.close()
    iso.close()
    iso_py.close()
    py.close()
    if not a.no_lifecycle:
        lifecycle(lib, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
