"""``rasemu run``: run one scenario against admin DLLs and keep its call trace."""

from __future__ import annotations

import io
import sys

import click

from emulator.cli.check import emit, gate, held_signals, settings, stops_on_signals
from emulator.conformance.run import LOADERS, RunInterrupted, check_dlls, profile_for
from emulator.errors import InputError
from emulator.host.profiles import DEFAULT_PROFILE, PROFILES, Profile, get_profile
from emulator.report import write_atomic


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--scenario", "scenario", required=True, metavar="NAME|FILE",
              help="Standard scenario name (see rasemu scenarios) or a .toml file.")
@click.option("--config", "config_file", metavar="FILE",
              help="Configuration file (default: rasemu.toml or [tool.rasemu] in pyproject.toml, "
                   "looked up from the current folder). Options given here override it.")
@click.option("--profile", default=None,
              help="Host profile: " + ", ".join(PROFILES) + ". Default: win7 of the DLLs' "
                   f"bitness (PE32: win7-x86; otherwise {DEFAULT_PROFILE}).")
@click.option("--loader", type=click.Choice(LOADERS), default=None, help="Default: auto.")
@click.option("--isolate/--no-isolate", default=None, help="Run the DLL in a child process.")
@click.option("--strictness", type=click.Choice(["practice", "strict"]), default=None,
              help="Default: practice.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that fails the run (waived findings never do). Default: error.")
@click.option("--trace", "trace_out", metavar="OUT.jsonl", help="Write the call trace (JSON lines).")
@click.option("--golden", is_flag=True,
              help="Normalise the trace for golden files (no times, handles renumbered).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text",
              show_default=True)
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=None,
              help="Per-call time limit in seconds. Default: 5.")
@stops_on_signals
def run(paths: tuple[str, ...], scenario: str, config_file: str | None, profile: str | None,
        loader: str | None, isolate: bool | None, strictness: str | None, fail_on: str | None,
        trace_out: str | None, golden: bool, fmt: str, output: str | None,
        timeout: float | None) -> None:
    """Run one scenario; several PATHs are registered together as a ';' DLLPath list.

    Exit status: 0 no error finding, 1 error findings, 2 wrong input, 130 interrupted by
    Ctrl-C (SIGINT), 143 by SIGTERM (the report and trace written are then partial).
    """
    from emulator.host.scenarios import load_scenario
    from emulator.host.trace import normalise, write_jsonl

    cfg = settings(config_file)
    scn = load_scenario(scenario)
    chosen = cfg.get("profile", profile, None)
    source = None
    if chosen is None:
        prof, source = _auto_profile(paths)
    else:
        prof = get_profile(chosen)
    strictness = cfg.get("strictness", strictness, "practice")
    if not scn.applies_to(prof, len(paths)):
        need = (f"needs at least {scn.min_dlls} DLLs" if len(paths) < scn.min_dlls
                else f"applies to {', '.join(scn.profiles)} only")
        raise InputError(f"scenario {scn.name!r} {need}, not {prof.name} with {len(paths)} DLL(s)",
                         where="--scenario")
    stopped: RunInterrupted | None = None
    try:
        reports = check_dlls(list(paths), profile=prof, loader=cfg.get("loader", loader, "auto"),
                             isolate=isolate,
                             strictness="strict" if strictness == "strict" else "practice",
                             scenarios=[scn], together=True,
                             call_timeout=float(cfg.get("timeout", timeout, 5.0)),
                             keep_traces=trace_out is not None)
    except RunInterrupted as exc:
        stopped, reports = exc, exc.reports
    with held_signals():
        for r in reports:
            r.profile_source = source
        gate(reports, cfg, fail_on)
        report = reports[0]
        if trace_out is not None:
            events = report.traces.get(scn.name, [])
            buf = io.StringIO()
            write_jsonl(normalise(events) if golden else events, buf)
            try:
                write_atomic(trace_out, buf.getvalue())
            except OSError as exc:
                raise InputError(f"cannot write the trace: {exc.strerror or exc}",
                                 where=trace_out) from None
        emit(reports, fmt, output)
    if stopped is not None:
        raise stopped
    if not report.passed:
        sys.exit(1)


def _auto_profile(paths: tuple[str, ...]) -> tuple[Profile, str]:
    """The win7 profile of the DLLs' bitness; InputError when they differ (one host runs them)."""
    from emulator.conformance.run import sniff_dll

    for p in paths:
        sniff_dll(p)
    picked = [profile_for(p) for p in paths]
    names = {pr.name for pr, _ in picked}
    if len(names) > 1:
        raise InputError("these DLLs are of different bitness ("
                         + ", ".join(f"{p}: {pr.name}" for p, (pr, _) in zip(paths, picked, strict=True))
                         + "), and rasemu run registers them together in one host; give --profile",
                         where="--profile")
    how = "dll-machine" if any(h == "dll-machine" for _, h in picked) else "default"
    return picked[0][0], how
