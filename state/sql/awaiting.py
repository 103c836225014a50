"""When the wait for fingerprints may end in a channel, as both stores ask it.

A channel that skips near-duplicates compares a newly fingerprinted picture with the
fingerprints of what it posted. While content it posted (in its current cycle, the
posts the near-duplicate rule counts) still waits for its own fingerprint, that
comparison would miss it, so the channel's waits do not end on their own fingerprints:
they end once that posted content is fingerprinted (or refused for good, or gone), when
every fingerprinted picture still waiting is let go together, or when the grace period
runs out. Posted content waits when it has no fingerprint (nor refusal) and the library
either holds it (held content without one is on the backlog) or knows where a post
archived it (its backlog row's path); a post the library no longer holds and cannot
fetch waits for nothing. Read inside the recording transaction, never by a request.
"""

from __future__ import annotations

# Does the channel (``:c``, cycle ``:y``, library ``:l``) have posted content waiting
# for its fingerprint? From the channel's posts by its key: a fingerprinted post costs
# one probe; only an unfingerprinted one the library does not hold looks along the
# backlog for the path it was archived to.
POSTED_UNFINGERPRINTED = """
SELECT EXISTS (SELECT 1 FROM posted AS p
    WHERE p.channel_id = :c AND p.cycle = :y
    AND NOT EXISTS (SELECT 1 FROM fingerprints AS f
        WHERE f.library_id = :l AND f.content_hash = p.content_hash)
    AND (EXISTS (SELECT 1 FROM images AS i
            WHERE i.library_id = :l AND i.content_hash = p.content_hash)
        OR EXISTS (SELECT 1 FROM to_fingerprint AS t INDEXED BY to_fingerprint_by_library
            WHERE t.library_id = :l AND t.content_hash = p.content_hash
            AND t.path IS NOT NULL)))
"""

# The channel's pictures that have their fingerprint (or refusal) and still wait, from
# the index over waiting rows.
FINGERPRINTED_WAITING = """
SELECT q.content_hash FROM queue AS q INDEXED BY queue_awaiting
WHERE q.channel_id = :c AND q.awaiting_since IS NOT NULL
AND EXISTS (SELECT 1 FROM fingerprints AS f
    WHERE f.library_id = :l AND f.content_hash = q.content_hash)
"""
