"""DLL-side checks computed from call results; O(1) per call, findings are data.

Every function takes the offending call (``ev``: the host's :class:`CallRecord` or a trace event
dict) as evidence - a record's event is built only when a finding is made - and the DLL's
path as ``subject``; see the severity table in :mod:`emulator.conformance.checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address
from typing import Any

from emulator.conformance.findings import Finding, Severity
from emulator.host.connection import byteswap32, dword_to_ip
from emulator.host.trace import CallRecord, call_of, event_of
from emulator.loaders.base import CallResult, ResourceUsage

SENTINEL = 0xA5A5A5A5  # R78: pre-filled into *bNotifyRelease before every GetIp call
NO_ERROR = 0
#: a call as evidence: the host's record (its event built only for a finding) or an event dict
EventLike = Mapping[str, Any] | CallRecord


def plausible_error_code(value: int) -> bool:
    """Whether a non-NO_ERROR DWORD reads like an error code (R59's "any other value").

    rasemu's rule: Win32/RAS error codes are at most 0xFFFF (system codes end below 16,000, RAS
    codes are 600-999); an HRESULT wrapping one (``HRESULT_FROM_WIN32``, 0x8007xxxx) is accepted
    too. Anything else (e.g. 0xDEADBEEF) is a garbage return: still a refusal, with a warning.
    """
    v = value & 0xFFFFFFFF
    return v <= 0xFFFF or v >> 16 == 0x8007


def garbage_return_findings(ev: EventLike, subject: str, returned: int,
                            rule: str = "R59") -> list[Finding]:
    """A GetIp(v6) return that is neither NO_ERROR nor a plausible error code (R59, warning)."""
    if returned == NO_ERROR or plausible_error_code(returned):
        return []
    return [Finding(
        rule, Severity.WARNING,
        f"{call_of(ev)} returned 0x{returned & 0xFFFFFFFF:08X}, which is not a Win32 error code; "
        "the user was refused", (event_of(ev),), subject=subject,
        extra={"returned": f"{returned & 0xFFFFFFFF:#x}"})]



def _private_octets(a: int, b: int) -> int:
    """Prefix length of the private range a.b.x.x lies in (10/8, 172.16/12, 192.168/16,
    100.64/10), 0 when none."""
    if a == 10:
        return 8
    if a == 172 and 16 <= b < 32:
        return 12
    if a == 192 and b == 168:
        return 16
    if a == 100 and 64 <= b < 128:
        return 10
    return 0


def not_unicast(addr: IPv4Address) -> tuple[str, Severity] | None:
    """Why ``addr`` is not a unicast host address (with the severity), or None (R64)."""
    return not_unicast_dword(int.from_bytes(addr.packed, "little"))


def not_unicast_dword(value: int) -> tuple[str, Severity] | None:
    """:func:`not_unicast` for a DWORD in network byte order (memory a,b,c,d)."""
    a, d = value & 0xFF, value >> 24 & 0xFF
    if value & 0xFFFFFFFF == 0xFFFFFFFF:
        return "the limited broadcast address", Severity.ERROR
    if a == 0:
        return "in 0.0.0.0/8 (this network)", Severity.ERROR
    if a == 127:
        return "a loopback address (127.0.0.0/8)", Severity.ERROR
    if 224 <= a < 240:
        return "a multicast address (224.0.0.0/4)", Severity.ERROR
    if d in (0, 255):
        return (f"likely the network or broadcast address of its /24 pool "
                f"(last octet {d})"), Severity.WARNING
    return None


def looks_byteswapped(value: int, proposed: int) -> bool:
    """Whether the DWORD a DLL wrote reads like a host-order address (R62, AMBIG-5).

    True when it is the byte-swapped proposal, or when its swapped form lies in a private
    range that the address as read does not (e.g. 10.100.168.192 for 192.168.100.10).
    """
    if value == 0:
        return False
    if proposed and value != proposed and value == byteswap32(proposed):
        return True
    fwd = _private_octets(value & 0xFF, value >> 8 & 0xFF)
    swp = _private_octets(value >> 24 & 0xFF, value >> 16 & 0xFF)
    if not swp:
        return False
    if fwd == swp:
        return False
    return swp > 8 or not fwd


def get_ip_findings(ev: EventLike, subject: str, proposed: int, returned: int,
                    value: int, notify: int, family_rule61: str = "R61") -> list[Finding]:
    """Judge one GetIpAddressForUser result that returned (R60, R61, R62, R64)."""
    if returned != NO_ERROR:
        # R59: any other value refuses the user; legitimate unless it is no error code at all
        return garbage_return_findings(ev, subject, returned)
    out: list[Finding] = []
    if notify == SENTINEL:
        out.append(Finding(
            family_rule61, Severity.ERROR,
            f"{call_of(ev)} returned NO_ERROR without writing *bNotifyRelease (still the sentinel "
            f"{SENTINEL:#x}); the host treats it as TRUE (R45) and will call Release",
            (event_of(ev),), subject=subject))
    elif notify not in (0, 1):
        out.append(Finding(
            family_rule61, Severity.INFO,
            f"{call_of(ev)} wrote *bNotifyRelease = {notify:#x}; treated as TRUE (R45)",
            (event_of(ev),), subject=subject))
    if value == 0:
        if proposed == 0:
            out.append(Finding(
                "R60", Severity.ERROR,
                f"{call_of(ev)} got 0 in *lpdwIpAddress and returned NO_ERROR without writing an "
                "address; the user does not connect (R29)", (event_of(ev),), subject=subject))
        else:
            out.append(Finding(
                "R60", Severity.WARNING,
                f"{call_of(ev)} overwrote RAS's proposed address with 0 and returned NO_ERROR; "
                "the user does not connect", (event_of(ev),), subject=subject))
        return out
    if looks_byteswapped(value, proposed):
        addr = dword_to_ip(value)
        out.append(Finding(
            "R62", Severity.WARNING,
            f"{call_of(ev)} returns addresses that look byte-swapped (x.y.168.192 style; see "
            "extra); addresses are DWORDs in network byte order (memory a,b,c,d)",
            (event_of(ev),), subject=subject,
            extra={"address": str(addr), "host_order": str(dword_to_ip(byteswap32(value)))}))
    bad = not_unicast_dword(value)
    if bad is not None:
        out.append(Finding(
            "R64", bad[1], f"{call_of(ev)} handed out {dword_to_ip(value)}: {bad[0]}; only "
            "unicast host addresses may be assigned", (event_of(ev),), subject=subject))
    return out


def get_ipv6_findings(ev: EventLike, subject: str, returned: int,
                      notify: int) -> list[Finding]:
    """Judge one GetIpv6AddressForUser result that returned (R61 for its bNotifyRelease)."""
    if returned != NO_ERROR:
        return garbage_return_findings(ev, subject, returned)
    if notify == SENTINEL:
        return [Finding(
            "R61", Severity.ERROR,
            f"{call_of(ev)} returned NO_ERROR without writing *bNotifyRelease (still the sentinel "
            f"{SENTINEL:#x}); the host treats it as TRUE (R45)", (event_of(ev),), subject=subject)]
    return []


def bool_findings(ev: EventLike, subject: str, returned: int | None,
                  rule: str = "R58") -> list[Finding]:
    """A BOOL return other than 0/1 (R58, R75 for NT 4.0): treated as TRUE per R45."""
    if returned is None or returned in (0, 1):
        return []
    return [Finding(
        rule, Severity.WARNING,
        f"{call_of(ev)} returned {returned:#x}; a BOOL is TRUE (1) or FALSE (0) - the host treats "
        "any nonzero value as TRUE (R45)", (event_of(ev),), subject=subject)]


def result_findings(ev: EventLike, subject: str, result: CallResult, *,
                    odd_names: bool = False, probe: bool = False) -> list[Finding]:
    """Faults (R46/R65/R71), loader issues (R50-R52 ...) and writes to inputs (R69)."""
    f = result.fault
    if f is None and not result.issues and not result.modified_inputs:
        return []  # the common case, judged without building anything
    if f is not None and f.detail.get("skipped"):
        return []  # not called: the host gave up on the DLL (reported once when it did)
    out: list[Finding] = []
    evid = (event_of(ev),)
    if f is not None:
        # a rule the loader named (heap corruption: R76, re-entry: R66) wins over the context
        rule = str(f.detail.get("rule") or "") or (
            "R65" if probe else ("R71" if odd_names else "R46"))
        what = {"timeout": "did not return in time", "crash": "crashed",
                "child-died": "killed its process", "exception": "raised an exception",
                "missing-api": "called an API the emulator lacks",
                "host-reentry": "called back into RAS admin APIs (R66)"}.get(f.kind, f.kind)
        ctx = (" while releasing an unknown user/port/address (robustness probe)" if probe else
               " with a maximum-length or empty name" if odd_names else "")
        out.append(Finding(
            "R66" if f.kind == "host-reentry" and "rule" not in f.detail else rule,
            Severity.ERROR,
            f"{call_of(ev)} {what}{ctx}: {f.message}", evid, subject=subject,
            extra={"fault": f.kind, **({k: str(v) for k, v in f.detail.items()})}))
    cdecl = any(i.rule == "R50" for i in result.issues)
    for issue in result.issues:
        if cdecl and issue.rule == "R51" and "expected_pop" in issue.detail:
            continue  # a __cdecl callee pops nothing: reported once, as the specific R50
        out.append(Finding(
            issue.rule, Severity.ERROR, f"{call_of(ev)}: {issue.message}", evid, subject=subject,
            extra={k: str(v) for k, v in issue.detail.items()}))
    if result.modified_inputs:
        out.append(Finding(
            "R69", Severity.ERROR,
            f"{call_of(ev)} wrote through [in] parameter(s) {list(result.modified_inputs)}",
            evid, subject=subject, extra={"params": list(result.modified_inputs)}))
    return out


def status_findings(ev: EventLike, subject: str, returned: int | None,
                    rule: str) -> list[Finding]:
    """InitializeDll(Ex) (R56) / TerminateDll (R57) must return NO_ERROR."""
    if returned is None or returned == NO_ERROR:
        return []
    extra = (" (TRUE = 1, as in Microsoft's callout sample, is a defect)"
             if rule == "R57" and returned == 1 else "")
    tail = "; the RAS service does not start (R18)" if rule == "R56" else ""
    return [Finding(rule, Severity.ERROR,
                    f"{call_of(ev)} returned {returned} instead of NO_ERROR (0){extra}{tail}",
                    (event_of(ev),), subject=subject)]


def leak_findings(subject: str, instance: str, baseline: ResourceUsage, now: ResourceUsage,
                  sessions: int, after_r69: bool = False) -> list[Finding]:
    """Resources above the post-initialisation baseline once every session closed (R76).

    ``after_r69``: the instance wrote through [in] pointers, so records it keyed on the names it
    changed cannot match the host's later calls; the leak is then reported as info.
    """
    dblocks = now.heap_blocks - baseline.heap_blocks
    dbytes = now.heap_bytes - baseline.heap_bytes
    dhandles = now.handles - baseline.handles
    if dblocks <= 0 and dhandles <= 0 and dbytes <= 0:
        return []
    sites = {k: v for k, v in now.sites.items() if k not in baseline.sites}
    per = f"; about {dblocks / sessions:.2f} blocks per session" if sessions and dblocks > 0 else ""
    note = (" - possibly a consequence of its writes to [in] parameters (R69), which leave "
            "records the host's Release cannot match" if after_r69 else "")
    return [Finding(
        "R76", Severity.INFO if after_r69 else Severity.ERROR,
        f"after all {sessions} session(s) closed the {instance} instance still holds "
        f"{max(dblocks, 0)} more heap block(s) ({max(dbytes, 0)} bytes) and "
        f"{max(dhandles, 0)} more handle(s) than after initialisation{per}{note}",
        ({"instance": instance, "baseline": _usage(baseline), "now": _usage(now),
          "sites": dict(list(sites.items())[:20])},),
        subject=subject,
        extra={"blocks": dblocks, "bytes": dbytes, "handles": dhandles, "sessions": sessions})]


def _usage(u: ResourceUsage) -> dict[str, int]:
    return {"heap_blocks": u.heap_blocks, "heap_bytes": u.heap_bytes, "handles": u.handles}
