"""Run real Windows PE admin DLLs (x86 PE32 and x64 PE32+) by CPU emulation (unicorn + pefile).

Works on any OS without Wine or Windows DLLs: imports resolve to small Python handlers
(:mod:`emulator.loaders.pe.winapi`), the loader builds a TEB/PEB, runs TLS callbacks and DllMain,
and :class:`PeDll` implements :class:`emulator.loaders.base.AdminDll`.
"""

from __future__ import annotations

from emulator.loaders.pe.image import PeImage, parse_pe
from emulator.loaders.pe.loader import PeDll, PeLoader

__all__ = ["PeDll", "PeImage", "PeLoader", "parse_pe"]
