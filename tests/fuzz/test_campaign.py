"""A 10-second run of the whole campaign (bench/fuzz.py) for CI: every target, no crash."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench import fuzz


@pytest.mark.fuzz
def test_ten_second_campaign(tmp_path: Path) -> None:
    seed = random.randrange(1 << 32)
    lines: list[str] = []
    stats = fuzz.run_campaign(10.0, seed=seed, crash_dir=tmp_path, out=lines.append)
    report = "\n".join(lines)
    assert set(stats) == set(fuzz.targets())
    assert all(s.tried > 0 for s in stats.values()), report
    crashes = {n: s.crashes for n, s in stats.items() if s.crashes}
    assert not crashes, f"seed {seed}:\n{report}"


def test_campaign_reports_a_crash_with_its_saved_input(tmp_path: Path) -> None:
    """The harness itself: a target that breaks the invariant is caught, saved and counted."""
    target = fuzz.Target("broken", lambda rng: b"\x01\x02", lambda v: [][0], (ValueError,))
    hang = fuzz.Target("hang", lambda rng: "x", lambda v: _spin(), (), timeout=0.2)
    multi = fuzz.Target("multi", lambda rng: "x", _raise_multiline, (ValueError,))
    for t in (target, hang, multi):
        stats = fuzz.TargetStats(t.name)
        fuzz.fuzz_one(t, t.generate(random.Random(0)), stats, tmp_path)
        assert len(stats.crashes) == 1 and Path(stats.crashes[0][1]).is_file(), stats
    assert "IndexError" in stats.crashes[0][0] or "not one line" in stats.crashes[0][0]


def _spin() -> None:
    while True:
        pass


def _raise_multiline(value: object) -> None:
    raise ValueError("first\nsecond")
