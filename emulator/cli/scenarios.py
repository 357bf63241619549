"""``rasemu scenarios``: list the standard scenarios, or print one as TOML to adapt."""

from __future__ import annotations

import click


@click.command()
@click.argument("name", required=False, metavar="[NAME|FILE]")
def scenarios(name: str | None) -> None:
    """List the standard scenarios; with NAME, print that scenario's TOML (validated)."""
    from emulator.host.scenarios import load_scenario, scenario_text, standard_scenarios

    if name is not None:
        click.echo(scenario_text(load_scenario(name)), nl=False)
        return
    items = standard_scenarios()
    width = max(len(s.name) for s in items)
    for s in items:
        where = []
        if s.profiles:
            where.append("profiles: " + ", ".join(s.profiles))
        if s.min_dlls > 1:
            where.append(f"{s.min_dlls}+ DLLs")
        suffix = f" [{'; '.join(where)}]" if where else ""
        click.echo(f"{s.name:<{width}}  {s.description}{suffix}")
