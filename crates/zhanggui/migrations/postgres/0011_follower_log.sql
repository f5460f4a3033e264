-- Each follower's messages in the log (the timeline of 粉丝详情), derived from wx_messages by
-- the 'follower_log' projection. wx_messages gets no index of its own for this: every index
-- there is written on the callback's hot path and costs 12–17% of its throughput
-- (perf-notes.md). This table is written in the background instead, one INSERT … SELECT per
-- pass; rebuildable by clearing it and resetting the cursor.
CREATE TABLE follower_log (
    account_id BIGINT NOT NULL,
    openid     TEXT    NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (account_id, openid, message_id)
);
INSERT INTO log_projections (name, last_id) VALUES ('follower_log', 0);
