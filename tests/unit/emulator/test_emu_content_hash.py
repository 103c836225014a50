"""content_hash vectors: Dropbox's published ones and the self-computed block-boundary set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from emulator import Emulator
from emulator.content import BytesSource, GeneratedSource
from emulator.hashing import BLOCK_SIZE, ContentHasher, content_hash

TESTDATA = Path("/work/shared/testdata")
RUBY_HASH = "78a5497e5094c82060997bd21c3a1233fb3e783c08c0b2ec9a3b32fcb5635e66"

MILKY_WAY_BLOCKS = [
    "2a846fa617c3361fc117e1c5c1e1838c336b6a5cef982c1a2d9bdf68f2f1992a",
    "c68469027410ea393eba6551b9fa1e26db775f00eae70a0c3c129a0011a39cf9",
    "7376192de020925ce6c5ef5a8a0405e931b0a9a8c75517aacd9ca24a8a56818b",
]
MILKY_WAY_HASH = "485291fa0ee50c016982abbfa943957bcd231aae0492ccbaa22c58e3997b35e0"

PATTERN_VECTORS = {
    4194303: "e1d05b9adf4293b7fec11b099ce74116fc06dfa733a9833be9166ab4c769da43",
    4194304: "b9654428408015906b44a00935b70af33830aa344b780b0eabd535a133150d04",
    4194305: "4a6cc0a344febaa07772e7c974834b2fb1d24594d4ba15f27c97a54699709f44",
    9711423: "c2548ae69e493dad26831aa86c34eaba870021782fadfe084c1116b3e421f79d",
}


def pattern(length: int) -> bytes:
    """``byte[i] = i % 251``."""
    cycle = bytes(range(251))
    return (cycle * (length // 251 + 1))[:length]


def test_ruby_png_matches_published_hash() -> None:
    data = (TESTDATA / "ruby.png").read_bytes()
    emu = Emulator()
    meta = emu.put_file("/ruby.png", data)
    assert meta.content_hash == RUBY_HASH
    assert emu.files()["/ruby.png"].content_hash == RUBY_HASH


def test_empty_file_hash_is_sha256_of_nothing() -> None:
    meta = Emulator().put_file("/empty", b"")
    assert meta.content_hash == hashlib.sha256(b"").hexdigest()
    assert meta.content_hash == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_abc() -> None:
    expected = "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358"
    assert BytesSource(b"abc").content_hash() == expected


def test_published_multi_block_vector_composes_as_our_hasher_does() -> None:
    """The Milky Way file is not here; its published block hashes are. The final hash is
    the SHA-256 of the concatenated raw block digests, which is what our hasher computes
    for three blocks of any bytes."""
    joined = b"".join(bytes.fromhex(block) for block in MILKY_WAY_BLOCKS)
    assert hashlib.sha256(joined).hexdigest() == MILKY_WAY_HASH
    blocks = [b"\x01" * BLOCK_SIZE, b"\x02" * BLOCK_SIZE, b"\x03" * 1322815]
    digests = b"".join(hashlib.sha256(block).digest() for block in blocks)
    assert content_hash(b"".join(blocks)) == hashlib.sha256(digests).hexdigest()


@pytest.mark.parametrize("length", sorted(PATTERN_VECTORS))
def test_pattern_vectors_across_the_block_boundary(length: int) -> None:
    meta = Emulator().put_file("/pattern.bin", pattern(length))
    assert meta.size == length
    assert meta.content_hash == PATTERN_VECTORS[length]


def test_single_block_hash_is_sha256_of_sha256() -> None:
    data = pattern(1000)
    inner = hashlib.sha256(data).digest()
    assert BytesSource(data).content_hash() == hashlib.sha256(inner).hexdigest()


def test_generated_content_is_deterministic_and_hashed_from_its_bytes() -> None:
    first, second = GeneratedSource(5 * 2**20, seed=7), GeneratedSource(5 * 2**20, seed=7)
    assert first.read() == second.read()
    assert len(first.read()) == 5 * 2**20
    assert first.content_hash() == content_hash(first.read())
    assert GeneratedSource(5 * 2**20, seed=8).content_hash() != first.content_hash()


@pytest.mark.parametrize("chunk", [1_000_003, BLOCK_SIZE, BLOCK_SIZE + 1])
def test_any_chunking_gives_the_same_hash(chunk: int) -> None:
    data = pattern(9711423)
    hasher = ContentHasher()
    for start in range(0, len(data), chunk):
        hasher.update(data[start : start + chunk])
    assert hasher.hexdigest() == content_hash(data) == PATTERN_VECTORS[9711423]
