"""Setup validation cost per installer kind, against the fixed sandbox cost measured in the same run.

    python bench/setup_validate.py [--repeat N]

Baseline: seed the ``ras_server`` registry, snapshot, diff (what every validation pays).
Rows: validate_installer on the conforming install+uninstall pairs of fixtures/installers
(.reg, reg.exe .cmd, Python winreg 64/32-bit) and the self-registering DLL (PE emulation).
Median wall time of N runs after one warm-up (the first Python run pays pyfakefs's module scan).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.registry.seeds import seeded  # noqa: E402
from emulator.registry.snapshot import diff  # noqa: E402
from emulator.setup import validate_installer  # noqa: E402

INST = ROOT / "fixtures" / "installers"
DLL = ROOT / "fixtures" / "dlls" / "prebuilt" / "good64.dll"
SELFREG = ROOT / "fixtures" / "dlls" / "prebuilt_selfreg" / "selfreg64.dll"


def baseline() -> None:
    reg = seeded("ras_server")
    a = reg.snapshot()
    reg.set_value("HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll", "DLLPath", 1, b"C\0:\0\0\0")
    diff(a, reg.snapshot())


def pair(install: str, uninstall: str, **kw: object) -> Callable[[], None]:
    def run() -> None:
        r = validate_installer(INST / install, INST / uninstall, dll=DLL,
                               dll_name="contoso_rasadm.dll", **kw)  # type: ignore[arg-type]
        assert r.passed, r.findings
    return run


def selfreg() -> None:
    assert validate_installer(SELFREG, SELFREG).passed


def measure(fn: Callable[[], None], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    rows: list[tuple[str, Callable[[], None]]] = [
        ("baseline: seed + snapshot + diff", baseline),
        (".reg pair", pair("good_install.reg", "good_uninstall.reg")),
        ("reg.exe .cmd pair", pair("good_install.cmd", "good_uninstall.cmd")),
        ("Python pair, 64-bit", pair("good_install.py", "good_uninstall.py")),
        ("Python pair, 32-bit", pair("good_install.py", "good_uninstall.py", installer_bits=32)),
        ("self-registering DLL pair (PE)", selfreg),
    ]
    base = None
    print(f"{'row':<34} {'median ms':>10} {'x baseline':>11}")
    for name, fn in rows:
        t = measure(fn, args.repeat)
        base = base or t
        print(f"{name:<34} {t * 1000:>10.2f} {t / base:>11.1f}")


if __name__ == "__main__":
    main()
