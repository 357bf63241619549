"""PeLoader / PeDll on real mingw-built admin DLLs, x86 and x64."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.abi import structs
from emulator.errors import LoadError
from emulator.loaders.base import Call
from emulator.loaders.pe import PeDll, PeLoader
from tests.pe.conftest import build_testdll, prebuilt

GET = "MprAdminGetIpAddressForUser"
RELEASE = "MprAdminReleaseIpAddress"
SENTINEL = 0xA5A5A5A5  # R78: the host pre-fills bNotifyRelease


def get_ip(dll: PeDll, user: str = "alice", port: str = "VPN1-0", proposal: int = 0):  # type: ignore[no-untyped-def]
    return dll.handle_call(Call(GET, (user, port, proposal, SENTINEL)))


def ip_bytes(value: int) -> bytes:
    return value.to_bytes(4, "little")


# --- loading ------------------------------------------------------------------------------------
def test_load_reports_machine_exports_and_no_missing_imports(good: PeDll, bits: int) -> None:
    assert good.machine == ("x64" if bits == 64 else "x86")
    assert good.loader_name == "pe"
    assert {GET, RELEASE, "MprAdminInitializeDll", "RasAdminGetIpAddressForUser"} <= good.exports
    assert good.missing_imports == ()
    addr = good.export_address(GET)
    assert addr is not None and good.base <= addr < good.base + good.image.size_of_image


def test_tls_callbacks_run_before_dllmain(testdll: PeDll) -> None:
    assert testdll.load_debug_output == ("attached",)  # DllMain ran (OutputDebugStringA)
    assert (
        testdll.handle_call(Call("TestTlsOrder")).returned == 1
    )  # our TLS callback saw ATTACH first


def test_dllmain_returning_false_is_a_load_error(bits: int) -> None:
    path = build_testdll(bits, "REFUSE")
    with pytest.raises(LoadError, match=r"DllMain.*returned FALSE") as exc:
        PeLoader().load(str(path), bitness=bits)
    assert str(path) in str(exc.value)


# --- calls ------------------------------------------------------------------------------------
def test_get_and_release_ip(good: PeDll) -> None:
    r = get_ip(good)
    assert r.fault is None and r.issues == ()
    assert r.returned == 0
    assert ip_bytes(r.outputs[2]) == bytes([192, 168, 100, 10])  # network byte order (R62)
    assert r.outputs[3] == 1  # bNotifyRelease overwritten (R61)
    assert r.modified_inputs == ()
    assert any("192.168.100.10" in line for line in r.debug_output)
    r2 = get_ip(good, "bob", "VPN1-1")
    assert ip_bytes(r2.outputs[2]) == bytes([192, 168, 100, 11])
    assert good.handle_call(Call("RasemuTestLeaseCount")).returned == 2
    rel = good.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2])))
    assert rel.fault is None and rel.returned is None  # void callback
    assert good.handle_call(Call("RasemuTestLeaseCount")).returned == 1


def test_nt4_family_on_the_same_dll(good: PeDll) -> None:
    r = good.handle_call(Call("RasAdminGetIpAddressForUser", ("carol", "COM1", 0, SENTINEL)))
    assert r.returned == 0 and ip_bytes(r.outputs[2]) == bytes([192, 168, 100, 10])


def test_relocated_image_gives_identical_results(bits: int) -> None:
    path = str(prebuilt("good", bits))
    plain = PeLoader().load(path, bitness=bits)
    forced_base = 0x50000000 if bits == 32 else 0x7FF612340000
    moved = PeLoader(force_base=forced_base).load(path, bitness=bits)
    try:
        assert moved.base == forced_base != plain.base
        assert moved.image.relocations, "the sample DLL must carry relocations for this test"
        for user in ("alice", "bob", "carol"):
            a, b = get_ip(plain, user), get_ip(moved, user)
            assert (a.returned, dict(a.outputs), a.debug_output) == (
                b.returned,
                dict(b.outputs),
                b.debug_output,
            )
        delta = moved.base - plain.base
        assert moved.export_address(GET) == plain.export_address(GET) + delta  # type: ignore[operator]
    finally:
        plain.close()
        moved.close()


def test_struct_arguments_are_marshalled(good: PeDll, bits: int) -> None:
    c0 = structs.RAS_CONNECTION_0(hConnection=0x1234)
    c1 = structs.RAS_CONNECTION_1(hConnection=0x1234)
    r = good.handle_call(Call("MprAdminAcceptNewConnection", (c0, c1)))
    assert r.fault is None and r.returned == 1 and r.modified_inputs == ()
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 1
    good.handle_call(Call("MprAdminConnectionHangupNotification", (c0, c1)))
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 0


def test_initialize_dll_ex_table_and_call_by_address(bits: int) -> None:
    dll = PeLoader().load(str(prebuilt("good_table", bits)), bitness=bits)
    try:
        r = dll.handle_call(Call("MprAdminInitializeDllEx", (None,)))
        assert r.returned == 0
        table = r.outputs[0]
        assert table["revision"] == 2
        assert table["lpfnMprAdminGetIpAddressForUser"] == dll.export_address(GET)
        assert table["lpfnRasAdminAcceptEndpointChangeEx"] == 0
        by_addr = dll.handle_call(
            Call(
                table["lpfnMprAdminGetIpAddressForUser"],
                ("dave", "VPN9", 0, SENTINEL),
                signature=GET,
            )
        )
        assert by_addr.returned == 0 and ip_bytes(by_addr.outputs[2]) == bytes([192, 168, 100, 10])
    finally:
        dll.close()


def test_decorated_x86_exports_are_callable_with_an_r49_note() -> None:
    dll = PeLoader().load(str(prebuilt("bad_decorated", 32)), bitness=32)
    try:
        assert GET not in dll.exports and f"{GET}@16" in dll.exports
        r = get_ip(dll)
        assert r.returned == 0
        assert [i.rule for i in r.issues] == ["R49"]
        assert f"{GET}@16" in r.issues[0].message
    finally:
        dll.close()


def test_unknown_export_is_a_load_error(good: PeDll) -> None:
    with pytest.raises(LoadError, match="no export named 'NoSuchThing'"):
        good.handle_call(Call("NoSuchThing"))


# --- conventions (R50, R51, R52) ----------------------------------------------------------------
def test_conforming_dll_has_no_convention_issues(good: PeDll) -> None:
    for _ in range(3):
        r = get_ip(good)
        assert r.issues == ()
        assert good.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2]))).issues == ()


def test_cdecl_callback_detected_on_x86() -> None:
    dll = PeLoader().load(str(prebuilt("bad_cdecl", 32)), bitness=32)
    try:
        r = get_ip(dll)
        assert r.returned == 0  # the call itself works
        rules = [i.rule for i in r.issues]
        assert rules == ["R50", "R51"]
        assert r.issues[0].detail["popped"] == 0 and r.issues[0].detail["expected_pop"] == 16
        rel = dll.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2])))
        assert [i.rule for i in rel.issues] == ["R50", "R51"]
    finally:
        dll.close()


@pytest.mark.parametrize(
    ("variant", "bits", "rule", "reg"),
    [("bad_clobber_ebx", 32, "R51", "EBX"), ("bad_clobber_rbx", 64, "R52", "RBX")],
)
def test_clobbered_callee_saved_register_detected(
    variant: str, bits: int, rule: str, reg: str
) -> None:
    dll = PeLoader().load(str(prebuilt(variant, bits)), bitness=bits)
    try:
        r = get_ip(dll)
        assert r.returned == 0
        assert [(i.rule, i.detail["register"]) for i in r.issues] == [(rule, reg)]
        # the clobber is per call, and the next conforming call (Release) is clean again
        assert dll.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2]))).issues == ()
    finally:
        dll.close()


# --- R69 ------------------------------------------------------------------------------------------
def test_write_through_in_pointer_detected(bits: int) -> None:
    dll = PeLoader().load(str(prebuilt("bad_writes_username", bits)), bitness=bits)
    try:
        r = get_ip(dll, "alice", "VPN1-0")
        assert r.modified_inputs == (0,)
    finally:
        dll.close()


# --- faults -----------------------------------------------------------------------------------------
def test_crash_reports_disassembly_and_dll_stays_usable(bits: int) -> None:
    dll = PeLoader().load(str(prebuilt("bad_release_crash", bits)), bitness=bits)
    try:
        first = get_ip(dll)
        assert first.returned == 0
        r = dll.handle_call(Call(RELEASE, ("nobody", "VPN7", 0x12345678)))
        assert r.fault is not None and r.fault.kind == "crash"
        d = r.fault.detail
        assert d["export"] == RELEASE and d["access"] == "read" and d["address"] < 0x1000
        assert d["symbol"].startswith(f"bad_release_crash{bits}.dll+0x")
        assert any(line.startswith("=>") for line in d["disassembly"])
        assert "0x" in r.fault.message and RELEASE in r.fault.message
        # the critical section was held at the crash: a fresh emulator must serve the next call
        assert dll.reloads == 1
        again = get_ip(dll, "erin")
        assert again.fault is None and again.returned == 0
        assert ip_bytes(again.outputs[2]) == bytes([192, 168, 100, 10])  # fresh state after reload
    finally:
        dll.close()


@pytest.mark.parametrize(
    ("export", "args", "kind", "text"),
    [
        ("TestCrash", (0x10,), "crash", "read of 0x10"),
        ("TestDivide", (7, 0), "crash", "division by zero"),
        ("TestRecurse", (1,), "crash", "stack overflow"),
        ("TestTrap", (), "crash", "invalid instruction"),
        ("TestBreak", (), "exception", "breakpoint"),
        ("TestDoubleFree", (), "crash", "double free"),
    ],
)
def test_fault_kinds(
    testdll: PeDll, export: str, args: tuple[int, ...], kind: str, text: str
) -> None:
    r = testdll.handle_call(Call(export, args))
    assert r.fault is not None and r.fault.kind == kind
    assert text in r.fault.message
    if r.fault.detail.get("caller") != 0x100000:  # x64 tail calls return straight to the host
        assert r.fault.detail["disassembly"]
    ok = testdll.handle_call(Call("TestDivide", (7, 2)))
    assert ok.fault is None and ok.returned == 3


def test_infinite_loop_times_out_and_dll_recovers(testdll: PeDll) -> None:
    r = testdll.handle_call(Call("TestLoop", timeout=0.2))
    assert r.fault is not None and r.fault.kind == "timeout"
    assert "0.2 s" in r.fault.message
    assert 0.15 < r.seconds < 3.0
    assert testdll.handle_call(Call("TestInUse")).returned == 0


def test_instruction_budget_stops_runaway_code(bits: int) -> None:
    dll = PeLoader(instruction_budget=200_000).load(str(build_testdll(bits)), bitness=bits)
    try:
        r = dll.handle_call(Call("TestLoop"))
        assert r.fault is not None and r.fault.kind == "timeout" and "budget" in r.fault.message
        assert dll.handle_call(Call("TestInUse")).returned == 0
    finally:
        dll.close()


def test_missing_api_listed_and_call_stops(testdll: PeDll) -> None:
    assert testdll.missing_imports == ("rasemu_absent.dll!AbsentFunction",)
    r = testdll.handle_call(Call("TestMissing"))
    assert r.fault is not None and r.fault.kind == "missing-api"
    assert "rasemu_absent.dll!AbsentFunction is not implemented" in r.fault.message
    assert testdll.handle_call(Call("TestInUse")).returned == 0


# --- imports by ordinal, delay-loaded, GetProcAddress ----------------------------------------------------
def test_imports_by_ordinal(bits: int) -> None:
    dll = PeLoader().load(str(build_testdll(bits, ws2="ordinal")), bitness=bits)
    try:
        ords = [i.label for i in dll.image.imports if i.dll.lower() == "ws2_32.dll"]
        assert ords == ["ws2_32.dll!#8", "ws2_32.dll!#14"]
        assert dll.handle_call(Call("TestWs2", (0x0A64A8C0,))).returned == 0xC0A8640A ^ 1
    finally:
        dll.close()


def test_delay_loaded_imports_resolve_at_first_call() -> None:
    # mingw's delay-load helper goes through LoadLibraryA + GetProcAddress(by ordinal)
    dll = PeLoader().load(str(build_testdll(64, ws2="delay")), bitness=64)
    try:
        assert not any(i.dll.lower() == "ws2_32.dll" for i in dll.image.imports if not i.delayed)
        assert dll.handle_call(Call("TestWs2", (0x0A64A8C0,))).returned == 0xC0A8640A ^ 1
    finally:
        dll.close()


def test_module_apis(testdll: PeDll) -> None:
    # GetModuleFileNameW(NULL), GetModuleHandleW("kernel32"), GetProcAddress + call, unknown module -> NULL
    assert testdll.handle_call(Call("TestModule")).returned == 0xF


def test_tls_slots_and_utf8_conversion(testdll: PeDll) -> None:
    assert testdll.handle_call(Call("TestTls")).returned == 0x55
    # MultiByteToWideChar(UTF-8 "héllo") = 6 units incl. NUL, back to 7 bytes, lstrlenW = 5
    assert testdll.handle_call(Call("TestUtf8")).returned == (5 << 16) + 6 * 100 + 7


def test_printf_family_formats_like_msvcrt(testdll: PeDll) -> None:
    emu = testdll._emu
    assert emu is not None
    buf = emu.heap.alloc(512, heap=0, site=0, api="test")
    n = testdll.handle_call(Call("TestFormat", (buf, 256))).returned
    text = emu.mem.cstr(buf).decode()
    ptr = "00000010" if testdll.bits == 32 else "0000000000000010"
    assert text == f"ab|  -42|7   |beef|00000ABC|Z|wide|%|{ptr}"
    assert n == len(text)
    n = testdll.handle_call(Call("TestFormatW", (buf, 256))).returned
    assert emu.mem.wstr(buf) == "w|narrow|12|1099511627776|abc|  3.1"
    # truncation: _snprintf returns -1 and does not terminate
    assert testdll.handle_call(Call("TestFormat", (buf, 4))).returned == 0xFFFFFFFF


# --- resources ------------------------------------------------------------------------------------
def test_resource_usage_names_allocation_sites(testdll: PeDll, bits: int) -> None:
    before = testdll.resource_usage()
    assert before is not None
    assert testdll.handle_call(Call("TestLeak", (100,))).returned == 1
    after = testdll.resource_usage()
    assert after is not None
    assert after.heap_blocks == before.heap_blocks + 1
    assert after.heap_bytes == before.heap_bytes + 100
    new = set(after.sites) - set(before.sites)
    assert len(new) == 1
    site = after.sites[new.pop()]
    assert "100 bytes from kernel32.dll!HeapAlloc" in site and f"testdll{bits}-" in site


def test_leaky_sample_dll_grows_per_cycle(bits: int) -> None:
    dll = PeLoader().load(str(prebuilt("bad_leak", bits)), bitness=bits)
    try:
        r = get_ip(dll)
        dll.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2])))
        base = dll.resource_usage()
        for _ in range(3):
            r = get_ip(dll)
            dll.handle_call(Call(RELEASE, ("alice", "VPN1-0", r.outputs[2])))
        after = dll.resource_usage()
        assert base is not None and after is not None
        assert after.heap_blocks == base.heap_blocks + 6  # two name copies leak per cycle
    finally:
        dll.close()


def test_close_is_idempotent_and_blocks_further_calls(bits: int) -> None:
    dll = PeLoader().load(str(prebuilt("good", bits)), bitness=bits)
    dll.close()
    dll.close()
    with pytest.raises(RuntimeError, match="closed"):
        get_ip(dll)


# --- wrong input --------------------------------------------------------------------------------------
def test_wrong_bitness_is_refused_both_ways(bits: int) -> None:
    path = str(prebuilt("good", bits))
    other = 64 if bits == 32 else 32
    with pytest.raises(LoadError) as exc:
        PeLoader().load(path, bitness=other)
    assert exc.value.rule == "R17"
    assert path in str(exc.value) and f"{other}-bit host profile" in str(exc.value)


def test_not_a_pe_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.dll"
    text.write_text("hello")
    with pytest.raises(LoadError, match="not a PE image") as exc:
        PeLoader().load(str(text))
    assert str(text) in str(exc.value)
    fake = tmp_path / "fake.dll"
    fake.write_bytes(b"MZ" + b"\0" * 100)
    with pytest.raises(LoadError, match="PE image"):
        PeLoader().load(str(fake))
    with pytest.raises(LoadError, match="directory"):
        PeLoader().load(str(tmp_path))
    with pytest.raises(LoadError, match="no such file"):
        PeLoader().load(str(tmp_path / "absent.dll"))


def test_executable_is_not_a_dll(tmp_path: Path) -> None:
    data = bytearray(prebuilt("good", 64).read_bytes())
    pe = int.from_bytes(data[0x3C:0x40], "little")
    chars = pe + 4 + 18
    data[chars : chars + 2] = (
        int.from_bytes(data[chars : chars + 2], "little") & ~0x2000
    ).to_bytes(2, "little")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(bytes(data))
    with pytest.raises(LoadError, match="not a DLL"):
        PeLoader().load(str(exe))


def test_can_load_checks_the_mz_header() -> None:
    assert PeLoader().can_load("x.dll", b"MZ\x90\x00")
    assert not PeLoader().can_load("x.so", b"\x7fELF")


# --- process environment ------------------------------------------------------------------------------
def test_teb_through_fs_or_gs(testdll: PeDll) -> None:
    # NtCurrentTeb() via FS (x86, GDT descriptor) or GS (x64): Self, stack bounds, last error
    assert testdll.handle_call(Call("TestTeb")).returned == 0xF


def test_direction_flag_left_set_is_reported_on_x86(testdll: PeDll) -> None:
    r = testdll.handle_call(Call("TestLeaveDF"))
    assert r.returned == 1
    if testdll.bits == 32:
        assert [i.rule for i in r.issues] == ["R51"] and "direction flag" in r.issues[0].message
    assert testdll.handle_call(Call("TestInUse")).issues == ()


def test_bad_pointer_passed_to_an_api_is_a_crash_in_that_api(testdll: PeDll) -> None:
    r = testdll.handle_call(Call("TestBadStrlen", (0x10,)))
    assert r.fault is not None and r.fault.kind == "crash"
    assert "msvcrt.dll!strlen" in r.fault.message and "0x10" in r.fault.message
    assert r.fault.detail["api"] == "msvcrt.dll!strlen"
    assert r.fault.detail["symbol"].startswith("testdll")  # the calling site inside the DLL
    assert testdll.handle_call(Call("TestBadStrlen", (0,))).fault is not None


def test_close_runs_process_detach(bits: int) -> None:
    dll = PeLoader().load(str(build_testdll(bits)), bitness=bits)
    dll.close()
    assert dll.unload_debug_output == ("detached",)
    assert dll.unload_fault is None


def test_private_heap_handles_are_tracked(testdll: PeDll) -> None:
    base = testdll.resource_usage()
    assert base is not None and base.handles == 0
    assert testdll.handle_call(Call("TestPrivateHeap", (0,))).returned == 1
    used = testdll.resource_usage()
    assert used is not None and used.handles == 1 and used.heap_blocks == base.heap_blocks + 1
    assert any(v.startswith("heap from kernel32.dll!HeapCreate") for v in used.sites.values())
    testdll.handle_call(Call("TestPrivateHeap", (1,)))  # HeapDestroy frees its blocks too
    back = testdll.resource_usage()
    assert back is not None and (back.handles, back.heap_blocks) == (0, base.heap_blocks)


def test_forwarded_exports_are_reported(bits: int) -> None:
    dll = PeLoader().load(str(build_testdll(bits, deffile="fwd.def")), bitness=bits)
    try:
        assert dll.forwarded_exports == (("TickForwarded", "kernel32.GetTickCount"),)
        assert dll.export_address("TickForwarded") is None
        assert dll.export_address("RasAdminGetIpAddressForUser") is not None
    finally:
        dll.close()


def test_ucrt_api_set_imports(bits: int) -> None:
    from tests.pe.conftest import build_ucrtdll

    dll = PeLoader().load(str(build_ucrtdll(bits)), bitness=bits)
    try:
        dlls = {i.dll.lower() for i in dll.image.imports}
        assert any(d.startswith("api-ms-win-crt-") for d in dlls)
        assert dll.missing_imports == ()
        emu = dll._emu
        assert emu is not None
        buf = emu.heap.alloc(128, heap=0, site=0, api="test")
        # _snwprintf is inline in the UCRT headers: __stdio_common_vswprintf does the work
        assert dll.handle_call(Call("UcrtFormat", (buf, 64))).returned == 12
        assert emu.mem.wstr(buf) == "ucrt-42-hs-2"
        assert dll.handle_call(Call("UcrtFormat", (buf, 5))).returned == 0xFFFFFFFF  # truncated: -1
    finally:
        dll.close()


def test_sections_keep_their_protection(testdll: PeDll) -> None:
    r = testdll.handle_call(Call("TestWriteCode"))
    assert r.fault is not None and r.fault.kind == "crash"
    assert r.fault.detail["access"] == "write"
    assert r.fault.detail["address"] == testdll.export_address("TestInUse")


def test_clobbered_xmm_register_detected_on_x64() -> None:
    dll = PeLoader().load(str(build_testdll(64)), bitness=64)
    try:
        r = dll.handle_call(Call("TestClobberXmm"))
        assert [(i.rule, i.detail["register"]) for i in r.issues] == [("R52", "XMM7")]
        assert r.issues[0].detail["after"] == (1 << 128) - 1
        assert dll.handle_call(Call("TestInUse")).issues == ()
    finally:
        dll.close()


def test_nt4_accept_with_parameter_array(good: PeDll, bits: int) -> None:
    port = structs.NT4_RAS_PORT_1()
    stats = structs.RAS_PORT_STATISTICS()
    params = [structs.RAS_PARAMETERS(P_Key="MAXCONNECTBPS", P_Type=0)]
    r = good.handle_call(Call("RasAdminAcceptNewConnection", (port, stats, params)))
    assert r.fault is None and r.returned == 1 and r.modified_inputs == ()
    assert good.handle_call(Call("RasemuTestConnectionCount")).returned == 1


@pytest.mark.parametrize("seed", range(4))
def test_corrupt_images_give_load_errors_not_tracebacks(tmp_path: Path, seed: int) -> None:
    import random

    rng = random.Random(seed)
    original = prebuilt("good", 64 if seed % 2 else 32).read_bytes()
    pe = int.from_bytes(original[0x3C:0x40], "little")
    outcomes = {"loaded": 0, "refused": 0}
    for n in range(12):
        data = bytearray(original)
        for _ in range(rng.randint(1, 6)):  # hit the headers and directories where it hurts
            pos = (
                rng.randrange(pe, min(len(data), pe + 0x400))
                if rng.random() < 0.7
                else rng.randrange(len(data))
            )
            data[pos] = rng.randrange(256)
        path = tmp_path / f"corrupt{n}.dll"
        path.write_bytes(bytes(data))
        try:
            dll = PeLoader(load_timeout=0.5).load(str(path))
        except LoadError as exc:
            assert str(path) in str(exc)
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
            dll.close()
    assert sum(outcomes.values()) == 12
