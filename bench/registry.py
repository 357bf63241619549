"""Registry speed: winreg-style ops/s on rasemu's FakeWinreg vs the fake-winreg package, and
snapshot/diff time against the number of changes.

Also runs the .reg import/export benchmark of ``bench/regfile.py`` (``--reg-mb 0`` skips it).

Run: ``python bench/registry.py [--rounds N] [--iterations N] [--reg-mb 50]``. The fake-winreg baseline
(import name ``fake_winreg``; ``pip install fake-winreg``) is measured in the same run and
skipped with a message when it cannot be imported; set ``RASEMU_FAKE_WINREG_PATH`` to a
directory holding it to use a copy installed with ``pip install --target``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from emulator.registry import REG_DWORD, Registry, diff

try:
    from bench import regfile
except ImportError:  # run as a script from elsewhere: only bench/ itself is on sys.path
    import regfile  # type: ignore[no-redef]
from emulator.registry.winreg import FakeWinreg

KEY = r"SOFTWARE\Vendor\Product\Settings"
TARGET_OPS = 300_000
NEW = b"\xff\xff\xff\xff"  # differs from every seeded value


def simple_ops(w: Any, n: int) -> float:
    """Seconds for n rounds of open, set, query, close (4 ops each)."""
    h = w.CreateKey(w.HKEY_LOCAL_MACHINE, KEY)
    w.CloseKey(h)
    hk, access, dword = w.HKEY_LOCAL_MACHINE, w.KEY_ALL_ACCESS, w.REG_DWORD
    open_key, set_value, query, close = w.OpenKey, w.SetValueEx, w.QueryValueEx, w.CloseKey
    start = time.perf_counter()
    for i in range(n):
        h = open_key(hk, KEY, 0, access)
        set_value(h, "Count", 0, dword, i)
        if query(h, "Count")[0] != i:  # same case for both: fake-winreg is case-sensitive
            raise AssertionError("wrong value read back")
        close(h)
    return time.perf_counter() - start


def load_baseline() -> Any | None:
    extra = os.environ.get("RASEMU_FAKE_WINREG_PATH")
    if extra:
        sys.path.insert(0, extra)
    try:
        import fake_winreg
    except Exception as exc:  # any import failure: skip the baseline
        print(f"fake-winreg baseline skipped: cannot import fake_winreg ({exc.__class__.__name__}: {exc})")
        return None
    fake_winreg.use_backend(fake_winreg.InMemoryBackend())
    return fake_winreg


def best(fn: Callable[[], float], rounds: int) -> float:
    return min(fn() for _ in range(rounds))


def bench_ops(rounds: int, iterations: int) -> None:
    print(f"== simple winreg ops (open, set, query, close), best of {rounds} x {iterations} rounds")
    baseline = load_baseline()
    ours_t: list[float] = []
    base_t: list[float] = []
    for _ in range(rounds):  # interleaved so both see the same machine load
        ours_t.append(simple_ops(FakeWinreg(Registry()), iterations))
        if baseline is not None:
            base_t.append(simple_ops(baseline, iterations))
    ours = 4 * iterations / min(ours_t)
    print(f"rasemu FakeWinreg : {ours:>12,.0f} ops/s  (target >= {TARGET_OPS:,}: "
          f"{'met' if ours >= TARGET_OPS else 'MISSED'})")
    if base_t:
        base = 4 * iterations / min(base_t)
        print(f"fake-winreg       : {base:>12,.0f} ops/s")
        print(f"ratio rasemu / fake-winreg = {ours / base:.2f}x "
              f"({'not slower' if ours >= base else 'SLOWER'}; fake-winreg skips case folding and access checks)")


def bench_model(iterations: int) -> None:
    reg = Registry()
    path = "HKLM\\" + KEY
    data = b"\1\0\0\0"
    start = time.perf_counter()
    for _ in range(iterations):
        reg.set_value(path, "Count", REG_DWORD, data)
        reg.get_value(path, "count")
    dt = time.perf_counter() - start
    print(f"== model: Registry.set_value + get_value: {2 * iterations / dt:,.0f} ops/s")


def bench_snapshots(size: int) -> None:
    print(f"== snapshots of a registry with {size:,} keys (times in microseconds)")
    reg = Registry()
    for i in range(size):
        reg.set_value(rf"HKLM\SOFTWARE\Vendor{i % 100}\Key{i}", "v", REG_DWORD, i.to_bytes(4, "little"))
    base = reg.snapshot()
    print(f"{'changes':>8} {'writes after snapshot':>22} {'same writes, no snapshot':>25} "
          f"{'snapshot()':>11} {'diff()':>9} {'restore()':>10}")
    gc.disable()  # a collection pass over the whole tree would land in one random row
    snap = d = None
    for changes in (0, 1, 10, 100, 1000, 10000):
        snap = d = None  # freeing the previous round's objects must not land in the timings
        gc.collect()
        twin = Registry()
        twin.restore(base)
        reg.restore(base)
        reg.snapshot()  # freeze: the writes below pay copy-on-write
        t0 = time.perf_counter()
        for i in range(changes):
            reg.set_value(rf"HKLM\SOFTWARE\Vendor{i % 100}\Key{i}", "v", REG_DWORD, NEW)
        t1 = time.perf_counter()
        for i in range(changes):
            twin.set_value(rf"HKLM\SOFTWARE\Vendor{i % 100}\Key{i}", "v", REG_DWORD, NEW)
        t2 = time.perf_counter()
        snap = reg.snapshot()
        t3 = time.perf_counter()
        d = diff(base, snap)
        t4 = time.perf_counter()
        reg.restore(base)
        t5 = time.perf_counter()
        assert len(d.values_changed) == changes
        us = 1e6
        print(f"{changes:>8} {(t1 - t0) * us:>22,.0f} {(t2 - t1) * us:>25,.0f} "
              f"{(t3 - t2) * us:>11,.1f} {(t4 - t3) * us:>9,.0f} {(t5 - t4) * us:>10,.1f}")
    gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=30_000)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--reg-mb", type=float, default=50.0,
                        help="size of the generated .reg export (0 skips the .reg benchmark)")
    args = parser.parse_args()
    bench_ops(args.rounds, args.iterations)
    bench_model(args.iterations)
    bench_snapshots(args.size)
    if args.reg_mb > 0:
        print()
        print(".reg import/export (bench/regfile.py)")
        regfile.run(args.reg_mb)


if __name__ == "__main__":
    main()
