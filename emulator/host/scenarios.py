"""Declarative scenarios: TOML files describing what dial-in users do, run against a RasHost.

A scenario file has one ``[scenario]`` table and a list of ``[[steps]]``::

    [scenario]
    name = "pool-exhaustion"
    description = "70 users for a small pool; 10 drop and reconnect"
    profiles = ["win2003", "win2008", "win7"]   # optional: OS names or full profile names
    min_dlls = 1                                  # optional: skip with fewer registered DLLs

    [[steps]]
    do = "connect"
    count = 70
    user = "user{i}"
    port = "VPN1-{i}"
    concurrent = true

    [[steps]]
    do = "expect"
    connected_at_least = 1

Actions (fields and defaults in :data:`ACTIONS`; every step may carry a ``note``):

``connect``      ``count`` users (1) ``user``/``port`` templates, ``start`` index (0), ``links`` (1),
                 ``proposed`` address ("0.0.0.0" = let the DLL choose), ``concurrent``/``workers``,
                 or ``at_once`` = true: every GetIpAddressForUser before any accept, sent in
                 batches (``RasHost.connect_many``: one round trip per batch to a child process)
``disconnect``   ``count`` connected sessions ("all") picked ``first``/``last``/``random`` (``seed``);
                 ``at_once`` = true: every hang-up, then the releases (``disconnect_many``)
``add_link``     ``links`` more links (1) on ``sessions`` picked sessions, ``port`` template
``hangup_link``  hang up ``links`` links (1), ``which`` = last|first; the last link ends the session
``reauth``       quarantine change: ``quarantine`` = normal|quarantine|probation|not_capable or 0..3
``probe_release_unknown``  Release for ``user``/``port``/``address`` the DLL never handed out (R65);
                 ``steal = true`` uses live sessions' addresses under the wrong user/port
``restart``      stop and start the service (``disconnect_first`` = true)
``expect``       checks, see below; ``severity`` (error) and ``message`` for a failure

Text fields are templates: ``{i}`` is the item index (``start`` + 0, 1, ...), ``{n}`` a link's
number in its session, ``{user}``/``{port}`` the session's user and first port, ``{c*N}`` the
character ``c`` repeated ``N`` times (``{a*256}`` = a 256-character name), ``{{``/``}}`` braces.

``expect`` checks counters: ``connected`` (sessions connected now), ``accepted``/``refused``/
``failed`` (outcomes of the previous action step) and ``errors`` (error findings so far), each
exactly (``connected = 64``) or with ``_at_least``/``_at_most`` suffixes; ``started`` (bool) and
``unique_addresses`` (bool). A failed expectation is a finding of rule ``X-SCENARIO``.
"""

from __future__ import annotations

import difflib
import ipaddress
import random
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from emulator.conformance.findings import Finding, Severity
from emulator.errors import InputError

__all__ = [
    "ACTIONS",
    "QUARANTINE_STATES",
    "HostLike",
    "Scenario",
    "ScenarioResult",
    "SessionLike",
    "Step",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
    "scenario_text",
    "standard_scenario_names",
    "standard_scenarios",
]

#: RAS_QUARANTINE_STATE values (spec section 4.1)
QUARANTINE_STATES: dict[str, int] = {"normal": 0, "quarantine": 1, "probation": 2, "not_capable": 3}

OS_NAMES = ("nt4", "win2000", "win2003", "win2008", "win7")
_PROFILE_RE = re.compile(r"^(nt4|win2000|win2003|win2008|win7)-(x86|x64)$")
_PICKS = ("first", "last", "random")
_COUNTERS = ("connected", "accepted", "refused", "failed", "errors")
_SEVERITIES = ("error", "warning", "info")


# -- the host the scenarios drive (emulator.host.engine.RasHost satisfies this) -----------------


class SessionLike(Protocol):
    """What a scenario reads from a session returned by ``RasHost.connect``."""

    user: str
    port: str
    state: str
    address: ipaddress.IPv4Address | None
    links: list[str]


class HostLike(Protocol):
    """The part of :class:`emulator.host.engine.RasHost` scenarios use."""

    def start(self) -> bool: ...
    def stop(self) -> None: ...
    def connect(self, user: str, port: str, *, proposed: int = 0, links: int = 1) -> Any: ...
    def connect_many(self, requests: Iterable[tuple[Any, ...]], *, links: int = 1) -> list[Any]: ...
    def disconnect_many(self, sessions: Iterable[Any]) -> None: ...
    def add_link(self, session: Any, port: str) -> bool: ...
    def hangup_link(self, session: Any, port: str) -> None: ...
    def reauthenticate(self, session: Any, quarantine_state: int) -> bool: ...
    def disconnect(self, session: Any) -> None: ...
    def probe_release_unknown(self, user: str, port: str, address: int) -> None: ...

    @property
    def findings(self) -> list[Finding]: ...
    @property
    def trace(self) -> list[dict[str, Any]]: ...
    @property
    def stats(self) -> dict[str, Any]: ...


# -- field specifications -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    kind: str  # int, int_or_all, bool, str, template, choice, quarantine, address
    default: Any = None
    minimum: int = 0
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()
    required: bool = False


def _tmpl(default: str, *ph: str) -> _Field:
    return _Field("template", default, placeholders=ph)


#: the most sessions, probes or links one step may ask for (more than any RAS server has ports);
#: a larger count is refused when the file is loaded instead of being attempted
MAX_COUNT = 100_000
MAX_WORKERS = 256
MAX_LINKS = 1_000
MAX_START = 1 << 31
#: scenario files larger than this are refused before parsing (real ones are a few KB)
MAX_FILE_BYTES = 1 << 20
#: dotted-key parts / brackets per line (tomllib needs memory quadratic in the dotted-key depth)
MAX_NESTING = 32

_COMMON: dict[str, _Field] = {"do": _Field("str", required=True), "note": _Field("str", "")}
_SELECT: dict[str, _Field] = {
    "sessions": _Field("int_or_all", "all", maximum=MAX_COUNT),
    "pick": _Field("choice", "first", choices=_PICKS),
    "seed": _Field("int", 0),
}
_PARALLEL: dict[str, _Field] = {
    "concurrent": _Field("bool", False),
    "workers": _Field("int", 4, minimum=1, maximum=MAX_WORKERS),
}

_EXPECT: dict[str, _Field] = {}
for _c in _COUNTERS:
    _EXPECT[_c] = _Field("int")
    _EXPECT[f"{_c}_at_least"] = _Field("int")
    _EXPECT[f"{_c}_at_most"] = _Field("int")
_EXPECT.update(
    started=_Field("bool"),
    unique_addresses=_Field("bool"),
    severity=_Field("choice", "error", choices=_SEVERITIES),
    message=_Field("str", ""),
)

#: action name -> its fields (besides ``do`` and ``note``)
ACTIONS: dict[str, dict[str, _Field]] = {
    "connect": {
        "count": _Field("int", 1, maximum=MAX_COUNT),
        "start": _Field("int", 0, maximum=MAX_START),
        "user": _tmpl("user{i}", "i"),
        "port": _tmpl("VPN1-{i}", "i"),
        "links": _Field("int", 1, minimum=1, maximum=MAX_LINKS),
        "proposed": _Field("address", "0.0.0.0", placeholders=("i",)),
        **_PARALLEL,
        "at_once": _Field("bool", False),
    },
    "disconnect": {
        "count": _Field("int_or_all", "all", maximum=MAX_COUNT),
        "pick": _Field("choice", "first", choices=_PICKS),
        "seed": _Field("int", 0),
        **_PARALLEL,
        "at_once": _Field("bool", False),
    },
    "add_link": {
        **_SELECT,
        "links": _Field("int", 1, minimum=1, maximum=MAX_LINKS),
        "port": _tmpl("{port}-L{n}", "i", "n", "port", "user"),
    },
    "hangup_link": {
        **_SELECT,
        "links": _Field("int", 1, minimum=1, maximum=MAX_LINKS),
        "which": _Field("choice", "last", choices=("first", "last")),
    },
    "reauth": {**_SELECT, "quarantine": _Field("quarantine", "quarantine")},
    "probe_release_unknown": {
        "count": _Field("int", 1, maximum=MAX_COUNT),
        "start": _Field("int", 0, maximum=MAX_START),
        "user": _tmpl("nobody{i}", "i"),
        "port": _tmpl("VPN9-{i}", "i"),
        "address": _Field("address", "10.254.254.{i}", placeholders=("i",)),
        "steal": _Field("bool", False),
    },
    "restart": {"disconnect_first": _Field("bool", True)},
    "expect": _EXPECT,
}

_TOP_TABLES = ("scenario", "steps")
_SCENARIO_FIELDS = ("name", "description", "profiles", "min_dlls")


# -- templates --------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_REPEAT = re.compile(r"^(.)\*(\d{1,6})$", re.DOTALL)


def _check_template(text: str, allowed: Sequence[str]) -> str | None:
    """None when ``text`` is a valid template using only ``allowed`` placeholders, else why not."""
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok in ("{{", "}}"):
            continue
        if m.group(1) is None:
            return f"unmatched {tok!r} (write {tok * 2!r} for a literal brace)"
        name = m.group(1)
        if _REPEAT.match(name) or name in allowed:
            continue
        hint = ", ".join("{" + a + "}" for a in allowed) or "none"
        return f"unknown placeholder {{{name}}} (allowed: {hint}, or {{c*N}} to repeat a character)"
    return None


def expand(text: str, values: Mapping[str, object]) -> str:
    """Fill a template checked by the loader: ``{name}``, ``{c*N}`` and escaped braces."""

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "{{":
            return "{"
        if tok == "}}":
            return "}"
        name = m.group(1)
        rep = _REPEAT.match(name)
        if rep:
            return rep.group(1) * int(rep.group(2))
        return str(values[name])

    return _TOKEN.sub(sub, text)


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- parsed form ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One validated step: 1-based ``number``, action ``do`` and every field with defaults filled."""

    number: int
    do: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario. ``source`` is the file it came from (``standard:NAME`` for built-ins)."""

    name: str
    description: str
    steps: tuple[Step, ...]
    profiles: tuple[str, ...] = ()
    min_dlls: int = 1
    source: str = ""

    def applies_to(self, profile: Any, dll_count: int = 1) -> bool:
        """Whether the scenario runs under ``profile`` (a Profile or its name) with ``dll_count`` DLLs."""
        if dll_count < self.min_dlls:
            return False
        if not self.profiles:
            return True
        name = profile if isinstance(profile, str) else str(profile.name)
        os_name = name.split("-", 1)[0] if isinstance(profile, str) else str(profile.os)
        return any(p in (name, os_name) for p in self.profiles)


def _type_error(where: str, ctx: str, key: str, expected: str, value: object) -> InputError:
    return InputError(f"{ctx}field {key!r} must be {expected}, got {value!r}", where=where)


def _check_field(where: str, ctx: str, key: str, spec: _Field, value: object) -> Any:
    kind = spec.kind
    if kind in ("int", "int_or_all"):
        if kind == "int_or_all" and value == "all":
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            expected = "an integer" + (' or "all"' if kind == "int_or_all" else "")
            raise _type_error(where, ctx, key, expected, value)
        if value < spec.minimum:
            raise _type_error(where, ctx, key, f"an integer >= {spec.minimum}", value)
        if spec.maximum is not None and value > spec.maximum:
            raise _type_error(
                where, ctx, key, f"an integer {spec.minimum}..{spec.maximum} (refused, not attempted)",
                value,
            )
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _type_error(where, ctx, key, "true or false", value)
        return value
    if kind in ("str", "template"):
        if not isinstance(value, str):
            raise _type_error(where, ctx, key, "a string", value)
        if kind == "template":
            why = _check_template(value, spec.placeholders)
            if why:
                raise InputError(f"{ctx}field {key!r}: {why}", where=where)
        return value
    if kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            raise InputError(
                f"{ctx}field {key!r} must be one of {', '.join(map(repr, spec.choices))}, got {value!r}"
                + (_suggest(value, spec.choices) if isinstance(value, str) else ""),
                where=where,
            )
        return value
    if kind == "quarantine":
        if isinstance(value, str) and value in QUARANTINE_STATES:
            return QUARANTINE_STATES[value]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
            return value
        names = ", ".join(map(repr, QUARANTINE_STATES))
        raise InputError(
            f"{ctx}field {key!r} must be one of {names} or 0..3, got {value!r}"
            + (_suggest(value, QUARANTINE_STATES) if isinstance(value, str) else ""),
            where=where,
        )
    if kind == "address":
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= 0xFFFFFFFF:
                raise _type_error(where, ctx, key, "an IPv4 address", value)
            return str(ipaddress.IPv4Address(value))
        if not isinstance(value, str):
            raise _type_error(where, ctx, key, 'a dotted IPv4 address such as "10.0.0.{i}"', value)
        why = _check_template(value, spec.placeholders)
        if why:
            raise InputError(f"{ctx}field {key!r}: {why}", where=where)
        try:
            ipaddress.IPv4Address(expand(value, {"i": 1}))
        except ValueError:
            raise _type_error(
                where, ctx, key, 'a dotted IPv4 address such as "10.0.0.{i}"', value
            ) from None
        return value
    raise AssertionError(kind)  # pragma: no cover


def _check_address_range(where: str, ctx: str, key: str, template: str, start: int,
                         count: int) -> None:
    """Every address the step will use must be valid (``{i}`` runs over start..start+count-1)."""
    for i in range(start, start + count):
        text = expand(template, {"i": i})
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise InputError(
                f"{ctx}field {key!r}: {template!r} gives {_short(text)!r} for i={i}, not an IPv4 "
                f"address (i runs from start={start} over count={count} values)",
                where=where,
            ) from None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _parse_step(where: str, number: int, raw: object) -> Step:
    ctx = f"step {number}: "
    if not isinstance(raw, dict):
        raise InputError(f"{ctx}expected a table ([[steps]]), got {raw!r}", where=where)
    if "do" not in raw:
        close = difflib.get_close_matches("do", list(raw), n=1, cutoff=0.4)
        hint = f" (found {close[0]!r})" if close else ""
        raise InputError(
            f"{ctx}missing field 'do' (one of {', '.join(ACTIONS)}){hint}", where=where
        )
    action = raw["do"]
    if not isinstance(action, str) or action not in ACTIONS:
        raise InputError(
            f"{ctx}unknown action {action!r}"
            + (_suggest(action, ACTIONS) if isinstance(action, str) else "")
            + f"; expected one of {', '.join(ACTIONS)}",
            where=where,
        )
    specs = {**_COMMON, **ACTIONS[action]}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in specs:
            raise InputError(
                f"{ctx}unknown field {key!r} for {action!r}{_suggest(key, specs)}; "
                f"expected {', '.join(k for k in specs if k != 'do')}",
                where=where,
            )
        params[key] = _check_field(where, ctx, key, specs[key], value)
    for key, spec in specs.items():
        if key not in params:
            if spec.default is None:
                continue
            params[key] = _check_field(where, ctx, key, spec, spec.default)
    if params.get("at_once") and params.get("concurrent"):
        raise InputError(
            f"{ctx}'at_once' and 'concurrent' exclude each other: at_once makes every "
            "GetIpAddressForUser before any accept, in one thread; concurrent runs whole "
            "connects in threads",
            where=where,
        )
    for key in ("proposed", "address"):
        template = params.get(key)
        if isinstance(template, str) and "{" in template and not params.get("steal"):
            _check_address_range(where, ctx, key, template, params["start"], params["count"])
    if action == "expect":
        checks = [k for k in params if k not in ("do", "note", "severity", "message")]
        if not checks:
            raise InputError(
                f"{ctx}'expect' needs at least one check ({', '.join(_COUNTERS)}, "
                "with optional _at_least/_at_most, started, unique_addresses)",
                where=where,
            )
    del params["do"]
    return Step(number, action, params)


def parse_scenario(data: Mapping[str, Any], *, where: str, source: str = "") -> Scenario:
    """Validate decoded TOML ``data``; every error names ``where``, the step and the field."""
    for key in data:
        if key not in _TOP_TABLES:
            raise InputError(
                f"unknown top-level key {key!r}{_suggest(key, _TOP_TABLES)}; expected [scenario] and [[steps]]",
                where=where,
            )
    head = data.get("scenario")
    if not isinstance(head, dict):
        raise InputError("missing [scenario] table (with name and description)", where=where)
    for key in head:
        if key not in _SCENARIO_FIELDS:
            raise InputError(
                f"[scenario]: unknown field {key!r}{_suggest(key, _SCENARIO_FIELDS)}; "
                f"expected {', '.join(_SCENARIO_FIELDS)}",
                where=where,
            )
    name = head.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise InputError(
            f"[scenario]: field 'name' must be a non-empty name of letters, digits, '-', '_', '.', got {name!r}",
            where=where,
        )
    description = head.get("description", "")
    if not isinstance(description, str):
        raise InputError(f"[scenario]: field 'description' must be a string, got {description!r}", where=where)
    profiles = head.get("profiles", [])
    if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
        raise InputError(
            f"[scenario]: field 'profiles' must be a list of strings, got {profiles!r}", where=where
        )
    for p in profiles:
        if p not in OS_NAMES and not _PROFILE_RE.match(p):
            raise InputError(
                f"[scenario]: unknown profile {p!r}{_suggest(p, OS_NAMES)}; expected an OS name "
                f"({', '.join(OS_NAMES)}) or a full profile name such as 'win7-x64'",
                where=where,
            )
    min_dlls = head.get("min_dlls", 1)
    if isinstance(min_dlls, bool) or not isinstance(min_dlls, int) or min_dlls < 1:
        raise InputError(f"[scenario]: field 'min_dlls' must be an integer >= 1, got {min_dlls!r}", where=where)
    raw_steps = data.get("steps")
    if raw_steps is None:
        raise InputError("no [[steps]]: a scenario needs at least one step", where=where)
    if not isinstance(raw_steps, list):
        raise InputError("'steps' must be an array of tables ([[steps]])", where=where)
    steps = tuple(_parse_step(where, i, raw) for i, raw in enumerate(raw_steps, start=1))
    if not steps:
        raise InputError("no [[steps]]: a scenario needs at least one step", where=where)
    return Scenario(name, description, steps, tuple(profiles), min_dlls, source or where)


_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _check_nesting(text: str, where: str) -> None:
    """Refuse what would make tomllib recurse too deep or need quadratic memory (dotted keys)."""
    if len(text) > MAX_FILE_BYTES:
        raise InputError(
            f"scenario file is {len(text)} characters; at most {MAX_FILE_BYTES} are accepted",
            where=where,
        )
    for lineno, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_NESTING and max(line.count("."), line.count("["), line.count("{")) > MAX_NESTING:
            bare = _STRINGS.sub("", line)
            for ch in ".[{":
                if bare.count(ch) > MAX_NESTING:
                    raise InputError(
                        f"more than {MAX_NESTING} {ch!r} outside strings on one line: keys or "
                        "tables nested that deep are not accepted in a scenario",
                        where=where,
                        line=lineno,
                    )


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'')


def _parse_text(text: str, where: str, source: str) -> Scenario:
    _check_nesting(text, where)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise InputError("invalid TOML: arrays or tables nested too deeply", where=where) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        if m:
            raise InputError(
                f"invalid TOML: {msg[: m.start()]}", where=where, line=int(m.group(1)), column=int(m.group(2))
            ) from None
        raise InputError(f"invalid TOML: {msg}", where=where) from None
    return parse_scenario(data, where=where, source=source)


# -- the standard library ---------------------------------------------------------------------------

_std_cache: dict[str, Scenario] = {}
_std_lock = threading.Lock()


def _std_dir() -> Any:
    return resources.files("emulator.host").joinpath("scenarios")


def standard_scenario_names() -> list[str]:
    """Names of the built-in scenarios, in run order."""
    return [s.name for s in standard_scenarios()]


def standard_scenarios() -> list[Scenario]:
    """The built-in scenarios (``emulator/host/scenarios/*.toml``), in a stable order."""
    with _std_lock:
        if not _std_cache:
            entries = sorted(
                (e for e in _std_dir().iterdir() if e.name.endswith(".toml")), key=lambda e: e.name
            )
            for entry in entries:
                scn = _parse_text(entry.read_text(encoding="utf-8"), entry.name, f"standard:{entry.name[:-5]}")
                _std_cache[scn.name] = scn
        return sorted(_std_cache.values(), key=lambda s: (_ORDER.get(s.name, 99), s.name))


_ORDER = {
    n: i
    for i, n in enumerate(
        ("basic", "many-users", "pool-exhaustion", "multilink", "quarantine", "odd-names",
         "release-unknown", "concurrency", "restart")
    )
}


def scenario_text(scenario: Scenario) -> str:
    """The TOML source of ``scenario`` (a standard one, or the file it was loaded from)."""
    if scenario.source.startswith("standard:"):
        name = scenario.source.split(":", 1)[1]
        text: str = _std_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
        return text
    return Path(scenario.source).read_text(encoding="utf-8")


def load_scenario(path_or_name: str | Path) -> Scenario:
    """A scenario from a ``.toml`` file or a standard name; InputError when neither exists."""
    text_arg = str(path_or_name)
    path = Path(text_arg)
    try:
        is_file = path.is_file()
    except (OSError, ValueError) as exc:  # a name the OS refuses (too long, NUL, ...)
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"cannot read scenario file: {reason}", where=text_arg) from None
    if is_file:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read scenario file: {exc}", where=text_arg) from None
        return _parse_text(text, text_arg, text_arg)
    names = {s.name: s for s in standard_scenarios()}
    if text_arg in names:
        return names[text_arg]
    if path.suffix.lower() == ".toml" or path.parent != Path("."):
        raise InputError("scenario file not found", where=text_arg)
    raise InputError(
        f"unknown scenario {text_arg!r}{_suggest(text_arg, names)}; standard scenarios: "
        f"{', '.join(names)} (or give a .toml file)"
    )


# -- running ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class ScenarioResult:
    """What running one scenario produced.

    ``findings`` are the host's findings plus failed expectations (rule ``X-SCENARIO``);
    ``skipped`` names why the scenario did not run (then ``ok`` is True and nothing ran).
    """

    name: str
    ok: bool
    started: bool
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    trace: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    steps_run: int = 0
    skipped: str | None = None


@dataclass(slots=True)
class _State:
    host: HostLike
    scenario: Scenario
    sessions: list[Any] = field(default_factory=list)
    started: bool = False
    accepted: int = 0
    refused: int = 0
    failed: int = 0
    failures: list[Finding] = field(default_factory=list)

    def live(self) -> list[Any]:
        return [s for s in self.sessions if s.state == "connected"]

    def outcome(self, accepted: int = 0, refused: int = 0, failed: int = 0) -> None:
        self.accepted, self.refused, self.failed = accepted, refused, failed


def _select(items: list[Any], count: int | str, pick: str, seed: int) -> list[Any]:
    n = len(items) if count == "all" else min(int(count), len(items))
    if pick == "first":
        return items[:n]
    if pick == "last":
        return items[len(items) - n :]
    return random.Random(seed).sample(items, n)


def _run_many(fn: Callable[[int], Any], count: int, p: Mapping[str, Any]) -> list[Any]:
    if not p.get("concurrent") or count < 2:
        return [fn(k) for k in range(count)]
    with ThreadPoolExecutor(max_workers=min(int(p["workers"]), count)) as pool:
        return list(pool.map(fn, range(count)))


def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def _do_connect(st: _State, p: Mapping[str, Any]) -> None:
    def request(k: int) -> tuple[str, str, int]:
        values = {"i": p["start"] + k}
        return (expand(p["user"], values), expand(p["port"], values),
                _ip(expand(p["proposed"], values)))

    def one(k: int) -> Any:
        user, port, proposed = request(k)
        return st.host.connect(user, port, proposed=proposed, links=p["links"])

    if p.get("at_once"):
        made = st.host.connect_many([request(k) for k in range(p["count"])], links=p["links"])
    else:
        made = _run_many(one, p["count"], p)
    st.sessions.extend(made)
    states = [s.state for s in made]
    st.outcome(states.count("connected"), states.count("refused"), states.count("failed"))


def _do_disconnect(st: _State, p: Mapping[str, Any]) -> None:
    chosen = _select(st.live(), p["count"], p["pick"], p["seed"])
    if p.get("at_once"):
        st.host.disconnect_many(chosen)
    else:
        _run_many(lambda k: st.host.disconnect(chosen[k]), len(chosen), p)
    st.outcome(accepted=len(chosen))


def _do_add_link(st: _State, p: Mapping[str, Any]) -> None:
    ok = bad = 0
    for k, s in enumerate(_select(st.live(), p["sessions"], p["pick"], p["seed"])):
        for _ in range(p["links"]):
            if s.state != "connected":
                break
            values = {"i": k, "n": len(s.links) + 1, "port": s.port, "user": s.user}
            if st.host.add_link(s, expand(p["port"], values)):
                ok += 1
            else:
                bad += 1
    st.outcome(ok, bad)


def _do_hangup_link(st: _State, p: Mapping[str, Any]) -> None:
    done = 0
    for s in _select(st.live(), p["sessions"], p["pick"], p["seed"]):
        for _ in range(p["links"]):
            if s.state != "connected" or not s.links:
                break
            st.host.hangup_link(s, s.links[-1] if p["which"] == "last" else s.links[0])
            done += 1
    st.outcome(done)


def _do_reauth(st: _State, p: Mapping[str, Any]) -> None:
    ok = bad = 0
    for s in _select(st.live(), p["sessions"], p["pick"], p["seed"]):
        if st.host.reauthenticate(s, p["quarantine"]):
            ok += 1
        else:
            bad += 1
    st.outcome(ok, bad)


def _do_probe(st: _State, p: Mapping[str, Any]) -> None:
    if p["steal"]:
        victims = [s for s in st.live() if s.address is not None][: p["count"]]
        addresses = [int(s.address) for s in victims]
    else:
        addresses = [_ip(expand(p["address"], {"i": p["start"] + k})) for k in range(p["count"])]
    for k, address in enumerate(addresses):
        v = {"i": p["start"] + k}
        st.host.probe_release_unknown(expand(p["user"], v), expand(p["port"], v), address)
    st.outcome(len(addresses))


def _do_restart(st: _State, p: Mapping[str, Any]) -> None:
    if p["disconnect_first"]:
        for s in st.live():
            st.host.disconnect(s)
    st.host.stop()
    st.sessions = [s for s in st.sessions if s.state != "connected"]
    st.started = st.host.start()
    st.outcome(1 if st.started else 0, failed=0 if st.started else 1)


def _counter(st: _State, name: str) -> int:
    if name == "connected":
        return len(st.live())
    if name == "errors":
        return sum(1 for f in st.host.findings if f.severity is Severity.ERROR) + sum(
            1 for f in st.failures if f.severity is Severity.ERROR
        )
    return int(getattr(st, name))


def _do_expect(st: _State, step: Step) -> None:
    p = step.params
    problems: list[tuple[str, object, object]] = []
    for key, want in p.items():
        if key in ("note", "severity", "message"):
            continue
        if key == "started":
            if st.started != want:
                problems.append((key, want, st.started))
            continue
        if key == "unique_addresses":
            addrs = [s.address for s in st.live() if s.address is not None]
            dupes = sorted({str(a) for a in addrs if addrs.count(a) > 1})
            if bool(not dupes) != want:
                problems.append((key, want, dupes or "all distinct"))
            continue
        base, _, bound = key.partition("_at_")
        count = _counter(st, base)
        bad = (
            (bound == "" and count != want)
            or (bound == "least" and count < want)
            or (bound == "most" and count > want)
        )
        if bad:
            problems.append((key, want, count))
    sev = Severity(p["severity"])
    for key, want, have in problems:
        text = p["message"] or f"expected {key} = {want!r}, got {have!r}"
        st.failures.append(
            Finding(
                "X-SCENARIO",
                sev,
                f"scenario {st.scenario.name!r} step {step.number}: {text}",
                evidence=({"scenario": st.scenario.name, "step": step.number, "check": key,
                           "expected": want, "actual": have if isinstance(have, int | str) else str(have)},),
                subject=st.scenario.name,
            )
        )


_HANDLERS: dict[str, Callable[[_State, Mapping[str, Any]], None]] = {
    "connect": _do_connect,
    "disconnect": _do_disconnect,
    "add_link": _do_add_link,
    "hangup_link": _do_hangup_link,
    "reauth": _do_reauth,
    "probe_release_unknown": _do_probe,
    "restart": _do_restart,
}


def run_scenario(host: HostLike, scenario: Scenario, *, lifecycle: bool = True) -> ScenarioResult:
    """Run ``scenario`` on ``host``.

    With ``lifecycle`` the host is started first, sessions still connected at the end are
    disconnected and the host is stopped (so release, hang-up and TerminateDll are exercised).
    Without it the caller has started the host and stops it.
    """
    t0 = time.perf_counter()
    st = _State(host, scenario)
    st.started = host.start() if lifecycle else True
    steps_run = 0
    if st.started:
        for step in scenario.steps:
            try:
                if step.do == "expect":
                    _do_expect(st, step)
                else:
                    _HANDLERS[step.do](st, step.params)
            except InputError as exc:  # e.g. a name longer than UNLEN after expansion
                raise InputError(f"step {step.number}: {exc}", where=scenario.source) from None
            steps_run += 1
            if not st.started:
                break
        if lifecycle:
            for s in st.live():
                host.disconnect(s)
    if lifecycle and st.started:
        host.stop()
    findings = list(host.findings) + st.failures
    ok = st.started and not any(f.severity is Severity.ERROR for f in findings)
    return ScenarioResult(
        name=scenario.name,
        ok=ok,
        started=st.started,
        findings=findings,
        stats=dict(host.stats),
        trace=list(host.trace),
        seconds=time.perf_counter() - t0,
        steps_run=steps_run,
    )
