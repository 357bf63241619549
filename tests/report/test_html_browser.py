"""The HTML report in a real headless Chromium: the page's script runs, the DOM has the content.

Skipped when no ``chromium`` / ``chromium-browser`` binary is found (``RASEMU_CHROMIUM`` may name
one). Screenshots land in the test's tmp dir and, when ``RASEMU_ARTIFACTS`` is set, are copied
there for people to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from test_html_support import STANDINS, StrictTree, hostile_scenario, parse

from emulator.conformance.run import check_dll
from emulator.report import Report
from emulator.report import html as rhtml


def _find_chromium() -> str | None:
    env = os.environ.get("RASEMU_CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium or chromium-browser binary on PATH (Debian/Ubuntu: apt-get install chromium; "
           "or set RASEMU_CHROMIUM)")

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-dev-shm-usage")


def open_page(page: Path, tmp: Path, *, shot: str | None = None, extra: tuple[str, ...] = ()) -> StrictTree:
    """Load ``page`` from disk; return the DOM after the page's script ran (and save a screenshot)."""
    assert CHROMIUM is not None
    profile = tmp / f"profile-{page.stem}-{shot or 'dom'}"
    args = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--window-size=1280,2000", *extra]
    if shot is not None:
        args.append(f"--screenshot={tmp / shot}")
    args += ["--dump-dom", page.resolve().as_uri()]
    res = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.lstrip().startswith("<!DOCTYPE html>"), res.stdout[:200]
    if shot is not None:
        keep(tmp / shot)
    return parse(res.stdout)


def keep(path: Path) -> None:
    """Check a screenshot is a real 1280x2000 picture with content and copy it to RASEMU_ARTIFACTS."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 60_000, "the screenshot is nearly blank"  # an empty page compresses to ~10 KB
    target = os.environ.get("RASEMU_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(target) / path.name)


def render_to(tmp: Path, name: str, report: Report) -> Path:
    page = tmp / f"{name}.html"
    rhtml.write([report], str(page))
    return page


def body_of(dom: StrictTree) -> dict[str, str]:
    return dom.root.find_all("body")[0].attrs


def check_scripted(dom: StrictTree, report: Report) -> None:
    """What the page's script must have done, and the content every page shows."""
    body = body_of(dom)
    assert body.get("data-ready") == "1", "the page's script did not finish"
    assert "js" in body.get("class", "").split()
    assert "data-pwned" not in body
    traced = [n for n, ev in report.traces.items() if ev]
    tabs = dom.root.find_all("button", role="tab")
    panels = dom.root.find_all("div", role="tabpanel")
    assert len(tabs) == len(panels) == len(traced)
    if traced:
        selected = [t for t in tabs if t.attrs.get("aria-selected") == "true"]
        assert len(selected) == 1
        assert sum(1 for p in panels if "hidden" not in p.attrs) == 1
        assert len(dom.root.find_all("svg", class_="timeline")) == len(traced)
    badge = dom.root.find_all("span", class_="badge")[0].all_text()
    assert badge == ("PASS" if report.passed else "FAIL")
    assert len(dom.root.find_all("script")) == 1


def test_failing_dll_report_in_chromium(tmp_path: Path) -> None:
    report = check_dll(STANDINS / "bad_no_notify.py")
    dom = open_page(render_to(tmp_path, "bad_no_notify", report), tmp_path, shot="bad_no_notify.png")
    check_scripted(dom, report)
    rules = [a.attrs["data-rule"] for a in dom.root.find_all("article", class_="rule")]
    assert rules == ["R61", "R47"]
    hero = dom.root.find_all("header", class_="hero")[0].all_text()
    assert "bad_no_notify.py" in hero and "1 error, 0 warnings, 1 note" in hero
    # the first failing scenario's timeline is the one shown
    tabs = dom.root.find_all("button", role="tab")
    assert tabs[0].attrs["aria-selected"] == "true" and tabs[0].all_text() == "basic"
    assert len(dom.root.find_all("svg", class_="pool")) == 9


def test_passing_dll_report_in_chromium(tmp_path: Path) -> None:
    report = check_dll(STANDINS / "good.py")
    dom = open_page(render_to(tmp_path, "good", report), tmp_path, shot="good.png")
    check_scripted(dom, report)
    assert [a.attrs["data-rule"] for a in dom.root.find_all("article", class_="rule")] == ["R47"]
    assert "PASS" in dom.root.find_all("p", class_="verdict")[0].all_text()


def test_load_failure_report_in_chromium(tmp_path: Path) -> None:
    report = check_dll(STANDINS / "bad_no_accept_link.py")
    dom = open_page(render_to(tmp_path, "bad_no_accept_link", report), tmp_path, shot="bad_no_accept_link.png")
    check_scripted(dom, report)
    assert "did not start" in dom.root.find_all("div", class_="banner")[0].all_text()
    assert [a.attrs["data-rule"] for a in dom.root.find_all("article", class_="rule")] == ["R48", "R15"]


def test_hostile_names_do_not_run_in_chromium(tmp_path: Path) -> None:
    scn = hostile_scenario(tmp_path / "hostile.toml")
    report = check_dll(STANDINS / "bad_no_notify.py", scenarios=[scn, "basic"])
    dom = open_page(render_to(tmp_path, "hostile", report), tmp_path, shot="hostile.png")
    check_scripted(dom, report)  # includes: no data-pwned on <body>, one <script>
    assert not dom.root.find_all("img") and not dom.root.find_all("i")
    assert not [n for n in dom.root.iter() if any(k.startswith("on") for k in n.attrs)]


def test_dark_colour_scheme(tmp_path: Path) -> None:
    report = check_dll(STANDINS / "bad_raises.py", scenarios=["basic", "odd-names"])
    page = render_to(tmp_path, "bad_raises", report)
    dark = open_page(page, tmp_path, shot="bad_raises-dark.png", extra=("--force-dark-mode",))
    check_scripted(dark, report)
    assert body_of(dark)["data-scheme"] == "dark"
    light = open_page(page, tmp_path)
    assert body_of(light)["data-scheme"] == "light"


def test_prints_to_pdf(tmp_path: Path) -> None:
    report = check_dll(STANDINS / "bad_no_notify.py")
    page = render_to(tmp_path, "print", report)
    pdf = tmp_path / "print.pdf"
    assert CHROMIUM is not None
    res = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile-pdf'}",
                          f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))
    assert pages >= 3  # header, findings, scenarios, every timeline panel and the pool charts
    target = os.environ.get("RASEMU_ARTIFACTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(pdf, Path(target) / pdf.name)
