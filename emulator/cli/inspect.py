"""``rasemu inspect DLL``: the PE facts a vendor needs, without running the DLL."""

from __future__ import annotations

import json
from typing import Any

import click

from emulator.abi.callbacks import SIGNATURES, undecorate
from emulator.loaders.pe.image import PeImage, parse_pe
from emulator.loaders.pe.winapi import lookup


def inspect_image(img: PeImage) -> dict[str, Any]:
    """Everything ``inspect`` reports, as JSON-able data."""
    exports = []
    notes: list[dict[str, str]] = []
    decorated: list[str] = []
    for e in sorted(img.exports, key=lambda e: e.ordinal):
        plain = undecorate(e.name) if e.name else None
        item: dict[str, Any] = {"name": e.name, "ordinal": e.ordinal, "rva": e.rva}
        if e.forwarder:
            item["forwarder"] = e.forwarder
            notes.append(
                {
                    "rule": "",
                    "message": f"export {e.name or '#' + str(e.ordinal)} is forwarded to {e.forwarder}",
                }
            )
        if plain is not None and plain != e.name:
            item["plain_name"] = plain
            decorated.append(f"{e.name} -> {plain}")
        exports.append(item)
    if decorated:
        notes.append(
            {
                "rule": "R49",
                "message": f"{len(decorated)} callback export(s) are decorated ({decorated[0]}"
                + (", ..." if len(decorated) > 1 else "")
                + "); the host looks callbacks up by exact plain name (R16) and will not find them. "
                "Export plain names: list them in a .def file, or link with -Wl,--kill-at (mingw).",
            }
        )
    names = {e.name for e in img.exports if e.name}
    callbacks: list[dict[str, str]] = []
    for name, sig in SIGNATURES.items():
        if name in names:
            callbacks.append({"name": name, "export": name, "family": sig.family})
            continue
        for dec in sig.decorated_names():
            if dec in names:
                callbacks.append({"name": name, "export": dec, "family": sig.family, "rule": "R49"})
                break
    imports = []
    unsupported = 0
    for imp in img.imports:
        symbol: str | int = imp.name if imp.name is not None else (imp.ordinal or 0)
        spec = lookup(imp.dll, symbol)
        if spec is None:
            unsupported += 1
        imports.append(
            {
                "dll": imp.dll,
                "name": imp.name,
                "ordinal": imp.ordinal,
                "delayed": imp.delayed,
                "supported": spec is not None,
                "kind": spec.kind if spec is not None else None,
            }
        )
    if unsupported:
        notes.append(
            {
                "rule": "",
                "message": f"{unsupported} import(s) are not implemented by rasemu's emulator; "
                "calls that reach them stop with a missing-api fault",
            }
        )
    tls = img.tls
    return {
        "path": img.path,
        "machine": img.machine,
        "format": "PE32+" if img.machine == "x64" else "PE32",
        "dll": img.is_dll,
        "image_base": img.image_base,
        "size_of_image": img.size_of_image,
        "entry_rva": img.entry_rva,
        "relocations": len(img.relocations),
        "tls_callbacks": list(tls.callbacks) if tls is not None else [],
        "bound_imports": img.has_bound_imports,
        "exports": exports,
        "admin_callbacks": callbacks,
        "imports": imports,
        "unsupported_imports": unsupported,
        "notes": notes,
    }


def _render(info: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    add(f"File:          {info['path']}")
    bits = "64-bit, AMD64" if info["machine"] == "x64" else "32-bit, i386"
    add(
        f"Machine:       {info['machine']} ({info['format']}, {bits}){'' if info['dll'] else '  -- NOT a DLL'}"
    )
    add(
        f"Image base:    0x{info['image_base']:x}  (size 0x{info['size_of_image']:x}, entry RVA 0x{info['entry_rva']:x})"
    )
    add(f"Relocations:   {info['relocations']}")
    tls = info["tls_callbacks"]
    add(f"TLS callbacks: {len(tls)}" + (f"  ({', '.join(f'0x{r:x}' for r in tls)})" if tls else ""))
    add("")
    add(f"Exports ({len(info['exports'])}):")
    for e in info["exports"]:
        name = e["name"] or "(by ordinal only)"
        extra = ""
        if "forwarder" in e:
            extra = f"  -> {e['forwarder']}"
        elif "plain_name" in e:
            extra = f"  [R49: decorated; plain name {e['plain_name']}]"
        add(f"  {e['ordinal']:>4}  0x{e['rva']:08x}  {name}{extra}")
    add("")
    cbs = info["admin_callbacks"]
    add(f"Admin callbacks present ({len(cbs)}):")
    if not cbs:
        add("  none: this DLL exports no RasAdmin*/MprAdmin* callback")
    for c in cbs:
        suffix = f"  as {c['export']} [R49]" if c.get("rule") == "R49" else ""
        add(f"  {c['name']}{suffix}")
    add("")
    add(
        f"Imports ({len(info['imports'])}, {info['unsupported_imports']} not implemented by the emulator):"
    )
    for i in info["imports"]:
        sym = i["name"] if i["name"] is not None else f"#{i['ordinal']}"
        status = "ok" if i["supported"] else "NOT IMPLEMENTED"
        if i["kind"] == "data":
            status += " (data)"
        delayed = " (delay-load)" if i["delayed"] else ""
        add(f"  {i['dll'].lower()}!{sym}{delayed}  {status}")
    if info["notes"]:
        add("")
        add("Notes:")
        for n in info["notes"]:
            add(f"  {n['rule'] + ': ' if n['rule'] else ''}{n['message']}")
    return "\n".join(out)


@click.command("inspect")
@click.argument("dll", type=click.Path(dir_okay=True, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def inspect(dll: str, as_json: bool) -> None:
    """Show a PE DLL's machine, exports (decorated names: R49), admin callbacks, imports and
    which of them rasemu's emulator supports, TLS callbacks and relocations. Does not run the DLL."""
    info = inspect_image(parse_pe(dll))
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(_render(info))
