"""mprapi.dll / rassapi.dll: the RAS server administration APIs, as seen from inside a callout.

An admin DLL runs inside the RAS service. The contract forbids calling the server's own
administration functions (MprAdmin*, MprConfig*, RasAdmin*, user administration) from a callback
(R66): on Windows such a call waits for the service, which is waiting for the callback, and never
returns. Every such import therefore stops the call with a ``host-reentry`` fault naming the API
and R66, instead of hanging like Windows would or returning made-up data.

The names are the server-side exports of mprapi.dll (Windows 2000 and later) and of NT 4.0's
rassapi.dll. Helpers that do not talk to the service (MprInfoBlock*, MprAdminGetErrorString,
...) are not in the list: a DLL importing them gets a ``missing-api`` fault only if it calls them.
"""

from __future__ import annotations

from emulator.loaders.pe.winapi import ApiFault, Ctx, api


def _names(text: str) -> list[str]:
    return text.split()


_MPRADMIN = _names(
    "ConnectionClearStats ConnectionEnum ConnectionGetInfo ConnectionRemoveQuarantine "
    "DeregisterConnectionNotification DeviceEnum EstablishDomainRasServer GetPDCServer "
    "InterfaceConnect InterfaceCreate InterfaceDelete InterfaceDeviceGetInfo "
    "InterfaceDeviceSetInfo InterfaceDisconnect InterfaceEnum InterfaceGetCredentials "
    "InterfaceGetCredentialsEx InterfaceGetHandle InterfaceGetInfo InterfaceQueryUpdateResult "
    "InterfaceSetCredentials InterfaceSetCredentialsEx InterfaceSetInfo InterfaceTransportAdd "
    "InterfaceTransportGetInfo InterfaceTransportRemove InterfaceTransportSetInfo "
    "InterfaceUpdatePhonebookInfo InterfaceUpdateRoutes IsDomainRasServer IsServiceRunning "
    "MIBEntryCreate MIBEntryDelete MIBEntryGet MIBEntryGetFirst MIBEntryGetNext MIBEntrySet "
    "MIBServerConnect MIBServerDisconnect PortClearStats PortDisconnect PortEnum PortGetInfo "
    "PortReset RegisterConnectionNotification SendUserMessage ServerConnect ServerDisconnect "
    "ServerGetCredentials ServerGetInfo ServerGetInfoEx ServerSetCredentials ServerSetInfo "
    "ServerSetInfoEx TransportCreate TransportGetInfo TransportSetInfo UpgradeUsers UserClose "
    "UserGetInfo UserOpen UserRead UserReadProfFlags UserServerConnect UserServerDisconnect "
    "UserSetInfo UserWrite UserWriteProfFlags"
)
_MPRCONFIG = _names(
    "FilterGetInfo FilterSetInfo InterfaceCreate InterfaceDelete InterfaceEnum "
    "InterfaceGetHandle InterfaceGetInfo InterfaceSetInfo InterfaceTransportAdd "
    "InterfaceTransportEnum InterfaceTransportGetHandle InterfaceTransportGetInfo "
    "InterfaceTransportRemove InterfaceTransportSetInfo ServerBackup ServerConnect "
    "ServerDisconnect ServerGetInfo ServerInstall ServerRefresh ServerRestore ServerSetInfo "
    "TransportCreate TransportDelete TransportEnum TransportGetHandle TransportGetInfo "
    "TransportSetInfo"
)
#: NT 4.0 rassapi.dll (also exported by mprapi.dll for compatibility)
_RASADMIN = _names(
    "ConnectionClearStats ConnectionEnum ConnectionGetInfo GetPDCServer IsServiceRunning "
    "PortClearStatistics PortClearStats PortDisconnect PortEnum PortGetInfo PortReset "
    "ServerConnect ServerDisconnect ServerGetInfo UserGetInfo UserSetInfo "
    "GetUserAccountServer"
)
_DOMAIN = _names(
    "MprDomainQueryAccess MprDomainQueryRasServer MprDomainRegisterRasServer MprDomainSetAccess"
)

#: every server administration API this module stops (R66)
SERVER_APIS: tuple[str, ...] = tuple(
    [f"MprAdmin{n}" for n in _MPRADMIN]
    + [f"MprConfig{n}" for n in _MPRCONFIG]
    + [f"RasAdmin{n}" for n in _RASADMIN]
    + _DOMAIN
)


def _reentry(name: str) -> None:
    def handler(ctx: Ctx) -> int:
        raise ApiFault(
            "host-reentry",
            f"the DLL called {name} from inside a callback; RAS administration APIs called from "
            "a callout wait for the service that is waiting for the callout and never return "
            "on Windows (R66)",
            {"rule": "R66", "host_api": name},
        )

    handler.__name__ = name
    dlls = ("mprapi.dll", "rassapi.dll") if name.startswith("RasAdmin") else ("mprapi.dll",)
    # argc 0: the call never returns, so nothing is popped or read
    api(dlls[0], name, argc=0, also=dlls[1:])(handler)


for _name in SERVER_APIS:
    _reentry(_name)
