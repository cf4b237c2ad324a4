-- settings and outbox: the facility's logo (other facility settings are rows of `settings`)
-- and the email outbox the background sender delivers from.

CREATE TABLE facility_logo (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    content_type TEXT NOT NULL,
    data BLOB NOT NULL,
    etag TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Times are epoch milliseconds. status: queued, sending, sent, failed. A sender claims a
-- message with a guarded update (status and claimed_at), so each is sent by one sender only.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    claimed_by TEXT,
    claimed_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
