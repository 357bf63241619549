"""reg.exe command scripts (``.cmd``/``.bat``): ``reg add``/``delete``/``import`` and file copies.

Modelled as cmd.exe runs a batch file (facts from Microsoft's ``reg add``/``reg delete`` pages
and cmd.exe's documented behaviour; no code copied):

* Per line: ``%%`` -> ``%``, ``%~dp0`` -> the script's folder (``C:\\Setup\\``), ``%0``/``%~f0`` ->
  the script, ``%1``..``%9``/``%*`` -> empty (no arguments), ``%NAME%`` -> the variable
  (case-insensitive; an undefined one expands to nothing, as in a batch file, and is noted).
  Then ``^`` escapes the next character outside quotes; ``&``, ``&&`` and ``||`` chain
  commands; ``>``/``2>&1`` redirections are dropped; ``|`` pipes are skipped.
* Supported: ``@echo off``, ``rem``, ``::``, ``set NAME=VALUE``, ``cd``/``pushd``/``popd``, one-line
  ``if [/i] [not] exist|defined|errorlevel|A==B command``,
  ``mkdir``/``md``, ``copy``, ``xcopy`` (single files), ``del``/``erase``, ``rmdir``/``rd``,
  ``exit``, ``regedit [/s] file.reg``, and ``reg add|delete|import`` (``reg.exe``, also by full path; a path through
  ``Sysnative`` runs the 64-bit reg.exe, through ``SysWOW64`` the 32-bit one).
* Everything else is listed in the log as skipped, with the reason.
* reg.exe's own arguments are split like the C runtime does (``\\"`` is a literal quote, so
  ``"C:\\dir\\"`` swallows the closing quote -- a classic installer bug, shown as such).
* reg.exe runs with the script's bitness: its default registry view is 32-bit for a 32-bit
  script on a 64-bit OS; ``/reg:32`` and ``/reg:64`` choose explicitly.
* Without ``/f`` reg.exe asks before overwriting or deleting; rasemu notes it and assumes Yes.

Syntax errors raise :class:`~emulator.errors.InputError` as ``script:line: message`` saying
what was expected. Failures reg.exe or cmd.exe would report at run time (a missing value to
delete, a missing copy source) are logged as ``failed`` and the script goes on, as cmd.exe does.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from emulator.errors import InputError
from emulator.registry import regfile
from emulator.registry.model import (
    HKEY_CLASSES_ROOT,
    KeyNotFoundError,
    RegistryPathError,
    ValueNotFoundError,
    split_path,
)
from emulator.setup.env import SETUP_DIR, SetupEnv
from emulator.setup.installers import Installer
from emulator.setup.winfs import basename, is_under, normalize, parent

#: reg.exe data types (``/t``), with their numbers.
TYPES: Final[dict[str, int]] = {
    "REG_NONE": 0,
    "REG_SZ": 1,
    "REG_EXPAND_SZ": 2,
    "REG_BINARY": 3,
    "REG_DWORD": 4,
    "REG_DWORD_LITTLE_ENDIAN": 4,
    "REG_DWORD_BIG_ENDIAN": 5,
    "REG_LINK": 6,
    "REG_MULTI_SZ": 7,
    "REG_FULL_RESOURCE_DESCRIPTOR": 9,
    "REG_QWORD": 11,
    "REG_QWORD_LITTLE_ENDIAN": 11,
}

#: Root names reg.exe accepts (abbreviations and full names).
ROOTS: Final = ("HKLM", "HKCU", "HKCR", "HKU", "HKCC", "HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER",
                "HKEY_CLASSES_ROOT", "HKEY_USERS", "HKEY_CURRENT_CONFIG")

_ADD_USAGE: Final = ("reg add <keyname> [/v valuename | /ve] [/t datatype] [/s separator] "
                     "[/d data] [/f] [/reg:32 | /reg:64]")
_DELETE_USAGE: Final = "reg delete <keyname> [/v valuename | /ve | /va] [/f] [/reg:32 | /reg:64]"
_IMPORT_USAGE: Final = "reg import <file> [/reg:32 | /reg:64]"


_COMPARE: Final = re.compile(r'\s*("[^"]*"|[^\s=]+)\s*==\s*("[^"]*"|[^\s=]+)\s*(.*)$')


class _ScriptError(Exception):
    """A syntax error in the current line (turned into an InputError with file:line)."""


class _Exit(Exception):
    """``exit``: the script stops."""


@dataclass
class _Line:
    number: int
    where: str


def _sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le", "surrogatepass")


# -- cmd.exe text processing ----------------------------------------------------------------


def expand_percent(text: str, variables: dict[str, str], script: str,
                   undefined: list[str]) -> str:
    """Batch-file ``%`` expansion of one line (undefined names are appended to ``undefined``)."""
    folded = {k.upper(): v for k, v in variables.items()}
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "%":
            out.append("%")
            i += 2
        elif nxt.isdigit() or nxt == "*":
            out.append(script if nxt == "0" else "")
            i += 2
        elif nxt == "~":
            j = i + 2
            while j < n and text[j].isalpha():
                j += 1
            if j < n and text[j] == "0":
                mods = text[i + 2:j].lower()
                out.append(_arg0(script, mods))
                i = j + 1
            elif j < n and text[j].isdigit():
                i = j + 1  # %~1 etc.: no arguments
            else:
                i += 1  # a lone % is dropped in a batch file
        else:
            j = text.find("%", i + 1)
            if j < 0:
                i += 1
                continue
            name = text[i + 1:j]
            if name.upper() in folded:
                out.append(folded[name.upper()])
            else:
                undefined.append(name)
            i = j + 1
    return "".join(out)


def _arg0(script: str, mods: str) -> str:
    if not mods or mods == "f":
        return script
    drive = script.partition("\\")[0]
    folder = parent(script)
    name = basename(script)
    stem, dot, ext = name.rpartition(".")
    parts = []
    if "d" in mods:
        parts.append(drive)
    if "p" in mods:
        parts.append(folder[len(drive):] + "\\" if folder != drive + "\\" else "\\")
    if "n" in mods:
        parts.append(stem if dot else name)
    if "x" in mods:
        parts.append(dot + ext if dot else "")
    return "".join(parts) if parts else script


def split_chain(text: str) -> list[tuple[str, str]]:
    """Split on unquoted ``&``, ``&&``, ``||``; apply ``^`` escapes. Returns [(joiner, command)].

    The first joiner is ``""``. Redirections (``>file``, ``2>&1``, ``<file``) are removed;
    a pipe yields joiner ``"|"``.
    """
    parts: list[tuple[str, str]] = []
    cur: list[str] = []
    joiner = ""
    quoted = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            quoted = not quoted
            cur.append(c)
            i += 1
        elif quoted:
            cur.append(c)
            i += 1
        elif c == "^":
            if i + 1 < n:
                cur.append(text[i + 1])
            i += 2
        elif c in "&|":
            double = i + 1 < n and text[i + 1] == c
            parts.append((joiner, "".join(cur).strip()))
            cur = []
            joiner = c * 2 if double else c
            i += 2 if double else 1
        elif c in "<>":
            # drop the redirection: optional leading handle digit, >>, &N or a target word
            if cur and cur[-1].isdigit() and (len(cur) == 1 or cur[-2] in " \t"):
                cur.pop()
            i += 1
            if i < n and text[i] == ">":
                i += 1
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] == "&":
                i += 2
            else:
                q = False
                while i < n and (q or text[i] not in " \t&|<>"):
                    if text[i] == '"':
                        q = not q
                    i += 1
        else:
            cur.append(c)
            i += 1
    parts.append((joiner, "".join(cur).strip()))
    return [(j, c) for j, c in parts if c or j]


def cmd_words(text: str) -> list[str]:
    """cmd.exe built-in argument words: split on blanks, quotes group and are removed."""
    words: list[str] = []
    cur: list[str] = []
    quoted = False
    started = False
    for c in text:
        if c == '"':
            quoted = not quoted
            started = True
        elif c in " \t" and not quoted:
            if started:
                words.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(c)
            started = True
    if started:
        words.append("".join(cur))
    return words


def crt_argv(text: str) -> list[str]:
    """Arguments as a C-runtime program (reg.exe) receives them (CommandLineToArgvW rules)."""
    args: list[str] = []
    cur: list[str] = []
    quoted = False
    started = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            j = i
            while j < n and text[j] == "\\":
                j += 1
            count = j - i
            if j < n and text[j] == '"':
                cur.append("\\" * (count // 2))
                if count % 2:
                    cur.append('"')
                    i = j + 1
                else:
                    i = j
            else:
                cur.append("\\" * count)
                i = j
            started = True
        elif c == '"':
            if quoted and i + 1 < n and text[i + 1] == '"':
                cur.append('"')
                i += 2
            else:
                quoted = not quoted
                i += 1
            started = True
        elif c in " \t" and not quoted:
            if started:
                args.append("".join(cur))
                cur, started = [], False
            i += 1
        else:
            cur.append(c)
            started = True
            i += 1
    if started:
        args.append("".join(cur))
    return args


def _first_word(text: str) -> tuple[str, str]:
    """(first word without quotes, rest of the text)."""
    text = text.lstrip()
    if text.startswith('"'):
        end = text.find('"', 1)
        if end < 0:
            return text[1:], ""
        return text[1:end], text[end + 1:]
    for k, c in enumerate(text):
        if c in " \t":
            return text[:k], text[k:]
    return text, ""


# -- the script runner ----------------------------------------------------------------------


class RegExeScript(Installer):
    """A ``.cmd``/``.bat`` installer made of reg.exe and copy commands (see the module docs)."""

    kind = "reg.exe script"

    def run(self, env: SetupEnv) -> None:
        """Run the script line by line against ``env``."""
        raw = self.read("script")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", "replace")
        _Runner(self, env).run(text.splitlines())


class _Runner:
    def __init__(self, script: RegExeScript, env: SetupEnv) -> None:
        self.script = script
        self.env = env
        self.file = str(script.path)
        self.win_script = SETUP_DIR + "\\" + script.path.name
        self.vars = dict(env.environ)
        self.cwd = SETUP_DIR
        self.dirstack: list[str] = []
        self.line = _Line(0, self.file)
        self.errorlevel = 0
        self.commands: dict[str, Callable[[str], bool]] = {
            "set": self.do_set, "cd": self.do_cd, "chdir": self.do_cd, "pushd": self.do_pushd,
            "popd": self.do_popd, "mkdir": self.do_mkdir, "md": self.do_mkdir,
            "copy": self.do_copy, "xcopy": self.do_xcopy, "del": self.do_del,
            "erase": self.do_del, "rmdir": self.do_rmdir, "rd": self.do_rmdir,
            "exit": self.do_exit,
        }

    # -- log helpers
    def where(self) -> str:
        return f"{self.file}:{self.line.number}"

    def action(self, msg: str) -> None:
        self.env.log.add("action", msg, self.where())

    def failed(self, msg: str) -> bool:
        self.env.log.add("failed", msg, self.where())
        return False

    def note(self, msg: str) -> None:
        self.env.log.add("note", msg, self.where())

    def skipped(self, text: str, reason: str) -> bool:
        self.env.log.add("skipped", f"{text.strip()!r}: {reason}", self.where())
        return True

    def error(self, msg: str) -> InputError:
        return InputError(msg, where=self.file, line=self.line.number)

    # -- main loop
    def run(self, lines: list[str]) -> None:
        for number, raw in enumerate(lines, 1):
            self.line = _Line(number, self.file)
            try:
                self.run_line(raw)
            except _Exit:
                self.action("exit: the script ends here")
                return
            except _ScriptError as exc:
                raise self.error(str(exc)) from None

    def run_line(self, raw: str) -> None:
        text = raw.strip()
        if not text or text.startswith("::"):
            return
        head = text.lstrip("@").lower()
        if head == "rem" or head.startswith(("rem ", "rem\t")):
            return
        if text.startswith(":"):
            self.skipped(text, "labels and goto are not modelled")
            return
        undefined: list[str] = []
        expanded = expand_percent(text, self.vars, self.win_script, undefined)
        for name in undefined:
            self.note(f"%{name}% is not defined and expands to nothing (batch-file rule)")
        ok = True
        for joiner, command in split_chain(expanded):
            if joiner == "|":
                self.skipped(command, "pipes are not modelled")
                continue
            if joiner == "&&" and not ok:
                self.skipped(command, "not run: the previous command failed (&&)")
                continue
            if joiner == "||" and ok:
                self.skipped(command, "not run: the previous command succeeded (||)")
                continue
            if command:
                ok = self.run_command(command)
                self.errorlevel = 0 if ok else 1

    def run_command(self, command: str) -> bool:
        command = command.lstrip("@").strip()
        if not command:
            return True
        word, rest = _first_word(command)
        low = word.lower()
        if low == "rem":
            return True
        if low == "echo" or low.startswith(("echo.", "echo(")):
            if command.lower().split() in (["echo", "off"], ["echo", "on"]):
                return True
            return self.skipped(command, "echo only prints text")
        name = basename(word).lower()
        if name in ("reg", "reg.exe"):
            return self.do_reg(word, rest)
        if name in ("regedit", "regedit.exe"):
            return self.do_regedit(word, rest, command)
        if name in ("regsvr32", "regsvr32.exe"):
            return self.skipped(command, "regsvr32 is not modelled in scripts; validate the DLL "
                                         "itself as a self-registering installer (.dll)")
        if low == "if":
            return self.do_if(rest, command)
        handler = self.commands.get(low)
        if handler is None:
            return self.skipped(command, "not a reg.exe, copy or folder command; not modelled")
        return handler(rest)

    def do_if(self, rest: str, command: str) -> bool:
        """``if [/i] [not] exist PATH|defined NAME|errorlevel N|A==B COMMAND`` (no blocks)."""
        text = rest.strip()
        fold_case = text.lower().startswith("/i ")
        if fold_case:
            text = text[3:].lstrip()
        negate = text.lower().startswith("not ")
        if negate:
            text = text[4:].lstrip()
        word, after = _first_word(text)
        kind = word.lower()
        if kind == "exist":
            target, then = _first_word(after)
            if not target:
                raise _ScriptError("if exist: expected a path and a command")
            path = self.winpath(target)
            cond = self.env.fs.exists(path, self.env.bits) or self.env.fs.isdir(path, self.env.bits)
        elif kind == "defined":
            name, then = _first_word(after)
            cond = name.upper() in {k.upper() for k in self.vars}
        elif kind == "errorlevel":
            number, then = _first_word(after)
            try:
                cond = self.errorlevel >= int(number)
            except ValueError:
                raise _ScriptError(f"if errorlevel: expected a number, got {number!r}") from None
        else:
            m = _COMPARE.match(text)
            if m is None:
                return self.skipped(command, "this form of 'if' is not modelled (only exist, "
                                             "defined, errorlevel and ==)")
            a, b, then = m.group(1), m.group(2), m.group(3)
            cond = a.lower() == b.lower() if fold_case else a == b
        if negate:
            cond = not cond
        then = then.strip()
        if not then:
            raise _ScriptError("if: expected a command after the condition")
        if then.startswith("("):
            return self.skipped(command, "parenthesised blocks are not modelled")
        self.note(f"if condition is {'true' if cond else 'false'}")
        if not cond:
            return True
        return self.run_command(then)

    # -- paths
    def winpath(self, text: str) -> str:
        text = text.strip()
        if len(text) >= 2 and text[1] == ":":
            return normalize(text, where=self.where())
        if text.startswith("\\"):
            return normalize(self.cwd[:2] + text, where=self.where())
        return normalize(self.cwd + "\\" + text, where=self.where())

    # -- cmd built-ins
    def do_set(self, rest: str) -> bool:
        body = rest.strip()
        if body.lower().startswith(("/a", "/p")):
            return self.skipped("set " + body, "set /a and set /p are not modelled")
        if body.startswith('"'):
            end = body.rfind('"')
            body = body[1:end] if end > 0 else body[1:]
        if "=" not in body:
            return self.skipped("set " + body, "set without '=' only lists variables")
        name, _, value = body.partition("=")
        if not name:
            raise _ScriptError("set: expected NAME=VALUE, the name is empty")
        self.vars[name] = value
        self.action(f"set {name}={value}")
        return True

    def do_cd(self, rest: str) -> bool:
        words = [w for w in cmd_words(rest) if w.lower() != "/d"]
        if not words:
            return True
        self.cwd = self.winpath(" ".join(words))
        self.action(f"current folder is {self.cwd}")
        return True

    def do_pushd(self, rest: str) -> bool:
        self.dirstack.append(self.cwd)
        return self.do_cd(rest)

    def do_popd(self, rest: str) -> bool:
        if self.dirstack:
            self.cwd = self.dirstack.pop()
        return True

    def do_exit(self, rest: str) -> bool:
        raise _Exit

    def do_mkdir(self, rest: str) -> bool:
        words = cmd_words(rest)
        if not words:
            raise _ScriptError("mkdir: expected a folder name")
        ok = True
        for w in words:
            path = self.winpath(w)
            if self.env.fs.isdir(path, self.env.bits):
                self.note(f"mkdir {path}: the folder already exists (errorlevel 1)")
                ok = False
                continue
            real = self.env.fs.mkdir(path, self.env.bits, where=self.where())
            self.action(f"mkdir {path}" + (f" (redirected to {real})" if real != path else ""))
        return ok

    def _copy_args(self, rest: str, cmd: str) -> tuple[str, str | None]:
        words = [w for w in cmd_words(rest) if not w.startswith("/")]
        if not words:
            raise _ScriptError(f"{cmd}: expected {cmd} SOURCE [DESTINATION]")
        if len(words) > 2:
            raise _ScriptError(f"{cmd}: expected {cmd} SOURCE [DESTINATION], got {len(words)} "
                               "file names (quote names with spaces; '+' concatenation is not "
                               "supported)")
        if any(c in words[0] for c in "*?"):
            raise _ScriptError(f"{cmd}: wildcards are not supported; name the file")
        return words[0], words[1] if len(words) == 2 else None

    def do_copy(self, rest: str) -> bool:
        src, dst = self._copy_args(rest, "copy")
        return self._copy(src, dst, create_dirs=False, cmd="copy")

    def do_xcopy(self, rest: str) -> bool:
        src, dst = self._copy_args(rest, "xcopy")
        return self._copy(src, dst, create_dirs=True, cmd="xcopy")

    def _copy(self, src_text: str, dst_text: str | None, *, create_dirs: bool, cmd: str) -> bool:
        fs, bits = self.env.fs, self.env.bits
        src = self.winpath(src_text)
        data = fs.read(src, bits)
        if data is None:
            return self.failed(f"{cmd}: the source {src} does not exist")
        dst = self.winpath(dst_text) if dst_text is not None else self.cwd
        if (dst_text is not None and dst_text.rstrip().endswith(("\\", "/"))) or fs.isdir(dst, bits):
            folder = dst
            dst = normalize(dst + "\\" + basename(src))
        else:
            folder = parent(dst)
        if not fs.isdir(folder, bits):
            if not create_dirs:
                return self.failed(f"{cmd}: the folder {folder} does not exist "
                                   "(cmd: The system cannot find the path specified)")
            fs.mkdir(folder, bits, where=self.where())
        real = fs.write(dst, data, bits, where=self.where())
        shown = f"{cmd} {src} -> {dst}"
        if real != dst:
            shown += f" (File System Redirector: written to {real})"
        self.action(shown)
        return True

    def do_del(self, rest: str) -> bool:
        words = [w for w in cmd_words(rest) if not w.startswith("/")]
        if not words:
            raise _ScriptError("del: expected a file name")
        ok = True
        for w in words:
            path = self.winpath(w)
            if self.env.fs.delete(path, self.env.bits):
                self.action(f"del {path}")
            else:
                self.note(f"del {path}: file not found")
                ok = False
        return ok

    def do_rmdir(self, rest: str) -> bool:
        words = cmd_words(rest)
        tree = any(w.lower() == "/s" for w in words)
        names = [w for w in words if not w.startswith("/")]
        if not names:
            raise _ScriptError("rmdir: expected a folder name")
        ok = True
        for w in names:
            path = self.winpath(w)
            fs = self.env.fs
            if tree:
                real = fs.physical(path, self.env.bits)
                for e in list(fs.files()):
                    if is_under(e.path, real):
                        fs.delete(e.path)
                for f in sorted(fs.folders(), key=len, reverse=True):
                    if is_under(f, real):
                        fs.rmdir(f)
                self.action(f"rmdir /s {path}")
            elif fs.rmdir(path, self.env.bits):
                self.action(f"rmdir {path}")
            else:
                self.note(f"rmdir {path}: missing or not empty")
                ok = False
        return ok

    # -- reg.exe
    def reg_bits(self, exe: str) -> int:
        low = exe.replace("/", "\\").lower()
        if "\\sysnative\\" in low and self.env.wow64:
            return 64
        if "\\syswow64\\" in low and self.env.os_bits == 64:
            return 32
        return self.env.bits

    def do_reg(self, exe: str, rest: str) -> bool:
        argv = crt_argv(rest)
        if not argv:
            raise _ScriptError("reg: expected an operation: reg add, reg delete or reg import")
        op = argv[0].lower()
        args = argv[1:]
        bits = self.reg_bits(exe)
        if op == "add":
            return self.reg_add(args, bits)
        if op == "delete":
            return self.reg_delete(args, bits)
        if op == "import":
            return self.reg_import(args, bits)
        if op in ("query", "export", "save", "compare", "flags", "copy", "restore", "load",
                  "unload"):
            return self.skipped("reg " + rest.strip(),
                                f"reg {op} is not modelled (only add, delete and import)")
        raise _ScriptError(f"reg: unknown operation {argv[0]!r}; expected add, delete or import "
                           "(or query, export, save, copy, restore, load, unload, compare, flags)")

    def reg_key(self, text: str, usage: str) -> str:
        if text.startswith("/"):
            raise _ScriptError(f"missing key name before {text!r}; expected: {usage}")
        if text.startswith("\\\\"):
            raise _ScriptError(f"remote registry key {text!r} is not supported; use a local key")
        key = text.rstrip("\\")
        head = key.partition("\\")[0].upper()
        if head not in ROOTS:
            raise _ScriptError(f"invalid key name {text!r}: the root must be HKLM, HKCU, HKCR, "
                               "HKU or HKCC (or a full HKEY_ name)")
        try:
            root, names = split_path(key)
        except RegistryPathError as exc:
            raise _ScriptError(f"invalid key name {text!r}: {exc.message}") from None
        return "\\".join((root, *names))

    def parse_opts(self, args: list[str], usage: str, with_value: set[str],
                   flags: set[str], op: str) -> dict[str, str]:
        opts: dict[str, str] = {}
        i = 0
        while i < len(args):
            a = args[i]
            low = a.lower()
            if not a.startswith("/") and not a.startswith("-"):
                raise _ScriptError(f"reg {op}: unexpected argument {a!r} (quote names that "
                                   f"contain spaces); expected: {usage}")
            low = "/" + low[1:]
            if low in opts:
                raise _ScriptError(f"reg {op}: option {a} given twice; expected: {usage}")
            if low in with_value:
                if i + 1 >= len(args):
                    raise _ScriptError(f"reg {op}: option {a} needs a value; expected: {usage}")
                opts[low] = args[i + 1]
                i += 2
                continue
            if low in flags:
                opts[low] = ""
                i += 1
                continue
            raise _ScriptError(f"reg {op}: unknown option {a!r}; expected: {usage}")
        if "/reg:32" in opts and "/reg:64" in opts:
            raise _ScriptError(f"reg {op}: /reg:32 and /reg:64 cannot be used together")
        return opts

    def view_for(self, opts: dict[str, str], bits: int) -> int:
        requested = 32 if "/reg:32" in opts else 64 if "/reg:64" in opts else None
        if requested is None:
            requested = 32 if (bits == 32 and self.env.os_bits == 64) else 64
        return self.env.reg_view(requested)

    def reg_add(self, args: list[str], bits: int) -> bool:
        if not args:
            raise _ScriptError(f"reg add: missing key name; expected: {_ADD_USAGE}")
        key = self.reg_key(args[0], _ADD_USAGE)
        opts = self.parse_opts(args[1:], _ADD_USAGE, {"/v", "/t", "/s", "/d"},
                               {"/ve", "/f", "/reg:32", "/reg:64"}, "add")
        if "/v" in opts and "/ve" in opts:
            raise _ScriptError("reg add: /v and /ve cannot be used together")
        view = self.view_for(opts, bits)
        reg = self.env.registry
        if key.startswith(HKEY_CLASSES_ROOT) and view == 32:
            pass  # HKCR follows its sources' redirection (model handles it)
        if "/v" not in opts and "/ve" not in opts:
            if any(o in opts for o in ("/t", "/s", "/d")):
                # reg.exe: data without /v sets the default value
                name = ""
            else:
                reg.create_key(key, view=view)
                self.action(f"reg add {key} (key, {view}-bit view)")
                return True
        else:
            name = opts.get("/v", "")
        tname = opts.get("/t", "REG_SZ").upper()
        if tname not in TYPES:
            raise _ScriptError(f"reg add: unknown type {opts['/t']!r} for /t; expected one of "
                               + ", ".join(TYPES))
        vtype = TYPES[tname]
        sep = opts.get("/s")
        if sep is not None:
            if len(sep) != 1:
                raise _ScriptError(f"reg add: /s needs exactly one separator character, got "
                                   f"{sep!r}")
            if vtype != 7:
                self.note("reg add: /s only applies to REG_MULTI_SZ; ignored")
        data = self.reg_data(vtype, tname, opts.get("/d", ""), sep)
        exists = True
        try:
            reg.get_value(key, name, view=view)
        except (KeyNotFoundError, ValueNotFoundError):
            exists = False
        if exists and "/f" not in opts:
            self.note(f"reg add without /f asks before overwriting {name or '(Default)'}; "
                      "assumed Yes")
        reg.set_value(key, name, vtype, data, view=view)
        self.action(f"reg add {key} /v {name or '(Default)'} /t {tname} ({view}-bit view)")
        return True

    def reg_data(self, vtype: int, tname: str, text: str, sep: str | None) -> bytes:
        if vtype in (1, 2, 0, 6):
            return _sz(text)
        if vtype == 7:
            items = text.split(sep) if sep is not None else text.split("\\0")
            if items and items[-1] == "":
                items.pop()
            return "".join(i + "\0" for i in items).encode("utf-16-le") + b"\0\0"
        if vtype in (4, 5, 11):
            t = text.strip()
            try:
                number = int(t, 16) if t.lower().startswith("0x") else int(t, 10)
            except ValueError:
                raise _ScriptError(f"reg add: {tname} data must be a number (decimal or 0x hex), "
                                   f"got {text!r}") from None
            limit = 0xFFFFFFFFFFFFFFFF if vtype == 11 else 0xFFFFFFFF
            if not 0 <= number <= limit:
                raise _ScriptError(f"reg add: {tname} data {text!r} is out of range")
            if vtype == 11:
                return struct.pack("<Q", number)
            return struct.pack(">I" if vtype == 5 else "<I", number)
        t = text.strip()
        if len(t) % 2 or any(c not in "0123456789abcdefABCDEF" for c in t):
            raise _ScriptError(f"reg add: {tname} data must be an even number of hex digits "
                               f"without separators, got {text!r}")
        return bytes.fromhex(t)

    def reg_delete(self, args: list[str], bits: int) -> bool:
        if not args:
            raise _ScriptError(f"reg delete: missing key name; expected: {_DELETE_USAGE}")
        key = self.reg_key(args[0], _DELETE_USAGE)
        opts = self.parse_opts(args[1:], _DELETE_USAGE, {"/v"},
                               {"/ve", "/va", "/f", "/reg:32", "/reg:64"}, "delete")
        if sum(o in opts for o in ("/v", "/ve", "/va")) > 1:
            raise _ScriptError("reg delete: use only one of /v, /ve and /va")
        view = self.view_for(opts, bits)
        if "/f" not in opts:
            self.note("reg delete without /f asks for confirmation; assumed Yes")
        reg = self.env.registry
        try:
            if "/va" in opts:
                for vname, _, _ in reg.value_items(key, view=view):
                    reg.delete_value(key, vname, view=view)
                self.action(f"reg delete {key} /va ({view}-bit view)")
            elif "/v" in opts or "/ve" in opts:
                name = opts.get("/v", "")
                reg.delete_value(key, name, view=view)
                self.action(f"reg delete {key} /v {name or '(Default)'} ({view}-bit view)")
            else:
                if not split_path(key)[1]:
                    raise _ScriptError("reg delete: cannot delete a root key")
                reg.delete_key(key, recursive=True, view=view)
                self.action(f"reg delete {key} (key and subtree, {view}-bit view)")
        except (KeyNotFoundError, ValueNotFoundError):
            return self.failed(f"reg delete {key}: the system was unable to find the specified "
                               "registry key or value (exit code 1)")
        return True

    def do_regedit(self, exe: str, rest: str, command: str) -> bool:
        """``regedit [/s] FILE.reg``: import like ``reg import`` (the script's bitness picks the view)."""
        words = cmd_words(rest)
        flags = {w.lower() for w in words if w.startswith("/")}
        files = [w for w in words if not w.startswith("/")]
        if flags - {"/s"}:
            return self.skipped(command, "only 'regedit [/s] file.reg' (import) is modelled")
        if len(files) != 1:
            raise _ScriptError("regedit: expected regedit [/s] FILE.reg")
        if "/s" not in flags:
            self.note("regedit without /s asks for confirmation; assumed Yes")
        return self.reg_import([files[0]], self.reg_bits(exe))

    def reg_import(self, args: list[str], bits: int) -> bool:
        if not args or args[0].startswith("/"):
            raise _ScriptError(f"reg import: missing file name; expected: {_IMPORT_USAGE}")
        opts = self.parse_opts(args[1:], _IMPORT_USAGE, set(), {"/reg:32", "/reg:64"}, "import")
        view = self.view_for(opts, bits)
        path = self.winpath(args[0])
        data = self.env.fs.read(path, bits)
        if data is None:
            return self.failed(f"reg import: cannot find {path}")
        local = self.env.fs._media_path(self.env.fs.physical(path, bits))
        name = str(local) if local is not None and local.is_file() else path
        parsed = regfile.parse(data, name=name, strict=True)
        stats = regfile.apply(parsed.ops, self.env.registry, view, strict=True)
        self.action(f"reg import {path} ({view}-bit view): {stats.values_set} value(s) set, "
                    f"{stats.values_deleted} deleted, {stats.keys_deleted} key(s) deleted")
        return True
