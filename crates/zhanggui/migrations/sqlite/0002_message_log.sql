-- The message log (PRODUCT.md C1): every inbound message or event we answered, with its
-- deduplication key and the reply we gave, committed before we answer. Everything derived
-- from it (follower state, statistics) is rebuilt from these rows by jobs.
CREATE TABLE wx_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id  INTEGER NOT NULL,
    account_id   INTEGER NOT NULL,
    dedup_key    TEXT    NOT NULL,
    openid       TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    sent_at      INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    reply        TEXT    NOT NULL
);
-- The only index written on the hot path: deduplication across retries and instances.
CREATE UNIQUE INDEX wx_messages_dedup ON wx_messages (account_id, dedup_key);

-- What an account answers before the reply rules exist: the follow welcome and the default.
ALTER TABLE accounts ADD COLUMN welcome_text TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN default_reply_text TEXT NOT NULL DEFAULT '';
