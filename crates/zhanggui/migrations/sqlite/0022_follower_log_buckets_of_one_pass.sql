-- follower_log's buckets from 4,096 log ids to 1,024, one full pass of its projection, which
-- now ends each pass at a bucket's end: under load a pass fills a bucket of its own in key
-- order instead of inserting among three earlier passes' rows and rewriting the bucket's
-- pages (BENCHMARKS.md, callback, twenty-fourth round). The rows are in the old buckets, so
-- the index is rebuilt from the log: a timeline shows a follower's messages again as the
-- rebuild reaches them (a few seconds a million messages).
DROP TABLE follower_log;
CREATE TABLE follower_log (
    account_id INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    openid     TEXT    NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket, openid, message_id)
) WITHOUT ROWID;
UPDATE log_projections SET last_id = 0 WHERE name = 'follower_log';
