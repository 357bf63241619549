"""mini_good.py with one defect: it never asks to be notified when an address is released."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("mini_good_base", Path(__file__).with_name("mini_good.py"))
assert _spec is not None and _spec.loader is not None
_good = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_good)


class AdminDll(_good.AdminDll):
    BAD = "no_notify"
