"""pytest fixtures: a fake ``winreg`` for the code under test (like pyfakefs' ``fs``).

    def test_registers(fake_registry):
        install_my_dll()                      # does `import winreg` inside
        key = fake_registry.OpenKey(fake_registry.HKEY_LOCAL_MACHINE, r"SOFTWARE\\Microsoft\\RAS\\AdminDll")

Seed with ``@pytest.mark.parametrize("fake_registry", ["ras_server"], indirect=True)``
(default ``"empty"``). ``fake_registry.registry`` is the model behind it. ``no_registry``
makes any registry call fail the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.registry.patcher import GuardedWinreg, Patcher
from emulator.registry.winreg import FakeWinreg


def _fake(request: pytest.FixtureRequest) -> Iterator[FakeWinreg]:
    seed = getattr(request, "param", "empty")
    with Patcher(seed=seed) as patcher:
        yield patcher.fake


@pytest.fixture
def fake_registry(request: pytest.FixtureRequest) -> Iterator[FakeWinreg]:
    """A fresh fake ``winreg`` installed for one test."""
    yield from _fake(request)


@pytest.fixture(scope="class")
def fake_registry_class(request: pytest.FixtureRequest) -> Iterator[FakeWinreg]:
    """One fake ``winreg`` shared by a test class."""
    yield from _fake(request)


@pytest.fixture(scope="module")
def fake_registry_module(request: pytest.FixtureRequest) -> Iterator[FakeWinreg]:
    """One fake ``winreg`` shared by a test module."""
    yield from _fake(request)


@pytest.fixture(scope="session")
def fake_registry_session(request: pytest.FixtureRequest) -> Iterator[FakeWinreg]:
    """One fake ``winreg`` shared by the whole session."""
    yield from _fake(request)


@pytest.fixture
def no_registry() -> Iterator[GuardedWinreg]:
    """Any registry call by the code under test fails the test (RegistryAccessError)."""
    with Patcher(guard=True) as patcher:
        assert isinstance(patcher.winreg, GuardedWinreg)
        yield patcher.winreg


__all__ = [
    "fake_registry",
    "fake_registry_class",
    "fake_registry_module",
    "fake_registry_session",
    "no_registry",
]
