-- Texts no rule matched, counted per account, hour and text instead of one row per message
-- (see the SQLite migration of the same number for the reason).
CREATE TABLE reply_unmatched_texts (
    merchant_id BIGINT NOT NULL,
    account_id  BIGINT NOT NULL,
    -- sent_at / 3,600,000: the hour (UTC) the messages were sent in.
    hour        BIGINT NOT NULL,
    text        TEXT   NOT NULL,
    messages    BIGINT NOT NULL,
    last_at     BIGINT NOT NULL,
    PRIMARY KEY (account_id, hour, text)
);
INSERT INTO reply_unmatched_texts (merchant_id, account_id, hour, text, messages, last_at)
    SELECT MIN(merchant_id), account_id, sent_at / 3600000, text, COUNT(*), MAX(sent_at)
    FROM reply_unmatched GROUP BY account_id, sent_at / 3600000, text;
DROP TABLE reply_unmatched;
