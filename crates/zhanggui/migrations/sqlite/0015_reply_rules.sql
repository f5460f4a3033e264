-- Automatic replies (自动回复, replies/): keyword rules, and rules that make the welcome or
-- the default reply out of any replies. Keywords, triggers, schedule and replies are JSON
-- (the rule is always read and written whole; the callback reads a compiled index of them).
CREATE TABLE reply_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    -- 'keyword' | 'welcome' | 'default'
    kind        TEXT    NOT NULL DEFAULT 'keyword',
    name        TEXT    NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    -- 'all' | 'random'
    reply_mode  TEXT    NOT NULL DEFAULT 'all',
    enabled     INTEGER NOT NULL DEFAULT 1,
    keywords    TEXT    NOT NULL DEFAULT '[]',
    triggers    TEXT    NOT NULL DEFAULT '[]',
    schedule    TEXT    NOT NULL DEFAULT '{}',
    replies     TEXT    NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX reply_rules_account ON reply_rules (merchant_id, account_id, id);

-- Hand-off words, the once-an-hour courtesy; one row per account that changed them.
CREATE TABLE reply_settings (
    account_id      INTEGER PRIMARY KEY REFERENCES accounts (id),
    merchant_id     INTEGER NOT NULL REFERENCES merchants (id),
    courtesy_hourly INTEGER NOT NULL DEFAULT 0,
    handoff_words   TEXT    NOT NULL DEFAULT '[]',
    handoff_reply   TEXT    NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL
);

-- Bumped by every change of an account's rules or settings: each instance recompiles its
-- index when the number it holds is no longer the account's.
ALTER TABLE accounts ADD COLUMN replies_version INTEGER NOT NULL DEFAULT 0;

-- Which rule (and keyword) answered, 'unmatched' or 'handoff'; '' when no rule was asked.
ALTER TABLE wx_messages ADD COLUMN route TEXT NOT NULL DEFAULT '';

-- Counted from the log by the replies projector ('replies' in log_projections).
CREATE TABLE reply_hits (
    merchant_id INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    rule_id     INTEGER NOT NULL,
    -- The keyword that matched; '' for a trigger, the welcome or the default.
    keyword     TEXT    NOT NULL,
    -- The merchant's local day, YYYY-MM-DD.
    day         TEXT    NOT NULL,
    hits        INTEGER NOT NULL,
    PRIMARY KEY (account_id, rule_id, keyword, day)
);

-- Text that no rule matched, for the merchant to write the rules it lacks.
CREATE TABLE reply_unmatched (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    log_id      INTEGER NOT NULL UNIQUE,
    openid      TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL
);
CREATE INDEX reply_unmatched_account ON reply_unmatched (merchant_id, account_id, id);

-- Followers who asked for a person, until a person answers (the live chat of a later issue).
CREATE TABLE follower_handoffs (
    merchant_id  INTEGER NOT NULL,
    account_id   INTEGER NOT NULL,
    openid       TEXT    NOT NULL,
    requested_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, openid)
);

INSERT INTO log_projections (name, last_id) VALUES ('replies', 0);
