-- Foundation: merchants, staff, sessions, official accounts, API keys, the job queue.
-- Times are epoch milliseconds UTC; booleans are 0/1.

CREATE TABLE merchants (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    timezone    TEXT    NOT NULL DEFAULT 'Asia/Shanghai',
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX merchants_name ON merchants (name);

CREATE TABLE users (
    id                INTEGER PRIMARY KEY,
    username          TEXT    NOT NULL,
    display_name      TEXT    NOT NULL DEFAULT '',
    password_hash     TEXT    NOT NULL,
    is_platform_admin INTEGER NOT NULL DEFAULT 0,
    lang              TEXT    NOT NULL DEFAULT 'zh-CN',
    failed_logins     INTEGER NOT NULL DEFAULT 0,
    locked_until      INTEGER,
    disabled          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (username);

CREATE TABLE memberships (
    merchant_id INTEGER NOT NULL REFERENCES merchants (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    role        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    csrf_token   TEXT    NOT NULL,
    merchant_id  INTEGER,
    account_id   INTEGER,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    merchant_id      INTEGER NOT NULL REFERENCES merchants (id),
    name             TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    verified         INTEGER NOT NULL,
    app_id           TEXT    NOT NULL,
    app_secret       TEXT    NOT NULL,
    token            TEXT    NOT NULL,
    encoding_aes_key TEXT    NOT NULL,
    security_mode    TEXT    NOT NULL,
    sandbox          INTEGER NOT NULL,
    callback_key     TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_app_id ON accounts (app_id);
CREATE UNIQUE INDEX accounts_callback_key ON accounts (callback_key);
CREATE INDEX accounts_merchant ON accounts (merchant_id, id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    key_hash     TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    created_by   INTEGER REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, id);

-- The emulated WeChat side's own record of sandbox apps (PRODUCT.md C2): what "WeChat" knows.
CREATE TABLE sandbox_apps (
    app_id           TEXT    PRIMARY KEY,
    app_secret       TEXT    NOT NULL,
    token            TEXT    NOT NULL,
    encoding_aes_key TEXT    NOT NULL,
    security_mode    TEXT    NOT NULL,
    callback_url     TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    verified         INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
);

-- The durable job queue (DESIGN.md): enqueued in the business transaction, claimed with a lease.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reuse an id (fencing, cursors)
    merchant_id  INTEGER,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'queued',
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 8,
    run_at       INTEGER NOT NULL,
    locked_by    TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_merchant_status ON jobs (merchant_id, status, id);
