"""Call-trace events: one JSON-able dict per callback call, a JSON-lines writer, normalisation.

Event keys: ``seq``, ``t`` (seconds since the host started), ``dll`` (path as registered),
``instance`` (``ip``/``conn``), ``call`` (signature name), ``args`` (plain JSON; structures
summarised by key fields), ``returned``, ``outputs`` (by parameter name), ``fault``,
``issues``, ``probe``, and ``session`` (the host's session id, or None); ``debug`` (the call's
debug output: OutputDebugString text, loader notes such as a CreateThread not run) only when
the call produced any, and ``target`` only for calls through a table pointer.

Addresses in ``args``/``outputs`` are dotted text read in network byte order (section 8).
Normalisation for golden files drops ``t`` and renumbers handles in order of appearance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from emulator.abi import structs as S
from emulator.abi.callbacks import Param
from emulator.host.connection import dotted

Event = dict[str, Any]

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
