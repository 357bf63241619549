"""The compiled packer (``pack``/``pack_array``) equals the field-by-field reference encoder.

Byte-for-byte on valid objects, and the same exception type and message on invalid ones (R42
string limits, integers that do not fit, values of the wrong type), for every structure of
spec section 4 at both bitnesses. ``clone`` is checked against ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.abi import structs as S

BITS = [32, 64]
_CHARS = st.sampled_from(["a", "Z", "0", ".", "é", "ß", "\u20ac", "\U0001f600", "\ud800", "\0"])


def _int(fmt: str, bitness: int) -> st.SearchStrategy[Any]:
    size = {"B": 1, "H": 2, "I": 4, "i": 4, "Q": 8, "P": bitness // 8}[fmt]
    if fmt == "i":
        lo, hi = -(1 << 31), (1 << 31) - 1
    else:
        lo, hi = 0, (1 << (8 * size)) - 1
    return st.one_of(
        st.integers(lo, hi),
        st.sampled_from([lo, hi, lo - 1, hi + 1, True]),  # edges, one past them, a bool
    )


def _value(c: Any, bitness: int, depth: int) -> st.SearchStrategy[Any]:
    if isinstance(c, S._Int):
        return _int(c.fmt, bitness)
    if isinstance(c, S._WStr):
        return st.text(_CHARS, max_size=c.n + 1)
    if isinstance(c, S._CStr):
        return st.text(_CHARS, max_size=c.n + 1)
    if isinstance(c, S._Bytes):
        return st.binary(max_size=(c.n + 2) if not c.tail else 40)
    if isinstance(c, S._DataPtr):
        return st.binary(max_size=24)
    if isinstance(c, S._Nested):
        return objects(c.cls, bitness, depth + 1)
    raise AssertionError(c)


def objects(cls: type, bitness: int, depth: int = 0) -> st.SearchStrategy[Any]:
    """Objects of ``cls`` with values in and just outside every field's range."""
    kw: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):
        if f.name == "projectionInfoType" or f.name == "P_Type":
            kw[f.name] = st.sampled_from([0, 1, 2, 3])
        else:
            kw[f.name] = _value(f.metadata["c"], bitness, depth)
    return st.builds(cls, **kw)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as e:  # the same error, not just some error
        return type(e).__name__, str(e)


@st.composite
def struct_and_bits(draw: st.DrawFn) -> tuple[Any, int]:
    bitness = draw(st.sampled_from(BITS))
    cls = draw(st.sampled_from(sorted(S.STRUCTS.values(), key=lambda c: c.__name__)))
    return draw(objects(cls, bitness)), bitness


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(struct_and_bits())
def test_pack_equals_reference(case: tuple[Any, int]) -> None:
    obj, bitness = case
    assert _outcome(S.pack, obj, bitness) == _outcome(S.pack_reference, obj, bitness)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BITS), st.data())
def test_pack_array_equals_reference(bitness: int, data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from([S.RAS_PARAMETERS, S.RAS_CONNECTION_0, S.GUID,
                                     S.PROJECTION_INFO, S.RAS_PORT_1]))
    objs = data.draw(st.lists(objects(cls, bitness), max_size=4))
    base = data.draw(st.sampled_from([0, 0x10000, 0x7FFE0000]))
    assert _outcome(S.pack_array, objs, bitness, base) == _outcome(
        S.pack_array_reference, objs, bitness, base)


@pytest.mark.parametrize("bitness", BITS)
@pytest.mark.parametrize(
    "obj",
    [
        S.RAS_CONNECTION_0(hConnection="x"),  # type: ignore[arg-type]
        S.RAS_CONNECTION_0(wszUserName=5),  # type: ignore[arg-type]
        S.RAS_CONNECTION_0(wszUserName=None),  # type: ignore[arg-type]
        S.RAS_CONNECTION_0(dwConnectDuration=1.5),  # type: ignore[arg-type]
        S.RAS_CONNECTION_0(dwConnectDuration=-1),
        S.GUID(Data4=bytearray(b"12345678")),  # type: ignore[arg-type]
        S.GUID(Data4=3),  # type: ignore[arg-type]  # bytes(3): three zero bytes
        S.GUID(Data4="abc"),  # type: ignore[arg-type]
        S.RAS_CONNECTION_1(PppInfo=None),  # type: ignore[arg-type]
        S.RAS_CONNECTION_2(guid=S.FILETIME(1, 2)),  # type: ignore[arg-type]  # duck-typed
        S.PROJECTION_INFO(projectionInfoType=2),
        S.PROJECTION_INFO(projectionInfoType=2, Ikev2ProjectionInfo=None),  # type: ignore[arg-type]
        S.RAS_PARAMETERS(P_Type=1, P_Value=S.RAS_PARAMS_VALUE(String=S.RAS_PARAMS_STRING(Data=b"x"))),
        S.RAS_PARAMS_VALUE(Number=7),
        S.RAS_PARAMS_VALUE(String=S.RAS_PARAMS_STRING(Data=b"abc")),
        S.AUTH_VALIDATION_EX(AuthInfo=b"\x01\x02\x03"),
        S.NT4_RAS_PORT_1(),
        S.RAS_PPP_NBFCP_RESULT(szName="\u20ac"),  # not latin-1
    ],
    ids=repr,
)
def test_odd_values_match_reference(obj: Any, bitness: int) -> None:
    assert _outcome(S.pack, obj, bitness) == _outcome(S.pack_reference, obj, bitness)


def test_str_subclass_and_wrong_bitness_match_reference() -> None:
    class Name(str):
        pass

    obj = S.RAS_CONNECTION_0(wszUserName=Name("alice"))
    assert S.pack(obj, 64) == S.pack_reference(obj, 64)
    for bad in (16, 0, "64", [64]):
        assert _outcome(S.pack, obj, bad) == _outcome(S.pack_reference, obj, bad)
    assert _outcome(S.pack, object(), 64) == _outcome(S.pack_reference, object(), 64)


@pytest.mark.parametrize("bitness", BITS)
@pytest.mark.parametrize(
    "cls",
    [S.RAS_CONNECTION_0, S.RAS_CONNECTION_1, S.RAS_CONNECTION_2, S.RAS_CONNECTION_3,
     S.RAS_CONNECTION_EX, S.RAS_PORT_0, S.RAS_PORT_1, S.NT4_RAS_PORT_1, S.RAS_PORT_STATISTICS],
    ids=lambda c: c.__name__,
)
def test_host_structures_take_the_compiled_path(cls: type, bitness: int) -> None:
    """The structures the host passes on every call are covered by the compiled packer."""
    obj = cls()
    raw = S._compile(cls, bitness)(obj)  # raises if it would fall back to the reference
    assert raw == S.pack_reference(obj, bitness)
    assert len(raw) == S.sizeof(cls, bitness)


def test_clone_is_a_deep_copy() -> None:
    c = S.RAS_CONNECTION_EX(wszUserName="alice")
    c.ProjectionInfo.projectionInfoType = 1
    c.ProjectionInfo.PppProjectionInfo.wszRemoteAddress = "10.0.0.5"
    c.extra_note = ["not a field"]  # type: ignore[attr-defined]
    k = S.clone(c)
    assert k == c == copy.deepcopy(c)
    assert k.ProjectionInfo is not c.ProjectionInfo and k.guid is not c.guid
    assert k.extra_note == c.extra_note and k.extra_note is not c.extra_note  # type: ignore[attr-defined]
    k.ProjectionInfo.PppProjectionInfo.wszRemoteAddress = "10.0.0.6"
    k.guid.Data1 = 9
    assert c.ProjectionInfo.PppProjectionInfo.wszRemoteAddress == "10.0.0.5"
    assert c.guid.Data1 == 0
    params = [S.RAS_PARAMETERS(P_Key="A"), S.RAS_PARAMETERS(P_Key="B")]
    kp = S.clone(params)
    assert kp == params and all(a is not b for a, b in zip(kp, params, strict=True))
    assert S.clone(("t", [1])) == ("t", [1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(struct_and_bits())
def test_clone_equals_deepcopy(case: tuple[Any, int]) -> None:
    obj, _ = case
    assert S.clone(obj) == copy.deepcopy(obj)


@pytest.mark.parametrize("bitness", BITS)
def test_compiled_is_pack_without_the_fallback(bitness: int) -> None:
    """structs.compiled (the native loader's hot path) gives pack's bytes for what it covers,
    and raises where pack falls back to the reference encoder or reports the error."""
    ex = S.RAS_CONNECTION_EX(wszUserName="alice", dwBytesXmited=1500)
    assert S.compiled("RAS_CONNECTION_EX", bitness)(ex) == S.pack(ex, bitness)
    long_name = S.RAS_PORT_0(wszPortName="P" * 17)  # no room for the NUL (R42)
    with pytest.raises(Exception):  # noqa: B017 - any exception makes the caller use pack()
        S.compiled(S.RAS_PORT_0, bitness)(long_name)
    with pytest.raises(ValueError, match="wszPortName"):
        S.pack(long_name, bitness)
