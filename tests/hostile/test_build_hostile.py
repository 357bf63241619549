"""The committed hostile DLLs are what build_hostile.py makes from src_hostile/hostile.c."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.dlls import build_hostile
from tests.hostile.conftest import VARIANTS


def test_manifest_is_complete() -> None:
    src = (build_hostile.SRC / "hostile.c").read_text()
    for name, v in VARIANTS.items():
        assert set(v) >= {"define", "stage", "export", "fault", "message", "rule", "fault_rule",
                          "description"}, name
        assert f"defined({v['define']})" in src, name
        assert v["stage"] in ("call", "load")
        for bits in (32, 64):
            assert build_hostile.prebuilt(name, bits).stat().st_size > 0


@pytest.mark.mingw
@pytest.mark.parametrize("bits", [32, 64])
def test_prebuilt_is_reproducible(bits: int, tmp_path: Path) -> None:
    try:
        out = build_hostile.build_variant("hostile_reentry", bits, tmp_path)
    except build_hostile.MingwMissing as exc:
        pytest.skip(str(exc))
    assert out.read_bytes() == build_hostile.prebuilt("hostile_reentry", bits).read_bytes()
