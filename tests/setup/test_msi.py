"""Windows Installer packages (.msi): tables read with msitools, install and uninstall applied.

The packages are fixtures/installers/msi/*.msi, built from the .wxs sources next to them by
build.py (wixl; reproducible byte for byte, checked here when wixl is installed). Tests that
read packages skip when msitools (msiinfo, msibuild, msiextract) is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.conformance.findings import Severity
from emulator.errors import InputError
from emulator.registry.model import (
    REG_BINARY,
    REG_DWORD,
    REG_EXPAND_SZ,
    REG_MULTI_SZ,
    REG_SZ,
    KeyNotFoundError,
    Registry,
)
from emulator.registry.seeds import apply_seed
from emulator.setup import SetupSession, msi_installer, validate_installer
from emulator.setup.env import SetupEnv, SetupLog
from emulator.setup.msi_installer import MsiInstaller, parse_idt
from emulator.setup.winfs import WinFS
from fixtures.installers.msi.build import WIXL_VERSION, build_all, manifest
from tests.helpers import rasemu

ENTRIES = manifest()
HAVE_MSITOOLS = all(shutil.which(t) for t in ("msiinfo", "msibuild", "msiextract"))
HAVE_WIXL = shutil.which("wixl") is not None
needs_tools = pytest.mark.skipif(
    not HAVE_MSITOOLS, reason="needs msitools (Debian/Ubuntu: apt-get install msitools)")

ADMIN = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\RAS\\AdminDll"
INSTALLED_DLL = "C:\\Program Files\\Contoso\\RAS\\vendoradm.dll"


@pytest.fixture(scope="session")
def packages() -> dict[str, dict[str, Any]]:
    """Every package of fixtures/installers/msi/manifest.toml (the committed .msi files)."""
    if not HAVE_MSITOOLS:
        pytest.skip("needs msitools (apt-get install msitools)")
    return ENTRIES


def _wixl_version() -> str:
    out = subprocess.run(["wixl", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


@pytest.mark.skipif(not (HAVE_MSITOOLS and HAVE_WIXL),
                    reason="needs wixl and msitools (apt-get install wixl msitools)")
def test_committed_packages_are_what_build_py_makes(tmp_path: Path) -> None:
    if _wixl_version() != WIXL_VERSION:
        pytest.skip(f"committed packages were built with wixl {WIXL_VERSION}, "
                    f"this is {_wixl_version()}")
    built = build_all(tmp_path)
    assert sorted(built) == sorted(ENTRIES)
    for name, entry in built.items():
        assert entry["install"].read_bytes() == ENTRIES[name]["install"].read_bytes(), name


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test reads packages afresh (the module caches parsed databases)."""
    monkeypatch.setattr(msi_installer, "_DB_CACHE", {})
    yield


def session_for(entry: dict[str, Any], **kw: Any) -> SetupSession:
    args: dict[str, Any] = dict(profile=entry["profile"], dll=entry["dll"],
                                dll_name=entry["dll_name"], installer_bits=entry["bits"])
    args.update(kw)
    return SetupSession(entry["install"], entry["uninstall"], **args)


# -- the fixtures: good ones pass, bad ones caught with exactly their rule --------------------


@needs_tools
@pytest.mark.parametrize("name", sorted(n for n, e in ENTRIES.items() if not e["rule"]))
def test_good_package_installs_and_uninstalls_cleanly(
        packages: dict[str, dict[str, Any]], name: str) -> None:
    entry = packages[name]
    session = session_for(entry)
    assert session.install() == []
    snap = session.registry.snapshot()
    assert snap.value_items(ADMIN) == [
        ("DisplayName", REG_SZ, "Contoso RAS Address Allocator\0".encode("utf-16-le")),
        ("DLLPath", REG_SZ, (INSTALLED_DLL + "\0").encode("utf-16-le"))]
    assert session.fs.read(INSTALLED_DLL) == entry["dll"].read_bytes()
    assert session.install_diff is not None
    assert sorted(session.install_diff.keys_added) == [ADMIN]
    assert session.uninstall() == []
    result = session.result()
    assert result.passed and result.rules == set()
    assert result.uninstall_diff is not None
    assert result.uninstall_diff.is_empty, result.uninstall_diff.to_text()
    assert session.fs.read(INSTALLED_DLL) is None
    assert not session.fs.isdir("C:\\Program Files\\Contoso")
    assert session.fs.isdir("C:\\Program Files")


@needs_tools
@pytest.mark.parametrize("name", sorted(n for n, e in ENTRIES.items() if e["rule"]))
def test_bad_package_caught_with_exactly_its_rule(
        packages: dict[str, dict[str, Any]], name: str) -> None:
    entry = packages[name]
    result = validate_installer(entry["install"], entry["uninstall"], profile=entry["profile"],
                                dll=entry["dll"], dll_name=entry["dll_name"],
                                installer_bits=entry["bits"])
    assert result.rules == {entry["rule"]}, [(f.rule, f.message) for f in result.findings]
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    assert errors and all(f.rule == entry["rule"] for f in errors)
    assert all(f.evidence for f in errors)


@needs_tools
def test_expandable_value_is_reg_expand_sz_with_the_formatted_path(
        packages: dict[str, dict[str, Any]]) -> None:
    session = session_for(packages["msi_bad_expand_sz"])
    session.install()
    vtype, data = session.registry.get_value(ADMIN, "DLLPath", view=64)
    assert vtype == REG_EXPAND_SZ
    assert data == (INSTALLED_DLL + "\0").encode("utf-16-le")


@needs_tools
def test_32bit_package_system_folder_is_syswow64(packages: dict[str, dict[str, Any]]) -> None:
    session = session_for(packages["msi_bad_systemfolder"])
    (finding,) = session.install()
    assert finding.rule == "R09"
    entry = session.fs.entry("C:\\Windows\\SysWOW64\\vendoradm.dll")
    assert entry is not None and entry.writer_bits == 32
    assert entry.requested == "C:\\Windows\\System32\\vendoradm.dll"
    assert session.fs.read("C:\\Windows\\System32\\vendoradm.dll", 64) is None
    session.uninstall()
    assert session.fs.read("C:\\Windows\\SysWOW64\\vendoradm.dll", 64) is None


@needs_tools
def test_32bit_component_writes_through_the_32bit_view(
        packages: dict[str, dict[str, Any]]) -> None:
    session = session_for(packages["msi_bad_wow6432node"])
    session.install()
    wow = "HKEY_LOCAL_MACHINE\\SOFTWARE\\WOW6432Node\\Microsoft\\RAS\\AdminDll"
    assert session.registry.get_value(wow, "DLLPath", view=64)[0] == REG_SZ
    assert any("32-bit view, component AdminDllWow" in line for line in session.log.lines())


@needs_tools
def test_registry_table_cannot_append_to_dllpath(packages: dict[str, dict[str, Any]]) -> None:
    """A Registry row sets DLLPath outright: with another DLL registered that is R05, and
    removing the row's value at uninstall is R07 (only a custom action could append)."""
    fabrikam = "C:\\Program Files\\Fabrikam\\fabadm.dll"
    result = validate_installer(
        packages["msi_good_x64"]["install"], packages["msi_good_x64"]["uninstall"],
        dll=packages["msi_good_x64"]["dll"], dll_name="vendoradm.dll", preexisting=fabrikam)
    assert result.rules == {"R05", "R07"}


@needs_tools
def test_payload_comes_from_the_package_without_a_dll(
        packages: dict[str, dict[str, Any]]) -> None:
    entry = packages["msi_good_x64"]
    session = session_for(entry, dll=None, dll_name=None)
    assert session.install() == []
    assert session.fs.read(INSTALLED_DLL) == entry["payload"].read_bytes()


@needs_tools
def test_given_dll_with_another_name_stands_in_for_the_one_dll(
        packages: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    entry = packages["msi_good_x64"]
    other = tmp_path / "mydll.dll"
    other.write_bytes(entry["dll"].read_bytes() + b"\0marker")
    session = session_for(entry, dll=other, dll_name=None)
    session.install()
    assert session.fs.read(INSTALLED_DLL) == other.read_bytes()
    assert any("stands in for File vendoradm.dll" in line for line in session.log.lines())


@needs_tools
def test_x64_package_on_a_32bit_profile_is_refused(packages: dict[str, dict[str, Any]]) -> None:
    entry = packages["msi_good_x64"]
    with pytest.raises(InputError, match="x64 package cannot be installed on a 32-bit"):
        validate_installer(entry["install"], None, profile="win2003-x86", dll=entry["dll"])


@needs_tools
def test_cli_setup_check_takes_msi(packages: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    good = packages["msi_good_x64"]
    proc = rasemu("setup", "check", "--install", good["install"], "--uninstall",
                   good["uninstall"], "--dll", good["dll"], "--dll-name", "vendoradm.dll")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and INSTALLED_DLL.replace("\\", "\\\\") in proc.stdout
    bad = packages["msi_bad_expand_sz"]
    proc = rasemu("setup", "check", "--install", bad["install"], "--uninstall",
                   bad["uninstall"], "--dll", bad["dll"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "R02" in proc.stdout and "REG_EXPAND_SZ" in proc.stdout
    damaged = tmp_path / "damaged.msi"
    damaged.write_bytes(b"not a package")
    proc = rasemu("setup", "check", "--install", damaged)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"rasemu: error: {damaged}")


@needs_tools
def test_cli_check_runs_the_dll_as_the_package_installed_it(
        packages: dict[str, dict[str, Any]]) -> None:
    good = packages["msi_good_x64"]
    proc = rasemu("check", good["dll"], "--install", good["install"], "--uninstall",
                   good["uninstall"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Windows Installer package, 64-bit" in proc.stdout
    assert "(nothing: the registry is as before the install)" in proc.stdout
    assert f"{INSTALLED_DLL}: written, removed by uninstall" in proc.stdout


# -- Registry / RemoveRegistry table semantics -------------------------------------------------


def _idt(table: str, header: str, types: str, keys: str, rows: list[str]) -> str:
    return "\r\n".join([header, types, f"{table}\t{keys}", *rows]) + "\r\n"


def _with_tables(base: Path, out: Path, idts: dict[str, str]) -> Path:
    shutil.copyfile(base, out)
    for name, text in idts.items():
        idt = out.parent / f"{name}.idt"
        idt.write_text(text, encoding="utf-8", newline="")
        subprocess.run(["msibuild", str(out), "-i", str(idt)], check=True, capture_output=True)
    return out


REG_HEADER = "Registry\tRoot\tKey\tName\tValue\tComponent_"
REG_TYPES = "s72\ti2\tl255\tL255\tL0\ts72"
C = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso"


@pytest.fixture(scope="session")
def semantics_msi(packages: dict[str, dict[str, Any]],
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The good x64 package with Registry rows for every special name and value prefix, and
    RemoveRegistry rows."""
    rows = [
        "rDisp\t2\tSOFTWARE\\Microsoft\\RAS\\AdminDll\tDisplayName\tContoso\tAdminDll",
        "rPath\t2\tSOFTWARE\\Microsoft\\RAS\\AdminDll\tDLLPath\t[#vendoradm.dll]\tAdminDll",
        "rPlus\t2\tSOFTWARE\\Contoso\\Plus\t+\t\tAdminDll",
        "rStar\t2\tSOFTWARE\\Contoso\\Star\t*\t\tAdminDll",
        "rStarV\t2\tSOFTWARE\\Contoso\\Star\\Sub\tV\tx\tAdminDll",
        "rMinus\t2\tSOFTWARE\\Contoso\\Minus\t-\t\tAdminDll",
        "rBin\t2\tSOFTWARE\\Contoso\\Values\tBin\t#x0a0B0c\tAdminDll",
        "rDword\t2\tSOFTWARE\\Contoso\\Values\tDword\t#42\tAdminDll",
        "rNeg\t2\tSOFTWARE\\Contoso\\Values\tNeg\t#-1\tAdminDll",
        "rHash\t2\tSOFTWARE\\Contoso\\Values\tHash\t##lit\tAdminDll",
        "rExp\t2\tSOFTWARE\\Contoso\\Values\tExp\t#%%SystemRoot%\\x\tAdminDll",
        "rMulti\t2\tSOFTWARE\\Contoso\\Values\tMulti\ta[~]b\tAdminDll",
        "rApp\t2\tSOFTWARE\\Contoso\\Values\tList\t[~]two[~]three\tAdminDll",
        "rFmt\t2\tSOFTWARE\\Contoso\\Values\tFmt\t[Manufacturer]:[INSTALLDIR]{[NoSuch]x}"
        "{[Manufacturer]y}[\\[]z[\\]][$AdminDll][%windir]\tAdminDll",
        "rDef\t-1\tSOFTWARE\\Contoso\\[Manufacturer]\t\tdefault\tAdminDll",
    ]
    remove = ["rrKey\t2\tSOFTWARE\\Contoso\\Old\t-\tAdminDll",
              "rrVal\t2\tSOFTWARE\\Contoso\\Values\tStale\tAdminDll"]
    out = tmp_path_factory.mktemp("msisem") / "semantics.msi"
    return _with_tables(packages["msi_good_x64"]["install"], out, {
        "Registry": _idt("Registry", REG_HEADER, REG_TYPES, "Registry", rows),
        "RemoveRegistry": _idt("RemoveRegistry", "RemoveRegistry\tRoot\tKey\tName\tComponent_",
                               "s72\ti2\tl255\tL255\ts72", "RemoveRegistry", remove),
    })


def _env(os_bits: int = 64) -> SetupEnv:
    reg = Registry(default_view=64)
    apply_seed(reg, "ras_server")
    return SetupEnv(reg, WinFS(os_bits), os_bits, os_bits, SetupLog())


def _sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def _multi(*items: str) -> bytes:
    return "".join(s + "\0" for s in items).encode("utf-16-le") + b"\0\0"


@needs_tools
def test_registry_table_special_names_prefixes_and_formatting(semantics_msi: Path) -> None:
    env = _env()
    reg = env.registry
    reg.set_value(C + "\\Old\\Deep", "x", REG_SZ, _sz("old"))
    reg.set_value(C + "\\Values", "Stale", REG_SZ, _sz("stale"))
    reg.set_value(C + "\\Values", "Keep", REG_SZ, _sz("keep"))
    reg.set_value(C + "\\Values", "List", REG_MULTI_SZ, _multi("one", "two"))
    reg.set_value(C + "\\Minus\\Child", "y", REG_SZ, _sz("y"))
    before = reg.snapshot()
    MsiInstaller(semantics_msi).run(env)

    assert not reg.key_exists(C + "\\Old")  # RemoveRegistry "-": the key with its subtree
    values = {n: (t, d) for n, t, d in reg.value_items(C + "\\Values")}
    assert "Stale" not in values  # RemoveRegistry value row
    assert values["Bin"] == (REG_BINARY, b"\x0a\x0b\x0c")
    assert values["Dword"] == (REG_DWORD, (42).to_bytes(4, "little"))
    assert values["Neg"] == (REG_DWORD, b"\xff\xff\xff\xff")
    assert values["Hash"] == (REG_SZ, _sz("#lit"))
    assert values["Exp"] == (REG_EXPAND_SZ, _sz("%SystemRoot%\\x"))
    assert values["Multi"] == (REG_MULTI_SZ, _multi("a", "b"))
    assert values["List"] == (REG_MULTI_SZ, _multi("one", "two", "three"))
    inst = "C:\\Program Files\\Contoso\\RAS\\"
    assert values["Fmt"] == (REG_SZ, _sz(f"Contoso:{inst}Contosoy[z]{inst}C:\\Windows"))
    assert reg.key_exists(C + "\\Plus") and reg.key_exists(C + "\\Star\\Sub")
    assert reg.key_exists(C + "\\Minus\\Child")  # "-" acts at uninstall only
    # Root -1 with ALLUSERS=1 is HKLM; an empty Name is the default value
    assert reg.get_value(C + "\\Contoso", "") == (REG_SZ, _sz("default"))
    assert reg.get_value(ADMIN, "DLLPath") == (REG_SZ, _sz(inst + "vendoradm.dll"))

    MsiInstaller(semantics_msi, uninstall=True).run(env)
    assert not reg.key_exists(C + "\\Star")  # "*": deleted with its subkeys
    assert not reg.key_exists(C + "\\Minus")  # "-": deleted with its subkeys
    assert not reg.key_exists(C + "\\Plus")  # "+": created, left empty, removed
    assert not reg.key_exists(C + "\\Contoso")
    values = {n: (t, d) for n, t, d in reg.value_items(C + "\\Values")}
    assert values == {"Keep": (REG_SZ, _sz("keep")), "List": (REG_MULTI_SZ, _multi("one"))}
    assert not reg.key_exists(C + "\\Old")  # RemoveRegistry is not undone
    assert not reg.key_exists(ADMIN)
    with pytest.raises(KeyNotFoundError):
        before.value_items(ADMIN)


@needs_tools
def test_custom_actions_are_listed_as_skipped(packages: dict[str, dict[str, Any]],
                                               tmp_path: Path) -> None:
    ca = _idt("CustomAction", "Action\tType\tSource\tTarget", "s72\ti2\tS72\tS255", "CustomAction",
              ["AppendDllPath\t51\tDLLPATH\t[OLDPATH];[#vendoradm.dll]"])
    msi = _with_tables(packages["msi_good_x64"]["install"], tmp_path / "ca.msi",
                       {"CustomAction": ca})
    env = _env()
    MsiInstaller(msi).run(env)
    skipped = [e for e in env.log.entries if e.kind == "skipped"]
    assert len(skipped) == 1 and "custom action AppendDllPath (type 51" in skipped[0].message
    assert "not run" in skipped[0].message


@needs_tools
def test_root_minus_one_is_hkcu_for_a_per_user_package(
        packages: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    msi = _with_tables(packages["msi_good_x64"]["install"], tmp_path / "peruser.msi", {
        "Registry": _idt("Registry", REG_HEADER, REG_TYPES, "Registry",
                         ["r1\t-1\tSoftware\\Contoso\tUser\t1\tAdminDll"])})
    subprocess.run(["msibuild", str(msi), "-q",
                    "DELETE FROM `Property` WHERE `Property` = 'ALLUSERS'"], check=True)
    env = _env()
    MsiInstaller(msi).run(env)
    assert env.registry.get_value("HKCU\\Software\\Contoso", "User") == (REG_SZ, _sz("1"))
    assert not env.registry.key_exists("HKLM\\Software\\Contoso")


@needs_tools
@pytest.mark.parametrize(("row", "message"), [
    ("r1\t2\tSOFTWARE\\Contoso\tN\t#12abc\tAdminDll", "not an integer"),
    ("r1\t2\tSOFTWARE\\Contoso\tN\t#xZZ\tAdminDll", "not hexadecimal"),
    ("r1\t7\tSOFTWARE\\Contoso\tN\tv\tAdminDll", "Root 7 is not one of"),
    ("r1\t2\tSOFTWARE\\Contoso\tN\tv\tNoSuchComponent", "not in the Component table"),
])
def test_bad_registry_rows_are_input_errors_naming_the_row(
        packages: dict[str, dict[str, Any]], tmp_path: Path, row: str, message: str) -> None:
    msi = _with_tables(packages["msi_good_x64"]["install"], tmp_path / "badrow.msi", {
        "Registry": _idt("Registry", REG_HEADER, REG_TYPES, "Registry", [row])})
    with pytest.raises(InputError, match=message) as info:
        MsiInstaller(msi).run(_env())
    assert info.value.where == f"{msi}:Registry.r1"


# -- errors ------------------------------------------------------------------------------------


def test_missing_msiinfo_is_a_clear_input_error(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    msi = tmp_path / "pkg.msi"
    msi.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InputError) as info:
        validate_installer(msi, msi)
    assert "the .msi installer kind needs msitools (apt-get install msitools)" in str(info.value)
    assert info.value.where == str(msi)


def test_not_an_msi_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.msi"
    bad.write_bytes(b"MZ this is not a compound file" * 10)
    if not HAVE_MSITOOLS:
        pytest.skip("needs msitools")
    with pytest.raises(InputError, match="no OLE compound file signature") as info:
        validate_installer(bad, None)
    assert str(bad) in str(info.value)


@needs_tools
def test_damaged_msi_is_an_input_error_naming_the_file(
        packages: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    bad = tmp_path / "damaged.msi"
    bad.write_bytes(packages["msi_good_x64"]["install"].read_bytes()[:1536])
    with pytest.raises(InputError, match="damaged or unreadable Windows Installer package") \
            as info:
        validate_installer(bad, bad)
    assert info.value.where == str(bad)


def test_parse_idt_reads_nulls_and_rejects_ragged_rows() -> None:
    text = "A\tB\tC\r\ns72\tS72\ti2\r\nT\tA\r\nx\t\t5\r\n"
    assert parse_idt(text) == [{"A": "x", "B": None, "C": "5"}]
    with pytest.raises(InputError, match="has 2 fields, expected 3"):
        parse_idt("A\tB\tC\r\ns72\tS72\ti2\r\nT\tA\r\nx\ty\r\n", where="p.msi:T")
