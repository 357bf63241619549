"""Call-trace events: one JSON-able dict per callback call, a JSON-lines writer, normalisation.

Event keys: ``seq``, ``t`` (seconds since the host started), ``dll`` (path as registered),
``instance`` (``ip``/``conn``), ``call`` (signature name), ``args`` (plain JSON; structures
summarised by key fields), ``returned``, ``outputs`` (by parameter name), ``fault``,
``issues``, ``probe``, and ``session`` (the host's session id, or None); ``debug`` (the call's
debug output: OutputDebugString text, loader notes such as a CreateThread not run) only when
the call produced any, and ``target`` only for calls through a table pointer.

The host keeps each call as a :class:`CallRecord` (the raw pieces); the monitor and the DLL
checks read its fields, and its event dict is built only for a kept trace or a finding's
evidence - the same dict either way.

Addresses in ``args``/``outputs`` are dotted text read in network byte order (section 8).
Normalisation for golden files drops ``t`` and renumbers handles in order of appearance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any

from emulator.abi import structs as S
from emulator.abi.callbacks import Param
from emulator.host.connection import dotted
from emulator.loaders.base import CallResult

Event = dict[str, Any]
Summariser = Callable[[tuple[Any, ...]], list[Any]]
#: per parameter index: (parameter name, output summariser or None = the value as is)
OutputFns = tuple[tuple[str, Callable[[Any], Any] | None], ...]
#: per signature: (signature, argument summariser, output functions, lazy, dicts) - see
#: :class:`CallRecord`
Forms = tuple[Any, Summariser, OutputFns, bool, bool]


class CallRecord:
    """One callback call as the host saw it: the raw pieces, its trace event built on demand.

    The host monitor and the DLL checks read the fields directly; :meth:`event` builds the
    JSON-able event (once; later calls return the same dict) only when the trace is kept or a
    finding needs it as evidence. ``args`` is the argument tuple as passed; its trace form is
    computed at once when the signature's ``forms`` say it is not ``lazy`` (arguments the next
    call may change, such as reused structure templates), else on first use. ``dicts``: the
    trace form of the arguments may hold structure summaries (dicts).
    """

    __slots__ = ("_ev", "_outs", "_sargs", "args", "base", "call", "dicts", "dll", "fault",
                 "forms", "instance", "probe", "result", "returned", "seq", "session", "t0",
                 "target")

    def __init__(self, t0: float, base: float, dll: str, instance: str, call: str,
                 args: tuple[Any, ...], forms: Forms, result: CallResult, probe: bool,
                 session: int | None, target: int | None) -> None:
        self.seq: int | None = None
        self.t0 = t0
        self.base = base
        self.dll = dll
        self.instance = instance
        self.call = call
        self.args = args
        self.forms = forms
        self.result = result
        self.returned = result.returned
        self.fault = result.fault
        self.probe = probe
        self.session = session
        self.target = target
        self.dicts = forms[4]
        self._ev: Event | None = None
        self._outs: dict[str, Any] | None = None
        self._sargs: list[Any] | None = None if forms[3] else forms[1](args)

    def sargs(self) -> list[Any]:
        """The arguments' trace form (event ``args``)."""
        a = self._sargs
        if a is None:
            a = self._sargs = self.forms[1](self.args)
        return a

    def outs(self) -> dict[str, Any]:
        """The outputs' trace form (event ``outputs``), by parameter name."""
        o = self._outs
        if o is None:
            o = self._outs = {}
            outputs = self.result.outputs
            if outputs:
                ofns = self.forms[2]
                n = len(ofns)
                for i, v in outputs.items():
                    if i < n:
                        pname, f = ofns[i]
                        o[pname] = v if f is None else f(v)
        return o

    def event(self) -> Event:
        """The trace event of this call (see the module docstring)."""
        ev = self._ev
        if ev is None:
            res = self.result
            fault = res.fault
            issues = res.issues
            ev = {"seq": self.seq, "t": round(self.t0 - self.base, 6), "dll": self.dll,
                  "instance": self.instance, "call": self.call, "args": self.sargs(),
                  "returned": res.returned, "outputs": self.outs(),
                  "fault": None if fault is None else {
                      "kind": fault.kind, "message": fault.message},
                  "issues": [{"rule": i.rule, "message": i.message} for i in issues]
                  if issues else [],
                  "probe": self.probe, "session": self.session}
            if self.target is not None:
                ev["target"] = hex(self.target)
            if res.debug_output:
                ev["debug"] = list(res.debug_output)
            self._ev = ev
        return ev

    @classmethod
    def prebuilt(cls, ev: Event, result: CallResult) -> CallRecord:
        """A record whose event is given (a call not made: ``skipped``)."""
        r = cls(0.0, 0.0, ev["dll"], ev["instance"], ev["call"], (),
                (None, lambda a: [], (), True, False), result, bool(ev["probe"]), ev["session"],
                None)
        r.seq = ev["seq"]
        r._ev = ev
        r._sargs = ev["args"]
        r._outs = ev["outputs"]
        return r


def event_of(ev: Mapping[str, Any] | CallRecord) -> Mapping[str, Any]:
    """The event dict of a record, or ``ev`` itself when it is one already."""
    return ev.event() if isinstance(ev, CallRecord) else ev


def call_of(ev: Mapping[str, Any] | CallRecord) -> Any:
    """The ``call`` of a record or an event dict."""
    return ev.call if isinstance(ev, CallRecord) else ev["call"]

_HANDLE_KEYS = frozenset({"hConnection", "hPort", "hInterface"})


def _summarise_generic(value: Any) -> dict[str, Any]:
    name = type(value).__name__
    out: dict[str, Any] = {"struct": name}
    v = value
    if name == "NT4_RAS_PORT_1":
        p0 = v.rasport0
        out.update(user=p0.wszUserName, port=p0.wszPortName, address=v.ProjResult.ip.wszAddress)
        return out
    for attr in ("hConnection", "hPort"):
        h = getattr(v, attr, None)
        if h is not None:
            out[attr] = h
    user = getattr(v, "wszUserName", None)
    if user is not None:
        out["user"] = user
    port = getattr(v, "wszPortName", None)
    if port is not None:
        out["port"] = port
    if name == "RAS_CONNECTION_1":
        out["address"] = v.PppInfo.ip.wszRemoteAddress
    elif name == "RAS_CONNECTION_EX":
        out["address"] = v.ProjectionInfo.PppProjectionInfo.wszRemoteAddress
        out["header"] = [v.Header.revision, v.Header.type, v.Header.size]
        out["rasQuarState"] = v.rasQuarState
    elif name == "RAS_CONNECTION_3":
        out["dwSize"] = v.dwSize
        out["rasQuarState"] = v.rasQuarState
    return out


_KEYS = (("hConnection", "hConnection"), ("hPort", "hPort"), ("wszUserName", "user"),
         ("wszPortName", "port"))
#: per class: the (attribute, key) pairs of _KEYS that are dataclass fields, or None = generic
_PLANS: dict[type, tuple[tuple[str, str], ...] | None] = {}


def _plan(cls: type) -> tuple[tuple[str, str], ...] | None:
    if S.STRUCTS.get(cls.__name__) is not cls or cls.__name__ == "NT4_RAS_PORT_1":
        return None
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return tuple((a, k) for a, k in _KEYS if a in fields)


def summarise_struct(value: Any) -> dict[str, Any]:
    """Key fields of a structure argument (user, handles, addresses, port, quarantine state)."""
    cls = type(value)
    try:
        plan = _PLANS[cls]
    except KeyError:
        plan = _PLANS[cls] = _plan(cls)
    if plan is None:
        return _summarise_generic(value)
    d = value.__dict__
    if len(d) != len(cls.__dataclass_fields__):
        return _summarise_generic(value)  # attributes beyond the fields: read them as before
    out: dict[str, Any] = {"struct": cls.__name__}
    for attr, key in plan:
        h = d.get(attr)
        if h is None:
            return _summarise_generic(value)  # a field set to None (or deleted): as before
        out[key] = h
    name = cls.__name__
    if name == "RAS_CONNECTION_1":
        out["address"] = value.PppInfo.ip.wszRemoteAddress
    elif name == "RAS_CONNECTION_EX":
        out["address"] = value.ProjectionInfo.PppProjectionInfo.wszRemoteAddress
        h = value.Header
        out["header"] = [h.revision, h.type, h.size]
        out["rasQuarState"] = value.rasQuarState
    elif name == "RAS_CONNECTION_3":
        out["dwSize"] = value.dwSize
        out["rasQuarState"] = value.rasQuarState
    return out


def summarise_arg(param: Param, value: Any) -> Any:
    """One argument as plain JSON."""
    kind = param.kind
    if kind == "wstr":
        return value
    if kind == "dword_inout":
        return dotted(value)
    if kind == "bool_out":
        return value
    if kind == "in6_inout":
        return bytes(value).hex()
    if kind == "struct":
        return summarise_struct(value)
    if kind == "struct_array":
        return [{"key": p.P_Key} for p in value]
    return None


def summarise_output(param: Param, value: Any) -> Any:
    """One read-back output as plain JSON."""
    kind = param.kind
    if kind == "dword_inout":
        return dotted(value)
    if kind == "in6_inout":
        return bytes(value).hex()
    if kind == "table_out":
        return {k: (hex(v) if isinstance(v, int) and k != "revision" else v)
                for k, v in dict(value).items()}
    return value


def normalise(events: Iterable[Mapping[str, Any]]) -> list[Event]:
    """Events for golden files: no ``t``/``seconds``; handles renumbered 1, 2, ... by appearance."""
    mapping: dict[int, int] = {}

    def fix(obj: Any) -> Any:
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if k in ("t", "seconds"):
                    continue
                if k in _HANDLE_KEYS and isinstance(v, int):
                    v = mapping.setdefault(v, len(mapping) + 1)
                out[k] = fix(v)
            return out
        if isinstance(obj, list):
            return [fix(x) for x in obj]
        return obj

    return [fix(dict(e)) for e in events]


def write_jsonl(events: Sequence[Mapping[str, Any]], out: IO[str]) -> None:
    """Write one JSON object per line."""
    for e in events:
        out.write(json.dumps(e, sort_keys=True, default=str))
        out.write("\n")


def read_jsonl(text: str) -> list[Event]:
    """Parse JSON lines (blank lines ignored)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
