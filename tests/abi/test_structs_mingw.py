"""Compare every layout with mingw-w64's own <mprapi.h>/<rassapi.h> (compiled offsetof/sizeof).

The C file puts ``sizeof``/``offsetof`` values into a constant array; ``gcc -S`` emits them as
``.long`` lines in order, which the test reads back. mingw's MPRAPI_ADMIN_DLL_CALLBACKS lacks two
SDK slots (spec 2.7): it must match our ``_MINGW`` variant and differ from the SDK one.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from emulator.abi import structs as S

pytestmark = pytest.mark.mingw

COMPILERS = {32: "i686-w64-mingw32-gcc", 64: "x86_64-w64-mingw32-gcc"}

# Python class -> C type name, per translation unit (mprapi.h and rassapi.h clash on RAS_PORT_*).
MPRAPI = {
    name: name
    for name in (
        "GUID",
        "FILETIME",
        "MPRAPI_OBJECT_HEADER",
        "PPP_NBFCP_INFO",
        "PPP_IPCP_INFO",
        "PPP_IPCP_INFO2",
        "PPP_IPXCP_INFO",
        "PPP_ATCP_INFO",
        "PPP_CCP_INFO",
        "PPP_LCP_INFO",
        "PPP_IPV6_CP_INFO",
        "PPP_INFO",
        "PPP_INFO_2",
        "PPP_INFO_3",
        "RAS_CONNECTION_0",
        "RAS_CONNECTION_1",
        "RAS_CONNECTION_2",
        "RAS_CONNECTION_3",
        "PPP_PROJECTION_INFO",
        "IKEV2_PROJECTION_INFO",
        "PROJECTION_INFO",
        "RAS_CONNECTION_EX",
        "RAS_PORT_0",
        "RAS_PORT_1",
        "AUTH_VALIDATION_EX",
    )
}
MPRAPI["MPRAPI_ADMIN_DLL_CALLBACKS_MINGW"] = "MPRAPI_ADMIN_DLL_CALLBACKS"
RASSAPI = {
    "NT4_RAS_PORT_0": "RAS_PORT_0",
    "NT4_RAS_PORT_1": "RAS_PORT_1",
    "RAS_PPP_NBFCP_RESULT": "RAS_PPP_NBFCP_RESULT",
    "RAS_PPP_IPCP_RESULT": "RAS_PPP_IPCP_RESULT",
    "RAS_PPP_IPXCP_RESULT": "RAS_PPP_IPXCP_RESULT",
    "RAS_PPP_ATCP_RESULT": "RAS_PPP_ATCP_RESULT",
    "RAS_PPP_PROJECTION_RESULT": "RAS_PPP_PROJECTION_RESULT",
    "RAS_PORT_STATISTICS": "RAS_PORT_STATISTICS",
    "RAS_PARAMS_VALUE": "RAS_PARAMS_VALUE",
    "RAS_PARAMETERS": "RAS_PARAMETERS",
}


def _paths(cls: type, prefix: str = "") -> list[str]:
    """Every field path (nested structures recursed) of a structure class."""
    out: list[str] = []
    for f in dataclasses.fields(cls):
        path = prefix + f.name
        out.append(path)
        sub = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        if isinstance(sub, type) and dataclasses.is_dataclass(sub):
            out.extend(_paths(sub, path + "."))
    return out


def _probes(table: dict[str, str]) -> list[tuple[str, str | None, str]]:
    """(python struct, field path or None for sizeof, C expression)."""
    probes: list[tuple[str, str | None, str]] = []
    for py, c in table.items():
        probes.append((py, None, f"sizeof({c})"))
        for path in _paths(S.STRUCTS[py]):
            probes.append((py, path, f"offsetof({c}, {path})"))
    return probes


HEADERS = {
    "mprapi": "#include <windows.h>\n#include <mprapi.h>\n",
    "rassapi": "#include <windows.h>\n#include <rassapi.h>\n",
}


def _compile(tmp: Path, cc: str, header: str, exprs: list[str]) -> list[int]:
    src = tmp / f"probe_{header}.c"
    body = ",\n".join(f"  (unsigned)({e})" for e in exprs)
    src.write_text(
        "#define _WIN32_WINNT 0x0601\n"
        + HEADERS[header]
        + "#include <stddef.h>\n"
        + f"const unsigned rasemu_probe[] = {{\n{body}\n}};\n"
    )
    asm = tmp / f"probe_{header}.s"
    proc = subprocess.run(
        [cc, "-S", "-O0", "-o", str(asm), str(src)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    text = asm.read_text()
    start = text.index("rasemu_probe:")
    values = [int(v, 0) for v in re.findall(r"^\s*\.long\s+(\S+)", text[start:], re.M)]
    assert len(values) >= len(exprs)
    return values[: len(exprs)]


@pytest.mark.parametrize("bitness", [32, 64])
def test_layouts_match_mingw_headers(bitness: int, tmp_path: Path) -> None:
    cc = COMPILERS[bitness]
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    mismatches = []
    checked = 0
    for header, table in (("mprapi", MPRAPI), ("rassapi", RASSAPI)):
        probes = _probes(table)
        values = _compile(tmp_path, cc, header, [e for _, _, e in probes])
        for (py, path, expr), got in zip(probes, values, strict=True):
            ours = S.sizeof(py, bitness) if path is None else S.offsetof(py, path, bitness)
            checked += 1
            if ours != got:
                mismatches.append(f"{expr}: mingw {got}, structs.py {ours}")
    assert not mismatches, "\n".join(mismatches)
    assert checked > 500


@pytest.mark.parametrize("bitness", [32, 64])
def test_sdk_table_differs_from_mingw_only_in_the_two_missing_slots(
    bitness: int, tmp_path: Path
) -> None:
    cc = COMPILERS[bitness]
    if shutil.which(cc) is None:
        pytest.skip(f"{cc} not installed")
    slots = [
        f.name for f in dataclasses.fields(S.MPRAPI_ADMIN_DLL_CALLBACKS) if f.name != "revision"
    ]
    mingw_slots = {f.name for f in dataclasses.fields(S.MPRAPI_ADMIN_DLL_CALLBACKS_MINGW)}
    exprs = ["sizeof(MPRAPI_ADMIN_DLL_CALLBACKS)"] + [
        f"offsetof(MPRAPI_ADMIN_DLL_CALLBACKS, {s})" for s in slots if s in mingw_slots
    ]
    values = _compile(tmp_path, cc, "mprapi", exprs)
    ptr = bitness // 8
    assert values[0] == S.sizeof("MPRAPI_ADMIN_DLL_CALLBACKS", bitness) - 2 * ptr
    shifted = [
        s
        for s, v in zip([s for s in slots if s in mingw_slots], values[1:], strict=True)
        if v != S.offsetof("MPRAPI_ADMIN_DLL_CALLBACKS", s, bitness)
    ]
    assert shifted == [
        "lpfnRasAdminAcceptReauthenticationEx",
        "lpfnRasAdminConnectionHangupNotificationEx",
    ]
