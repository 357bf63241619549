/* A DLL linked against the Universal CRT (imports api-ms-win-crt-* sets) with no CRT startup. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

BOOL WINAPI DllEntry(HINSTANCE h, DWORD reason, LPVOID reserved) { return TRUE; }

__declspec(dllexport) DWORD CALLBACK UcrtFormat(wchar_t *out, DWORD n) {
  char *volatile m = malloc(16);
  int k;
  strcpy(m, "hs");
  k = _snwprintf(out, n, L"%ls-%d-%hs-%zu", L"ucrt", 42, m, strlen(m));
  free(m);
  return (DWORD)k;
}
