-- Followers as the message log tells them (PRODUCT.md C6 grows this): derived from
-- wx_messages by the projector, rebuildable by clearing these tables.
CREATE TABLE followers (
    merchant_id         INTEGER NOT NULL,
    account_id          INTEGER NOT NULL,
    openid              TEXT    NOT NULL,
    first_seen_at       INTEGER NOT NULL,
    last_interaction_at INTEGER NOT NULL,
    subscribed          INTEGER NOT NULL,
    -- The newest follow or unfollow, which decides `subscribed`.
    subscription_changed_at INTEGER,
    subscribed_at       INTEGER,
    unsubscribed_at     INTEGER,
    -- The QR scene (qrscene_…) of the first follow that carried one.
    channel             TEXT,
    channel_at          INTEGER,
    last_latitude       REAL,
    last_longitude      REAL,
    last_location_at    INTEGER,
    PRIMARY KEY (account_id, openid)
);
CREATE INDEX followers_merchant ON followers (merchant_id, account_id, last_interaction_at);

-- How far each projection of the message log has read.
CREATE TABLE log_projections (
    name    TEXT    PRIMARY KEY,
    last_id INTEGER NOT NULL
);
INSERT INTO log_projections (name, last_id) VALUES ('followers', 0);
