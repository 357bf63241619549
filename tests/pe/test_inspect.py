"""``rasemu inspect``: PE facts, R49 advice, import support, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.cli import main
from tests.pe.conftest import build_testdll, prebuilt


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_text_report_of_the_reference_dll(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", str(prebuilt("good", 64)))
    assert code == 0
    assert "Machine:       x64 (PE32+" in out
    assert "MprAdminGetIpAddressForUser" in out
    assert "Admin callbacks present (22)" in out
    assert "0 not implemented by the emulator" in out
    assert "TLS callbacks: 2" in out
    assert "R49" not in out


def test_decorated_exports_get_r49_advice(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", str(prebuilt("bad_decorated", 32)))
    assert code == 0
    assert "MprAdminGetIpAddressForUser  as MprAdminGetIpAddressForUser@16 [R49]" in out
    assert "-Wl,--kill-at" in out and ".def file" in out


def test_json_lists_unsupported_imports(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", "--json", str(build_testdll(64)))
    assert code == 0
    info = json.loads(out)
    assert info["machine"] == "x64" and info["dll"] is True
    missing = [f"{i['dll'].lower()}!{i['name']}" for i in info["imports"] if not i["supported"]]
    assert missing == ["rasemu_absent.dll!AbsentFunction"]
    assert info["unsupported_imports"] == 1
    assert info["relocations"] > 0
    assert {c["name"] for c in info["admin_callbacks"]} == {
        "RasAdminGetIpAddressForUser",
        "RasAdminReleaseIpAddress",
    }


def test_ordinal_imports_shown_by_ordinal(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "inspect", str(build_testdll(32, ws2="ordinal")))
    assert "ws2_32.dll!#8  ok" in out and "ws2_32.dll!#14  ok" in out


@pytest.mark.parametrize("kind", ["text", "missing", "dir"])
def test_wrong_input_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    target = tmp_path
    if kind == "text":
        target = tmp_path / "readme.dll"
        target.write_text("not a dll")
    elif kind == "missing":
        target = tmp_path / "absent.dll"
    code, out, err = run(capsys, "inspect", str(target))
    assert code == 2 and out == ""
    assert err.startswith("rasemu: error: ") and err.count("\n") == 1
    assert str(target) in err


def test_forwarded_export_shown(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "inspect", str(build_testdll(64, deffile="fwd.def")))
    assert "TickForwarded  -> kernel32.GetTickCount" in out
    assert "forwarded to kernel32.GetTickCount" in out
