"""The simulated RAS host: discovery, loading, the dial-in lifecycle, locks, findings.

Lifecycle (spec 1.3/2.5 with section 8's decisions):

* ``start``: read the registry (R11-R14), load each DLL (R15, R17), resolve exports (R16, R48,
  R49, R53-R55, R74), pick variants (R47), call InitializeDll(Ex) in registry order (R18, R56,
  R41, R72, R73). Each DLL is loaded twice when it serves the IP group: one instance for
  Get/ReleaseIp ("ip") and one for the connection callbacks ("conn") (R36). Both instances get
  InitializeDll(Ex) and TerminateDll, since each stands for one Windows process.
* ``connect``: GetIp in the first DLL with a complete IPv4 pair (R26) with RAS's proposed address
  (R27) and the sentinel in ``*bNotifyRelease`` (R78); non-NO_ERROR refuses (R28), 0 in and 0 out
  fails (R29). Then accept in every DLL in order, stopping at the first refusal (AMBIG-3; R20),
  then AcceptNewLink in every DLL (R21, R22). On a refusal 2003+ profiles send the hang-up to the
  DLLs already asked; 2000/NT 4.0 send none (R23). A handed-out address is released on every
  teardown if notify was TRUE (R30, R32).
* ``disconnect``: link hang-ups, connection hang-up (every DLL, registry order), then Release
  (section 8 order; R24, R31). NT 4.0: accept/hang-up once per port (R37).
* ``reauthenticate``: AcceptReauthentication(Ex) in every DLL; a refusal disconnects the session.

* IPv6 (2008+, opt-in with ``ipv6=True``): GetIpv6 in the first DLL exporting the IPv6 pair
  (AMBIG-8: the IPv4 rule applied), after GetIp; ReleaseIpv6 before ReleaseIp at teardown.
* ``stop`` then ``start`` again models a service restart: everything is reloaded; findings,
  trace and counters carry on.

Locks (R34, R35): each DLL instance has one lock, so a callback never runs twice at once and each
group (the IP pair; the connection, link and reauth callbacks) is serialised; the two groups run
concurrently on separate instances (R70). Structure arguments come from per-instance templates
refilled under that lock (the loaders copy or pack them during the call). The host monitor
(:mod:`emulator.conformance.checks`) watches every call.

Faults (R46): the loader has reloaded the DLL, so its state is gone; the session fails and the
host goes on. Later failures that follow from the lost state (a Release of a lease granted before
the reload, an address handed out again) are info findings, not new defects. A fault whose
detail names a rule (heap corruption: R76, re-entry: R66) is a finding under that rule.

Repeated timeouts: after GIVE_UP_AFTER (3) consecutive timeouts of one callback in one instance
the host stops calling that DLL for the rest of the service run (one scenario; a restart loads
it afresh) with an R46 error saying so; its later calls are not made (no trace events), so its
sessions fail at once instead of each paying ``call_timeout``.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any, Literal

from emulator.abi.callbacks import SIGNATURES, TABLE_ONLY, Param
from emulator.conformance.checks import dll as dchk
from emulator.conformance.checks.host_monitor import HostMonitor
from emulator.conformance.findings import Finding, Severity
from emulator.errors import InputError, LoadError, RasemuError
from emulator.host import connection as conn
from emulator.host.connection import ArgTemplates, SessionInfo
from emulator.host.discovery import Discovery, discover
from emulator.host.exports import ExportPlan, Strictness, Target, apply_table, plan_exports
from emulator.host.profiles import DEFAULT_PROFILE, Profile, get_profile
from emulator.host.trace import (
    CallRecord,
    Event,
    Forms,
    OutputFns,
    summarise_arg,
    summarise_output,
)
from emulator.loaders.base import AdminDll, Call, CallFault, CallResult, ResourceUsage
from emulator.registry.model import Registry

SENTINEL = dchk.SENTINEL
_perf = time.perf_counter


def _call_factory() -> Callable[[str | int, tuple[Any, ...], str | None, float], Call]:
    """A :class:`Call` constructor for the hot path (the frozen dataclass ``__init__`` goes
    through ``object.__setattr__`` per field); the plain constructor if base.py changed."""
    fields = ("target", "args", "signature", "timeout")
    try:
        if tuple(Call.__slots__) != fields:
            raise AttributeError
        st, sa, ss, sto = (Call.__dict__[f].__set__ for f in fields)
    except (AttributeError, KeyError):  # pragma: no cover - base.py without slots
        return lambda t, a, s, to: Call(t, a, s, to)
    new = object.__new__

    def make(target: str | int, args: tuple[Any, ...], sig: str | None, timeout: float) -> Call:
        c = new(Call)
        st(c, target)
        sa(c, args)
        ss(c, sig)
        sto(c, timeout)
        return c

    return make


_new_call = _call_factory()


def _arg_summariser(fns: tuple[Any, ...]) -> Callable[[tuple[Any, ...]], list[Any]]:
    """The trace form of an argument tuple, one entry per parameter: the value itself
    (summariser None), None (False: not summarised) or ``f(value)``; unrolled per signature."""

    def generic(args: tuple[Any, ...]) -> list[Any]:
        return [a if f is None else (None if f is False else f(a))
                for f, a in zip(fns, args, strict=False)]

    n = len(fns)
    parts = [f"a[{i}]" if f is None else "None" if f is False else f"f{i}(a[{i}])"
             for i, f in enumerate(fns)]
    ns: dict[str, Any] = {"generic": generic}
    ns.update({f"f{i}": f for i, f in enumerate(fns) if f is not None and f is not False})
    src = (f"def summarise(a):\n    if len(a) != {n}:\n        return generic(a)\n"
           f"    return [{', '.join(parts)}]\n")
    exec(compile(src, "<rasemu arg summariser>", "exec"), ns)
    fn: Callable[[tuple[Any, ...]], list[Any]] = ns["summarise"]
    return fn

#: per signature: (signature, argument summariser, output (name, summariser) pairs, lazy, dicts)
_SigInfo = Forms


def _evidence(*recs: CallRecord | None) -> tuple[Event, ...]:
    """The events of ``recs`` as finding evidence (an empty dict for a missing one)."""
    return tuple({} if r is None else r.event() for r in recs)


NO_ERROR = 0
#: consecutive timeouts of one callback in one instance after which the host stops calling
#: the DLL for the rest of the service run (the scenario); a restart loads it afresh
GIVE_UP_AFTER = 3
#: calls of one callback sent to a DLL in one round trip by connect_many/disconnect_many
BATCH = 256
UNLEN = 256
MAX_PORT_NAME = 16

Opener = Callable[..., AdminDll]
SessionState = Literal["connected", "refused", "failed", "disconnected"]


@dataclass
class LoadedAdminDll:
    """One registered DLL as the host loaded it."""

    path: str
    real_path: str
    index: int
    loader: str = ""
    machine: str = ""
    exports: frozenset[str] = frozenset()
    plan: ExportPlan | None = None
    conn: AdminDll | None = None
    ip: AdminDll | None = None
    conn_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    ip_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    baseline: dict[str, ResourceUsage] = field(default_factory=dict, repr=False)
    #: faults per instance; a fault means the loader reloaded it and its state is gone
    generation: dict[str, int] = field(default_factory=lambda: {"ip": 0, "conn": 0},
                                       repr=False)
    templates: ArgTemplates | None = field(default=None, repr=False)
    #: instances whose DLL wrote through [in] pointers (R69): their leaks may be consequences
    wrote_inputs: set[str] = field(default_factory=set, repr=False)
    #: (instance, callback) -> events of its consecutive timeouts so far
    timeouts: dict[tuple[str, str], list[CallRecord]] = field(default_factory=dict, repr=False)
    #: the callback whose repeated timeouts made the host stop calling this DLL, if any
    given_up: str | None = None

    @property
    def variants(self) -> dict[str, Any]:
        """The chosen callbacks (R47)."""
        return {} if self.plan is None else self.plan.selection()


@dataclass(eq=False, slots=True)
class Session:
    """One dial-in user as the host sees it."""

    user: str
    port: str
    state: SessionState
    address: IPv4Address | None
    links: list[str]
    notify_release: bool | None
    id: int
    info: SessionInfo = field(repr=False, default=None)  # type: ignore[assignment]
    refused_by: str | None = None
    _dword: int = field(default=0, repr=False)
    _ip_done: bool = field(default=False, repr=False)
    _accepted: int = field(default=0, repr=False)
    _pool: bool = field(default=False, repr=False)
    _gen: int = field(default=0, repr=False)
    _get_ev: CallRecord | None = field(default=None, repr=False)
    _ip6: bytes | None = field(default=None, repr=False)
    _notify6: bool = field(default=False, repr=False)
    _cgen: dict[int, int] = field(default_factory=dict, repr=False)


class RasHost:
    """A RAS/RRAS service driving admin DLLs under one OS profile. Thread-safe."""

    def __init__(self, registry: Registry, profile: Profile | str = DEFAULT_PROFILE, *,
                 loader: str = "auto", isolate: bool | None = None,
                 strictness: Strictness = "practice", call_timeout: float = 5.0,
                 path_map: Mapping[str, str] | None = None, trace: bool = True,
                 opener: Opener | None = None, load_options: Mapping[str, Any] | None = None,
                 ipv6: bool = False) -> None:
        if strictness not in ("strict", "practice"):
            raise InputError(f"unknown strictness {strictness!r}; expected 'strict' or "
                             "'practice'", where="strictness")
        self.registry = registry
        self.profile = get_profile(profile)
        self.loader = loader
        self.isolate = isolate
        self.strictness: Strictness = strictness
        self.call_timeout = call_timeout
        self.path_map = {k.lower(): v for k, v in (path_map or {}).items()}
        self.keep_trace = trace
        self._opener = opener
        self._load_options = dict(load_options or {})
        self.dlls: list[LoadedAdminDll] = []
        self.discovery: Discovery | None = None
        self.started = False
        self._ip_dll: LoadedAdminDll | None = None
        self._ip6_dll: LoadedAdminDll | None = None
        self.ipv6 = ipv6
        self._bits = self.profile.bitness
        self._trace: list[Event] = []
        self._mlock = threading.Lock()  # trace, monitor, findings, counters
        self._slock = threading.Lock()  # sessions and address owners
        self._seq = 0
        self._call_seconds = 0.0
        self._t0 = time.perf_counter()
        self._ids = itertools.count(1)
        self._sessions_total = 0
        self._live: dict[int, Session] = {}
        self._peak = 0
        #: address DWORD -> the session holding it, from its GetIp until its release (R63)
        self._owners: dict[int, Session] = {}
        self._pool_next = 0
        self._pool_free: list[int] = []
        self._findings: dict[tuple[str, str, str], Finding] = {}
        self._counts: dict[tuple[str, str, str], int] = {}
        self._monitor = HostMonitor([], self.profile)
        self._observe = self._monitor.observe
        self._stopped = False
        self._sig_cache: dict[str, _SigInfo] = {}

    # ------------------------------------------------------------------ findings, trace

    def _add(self, findings: list[Finding]) -> None:
        for f in findings:
            key = (f.rule, f.subject, f.message)
            c = self._counts.get(key)
            if c is None:
                self._findings[key] = f
                self._counts[key] = 1
            else:
                self._counts[key] = c + 1

    def _add_locked(self, findings: list[Finding]) -> None:
        if findings:
            with self._mlock:
                self._add(findings)

    @property
    def findings(self) -> list[Finding]:
        """Everything found so far, one per (rule, subject, message); ``extra['occurrences']``."""
        with self._mlock:
            mon = list(self._monitor.findings)
            self._monitor.findings.clear()
            self._add(mon)
            out = []
            for key, f in self._findings.items():
                n = self._counts[key]
                if n > 1:
                    f = Finding(f.rule, f.severity, f.message, f.evidence, f.subject,
                                {**f.extra, "occurrences": n})
                out.append(f)
            return out

    @property
    def trace(self) -> list[dict[str, Any]]:
        """The call events so far (empty when the host was made with ``trace=False``)."""
        with self._mlock:
            return list(self._trace)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: sessions, calls, seconds in callbacks, connected now, peak connected."""
        with self._mlock, self._slock:
            return {"sessions": self._sessions_total, "calls": self._seq,
                    "seconds": round(self._call_seconds, 6),
                    "wall": round(time.perf_counter() - self._t0, 6),
                    "connected_now": len(self._live), "peak_connected": self._peak}

    def _summarisers(self, name: str) -> _SigInfo:
        """Per signature: (signature, the arguments' summariser, output (name, summariser)
        pairs, whether the trace form may be built after the call, whether it may hold
        structure summaries)."""
        got = self._sig_cache.get(name)
        if got is None:
            sig = SIGNATURES.get(name) or TABLE_ONLY[name]
            keep = self.keep_trace

            def arg_fn(p: Param) -> Any:
                if p.kind == "wstr" or p.kind == "bool_out":
                    return None  # as is
                if p.kind == "dword_inout":
                    return conn.dotted
                if p.kind == "struct" and not keep and p.struct != "NT4_RAS_PORT_1":
                    return False  # not summarised without a kept trace (NT 4.0 ports are: R37)
                return lambda v, _p=p: summarise_arg(_p, v)

            def out_fn(p: Param) -> Any:
                if p.kind == "dword_inout":
                    return conn.dotted
                if p.kind == "bool_out":
                    return None
                return lambda v, _p=p: summarise_output(_p, v)

            afns = tuple(arg_fn(p) for p in sig.params)
            # structures (reused templates) and read-back tables are summarised at once;
            # strings, numbers and bytes can wait until a trace event or evidence is needed
            dicts = any(p.kind in ("struct", "struct_array") and f is not False
                        for p, f in zip(sig.params, afns, strict=True))
            lazy = not dicts and all(p.kind != "table_out" for p in sig.params)
            ofns: OutputFns = tuple((p.name, out_fn(p)) for p in sig.params)
            got = (sig, _arg_summariser(afns), ofns, lazy, dicts)
            self._sig_cache[name] = got
        return got

    def _call(self, d: LoadedAdminDll, inst: str, target: Target,
              args: tuple[Any, ...] | tuple[SessionInfo, str | None, int],
              session: int | None = None, probe: bool = False,
              lock: bool = True, structs: bool = False,
              made: tuple[CallResult, float, float] | None = None
              ) -> tuple[CallResult, CallRecord]:
        """Run one callback under the instance lock, record it and let the monitor observe it.

        With ``structs`` True, ``args`` is ``(session info, port, stats)`` and the structure
        arguments are filled from the DLL's templates while the lock is held. ``made``:
        (result, start, seconds) of a call made already (in a batch): only record it.
        """
        if inst == "ip":
            dll, lk = d.ip, d.ip_lock
        else:
            dll, lk = d.conn, d.conn_lock
        assert dll is not None
        name = target.signature
        if d.given_up is not None and made is None:
            return self._skipped(d, inst, name, session, probe)
        forms = self._sig_cache.get(name) or self._summarisers(name)
        if lock:
            lk.acquire()
        try:
            if made is not None:
                res, t0, dt = made
                address = None
            else:
                if structs:
                    templates = d.templates
                    assert templates is not None
                    info, port, stats = args
                    args = templates.args(name, info, port, stats)
                address = target.address
                if address is None:
                    t0 = _perf()
                    res = dll.call_export(name, args, self.call_timeout)
                else:
                    call = _new_call(address, args, name, self.call_timeout)
                    t0 = _perf()
                    res = dll.handle_call(call)
                dt = _perf() - t0
            fault = res.fault
            rec = CallRecord(t0, self._t0, d.path, inst, name, args, forms, res, probe, session,
                             address)
            with self._mlock:
                rec.seq = self._seq
                self._seq += 1
                self._call_seconds += dt
                if fault is not None:
                    d.generation[inst] += 1
                    if fault.kind == "timeout":
                        self._timed_out(d, inst, name, rec)
                    elif d.timeouts:
                        d.timeouts.pop((inst, name), None)
                elif d.timeouts:
                    d.timeouts.pop((inst, name), None)
                if res.modified_inputs:
                    d.wrote_inputs.add(inst)
                if self.keep_trace:
                    self._trace.append(rec.event())
                self._observe(rec)
        finally:
            if lock:
                lk.release()
        return res, rec

    def _call_many(self, d: LoadedAdminDll, inst: str, target: Target,
                   args: list[tuple[Any, ...]], sessions: list[int]
                   ) -> list[tuple[CallResult, CallRecord, int]]:
        """:meth:`_call` for several calls of one callback, with the instance lock held by the
        caller: batches of :data:`BATCH` calls, one loader round trip each
        (:meth:`AdminDll.call_exports`).

        Returns (result, record, the instance's generation before the call) per call. A batch
        ends at a fault; the rest go in the next one, or are skipped once the host gave up on
        the DLL (as one by one).
        """
        dll = d.ip if inst == "ip" else d.conn
        assert dll is not None
        out: list[tuple[CallResult, CallRecord, int]] = []
        while len(out) < len(args):
            k = len(out)
            if d.given_up is not None or target.address is not None:
                gen = d.generation[inst]
                res, rec = self._call(d, inst, target, args[k], sessions[k], lock=False)
                out.append((res, rec, gen))
                continue
            t0 = _perf()
            results = dll.call_exports(target.signature, args[k:k + BATCH], self.call_timeout)
            if not results:
                raise RuntimeError(f"{d.path}: {type(dll).__name__}.call_exports made no call")
            for a, sid, res in zip(args[k:k + BATCH], sessions[k:k + BATCH], results,
                                   strict=False):
                gen = d.generation[inst]
                _, rec = self._call(d, inst, target, a, sid, lock=False,
                                    made=(res, t0, res.seconds))
                out.append((res, rec, gen))
        return out

    def _timed_out(self, d: LoadedAdminDll, inst: str, name: str, rec: CallRecord) -> None:
        """Count a timeout (``_mlock`` held); after GIVE_UP_AFTER in a row, give up on ``d``."""
        evs = d.timeouts.setdefault((inst, name), [])
        evs.append(rec)
        if len(evs) < GIVE_UP_AFTER or d.given_up is not None:
            return
        d.given_up = name
        self._add([Finding(
            "R46", Severity.ERROR,
            f"gave up after {GIVE_UP_AFTER} consecutive timeouts in {name}: rasemu calls no "
            f"callback of {d.path} for the rest of this service run (each call would cost the "
            f"{self.call_timeout:g} s call time limit); its sessions fail",
            tuple(e.event() for e in evs), subject=d.path,
            extra={"fault": "timeout", "instance": inst, "callback": name,
                   "consecutive_timeouts": GIVE_UP_AFTER})])

    def _skipped(self, d: LoadedAdminDll, inst: str, name: str, session: int | None,
                 probe: bool) -> tuple[CallResult, CallRecord]:
        """The result of a call not made because the host gave up on ``d`` (no trace event)."""
        msg = (f"not called: rasemu gave up on {d.path} after {GIVE_UP_AFTER} consecutive "
               f"timeouts in {d.given_up}")
        ev: Event = {"seq": None, "dll": d.path, "instance": inst, "call": name, "args": [],
                     "returned": None, "outputs": {}, "fault": {"kind": "timeout",
                                                                "message": msg},
                     "issues": [], "probe": probe, "session": session, "skipped": True}
        res = CallResult(fault=CallFault("timeout", msg, {"skipped": True}))
        return res, CallRecord.prebuilt(ev, res)

    # ------------------------------------------------------------------ start / stop

    def _resolve(self, path: str) -> str:
        return self.path_map.get(path.lower(), path)

    def _open(self, real: str) -> AdminDll:
        # options must stay picklable (isolated loaders send them to a child process)
        options = dict(self._load_options)
        if self._opener is not None:
            return self._opener(real, loader=self.loader, bitness=self._bits,
                                isolate=self.isolate, options=options)
        import importlib

        open_dll: Opener = importlib.import_module("emulator.loaders.select").open_dll
        return open_dll(real, loader=self.loader, bitness=self._bits, isolate=self.isolate,
                        options=options)

    def start(self) -> bool:
        """Start the service; False when it would not start (the findings say why)."""
        if self.started:
            return True
        if self._stopped:  # a restart: reload everything, keep findings and the trace
            with self._mlock:
                self._add(self._monitor.finish())
                self._monitor.findings.clear()
            self.dlls = []
            self._ip_dll = None
            self._ip6_dll = None
            self._stopped = False
            with self._slock:
                self._live.clear()
                self._owners.clear()
        d = discover(self.registry, self.profile)
        self.discovery = d
        self._add_locked(d.findings)
        ok = True
        for i, path in enumerate(d.paths):
            ld = LoadedAdminDll(path, self._resolve(path), i,
                                templates=conn.ArgTemplates(self._bits))
            self.dlls.append(ld)
            try:
                ld.conn = self._open(ld.real_path)
            except LoadError as exc:
                self._add_locked([Finding(
                    exc.rule or "R15", Severity.ERROR,
                    f"cannot load {path}: {exc.message}; the RAS service does not start (R15)",
                    ({"dll": path, "file": ld.real_path},), subject=path)])
                ok = False
                break
            except (InputError, OSError) as exc:
                self._add_locked([Finding(
                    "R15", Severity.ERROR,
                    f"cannot load {path}: {exc}; the RAS service does not start",
                    ({"dll": path, "file": ld.real_path},), subject=path)])
                ok = False
                break
            except Exception as exc:  # a loader failing on a broken file is still a load failure
                self._add_locked([Finding(
                    "R15", Severity.ERROR,
                    f"cannot load {path}: {type(exc).__name__}: {exc}; the RAS service does not "
                    "start", ({"dll": path, "file": ld.real_path},), subject=path)])
                ok = False
                break
            ld.loader = ld.conn.loader_name
            ld.machine = ld.conn.machine
            ld.exports = ld.conn.exports
            ld.plan = plan_exports(ld.exports, self.profile, self.strictness, path)
            self._add_locked(ld.plan.findings)
            if not ld.plan.meets[self.strictness]:
                ok = False
                break
        if ok:
            self._monitor = HostMonitor([(x.path, x.exports) for x in self.dlls], self.profile)
            self._observe = self._monitor.observe
            self._ip_dll = next((x for x in self.dlls if x.plan and x.plan.get_ip), None)
            # AMBIG-8: the first-exporting-DLL rule is applied to the IPv6 pair as well
            self._ip6_dll = next((x for x in self.dlls if x.plan and x.plan.get_ipv6), None)
            for ipd in {id(x): x for x in (self._ip_dll, self._ip6_dll) if x}.values():
                try:
                    ipd.ip = self._open(ipd.real_path)
                except (InputError, OSError) as exc:
                    self._add_locked([Finding(
                        "R36", Severity.ERROR,
                        f"cannot load a second instance of {ipd.path} for the IP "
                        f"callbacks: {exc}", (), subject="host")])
                    ok = False
        if ok:
            ok = self._initialize()
        if not ok:
            self._stopped = True
            self._add_locked([Finding(
                "R15", Severity.INFO, "the RAS service would not start with this configuration",
                (), subject="host")])
            self._close_all()
            return False
        for ld in self.dlls:
            self._add_locked([Finding(
                "R47", Severity.INFO,
                f"variant selection for {ld.path}: newest complete pair the profile supports, "
                "never mixed, table Ex pointers only with revision >= 2",
                ({"dll": ld.path, "selection": ld.variants},), subject=ld.path)])
            for inst, dll in (("conn", ld.conn), ("ip", ld.ip)):
                if dll is not None:
                    u = dll.resource_usage()
                    if u is not None:
                        ld.baseline[inst] = u
        self.started = True
        return True

    def _initialize(self) -> bool:
        for ld in self.dlls:
            plan = ld.plan
            assert plan is not None
            if plan.init is None:
                continue
            for inst in ("ip", "conn"):
                if (ld.ip if inst == "ip" else ld.conn) is None:
                    continue
                args: tuple[Any, ...] = (None,) if plan.init.endswith("Ex") else ()
                res, ev = self._call(ld, inst, Target(plan.init), args)
                found = dchk.result_findings(ev, ld.path, res)
                found += dchk.status_findings(ev, ld.path, res.returned, "R56")
                self._add_locked(found)
                if res.fault is not None or res.returned != NO_ERROR:
                    return False
                if inst == "conn" and plan.init.endswith("Ex"):
                    table = res.outputs.get(0)
                    if isinstance(table, Mapping):
                        dll = ld.conn
                        assert dll is not None
                        apply_table(plan, table, self.profile, dll.export_address, ld.path,
                                    ev.event())
                        self._add_locked([f for f in plan.findings
                                          if f.rule in ("R41", "R72", "R73")])
        return True

    def _close_all(self) -> None:
        for ld in self.dlls:
            for dll in (ld.ip, ld.conn):
                if dll is not None:
                    try:
                        dll.close()
                    except Exception as exc:  # a broken unload must not hide the findings
                        self._add_locked([Finding(
                            "R46", Severity.ERROR, f"unloading {ld.path} failed: {exc}",
                            (), subject=ld.path)])
            ld.ip = ld.conn = None

    def stop(self) -> None:
        """Disconnect everyone, check leaks (R76), TerminateDll everywhere (R19, R57), unload."""
        if self._stopped:
            return
        self._stopped = True
        if self.started:
            with self._slock:
                live = list(self._live.values())
            for s in live:
                self.disconnect(s)
            self.check_leaks()
            for ld in self.dlls:
                plan = ld.plan
                if plan is None or plan.terminate is None:
                    continue
                for inst in ("ip", "conn"):
                    if (ld.ip if inst == "ip" else ld.conn) is None:
                        continue
                    res, ev = self._call(ld, inst, plan.terminate, ())
                    self._add_locked(dchk.result_findings(ev, ld.path, res)
                                     + dchk.status_findings(ev, ld.path, res.returned, "R57"))
        self._close_all()
        with self._mlock:
            self._add(self._monitor.finish())
            self._monitor.findings.clear()
        self.started = False

    def check_leaks(self) -> list[Finding]:
        """Compare resource usage with the post-initialisation baseline (R76) when idle."""
        with self._slock:
            if self._live:
                return []
            sessions = self._sessions_total
        out: list[Finding] = []
        for ld in self.dlls:
            if ld.given_up is not None:
                continue  # reloaded after each timeout and no longer called: nothing to compare
            for inst, dll in (("conn", ld.conn), ("ip", ld.ip)):
                base = ld.baseline.get(inst)
                if dll is None or base is None:
                    continue
                now = dll.resource_usage()
                if now is not None:
                    out += dchk.leak_findings(ld.path, inst, base, now, sessions,
                                              after_r69=inst in ld.wrote_inputs)
        self._add_locked(out)
        return out

    def __enter__(self) -> RasHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ sessions

    def _need_started(self) -> None:
        if not self.started:
            raise RasemuError("the RAS host is not running (start() returned False or stop() "
                              "was called)")

    @staticmethod
    def _check_names(user: str, port: str) -> None:
        if len(user) > UNLEN:
            raise InputError(f"user name has {len(user)} characters; at most UNLEN ({UNLEN})",
                             where="user")
        if len(port) > MAX_PORT_NAME:
            raise InputError(f"port name has {len(port)} characters; at most MAX_PORT_NAME "
                             f"({MAX_PORT_NAME})", where="port")

    @staticmethod
    def _odd(user: str, port: str) -> bool:
        return not user or not port or len(user) >= UNLEN or len(port) >= MAX_PORT_NAME - 1

    def _pool_take(self) -> int:
        with self._slock:
            if self._pool_free:
                n = self._pool_free.pop()
            else:
                self._pool_next += 1
                n = self._pool_next
        host = (n - 1) % 65023
        a = IPv4Address(int(IPv4Address("10.77.0.0")) + 256 * (host // 254) + host % 254 + 1)
        return conn.ip_to_dword(a)

    def _proposed(self, proposed: int | str | IPv4Address) -> int:
        """The DWORD of a non-zero proposal (InputError when it is not an IPv4 address)."""
        try:
            return conn.ip_to_dword(
                proposed if isinstance(proposed, IPv4Address) else IPv4Address(proposed))
        except ValueError as exc:
            raise InputError(f"proposed address {proposed!r} is not an IPv4 address: {exc}",
                             where="proposed") from None

    def _new_session(self, user: str, port: str) -> Session:
        sid = next(self._ids)
        info = conn.SessionInfo(sid, user, port)
        info.links.append(port)
        s = Session(user, port, "failed", None, info.links, None, sid, info)
        with self._slock:
            self._sessions_total += 1
        return s

    def connect(self, user: str, port: str, *, proposed: int | str | IPv4Address = 0,
                links: int = 1, ipv6: bool | None = None) -> Session:
        """One user dials in on ``port`` with ``links`` links; ``proposed`` is RAS's address.

        ``proposed`` is an address (``int`` as :class:`ipaddress.IPv4Address` numbers it, text,
        or an address object) or 0; it is passed in network byte order (R27). ``ipv6`` (default:
        the host's ``ipv6`` option) also asks the first DLL exporting the IPv6 pair for an
        interface identifier (2008+ profiles).
        """
        self._need_started()
        self._check_names(user, port)
        if links < 1:
            raise InputError(f"links must be at least 1, not {links}", where="links")
        pdw = self._proposed(proposed) if proposed else 0
        s = self._new_session(user, port)
        odd = self._odd(user, port)
        ipd = self._ip_dll
        if ipd is not None:
            if not self._get_ip(ipd, s, pdw, odd):
                with self._mlock:
                    self._monitor.end(s.id)  # nothing to release (R28/R29)
                return s
        else:
            self._pool_address(s, pdw)
        self._connect_rest(s, odd, links, ipv6)
        return s

    def connect_many(self, requests: Iterable[tuple[Any, ...]], *,
                     proposed: int | str | IPv4Address = 0, links: int = 1,
                     ipv6: bool | None = None) -> list[Session]:
        """Several users dial in at once: every GetIpAddressForUser, then each session goes on
        as in ``connect`` (accept in every DLL, links).

        ``requests`` holds (user, port) or (user, port, proposed) tuples; ``proposed`` is the
        default proposal. The IP DLL's calls are made in batches of :data:`BATCH` (one round
        trip to a child process each). Every request is checked before any call is made.
        """
        self._need_started()
        if links < 1:
            raise InputError(f"links must be at least 1, not {links}", where="links")
        default = self._proposed(proposed) if proposed else 0
        todo: list[tuple[str, str, int]] = []
        for i, r in enumerate(requests):
            if not (isinstance(r, tuple | list) and len(r) in (2, 3)
                    and isinstance(r[0], str) and isinstance(r[1], str)):
                raise InputError(f"request {i} is {r!r}; expected (user, port) or (user, port, "
                                 "proposed) with user and port strings", where=f"requests[{i}]")
            self._check_names(r[0], r[1])
            pdw = default if len(r) == 2 else self._proposed(r[2]) if r[2] else 0
            todo.append((r[0], r[1], pdw))
        made = [self._new_session(user, port) for user, port, _ in todo]
        odd = [self._odd(user, port) for user, port, _ in todo]
        ipd = self._ip_dll
        if ipd is not None:
            ok = self._get_ips(ipd, [(s, t[2], o) for s, t, o in zip(made, todo, odd, strict=True)])
        else:
            for s, t in zip(made, todo, strict=True):
                self._pool_address(s, t[2])
            ok = [True] * len(made)
        for s, o, good in zip(made, odd, ok, strict=True):
            if good:
                self._connect_rest(s, o, links, ipv6)
            else:
                with self._mlock:
                    self._monitor.end(s.id)  # nothing to release (R28/R29)
        return made

    def _pool_address(self, s: Session, pdw: int) -> None:
        """No IP DLL: RAS's own address (``proposed``) or one from the host's pool."""
        dw = pdw or self._pool_take()
        s._pool = not pdw
        s._dword = dw
        s.address = conn.dword_to_ip(dw)
        s.notify_release = None

    def _connect_rest(self, s: Session, odd: bool, links: int, ipv6: bool | None) -> None:
        """After the IPv4 address: IPv6 identifier, accept in every DLL, links."""
        info = s.info
        port = s.port
        ip6d = self._ip6_dll
        if ip6d is not None and (self.ipv6 if ipv6 is None else ipv6) and \
                not self._get_ipv6(ip6d, s, odd):
            self._release(s)
            return
        info.address = s.address
        info.ipv6_id = s._ip6
        s.state = "refused"  # until every DLL accepted; a fault turns it into "failed"
        if not self._accept_connection(s, odd):
            self._teardown(s, refused_at=s._accepted)
            return
        if not self._accept_link(s, port, odd):
            self._teardown(s, refused_link=True)
            return
        s.state = "connected"
        with self._slock:
            self._live[s.id] = s
            if len(self._live) > self._peak:
                self._peak = len(self._live)
        for i in range(2, links + 1):
            self.add_link(s, conn.fit(f"{port}-{i}", MAX_PORT_NAME))

    def _get_ip(self, ipd: LoadedAdminDll, s: Session, pdw: int, odd: bool) -> bool:
        plan = ipd.plan
        assert plan is not None and plan.get_ip is not None
        with ipd.ip_lock:
            gen = ipd.generation["ip"]
            res, ev = self._call(ipd, "ip", plan.get_ip, (s.user, s.port, pdw, SENTINEL),
                                 s.id, lock=False)
            return self._got_ip(ipd, s, pdw, odd, res, ev, gen)

    def _get_ips(self, ipd: LoadedAdminDll, items: list[tuple[Session, int, bool]]
                 ) -> list[bool]:
        """:meth:`_get_ip` for (session, proposed, odd names) items, in batches."""
        plan = ipd.plan
        assert plan is not None and plan.get_ip is not None
        with ipd.ip_lock:
            got = self._call_many(ipd, "ip", plan.get_ip,
                                  [(s.user, s.port, pdw, SENTINEL) for s, pdw, _ in items],
                                  [s.id for s, _, _ in items])
            return [self._got_ip(ipd, s, pdw, odd, res, ev, gen)
                    for (s, pdw, odd), (res, ev, gen) in zip(items, got, strict=True)]

    def _got_ip(self, ipd: LoadedAdminDll, s: Session, pdw: int, odd: bool, res: CallResult,
                ev: CallRecord, gen: int) -> bool:
        """What GetIpAddressForUser returned for ``s`` (the IP instance lock held; ``gen``:
        the instance's generation when the call was made)."""
        found = (dchk.result_findings(ev, ipd.path, res, odd_names=odd)
                 if res.fault is not None or res.issues or res.modified_inputs else [])
        if res.fault is not None:
            self._add_locked(found)
            s.state = "failed"
            return False
        returned = res.returned if res.returned is not None else 0
        value = int(res.outputs.get(2, pdw) or 0) & 0xFFFFFFFF
        notify = int(res.outputs.get(3, SENTINEL) or 0) & 0xFFFFFFFF
        found += dchk.get_ip_findings(ev, ipd.path, pdw, returned, value, notify)
        if returned != NO_ERROR:
            self._add_locked(found)
            s.state = "refused"  # R28
            s.refused_by = ipd.path
            return False
        s.notify_release = notify != 0  # R45: the sentinel counts as TRUE (section 8)
        s._ip_done = True
        s._gen = gen
        s._get_ev = ev
        if value == 0:
            self._add_locked(found)
            s.state = "failed"  # R29
            return False
        s._dword = value
        s.address = conn.dword_to_ip(value)
        with self._slock:
            o = self._owners.get(value)
            if o is s:
                o = None
            if o is not None and o._gen != s._gen:
                found.append(Finding(
                    "R46", Severity.INFO,
                    f"{ev.call} handed out {s.address} again after the IP instance was "
                    "reloaded following a fault (the reloaded DLL forgot its leases)",
                    _evidence(o._get_ev, ev), subject=ipd.path))
            elif o is not None:
                found.append(Finding(
                    "R63", Severity.ERROR,
                    f"{ev.call} handed {s.address} to a second user while the first, "
                    "still connected, holds it", _evidence(o._get_ev, ev), subject=ipd.path,
                    extra={"address": str(s.address), "users": [o.user, s.user]}))
            self._owners[value] = s
        self._add_locked(found)
        return True

    def _get_ipv6(self, d: LoadedAdminDll, s: Session, odd: bool) -> bool:
        """GetIpv6AddressForUser: the 64-bit interface identifier (in the IN6_ADDR's low half)."""
        plan = d.plan
        assert plan is not None and plan.get_ipv6 is not None
        res, ev = self._call(d, "ip", plan.get_ipv6, (s.user, s.port, bytes(16), SENTINEL), s.id)
        found = dchk.result_findings(ev, d.path, res, odd_names=odd)
        if res.fault is not None:
            self._add_locked(found)
            s.state = "failed"
            return False
        notify = int(res.outputs.get(3, SENTINEL) or 0) & 0xFFFFFFFF
        found += dchk.get_ipv6_findings(ev, d.path, res.returned or 0, notify)
        self._add_locked(found)
        if res.returned:
            s.state = "refused"
            s.refused_by = d.path
            return False
        s._ip6 = bytes(res.outputs.get(2, bytes(16)))
        s._notify6 = notify != 0
        return True

    def _accept_connection(self, s: Session, odd: bool, port: str | None = None) -> bool:
        s._accepted = 0
        for ld in self.dlls:
            s._cgen.setdefault(ld.index, ld.generation["conn"])
            plan = ld.plan
            assert plan is not None and plan.accept is not None
            res, ev = self._call(ld, "conn", plan.accept, (s.info, port, 0), s.id,
                                 structs=True)
            s._accepted += 1
            if res.fault is not None or res.issues or res.modified_inputs or (
                    res.returned is not None and res.returned not in (0, 1)):
                found = dchk.result_findings(ev, ld.path, res, odd_names=odd)
                found += dchk.bool_findings(ev, ld.path, res.returned,
                                            "R75" if self.profile.nt4 else "R58")
                self._add_locked(found)
            if res.fault is not None:
                s.state = "failed"
                s.refused_by = ld.path
                return False
            if not res.returned:
                s.refused_by = ld.path
                return False
        return True

    def _accept_link(self, s: Session, port: str, odd: bool) -> bool:
        """AcceptNewLink in every DLL (R21, R22); NT 4.0 has none (accept is per port)."""
        if self.profile.nt4:
            return True
        asked = 0
        for ld in self.dlls:
            plan = ld.plan
            assert plan is not None
            if plan.accept_link is None:
                continue
            res, ev = self._call(ld, "conn", plan.accept_link,
                                 (s.info, port, 0), s.id, structs=True)
            asked += 1
            if res.fault is not None or res.issues or res.modified_inputs or (
                    res.returned is not None and res.returned not in (0, 1)):
                found = dchk.result_findings(ev, ld.path, res, odd_names=odd)
                found += dchk.bool_findings(ev, ld.path, res.returned)
                self._add_locked(found)
            if res.fault is not None or not res.returned:
                if res.fault is not None and s.state != "connected":
                    s.state = "failed"
                if self.profile.hangup_after_refusal:
                    self._link_down(s, port, limit=asked)
                return False
        return True

    def _consequence(self, ld: LoadedAdminDll, s: Session, gen: int, ev: CallRecord,
                     res: CallResult) -> bool:
        """A teardown fault for a connection accepted before the instance was reloaded."""
        if res.fault is None or s._cgen.get(ld.index, gen) >= gen or ld.given_up is not None:
            return False
        self._add_locked([Finding(
            "R46", Severity.INFO,
            f"{ev.call} failed for a connection accepted before the instance was reloaded "
            f"after a fault: {res.fault.message}", (ev.event(),), subject=ld.path)])
        return True

    def _link_down(self, s: Session, port: str, limit: int | None = None) -> None:
        n = 0
        for ld in self.dlls:
            plan = ld.plan
            assert plan is not None
            if plan.hangup_link is None:
                continue
            if limit is not None and n >= limit:
                break
            n += 1
            gen = ld.generation["conn"]
            res, ev = self._call(ld, "conn", plan.hangup_link,
                                 (s.info, port, 1), s.id, structs=True)
            if not self._consequence(ld, s, gen, ev, res):
                self._add_locked(dchk.result_findings(ev, ld.path, res))

    def _conn_down(self, s: Session, limit: int | None = None, port: str | None = None) -> None:
        for ld in self.dlls[: limit if limit is not None else len(self.dlls)]:
            plan = ld.plan
            assert plan is not None and plan.hangup is not None
            gen = ld.generation["conn"]
            res, ev = self._call(ld, "conn", plan.hangup,
                                 (s.info, port, 1), s.id, structs=True)
            if not self._consequence(ld, s, gen, ev, res):
                self._add_locked(dchk.result_findings(ev, ld.path, res))

    def _release(self, s: Session) -> None:
        """Release the session's addresses (IPv6, then IPv4) and close it in the monitor."""
        try:
            self._release_addresses(s)
        finally:
            with self._mlock:
                self._monitor.end(s.id)

    def _release_addresses(self, s: Session) -> None:
        if self._unlease(s):
            ipd = self._ip_dll
            assert ipd is not None and ipd.plan is not None and ipd.plan.release_ip is not None
            gen = ipd.generation["ip"]
            res, ev = self._call(ipd, "ip", ipd.plan.release_ip, (s.user, s.port, s._dword),
                                 s.id)
            self._released(ipd, s, gen, res, ev)

    def _release_many(self, sessions: list[Session]) -> None:
        """:meth:`_release` for several sessions, the IPv4 releases made in batches."""
        try:
            due = [s for s in sessions if self._unlease(s)]
            ipd = self._ip_dll
            if not due or ipd is None:
                return
            plan = ipd.plan
            assert plan is not None and plan.release_ip is not None
            with ipd.ip_lock:
                got = self._call_many(ipd, "ip", plan.release_ip,
                                      [(s.user, s.port, s._dword) for s in due],
                                      [s.id for s in due])
                for s, (res, ev, gen) in zip(due, got, strict=True):
                    self._released(ipd, s, gen, res, ev)
        finally:
            with self._mlock:
                for s in sessions:
                    self._monitor.end(s.id)

    def _unlease(self, s: Session) -> bool:
        """Release ``s``'s IPv6 identifier, give its address back; True when the IP DLL's
        ReleaseIpAddress is due (GetIp succeeded with *bNotifyRelease TRUE)."""
        ip6d = self._ip6_dll
        if s._ip6 is not None and s._notify6 and ip6d is not None and ip6d.plan is not None \
                and ip6d.plan.release_ipv6 is not None:
            res, ev = self._call(ip6d, "ip", ip6d.plan.release_ipv6,
                                 (s.user, s.port, s._ip6), s.id)
            self._add_locked(dchk.result_findings(ev, ip6d.path, res))
        s._ip6 = None
        with self._slock:
            if self._owners.get(s._dword) is s:
                del self._owners[s._dword]
            if s._pool:
                self._pool_free.append(s._dword)
                s._pool = False
        due = self._ip_dll is not None and s._ip_done and bool(s.notify_release) and \
            bool(s._dword)
        s._ip_done = False
        return due

    def _released(self, ipd: LoadedAdminDll, s: Session, gen: int, res: CallResult,
                  ev: CallRecord) -> None:
        """Findings of ``s``'s ReleaseIpAddress (``gen``: the IP instance's before the call)."""
        if res.fault is not None and gen != s._gen and ipd.given_up is None:
            # the instance was reloaded after an earlier fault: the DLL lost the lease, so
            # this failure is a consequence of that fault, not a new defect
            self._add_locked([Finding(
                "R46", Severity.INFO,
                f"{ev.call} failed for a lease granted before the IP instance was reloaded "
                f"after a fault: {res.fault.message}", (ev.event(),), subject=ipd.path)])
            return
        self._add_locked(dchk.result_findings(ev, ipd.path, res, odd_names=self._odd(s.user,
                                                                                      s.port)))

    def _teardown(self, s: Session, refused_at: int | None = None,
                  refused_link: bool = False) -> None:
        """Refusal paths: hang-ups per profile (R23), then release (R32, section 8)."""
        if refused_at is not None and self.profile.hangup_after_refusal:
            if self.profile.nt4:
                self._conn_down(s, refused_at, port=s.port)
            else:
                self._conn_down(s, refused_at)
        elif refused_link:
            self._conn_down(s)  # the connection itself was accepted by every DLL
        self._release(s)

    def add_link(self, session: Session, port: str) -> bool:
        """Add a link (multilink); every DLL must accept it (R21, R22; NT 4.0: R37)."""
        self._need_started()
        self._check_names(session.user, port)
        if session.state != "connected" or port in session.links:
            return False
        odd = self._odd(session.user, port)
        if self.profile.nt4:
            session.links.append(port)
            ok = self._accept_connection(session, odd, port=port)
            if not ok:
                session.links.remove(port)
                session.state = "connected"  # a refused extra port leaves the bundle up
            return ok
        session.links.append(port)
        if not self._accept_link(session, port, odd):
            session.links.remove(port)
            return False
        return True

    def hangup_link(self, session: Session, port: str) -> None:
        """Drop one link; dropping the last one disconnects the session (R24)."""
        if session.state != "connected" or port not in session.links:
            return
        if len(session.links) == 1:
            self.disconnect(session)
            return
        if self.profile.nt4:
            self._conn_down(session, port=port)
        else:
            self._link_down(session, port)
        session.links.remove(port)

    def disconnect(self, session: Session) -> None:
        """Link hang-ups, connection hang-up, then Release (section 8 order)."""
        if self._hang_up(session):
            self._release(session)

    def disconnect_many(self, sessions: Iterable[Session]) -> None:
        """``disconnect`` for each session: every one's hang-ups, then the releases, made in
        batches of :data:`BATCH` (one round trip to a child process each)."""
        self._release_many([s for s in sessions if self._hang_up(s)])

    def _hang_up(self, session: Session) -> bool:
        """The hang-up notifications of a connected session; False when it is not connected."""
        with self._slock:
            if session.state != "connected" or self._live.pop(session.id, None) is None:
                return False
            session.state = "disconnected"
        if self.profile.nt4:
            for p in list(session.links):
                self._conn_down(session, port=p)
        else:
            for p in list(session.links):
                self._link_down(session, p)
            self._conn_down(session)
        return True

    def reauthenticate(self, session: Session, quarantine_state: int) -> bool:
        """NAP quarantine change (2008+): every DLL's AcceptReauthentication(Ex) must say TRUE.

        A refusal disconnects the session. Profiles without reauthentication return True.
        """
        self._need_started()
        if session.state != "connected":
            return False
        session.info.quarantine_state = quarantine_state
        if not self.profile.reauth:
            return True
        for ld in self.dlls:
            plan = ld.plan
            assert plan is not None
            if plan.reauth is None:
                continue
            res, ev = self._call(ld, "conn", plan.reauth,
                                 (session.info, None, 0), session.id, structs=True)
            self._add_locked(dchk.result_findings(ev, ld.path, res)
                             + dchk.bool_findings(ev, ld.path, res.returned))
            if res.fault is not None or not res.returned:
                session.refused_by = ld.path
                self.disconnect(session)
                return False
        return True

    def probe_release_unknown(self, user: str, port: str, address: int | str | IPv4Address
                              ) -> None:
        """R65 probe: Release an address the DLL never handed out; a crash is an R65 finding."""
        self._need_started()
        ipd = self._ip_dll
        if ipd is None:
            return
        plan = ipd.plan
        assert plan is not None and plan.release_ip is not None
        dw = conn.ip_to_dword(address if isinstance(address, IPv4Address)
                              else IPv4Address(address))
        res, ev = self._call(ipd, "ip", plan.release_ip, (user, port, dw), None, probe=True)
        self._add_locked(dchk.result_findings(ev, ipd.path, res, probe=True))

    @property
    def connected(self) -> list[Session]:
        """Sessions connected now."""
        with self._slock:
            return list(self._live.values())


def parse_address(text: str) -> IPv4Address:
    """An IPv4 address from text, as an InputError naming the text when it is not one."""
    try:
        return IPv4Address(text)
    except ipaddress.AddressValueError as exc:
        raise InputError(f"{text!r} is not an IPv4 address: {exc}", where="address") from None
