"""Property: registry -> export -> import gives the same registry and the same bytes.

Registries hold keys and values of every type with odd names (quotes, backslashes,
brackets, unicode, CR/LF in value names, empty value names). String-typed data
(REG_SZ/EXPAND_SZ/MULTI_SZ) is NUL-terminated, as regedit's import always makes it; other
REG_SZ shapes are covered in test_regfile_export.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.registry import Registry
from emulator.registry.regfile import export, import_bytes

ROOTS = ("HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "HKEY_USERS", "HKEY_CURRENT_CONFIG")

# Key names: anything but '\\', NUL and line breaks (a .reg key line cannot hold them).
key_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\\\x00\r\n")
    | st.sampled_from(list("[]\"'; =-@")),
    min_size=1, max_size=12,
)
value_names = st.one_of(
    st.just(""),
    st.text(st.characters(blacklist_characters="\x00") | st.sampled_from(list('"\\\r\n[]=;@')),
            max_size=12),
)


def string_data(types: tuple[int, ...]) -> st.SearchStrategy[tuple[int, bytes]]:
    text = st.text(st.characters(blacklist_characters="\x00"), max_size=30)
    return st.tuples(st.sampled_from(types), text.map(
        lambda s: s.encode("utf-16-le", "surrogatepass") + b"\0\0"))


def other_data() -> st.SearchStrategy[tuple[int, bytes]]:
    vtypes = st.sampled_from([0, 3, 4, 5, 6, 8, 9, 10, 11, 0xFF, 0x7FFF, 0xFFFF0001, 0xFFFFFFFF])
    return st.tuples(vtypes, st.binary(max_size=120))


value_data = st.one_of(
    string_data((1, 2, 7)),
    st.tuples(st.just(4), st.binary(min_size=4, max_size=4)),
    other_data(),
)
# REG_SZ data with embedded NULs: regedit's quoted form shortens it; lossless keeps it.
embedded_nul_sz = st.tuples(st.just(1), st.lists(
    st.text(st.characters(blacklist_characters="\x00"), max_size=5), min_size=2, max_size=3).map(
    lambda parts: "\0".join(parts).encode("utf-16-le", "surrogatepass") + b"\0\0"))


def operations_of(data: st.SearchStrategy[tuple[int, bytes]]) -> st.SearchStrategy[list[Op]]:
    return st.lists(
        st.tuples(
            st.sampled_from(ROOTS),
            st.lists(key_names, min_size=0, max_size=3),
            st.one_of(st.none(), st.tuples(value_names, data)),
        ),
        max_size=25,
    )


operations = operations_of(value_data)


Op = tuple[str, list[str], tuple[str, tuple[int, bytes]] | None]


def build(ops: list[Op]) -> Registry:
    reg = Registry()
    for root, names, value in ops:
        path = "\\".join([root, *names])
        if value is None:
            reg.create_key(path)
        else:
            name, (vtype, data) = value
            reg.set_value(path, name, vtype, data)
    return reg


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_export_import_round_trip(ops: list[Op]) -> None:
    original = build(ops)
    first = export(original)
    again = Registry()
    report = import_bytes(first, again)  # strict: an export is always regular
    assert report.clean and not report.notes
    assert again.snapshot() == original.snapshot()
    assert export(again) == first
    for root in ROOTS:
        for name, vtype, data in original.value_items(root):
            assert again.get_value(root, name) == (vtype, data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations_of(st.one_of(value_data, embedded_nul_sz)))
def test_lossless_export_round_trip(ops: list[Op]) -> None:
    original = build(ops)
    first = export(original, lossless=True)
    again = Registry()
    import_bytes(first, again)
    assert again.snapshot() == original.snapshot()
    assert export(again, lossless=True) == first
    # The regedit form is the same text except for the values it would shorten.
    assert export(again) == export(original)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_export_of_subtrees_is_a_slice_of_the_whole(ops: list[Op]) -> None:
    reg = build(ops)
    whole = export(reg)[2:].decode("utf-16-le", "surrogatepass")
    for root in ROOTS:
        if reg.subkey_names(root) or reg.value_items(root):
            part = export(reg, root)[2:].decode("utf-16-le", "surrogatepass")
            body = part[len("Windows Registry Editor Version 5.00\r\n"):-2]
            assert body in whole


@pytest.mark.wine
@pytest.mark.skipif(shutil.which("wine") is None, reason="Wine is not installed (optional oracle)")
def test_wine_regedit_export_matches(tmp_path: Path) -> None:
    """Oracle: Wine's regedit imports our export and exports the same bytes."""
    reg = build([
        ("HKEY_CURRENT_USER", ["Software", "rasemu-oracle"], ("", (1, "d\0".encode("utf-16-le")))),
        ("HKEY_CURRENT_USER", ["Software", "rasemu-oracle"], ("bin", (3, bytes(range(100))))),
        ("HKEY_CURRENT_USER", ["Software", "rasemu-oracle"], ("dw", (4, b"\1\2\3\4"))),
        ("HKEY_CURRENT_USER", ["Software", "rasemu-oracle"], ("m", (7, "a\0b\0\0".encode("utf-16-le")))),
        ("HKEY_CURRENT_USER", ["Software", "rasemu-oracle", "Sub"], ('q"\\', (1, "x\0".encode("utf-16-le")))),
    ])
    key = "HKEY_CURRENT_USER\\Software\\rasemu-oracle"
    ours = export(reg, key)
    src = tmp_path / "in.reg"
    out = tmp_path / "out.reg"
    src.write_bytes(ours)
    env_prefix = tmp_path / "prefix"
    env = {"WINEPREFIX": str(env_prefix), "WINEDEBUG": "-all", "PATH": "/usr/bin:/bin"}
    subprocess.run(["wine", "regedit", "/S", str(src)], env=env, check=True, timeout=300)
    subprocess.run(["wine", "regedit", "/E", str(out), key], env=env, check=True, timeout=300)
    assert out.read_bytes() == ours
