"""How the channel commands' results read for people: tables, summaries, key-value lines.

Each view takes the API's JSON reply (the same locally and over HTTP) and returns
lines; ``app.cli.output.Output`` decides whether people or scripts are reading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.cli.output import Output, pairs, short, table
from app.errors import InvalidInput

__all__ = ["IMAGE_HELP", "history", "images", "pairs", "read", "selection", "status"]

IMAGE_HELP = "a content hash, a unique prefix of it (8+ hex digits), a file name, or a path"


def images(page: dict[str, Any]) -> list[str]:
    rows = [
        [_state(item), str(item["duplicate_count"] + 1), short(item["content_hash"]),
         item["name"], item["path"]]
        for item in page["items"]
    ]  # fmt: skip
    return table(["STATE", "COPIES", "CONTENT HASH", "NAME", "PATH"], rows)


def _state(item: dict[str, Any]) -> str:
    """The state, a hold the state hides ("leased (held)"), and when a hold ends by itself
    ("held until 2026-12-24T00:00:00Z")."""
    state: str = item["state"]
    until = item.get("held_until")
    hold = f"held until {until}" if until else "held"
    if not item["held_at"]:
        return state
    return hold if state == "held" else f"{state} ({hold})"


def history(page: dict[str, Any]) -> list[str]:
    rows = [
        [entry["posted_at"], str(entry["cycle"]), short(entry["content_hash"]),
         entry["image"]["name"] if entry["image"] else "(no longer in the folder)",
         _undone(entry)]
        for entry in page["items"]
    ]  # fmt: skip
    return table(["POSTED AT", "CYCLE", "CONTENT HASH", "NAME", "UNDONE"], rows)


def _undone(entry: dict[str, Any]) -> str:
    """When and by whom a post was undone ("" for a post that stands)."""
    if not entry.get("undone_at"):
        return ""
    return f"{entry['undone_at']} by {entry['undone_by']}"


def selection(offer: dict[str, Any]) -> list[str]:
    lease = offer.get("lease")
    shown = {
        "name": offer["name"],
        "path": offer["path"],
        "content_hash": offer["content_hash"],
        "size": f"{offer['size']:,} bytes",
        "lease": f"{lease['id']} until {lease['expires_at']}" if lease else "none (a preview)",
        "sidecars": [car["path"] for car in offer.get("sidecars", [])],
        "duplicates": offer.get("duplicates", []),
        "posted_at": offer.get("posted_at"),
        "temporary_link": offer.get("temporary_link"),
    }
    return pairs(shown)


def status(report: dict[str, Any]) -> list[str]:
    """A summary: a table of libraries and one of channels (or a channel's counts)."""
    libraries, channels = report.get("libraries"), report.get("channels")
    if not libraries and not channels:
        return pairs(report)
    lines: list[str] = []
    if libraries:
        lines += table(
            ["LIBRARY", "IMAGES", "UNIQUE", "SKIPPED", "PENDING", "READY", "LAST CATCH-UP"],
            [[name, str(each["images"]), str(each["unique_images"]), str(each["skipped"]),
              str(each["pending"]), _ready(each), each["last_sync_at"] or "never"]
             for name, each in libraries.items()],
        )  # fmt: skip
    if channels:
        lines += [""] if lines else []
        lines += table(
            ["CHANNEL", "LIBRARY", "AVAILABLE", "LEASED", "POSTED", "CYCLE"],
            [[name, each["library"], str(each["available"]), str(each["leased"]),
              str(each["posted"]), str(each["cycle"])] for name, each in channels.items()],
        )  # fmt: skip
    return lines


def _ready(library: dict[str, Any]) -> str:
    if library.get("listing"):
        return "listing"
    if library.get("syncing"):
        return "catching up"
    return "yes" if library.get("ready", library.get("cursor")) else "no"


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc


def write_json(document: object, path: Path | None, out: Output) -> None:
    """To ``path`` through a temporary file and a rename (never half written), or stdout."""
    text = json.dumps(document, indent=2) + "\n"
    if path is None:
        out.lines([text.rstrip("\n")])
        return
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from exc
    Output.notice(f"posted state written to {path}")
