"""Conformance checks on both sides of the contract.

* :mod:`.host_monitor` - watches the call trace of every run (rasemu's own host included) and
  reports host-side breaches (subject ``host``): R20, R23-R26, R28-R33, R37-R40.
* :mod:`.dll` - judges one DLL from call results: R45/R58, R56, R57, R59-R65, R69, R71, R75,
  R76, loader issues (R50-R52) and faults (R46, or the rule the loader names).

Severity policy (one table; spec tags DOC/IMPLIED/AMBIG and section 8):

======  =========  ===========================================================================
rule    severity   why
======  =========  ===========================================================================
host    error      any host-side breach (R20-R40) is a rasemu bug or a wrong trace
R46     error      a callback crashed, hung, or killed its process (DOC: logged, call failed);
                   a fault whose detail names a rule (heap corruption R76, re-entry R66) is
                   reported under that rule instead; after 3 consecutive timeouts of one
                   callback the host gives up on the DLL for the scenario (one R46 error)
R48     error      required export missing at the chosen strictness (the service won't start);
                   info when only the other level (AMBIG-1) is missed
R49     error      decorated x86 names only (IMPLIED, but the service cannot start)
R50-52  error      calling convention / register preservation broken (loader issues)
R53/54  error      half an IP pair (DOC)
R55     error      no matched pair left; warning when another complete pair exists
R56     error      InitializeDll(Ex) failed -> the service does not start (DOC)
R57     error      TerminateDll returned non-NO_ERROR (DOC; the sample's TRUE is a defect)
R58/75  warning    BOOL other than 0/1: treated as TRUE (R45); only FALSE=0 is certain
R59     warning    GetIp(v6) returned no plausible error code (> 0xFFFF and not 0x8007xxxx,
                   e.g. 0xDEADBEEF): the user is refused all the same
R60     error      0 in and 0 out with NO_ERROR (DOC); warning when RAS had proposed one
R61     error      *bNotifyRelease left at the R78 sentinel; treated as TRUE (section 8)
                   (info: other non-0/1 values, treated as TRUE per R45)
R62     warning    address looks byte-swapped (AMBIG-5; section 8 says warning)
R63     error      same address for two concurrently connected users
R64     error      0/8, 127/8, 224/4, 255.255.255.255; warning for x.y.z.0/.255 (pool edges
                   are only inferred)
R65     error      Release of an unknown user/port/address crashed (probe)
R69     error      the DLL wrote through an [in] pointer
R71     error      max-length or empty names crashed the DLL
R72     error      table revision not 1/2, or half an IP pair in the table; warning for a
                   lone Ex connection pointer
R73     error      table filled with mingw's shifted layout; warning for a pointer that does
                   not match its export
R76     error      resources not back to baseline after every session closed
R02-R14 error      registry problems (see emulator.host.discovery); info for "no admin DLL"
R41/47  info       host notes: table Ex pointers ignored (VERSION_1), variant selection
======  =========  ===========================================================================
"""

from __future__ import annotations

from emulator.conformance.checks.host_monitor import HostMonitor, check_trace

__all__ = ["HostMonitor", "check_trace"]
