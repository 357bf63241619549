"""Helpers for the setup-validation tests: sample DLLs and a writer for installer files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DLL64 = REPO / "fixtures" / "dlls" / "prebuilt" / "good64.dll"
DLL32 = REPO / "fixtures" / "dlls" / "prebuilt" / "good32.dll"
FABRIKAM = "C:\\Program Files\\Fabrikam\\fabadm.dll"
NAME = "contoso_rasadm.dll"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write(name, text) -> path of a new installer file in tmp_path (CRLF line ends)."""

    def make(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))
        return path

    return make
