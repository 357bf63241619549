"""Shared pytest fixtures: the sample admin DLLs of fixtures/dlls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.dlls.build import native_library, prebuilt_dll


@pytest.fixture(scope="session")
def native_lib() -> Callable[[str], Path]:
    """Callable variant -> host shared library path (built on demand; skips without a C compiler)."""
    return native_library


@pytest.fixture(scope="session")
def pe_dll() -> Callable[[str, int], Path]:
    """Callable (variant, bits) -> committed PE DLL path under fixtures/dlls/prebuilt."""
    return prebuilt_dll
