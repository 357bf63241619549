"""The contract's rules R01..R78 and ambiguities AMBIG-1..13 (spec/contract.md, sections 5 and 6).

Generated from the spec text; ``rasemu rules`` and the README catalogue render this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Side = Literal["HOST", "DLL", "SETUP"]
Tag = Literal["DOC", "IMPLIED", "AMBIG"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One contract rule: id, side, evidence tag, text and sources."""

    id: str
    side: Side
    tag: Tag
    text: str
    sources: str


RULES: dict[str, Rule] = {
    "R01": Rule(
        "R01",
        "SETUP",
        "DOC",
        "register under `HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll`",
        "[S3][S5]",
    ),
    "R02": Rule(
        "R02",
        "SETUP",
        "DOC",
        "`DLLPath` is REG_SZ holding an absolute path (not REG_MULTI_SZ, not REG_EXPAND_SZ)",
        "[S3]",
    ),
    "R03": Rule(
        "R03",
        "SETUP",
        "DOC",
        "`DisplayName` is REG_SZ; a single name even with several DLLs",
        "[S3]",
    ),
    "R04": Rule(
        "R04",
        "SETUP",
        "DOC",
        "on Windows 2000/NT 4.0 profiles `DLLPath` holds exactly one path",
        "[S3]",
    ),
    "R05": Rule(
        "R05",
        "SETUP",
        "IMPLIED",
        "when `DLLPath` already exists (2003+), append `;<path>` instead of overwriting",
        "[S3]",
    ),
    "R06": Rule("R06", "SETUP", "DOC", "uninstall removes the DLL's registry entries", "[S3][S5]"),
    "R07": Rule(
        "R07",
        "SETUP",
        "IMPLIED",
        "uninstall removes only its own path; deletes values/key only if no path remains",
        "[S3]",
    ),
    "R08": Rule(
        "R08",
        "SETUP",
        "IMPLIED",
        "the DLL file named by `DLLPath` exists and its PE machine matches the service (x64 service => AMD64 PE32+)",
        "[S26]",
    ),
    "R09": Rule(
        "R09",
        "SETUP",
        "IMPLIED",
        "a 32-bit installer must not target `%windir%\\System32` (redirected to SysWOW64) for a 64-bit DLL",
        "[S25]",
    ),
    "R10": Rule(
        "R10",
        "SETUP",
        "IMPLIED",
        "no WOW6432Node copy is needed or expected: `HKLM\\SOFTWARE\\Microsoft\\RAS` is shared",
        "[S24]",
    ),
    "R11": Rule(
        "R11",
        "HOST",
        "DOC",
        "read `DLLPath`, split on `;`, load DLLs and call them in list order",
        "[S3][S1]",
    ),
    "R12": Rule(
        "R12",
        "HOST",
        "IMPLIED",
        'trim whitespace around list entries and skip empty ones (doc example has "; ")',
        "[S3]",
    ),
    "R13": Rule(
        "R13",
        "HOST",
        "IMPLIED",
        "match value names case-insensitively (`DLLPath`/`DllPath`)",
        "[S3][S22]",
    ),
    "R14": Rule(
        "R14", "HOST", "DOC", "Windows 2000/NT 4.0 profiles accept one DLL only", "[S3][S1]"
    ),
    "R15": Rule(
        "R15",
        "HOST",
        "DOC",
        "a DLL that fails to load, or lacks a required export, stops the service and is logged",
        "[S1][S2][S4]",
    ),
    "R16": Rule(
        "R16",
        "HOST",
        "IMPLIED",
        "resolve callbacks by exact, case-sensitive, undecorated name (GetProcAddress)",
        "[S30][S22]",
    ),
    "R17": Rule(
        "R17",
        "HOST",
        "IMPLIED",
        "a 64-bit host profile refuses 32-bit DLLs and vice versa",
        "[S26]",
    ),
    "R18": Rule(
        "R18",
        "HOST",
        "DOC",
        "call InitializeDll(Ex) of each DLL in registry order at start; non-NO_ERROR aborts start",
        "[api:mpradmininitializedll]",
    ),
    "R19": Rule(
        "R19",
        "HOST",
        "DOC",
        "call TerminateDll of each loaded DLL at shutdown",
        "[api:mpradminterminatedll]",
    ),
    "R20": Rule(
        "R20",
        "HOST",
        "DOC",
        "call the accept-connection callback of every DLL, in order; connect only if all return TRUE",
        "[api:mpradminacceptnewconnection][S1]",
    ),
    "R21": Rule(
        "R21",
        "HOST",
        "DOC",
        "call AcceptNewLink in every DLL once right after an accepted connection, and once per added link",
        "[S1][api:mpradminacceptnewlink]",
    ),
    "R22": Rule(
        "R22",
        "HOST",
        "DOC",
        "establish a link only if every DLL's AcceptNewLink returns TRUE",
        "[api:mpradminacceptnewlink]",
    ),
    "R23": Rule(
        "R23",
        "HOST",
        "DOC",
        "(2000 profile) no ConnectionHangup for a refused connection; no LinkHangup for a refused link",
        "[api:mpradminacceptnewconnection][api:mpradminacceptnewlink]",
    ),
    "R24": Rule(
        "R24",
        "HOST",
        "DOC",
        "LinkHangupNotification for each dismantled link; ConnectionHangup* after the last link",
        "[api:mpradminlinkhangupnotification][api:mpradminconnectionhangupnotification]",
    ),
    "R25": Rule(
        "R25",
        "HOST",
        "IMPLIED",
        "use Accept and Hangup of the same variant (N with N) for a given DLL",
        "[S2]",
    ),
    "R26": Rule(
        "R26",
        "HOST",
        "DOC",
        "call GetIpAddressForUser only in the first DLL (registry order) exporting it",
        "[api:mpradmingetipaddressforuser][S1]",
    ),
    "R27": Rule(
        "R27",
        "HOST",
        "DOC",
        "pass RAS's chosen IPv4 address or 0 in `*lpdwIpAddress`",
        "[api:mpradmingetipaddressforuser]",
    ),
    "R28": Rule(
        "R28",
        "HOST",
        "DOC",
        "non-NO_ERROR from GetIp terminates the connection",
        "[api:mpradmingetipaddressforuser]",
    ),
    "R29": Rule(
        "R29",
        "HOST",
        "DOC",
        "input 0 and output 0 => the user does not connect",
        "[api:mpradmingetipaddressforuser]",
    ),
    "R30": Rule(
        "R30",
        "HOST",
        "DOC",
        "call ReleaseIpAddress only if GetIp set `*bNotifyRelease` TRUE",
        "[api:mpradmingetipaddressforuser][S6]",
    ),
    "R31": Rule(
        "R31",
        "HOST",
        "DOC",
        "Release goes to the same (first exporting) DLL with the same user, port and address",
        "[S6][api:mpradminreleaseipaddress]",
    ),
    "R32": Rule(
        "R32",
        "HOST",
        "IMPLIED",
        "at most one Release per successful Get; release on every teardown path, incl. a refused accept",
        "[S1]",
    ),
    "R33": Rule(
        "R33",
        "HOST",
        "IMPLIED",
        "the address in `PppInfo.ip.wszRemoteAddress` equals the (dotted) address the DLL returned",
        "[st:ppp_ipcp_info][S23]",
    ),
    "R34": Rule(
        "R34", "HOST", "DOC", "never run one callback concurrently for two clients", "[S1][S4]"
    ),
    "R35": Rule(
        "R35",
        "HOST",
        "DOC",
        "serialize GetIp/ReleaseIp as one group and Accept/Hangup connection callbacks as one group",
        "[S1][S4]",
    ),
    "R36": Rule(
        "R36",
        "HOST",
        "DOC",
        "run IP callbacks and connection callbacks in separate process contexts (separate DLL instances)",
        "[S1][S4]",
    ),
    "R37": Rule(
        "R37",
        "HOST",
        "DOC",
        "(NT 4.0) call RasAdminAccept/Hangup once per port of a multilink bundle",
        "[S9][S10]",
    ),
    "R38": Rule(
        "R38",
        "HOST",
        "DOC",
        "(NT 4.0) call RasAdminReleaseIpAddress only after GetIp returned bNotifyRelease TRUE",
        "[S6]",
    ),
    "R39": Rule(
        "R39",
        "HOST",
        "DOC",
        "fill `RAS_CONNECTION_EX.Header` with revision 1, type 1 and the structure size",
        "[st:ras_connection_ex][st:mprapi_object_header]",
    ),
    "R40": Rule(
        "R40",
        "HOST",
        "DOC",
        "set `RAS_CONNECTION_3.dwSize` to the structure size",
        "[st:ras_connection_3]",
    ),
    "R41": Rule(
        "R41",
        "HOST",
        "DOC",
        "ignore table Ex-connection pointers when `revision` is VERSION_1",
        "[S20]",
    ),
    "R42": Rule(
        "R42",
        "HOST",
        "IMPLIED",
        "pass non-NULL, fully initialized structures and NUL-terminated UTF-16 strings within their array bounds",
        "[S14][api:*]",
    ),
    "R43": Rule(
        "R43",
        "HOST",
        "IMPLIED",
        "x86: call with stdcall (args right-to-left, callee pops), read BOOL/DWORD from EAX",
        "[S27][S28]",
    ),
    "R44": Rule(
        "R44",
        "HOST",
        "IMPLIED",
        "x64: RCX, RDX, R8, R9, 32-byte home area, 16-byte aligned stack at call, read EAX only",
        "[S29]",
    ),
    "R45": Rule("R45", "HOST", "IMPLIED", "treat any nonzero BOOL as TRUE", "[S27]"),
    "R46": Rule(
        "R46",
        "HOST",
        "DOC",
        "log load or call failures to the System event log (rasemu: report finding)",
        "[S1]",
    ),
    "R47": Rule(
        "R47",
        "HOST",
        "AMBIG",
        "when several variants are exported, record the selection policy used (see §2.4)",
        "[S2][S20]",
    ),
    "R48": Rule(
        "R48",
        "DLL",
        "DOC",
        "export every required callback under its exact plain name (see §2.3 for the profile)",
        "[S2][S1]",
    ),
    "R49": Rule(
        "R49",
        "DLL",
        "IMPLIED",
        "x86 builds export undecorated names (`.def` or `--kill-at`), not `_Name@N`/`Name@N`",
        "[S28][S30][S12]",
    ),
    "R50": Rule(
        "R50",
        "DLL",
        "DOC",
        "every callback is `__stdcall` (`APIENTRY`/`CALLBACK`)",
        "[S12][S14][S27]",
    ),
    "R51": Rule(
        "R51",
        "DLL",
        "IMPLIED",
        "x86: callee pops exactly 4xargc bytes (table §2.1), preserves EBX, ESI, EDI, EBP, ESP; DF clear on return",
        "[S28]",
    ),
    "R52": Rule(
        "R52",
        "DLL",
        "IMPLIED",
        "x64: preserve RBX, RBP, RDI, RSI, RSP, R12–R15, XMM6–XMM15",
        "[S29]",
    ),
    "R53": Rule(
        "R53",
        "DLL",
        "DOC",
        "export GetIp/ReleaseIp (IPv4) together or not at all",
        "[S2][api:mpradminreleaseipaddress]",
    ),
    "R54": Rule(
        "R54",
        "DLL",
        "DOC",
        "export GetIpv6/ReleaseIpv6 together or not at all",
        "[S2][api:mpradmingetipv6addressforuser]",
    ),
    "R55": Rule("R55", "DLL", "DOC", "export a matched accept/hang-up pair of one variant", "[S2]"),
    "R56": Rule(
        "R56",
        "DLL",
        "DOC",
        "InitializeDll(Ex) returns NO_ERROR on success",
        "[api:mpradmininitializedll]",
    ),
    "R57": Rule(
        "R57",
        "DLL",
        "DOC",
        "TerminateDll returns NO_ERROR (the Microsoft sample's TRUE=1 is a defect)",
        "[api:mpradminterminatedll][S22]",
    ),
    "R58": Rule(
        "R58",
        "DLL",
        "DOC",
        "accept/link/reauth callbacks return TRUE to accept, FALSE to refuse",
        "[api:*]",
    ),
    "R59": Rule(
        "R59",
        "DLL",
        "DOC",
        "GetIp returns NO_ERROR on success; any other value refuses the user",
        "[api:mpradmingetipaddressforuser]",
    ),
    "R60": Rule(
        "R60",
        "DLL",
        "DOC",
        "when `*lpdwIpAddress` is 0 on entry, write a nonzero address or return an error",
        "[api:mpradmingetipaddressforuser]",
    ),
    "R61": Rule(
        "R61",
        "DLL",
        "IMPLIED",
        "always write `*bNotifyRelease` (TRUE or FALSE) before returning NO_ERROR",
        "[api:mpradmingetipaddressforuser]",
    ),
    "R62": Rule(
        "R62", "DLL", "IMPLIED", "write addresses in network byte order (memory a,b,c,d)", "[S22]"
    ),
    "R63": Rule(
        "R63",
        "DLL",
        "IMPLIED",
        "never hand the same address to two concurrently connected users",
        "[S1][S22]",
    ),
    "R64": Rule(
        "R64",
        "DLL",
        "IMPLIED",
        "hand out only unicast host addresses (not 0, 255.255.255.255, 127/8, 224/4, the pool's network/broadcast)",
        "[api:mpradmingetipaddressforuser]",
    ),
    "R65": Rule(
        "R65",
        "DLL",
        "IMPLIED",
        "on Release, free the address only if user, port and address match its records; ignore unknown ones without crashing",
        "[S6][S22]",
    ),
    "R66": Rule(
        "R66",
        "DLL",
        "DOC",
        "do not call MprAdmin*/RAS admin or user-admin functions from inside a callout",
        "[S1][api:*]",
    ),
    "R67": Rule(
        "R67",
        "DLL",
        "DOC",
        "do not rely on state shared between IP callbacks and connection callbacks",
        "[S1][S4]",
    ),
    "R68": Rule(
        "R68",
        "DLL",
        "IMPLIED",
        "do not keep pointers to host structures or strings after the callback returns; copy what is needed",
        "[S22]",
    ),
    "R69": Rule(
        "R69",
        "DLL",
        "IMPLIED",
        "do not write through `[in]` pointers (names, connection/port structures)",
        "[api:*]",
    ),
    "R70": Rule(
        "R70",
        "DLL",
        "IMPLIED",
        "tolerate concurrent calls of different callback groups (only per-function/per-group serialization is promised)",
        "[S1]",
    ),
    "R71": Rule(
        "R71",
        "DLL",
        "IMPLIED",
        "tolerate maximum-length names (UNLEN user, 16-char port) and empty strings",
        "[S14][S13]",
    ),
    "R72": Rule(
        "R72",
        "DLL",
        "IMPLIED",
        "InitializeDllEx sets `revision` to 1 or 2 and fills pointers per the table's pairing rules (AMBIG-4)",
        "[S20][api:mpradmininitializedllex]",
    ),
    "R73": Rule(
        "R73",
        "DLL",
        "IMPLIED",
        "a DLL built with mingw-w64 headers must not fill the callbacks table (slot layout differs from the SDK)",
        "[S14][S21]",
    ),
    "R74": Rule("R74", "DLL", "DOC", "(NT 4.0) export all four RasAdmin callbacks", "[S4]"),
    "R75": Rule(
        "R75",
        "DLL",
        "DOC",
        "(NT 4.0) RasAdminAccept returns TRUE/FALSE; set bNotifyRelease to be told of disconnects",
        "[S9][S6]",
    ),
    "R76": Rule(
        "R76",
        "DLL",
        "IMPLIED",
        "leak nothing per connection: memory/handles return to baseline after Release/Hangup",
        "[S22]",
    ),
    "R77": Rule(
        "R77",
        "DLL",
        "IMPLIED",
        "do not rely on `DisplayName` identifying the DLL (one name for all DLLs)",
        "[S3][S23]",
    ),
    "R78": Rule(
        "R78",
        "HOST",
        "IMPLIED",
        "(rasemu) pre-fill `*bNotifyRelease` with a sentinel to catch DLLs that never set it; Windows' initial value is undocumented",
        "[api:mpradmingetipaddressforuser]",
    ),
}

AMBIGUITIES: dict[str, str] = {
    "AMBIG-1": "Required export set differs between [S2], [S1] and Microsoft's samples [S22][S23] (§2.3).",
    "AMBIG-2": "Variant precedence (…, 2, 3, Ex; export vs. InitializeDllEx table) is not documented (§2.4).",
    "AMBIG-3": "Order of ReleaseIpAddress vs. ConnectionHangup, and whether hang-up/release follow a refused accept on post-2000 hosts; whether later DLLs are still called after an earlier DLL refuses.",
    "AMBIG-4": 'InitializeDllEx: direction of the table (host-filled vs. DLL-filled) is not stated; its description even says RRAS "calls MprAdminInitializeDll" [api:mpradmininitializedllex].',
    "AMBIG-5": "Byte order of `DWORD`/`IPADDR` addresses: undocumented; network order inferred from [S22].",
    "AMBIG-6": 'ReleaseIpv6AddressForUser: doc says it returns NO_ERROR; mingw declares `DWORD CALLBACK`; windows-rs\' pointer type returns nothing (`extern "system"`) [S14][S21]; a public copy of the SDK mprapi.h (repo not identified by the index) declares the export with no convention macro (`__cdecl` on x86). On x86 rasemu should measure ESP after the call instead of assuming.',
    "AMBIG-7": 'AcceptNewConnectionEx page says "no return value" but prototype and pointer type return BOOL.',
    "AMBIG-8": "First-exporting-DLL rule is stated for IPv4 only, not IPv6.",
    "AMBIG-9": 'NT 4.0: "all four required" vs. "if GetIp not implemented, pool/DHCP is used" on one page [S4].',
    "AMBIG-10": "RAS_FLAGS_ARAP_CONNECTION and RAS_FLAGS_IKEV2_CONNECTION share 0x10.",
    "AMBIG-11": 'The MprAdminReleaseIpAddress page carries a stray "link hang-up" remark copied from AcceptNewLink; ignore it.',
    "AMBIG-12": 'Callback-table rule "either LinkHangup or AcceptNewLink" vs. [S2] "both required".',
    "AMBIG-13": "Original NT 4.0 RasAdminGetIpAddressForUser reference text is not available in any corpus searched; its in/out semantics are inferred from the MprAdmin analogue [S8].",
}


def rule(rule_id: str) -> Rule:
    """Return the rule with id ``rule_id`` (``R01``..``R78``); KeyError names it otherwise."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r} (expected R01..R78)") from None
