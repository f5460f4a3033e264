-- Answers a module could not give within the callback's budget: the callback answered
-- `success`, and a job sends the answer as a customer-service message. One row per
-- inbound message (its dedup key), so a retried or concurrent delivery never schedules
-- a second answer.
CREATE TABLE late_replies (
    id          BIGSERIAL PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES merchants (id),
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    dedup_key   TEXT    NOT NULL,
    openid      TEXT    NOT NULL,
    module      TEXT    NOT NULL,
    -- The inbound message (decrypted XML) the module answers.
    body        TEXT    NOT NULL,
    -- pending, sent, skipped (a passive reply was given after all), refused (WeChat said no)
    status      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (account_id, dedup_key)
);
CREATE INDEX late_replies_by_merchant ON late_replies (merchant_id, id);
