-- Short-lived keys: single-use markers (an SMS code, a retransmit already answered on another
-- node) and fixed-window counters (SMS rate limits, per-code tries). Rows past expires_at are
-- dead and pruned; times are unix nanoseconds.
CREATE TABLE ephemeral (
    key        TEXT PRIMARY KEY NOT NULL,
    count      INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX ephemeral_expires ON ephemeral (expires_at);
