"""The image as a publisher sees it, on either store: its file, its sidecars, its other
copies and (in a channel) its near-duplicates, with its lease and when it was posted.

What the image shows besides its file is read each backend's own way (``Shown``: SQLite
statement by statement along the indexes it names, PostgreSQL in one statement); the
rest is written here and in ``state.sql.files.selection``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from state.sql.files import selection
from state.sql.rows import FileRow
from state.store import FileRef, Lease, NearDuplicate, Selection

MAX_DUPLICATES = 100  # other copies of the image shown with it


class Shown(NamedTuple):
    """What an image shows besides its file."""

    sidecars: Iterable[FileRef]
    duplicates: Iterable[str]  # the other copies' paths
    near_duplicates: Iterable[NearDuplicate]  # nearest first; none without a channel


@dataclass(frozen=True, slots=True)
class Describer:
    """Describing images over one backend's reading of what they show."""

    # The connection, the image's file, and the channel it is shown in (if any).
    shown: Callable[[Any, FileRow, int | None], Shown]

    def describe(
        self,
        db: Any,
        file: FileRow,
        lease: Lease | None,
        posted_at: str | None,
        channel_id: int | None = None,
    ) -> Selection:
        """The image as a publisher sees it; with ``channel_id``, its near-duplicates there."""
        return described(file, self.shown(db, file, channel_id), lease, posted_at)


def described(file: FileRow, shown: Shown, lease: Lease | None, posted_at: str | None) -> Selection:
    """The image as a publisher sees it, from what it shows (read already)."""
    return selection(
        file, shown.sidecars, shown.duplicates, lease, posted_at, shown.near_duplicates
    )
