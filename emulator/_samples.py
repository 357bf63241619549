"""Locate bundled sample files, in an installed wheel or in a source checkout."""

from __future__ import annotations

from pathlib import Path

from emulator.errors import InputError

_PACKAGE = Path(__file__).resolve().parent


def sample_path(relative: str) -> Path:
    """Path of a bundled sample such as ``"reg/ras_admindll_install.reg"``.

    Looks in ``<package>/samples/`` (installed wheel) first, then ``<repo>/fixtures/``.
    """
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise InputError("sample path must be relative and stay inside the samples", where=relative)
    tried = []
    for base in (_PACKAGE / "samples", _PACKAGE.parent / "fixtures"):
        candidate = base / rel
        if candidate.is_file():
            return candidate
        tried.append(str(base))
    raise InputError(f"bundled sample not found (looked in {', '.join(tried)})", where=relative)
