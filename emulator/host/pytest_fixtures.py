"""pytest fixtures for vendors' suites: ``admin_dll``, ``ras_host``, ``assert_conformant``.

Which DLL and how to run it, first match wins:

1. indirect parametrisation: ``@pytest.mark.parametrize("ras_host", ["vendor.dll"], indirect=True)``
   (a path, or a dict with ``dll``/``profile``/``loader``/``strictness``/``timeout``);
2. the marker ``@pytest.mark.rasemu(dll="vendor.dll", profile="win7-x64", loader="auto",
   strictness="practice", timeout=5.0)`` (closest marker wins; a relative ``dll`` is looked up
   next to the test file, then in the rootdir);
3. command-line options ``--rasemu-dll``, ``--rasemu-profile``, ``--rasemu-loader``,
   ``--rasemu-strictness``, ``--rasemu-timeout``;
4. ini options ``rasemu_dll``, ``rasemu_profile``, ``rasemu_loader``, ``rasemu_strictness``,
   ``rasemu_timeout``;
5. the project's rasemu configuration (``rasemu.toml`` / ``[tool.rasemu]``, found from the
   folder pytest was started in, upward): profile, loader, strictness, timeout, and its waivers for ``assert_conformant``;
6. built-in defaults (auto, practice, 5 s; the profile: win7 of the DLLs' bitness, i.e.
   win7-x86 for a PE32 image, win7-x64 for PE32+, shared libraries and stand-ins).

Every fixture is function-scoped and owns what it opens, so pytest-xdist workers share nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.errors import RasemuError
from emulator.loaders.base import AdminDll

__all__ = ["MARKER_KEYS", "RasemuSettings", "admin_dll", "assert_conformant", "ras_host",
           "rasemu_settings", "settings_for"]

#: keyword arguments of the ``rasemu`` marker
MARKER_KEYS = ("dll", "profile", "loader", "strictness", "timeout")
_DEFAULTS: dict[str, Any] = {"profile": "win7-x64", "loader": "auto", "strictness": "practice",
                             "timeout": 5.0}


@dataclass(frozen=True)
class RasemuSettings:
    """How a test runs its DLL(s)."""

    dlls: tuple[str, ...]
    profile: str
    loader: str
    strictness: str
    timeout: float
    waivers: tuple[Any, ...] = ()

    @property
    def dll(self) -> str:
        """The first DLL."""
        return self.dlls[0]


def _project_config(config: pytest.Config) -> Any:
    cached = getattr(config, "_rasemu_project_config", None)
    if cached is None:
        from emulator.config import Config, load_config

        try:
            cached = load_config(start=config.invocation_params.dir)
        except RasemuError as exc:
            raise pytest.UsageError(f"rasemu configuration: {exc}") from None
        if not isinstance(cached, Config):  # pragma: no cover - defensive
            cached = Config()
        config._rasemu_project_config = cached  # type: ignore[attr-defined]
    return cached


def _resolve_dll(value: str, bases: list[Path]) -> str:
    from emulator.loaders.python import is_python_spec

    p = Path(value)
    if p.is_absolute() or (is_python_spec(value) and not value.endswith(".py")):
        return value
    for base in bases:
        candidate = base / p
        if candidate.exists():
            return str(candidate)
    return str(p.resolve())


def _profile_of(dlls: tuple[str, ...]) -> str:
    """No profile given: the win7 profile of the DLLs' bitness (PE32: win7-x86, otherwise
    win7-x64); DLLs of different bitness need one named."""
    from emulator.conformance.run import profile_for

    names = sorted({profile_for(d)[0].name for d in dlls if Path(d).is_file()} or {"win7-x64"})
    if len(names) > 1:
        pytest.fail("rasemu: the admin DLLs are of different bitness (" + ", ".join(names)
                    + "); give a profile (marker, --rasemu-profile or rasemu_profile)",
                    pytrace=False)
    return names[0]


def settings_for(request: pytest.FixtureRequest) -> RasemuSettings:
    """Merge parametrisation, marker, options, ini and project configuration for this test."""
    config = request.config
    project = _project_config(config)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}

    def take(source: Mapping[str, Any], label: str) -> None:
        for k in MARKER_KEYS:
            v = source.get(k)
            if v not in (None, "") and k not in values:
                values[k] = v
                origin[k] = label

    param = getattr(request, "param", None)
    if isinstance(param, str | Path | list | tuple):
        take({"dll": param}, "param")
    elif isinstance(param, Mapping):
        bad = sorted(set(param) - set(MARKER_KEYS))
        if bad:
            pytest.fail(f"rasemu parameter has unknown key(s) {', '.join(bad)}; known: "
                        f"{', '.join(MARKER_KEYS)}", pytrace=False)
        take(param, "param")
    marker = request.node.get_closest_marker("rasemu")
    if marker is not None:
        if marker.args:
            pytest.fail("the rasemu marker takes keyword arguments only, e.g. "
                        "@pytest.mark.rasemu(dll='vendor.dll')", pytrace=False)
        bad = sorted(set(marker.kwargs) - set(MARKER_KEYS))
        if bad:
            pytest.fail(f"@pytest.mark.rasemu has unknown argument(s) {', '.join(bad)}; known: "
                        f"{', '.join(MARKER_KEYS)}", pytrace=False)
        take(marker.kwargs, "marker")
    take({k: config.getoption(f"rasemu_{k}", None) for k in MARKER_KEYS}, "option")
    take({k: config.getini(f"rasemu_{k}") for k in MARKER_KEYS}, "ini")
    take({k: getattr(project, k, None) for k in MARKER_KEYS if k != "dll"}, "config")
    take(_DEFAULTS, "default")
    raw = values.get("dll")
    if raw is None:
        pytest.fail("no admin DLL for this test: give --rasemu-dll PATH, the ini option "
                    "rasemu_dll, @pytest.mark.rasemu(dll=...) or parametrise the fixture",
                    pytrace=False)
    items = [str(x) for x in raw] if isinstance(raw, list | tuple) else [str(raw)]
    test_dir = Path(str(request.node.path)).parent
    bases = {"param": [test_dir, config.rootpath, config.invocation_params.dir],
             "marker": [test_dir, config.rootpath, config.invocation_params.dir],
             "option": [config.invocation_params.dir],
             "ini": [config.rootpath]}[origin["dll"]]
    try:
        timeout = float(values["timeout"])
    except (TypeError, ValueError):
        pytest.fail(f"rasemu timeout must be a number of seconds, not {values['timeout']!r}",
                    pytrace=False)
    dlls = tuple(_resolve_dll(x, bases) for x in items)
    profile = str(values["profile"])
    if origin.get("profile") == "default":
        profile = _profile_of(dlls)
    return RasemuSettings(
        dlls=dlls,
        profile=profile,
        loader=str(values["loader"]),
        strictness=str(values["strictness"]),
        timeout=timeout,
        waivers=tuple(project.waivers),
    )


@pytest.fixture
def rasemu_settings(request: pytest.FixtureRequest) -> RasemuSettings:
    """The DLL(s), profile, loader, strictness and timeout this test uses."""
    return settings_for(request)


@pytest.fixture
def admin_dll(request: pytest.FixtureRequest) -> Iterator[AdminDll]:
    """The admin DLL opened with :func:`emulator.loaders.select.open_dll` (closed afterwards).

    Its bitness follows the profile; ``handle_call`` runs single callbacks without a host.
    """
    from emulator.host.profiles import get_profile
    from emulator.loaders.select import open_dll

    s = settings_for(request)
    try:
        bits = get_profile(s.profile).bitness
        dll = open_dll(s.dll, loader=s.loader, bitness=bits)
    except RasemuError as exc:
        pytest.fail(f"rasemu cannot open the admin DLL: {exc}", pytrace=False)
    try:
        yield dll
    finally:
        dll.close()


@pytest.fixture
def ras_host(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A started :class:`emulator.host.engine.RasHost` with the DLL(s) registered in a fresh
    registry (``HKLM\\...\\RAS\\AdminDll``, a ``;`` list for several); stopped afterwards.

    ``connect(user, port)``, ``add_link``, ``reauthenticate``, ``disconnect`` drive dial-in
    users; sessions have ``.state`` and ``.address`` (``ipaddress.IPv4Address``). A host that
    would not start fails the test with the findings that say why.
    """
    from emulator.conformance.run import registry_for
    from emulator.host.engine import RasHost
    from emulator.host.profiles import get_profile
    from emulator.testing import format_findings

    s = settings_for(request)
    try:
        prof = get_profile(s.profile)
        registry, path_map = registry_for([Path(d) for d in s.dlls], prof)
        host = RasHost(registry, prof, loader=s.loader,
                       strictness="strict" if s.strictness == "strict" else "practice",
                       call_timeout=s.timeout, path_map=path_map)
    except RasemuError as exc:
        pytest.fail(f"rasemu: {exc}", pytrace=False)
    host.rasemu_waivers = s.waivers  # type: ignore[attr-defined]
    try:
        if not host.start():
            pytest.fail(f"the RAS host did not start with {', '.join(s.dlls)} ({prof.name}):\n"
                        + format_findings(host.findings), pytrace=False)
        yield host
    finally:
        host.stop()


@pytest.fixture
def assert_conformant(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``assert_conformant(host_or_report, *, severity="error")``: fail with the findings.

    Also importable as ``from emulator.testing import assert_conformant``; both record
    ``rasemu.rules`` (and per-finding) properties for ``--junitxml``.
    """
    from emulator.testing import assert_conformant as check

    def bound(subject: Any, *, severity: str = "error", stop: bool = True) -> None:
        __tracebackhide__ = True
        check(subject, severity=severity, stop=stop, item=request.node)

    return bound
