-- Times are unix nanoseconds (UTC); 0 means none.
-- totp_secret and phone hold Keyring ciphertexts bound to the username (never plaintext).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE users (
    username       TEXT PRIMARY KEY NOT NULL,
    state          TEXT NOT NULL DEFAULT '',
    method         TEXT NOT NULL DEFAULT '',
    totp_secret    BLOB,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    totp_drift     INTEGER NOT NULL DEFAULT 0,
    phone          BLOB,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

-- Failures and lockouts are keyed by username but not tied to users: anyone who tries a
-- password is counted, enrolled or not, and deleting an MFA record must not lift a lockout.
CREATE TABLE failures (
    username TEXT NOT NULL,
    kind     TEXT NOT NULL,
    count    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (username, kind)
) STRICT;

CREATE TABLE lockouts (
    username     TEXT PRIMARY KEY NOT NULL,
    locked_until INTEGER NOT NULL,
    level        INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE audit (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    time               INTEGER NOT NULL,
    node               TEXT NOT NULL DEFAULT '',
    kind               TEXT NOT NULL DEFAULT '',
    username           TEXT NOT NULL DEFAULT '',
    nas                TEXT NOT NULL DEFAULT '',
    client_ip          TEXT NOT NULL DEFAULT '',
    calling_station_id TEXT NOT NULL DEFAULT '',
    factor             TEXT NOT NULL DEFAULT '',
    result             TEXT NOT NULL DEFAULT '',
    reason             TEXT NOT NULL DEFAULT '',
    detail             TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_username_time ON audit (username, time);
