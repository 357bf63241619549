"""``rasemu demo``: the whole job on bundled samples -- install, run, uninstall, one report each.

A conforming admin DLL (``good64.dll``) is installed by the bundled ``.reg`` installer, found by
the host through the ``DLLPath`` the installer wrote, driven through the standard scenarios and
uninstalled; then a known-bad DLL (``bad_no_notify64.dll``) goes through the same steps and is
caught with R61. Exit 0 when both behave as expected, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from emulator._samples import sample_path
from emulator.conformance.findings import Severity
from emulator.report import Report, findings_by_phase

GOOD = "dlls/prebuilt/good64.dll"
BAD = "dlls/prebuilt/bad_no_notify64.dll"
INSTALL = "installers/good_install.reg"
UNINSTALL = "installers/good_uninstall.reg"
#: the rule the known-bad DLL breaks: always write *bNotifyRelease before returning NO_ERROR
BAD_RULE = "R61"
PROFILE = "win7-x64"

EXPLANATION = (
    "What happened: for each DLL rasemu seeded an in-memory registry like a RAS server's and a "
    "fake Windows file system, imported {install} (which registers the DLL under "
    "HKLM\\SOFTWARE\\Microsoft\\RAS\\AdminDll) and checked its changes against the setup rules "
    "R01-R10. The emulated RAS service (profile {profile}) then found the DLL the way Windows "
    "does, through the DLLPath value the installer wrote, loaded the x64 PE image in the CPU "
    "emulator and drove it through the standard scenarios: connections, address hand-out and "
    "release, multilink, quarantine, restarts. Finally {uninstall} removed the registration and "
    "rasemu compared the registry with its state before the install (R06, R07). "
)
AS_EXPECTED = (
    "{good} passed every check; {bad} returned NO_ERROR from MprAdminGetIpAddressForUser "
    "without setting *bNotifyRelease, so the service could not know whether to call "
    "MprAdminReleaseIpAddress: rule {rule}."
)
UNEXPECTED = (
    "The outcome was not the expected one ({good} should pass, {bad} should fail with {rule}); "
    "the lines below say which part differed."
)


def _phase_line(report: Report, phase: str) -> str:
    items = findings_by_phase(report.findings).get(phase, [])
    bad = [f for f in items if f.severity is not Severity.INFO]
    if not bad:
        return "no findings" if not items else f"no errors ({len(items)} note(s))"
    return "; ".join(f"{f.severity.value} {f.rule}: {f.message}" for f in bad)


def _summary(report: Report, title: str) -> list[str]:
    setup = report.setup or {}
    installed = len(setup.get("install_diff") or [])
    left = setup.get("uninstall_diff")
    lines = [title]
    for d in report.dll_info:
        if d.get("registered"):
            lines.append(f"   registered  {d['registered']} -> {Path(str(d.get('path', ''))).name} "
                         f"({', '.join(str(d[k]) for k in ('loader', 'machine') if d.get(k))})")
    st = report.stats
    ran = st.get("scenarios_run", 0)
    lines += [
        f"   install     {installed} registry change(s): {_phase_line(report, 'install')}",
        f"   run         {ran} scenario(s), {st.get('sessions', 0)} sessions, "
        f"{st.get('calls', 0)} calls: {_phase_line(report, 'run')}",
        "   uninstall   "
        + ("registry as before the install" if not left else f"{len(left)} change(s) left")
        + f": {_phase_line(report, 'uninstall')}",
    ]
    from emulator.report.text import verdict

    lines.append(f"   {verdict(report)}")
    return lines


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text: summaries and an explanation; json: both reports.")
def demo(fmt: str) -> None:
    """Install, run and uninstall a bundled good admin DLL and a known-bad one.

    The good DLL must pass; the bad one (bad_no_notify64.dll) must be caught with R61.
    Exit 0 when both behave as expected, 1 otherwise.
    """
    from emulator.conformance.run import check_installed

    install, uninstall = sample_path(INSTALL), sample_path(UNINSTALL)
    reports = [check_installed(sample_path(name), install, uninstall, profile=PROFILE,
                               keep_traces=False)
               for name in (GOOD, BAD)]
    good, bad = reports
    good_ok = good.passed
    bad_ok = not bad.passed and any(
        f.rule == BAD_RULE and f.severity is Severity.ERROR for f in bad.findings)
    expected = good_ok and bad_ok
    if fmt == "json":
        doc: dict[str, Any] = {
            "schema": "rasemu-demo/1",
            "expected": expected,
            "checks": {"good_passes": good_ok, f"bad_caught_with_{BAD_RULE}": bad_ok},
            "reports": [r.to_json() for r in reports],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        out = ["rasemu demo: install, run and uninstall two bundled admin DLLs", ""]
        out += _summary(good, f"1. {Path(GOOD).name} (conforming), installed by "
                              f"{install.name}, removed by {uninstall.name}")
        out.append("")
        out += _summary(bad, f"2. {Path(BAD).name} (known bad), the same installer pair")
        out.append("")
        out.append(click.wrap_text((EXPLANATION + (AS_EXPECTED if expected else UNEXPECTED)).format(
            install=install.name, uninstall=uninstall.name, profile=PROFILE,
            good=Path(GOOD).name, bad=Path(BAD).name, rule=BAD_RULE), width=100))
        out.append("")
        out.append(f"{'ok  ' if good_ok else 'FAIL'} the good DLL passes install, run and uninstall")
        out.append(f"{'ok  ' if bad_ok else 'FAIL'} the known-bad DLL is caught with {BAD_RULE}")
        out.append("Try it on your DLL: rasemu check YOUR.dll --install YOUR_INSTALLER "
                   "[--uninstall YOUR_UNINSTALLER]")
        click.echo("\n".join(out))
    if not expected:
        sys.exit(1)
