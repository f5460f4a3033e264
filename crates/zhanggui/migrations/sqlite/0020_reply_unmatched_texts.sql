-- Texts no rule matched, counted per account, hour and text instead of one row per message:
-- default-reply traffic wrote a row (three B-trees) per message in the replies pass, while
-- the console only ever asks for the most frequent texts of a period
-- (replies::store::top_unmatched). The log keeps every message and who sent it.
CREATE TABLE reply_unmatched_texts (
    merchant_id INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    -- sent_at / 3,600,000: the hour (UTC) the messages were sent in.
    hour        INTEGER NOT NULL,
    text        TEXT    NOT NULL,
    messages    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    PRIMARY KEY (account_id, hour, text)
) WITHOUT ROWID;
INSERT INTO reply_unmatched_texts (merchant_id, account_id, hour, text, messages, last_at)
    SELECT MIN(merchant_id), account_id, sent_at / 3600000, text, COUNT(*), MAX(sent_at)
    FROM reply_unmatched GROUP BY account_id, sent_at / 3600000, text;
DROP TABLE reply_unmatched;
