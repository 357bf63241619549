"""Speed of the PE emulator (emulator/loaders/pe) on the project's sample admin DLLs.

Prints, per bitness: parse time, load + TLS callbacks + DllMain time, get+release cycles/s,
a cheap export's calls/s, and the raw unicorn ``emu_start`` round trip measured in the same run
as the floor, with ratios. Every figure is the best of several runs, measured both as wall time
and as process CPU time (``time.process_time``), which stays meaningful when other jobs share
the machine. Run: ``python bench/emulation.py [--cycles N]``.
Targets (brief): load + DllMain < 30 ms; >= 20k get+release cycles/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from unicorn import UC_ARCH_X86, UC_MODE_32, UC_MODE_64, UC_PROT_ALL, Uc
from unicorn import x86_const as X

from emulator.loaders.base import Call
from emulator.loaders.pe import PeLoader, parse_pe
from emulator.loaders.pe.ucfast import ffi, lib
from fixtures.dlls.build import prebuilt_dll

GET = "MprAdminGetIpAddressForUser"
RELEASE = "MprAdminReleaseIpAddress"


def timed(fn: Callable[[], object], n: int, repeat: int = 3) -> tuple[float, float]:
    """Best (wall, cpu) seconds per call of ``fn`` over ``repeat`` runs of ``n`` calls."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            fn()
        wall = min(wall, (time.perf_counter() - t) / n)
        cpu = min(cpu, (time.process_time() - c) / n)
    return wall, cpu


def raw_round_trip(bits: int, n: int) -> tuple[float, float]:
    """emu_start of a lone ``ret`` (cffi call, stack reset each time): the floor."""
    uc = Uc(UC_ARCH_X86, UC_MODE_64 if bits == 64 else UC_MODE_32)
    uc.mem_map(0x100000, 0x1000, UC_PROT_ALL)
    uc.mem_map(0x200000, 0x1000, UC_PROT_ALL)
    uc.mem_write(0x100000, b"\xc3")
    sp = 0x200800
    uc.mem_write(sp, (0x100800).to_bytes(bits // 8, "little"))
    reg = X.UC_X86_REG_RSP if bits == 64 else X.UC_X86_REG_ESP
    uh = ffi.cast("void *", uc._uch.value)
    v = ffi.new("uint64_t[1]", [sp])

    def once() -> None:
        lib.uc_reg_write(uh, reg, v)
        lib.uc_emu_start(uh, 0x100000, 0x100800, 0, 0)

    return timed(once, n)


def bench(bits: int, cycles: int) -> dict[str, tuple[float, float]]:
    path = str(prebuilt_dll("good", bits))
    parse = timed(lambda: parse_pe(path), 5)
    load = timed(lambda: PeLoader().load(path, bitness=bits).close(), 5)
    dll = PeLoader().load(path, bitness=bits)
    get = Call(GET, ("alice", "VPN1-0", 0, 0xA5A5A5A5))

    def cycle() -> None:
        r = dll.handle_call(get)
        dll.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2])))

    timed(cycle, 200, 1)  # warm the translation cache
    result = {
        "parse": parse,
        "load": load,
        "cycle": timed(cycle, cycles),
        "cheap": timed(lambda: dll.handle_call(Call("RasemuTestLeaseCount")), cycles),
        "floor": raw_round_trip(bits, 20000),
    }
    dll.close()
    return result


def _row(label: str, v: tuple[float, float], unit: str, per_s: str = "") -> str:
    scale = 1e3 if unit == "ms" else 1e6
    text = f"  {label:<24} wall {v[0] * scale:7.2f} {unit}   cpu {v[1] * scale:7.2f} {unit}"
    if per_s:
        text += f"   = {1 / v[0]:7.0f} / {1 / v[1]:7.0f} {per_s}/s (wall/cpu)"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--cycles", type=int, default=3000)
    args = ap.parse_args()
    print(
        f"PE emulator benchmark: {args.cycles} get+release cycles, best of 3; "
        f"load average {os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    for bits in (64, 32):
        r = bench(bits, args.cycles)
        name = "x64" if bits == 64 else "x86"
        print(f"\n{name}  (fixtures/dlls/prebuilt/good{bits}.dll)")
        print(_row("pefile parse", r["parse"], "ms"))
        print(
            _row("load + TLS + DllMain", r["load"], "ms")
            + f"   target < 30 ms: {'ok' if r['load'][1] < 0.030 else 'MISSED'} (cpu)"
        )
        print(_row("get+release cycle", r["cycle"], "us", "cycles"))
        print(
            f"  {'':<24} target >= 20000 cycles/s: {'ok' if 1 / r['cycle'][1] >= 20000 else 'MISSED'} (cpu)"
        )
        print(_row("RasemuTestLeaseCount", r["cheap"], "us", "calls"))
        print(_row("raw emu_start floor", r["floor"], "us", "calls"))
        c, f, ch = r["cycle"], r["floor"], r["cheap"]
        print(
            f"  ratios (cpu): cycle/floor {c[1] / f[1]:.1f}x, cheap call/floor {ch[1] / f[1]:.1f}x; "
            f"(wall): cycle/floor {c[0] / f[0]:.1f}x"
        )


if __name__ == "__main__":
    main()
