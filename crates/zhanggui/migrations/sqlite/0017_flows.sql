-- Conversational flows (互动问答, flows/): the flow's steps are JSON (always read and written
-- whole; the callback keeps the account's enabled flows in its reply index).
CREATE TABLE flows (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    definition  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX flows_account ON flows (merchant_id, account_id, id);

-- Where each follower is in a flow: shared by every instance, so a conversation survives
-- restarts and a load balancer. The last message's dedup key and reply make a retry of it
-- get the same answer without moving on twice.
CREATE TABLE flow_sessions (
    account_id  INTEGER NOT NULL,
    openid      TEXT    NOT NULL,
    merchant_id INTEGER NOT NULL,
    flow_id     INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    reasks      INTEGER NOT NULL DEFAULT 0,
    ended       INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL,
    last_key    TEXT    NOT NULL,
    last_reply  TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, openid)
);

-- Every answer given in a flow: statistics, and what the flow's effects were made from.
CREATE TABLE flow_answers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    openid      TEXT    NOT NULL,
    flow_id     INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    -- The option's letter; '' for a free-text answer.
    choice      TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    answered_at INTEGER NOT NULL
);
CREATE INDEX flow_answers_flow ON flow_answers (merchant_id, flow_id, step);
CREATE INDEX flow_answers_follower ON flow_answers (account_id, openid);
