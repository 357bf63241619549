"""The conformance run: register a DLL in a fresh in-memory registry, run scenarios, build a Report.

The host finds the DLL the way RAS does, through ``HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll``
(``DisplayName`` and a ``DLLPath`` such as ``C:\\Windows\\System32\\vendor.dll`` that
``path_map`` ties to the real file), so discovery (R11-R14) is part of every check. Each
applicable scenario runs on a fresh host (start ... stop). A DLL that cannot be loaded is a
finding (R15, R17, R48 ...), not an exception; a path that is missing or not a DLL at all is
wrong input (InputError).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from emulator.conformance.findings import Finding, Severity
from emulator.errors import InputError, RasemuError
from emulator.host.discovery import ADMIN_DLL_KEY
from emulator.host.profiles import Profile, get_profile
from emulator.host.scenarios import (
    HostLike,
    Scenario,
    ScenarioResult,
    load_scenario,
    run_scenario,
    standard_scenarios,
)
from emulator.registry.model import REG_SZ, Registry
from emulator.report import Report, ScenarioSummary, dedupe

__all__ = ["AUTO_PROFILE_NOTE", "LOADERS", "PHASES", "HostFactory", "RunInterrupted", "SignalInterrupt",
           "check_dll", "check_dlls", "check_installed", "dll_bitness", "profile_for", "registry_for",
           "sniff_dll", "with_phase"]

Strictness = Literal["strict", "practice"]
#: loader names accepted by ``--loader``
LOADERS = ("auto", "python", "native", "pe")
#: builds a host; called with the keyword arguments of ``RasHost.__init__``
HostFactory = Callable[..., HostLike]

_MAGIC = {
    b"MZ": "PE image",
    b"\x7fELF": "ELF shared object",
    b"\xcf\xfa\xed\xfe": "Mach-O",
    b"\xce\xfa\xed\xfe": "Mach-O",
    b"\xca\xfe\xba\xbe": "Mach-O universal",
}


def sniff_dll(path: str | Path) -> str:
    """What kind of loadable file ``path`` is; InputError when it is missing or not a DLL at all.

    Accepted: PE images (``MZ``), host shared libraries (ELF, Mach-O) and Python stand-ins (``.py``).
    """
    p = Path(path)
    where = str(path)
    if not p.exists():
        raise InputError("no such file", where=where)
    if not p.is_file():
        raise InputError("not a file (expected a DLL)", where=where)
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
            pe_sig = b""
            if head.startswith(b"MZ"):
                fh.seek(0x3C)
                raw = fh.read(4)
                if len(raw) == 4:
                    fh.seek(int.from_bytes(raw, "little"))
                    pe_sig = fh.read(4)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=where) from None
    if p.suffix.lower() == ".py":
        return "Python stand-in"
    if head.startswith(b"MZ") and pe_sig != b"PE\0\0":
        raise InputError(
            "not a DLL: an 'MZ' header without a PE signature (a DOS program or a damaged file)",
            where=where,
        )
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    raise InputError(
        "not a DLL: expected a PE image (starting with 'MZ'), a shared library or a Python "
        f"stand-in (.py); the file starts with {head!r}",
        where=where,
    )


def dll_bitness(path: str | Path) -> int | None:
    """32 for a PE32 image, 64 for a PE32+ image; None for anything else (shared libraries,
    Python stand-ins, unreadable or damaged files)."""
    try:
        with Path(path).open("rb") as fh:
            if fh.read(2) != b"MZ":
                return None
            fh.seek(0x3C)
            e_lfanew = int.from_bytes(fh.read(4), "little")
            fh.seek(e_lfanew)
            if fh.read(4) != b"PE\0\0":
                return None
            fh.seek(e_lfanew + 24)  # signature + COFF file header: the optional header's magic
            magic = int.from_bytes(fh.read(2), "little")
    except (OSError, ValueError):
        return None
    return {0x10B: 32, 0x20B: 64}.get(magic)


#: how a report says its profile was chosen when no --profile was given
AUTO_PROFILE_NOTE = {
    "dll-machine": "chosen from the DLL's machine; use --profile to choose",
    "default": "the default; use --profile to choose",
}


def profile_for(path: str | Path) -> tuple[Profile, str]:
    """The profile used when none is given: win7-x86 for a PE32 image, win7-x64 for a PE32+
    image and for everything else (host shared libraries, stand-ins); and how it was chosen
    (a key of :data:`AUTO_PROFILE_NOTE`)."""
    bits = dll_bitness(path)
    if bits is None:
        return get_profile("win7-x64"), "default"
    return get_profile("win7-x86" if bits == 32 else "win7-x64"), "dll-machine"


class SignalInterrupt(KeyboardInterrupt):
    """A signal other than SIGINT (SIGTERM) turned into the same orderly stop as Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(_signal_label(signum))


def _signal_label(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def interrupt_info(exc: BaseException) -> tuple[str, int]:
    """(reason, exit status) of an interruption: ``("interrupted by SIGINT", 130)`` for
    Ctrl-C, ``("interrupted by SIGTERM", 143)`` for SIGTERM (128 + the signal number)."""
    signum = getattr(exc, "signum", None)
    if not isinstance(signum, int):
        signum = int(signal.SIGINT)
    return f"interrupted by {_signal_label(signum)}", 128 + signum


class RunInterrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C, SIGTERM); ``reports`` are what was done so far, each
    marked partial (:attr:`emulator.report.Report.partial`), one per DLL group asked for.

    A KeyboardInterrupt, so callers that do not care still see the usual interruption.
    """

    def __init__(self, reason: str, exit_code: int, reports: list[Report]) -> None:
        self.reason = reason
        self.exit_code = exit_code
        self.signum = exit_code - 128
        self.reports = reports
        super().__init__(reason)

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunInterrupted, (self.reason, self.exit_code, self.reports))


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (main thread only) while a partial result is salvaged or
    written, so a second Ctrl-C cannot lose it; the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved: dict[int, Any] = {}
    for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if sig is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            saved[sig] = signal.signal(sig, lambda *_: None)
    try:
        yield
    finally:
        for sig, old in saved.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, old)


#: seconds the host gets to stop (TerminateDll, unload) after an interruption
STOP_GRACE = 2.0


def _salvage(host: HostLike | None) -> tuple[list[Finding], list[dict[str, Any]], dict[str, Any]]:
    """Stop ``host`` best-effort within :data:`STOP_GRACE` seconds and take its findings,
    trace and statistics (empty when the host does not answer in time)."""
    if host is None:
        return [], [], {}
    out: dict[str, Any] = {}

    def work() -> None:
        with contextlib.suppress(Exception):
            host.stop()
        with contextlib.suppress(Exception):
            out["findings"] = list(host.findings)
        with contextlib.suppress(Exception):
            out["trace"] = list(host.trace)
        with contextlib.suppress(Exception):
            out["stats"] = dict(host.stats)

    t = threading.Thread(target=work, name="rasemu-salvage", daemon=True)
    t.start()
    t.join(STOP_GRACE)
    if t.is_alive():
        # the DLL does not answer (a hung call): end its child processes so the stop can finish;
        # what that kill causes (a "child died" fault) is rasemu's doing, not a finding
        before = _bounded(lambda: list(host.findings), 0.5) or []
        _kill_children(host)
        t.join(1.0)
        return before, list(out.get("trace", [])), dict(out.get("stats", {}))
    return (list(out.get("findings", [])), list(out.get("trace", [])),
            dict(out.get("stats", {})))


def _bounded(fn: Callable[[], Any], seconds: float) -> Any:
    """``fn()`` in a helper thread; None when it raises or takes longer than ``seconds``."""
    box: list[Any] = []

    def run() -> None:
        with contextlib.suppress(Exception):
            box.append(fn())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return box[0] if box else None


def _kill_children(host: HostLike) -> None:
    """Kill the child processes of the host's isolated DLL instances (best-effort)."""
    kill = getattr(signal, "SIGKILL", signal.SIGTERM)
    for d in list(getattr(host, "dlls", []) or []):
        for inst in (getattr(d, "ip", None), getattr(d, "conn", None)):
            pid = getattr(inst, "child_pid", None)
            if isinstance(pid, int) and pid > 0:
                with contextlib.suppress(OSError):
                    os.kill(pid, kill)


def _not_run_report(files: list[Path], prof: Profile, loader: str, strictness: Strictness,
                    scenarios: list[Scenario], reason: str) -> Report:
    """A partial report for a DLL group the interrupted run never reached."""
    return Report(
        dlls=[str(f) for f in files], profile=prof.name, loader=loader, strictness=strictness,
        level_met=None, findings=[],
        stats={"sessions": 0, "calls": 0, "seconds": 0.0, "scenarios_run": 0},
        scenarios=[ScenarioSummary(s.name, False, 0, skipped=f"not run: {reason}")
                   for s in scenarios],
        started=False,
        partial={"reason": reason, "completed_scenarios": [], "interrupted_scenario": None,
                 "not_run": [s.name for s in scenarios]})


def _windows_paths(files: Sequence[Path]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for k, f in enumerate(files):
        win = f"C:\\Windows\\System32\\{f.name}"
        if win.lower() in seen:
            win = f"C:\\Program Files\\rasemu-check\\{k}\\{f.name}"
        seen.add(win.lower())
        out.append(win)
    return out


def registry_for(files: Sequence[Path], profile: Profile) -> tuple[Registry, dict[str, str]]:
    """A fresh registry registering ``files`` as a ``;`` list, and the Windows-to-real path map."""
    registry = Registry(default_view=64 if profile.bitness == 64 else 32)
    wins = _windows_paths(files)
    display = "rasemu check: " + ", ".join(f.stem for f in files)
    registry.set_value(ADMIN_DLL_KEY, "DisplayName", REG_SZ, (display + "\0").encode("utf-16-le"))
    registry.set_value(ADMIN_DLL_KEY, "DLLPath", REG_SZ, (";".join(wins) + "\0").encode("utf-16-le"))
    return registry, {w: str(f) for w, f in zip(wins, files, strict=True)}


def _default_factory(**kwargs: Any) -> HostLike:
    from emulator.host.engine import RasHost

    host: HostLike = RasHost(**kwargs)
    return host


def _resolve_scenarios(scenarios: Iterable[Scenario | str | Path] | None) -> list[Scenario]:
    if scenarios is None:
        return standard_scenarios()
    return [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]


def _meets(loaded: Any) -> dict[str, bool] | None:
    for holder in (loaded, getattr(loaded, "plan", None)):
        meets = getattr(holder, "meets", None)
        if isinstance(meets, dict) and meets:
            return {str(k): bool(v) for k, v in meets.items()}
    return None


def _level_met(host: HostLike, dll_count: int) -> str | None:
    """The strictest level (AMBIG-1) every loaded DLL meets; None if any DLL meets neither."""
    loaded = list(getattr(host, "dlls", []) or [])
    if len(loaded) < dll_count:
        return None
    levels = [_meets(d) for d in loaded]
    if any(m is None for m in levels):
        return None
    if all(m is not None and m.get("strict") for m in levels):
        return "strict"
    if all(m is not None and m.get("practice") for m in levels):
        return "practice"
    return None


def _dll_info(host: HostLike) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for d in list(getattr(host, "dlls", []) or []):
        info: dict[str, Any] = {"path": str(getattr(d, "real_path", None) or getattr(d, "path", ""))}
        for key, attr in (("registered", "path"), ("loader", "loader"), ("machine", "machine")):
            value = getattr(d, attr, None)
            if value not in (None, "") and key not in info:
                info[key] = value if isinstance(value, str | int | bool) else str(value)
        plan = getattr(d, "plan", None)
        selection = getattr(plan, "selection", None)
        if callable(selection):
            info["selection"] = selection()
        meets = _meets(d)
        if meets is not None:
            info["meets"] = meets
        out.append(info)
    return out


def _guarded(host: HostLike, scn: Scenario) -> ScenarioResult:
    """run_scenario, with an emulator failure turned into an X-INTERNAL finding (RASEMU_DEBUG=1 re-raises).

    Wrong input (InputError) still propagates: it is the user's to fix, not a finding.
    """
    t0 = time.perf_counter()
    try:
        return run_scenario(host, scn)
    except InputError:
        raise
    except Exception as exc:
        if os.environ.get("RASEMU_DEBUG"):
            raise
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        finding = Finding(
            "X-INTERNAL", Severity.ERROR,
            f"rasemu failed while running scenario {scn.name!r}: {type(exc).__name__}: {exc} "
            f"(at {where}; not a verdict on the DLL - set RASEMU_DEBUG=1 for the traceback)",
            ({"scenario": scn.name, "exception": type(exc).__name__, "at": where},),
            subject="rasemu")
        with contextlib.suppress(Exception):
            host.stop()
        findings: list[Finding] = []
        with contextlib.suppress(Exception):
            findings = list(host.findings)
        return ScenarioResult(scn.name, False, False, [*findings, finding],
                              seconds=time.perf_counter() - t0)


def _check_options(loader: str, strictness: str) -> None:
    """InputError unless ``loader`` and ``strictness`` are known names."""
    if loader not in LOADERS:
        raise InputError(f"unknown loader {loader!r}; expected one of: {', '.join(LOADERS)}", where="loader")
    if strictness not in ("strict", "practice"):
        raise InputError(f"unknown strictness {strictness!r}; expected strict or practice", where="strictness")


def check_dlls(
    paths: Sequence[str | Path],
    *,
    profile: str | Profile | None = "win7-x64",
    loader: str = "auto",
    isolate: bool | None = None,
    strictness: Strictness = "practice",
    scenarios: Iterable[Scenario | str | Path] | None = None,
    together: bool | None = None,
    call_timeout: float = 5.0,
    keep_traces: bool = True,
    host_factory: HostFactory | None = None,
    jobs: int = 1,
    progress: Callable[[int, Report], None] | None = None,
) -> list[Report]:
    """Check several DLLs: registered together as a ``;`` list (one report), or one by one.

    ``together`` defaults to True when the profile allows several DLLs (2003+, R11) and more
    than one path is given; a profile without ``multi_dll`` rejects ``together=True`` (R14).
    ``scenarios`` are Scenario objects, standard names or ``.toml`` paths (default: the standard
    library). ``host_factory`` replaces ``RasHost`` (tests, embedding).

    ``profile=None`` picks the win7 profile of each DLL's bitness (:func:`profile_for`; the
    report's ``profile_source`` says so). DLLs of different bitness are then checked one by
    one, each under its own profile; ``together=True`` with mixed bitness is an InputError.

    ``jobs`` > 1 checks the groups (DLLs checked one by one) in that many worker processes;
    the reports still come back in input order. ``progress(index, report)`` is called as each
    group finishes (in completion order).

    Ctrl-C or SIGTERM (see :class:`SignalInterrupt`) raises :class:`RunInterrupted` carrying
    one partial report per group: the scenarios done so far, the one in flight marked
    interrupted, the rest not run.
    """
    _check_options(loader, strictness)
    if not paths:
        raise InputError("no DLL given")
    files = []
    for p in paths:
        sniff_dll(p)
        files.append(Path(p))
    chosen = _resolve_scenarios(scenarios)
    source: str | None = None
    plan: list[tuple[list[Path], Profile]]
    if profile is None:
        picked = [profile_for(f) for f in files]
        profs = {pr.name for pr, _ in picked}
        source = "dll-machine" if any(how == "dll-machine" for _, how in picked) else "default"
        if len(profs) > 1:
            if together:
                raise InputError(
                    "these DLLs are of different bitness ("
                    + ", ".join(f"{f.name}: {pr.name}" for f, (pr, _) in zip(files, picked, strict=True))
                    + "), so no one host can load them together; give --profile, or check them "
                    "one by one", where="profile")
            plan = [([f], pr) for f, (pr, _) in zip(files, picked, strict=True)]
        else:
            prof = picked[0][0]
            plan = _plan(files, prof, together)
    else:
        plan = _plan(files, get_profile(profile), together)
    factory = host_factory or _default_factory
    if jobs < 1:
        raise InputError(f"jobs must be at least 1, not {jobs}", where="--jobs")
    if jobs > 1 and len(plan) > 1 and host_factory is None:
        return _run_parallel(plan, jobs, loader, isolate, strictness, chosen,
                             call_timeout, keep_traces, progress, source)
    reports: list[Report] = []
    try:
        for k, (g, prof) in enumerate(plan):
            rep = _run_group(g, prof, loader, isolate, strictness, chosen, call_timeout,
                             keep_traces, factory)
            rep.profile_source = source
            reports.append(rep)
            if progress is not None:
                progress(k, rep)
    except KeyboardInterrupt as exc:
        with held_signals():
            if isinstance(exc, RunInterrupted):
                reason, code = exc.reason, exc.exit_code
                for rep in exc.reports:
                    rep.profile_source = source
                reports.extend(exc.reports)
            else:
                reason, code = interrupt_info(exc)
            for g, prof in plan[len(reports):]:
                rep = _not_run_report(g, prof, loader, strictness, chosen, reason)
                rep.profile_source = source
                reports.append(rep)
        raise RunInterrupted(reason, code, reports) from None
    return reports


def _plan(files: list[Path], prof: Profile, together: bool | None) -> list[tuple[list[Path], Profile]]:
    if together is None:
        together = prof.multi_dll and len(files) > 1
    if together and len(files) > 1 and not prof.multi_dll:
        raise InputError(
            f"profile {prof.name} accepts one admin DLL only (R14); use a 2003+ profile to "
            "register several together, or check them one by one",
            where="profile",
        )
    return [(files, prof)] if together else [([f], prof) for f in files]


def _run_parallel(plan: list[tuple[list[Path], Profile]], jobs: int, loader: str,
                  isolate: bool | None, strictness: Strictness, scenarios: list[Scenario],
                  call_timeout: float, keep_traces: bool,
                  progress: Callable[[int, Report], None] | None,
                  source: str | None) -> list[Report]:
    """Each group in a worker process; nothing is shared between workers but the arguments.

    On an interruption the workers stop as orderly as a run in this process (their partial
    reports come back) within :data:`STOP_GRACE` seconds and a little; then they are ended.
    """
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    out: list[Report | None] = [None] * len(plan)
    stop = multiprocessing.get_context().Event()
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(plan)), initializer=_worker_init,
                               initargs=(stop,))
    futures: dict[Any, int] = {}
    try:
        futures = {
            pool.submit(_worker_run, g, prof, loader, isolate, strictness, scenarios,
                        call_timeout, keep_traces): k
            for k, (g, prof) in enumerate(plan)
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in done:
                exc = fut.exception()
                if isinstance(exc, BrokenProcessPool):
                    names = ", ".join(str(p) for k, (g, _) in enumerate(plan) if out[k] is None
                                      for p in g)
                    raise RasemuError(
                        f"a worker process died while checking one of: {names} (the DLL ended "
                        "the process, or it was killed or out of memory); run with --jobs 1 "
                        "to see which DLL brings the host down"
                    ) from None
                if exc is not None:
                    for other in pending:
                        other.cancel()
                    raise exc
                k = futures[fut]
                rep = fut.result()
                rep.profile_source = source
                out[k] = rep
                if progress is not None:
                    progress(k, rep)
    except KeyboardInterrupt as exc:
        with held_signals():
            reason, code = interrupt_info(exc)
            procs = list((getattr(pool, "_processes", None) or {}).values())
            stop.set()
            with contextlib.suppress(Exception):
                pool.shutdown(wait=False, cancel_futures=True)
            wait(list(futures), timeout=STOP_GRACE + 3.0)
            for fut, k in futures.items():
                if out[k] is not None or not fut.done() or fut.cancelled():
                    continue
                got = fut.exception()
                if isinstance(got, RunInterrupted) and got.reports:
                    out[k] = _relabel(got.reports[0], reason)
                elif got is None:
                    out[k] = fut.result()
            _end_workers(procs)
            reports = []
            for k, (g, prof) in enumerate(plan):
                rep = out[k] or _not_run_report(g, prof, loader, strictness, scenarios, reason)
                rep.profile_source = source
                reports.append(rep)
        raise RunInterrupted(reason, code, reports) from None
    pool.shutdown(wait=True)
    return [r for r in out if r is not None]


# -- worker side of _run_parallel: the parent's stop event interrupts the group being checked
_WORKER_STOP: Any = None
_WORKER_ACTIVE = False


def _worker_init(stop: Any) -> None:
    """In a worker: SIGTERM ends it plainly (the parent decides), SIGINT interrupts only a
    group being checked, and the parent's ``stop`` event interrupts it as SIGINT would."""
    global _WORKER_STOP
    _WORKER_STOP = stop
    with contextlib.suppress(ValueError, OSError, AttributeError):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def on_sigint(signum: int, frame: object) -> None:
        if _WORKER_ACTIVE:
            raise KeyboardInterrupt

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, on_sigint)

    def watch() -> None:
        import _thread

        stop.wait()
        if _WORKER_ACTIVE:
            if os.name == "posix":  # a real signal also wakes a blocking system call
                os.kill(os.getpid(), signal.SIGINT)
            else:
                _thread.interrupt_main(signal.SIGINT)

    threading.Thread(target=watch, name="rasemu-stop", daemon=True).start()


def _worker_run(files: list[Path], prof: Profile, loader: str, isolate: bool | None,
                strictness: Strictness, scenarios: list[Scenario], call_timeout: float,
                keep_traces: bool) -> Report:
    global _WORKER_ACTIVE
    _WORKER_ACTIVE = True
    try:
        if _WORKER_STOP is not None and _WORKER_STOP.is_set():
            raise KeyboardInterrupt
        return _run_group(files, prof, loader, isolate, strictness, scenarios, call_timeout,
                          keep_traces, _default_factory)
    except KeyboardInterrupt as exc:
        if isinstance(exc, RunInterrupted):
            raise
        reason, code = interrupt_info(exc)
        raise RunInterrupted(reason, code, [_not_run_report(files, prof, loader, strictness,
                                                            scenarios, reason)]) from None
    finally:
        _WORKER_ACTIVE = False


def _relabel(rep: Report, reason: str) -> Report:
    """``rep`` (partial, from a worker) with the parent's reason for the interruption."""
    import dataclasses

    old = (rep.partial or {}).get("reason")
    if rep.partial is None or not old or old == reason:
        return rep
    rep.partial = {**rep.partial, "reason": reason}
    rep.scenarios = [
        dataclasses.replace(
            s, interrupted=reason if s.interrupted else None,
            skipped=(s.skipped.replace(old, reason) if s.skipped else s.skipped))
        for s in rep.scenarios]
    return rep


def _end_workers(procs: list[Any]) -> None:
    """End worker processes still running (terminate, then kill) and reap them."""
    for proc in procs:
        with contextlib.suppress(Exception):
            if proc.is_alive():
                proc.terminate()
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(STOP_GRACE)
            if proc.is_alive():
                proc.kill()
                proc.join(STOP_GRACE)


def check_dll(
    path: str | Path,
    *,
    profile: str | Profile | None = "win7-x64",
    loader: str = "auto",
    isolate: bool | None = None,
    strictness: Strictness = "practice",
    scenarios: Iterable[Scenario | str | Path] | None = None,
    call_timeout: float = 5.0,
    keep_traces: bool = True,
    host_factory: HostFactory | None = None,
) -> Report:
    """Check one DLL under ``profile``: every applicable scenario on a fresh host; see :func:`check_dlls`."""
    return check_dlls(
        [path], profile=profile, loader=loader, isolate=isolate, strictness=strictness,
        scenarios=scenarios, call_timeout=call_timeout, keep_traces=keep_traces,
        host_factory=host_factory,
    )[0]


def _run_group(
    files: list[Path],
    prof: Profile,
    loader: str,
    isolate: bool | None,
    strictness: Strictness,
    scenarios: list[Scenario],
    call_timeout: float,
    keep_traces: bool,
    factory: HostFactory,
    make_env: Callable[[], tuple[Registry, dict[str, str]]] | None = None,
) -> Report:
    """Run ``scenarios`` on ``files``; ``make_env`` replaces :func:`registry_for` (a fresh
    registry and path map for each host, e.g. the state an installer left)."""
    t0 = time.perf_counter()

    def fresh() -> tuple[Registry, dict[str, str]]:
        return make_env() if make_env is not None else registry_for(files, prof)

    findings: list[Finding] = []
    summaries: list[ScenarioSummary] = []
    traces: dict[str, list[dict[str, Any]]] = {}
    totals = {"sessions": 0, "calls": 0, "dll_seconds": 0.0, "peak_connected": 0}
    level: str | None = None
    info: list[dict[str, Any]] = []
    started: bool | None = None

    def tally(st: dict[str, Any]) -> tuple[int, int]:
        sessions, calls = int(st.get("sessions", 0)), int(st.get("calls", 0))
        totals["sessions"] += sessions
        totals["calls"] += calls
        totals["dll_seconds"] += float(st.get("seconds", 0.0))
        totals["peak_connected"] = max(totals["peak_connected"], int(st.get("peak_connected", 0)))
        return sessions, calls

    host: HostLike | None = None
    current: Scenario | None = None
    t_scn = 0.0
    done = 0
    try:
        for scn in scenarios:
            if not scn.applies_to(prof, len(files)):
                why = (f"needs {scn.min_dlls} DLLs" if len(files) < scn.min_dlls
                       else f"not for {prof.name} (only {', '.join(scn.profiles)})")
                summaries.append(ScenarioSummary(scn.name, True, 0, skipped=why))
                done += 1
                continue
            if started is False:
                summaries.append(ScenarioSummary(scn.name, False, 0,
                                                 skipped="the service did not start"))
                done += 1
                continue
            current, host, t_scn = scn, None, time.perf_counter()
            registry, path_map = fresh()
            # trace=True always: the host's monitor reads structure summaries from the events
            # (with trace=False the NT 4.0 per-port check R37 sees no ports); keep_traces only
            # decides whether the report keeps them
            host = factory(registry=registry, profile=prof, loader=loader, isolate=isolate,
                           strictness=strictness, call_timeout=call_timeout, path_map=path_map,
                           trace=True)
            result = _guarded(host, scn)
            current = None
            done += 1
            if started is None or not info:
                info = _dll_info(host) or info
                level = _level_met(host, len(files)) if result.started else level
            started = result.started if started is None else started and result.started
            findings.extend(result.findings)
            sessions, calls = tally(result.stats)
            summaries.append(ScenarioSummary(scn.name, result.ok, len(result.findings),
                                             result.seconds, None, sessions, calls))
            if keep_traces:
                traces[scn.name] = result.trace
        if started is None:
            # no scenario applied: still start and stop the service so load problems are found
            registry, path_map = fresh()
            current, host, t_scn = None, None, time.perf_counter()
            host = factory(registry=registry, profile=prof, loader=loader, isolate=isolate,
                           strictness=strictness, call_timeout=call_timeout, path_map=path_map,
                           trace=True)
            result = _guarded(host, Scenario("start-stop", "start and stop the service", ()))
            started = result.started
            findings.extend(result.findings)
            info = _dll_info(host)
            level = _level_met(host, len(files)) if started else None
    except KeyboardInterrupt as exc:
        with held_signals():
            reason, _code = interrupt_info(exc)
            completed = [s.name for s in summaries if s.skipped is None]
            got, trace, st = _salvage(host)
            findings.extend(got)
            if host is not None and not info:
                with contextlib.suppress(Exception):
                    info = _dll_info(host)
            if started is None and host is not None:
                with contextlib.suppress(Exception):
                    started = bool(getattr(host, "dlls", None))
            rest = scenarios[done:]
            interrupted: str | None = None
            if current is not None:
                interrupted = current.name
                sessions, calls = tally(st)
                summaries.append(ScenarioSummary(
                    current.name, False, len(got), time.perf_counter() - t_scn, None, sessions,
                    calls, interrupted=reason))
                if keep_traces:
                    traces[current.name] = trace
                rest = rest[1:]
            summaries.extend(ScenarioSummary(s.name, False, 0, skipped=f"not run: {reason}")
                             for s in rest)
            partial = {"reason": reason, "completed_scenarios": completed,
                       "interrupted_scenario": interrupted, "not_run": [s.name for s in rest]}
            report = _group_report(files, prof, loader, strictness, level, findings, summaries,
                                   started, info, traces, totals, t0)
            report.partial = partial
        raise RunInterrupted(reason, _code, [report]) from None
    return _group_report(files, prof, loader, strictness, level, findings, summaries, started,
                         info, traces, totals, t0)


def _group_report(files: list[Path], prof: Profile, loader: str, strictness: Strictness,
                  level: str | None, findings: list[Finding], summaries: list[ScenarioSummary],
                  started: bool | None, info: list[dict[str, Any]],
                  traces: dict[str, list[dict[str, Any]]], totals: dict[str, Any],
                  t0: float) -> Report:
    stats: dict[str, Any] = {
        "sessions": totals["sessions"],
        "calls": totals["calls"],
        "seconds": time.perf_counter() - t0,
        "dll_seconds": round(totals["dll_seconds"], 6),
        "peak_connected": totals["peak_connected"],
        "scenarios_run": sum(1 for s in summaries if s.skipped is None),
    }
    loaders = sorted({str(d["loader"]) for d in info if "loader" in d})
    return Report(
        dlls=[str(f) for f in files],
        profile=prof.name,
        loader=",".join(loaders) if loaders else loader,
        strictness=strictness,
        level_met=level,
        findings=dedupe(findings),
        stats=stats,
        scenarios=summaries,
        started=bool(started),
        dll_info=info,
        traces=traces,
    )


# -- install, run, uninstall ----------------------------------------------------------------------

#: the phases of :func:`check_installed`, in order (``Finding.extra["phase"]``)
PHASES = ("install", "run", "uninstall")


def with_phase(findings: Iterable[Finding], phase: str) -> list[Finding]:
    """``findings`` with ``extra["phase"] = phase``."""
    return [f if f.extra.get("phase") == phase else
            Finding(f.rule, f.severity, f.message, f.evidence, f.subject, {**f.extra, "phase": phase})
            for f in findings]


class _InstalledFiles:
    """Windows paths in ``DLLPath`` -> real files, through the installer run's fake file system.

    An entry resolves as the (native) RAS service would open it: absolute paths as they are,
    bare file names through System32 and the Windows folder; no ``%variable%`` expansion
    (R02). A file holding the checked DLL's bytes maps to the checked DLL itself (stand-ins
    keep their imports); another file is copied out to ``folder``; an entry that resolves to
    nothing maps to a path that does not exist, so the host fails to load it (R15) exactly
    where Windows would. Other vendors' placeholders (``--preexisting``) are played by
    rasemu's reference DLL of the profile's bitness.
    """

    def __init__(self, fs: Any, dll: Path, folder: Path, prof: Profile,
                 preexisting: Sequence[str], log: Any) -> None:
        self.fs = fs
        self.dll = dll
        self.data = dll.read_bytes()
        self.folder = folder
        self.prof = prof
        self.preexisting = {p.upper() for p in preexisting}
        self.log = log
        self.cache: dict[str, str] = {}
        self.copies: dict[str, str] = {}

    def _lookup(self, entry: str) -> bytes | None:
        from emulator.setup.checks import is_absolute
        from emulator.setup.winfs import SYSTEM32, WINDIR

        if "%" in entry or entry.startswith("\\\\"):
            return None
        try:
            if is_absolute(entry):
                return self.fs.read(entry, self.prof.bitness)  # type: ignore[no-any-return]
            if "\\" in entry or "/" in entry:
                return None
            for folder in (SYSTEM32, WINDIR):
                data = self.fs.read(folder + "\\" + entry, self.prof.bitness)
                if data is not None:
                    return data  # type: ignore[no-any-return]
        except InputError:  # not a path the file table can hold
            return None
        return None

    def real(self, entry: str) -> str:
        """The real file the host opens for one ``DLLPath`` entry."""
        key = entry.upper()
        if key in self.cache:
            return self.cache[key]
        from emulator.setup.pe import placeholder_dll

        data = self._lookup(entry)
        n = len(self.cache)
        name = entry.replace("/", "\\").rstrip("\\").rpartition("\\")[2] or "admin.dll"
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
        if data is None:
            real = str(self.folder / "missing" / str(n) / name)
        elif data == self.data:
            real = str(self.dll)
        elif key in self.preexisting and data == placeholder_dll(self.prof.bitness):
            from emulator._samples import sample_path

            real = str(sample_path(f"dlls/prebuilt/good{self.prof.bitness}.dll"))
            self.log.add("note", f"run: the other vendor's DLL {entry} is played by rasemu's "
                                 f"reference DLL good{self.prof.bitness}.dll")
        else:
            target = self.folder / "files" / str(n) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            real = str(target)
            self.copies[real] = entry
        self.cache[key] = real
        return real

    def path_map(self, registry: Registry) -> dict[str, str]:
        """The path map for a host reading ``registry``."""
        from emulator.host.discovery import discover

        return {p: self.real(p) for p in discover(registry, self.prof).paths}


def _scrub(f: Finding, shown: dict[str, str]) -> Finding:
    """``f`` with temporary file names in its evidence replaced by what they stand for."""
    if not shown or not f.evidence:
        return f
    evidence = tuple({k: shown.get(v, v) if isinstance(v, str) else v for k, v in e.items()}
                     for e in f.evidence)
    return Finding(f.rule, f.severity, f.message, evidence, f.subject, f.extra)


def _setup_json(session: Any) -> dict[str, Any]:
    from emulator.setup.checks import diff_entries

    return {
        "installer": str(session.installer.path),
        "installer_kind": session.installer.kind,
        "uninstaller": None if session.uninstaller is None else str(session.uninstaller.path),
        "installer_bits": session.bits,
        "preexisting": list(session.preexisting),
        "install_diff": diff_entries(session.install_diff, "install"),
        "uninstall_diff": (None if session.uninstall_diff is None
                           else diff_entries(session.uninstall_diff, "uninstall")),
        "files": dict(session.files),
        "log": session.log.lines(),
    }


def check_installed(
    dll: str | Path,
    install: str | Path,
    uninstall: str | Path | None = None,
    *,
    installer_bits: int | None = None,
    preexisting: Sequence[str] | str | None = None,
    dll_name: str | None = None,
    seed: str = "ras_server",
    reg32: bool = False,
    profile: str | Profile | None = "win7-x64",
    loader: str = "auto",
    isolate: bool | None = None,
    strictness: Strictness = "practice",
    scenarios: Iterable[Scenario | str | Path] | None = None,
    call_timeout: float = 5.0,
    keep_traces: bool = True,
    host_factory: HostFactory | None = None,
) -> Report:
    """Install ``dll`` with ``install``, run the scenarios on what the installer left, uninstall.

    1. A registry seeded with ``seed`` (plus ``preexisting`` other vendors' DLLs) and a fake
       file system whose ``C:\\Setup`` is the installer's folder with ``dll`` in it, named
       ``dll_name`` (default: the one ``*.dll`` name the installer mentions, else its own).
    2. The installer runs; its registry diff is checked (R01-R05, R08-R10).
    3. The host finds the DLL through ``DLLPath`` as written, resolved through the fake file
       system (see :class:`_InstalledFiles`): a wrong path is a load failure (R15), not an
       error of rasemu. Each scenario gets a fresh copy of the installed registry.
    4. The uninstaller runs; R06/R07 against the registry before the install.

    One report: every finding has ``extra["phase"]`` (install, run, uninstall) and
    ``report.setup`` holds the installer names, both registry diffs, the files and the log.
    InputError for wrong input (missing files, unknown installer kind, installer syntax errors).
    """
    import tempfile

    from emulator.setup import SETUP_DIR, SetupSession, media_dll_name

    t0 = time.perf_counter()
    source: str | None = None
    if profile is None:
        sniff_dll(dll)
        prof, source = profile_for(dll)
    else:
        prof = get_profile(profile)
    _check_options(loader, strictness)
    kind = sniff_dll(dll)
    dll_path = Path(dll)
    name = dll_name or media_dll_name(install, dll_path.name)
    chosen = _resolve_scenarios(scenarios)
    session = SetupSession(install, uninstall, profile=prof, dll=dll_path, seed=seed,
                           preexisting=(preexisting if preexisting is None
                                        or isinstance(preexisting, str) else list(preexisting)),
                           installer_bits=installer_bits, dll_name=name, reg32=reg32,
                           pe_expected=kind == "PE image")
    session.log.add("note", f"install: the installation media holds {dll_path.name} as "
                            f"{SETUP_DIR}\\{name}")
    findings = with_phase(session.install(), "install")
    installed = session.installed
    assert installed is not None
    with tempfile.TemporaryDirectory(prefix="rasemu-installed-") as tmp:
        files = _InstalledFiles(session.fs, dll_path, Path(tmp), prof, session.preexisting,
                                session.log)

        def make_env() -> tuple[Registry, dict[str, str]]:
            reg = Registry(default_view=64 if prof.bitness == 64 else 32)
            reg.restore(installed)
            return reg, files.path_map(reg)

        registry, path_map = make_env()
        stopped: RunInterrupted | None = None
        if path_map:
            try:
                run = _run_group([Path(p) for p in path_map.values()], prof, loader, isolate,
                                 strictness, chosen, call_timeout, keep_traces,
                                 host_factory or _default_factory, make_env)
            except RunInterrupted as exc:
                stopped, run = exc, exc.reports[0]
            # the temporary folder goes away: name the installed files by their Windows paths
            shown = {real: f"{entry} (copied out of the fake file system)"
                     for real, entry in files.copies.items()}
            shown.update({real: f"{entry} (no such file after the install)"
                          for entry, real in path_map.items() if real.startswith(tmp)
                          and real not in files.copies})
            for info in run.dll_info:
                info["path"] = shown.get(str(info.get("path", "")), info.get("path", ""))
            run.findings = [_scrub(f, shown) for f in run.findings]
        else:
            run = _not_registered(dll_path, prof, loader, strictness, chosen, registry)
    findings += with_phase(run.findings, "run")
    if stopped is None:
        findings += with_phase(_uninstall(session), "uninstall")
    elif session.uninstaller is not None:
        session.log.add("note", f"uninstall: not run ({stopped.reason})")
    run.dlls = [str(dll_path)]
    run.findings = dedupe(findings)
    run.setup = _setup_json(session)
    run.stats["seconds"] = time.perf_counter() - t0
    run.profile_source = source
    if stopped is not None:
        if run.partial is not None and session.uninstaller is not None:
            run.partial["not_run"] = [*run.partial.get("not_run", []), "uninstall"]
        raise RunInterrupted(stopped.reason, stopped.exit_code, [run]) from None
    return run


def _uninstall(session: Any) -> list[Finding]:
    """The uninstall phase; an uninstaller that fails or crashes is an R06 finding (naming the
    failure and, when known, its file and line) instead of an error that loses the run."""
    return list(session.uninstall(keep_going=True))


def _not_registered(dll: Path, prof: Profile, loader: str, strictness: Strictness,
                    scenarios: list[Scenario], registry: Registry) -> Report:
    """The run phase when the installer left no DLLPath RAS reads: nothing is loaded."""
    from emulator.host.discovery import discover

    found = discover(registry, prof)
    lost = Finding(
        "R01", Severity.ERROR,
        f"after the install the RAS service finds no admin DLL under {ADMIN_DLL_KEY}, so it "
        f"never loads {dll.name}; no scenario ran",
        ({"key": ADMIN_DLL_KEY},), subject=str(dll))
    return Report(
        dlls=[str(dll)], profile=prof.name, loader=loader, strictness=strictness,
        level_met=None, findings=[*found.findings, lost],
        stats={"sessions": 0, "calls": 0, "seconds": 0.0, "scenarios_run": 0},
        scenarios=[ScenarioSummary(s.name, False, 0, skipped="no admin DLL registered")
                   for s in scenarios],
        started=False)
