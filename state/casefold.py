"""Dropbox's ``path_lower``: the simple lowercase mapping of Unicode 4.1, one character each.

One function for everything that compares Dropbox paths: the service folds a path that
has no ``path_lower`` yet (a configured folder, a name asked for, a search) with it, and
the emulator makes its ``path_lower`` with it. Pure and standard library only, so the
emulator depends on nothing else of the service's.

Dropbox compares paths case-insensitively with the lower-casing of Python 2.5, its
language when it began, kept since for compatibility: each character is replaced by its
"simple lowercase mapping" in the Unicode 4.1 character database, with no context and no
one-to-many mappings (reported by the Maestral client, issue 410, and reproduced by the
dbxcase crate). Python 3's ``str.lower()`` differs from it in three ways, and each would
make the service (or the emulator) merge names that Dropbox keeps apart, or the reverse:

- a capital sigma at the end of a word lowers to final ``ς`` in Python 3, always to ``σ``
  in Dropbox (``ΣΑΣ`` is ``σασ``, so ``σας`` stays a different name);
- ``İ`` (U+0130) lowers to ``i`` plus a combining dot in Python 3, to a plain ``i`` in
  Dropbox (so ``İ.jpg`` and ``i.jpg`` are one name);
- letters whose case pairs came after Unicode 4.1 (Georgian Mtavruli, Cherokee, ``ẞ``,
  Cyrillic Extended-B ...) lower in Python 3 and stay as they are in Dropbox.

The table is derived at first use from the standard library: the Unicode 3.2 database it
keeps (``unicodedata.ucd_3_2_0``) says which characters existed then, the per-character
``lower()`` of those gives their simple mapping, and the pairs that Unicode 4.0 and 4.1
added are listed below. The result has the 893 mappings that Unicode 4.1 defines.
"""

from __future__ import annotations

import functools
import unicodedata

_UNICODE_3_2 = unicodedata.ucd_3_2_0
_LAST_CASED = 0x1044F  # Deseret, the last cased script of Unicode 4.1

# Case pairs that Unicode 4.0 and 4.1 added to those of 3.2, as 4.1 maps them.
_ADDED_IN_4 = {
    0x023B: 0x023C,  # Latin capital C with stroke
    0x023D: 0x019A,  # Latin capital L with bar
    0x0241: 0x0294,  # glottal stop (Unicode 5.0 later mapped it to U+0242)
    0x03F7: 0x03F8,  # Greek Sho
    0x03F9: 0x03F2,  # Greek capital lunate sigma
    0x03FA: 0x03FB,  # Greek San
    0x04F6: 0x04F7,  # Cyrillic Ghe with descender
    0x10426: 0x1044E,  # Deseret Oi
    0x10427: 0x1044F,  # Deseret Ew
}
_ADDED_IN_4.update({c: c + 0x1C60 for c in range(0x10A0, 0x10C6)})  # Georgian Asomtavruli
_ADDED_IN_4.update({c: c + 0x30 for c in range(0x2C00, 0x2C2F)})  # Glagolitic
_ADDED_IN_4.update({c: c + 1 for c in range(0x2C80, 0x2CE3, 2)})  # Coptic


def fold(text: str) -> str:
    """``text`` lowered as Dropbox lowers ``path_lower``."""
    if text.isascii():
        return text.lower()
    return text.translate(_table())


def prepare() -> None:
    """Derive the table now (about 25 ms), so that no later fold pays for it: the service
    prepares it at start, before it serves, rather than on the first non-ASCII name."""
    _table()


@functools.cache
def _table() -> dict[int, int]:
    table = dict(_ADDED_IN_4)
    for point in range(_LAST_CASED + 1):
        if point not in table and (lower := _simple_lower_3_2(chr(point))) is not None:
            table[point] = lower
    table[0x0130] = ord("i")  # its simple mapping; Python 3 applies the full one
    return table


def _simple_lower_3_2(char: str) -> int | None:
    """The simple lowercase of a character that had one in Unicode 3.2, else None."""
    lowered = char.lower()
    if len(lowered) != 1 or lowered == char:
        return None
    if _UNICODE_3_2.category(char) == "Cn" or _UNICODE_3_2.category(lowered) == "Cn":
        return None  # the character, or its lower case, came later
    return ord(lowered)


def mapping_count() -> int:
    """How many characters the table lowers: 893, as in Unicode 4.1."""
    return len(_table())
