"""``rasemu check --jobs N``: wall time of checking several DLLs one by one, jobs 1 vs 2 vs 4.

Run: python bench/check_jobs.py [--pe]  (stand-ins by default; --pe uses the prebuilt 32-bit PE
DLLs under win2003-x86, where each check is CPU-bound emulation). The baseline is jobs=1 in the
same run; ratios > 1 mean faster.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.conformance.run import check_dlls  # noqa: E402

VARIANTS = ("good", "bad_no_notify", "bad_dup_address", "bad_byteswap", "bad_leak", "bad_broadcast")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pe", action="store_true", help="prebuilt PE DLLs instead of stand-ins")
    ap.add_argument("--scenario", action="append", default=None)
    args = ap.parse_args()
    if args.pe:
        paths = [ROOT / "fixtures" / "dlls" / "prebuilt" / f"{v}32.dll" for v in VARIANTS]
        profile = "win2003-x86"
    else:
        paths = [ROOT / "fixtures" / "standins" / f"{v}.py" for v in VARIANTS]
        profile = "win7-x64"
    print(f"{len(paths)} DLLs ({'PE' if args.pe else 'stand-ins'}), profile {profile}, "
          f"{os.cpu_count()} CPUs")
    base = None
    findings = None
    for jobs in (1, 2, 4):
        t0 = time.perf_counter()
        reports = check_dlls(paths, profile=profile, together=False, jobs=jobs,
                             scenarios=args.scenario, keep_traces=False)
        dt = time.perf_counter() - t0
        got = [sorted((f.rule, f.severity.value) for f in r.findings) for r in reports]
        if findings is None:
            findings = got
        same = "same findings" if got == findings else "FINDINGS DIFFER"
        base = base or dt
        print(f"jobs={jobs}: {dt:7.2f} s  x{base / dt:4.2f} vs jobs=1  ({same})")


if __name__ == "__main__":
    main()
