"""The host monitor catches each host-side breach in a deliberately wrong trace.

Each test records a correct trace from rasemu's own host, checks the monitor finds nothing,
then breaks the trace the way a faulty host would and expects exactly the rule id.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fakes import ALL_MPR, ALL_NT4, Opener, registry_with

from emulator.conformance.checks import check_trace
from emulator.host.engine import RasHost
from emulator.host.profiles import get_profile

A, B = "C:\\ras\\a.dll", "C:\\ras\\b.dll"
M = "MprAdmin"
Ev = dict[str, Any]


def record(profile: str = "win7", dlls: str = f"{A}; {B}", refuse: str | None = None,
           exports: frozenset[str] = ALL_MPR, links: int = 1,
           getip_error: bool = False) -> tuple[list[Ev], list[tuple[str, frozenset[str]]]]:
    from emulator.loaders.base import CallResult

    cfg: dict[str, Any] = {"*": {"exports": exports}}
    if refuse:
        cfg[refuse] = {"exports": exports, "accept": False}
    if getip_error:
        cfg["*"]["overrides"] = {f"{M}GetIpAddressForUser": lambda d, c: CallResult(5, {})}
    host = RasHost(registry_with(dlls), profile, opener=Opener(**cfg))
    assert host.start()
    s = host.connect("alice", "VPN0", links=links)
    host.connect("bob", "VPN1")
    host.disconnect(s)
    host.stop()
    dl = [(d.path, d.exports) for d in host.dlls]
    tr = [e for e in host.trace if e["session"] is not None]
    assert not check_trace(tr, dl, get_profile(profile)), "the correct trace must be clean"
    return copy.deepcopy(tr), dl


def rules_of(tr: list[Ev], dl: list[tuple[str, frozenset[str]]], profile: str = "win7") -> set[str]:
    fs = check_trace(tr, dl, get_profile(profile))
    assert all(f.subject == "host" and f.severity.value == "error" and f.evidence for f in fs)
    return {f.rule for f in fs}


def idx(tr: list[Ev], call: str, session: int = 1, nth: int = 0, dll: str | None = None) -> int:
    hits = [i for i, e in enumerate(tr) if e["call"] == call and e["session"] == session
            and (dll is None or e["dll"] == dll)]
    return hits[nth]


def test_missing_release_r32() -> None:
    tr, dl = record()
    del tr[idx(tr, f"{M}ReleaseIpAddress")]
    assert rules_of(tr, dl) == {"R32"}


def test_double_release_r32() -> None:
    tr, dl = record()
    i = idx(tr, f"{M}ReleaseIpAddress")
    tr.insert(i + 1, dict(tr[i]))
    assert rules_of(tr, dl) == {"R32"}


def test_release_before_hangup_r32() -> None:
    tr, dl = record()
    i = idx(tr, f"{M}ReleaseIpAddress")
    rel = tr.pop(i)
    tr.insert(idx(tr, f"{M}ConnectionHangupNotificationEx"), rel)
    assert rules_of(tr, dl) == {"R32"}


def test_release_without_notify_r30() -> None:
    tr, dl = record()
    tr[idx(tr, f"{M}GetIpAddressForUser")]["outputs"]["bNotifyRelease"] = 0
    assert rules_of(tr, dl) == {"R30"}


def test_release_without_get_r30() -> None:
    tr, dl = record()
    del tr[idx(tr, f"{M}GetIpAddressForUser")]
    assert "R30" in rules_of(tr, dl)


@pytest.mark.parametrize("mutate", [
    lambda e: e.__setitem__("dll", B),
    lambda e: e["args"].__setitem__(0, "mallory"),
    lambda e: e["args"].__setitem__(1, "VPN7"),
    lambda e: e["args"].__setitem__(2, "10.0.0.1"),
])
def test_release_mismatch_r31(mutate: Callable[[Ev], None]) -> None:
    tr, dl = record()
    mutate(tr[idx(tr, f"{M}ReleaseIpAddress")])
    assert rules_of(tr, dl) == {"R31"}


def test_getip_in_second_dll_r26() -> None:
    tr, dl = record()
    tr[idx(tr, f"{M}GetIpAddressForUser")]["dll"] = B
    tr[idx(tr, f"{M}ReleaseIpAddress")]["dll"] = B
    assert rules_of(tr, dl) == {"R26"}


def test_accept_out_of_order_r20() -> None:
    tr, dl = record()
    i = idx(tr, f"{M}AcceptNewConnectionEx", dll=A)
    j = idx(tr, f"{M}AcceptNewConnectionEx", dll=B)
    tr[i], tr[j] = tr[j], tr[i]
    assert rules_of(tr, dl) == {"R20"}


def test_accept_before_getip_r20() -> None:
    tr, dl = record()
    g = tr.pop(idx(tr, f"{M}GetIpAddressForUser"))
    tr.insert(idx(tr, f"{M}AcceptNewLink", nth=1), g)
    assert "R20" in rules_of(tr, dl)


def test_accept_after_refusal_r20() -> None:
    tr, dl = record(refuse=A, profile="win2003")
    # a faulty host goes on asking B after A refused
    i = idx(tr, f"{M}AcceptNewConnection2", dll=A)
    extra = dict(tr[i], dll=B, returned=1)
    tr.insert(i + 1, extra)
    assert "R20" in rules_of(tr, dl, "win2003")


def test_link_after_refusal_r22() -> None:
    tr, dl = record(refuse=A, profile="win2003")
    i = idx(tr, f"{M}AcceptNewConnection2", dll=A)
    tr.insert(i + 1, {"seq": 0, "dll": A, "instance": "conn", "call": f"{M}AcceptNewLink",
                      "args": [None, None], "returned": 1, "outputs": {}, "session": 1})
    assert rules_of(tr, dl, "win2003") == {"R22"}


def test_hangup_after_refusal_on_2000_r23() -> None:
    tr, dl = record(refuse=A, profile="win2000", dlls=A)
    i = idx(tr, f"{M}AcceptNewConnection2", dll=A)
    tr.insert(i + 1, dict(tr[i], call=f"{M}ConnectionHangupNotification2", returned=None))
    assert rules_of(tr, dl, "win2000") == {"R23"}


def test_link_hangup_after_connection_hangup_r24() -> None:
    tr, dl = record(links=2)
    i = idx(tr, f"{M}LinkHangupNotification", nth=0)
    ev = tr.pop(i)
    tr.insert(idx(tr, f"{M}ConnectionHangupNotificationEx", dll=B) + 1, ev)
    assert rules_of(tr, dl) == {"R24"}


def test_variant_mix_r25() -> None:
    tr, dl = record()
    tr[idx(tr, f"{M}ConnectionHangupNotificationEx", dll=A)]["call"] = \
        f"{M}ConnectionHangupNotification3"
    assert rules_of(tr, dl) == {"R25"}


def test_accept_after_getip_error_r28() -> None:
    tr, dl = record(getip_error=True)
    g = idx(tr, f"{M}GetIpAddressForUser")
    tr.insert(g + 1, {"dll": A, "instance": "conn", "call": f"{M}AcceptNewConnectionEx",
                      "args": [None], "returned": 1, "outputs": {}, "session": 1})
    assert rules_of(tr, dl) == {"R28"}


def test_accept_after_zero_address_r29() -> None:
    tr, dl = record()
    tr[idx(tr, f"{M}GetIpAddressForUser")]["outputs"]["lpdwIpAddress"] = "0.0.0.0"
    tr[idx(tr, f"{M}GetIpAddressForUser")]["outputs"]["bNotifyRelease"] = 0
    del tr[idx(tr, f"{M}ReleaseIpAddress")]
    assert "R29" in rules_of(tr, dl)


def test_wrong_pppinfo_address_r33() -> None:
    tr, dl = record()
    tr[idx(tr, f"{M}AcceptNewConnectionEx", dll=B)]["args"][0]["address"] = "10.9.9.9"
    assert rules_of(tr, dl) == {"R33"}


def test_bad_header_r39_and_dwsize_r40() -> None:
    tr, dl = record()
    tr[idx(tr, f"{M}AcceptNewConnectionEx", dll=A)]["args"][0]["header"] = [1, 1, 1664]
    assert rules_of(tr, dl) == {"R39"}
    tr8, dl8 = record(profile="win2008")
    tr8[idx(tr8, f"{M}AcceptNewConnection3", dll=A)]["args"][3]["dwSize"] = 788
    assert rules_of(tr8, dl8, "win2008") == {"R40"}


def test_nt4_rules_r37_r38() -> None:
    tr, dl = record(profile="nt4", dlls=A, exports=ALL_NT4, links=2)
    i = idx(tr, "RasAdminAcceptNewConnection")
    tr.insert(i + 1, copy.deepcopy(tr[i]))
    assert "R37" in rules_of(tr, dl, "nt4")
    tr, dl = record(profile="nt4", dlls=A, exports=ALL_NT4, links=2)
    del tr[idx(tr, "RasAdminConnectionHangupNotification", nth=1)]
    tr.insert(idx(tr, "RasAdminConnectionHangupNotification", nth=0),
              copy.deepcopy(tr[idx(tr, "RasAdminConnectionHangupNotification", nth=0)]))
    assert "R37" in rules_of(tr, dl, "nt4")
    tr, dl = record(profile="nt4", dlls=A, exports=ALL_NT4)
    tr[idx(tr, "RasAdminGetIpAddressForUser")]["outputs"]["bNotifyRelease"] = 0
    assert rules_of(tr, dl, "nt4") == {"R38"}


def test_probe_events_are_ignored() -> None:
    tr, dl = record()
    r = dict(tr[idx(tr, f"{M}ReleaseIpAddress")], probe=True, session=None)
    tr.append(r)
    assert not rules_of(tr, dl)


def test_live_host_monitor_is_clean_on_rasemu_itself() -> None:
    host = RasHost(registry_with(f"{A};{B}"), "win7", opener=Opener())
    host.start()
    ss = [host.connect(f"user{i}", f"VPN{i}", links=1 + i % 3) for i in range(20)]
    for s in ss[::2]:
        host.disconnect(s)
    host.stop()
    assert not [f for f in host.findings if f.subject == "host" and f.severity.value == "error"]


def test_link_after_connection_hangup_r21() -> None:
    tr, dl = record()
    i = idx(tr, f"{M}ConnectionHangupNotificationEx", dll=B)
    link = dict(tr[idx(tr, f"{M}AcceptNewLink")])
    tr.insert(i + 1, link)
    assert rules_of(tr, dl) == {"R21"}


def test_every_monitor_rule_is_proven_here() -> None:
    import inspect
    import re
    import sys

    src = inspect.getsource(sys.modules[__name__])
    proven = set(re.findall(r"== \{\"(R\d\d)\"\}|\"(R\d\d)\" in rules_of", src))
    proven_ids = {a or b for a, b in proven}
    from emulator.conformance.checks import host_monitor

    used = set(re.findall(r'self\._f\(\s*"(R\d\d)"', inspect.getsource(host_monitor)))
    used |= set(re.findall(r'self\._f\((rule30)', inspect.getsource(host_monitor))) and {"R30", "R38"}
    assert used - proven_ids == set(), f"monitor rules without a wrong-trace test: {used - proven_ids}"
