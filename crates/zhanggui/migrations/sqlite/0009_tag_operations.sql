-- Bulk tagging (tags/jobs.rs): tag or untag every follower a filter matches, 50 openids per
-- WeChat call, resumable after a crash (openids are taken in ascending order after
-- `after_openid`), with visible progress.
CREATE TABLE tag_operations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    tag_id       INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    -- 'tag' | 'untag'
    action       TEXT    NOT NULL,
    -- The followers' filter as JSON (followers/filter.rs `Filter`).
    filter       TEXT    NOT NULL,
    -- 'running' | 'done' | 'failed'
    status       TEXT    NOT NULL,
    -- The last openid handled.
    after_openid TEXT    NOT NULL DEFAULT '',
    -- Followers matching when the operation started, and how many were handled so far:
    -- done (WeChat accepted), skipped (20 tags already, not following) or failed.
    total        INTEGER NOT NULL DEFAULT 0,
    done         INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    -- JSON [{openid, reason}] of the first skipped or failed followers (at most 100).
    problems     TEXT    NOT NULL DEFAULT '[]',
    -- Why the whole operation failed.
    detail       TEXT    NOT NULL DEFAULT '',
    -- Which job of the chain may run next (a stale copy of a job stops at once).
    step         INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX tag_operations_account ON tag_operations (merchant_id, account_id, id);

-- The follower sync (followers/sync): whether user/get has been read to its end, and the
-- step of its job chain.
ALTER TABLE follower_syncs ADD COLUMN listed_all INTEGER NOT NULL DEFAULT 0;
ALTER TABLE follower_syncs ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
-- One running sync per account.
CREATE UNIQUE INDEX follower_syncs_one_running ON follower_syncs (account_id) WHERE status = 'running';
