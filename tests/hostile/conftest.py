"""The hostile DLLs of fixtures/dlls/hostile.toml (prebuilt for x86 and x64)."""

from __future__ import annotations

from typing import Any

from fixtures.dlls.build_hostile import prebuilt, variants

VARIANTS: dict[str, dict[str, Any]] = variants()
CALL_VARIANTS = sorted(n for n, v in VARIANTS.items() if v["stage"] == "call")
LOAD_VARIANTS = sorted(n for n, v in VARIANTS.items() if v["stage"] == "load")
FAULT_VARIANTS = sorted(n for n in CALL_VARIANTS if VARIANTS[n]["fault"])

__all__ = ["CALL_VARIANTS", "FAULT_VARIANTS", "LOAD_VARIANTS", "VARIANTS", "prebuilt"]
