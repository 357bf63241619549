"""The ``rasemu`` command line. Each subcommand lives in its own module and is imported on use."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from emulator.errors import RasemuError

# name -> "module:attribute" of a click.Command; add one line per subcommand.
COMMANDS: dict[str, str] = {
    "inspect": "emulator.cli.inspect:inspect",
    "reg": "emulator.cli.reg:reg",
    "demo": "emulator.cli.demo:demo",
    "rules": "emulator.cli.rules:rules",
    "check": "emulator.cli.check:check",
    "run": "emulator.cli.run:run",
    "scenarios": "emulator.cli.scenarios:scenarios",
    "record": "emulator.cli.record:record",
    "replay": "emulator.cli.replay:replay",
    "setup": "emulator.cli.setup:setup",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when they are run or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, _, attr = spec.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rasemu", prog_name="rasemu")
def cli() -> None:
    """Emulate a Windows RAS host and check RAS administration DLLs against the contract."""


def _one_line(text: str) -> str:
    """``text`` with line breaks escaped (a file name may contain them)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def main(argv: list[str] | None = None) -> Any:
    """Entry point: runs the CLI; input errors print one line and exit 2, never a traceback."""
    try:
        rc = cli.main(args=argv, prog_name="rasemu", standalone_mode=False)
        if isinstance(rc, int) and rc != 0:
            sys.exit(rc)
        return rc
    except click.exceptions.Abort:
        click.echo("rasemu: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except RasemuError as exc:
        click.echo(f"rasemu: error: {_one_line(str(exc))}", err=True)
        sys.exit(2)
    except OSError as exc:  # a path the OS refuses (name too long, permissions, ...)
        where = f"{exc.filename}: " if exc.filename is not None else ""
        click.echo(f"rasemu: error: {_one_line(where + (exc.strerror or str(exc)))}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("rasemu: interrupted", err=True)
        sys.exit(130)
