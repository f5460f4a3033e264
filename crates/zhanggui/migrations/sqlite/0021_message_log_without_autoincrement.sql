-- The message log without AUTOINCREMENT. With it, every insert into the log looked its
-- counter up in sqlite_sequence (a scan of that table: one row per AUTOINCREMENT table)
-- and wrote it back, and every commit wrote sqlite_sequence's page to the WAL once more:
-- ~0.8 µs of CPU a message on the callback's path (bench/log_commit.sh, BENCHMARKS.md).
-- Without it SQLite numbers a new row one past the largest id, which is the same number as
-- long as the newest row is never deleted; nothing deletes log rows (the projections'
-- cursors rely on ids that only grow), and a retention job must keep at least the newest row.
-- The rebuild copies the log once: ~17 s a million messages, whose old pages stay in the
-- file as free pages that new rows reuse.
CREATE TABLE wx_messages_rebuilt (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL,
    account_id   INTEGER NOT NULL,
    dedup_key    TEXT    NOT NULL,
    openid       TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    sent_at      INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    reply        TEXT    NOT NULL,
    route        TEXT    NOT NULL DEFAULT ''
);
INSERT INTO wx_messages_rebuilt (id, merchant_id, account_id, dedup_key, openid, kind,
        sent_at, received_at, body, reply, route)
    SELECT id, merchant_id, account_id, dedup_key, openid, kind, sent_at, received_at, body,
        reply, route
    FROM wx_messages ORDER BY id;
DROP TABLE wx_messages;
ALTER TABLE wx_messages_rebuilt RENAME TO wx_messages;
-- The only index written on the hot path: deduplication across retries and instances.
CREATE UNIQUE INDEX wx_messages_dedup ON wx_messages (account_id, dedup_key);
DELETE FROM sqlite_sequence WHERE name = 'wx_messages';
