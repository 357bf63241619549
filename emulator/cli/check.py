"""``rasemu check``: run the conformance scenarios against admin DLLs and report the findings."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec

import click

from emulator.conformance.run import (
    LOADERS,
    RunInterrupted,
    SignalInterrupt,
    check_dlls,
    interrupt_info,
)
from emulator.conformance.run import held_signals as held_signals  # re-exported for cli.run
from emulator.errors import InputError
from emulator.host.profiles import DEFAULT_PROFILE, PROFILES
from emulator.report import Report, write_atomic

if TYPE_CHECKING:
    from emulator.config import Config

FORMATS = ("text", "json", "junit", "html")
_P = ParamSpec("_P")


def emit(reports: Sequence[Report], fmt: str, output: str | None) -> None:
    """Render ``reports`` as ``fmt`` to ``output`` (written atomically) or stdout (rich on a terminal)."""
    if fmt == "json":
        from emulator.report import json as rjson

        text = rjson.render(reports)
    elif fmt == "junit":
        from emulator.report import junit

        text = junit.render(reports)
    elif fmt == "html":
        from emulator.report import html as rhtml

        text = rhtml.render(reports)
    else:
        from emulator.report import text as rtext

        if output is None and sys.stdout.isatty():
            from rich.console import Console

            rtext.print_rich(reports, Console())
            return
        text = rtext.render_plain(reports)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc.strerror or exc}", where=output) from None


def write_traces(reports: Sequence[Report], trace_dir: str, *, golden: bool = False) -> list[Path]:
    """One JSON-lines trace per DLL group and scenario: ``<dll stem>.<scenario>.jsonl``."""
    from emulator.host.trace import normalise, write_jsonl

    folder = Path(trace_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the trace folder: {exc.strerror or exc}", where=trace_dir) from None
    written = []
    for r in reports:
        stem = "+".join(Path(d).stem for d in r.dlls)
        for name, events in r.traces.items():
            buf = io.StringIO()
            write_jsonl(normalise(events) if golden else events, buf)
            target = folder / f"{stem}.{name}.jsonl"
            try:
                write_atomic(target, buf.getvalue())
            except OSError as exc:
                raise InputError(f"cannot write a trace: {exc.strerror or exc}", where=str(target)) from None
            written.append(target)
    return written


def settings(config_file: str | None) -> Config:
    """The configuration that applies: ``--config FILE`` or the one found from the current folder."""
    from emulator.config import load_config

    return load_config(config_file)


def gate(reports: Sequence[Report], cfg: Config, fail_on: str | None) -> None:
    """Apply the configuration's waivers and the severity gate to ``reports`` (in place)."""
    from emulator.config import apply_waivers

    level = cfg.get("fail_on", fail_on, "error")
    for r in reports:
        apply_waivers(r, cfg.waivers)
        r.fail_on = level


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """SIGTERM raises :class:`SignalInterrupt` (a KeyboardInterrupt) in the main thread, so it
    stops a run as orderly as Ctrl-C; the previous handler comes back afterwards. Elsewhere
    than in the main thread (or without SIGTERM) nothing changes."""
    sigterm = getattr(signal, "SIGTERM", None)
    if sigterm is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_it(signum: int, _frame: object) -> None:
        raise SignalInterrupt(signum)

    try:
        previous = signal.signal(sigterm, raise_it)
    except (ValueError, OSError):  # pragma: no cover - an embedding that forbids it
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(sigterm, previous)


def interrupted_exit(exc: BaseException) -> None:
    """Say that the run was interrupted and exit 130 (SIGINT) or 143 (SIGTERM)."""
    reason, code = interrupt_info(exc)
    partial = " (the report written is partial)" if isinstance(exc, RunInterrupted) else ""
    click.echo(f"rasemu: {reason}{partial}", err=True)
    sys.exit(code)


def stops_on_signals(command: Callable[_P, None]) -> Callable[_P, None]:
    """Run ``command`` under :func:`sigterm_stops`; Ctrl-C or SIGTERM ends it through
    :func:`interrupted_exit` (exit 130 or 143)."""

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> None:
        with sigterm_stops():
            try:
                command(*args, **kwargs)
            except KeyboardInterrupt as exc:
                interrupted_exit(exc)

    return run


def show_progress(quiet: bool) -> bool:
    """A progress bar only for a person at a terminal: stderr is a TTY, not CI, not --quiet."""
    if quiet or not sys.stderr.isatty():
        return False
    return not (os.environ.get("CI") or os.environ.get("TERM") == "dumb")


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--config", "config_file", metavar="FILE",
              help="Configuration file (default: rasemu.toml or [tool.rasemu] in pyproject.toml, "
                   "looked up from the current folder). Options given here override it.")
@click.option("--profile", default=None,
              help="Host profile: " + ", ".join(PROFILES) + "; an OS name alone means its x64 "
                   "profile (nt4: x86). Default: win7 of the DLL's bitness (a PE32 image: "
                   f"win7-x86; PE32+, shared libraries, stand-ins: {DEFAULT_PROFILE}); DLLs of "
                   "different bitness are then checked one by one.")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME|FILE",
              help="Run only this scenario (standard name or .toml file); repeatable. Default: the standard set.")
@click.option("--loader", type=click.Choice(LOADERS), default=None,
              help="How to run the DLL: python stand-in, native shared library, or PE emulation. "
                   "Default: auto.")
@click.option("--isolate/--no-isolate", default=None,
              help="Run the DLL in a child process (default: the loader decides).")
@click.option("--strictness", type=click.Choice(["practice", "strict"]), default=None,
              help="Required-export level that gates the run (AMBIG-1). Default: practice.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that fails the run (waived findings never do). Default: error.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Report format.")
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--trace-dir", metavar="DIR", help="Write one JSON-lines call trace per scenario into DIR.")
@click.option("--separately", is_flag=True,
              help="Check each DLL on its own (default: several DLLs are registered together as a "
                   "';' list when the profile allows it).")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=None,
              help="Per-call time limit in seconds. Default: 5.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Check DLLs one by one in N worker processes (implies --separately when N > 1); "
                   "reports keep the input order.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print only the summary line (a report file given with -o is still written).")
@click.option("--install", "install", metavar="INSTALLER",
              help="Install the DLL with this installer first (.reg, reg.exe script .cmd/.bat, "
                   "Python winreg code .py, self-registering .dll) and let the host find it "
                   "through the DLLPath the installer wrote; setup rules R01-R10 are checked too.")
@click.option("--uninstall", "uninstall", metavar="UNINSTALLER",
              help="With --install: run this uninstaller after the scenarios and check R06/R07.")
@click.option("--installer-bits", type=click.Choice(["32", "64"]), default=None,
              help="With --install: bitness of the installer process (default: the profile's).")
@click.option("--preexisting", multiple=True, metavar="PATH",
              help="With --install: another vendor's DLL already registered, e.g. "
                   "\"C:\\Fabrikam\\adm.dll\" (played by rasemu's reference DLL); repeatable.")
@click.option("--dll-name", metavar="NAME",
              help="With --install: the DLL's file name next to the installer (default: the one "
                   "*.dll name the installer mentions, else the DLL's own name).")
@stops_on_signals
def check(paths: tuple[str, ...], config_file: str | None, profile: str | None,
          scenarios: tuple[str, ...], loader: str | None, isolate: bool | None,
          strictness: str | None, fail_on: str | None, fmt: str, output: str | None,
          trace_dir: str | None, separately: bool, timeout: float | None, jobs: int,
          quiet: bool, install: str | None, uninstall: str | None,
          installer_bits: str | None, preexisting: tuple[str, ...],
          dll_name: str | None) -> None:
    """Check admin DLLs (PE images, shared libraries or Python stand-ins) against the contract.

    With --install, one DLL goes through the whole job: install, run, uninstall, in one report
    whose findings say their phase.

    Exit status: 0 nothing fails the gate, 1 findings fail it, 2 wrong input, 130 interrupted
    by Ctrl-C (SIGINT), 143 by SIGTERM; an interrupted run still writes its report (and traces),
    marked partial.
    """
    from emulator.host.scenarios import load_scenario

    cfg = settings(config_file)
    names = list(scenarios) or list(cfg.scenarios or ())
    chosen = [load_scenario(s) for s in names] or None
    strict = cfg.get("strictness", strictness, "practice")
    if install is None:
        for flag, value in (("--uninstall", uninstall), ("--installer-bits", installer_bits),
                            ("--preexisting", preexisting), ("--dll-name", dll_name)):
            if value:
                raise InputError(f"{flag} needs --install INSTALLER", where=flag)
    elif len(paths) != 1:
        raise InputError(f"--install checks one DLL (the one the installer copies); got "
                         f"{len(paths)}", where="--install")
    if jobs > 1:
        separately = True
    run_options: dict[str, Any] = {
        "profile": cfg.get("profile", profile, None),
        "loader": cfg.get("loader", loader, "auto"), "isolate": isolate,
        "strictness": "strict" if strict == "strict" else "practice", "scenarios": chosen,
        "call_timeout": float(cfg.get("timeout", timeout, 5.0)),
        "keep_traces": trace_dir is not None or fmt == "html",
    }
    stopped: RunInterrupted | None = None
    try:
        if install is not None:
            from emulator.conformance.run import check_installed

            reports = [check_installed(
                paths[0], install, uninstall,
                installer_bits=int(installer_bits) if installer_bits else None,
                preexisting=list(preexisting) or None, dll_name=dll_name, **run_options,
            )]
        else:
            reports = _run_with_progress(
                list(paths), show_progress(quiet), together=False if separately else None,
                jobs=jobs, **run_options,
            )
    except RunInterrupted as exc:
        stopped, reports = exc, exc.reports
    with held_signals():
        gate(reports, cfg, fail_on)
        if trace_dir is not None:
            write_traces(reports, trace_dir)
        if quiet:
            if output is not None:
                emit(reports, fmt, output)
            from emulator.report.text import summary_line

            click.echo(summary_line(reports))
        else:
            emit(reports, fmt, output)
    if stopped is not None:
        raise stopped
    if not all(r.passed for r in reports):
        sys.exit(1)


def _run_with_progress(paths: list[str], bar: bool, **kwargs: Any) -> list[Report]:
    if not bar:
        return check_dlls(paths, **kwargs)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from emulator.host.profiles import get_profile

    together = kwargs.get("together")
    if together is None:
        if kwargs.get("profile") is None:
            from emulator.conformance.run import profile_for

            profs = [profile_for(p)[0] for p in paths]
            together = len({p.name for p in profs}) == 1 and profs[0].multi_dll
        else:
            together = get_profile(kwargs["profile"]).multi_dll
    groups = 1 if together or len(paths) == 1 else len(paths)
    with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
                  BarColumn(), MofNCompleteColumn(), console=Console(stderr=True),
                  transient=True) as prog:
        task = prog.add_task("checking", total=groups)

        def step(_k: int, rep: Report) -> None:
            # the verdict waits for the waivers; the bar only says what is done
            prog.update(task, advance=1, description=f"checked {Path(rep.dlls[0]).name}")

        return check_dlls(paths, progress=step, **kwargs)
