-- The emulated WeChat side's simulated followers of each sandbox app.
CREATE TABLE sandbox_followers (
    app_id     TEXT    NOT NULL,
    openid     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, openid)
);
