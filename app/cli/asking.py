"""What a channel command asks for, and the content hash a person's reference names.

``Operations`` is that small interface; every answer is the HTTP API's reply as JSON,
so a command prints the same thing either way. ``app.cli.operations.LocalOperations``
runs the domain code on the state directory, as the service would;
``app.cli.remote.RemoteOperations`` asks a running service through ``unposted_client``
and never touches the state directory. ``content_hash`` turns a person's reference (a
unique prefix of at least 8 hexadecimal digits, a file name or a path) into a hash.

Nothing of the service is imported here: a command that goes over HTTP starts without it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

from app.cli.output import short
from app.errors import InvalidInput
from state.matching import MIN_PREFIX

if TYPE_CHECKING:
    from app.services.selection import SelectOptions
    from state.store import ImageQuery

Json = dict[str, Any]
_FULL_HASH = re.compile(r"[0-9a-fA-F]{64}")
_HEX = re.compile(r"[0-9a-fA-F]+")


class Operations(Protocol):
    def status(self) -> Json: ...
    def select(self, options: SelectOptions) -> Json: ...
    def posted(
        self, content_hash: str, lease_id: str | None, sha256: str | None, archive: bool
    ) -> Json: ...
    def unpost(self, content_hash: str) -> Json: ...
    def release(self, lease_id: str) -> Json: ...
    def renew(self, lease_id: str, lease_seconds: int | None) -> Json: ...
    def hold(self, content_hash: str, until: str | None = None) -> Json: ...
    def unhold(self, content_hash: str) -> Json: ...
    def images(self, query: ImageQuery) -> Json: ...
    def history(self, after: str | None, limit: int) -> Json: ...
    def find(self, reference: str) -> list[tuple[str, str]]: ...
    def resync(self, library: str | None, channel: str | None) -> list[str]: ...
    def export_posted(self) -> Json: ...
    def reset_posted(self) -> Json: ...
    def import_legacy(self, raw: bytes) -> Json: ...


def content_hash(operations: Operations, reference: str) -> str:
    """The content hash ``reference`` names; none or several is ``InvalidInput``, naming
    the candidates. 64 hexadecimal digits are a content hash as they are."""
    reference = reference.strip()
    if _FULL_HASH.fullmatch(reference):
        return reference.lower()
    found = operations.find(reference) if reference else []
    if len(found) == 1:
        return found[0][0]
    if found:
        named = ", ".join(f"{short(each)} {path}" for each, path in found)
        raise InvalidInput(f"{reference!r} names {len(found)} images: {named}; say which")
    if _HEX.fullmatch(reference) and len(reference) < MIN_PREFIX:
        raise InvalidInput(
            f"{reference!r} is too short: a content hash prefix needs at least"
            f" {MIN_PREFIX} hexadecimal digits"
        )
    raise InvalidInput(
        f"no image matches {reference!r} (a content hash prefix of {MIN_PREFIX} or more"
        " hexadecimal digits, a file name, or a path)"
    )
