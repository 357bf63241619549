"""Breadth handlers (kernel32_extra, ucrtbase, vcruntime, user32, shlwapi) driven by guest code.

The snippet DLLs leave observations in ``out[]`` (read with the ``Out`` export) and text in
OutputDebugString; the expected values are Windows' documented behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.loaders.base import Call, CallResult
from emulator.loaders.pe.loader import PeDll
from emulator.loaders.pe.winapi import lookup
from emulator.loaders.pe.winapi.env import PeOptions, load
from emulator.loaders.pe.winapi.vcruntime import demangle_type
from fixtures.dlls.build_selfreg import MingwMissing, build_snippet

FILES = r"""
#include <windows.h>
static DWORD out[64];
__declspec(dllexport) DWORD WINAPI Out(DWORD i) { return out[i]; }

__declspec(dllexport) DWORD WINAPI Files(void)
{
    DWORD n;
    out[0] = CreateDirectoryW(L"C:\\ProgramData\\Vendor", NULL);
    out[1] = CreateDirectoryW(L"C:\\ProgramData\\Vendor", NULL) ? 0 : GetLastError();
    HANDLE f = CreateFileW(L"C:\\ProgramData\\Vendor\\pool.cfg", GENERIC_READ | GENERIC_WRITE, 0, NULL,
                           CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    out[2] = f != INVALID_HANDLE_VALUE;
    out[3] = WriteFile(f, "range=10.0.0.1-10.0.0.9\r\n", 25, &n, NULL);
    out[4] = n;
    out[5] = GetFileSize(f, NULL);
    out[6] = SetFilePointer(f, 6, NULL, FILE_BEGIN);
    char buf[32] = {0};
    out[7] = ReadFile(f, buf, 8, &n, NULL);
    out[8] = n;
    out[9] = lstrcmpA(buf, "10.0.0.1") == 0;
    out[10] = ReadFile(f, buf, 32, &n, NULL);
    out[11] = n;
    out[12] = ReadFile(f, buf, 32, &n, NULL) && n == 0;  /* EOF: success with 0 bytes */
    CloseHandle(f);
    HANDLE g = CreateFileW(L"c:\\programdata\\VENDOR\\POOL.CFG", GENERIC_READ, 0, NULL, CREATE_NEW, 0, NULL);
    out[13] = g == INVALID_HANDLE_VALUE ? GetLastError() : 0;  /* ERROR_FILE_EXISTS, case-insensitive */
    g = CreateFileW(L"C:\\ProgramData\\Vendor\\missing.cfg", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    out[14] = g == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    g = CreateFileW(L"C:\\NoDir\\x.cfg", GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    out[15] = g == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    out[16] = GetFileAttributesW(L"C:\\ProgramData\\Vendor");
    out[17] = GetFileAttributesW(L"C:\\ProgramData\\Vendor\\nothing");
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(L"C:\\ProgramData\\Vendor\\*.cfg", &fd);
    out[18] = h != INVALID_HANDLE_VALUE;
    out[19] = fd.nFileSizeLow;
    out[20] = lstrcmpW(fd.cFileName, L"pool.cfg") == 0;
    out[21] = FindNextFileW(h, &fd) ? 0 : GetLastError();
    out[22] = FindClose(h);
    g = CreateFileW(L"C:\\..\\..\\etc\\passwd", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    out[23] = g == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    g = CreateFileW(L"\\\\server\\share\\x", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    out[24] = g == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    g = CreateFileW(L"C:\\Windows\\System32\\vendor.ini", GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    out[25] = g != INVALID_HANDLE_VALUE;
    CloseHandle(g);
    out[26] = DeleteFileW(L"C:\\ProgramData\\Vendor\\pool.cfg");
    out[27] = DeleteFileW(L"C:\\ProgramData\\Vendor\\pool.cfg") ? 0 : GetLastError();
    g = CreateFileW(L"C:\\ProgramData\\Vendor\\link\\x", GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
    out[28] = g == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    f = CreateFileW(L"C:\\ProgramData\\Vendor\\keep.cfg", GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    WriteFile(f, "x", 1, &n, NULL);
    CloseHandle(f);
    f = CreateFileW(L"C:\\ProgramData\\Vendor\\keep.cfg", GENERIC_WRITE, 0, NULL, OPEN_ALWAYS, 0, NULL);
    out[29] = GetLastError();  /* ERROR_ALREADY_EXISTS on success */
    CloseHandle(f);
    return 0;
}

__declspec(dllexport) DWORD WINAPI Stdout(void)
{
    DWORD n;
    HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
    out[0] = GetFileType(h);
    out[1] = WriteFile(h, "hello from the DLL", 18, &n, NULL);
    out[2] = n;
    return 0;
}

__declspec(dllexport) DWORD WINAPI System(void)
{
    WCHAR buf[MAX_PATH];
    out[0] = GetWindowsDirectoryW(buf, MAX_PATH);
    OutputDebugStringW(buf);
    out[1] = GetSystemDirectoryW(buf, 3);  /* too small: size needed, NUL included */
    out[2] = GetSystemDirectoryW(buf, MAX_PATH);
    OutputDebugStringW(buf);
    out[3] = ExpandEnvironmentStringsW(L"%ProgramData%\\Vendor;%NOPE%;%windir%", buf, MAX_PATH);
    OutputDebugStringW(buf);
    out[4] = ExpandEnvironmentStringsW(L"%SystemRoot%", buf, 2);
    DWORD size = 2;
    out[5] = GetComputerNameW(buf, &size);
    out[6] = GetLastError(); out[7] = size;
    size = MAX_PATH;
    out[8] = GetComputerNameW(buf, &size);
    out[9] = size;
    OutputDebugStringW(buf);
    WORD types[3];
    out[10] = GetStringTypeW(CT_CTYPE1, L"a1 ", 3, types);
    out[11] = types[0]; out[12] = types[1]; out[13] = types[2];
    out[14] = LCMapStringEx(LOCALE_NAME_USER_DEFAULT, LCMAP_UPPERCASE, L"pool", -1, buf, MAX_PATH, NULL, NULL, 0);
    OutputDebugStringW(buf);
    out[15] = CompareStringOrdinal(L"ABC", -1, L"abc", -1, TRUE);
    out[16] = CompareStringOrdinal(L"ABC", -1, L"abd", -1, FALSE);
    CPINFO cp;
    out[17] = GetCPInfo(CP_ACP, &cp);
    out[18] = cp.MaxCharSize;
    void *p = (void *)0x12345678;
    out[19] = DecodePointer(EncodePointer(p)) == p && EncodePointer(p) != p;
    STARTUPINFOW si;
    GetStartupInfoW(&si);
    out[20] = si.cb == sizeof si;
    return 0;
}
"""

CRT = r"""
#include <windows.h>
#include <stdarg.h>
#include <stddef.h>
static DWORD out[64];
__declspec(dllexport) DWORD WINAPI Out(DWORD i) { return out[i]; }

typedef int (__cdecl *vsw_s)(unsigned __int64, wchar_t *, size_t, const wchar_t *, void *, va_list);
typedef int (__cdecl *vsnw_s)(unsigned __int64, wchar_t *, size_t, size_t, const wchar_t *, void *, va_list);
typedef void (__cdecl *qsort_t)(void *, size_t, size_t, int (__cdecl *)(const void *, const void *));
typedef void *(__cdecl *bsearch_t)(const void *, const void *, size_t, size_t, int (__cdecl *)(const void *, const void *));
typedef void *(__cdecl *amalloc_t)(size_t, size_t);
typedef void (__cdecl *afree_t)(void *);
typedef int (__cdecl *wcat_t)(wchar_t *, size_t, const wchar_t *, size_t);
typedef char *(__cdecl *strerror_t)(int);

static FARPROC ucrt(const char *name)
{
    return GetProcAddress(LoadLibraryW(L"ucrtbase.dll"), name);
}

static int call_vsw(wchar_t *buf, size_t n, const wchar_t *fmt, ...)
{
    va_list ap; va_start(ap, fmt);
    int r = ((vsw_s)ucrt("__stdio_common_vswprintf_s"))(0, buf, n, fmt, NULL, ap);
    va_end(ap); return r;
}

static int call_vsnw(wchar_t *buf, size_t n, size_t count, const wchar_t *fmt, ...)
{
    va_list ap; va_start(ap, fmt);
    int r = ((vsnw_s)ucrt("__stdio_common_vsnwprintf_s"))(0, buf, n, count, fmt, NULL, ap);
    va_end(ap); return r;
}

static int __cdecl cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

__declspec(dllexport) DWORD WINAPI Crt(void)
{
    wchar_t buf[32];
    out[0] = call_vsw(buf, 32, L"%ls=%u.%u", L"ip", 10u, 7u);
    OutputDebugStringW(buf);
    out[1] = call_vsnw(buf, 8, (size_t)-1, L"%ls", L"0123456789");  /* _TRUNCATE */
    OutputDebugStringW(buf);
    out[2] = call_vsnw(buf, 32, 4, L"%ls", L"0123456789");
    OutputDebugStringW(buf);
    int v[7] = {5, -1, 9, 3, 3, 0, 7};
    ((qsort_t)ucrt("qsort"))(v, 7, sizeof(int), cmp);
    for (int i = 0; i < 7; i++) out[3 + i] = (DWORD)v[i];
    int key = 7;
    int *hit = ((bsearch_t)ucrt("bsearch"))(&key, v, 7, sizeof(int), cmp);
    out[10] = hit ? (DWORD)(hit - v) : 99;
    key = 4;
    out[11] = ((bsearch_t)ucrt("bsearch"))(&key, v, 7, sizeof(int), cmp) == NULL;
    void *a = ((amalloc_t)ucrt("_aligned_malloc"))(100, 256);
    out[12] = ((ULONG_PTR)a & 255) == 0 && a != NULL;
    ((afree_t)ucrt("_aligned_free"))(a);
    lstrcpyW(buf, L"ab");
    out[13] = ((wcat_t)ucrt("wcsncat_s"))(buf, 4, L"cdef", (size_t)-1);  /* STRUNCATE */
    OutputDebugStringW(buf);
    OutputDebugStringA(((strerror_t)ucrt("strerror"))(2));
    return 0;
}

__declspec(dllexport) DWORD WINAPI Overflow(void)
{
    wchar_t buf[4];
    return (DWORD)call_vsw(buf, 4, L"%ls", L"far too long");
}
"""

CXX = r"""
#include <windows.h>
typedef struct { void *vft; void *spare; char name[32]; } TypeDesc;
typedef struct { DWORD props; DWORD type; int pmd[3]; int size; DWORD copy; } Catchable;
typedef struct { int n; DWORD types[2]; } CatchArray;
typedef struct { DWORD attrs; DWORD unwind; DWORD fwd; DWORD array; } ThrowInfo;
extern IMAGE_DOS_HEADER __ImageBase;
#ifdef _WIN64
#define REF(p) ((DWORD)((ULONG_PTR)(p) - (ULONG_PTR)&__ImageBase))
#else
#define REF(p) ((DWORD)(ULONG_PTR)(p))
#endif
static TypeDesc td_rt = {0, 0, ".?AVruntime_error@std@@"};
static TypeDesc td_ex = {0, 0, ".?AVexception@std@@"};
static Catchable ct[2];
static CatchArray ca;
static ThrowInfo ti;
static struct { void *vft; const char *what; char do_free; } obj = {0, "pool config unreadable", 0};
typedef void (__stdcall *throw_t)(void *, ThrowInfo *);

__declspec(dllexport) DWORD WINAPI Throw(void)
{
    ct[0].type = REF(&td_rt);
    ct[1].type = REF(&td_ex);
    ca.n = 2;
    ca.types[0] = REF(&ct[0]);
    ca.types[1] = REF(&ct[1]);
    ti.array = REF(&ca);
    throw_t t = (throw_t)GetProcAddress(LoadLibraryW(L"vcruntime140.dll"), "_CxxThrowException");
    t(&obj, &ti);
    return 1;
}

__declspec(dllexport) DWORD WINAPI Box(void)
{
    WCHAR buf[64];
    DWORD r = (DWORD)MessageBoxW(NULL, L"Pool file missing", L"Vendor", MB_OK | MB_ICONERROR);
    int n = wsprintfW(buf, L"%s:%d:%04x", L"lease", -3, 0xbeef);
    OutputDebugStringW(buf);
    return r << 8 | (DWORD)n;
}
"""

MORE = r"""
#include <windows.h>
#include <sddl.h>
static DWORD out[64];
__declspec(dllexport) DWORD WINAPI Out(DWORD i) { return out[i]; }

__declspec(dllexport) DWORD WINAPI Sync(void)
{
    HANDLE ev = CreateEventW(NULL, FALSE, TRUE, L"PoolReady");
    out[0] = WaitForSingleObject(ev, 0);
    out[1] = WaitForSingleObject(ev, 0);  /* auto-reset: consumed */
    HANDLE again = CreateEventW(NULL, TRUE, FALSE, L"PoolReady");
    out[2] = GetLastError();
    SetEvent(again);
    out[3] = WaitForSingleObject(ev, 50);  /* the same object */
    HANDLE mx = CreateMutexW(NULL, FALSE, NULL);
    out[4] = WaitForSingleObject(mx, INFINITE);
    out[5] = WaitForSingleObject(mx, INFINITE);  /* recursive */
    out[6] = ReleaseMutex(mx) && ReleaseMutex(mx);
    out[7] = ReleaseMutex(mx) ? 0 : GetLastError();
    HANDLE sem = CreateSemaphoreW(NULL, 1, 2, NULL);
    HANDLE both[2] = {mx, sem};
    out[8] = WaitForMultipleObjects(2, both, TRUE, 0);
    out[9] = WaitForSingleObject(sem, 10);
    LONG prev = -1;
    out[10] = ReleaseSemaphore(sem, 2, &prev);
    out[11] = ReleaseSemaphore(sem, 1, &prev);
    out[12] = (DWORD)prev;
    ReleaseMutex(mx);
    CloseHandle(ev); CloseHandle(again); CloseHandle(mx); CloseHandle(sem);
    return 0;
}

__declspec(dllexport) DWORD WINAPI Deadlock(void)
{
    HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    return WaitForSingleObject(ev, INFINITE);
}

__declspec(dllexport) DWORD WINAPI Ini(void)
{
    WCHAR buf[64];
    const WCHAR *ini = L"C:\\ProgramData\\Vendor\\pool.ini";
    out[0] = GetPrivateProfileStringW(L"Pool", L"Start", L"none", buf, 64, ini);
    OutputDebugStringW(buf);
    out[1] = GetPrivateProfileIntW(L"pool", L"SIZE", 7, ini);
    out[2] = GetPrivateProfileIntW(L"Pool", L"Missing", 7, ini);
    out[3] = GetPrivateProfileStringW(L"Pool", L"Missing", L"dflt  ", buf, 64, ini);
    OutputDebugStringW(buf);
    out[4] = WritePrivateProfileStringW(L"Leases", L"alice", L"10.0.0.5", ini);
    out[5] = WritePrivateProfileStringW(L"Pool", L"Size", NULL, ini);
    out[6] = GetPrivateProfileStringW(L"Pool", L"Start", L"", buf, 4, ini);  /* truncated */
    out[7] = GetPrivateProfileStringW(NULL, NULL, L"", buf, 64, ini);  /* section names */
    out[8] = buf[0]; out[9] = buf[5];
    return 0;
}

__declspec(dllexport) DWORD WINAPI Misc(void)
{
    WCHAR buf[128];
    LPWSTR msg = NULL;
    out[0] = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_IGNORE_INSERTS,
                            NULL, ERROR_ACCESS_DENIED, 0, (LPWSTR)&msg, 0, NULL);
    OutputDebugStringW(msg);
    LocalFree(msg);
    DWORD_PTR args[2] = {(DWORD_PTR)L"alice", 42};
    out[1] = FormatMessageW(FORMAT_MESSAGE_FROM_STRING | FORMAT_MESSAGE_ARGUMENT_ARRAY, L"user %1 got %2!u! leases",
                            0, 0, buf, 128, (va_list *)args);
    OutputDebugStringW(buf);
    out[2] = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM, NULL, 12345, 0, buf, 128, NULL) ? 0 : GetLastError();
    SYSTEMTIME st;
    FILETIME ft = {0x256D4000u, 0x01BF53EBu};  /* 2000-01-01 00:00:00 UTC */
    out[3] = FileTimeToSystemTime(&ft, &st);
    out[4] = st.wYear; out[5] = st.wMonth; out[6] = st.wDay; out[7] = st.wDayOfWeek;
    FILETIME back;
    out[8] = SystemTimeToFileTime(&st, &back) && back.dwLowDateTime == ft.dwLowDateTime
             && back.dwHighDateTime == ft.dwHighDateTime;
    OSVERSIONINFOEXW vi = {sizeof vi};
    vi.dwMajorVersion = 6; vi.dwMinorVersion = 0;
    ULONGLONG cm = VerSetConditionMask(VerSetConditionMask(0, VER_MAJORVERSION, VER_GREATER_EQUAL),
                                       VER_MINORVERSION, VER_GREATER_EQUAL);
    out[9] = VerifyVersionInfoW(&vi, VER_MAJORVERSION | VER_MINORVERSION, cm);
    vi.dwMajorVersion = 10;
    out[10] = VerifyVersionInfoW(&vi, VER_MAJORVERSION | VER_MINORVERSION, cm);
    out[11] = GetLastError();
    BOOL wow = 7;
    IsWow64Process(GetCurrentProcess(), &wow);
    out[12] = (DWORD)wow;
    HANDLE tok;
    out[13] = OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok);
    BYTE tu[64]; DWORD need = 0;
    out[14] = GetTokenInformation(tok, TokenUser, tu, 4, &need) ? 0 : GetLastError();
    out[15] = GetTokenInformation(tok, TokenUser, tu, sizeof tu, &need);
    LPWSTR ssid = NULL;
    ConvertSidToStringSidW(((TOKEN_USER *)tu)->User.Sid, &ssid);
    OutputDebugStringW(ssid);
    LocalFree(ssid);
    CloseHandle(tok);
    SID_IDENTIFIER_AUTHORITY nt = {SECURITY_NT_AUTHORITY};
    PSID admins;
    AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID, DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0, &admins);
    BOOL member = 0;
    out[16] = CheckTokenMembership(NULL, admins, &member);
    out[17] = (DWORD)member;
    FreeSid(admins);
    return 0;
}
"""


def _build(src: str, bits: int, libs: tuple[str, ...] = ()) -> str:
    try:
        return str(build_snippet(src, bits, libs=libs))
    except MingwMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module", autouse=True)
def _compile_in_parallel() -> None:
    from fixtures.dlls.build_selfreg import prebuild_snippets

    prebuild_snippets([(src, b, libs) for b in (32, 64) for src, libs in (
        (FILES, ()), (CRT, ()), (CXX, ("user32",)), (MORE, ()), (MORE, ("advapi32",)))])


@pytest.fixture(scope="module", params=[32, 64], ids=["x86", "x64"])
def bits(request: pytest.FixtureRequest) -> int:
    return int(request.param)


class Guest:
    def __init__(self, path: str, bits: int, opts: PeOptions) -> None:
        self.bits = bits
        self.opts = opts
        self.dll: PeDll = load(path, bitness=bits, opts=opts)

    def call(self, export: str) -> CallResult:
        return self.dll.handle_call(Call(export, ()))

    def run(self, export: str) -> tuple[list[int], tuple[str, ...]]:
        r = self.call(export)
        assert r.fault is None, r.fault
        return [int(self.dll.handle_call(Call("Out", (i,))).returned or 0) for i in range(32)], r.debug_output


@pytest.fixture
def files_guest(bits: int, tmp_path: Path) -> Iterator[Guest]:
    g = Guest(_build(FILES, bits), bits, PeOptions(sandbox=str(tmp_path)))
    yield g
    g.dll.close()


def test_files_live_in_the_sandbox(files_guest: Guest, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"outside-{tmp_path.name}"
    outside.mkdir()
    vendor = tmp_path / "c" / "ProgramData" / "Vendor"
    vendor.mkdir(parents=True)
    (vendor / "link").symlink_to(outside, target_is_directory=True)
    (outside / "x").write_text("secret")
    o, _ = files_guest.run("Files")
    assert o[0] == 0 and o[1] == 183  # exists already (made above): ERROR_ALREADY_EXISTS
    assert o[2:6] == [1, 1, 25, 25]
    assert o[6] == 6 and o[7:10] == [1, 8, 1]
    assert o[10:13] == [1, 11, 1]
    assert o[13] == 80  # ERROR_FILE_EXISTS: NTFS names are case-insensitive
    assert o[14] == 2 and o[15] == 3  # file / path not found
    assert o[16] == 0x10 and o[17] == 0xFFFFFFFF
    assert o[18:23] == [1, 25, 1, 18, 1]  # one match, then ERROR_NO_MORE_FILES
    assert o[23] == 5 and o[24] == 5  # '..' above the root and UNC: ERROR_ACCESS_DENIED
    assert o[26] == 1 and o[27] == 2
    assert o[28] == 5  # a symlink leading out of the sandbox
    assert o[29] == 183
    sysdir = "SysWOW64" if files_guest.bits == 32 else "System32"  # WOW64 file system redirection
    assert (tmp_path / "c" / "Windows" / sysdir / "vendor.ini").is_file()
    assert not (vendor / "pool.cfg").exists() and (vendor / "keep.cfg").read_bytes() == b"x"
    reasons = {path: why for _, path, why in files_guest.opts.denied}
    assert "above the drive root" in reasons["C:\\..\\..\\etc\\passwd"]
    assert "UNC" in reasons["\\\\server\\share\\x"]
    assert "outside the sandbox" in reasons["C:\\ProgramData\\Vendor\\link\\x"]
    assert files_guest.dll.resource_usage().handles == 0  # type: ignore[union-attr]


def test_without_a_sandbox_every_file_access_is_denied_and_recorded(bits: int) -> None:
    g = Guest(_build(FILES, bits), bits, PeOptions())
    try:
        o, debug = g.run("Files")
    finally:
        g.dll.close()
    assert o[0] == 0 and o[1] == 5 and o[2] == 0
    assert o[16] == 0xFFFFFFFF
    assert {api for api, _, _ in g.opts.denied} >= {"CreateDirectoryW", "CreateFileW", "GetFileAttributesW",
                                                    "FindFirstFileW", "DeleteFileW"}
    assert all("no file sandbox" in why for _, _, why in g.opts.denied)
    assert any("CreateFileW('C:\\\\ProgramData\\\\Vendor\\\\pool.cfg') refused" in line for line in debug)


def test_stdout_and_system_information(bits: int) -> None:
    g = Guest(_build(FILES, bits), bits, PeOptions(computer_name="RRAS-EDGE"))
    try:
        o, debug = g.run("Stdout")
        assert o[:3] == [2, 1, 18]  # FILE_TYPE_CHAR
        assert "[stdout] hello from the DLL" in debug
        o, debug = g.run("System")
    finally:
        g.dll.close()
    assert o[0] == len("C:\\Windows") and debug[0] == "C:\\Windows"
    assert o[1] == len("C:\\Windows\\system32") + 1 and o[2] == o[1] - 1
    assert debug[1] == "C:\\Windows\\system32"  # WOW64 processes get System32 too
    assert debug[2] == "C:\\ProgramData\\Vendor;%NOPE%;C:\\Windows"
    assert o[3] == len(debug[2]) + 1 and o[4] == len("C:\\Windows") + 1
    assert (o[5], o[6], o[7]) == (0, 111, 10)  # ERROR_BUFFER_OVERFLOW, size with NUL
    assert (o[8], o[9], debug[3]) == (1, 9, "RRAS-EDGE")
    assert o[10] == 1 and o[11] & 0x102 == 0x102 and o[12] & 0x84 == 0x84 and o[13] & 0x48 == 0x48
    assert o[14] == 5 and debug[4] == "POOL"
    assert (o[15], o[16]) == (2, 1)  # CSTR_EQUAL ignoring case, CSTR_LESS_THAN
    assert (o[17], o[18], o[19], o[20]) == (1, 1, 1, 1)


def test_ucrt_printf_qsort_and_secure_functions(bits: int) -> None:
    g = Guest(_build(CRT, bits), bits, PeOptions())
    try:
        o, debug = g.run("Crt")
        assert o[0] == 7 and debug[0] == "ip=10.7"
        assert o[1] == 0xFFFFFFFF and debug[1] == "0123456"  # _TRUNCATE: -1, truncated
        assert o[2] == 0xFFFFFFFF and debug[2] == "0123"  # count limits the copy
        assert [x - (1 << 32) if x >> 31 else x for x in o[3:10]] == [-1, 0, 3, 3, 5, 7, 9]
        assert o[10] == 5 and o[11] == 1
        assert o[12] == 1
        assert o[13] == 80 and debug[3] == "abc"  # STRUNCATE
        assert debug[4] == "No such file or directory"
        r = g.call("Overflow")
    finally:
        g.dll.close()
    assert r.fault is not None and r.fault.kind == "crash"
    assert "does not fit" in r.fault.message and "vswprintf_s" in r.fault.message


def test_cxx_exception_escaping_is_a_fault_naming_type_and_what(bits: int) -> None:
    from emulator.loaders.pe.winapi import lookup, vcruntime

    for dll in ("vcruntime140.dll", "msvcrt.dll"):  # VC6-era DLLs import it from msvcrt.dll
        spec = lookup(dll, "_CxxThrowException")
        assert spec is not None and spec.handler is vcruntime._CxxThrowException
    g = Guest(_build(CXX, bits, libs=("user32",)), bits, PeOptions())
    try:
        r = g.call("Throw")
        assert r.fault is not None and r.fault.kind == "exception"
        assert "std::runtime_error" in r.fault.message
        assert "pool config unreadable" in r.fault.message
        r2 = g.call("Box")  # the DLL was reloaded after the fault and still works
    finally:
        g.dll.close()
    assert r2.fault is None and r2.returned == (1 << 8 | len("lease:-3:beef"))
    assert "[MessageBox] Vendor: Pool file missing" in r2.debug_output
    assert "lease:-3:beef" in r2.debug_output
    assert g.opts.message_boxes[-1] == ("Vendor", "Pool file missing")


def test_msvc_startup_names_resolve() -> None:
    # what MSVC /MD DLLs import beyond the core (notes section 3), all present
    for dll, names in {
        "api-ms-win-crt-runtime-l1-1-0.dll": ("_initterm", "_initterm_e", "_seh_filter_dll", "_cexit",
                                              "_configure_narrow_argv", "_initialize_onexit_table",
                                              "_register_onexit_function", "_execute_onexit_table",
                                              "_crt_atexit", "terminate", "_invalid_parameter_noinfo_noreturn"),
        "api-ms-win-crt-heap-l1-1-0.dll": ("malloc", "calloc", "realloc", "free", "_aligned_malloc",
                                           "_aligned_free", "_callnewh", "_set_new_mode"),
        "api-ms-win-crt-stdio-l1-1-0.dll": ("__stdio_common_vswprintf", "__stdio_common_vsprintf",
                                            "__stdio_common_vsnwprintf_s", "__stdio_common_vswprintf_s",
                                            "__stdio_common_vfprintf", "__acrt_iob_func"),
        "api-ms-win-crt-string-l1-1-0.dll": ("wcsncat_s", "strcat_s", "wcscpy_s", "_wcsicmp", "strncpy_s"),
        "api-ms-win-crt-utility-l1-1-0.dll": ("qsort", "bsearch", "rand"),
        "VCRUNTIME140.dll": ("memcpy", "memset", "memmove", "memcmp", "__std_type_info_destroy_list",
                             "__C_specific_handler", "_except_handler4_common", "__CxxFrameHandler3",
                             "_CxxThrowException", "_purecall", "__std_exception_copy"),
        "VCRUNTIME140_1.dll": ("__CxxFrameHandler4",),
        "KERNEL32.dll": ("GetStartupInfoW", "EncodePointer", "GetStringTypeW", "LCMapStringEx", "GetCPInfo",
                         "GetEnvironmentStringsW", "FreeEnvironmentStringsW", "GetStdHandle", "GetFileType",
                         "WriteFile", "CreateFileW", "RegOpenKeyExW", "RtlVirtualUnwind"),
        "ADVAPI32.dll": ("RegGetValueW", "RegDeleteTreeW", "ReportEventW"),
        "USER32.dll": ("MessageBoxW", "wsprintfW"),
        "SHLWAPI.dll": ("PathFileExistsW", "SHGetValueW"),
    }.items():
        for name in names:
            assert lookup(dll, name) is not None, f"{dll}!{name}"


def test_demangle_type_names() -> None:
    assert demangle_type(".?AVbad_alloc@std@@") == "std::bad_alloc"
    assert demangle_type(".?AUPoolError@vendor@@") == "vendor::PoolError"
    assert demangle_type(".H") == "int"


def test_sandbox_paths_never_escape(tmp_path: Path) -> None:
    from emulator.loaders.pe.winapi.kernel32_extra import SandboxDenied, _components

    class _C:
        bits = 64

    ok = {
        "C:\\ProgramData\\V\\a.cfg": ("c", ["ProgramData", "V", "a.cfg"]),
        "c:/x/./y/../z": ("c", ["x", "z"]),
        "D:\\data": ("d", ["data"]),
        "\\\\?\\C:\\x": ("c", ["x"]),
        "pool.cfg": ("c", ["Windows", "System32", "pool.cfg"]),
        "/etc/passwd": ("c", ["etc", "passwd"]),  # a host path is just a path on drive C: inside
    }
    for path, want in ok.items():
        assert _components(_C(), path) == want, path  # type: ignore[arg-type]
    for bad in ("C:\\..\\x", "..\\..\\..\\..\\x", "\\\\srv\\share", "\\\\.\\PhysicalDrive0", "C:\\a:stream",
                "C:\\a\\b?"):
        with pytest.raises(SandboxDenied):
            _components(_C(), bad)  # type: ignore[arg-type]
    assert os.sep  # the host separator never reaches the guest path parser


def test_events_mutexes_semaphores_on_one_thread(bits: int) -> None:
    g = Guest(_build(MORE, bits), bits, PeOptions())
    try:
        o, _ = g.run("Sync")
        assert o[0:4] == [0, 0x102, 183, 0]  # WAIT_OBJECT_0, WAIT_TIMEOUT, ERROR_ALREADY_EXISTS
        assert o[4:8] == [0, 0, 1, 288]  # ERROR_NOT_OWNER
        assert o[8:10] == [0, 0x102]  # wait-all took the mutex and the semaphore's only count
        assert o[10:13] == [1, 0, 0]  # 0 + 2 fits the maximum, one more does not; previous count 0
        assert g.dll.resource_usage().handles == 0  # type: ignore[union-attr]
        r = g.call("Deadlock")
    finally:
        g.dll.close()
    assert r.fault is not None and r.fault.kind == "timeout" and "would wait forever" in r.fault.message


def test_ini_files_in_the_sandbox(bits: int, tmp_path: Path) -> None:
    vendor = tmp_path / "c" / "ProgramData" / "Vendor"
    vendor.mkdir(parents=True)
    (vendor / "pool.ini").write_bytes(b"; vendor pool\r\n[Pool]\r\nStart = \"10.0.0.1\"\r\nSize=64\r\n")
    g = Guest(_build(MORE, bits), bits, PeOptions(sandbox=str(tmp_path)))
    try:
        o, debug = g.run("Ini")
    finally:
        g.dll.close()
    assert (o[0], debug[0]) == (8, "10.0.0.1")  # quotes and blanks stripped
    assert (o[1], o[2]) == (64, 7)  # section and key names are case-insensitive
    assert (o[3], debug[1]) == (4, "dflt")  # trailing blanks of the default dropped
    assert o[4] == 1 and o[5] == 1
    assert o[6] == 3  # truncated to size - 1
    assert o[7] == len("Pool\0Leases\0") - 1 and chr(o[8]) == "P" and chr(o[9]) == "L"
    assert (vendor / "pool.ini").read_bytes() == b"[Pool]\r\nStart=10.0.0.1\r\n[Leases]\r\nalice=10.0.0.5\r\n"


def test_messages_time_version_and_security(bits: int) -> None:
    from emulator.host.profiles import get_profile
    from emulator.loaders.pe.winapi.env import for_profile

    opts = for_profile(get_profile("win7-x64"))
    g = Guest(_build(MORE, bits, libs=("advapi32",)), bits, opts)
    try:
        o, debug = g.run("Misc")
    finally:
        g.dll.close()
    assert debug[0] == "Access is denied.\r\n" and o[0] == len(debug[0])
    assert debug[1] == "user alice got 42 leases" and o[1] == len(debug[1])
    assert o[2] == 317  # ERROR_MR_MID_NOT_FOUND
    assert o[3:9] == [1, 2000, 1, 1, 6, 1]  # a Saturday
    assert o[9] == 1 and (o[10], o[11]) == (0, 1150)  # 6.1 >= 6.0 but not >= 10.0
    assert o[12] == (1 if bits == 32 else 0)  # a 32-bit DLL on 64-bit Windows runs under WOW64
    assert o[13] == 1 and o[14] == 122 and o[15] == 1
    assert debug[2] == "S-1-5-18"  # LocalSystem
    assert (o[16], o[17]) == (1, 1)  # SYSTEM is in BUILTIN\\Administrators


def test_version_and_environment_from_the_options(bits: int) -> None:
    """GetVersionExW/GetEnvironmentVariableW follow PeOptions (the core modules have no copies)."""
    from emulator.loaders.pe.winapi import kernel32_extra as k
    from emulator.loaders.pe.winapi import lookup

    for name in ("GetVersionExW", "GetVersionExA", "GetVersion", "GetEnvironmentVariableW",
                 "GetEnvironmentVariableA"):
        spec = lookup("kernel32.dll", name)
        assert spec is not None and spec.handler is getattr(k, name)
    src = r"""
    #include <windows.h>
    __declspec(dllexport) DWORD WINAPI V(void)
    {
        OSVERSIONINFOEXW vi = {sizeof vi};
        GetVersionExW((OSVERSIONINFOW *)&vi);
        WCHAR buf[64];
        DWORD n = GetEnvironmentVariableW(L"programdata", buf, 64);
        OutputDebugStringW(buf);
        DWORD small = GetEnvironmentVariableW(L"ProgramData", buf, 3);
        DWORD none = GetEnvironmentVariableW(L"NOPE", buf, 64) == 0 && GetLastError() == ERROR_ENVVAR_NOT_FOUND;
        return vi.dwMajorVersion << 24 | vi.dwMinorVersion << 16 | vi.wProductType << 12 | n << 6 | small << 1 | none;
    }
    """
    g = Guest(_build(src, bits), bits, PeOptions(os_version=(5, 2, 3790)))
    try:
        r = g.call("V")
    finally:
        g.dll.close()
    assert r.fault is None and r.debug_output == ("C:\\ProgramData",)
    n = len("C:\\ProgramData")
    assert r.returned == (5 << 24 | 2 << 16 | 3 << 12 | n << 6 | (n + 1) << 1 | 1)


def test_shlwapi_paths_and_values(bits: int, tmp_path: Path) -> None:
    from emulator.registry.model import REG_SZ, Registry

    src = r"""
    #include <windows.h>
    #include <shlwapi.h>
    __declspec(dllexport) DWORD WINAPI S(void)
    {
        WCHAR buf[MAX_PATH], path[MAX_PATH] = L"C:\\ProgramData\\Vendor\\pool.cfg";
        DWORD r = 0, type = 0, cb = sizeof buf;
        PathCombineW(buf, L"C:\\ProgramData", L"Vendor\\pool.cfg");
        OutputDebugStringW(buf);
        OutputDebugStringW(PathFindFileNameW(path));
        PathRemoveFileSpecW(path);
        OutputDebugStringW(path);
        PathAppendW(path, L"x.ini");
        OutputDebugStringW(path);
        r |= PathFileExistsW(L"C:\\ProgramData") << 0;
        r |= PathFileExistsW(L"C:\\ProgramData\\nothing") << 1;
        r |= (SHGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\RAS\\AdminDll", L"DisplayName", &type,
                          buf, &cb) == ERROR_SUCCESS) << 2;
        OutputDebugStringW(buf);
        r |= (SHSetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\RAS\\AdminDll", L"Vendor", REG_SZ,
                          L"v", 4) == ERROR_SUCCESS) << 3;
        r |= (SHDeleteKeyW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\RAS\\AdminDll") == ERROR_SUCCESS) << 4;
        return r | type << 8 | cb << 16;
    }
    """
    reg = Registry()
    reg.set_value(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll", "DisplayName", REG_SZ, "Pool\0".encode("utf-16-le"))
    g = Guest(_build(src, bits, libs=("shlwapi",)), bits, PeOptions(registry=reg, sandbox=str(tmp_path)))
    try:
        r = g.call("S")
    finally:
        g.dll.close()
    assert r.fault is None, r.fault
    assert r.debug_output == ("C:\\ProgramData\\Vendor\\pool.cfg", "pool.cfg", "C:\\ProgramData\\Vendor",
                              "C:\\ProgramData\\Vendor\\x.ini", "Pool")
    assert r.returned == (0b11101 | REG_SZ << 8 | 10 << 16)
    assert not reg.key_exists(r"HKLM\SOFTWARE\Microsoft\RAS\AdminDll")
