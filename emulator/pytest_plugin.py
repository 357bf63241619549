"""rasemu's pytest plugin (entry point ``pytest11``): fixtures for vendors' own test suites.

Fixtures: ``fake_registry`` (and its scoped variants, ``no_registry``) for installers;
``admin_dll``, ``ras_host``, ``assert_conformant`` and ``rasemu_settings`` for admin DLLs
(see :mod:`emulator.host.pytest_fixtures`). Marker: ``@pytest.mark.rasemu(dll=..., profile=...,
loader=..., strictness=..., timeout=...)``. Options: ``--rasemu-dll``, ``--rasemu-profile``,
``--rasemu-loader``, ``--rasemu-strictness``, ``--rasemu-timeout`` (and ini ``rasemu_*``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from emulator.host.pytest_fixtures import (  # noqa: F401 - fixtures exposed to pytest
    admin_dll,
    assert_conformant,
    ras_host,
    rasemu_settings,
)
from emulator.registry.pytest_fixtures import (  # noqa: F401 - fixtures exposed to pytest
    fake_registry,
    fake_registry_class,
    fake_registry_module,
    fake_registry_session,
    no_registry,
)

_OPTIONS = (
    ("dll", "PATH", "admin DLL, shared library or .py stand-in the rasemu fixtures load"),
    ("profile", "NAME", "host profile for the rasemu fixtures (default win7-x64)"),
    ("loader", "NAME", "loader for the rasemu fixtures: auto, python, native or pe"),
    ("strictness", "LEVEL", "required-export gate for ras_host: practice or strict"),
    ("timeout", "SECONDS", "per-call time limit for the rasemu fixtures (default 5)"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rasemu", "rasemu (RAS admin DLL emulator)")
    for key, metavar, text in _OPTIONS:
        group.addoption(f"--rasemu-{key}", dest=f"rasemu_{key}", metavar=metavar, default=None,
                        help=text + " (overrides the ini option; a marker overrides both)")
        parser.addini(f"rasemu_{key}", text, default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "rasemu(dll=None, profile='win7-x64', loader='auto', strictness='practice', timeout=5.0):"
        " how the rasemu fixtures (admin_dll, ras_host) load and run the admin DLL",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None
                            ) -> Generator[None, Any, Any]:
    # emulator.testing.assert_conformant (imported, not the fixture) records JUnit
    # properties on the test running now
    from emulator import testing

    testing._current_item.append(item)
    try:
        return (yield)
    finally:
        testing._current_item.pop()
