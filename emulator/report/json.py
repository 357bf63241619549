"""JSON report renderer (schema ``rasemu-report/1``, file ``schema/report-1.json``).

One report renders as a ``rasemu-report/1`` object; several (``rasemu check`` of DLLs one by
one) as ``{"schema": "rasemu-report-list/1", "reports": [...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from emulator.report import Report

LIST_SCHEMA = "rasemu-report-list/1"


def to_document(reports: Sequence[Report]) -> dict[str, Any]:
    """The JSON document for ``reports`` (one report object, or a list wrapper for several)."""
    if len(reports) == 1:
        return reports[0].to_json()
    return {"schema": LIST_SCHEMA, "reports": [r.to_json() for r in reports]}


def render(reports: Sequence[Report], *, indent: int | None = 2) -> str:
    """The JSON text, ending with a newline."""
    return json.dumps(to_document(reports), indent=indent, ensure_ascii=False) + "\n"


def schema() -> dict[str, Any]:
    """The JSON Schema of a ``rasemu-report/1`` object."""
    text = resources.files("emulator.report").joinpath("schema/report-1.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
