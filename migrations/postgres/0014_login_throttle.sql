-- Sign-in throttling reserves each attempt before the password is checked: the row says when the
-- next attempt may start (next_allowed_at), so guesses sent at the same moment see each other.
-- refused counts the attempts turned away in the current episode (audited once at its start and
-- once at its end, never per attempt).
ALTER TABLE login_throttle ADD COLUMN next_allowed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE login_throttle ADD COLUMN refused BIGINT NOT NULL DEFAULT 0;
CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure_at);

-- Failed sign-ins per client address across all usernames (one password sprayed over many
-- accounts), counted in a fixed window.
CREATE TABLE login_throttle_addr (
    client_addr TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    refused BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX login_throttle_addr_window ON login_throttle_addr (window_start);
