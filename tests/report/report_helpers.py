"""Shared bits for the report tests: a real RasHost that opens Python stand-ins directly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from emulator.host.engine import RasHost
from emulator.loaders.python import PythonAdminDll

DATA = Path(__file__).resolve().parent.parent / "scenarios" / "data"


def _opener(real: str, *, loader: str, bitness: int, isolate: bool | None, options: Any) -> PythonAdminDll:
    return PythonAdminDll(real, bitness=bitness)


def engine_factory(**kwargs: Any) -> RasHost:
    """The real engine, loading stand-ins without loader selection."""
    return RasHost(opener=_opener, **kwargs)


def validate(instance: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Errors of ``instance`` against the JSON-Schema subset report-1.json uses."""
    errs: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        py = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
              "integer": int, "number": (int, float)}
        ok = any(isinstance(instance, py[n]) and not (n in ("integer", "number") and isinstance(instance, bool))
                 for n in names)
        if not ok:
            return [f"{path}: expected {types}, got {type(instance).__name__}"]
    if "const" in schema and instance != schema["const"]:
        errs.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errs.append(f"{path}: {instance!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(instance, str) and not re.search(schema["pattern"], instance):
        errs.append(f"{path}: {instance!r} does not match {schema['pattern']}")
    if "minimum" in schema and isinstance(instance, int | float) and instance < schema["minimum"]:
        errs.append(f"{path}: {instance} < {schema['minimum']}")
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            if key not in instance:
                errs.append(f"{path}: missing {key!r}")
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                errs += validate(instance[key], sub, f"{path}.{key}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(instance):
                errs += validate(item, schema["items"], f"{path}[{i}]")
    return errs
