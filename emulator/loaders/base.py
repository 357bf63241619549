"""The one small interface every way of running an admin DLL implements.

Like an httpx transport: the host builds a :class:`Call`, hands it to
:meth:`AdminDll.handle_call`, and gets a :class:`CallResult` back. Marshalling,
isolation and CPU emulation are the loader's business; judging the result is the host's.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Machine = Literal["x86", "x64", "native", "python"]

FaultKind = Literal[
    "crash",  # access violation, invalid instruction, signal, Python exception in a stand-in
    "timeout",  # the per-call time limit or instruction budget ran out
    "exception",  # a C++/SEH exception escaped the callback
    "missing-api",  # the DLL called an import the emulator does not implement
    "child-died",  # the isolating child process exited during the call
    "host-reentry",  # the DLL called back into RAS admin APIs (R66)
]


@dataclass(frozen=True, slots=True)
class Call:
    """One callback invocation.

    ``target`` is a plain export name (R16) or, for pointers read from an
    InitializeDllEx table, an address inside the DLL; ``signature`` then names the
    callback signature to use (see :mod:`emulator.abi.callbacks`). ``args`` follow the
    signature's parameter kinds. ``timeout`` is the per-call limit in seconds.
    """

    target: str | int
    args: tuple[Any, ...] = ()
    signature: str | None = None
    timeout: float = 5.0

    @property
    def signature_name(self) -> str:
        """The signature to marshal with: ``signature`` or the export name."""
        if self.signature is not None:
            return self.signature
        if isinstance(self.target, str):
            return self.target
        raise ValueError("a call by address needs an explicit signature")


@dataclass(frozen=True, slots=True)
class CallFault:
    """Why a call did not return normally. After a fault the loader has already reloaded the DLL."""

    kind: FaultKind
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallIssue:
    """A contract breach the loader observed during a call that did return (e.g. R51, R52, R69)."""

    rule: str
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallResult:
    """What came back from one call.

    ``returned`` is the 32-bit return value (None for void callbacks or on a fault).
    ``outputs`` holds, per parameter index, the value read back for out/in-out parameters
    (``dword_inout``/``bool_out`` as int, ``in6_inout`` as bytes, ``table_out`` as a mapping
    ``{"revision": int, slot_name: address, ...}``); other indices are absent.
    ``modified_inputs`` lists the indices of ``[in]`` parameters whose memory the DLL changed (R69).
    """

    returned: int | None = None
    outputs: Mapping[int, Any] = field(default_factory=dict)
    modified_inputs: tuple[int, ...] = ()
    fault: CallFault | None = None
    issues: tuple[CallIssue, ...] = ()
    debug_output: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """Live resources the DLL holds, for leak checks (R76). Sites map an id to where it was made."""

    heap_blocks: int = 0
    heap_bytes: int = 0
    handles: int = 0
    sites: Mapping[str, str] = field(default_factory=dict)


# the slot setters of Call: the frozen dataclass's __init__ without its per-field overhead
_new = object.__new__
_set_target, _set_args, _set_signature, _set_timeout = (
    Call.__dict__[f].__set__ for f in ("target", "args", "signature", "timeout"))


class AdminDll(abc.ABC):
    """A loaded admin DLL. Not thread-safe: the host serialises calls per instance (R34, R35)."""

    #: the file (or module) it was loaded from
    path: str
    #: which loader runs it: "python", "native", "pe", ... (shown in reports)
    loader_name: str
    #: the code's machine: "x86"/"x64" for PE images, "native" for host shared libraries
    machine: Machine

    @property
    @abc.abstractmethod
    def exports(self) -> frozenset[str]:
        """Every exported name exactly as the image has it (decorated names included)."""

    @abc.abstractmethod
    def handle_call(self, call: Call) -> CallResult:
        """Run one callback and report what happened. Never raises for DLL misbehaviour."""

    def call_export(self, name: str, args: tuple[Any, ...], timeout: float = 5.0) -> CallResult:
        """``handle_call(Call(name, args, timeout=timeout))``: export ``name`` called by name.

        Loaders may override it to skip building the :class:`Call` (the host's hot path).
        """
        c = _new(Call)
        _set_target(c, name)
        _set_args(c, args)
        _set_signature(c, None)
        _set_timeout(c, timeout)
        return self.handle_call(c)

    def handle_calls(self, calls: Sequence[Call]) -> list[CallResult]:
        """Run several independent calls in order; isolating loaders override this to batch."""
        return [self.handle_call(c) for c in calls]

    def call_exports(self, name: str, args: Sequence[tuple[Any, ...]],
                     timeout: float = 5.0) -> list[CallResult]:
        """Call export ``name`` once per argument tuple, in order, up to the first fault.

        Returns one result per call made: every call, or the calls up to and including the
        first that faulted (the loader has recovered from it; the caller decides whether to
        go on with the rest). Isolating loaders override it to make one round trip.
        """
        out: list[CallResult] = []
        for a in args:
            r = self.call_export(name, a, timeout)
            out.append(r)
            if r.fault is not None:
                break
        return out

    def export_address(self, name: str) -> int | None:
        """The address of export ``name`` (to match InitializeDllEx table pointers), if known."""
        return None

    def resource_usage(self) -> ResourceUsage | None:
        """Resources held now, or None when this loader cannot observe them."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Unload (DLL_PROCESS_DETACH where it applies) and free everything. Idempotent."""

    def __enter__(self) -> AdminDll:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Loader(abc.ABC):
    """Makes :class:`AdminDll` instances from a path. One subclass per way of running a DLL."""

    #: short name used on the command line (``--loader NAME``) and in reports
    name: str

    @abc.abstractmethod
    def can_load(self, path: str, head: bytes) -> bool:
        """Whether this loader handles the file; ``head`` is its first 64 bytes (b"" if not a file)."""

    @abc.abstractmethod
    def load(self, path: str, *, bitness: int | None = None) -> AdminDll:
        """Load ``path``; ``bitness`` (32/64) is the host profile's. Raises LoadError on wrong input."""
