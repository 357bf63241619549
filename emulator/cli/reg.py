"""``rasemu reg``: Windows .reg files -- export (normalise), diff and check."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from emulator.errors import InputError
from emulator.registry.model import Registry
from emulator.registry.regfile import ImportReport, export, export_text, format_value, import_file
from emulator.registry.snapshot import RegistryDiff, diff


def _warn(report: ImportReport) -> None:
    for issue in report.skipped:
        click.echo(f"rasemu: skipped: {issue}", err=True)
    for issue in report.notes:
        click.echo(f"rasemu: note: {issue}", err=True)


def _load(files: tuple[str, ...], lenient: bool) -> Registry:
    registry = Registry()
    for name in files:
        _warn(import_file(name, registry, strict=not lenient))
    return registry


_LENIENT = click.option(
    "--lenient", is_flag=True,
    help="Do what regedit does with irregular lines (skip them) and list each one on stderr, "
         "instead of stopping at the first with an error.",
)


@click.group()
def reg() -> None:
    """Read, normalise and compare Windows .reg files (regedit's format).

    Accepts 'Windows Registry Editor Version 5.00' and 'REGEDIT4' files in UTF-16LE with
    BOM, UTF-8 with BOM, or ANSI (read as code page 1252). Errors name file:line:column.
    """


@reg.command("export")
@click.option("--from", "sources", multiple=True, required=True, metavar="FILE.reg",
              help="A .reg file to import (repeat to import several, in order).")
@click.argument("key", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), metavar="OUT.reg",
              help="Write regedit's exact bytes (UTF-16LE with BOM, CRLF) to this file.")
@click.option("--regedit4", is_flag=True,
              help="Write the REGEDIT4 format (ANSI, code page 1252) instead of version 5.00.")
@click.option("--lossless", is_flag=True,
              help="Write REG_SZ data that regedit's quoted form would shorten (embedded NUL, "
                   "no terminator) as hex(1): so that importing restores it exactly.")
@_LENIENT
def export_cmd(sources: tuple[str, ...], key: str | None, output: str | None, regedit4: bool,
               lossless: bool, lenient: bool) -> None:
    """Import the --from files into an empty registry and export KEY (default: everything).

    Without -o the export is printed as UTF-8 text with LF line ends (no BOM); with -o
    the file gets exactly the bytes regedit writes.
    """
    registry = _load(sources, lenient)
    version = 4 if regedit4 else 5
    if output is not None:
        data = export(registry, key, version=version, lossless=lossless)
        try:
            Path(output).write_bytes(data)
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror or exc}", where=output) from None
        return
    text = export_text(registry, key, version=version, lossless=lossless).replace("\r\n", "\n")
    click.echo(text.encode("utf-8", "replace"), nl=False)


def _one_line(name: str, vtype: int, data: bytes) -> str:
    return format_value(name, vtype, data).replace("\\\r\n  ", "")


def render_diff(d: RegistryDiff) -> list[str]:
    """Lines describing a registry difference in .reg syntax (``-`` old, ``+`` new)."""
    lines: list[str] = []
    for path in d.keys_removed:
        lines.append(f"-[{path}]")
    added = set(d.keys_added)
    changed: dict[str, list[str]] = {}
    for path, name, (t, data) in d.values_removed:
        changed.setdefault(path, []).append("-" + _one_line(name, t, data))
    for ch in d.values_changed:
        changed.setdefault(ch.path, []).extend(
            ["-" + _one_line(ch.name, *ch.old), "+" + _one_line(ch.name, *ch.new)])
    added_values: dict[str, list[str]] = {}
    for path, name, (t, data) in d.values_added:
        target = added_values if path in added else changed
        target.setdefault(path, []).append("+" + _one_line(name, t, data))
    for path, entries in changed.items():
        lines.append(f" [{path}]")
        lines.extend(entries)
    for path in d.keys_added:
        lines.append(f"+[{path}]")
        lines.extend(added_values.get(path, []))
    return lines


@reg.command("diff")
@click.argument("a", metavar="A.reg")
@click.argument("b", metavar="B.reg")
@click.option("--patch", type=click.Path(dir_okay=False), metavar="PATCH.reg",
              help="Also write a .reg file (UTF-16LE with BOM) that turns A's registry into B's.")
@_LENIENT
def diff_cmd(a: str, b: str, patch: str | None, lenient: bool) -> None:
    """Show how the registry B.reg produces differs from the one A.reg produces.

    Each file is imported into its own empty registry. Lines starting with '-' are only
    in A, '+' only in B; ' [KEY]' names a key whose values changed. Exit status: 0 same,
    1 different, 2 input error (like diff(1)).
    """
    ra = _load((a,), lenient)
    rb = _load((b,), lenient)
    d = diff(ra.snapshot(), rb.snapshot())
    if patch is not None:
        try:
            Path(patch).write_bytes(b"\xff\xfe" + d.to_reg().encode("utf-16-le", "surrogatepass"))
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror or exc}", where=patch) from None
    lines = render_diff(d)
    if not lines:
        return
    text = "\n".join([f"--- {a}", f"+++ {b}", *lines]) + "\n"
    click.echo(text.encode("utf-8", "replace"), nl=False)
    # sys.exit, not ctx.exit: the root runs click with standalone_mode=False, where an
    # Exit's code is returned and lost.
    sys.exit(1)


_FORMATS = {5: "version 5.00", 4: "REGEDIT4", 3: "Windows 3.1 REGEDIT",
            0: "unrecognised REGEDIT header (nothing imported)"}


@reg.command("check")
@click.argument("files", nargs=-1, required=True, metavar="FILE.reg...")
@_LENIENT
def check_cmd(files: tuple[str, ...], lenient: bool) -> None:
    """Parse .reg files and report problems (strict: the first error; --lenient: all)."""
    registry = Registry()
    for name in files:
        report = import_file(name, registry, strict=not lenient)
        _warn(report)
        click.echo(
            f"{name}: ok: {_FORMATS.get(report.version, report.version)}, "
            f"{report.encoding}, {report.keys_created} key lines, {report.values_set} values set, "
            f"{report.keys_deleted + report.values_deleted} deletions, "
            f"{len(report.skipped)} skipped"
        )
