"""Describe a fault for a finding: capstone disassembly around the pc and a symbol for it."""

from __future__ import annotations

from collections.abc import Callable

import capstone

from emulator.loaders.pe.image import PeImage


def disassemble(
    read: Callable[[int, int], bytes], pc: int, bits: int, *, before: int = 3, after: int = 4
) -> list[str]:
    """Lines ``"0x...: mnemonic operands"`` around ``pc``; the faulting one is marked ``=>``.

    Earlier instructions are found by trying start points up to 32 bytes back and keeping the
    one whose decoding lands exactly on ``pc``.
    """
    md = capstone.Cs(
        capstone.CS_ARCH_X86, capstone.CS_MODE_64 if bits == 64 else capstone.CS_MODE_32
    )

    def chunk(addr: int, size: int) -> bytes:
        out = b""
        for a in range(addr, addr + size):
            try:
                out += read(a, 1)
            except Exception:
                break
        return out

    best: list[tuple[int, str, str, int]] = []
    for back in range(32, 0, -1):
        start = pc - back
        code = chunk(start, back)
        if len(code) != back:
            continue
        insns = [(i.address, i.mnemonic, i.op_str, i.size) for i in md.disasm(code, start)]
        if insns and insns[-1][0] + insns[-1][3] == pc and sum(i[3] for i in insns) == back:
            if len(insns) >= len(best):
                best = insns
            if len(best) >= before:
                break
    lines = [f"   0x{a:x}: {m} {o}".rstrip() for a, m, o, _ in best[-before:]]
    code = chunk(pc, 16 * after)
    following = list(md.disasm(code, pc))[:after]
    if not following:
        lines.append(
            f"=> 0x{pc:x}: <{'unreadable' if not code else 'undecodable: ' + code[:8].hex()}>"
        )
    for n, ins in enumerate(following):
        mark = "=>" if n == 0 else "  "
        lines.append(f"{mark} 0x{ins.address:x}: {ins.mnemonic} {ins.op_str}".rstrip())
    return lines


def symbolize(image: PeImage, base: int, module: str, addr: int) -> str:
    """``module+0xRVA (Export+0xN)`` for an address inside the image, else ``0x...``."""
    rva = addr - base
    if not 0 <= rva < image.size_of_image:
        return f"0x{addr:x}"
    best: tuple[int, str] | None = None
    for e in image.exports:
        if e.rva and e.name and e.rva <= rva and (best is None or e.rva > best[0]):
            best = (e.rva, e.name)
    where = f"{module}+0x{rva:x}"
    if best is not None and rva - best[0] < 0x200:
        where += f" ({best[1]}+0x{rva - best[0]:x})"
    return where
