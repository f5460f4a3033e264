-- The emulated WeChat side keeps what WeChat would know (tokens, menus, tags, followers,
-- QR tickets, media, mass jobs, inboxes, quotas) as JSON documents addressed by
-- (app, kind, key), each with a version for compare-and-swap (crates/sandbox/src/registry.rs).
CREATE TABLE sandbox_docs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    doc_key    TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (app_id, kind, doc_key)
);

-- Simulated followers become documents of kind `follower`; they followed when they were made.
INSERT INTO sandbox_docs (app_id, kind, doc_key, value, version, updated_at)
SELECT app_id, 'follower', openid,
       '{"subscribe":true,"subscribe_time":' || (created_at / 1000) ||
       ',"created_at":' || created_at || ',"subscribe_scene":"ADD_SCENE_OTHERS"}',
       1, created_at
FROM sandbox_followers ORDER BY created_at, openid;

DROP TABLE sandbox_followers;
