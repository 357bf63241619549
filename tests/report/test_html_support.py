"""Helpers for the HTML report tests: a strict HTML tree reader, hostile inputs, synthetic traces."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "fixtures" / "standins"

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})

#: markup a user name, port name or DLL file name might carry; each one sets data-pwned if it runs
PWN = "document.body.setAttribute('data-pwned','1')"
HOSTILE_USERS = (
    f"<script>{PWN}</script>",
    f'"><img src=x onerror="{PWN}">',
    f"'><svg onload=\"{PWN}\"></svg>",
    "</title></svg></details><b>bold</b>",
    "&amp;&lt;&#x3c;",
    "Jürgen \U0001F600\u202eevil\u202c",
)
HOSTILE_SCENARIO = "hostile-names"



@dataclass
class Node:
    """An element of the parsed page."""

    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    parent: Node | None = None
    parts: list[str | Node] = field(default_factory=list)  # text and children in document order

    def iter(self) -> Iterable[Node]:
        yield self
        for c in self.children:
            yield from c.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        out = []
        for n in self.iter():
            if n.tag != tag:
                continue
            if all(_attr_match(n.attrs.get(k.rstrip("_").replace("_", "-")), v) for k, v in attrs.items()):
                out.append(n)
        return out

    def all_text(self) -> str:
        return "".join(p if isinstance(p, str) else p.all_text() for p in self.parts)


def _attr_match(value: str | None, want: str) -> bool:
    if value is None:
        return False
    return want in value.split() or value == want


class StrictTree(HTMLParser):
    """Builds a tree and records every nesting error (a close tag that does not match)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.errors: list[str] = []
        self.doctype: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.stack[-1].tag != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1].tag}> at {self.getpos()}")
            while len(self.stack) > 1 and self.stack[-1].tag != tag:
                self.stack.pop()
        if len(self.stack) > 1:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)
        self.stack[-1].parts.append(data)


def parse(page: str) -> StrictTree:
    """Parse ``page``; the caller checks ``errors`` and that ``stack`` is back at the root."""
    t = StrictTree()
    t.feed(page)
    t.close()
    return t


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def csp_of(tree: StrictTree) -> dict[str, str]:
    meta = [m for m in tree.root.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert len(meta) == 1
    out = {}
    for part in meta[0].attrs["content"].split(";"):
        words = part.split()
        if words:
            out[words[0]] = " ".join(words[1:])
    return out


def hostile_scenario(path: Path) -> Path:
    """A scenario file connecting one user per hostile name (ports are hostile too)."""
    def q(text: str) -> str:
        return json.dumps(text.replace("{", "{{").replace("}", "}}"), ensure_ascii=False)

    lines = ["[scenario]", f"name = {q(HOSTILE_SCENARIO)}", 'description = "markup in names"']
    for k, user in enumerate(HOSTILE_USERS):
        port = ["<b>P</b>", '"><i>', "P&amp;", "<svg>", "VPN\u202e1", "x'y"][k]
        lines += ["[[steps]]", 'do = "connect"', f"user = {q(user)}", f"port = {q(port)}"]
    lines += ["[[steps]]", 'do = "connect"', 'user = "{u*256}"', 'port = "{P*16}"',
              "[[steps]]", 'do = "disconnect"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def synthetic_trace(sessions: int, ports: int, *, live: int = 40, faults: Iterable[int] = (),
                    dll: str = "C:\\Windows\\System32\\big.dll") -> list[dict[str, Any]]:
    """Engine-shaped events for ``sessions`` sequential sessions with ``live`` connected at once."""
    events: list[dict[str, Any]] = []
    bad = set(faults)

    def ev(call: str, args: list[Any], returned: Any, *, outputs: dict[str, Any] | None = None,
           session: int | None = None, fault: dict[str, str] | None = None, inst: str = "conn") -> None:
        n = len(events)
        events.append({"seq": n, "t": n * 1e-5, "dll": dll, "instance": inst, "call": call, "args": args,
                       "returned": returned, "outputs": outputs or {}, "fault": fault, "issues": [],
                       "probe": False, "session": session})

    def conn(k: int, user: str, addr: str) -> dict[str, Any]:
        return {"struct": "RAS_CONNECTION_EX", "hConnection": 0x10000 + k, "user": user, "address": addr}

    def port0(k: int, port: str) -> dict[str, Any]:
        return {"struct": "RAS_PORT_0", "hConnection": 0x10000 + k, "hPort": 0x20000 + k, "port": port}

    def hang(k: int, user: str, port: str, addr: str) -> None:
        ev("MprAdminLinkHangupNotification", [port0(k, port), {"struct": "RAS_PORT_1"}], None, session=k)
        ev("MprAdminConnectionHangupNotificationEx", [conn(k, user, addr)], None, session=k)
        ev("MprAdminReleaseIpAddress", [user, port, addr], None, outputs={"lpdwIpAddress": addr},
           session=k, inst="ip")

    ev("MprAdminInitializeDll", [], 0, inst="ip")
    ev("MprAdminInitializeDll", [], 0)
    queue: deque[tuple[int, str, str, str]] = deque()
    for k in range(1, sessions + 1):
        user, port = f"user{k}", f"VPN1-{k % ports}"
        addr = f"10.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}"
        if k in bad:
            ev("MprAdminGetIpAddressForUser", [user, port, "0.0.0.0", 0xA5A5A5A5], None, session=k,
               inst="ip", fault={"kind": "crash", "message": "access violation reading 0x0"})
            continue
        ev("MprAdminGetIpAddressForUser", [user, port, "0.0.0.0", 0xA5A5A5A5], 0, session=k, inst="ip",
           outputs={"lpdwIpAddress": addr, "bNotifyRelease": 1})
        ev("MprAdminAcceptNewConnectionEx", [conn(k, user, addr)], 1, session=k)
        ev("MprAdminAcceptNewLink", [port0(k, port), {"struct": "RAS_PORT_1"}], 1, session=k)
        queue.append((k, user, port, addr))
        if len(queue) > live:
            hang(*queue.popleft())
    while queue:
        hang(*queue.popleft())
    ev("MprAdminTerminateDll", [], 0, inst="ip")
    ev("MprAdminTerminateDll", [], 0)
    return events


def visible_text(tree: StrictTree) -> str:
    """All text outside <style> and <script>."""
    parts = []
    for n in tree.root.iter():
        if n.tag not in ("style", "script"):
            parts.append("".join(n.text))
    return re.sub(r"\s+", " ", " ".join(parts))
