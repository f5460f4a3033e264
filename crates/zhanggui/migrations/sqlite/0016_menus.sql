-- Custom menus (自定义菜单, menus/): an account's default menu and its personalized menus
-- (conditional on one of the account's tags), each a tree of buttons kept as JSON in our own
-- shape (menus/model.rs: library items by id, keys generated). `published` is the tree as it
-- was last accepted by WeChat: what the followers see, and what click replies answer from.
CREATE TABLE menus (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id),
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    -- Our tags.id for a personalized menu (matchrule tag_id); NULL for the default menu.
    -- No foreign key: a tag deleted at WeChat leaves the menu to be deleted by the merchant.
    tag_id        INTEGER,
    buttons       TEXT    NOT NULL,
    published     TEXT,
    published_at  INTEGER,
    -- WeChat's menuid of a published personalized menu (for delconditional).
    wx_menuid     TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX menus_default ON menus (account_id) WHERE tag_id IS NULL;
CREATE UNIQUE INDEX menus_tag ON menus (account_id, tag_id) WHERE tag_id IS NOT NULL;
CREATE INDEX menus_merchant ON menus (merchant_id, account_id, id);

-- Taps on menu buttons per account, button and day (the merchant's time zone), counted from
-- the message log's CLICK (kind 'click', target = the key) and VIEW (kind 'view', target =
-- the URL) events by the menu projector ('menus' in log_projections); rebuildable.
CREATE TABLE menu_clicks (
    merchant_id INTEGER NOT NULL,
    account_id  INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    -- YYYY-MM-DD
    day         TEXT    NOT NULL,
    clicks      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, kind, target, day)
);
INSERT INTO log_projections (name, last_id) VALUES ('menus', 0);

-- WeChat's ids of library items (library/wechat.rs), per account: an image, voice or video
-- uploaded as permanent material ('material'), a news item added as a draft ('draft') or
-- published ('article': wechat_id is the article_id; publish_id while WeChat publishes).
-- `sha` is the SHA-256 of the content sent, so an edited item is sent again.
CREATE TABLE library_wechat_ids (
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    item_id     INTEGER NOT NULL REFERENCES library_items (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    sha         TEXT    NOT NULL,
    wechat_id   TEXT    NOT NULL DEFAULT '',
    publish_id  TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, item_id, kind, sha)
);
CREATE INDEX library_wechat_ids_merchant ON library_wechat_ids (merchant_id, item_id);
