"""``rasemu check``: run the conformance scenarios against admin DLLs and report the findings."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from emulator.conformance.run import LOADERS, check_dlls
from emulator.errors import InputError
from emulator.host.profiles import DEFAULT_PROFILE, PROFILES
from emulator.report import Report, write_atomic

FORMATS = ("text", "json", "junit")


def emit(reports: Sequence[Report], fmt: str, output: str | None) -> None:
    """Render ``reports`` as ``fmt`` to ``output`` (written atomically) or stdout (rich on a terminal)."""
    if fmt == "json":
        from emulator.report import json as rjson

        text = rjson.render(reports)
    elif fmt == "junit":
        from emulator.report import junit

        text = junit.render(reports)
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


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True,
              help="Host profile: " + ", ".join(PROFILES) + "; an OS name alone means its x64 "
                   "profile (nt4: x86).")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME|FILE",
              help="Run only this scenario (standard name or .toml file); repeatable. Default: the standard set.")
@click.option("--loader", type=click.Choice(LOADERS), default="auto", show_default=True,
              help="How to run the DLL: python stand-in, native shared library, or PE emulation.")
@click.option("--isolate/--no-isolate", default=None,
              help="Run the DLL in a child process (default: the loader decides).")
@click.option("--strictness", type=click.Choice(["practice", "strict"]), default="practice",
              show_default=True, help="Required-export level that gates the run (AMBIG-1).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Report format.")
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--trace-dir", metavar="DIR", help="Write one JSON-lines call trace per scenario into DIR.")
@click.option("--separately", is_flag=True,
              help="Check each DLL on its own (default: several DLLs are registered together as a "
                   "';' list when the profile allows it).")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Per-call time limit in seconds.")
def check(paths: tuple[str, ...], profile: str, scenarios: tuple[str, ...], loader: str,
          isolate: bool | None, strictness: str, fmt: str, output: str | None,
          trace_dir: str | None, separately: bool, timeout: float) -> None:
    """Check admin DLLs (PE images, shared libraries or Python stand-ins) against the contract.

    Exit status: 0 no error finding, 1 error findings, 2 wrong input.
    """
    from emulator.host.scenarios import load_scenario

    chosen = [load_scenario(s) for s in scenarios] or None
    reports = check_dlls(
        list(paths), profile=profile, loader=loader, isolate=isolate,
        strictness="strict" if strictness == "strict" else "practice",
        scenarios=chosen, together=False if separately else None, call_timeout=timeout,
        keep_traces=trace_dir is not None,
    )
    if trace_dir is not None:
        write_traces(reports, trace_dir)
    emit(reports, fmt, output)
    if not all(r.passed for r in reports):
        sys.exit(1)
