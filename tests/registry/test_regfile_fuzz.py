"""Damaged input never escapes as anything but InputError (so the CLI never shows a traceback)."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.errors import InputError
from emulator.registry import Registry
from emulator.registry.regfile import export, import_bytes

FRAGMENTS = [
    "[", "]", "[-", "HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER\\Software", "HKLM", "\\", "\\\\",
    '"', "@", "=", "-", "dword:", "hex:", "hex(", "):", "hex(7):", "00", "0", "ff", "1ffffffff",
    ",", ", ", ",\\", ";", "#", " ", "\t", "\r", "\n", "\r\n", "\\n", "\\0", "x", "\u00e9",
    "\U0001f600", "\x00", "a" * 300,
]
lines = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join)
headers = st.sampled_from(["Windows Registry Editor Version 5.00", "REGEDIT4", "REGEDIT",
                           "REGEDIT5", "  REGEDIT4", "junk"])
encodings = st.sampled_from(["utf-16", "cp1252", "utf-8-sig"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers, st.lists(lines, max_size=15), encodings, st.booleans())
def test_damaged_files_raise_only_input_error(header: str, body: list[str], encoding: str,
                                              strict: bool) -> None:
    text = "\r\n".join([header, *body])
    if encoding == "utf-16":
        data = b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass")
    else:
        data = text.encode(encoding, "replace")
    reg = Registry()
    try:
        report = import_bytes(data, reg, name="f.reg", strict=strict)
    except InputError as exc:
        assert str(exc).startswith("f.reg")
        return
    for issue in report.skipped + report.notes:
        assert issue.file == "f.reg" and issue.line >= 0
    export(reg)  # whatever was imported can be exported


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_random_bytes(data: bytes, strict: bool) -> None:
    for prefix in (b"", b"\xff\xfe", b"REGEDIT4\r\n"):
        with contextlib.suppress(InputError):
            import_bytes(prefix + data, Registry(), name="r.reg", strict=strict)
