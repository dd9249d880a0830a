-- The self-service portal: app passwords, remembered devices, fraud blocks, and the audit
-- trail's "this wasn't me" flag. Times are unix nanoseconds (UTC); 0 means none.

-- App passwords hold argon2id PHC strings, never the password. A user has at most
-- MaxAppPasswords (the store checks it on insert).
CREATE TABLE app_passwords (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX app_passwords_username ON app_passwords (username);

-- Remembered devices: id is the hex SHA-256 of the device attribute (DeviceID), never the
-- attribute itself.
CREATE TABLE devices (
    username   TEXT NOT NULL,
    id         TEXT NOT NULL,
    label      TEXT NOT NULL DEFAULT '',
    nas        TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (username, id)
) STRICT;

-- Users blocked by a fraud report (or an administrator) until an administrator unblocks them.
-- Like lockouts, not tied to users: deleting an MFA record must not lift a block.
CREATE TABLE blocks (
    username   TEXT PRIMARY KEY NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    blocked_at INTEGER NOT NULL
) STRICT;

CREATE INDEX blocks_blocked_at ON blocks (blocked_at);

-- 1: the user reported this event as not theirs.
ALTER TABLE audit ADD COLUMN fraud INTEGER NOT NULL DEFAULT 0;
