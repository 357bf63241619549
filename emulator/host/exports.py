"""Export resolution, required sets and variant selection (R16, R41, R47-R49, R53-R55, R72-R74).

Names are resolved exactly and case-sensitively, as ``GetProcAddress`` does (R16); a decorated
x86 name (``Name@N``/``_Name@N``) does not count (R49).

Required sets (AMBIG-1, spec 2.3/section 8) are computed for both levels:

* ``strict`` [S2]: AcceptNewLink, LinkHangupNotification, TerminateDll, InitializeDll or
  InitializeDllEx (Ex only where the profile has it), AcceptReauthentication or ...Ex (2008+),
  one matched accept/hang-up pair the profile knows; the IPv4 pair too on Windows 2000.
* ``practice`` [S1] + Microsoft's samples: AcceptNewLink, LinkHangupNotification, TerminateDll and
  one matched pair the profile knows (the callout sample has no InitializeDll/reauthentication).
* NT 4.0: all four RasAdmin callbacks at both levels (R74).

Variant selection (R47, AMBIG-2): the newest complete pair the profile supports; accept and
hang-up always of the same variant (R25); the InitializeDllEx table's Ex pair replaces the
exported one only when ``revision >= 2`` and both pointers are set and not shifted (R41, R73).
An unpaired IPv4/IPv6 half (R53/R54) is never called: the host then behaves as if neither was
exported (practice) or refuses to start (strict, where the pair is all-or-none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from emulator.abi.callbacks import TABLE_SLOTS, undecorate
from emulator.conformance.findings import Finding, Severity
from emulator.host.profiles import VARIANT_ORDER, Profile

Strictness = Literal["strict", "practice"]

M = "MprAdmin"
ACCEPT = {v: f"{M}AcceptNewConnection{v}" for v in VARIANT_ORDER}
HANGUP = {v: f"{M}ConnectionHangupNotification{v}" for v in VARIANT_ORDER}
NT4_NAMES = (
    "RasAdminAcceptNewConnection",
    "RasAdminConnectionHangupNotification",
    "RasAdminGetIpAddressForUser",
    "RasAdminReleaseIpAddress",
)


@dataclass
class Target:
    """Where a callback is reached: an export name, or a table address with its signature."""

    signature: str
    address: int | None = None

    @property
    def target(self) -> str | int:
        """What goes into ``Call.target``."""
        return self.address if self.address is not None else self.signature

    @property
    def source(self) -> str:
        """``export`` or ``table``."""
        return "export" if self.address is None else "table"


@dataclass
class ExportPlan:
    """Which callbacks the host will call in one DLL, and how the DLL fares against both levels."""

    family: str
    accept: Target | None = None
    hangup: Target | None = None
    variant: str | None = None
    accept_link: Target | None = None
    hangup_link: Target | None = None
    get_ip: Target | None = None
    release_ip: Target | None = None
    get_ipv6: Target | None = None
    release_ipv6: Target | None = None
    reauth: Target | None = None
    init: str | None = None
    terminate: Target | None = None
    missing: dict[str, list[str]] = field(default_factory=dict)
    meets: dict[str, bool] = field(default_factory=dict)
    table_revision: int | None = None
    findings: list[Finding] = field(default_factory=list)

    def selection(self) -> dict[str, Any]:
        """The variant choice as recorded in the trace (R47)."""
        return {
            "variant": self.variant,
            "accept": None if self.accept is None else self.accept.signature,
            "hangup": None if self.hangup is None else self.hangup.signature,
            "source": None if self.accept is None else self.accept.source,
            "reauth": None if self.reauth is None else self.reauth.signature,
            "init": self.init,
            "table_revision": self.table_revision,
            "meets": dict(self.meets),
        }


_FIX = ("export it under its plain name: list it in a .def file (MSVC: /DEF:, mingw: pass the "
        ".def to the link) or link with -Wl,--kill-at")


def plan_exports(exports: frozenset[str], profile: Profile, strictness: Strictness,
                 subject: str) -> ExportPlan:
    """Resolve callbacks and check the required sets; findings are in ``plan.findings``."""
    plan = ExportPlan(profile.family)
    has = exports.__contains__
    decorated: dict[str, str] = {}
    for e in exports:
        plain = undecorate(e)
        if plain is not None and plain not in exports:
            decorated.setdefault(plain, e)
    ev = ({"dll": subject, "exports": sorted(exports)},)
    reported_decor: set[str] = set()

    def decor(name: str) -> bool:
        if name in decorated:
            if name not in reported_decor:
                reported_decor.add(name)
                plan.findings.append(Finding(
                    "R49", Severity.ERROR,
                    f"{name} is exported only as {decorated[name]!r}; RAS looks up the plain "
                    f"name {name!r} and would not find it - {_FIX}",
                    ev, subject=subject, extra={"plain": name, "decorated": decorated[name]}))
            return True
        return False

    for plain in sorted(decorated):
        decor(plain)

    if profile.nt4:
        missing = [n for n in NT4_NAMES if not has(n)]
        plan.missing = {"strict": missing, "practice": missing}
        plan.meets = {"strict": not missing, "practice": not missing}
        undecorated = [n for n in missing if n not in decorated]
        if undecorated:
            plan.findings.append(Finding(
                "R74", Severity.ERROR,
                "NT 4.0 needs all four RasAdmin callbacks; missing: " + ", ".join(undecorated),
                ev, subject=subject, extra={"missing": undecorated}))
        if not missing:
            plan.accept = Target(NT4_NAMES[0])
            plan.hangup = Target(NT4_NAMES[1])
            plan.get_ip = Target(NT4_NAMES[2])
            plan.release_ip = Target(NT4_NAMES[3])
            plan.variant = ""
        return plan

    # matched pairs (R55, R25)
    usable = [v for v in reversed(profile.variants) if has(ACCEPT[v]) and has(HANGUP[v])]
    unmatched = [v for v in VARIANT_ORDER if has(ACCEPT[v]) != has(HANGUP[v])]
    if usable:
        v = usable[0]
        plan.variant = v
        plan.accept, plan.hangup = Target(ACCEPT[v]), Target(HANGUP[v])
    for v in unmatched:
        a, h = ACCEPT[v], HANGUP[v]
        have, lack = (a, h) if has(a) else (h, a)
        if decor(lack):
            continue
        plan.findings.append(Finding(
            "R55", Severity.WARNING if usable else Severity.ERROR,
            f"{have} is exported without its partner {lack}; accept and hang-up must come as a "
            "matched pair of one variant" + ("" if usable else
                                              "; no complete pair is left for this profile"),
            ev, subject=subject, extra={"variant": v or "1"}))

    # IP pairs (R53, R54)
    ip4 = (has(f"{M}GetIpAddressForUser"), has(f"{M}ReleaseIpAddress"))
    ip6 = (has(f"{M}GetIpv6AddressForUser"), has(f"{M}ReleaseIpv6AddressForUser"))
    ip4_pair_broken = ip4[0] != ip4[1]
    ip6_pair_broken = profile.ipv6 and ip6[0] != ip6[1]
    if ip4_pair_broken:
        lack = f"{M}ReleaseIpAddress" if ip4[0] else f"{M}GetIpAddressForUser"
        if not decor(lack):
            plan.findings.append(Finding(
                "R53", Severity.ERROR,
                f"the IPv4 pair is incomplete: {lack} is missing (GetIpAddressForUser and "
                "ReleaseIpAddress are exported together or not at all); the host calls neither",
                ev, subject=subject))
    elif ip4[0]:
        plan.get_ip = Target(f"{M}GetIpAddressForUser")
        plan.release_ip = Target(f"{M}ReleaseIpAddress")
    if ip6[0] != ip6[1]:
        lack = f"{M}ReleaseIpv6AddressForUser" if ip6[0] else f"{M}GetIpv6AddressForUser"
        if not decor(lack):
            plan.findings.append(Finding(
                "R54", Severity.ERROR,
                f"the IPv6 pair is incomplete: {lack} is missing; the host calls neither",
                ev, subject=subject))
    elif ip6[0] and profile.ipv6:
        plan.get_ipv6 = Target(f"{M}GetIpv6AddressForUser")
        plan.release_ipv6 = Target(f"{M}ReleaseIpv6AddressForUser")

    if has(f"{M}AcceptNewLink"):
        plan.accept_link = Target(f"{M}AcceptNewLink")
    if has(f"{M}LinkHangupNotification"):
        plan.hangup_link = Target(f"{M}LinkHangupNotification")
    if has(f"{M}TerminateDll"):
        plan.terminate = Target(f"{M}TerminateDll")
    if profile.initialize_ex and has(f"{M}InitializeDllEx"):
        plan.init = f"{M}InitializeDllEx"
    elif has(f"{M}InitializeDll"):
        plan.init = f"{M}InitializeDll"
    if profile.reauth:
        if "Ex" in profile.variants and has(f"{M}AcceptReauthenticationEx"):
            plan.reauth = Target(f"{M}AcceptReauthenticationEx")
        elif has(f"{M}AcceptReauthentication"):
            plan.reauth = Target(f"{M}AcceptReauthentication")

    base = [f"{M}AcceptNewLink", f"{M}LinkHangupNotification", f"{M}TerminateDll"]
    practice = [n for n in base if not has(n)]
    if plan.accept is None:
        practice.append("a matched accept/hang-up pair (" + ", ".join(
            f"{ACCEPT[v]}+{HANGUP[v]}" for v in profile.variants) + ")")
    strict = list(practice)
    if plan.init is None:
        strict.append(f"{M}InitializeDll" + (" or MprAdminInitializeDllEx"
                                                 if profile.initialize_ex else ""))
    if profile.reauth and plan.reauth is None:
        strict.append(f"{M}AcceptReauthentication" + (" or MprAdminAcceptReauthenticationEx"
                                                          if "Ex" in profile.variants else ""))
    if ip4_pair_broken or ip6_pair_broken:
        strict.append("complete IP pairs (all-or-none)")
    if profile.os == "win2000" and not (ip4[0] and ip4[1]):
        strict.append(f"{M}GetIpAddressForUser+{M}ReleaseIpAddress (Windows 2000)")
    plan.missing = {"strict": strict, "practice": practice}
    plan.meets = {"strict": not strict, "practice": not practice}

    names = []
    for n in plan.missing[strictness]:
        if n.startswith("a matched") and (unmatched or any(
                ACCEPT[v] in decorated or HANGUP[v] in decorated for v in profile.variants)):
            continue  # R55 / R49 already say which half is missing
        if n.startswith("complete IP pairs"):
            continue  # R53/R54 already
        if n.split(" ")[0] in decorated:
            continue  # R49 already
        names.append(n)
    if names:
        plan.findings.append(Finding(
            "R48", Severity.ERROR,
            f"required export(s) missing at the {strictness!r} level, so the RAS service "
            "would not start: " + "; ".join(names),
            ev, subject=subject, extra={"missing": names, "strictness": strictness}))
    other_level: Strictness = "strict" if strictness == "practice" else "practice"
    if plan.meets[strictness] and not plan.meets[other_level]:
        plan.findings.append(Finding(
            "R48", Severity.INFO,
            f"meets the {strictness!r} export set but not {other_level!r} (AMBIG-1); missing "
            f"for {other_level!r}: " + "; ".join(plan.missing[other_level]),
            ev, subject=subject, extra={"missing": plan.missing[other_level]}))
    return plan


def apply_table(plan: ExportPlan, table: Mapping[str, Any], profile: Profile,
                export_address: Callable[[str], int | None], subject: str,
                evidence: Mapping[str, Any]) -> None:
    """Check the InitializeDllEx table (R72, R73) and switch to its Ex pair when allowed (R41)."""
    rev = int(table.get("revision", 0) or 0)
    plan.table_revision = rev
    ev = (dict(evidence),)
    slots = {name: int(table.get(name, 0) or 0) for name, _ in TABLE_SLOTS}
    if rev not in (1, 2):
        plan.findings.append(Finding(
            "R72", Severity.ERROR,
            f"MprAdminInitializeDllEx set revision {rev}; it must be 1 (VERSION_1) or 2 (VERSION_2)",
            ev, subject=subject, extra={"revision": rev}))
    for a, b, label in (("lpfnMprAdminGetIpAddressForUser", "lpfnMprAdminReleaseIpAddress", "IPv4"),
                        ("lpfnMprAdminGetIpv6AddressForUser",
                         "lpfnMprAdminReleaseIpV6AddressForUser", "IPv6")):
        if bool(slots[a]) != bool(slots[b]):
            plan.findings.append(Finding(
                "R72", Severity.ERROR,
                f"the callbacks table sets only one of the {label} pointers ({a if slots[a] else b})"
                "; both or neither", ev, subject=subject))
    addr = {sig: export_address(sig) for _, sig in TABLE_SLOTS}
    names = [n for n, _ in TABLE_SLOTS]
    sigs = [s for _, s in TABLE_SLOTS]
    shifted = False
    # mingw layout (R73): SDK slot k (k >= 8) holds what belongs to SDK slot k+1
    for k in (8, 9):
        val = slots[names[k]]
        want_next = addr.get(sigs[k + 1])
        if val and want_next is not None and val == want_next:
            shifted = True
    if (slots["lpfnRasAdminAcceptNewConnectionEx"] and slots["lpfnRasAdminAcceptReauthenticationEx"]
            and not slots["lpfnRasAdminConnectionHangupNotificationEx"]
            and not slots["lpfnRASValidatePreAuthenticatedConnectionEx"]
            and addr.get("MprAdminConnectionHangupNotificationEx") is not None):
        shifted = True
    if shifted:
        plan.findings.append(Finding(
            "R73", Severity.ERROR,
            "the callbacks table looks filled with mingw-w64's MPRAPI_ADMIN_DLL_CALLBACKS layout "
            "(two SDK slots missing, later pointers shifted by one slot); build against the SDK "
            "layout or do not fill the table", ev, subject=subject,
            extra={"slots": {k: hex(v) for k, v in slots.items() if v}}))
    else:
        for n, sig in TABLE_SLOTS:
            val, want = slots[n], addr.get(sig)
            if val and want is not None and val != want:
                plan.findings.append(Finding(
                    "R73", Severity.WARNING,
                    f"table slot {n} = {val:#x} does not match the export {sig} at {want:#x}",
                    ev, subject=subject))
    ax, hx = slots["lpfnRasAdminAcceptNewConnectionEx"], slots[
        "lpfnRasAdminConnectionHangupNotificationEx"]
    if rev < 2:
        if ax or hx:
            plan.findings.append(Finding(
                "R41", Severity.INFO,
                "table revision is 1 (VERSION_1): its Ex connection pointers are ignored",
                ev, subject=subject))
        return
    if shifted or "Ex" not in profile.variants:
        return
    if bool(ax) != bool(hx):
        plan.findings.append(Finding(
            "R72", Severity.WARNING,
            "table revision 2 sets only one of AcceptNewConnectionEx/ConnectionHangupNotificationEx"
            "; the host keeps the exported pair (R25)", ev, subject=subject))
        return
    if ax and hx:
        plan.accept = Target("MprAdminAcceptNewConnectionEx", ax)
        plan.hangup = Target("MprAdminConnectionHangupNotificationEx", hx)
        plan.variant = "Ex"
        rx = slots["lpfnRasAdminAcceptReauthenticationEx"]
        if rx and profile.reauth:
            plan.reauth = Target("MprAdminAcceptReauthenticationEx", rx)
