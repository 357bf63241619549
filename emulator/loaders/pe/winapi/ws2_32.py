"""ws2_32.dll: the byte-order and address helpers admin DLLs use (these are often imported by ordinal)."""

from __future__ import annotations

import socket
import struct

from emulator.loaders.pe.winapi import Ctx, api

WS = "ws2_32.dll"
INADDR_NONE = 0xFFFFFFFF


def _swap32(v: int) -> int:
    return int.from_bytes((v & 0xFFFFFFFF).to_bytes(4, "little"), "big")


def _swap16(v: int) -> int:
    return ((v & 0xFF) << 8) | ((v >> 8) & 0xFF)


@api(WS, ordinal=8, also=("wsock32.dll",))
def htonl(ctx: Ctx, v: int) -> int:
    return _swap32(v)


@api(WS, ordinal=14, also=("wsock32.dll",))
def ntohl(ctx: Ctx, v: int) -> int:
    return _swap32(v)


@api(WS, ordinal=9, also=("wsock32.dll",))
def htons(ctx: Ctx, v: int) -> int:
    return _swap16(v)


@api(WS, ordinal=15, also=("wsock32.dll",))
def ntohs(ctx: Ctx, v: int) -> int:
    return _swap16(v)


@api(WS, ordinal=11, also=("wsock32.dll",))
def inet_addr(ctx: Ctx, s: int) -> int:
    try:
        packed = socket.inet_aton(ctx.cstr(s).strip())
    except (OSError, ValueError):
        return INADDR_NONE
    return int(struct.unpack("<I", packed)[0])


@api(WS, ordinal=12, also=("wsock32.dll",))
def inet_ntoa(ctx: Ctx, addr: int) -> int:
    text = socket.inet_ntoa(struct.pack("<I", addr & 0xFFFFFFFF)).encode() + b"\0"
    buf: int = ctx.proc.extra.get("inet_ntoa_buf", 0)
    if not buf:
        buf = ctx.heap.alloc(16, heap=0, site=0, api="inet_ntoa")  # per-thread static buffer
        ctx.proc.extra["inet_ntoa_buf"] = buf
    ctx.mem.write(buf, text)
    return buf
