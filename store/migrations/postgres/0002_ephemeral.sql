-- Short-lived keys: single-use markers (an SMS code, a retransmit already answered on another
-- node) and fixed-window counters (SMS rate limits, per-code tries). Rows past expires_at are
-- dead and pruned; times are unix nanoseconds. Logged, not UNLOGGED: a single-use marker lost
-- in a crash would let its code be used again.
CREATE TABLE ephemeral (
    key        text COLLATE "C" PRIMARY KEY,
    count      bigint NOT NULL DEFAULT 0,
    expires_at bigint NOT NULL
);

CREATE INDEX ephemeral_expires ON ephemeral (expires_at);
