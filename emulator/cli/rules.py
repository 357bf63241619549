"""``rasemu rules``: print the contract's rule catalogue."""

from __future__ import annotations

import click

from emulator.conformance.rules import AMBIGUITIES, RULES


@click.command()
@click.option("--side", type=click.Choice(["HOST", "DLL", "SETUP"], case_sensitive=False))
@click.option("--markdown", is_flag=True, help="Print a Markdown table (the README catalogue).")
def rules(side: str | None, markdown: bool) -> None:
    """List rules R01..R78 with side, evidence tag and sources."""
    selected = [r for r in RULES.values() if side is None or r.side == side.upper()]
    if markdown:
        click.echo("| id | side | tag | rule | sources |")
        click.echo("|---|---|---|---|---|")
        for r in selected:
            click.echo(f"| {r.id} | {r.side} | {r.tag} | {r.text.replace('|', '/')} | {r.sources} |")
        if side is None:
            click.echo("")
            for key, text in AMBIGUITIES.items():
                click.echo(f"* {key} {text}")
        return
    for r in selected:
        click.echo(f"{r.id}  {r.side:<5} {r.tag:<7} {r.text}  {r.sources}")
