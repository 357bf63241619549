"""``emulator._samples.sample_path``: wheel location first, then the checkout's fixtures/."""

from __future__ import annotations

from pathlib import Path

import pytest

import emulator._samples as samples
from emulator.errors import InputError


def test_finds_the_bundled_sample_in_the_checkout() -> None:
    path = samples.sample_path("reg/ras_admindll_install.reg")
    assert path.is_file() and path.parent.name == "reg" and path.read_bytes()[:2] == b"\xff\xfe"


def test_package_samples_take_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "emulator"
    (pkg / "samples" / "reg").mkdir(parents=True)
    (tmp_path / "fixtures" / "reg").mkdir(parents=True)
    (pkg / "samples" / "reg" / "a.reg").write_text("wheel")
    (tmp_path / "fixtures" / "reg" / "a.reg").write_text("repo")
    (tmp_path / "fixtures" / "reg" / "b.reg").write_text("repo only")
    monkeypatch.setattr(samples, "_PACKAGE", pkg)
    assert samples.sample_path("reg/a.reg").read_text() == "wheel"
    assert samples.sample_path("reg/b.reg").read_text() == "repo only"
    with pytest.raises(InputError, match="bundled sample not found"):
        samples.sample_path("reg/c.reg")


@pytest.mark.parametrize("bad", ["../pyproject.toml", "/etc/passwd"])
def test_rejects_paths_leaving_the_samples(bad: str) -> None:
    with pytest.raises(InputError, match="must be relative"):
        samples.sample_path(bad)
