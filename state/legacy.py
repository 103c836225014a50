"""The publisher's legacy ``posted.json``: strict parsing, and digests as content hashes.

Three forms are accepted, nothing else::

    ["<sha256>", ...]
    {"hashes": ["<sha256>", ...]}
    {"hashes": ["<sha256>", ...], "dropbox_content_hashes": ["<content_hash>", ...]}

Every entry is 64 hex characters (any case; kept lowercased); duplicates are tolerated
and collapsed. Anything else raises ``InvalidInput`` naming what is wrong, so a
malformed file is refused before any of it is imported.

A file of 1 byte to 4 MiB is one Dropbox block, so its ``content_hash`` follows from
its whole-file SHA-256 alone (``state.hashing``); an empty file's content hash is its
SHA-256. Only bigger files need their bytes. Pure: no I/O, no SQLite, no Dropbox.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from state.errors import InvalidInput
from state.hashing import content_hash_from_sha256
from state.store import LegacyMatch

EMPTY_FILE_SHA256 = hashlib.sha256(b"").hexdigest()
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_KEYS = ("hashes", "dropbox_content_hashes")


@dataclass(frozen=True, slots=True)
class LegacyState:
    """What a ``posted.json`` says was posted: whole-file SHA-256s and content hashes."""

    hashes: tuple[str, ...]
    dropbox_content_hashes: tuple[str, ...]


def parse_posted_json(raw: bytes | str) -> LegacyState:
    """Parse and validate a ``posted.json`` document, or raise ``InvalidInput``."""
    try:
        document = json.loads(raw, object_pairs_hook=_refuse_duplicate_keys)
    except RecursionError as exc:
        raise InvalidInput("posted.json is nested too deeply to be a posted state") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidInput(f"posted.json is not valid JSON: {exc}") from exc
    return parse_posted(document)


def parse_posted(document: Any) -> LegacyState:
    """Validate an already decoded ``posted.json`` in any of its three forms."""
    if isinstance(document, list):
        return LegacyState(_digests(document, "the list"), ())
    if not isinstance(document, dict):
        raise InvalidInput(
            "posted.json must be a list of SHA-256 digests or an object with"
            f' "hashes", not {_kind(document)}'
        )
    unknown = sorted(key for key in document if key not in _KEYS)
    if unknown:
        raise InvalidInput(
            f"posted.json has unknown field {unknown[0]!r};"
            ' expected "hashes" and optionally "dropbox_content_hashes"'
        )
    if "hashes" not in document:
        raise InvalidInput('posted.json object needs a "hashes" list')
    content_hashes = document.get("dropbox_content_hashes", [])
    return LegacyState(
        _digests(document["hashes"], "hashes"),
        _digests(content_hashes, "dropbox_content_hashes"),
    )


def content_hash_of_small_file(sha256: str) -> str:
    """The content hash of a file of at most 4 MiB whose whole-file SHA-256 is given."""
    if sha256 == EMPTY_FILE_SHA256:
        return sha256
    return content_hash_from_sha256(sha256)


def small_file_content_hashes(digests: Iterable[str]) -> dict[str, str]:
    """``content_hash -> sha256`` for each digest, read as the digest of a small file."""
    return {content_hash_of_small_file(digest): digest for digest in digests}


def _digests(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidInput(
            f"{where} must be a list of 64-hex-character digests, not {_kind(value)}"
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidInput(f"{where}[{index}] must be a string, not {_kind(item)}")
        if _HEX64.fullmatch(item) is None:
            raise InvalidInput(f"{where}[{index}] is not 64 hex characters: {_excerpt(item)}")
    return tuple(dict.fromkeys(item.lower() for item in value))


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) < len(pairs):
        counts = Counter(key for key, _ in pairs)
        repeated = next(key for key, count in counts.items() if count > 1)
        raise InvalidInput(f"posted.json repeats the field {repeated!r}")
    return document


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


# -- planning an import -------------------------------------------------------------
# Each digest is recorded under the content hash it implies for a small file: exact for
# such a file (so it stays hidden even if it comes back later), and a value no real file
# has otherwise. Digests matching no image in the catalog stay unresolved (kept and
# exported); images over 4 MiB, once their whole-file SHA-256 is known, can resolve them.
# The implied hashes are worked out once per import (``import_digests``) and read by
# every step: a SHA-256 each, a second of the service's CPU per million digests.


@dataclass(frozen=True, slots=True)
class ImportDigests:
    """An import's digests read as small files' once: ``implied`` maps the content hash
    each implies to it (digests earlier imports left unresolved included, tried again);
    ``given`` are the content hashes the file names itself."""

    implied: dict[str, str]
    given: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What one import records: posted entries, digests left unresolved, images matched."""

    matches: tuple[LegacyMatch, ...]
    unresolved: tuple[str, ...]
    matched: int


def import_digests(state: LegacyState, earlier_unresolved: Iterable[str] = ()) -> ImportDigests:
    """``state``'s digests, and ``earlier_unresolved`` (digests earlier imports could not
    match, tried again since the folder may have gained their images), as small files'."""
    digests = tuple(dict.fromkeys((*state.hashes, *sorted(earlier_unresolved))))
    return ImportDigests(small_file_content_hashes(digests), state.dropbox_content_hashes)


def lookup_hashes(digests: ImportDigests) -> set[str]:
    """The content hashes to look for in the catalog: given ones and implied ones."""
    return set(digests.implied) | set(digests.given)


def unmatched_digests(digests: ImportDigests, in_catalog: set[str]) -> set[str]:
    """Digests no image up to 4 MiB in the catalog matches: what downloads may resolve."""
    implied = digests.implied
    return {digest for content_hash, digest in implied.items() if content_hash not in in_catalog}


def plan_import(
    digests: ImportDigests, in_catalog: set[str], large_matches: Mapping[str, str]
) -> ImportPlan:
    """Decide what an import records.

    ``in_catalog``: which of ``lookup_hashes`` the catalog holds; ``large_matches``:
    ``sha256 -> content_hash`` of images over 4 MiB whose whole-file digest is known.
    """
    implied = digests.implied
    matches = [LegacyMatch(content_hash, digest) for content_hash, digest in implied.items()]
    matches += [LegacyMatch(content_hash, None) for content_hash in digests.given]
    matched = {match.content_hash for match in matches if match.content_hash in in_catalog}
    unresolved = []
    for content_hash, digest in implied.items():
        if content_hash in in_catalog:
            continue
        if digest in large_matches:
            matches.append(LegacyMatch(large_matches[digest], digest))
            matched.add(large_matches[digest])
        else:
            unresolved.append(digest)
    return ImportPlan(tuple(matches), tuple(unresolved), len(matched))
