-- Followers CRM (PRODUCT.md C6): what WeChat and the merchant know about a follower beside
-- what the message log tells (0003), tags, saved segments, channel QR codes and their daily
-- statistics, and the sync of followers from WeChat.

-- From WeChat's user/info (the sync): remark, unionid, language, how they followed.
ALTER TABLE followers ADD COLUMN remark TEXT NOT NULL DEFAULT '';
ALTER TABLE followers ADD COLUMN unionid TEXT;
ALTER TABLE followers ADD COLUMN language TEXT;
-- WeChat's subscribe_scene (ADD_SCENE_QR_CODE, ADD_SCENE_SEARCH, …).
ALTER TABLE followers ADD COLUMN subscribe_scene TEXT;
-- When WeChat's profile of this follower was last read.
ALTER TABLE followers ADD COLUMN synced_at INTEGER;
ALTER TABLE followers ADD COLUMN blacklisted INTEGER NOT NULL DEFAULT 0;
-- Collected profile fields (forms, web authorization): WeChat no longer gives them.
ALTER TABLE followers ADD COLUMN nickname TEXT;
ALTER TABLE followers ADD COLUMN name TEXT;
ALTER TABLE followers ADD COLUMN phone TEXT;
-- 'male' | 'female' | NULL (unknown)
ALTER TABLE followers ADD COLUMN gender TEXT;
-- YYYY-MM-DD
ALTER TABLE followers ADD COLUMN birthday TEXT;
ALTER TABLE followers ADD COLUMN city TEXT;
ALTER TABLE followers ADD COLUMN profile_updated_at INTEGER;

CREATE INDEX followers_subscribed_at ON followers (account_id, subscribed_at);
CREATE INDEX followers_channel ON followers (account_id, channel);

-- An account's tags, mirrored with WeChat's (tags/create|update|delete|get).
CREATE TABLE tags (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    -- WeChat's id of the tag (tagid); WeChat's own tags 0–99 are never ours to edit.
    wx_tag_id   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX tags_name ON tags (account_id, name);
CREATE UNIQUE INDEX tags_wx ON tags (account_id, wx_tag_id);

CREATE TABLE follower_tags (
    merchant_id INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    openid      TEXT    NOT NULL,
    tag_id      INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    tagged_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, openid, tag_id)
);
CREATE INDEX follower_tags_by_tag ON follower_tags (tag_id, openid);

-- Saved segments (人群): a filter over followers, reused by broadcasts and campaigns.
CREATE TABLE segments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    -- The filter as JSON (followers/filter.rs `Filter`).
    filter      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX segments_name ON segments (account_id, name);

-- Channel QR codes (渠道二维码): a parametric QR code with a name, a tag applied on scan and a
-- welcome of its own. `scene` is what WeChat sends back (EventKey, after `qrscene_` on a
-- follow): the decimal scene id, or the scene string.
CREATE TABLE channels (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    name         TEXT    NOT NULL,
    -- 'temporary' | 'permanent'
    kind         TEXT    NOT NULL,
    scene        TEXT    NOT NULL,
    -- 'poster' | 'table_card' | 'link' | 'other': offline (printed) or online spread.
    medium       TEXT    NOT NULL,
    tag_id       INTEGER REFERENCES tags (id) ON DELETE SET NULL,
    welcome_text TEXT    NOT NULL DEFAULT '',
    -- The merchant's text printed on the poster / table card.
    poster_text  TEXT    NOT NULL DEFAULT '',
    ticket       TEXT    NOT NULL,
    -- The URL the QR code encodes (WeChat's `url`).
    qr_url       TEXT    NOT NULL,
    -- Temporary codes only (epoch ms).
    expires_at   INTEGER,
    archived_at  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX channels_scene ON channels (account_id, scene);
CREATE INDEX channels_merchant ON channels (merchant_id, account_id, id);

-- Scans per channel scene and day (the merchant's time zone), derived from the message log
-- by the channel projector ('channels' in log_projections); rebuildable.
CREATE TABLE channel_days (
    merchant_id INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    scene       TEXT    NOT NULL,
    -- YYYY-MM-DD
    day         TEXT    NOT NULL,
    -- Follows that came through the code (subscribe with qrscene_).
    new_follows INTEGER NOT NULL DEFAULT 0,
    -- Scans by people already following (SCAN).
    rescans     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, scene, day)
);
INSERT INTO log_projections (name, last_id) VALUES ('channels', 0);

-- The sync of an account's followers from WeChat: one row per run, resumable.
CREATE TABLE follower_syncs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    -- 'running' | 'done' | 'failed'
    status       TEXT    NOT NULL,
    -- user/get's next_openid to continue from ('' at the start).
    next_openid  TEXT    NOT NULL DEFAULT '',
    -- WeChat's total when last read, and how many openids / profiles are done.
    total        INTEGER NOT NULL DEFAULT 0,
    listed       INTEGER NOT NULL DEFAULT 0,
    profiled     INTEGER NOT NULL DEFAULT 0,
    detail       TEXT    NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX follower_syncs_account ON follower_syncs (merchant_id, account_id, id);
-- The openids a sync has listed and not yet profiled (user/info/batchget, 100 at a time).
CREATE TABLE follower_sync_queue (
    sync_id INTEGER NOT NULL REFERENCES follower_syncs (id) ON DELETE CASCADE,
    openid  TEXT    NOT NULL,
    PRIMARY KEY (sync_id, openid)
);
