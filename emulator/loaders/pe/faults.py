"""Describe a fault for a finding: capstone disassembly around the pc and a symbol for it."""

from __future__ import annotations

import bisect
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


#: name given to the image's AddressOfEntryPoint (DllMain or the CRT start-up that calls it)
ENTRY_NAME = "DllMain (entry point)"
#: how far past a symbol an address is still attributed to it (without x64 function bounds)
NEAR = 0x200

_FUNCS: dict[int, tuple[PeImage, tuple[tuple[int, int], ...]]] = {}


def _functions(image: PeImage) -> tuple[tuple[int, int], ...]:
    """x64 function bounds ``(begin, end)`` RVAs from the exception directory (.pdata), sorted;
    empty for x86 images or when the directory is missing or unreadable."""
    got = _FUNCS.get(id(image))
    if got is not None and got[0] is image:
        return got[1]
    out: list[tuple[int, int]] = []
    h = image.headers
    try:
        if image.bits == 64:
            opt = int.from_bytes(h[0x3C:0x40], "little") + 24
            d = opt + 112 + 3 * 8  # PE32+ data directories; index 3 = exception
            rva = int.from_bytes(h[d:d + 4], "little")
            size = int.from_bytes(h[d + 4:d + 8], "little")
            for sec in image.sections:
                if rva and sec.rva <= rva < sec.rva + len(sec.data):
                    raw = sec.data[rva - sec.rva:rva - sec.rva + size]
                    for i in range(0, len(raw) - 11, 12):
                        b = int.from_bytes(raw[i:i + 4], "little")
                        e = int.from_bytes(raw[i + 4:i + 8], "little")
                        if 0 < b < e <= image.size_of_image:
                            out.append((b, e))
                    break
    except (IndexError, ValueError):  # a damaged header: fall back to the nearest symbol
        out = []
    funcs = tuple(sorted(out))
    _FUNCS[id(image)] = (image, funcs)
    return funcs


def _function_at(image: PeImage, rva: int) -> tuple[int, int] | None:
    funcs = _functions(image)
    i = bisect.bisect_right(funcs, (rva, 1 << 62)) - 1
    if i >= 0 and funcs[i][0] <= rva < funcs[i][1]:
        return funcs[i]
    return None


def symbolize(image: PeImage, base: int, module: str, addr: int, *,
              exports: bool = True) -> str:
    """``module+0xRVA (Symbol+0xN)`` for an address inside the image, else ``0x...``.

    Symbols are the named exports (unless ``exports`` is False) and the entry point, named
    :data:`ENTRY_NAME`; the nearest one at or below the address within :data:`NEAR` bytes is
    used. On x64 the .pdata function bounds decide instead: an address inside a function that
    starts at no symbol is shown as ``(unexported function at +0xBEGIN, +0xN)``.
    """
    rva = addr - base
    if not 0 <= rva < image.size_of_image:
        return f"0x{addr:x}"
    syms: dict[int, str] = {}
    if exports:
        for e in image.exports:
            if e.rva and e.name:
                syms.setdefault(e.rva, e.name)
    if image.entry_rva:
        syms.setdefault(image.entry_rva, ENTRY_NAME)
    where = f"{module}+0x{rva:x}"
    func = _function_at(image, rva)
    if func is not None:
        name = syms.get(func[0])
        if name is not None:
            return f"{where} ({name}+0x{rva - func[0]:x})"
        return f"{where} (unexported function at +0x{func[0]:x}, +0x{rva - func[0]:x})"
    best: tuple[int, str] | None = None
    for srva, name in syms.items():
        if srva <= rva and (best is None or srva > best[0]):
            best = (srva, name)
    if best is not None and rva - best[0] < NEAR:
        where += f" ({best[1]}+0x{rva - best[0]:x})"
    return where
