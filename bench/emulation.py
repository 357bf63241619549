"""Speed of the PE emulator (emulator/loaders/pe) on the project's sample admin DLLs.

Prints, per bitness: parse time, load + TLS callbacks + DllMain time, get+release cycles/s,
a cheap export's calls/s, and the raw unicorn ``emu_start`` round trip measured in the same run
as the floor, with ratios. Run: ``python bench/emulation.py [--cycles N]``.
Targets (brief): load + DllMain < 30 ms; >= 20k get+release cycles/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from unicorn import UC_ARCH_X86, UC_MODE_32, UC_MODE_64, UC_PROT_ALL, Uc
from unicorn import x86_const as X

from emulator.loaders.base import Call
from emulator.loaders.pe import PeLoader, parse_pe
from emulator.loaders.pe.ucfast import ffi, lib
from fixtures.dlls.build import prebuilt_dll

GET = "MprAdminGetIpAddressForUser"
RELEASE = "MprAdminReleaseIpAddress"


def raw_round_trip(bits: int, n: int) -> float:
    """Seconds per emu_start of a lone ``ret`` (cffi call, stack reset each time): the floor."""
    uc = Uc(UC_ARCH_X86, UC_MODE_64 if bits == 64 else UC_MODE_32)
    uc.mem_map(0x100000, 0x1000, UC_PROT_ALL)
    uc.mem_map(0x200000, 0x1000, UC_PROT_ALL)
    uc.mem_write(0x100000, b"\xc3")
    sp = 0x200800
    uc.mem_write(sp, (0x100800).to_bytes(bits // 8, "little"))
    reg = X.UC_X86_REG_RSP if bits == 64 else X.UC_X86_REG_ESP
    uh = ffi.cast("void *", uc._uch.value)
    v = ffi.new("uint64_t[1]", [sp])
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            lib.uc_reg_write(uh, reg, v)
            lib.uc_emu_start(uh, 0x100000, 0x100800, 0, 0)
        best = min(best, (time.perf_counter() - t) / n)
    return best


def bench(bits: int, cycles: int) -> dict[str, float]:
    path = str(prebuilt_dll("good", bits))
    parse = []
    for _ in range(5):
        t = time.perf_counter()
        parse_pe(path)
        parse.append(time.perf_counter() - t)
    loads = []
    for _ in range(7):
        t = time.perf_counter()
        d = PeLoader().load(path, bitness=bits)
        loads.append(time.perf_counter() - t)
        d.close()
    dll = PeLoader().load(path, bitness=bits)
    get = Call(GET, ("alice", "VPN1-0", 0, 0xA5A5A5A5))
    for _ in range(200):  # warm the translation cache
        r = dll.handle_call(get)
        dll.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2])))
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(cycles):
            r = dll.handle_call(get)
            dll.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2])))
        best = min(best, (time.perf_counter() - t) / cycles)
    count = Call("RasemuTestLeaseCount")
    t = time.perf_counter()
    for _ in range(cycles):
        dll.handle_call(count)
    cheap = (time.perf_counter() - t) / cycles
    dll.close()
    return {
        "parse": statistics.median(parse),
        "load": statistics.median(loads),
        "cycle": best,
        "cheap": cheap,
        "floor": raw_round_trip(bits, 20000),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=3000)
    args = ap.parse_args()
    print(
        f"PE emulator benchmark ({args.cycles} get+release cycles, best of 3; machine load {os.getloadavg()[0]:.2f})"
    )
    for bits in (64, 32):
        r = bench(bits, args.cycles)
        name = "x64" if bits == 64 else "x86"
        print(f"\n{name}  (fixtures/dlls/prebuilt/good{bits}.dll)")
        print(f"  pefile parse             {r['parse'] * 1e3:7.2f} ms")
        print(
            f"  load + TLS + DllMain     {r['load'] * 1e3:7.2f} ms   (target < 30 ms: {'ok' if r['load'] < 0.030 else 'MISSED'})"
        )
        print(
            f"  get+release cycle        {r['cycle'] * 1e6:7.1f} us = {1 / r['cycle']:8.0f} cycles/s"
            f"   (target >= 20000/s: {'ok' if 1 / r['cycle'] >= 20000 else 'MISSED'})"
        )
        print(
            f"  RasemuTestLeaseCount     {r['cheap'] * 1e6:7.1f} us = {1 / r['cheap']:8.0f} calls/s"
        )
        print(f"  raw emu_start floor      {r['floor'] * 1e6:7.2f} us")
        print(
            f"  ratios: cycle/floor {r['cycle'] / r['floor']:.1f}x, cheap call/floor {r['cheap'] / r['floor']:.1f}x"
        )


if __name__ == "__main__":
    main()
