"""``rasemu record``: run one sequential scenario and write its normalised golden trace."""

from __future__ import annotations

import click

from emulator.conformance.run import LOADERS
from emulator.host.profiles import DEFAULT_PROFILE, PROFILES


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="DLL...")
@click.option("--scenario", "scenario", required=True, metavar="NAME|FILE",
              help="Standard scenario name or a .toml file; sequential scenarios only (a "
                   "concurrent step makes the call order depend on thread scheduling).")
@click.option("-o", "--output", required=True, metavar="GOLDEN.jsonl",
              help="The golden file to write.")
@click.option("--profile", default=None,
              help="Host profile: " + ", ".join(PROFILES) + ". Default: win7 of the DLLs' "
                   f"bitness (PE32: win7-x86; otherwise {DEFAULT_PROFILE}).")
@click.option("--loader", type=click.Choice(LOADERS), default="auto", show_default=True,
              help="Stored in the header; replay uses it unless told otherwise.")
@click.option("--strictness", type=click.Choice(["practice", "strict"]), default="practice",
              show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Per-call time limit in seconds.")
def record(paths: tuple[str, ...], scenario: str, output: str, profile: str | None, loader: str,
           strictness: str, timeout: float) -> None:
    """Record the normalised call trace of SCENARIO on DLL(s) as a golden file.

    Several DLLs are registered together as a ';' DLLPath list. The first line of the file is
    a header (scenario and its TOML text, profile, loader, rasemu version); each further line
    is one call with times dropped, handles renumbered and DLL paths replaced by dll1, dll2...

    Exit status: 0 recorded, 2 wrong input.
    """
    from emulator.golden import record as do_record
    from emulator.golden import write_golden
    from emulator.host.scenarios import load_scenario
    from emulator.report.text import verdict

    scn = load_scenario(scenario)
    note = ""
    if profile is None:
        from emulator.cli.run import _auto_profile
        from emulator.conformance.run import AUTO_PROFILE_NOTE

        prof, how = _auto_profile(paths)
        profile = prof.name
        if how == "dll-machine":
            note = f", {AUTO_PROFILE_NOTE[how]}"
    golden, report = do_record(list(paths), scn, profile=profile,
                               loader=loader, strictness=strictness, call_timeout=timeout)
    write_golden(output, golden)
    click.echo(f"recorded {len(golden.events)} calls of scenario {golden.header['scenario']!r} "
               f"({golden.header['profile']}{note}) to {output}; {verdict(report)}")
