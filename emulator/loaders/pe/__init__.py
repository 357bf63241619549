"""Run real Windows PE admin DLLs (x86 PE32 and x64 PE32+) by CPU emulation (unicorn + pefile).

Works on any OS without Wine or Windows DLLs: imports resolve to small Python handlers
(:mod:`emulator.loaders.pe.winapi`), the loader builds a TEB/PEB, runs TLS callbacks and DllMain,
and :class:`PeDll` implements :class:`emulator.loaders.base.AdminDll`.

Beyond the AdminDll interface, a :class:`PeDll` offers ``image`` (the parsed :class:`PeImage`),
``base``, ``missing_imports`` (``dll!name`` of every import the emulator lacks; calling one gives
a ``missing-api`` fault), ``forwarded_exports``, ``load_debug_output`` / ``unload_debug_output``,
``unload_fault``, ``reloads`` (fresh emulators made after faults) and ``load_seconds``.

Per call it reports R49 (decorated name used), R50/R51 (x86: bytes popped, EBX/ESI/EDI/EBP, DF),
R52 (x64: RSP, RBX/RBP/RDI/RSI/R12-R15, XMM6-XMM15) as :class:`CallIssue`, and R69 as
``modified_inputs``. Faults carry ``pc``, ``symbol``, ``address``/``access`` and a capstone
``disassembly`` in ``detail``; after any fault the DLL is reloaded.
"""

from __future__ import annotations

from emulator.loaders.pe.image import PeImage, parse_pe
from emulator.loaders.pe.loader import PeDll, PeLoader

__all__ = ["PeDll", "PeImage", "PeLoader", "parse_pe"]
