"""rasemu's pytest plugin (entry point ``pytest11``): fixtures for vendors' own test suites."""

from __future__ import annotations
