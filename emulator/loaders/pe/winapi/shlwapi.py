"""shlwapi.dll: the path and registry helpers admin DLLs use, on top of kernel32_extra and advapi32."""

from __future__ import annotations

from emulator.loaders.pe.winapi import Ctx
from emulator.loaders.pe.winapi.env import soft_api
from emulator.winerror import ERROR_INVALID_PARAMETER

SHL = "shlwapi.dll"
MAX_PATH = 260


@soft_api(SHL)
def PathFileExistsW(ctx: Ctx, path: int) -> int:
    from emulator.loaders.pe.winapi.kernel32_extra import GetFileAttributesW

    return int(GetFileAttributesW(ctx, path) != 0xFFFFFFFF)


@soft_api(SHL)
def PathFindFileNameW(ctx: Ctx, path: int) -> int:
    text = ctx.wstr(path)
    cut = max(text.rfind("\\", 0, len(text.rstrip("\\")) or None), text.rfind(":"), text.rfind("/"))
    return path + 2 * (cut + 1)


@soft_api(SHL)
def PathRemoveFileSpecW(ctx: Ctx, path: int) -> int:
    text = ctx.wstr(path)
    cut = text.rfind("\\")
    if cut < 0:
        if text:
            ctx.write_wstr(path, "")
            return 1
        return 0
    keep = text[: cut + 1] if (cut == 2 and text[1:2] == ":") or cut == 0 else text[:cut]
    ctx.write_wstr(path, keep)
    return int(keep != text)


@soft_api(SHL)
def PathAppendW(ctx: Ctx, path: int, more: int) -> int:
    a, b = ctx.wstr(path), ctx.wstr(more).lstrip("\\")
    out = a if not b else (a + ("" if a.endswith("\\") or not a else "\\") + b)
    if len(out) >= MAX_PATH:
        return 0
    ctx.write_wstr(path, out)
    return 1


@soft_api(SHL)
def PathCombineW(ctx: Ctx, dst: int, a: int, b: int) -> int:
    sa = ctx.wstr(a) if a else ""
    sb = ctx.wstr(b) if b else ""
    if sb[1:2] == ":" or sb.startswith("\\\\"):
        out = sb
    elif sb.startswith("\\"):
        out = sa[:2] + sb if sa[1:2] == ":" else sb
    else:
        out = sa + ("" if sa.endswith("\\") or not sa or not sb else "\\") + sb
    if len(out) >= MAX_PATH:
        ctx.write_wstr(dst, "")
        return 0
    ctx.write_wstr(dst, out)
    return dst


@soft_api(SHL)
def StrCmpIW(ctx: Ctx, a: int, b: int) -> int:
    x, y = ctx.wstr(a).lower(), ctx.wstr(b).lower()
    return ((x > y) - (x < y)) & 0xFFFFFFFF


@soft_api(SHL)
def SHGetValueW(ctx: Ctx, hkey: int, sub: int, value: int, ptype: int, data: int, pcb: int) -> int:
    from emulator.loaders.pe.winapi import advapi32 as adv

    # RRF_RT_ANY | RRF_NOEXPAND: SHGetValue returns REG_EXPAND_SZ data expanded but as given type;
    # the simple contract used by admin DLLs (read a value under a key) is RegGetValue's
    return adv._get_value(
        ctx, hkey, sub, value, adv.RRF_RT_ANY | adv.RRF_NOEXPAND, ptype, data, pcb, True
    )


@soft_api(SHL)
def SHSetValueW(ctx: Ctx, hkey: int, sub: int, value: int, typ: int, data: int, size: int) -> int:
    from emulator.loaders.pe.winapi import advapi32 as adv

    return adv.RegSetKeyValueW(ctx, hkey, sub, value, typ, data, size)


@soft_api(SHL)
def SHDeleteKeyW(ctx: Ctx, hkey: int, sub: int) -> int:
    from emulator.loaders.pe.winapi import advapi32 as adv

    return adv._delete_tree(ctx, hkey, sub, True) if sub else ERROR_INVALID_PARAMETER
