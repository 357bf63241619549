"""Windows system error codes (winerror.h) and their system message texts: the one table.

The registry model, the ``winreg`` stand-in and the PE emulator's API stubs import their
``ERROR_*`` constants from here.
"""

from __future__ import annotations

from typing import Final

ERROR_SUCCESS: Final = 0
ERROR_FILE_NOT_FOUND: Final = 2
ERROR_PATH_NOT_FOUND: Final = 3
ERROR_ACCESS_DENIED: Final = 5
ERROR_INVALID_HANDLE: Final = 6
ERROR_NOT_ENOUGH_MEMORY: Final = 8
ERROR_INVALID_DATA: Final = 13
ERROR_OUTOFMEMORY: Final = 14
ERROR_NO_MORE_FILES: Final = 18
ERROR_HANDLE_EOF: Final = 38
ERROR_BAD_NETPATH: Final = 53
ERROR_FILE_EXISTS: Final = 80
ERROR_INVALID_PARAMETER: Final = 87
ERROR_BUFFER_OVERFLOW: Final = 111
ERROR_INSUFFICIENT_BUFFER: Final = 122
ERROR_INVALID_NAME: Final = 123
ERROR_MOD_NOT_FOUND: Final = 126
ERROR_PROC_NOT_FOUND: Final = 127
ERROR_NEGATIVE_SEEK: Final = 131
ERROR_DIR_NOT_EMPTY: Final = 145
ERROR_BAD_PATHNAME: Final = 161
ERROR_ALREADY_EXISTS: Final = 183
ERROR_ENVVAR_NOT_FOUND: Final = 203
ERROR_MORE_DATA: Final = 234
ERROR_NO_MORE_ITEMS: Final = 259
ERROR_NOT_OWNER: Final = 288
ERROR_TOO_MANY_POSTS: Final = 298
ERROR_MR_MID_NOT_FOUND: Final = 317
ERROR_INVALID_ADDRESS: Final = 487
ERROR_NOACCESS: Final = 998
ERROR_NO_TOKEN: Final = 1008
ERROR_BADDB: Final = 1009
ERROR_KEY_DELETED: Final = 1018
ERROR_NO_UNICODE_TRANSLATION: Final = 1113
ERROR_OLD_WIN_VERSION: Final = 1150
ERROR_NONE_MAPPED: Final = 1332
ERROR_INVALID_SID: Final = 1337
ERROR_INVALID_HANDLE_STATE: Final = 1609
ERROR_DATATYPE_MISMATCH: Final = 1629
ERROR_UNSUPPORTED_TYPE: Final = 1630

#: ``FormatMessage(FORMAT_MESSAGE_FROM_SYSTEM)`` texts (without the trailing CR LF) of the codes
#: rasemu reports; each user picks the subset it knows.
MESSAGES: Final[dict[int, str]] = {
    ERROR_SUCCESS: "The operation completed successfully.",
    ERROR_FILE_NOT_FOUND: "The system cannot find the file specified.",
    ERROR_PATH_NOT_FOUND: "The system cannot find the path specified.",
    ERROR_ACCESS_DENIED: "Access is denied.",
    ERROR_INVALID_HANDLE: "The handle is invalid.",
    ERROR_NOT_ENOUGH_MEMORY: "Not enough memory resources are available to process this command.",
    ERROR_INVALID_DATA: "The data is invalid.",
    ERROR_OUTOFMEMORY: "Not enough memory resources are available to complete this operation.",
    ERROR_BAD_NETPATH: "The network path was not found.",
    ERROR_INVALID_PARAMETER: "The parameter is incorrect.",
    ERROR_INSUFFICIENT_BUFFER: "The data area passed to a system call is too small.",
    ERROR_BAD_PATHNAME: "The specified path is invalid.",
    ERROR_ALREADY_EXISTS: "Cannot create a file when that file already exists.",
    ERROR_MORE_DATA: "More data is available.",
    ERROR_NO_MORE_ITEMS: "No more data is available.",
    ERROR_BADDB: "The configuration registry database is corrupt.",
    ERROR_KEY_DELETED: (
        "Illegal operation attempted on a registry key that has been marked for deletion."
    ),
}
