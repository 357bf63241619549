"""WOW64 registry redirection for the 32-bit view (Windows 7 / Server 2008 R2 and newer).

Source: Microsoft, "Registry Keys Affected by WOW64"
https://learn.microsoft.com/en-us/windows/win32/winprog64/shared-registry-keys (spec S24),
column "Windows Server 2008 R2, Windows 7, and Newer", plus the page's list of WOW64
symbolic links. Rules from that page that this module implements:

* Subkeys inherit the behaviour of the nearest listed ancestor; a key with no listed
  ancestor is shared.
* A redirected key ``P\\X`` is seen by 32-bit callers at ``A\\Wow6432Node\\...``, where ``A`` is
  the redirection anchor (``HKLM\\SOFTWARE`` for the SOFTWARE tree, the ``Classes`` key for the
  redirected class subkeys: ``HKLM\\SOFTWARE\\Classes\\CLSID`` -> ``HKLM\\SOFTWARE\\Classes\\Wow6432Node\\CLSID``).
* Shared keys map the one physical key into both views (``HKLM\\SOFTWARE\\Microsoft\\RAS``,
  rasemu rule R10).
* ``HKEY_CLASSES_ROOT`` follows the redirection of its two sources.

Reflection (Vista and older) is not modelled: it was removed in Windows 7.
"""

from __future__ import annotations

from typing import Final

HKLM: Final = "HKEY_LOCAL_MACHINE"
HKCU: Final = "HKEY_CURRENT_USER"

REDIRECTED: Final = "redirected"
SHARED: Final = "shared"

WOW_NODE: Final = "Wow6432Node"
WOW_NODE_FOLDED: Final = "WOW6432NODE"

#: (root, path below the root, behaviour, anchor) -- anchor = number of leading path
#: components after which ``Wow6432Node`` is inserted for redirected keys (None when shared).
#: One row per row of the Microsoft table, Windows 7 and newer column.
TABLE: Final[tuple[tuple[str, str, str, int | None], ...]] = (
    (HKLM, "", SHARED, None),
    (HKLM, r"SOFTWARE", REDIRECTED, 1),
    (HKLM, r"SOFTWARE\Classes", SHARED, None),
    (HKLM, r"SOFTWARE\Classes\Appid", SHARED, None),
    (HKLM, r"SOFTWARE\Classes\CLSID", REDIRECTED, 2),
    (HKLM, r"SOFTWARE\Classes\DirectShow", REDIRECTED, 2),
    (HKLM, r"SOFTWARE\Classes\HCP", SHARED, None),
    (HKLM, r"SOFTWARE\Classes\Interface", REDIRECTED, 2),
    (HKLM, r"SOFTWARE\Classes\Media Type", REDIRECTED, 2),
    (HKLM, r"SOFTWARE\Classes\MediaFoundation", REDIRECTED, 2),
    (HKLM, r"SOFTWARE\Clients", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\COM3", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Cryptography\Calais\Current", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Cryptography\Calais\Readers", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Cryptography\Services", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\CTF\SystemShared", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\CTF\TIP", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\DFS", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Driver Signing", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\EnterpriseCertificates", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\EventSystem", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\MSMQ", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Non-Driver Signing", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Notepad\DefaultFonts", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\OLE", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\RAS", SHARED, None),  # spec S24, R10
    (HKLM, r"SOFTWARE\Microsoft\RPC", SHARED, None),
    # The page spells this row with a doubled "SOFTWARE\Microsoft"; kept as published.
    (HKLM, r"SOFTWARE\Microsoft\SOFTWARE\Microsoft\Shared Tools\MSInfo", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\SystemCertificates", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\TermServLicensing", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\TransactionServer", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Control Panel\Cursors\Schemes", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\AutoplayHandlers", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\DriveIcons", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\KindMap", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Group Policy", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Policies", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\PreviewHandlers", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Setup", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Telephony\Locations", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Console", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\FontDpi", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\FontLink", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\FontMapper", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Fonts", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\FontSubstitutes", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Gre_Initialize", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Language Pack", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\NetworkCards", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Perflib", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Ports", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Print", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList", SHARED, None),
    (HKLM, r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\Time Zones", SHARED, None),
    (HKLM, r"SOFTWARE\Policies", SHARED, None),
    (HKLM, r"SOFTWARE\RegisteredApplications", SHARED, None),
    (HKCU, "", SHARED, None),
    (HKCU, r"SOFTWARE", SHARED, None),
    (HKCU, r"SOFTWARE\Classes", SHARED, None),
    (HKCU, r"SOFTWARE\Classes\Appid", SHARED, None),
    (HKCU, r"SOFTWARE\Classes\CLSID", REDIRECTED, 2),
    (HKCU, r"SOFTWARE\Classes\DirectShow", REDIRECTED, 2),
    (HKCU, r"SOFTWARE\Classes\Interface", REDIRECTED, 2),
    (HKCU, r"SOFTWARE\Classes\Media Type", REDIRECTED, 2),
    (HKCU, r"SOFTWARE\Classes\MediaFoundation", REDIRECTED, 2),
)

#: WOW64 symbolic links (same page): (root, link path, target path). Both views see them.
LINKS: Final[tuple[tuple[str, str, str], ...]] = (
    (HKLM, r"SOFTWARE\Wow6432Node\Classes", r"SOFTWARE\Classes\Wow6432Node"),
    (HKLM, r"SOFTWARE\Classes\Wow6432Node\AppId", r"SOFTWARE\Classes\AppId"),
    (HKLM, r"SOFTWARE\Classes\Wow6432Node\PROTOCOLS", r"SOFTWARE\Classes\PROTOCOLS"),
    (HKLM, r"SOFTWARE\Classes\Wow6432Node\Typelib", r"SOFTWARE\Classes\Typelib"),
)


def _folded(path: str) -> tuple[str, ...]:
    return tuple(path.upper().split("\\")) if path else ()


_RULES: Final[dict[tuple[str, tuple[str, ...]], tuple[str, int | None]]] = {
    (root, _folded(path)): (how, anchor) for root, path, how, anchor in TABLE
}
_MAX_RULE_DEPTH: Final = max(len(_folded(p)) for _, p, _, _ in TABLE)
_LINK_TARGETS: Final[dict[tuple[str, tuple[str, ...]], tuple[str, ...]]] = {
    (root, _folded(link)): tuple(target.split("\\")) for root, link, target in LINKS
}


def behaviour(root: str, folded: tuple[str, ...]) -> tuple[str, int | None]:
    """Return (``REDIRECTED``/``SHARED``, anchor) for a key given its upper-cased components."""
    for n in range(min(len(folded), _MAX_RULE_DEPTH), -1, -1):
        rule = _RULES.get((root, folded[:n]))
        if rule is not None:
            return rule
    return (SHARED, None)


def resolve_links(root: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """Apply the WOW64 symbolic links to a physical path (component names, any case)."""
    if not any(n.upper() == WOW_NODE_FOLDED for n in names):
        return names
    changed = True
    while changed:
        changed = False
        folded = tuple(n.upper() for n in names)
        for n in range(len(folded), 1, -1):
            target = _LINK_TARGETS.get((root, folded[:n]))
            if target is not None:
                names = target + names[n:]
                changed = True
                break
    return names


def to_view32(root: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """Map a path seen by a 32-bit caller to its physical path (before links).

    Paths that already name ``Wow6432Node`` are not redirected again.
    """
    if root != HKLM and root != HKCU:
        return names
    folded = tuple(n.upper() for n in names)
    if WOW_NODE_FOLDED in folded:
        return names
    how, anchor = behaviour(root, folded)
    if how == REDIRECTED and anchor is not None:
        return (*names[:anchor], WOW_NODE, *names[anchor:])
    return names


def links_below(root: str, parent: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """Links directly below ``parent`` (upper-cased components): [(link name, target path)]."""
    out = []
    for lroot, link, target in LINKS:
        parts = tuple(link.split("\\"))
        if lroot == root and _folded(link)[:-1] == parent:
            out.append((parts[-1], tuple(target.split("\\"))))
    return out
