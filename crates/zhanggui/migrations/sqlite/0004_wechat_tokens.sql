-- The access token of each AppID, shared by every instance (WeChat allows 2,000 fetches a
-- day and a new token retires the old one). `refresh_until` is the lease of the instance
-- fetching a new token right now.
CREATE TABLE wechat_tokens (
    app_id        TEXT    PRIMARY KEY,
    access_token  TEXT    NOT NULL,
    expires_at    INTEGER NOT NULL,
    refresh_until INTEGER,
    updated_at    INTEGER NOT NULL
);
