"""``rasemu rules``: print the contract's rule catalogue (plain text or the Markdown of docs/rules.md)."""

from __future__ import annotations

import click

from emulator.conformance.rules import AMBIGUITIES, RULES, Rule

#: the command that regenerates docs/rules.md (tests/docs checks the file against it)
REGENERATE = "rasemu rules --markdown > docs/rules.md"

_SIDES = {
    "SETUP": "Setup rules: what installers and uninstallers do to the registry and file system",
    "HOST": "Host rules: how the RAS service (rasemu's host model) finds, loads and drives admin DLLs",
    "DLL": "DLL rules: what an admin DLL must do",
}
_TAGS = (
    "**DOC** stated by a source; **IMPLIED** follows from Windows facts or Microsoft's samples but "
    "is not spelled out; **AMBIG** the sources are silent or disagree (see the ambiguities below)."
)
#: rasemu's own finding ids (not contract rules); a waiver may name them too
OWN_RULES = {
    "X-SCENARIO": "a scenario expectation (`do = \"expect\"` step) failed; severity as the step says",
    "X-INTERNAL": "rasemu itself failed while running a scenario: not a verdict on the DLL "
                  "(`RASEMU_DEBUG=1` shows the traceback)",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(rules: list[Rule], *, with_side: bool) -> list[str]:
    head = "| id | side | tag | rule | sources |" if with_side else "| id | tag | rule | sources |"
    lines = [head, "|---" * head.count(" | ") + "|---|"]
    for r in rules:
        side = f" {r.side} |" if with_side else ""
        lines.append(f"| {r.id} |{side} {r.tag} | {_cell(r.text)} | {_cell(r.sources)} |")
    return lines


def markdown(side: str | None = None) -> str:
    """The catalogue as Markdown: the whole docs/rules.md page, or one side's table."""
    if side is not None:
        return "\n".join(_table([r for r in RULES.values() if r.side == side], with_side=True)) + "\n"
    first, last = next(iter(RULES)), next(reversed(RULES))
    out = [
        f"<!-- Generated from emulator/conformance/rules.py by `{REGENERATE}`; do not edit. -->",
        "# Rule catalogue",
        "",
        f"Every finding rasemu reports carries one of these ids. Rules {first}..{last} come from the "
        "contract (`shared/spec/contract.md`, section 5; `§n.m` in the texts names its sections and "
        "`[Sx]` its sources, resolved in section 7). "
        "`rasemu rules` prints the same list on the terminal; `rasemu rules --side dll` one side.",
        "",
        f"Tags: {_TAGS}",
    ]
    for key, title in _SIDES.items():
        group = [r for r in RULES.values() if r.side == key]
        out += ["", f"## {title} ({len(group)} rules)", ""]
        out += _table(group, with_side=False)
    out += ["", "## rasemu's own ids", "", "| id | meaning |", "|---|---|"]
    out += [f"| {k} | {_cell(v)} |" for k, v in OWN_RULES.items()]
    out += ["", "## Ambiguities", "",
            "Where the sources leave a choice; rasemu's decisions are in section 8 of the contract.",
            ""]
    out += [f"* **{k}** {v}" for k, v in AMBIGUITIES.items()]
    return "\n".join(out) + "\n"


@click.command()
@click.option("--side", type=click.Choice(["HOST", "DLL", "SETUP"], case_sensitive=False),
              help="Only the rules binding this side.")
@click.option("--markdown", "as_markdown", is_flag=True,
              help=f"Print Markdown: the page docs/rules.md holds ({REGENERATE}), or with --side "
                   "that side's table.")
def rules(side: str | None, as_markdown: bool) -> None:
    """List rules R01..R78 with side, evidence tag and sources."""
    if as_markdown:
        click.echo(markdown(side.upper() if side else None), nl=False)
        return
    for r in RULES.values():
        if side is None or r.side == side.upper():
            click.echo(f"{r.id}  {r.side:<5} {r.tag:<7} {r.text}  {r.sources}")
