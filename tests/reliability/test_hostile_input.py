"""Hostile input: each gets the contract's refusal (4xx JSON) and changes nothing.

- Bodies of every wrong type and size for each JSON endpoint: null, booleans, numbers,
  strings, lists, nested junk, 2 MiB strings, deep nesting, invalid UTF-8, lone
  surrogates, wrong or missing Content-Type, an empty body, trailing garbage.
- Path tricks in ``name``: ``../``, absolute paths, ``%2e%2e``, NUL, backslashes,
  very long names, Unicode case folding. Only the folder's own files, matched
  case-insensitively as Dropbox does, are ever found.
- A posted-state import that is malformed, hostile (duplicate keys, numbers as digests,
  10^6 levels of nesting) or huge (200,000 digests: imported, or refused cleanly).
- Webhooks the receiver's own tests (tests/integration/test_webhooks.py) leave out:
  a signature lifted onto another body, signed bodies that are deeply nested, not
  UTF-8 or of the wrong shapes, and signature headers of odd forms.

"Changes nothing" is checked by comparing ``GET /posted/export``, ``GET /status`` and a
dry-run ``/select`` of every image by name before and after.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import httpx
import pytest

from emulator import Emulator, signature
from state.casefold import fold
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService
from tests.reliability.ledger import Ledger
from tests.waiting import wait_until

MiB = 1024 * 1024
NAMES = [f"img_{n:06d}.jpg" for n in range(6)]
REFUSALS = {400, 413, 415, 422}
JSON = "application/json"
ASKING_EVERY = 0.05  # seconds between a publisher's dry runs during the huge import


def digest(n: int) -> str:
    return hashlib.sha256(f"hostile {n}".encode()).hexdigest()


@pytest.fixture
def hostile(emulator: Emulator, start_service: StartService) -> Service:
    emulator.bulk_generate("/Photos", len(NAMES))
    emulator.put_file("/Photos/sub/deep.jpg", b"in a subfolder")
    emulator.put_file("/Elsewhere/img_000000.jpg", b"outside the folder")
    emulator.put_file("/Photos-sibling/outside.jpg", b"a sibling folder")
    service = start_service()
    # Ready comes with the first listing; the catch-up then still checks pending images.
    # A snapshot taken before it ends would differ from the next in its progress alone.
    wait_until(lambda: service.worker.idle, 15)
    return service


def snapshot(service: Service) -> tuple[Any, ...]:
    """What must not change: posted state, counts, and each image's selectability."""
    status = service.client.get("/status").json()
    for volatile in ("last_sync_at", "syncing", "last_error"):
        status.pop(volatile, None)
    previews = []
    for name in NAMES:
        reply = service.client.post("/select", json={"dry_run": True, "name": name})
        previews.append((name, reply.status_code, reply.json().get("posted_at")))
    return service.client.get("/posted/export").json(), status, previews


def refused(reply: httpx.Response) -> bool:
    """A contract refusal: a 4xx from the list, with a JSON error body."""
    try:
        body = reply.json()
    except ValueError:
        return False
    return (
        reply.status_code in REFUSALS
        and isinstance(body, dict)
        and set(body) == {"error", "message"}
        and reply.headers["content-type"].startswith(JSON)
    )


# -- bodies of every wrong type and size ------------------------------------------------
def wrong_bodies() -> Iterator[tuple[str, bytes, str | None]]:
    """(label, raw body, Content-Type) that no JSON endpoint accepts."""
    values: dict[str, Any] = {
        "null": None,
        "true": True,
        "zero": 0,
        "negative": -1,
        "float": 1.5,
        "huge integer": 10**40,
        "string": "select",
        "empty list": [],
        "list of null": [None],
        "list of objects": [{"a": 1}],
        "nested junk": {"a": {"b": [1, {"c": None}], "d": "e"}, "f": [[[]]]},
        "2 MiB string": "x" * (2 * MiB),
    }
    for label, value in values.items():
        yield label, json.dumps(value).encode(), JSON
    yield "deep list nesting", b"[" * 100_000 + b"]" * 100_000, JSON
    yield "deep object nesting", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, JSON
    yield "invalid UTF-8", b'{"name": "\xff\xfe\xfd"}', JSON
    yield "not JSON", b"{not json", JSON
    yield "trailing garbage", b'{"dry_run": true} x', JSON
    yield "NaN", b'{"lease_seconds": NaN}', JSON
    yield "text/plain", b'{"dry_run": true}', "text/plain"
    yield "form encoded", b"dry_run=true", "application/x-www-form-urlencoded"
    yield "multipart", b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"
    yield "no Content-Type", b'{"dry_run": true}', None


# Field-level junk, per endpoint: wrong types, 2 MiB strings, lone surrogates.
FIELDS: dict[str, list[Any]] = {
    "/select": [
        {"dry_run": "true"},
        {"dry_run": None, "link": 1},
        {"name": "x" * (2 * MiB)},
        {"name": ["img_000000.jpg"]},
        {"name": "\ud800"},
        {"lease_seconds": 0},
        {"lease_seconds": -5},
        {"lease_seconds": 10**30},
        {"lease_seconds": "60"},
        {"surprise": True},
    ],
    "/posted": [
        {},
        {"content_hash": None},
        {"content_hash": "x" * (2 * MiB)},
        {"content_hash": "ab" * 31},
        {"content_hash": "zz" * 32},
        {"content_hash": int("ab" * 32, 16)},
        {"content_hash": "ab" * 32, "lease_id": ""},
        {"content_hash": "ab" * 32, "lease_id": "l" * (2 * MiB)},
        {"content_hash": "ab" * 32, "sha256": "nope"},
        {"content_hash": "ab" * 32, "archive": "yes"},
        {"content_hash": "ab" * 32, "archive": True},  # no ARCHIVE_FOLDER: refused, unrecorded
        {"content_hash": "\ud800" * 64},
    ],
    "/release": [
        {},
        {"lease_id": None},
        {"lease_id": ""},
        {"lease_id": 12345},
        {"lease_id": "l" * (2 * MiB)},
        {"lease_id": "\ud800"},
    ],
    "/admin/reset-posted": [
        {},
        {"confirm": "reset"},
        {"confirm": "RESET "},
        {"confirm": True},
        {"confirm": "RESET", "also": 1},
        {"confirm": "R" * (2 * MiB)},
    ],
    "/posted/import": [],  # its own section below
}


@pytest.mark.parametrize("path", sorted(FIELDS))
def test_wrong_bodies_are_refused_and_change_nothing(
    hostile: Service, ledger: Ledger, path: str
) -> None:
    entry = ledger.entry("hostile bodies for every JSON endpoint")
    before = snapshot(hostile)
    # The SPEC accepts these two: null is /select's defaults, [] an empty posted.json.
    accepted = {"/select": "null", "/posted/import": "empty list"}.get(path)
    cases = [case for case in wrong_bodies() if case[0] != accepted]
    cases += [
        (f"field {n}", json.dumps(body).encode(), JSON) for n, body in enumerate(FIELDS[path])
    ]
    if path != "/select":  # an empty body is the defaults for /select (SPEC), nothing for others
        cases.append(("empty", b"", JSON))
    wrong = []
    for label, body, content_type in cases:
        headers = {"Content-Type": content_type} if content_type else {}
        reply = hostile.client.post(path, content=body, headers=headers)
        if not refused(reply):
            wrong.append(f"{label}: {reply.status_code} {reply.text[:200]}")
    after = snapshot(hostile)
    entry.trials += 1
    entry.inputs += len(cases)
    entry.wrong += len(wrong) + (after != before)
    assert wrong == []
    assert after == before


# -- path tricks in name ----------------------------------------------------------------
TRICKS = [
    "../img_000000.jpg",
    "../../etc/passwd",
    "/etc/passwd",
    "/Elsewhere/img_000000.jpg",
    "../Elsewhere/img_000000.jpg",
    "../Photos-sibling/outside.jpg",
    "outside.jpg",
    "sub/../img_000000.jpg",
    "./img_000000.jpg",
    "%2e%2e/img_000000.jpg",
    "%2e%2e%2fimg_000000.jpg",
    "img_000000.jpg%00",
    "img_000000.jpg\x00",
    "img_000000.jpg\x00.png",
    "..\\img_000000.jpg",
    "sub\\deep.jpg",
    "C:\\Photos\\img_000000.jpg",
    "img_000000.jpg/.",
    "img_000000",
    "img_00000*.jpg",
    "img_00000%.jpg",
    "img_00000_.jpg",
    "' OR '1'='1",
    "x" * 1024,
    "../" * 340,
    "ımg_000000.jpg",  # dotless i
    "ｉｍｇ＿０００００Ｏ.jpg",  # fullwidth
    "img_000000.jpg\u200b",  # zero-width space
    "img_000000.jpg\u202e",  # right-to-left override
    "img_000000.jp\u0261",  # script g
    "deep.jpg",  # in a subfolder of a non-recursive folder: not in the catalog
]
FOUND = [
    "img_000000.jpg",
    "IMG_000000.JPG",
    "Img_000001.Jpg",
    " img_000002.jpg ",
    "/img_000003.jpg",
    "img_000004.jpg/",
    "İMG_000000.JPG",  # dotted capital I: Dropbox folds it to a plain i (state.casefold)
]


def test_path_tricks_in_name_find_nothing_and_change_nothing(
    hostile: Service, ledger: Ledger
) -> None:
    entry = ledger.entry("path tricks in `name`")
    before = snapshot(hostile)
    wrong = []
    for name in TRICKS:
        reply = hostile.client.post("/select", json={"name": name})
        if (reply.status_code, reply.json().get("error")) != (404, "not_found"):
            wrong.append(f"{name!r}: {reply.status_code} {reply.text[:200]}")
    for name in ["x" * 1025, "a/" * 600]:
        reply = hostile.client.post("/select", json={"name": name})
        if not refused(reply):
            wrong.append(f"{name[:20]!r}...: {reply.status_code}")
    assert snapshot(hostile) == before
    for name in FOUND:  # what a publisher may type for a file that is there
        reply = hostile.client.post("/select", json={"name": name, "dry_run": True})
        if (
            reply.status_code != 200
            or fold(reply.json()["path"]) != f"/photos/{fold(name.strip(' /'))}"
        ):
            wrong.append(f"{name!r} should be found: {reply.status_code} {reply.text[:200]}")
    entry.trials += 1
    entry.inputs += len(TRICKS) + 2 + len(FOUND)
    entry.wrong += len(wrong) + (snapshot(hostile) != before)
    assert wrong == []
    assert snapshot(hostile) == before


# -- the posted-state import ------------------------------------------------------------
def malformed_imports() -> Iterator[tuple[str, bytes]]:
    good = [digest(n) for n in range(3)]
    documents: dict[str, Any] = {
        "null": None,
        "a string": "hashes",
        "a number": 42,
        "an object without hashes": {"dropbox_content_hashes": good},
        "hashes null": {"hashes": None},
        "hashes a string": {"hashes": good[0]},
        "hashes an object": {"hashes": {"a": good[0]}},
        "numbers as digests": [1, 2, 3],
        "a digest as a number": [int(good[0], 16)],
        "a float": [1e64],
        "booleans": [True],
        "null entries": [good[0], None],
        "nested lists": [[good[0]]],
        "objects as digests": [{"sha256": good[0]}],
        "63 hex": [good[0][:-1]],
        "65 hex": [good[0] + "a"],
        "non-hex": ["g" * 64],
        "padded": [f" {good[0]} "],
        "0x prefix": ["0x" + good[0][2:]],
        "unknown field": {"hashes": good, "extra": []},
        "content hashes a string": {"hashes": good, "dropbox_content_hashes": "x"},
        "one bad among good": good + ["not a digest"],
        "a lone surrogate": ["\ud800" * 64],
        "2 MiB string": ["a" * (2 * MiB)],
    }
    for label, document in documents.items():
        yield label, json.dumps(document).encode()
    hashes = json.dumps(good)
    yield "duplicate keys", f'{{"hashes": [], "hashes": {hashes}}}'.encode()
    twice = f'"dropbox_content_hashes": [], "dropbox_content_hashes": {hashes}'
    yield "duplicate inner keys", f'{{"hashes": {hashes}, {twice}}}'.encode()
    yield "10^6 nesting", b"[" * 10**6 + b"]" * 10**6
    yield "10^6 object nesting", b'{"hashes":' * 10**6 + b"[]" + b"}" * 10**6
    yield "truncated", hashes[:-3].encode()
    yield "empty", b""
    yield "whitespace", b"  \n "
    yield "invalid UTF-8", b'["\xff\xfe"]'
    yield "NaN", b"[NaN]"
    yield "trailing garbage", hashes.encode() + b" []"
    yield "two documents", hashes.encode() + hashes.encode()
    many = [digest(n) for n in range(200_000)]
    yield "200k good then one bad", json.dumps([*many, "bad"]).encode()


def test_malformed_or_hostile_imports_import_nothing(hostile: Service, ledger: Ledger) -> None:
    entry = ledger.entry("posted-state import: malformed, hostile, huge")
    before = snapshot(hostile)
    wrong = []
    for label, body in malformed_imports():
        reply = hostile.client.post("/posted/import", content=body)
        entry.inputs += 1
        if not refused(reply) or reply.status_code != 422:
            wrong.append(f"{label}: {reply.status_code} {reply.text[:200]}")
    after = snapshot(hostile)
    entry.trials += 1
    entry.wrong += len(wrong) + (after != before)
    assert wrong == []
    assert after == before


def test_a_huge_import_of_200k_digests_works(
    hostile: Service, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("posted-state import: malformed, hostile, huge")
    many = sorted(digest(n) for n in range(200_000))
    waits: list[float] = []
    with ThreadPoolExecutor(1) as pool:
        importing = pool.submit(
            hostile.client.post, "/posted/import", json={"hashes": many}, timeout=180
        )
        started = time.monotonic()
        while not importing.done():  # how long a publisher waits meanwhile
            asked = time.monotonic()
            hostile.client.post("/select", json={"dry_run": True}, timeout=180)
            waits.append(time.monotonic() - asked)
            # A publisher asking now and then, not in a loop that would take the import's CPU.
            wait([importing], timeout=ASKING_EVERY)
        reply, took = importing.result(), time.monotonic() - started
    assert reply.status_code == 200, reply.text
    assert reply.json()["imported"] == 200_000
    exported = hostile.client.get("/posted/export", timeout=60).json()
    assert sorted(exported["hashes"]) == many
    # Digests of no image in the folder: nothing became unavailable.
    assert hostile.client.get("/status").json()["available"] == len(NAMES)
    entry.trials += 1
    entry.inputs += 1
    if long_mode:
        again = hostile.client.post("/posted/import", json=many, timeout=180)
        assert again.status_code == 200 and again.json()["imported"] == 200_000
        assert len(hostile.client.get("/posted/export", timeout=60).json()["hashes"]) == 200_000
        entry.inputs += 1
    entry.notes.append(
        f"200,000 digests (13 MB) imported in {took:.1f} s; a dry-run /select meanwhile "
        f"waited up to {max(waits, default=0):.1f} s (the import holds the store)"
        + ("; imported again, idempotently" if long_mode else "")
    )


# -- webhooks: what the receiver's own tests leave out ----------------------------------
def hostile_webhooks(emulator: Emulator) -> Iterator[tuple[str, bytes, dict[str, Any], int]]:
    secret = emulator.app_secret
    good = json.dumps({"list_folder": {"accounts": [emulator.account_id]}}).encode()

    def signed(body: bytes) -> dict[str, Any]:
        return {"X-Dropbox-Signature": signature(secret, body), "Content-Type": JSON}

    other = good.replace(b"accounts", b"accountz")
    yield "a signature lifted onto another body", other, signed(good), 403
    yield "a signature of the body plus a byte", good, signed(good + b" "), 403
    yield "a truncated signature", good, {"X-Dropbox-Signature": signature(secret, good)[:-1]}, 403
    yield "a signature twice", good, {"X-Dropbox-Signature": signature(secret, good) * 2}, 403
    yield "a non-hex signature", good, {"X-Dropbox-Signature": "z" * 64}, 403
    yield "a non-ASCII signature", good, {"X-Dropbox-Signature": b"\xff" * 64}, 403
    yield (
        "sha1 instead of sha256",
        good,
        {"X-Dropbox-Signature": hashlib.sha1(good).hexdigest()},
        403,
    )
    bodies: dict[str, bytes] = {
        "deep nesting": b"[" * 400_000 + b"]" * 400_000,
        "deep object nesting": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "invalid UTF-8": b'{"list_folder": {"accounts": ["\xff"]}}',
        "accounts of numbers": b'{"list_folder": {"accounts": [1, 2]}}',
        "accounts an object": b'{"list_folder": {"accounts": {"a": 1}}}',
        "users of booleans": b'{"delta": {"users": [true]}}',
        "users of floats": b'{"delta": {"users": [1.5, 1e999]}}',
        "list_folder a list": b'{"list_folder": []}',
        "a list": b"[]",
        "null": b"null",
        "NaN": b"NaN",
    }
    for label, body in bodies.items():
        yield f"signed {label}", body, signed(body), 400
    # Well-formed but about no account of ours: acknowledged, ignored.
    many = json.dumps({"list_folder": {"accounts": ["dbid:x" * 5] * 30_000}}).encode()
    yield "signed, 30,000 other accounts", many, signed(many), 200
    surrogate = b'{"list_folder": {"accounts": ["\\ud800"]}}'
    yield "signed, a lone surrogate for an account", surrogate, signed(surrogate), 200


def test_hostile_webhooks_are_refused_and_change_nothing(
    emulator: Emulator, hostile: Service, ledger: Ledger
) -> None:
    entry = ledger.entry("hostile webhooks (beyond tests/integration/test_webhooks.py)")
    before = snapshot(hostile)
    wrong = []
    with httpx.Client(base_url=hostile.base_url, timeout=30, verify=TLS) as dropbox_side:
        for label, body, headers, status in hostile_webhooks(emulator):
            reply = dropbox_side.post("/webhook", content=body, headers=headers)
            entry.inputs += 1
            ok = reply.status_code == status and (status == 200 or refused_or_forbidden(reply))
            if not ok:
                wrong.append(f"{label}: {reply.status_code} {reply.text[:200]}")
    wait_until(lambda: hostile.worker.idle, 15)
    after = snapshot(hostile)
    entry.trials += 1
    entry.wrong += len(wrong) + (after != before)
    assert wrong == []
    assert after == before


def refused_or_forbidden(reply: httpx.Response) -> bool:
    return reply.status_code == 403 and set(reply.json()) == {"error", "message"} or refused(reply)
