-- Hit counts get a projection of their own ('reply_hits'), written about once a second from
-- counts kept in memory, in transactions of a bounded number of rows (see the SQLite
-- migration of the same number for the reason).
--
-- `upto`: the last log id whose hits a row includes. A flush of the log range (cursor, T] is
-- claimed by setting `flushing` = T; each of its transactions adds to a row only while the
-- row's upto < T, so a flush interrupted after some of its transactions is finished by the
-- next one (it reads `flushing` and ends its range exactly there) without counting twice.
ALTER TABLE reply_hits ADD COLUMN upto BIGINT NOT NULL DEFAULT 0;

ALTER TABLE log_projections ADD COLUMN flushing BIGINT;
-- The replies pass counted hits up to its own cursor: the new projection starts there.
INSERT INTO log_projections (name, last_id)
    SELECT 'reply_hits', last_id FROM log_projections WHERE name = 'replies';
