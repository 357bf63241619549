"""The pytest plugin without a profile anywhere: the win7 profile of the DLL's bitness."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
PREBUILT = ROOT / "fixtures" / "dlls" / "prebuilt"
LEAN = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark",
        "-p", "no:fakefs")

SUITE = f'''
import pytest

@pytest.mark.rasemu(dll={str(PREBUILT / "good32.dll")!r})
def test_pe32(rasemu_settings, ras_host):
    assert rasemu_settings.profile == "win7-x86"
    s = ras_host.connect("alice", "VPN1-0")
    assert s.state == "connected"

@pytest.mark.rasemu(dll={str(PREBUILT / "good64.dll")!r})
def test_pe32plus(rasemu_settings):
    assert rasemu_settings.profile == "win7-x64"

@pytest.mark.rasemu(dll={str(ROOT / "fixtures" / "standins" / "good.py")!r})
def test_standin(rasemu_settings):
    assert rasemu_settings.profile == "win7-x64"

@pytest.mark.rasemu(dll={str(PREBUILT / "good32.dll")!r}, profile="win7-x64")
def test_explicit(rasemu_settings):
    assert rasemu_settings.profile == "win7-x64"

@pytest.mark.rasemu(dll=[{str(PREBUILT / "good32.dll")!r}, {str(PREBUILT / "good64.dll")!r}])
def test_mixed(rasemu_settings):
    pass
'''


def test_plugin_default_profile_follows_the_dll(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_vendor=SUITE)
    res = pytester.runpytest_subprocess(*LEAN)
    res.assert_outcomes(passed=4, errors=1)
    res.stdout.fnmatch_lines(["*the admin DLLs are of different bitness (win7-x64, win7-x86)*"])
