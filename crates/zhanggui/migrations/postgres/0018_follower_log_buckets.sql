-- follower_log keyed by (account, openid, message) put each follower's rows together, so a
-- pass indexing 2,048 log rows from 1,000 followers rewrote ~1,000 pages (and on a launch day,
-- with most senders new, one page per row): the biggest share of the callback's cost
-- (BENCHMARKS.md, callback, 2026-12-01). Keyed by the log's bucket first (message_id / 4096),
-- a pass appends into the newest bucket's few pages. A timeline reads only the buckets a
-- follower can have rows in: between the first and last message the followers projection
-- saw (first_message_id, last_message_id) and past that projection's cursor.
DROP TABLE follower_log;
CREATE TABLE follower_log (
    account_id BIGINT NOT NULL,
    bucket     BIGINT NOT NULL,
    openid     TEXT    NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket, openid, message_id)
);
UPDATE log_projections SET last_id = 0 WHERE name = 'follower_log';

ALTER TABLE followers ADD COLUMN first_message_id BIGINT;
ALTER TABLE followers ADD COLUMN last_message_id BIGINT;
-- Replayed from the start to fill the two columns (joining is idempotent: nothing else changes).
UPDATE log_projections SET last_id = 0 WHERE name = 'followers';
