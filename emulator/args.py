"""Argument validation for the emulated routes, with Dropbox's 400 messages.

Dropbox rejects malformed arguments with HTTP 400 and a plain-text body such as
``Error in call to API function "files/list_folder": request body: limit: ...``; the
SDK raises ``BadInputError``. Unknown fields are ignored, as the SDK sends many.
"""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.errors import BadInput, LookupFailure
from emulator.model import JsonDict

_LIST_PATH = re.compile(r"(/(.|[\r\n])*)?|id:.*", re.DOTALL)
_READ_PATH = re.compile(r"(/(.|[\r\n])*|id:.*)|(rev:[0-9a-f]{9,})", re.DOTALL)
_WRITE_PATH = re.compile(r"(/(.|[\r\n])*)|(id:.*)", re.DOTALL)


def parse_json(body: bytes) -> JsonDict:
    """The JSON object in a request body; ``null`` or nothing counts as ``{}``."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise BadInput(f"could not decode input as JSON: {exc}") from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput("request body: expected object, got " + type(value).__name__)
    return value


def string(arguments: JsonDict, name: str) -> str:
    value = arguments.get(name)
    if value is None:
        raise BadInput(f'request body: missing required field "{name}"')
    if not isinstance(value, str):
        raise BadInput(f"request body: {name}: expected string, got {_kind(value)}")
    return value


def flag(arguments: JsonDict, name: str, default: bool = False) -> bool:
    value = arguments.get(name, default)
    if not isinstance(value, bool):
        raise BadInput(f"request body: {name}: expected boolean, got {_kind(value)}")
    return value


def integer(arguments: JsonDict, name: str, low: int, high: int) -> int | None:
    value = arguments.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"request body: {name}: expected integer, got {_kind(value)}")
    if value < low:
        raise BadInput(f"request body: {name}: {value} is not greater than or equal to {low}")
    if value > high:
        raise BadInput(f"request body: {name}: {value} is not less than or equal to {high}")
    return value


def listing(arguments: JsonDict) -> tuple[str, bool, bool, int | None, bool]:
    """``(path, recursive, include_deleted, limit, include_non_downloadable_files)`` for
    list_folder-style routes; the last defaults to true, as in ``ListFolderArg``."""
    path = string(arguments, "path")
    if path == "/":
        raise BadInput(
            'request body: path: Specify the root folder as an empty string rather than as "/".'
        )
    if not _LIST_PATH.fullmatch(path):
        raise BadInput(f"request body: path: '{path}' did not match pattern")
    limit = integer(arguments, "limit", 1, 2000)
    non_downloadable = flag(arguments, "include_non_downloadable_files", default=True)
    return (
        path,
        flag(arguments, "recursive"),
        flag(arguments, "include_deleted"),
        limit,
        non_downloadable,
    )


def read_path(arguments: JsonDict) -> str:
    path = string(arguments, "path")
    if path == "":
        raise BadInput("request body: path: The root folder is unsupported.")
    if not _READ_PATH.fullmatch(path):
        raise BadInput(f"request body: path: '{path}' did not match pattern")
    if path.startswith("rev:"):
        raise BadInput("request body: path: rev: paths are not emulated")
    return path


def check_well_formed(path: str) -> None:
    """``malformed_path`` (a 409, nested by the caller) for a path ending in ``/`` or in
    whitespace: Dropbox's path formats say "Paths may not end with a slash or whitespace"."""
    if path and (path.endswith("/") or path[-1].isspace()):
        raise LookupFailure("malformed_path")


def check_write_path(name: str, path: str) -> None:
    if not _WRITE_PATH.fullmatch(path):
        raise BadInput(f"request body: {name}: '{path}' did not match pattern")


def longpoll_timeout(arguments: JsonDict) -> int:
    value = integer(arguments, "timeout", 30, 480)
    return 30 if value is None else value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
