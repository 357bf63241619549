"""Snapshots, diff, to_text/to_reg, and Hypothesis properties of the model."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.registry import (
    REG_DWORD,
    REG_SZ,
    KeyNotFoundError,
    Registry,
    RegistryDiff,
    ValueChange,
    diff,
    regfile,
)


def sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def sample() -> Registry:
    reg = Registry()
    reg.set_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "DLLPath", REG_SZ, sz("C:\\a.dll"))
    reg.set_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "DisplayName", REG_SZ, sz("Pool"))
    reg.set_value(r"HKLM\SOFTWARE\Vendor", "n", REG_DWORD, b"\1\0\0\0")
    reg.create_key(r"HKLM\SOFTWARE\Old\Deep")
    return reg


def test_diff_of_identical_snapshots_is_empty() -> None:
    reg = sample()
    a = reg.snapshot()
    assert diff(a, a).is_empty
    assert diff(a, reg.snapshot()).is_empty
    assert diff(a, sample().snapshot()).is_empty  # equal content, no shared nodes
    assert a == sample().snapshot()
    assert diff(a, a).to_text() == ""


def test_diff_reports_every_kind_of_change() -> None:
    reg = sample()
    a = reg.snapshot()
    reg.set_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "dllpath", REG_SZ, sz("C:\\b.dll"))
    reg.delete_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "DisplayName")
    reg.set_value(r"HKLM\SOFTWARE\New\Sub", "x", REG_DWORD, b"\2\0\0\0")
    reg.delete_key(r"HKLM\SOFTWARE\Old", recursive=True)
    d = diff(a, reg.snapshot())
    admin = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RAS\AdminDll"
    assert d == RegistryDiff(
        keys_added=(r"HKEY_LOCAL_MACHINE\SOFTWARE\New", r"HKEY_LOCAL_MACHINE\SOFTWARE\New\Sub"),
        keys_removed=(r"HKEY_LOCAL_MACHINE\SOFTWARE\Old",),
        values_added=((r"HKEY_LOCAL_MACHINE\SOFTWARE\New\Sub", "x", (REG_DWORD, b"\2\0\0\0")),),
        values_removed=((admin, "DisplayName", (REG_SZ, sz("Pool"))),),
        values_changed=(ValueChange(admin, "DLLPath", (REG_SZ, sz("C:\\a.dll")),
                                    (REG_SZ, sz("C:\\b.dll"))),),
    )
    text = d.to_text()
    assert "- key HKEY_LOCAL_MACHINE\\SOFTWARE\\Old" in text
    assert "~ value " + admin + " 'DLLPath': REG_SZ 'C:\\\\a.dll' -> REG_SZ 'C:\\\\b.dll'" in text
    reg_text = d.to_reg()
    assert reg_text.startswith("Windows Registry Editor Version 5.00\r\n")
    assert "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Old]\r\n" in reg_text
    assert '"DisplayName"=-\r\n' in reg_text


def test_to_reg_applied_to_a_turns_it_into_b() -> None:
    reg = sample()
    a = reg.snapshot()
    reg.set_value(r"HKLM\SOFTWARE\Vendor", "n", 0x99, b"\xaa")
    reg.set_value(r"HKLM\SOFTWARE\Vendor", "", REG_SZ, sz("default"))
    reg.delete_key(r"HKLM\SOFTWARE\Old", recursive=True)
    reg.delete_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "DisplayName")
    b = reg.snapshot()
    reg.restore(a)
    regfile.import_bytes(diff(a, b).to_reg().encode("utf-16"), reg)
    assert diff(reg.snapshot(), b).is_empty


def test_subtree_diff_and_mismatch() -> None:
    reg = sample()
    a = reg.snapshot(r"HKLM\SOFTWARE\Microsoft\RAS")
    reg.set_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "X", REG_DWORD, b"\0\0\0\0")
    reg.set_value(r"HKLM\SOFTWARE\Elsewhere", "X", REG_DWORD, b"\0\0\0\0")
    d = diff(a, reg.snapshot(r"hklm\software\microsoft\ras"))
    assert [p for p, _, _ in d.values_added] == [r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RAS\AdminDll"]
    with pytest.raises(ValueError):
        diff(a, reg.snapshot())


def test_snapshot_reads() -> None:
    snap = sample().snapshot()
    assert snap.subkey_names(r"HKLM\SOFTWARE") == ["Microsoft", "Old", "Vendor"]
    assert snap.key_exists(r"hklm\software\old\deep")
    with pytest.raises(KeyNotFoundError):
        snap.value_items(r"HKLM\Nope")
    sub = sample().snapshot(r"HKLM\SOFTWARE\Old")
    assert sub.key_exists(r"HKLM\SOFTWARE\Old\Deep")
    assert not sub.key_exists(r"HKLM\SOFTWARE\Vendor")


# -- Hypothesis ---------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "A", "b", "Key", "KEY", "ä", "Ä", "x y", "z/1", "_"])
VALUE_NAMES = st.sampled_from(["", "v", "V", "DLLPath", "DllPath", "a\\b", "ß"])
TYPES = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x1234])
PATHS = st.lists(NAMES, min_size=1, max_size=4).map(lambda parts: "HKLM\\" + "\\".join(parts))

STRING_TYPES = (1, 2, 6, 7)  # .reg keeps only NUL-terminated strings without embedded NULs
WELL_FORMED = st.text(alphabet="abé😀", max_size=5).map(lambda t: (t + "\0").encode("utf-16-le"))
TYPED = TYPES.flatmap(
    lambda t: st.tuples(st.just(t), WELL_FORMED if t in STRING_TYPES else st.binary(max_size=12)))

OPS = st.one_of(
    TYPED.flatmap(lambda td: st.tuples(st.just("set"), PATHS, VALUE_NAMES, st.just(td[0]),
                                        st.just(td[1]))),
    st.tuples(st.just("create"), PATHS),
    st.tuples(st.just("delete"), PATHS),
    st.tuples(st.just("delvalue"), PATHS, VALUE_NAMES),
)


def apply_ops(reg: Registry, ops: list[tuple[object, ...]]) -> None:
    for op in ops:
        kind, path = op[0], str(op[1])
        try:
            if kind == "set":
                reg.set_value(path, str(op[2]), int(op[3]), bytes(op[4]))  # type: ignore[call-overload]
            elif kind == "create":
                reg.create_key(path)
            elif kind == "delete":
                reg.delete_key(path, recursive=True)
            else:
                reg.delete_value(path, str(op[2]))
        except LookupError:
            pass


def reference(ops: list[tuple[object, ...]]) -> dict[tuple[str, ...], dict[str, tuple[int, bytes]]]:
    """A plain model: case folded with str.upper (the names used here fold simply)."""
    keys: dict[tuple[str, ...], dict[str, tuple[int, bytes]]] = {(): {}}
    for op in ops:
        parts = tuple(p.upper() for p in str(op[1]).split("\\")[1:])
        if op[0] in ("set", "create"):
            for i in range(1, len(parts) + 1):
                keys.setdefault(parts[:i], {})
            if op[0] == "set":
                keys[parts][str(op[2]).upper()] = (int(op[3]), bytes(op[4]))  # type: ignore[call-overload]
        elif op[0] == "delete":
            for k in [k for k in keys if k[: len(parts)] == parts]:
                del keys[k]
        elif parts in keys:
            keys[parts].pop(str(op[2]).upper(), None)
    return keys


def contents(reg: Registry) -> dict[tuple[str, ...], dict[str, tuple[int, bytes]]]:
    out = {}
    for path, values in reg.snapshot("HKLM").walk():
        parts = tuple(p.upper() for p in path.split("\\")[1:])
        out[parts] = {n.upper(): (t, d) for n, t, d in values}
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=30))
def test_model_matches_a_reference_dictionary(ops: list[tuple[object, ...]]) -> None:
    reg = Registry()
    apply_ops(reg, ops)
    assert contents(reg) == reference(ops)


@settings(max_examples=100, deadline=None)
@given(st.lists(OPS, max_size=20), st.lists(OPS, max_size=20))
def test_restore_round_trip_and_diff_properties(first: list[tuple[object, ...]],
                                                 second: list[tuple[object, ...]]) -> None:
    reg = Registry()
    apply_ops(reg, first)
    snap = reg.snapshot()
    before = contents(reg)
    twin = Registry()
    apply_ops(twin, first)
    assert diff(snap, twin.snapshot()).is_empty
    apply_ops(reg, second)
    after = reg.snapshot()
    d = diff(snap, after)
    assert d.is_empty == (contents(reg) == before)
    reg.restore(snap)
    assert contents(reg) == before
    assert diff(snap, reg.snapshot()).is_empty
    # the .reg form of the diff replays the change
    regfile.import_bytes(d.to_reg().encode("utf-16"), reg)
    assert diff(reg.snapshot(), after).is_empty
