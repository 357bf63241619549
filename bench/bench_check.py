"""Time the standard conformance run (``rasemu check``'s default scenario set) of one DLL.

Baseline: the same scenarios on an in-memory fake host (scenario machinery only, no DLL, no
engine). Then the real engine with the reference Python stand-in, the native build and the PE
builds where those loaders work. Prints seconds (best of N) and the ratio to the baseline.

    python bench/bench_check.py [-n 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "scenarios"))

from scenario_fakehost import FakeHost  # noqa: E402

from emulator.conformance.run import check_dll  # noqa: E402


def best(fn: Callable[[], object], n: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3)
    n = ap.parse_args().n
    good = ROOT / "fixtures" / "standins" / "good.py"
    base, rep = best(lambda: check_dll(good, host_factory=lambda **kw: FakeHost()), n)
    print(f"{'baseline (fake host)':38s} {base:7.3f} s  1.0x  sessions={rep.stats['sessions']}")  # type: ignore[attr-defined]
    cases = [
        ("python stand-in good.py", good, "win7-x64"),
        ("native libgood.so", ROOT / "fixtures" / "build" / "native" / "libgood.so", "win7-x64"),
        ("pe good64.dll", ROOT / "fixtures" / "dlls" / "prebuilt" / "good64.dll", "win7-x64"),
        ("pe good32.dll", ROOT / "fixtures" / "dlls" / "prebuilt" / "good32.dll", "win7-x86"),
    ]
    for label, path, prof in cases:
        if not path.exists():
            print(f"{label:38s} missing")
            continue
        secs, r = best(lambda p=path, pr=prof: check_dll(p, profile=pr, keep_traces=False), n)
        errs = sorted({f.rule for f in r.findings if f.severity.value == "error"})  # type: ignore[attr-defined]
        st = r.stats  # type: ignore[attr-defined]
        print(f"{label:38s} {secs:7.3f} s {secs / base:5.1f}x  sessions={st['sessions']} "
              f"calls={st['calls']} in-DLL={st['dll_seconds']:.3f} s errors={errs or 'none'}")


if __name__ == "__main__":
    main()
