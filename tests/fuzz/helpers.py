"""Helpers of the fuzz tests: the campaign engine of bench/fuzz.py and its invariant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import fuzz

REGRESSIONS = Path(__file__).parent / "regressions"


def check(target_name: str, value: Any, tmp_path: Path) -> fuzz.TargetStats:
    """Run ``value`` through a fuzz target; fail with the broken invariant if it crashed or hung."""
    fuzz._prepare([target_name])
    target = fuzz.targets()[target_name]
    stats = fuzz.TargetStats(target_name)
    fuzz.fuzz_one(target, value, stats, tmp_path)
    assert not stats.crashes, stats.crashes
    return stats
