"""PeLoader / PeDll: run a real Windows admin DLL (PE32 x86 or PE32+ x64) under unicorn."""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.abi.callbacks import SIGNATURES, TABLE_SLOTS, Signature, signature, undecorate
from emulator.errors import LoadError
from emulator.loaders.base import (
    AdminDll,
    Call,
    CallFault,
    CallIssue,
    CallResult,
    Loader,
    Machine,
    ResourceUsage,
)
from emulator.loaders.pe.cpu import (
    FALLBACK_BASE32,
    SCRATCH,
    SCRATCH_SIZE,
    STUBS,
    Emulator,
    Outcome,
    overlaps_fixed,
)
from emulator.loaders.pe.faults import ENTRY_NAME, disassemble, symbolize
from emulator.loaders.pe.image import Export, PeImage, parse_pe
from emulator.loaders.pe.winapi.env import OPTIONS_KEY, PeOptions, default_options

_U32 = struct.Struct("<I")
DLL_PROCESS_DETACH = 0
DLL_PROCESS_ATTACH = 1
#: default instruction budget per call: 0 = none. The per-call time limit always applies; a budget
#: makes unicorn count every instruction (about 20 us per get+release cycle, -35% throughput).
DEFAULT_BUDGET = 0


@dataclass(frozen=True, slots=True)
class _Plan:
    """A resolved call target: address, export name, signature (None = raw integer args)."""

    addr: int
    name: str
    sig: Signature | None
    issues: tuple[CallIssue, ...]


#: keyword options of :class:`PeLoader` itself (everything else goes into :class:`PeOptions`)
_LOADER_KEYS = ("force_base", "instruction_budget", "load_timeout")
#: :class:`PeOptions` fields a caller may set (the record lists are outputs, not options)
ENV_KEYS = ("registry", "sandbox", "os_version", "wow64", "environment", "computer_name", "user_name")


def _env_options(where: str, values: Mapping[str, Any], base: PeOptions | None) -> PeOptions | None:
    """``base`` (or fresh PeOptions) with ``values`` applied; None when there is nothing to apply."""
    if not values:
        return base
    from emulator.registry.model import Registry

    opts = base if base is not None else PeOptions()
    for key, value in values.items():
        if key == "registry":
            if value is not None and not isinstance(value, Registry):
                raise LoadError(f"option registry must be an emulator Registry, not {type(value).__name__}", where=where)
        elif key == "sandbox":
            if value is not None:
                if not isinstance(value, str | os.PathLike):
                    raise LoadError(f"option sandbox must be a folder path, not {value!r}", where=where)
                value = os.fspath(value)
        elif key == "os_version":
            ok = isinstance(value, list | tuple) and len(value) == 3 and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
            )
            if not ok:
                raise LoadError(
                    f"option os_version must be (major, minor, build), e.g. (6, 1, 7601), not {value!r}",
                    where=where,
                )
            value = tuple(value)
        elif key == "wow64":
            if not isinstance(value, bool):
                raise LoadError(f"option wow64 must be true or false, not {value!r}", where=where)
        elif key == "environment":
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise LoadError(f"option environment must map names to strings, not {value!r}", where=where)
            value = dict(value)
        elif not isinstance(value, str):
            raise LoadError(f"option {key} must be a string, not {value!r}", where=where)
        setattr(opts, key, value)
    return opts


class PeLoader(Loader):
    """Loads PE DLLs into a CPU emulator. Works on any OS; no Wine, no Windows DLLs.

    ``force_base`` maps the image at that address (relocations applied) instead of its preferred
    base; ``instruction_budget`` bounds each call by instruction count (0 = only the time limit,
    ``Call.timeout``, enforced by a watchdog thread); ``load_timeout`` limits TLS callbacks and
    DllMain (a DllMain still running after it fails the load).

    ``options`` is the emulated machine (:class:`PeOptions`: registry, file sandbox, OS version,
    WOW64, environment); the keywords ``registry``, ``sandbox``, ``os_version``, ``wow64``,
    ``environment``, ``computer_name``, ``user_name`` set single fields of it. ``options`` may
    also be a mapping of all of these (what :func:`emulator.loaders.select.make_loader` passes);
    an unknown name raises LoadError. The options are in force from the first instruction of
    every (re)load, TLS callbacks and DllMain included; without any, each DLL gets the options
    of an enclosing :func:`emulator.loaders.pe.winapi.env.using` block or fresh defaults.
    """

    name = "pe"

    def __init__(
        self,
        options: PeOptions | Mapping[str, Any] | None = None,
        *,
        force_base: int | None = None,
        instruction_budget: int = DEFAULT_BUDGET,
        load_timeout: float = 5.0,
        **env: Any,
    ) -> None:
        where = "pe loader options"
        kw: dict[str, Any] = {}
        base: PeOptions | None = None
        if isinstance(options, PeOptions):
            base = options
        elif options is not None:
            if not isinstance(options, Mapping):
                raise LoadError(
                    f"options must be PeOptions or a mapping, not {type(options).__name__}", where=where
                )
            for k, v in options.items():
                if k == "options":
                    if v is not None and not isinstance(v, PeOptions):
                        raise LoadError(f"option options must be PeOptions, not {type(v).__name__}", where=where)
                    base = v
                elif k in _LOADER_KEYS:
                    kw[k] = v
                else:
                    env.setdefault(k, v)
        unknown = sorted(k for k in env if k not in ENV_KEYS)
        if unknown:
            raise LoadError(
                f"the pe loader has no option {', '.join(unknown)}; its options: "
                f"{', '.join(('options', *_LOADER_KEYS, *ENV_KEYS))}",
                where=where,
            )
        self.options = _env_options(where, env, base)
        self.force_base = kw.get("force_base", force_base)
        self.instruction_budget = kw.get("instruction_budget", instruction_budget)
        self.load_timeout = kw.get("load_timeout", load_timeout)
        if self.force_base is not None and (
            not isinstance(self.force_base, int) or isinstance(self.force_base, bool)
        ):
            raise LoadError(f"option force_base must be an address, not {self.force_base!r}", where=where)
        if not isinstance(self.instruction_budget, int) or self.instruction_budget < 0:
            raise LoadError(
                f"option instruction_budget must be a count >= 0, not {self.instruction_budget!r}",
                where=where,
            )
        if not isinstance(self.load_timeout, int | float) or not self.load_timeout > 0:
            raise LoadError(
                f"option load_timeout must be seconds > 0, not {self.load_timeout!r}", where=where
            )

    def can_load(self, path: str, head: bytes) -> bool:
        """PE files start with ``MZ``."""
        return head[:2] == b"MZ"

    def load(self, path: str, *, bitness: int | None = None) -> PeDll:
        """Parse, map, bind and initialise ``path``; LoadError for anything that is not a fitting DLL."""
        image = parse_pe(path)
        where = os.fspath(path)
        if not image.is_dll:
            raise LoadError("is a PE executable, not a DLL; expected an admin DLL", where=where)
        if bitness not in (None, 32, 64):
            raise ValueError(f"bitness must be 32 or 64, not {bitness!r}")
        if bitness is not None and image.bits != bitness:
            want = "x64 (PE32+, AMD64)" if bitness == 64 else "x86 (PE32, i386)"
            raise LoadError(
                f"is a {image.bits}-bit {image.machine} DLL but the {bitness}-bit host profile "
                f"needs an {want} DLL",
                where=where,
                rule="R17",
            )
        return PeDll(
            image,
            force_base=self.force_base,
            instruction_budget=self.instruction_budget,
            load_timeout=self.load_timeout,
            options=self.options if self.options is not None else default_options(),
        )


class PeDll(AdminDll):
    """A PE DLL running in its own emulated process. Calls are serialised (not thread-safe)."""

    loader_name = "pe"

    def __init__(
        self,
        image: PeImage,
        *,
        force_base: int | None = None,
        instruction_budget: int = DEFAULT_BUDGET,
        load_timeout: float = 5.0,
        options: PeOptions | None = None,
    ) -> None:
        self.image = image
        #: the emulated machine; put into every (re)loaded process before its first instruction
        self.options = options if options is not None else PeOptions()
        self.path = image.path
        self.machine: Machine = image.machine
        self.bits = image.bits
        self.module_name = os.path.basename(image.path) or "admin.dll"
        self.budget = instruction_budget
        self.load_timeout = load_timeout
        self.base = self._choose_base(force_base)
        self._exports = frozenset(e.name for e in image.exports if e.name is not None)
        self._export_map = image.export_map()
        #: every import the emulator does not implement, as ``dll!name`` (``dll!#ordinal``)
        self.missing_imports: tuple[str, ...] = ()
        #: exports the DLL forwards elsewhere: (name, "DLL.target")
        self.forwarded_exports: tuple[tuple[str, str], ...] = tuple(
            (e.name or f"#{e.ordinal}", e.forwarder) for e in image.exports if e.forwarder
        )
        #: debug output written while loading (TLS callbacks, DllMain)
        self.load_debug_output: tuple[str, ...] = ()
        #: how many times a fault forced a fresh emulator
        self.reloads = 0
        #: seconds the last (re)load took, DllMain included
        self.load_seconds = 0.0
        #: debug output written during unload (set by close)
        self.unload_debug_output: tuple[str, ...] = ()
        #: why DLL_PROCESS_DETACH did not complete, if it did not (set by close)
        self.unload_fault: CallFault | None = None
        self._plans: dict[tuple[str | int, str | None], _Plan] = {}
        self._lock = threading.RLock()
        self._closed = False
        self._dead: LoadError | None = None
        self._emu: Emulator | None = None
        self._emu = self._boot()

    # -- loading ------------------------------------------------------------------------------
    def _choose_base(self, force_base: int | None) -> int:
        img = self.image
        if force_base is not None:
            if force_base & 0xFFFF:
                raise LoadError(
                    f"forced base 0x{force_base:x} is not 64 KiB aligned", where=img.path
                )
            if overlaps_fixed(force_base, img.size_of_image) or (
                img.bits == 32 and force_base + img.size_of_image > 1 << 32
            ):
                raise LoadError(
                    f"forced base 0x{force_base:x} collides with the emulator's memory",
                    where=img.path,
                )
            return force_base
        if overlaps_fixed(img.image_base, img.size_of_image):
            return FALLBACK_BASE32 if img.bits == 32 or img.image_base < 1 << 32 else img.image_base
        return img.image_base

    def _boot(self) -> Emulator:
        t0 = time.perf_counter()
        try:
            emu = Emulator(
                self.image,
                base=self.base,
                module_name=self.module_name,
                instruction_budget=self.budget,
                extra={OPTIONS_KEY: self.options},
            )
        except LoadError:
            raise
        except Exception as exc:  # a corrupt image: offsets outside it, bad directories, ...
            raise LoadError(
                f"cannot map the image ({type(exc).__name__}: {exc}); the PE file looks corrupt",
                where=self.path,
            ) from None
        self.missing_imports = tuple(emu.missing)
        try:
            for cb in emu.tls_callbacks():
                self._init_call(emu, cb, DLL_PROCESS_ATTACH, "TLS callback")
            if self.image.entry_rva:
                out = self._init_call(
                    emu, self.base + self.image.entry_rva, DLL_PROCESS_ATTACH, "DllMain"
                )
                if out.ret & 0xFFFFFFFF == 0:
                    raise LoadError(
                        "DllMain(DLL_PROCESS_ATTACH) returned FALSE: the DLL refused to load",
                        where=self.path,
                    )
        except BaseException:
            emu.close()
            raise
        self.load_debug_output = tuple(emu.proc.debug)
        emu.proc.debug.clear()
        self.load_seconds = time.perf_counter() - t0
        return emu

    def _init_call(self, emu: Emulator, addr: int, reason: int, what: str) -> Outcome:
        out = emu.call(addr, (self.base, reason, 0), timeout=self.load_timeout)
        if out.fault is not None:
            kind, message, detail = out.fault
            if kind == "timeout":
                pc = detail.get("pc")
                at = f" [{self._init_where(pc, what)}]" if isinstance(pc, int) else ""
                raise LoadError(
                    f"{what} did not return within {self.load_timeout:g} s "
                    f"(DLL_PROCESS_ATTACH; an endless loop or a wait that never ends){at}",
                    where=self.path,
                )
            if kind == "missing-api":
                msg = f"{what} called an API the emulator does not implement: {message}"
            else:
                msg = f"{what} failed ({kind}): {message}"
                pc = detail.get("pc")
                if isinstance(pc, int):
                    msg += f" [{self._init_where(pc, what)}]"
            raise LoadError(msg, where=self.path)
        return out

    def _init_where(self, pc: int, what: str) -> str:
        """Where a DllMain/TLS callback stopped. DllMain seldom calls the DLL's exported
        callbacks, so during DllMain an address is attributed only to the entry point (or, on
        x64, the function containing it), never to the nearest export."""
        if what != "DllMain":
            return symbolize(self.image, self.base, self.module_name, pc)
        where = symbolize(self.image, self.base, self.module_name, pc, exports=False)
        if ENTRY_NAME not in where and self.image.entry_rva:
            where += f", in code run by DllMain (entry point at +0x{self.image.entry_rva:x})"
        return where

    def _reload(self) -> None:
        old = self._emu
        self._emu = None
        if old is not None:
            old.close()
        self.reloads += 1
        try:
            self._emu = self._boot()
        except LoadError as exc:  # reported by the next call, not by the one that faulted
            self._dead = exc

    # -- AdminDll -----------------------------------------------------------------------------
    @property
    def exports(self) -> frozenset[str]:
        """Every exported name exactly as the image has it."""
        return self._exports

    def export_address(self, name: str) -> int | None:
        """Address of export ``name`` (forwarded exports have none)."""
        e = self._export_map.get(name)
        if e is None or e.forwarder:
            return None
        return self.base + e.rva

    def _plan(self, call: Call) -> _Plan:
        key = (call.target, call.signature)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        issues: list[CallIssue] = []
        target = call.target
        if isinstance(target, int):
            if call.signature is None:
                raise ValueError("a call by address needs an explicit signature")
            addr = target
            name = call.signature
            for ex in self.image.exports:
                if ex.rva and self.base + ex.rva == addr and ex.name:
                    name = ex.name
        else:
            name = target
            e: Export | None = self._export_map.get(target)
            if e is None:
                sig0 = SIGNATURES.get(target)
                found = None
                if sig0 is not None:
                    for dec in sig0.decorated_names():
                        if dec in self._export_map:
                            found = self._export_map[dec]
                            break
                if found is None:
                    raise LoadError(
                        f"the DLL has no export named {target!r}", where=self.path, rule="R16"
                    )
                e = found
                issues.append(
                    CallIssue(
                        "R49",
                        f"{target} is exported only under the decorated name {e.name!r}; "
                        "export the plain name (a .def file or -Wl,--kill-at)",
                        {"export": e.name, "plain": target},
                    )
                )
            if e.forwarder:
                raise LoadError(f"export {target!r} is forwarded to {e.forwarder}", where=self.path)
            addr = self.base + e.rva
        sig: Signature | None
        if call.signature is not None:
            sig = signature(call.signature)
        else:
            assert isinstance(target, str)
            sig = SIGNATURES.get(target) or SIGNATURES.get(undecorate(target) or "")
        plan = _Plan(addr, name, sig, tuple(issues))
        self._plans[key] = plan
        return plan

    def handle_call(self, call: Call) -> CallResult:
        """Marshal, run, check conventions (R50-R52), read outputs, detect [in] writes (R69)."""
        with self._lock:
            t0 = time.perf_counter()
            if self._dead is not None:
                raise LoadError(
                    f"reloading after a fault failed: {self._dead.message}", where=self.path
                )
            if self._closed or self._emu is None:
                raise RuntimeError(f"{self.path}: the DLL is closed")
            plan = self._plan(call)
            emu = self._emu
            emu.proc.debug.clear()
            argv, inputs, outs = self._marshal(emu, plan, call.args)
            out = emu.call(plan.addr, argv, timeout=call.timeout)
            debug = tuple(emu.proc.debug)
            emu.proc.debug.clear()
            if out.fault is not None:
                fault = self._fault(emu, plan, out)
                self._reload()
                return CallResult(
                    fault=fault,
                    debug_output=debug,
                    issues=plan.issues,
                    seconds=time.perf_counter() - t0,
                )
            issues = list(plan.issues)
            self._check_convention(plan, len(argv), out, issues)
            buf = emu.scratch.buf
            modified = tuple(i for i, off, raw in inputs if buf[off : off + len(raw)] != raw)
            outputs: dict[int, Any] = {}
            for i, kind, off in outs:
                if kind == "dword_inout" or kind == "bool_out":
                    outputs[i] = _U32.unpack_from(buf, off)[0]
                elif kind == "in6_inout":
                    outputs[i] = bytes(buf[off : off + 16])
                else:
                    outputs[i] = self._read_table(emu, SCRATCH + off)
            returned = (
                None
                if plan.sig is not None and plan.sig.returns == "void"
                else out.ret & 0xFFFFFFFF
            )
            return CallResult(
                returned=returned,
                outputs=outputs,
                modified_inputs=modified,
                issues=tuple(issues),
                debug_output=debug,
                seconds=time.perf_counter() - t0,
            )

    # -- marshalling ----------------------------------------------------------------------------
    def _marshal(
        self, emu: Emulator, plan: _Plan, args: Sequence[Any]
    ) -> tuple[list[int], list[tuple[int, int, bytes]], list[tuple[int, str, int]]]:
        """Write the arguments into the scratch area; returns (argv, [in] buffers, out cells)
        where buffers and cells are given by scratch-area offset."""
        sig = plan.sig
        if sig is None:
            return [int(a) for a in args], [], []
        params = sig.params
        if len(args) != len(params):
            raise ValueError(f"{sig.name} takes {len(params)} arguments, got {len(args)}")
        buf = emu.scratch.buf
        off = 0
        argv: list[int] = []
        inputs: list[tuple[int, int, bytes]] = []
        outs: list[tuple[int, str, int]] = []
        for i, value in enumerate(args):
            p = params[i]
            kind = p.kind
            if kind == "wstr":
                if value is None:
                    argv.append(0)
                    continue
                raw = str(value).encode("utf-16-le", "surrogatepass") + b"\0\0"
                inputs.append((i, off, raw))
            elif kind == "dword_inout" or kind == "bool_out":
                raw = _U32.pack(int(value) & 0xFFFFFFFF)
                outs.append((i, kind, off))
            elif kind == "in6_inout":
                raw = bytes(value) if value is not None else bytes(16)
                if len(raw) != 16:
                    raise ValueError(f"{sig.name}: parameter {p.name} needs 16 bytes")
                outs.append((i, kind, off))
            elif kind == "table_out":
                raw = bytes(self._table_size())
                outs.append((i, kind, off))
            elif kind == "struct" or kind == "struct_array":
                if value is None:
                    argv.append(0)
                    continue
                from emulator.abi import structs  # written by another component

                if kind == "struct":
                    raw = structs.pack(value, self.bits, base=SCRATCH + off)
                else:
                    raw = structs.pack_array(value, self.bits, base=SCRATCH + off)
                inputs.append((i, off, raw))
            else:  # pragma: no cover - a new kind in callbacks.py
                raise ValueError(f"unknown parameter kind {kind!r}")
            end = off + len(raw)
            if end > SCRATCH_SIZE:
                raise ValueError(
                    f"{sig.name}: arguments exceed the {SCRATCH_SIZE}-byte scratch area"
                )
            buf[off:end] = raw
            argv.append(SCRATCH + off)
            off = (end + 15) & ~15
        return argv, inputs, outs

    def _table_size(self) -> int:
        ps = self.bits // 8
        return ps + ps * len(TABLE_SLOTS)

    def _read_table(self, emu: Emulator, addr: int) -> dict[str, int]:
        ps = self.bits // 8
        table: dict[str, int] = {"revision": emu.mem.u8(addr)}
        for n, (slot, _) in enumerate(TABLE_SLOTS):
            a = addr + ps * (n + 1)
            table[slot] = emu.mem.u64(a) if ps == 8 else emu.mem.u32(a)
        return table

    # -- checks -----------------------------------------------------------------------------------
    def _check_convention(
        self, plan: _Plan, argc: int, out: Outcome, issues: list[CallIssue]
    ) -> None:
        name = plan.name
        if self.bits == 32:
            popped = out.sp - (out.entry_sp + 4)
            want = 4 * argc
            if popped != want:
                detail = {
                    "expected_pop": want,
                    "popped": popped,
                    "esp_before": out.entry_sp,
                    "esp_after": out.sp,
                }
                if popped == 0:
                    issues.append(
                        CallIssue(
                            "R50",
                            f"{name} is __cdecl: it left its {want} argument bytes on the stack; "
                            "callbacks must be __stdcall (CALLBACK/APIENTRY)",
                            detail,
                        )
                    )
                    issues.append(
                        CallIssue(
                            "R51",
                            f"{name} popped 0 bytes of arguments, stdcall pops {want}",
                            detail,
                        )
                    )
                else:
                    issues.append(
                        CallIssue(
                            "R51",
                            f"{name} popped {popped} bytes of arguments, expected exactly {want}",
                            detail,
                        )
                    )
            for reg, want_v, got in out.clobbered:
                issues.append(
                    CallIssue(
                        "R51",
                        f"{name} did not preserve {reg} (0x{want_v:x} before, 0x{got:x} after)",
                        {"register": reg, "before": want_v, "after": got},
                    )
                )
            if out.flags & 0x400:
                issues.append(
                    CallIssue(
                        "R51",
                        f"{name} returned with the direction flag (DF) set",
                        {"eflags": out.flags},
                    )
                )
        else:
            if out.sp != out.entry_sp + 8:
                issues.append(
                    CallIssue(
                        "R52",
                        f"{name} did not restore RSP (0x{out.entry_sp + 8:x} expected, 0x{out.sp:x} found)",
                        {"register": "RSP", "before": out.entry_sp + 8, "after": out.sp},
                    )
                )
            for reg, want_v, got in out.clobbered:
                issues.append(
                    CallIssue(
                        "R52",
                        f"{name} did not preserve {reg} (0x{want_v:x} before, 0x{got:x} after)",
                        {"register": reg, "before": want_v, "after": got},
                    )
                )

    def _fault(self, emu: Emulator, plan: _Plan, out: Outcome) -> CallFault:
        assert out.fault is not None
        kind, message, detail = out.fault
        d: dict[str, Any] = dict(detail)
        d["export"] = plan.name
        pc = d.get("pc", out.pc)
        if "api" in d:
            caller = d.get("caller", 0)
            if caller == STUBS:  # the export tail-called the API: its return address is ours
                where = f"{plan.name}, as a tail call"
            else:
                where = symbolize(self.image, self.base, self.module_name, caller)
            message = f"{message} (called from {where})"
            d["caller_symbol"] = where
            pc = caller
        if isinstance(d.get("alloc_site"), int) and d["alloc_site"]:
            d["alloc_symbol"] = symbolize(self.image, self.base, self.module_name, d["alloc_site"])
        if kind == "crash" and d.get("access") == "execute":
            smashed = self._smashed_return(emu, out)
            if smashed is not None:
                message = (
                    f"stack smashing: the return address at 0x{out.entry_sp:x} was overwritten "
                    f"with 0x{smashed:x} and the callback returned there ({message})"
                )
                d["return_address"] = smashed
                d["return_slot"] = out.entry_sp
        if isinstance(pc, int) and pc and pc != STUBS:
            d["pc"] = pc
            d["symbol"] = symbolize(self.image, self.base, self.module_name, pc)
            if "api" not in d and not d["symbol"].startswith("0x"):
                message = f"{message} ({d['symbol']})"
            if kind in ("crash", "exception", "timeout", "host-reentry"):
                d["disassembly"] = disassemble(emu.mem.read, pc, self.bits)
        return CallFault(kind, f"{plan.name}: {message}", d)  # type: ignore[arg-type]

    def _smashed_return(self, emu: Emulator, out: Outcome) -> int | None:
        """The value now in the callback's return-address slot, if it is no longer ours."""
        try:
            got = emu.mem.u64(out.entry_sp) if self.bits == 64 else emu.mem.u32(out.entry_sp)
        except Exception:
            return None
        return None if got == STUBS else got

    @property
    def threads_not_run(self) -> tuple[str, ...]:
        """Threads the DLL created in the current process (since the last reload), never run:
        the emulator runs the DLL on one thread. Each as ``start=<symbol> param=0x...``."""
        emu = self._emu
        if emu is None:
            return ()
        return tuple(
            f"start={symbolize(self.image, self.base, self.module_name, start)} param=0x{param:x}"
            for start, param in emu.proc.extra.get("threads_not_run", ())
        )

    # -- resources / close --------------------------------------------------------------------------
    def resource_usage(self) -> ResourceUsage | None:
        """Live heap blocks and handles the DLL made, each with its allocation site (R76)."""
        with self._lock:
            emu = self._emu
            if emu is None:
                return None
            sites: dict[str, str] = {}
            live = emu.heap.live()
            for addr, b in sorted(live.items()):
                where = symbolize(self.image, self.base, self.module_name, b.site)
                sites[f"heap:0x{addr:x}"] = f"{b.size} bytes from {b.api} called at {where}"
            handles = emu.proc.handles.open
            for h, e in sorted(handles.items()):
                where = symbolize(self.image, self.base, self.module_name, e.site)
                sites[f"handle:0x{h:x}"] = f"{e.kind} from {e.api} called at {where}"
            return ResourceUsage(
                heap_blocks=len(live),
                heap_bytes=sum(b.size for b in live.values()),
                handles=len(handles),
                sites=sites,
            )

    def close(self) -> None:
        """DLL_PROCESS_DETACH (TLS callbacks, DllMain, then atexit functions) and free the emulator."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            emu = self._emu
            self._emu = None
            if emu is None:
                return
            steps: list[tuple[str, int, tuple[int, ...]]] = [
                ("TLS callback", cb, (self.base, DLL_PROCESS_DETACH, 0))
                for cb in emu.tls_callbacks()
            ]
            if self.image.entry_rva:
                steps.append(
                    (
                        "DllMain",
                        self.base + self.image.entry_rva,
                        (self.base, DLL_PROCESS_DETACH, 0),
                    )
                )
            steps += [("atexit function", fn, ()) for fn in reversed(emu.proc.onexit)]
            try:
                for what, addr, args in steps:
                    out = emu.call(addr, args, timeout=self.load_timeout)
                    if out.fault is not None:
                        kind, message, detail = out.fault
                        self.unload_fault = CallFault(
                            kind,  # type: ignore[arg-type]
                            f"{what} (DLL_PROCESS_DETACH): {message}",
                            dict(detail),
                        )
                        return
            finally:
                self.unload_debug_output = tuple(emu.proc.debug)
                emu.close()

    def __repr__(self) -> str:
        return f"<PeDll {self.module_name} {self.machine} at 0x{self.base:x}>"
