"""Benchmark .reg import and export on a generated ~50 MB regedit export.

Prints export and import throughput (MB/s of the UTF-16 file), a baseline measured in
the same run (decoding the file and splitting it into lines, the least any parser must
do), and peak memory of an import (tracemalloc, in a separate run so timing is not
slowed) as a multiple of the file size. Targets: 50 MB imports in under 5 s with peak
memory under 4x the file size.

    python bench/regfile.py [--mb 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from pathlib import Path

from emulator.registry import Registry
from emulator.registry.regfile import export, import_bytes, import_file, parse


def build(target_mb: float) -> Registry:
    """A registry whose export is about ``target_mb`` MB: every value type, odd names."""
    reg = Registry()
    per_key = 3120  # bytes of UTF-16 export per key with the values below (measured)
    keys = max(1, int(target_mb * 1e6 / per_key))
    blob = bytes(range(256)) * 2
    for i in range(keys):
        path = f"HKEY_LOCAL_MACHINE\\SOFTWARE\\Bench\\Group{i % 97:02d}\\Key {i} \"q\" [x]"
        reg.set_value(path, "", 1, f"default value {i}\0".encode("utf-16-le"))
        reg.set_value(path, "Display \"Name\"", 1, f"C:\\Program Files\\Vendor\\app{i}.dll\0".encode("utf-16-le"))
        reg.set_value(path, "Count", 4, (i & 0xFFFFFFFF).to_bytes(4, "little"))
        reg.set_value(path, "Blob", 3, blob[i % 200: i % 200 + 200])
        reg.set_value(path, "Expand", 2, f"%SystemRoot%\\system32\\drivers\\file{i}.sys\0".encode("utf-16-le"))
        reg.set_value(path, "Multi", 7, f"first {i}\0second\0third value\0\0".encode("utf-16-le"))
        reg.set_value(path, "Q", 11, (i * 7919).to_bytes(8, "little"))
        reg.set_value(path, "None", 0, b"")
        reg.set_value(path, "Big-endian", 5, i.to_bytes(4, "big"))
        reg.set_value(path, "Custom \u00e9\u65e5", 0xFFFF0001, blob[:40])
    return reg


def best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def timings(reg: Registry, data: bytes, repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` seconds for each operation on the same file."""
    out = {
        "export": best(lambda: export(reg), repeat),
        "baseline": best(lambda: data[2:].decode("utf-16-le").split("\n"), repeat),
        "parse": best(lambda: parse(data), repeat),
        "import": best(lambda: import_bytes(data, Registry()), repeat),
    }
    check = Registry()
    import_bytes(data, check)
    assert export(check) == data, "round trip failed"
    return out


def file_import(path: Path, repeat: int) -> tuple[float, int, int]:
    """(seconds, peak bytes, bytes kept by the result) of import_file."""
    seconds = best(lambda: import_file(path, Registry()), repeat)
    gc.collect()
    tracemalloc.start()
    imported = Registry()
    import_file(path, imported)
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak, retained


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="approximate export size in MB")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing (best is shown)")
    args = ap.parse_args()
    run(args.mb, args.repeat)


def run(mb_wanted: float = 50.0, repeat: int = 3) -> None:
    """Generate a ~``mb_wanted`` MB export and print import/export speed and peak memory."""
    t0 = time.perf_counter()
    reg = build(mb_wanted)
    build_s = time.perf_counter() - t0
    data = export(reg)
    size = len(data)
    mb = size / 1e6
    lines = data.count(b"\r\0\n\0")
    print(f"generated registry in {build_s:.2f} s; export is {mb:.1f} MB ({lines} lines)")
    t = timings(reg, data, repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.reg"
        path.write_bytes(data)
        del data, reg
        t_file, peak, retained = file_import(path, repeat)

    base = t["baseline"]
    print(f"baseline decode+split : {base:6.3f} s  {mb / base:7.1f} MB/s")
    print(f"parse only            : {t['parse']:6.3f} s  {mb / t['parse']:7.1f} MB/s  "
          f"({t['parse'] / base:.1f}x baseline)")
    print(f"import (parse+apply)  : {t['import']:6.3f} s  {mb / t['import']:7.1f} MB/s  "
          f"({t['import'] / base:.1f}x baseline)  target < 5 s for 50 MB: "
          f"{'met' if t['import'] * 50 / mb < 5 else 'MISSED'}")
    print(f"import_file (streamed): {t_file:6.3f} s  {mb / t_file:7.1f} MB/s")
    print(f"export                : {t['export']:6.3f} s  {mb / t['export']:7.1f} MB/s  "
          f"({t['export'] / base:.1f}x baseline)")
    print(f"import_file peak mem  : {peak / 1e6:7.1f} MB = {peak / size:.2f}x file size "
          f"(target < 4x: {'met' if peak < 4 * size else 'MISSED'}); the imported registry "
          f"keeps {retained / 1e6:.1f} MB = {retained / size:.2f}x")


if __name__ == "__main__":
    main()
