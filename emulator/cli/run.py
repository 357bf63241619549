"""``rasemu run``: run one scenario against admin DLLs and keep its call trace."""

from __future__ import annotations

import io
import sys

import click

from emulator.cli.check import emit
from emulator.conformance.run import LOADERS, check_dlls
from emulator.errors import InputError
from emulator.host.profiles import DEFAULT_PROFILE, PROFILES, get_profile
from emulator.report import write_atomic


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--scenario", "scenario", required=True, metavar="NAME|FILE",
              help="Standard scenario name (see rasemu scenarios) or a .toml file.")
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True,
              help="Host profile: " + ", ".join(PROFILES) + ".")
@click.option("--loader", type=click.Choice(LOADERS), default="auto", show_default=True)
@click.option("--isolate/--no-isolate", default=None, help="Run the DLL in a child process.")
@click.option("--strictness", type=click.Choice(["practice", "strict"]), default="practice",
              show_default=True)
@click.option("--trace", "trace_out", metavar="OUT.jsonl", help="Write the call trace (JSON lines).")
@click.option("--golden", is_flag=True,
              help="Normalise the trace for golden files (no times, handles renumbered).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text",
              show_default=True)
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Per-call time limit in seconds.")
def run(paths: tuple[str, ...], scenario: str, profile: str, loader: str, isolate: bool | None,
        strictness: str, trace_out: str | None, golden: bool, fmt: str, output: str | None,
        timeout: float) -> None:
    """Run one scenario; several PATHs are registered together as a ';' DLLPath list.

    Exit status: 0 no error finding, 1 error findings, 2 wrong input.
    """
    from emulator.host.scenarios import load_scenario
    from emulator.host.trace import normalise, write_jsonl

    scn = load_scenario(scenario)
    prof = get_profile(profile)
    if not scn.applies_to(prof, len(paths)):
        need = (f"needs at least {scn.min_dlls} DLLs" if len(paths) < scn.min_dlls
                else f"applies to {', '.join(scn.profiles)} only")
        raise InputError(f"scenario {scn.name!r} {need}, not {prof.name} with {len(paths)} DLL(s)",
                         where="--scenario")
    reports = check_dlls(list(paths), profile=prof, loader=loader, isolate=isolate,
                         strictness="strict" if strictness == "strict" else "practice",
                         scenarios=[scn], together=True, call_timeout=timeout,
                         keep_traces=trace_out is not None)
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
