"""The registry fixtures, also when rasemu's pytest11 plugin is not installed."""

from __future__ import annotations

from emulator.registry.pytest_fixtures import (  # noqa: F401 - fixtures for this folder
    fake_registry,
    fake_registry_class,
    fake_registry_module,
    fake_registry_session,
    no_registry,
)
