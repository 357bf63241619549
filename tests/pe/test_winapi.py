"""The Windows API framework: registration, lookup rules, and a few handlers' semantics."""

from __future__ import annotations

import pytest

from emulator.loaders.pe.winapi import REGISTRY, api, lookup, search_order


def test_lookup_is_case_insensitive_on_the_dll_part() -> None:
    spec = lookup("KERNEL32.DLL", "HeapAlloc")
    assert spec is not None and spec.argc == 3 and spec.conv == "stdcall"
    assert lookup("kernel32", "HeapAlloc") is spec
    assert lookup("kernel32.dll", "heapalloc") is None  # function names are case-sensitive


def test_api_sets_and_runtime_dlls_resolve_to_crt_handlers() -> None:
    for dll in (
        "api-ms-win-crt-runtime-l1-1-0.dll",
        "ucrtbase.dll",
        "VCRUNTIME140.dll",
        "msvcr120.dll",
    ):
        spec = lookup(dll, "_initterm")
        assert spec is not None and spec.kind == "guest", dll
        assert lookup(dll, "memcpy") is not None
    assert lookup("api-ms-win-crt-stdio-l1-1-0.dll", "__stdio_common_vswprintf") is not None
    assert search_order("api-ms-win-core-synch-l1-2-0.dll") == ("kernel32.dll", "ntdll.dll")
    assert lookup("api-ms-win-core-synch-l1-2-0.dll", "EnterCriticalSection") is not None
    assert lookup("KERNEL32.dll", "RtlCaptureContext") is not None  # forwarded to ntdll


def test_data_and_ordinal_imports() -> None:
    iob = lookup("msvcrt.dll", "_iob")
    assert iob is not None and iob.kind == "data" and iob.size32 == 96
    assert lookup("WS2_32.dll", 8) is lookup("ws2_32.dll", "htonl")
    assert lookup("ws2_32.dll", 9999) is None


def test_handler_argc_and_convention_come_from_the_declaration() -> None:
    assert lookup("msvcrt.dll", "_snwprintf").varargs  # type: ignore[union-attr]
    assert lookup("msvcrt.dll", "memcpy").conv == "cdecl"  # type: ignore[union-attr]
    assert lookup("kernel32.dll", "MultiByteToWideChar").argc == 6  # type: ignore[union-attr]


def test_registration_errors() -> None:
    with pytest.raises(ValueError, match="argc=2 but the handler takes 1"):
        api("test-rasemu.dll", "Foo", argc=2)(lambda ctx, a: 0)
    api("test-rasemu.dll", "Bar")(lambda ctx: 0)
    try:
        with pytest.raises(ValueError, match="registered twice"):
            api("TEST-RASEMU.dll", "Bar")(lambda ctx: 0)
    finally:
        REGISTRY.pop(("test-rasemu.dll", "Bar"), None)


def test_msvc_startup_imports_are_covered() -> None:
    # what MSVC /MD DLL startup code imports (notes section 3), by the DLL names it uses
    needed = {
        "VCRUNTIME140.dll": [
            "memset",
            "memcpy",
            "__C_specific_handler",
            "__std_type_info_destroy_list",
        ],
        "api-ms-win-crt-runtime-l1-1-0.dll": [
            "_initterm",
            "_initterm_e",
            "_seh_filter_dll",
            "_initialize_onexit_table",
            "_register_onexit_function",
            "_execute_onexit_table",
            "_cexit",
            "_configure_narrow_argv",
            "_initialize_narrow_environment",
            "_crt_atexit",
        ],
        "api-ms-win-crt-heap-l1-1-0.dll": ["malloc", "free", "calloc", "_callnewh"],
        "api-ms-win-crt-stdio-l1-1-0.dll": [
            "__stdio_common_vswprintf",
            "__acrt_iob_func",
            "__stdio_common_vfprintf",
        ],
        "KERNEL32.dll": [
            "GetSystemTimeAsFileTime",
            "GetCurrentProcessId",
            "GetCurrentThreadId",
            "QueryPerformanceCounter",
            "IsDebuggerPresent",
            "InitializeSListHead",
            "IsProcessorFeaturePresent",
            "DisableThreadLibraryCalls",
            "RtlCaptureContext",
            "RtlLookupFunctionEntry",
            "RtlVirtualUnwind",
            "UnhandledExceptionFilter",
            "SetUnhandledExceptionFilter",
            "TerminateProcess",
            "GetCurrentProcess",
        ],
    }
    missing = [
        f"{dll}!{n}" for dll, names in needed.items() for n in names if lookup(dll, n) is None
    ]
    assert missing == []
