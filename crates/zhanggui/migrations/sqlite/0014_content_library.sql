-- The content library (素材, library/): text snippets, media, and news (图文) made of 1..8
-- articles. Content belongs to the merchant, not to one account: the same article may be
-- sent from every account the merchant runs. Media bytes live in the database so that every
-- instance serves them.
CREATE TABLE library_media (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    mime        TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    -- hex SHA-256 of the bytes: the ETag of the public URL.
    sha256      TEXT    NOT NULL,
    data        BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX library_media_merchant ON library_media (merchant_id, id);

CREATE TABLE library_items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    -- 'text' | 'image' | 'voice' | 'video' | 'news'
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    -- A text snippet's words ('' for other kinds).
    body        TEXT    NOT NULL DEFAULT '',
    -- Image, voice and video items: their bytes.
    media_id    INTEGER REFERENCES library_media (id),
    filename    TEXT    NOT NULL DEFAULT '',
    -- Unguessable: the public URL of a medium (/m/{token}).
    token       TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX library_items_merchant ON library_items (merchant_id, kind, id);

-- The articles of a news item, in order (position 0 is the big one).
CREATE TABLE library_articles (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant_id        INTEGER NOT NULL REFERENCES merchants (id),
    item_id            INTEGER NOT NULL REFERENCES library_items (id),
    position           INTEGER NOT NULL,
    title              TEXT    NOT NULL,
    author             TEXT    NOT NULL DEFAULT '',
    digest             TEXT    NOT NULL DEFAULT '',
    -- Sanitized HTML (library/html.rs): safe to show as is.
    body_html          TEXT    NOT NULL DEFAULT '',
    content_source_url TEXT    NOT NULL DEFAULT '',
    -- An image item of the same merchant.
    cover_item_id      INTEGER REFERENCES library_items (id),
    -- Unguessable: the public article page (/a/{token}).
    token              TEXT    NOT NULL UNIQUE,
    reads              INTEGER NOT NULL DEFAULT 0,
    shares             INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX library_articles_item ON library_articles (merchant_id, item_id, position);
CREATE INDEX library_articles_cover ON library_articles (merchant_id, cover_item_id);

-- Who shared an article already (a visitor cookie): a share counts once per visitor.
CREATE TABLE library_article_shares (
    article_id INTEGER NOT NULL REFERENCES library_articles (id) ON DELETE CASCADE,
    visitor    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (article_id, visitor)
);
