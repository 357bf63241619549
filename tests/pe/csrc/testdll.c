/* Test admin DLL for tests/pe: a real RasAdmin IP pool plus targeted misbehaviours chosen with -D. */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#ifndef GETIP_CONV
#define GETIP_CONV CALLBACK
#endif

#define POOL 64
typedef struct { WCHAR user[257]; WCHAR port[17]; int used; } Lease;
static Lease *leases;
static CRITICAL_SECTION cs;
static HANDLE heap;
static volatile LONG tls_seen, order;

static void NTAPI tls_cb(PVOID h, DWORD reason, PVOID reserved) {
  if (reason == DLL_PROCESS_ATTACH) tls_seen++;
}
__attribute__((used, section(".CRT$XLB"))) PIMAGE_TLS_CALLBACK p_tls_cb = tls_cb;

BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved) {
  if (reason == DLL_PROCESS_ATTACH) {
    order = tls_seen ? 1 : 2;
#ifdef REFUSE
    return FALSE;
#endif
    heap = GetProcessHeap();
    leases = HeapAlloc(heap, HEAP_ZERO_MEMORY, sizeof(Lease) * POOL);
    InitializeCriticalSection(&cs);
    OutputDebugStringA("attached");
  } else if (reason == DLL_PROCESS_DETACH) {
    OutputDebugStringA("detached");
    DeleteCriticalSection(&cs);
    HeapFree(heap, 0, leases);
  }
  return TRUE;
}

__declspec(dllexport) DWORD GETIP_CONV RasAdminGetIpAddressForUser(WCHAR *user, WCHAR *port, DWORD *ip, BOOL *notify) {
  WCHAR msg[300];
  int i;
#ifdef WRITE_INPUT
  user[0] = L'X';
#endif
  if (_wcsicmp(user, L"blocked") == 0) return 5;
  EnterCriticalSection(&cs);
  for (i = 0; i < POOL && leases[i].used; i++) {}
  if (i == POOL) { LeaveCriticalSection(&cs); return 8; }
  leases[i].used = 1;
  wcsncpy(leases[i].user, user, 256);
  wcsncpy(leases[i].port, port, 16);
  *ip = 192u | (168u << 8) | (100u << 16) | ((unsigned)(10 + i) << 24);
  *notify = TRUE;
  _snwprintf(msg, 300, L"lease %d to %ls on %ls ip=%08x", i, user, port, (unsigned)*ip);
  OutputDebugStringW(msg);
  LeaveCriticalSection(&cs);
  return 0;
}

__declspec(dllexport) void CALLBACK RasAdminReleaseIpAddress(WCHAR *user, WCHAR *port, DWORD *ip) {
  int i;
  EnterCriticalSection(&cs);
  i = (int)((*ip >> 24) & 0xff) - 10;
  if (i >= 0 && i < POOL && leases[i].used && wcscmp(leases[i].user, user) == 0) leases[i].used = 0;
  LeaveCriticalSection(&cs);
}

/* --- test exports (raw integer calls) --- */
__declspec(dllexport) DWORD CALLBACK TestInUse(void) {
  DWORD n = 0; int i;
  for (i = 0; i < POOL; i++) n += leases[i].used ? 1 : 0;
  return n;
}
__declspec(dllexport) DWORD CALLBACK TestTlsOrder(void) { return (DWORD)order; }
__declspec(dllexport) DWORD CALLBACK TestCrash(DWORD where) {
  EnterCriticalSection(&cs);             /* left held: the loader must reload (pitfall 7) */
  return *(volatile DWORD *)(ULONG_PTR)where;
}
__declspec(dllexport) DWORD CALLBACK TestDivide(DWORD a, DWORD b) { return a / b; }
__declspec(dllexport) DWORD CALLBACK TestLoop(void) { volatile int x = 0; for (;;) x++; return x; }
__declspec(dllexport) DWORD CALLBACK TestRecurse(DWORD n) {
  volatile char pad[4096]; pad[0] = (char)n; return n ? TestRecurse(n + 1) + pad[0] : 0;
}
/* imported from a DLL the emulator does not know (import library made from absent.def) */
__declspec(dllimport) DWORD __stdcall AbsentFunction(void);
__declspec(dllexport) DWORD CALLBACK TestMissing(void) { return AbsentFunction(); }
__declspec(dllexport) DWORD CALLBACK TestLeak(DWORD size) {
  return HeapAlloc(GetProcessHeap(), 0, size) != NULL;
}
__declspec(dllexport) DWORD CALLBACK TestFormat(char *out, DWORD n) {
  return (DWORD)_snprintf(out, n, "%s|%5d|%-4u|%x|%08X|%c|%ls|%%|%p", "ab", -42, 7u, 0xbeefu, 0xabcu, 'Z', L"wide", (void *)0x10);
}
__declspec(dllexport) DWORD CALLBACK TestFormatW(WCHAR *out, DWORD n) {
  return (DWORD)_snwprintf(out, n, L"%s|%S|%d|%I64u|%.3ls|%5.1f", L"w", "narrow", 12, (unsigned long long)1 << 40, L"abcdef", 3.14159);
}
__declspec(dllexport) DWORD CALLBACK TestUtf8(void) {
  WCHAR w[16]; char back[32];
  int n = MultiByteToWideChar(CP_UTF8, 0, "h\xc3\xa9llo", -1, w, 16);
  int m = WideCharToMultiByte(CP_UTF8, 0, w, -1, back, 32, NULL, NULL);
  return (DWORD)(n * 100 + m) + (lstrlenW(w) << 16);
}
__declspec(dllexport) DWORD CALLBACK TestTls(void) {
  DWORD i = TlsAlloc(); DWORD ok;
  TlsSetValue(i, (LPVOID)0x55);
  ok = (DWORD)(ULONG_PTR)TlsGetValue(i);
  TlsFree(i);
  return ok;
}
__declspec(dllexport) DWORD CALLBACK TestModule(void) {
  WCHAR path[MAX_PATH];
  DWORD n = GetModuleFileNameW((HMODULE)GetModuleHandleW(NULL) == NULL ? NULL : NULL, path, MAX_PATH);
  HMODULE k = GetModuleHandleW(L"kernel32.dll");
  FARPROC f = GetProcAddress(k, "GetCurrentProcessId");
  DWORD pid = f ? ((DWORD (WINAPI *)(void))f)() : 0;
  return (n > 0 ? 1 : 0) | (k ? 2 : 0) | (pid == GetCurrentProcessId() ? 4 : 0) | (GetModuleHandleA("libnothere.dll") == NULL ? 8 : 0);
}
#ifdef WITH_WS2
__declspec(dllimport) unsigned long __stdcall ntohl(unsigned long);
__declspec(dllimport) unsigned long __stdcall htonl(unsigned long);
__declspec(dllexport) DWORD CALLBACK TestWs2(DWORD v) { return htonl(v) ^ ntohl(0x01000000u); }
#endif
__declspec(dllexport) DWORD CALLBACK TestTeb(void) {
  NT_TIB *tib = (NT_TIB *)NtCurrentTeb();
  DWORD ok = 0;
  SetLastError(0x1234);
  if (tib->Self == tib) ok |= 1;
  if ((ULONG_PTR)tib->StackBase > (ULONG_PTR)tib->StackLimit) ok |= 2;
  if ((ULONG_PTR)&ok < (ULONG_PTR)tib->StackBase && (ULONG_PTR)&ok >= (ULONG_PTR)tib->StackLimit) ok |= 4;
  if (GetLastError() == 0x1234) ok |= 8;
  return ok;
}
__declspec(dllexport) DWORD CALLBACK TestLeaveDF(void) { __asm__ volatile("std"); return 1; }
__declspec(dllexport) DWORD CALLBACK TestBadStrlen(DWORD p) { return (DWORD)strlen((const char *)(ULONG_PTR)p); }
__declspec(dllexport) DWORD CALLBACK TestPrivateHeap(DWORD destroy) {
  static HANDLE h;
  if (!h) { h = HeapCreate(0, 0, 0); HeapAlloc(h, 0, 64); }
  if (destroy) { HeapDestroy(h); h = NULL; }
  return h != NULL;
}
__declspec(dllexport) DWORD CALLBACK TestWriteCode(void) {
  *(volatile unsigned char *)(void *)TestInUse = 0xC3;   /* .text is read-only */
  return 1;
}
#ifdef _WIN64
__declspec(dllexport) DWORD CALLBACK TestClobberXmm(void) {
  __asm__ volatile("pcmpeqd %%xmm7, %%xmm7" ::: "memory");  /* XMM7 is callee-saved on x64 */
  return 1;
}
#endif
__declspec(dllexport) DWORD CALLBACK TestTrap(void) { __builtin_trap(); return 0; }
__declspec(dllexport) DWORD CALLBACK TestBreak(void) { __asm__ volatile("int3"); return 0; }
__declspec(dllexport) DWORD CALLBACK TestDoubleFree(void) {
  void *p = HeapAlloc(GetProcessHeap(), 0, 8);
  HeapFree(GetProcessHeap(), 0, p);
  return HeapFree(GetProcessHeap(), 0, p);
}
