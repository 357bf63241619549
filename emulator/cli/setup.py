"""``rasemu setup check``: run an admin-DLL installer (and uninstaller) in a sandbox, check R01-R10."""

from __future__ import annotations

import json
import sys

import click

from emulator.host.profiles import DEFAULT_PROFILE
from emulator.setup.checks import diff_entries
from emulator.setup.validate import SetupResult, validate_installer


def render_text(result: SetupResult, install: str, uninstall: str | None) -> str:
    """Readable report: verdict, findings with evidence, diffs, files, log."""
    errors = sum(f.severity.value == "error" for f in result.findings)
    warnings = sum(f.severity.value == "warning" for f in result.findings)
    lines = [
        f"installer:   {install}" + (f"\nuninstaller: {uninstall}" if uninstall else ""),
        f"profile:     {result.profile}, {result.installer_bits}-bit installer",
        f"result:      {'PASS' if result.passed else 'FAIL'} ({errors} error(s), "
        f"{warnings} warning(s))",
        "",
        "findings:" if result.findings else "findings: none",
    ]
    for f in result.findings:
        lines.append(f"  {f.severity.value.upper():<7} {f.rule}  {f.message}")
        for e in f.evidence:
            if "text" in e:
                lines.append(f"            {e['text']}")
    lines.append("")
    lines.append("registry changes by the install:")
    lines.extend(f"  {e['text']}" for e in diff_entries(result.install_diff, "install"))
    if result.install_diff.is_empty:
        lines.append("  (none)")
    if result.uninstall_diff is not None:
        lines.append("")
        lines.append("left behind after the uninstall (compared with before the install):")
        lines.extend(f"  {e['text']}" for e in diff_entries(result.uninstall_diff, "uninstall"))
        if result.uninstall_diff.is_empty:
            lines.append("  (nothing: the registry is as before the install)")
    if result.files:
        lines.append("")
        lines.append("files:")
        lines.extend(f"  {p}: {what}" for p, what in result.files.items())
    lines.append("")
    lines.append("log:")
    lines.extend(f"  {line}" for line in result.log)
    return "\n".join(lines) + "\n"


_STYLES = {"ERROR": "bold red", "WARNING": "yellow", "INFO": "cyan", "PASS": "bold green",
           "FAIL": "bold red"}


def print_rich(text: str) -> None:
    """The text report on a terminal, with severities and the verdict coloured."""
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    for line in text.splitlines():
        out = Text(line)
        for word, style in _STYLES.items():
            start = line.find(word)
            if start >= 0 and (line.lstrip().startswith(word) or line.startswith("result:")):
                out.stylize(style, start, start + len(word))
        console.print(out, soft_wrap=True)


@click.group()
def setup() -> None:
    """Validate admin-DLL installers and uninstallers (rules R01-R10)."""


@setup.command("check")
@click.option("--install", "install", required=True, metavar="FILE",
              help="Installer: .reg file, reg.exe script (.cmd/.bat), Python winreg code (.py) "
                   "or self-registering DLL (.dll).")
@click.option("--uninstall", "uninstall", metavar="FILE", help="Uninstaller (same kinds).")
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True,
              help="Host profile, e.g. win7-x64, win2003-x86, win2000.")
@click.option("--installer-bits", type=click.Choice(["32", "64"]), default=None,
              help="Bitness of the installer process (default: the profile's).")
@click.option("--dll", metavar="LOCAL.dll",
              help="The DLL the installation media carries (put in C:\\Setup).")
@click.option("--dll-name", metavar="NAME",
              help="File name of the DLL in C:\\Setup (default: the name of --dll).")
@click.option("--preexisting", multiple=True, metavar="PATH",
              help="Another vendor's DLL already registered (e.g. \"C:\\Fabrikam\\adm.dll\"); "
                   "repeatable.")
@click.option("--seed", default="ras_server", show_default=True,
              help="Registry seed: empty, windows or ras_server.")
@click.option("--reg32", is_flag=True, help="Import .reg files through the 32-bit view.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format.")
def check(install: str, uninstall: str | None, profile: str, installer_bits: str | None,
          dll: str | None, dll_name: str | None, preexisting: tuple[str, ...], seed: str,
          reg32: bool, fmt: str) -> None:
    """Run an installer (and uninstaller) against a fake registry and file system.

    Exit status: 0 no error finding, 1 error findings, 2 wrong input.
    """
    result = validate_installer(
        install, uninstall, profile=profile, dll=dll, seed=seed,
        preexisting=list(preexisting) or None,
        installer_bits=int(installer_bits) if installer_bits else None,
        dll_name=dll_name, reg32=reg32,
    )
    if fmt == "json":
        data = {"install": install, "uninstall": uninstall, **result.to_json()}
        click.echo(json.dumps(data, indent=2))
    elif sys.stdout.isatty():
        print_rich(render_text(result, install, uninstall))
    else:
        click.echo(render_text(result, install, uninstall), nl=False)
    if not result.passed:
        sys.exit(1)
