"""Project configuration: ``[tool.rasemu]`` in ``pyproject.toml`` or top-level keys in ``rasemu.toml``.

Looked up from the current directory upward (a ``rasemu.toml`` wins over a ``pyproject.toml``
in the same folder; a ``pyproject.toml`` without ``[tool.rasemu]`` is passed over); the search
stops at the repository root (a folder holding ``.git`` or ``.hg``). ``--config FILE`` names
the file explicitly. Keys::

    [tool.rasemu]
    profile = "win2008-x64"          # host profile
    loader = "auto"                  # auto | python | native | pe
    strictness = "practice"          # practice | strict (AMBIG-1)
    scenarios = ["basic", "my.toml"] # standard names or .toml files (relative to this file)
    fail_on = "error"                # severity gate: error | warning | info
    timeout = 5.0                    # per-call time limit in seconds

    [[tool.rasemu.waive]]
    rule = "R62"
    reason = "addresses are host order on purpose; ticket VEN-12"
    dll = "legacy*.dll"              # optional glob on the DLL's file name or path

A waived finding stays in the report, marked with its reason, and never fails the gate.
Command-line options override the file.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any

from emulator.conformance.findings import Finding
from emulator.conformance.rules import RULES
from emulator.errors import InputError

__all__ = [
    "FAIL_ON",
    "KEYS",
    "Config",
    "Waiver",
    "apply_waivers",
    "find_config",
    "load_config",
    "parse_config",
    "waive",
]

#: severity gates, least to most lenient
FAIL_ON = ("info", "warning", "error")
#: rasemu's own rule ids a waiver may name besides R01..R78
OWN_RULES = ("X-SCENARIO", "X-INTERNAL")
#: top-level keys and what they hold
KEYS: dict[str, str] = {
    "profile": "a host profile name",
    "loader": "auto, python, native or pe",
    "strictness": "practice or strict",
    "scenarios": "a list of scenario names or .toml files",
    "fail_on": "error, warning or info",
    "timeout": "a number of seconds > 0",
    "waive": "a list of [[waive]] tables",
}
WAIVER_KEYS = ("rule", "reason", "dll")
_LOADERS = ("auto", "python", "native", "pe")


@dataclass(frozen=True, slots=True)
class Waiver:
    """Accept findings of ``rule`` (for DLLs matching ``dll``, a glob, when given) with ``reason``."""

    rule: str
    reason: str
    dll: str | None = None
    source: str = ""

    def covers(self, rule: str, dll_names: Iterable[str]) -> bool:
        """Whether this waiver applies to a finding of ``rule`` about one of ``dll_names``."""
        if rule != self.rule:
            return False
        if self.dll is None:
            return True
        pat = self.dll.lower()
        for name in dll_names:
            text = name.lower()
            base = (PureWindowsPath(name).name if "\\" in name else PurePath(name).name).lower()
            if fnmatch.fnmatchcase(base, pat) or fnmatch.fnmatchcase(text, pat) or \
                    fnmatch.fnmatchcase(text.replace("\\", "/"), pat):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Config:
    """The settings a configuration file gives; None/empty means "not set" (built-in defaults)."""

    path: Path | None = None
    profile: str | None = None
    loader: str | None = None
    strictness: str | None = None
    scenarios: tuple[str, ...] | None = None
    fail_on: str | None = None
    timeout: float | None = None
    waivers: tuple[Waiver, ...] = field(default_factory=tuple)

    def get(self, key: str, cli_value: Any, default: Any) -> Any:
        """The command line's value when given (not None), else this file's, else ``default``."""
        if cli_value is not None:
            return cli_value
        value = getattr(self, key)
        return default if value is None else value


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _line_of(text: str, key: str, after: int = 0) -> int | None:
    """The 1-based line where ``key =`` first appears (at or after line ``after``), if found."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for n, line in enumerate(text.splitlines(), 1):
        if n >= after and pattern.match(line):
            return n
    return None


def _table_lines(text: str, header: str) -> list[int]:
    """Line numbers of each ``[[header]]`` table."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(header)}\s*\]\]")
    return [n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)]


def parse_config(data: Mapping[str, Any], *, where: str, text: str = "", prefix: str = "",
                 base: Path | None = None) -> Config:
    """Validate the rasemu settings ``data`` read from ``where``; InputError names file and key.

    ``prefix`` is how keys are shown (``tool.rasemu.`` for pyproject.toml); ``base`` is the
    folder relative scenario files are resolved against.
    """
    from emulator.host.profiles import get_profile

    def err(key: str, message: str, line: int | None = None) -> InputError:
        if line is None and text:
            line = _line_of(text, key.rsplit(".", 1)[-1])
        return InputError(f"{prefix}{key}: {message}", where=where, line=line)

    unknown = [k for k in data if k not in KEYS]
    if unknown:
        k = unknown[0]
        raise err(k, f"unknown key{_suggest(k, KEYS)}; known keys: {', '.join(KEYS)}")
    values: dict[str, Any] = {}
    for key in ("profile", "loader", "strictness", "fail_on"):
        if key not in data:
            continue
        v = data[key]
        if not isinstance(v, str):
            raise err(key, f"expected {KEYS[key]}, got {v!r}")
        if key == "profile":
            try:
                v = get_profile(v).name
            except InputError as exc:
                raise err(key, exc.message) from None
        else:
            choices = {"loader": _LOADERS, "strictness": ("practice", "strict"),
                       "fail_on": ("error", "warning", "info")}[key]
            if v not in choices:
                raise err(key, f"expected {KEYS[key]}, got {v!r}{_suggest(v, choices)}")
        values[key] = v
    if "timeout" in data:
        v = data["timeout"]
        if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
            raise err("timeout", f"expected {KEYS['timeout']}, got {v!r}")
        values["timeout"] = float(v)
    if "scenarios" in data:
        v = data["scenarios"]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise err("scenarios", f"expected {KEYS['scenarios']}, got {v!r}")
        values["scenarios"] = tuple(_resolve_scenario(x, base, err) for x in v)
    waivers: list[Waiver] = []
    raw = data.get("waive", [])
    if not isinstance(raw, list):
        raise err("waive", "expected a list of tables: write [[" + prefix + "waive]] entries")
    lines = _table_lines(text, prefix + "waive") if text else []
    for n, entry in enumerate(raw):
        line = lines[n] if n < len(lines) else None
        ctx = f"waive[{n + 1}]"
        if not isinstance(entry, Mapping):
            raise err(ctx, f"expected a table with {', '.join(WAIVER_KEYS)}", line)
        for k in entry:
            if k not in WAIVER_KEYS:
                raise err(f"{ctx}.{k}", f"unknown key{_suggest(k, WAIVER_KEYS)}; a waiver has "
                          "rule, reason and optionally dll", _line_of(text, k, line or 0) or line)
        rule = entry.get("rule")
        if not isinstance(rule, str) or not rule:
            raise err(f"{ctx}.rule", "a waiver needs the rule id it waives, e.g. rule = \"R62\"",
                      line)
        if rule not in RULES and rule not in OWN_RULES:
            padded = re.fullmatch(r"[Rr](\d)", rule)
            hint = (f" (did you mean 'R0{padded.group(1)}'?)" if padded
                    else _suggest(rule.upper(), [*RULES, *OWN_RULES]))
            raise err(f"{ctx}.rule", f"unknown rule id {rule!r}{hint}; rules are R01..R78",
                      _line_of(text, "rule", line or 0) or line)
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise err(f"{ctx}.reason", f"the waiver of {rule} has no reason; every waiver must "
                      "say why the finding is accepted", line)
        dll = entry.get("dll")
        if dll is not None and (not isinstance(dll, str) or not dll):
            raise err(f"{ctx}.dll", f"expected a file-name glob such as \"vendor*.dll\", got {dll!r}",
                      line)
        waivers.append(Waiver(rule, reason.strip(), dll, f"{where}:{line}" if line else where))
    return Config(path=Path(where), waivers=tuple(waivers), **values)


def _resolve_scenario(name: str, base: Path | None, err: Any) -> str:
    from emulator.host.scenarios import load_scenario

    if base is not None and (name.endswith(".toml") or "/" in name or "\\" in name):
        candidate = base / name
        if candidate.is_file():
            name = str(candidate)
    try:
        load_scenario(name)
    except InputError as exc:
        raise err("scenarios", str(exc)) from None
    return name


def find_config(start: str | Path | None = None) -> Path | None:
    """The configuration file that applies in ``start`` (default: the current directory)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "rasemu.toml"
        if own.is_file():
            return own
        py = folder / "pyproject.toml"
        if py.is_file():
            try:
                data = tomllib.loads(py.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                data = {}
            if isinstance(data.get("tool"), dict) and "rasemu" in data["tool"]:
                return py
        if (folder / ".git").exists() or (folder / ".hg").exists():
            break
    return None


def load_config(path: str | Path | None = None, *, start: str | Path | None = None) -> Config:
    """Read ``path`` (or the file :func:`find_config` finds; none found -> an empty Config)."""
    if path is None:
        found = find_config(start)
        if found is None:
            return Config()
        path = found
    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError("configuration file not found", where=where)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the configuration file: {exc}", where=where) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        col = int(m.group(2)) if m else None
        msg = str(exc).split(" (at line")[0].split(" (at end of document)")[0]
        raise InputError(f"not valid TOML: {msg}", where=where, line=line, column=col) from None
    if p.name == "pyproject.toml":
        tool = data.get("tool", {})
        section = tool.get("rasemu") if isinstance(tool, dict) else None
        if section is None:
            return Config(path=p)
        if not isinstance(section, dict):
            raise InputError("tool.rasemu must be a table", where=where)
        return parse_config(section, where=where, text=text, prefix="tool.rasemu.",
                            base=p.parent)
    return parse_config(data, where=where, text=text, base=p.parent)


def _finding_dlls(f: Finding, dlls: Sequence[str], registered: Mapping[str, str]) -> list[str]:
    """The DLL names a finding is about: its subject (and the real file behind it) or all DLLs."""
    s = f.subject
    if s and s in registered:
        return [s, registered[s]]
    if s and any(s == d or s.lower().endswith(PurePath(d).name.lower()) for d in dlls):
        return [s, *(d for d in dlls if s == d or s.lower().endswith(PurePath(d).name.lower()))]
    return list(dlls)


def waive(findings: Iterable[Finding], waivers: Sequence[Waiver], dlls: Sequence[str],
          registered: Mapping[str, str] | None = None) -> list[Finding]:
    """``findings`` with the ones a waiver covers marked ``extra["waived"] = {"reason", ...}``.

    ``dlls`` are the real DLL files of the run, ``registered`` maps registered (Windows) paths
    to them; a waiver's ``dll`` glob is matched against the finding's DLL, or against every DLL
    of the run when the finding is about the host.
    """
    reg = dict(registered or {})
    out: list[Finding] = []
    for f in findings:
        if waivers and "waived" not in f.extra:
            names = _finding_dlls(f, dlls, reg)
            w = next((w for w in waivers if w.covers(f.rule, names)), None)
            if w is not None:
                mark: dict[str, str] = {"reason": w.reason, "config": w.source}
                if w.dll is not None:
                    mark["dll"] = w.dll
                f = replace(f, extra={**f.extra, "waived": mark})
        out.append(f)
    return out


def apply_waivers(report: Any, waivers: Sequence[Waiver]) -> Any:
    """Mark the findings of ``report`` (an :class:`emulator.report.Report`) the waivers cover.

    The report keeps marked findings and its gate ignores them. Returns the same report,
    changed in place.
    """
    if waivers:
        registered = {str(d["registered"]): str(d.get("path", ""))
                      for d in report.dll_info if d.get("registered")}
        report.findings = waive(report.findings, waivers, report.dlls, registered)
    return report
