"""The warm child pool behind IsolatedDll: reuse, fresh state per load, no reuse after trouble."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.abi.addresses import dword_to_ip
from emulator.loaders.base import Call
from emulator.loaders.isolated import IsolatedDll, clear_pool, configure_pool, pool_stats

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = 0xA5A5A5A5
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="native fixtures and /proc checks are Linux here"
)


def lib(variant: str) -> str:
    from fixtures.dlls.build import native_library

    return str(native_library(variant))


def get(user: str, timeout: float = 5.0) -> Call:
    return Call("MprAdminGetIpAddressForUser", (user, "VPN0", 0, SENTINEL), timeout=timeout)


def gone(pid: int) -> bool:
    """The process no longer exists (reaped), or is not ours any more."""
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return True
        zombie = stat.rsplit(")", 1)[1].split()[0] == "Z"
        return not zombie and b"emulator.loaders.child" not in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def cc(tmp_path: Path, name: str, source: str, *flags: str) -> str:
    """A shared library compiled from ``source`` (skips without a C compiler)."""
    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    src = tmp_path / f"{name}.c"
    src.write_text(textwrap.dedent(source))
    out = tmp_path / f"lib{name}.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O1", "-o", str(out), str(src), *flags], check=True
    )
    return str(out)


@pytest.fixture(autouse=True)
def empty_pool() -> Iterator[None]:
    clear_pool()
    configure_pool(limit=4, prestart=True)
    yield
    configure_pool(limit=4, prestart=True)
    clear_pool()


@linux_only
def test_close_returns_the_child_and_the_next_open_reuses_it() -> None:
    a = IsolatedDll("native", lib("good"))
    pid = a.child_pid
    assert pid is not None
    a.close()
    assert a.child_pid is None
    assert pid in pool_stats()["idle"]
    before = pool_stats()["reused"]
    b = IsolatedDll("native", lib("good"))
    try:
        assert b.child_pid == pid
        assert pool_stats()["reused"] == before + 1
        assert b.handle_call(get("alice")).returned == 0
    finally:
        b.close()


@linux_only
def test_a_reused_child_starts_with_fresh_state() -> None:
    # R36: every load is a new instance; a pooled child must not carry the lease table over
    a = IsolatedDll("native", lib("good"))
    pid = a.child_pid
    first = a.handle_calls([get("alice"), get("bob"), Call("RasemuTestLeaseCount")])
    assert [dword_to_ip(r.outputs[2]) for r in first[:2]] == ["192.168.100.10", "192.168.100.11"]
    assert first[2].returned == 2
    a.close()
    b = IsolatedDll("native", lib("good"))
    try:
        assert b.child_pid == pid
        r = b.handle_calls([Call("RasemuTestLeaseCount"), get("carol")])
        assert r[0].returned == 0
        assert dword_to_ip(r[1].outputs[2]) == "192.168.100.10"
    finally:
        b.close()


@linux_only
def test_two_live_instances_never_share_a_child() -> None:
    a = IsolatedDll("native", lib("good"))
    b = IsolatedDll("native", lib("good"))
    try:
        assert a.child_pid != b.child_pid
        a.handle_call(get("alice"))
        assert b.handle_call(Call("RasemuTestLeaseCount")).returned == 0
    finally:
        a.close()
        b.close()


@linux_only
def test_a_crashed_child_is_not_reused() -> None:
    dll = IsolatedDll("native", lib("bad_release_crash"))
    crashed = dll.child_pid
    assert crashed is not None
    r = dll.handle_calls([get("a"), Call("MprAdminReleaseIpAddress", ("nobody", "VPN0", 1))])
    assert r[1].fault is not None and r[1].fault.kind == "child-died"
    assert dll.child_pid != crashed
    assert gone(crashed)
    healthy = dll.child_pid
    dll.close()
    idle = pool_stats()["idle"]
    assert crashed not in idle and healthy in idle
    again = IsolatedDll("native", lib("bad_release_crash"))
    try:
        assert again.child_pid != crashed
    finally:
        again.close()


@linux_only
def test_a_timeout_still_kills_and_the_killed_child_is_not_reused(tmp_path: Path) -> None:
    path = cc(
        tmp_path,
        "hang",
        """
        #include <stdint.h>
        uint32_t MprAdminInitializeDll(void) { return 0; }
        uint32_t MprAdminGetIpAddressForUser(uint16_t *u, uint16_t *p, uint32_t *ip, int32_t *n)
        { volatile int spin = 1; while (spin) {} return 0; }
        """,
    )
    dll = IsolatedDll("native", path)
    stuck = dll.child_pid
    assert stuck is not None
    t0 = time.monotonic()
    r = dll.handle_calls([get("a", timeout=0.3), Call("MprAdminInitializeDll")])
    assert time.monotonic() - t0 < 5
    assert r[0].fault is not None and r[0].fault.kind == "timeout"
    assert r[1].returned == 0 and dll.restarts == 1
    assert gone(stuck)
    dll.close()
    assert stuck not in pool_stats()["idle"]


def test_a_load_that_leaves_a_thread_behind_retires_its_child(tmp_path: Path) -> None:
    src = tmp_path / "threads.py"
    src.write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "def MprAdminInitializeDll():\n    return 0\n"
    )
    dll = IsolatedDll("python", str(src))
    pid = dll.child_pid
    assert pid is not None and dll.handle_call(Call("MprAdminInitializeDll")).returned == 0
    dll.close()
    assert pid not in pool_stats()["idle"]
    assert gone(pid)


def test_a_load_that_changes_the_environment_retires_its_child(tmp_path: Path) -> None:
    src = tmp_path / "env.py"
    src.write_text(
        "import os\n"
        "def MprAdminInitializeDll():\n    os.environ['RASEMU_LEAK'] = '1'\n    return 0\n"
    )
    dll = IsolatedDll("python", str(src))
    pid = dll.child_pid
    dll.handle_call(Call("MprAdminInitializeDll"))
    dll.close()
    assert pid not in pool_stats()["idle"]


@linux_only
def test_an_image_that_cannot_be_unloaded_retires_its_child(tmp_path: Path) -> None:
    # -z nodelete: dlclose keeps the library (and its destructors pending) -> the child exits
    # instead of serving another load, so the destructors run at its exit as before pooling
    marker = tmp_path / "destructed"
    path = cc(
        tmp_path,
        "nodelete",
        f"""
        #include <stdint.h>
        #include <stdio.h>
        uint32_t MprAdminInitializeDll(void) {{ return 0; }}
        __attribute__((destructor)) static void bye(void)
        {{ FILE *f = fopen("{marker}", "w"); if (f) fclose(f); }}
        """,
        "-Wl,-z,nodelete",
    )
    dll = IsolatedDll("native", path)
    pid = dll.child_pid
    assert pid is not None
    dll.close()
    assert pid not in pool_stats()["idle"]
    assert gone(pid)
    assert marker.exists()


@linux_only
def test_close_of_a_pooled_child_runs_the_library_destructor(tmp_path: Path) -> None:
    marker = tmp_path / "destructed"
    path = cc(
        tmp_path,
        "dtor",
        f"""
        #include <stdint.h>
        #include <stdio.h>
        uint32_t MprAdminInitializeDll(void) {{ return 0; }}
        __attribute__((destructor)) static void bye(void)
        {{ FILE *f = fopen("{marker}", "w"); if (f) fclose(f); }}
        """,
    )
    dll = IsolatedDll("native", path)
    pid = dll.child_pid
    dll.close()
    assert marker.exists()  # DLL_PROCESS_DETACH equivalent ran before close() returned
    assert pid in pool_stats()["idle"]


@linux_only
def test_the_pool_is_bounded() -> None:
    configure_pool(limit=2, prestart=False)
    dlls = [IsolatedDll("native", lib("good")) for _ in range(4)]
    pids = [d.child_pid for d in dlls]
    for d in dlls:
        d.close()
    idle = pool_stats()["idle"]
    assert len(idle) == 2 and set(idle) <= set(pids)
    for pid in set(pids) - set(idle):
        assert pid is not None and gone(pid)
    configure_pool(limit=0)
    assert pool_stats()["idle"] == []
    assert all(gone(p) for p in idle)


@linux_only
def test_reuse_false_always_starts_and_ends_its_own_child() -> None:
    a = IsolatedDll("native", lib("good"), reuse=False)
    assert a._child is not None
    proc = a._child.proc
    a.close()
    assert proc.returncode == 0
    assert proc.pid not in pool_stats()["idle"]


@linux_only
def test_a_forked_copy_never_takes_the_parents_children() -> None:
    a = IsolatedDll("native", lib("good"))
    pid = a.child_pid
    a.close()
    assert pid in pool_stats()["idle"]
    r, w = os.pipe()
    fork = os.fork()
    if fork == 0:  # pragma: no cover - runs in the forked copy
        code = 1
        try:
            b = IsolatedDll("native", lib("good"), reuse=True)
            ok = b.child_pid != pid and b.handle_call(get("x")).returned == 0
            b.close()
            code = 0 if ok else 1
        finally:
            os.write(w, bytes([code]))
            os._exit(0)
    os.close(w)
    result = os.read(r, 1)
    os.close(r)
    os.waitpid(fork, 0)
    assert result == b"\0"
    b = IsolatedDll("native", lib("good"))
    try:
        assert b.child_pid == pid  # the parent's pooled child is intact
        assert b.handle_call(get("y")).returned == 0
    finally:
        b.close()


@linux_only
def test_no_child_outlives_the_interpreter(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from emulator.loaders.isolated import IsolatedDll, pool_stats
            a = IsolatedDll("native", {lib("good")!r})
            b = IsolatedDll("native", {lib("good")!r})
            c = IsolatedDll("native", {lib("good")!r}, reuse=False)
            b.close()
            pids = {{a.child_pid, c.child_pid, *pool_stats()["idle"]}}
            print(" ".join(str(p) for p in pids), flush=True)
            # a and c stay open: the interpreter's exit must unload and reap them too
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) >= 3
    assert [p for p in pids if not gone(p)] == []


def _open_in_worker(path: str) -> list[int]:
    a = IsolatedDll("native", path)
    b = IsolatedDll("native", path)
    b.close()
    # a stays open: the worker's exit must unload and reap it with the pooled ones
    return [p for p in (a.child_pid, *pool_stats()["idle"]) if p is not None]


@linux_only
def test_no_child_outlives_a_forked_multiprocessing_worker() -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    IsolatedDll("native", lib("good")).close()  # the parent's own pool is warm before the fork
    mine = set(pool_stats()["idle"])
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as ex:
        pids = ex.submit(_open_in_worker, lib("good")).result(timeout=60)
    assert len(pids) >= 2 and not set(pids) & mine
    # the worker reaped them itself before it ended (forked workers skip atexit)
    assert [p for p in pids if not gone(p)] == []
    assert all(not gone(p) for p in mine)  # the parent's children were left alone
