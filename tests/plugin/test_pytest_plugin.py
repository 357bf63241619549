"""The pytest plugin as a vendor uses it: a test file of their own, run by pytester.

Checks the fixtures (admin_dll, ras_host, assert_conformant), the marker and options, JUnit
properties and pytest-xdist (-n 2). Stand-ins: good.py passes, bad_no_notify.py fails with R61.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
GOOD = STANDINS / "good.py"
NO_NOTIFY = STANDINS / "bad_no_notify.py"
DUP = STANDINS / "bad_dup_address.py"
PREBUILT = ROOT / "fixtures" / "dlls" / "prebuilt"
#: plugins the inner runs do not need (they only cost start-up time, most in xdist workers)
LEAN = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark",
        "-p", "no:fakefs")

VENDOR_SUITE = '''
import ipaddress
import pytest
from emulator.testing import assert_conformant as check


def test_one_user(ras_host, assert_conformant):
    s = ras_host.connect("alice", "VPN1-0")
    assert s.state == "connected"
    assert isinstance(s.address, ipaddress.IPv4Address) and s.address.is_private
    ras_host.disconnect(s)
    assert s.state == "disconnected"
    assert_conformant(ras_host)


def test_multilink_and_reauth(ras_host):
    s = ras_host.connect("bob", "VPN1-1")
    assert ras_host.add_link(s, "VPN1-2")
    assert ras_host.reauthenticate(s, 1)
    ras_host.disconnect(s)
    check(ras_host)


def test_exports(admin_dll):
    assert "MprAdminGetIpAddressForUser" in admin_dll.exports
'''


@pytest.fixture
def vendor(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_vendor=VENDOR_SUITE)
    return pytester


def _props(xml: Path) -> dict[str, dict[str, str]]:
    root = ET.parse(xml).getroot()
    out = {}
    for case in root.iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        out[case.get("name", "")] = props
    return out


XDIST_SUITE = f'''
import pytest

@pytest.mark.parametrize("ras_host", [{str(GOOD)!r}, {str(NO_NOTIFY)!r}], ids=["good", "bad"],
                         indirect=True)
def test_one_user(ras_host, assert_conformant):
    ras_host.disconnect(ras_host.connect("alice", "VPN1-0"))
    assert_conformant(ras_host)

@pytest.mark.parametrize("ras_host", [{str(GOOD)!r}, {str(NO_NOTIFY)!r}], ids=["good", "bad"],
                         indirect=True)
def test_two_users(ras_host):
    from emulator.testing import assert_conformant
    a, b = ras_host.connect("a", "P1"), ras_host.connect("b", "P2")
    assert a.address != b.address
    assert_conformant(ras_host)

def test_exports(admin_dll):
    assert "MprAdminGetIpAddressForUser" in admin_dll.exports
'''


def test_xdist_two_workers_and_junit_rule_ids(pytester: pytest.Pytester) -> None:
    """-n 2: good passes, bad fails with R61; every worker's properties reach the JUnit XML."""
    pytester.makepyfile(test_vendor=XDIST_SUITE)
    xml = pytester.path / "junit.xml"
    res = pytester.runpytest_subprocess("-n", "2", "--rasemu-dll", str(GOOD),
                                        f"--junitxml={xml}", *LEAN)
    res.assert_outcomes(passed=3, failed=2)
    out = res.stdout.str()
    assert "created: 2/2 workers" in out and "R61 [error]" in out
    props = _props(xml)
    for name in ("test_one_user[bad]", "test_two_users[bad]"):
        assert "R61" in props[name]["rasemu.rules"].split(",")
        assert props[name]["rasemu.failed_rules"] == "R61"
        assert props[name]["rasemu.finding.1"].startswith("R61 error: ")
    for name in ("test_one_user[good]", "test_two_users[good]"):
        assert props[name]["rasemu.failed_rules"] == "" and "rasemu.finding.1" not in props[name]
    assert "rasemu.rules" not in props["test_exports"]  # no assert_conformant there


def test_good_standin_passes_and_records_rules(vendor: pytest.Pytester) -> None:
    xml = vendor.path / "junit.xml"
    res = vendor.runpytest_subprocess("--rasemu-dll", str(GOOD), f"--junitxml={xml}", *LEAN)
    res.assert_outcomes(passed=3)
    one = _props(xml)["test_one_user"]
    assert one["rasemu.failed_rules"] == "" and "R47" in one["rasemu.rules"]  # R47: info note


def test_bad_standin_fails_with_r61_evidence_and_junit_properties(vendor: pytest.Pytester) -> None:
    xml = vendor.path / "junit.xml"
    res = vendor.runpytest_subprocess("--rasemu-dll", str(NO_NOTIFY), f"--junitxml={xml}",
                           *LEAN)
    res.assert_outcomes(passed=1, failed=2)
    out = res.stdout.str()
    assert "R61 [error]" in out and "bNotifyRelease" in out
    assert "evidence:" in out and "MprAdminGetIpAddressForUser" in out
    props = _props(xml)
    one = props["test_one_user"]
    assert "R61" in one["rasemu.rules"].split(",") and one["rasemu.failed_rules"] == "R61"
    assert one["rasemu.finding.1"].startswith("R61 error: ")
    assert props["test_multilink_and_reauth"]["rasemu.failed_rules"] == "R61"  # imported helper


def test_marker_param_and_ini(pytester: pytest.Pytester) -> None:
    shutil_copy(DUP, pytester.path / "vendor_dup.py")
    pytester.makeini(f"[pytest]\nrasemu_dll = {GOOD}\nrasemu_profile = win2008-x64\n")
    pytester.makepyfile(test_sel='''
import pytest
from emulator.testing import assert_conformant

def test_ini(ras_host, rasemu_settings):
    assert rasemu_settings.profile == "win2008-x64" and rasemu_settings.dll.endswith("good.py")
    assert ras_host.profile.name == "win2008-x64"

@pytest.mark.rasemu(dll="vendor_dup.py", profile="win2003-x86")
def test_marker_relative_to_test_file(ras_host):
    assert ras_host.profile.name == "win2003-x86"
    a = ras_host.connect("a", "P1")
    b = ras_host.connect("b", "P2")
    assert a.address == b.address
    with pytest.raises(AssertionError, match="R63"):
        assert_conformant(ras_host)

@pytest.mark.parametrize("ras_host", [{"dll": "vendor_dup.py", "profile": "nt4"}], indirect=True)
def test_param(ras_host):
    assert ras_host.profile.name == "nt4-x86"

@pytest.mark.rasemu(dlll="x")
def test_marker_typo(ras_host):
    pass
''')
    res = pytester.runpytest_subprocess(*LEAN, "-rA")
    res.assert_outcomes(passed=3, errors=1)
    assert "unknown argument(s) dlll" in res.stdout.str()
    # the marker is registered: --strict-markers accepts it
    pytester.runpytest_subprocess("--strict-markers", *LEAN, "-k", "marker_rel"
                       ).assert_outcomes(passed=1)


def shutil_copy(src: Path, dst: Path) -> None:
    dst.write_text(src.read_text())


def test_setup_errors_and_the_severity_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f'''
import pytest
from emulator.testing import assert_conformant

def test_no_dll(ras_host):
    pass

@pytest.mark.rasemu(dll={str(STANDINS / "bad_no_accept_link.py")!r})
def test_does_not_start(ras_host):
    pass

@pytest.mark.rasemu(dll={str(GOOD)!r})
def test_info_gate(ras_host):
    ras_host.disconnect(ras_host.connect("a", "P1"))
    with pytest.raises(AssertionError, match="R47"):
        assert_conformant(ras_host, severity="info")
''')
    res = pytester.runpytest_subprocess(*LEAN)
    res.assert_outcomes(passed=1, errors=2)
    out = res.stdout.str()
    assert "no admin DLL for this test: give --rasemu-dll PATH" in out
    assert "the RAS host did not start" in out and "R48 [error]" in out


def test_config_waiver_applies_to_assert_conformant(vendor: pytest.Pytester) -> None:
    vendor.makefile(".toml", rasemu='[[waive]]\nrule = "R61"\nreason = "accepted until 2.1"\n')
    res = vendor.runpytest_subprocess("--rasemu-dll", str(NO_NOTIFY), *LEAN)
    res.assert_outcomes(passed=3)


def test_assert_conformant_on_reports_and_findings() -> None:
    from emulator.conformance.findings import Finding, Severity
    from emulator.conformance.run import check_dll
    from emulator.testing import ConformanceError, assert_conformant

    assert_conformant(check_dll(GOOD, scenarios=["basic"]))
    bad = check_dll(NO_NOTIFY, scenarios=["basic"])
    with pytest.raises(ConformanceError) as info:
        assert_conformant([bad])
    assert [f.rule for f in info.value.findings] == ["R61"]
    assert str(info.value).startswith("rasemu: 1 finding(s) at or above 'error' (R61):\nR61 [error]")
    assert_conformant([Finding("R62", Severity.WARNING, "w")])
    with pytest.raises(ConformanceError, match="R62 \\[warning\\]"):
        assert_conformant([Finding("R62", Severity.WARNING, "w")], severity="warning")
    with pytest.raises(TypeError):
        assert_conformant(42)




def test_real_pe_dlls_through_the_fixtures(pytester: pytest.Pytester) -> None:
    """The same vendor code on real PE images (CPU emulation): 32-bit under an x86 profile."""
    pytester.makepyfile(f'''
import pytest
from emulator.loaders.base import Call

@pytest.mark.rasemu(dll={str(PREBUILT / "good32.dll")!r}, profile="win2003-x86")
def test_single_call(admin_dll):
    assert admin_dll.loader_name == "pe"
    res = admin_dll.handle_call(Call("MprAdminGetIpAddressForUser",
                                     ("alice", "VPN1-0", 0, 0xA5A5A5A5)))
    assert res.fault is None and res.returned == 0 and res.outputs[3] == 1

@pytest.mark.rasemu(dll={str(PREBUILT / "bad_no_notify32.dll")!r}, profile="win2003-x86")
def test_bad(ras_host, assert_conformant):
    s = ras_host.connect("alice", "VPN1-0")
    assert s.state == "connected" and str(s.address).startswith("192.168.100.")
    assert_conformant(ras_host)
''')
    res = pytester.runpytest_subprocess(*LEAN)
    res.assert_outcomes(passed=1, failed=1)
    assert "R61 [error]" in res.stdout.str()
