"""Windows ``.reg`` files: parse into operations, apply to a :class:`Registry`, export.

Formats: ``Windows Registry Editor Version 5.00``, ``REGEDIT4`` and, for import, Windows
3.1's ``REGEDIT`` (``HKEY_CLASSES_ROOT\\path = value`` lines setting default values). Encodings read: UTF-16LE with BOM, UTF-8 with BOM (users report
that current Windows regedit accepts it; Wine's regedit does not) and, without a BOM,
ANSI read as code page 1252 (regedit uses the system ANSI code page; rasemu fixes it to
cp1252 so results do not depend on the host). UTF-16 without BOM or big-endian is refused,
as regedit refuses it.

Behaviour follows regedit's import and export (facts taken from Wine's regedit, whose
tests run against Windows; no code copied):

* Lines end at CR, LF or CRLF. Leading blanks (space, tab) are skipped on every line.
* ``[ROOT\\path]`` opens (creates) a key, ``[-ROOT\\path]`` deletes a tree. ROOT must be a
  full ``HKEY_*`` name: regedit does not accept HKLM-style abbreviations in .reg files.
  The key name ends at the last ``]`` of the line.
* ``"name"=`` / ``@=`` then ``"string"``, ``dword:XXXXXXXX``, ``hex:`` or ``hex(N):`` (any N
  up to ffffffff) or ``-`` (delete the value). Blanks around ``=`` are allowed, and a
  ``;`` comment may follow the data. String escapes: ``\\\\``, ``\\"``, ``\\n``, ``\\r``.
* Hex lists continue on the next line after a ``,\\``; the next line's leading blanks are
  skipped, and blank or comment lines in between are skipped.
* hex(1), hex(2) and hex(7) data get a terminating NUL appended when it is missing. In
  REGEDIT4 files their data is ANSI (cp1252) text and is widened to UTF-16 on import
  (rasemu decides by the header, as the REGEDIT4 format defines; Wine decides by the
  file's encoding); REGEDIT4 export narrows REG_EXPAND_SZ and REG_MULTI_SZ data.
* Export: UTF-16LE with BOM (or cp1252 for REGEDIT4), CRLF, the header, then for each key
  a blank line and ``[KEY]`` followed by its values (default value ``@`` first, then the
  others in stored order), subkeys after their parent in Windows order, and a final
  blank line. Hex data wraps with ``,\\`` + CRLF + two spaces: a line is broken after the
  comma that brings it to 77 characters or more (the first line counts the value name
  and type prefix), i.e. 25 bytes on each continuation line.

Like regedit, a REG_SZ is always written as a quoted string: its last character is
taken as the terminator and the text stops at the first NUL (empty data gives ``""``);
a REG_DWORD whose data is not 4 bytes is written as ``hex(4):``. ``lossless=True``
(rasemu's option) writes a REG_SZ that the quoted form would shorten as ``hex(1):``.
String-typed data without a terminating NUL cannot survive any .reg file: import adds it.

Strict mode (the default) raises :class:`~emulator.errors.InputError` naming file, line
and column for anything irregular. Lenient mode does what regedit does (skips what it
skips) and lists each skipped or irregular thing in the result.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

from emulator.errors import InputError
from emulator.registry.model import (
    HKEY_CLASSES_ROOT,
    HKEY_CURRENT_CONFIG,
    HKEY_CURRENT_USER,
    HKEY_LOCAL_MACHINE,
    HKEY_USERS,
    MAX_VALUE_NAME,
    REG_BINARY,
    REG_DWORD,
    REG_EXPAND_SZ,
    REG_MULTI_SZ,
    REG_SZ,
    ROOTS,
    KeyNotFoundError,
    Registry,
    RegistryPathError,
    ValueNotFoundError,
    split_path,
)

HEADER_V5: Final = "Windows Registry Editor Version 5.00"
HEADER_V4: Final = "REGEDIT4"
HEADER_V31: Final = "REGEDIT"

#: Root names regedit accepts in a .reg file (full names only, any case).
REGEDIT_ROOTS: Final = (
    HKEY_LOCAL_MACHINE,
    HKEY_USERS,
    HKEY_CLASSES_ROOT,
    HKEY_CURRENT_CONFIG,
    HKEY_CURRENT_USER,
    "HKEY_DYN_DATA",
)
_ROOT_BY_UPPER: Final = {r: r for r in REGEDIT_ROOTS}
_ABBREVIATIONS: Final = {abbr: full for full, abbr in ROOTS.items()}
_STRING_TYPES: Final = (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ)
_MAX_HEX_CHARS: Final = 77
_BLANKS: Final = " \t"
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_HEXNUM_RE: Final = re.compile(r"[ \t]*([0-9A-Fa-f]+)")
_HEXTYPE_RE: Final = re.compile(r"([0-9A-Fa-f]*)\):")
_DWORD_RE: Final = re.compile(r"[ \t]*([0-9A-Fa-f]*)")

Encoding = Literal["utf-16-le", "utf-8-sig", "cp1252"]


_CP1252_UNDEFINED: Final = frozenset(b"\x81\x8d\x8f\x90\x9d")


def _ansi_errors(exc: UnicodeError) -> tuple[str | bytes, int]:
    # cp1252 leaves 0x81, 0x8D, 0x8F, 0x90, 0x9D undefined; Windows maps them to U+00xx
    # and back. Other characters cp1252 cannot hold are written as '?'.
    if isinstance(exc, UnicodeDecodeError):
        return chr(exc.object[exc.start]), exc.start + 1
    if isinstance(exc, UnicodeEncodeError):
        code = ord(exc.object[exc.start])
        return (bytes([code]) if code in _CP1252_UNDEFINED else b"?"), exc.start + 1
    raise exc


codecs.register_error("rasemu-ansi", _ansi_errors)


def _to_ansi(text: str) -> bytes:
    """Text as regedit writes it to an ANSI file (cp1252, '?' for what it cannot hold)."""
    return text.encode("cp1252", "rasemu-ansi")


def _from_ansi(data: bytes) -> str:
    return data.decode("cp1252", "rasemu-ansi")


# ---------------------------------------------------------------------------
# The operations (IR)


@dataclass(frozen=True, slots=True)
class CreateKey:
    """``[KEY]``: create (or open) a key."""

    path: str
    file: str = "<string>"
    line: int = 0
    column: int = 0


@dataclass(frozen=True, slots=True)
class DeleteKey:
    """``[-KEY]``: delete a key and its whole subtree (nothing when it is missing)."""

    path: str
    file: str = "<string>"
    line: int = 0
    column: int = 0


@dataclass(frozen=True, slots=True)
class SetValue:
    """``"name"=data``: set a value of the key opened last (``name`` "" = default)."""

    path: str
    name: str
    type: int
    data: bytes
    file: str = "<string>"
    line: int = 0
    column: int = 0


@dataclass(frozen=True, slots=True)
class DeleteValue:
    """``"name"=-``: delete a value (nothing when it is missing)."""

    path: str
    name: str
    file: str = "<string>"
    line: int = 0
    column: int = 0


Op = CreateKey | DeleteKey | SetValue | DeleteValue


@dataclass(frozen=True, slots=True)
class Issue:
    """Something skipped or irregular in a .reg file, with its position."""

    file: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.reason}"


@dataclass
class RegFile:
    """A parsed .reg file: format version, encoding, operations and issues.

    ``version``: 5, 4 (REGEDIT4), 3 (Windows 3.1) or 0 (lenient: a ``REGEDIT...`` header
    regedit accepts without importing anything).

    ``skipped`` lists what lenient parsing left out (as regedit would); ``notes`` lists
    irregular things that were accepted (lenient) or are worth knowing (both modes).
    """

    name: str
    version: int
    encoding: Encoding
    ops: list[Op]
    skipped: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)


@dataclass
class ImportReport:
    """What :func:`import_file` did."""

    file: str
    version: int
    encoding: Encoding
    keys_created: int = 0
    keys_deleted: int = 0
    values_set: int = 0
    values_deleted: int = 0
    skipped: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing was skipped."""
        return not self.skipped


# ---------------------------------------------------------------------------
# Parsing


class _Skip(Exception):
    """Lenient mode: the current statement is dropped (already recorded)."""


_CHUNK: Final = 1 << 20
_SNIFF: Final = 1 << 16  # bytes of an ANSI file checked for UTF-8 look-alikes
_Read = Callable[[int], bytes]


def _open_lines(read: _Read, name: str, strict: bool,
                notes: list[Issue]) -> tuple[Iterator[str], Encoding]:
    """Detect the encoding from the first bytes; return the file's lines, decoded lazily."""
    head = read(4)
    if not head:
        raise InputError(
            f"not a registry script: the file is empty; expected the header {HEADER_V5!r}", where=name)
    if head[:2] == b"\xff\xfe":
        decoder = codecs.getincrementaldecoder("utf-16-le")("surrogatepass")

        def decode_utf16(raw: bytes, final: bool) -> str:
            try:
                return decoder.decode(raw, final)
            except UnicodeDecodeError:
                if strict:
                    raise InputError("UTF-16LE file has an odd number of bytes (truncated?)",
                                     where=name) from None
                notes.append(Issue(name, 0, 0, "odd trailing byte of the UTF-16LE file ignored"))
                return ""

        return _stream_lines(head[2:], read, decode_utf16), "utf-16-le"
    if head[:3] == b"\xef\xbb\xbf":
        data = head[3:] + read(-1)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            msg = f"invalid UTF-8 byte 0x{data[exc.start]:02x} (file has a UTF-8 BOM)"
            if strict:
                raise InputError(msg, where=name, line=line) from None
            notes.append(Issue(name, line, 0, msg + "; replaced with U+FFFD"))
            text = data.decode("utf-8", "replace")
        return iter(_split_lines(text)), "utf-8-sig"
    if head[:2] == b"\xfe\xff":
        raise InputError(
            "not a registry script: UTF-16 big-endian files are not accepted by regedit; "
            "save as UTF-16LE with BOM",
            where=name,
        )
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
        raise InputError(
            "not a registry script: looks like UTF-16LE without a byte order mark; "
            "regedit needs the BOM (FF FE)",
            where=name,
        )
    head += read(_SNIFF)
    if not head.isascii():
        try:
            head.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError as exc:
            utf8 = exc.start >= len(head) - 3 and "end of data" in exc.reason
        if utf8:
            notes.append(Issue(name, 0, 0, "no byte order mark, so the file is read as ANSI "
                               "(cp1252) as regedit does, but its bytes look like UTF-8: save it "
                               "with a BOM if UTF-8 was meant"))
    return _stream_lines(head, read, lambda raw, final: _from_ansi(raw)), "cp1252"


def _stream_lines(first: bytes, read: _Read, decode: Callable[[bytes, bool], str]) -> Iterator[str]:
    """Lines ending at CR, LF or CRLF, decoding ~1 MB at a time (the file is never whole)."""
    carry = ""
    raw = first + read(_CHUNK)
    while True:
        final = not raw
        text = carry + decode(raw, final)
        held = ""
        if not final and text.endswith("\r"):
            text, held = text[:-1], "\r"  # a CRLF may be split between two chunks
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        parts = text.split("\n")
        carry = parts.pop() + held
        del text
        yield from parts
        if final:
            yield carry
            return
        raw = read(_CHUNK)


def _split_lines(text: str) -> list[str]:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


class _Parser:
    def __init__(self, lines: Iterator[str], name: str, strict: bool, version: int,
                 encoding: Encoding) -> None:
        self.lines = lines
        self.name = name
        self.strict = strict
        self.version = version
        self.encoding = encoding
        self.lineno = 1  # number of the line read last (line 1 is the header)
        self.key: str | None = None  # path of the key the values go to
        self.failed_key = 0  # line of the last key line that did not open a key
        self.ops: list[Op] = []
        self.skipped: list[Issue] = []
        self.notes: list[Issue] = []

    # -- problems ----------------------------------------------------------

    def skip(self, line: int, col: int, reason: str) -> _Skip:
        """Strict: raise InputError. Lenient: record, then the caller raises _Skip."""
        if self.strict:
            raise InputError(reason, where=self.name, line=line, column=col)
        self.skipped.append(Issue(self.name, line, col, reason))
        return _Skip()

    def irregular(self, line: int, col: int, reason: str) -> None:
        """Strict: raise InputError. Lenient: accept and note it."""
        if self.strict:
            raise InputError(reason, where=self.name, line=line, column=col)
        self.notes.append(Issue(self.name, line, col, reason + " (accepted, as regedit does)"))

    def note(self, line: int, col: int, reason: str) -> None:
        self.notes.append(Issue(self.name, line, col, reason))

    # -- main loop ---------------------------------------------------------

    def run(self) -> None:
        for line in self.lines:
            self.lineno += 1
            lineno = self.lineno
            if not line:
                continue
            c = line[0]
            p = 0
            if c == " " or c == "\t":
                stripped = line.lstrip(_BLANKS)
                if not stripped:
                    continue
                p = len(line) - len(stripped)
                c = stripped[0]
            try:
                if c == '"' or c == "@":
                    self.value_line(line, lineno, p)
                elif c == "[":
                    self.key_line(line, lineno, p)
                elif c == ";":
                    continue
                else:
                    raise self.skip(
                        lineno, p + 1,
                        f"expected '[KEY]', '\"name\"=', '@=', a ';' comment or a blank line, "
                        f"got {_show(line[p:])}",
                    )
            except _Skip:
                continue
            except _Stop:
                return

    def run_win31(self) -> None:
        """Windows 3.1 format: ``HKEY_CLASSES_ROOT\\path [=] value`` sets a default value."""
        for line in self.lines:
            self.lineno += 1
            if not line.strip(_BLANKS):
                continue
            if not line.startswith("HKEY_CLASSES_ROOT"):
                try:
                    raise self.skip(self.lineno, 1, "expected 'HKEY_CLASSES_ROOT\\...' "
                                    "(Windows 3.1 REGEDIT format), got " + _show(line))
                except _Skip:
                    continue
            end = 0
            while end < len(line) and not line[end].isspace():
                end += 1
            q = end
            while q < len(line) and line[q] in _BLANKS:
                q += 1
            if line.startswith("=", q):
                q += 1
            if line.startswith(" ", q):
                q += 1  # at most one space goes
            try:
                path = self.key_path(line[:end], self.lineno, 1, False)
            except _Skip:
                continue
            self.ops.append(CreateKey(path, self.name, self.lineno, 1))
            self.ops.append(SetValue(path, "", REG_SZ, line[q:].encode("utf-16-le", "surrogatepass")
                                     + b"\x00\x00", self.name, self.lineno, 1))

    # -- keys --------------------------------------------------------------

    def key_line(self, line: str, lineno: int, p: int) -> None:
        start = p + 1
        end = line.rfind("]")
        if end < start:
            raise self.skip(lineno, len(line) + 1, "expected ']' at the end of the key line")
        if line[start:start + 1] in (" ", "\t"):
            raise self.skip(lineno, start + 1, "key name starts with a blank (regedit ignores the line)")
        tail = line[end + 1:].rstrip(_BLANKS)
        extra = tail.lstrip(_BLANKS)
        if extra and extra[0] != ";":
            self.irregular(lineno, len(line[:end + 1]) + len(tail) - len(extra) + 1,
                           f"unexpected text after ']': {_show(extra)}")
        text = line[start:end]
        delete = text.startswith("-")
        col = start + 1
        if delete:
            text = text[1:]
            col += 1
            self.key = None
            if text[:1] not in ("H", "h"):
                # regedit silently ignores a [-...] line not starting with H.
                raise self.skip(lineno, col, f"expected a root key name after '[-', got {_show(text)}")
        else:
            self.key = None
        self.failed_key = lineno
        path = self.key_path(text, lineno, col, delete)
        self.failed_key = 0
        if delete:
            self.ops.append(DeleteKey(path, self.name, lineno, p + 1))
        else:
            self.ops.append(CreateKey(path, self.name, lineno, p + 1))
            self.key = path

    def key_path(self, text: str, lineno: int, col: int, delete: bool) -> str:
        head, sep, rest = text.partition("\\")
        upper = head.upper()
        root = _ROOT_BY_UPPER.get(upper)
        if root is None:
            full = _ABBREVIATIONS.get(upper)
            if full is not None:
                reason = (f"root key {head!r} is an abbreviation: regedit accepts only full names "
                          f"in .reg files (use {full})")
            else:
                reason = (f"expected a root key name ({', '.join(REGEDIT_ROOTS[:5])}), "
                          f"got {_show(head)}")
            if delete:
                # regedit aborts the whole import on [-BADROOT\...].
                self.skip(lineno, col, reason + "; regedit stops the import here")
                raise _Stop()
            raise self.skip(lineno, col, reason + "; the key and its values are skipped")
        if root == "HKEY_DYN_DATA":
            raise self.skip(lineno, col, "HKEY_DYN_DATA exists only on Windows 9x; key skipped")
        if delete and not rest:
            self.skip(lineno, col, f"cannot delete the root key {root}; regedit stops the import here")
            raise _Stop()
        path = root + sep + rest
        try:
            split_path(path)
        except RegistryPathError as exc:
            raise self.skip(lineno, col + len(head) + 1, f"bad key path {_show(text)}: {exc.message}") from None
        return path

    # -- values ------------------------------------------------------------

    def value_line(self, line: str, lineno: int, p: int) -> None:
        col0 = p + 1
        if line[p] == "@":
            name = ""
            q = p + 1
        else:
            name, q = self.unescape(line, p + 1, lineno, "value name")
        n = len(line)
        while q < n and line[q] in _BLANKS:
            q += 1
        if q >= n or line[q] != "=":
            raise self.skip(lineno, q + 1, f"expected '=' after the value name, got {_show(line[q:])}")
        q += 1
        while q < n and line[q] in _BLANKS:
            q += 1
        end = n
        while end > q and line[end - 1] in _BLANKS:
            end -= 1
        key = self.key
        if key is None:
            if self.failed_key:
                raise self.skip(lineno, col0, f"value skipped: the key line {self.failed_key} above "
                                "it did not open a key")
            raise self.skip(lineno, col0, "value outside a key section (no '[KEY]' line is open above it)")
        if q >= end:
            raise self.skip(lineno, q + 1, "expected data after '=': '\"string\"', 'dword:', 'hex:', 'hex(N):' or '-'")
        c = line[q]
        if len(name) > MAX_VALUE_NAME:
            raise self.skip(lineno, col0, f"value name longer than {MAX_VALUE_NAME} characters")
        if c == '"':
            text, r = self.unescape(line, q + 1, lineno, "string")
            self.rest_is_comment(line, r, end, lineno, "after the closing '\"'")
            data = text.encode("utf-16-le", "surrogatepass") + b"\x00\x00"
            self.ops.append(SetValue(key, name, REG_SZ, data, self.name, lineno, col0))
        elif c == "-":
            self.rest_is_comment(line, q + 1, end, lineno, "after '-'")
            self.ops.append(DeleteValue(key, name, self.name, lineno, col0))
        elif line.startswith("dword:", q):
            value = self.dword(line, q + 6, end, lineno)
            self.ops.append(SetValue(key, name, REG_DWORD, value.to_bytes(4, "little"),
                                     self.name, lineno, col0))
        elif line.startswith("hex:", q):
            data = self.hex_data(line, q + 4, end, lineno, REG_BINARY)
            self.ops.append(SetValue(key, name, REG_BINARY, data, self.name, lineno, col0))
        elif line.startswith("hex(", q):
            m = _HEXTYPE_RE.match(line, q + 4)
            if m is None:
                raise self.skip(lineno, q + 5, "expected 'hex(N):' with N in hex (1 to 8 digits)")
            digits = m.group(1)
            vtype = int(digits, 16) if digits else 0
            if vtype > 0xFFFFFFFF:
                raise self.skip(lineno, q + 5, f"value type hex({digits}) is larger than ffffffff")
            if not digits:
                self.irregular(lineno, q + 5, "'hex():' without a type number is read as hex(0):")
            elif len(digits) > 8:
                self.irregular(lineno, q + 5, f"type number {digits!r} has more than 8 digits")
            data = self.hex_data(line, m.end(), end, lineno, vtype)
            self.ops.append(SetValue(key, name, vtype, data, self.name, lineno, col0))
        else:
            raise self.skip(
                lineno, q + 1,
                f"expected '\"string\"', 'dword:', 'hex:', 'hex(N):' or '-' after '=', "
                f"got {_show(line[q:end])}",
            )

    def rest_is_comment(self, line: str, r: int, end: int, lineno: int, what: str) -> None:
        while r < end and line[r] in _BLANKS:
            r += 1
        if r < end and line[r] != ";":
            raise self.skip(lineno, r + 1, f"unexpected text {what}: {_show(line[r:end])}")

    def unescape(self, line: str, start: int, lineno: int, what: str) -> tuple[str, int]:
        """Text up to the closing quote (escapes resolved) and the index after it."""
        q = line.find('"', start)
        b = line.find("\\", start)
        if q >= 0 and (b < 0 or b > q):
            return line[start:q], q + 1
        out: list[str] = []
        pos = start
        while True:
            if q < 0 and b < 0:
                raise self.skip(lineno, start, f"unterminated {what}: expected a closing '\"'")
            if b < 0 or (0 <= q < b):
                out.append(line[pos:q])
                return "".join(out), q + 1
            out.append(line[pos:b])
            esc = line[b + 1:b + 2]
            if esc == "\\" or esc == '"':
                out.append(esc)
            elif esc == "n":
                out.append("\n")
            elif esc == "r":
                out.append("\r")
            elif esc == "":
                raise self.skip(lineno, b + 1, f"unterminated {what}: the line ends after '\\'")
            elif esc == "0":
                raise self.skip(lineno, b + 1, f"'\\0' is not allowed in a {what} (regedit rejects it)")
            else:
                self.irregular(lineno, b + 1,
                               f"unknown escape '\\{esc}' in a {what} (regedit keeps {esc!r} and drops the '\\')")
                out.append(esc)
            pos = b + 2
            q = line.find('"', pos)
            b = line.find("\\", pos)

    def dword(self, line: str, start: int, end: int, lineno: int) -> int:
        m = _DWORD_RE.match(line, start, end)
        assert m is not None
        digits = m.group(1)
        r = m.end()
        while r < end and line[r] in _BLANKS:
            r += 1
        if r < end and line[r] != ";":
            raise self.skip(lineno, start + 1,
                            f"expected 8 hex digits after 'dword:', got {_show(line[start:end])}")
        if not digits and r >= end:
            raise self.skip(lineno, start + 1, "expected 8 hex digits after 'dword:'")
        if len(digits) > 8:
            raise self.skip(lineno, start + 1,
                            f"expected 8 hex digits after 'dword:', got {len(digits)}")
        if len(digits) != 8 or m.start(1) != start:
            self.irregular(lineno, start + 1,
                           f"expected 8 hex digits after 'dword:', got {_show(line[start:end])}")
        return int(digits, 16) if digits else 0

    # -- hex lists ---------------------------------------------------------

    def hex_data(self, line: str, start: int, end: int, lineno: int, vtype: int) -> bytes:
        # Fast path: gather the lines of a regular list, join them, convert once.
        segs = [(lineno, start + 1, line[start:end])]
        seg = segs[0][2]
        regular = True
        while seg.endswith("\\") and ";" not in seg:
            if (len(seg) - 1) % 3:
                regular = False
            nxt = self.next_segment()
            if nxt is None:
                regular = False
                break
            segs.append(nxt)
            seg = nxt[2]
        if regular:
            joined = seg if len(segs) == 1 else "".join([s[:-1] for _, _, s in segs[:-1]]) + seg
            n = len(joined)
            if n == 0:
                return b""
            if n % 3 == 2 and joined[2::3] == "," * (n // 3):
                try:
                    data = bytes.fromhex(joined.replace(",", ""))
                except ValueError:
                    data = b""
                if len(data) == n // 3 + 1:
                    return self.finish_hex(data, vtype, lineno)
        # Slow path: the list is irregular somewhere; parse line by line to say where.
        pieces: list[bytes] = []
        i = 0
        while True:
            if i < len(segs):
                current = segs[i]
                i += 1
            else:
                nxt = self.next_segment()
                if nxt is None:
                    ln, col, sg = current
                    self.irregular(ln, col + len(sg) - 1,
                                   "the file ends inside a hex list continued with '\\'")
                    break
                current = nxt
            chunk, cont = self.hex_slow(current[2], current[0], current[1])
            pieces.append(chunk)
            if not cont:
                break
        return self.finish_hex(b"".join(pieces), vtype, lineno)

    def next_segment(self) -> tuple[int, int, str] | None:
        """The next continuation line of a hex list as (line, column, text); None at EOF.

        Blank and comment lines are skipped; the line must start with a hex digit.
        """
        for nxt in self.lines:
            self.lineno += 1
            stripped = nxt.lstrip(_BLANKS)
            if not stripped or stripped[0] == ";":
                continue
            off = len(nxt) - len(stripped)
            if stripped[0] not in _HEX_DIGITS:
                raise self.skip(self.lineno, off + 1,
                                f"expected hex bytes on the continuation line, got {_show(stripped)}; "
                                "the value and this line are skipped")
            return self.lineno, off + 1, stripped.rstrip(_BLANKS)
        return None

    def hex_slow(self, seg: str, lineno: int, col0: int) -> tuple[bytes, bool]:
        """Parse one line's part of a hex list the way regedit does, reporting problems."""
        out = bytearray()
        pos = 0
        n = len(seg)
        while pos < n:
            m = _HEXNUM_RE.match(seg, pos)
            if m is None:
                p = pos
                while p < n and seg[p] in _BLANKS:
                    p += 1
                if p < n and seg[p] == "\\":
                    r = p + 1
                    while r < n and seg[r] in _BLANKS:
                        r += 1
                    if r < n and seg[r] != ";":
                        raise self.skip(lineno, col0 + r,
                                        f"unexpected text after the continuation '\\': {_show(seg[r:])}")
                    return bytes(out), True
                if p >= n or seg[p] == ";":
                    if out:
                        self.irregular(lineno, col0 + pos - 1, "trailing ',' at the end of a hex list")
                    return bytes(out), False
                raise self.skip(lineno, col0 + p,
                                f"expected two hex digits, got {_show(seg[p:])}")
            digits = m.group(1)
            value = int(digits, 16)
            if value > 0xFF:
                raise self.skip(lineno, col0 + m.start(1),
                                f"hex byte {digits!r} is larger than ff")
            if len(digits) != 2:
                self.irregular(lineno, col0 + m.start(1),
                               f"expected two hex digits, got {digits!r}")
            out.append(value)
            e = m.end()
            if e >= n:
                return bytes(out), False
            if seg[e] == ",":
                pos = e + 1
                continue
            p = e
            while p < n and seg[p] in _BLANKS:
                p += 1
            if p >= n or seg[p] == ";":
                return bytes(out), False
            if seg[p] == "\\":
                raise self.skip(lineno, col0 + p, "expected ',' before the continuation '\\'")
            raise self.skip(lineno, col0 + p, f"expected ',' between hex bytes, got {_show(seg[p:])}")
        if out:
            self.irregular(lineno, col0 + n - 1, "trailing ',' at the end of a hex list")
        return bytes(out), False

    def finish_hex(self, data: bytes, vtype: int, lineno: int) -> bytes:
        if vtype not in _STRING_TYPES or not data:
            return data
        if self.version == 4:
            if data[-1] != 0:
                data += b"\x00"
            return _from_ansi(data).encode("utf-16-le", "surrogatepass")
        if len(data) % 2:
            k = len(data) // 2
            if k == 0 or data[2 * k - 2:2 * k] != b"\x00\x00":
                self.note(lineno, 1, "string data of odd length without a terminating NUL: "
                          "the last byte is replaced by a NUL character, as regedit does")
                return data[:2 * k] + b"\x00\x00"
            return data
        if data[-2:] != b"\x00\x00":
            self.note(lineno, 1, "string data without a terminating NUL: regedit appends one")
            data += b"\x00\x00"
        return data


class _Stop(Exception):
    """Lenient mode: regedit stops importing the file here."""


def _show(text: str, limit: int = 40) -> str:
    if not text:
        return "end of line"
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def _header(first: str, name: str, strict: bool, notes: list[Issue]) -> int:
    """Format version from the first line: 5, 4, 3 (Windows 3.1) or 0 (regedit accepts the
    header but imports nothing)."""
    stripped = first.lstrip(_BLANKS)
    if stripped != first:
        if strict:
            raise InputError("blanks before the header", where=name, line=1, column=1)
        notes.append(Issue(name, 1, 1, "blanks before the header (accepted, as regedit does)"))
    if stripped == HEADER_V5:
        return 5
    if stripped == HEADER_V4:
        return 4
    if stripped == HEADER_V31:
        return 3
    expected = f"expected the header {HEADER_V5!r} or {HEADER_V4!r}"
    if stripped.startswith("REGEDIT"):
        reason = (f"{expected}, got {_show(stripped)}: regedit accepts this header but imports "
                  "nothing from the file")
        if strict:
            raise InputError(reason, where=name, line=1, column=1)
        notes.append(Issue(name, 1, 1, reason))
        return 0
    if stripped.rstrip(_BLANKS) in (HEADER_V5, HEADER_V4):
        reason = "trailing blanks after the header; regedit does not accept this file"
    else:
        reason = f"not a registry script: {expected}, got {_show(stripped)}"
    raise InputError(reason, where=name, line=1, column=1)


def _parse_stream(read: _Read, name: str, strict: bool) -> RegFile:
    notes: list[Issue] = []
    lines, encoding = _open_lines(read, name, strict, notes)
    version = _header(next(lines), name, strict, notes)
    parser = _Parser(lines, name, strict, version, encoding)
    parser.notes = notes
    if version == 3:
        parser.run_win31()
    elif version:
        parser.run()
    return RegFile(name, version, encoding, parser.ops, parser.skipped, parser.notes)


def parse(data: bytes, *, name: str = "<bytes>", strict: bool = True) -> RegFile:
    """Parse the bytes of a .reg file into operations (see the module docstring)."""
    return _parse_stream(io.BytesIO(data).read, name, strict)


def parse_file(path: str | os.PathLike[str], *, strict: bool = True) -> RegFile:
    """Read and parse a .reg file (streamed); a missing or unreadable file is an InputError."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            return _parse_stream(fh.read, name, strict)
    except FileNotFoundError:
        raise InputError("no such .reg file", where=name) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a .reg file", where=name) from None
    except OSError as exc:
        raise InputError(f"cannot read the .reg file: {exc.strerror or exc}", where=name) from None


# ---------------------------------------------------------------------------
# Applying


@dataclass
class ApplyStats:
    """Counts of what :func:`apply` changed, and what it skipped (lenient)."""

    keys_created: int = 0
    keys_deleted: int = 0
    values_set: int = 0
    values_deleted: int = 0
    skipped: list[Issue] = field(default_factory=list)


def apply(ops: Iterable[Op], registry: Registry, view: int = 64, *,
          strict: bool = True) -> ApplyStats:
    """Carry out operations in order, as regedit does when it imports a file.

    Deleting a missing key or value does nothing. Path errors the registry reports are an
    InputError at the operation's file:line:column (strict) or skipped (lenient).
    """
    stats = ApplyStats()
    for op in ops:
        try:
            if type(op) is SetValue:
                registry.set_value(op.path, op.name, op.type, op.data, view=view)
                stats.values_set += 1
            elif type(op) is CreateKey:
                registry.create_key(op.path, view=view)
                stats.keys_created += 1
            elif type(op) is DeleteValue:
                try:
                    registry.delete_value(op.path, op.name, view=view)
                    stats.values_deleted += 1
                except (KeyNotFoundError, ValueNotFoundError):
                    pass
            elif type(op) is DeleteKey:
                try:
                    registry.delete_key(op.path, recursive=True, view=view)
                    stats.keys_deleted += 1
                except KeyNotFoundError:
                    pass
            else:
                raise TypeError(f"not a .reg operation: {op!r}")
        except RegistryPathError as exc:
            if strict:
                raise InputError(exc.message, where=op.file, line=op.line, column=op.column) from None
            stats.skipped.append(Issue(op.file, op.line, op.column, exc.message))
    return stats


def import_file(path: str | os.PathLike[str], registry: Registry, *, strict: bool = True,
                view: int = 64) -> ImportReport:
    """Parse a .reg file and apply it. Strict: on an error nothing is applied."""
    reg = parse_file(path, strict=strict)
    stats = apply(reg.ops, registry, view, strict=strict)
    return ImportReport(
        file=reg.name, version=reg.version, encoding=reg.encoding,
        keys_created=stats.keys_created, keys_deleted=stats.keys_deleted,
        values_set=stats.values_set, values_deleted=stats.values_deleted,
        skipped=reg.skipped + stats.skipped, notes=reg.notes,
    )


def import_bytes(data: bytes, registry: Registry, *, name: str = "<bytes>", strict: bool = True,
                 view: int = 64) -> ImportReport:
    """Like :func:`import_file` for the bytes of a .reg file."""
    reg = parse(data, name=name, strict=strict)
    stats = apply(reg.ops, registry, view, strict=strict)
    return ImportReport(
        file=reg.name, version=reg.version, encoding=reg.encoding,
        keys_created=stats.keys_created, keys_deleted=stats.keys_deleted,
        values_set=stats.values_set, values_deleted=stats.values_deleted,
        skipped=reg.skipped + stats.skipped, notes=reg.notes,
    )


# ---------------------------------------------------------------------------
# Export


def _escape(text: str) -> str:
    if "\\" in text or '"' in text or "\n" in text or "\r" in text:
        text = (text.replace("\\", "\\\\").replace('"', '\\"')
                .replace("\n", "\\n").replace("\r", "\\r"))
    return text


def _units(text: str) -> int:
    """Length in UTF-16 code units (what regedit counts)."""
    n = len(text)
    if not text.isascii():
        n += sum(1 for ch in text if ord(ch) > 0xFFFF)
    return n


def _is_plain_string(data: bytes) -> bool:
    n = len(data)
    if n < 2 or n % 2 or data[-2:] != b"\x00\x00":
        return False
    # No NUL code unit before the terminator.
    body = data[:-2]
    idx = body.find(b"\x00\x00")
    while idx >= 0:
        if idx % 2 == 0:
            return False
        idx = body.find(b"\x00\x00", idx + 1)
    return True


def _regedit_string(data: bytes) -> str:
    """REG_SZ text as regedit writes it: the last character is taken as the terminator and
    the text ends at the first NUL (so "a\\0b\\0" becomes "a" and empty data "")."""
    units = len(data) // 2 - 1
    if units <= 0:
        return ""
    text = data[: 2 * units].decode("utf-16-le", "surrogatepass")
    nul = text.find("\x00")
    return text if nul < 0 else text[:nul]


def format_name(name: str) -> str:
    """A value name as a .reg file writes it: ``@`` for the default value, else quoted
    with ``\\``, ``"``, CR and LF escaped (``format_name(n) + "=-"`` deletes the value)."""
    return '"' + _escape(name) + '"' if name else "@"


def format_value(name: str, vtype: int, data: bytes, *, version: int = 5,
                 lossless: bool = False) -> str:
    """One value as regedit writes it (lines joined by CRLF, no final line end).

    ``lossless``: a REG_SZ that regedit's quoted form would shorten (embedded NUL, no
    terminator, odd length) is written as ``hex(1):`` instead.
    """
    head = format_name(name) + "="
    if vtype == REG_SZ and (not lossless or _is_plain_string(data)):
        return head + '"' + _escape(_regedit_string(data)) + '"'
    if vtype == REG_DWORD and len(data) == 4:
        return head + f"dword:{int.from_bytes(data, 'little'):08x}"
    prefix = "hex:" if vtype == REG_BINARY else f"hex({vtype:x}):"
    if version == 4 and vtype in (REG_EXPAND_SZ, REG_MULTI_SZ) and data:
        data = _to_ansi(data[: len(data) // 2 * 2].decode("utf-16-le", "surrogatepass"))
    if not data:
        return head + prefix
    n = len(data)
    hexs = data.hex(",")
    first = max(1, -(-(_MAX_HEX_CHARS - _units(head) - len(prefix)) // 3))
    if n <= first:
        return head + prefix + hexs
    parts = [head, prefix, hexs[: 3 * first], "\\\r\n  "]
    pos = 3 * first
    total = len(hexs)
    while total - pos > 75:
        parts.append(hexs[pos:pos + 75])
        parts.append("\\\r\n  ")
        pos += 75
    parts.append(hexs[pos:])
    return "".join(parts)


def _walk(registry: Registry, key: str | None) -> Iterator[tuple[str, list[tuple[str, int, bytes]]]]:
    if key is None:
        for path, values in registry.snapshot().walk():
            yield path, values
        return
    if split_path(key)[0] == HKEY_CLASSES_ROOT:
        # Merged view: walk it through the registry API.
        stack = [key]
        while stack:
            path = stack.pop()
            yield path, registry.value_items(path, view=64)
            for sub in reversed(registry.subkey_names(path, view=64)):
                stack.append(path + "\\" + sub)
        return
    yield from registry.snapshot(key).walk()


def export_text(registry: Registry, key: str | None = None, *, version: int = 5,
                lossless: bool = False) -> str:
    """The export as text with CRLF line ends (no BOM); see :func:`export`."""
    if key is not None:
        try:
            if not registry.key_exists(key, view=64):
                raise InputError("no such key to export", where=key)
        except RegistryPathError as exc:
            raise InputError(f"cannot export: {exc.message}", where=key) from None
        root, names = split_path(key)
        key = "\\".join((root, *names))
    out: list[str] = [HEADER_V5 if version == 5 else HEADER_V4, "\r\n"]
    append = out.append
    for path, values in _walk(registry, key):
        if (key is None and "\\" not in path and not values
                and not registry.subkey_names(path, view=64)):
            continue  # an empty root is not written
        append("\r\n[")
        append(path)
        append("]\r\n")
        default = None
        for item in values:
            if not item[0]:
                default = item
                break
        if default is not None:
            append(format_value("", default[1], default[2], version=version, lossless=lossless))
            append("\r\n")
        for name, vtype, data in values:
            if name:
                append(format_value(name, vtype, data, version=version, lossless=lossless))
                append("\r\n")
    append("\r\n")
    return "".join(out)


def export(registry: Registry, key: str | None = None, *, version: int = 5,
           lossless: bool = False) -> bytes:
    """Export ``key`` (default: every root that holds anything) as regedit writes it.

    ``version`` 5: UTF-16LE with BOM; 4: ``REGEDIT4`` in cp1252 (characters cp1252 cannot
    hold become '?', as regedit's ANSI export does). An unknown key is an InputError.
    ``lossless`` writes REG_SZ data that regedit would shorten as ``hex(1):`` (see
    :func:`format_value`); otherwise the output is regedit's, byte for byte.
    """
    if version not in (4, 5):
        raise ValueError(f"version must be 4 or 5, not {version!r}")
    text = export_text(registry, key, version=version, lossless=lossless)
    if version == 5:
        return b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass")
    return _to_ansi(text)
