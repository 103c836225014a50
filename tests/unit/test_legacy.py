"""The legacy ``posted.json``: its three forms, strict refusals, and digests as content hashes."""

from __future__ import annotations

import hashlib
import json

import pytest

from state.errors import InvalidInput
from state.hashing import content_hash
from state.legacy import (
    LegacyState,
    content_hash_of_small_file,
    import_digests,
    lookup_hashes,
    parse_posted_json,
    plan_import,
    small_file_content_hashes,
    unmatched_digests,
)
from state.store import LegacyMatch

A = hashlib.sha256(b"a").hexdigest()
B = hashlib.sha256(b"b").hexdigest()
C = content_hash(b"c")


def test_a_bare_list_is_sha256_digests() -> None:
    assert parse_posted_json(json.dumps([A, B])) == LegacyState((A, B), ())


def test_an_object_with_hashes_only() -> None:
    assert parse_posted_json(json.dumps({"hashes": [A]})) == LegacyState((A,), ())


def test_an_object_with_both_kinds_of_hash() -> None:
    document = {"hashes": [A], "dropbox_content_hashes": [C]}
    assert parse_posted_json(json.dumps(document).encode()) == LegacyState((A,), (C,))


def test_digests_are_lowercased_and_duplicates_collapse_in_order() -> None:
    assert parse_posted_json(json.dumps([B, A.upper(), B, A])).hashes == (B, A)


def test_empty_forms_are_valid() -> None:
    assert parse_posted_json("[]") == LegacyState((), ())
    assert parse_posted_json('{"hashes": []}') == LegacyState((), ())


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ('["abc"]', "the list[0] is not 64 hex characters: 'abc'"),
        (json.dumps([A, "g" * 64]), "the list[1] is not 64 hex characters"),
        (json.dumps([A + "0"]), "not 64 hex characters"),
        (json.dumps([1]), "the list[0] must be a string, not a number"),
        (json.dumps([None]), "must be a string, not null"),
        (json.dumps({"hashes": A}), "hashes must be a list"),
        (json.dumps({"hashes": [A], "dropbox_content_hashes": {"x": 1}}), "dropbox_content"),
        (json.dumps({"hashes": [True]}), "hashes[0] must be a string, not a boolean"),
        (json.dumps({"dropbox_content_hashes": [C]}), 'needs a "hashes" list'),
        (json.dumps({"hashes": [], "posted": []}), "unknown field 'posted'"),
        ('{"hashes": [], "hashes": []}', "repeats the field 'hashes'"),
        ('"just a string"', "not a string"),
        ("42", "not a number"),
        ("null", "not null"),
        (f'["{A}"', "not valid JSON"),
        ("", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (f'["{A}", NaN]', "must be a string"),
    ],
)
def test_anything_else_is_refused_saying_what_is_wrong(
    document: str | bytes, complaint: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_posted_json(document)
    assert complaint in str(caught.value)


def test_a_long_bad_entry_is_quoted_short() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_posted_json(json.dumps(["x" * 10_000]))
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("size", [1, 1000, 4 * 1024 * 1024])
def test_a_small_files_digest_gives_its_content_hash(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    assert content_hash_of_small_file(hashlib.sha256(data).hexdigest()) == content_hash(data)


def test_the_empty_files_digest_is_its_content_hash() -> None:
    assert content_hash_of_small_file(hashlib.sha256(b"").hexdigest()) == content_hash(b"")


def test_a_file_over_4_mib_cannot_be_derived() -> None:
    data = b"q" * (4 * 1024 * 1024 + 1)
    assert content_hash_of_small_file(hashlib.sha256(data).hexdigest()) != content_hash(data)


def test_small_file_content_hashes_map_back_to_their_digests() -> None:
    assert small_file_content_hashes([A, B]) == {content_hash(b"a"): A, content_hash(b"b"): B}


# -- planning an import -------------------------------------------------------------


def test_digests_of_catalog_images_match_without_their_bytes() -> None:
    digests = import_digests(LegacyState((A, B), (C,)))
    in_catalog = {content_hash(b"a"), C}
    assert lookup_hashes(digests) == {content_hash(b"a"), content_hash(b"b"), C}
    assert unmatched_digests(digests, in_catalog) == {B}
    plan = plan_import(digests, in_catalog, large_matches={})
    assert plan.matched == 2 and plan.unresolved == (B,)
    # Every digest is recorded under the content hash it implies for a small file.
    assert set(plan.matches) == {
        LegacyMatch(content_hash(b"a"), A),
        LegacyMatch(content_hash(b"b"), B),
        LegacyMatch(C, None),
    }


def test_a_known_large_image_resolves_its_digest() -> None:
    big = "f" * 64
    digests = import_digests(LegacyState((A,), ()))
    plan = plan_import(digests, in_catalog=set(), large_matches={A: big})
    assert plan.unresolved == () and plan.matched == 1
    assert LegacyMatch(big, A) in plan.matches


def test_earlier_unresolved_digests_are_tried_again() -> None:
    digests = import_digests(LegacyState((), ()), earlier_unresolved={B})
    assert lookup_hashes(digests) == {content_hash(b"b")}
    assert unmatched_digests(digests, set()) == {B}
    plan = plan_import(digests, {content_hash(b"b")}, {})
    assert plan.matched == 1 and plan.unresolved == ()
