"""Errors rasemu raises for wrong input; the CLI prints them as one line and exits 2."""

from __future__ import annotations


class RasemuError(Exception):
    """Base class for every error rasemu reports to a user (never a traceback)."""


class InputError(RasemuError):
    """Wrong input from outside: a file, a field, a path or an argument.

    ``where`` names the file (and ``line``/``column`` when known) or the field;
    ``expected`` says what was expected. ``str()`` gives ``where:line:col: message``.
    """

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.where = where
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = ""
        if self.where is not None:
            prefix = self.where
            if self.line is not None:
                prefix += f":{self.line}"
                if self.column is not None:
                    prefix += f":{self.column}"
            prefix += ": "
        return prefix + self.message


class LoadError(InputError):
    """A DLL (or stand-in) cannot be loaded: missing, wrong format, wrong bitness, missing exports."""

    def __init__(self, message: str, *, where: str | None = None, rule: str | None = None) -> None:
        self.rule = rule
        super().__init__(message, where=where)
