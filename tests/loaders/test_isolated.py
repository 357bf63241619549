"""IsolatedDll: timeouts, crashes, restarts with fresh state, batching, equal results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from emulator.abi import structs as S
from emulator.abi.addresses import dword_to_ip
from emulator.errors import LoadError
from emulator.loaders.base import Call
from emulator.loaders.isolated import IsolatedDll
from emulator.loaders.native import NativeLoader

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"
SENTINEL = 0xA5A5A5A5
native_only = pytest.mark.skipif(sys.platform == "win32", reason="fixtures build .so/.dylib here")


def lib(variant: str) -> str:
    from fixtures.dlls.build import native_library

    return str(native_library(variant))


def get(user: str, port: str = "VPN0", timeout: float = 5.0) -> Call:
    return Call("MprAdminGetIpAddressForUser", (user, port, 0, SENTINEL), timeout=timeout)


def count() -> Call:
    return Call("RasemuTestLeaseCount")


@pytest.fixture
def hang() -> Any:
    dll = IsolatedDll("python", str(STANDINS / "bad_hang.py"))
    yield dll
    dll.close()


def test_timeout_kills_restarts_and_continues(hang: IsolatedDll) -> None:
    r = hang.handle_calls(
        [
            Call("MprAdminGetIpv6AddressForUser", ("a", "p", bytes(16), 0)),
            count(),
            get("alice", timeout=0.3),
            count(),
        ]
    )
    assert [x.fault.kind if x.fault else None for x in r] == [None, None, "timeout", None]
    assert r[1].returned == 1
    assert r[2].fault is not None and "0.3 s" in r[2].fault.message
    assert 0.3 <= r[2].seconds < 3
    assert r[3].returned == 0  # fresh state after the restart
    assert hang.restarts == 1
    # the restarted child keeps working
    assert hang.handle_call(count()).returned == 0


@native_only
def test_segfault_is_child_died_and_state_is_fresh() -> None:
    dll = IsolatedDll("native", lib("bad_release_crash"))
    try:
        first = dll.handle_calls([get("alice"), get("bob")])
        assert [dword_to_ip(r.outputs[2]) for r in first] == ["192.168.100.10", "192.168.100.11"]
        r = dll.handle_calls(
            [count(), Call("MprAdminReleaseIpAddress", ("nobody", "VPN0", 1)), count(), get("c")]
        )
        assert r[0].returned == 2
        assert r[1].fault is not None and r[1].fault.kind == "child-died"
        assert "SIGSEGV" in r[1].fault.message or "exit" in r[1].fault.message
        assert r[2].returned == 0
        assert dword_to_ip(r[3].outputs[2]) == "192.168.100.10"
    finally:
        dll.close()


def _standin(tmp_path: Path, body: str) -> str:
    path = tmp_path / "dying.py"
    path.write_text("import os, sys\n\n" + body)
    return str(path)


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("def MprAdminTerminateDll():\n    os._exit(3)\n", "exited with code 3"),
        ("def MprAdminTerminateDll():\n    os.abort()\n", "SIGABRT"),
    ],
)
def test_exit_and_abort_are_reported(tmp_path: Path, body: str, expect: str) -> None:
    if sys.platform == "win32" and "abort" in body:
        pytest.skip("no signals on Windows")
    src = _standin(tmp_path, body + "\ndef MprAdminInitializeDll():\n    return 0\n")
    with IsolatedDll("python", src) as dll:
        r = dll.handle_calls([Call("MprAdminInitializeDll"), Call("MprAdminTerminateDll")])
        assert r[0].returned == 0
        assert r[1].fault is not None and r[1].fault.kind == "child-died"
        assert expect in r[1].fault.message
        assert dll.handle_call(Call("MprAdminInitializeDll")).returned == 0


@native_only
def test_batched_results_equal_in_process_results() -> None:
    calls = [get(f"u{i}", f"P{i}") for i in range(70)] + [
        Call(
            "MprAdminAcceptNewConnection",
            (S.RAS_CONNECTION_0(hConnection=5, wszUserName="alice"), S.RAS_CONNECTION_1()),
        ),
        Call("RasemuTestConnectionCount"),
        count(),
    ]
    local = NativeLoader().load(lib("bad_writes_username"))
    iso = IsolatedDll("native", lib("bad_writes_username"))
    try:
        a = [local.handle_call(c) for c in calls]
        b = iso.handle_calls(calls)
        strip = [(r.returned, dict(r.outputs), r.modified_inputs, r.fault) for r in a]
        assert strip == [(r.returned, dict(r.outputs), r.modified_inputs, r.fault) for r in b]
        assert b[64].returned == 259 and b[0].modified_inputs == (0,)  # "u0" upper-cased (R69)
        assert iso.handle_call(get("ALICE")).modified_inputs == ()
    finally:
        local.close()
        iso.close()


def test_large_batch_spills_chunks(tmp_path: Path) -> None:
    # records bigger than the shared file force "chunk" frames over the pipe
    src = tmp_path / "big.py"
    src.write_text(
        "from emulator.loaders.python import OutputDebugString\n"
        "def MprAdminInitializeDll():\n"
        "    OutputDebugString('x' * 200_000)\n"
        "    return 0\n"
    )
    with IsolatedDll("python", str(src)) as dll:
        r = dll.handle_calls([Call("MprAdminInitializeDll")] * 100)
        assert len(r) == 100 and all(x.returned == 0 for x in r)
        assert len(r[99].debug_output[0]) == 200_000


def test_host_errors_are_raised_in_the_parent(hang: IsolatedDll) -> None:
    with pytest.raises(KeyError, match="NoSuch"):
        hang.handle_calls([count(), Call("NoSuchExport")])
    with pytest.raises(ValueError):
        hang.handle_call(Call("MprAdminGetIpAddressForUser", ("a",)))
    assert hang.handle_call(count()).returned == 0


def test_resource_usage_and_exports_through_the_child() -> None:
    with IsolatedDll("python", str(STANDINS / "bad_leak.py")) as dll:
        assert "MprAdminGetIpAddressForUser" in dll.exports
        assert dll.machine == "python" and dll.loader_name == "python"
        r = dll.handle_call(get("alice"))
        dll.handle_call(Call("MprAdminReleaseIpAddress", ("alice", "VPN0", r.outputs[2])))
        usage = dll.resource_usage()
        assert usage is not None and usage.heap_blocks == 2


@native_only
def test_table_addresses_survive_a_restart() -> None:
    dll = IsolatedDll("native", lib("good_table"))
    try:
        table = dll.handle_call(Call("MprAdminInitializeDllEx", (None,))).outputs[0]
        addr = table["lpfnMprAdminGetIpAddressForUser"]
        assert addr == dll.export_address("MprAdminGetIpAddressForUser")
        by_addr = Call(addr, ("bob", "p", 0, SENTINEL), signature="MprAdminGetIpAddressForUser")
        assert dll.handle_call(by_addr).returned == 0
        assert dll._child is not None
        dll._child.kill()  # simulate an external kill between batches
        died = dll.handle_call(count())
        assert died.fault is not None and died.fault.kind == "child-died"
        # the new child maps the library elsewhere; the host's address still works
        r = dll.handle_call(by_addr)
        assert r.fault is None and dword_to_ip(r.outputs[2]) == "192.168.100.10"
        again = dll.handle_call(Call("MprAdminInitializeDllEx", (None,))).outputs[0]
        assert again["lpfnMprAdminGetIpAddressForUser"] == addr
    finally:
        dll.close()


def test_load_errors_come_back_as_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="stand-in file not found"):
        IsolatedDll("python", str(tmp_path / "missing.py"))
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"\0" * 100)
    with pytest.raises(LoadError, match="unknown format"):
        IsolatedDll("native", str(junk))


def test_close_is_clean_and_idempotent(tmp_path: Path) -> None:
    marker = tmp_path / "detached"
    src = tmp_path / "d.py"
    src.write_text(
        "def MprAdminInitializeDll():\n    return 0\n\n"
        f"def rasemu_detach():\n    open({str(marker)!r}, 'w').close()\n"
    )
    # reuse=False: the child ends with the DLL (a pooled child is covered in test_pool.py)
    dll = IsolatedDll("python", str(src), reuse=False)
    child = dll._child
    assert child is not None
    dll.close()
    dll.close()
    assert marker.exists()
    assert child.proc.returncode == 0
    with pytest.raises(RuntimeError):
        dll.handle_call(Call("MprAdminInitializeDll"))
    pooled = IsolatedDll("python", str(src))
    marker.unlink()
    pooled.close()
    pooled.close()
    assert marker.exists()  # detached before close() returned, though the child lives on


def test_spin_only_with_two_cpus_on_posix() -> None:
    from emulator.loaders.isolated import spin_seconds

    assert spin_seconds(True, 2) > 0
    assert spin_seconds(True, 1) == 0.0  # one CPU: polling would hold up the child
    assert spin_seconds(False, 8) == 0.0  # Windows: select() takes no pipes


@pytest.mark.parametrize("spin", ["0", "0.0001"])
def test_isolated_dll_with_and_without_spin(monkeypatch: pytest.MonkeyPatch, spin: str) -> None:
    """The child serves calls the same whether it polls stdin before blocking or not."""
    import emulator.loaders.isolated as iso

    monkeypatch.setattr(iso, "SPIN_SECONDS", float(spin))
    d = IsolatedDll("python", str(STANDINS / "good.py"), reuse=False)  # a child of its own
    try:
        got = [d.handle_call(get(f"u{i}")) for i in range(3)]
        assert [r.returned for r in got] == [0, 0, 0]
        assert len({r.outputs[2] for r in got}) == 3
    finally:
        d.close()


@pytest.mark.parametrize("args", [
    ["x.shm", "--spin"],
    ["x.shm", "--spin", "fast"],
    ["x.shm", "--spin", "2"],
    ["x.shm", "--spin", "0", "--spin", "0"],
    ["x.shm", "--color", "red"],
])
def test_child_rejects_bad_arguments(args: list[str]) -> None:
    import subprocess

    p = subprocess.run([sys.executable, "-m", "emulator.loaders.child", *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 2
    assert p.stderr.startswith("usage: python -m emulator.loaders.child SHARED_FILE")
