"""``rasemu demo``: a registry round trip of the bundled RAS admin-DLL registration."""

from __future__ import annotations

import sys

import click

from emulator._samples import sample_path
from emulator.registry.model import TYPE_NAMES, Registry
from emulator.registry.regfile import export, export_text, import_bytes, import_file

SAMPLE = "reg/ras_admindll_install.reg"
KEY = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS"


@click.command()
def demo() -> None:
    """Import the bundled .reg sample (registration of an admin DLL under
    HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll, rules R01-R03), print the tree and the
    re-exported .reg, and check the round trip. Exit 0 when it holds, 1 otherwise."""
    path = sample_path(SAMPLE)
    original = path.read_bytes()
    registry = Registry()
    report = import_file(path, registry)
    click.echo(f"Imported {path.name}: {report.keys_created} keys, {report.values_set} values")
    click.echo("")
    for key, values in registry.snapshot(KEY).walk():
        depth = key.count("\\") - KEY.count("\\")
        click.echo("  " * depth + key.rsplit("\\", 1)[-1])
        for name, vtype, data in values:
            shown = data[:-2].decode("utf-16-le", "replace") if vtype == 1 else data.hex(" ")
            click.echo("  " * (depth + 1) + f"{name or '(Default)'}  {TYPE_NAMES.get(vtype, vtype)}  {shown}")
    click.echo("")
    exported = export(registry, KEY)
    click.echo(export_text(registry, KEY).replace("\r\n", "\n"), nl=False)
    again = Registry()
    import_bytes(exported, again, name="<re-export>")
    checks = {
        "re-export equals the sample byte for byte": exported == original,
        "re-imported registry equals the imported one": again.snapshot() == registry.snapshot(),
        "export of the re-import is identical": export(again, KEY) == exported,
    }
    for text, ok in checks.items():
        click.echo(f"{'ok  ' if ok else 'FAIL'} {text}")
    if not all(checks.values()):
        sys.exit(1)
