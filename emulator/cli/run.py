"""``rasemu run``: run one scenario against admin DLLs and keep its call trace."""

from __future__ import annotations

import io
import sys

import click

from emulator.cli.check import emit, gate, settings
from emulator.conformance.run import LOADERS, check_dlls
from emulator.errors import InputError
from emulator.host.profiles import DEFAULT_PROFILE, PROFILES, get_profile
from emulator.report import write_atomic


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--scenario", "scenario", required=True, metavar="NAME|FILE",
              help="Standard scenario name (see rasemu scenarios) or a .toml file.")
@click.option("--config", "config_file", metavar="FILE",
              help="Configuration file (default: rasemu.toml or [tool.rasemu] in pyproject.toml, "
                   "looked up from the current folder). Options given here override it.")
@click.option("--profile", default=None,
              help="Host profile: " + ", ".join(PROFILES) + f". Default: {DEFAULT_PROFILE}.")
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
def run(paths: tuple[str, ...], scenario: str, config_file: str | None, profile: str | None,
        loader: str | None, isolate: bool | None, strictness: str | None, fail_on: str | None,
        trace_out: str | None, golden: bool, fmt: str, output: str | None,
        timeout: float | None) -> None:
    """Run one scenario; several PATHs are registered together as a ';' DLLPath list.

    Exit status: 0 no error finding, 1 error findings, 2 wrong input.
    """
    from emulator.host.scenarios import load_scenario
    from emulator.host.trace import normalise, write_jsonl

    cfg = settings(config_file)
    scn = load_scenario(scenario)
    prof = get_profile(cfg.get("profile", profile, DEFAULT_PROFILE))
    strictness = cfg.get("strictness", strictness, "practice")
    if not scn.applies_to(prof, len(paths)):
        need = (f"needs at least {scn.min_dlls} DLLs" if len(paths) < scn.min_dlls
                else f"applies to {', '.join(scn.profiles)} only")
        raise InputError(f"scenario {scn.name!r} {need}, not {prof.name} with {len(paths)} DLL(s)",
                         where="--scenario")
    reports = check_dlls(list(paths), profile=prof, loader=cfg.get("loader", loader, "auto"),
                         isolate=isolate,
                         strictness="strict" if strictness == "strict" else "practice",
                         scenarios=[scn], together=True,
                         call_timeout=float(cfg.get("timeout", timeout, 5.0)),
                         keep_traces=trace_out is not None)
    gate(reports, cfg, fail_on)
    report = reports[0]
    if trace_out is not None:
        events = report.traces.get(scn.name, [])
        buf = io.StringIO()
        write_jsonl(normalise(events) if golden else events, buf)
        try:
            write_atomic(trace_out, buf.getvalue())
        except OSError as exc:
            raise InputError(f"cannot write the trace: {exc.strerror or exc}", where=trace_out) from None
    emit(reports, fmt, output)
    if not report.passed:
        sys.exit(1)
