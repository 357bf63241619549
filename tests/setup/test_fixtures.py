"""Every installer in fixtures/installers: known-bad ones caught with exactly their rule, good ones pass."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.conformance.findings import Severity
from emulator.setup import validate_installer
from fixtures.installers import manifest

ENTRIES = manifest()


def run(entry: dict[str, Any]) -> Any:
    return validate_installer(
        entry["install"], entry["uninstall"], profile=entry["profile"], dll=entry["dll"],
        dll_name=entry["dll_name"], preexisting=entry["preexisting"] or None,
        installer_bits=entry["bits"])


@pytest.mark.parametrize("name", sorted(n for n, e in ENTRIES.items() if not e["rule"]))
def test_good_installer_passes_without_findings(name: str) -> None:
    result = run(ENTRIES[name])
    assert result.passed, [f.message for f in result.findings]
    assert result.rules == set(), [f.message for f in result.findings]
    if ENTRIES[name]["uninstall"] is not None:
        assert result.uninstall_diff is not None and result.uninstall_diff.is_empty, \
            result.uninstall_diff.to_text() if result.uninstall_diff else None


@pytest.mark.parametrize("name", sorted(n for n, e in ENTRIES.items() if e["rule"]))
def test_bad_installer_caught_with_exactly_its_rule(name: str) -> None:
    entry = ENTRIES[name]
    result = run(entry)
    assert result.rules == {entry["rule"]}, [(f.rule, f.message) for f in result.findings]
    assert not result.passed
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    assert errors and all(f.rule == entry["rule"] for f in errors)
    assert all(f.evidence for f in errors), "every finding carries diff evidence"


def test_manifest_covers_every_setup_rule_the_brief_asks_for() -> None:
    rules = {e["rule"] for e in ENTRIES.values()}
    assert {"R01", "R02", "R04", "R05", "R06", "R07", "R08", "R09", "R10"} <= rules
    kinds = {e["install"].suffix for e in ENTRIES.values()}
    assert kinds >= {".reg", ".cmd", ".py"}


def test_r02_fixtures_are_the_three_kinds_of_wrong_dllpath() -> None:
    messages = {}
    for name in ("bad_expand_sz", "bad_multi_sz", "bad_relative"):
        result = run(ENTRIES[name])
        messages[name] = " ".join(f.message for f in result.findings)
    assert "REG_EXPAND_SZ" in messages["bad_expand_sz"]
    assert "REG_MULTI_SZ" in messages["bad_multi_sz"]
    assert "not an absolute path" in messages["bad_relative"]


def test_r09_evidence_names_where_the_file_landed() -> None:
    result = run(ENTRIES["bad_system32"])
    (finding,) = result.findings
    moved = [e for e in finding.evidence if e.get("change") == "file-redirected"]
    assert moved == [{
        "phase": "install", "change": "file-redirected",
        "requested": "C:\\Windows\\System32\\contoso_rasadm.dll",
        "written": "C:\\Windows\\SysWOW64\\contoso_rasadm.dll",
        "text": "file C:\\Windows\\System32\\contoso_rasadm.dll -> "
                "C:\\Windows\\SysWOW64\\contoso_rasadm.dll"}]


def test_r06_evidence_is_the_leftover_in_the_uninstall_diff() -> None:
    result = run(ENTRIES["bad_uninstall_leaves_displayname"])
    (finding,) = result.findings
    (leftover,) = finding.evidence
    assert leftover["change"] == "value-added" and leftover["phase"] == "uninstall"
    assert leftover["name"] == "DisplayName"
    assert leftover["value"] == "REG_SZ 'Contoso RAS Address Allocator'"
