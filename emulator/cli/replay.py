"""``rasemu replay``: run a golden file's scenario again and diff the call traces."""

from __future__ import annotations

import sys

import click

from emulator.conformance.run import LOADERS


@click.command()
@click.argument("golden_file", metavar="GOLDEN.jsonl")
@click.argument("paths", nargs=-1, required=True, metavar="DLL...")
@click.option("--profile", default=None,
              help="Host profile (default: the one in the golden file's header).")
@click.option("--loader", type=click.Choice(LOADERS), default=None,
              help="Loader (default: the one in the header).")
@click.option("--max-diffs", type=click.IntRange(min=1), default=5, show_default=True,
              help="Show at most this many differing places.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Per-call time limit in seconds.")
def replay(golden_file: str, paths: tuple[str, ...], profile: str | None, loader: str | None,
           max_diffs: int, timeout: float) -> None:
    """Replay GOLDEN.jsonl on DLL(s): the same scenario, profile and loader; compare the calls.

    Exit status: 0 identical trace, 1 the traces differ (a unified diff of the differing calls,
    with their #seq numbers, is printed), 2 wrong input (not a golden file, a damaged line).
    """
    from emulator.golden import read_golden, render_diff
    from emulator.golden import replay as do_replay

    golden = read_golden(golden_file)
    events, hunks, _report = do_replay(golden, list(paths), profile=profile, loader=loader,
                                       call_timeout=timeout)
    h = golden.header
    what = f"scenario {h['scenario']!r}, profile {profile or h['profile']}"
    if not hunks:
        click.echo(f"replay: identical ({len(events)} calls, {what})")
        return
    click.echo(f"replay: the call trace differs from {golden_file} ({what}; "
               f"{len(hunks)} differing place(s))")
    names = ", ".join(paths)
    click.echo(render_diff(golden.events, events, hunks, limit=max_diffs,
                           labels=(golden_file, names)), nl=False)
    if h.get("rasemu") not in (None, _version()):
        click.echo(f"note: the golden file was recorded by rasemu {h['rasemu']}, this is "
                   f"{_version()}", err=True)
    sys.exit(1)


def _version() -> str:
    from emulator import __version__

    return __version__
