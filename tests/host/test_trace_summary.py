"""Trace summaries of structure arguments: the per-class fast form equals the generic reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

import pytest

from emulator.abi import structs as S
from emulator.host import connection as C
from emulator.host.trace import _summarise_generic, summarise_struct

SIGS = ["MprAdminAcceptNewConnection", "MprAdminAcceptNewConnection2",
        "MprAdminAcceptNewConnection3", "MprAdminAcceptNewConnectionEx",
        "MprAdminAcceptNewLink", "RasAdminAcceptNewConnection"]


def _objects() -> list[Any]:
    s = C.SessionInfo(9, "dave", "VPN9", address=IPv4Address("10.0.0.9"), quarantine_state=2)
    out: list[Any] = []
    for sig in SIGS:
        out += [a for a in C.build_args(sig, s, 64, port="VPN9") if not isinstance(a, list)]
    return out


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: type(o).__name__)
def test_summary_equals_generic(obj: Any) -> None:
    assert summarise_struct(obj) == _summarise_generic(obj)
    assert list(summarise_struct(obj)) == list(_summarise_generic(obj))  # same key order


def test_odd_objects_read_like_before() -> None:
    c = S.RAS_CONNECTION_0(hConnection=5, wszUserName="eve")
    c.wszUserName = None  # type: ignore[assignment]
    assert summarise_struct(c) == _summarise_generic(c) == {"struct": "RAS_CONNECTION_0",
                                                            "hConnection": 5}
    p = S.RAS_PORT_0(hPort=3, wszPortName="VPN1")
    p.wszUserName = "extra"  # type: ignore[attr-defined]  # not a field: read as before
    assert summarise_struct(p) == _summarise_generic(p)
    assert summarise_struct(p)["user"] == "extra"
    q = S.RAS_PORT_1(hPort=4)
    del q.hConnection
    assert summarise_struct(q) == _summarise_generic(q)

    @dataclass
    class RAS_CONNECTION_1:  # a look-alike of another module: the generic path
        hConnection: int = 1
        wszUserName: str = "x"
        PppInfo: S.PPP_INFO = field(default_factory=S.PPP_INFO)

    look = RAS_CONNECTION_1()
    assert summarise_struct(look) == _summarise_generic(look)
