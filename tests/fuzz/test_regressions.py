"""Every input that once broke an entry point (tests/fuzz/regressions/<target>-<what>.<ext>).

Each must now end in success or the documented one-line error, without a hang.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import fuzz

from .helpers import REGRESSIONS, check

FILES = sorted(p for p in REGRESSIONS.iterdir() if p.is_file())


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_regression_input(path: Path, tmp_path: Path) -> None:
    name = path.name.split("-", 1)[0]
    target = fuzz.targets()[name]
    value = path.read_bytes() if target.suffix in (".dll", ".so", ".reg") else path.read_text(
        encoding="utf-8")
    check(name, value, tmp_path)


def test_every_target_has_a_name_the_files_use() -> None:
    assert {p.name.split("-", 1)[0] for p in FILES} <= set(fuzz.targets())
