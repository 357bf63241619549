"""Run real Windows PE admin DLLs (x86 PE32 and x64 PE32+) by CPU emulation (unicorn + pefile).

Works on any OS without Wine or Windows DLLs: imports resolve to small Python handlers
(:mod:`emulator.loaders.pe.winapi`), the loader builds a TEB/PEB, runs TLS callbacks and DllMain,
and :class:`PeDll` implements :class:`emulator.loaders.base.AdminDll`.

``PeLoader(options)`` takes the emulated machine (:class:`~.winapi.env.PeOptions`: registry, file
sandbox, OS version, WOW64, environment) as an object, as keywords (``registry=``, ``sandbox=``,
``os_version=``, ``wow64=``, ``environment=``, ...) or as one mapping (what ``open_dll(...,
options={...})`` passes); unknown names are a LoadError. The options are in the process before
TLS callbacks and DllMain run, at the first load and at every reload. A DllMain still running
after ``load_timeout`` fails the load ("DllMain did not return within N s").

Beyond the AdminDll interface, a :class:`PeDll` offers ``image`` (the parsed :class:`PeImage`),
``base``, ``options``, ``missing_imports`` (``dll!name`` of every import the emulator lacks;
calling one gives a ``missing-api`` fault), ``forwarded_exports``, ``load_debug_output`` /
``unload_debug_output`` (each only what that phase wrote), ``unload_fault``, ``reloads`` (fresh
emulators made after faults), ``load_seconds`` and ``threads_not_run`` (CreateThread is recorded
and said in the call's debug output, never run: the DLL runs on one thread; no contract rule
forbids worker threads, so it is no CallIssue).

Hostile DLLs: writes past a heap block are caught by guard bytes when the block is freed or
resized, and double frees at the free; both are ``crash`` faults naming heap corruption with
``detail["rule"] = "R76"``. A return into an overwritten return address is reported as stack
smashing. RAS server administration imports (mprapi.dll / rassapi.dll: MprAdmin*, MprConfig*,
RasAdmin*) stop the call with a ``host-reentry`` fault naming the API and R66.

Per call it reports R49 (decorated name used), R50/R51 (x86: bytes popped, EBX/ESI/EDI/EBP, DF),
R52 (x64: RSP, RBX/RBP/RDI/RSI/R12-R15, XMM6-XMM15) as :class:`CallIssue`, and R69 as
``modified_inputs``. Faults carry ``pc``, ``symbol``, ``address``/``access`` and a capstone
``disassembly`` in ``detail`` (faults inside an import: ``api`` and ``caller_symbol``); after any
fault the DLL is reloaded.
"""

from __future__ import annotations

from emulator.loaders.pe.image import PeImage, parse_pe
from emulator.loaders.pe.loader import PeDll, PeLoader

__all__ = ["PeDll", "PeImage", "PeLoader", "parse_pe"]
