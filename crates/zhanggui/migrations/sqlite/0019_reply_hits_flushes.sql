-- Hit counts get a projection of their own ('reply_hits'), written about once a second from
-- counts kept in memory, in transactions of a bounded number of rows: with traffic spread over
-- 10,000 rules the replies pass upserted thousands of rows four times a second and held
-- SQLite's write lock ~12 ms each time, which the message log waited out (BENCHMARKS.md,
-- "Reply rules", fifth round).
--
-- `upto`: the last log id whose hits a row includes. A flush of the log range (cursor, T] is
-- claimed by setting `flushing` = T; each of its transactions adds to a row only while the
-- row's upto < T, so a flush interrupted after some of its transactions is finished by the
-- next one (it reads `flushing` and ends its range exactly there) without counting twice.
-- WITHOUT ROWID: one B-tree per upsert instead of the table and its key's index.
CREATE TABLE reply_hits_new (
    merchant_id INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    rule_id     INTEGER NOT NULL,
    -- The keyword that matched; '' for a trigger, the welcome or the default.
    keyword     TEXT    NOT NULL,
    -- The merchant's local day, YYYY-MM-DD.
    day         TEXT    NOT NULL,
    hits        INTEGER NOT NULL,
    upto        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, rule_id, keyword, day)
) WITHOUT ROWID;
INSERT INTO reply_hits_new (merchant_id, account_id, rule_id, keyword, day, hits)
    SELECT merchant_id, account_id, rule_id, keyword, day, hits FROM reply_hits;
DROP TABLE reply_hits;
ALTER TABLE reply_hits_new RENAME TO reply_hits;

ALTER TABLE log_projections ADD COLUMN flushing INTEGER;
-- The replies pass counted hits up to its own cursor: the new projection starts there.
INSERT INTO log_projections (name, last_id)
    SELECT 'reply_hits', last_id FROM log_projections WHERE name = 'replies';
