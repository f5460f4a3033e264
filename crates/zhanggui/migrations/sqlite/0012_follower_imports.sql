-- Follower CSV imports (followers/csv): the uploaded file is kept until it is applied, so
-- that the dry run the merchant saw and the apply job read the same rows.
CREATE TABLE follower_imports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    filename     TEXT    NOT NULL DEFAULT '',
    body         TEXT    NOT NULL,
    -- 'checked' (dry run only) | 'applying' | 'applied' | 'failed'
    status       TEXT    NOT NULL,
    rows_total   INTEGER NOT NULL DEFAULT 0,
    -- Rows the apply job has handled so far (its progress).
    rows_applied INTEGER NOT NULL DEFAULT 0,
    detail       TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX follower_imports_account ON follower_imports (merchant_id, account_id, id);
