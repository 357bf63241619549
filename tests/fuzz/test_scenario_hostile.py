"""Hostile scenario files: wrong types, unknown fields, huge counts, odd braces, deep TOML.

Invariant: load_scenario gives a Scenario or one InputError naming the file; huge counts are
refused at load time (never attempted); deep or dotted TOML cannot exhaust the stack or memory.
"""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz
from emulator.errors import InputError
from emulator.host.scenarios import MAX_COUNT, MAX_FILE_BYTES, load_scenario

from .helpers import check

HEAD = '[scenario]\nname = "x"\n\n[[steps]]\n'


def load(tmp_path: Path, text: str) -> str | None:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    try:
        with fuzz.time_limit(20):
            load_scenario(path)
    except InputError as exc:
        msg = fuzz.check_message(exc)
        assert msg.startswith(str(path)), msg
        return msg
    return None


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ('do = "connect"\ncount = 1000000000000\n', "'count' must be an integer 0..100000"),
        ('do = "disconnect"\ncount = 1000000000000\n', "'count' must be an integer 0..100000"),
        ('do = "add_link"\nsessions = 10000000\n', "'sessions' must be an integer"),
        ('do = "add_link"\nlinks = 1000000000\n', "'links' must be an integer 1..1000"),
        ('do = "probe_release_unknown"\ncount = 1000000000000\n', "'count' must be"),
        ('do = "connect"\nconcurrent = true\nworkers = 100000\n', "'workers' must be"),
        ('do = "connect"\nstart = 10000000000\n', "'start' must be"),
        ('do = "connect"\ncount = "10"\n', "'count' must be an integer"),
        ('do = "connect"\ncount = 1.5\n', "'count' must be an integer"),
        ('do = "connect"\ncount = true\n', "'count' must be an integer"),
        ('do = "connect"\ncont = 1\n', "unknown field 'cont'"),
        ('do = "connect"\nuser = "{"\n', "unmatched '{'"),
        ('do = "connect"\nuser = "}{"\n', "unmatched '}'"),
        ('do = "connect"\nuser = "{{{i}}}}"\n', "unmatched '}'"),
        ('do = "connect"\nuser = "{j}"\n', "unknown placeholder {j}"),
        ('do = "connect"\nuser = "{i*9999999}"\n', "unknown placeholder"),
        ('do = "connect"\ncount = 30\nproposed = "10.0.0.{i}{i}"\n', "not an IPv4 address"),
        ('do = "probe_release_unknown"\ncount = 300\n', "gives '10.254.254.256' for i=256"),
        ('do = "connect"\nstart = 200\ncount = 100\nproposed = "10.1.{i}.1"\n', "for i=256"),
    ],
)
def test_refused_with_a_clear_error(tmp_path: Path, body: str, expect: str) -> None:
    msg = load(tmp_path, HEAD + body)
    assert msg is not None and expect in msg, msg


def test_limits_still_accept_the_largest_allowed(tmp_path: Path) -> None:
    assert load(tmp_path, HEAD + f'do = "connect"\ncount = {MAX_COUNT}\n') is None
    assert load(tmp_path, HEAD + 'do = "connect"\nuser = "{{x}}{i}{x*3}"\ncount = 2\n') is None
    assert load(tmp_path, HEAD + 'do = "probe_release_unknown"\ncount = 255\nstart = 1\n') is None


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 5000 + "]" * 5000,
        "a = [\n" + "[\n" * 3000 + "]\n" * 3001,
        "a = " + "{b = " * 3000 + "1" + "}" * 3000,
        "a.b" + ".c" * 100_000 + " = 1",
        "x = {" + "e." * 100_000 + "e = 1}",
        "[" + "e." * 100_000 + "e]",
        "[" + '"".' * 100_000 + '""]',
        "\x00",
        "\ud800",
    ],
    ids=["arrays", "arrays-multiline", "inline-tables", "dotted-key", "inline-dotted",
         "table-header", "quoted-header", "nul", "surrogate"],
)
def test_deep_toml_is_refused_in_bounded_memory(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info, fuzz.time_limit(20):
            load_scenario(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "\n" not in str(info.value) and str(info.value).startswith(str(path))
    assert peak < 64 << 20


def test_oversized_file(tmp_path: Path) -> None:
    msg = load(tmp_path, HEAD + 'do = "connect"\nnote = "' + "x" * MAX_FILE_BYTES + '"\n')
    assert msg is not None and "at most" in msg


def test_odd_paths(tmp_path: Path) -> None:
    for arg in (str(tmp_path), str(tmp_path / "missing.toml"), str(tmp_path / "a\nb.toml"),
                "no-such-scenario", "x" * 5000 + ".toml"):
        with pytest.raises(InputError) as info:
            load_scenario(arg)
        assert str(info.value).strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_generated_and_mutated_files(seed: int, tmp_path: Path) -> None:
    check("scenario", fuzz.gen_scenario(random.Random(seed)), tmp_path)
