"""rasemu's pytest plugin (entry point ``pytest11``): fixtures for vendors' own test suites."""

from __future__ import annotations

from emulator.registry.pytest_fixtures import (  # noqa: F401 - fixtures exposed to pytest
    fake_registry,
    fake_registry_class,
    fake_registry_module,
    fake_registry_session,
    no_registry,
)
