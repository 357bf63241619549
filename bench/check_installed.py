"""Benchmark ``rasemu check --install``: the whole job against a plain ``rasemu check``.

Measured in one run, in-process, on the committed x64 PE fixture good64.dll and the Python
stand-in good.py:

1. baseline: ``check_dll`` (the DLL registered directly, standard scenarios);
2. ``check_installed`` with the reg.exe script pair (copy + reg add; reg delete + del);
3. ``check_installed`` with the Python winreg pair (pyfakefs run of the installer);
4. ``check_installed`` with the .reg pair.

Prints the median wall time of each, its ratio to the baseline and the absolute extra time:
the setup phases should add little to the scenarios (target: under 100 ms extra; the shared
machine makes single runs noisy, hence medians).

    python bench/check_installed.py [--n 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.conformance.run import check_dll, check_installed  # noqa: E402

INSTALLERS = ROOT / "fixtures" / "installers"
DLLS = {"good64.dll (pe)": ROOT / "fixtures" / "dlls" / "prebuilt" / "good64.dll",
        "good.py (stand-in)": ROOT / "fixtures" / "standins" / "good.py"}
PAIRS = {".cmd": ("good_install.cmd", "good_uninstall.cmd"),
         ".py": ("good_install.py", "good_uninstall.py"),
         ".reg": ("good_install.reg", "good_uninstall.reg")}


def median(fn: Callable[[], object], n: int) -> float:
    fn()  # warm-up: imports, first PE mapping
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5, help="repetitions per measurement")
    n = ap.parse_args().n
    for label, dll in DLLS.items():
        base = median(lambda dll=dll: check_dll(dll, keep_traces=False), n)
        print(f"{label}: check_dll {base * 1000:.0f} ms (baseline)")
        for kind, (inst, uninst) in PAIRS.items():
            t = median(lambda dll=dll, i=inst, u=uninst: check_installed(
                dll, INSTALLERS / i, INSTALLERS / u, keep_traces=False), n)
            print(f"  check_installed {kind:5} {t * 1000:6.0f} ms  {t / base:.2f}x baseline  "
                  f"{(t - base) * 1000:+.0f} ms")


if __name__ == "__main__":
    main()
