"""The user documentation stays true: README commands exist and work, the rule catalogue is current.

README convention: a fenced code block right after a line ``<!-- runnable -->`` (or
``<!-- runnable linux -->``: Linux only) holds one shell command per line, run from the
repository root; a trailing comment ``# exit N`` states the expected exit status (default 0).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from emulator.cli import COMMANDS, cli
from emulator.cli.rules import OWN_RULES, REGENERATE, markdown
from emulator.config import OWN_RULES as CONFIG_OWN_RULES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RULES_DOC = ROOT / "docs" / "rules.md"

#: the first lines of the README; CI (.ci/run) and the project rules depend on them byte for byte
TOP = (
    "# rasemu\n"
    "\n"
    "Run and check Windows RAS / RRAS **administration DLLs** on any OS, in CI, without Windows.\n"
    "\n"
    "```bash\n"
    "pip install . && rasemu demo                  # install, then run the main job on a bundled sample\n"
    "pip install -e \".[test]\" && python -m pytest  # run the test suite\n"
    "```\n"
)

_BLOCK = re.compile(r"^<!-- runnable( linux)? -->\n```[\w-]*\n(.*?)^```", re.M | re.S)
_EXIT = re.compile(r"#.*\bexit (\d+)\b")


@dataclass(frozen=True)
class Line:
    """One command of a runnable README block."""

    number: int  # 1-based line in README.md
    text: str
    block: int
    linux_only: bool

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    @property
    def expected_exit(self) -> int:
        m = _EXIT.search(self.text)
        return int(m.group(1)) if m else 0

    def __str__(self) -> str:
        return f"README.md:{self.number}: {self.text.split('  #')[0].strip()}"


def runnable_lines() -> list[Line]:
    text = README.read_text(encoding="utf-8")
    out: list[Line] = []
    for n, m in enumerate(_BLOCK.finditer(text)):
        first = text.count("\n", 0, m.start(2)) + 1
        for i, raw in enumerate(m.group(2).splitlines()):
            if raw.strip() and not raw.lstrip().startswith("#"):
                out.append(Line(first + i, raw, n, bool(m.group(1))))
    return out


LINES = runnable_lines()
RASEMU_LINES = [ln for ln in LINES if ln.argv[0] == "rasemu"]


def test_top_lines_are_unchanged() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.startswith(TOP), (
        "the first lines of README.md (title, sentence, the two commands) must stay byte-identical; "
        "CI runs the second command exactly")


def test_readme_has_runnable_blocks_covering_every_subcommand() -> None:
    assert len(RASEMU_LINES) >= 20
    documented = {ln.argv[1] for ln in RASEMU_LINES}
    missing = sorted(set(COMMANDS) - documented)
    assert not missing, f"rasemu subcommands with no runnable example in README.md: {missing}"


def _resolve(argv: list[str]) -> tuple[click.Command, list[str], str]:
    """The leaf command an argv names, its remaining args and its full name; fails if unknown."""
    cmd: click.Command = cli
    args = argv[1:]
    name = "rasemu"
    while isinstance(cmd, click.Group):
        assert args, f"{name} needs a subcommand"
        sub = cmd.get_command(click.Context(cmd), args[0])
        assert sub is not None, f"{name} has no subcommand {args[0]!r}"
        name += " " + args[0]
        cmd, args = sub, args[1:]
    return cmd, args, name


@pytest.mark.parametrize("line", RASEMU_LINES, ids=lambda ln: f"line{ln.number}")
def test_readme_command_parses(line: Line, monkeypatch: pytest.MonkeyPatch) -> None:
    """The subcommand exists and accepts these options and arguments (parsed, not run)."""
    monkeypatch.chdir(ROOT)
    cmd, args, name = _resolve(line.argv)
    try:
        cmd.make_context(name, list(args))
    except click.ClickException as exc:
        pytest.fail(f"{line}\n  does not parse: {exc.format_message()}")


def test_parse_check_catches_a_wrong_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    cmd, args, name = _resolve(["rasemu", "check", "x.dll", "--no-such-option"])
    with pytest.raises(click.NoSuchOption):
        cmd.make_context(name, args)
    with pytest.raises(AssertionError, match="no subcommand 'frobnicate'"):
        _resolve(["rasemu", "reg", "frobnicate"])


def test_rule_catalogue_is_current() -> None:
    assert RULES_DOC.exists(), f"docs/rules.md is missing; create it with: {REGENERATE}"
    assert RULES_DOC.read_text(encoding="utf-8") == markdown(), (
        f"docs/rules.md differs from the rule table in the code; regenerate it with: {REGENERATE}")


def test_catalogue_check_sees_a_changed_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from emulator.conformance import rules as table

    monkeypatch.setitem(table.RULES, "R61", replace(table.RULES["R61"], text="changed | text"))
    page = markdown()
    assert page != RULES_DOC.read_text(encoding="utf-8")
    assert "| R61 | IMPLIED | changed \\| text |" in page  # a '|' in a rule cannot break the table


def test_catalogue_lists_every_rule_and_own_id() -> None:
    from emulator.conformance.rules import AMBIGUITIES, RULES

    doc = RULES_DOC.read_text(encoding="utf-8")
    for rid in RULES:
        assert f"| {rid} |" in doc
    for key in AMBIGUITIES:
        assert f"**{key}**" in doc
    assert set(OWN_RULES) == set(CONFIG_OWN_RULES), "emulator/cli/rules.py OWN_RULES != config's"
    assert "](docs/rules.md)" in README.read_text(encoding="utf-8")


def _workspace(tmp: Path) -> Path:
    """A scratch folder that sees the repository's fixtures and docs, so outputs land in tmp."""
    for name in ("fixtures", "docs"):
        (tmp / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp


def _run_block(lines: list[Line], cwd: Path) -> list[str]:
    problems: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "COLUMNS": "120"}
    for ln in lines:
        argv = ln.argv
        if argv[0] == "python":
            argv = [sys.executable, *argv[1:]]
        elif argv[0] == "rasemu":
            argv = [sys.executable, "-m", "emulator", *argv[1:]]
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
        if proc.returncode != ln.expected_exit or "Traceback" in proc.stderr:
            tail = (proc.stderr.strip() or proc.stdout.strip())[-600:]
            problems.append(f"{ln}\n  exit {proc.returncode}, README says {ln.expected_exit}\n  {tail}")
    return problems


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="README commands are written for a POSIX shell")
def test_readme_commands_run(tmp_path: Path) -> None:
    """Every runnable command runs with the exit status the README states (blocks in parallel)."""
    cwd = _workspace(tmp_path)
    blocks: dict[int, list[Line]] = {}
    for ln in LINES:
        if ln.linux_only and not sys.platform.startswith("linux"):
            continue
        blocks.setdefault(ln.block, []).append(ln)
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda b: _run_block(b, cwd), blocks.values()))
    problems = [p for r in results for p in r]
    assert not problems, "README commands that do not behave as documented:\n" + "\n".join(problems)
