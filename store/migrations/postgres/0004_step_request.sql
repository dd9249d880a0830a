-- Which request spent the last TOTP step, so a byte-identical retransmit of that request to
-- another node (whose first node died before answering) is accepted, not taken for a replay.
ALTER TABLE users ADD COLUMN totp_last_request TEXT NOT NULL DEFAULT '';
