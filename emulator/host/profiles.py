"""Named OS profiles the simulated RAS host runs under (spec section 8).

A profile fixes the callback family, which variants exist, whether several DLLs may be
listed, and the Windows 2000 "no hang-up after a refusal" rule (R23).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from emulator.errors import InputError

OsName = Literal["nt4", "win2000", "win2003", "win2008", "win7"]
Bitness = Literal[32, 64]
FamilyName = Literal["rasadmin", "mpradmin"]

#: accept/hang-up variant suffixes, oldest first ("" = MprAdminAcceptNewConnection)
VARIANT_ORDER: tuple[str, ...] = ("", "2", "3", "Ex")


@dataclass(frozen=True)
class Profile:
    """One simulated Windows version and bitness.

    ``variants`` lists the accept/hang-up pair suffixes the OS knows, oldest first (R47).
    ``hangup_after_refusal`` is False for Windows 2000 and NT 4.0 (R23, "2000 and earlier"). ``multi_dll`` allows a
    ``;``-separated ``DLLPath`` (R11, R14).
    """

    name: str
    os: OsName
    bitness: Bitness
    family: FamilyName
    multi_dll: bool
    hangup_after_refusal: bool
    variants: tuple[str, ...]
    ipv6: bool
    reauth: bool
    initialize_ex: bool
    table: bool

    @property
    def arch(self) -> str:
        """``x86`` or ``x64``."""
        return "x86" if self.bitness == 32 else "x64"

    @property
    def nt4(self) -> bool:
        """True for the NT 4.0 RasAdmin family (R37, R38, R74)."""
        return self.family == "rasadmin"


def _mk(os: OsName, bitness: Bitness) -> Profile:
    arch = "x86" if bitness == 32 else "x64"
    if os == "nt4":
        return Profile(f"nt4-{arch}", "nt4", bitness, "rasadmin", False, False, ("",),
                       False, False, False, False)
    newer = {"win2000": 0, "win2003": 1, "win2008": 2, "win7": 3}[os]
    variants = ("", "2") + (("3",) if newer >= 2 else ()) + (("Ex",) if newer >= 3 else ())
    return Profile(
        name=f"{os}-{arch}",
        os=os,
        bitness=bitness,
        family="mpradmin",
        multi_dll=newer >= 1,
        hangup_after_refusal=newer >= 1,
        variants=variants,
        ipv6=newer >= 2,
        reauth=newer >= 2,
        initialize_ex=newer >= 3,
        table=newer >= 3,
    )


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _mk("nt4", 32),
        _mk("win2000", 32),
        _mk("win2000", 64),
        _mk("win2003", 32),
        _mk("win2003", 64),
        _mk("win2008", 32),
        _mk("win2008", 64),
        _mk("win7", 32),
        _mk("win7", 64),
    )
}

DEFAULT_PROFILE = "win7-x64"

_SHORT = {"nt4": "nt4-x86", "win2000": "win2000-x64", "win2003": "win2003-x64",
          "win2008": "win2008-x64", "win7": "win7-x64"}


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name`` (``win7`` alone means ``win7-x64``, ``nt4`` ``nt4-x86``).

    Raises InputError listing the known names.
    """
    if isinstance(name, Profile):
        return name
    key = name.strip().lower()
    key = _SHORT.get(key, key)
    prof = PROFILES.get(key)
    if prof is None:
        raise InputError(
            f"unknown host profile {name!r}; expected one of: "
            + ", ".join(PROFILES) + " (or nt4, win2000, win2003, win2008, win7)",
            where="profile",
        )
    return prof
