"""Scenario files: validation messages name the file, the step and the field (InputError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.errors import InputError
from emulator.host.scenarios import (
    QUARANTINE_STATES,
    expand,
    load_scenario,
    standard_scenario_names,
    standard_scenarios,
)

HEAD = '[scenario]\nname = "t"\ndescription = "d"\n'


def write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    p = tmp_path / "scn.toml"
    p.write_text(head + body, encoding="utf-8")
    return p


def err(tmp_path: Path, body: str, head: str = HEAD) -> str:
    with pytest.raises(InputError) as exc:
        load_scenario(write(tmp_path, body, head))
    return str(exc.value)


def test_valid_file_fills_defaults(tmp_path: Path) -> None:
    scn = load_scenario(write(tmp_path, '[[steps]]\ndo = "connect"\ncount = 3\n'
                                        '[[steps]]\ndo = "disconnect"\ncount = 1\npick = "last"\n'))
    assert scn.name == "t" and scn.description == "d"
    c, d = scn.steps
    assert (c.number, c.do) == (1, "connect")
    assert c.params["count"] == 3 and c.params["user"] == "user{i}" and c.params["port"] == "VPN1-{i}"
    assert c.params["concurrent"] is False and c.params["links"] == 1
    assert d.params == {"count": 1, "pick": "last", "seed": 0, "concurrent": False, "workers": 4,
                        "at_once": False, "note": ""}


def test_unknown_field_suggests_the_close_one(tmp_path: Path) -> None:
    msg = err(tmp_path, '[[steps]]\ndo = "connect"\n[[steps]]\ndo = "connect"\ncout = 3\n')
    assert msg.startswith(str(tmp_path / "scn.toml") + ": step 2: unknown field 'cout'")
    assert "(did you mean 'count'?)" in msg


def test_unknown_action_suggests(tmp_path: Path) -> None:
    msg = err(tmp_path, '[[steps]]\ndo = "conect"\n')
    assert "step 1: unknown action 'conect' (did you mean 'connect'?)" in msg
    assert "probe_release_unknown" in msg  # lists what is expected


def test_missing_do(tmp_path: Path) -> None:
    assert "step 1: missing field 'do'" in err(tmp_path, '[[steps]]\ncount = 2\n')


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('do = "connect"\ncount = -1', "step 1: field 'count' must be an integer >= 0, got -1"),
        ('do = "connect"\ncount = "3"', "field 'count' must be an integer, got '3'"),
        ('do = "connect"\ncount = true', "field 'count' must be an integer, got True"),
        ('do = "connect"\nlinks = 0', "field 'links' must be an integer >= 1, got 0"),
        ('do = "connect"\nconcurrent = "yes"', "field 'concurrent' must be true or false"),
        ('do = "connect"\nat_once = 1', "field 'at_once' must be true or false"),
        ('do = "connect"\nat_once = true\nconcurrent = true', "'at_once' and 'concurrent' exclude each other"),
        ('do = "disconnect"\nat_once = true\nconcurrent = true', "'at_once' and 'concurrent' exclude each other"),
        ('do = "add_link"\nat_once = true', "unknown field 'at_once' for 'add_link'"),
        ('do = "disconnect"\npick = "frist"', "field 'pick' must be one of 'first', 'last', 'random', got 'frist' (did you mean 'first'?)"),
        ('do = "disconnect"\ncount = "some"', "field 'count' must be an integer or \"all\""),
        ('do = "reauth"\nquarantine = "quarantined"', "did you mean 'quarantine'?"),
        ('do = "reauth"\nquarantine = 7', "field 'quarantine' must be one of"),
        ('do = "connect"\nuser = "u{j}"', "field 'user': unknown placeholder {j}"),
        ('do = "connect"\nport = "P{i"', "field 'port': unmatched '{'"),
        ('do = "connect"\nproposed = "10.0.0.300"', "field 'proposed' must be a dotted IPv4 address"),
        ('do = "expect"', "'expect' needs at least one check"),
        ('do = "expect"\nconnected = -2', "field 'connected' must be an integer >= 0"),
        ('do = "expect"\nconected = 2', "(did you mean 'connected'?)"),
        ('do = "expect"\nconnected = 1\nseverity = "fatal"', "field 'severity' must be one of 'error', 'warning', 'info'"),
    ],
)
def test_wrong_values_name_step_and_field(tmp_path: Path, body: str, needle: str) -> None:
    msg = err(tmp_path, "[[steps]]\n" + body + "\n")
    assert needle in msg, msg
    assert msg.startswith(str(tmp_path / "scn.toml") + ": step 1: ")


def test_header_errors(tmp_path: Path) -> None:
    assert "missing [scenario] table" in err(tmp_path, '[[steps]]\ndo = "connect"\n', head="")
    assert "unknown top-level key 'step' (did you mean 'steps'?)" in err(tmp_path, '[[step]]\ndo = "connect"\n')
    assert "a scenario needs at least one step" in err(tmp_path, "")
    bad_prof = '[scenario]\nname = "t"\nprofiles = ["win8"]\n'
    msg = err(tmp_path, '[[steps]]\ndo = "connect"\n', head=bad_prof)
    assert "[scenario]: unknown profile 'win8'" in msg and "win7-x64" in msg
    typo = '[scenario]\nname = "t"\ndescriptoin = "x"\n'
    assert "(did you mean 'description'?)" in err(tmp_path, '[[steps]]\ndo = "connect"\n', head=typo)
    assert "field 'name'" in err(tmp_path, '[[steps]]\ndo = "connect"\n', head='[scenario]\nname = ""\n')
    assert "min_dlls" in err(tmp_path, '[[steps]]\ndo = "connect"\n', head='[scenario]\nname = "x"\nmin_dlls = 0\n')


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    p = write(tmp_path, '[[steps]]\ndo = "connect\n')
    with pytest.raises(InputError) as exc:
        load_scenario(p)
    assert exc.value.where == str(p) and exc.value.line == 5 and exc.value.column is not None
    assert "invalid TOML" in str(exc.value)


def test_unknown_name_and_missing_file() -> None:
    with pytest.raises(InputError, match=r"unknown scenario 'basc' \(did you mean 'basic'\?\)"):
        load_scenario("basc")
    with pytest.raises(InputError, match="scenario file not found"):
        load_scenario("nowhere/x.toml")


def test_templates() -> None:
    assert expand("VPN1-{i}", {"i": 7}) == "VPN1-7"
    assert expand("{a*3}-{{i}}", {}) == "aaa-{i}"
    assert len(expand("{u*256}", {})) == 256


def test_standard_library_loads_and_is_complete() -> None:
    names = standard_scenario_names()
    for required in ("basic", "many-users", "pool-exhaustion", "multilink", "quarantine",
                     "odd-names", "release-unknown", "concurrency", "restart"):
        assert required in names
    for scn in standard_scenarios():
        assert scn.description, scn.name
        assert scn.source == f"standard:{scn.name}"
    assert load_scenario("quarantine").applies_to("win2008-x86")
    assert not load_scenario("quarantine").applies_to("win2003-x64")
    assert not load_scenario("multi-dll").applies_to("win7-x64", dll_count=1)
    assert load_scenario("multi-dll").applies_to("win7-x64", dll_count=2)
    assert QUARANTINE_STATES["probation"] == 2


def test_odd_names_limits() -> None:
    scn = load_scenario("odd-names")
    users = [expand(s.params["user"], {"i": 0}) for s in scn.steps if s.do == "connect"]
    ports = [expand(s.params["port"], {"i": 0}) for s in scn.steps if s.do == "connect"]
    assert 256 in map(len, users) and 16 in map(len, ports)  # UNLEN, MAX_PORT_NAME (R71)
    assert "" in users and "" in ports
    assert any(any(ord(ch) > 0xFFFF for ch in u) for u in users)  # needs a UTF-16 surrogate pair
