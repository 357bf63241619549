"""Whatever a scenario file holds, loading it gives a Scenario or an InputError, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import InputError
from emulator.host.scenarios import ACTIONS, parse_scenario

KEYS = sorted({k for fields in ACTIONS.values() for k in fields} | {"do", "note", "cout", ""})
VALUES = st.one_of(
    st.integers(-5, 300), st.booleans(), st.text(max_size=12), st.sampled_from(sorted(ACTIONS)),
    st.sampled_from(["all", "first", "random", "quarantine", "10.0.0.{i}", "{x*3}", "{", "{j}"]),
    st.lists(st.integers(), max_size=2), st.floats(allow_nan=False),
)
STEP = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)
DOC = st.fixed_dictionaries(
    {"scenario": st.dictionaries(st.sampled_from(["name", "description", "profiles", "min_dlls", "nam"]),
                                 st.one_of(VALUES, st.just("ok-name"), st.just(["win7"])), max_size=4)},
    optional={"steps": st.one_of(st.lists(STEP, max_size=4), VALUES)},
)


@settings(max_examples=300, deadline=None)
@given(DOC)
def test_parse_never_crashes(doc: dict[str, Any]) -> None:
    try:
        scn = parse_scenario(doc, where="fuzz.toml")
    except InputError as exc:
        assert str(exc).startswith("fuzz.toml: ")
        return
    assert scn.steps and all(step.do in ACTIONS for step in scn.steps)
