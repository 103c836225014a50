"""The SQLite schema, its version, and the migrations that upgrade an older file in place.

``PRAGMA user_version`` holds the schema version. Each migration moves the database
from version N-1 to N inside the transaction that opens it, so a crash mid-upgrade
leaves the old version intact. A file written by a newer unposted is refused, never
downgraded; a file that is not a sound database is refused, never replaced.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from state.errors import SchemaTooNew, StoreCorrupt, StoreError
from state.sql.folders import in_sqlite as folder_sql
from state.sqlite import returns

log = logging.getLogger(__name__)

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- Every image and sidecar in the folder, keyed as Dropbox keys paths.
CREATE TABLE files (
    path_lower      TEXT PRIMARY KEY,
    path_display    TEXT NOT NULL,
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    id              TEXT NOT NULL,
    rev             TEXT NOT NULL,
    size            INTEGER NOT NULL,
    server_modified TEXT NOT NULL,
    client_modified TEXT NOT NULL,
    content_hash    TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('image', 'sidecar')),
    stem            TEXT NOT NULL,
    generation      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX files_by_content_hash ON files (content_hash, path_lower)
    WHERE kind = 'image' AND content_hash IS NOT NULL;
CREATE INDEX files_by_stem ON files (stem) WHERE kind = 'sidecar';
CREATE INDEX files_by_name ON files (name_lower) WHERE kind = 'image';

-- One row per distinct content. ``slot`` numbers the available images 0..n-1 with no
-- gaps, so a uniform random pick is one indexed lookup; it is NULL while leased or posted.
CREATE TABLE images (
    content_hash     TEXT PRIMARY KEY,
    path_lower       TEXT NOT NULL,
    name_lower       TEXT NOT NULL,
    server_modified  TEXT NOT NULL,
    size             INTEGER NOT NULL,
    slot             INTEGER UNIQUE,
    lease_id         TEXT UNIQUE,
    lease_expires_at REAL
) WITHOUT ROWID;
CREATE INDEX images_available_by_modified ON images (server_modified, content_hash)
    WHERE slot IS NOT NULL;
CREATE INDEX images_available_by_name ON images (name_lower, content_hash)
    WHERE slot IS NOT NULL;
CREATE INDEX images_by_lease_expiry ON images (lease_expires_at) WHERE lease_id IS NOT NULL;

-- What went out, whether or not the folder still holds it.
CREATE TABLE posted (
    content_hash TEXT PRIMARY KEY,
    sha256       TEXT,
    posted_at    TEXT NOT NULL,
    source       TEXT NOT NULL
) WITHOUT ROWID;
"""

_V2 = """
-- Legacy SHA-256 digests that matched no image yet (files over 4 MiB need a download).
CREATE TABLE legacy_unresolved (sha256 TEXT PRIMARY KEY) WITHOUT ROWID;
-- Whole-file SHA-256 of images over 4 MiB, so that none is downloaded twice.
CREATE TABLE sha256_by_content_hash (
    content_hash TEXT PRIMARY KEY,
    sha256       TEXT NOT NULL
) WITHOUT ROWID;
"""

_V3 = """
-- Libraries and channels. A library is one folder of one account with its own cursor;
-- a channel draws from one library with its own posted history, leases and holds.
CREATE TABLE libraries (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    folder_lower TEXT NOT NULL DEFAULT '',
    source       TEXT,
    account_id   TEXT,
    cursor       TEXT,
    listing      INTEGER NOT NULL DEFAULT 0,
    generation   INTEGER NOT NULL DEFAULT 0,
    ready_at     TEXT,
    last_sync_at TEXT
);
CREATE TABLE channels (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    library_id INTEGER NOT NULL REFERENCES libraries (id),
    policy     TEXT NOT NULL DEFAULT 'random'
               CHECK (policy IN ('random', 'oldest', 'newest', 'name')),
    exhausted  TEXT NOT NULL DEFAULT 'stop' CHECK (exhausted IN ('stop', 'new_cycle')),
    cycle      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX channels_by_library ON channels (library_id);
INSERT INTO libraries (id, name, account_id, cursor, listing, generation, ready_at, last_sync_at)
SELECT 1, 'default',
    (SELECT value FROM meta WHERE key = 'account_id'),
    (SELECT value FROM meta WHERE key = 'cursor'),
    coalesce((SELECT value FROM meta WHERE key = 'listing'), 0),
    coalesce((SELECT value FROM meta WHERE key = 'generation'), 0),
    (SELECT value FROM meta WHERE key = 'ready_at'),
    (SELECT value FROM meta WHERE key = 'last_sync_at')
WHERE EXISTS (SELECT 1 FROM meta WHERE key IN ('cursor', 'ready_at', 'listing'))
   OR EXISTS (SELECT 1 FROM posted) OR EXISTS (SELECT 1 FROM files);
INSERT INTO channels (id, name, library_id) SELECT 1, 'default', 1 FROM libraries WHERE id = 1;
DELETE FROM meta WHERE key IN
    ('account_id', 'cursor', 'listing', 'generation', 'ready_at', 'last_sync_at');

CREATE TABLE files3 (
    library_id      INTEGER NOT NULL,
    path_lower      TEXT NOT NULL,
    path_display    TEXT NOT NULL,
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    id              TEXT NOT NULL,
    rev             TEXT NOT NULL,
    size            INTEGER NOT NULL,
    server_modified TEXT NOT NULL,
    client_modified TEXT NOT NULL,
    content_hash    TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('image', 'sidecar', 'skipped')),
    stem            TEXT NOT NULL,
    generation      INTEGER NOT NULL,
    PRIMARY KEY (library_id, path_lower)
) WITHOUT ROWID;
INSERT INTO files3 SELECT 1, path_lower, path_display, name, name_lower, id, rev,
    CASE WHEN kind = 'image' AND size = 0 THEN 0 ELSE size END, server_modified,
    client_modified, content_hash,
    CASE WHEN kind = 'image' AND size = 0 THEN 'skipped' ELSE kind END, stem, generation
FROM files;
DROP TABLE files;
ALTER TABLE files3 RENAME TO files;
CREATE INDEX files_by_content_hash ON files (library_id, content_hash, path_lower)
    WHERE kind = 'image' AND content_hash IS NOT NULL;
CREATE INDEX files_by_stem ON files (library_id, stem) WHERE kind = 'sidecar';
CREATE INDEX files_by_name ON files (library_id, name_lower) WHERE kind = 'image';

-- One row per distinct content in a library; ``pending`` while its digest must be
-- checked against legacy posted state before it may be offered.
CREATE TABLE images3 (
    library_id      INTEGER NOT NULL,
    content_hash    TEXT NOT NULL,
    path_lower      TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    server_modified TEXT NOT NULL,
    size            INTEGER NOT NULL,
    pending         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (library_id, content_hash)
) WITHOUT ROWID;

-- Leases belong to a channel and a content, never to a path: they outlive the files.
CREATE TABLE leases (
    id           TEXT PRIMARY KEY,
    channel_id   INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    expires_at   REAL NOT NULL,
    ended        TEXT CHECK (ended IN ('released', 'posted', 'expired')),
    ended_at     REAL
) WITHOUT ROWID;
CREATE UNIQUE INDEX leases_running ON leases (channel_id, content_hash) WHERE ended IS NULL;
CREATE INDEX leases_by_expiry ON leases (expires_at) WHERE ended IS NULL;
CREATE INDEX leases_ended ON leases (ended_at) WHERE ended IS NOT NULL;
INSERT INTO leases (id, channel_id, content_hash, expires_at)
SELECT lease_id, 1, content_hash, lease_expires_at FROM images WHERE lease_id IS NOT NULL;

INSERT INTO images3 (library_id, content_hash, path_lower, name_lower, server_modified, size)
SELECT 1, i.content_hash, i.path_lower, i.name_lower, i.server_modified, i.size FROM images AS i
WHERE EXISTS (SELECT 1 FROM files AS f WHERE f.library_id = 1 AND f.kind = 'image'
              AND f.content_hash = i.content_hash);

-- Each channel's view of its library's images: ``slot`` numbers the available ones
-- 0..n-1 with no gaps (a uniform random pick is one lookup), NULL otherwise; the sort
-- keys are copied from ``images`` so the other policies read one partial index.
CREATE TABLE queue (
    channel_id      INTEGER NOT NULL,
    content_hash    TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    server_modified TEXT NOT NULL,
    slot            INTEGER,
    PRIMARY KEY (channel_id, content_hash),
    UNIQUE (channel_id, slot)
) WITHOUT ROWID;
CREATE INDEX queue_by_modified ON queue (channel_id, server_modified, content_hash)
    WHERE slot IS NOT NULL;
CREATE INDEX queue_by_name ON queue (channel_id, name_lower, content_hash)
    WHERE slot IS NOT NULL;

-- What went out, per channel and cycle, whether or not the folder still holds it.
CREATE TABLE posted3 (
    channel_id   INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    cycle        INTEGER NOT NULL,
    sha256       TEXT,
    posted_at    TEXT NOT NULL,
    source       TEXT NOT NULL,
    PRIMARY KEY (channel_id, content_hash, cycle)
) WITHOUT ROWID;
INSERT INTO posted3 SELECT 1, content_hash, 1, sha256, posted_at, source FROM posted;
DROP TABLE posted;
ALTER TABLE posted3 RENAME TO posted;
CREATE INDEX posted_history ON posted (channel_id, posted_at, content_hash);

CREATE TABLE legacy3 (
    channel_id INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    PRIMARY KEY (channel_id, sha256)
) WITHOUT ROWID;
INSERT INTO legacy3 SELECT 1, sha256 FROM legacy_unresolved;
DROP TABLE legacy_unresolved;
ALTER TABLE legacy3 RENAME TO legacy_unresolved;

-- Images an operator keeps out of a channel's selection, by content.
CREATE TABLE holds (
    channel_id   INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    held_at      TEXT NOT NULL,
    PRIMARY KEY (channel_id, content_hash)
) WITHOUT ROWID;

INSERT INTO queue (channel_id, content_hash, name_lower, server_modified, slot)
SELECT 1, i.content_hash, i.name_lower, i.server_modified, i.slot FROM images AS i
JOIN images3 AS n ON n.library_id = 1 AND n.content_hash = i.content_hash;
DROP TABLE images;
ALTER TABLE images3 RENAME TO images;
-- Empty files are no longer images: close any gap their slot left, keeping the order.
WITH renumbered AS (
    SELECT content_hash, row_number() OVER (ORDER BY slot) AS n FROM queue
    WHERE channel_id = 1 AND slot IS NOT NULL)
UPDATE queue SET slot = -renumbered.n FROM renumbered
WHERE queue.channel_id = 1 AND queue.content_hash = renumbered.content_hash;
UPDATE queue SET slot = -slot - 1 WHERE slot < 0;

-- Counts kept as the catalog changes, never counted: /status, /metrics and the random
-- pick read one row whatever the size. Triggers keep them, so no code path can forget.
ALTER TABLE libraries ADD COLUMN n_images INTEGER NOT NULL DEFAULT 0;
ALTER TABLE libraries ADD COLUMN n_skipped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE libraries ADD COLUMN n_without_hash INTEGER NOT NULL DEFAULT 0;
ALTER TABLE libraries ADD COLUMN n_unique INTEGER NOT NULL DEFAULT 0;
ALTER TABLE libraries ADD COLUMN n_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN pool_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN n_posted INTEGER NOT NULL DEFAULT 0;
UPDATE libraries SET
    n_images = (SELECT count(*) FROM files WHERE library_id = libraries.id AND kind = 'image'),
    n_skipped = (SELECT count(*) FROM files WHERE library_id = libraries.id AND kind = 'skipped'),
    n_without_hash = (SELECT count(*) FROM files WHERE library_id = libraries.id
                      AND kind = 'image' AND content_hash IS NULL),
    n_unique = (SELECT count(*) FROM images WHERE library_id = libraries.id),
    n_pending = (SELECT count(*) FROM images WHERE library_id = libraries.id AND pending = 1);
UPDATE channels SET
    pool_size = (SELECT count(*) FROM queue WHERE channel_id = channels.id AND slot IS NOT NULL),
    n_posted = (SELECT count(*) FROM posted WHERE channel_id = channels.id
                AND cycle = channels.cycle);
CREATE TRIGGER files_counted AFTER INSERT ON files BEGIN
    UPDATE libraries SET n_images = n_images + (new.kind = 'image'),
        n_skipped = n_skipped + (new.kind = 'skipped'),
        n_without_hash = n_without_hash + (new.kind = 'image' AND new.content_hash IS NULL)
    WHERE id = new.library_id;
END;
CREATE TRIGGER files_uncounted AFTER DELETE ON files BEGIN
    UPDATE libraries SET n_images = n_images - (old.kind = 'image'),
        n_skipped = n_skipped - (old.kind = 'skipped'),
        n_without_hash = n_without_hash - (old.kind = 'image' AND old.content_hash IS NULL)
    WHERE id = old.library_id;
END;
CREATE TRIGGER files_recounted AFTER UPDATE OF kind, content_hash ON files BEGIN
    UPDATE libraries SET n_images = n_images + (new.kind = 'image') - (old.kind = 'image'),
        n_skipped = n_skipped + (new.kind = 'skipped') - (old.kind = 'skipped'),
        n_without_hash = n_without_hash
            + (new.kind = 'image' AND new.content_hash IS NULL)
            - (old.kind = 'image' AND old.content_hash IS NULL)
    WHERE id = new.library_id;
END;
CREATE TRIGGER images_counted AFTER INSERT ON images BEGIN
    UPDATE libraries SET n_unique = n_unique + 1, n_pending = n_pending + new.pending
    WHERE id = new.library_id;
END;
CREATE TRIGGER images_uncounted AFTER DELETE ON images BEGIN
    UPDATE libraries SET n_unique = n_unique - 1, n_pending = n_pending - old.pending
    WHERE id = old.library_id;
END;
CREATE TRIGGER images_pending AFTER UPDATE OF pending ON images BEGIN
    UPDATE libraries SET n_pending = n_pending + new.pending - old.pending
    WHERE id = new.library_id;
END;
CREATE TRIGGER queue_counted AFTER INSERT ON queue WHEN new.slot IS NOT NULL BEGIN
    UPDATE channels SET pool_size = pool_size + 1 WHERE id = new.channel_id;
END;
CREATE TRIGGER queue_uncounted AFTER DELETE ON queue WHEN old.slot IS NOT NULL BEGIN
    UPDATE channels SET pool_size = pool_size - 1 WHERE id = old.channel_id;
END;
CREATE TRIGGER queue_recounted AFTER UPDATE OF slot ON queue
WHEN (new.slot IS NULL) != (old.slot IS NULL) BEGIN
    UPDATE channels SET pool_size = pool_size + (new.slot IS NOT NULL) - (old.slot IS NOT NULL)
    WHERE id = new.channel_id;
END;
CREATE TRIGGER posted_counted AFTER INSERT ON posted BEGIN
    UPDATE channels SET n_posted = n_posted + 1 WHERE id = new.channel_id AND cycle = new.cycle;
END;
CREATE TRIGGER posted_uncounted AFTER DELETE ON posted BEGIN
    UPDATE channels SET n_posted = n_posted - 1 WHERE id = old.channel_id AND cycle = old.cycle;
END;
CREATE TRIGGER cycle_turned AFTER UPDATE OF cycle ON channels BEGIN
    UPDATE channels SET n_posted = (SELECT count(*) FROM posted
        WHERE channel_id = new.id AND cycle = new.cycle) WHERE id = new.id;
END;
"""

_V4 = """
-- What a person browses, a page at a time and from an index: a channel's holds, newest
-- first, and its running leases, soonest to expire first.
CREATE INDEX holds_by_time ON holds (channel_id, held_at, content_hash);
CREATE INDEX leases_by_channel_expiry ON leases (channel_id, expires_at, content_hash)
    WHERE ended IS NULL;
"""

_V5 = """
-- Near-duplicates. A fingerprint (a perceptual hash of the Dropbox thumbnail) per library
-- content, kept like posts when the file leaves; NULL with the refusal when Dropbox made
-- no thumbnail. ``to_fingerprint`` is the hashing worker's backlog, a queue in arrival
-- order filled by a trigger as content arrives, so the worker never scans the catalog to
-- find what is new; appending at its end is all the catch-up pays. Content that leaves
-- before it is hashed stays queued until the worker passes it by.
CREATE TABLE fingerprints (
    library_id   INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    hash         BLOB,
    refusal      TEXT,
    hashed_at    TEXT NOT NULL,
    PRIMARY KEY (library_id, content_hash)
) WITHOUT ROWID;
CREATE TABLE to_fingerprint (
    position     INTEGER PRIMARY KEY,
    library_id   INTEGER NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE INDEX to_fingerprint_by_library ON to_fingerprint (library_id, position);
INSERT INTO to_fingerprint (library_id, content_hash)
SELECT library_id, content_hash FROM images ORDER BY library_id, content_hash;
CREATE TRIGGER images_to_fingerprint AFTER INSERT ON images
WHEN NOT EXISTS (SELECT 1 FROM fingerprints
                 WHERE library_id = new.library_id AND content_hash = new.content_hash) BEGIN
    INSERT INTO to_fingerprint (library_id, content_hash)
    VALUES (new.library_id, new.content_hash);
END;

-- Groups per channel (each channel has its own distance), around a leader; members outlive
-- the files like posts do. ``near_apart``: pairs an operator said are not the same.
CREATE TABLE near_groups (
    channel_id INTEGER NOT NULL,
    group_id   INTEGER NOT NULL,
    leader     TEXT NOT NULL,
    members    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, group_id)
) WITHOUT ROWID;
CREATE INDEX near_groups_by_leader ON near_groups (channel_id, leader);
CREATE INDEX near_groups_shown ON near_groups (channel_id, group_id) WHERE members > 1;
CREATE TABLE near_members (
    channel_id   INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    group_id     INTEGER NOT NULL,
    distance     INTEGER NOT NULL,
    PRIMARY KEY (channel_id, content_hash)
) WITHOUT ROWID;
CREATE INDEX near_members_by_group ON near_members (channel_id, group_id, content_hash);
CREATE TABLE near_apart (
    library_id INTEGER NOT NULL,
    a          TEXT NOT NULL,
    b          TEXT NOT NULL,
    PRIMARY KEY (library_id, a, b)
) WITHOUT ROWID;
CREATE INDEX near_apart_by_b ON near_apart (library_id, b, a);

-- A channel's choice and distance; ``queue.near_posted``: a near-duplicate of this image
-- went out in the channel's current cycle and the channel skips them (the one fact
-- /select needs, kept on the row it already reads).
ALTER TABLE channels ADD COLUMN near_skip INTEGER NOT NULL DEFAULT 1;
ALTER TABLE channels ADD COLUMN near_distance INTEGER NOT NULL DEFAULT 40;
ALTER TABLE queue ADD COLUMN near_posted INTEGER NOT NULL DEFAULT 0;

-- Counts, kept by triggers like the others.
ALTER TABLE libraries ADD COLUMN n_fingerprinted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE libraries ADD COLUMN n_unhashable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE libraries ADD COLUMN n_to_fingerprint INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN n_groups INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN n_near_skipped INTEGER NOT NULL DEFAULT 0;
UPDATE libraries SET n_to_fingerprint =
    (SELECT count(*) FROM to_fingerprint WHERE library_id = libraries.id);
CREATE TRIGGER fingerprints_counted AFTER INSERT ON fingerprints BEGIN
    UPDATE libraries SET n_fingerprinted = n_fingerprinted + (new.hash IS NOT NULL),
        n_unhashable = n_unhashable + (new.hash IS NULL) WHERE id = new.library_id;
END;
CREATE TRIGGER fingerprints_uncounted AFTER DELETE ON fingerprints BEGIN
    UPDATE libraries SET n_fingerprinted = n_fingerprinted - (old.hash IS NOT NULL),
        n_unhashable = n_unhashable - (old.hash IS NULL) WHERE id = old.library_id;
END;
CREATE TRIGGER fingerprints_recounted AFTER UPDATE OF hash ON fingerprints BEGIN
    UPDATE libraries SET
        n_fingerprinted = n_fingerprinted + (new.hash IS NOT NULL) - (old.hash IS NOT NULL),
        n_unhashable = n_unhashable + (new.hash IS NULL) - (old.hash IS NULL)
    WHERE id = new.library_id;
END;
CREATE TRIGGER to_fingerprint_counted AFTER INSERT ON to_fingerprint BEGIN
    UPDATE libraries SET n_to_fingerprint = n_to_fingerprint + 1 WHERE id = new.library_id;
END;
CREATE TRIGGER to_fingerprint_uncounted AFTER DELETE ON to_fingerprint BEGIN
    UPDATE libraries SET n_to_fingerprint = n_to_fingerprint - 1 WHERE id = old.library_id;
END;
CREATE TRIGGER near_member_joined AFTER INSERT ON near_members BEGIN
    UPDATE near_groups SET members = members + 1
    WHERE channel_id = new.channel_id AND group_id = new.group_id;
END;
CREATE TRIGGER near_member_left AFTER DELETE ON near_members BEGIN
    UPDATE near_groups SET members = members - 1
    WHERE channel_id = old.channel_id AND group_id = old.group_id;
END;
CREATE TRIGGER near_group_grown AFTER UPDATE OF members ON near_groups
WHEN (new.members > 1) != (old.members > 1) BEGIN
    UPDATE channels SET n_groups = n_groups + (new.members > 1) - (old.members > 1)
    WHERE id = new.channel_id;
END;
CREATE TRIGGER near_group_dropped AFTER DELETE ON near_groups WHEN old.members > 1 BEGIN
    UPDATE channels SET n_groups = n_groups - 1 WHERE id = old.channel_id;
END;
CREATE TRIGGER queue_near_counted AFTER INSERT ON queue WHEN new.near_posted BEGIN
    UPDATE channels SET n_near_skipped = n_near_skipped + 1 WHERE id = new.channel_id;
END;
CREATE TRIGGER queue_near_uncounted AFTER DELETE ON queue WHEN old.near_posted BEGIN
    UPDATE channels SET n_near_skipped = n_near_skipped - 1 WHERE id = old.channel_id;
END;
CREATE TRIGGER queue_near_recounted AFTER UPDATE OF near_posted ON queue
WHEN new.near_posted != old.near_posted BEGIN
    UPDATE channels SET n_near_skipped = n_near_skipped + new.near_posted - old.near_posted
    WHERE id = new.channel_id;
END;
"""

_V6 = """
-- The images waiting for their digest, read after every catch-up: from an index of their
-- own, not a scan of the library's images (10 ms at 100k, and growing with it).
CREATE INDEX images_pending ON images (library_id, size) WHERE pending = 1;
"""

# -- console sessions ---------------------------------------------------------------
_V7 = """
-- Who is signed in to the console: a row per session, keyed by a digest of the id its
-- signed cookie carries. Signing out deletes the row, so a copied cookie stops at once.
CREATE TABLE console_sessions (
    record     TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
"""

# -- pictures wait for their fingerprint -------------------------------------------------
_V8 = """
-- New pictures wait for their fingerprint before a channel that skips near-duplicates
-- offers them. ``queue.awaiting_since``: when the row began to wait (NULL: it does not);
-- a waiting row has no slot, so /select never sees it, and the index finds the rows whose
-- grace period ran out. ``channels.near_wait``: the channel waits (it skips near-duplicates
-- and the service fingerprints). ``to_fingerprint.path``: where the thumbnail of content
-- the library no longer holds can still be taken (the archive a post moved it to).
ALTER TABLE queue ADD COLUMN awaiting_since REAL;
CREATE INDEX queue_awaiting ON queue (channel_id, awaiting_since)
    WHERE awaiting_since IS NOT NULL;
ALTER TABLE channels ADD COLUMN near_wait INTEGER NOT NULL DEFAULT 0;
ALTER TABLE to_fingerprint ADD COLUMN path TEXT;
"""

# -- a first listing built set-wise -----------------------------------------------------
_V9 = """
-- A library's first listing, staged by path with no other index until it ends; then
-- files, images and queues are built from it at once (state/sqlite/first_listing.py).
CREATE TABLE listed (
    library_id      INTEGER NOT NULL,
    path_lower      TEXT NOT NULL,
    path_display    TEXT NOT NULL,
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    id              TEXT NOT NULL,
    rev             TEXT NOT NULL,
    size            INTEGER NOT NULL,
    server_modified TEXT NOT NULL,
    client_modified TEXT NOT NULL,
    content_hash    TEXT,
    kind            TEXT NOT NULL,
    stem            TEXT NOT NULL,
    PRIMARY KEY (library_id, path_lower)
) WITHOUT ROWID;
"""

# -- counts kept, never counted: version 10 -------------------------------------------
_V10 = """
-- Each channel's running leases (expired ones not yet reclaimed included), kept as leases
-- start and end: /status and /metrics read a count, the expired among them from the
-- expiry index (few: they are reclaimed a batch at a time).
ALTER TABLE channels ADD COLUMN n_running INTEGER NOT NULL DEFAULT 0;
UPDATE channels SET
    n_running = (SELECT count(*) FROM leases WHERE channel_id = channels.id AND ended IS NULL);
CREATE TRIGGER leases_started AFTER INSERT ON leases WHEN new.ended IS NULL BEGIN
    UPDATE channels SET n_running = n_running + 1 WHERE id = new.channel_id;
END;
CREATE TRIGGER leases_ended AFTER UPDATE OF ended ON leases
WHEN (new.ended IS NULL) != (old.ended IS NULL) BEGIN
    UPDATE channels SET n_running = n_running + (new.ended IS NULL) - (old.ended IS NULL)
    WHERE id = new.channel_id;
END;
CREATE TRIGGER leases_forgotten AFTER DELETE ON leases WHEN old.ended IS NULL BEGIN
    UPDATE channels SET n_running = n_running - 1 WHERE id = old.channel_id;
END;
"""

# -- events out: a channel's webhook: version 11 ---------------------------------------
_V11 = """
-- Events for a channel's webhook, written in the transaction of the change that causes
-- them and delivered in ``id`` order per channel (state/sql/outbox.py).
-- ``channels.notify``: the events the channel's webhook is told of, as " a b " (none: '').
-- ``notify_low``: its low water; ``notify_level``: where availability stood when last
-- looked at (0 above low water, 1 at or below it, 2 nothing left), so that each crossing
-- is told once.
ALTER TABLE channels ADD COLUMN notify TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN notify_low INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN notify_level INTEGER NOT NULL DEFAULT 0;
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel      TEXT NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created      REAL NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'failed')),
    last_error   TEXT
);
CREATE INDEX outbox_pending ON outbox (channel, id) WHERE status = 'pending';
CREATE INDEX outbox_by_channel ON outbox (channel, id);
"""

# -- holds that end: version 12 --------------------------------------------------------
_V12 = """
-- When a hold ends by itself (seconds since the epoch; NULL: when released). The due
-- index holds only the holds with an end: the housekeeping step reads it soonest first,
-- a batch at a time (state/sql/holds.py).
ALTER TABLE holds ADD COLUMN held_until REAL;
CREATE INDEX holds_due ON holds (held_until) WHERE held_until IS NOT NULL;
"""

# -- posts undone: version 13 -----------------------------------------------------------
_V13 = """
-- A post undone leaves ``posted`` (so every rule and count that reads it sees it gone) for
-- this history of undone posts, kept with when and by whom (a token's name), in the
-- transaction that returns the picture to its channel (state/sql/undo.py). ``id`` orders
-- the undos of one post in one second; the index walks a channel's history by time.
CREATE TABLE undone_posts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id   INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    cycle        INTEGER NOT NULL,
    sha256       TEXT,
    posted_at    TEXT NOT NULL,
    source       TEXT NOT NULL,
    undone_at    TEXT NOT NULL,
    undone_by    TEXT NOT NULL
);
CREATE INDEX undone_history ON undone_posts (channel_id, posted_at, content_hash, cycle, id);
"""

# -- folders, seasons and balance: version 15 ------------------------------------------
_V15 = f"""
-- ``folder``: the first-level subfolder of the library's folder that a content's
-- representative file sits in, as Dropbox folds it ('.' for the files directly in it),
-- on ``images`` and copied onto each channel's queue row beside ``name_lower``.
ALTER TABLE images ADD COLUMN folder TEXT NOT NULL DEFAULT '.';
UPDATE images SET folder = {
    folder_sql("path_lower", "(SELECT folder_lower FROM libraries WHERE id = images.library_id)")
};
CREATE INDEX images_by_folder ON images (library_id, folder);
ALTER TABLE queue ADD COLUMN folder TEXT NOT NULL DEFAULT '.';
UPDATE queue SET folder = (SELECT i.folder FROM images AS i JOIN channels AS c
    ON c.library_id = i.library_id WHERE c.id = queue.channel_id
    AND i.content_hash = queue.content_hash) WHERE EXISTS (SELECT 1 FROM images AS i
    JOIN channels AS c ON c.library_id = i.library_id WHERE c.id = queue.channel_id
    AND i.content_hash = queue.content_hash AND i.folder != '.');
CREATE INDEX queue_by_folder ON queue (channel_id, folder, slot);
-- The folders of a channel that are out of season now (state/sql/seasons.py).
CREATE TABLE out_of_season (
    channel_id INTEGER NOT NULL REFERENCES channels(id),
    folder     TEXT NOT NULL,
    PRIMARY KEY (channel_id, folder)
) WITHOUT ROWID;
-- A channel's picks spread over its library's folders: the weights as JSON (NULL: not).
ALTER TABLE channels ADD COLUMN weights TEXT;
"""

# -- pictures waiting for a fingerprint, counted as they change: version 16 ---------------
# ``/status`` read how many of a channel's pictures wait by counting them along
# ``queue_awaiting``: after a first listing of a million pictures, a million rows a call
# for as long as the hashing took. The statements that start and end waits keep the count
# (``state.sql.awaiting.count_waits``), as they say how many rows they changed.
_V16 = """
ALTER TABLE channels ADD COLUMN n_awaiting INTEGER NOT NULL DEFAULT 0;
UPDATE channels SET n_awaiting = (SELECT count(*) FROM queue INDEXED BY queue_awaiting
    WHERE channel_id = channels.id AND awaiting_since IS NOT NULL);
"""

MIGRATIONS: tuple[str, ...] = (
    _V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11, _V12, _V13, returns.V14, _V15,
    _V16,
)  # fmt: skip
SCHEMA_VERSION = len(MIGRATIONS)


def connect(
    path: Path, busy_seconds: float = 5.0, factory: type[sqlite3.Connection] = sqlite3.Connection
) -> sqlite3.Connection:
    """Open ``path``, check it, and bring its schema up to date."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            str(path),
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_seconds,
            factory=factory,
        )
        connection.execute("PRAGMA journal_mode=WAL")
        _check_integrity(connection, str(path))
    except OSError as exc:
        raise StoreError(f"cannot use the state directory {path.parent}: {exc.strerror}") from exc
    except sqlite3.OperationalError as exc:
        if _unwritable(exc):
            raise _cannot_write(path, exc) from exc
        raise StoreCorrupt(f"{path} is not a usable unposted database: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path} is not a usable unposted database: {exc}") from exc
    connection.execute("PRAGMA synchronous=NORMAL")
    # Every connection keeps SQLite's own page cache (2 MiB): the upper levels of the
    # B-trees stay cached, and the file's pages are the OS's cache. A reader's filled with
    # the random rows previews read (at 16 MiB each, 16 connections' worth grew a 1M-image
    # service by 67 MiB in 8 s); the writer's 32 MiB, once kept for catch-ups writing random
    # content hashes into the indexes, bought nothing once first listings were built
    # set-wise (a first listing of 1M files: 52.9 s at 2 MiB, 53.7 s at 32) and cost a
    # 1M-image service 26 MiB under load.
    connection.execute("PRAGMA foreign_keys=ON")
    try:
        migrate(connection, str(path))
    except sqlite3.OperationalError as exc:
        if _unwritable(exc):  # opened read-only without a word (a read-only mount, say)
            raise _cannot_write(path, exc) from exc
        raise
    return connection


def _unwritable(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "unable to open" in text or "read-only" in text


def _cannot_write(path: Path, exc: sqlite3.OperationalError) -> StoreError:
    return StoreError(
        f"cannot write in the state directory {path.parent} ({exc}); check that it"
        " exists and that this user may write there"
    )


def _check_integrity(connection: sqlite3.Connection, path: str) -> None:
    result = connection.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise StoreCorrupt(f"{path} failed SQLite's integrity check: {result}")


def migrate(connection: sqlite3.Connection, path: str, target: int = SCHEMA_VERSION) -> None:
    """Apply the migrations between the file's version and ``target``."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{path} has schema version {version}; this unposted reads up to "
                f"{SCHEMA_VERSION}. Upgrade unposted instead of replacing the file."
            )
        for number in range(version, target):
            log.info("migrating %s to schema version %d", path, number + 1)
            for statement in _statements(MIGRATIONS[number]):
                connection.execute(statement)
        if target > version:
            connection.execute(f"PRAGMA user_version = {target}")
            connection.execute("COMMIT")
            return
        # Nothing to upgrade. SQLite opens a file it may not write read-only, without a
        # word: an unchanged write, rolled back, says so now rather than at the first real
        # write, and leaves the file byte for byte.
        connection.execute(f"PRAGMA user_version = {version}")
        connection.execute("ROLLBACK")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a migration into statements, so they run inside our transaction.

    A trigger's body holds semicolons of its own: a piece is a statement only once
    SQLite says it is complete.
    """
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    statements, pending = [], ""
    for part in "\n".join(lines).split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    return statements
