-- M-Pesa: STK pushes sent from the desk, every message Safaricom sends kept as it came (before it
-- is answered), and one row per M-Pesa receipt whichever way it arrives (the push's callback, a
-- paybill confirmation, a statement): the receipt's UNIQUE key is what makes one receipt book
-- one payment, repeated or in any order. A receipt that cannot be matched to a bill waits as
-- unmatched for a cashier to book; nothing is guessed.

CREATE TABLE billing_mpesa_pushes (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    visit_id INTEGER NOT NULL REFERENCES visits (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    phone TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0 AND amount_cents % 100 = 0),
    account_ref TEXT NOT NULL CHECK (length(account_ref) <= 12),
    checkout_request_id TEXT UNIQUE,
    merchant_request_id TEXT,
    -- sending: asked of M-Pesa; waiting: the phone shows the prompt; paid: a receipt came;
    -- confirmed: the status query says paid, its receipt not yet seen; failed: cancelled,
    -- wrong PIN, timed out or refused.
    status TEXT NOT NULL CHECK (status IN ('sending', 'waiting', 'paid', 'confirmed', 'failed')),
    result_code TEXT,
    result_desc TEXT,
    mpesa_receipt TEXT,
    requested_by INTEGER NOT NULL REFERENCES users (id),
    requested_at TEXT NOT NULL,
    queried_at TEXT,
    resolved_at TEXT
);
-- A second push while one waits is refused.
CREATE UNIQUE INDEX billing_mpesa_pushes_one_waiting ON billing_mpesa_pushes (visit_id)
    WHERE status IN ('sending', 'waiting');
CREATE INDEX billing_mpesa_pushes_visit ON billing_mpesa_pushes (visit_id);

-- What Safaricom sent, as it came, kept before the answer goes back.
CREATE TABLE billing_mpesa_messages (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('stk_callback', 'c2b_confirmation', 'c2b_validation', 'stk_query', 'statement')),
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);

CREATE TABLE billing_mpesa_receipts (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    receipt TEXT NOT NULL UNIQUE,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    phone TEXT,
    bill_ref TEXT,
    paid_at TEXT,
    source TEXT NOT NULL CHECK (source IN ('stk', 'c2b', 'statement')),
    status TEXT NOT NULL CHECK (status IN ('booked', 'unmatched')),
    -- The bill it was meant for, when the reference or push named one.
    visit_id INTEGER REFERENCES visits (id),
    push_id INTEGER REFERENCES billing_mpesa_pushes (id),
    payment_id INTEGER REFERENCES billing_payments (id),
    received_at TEXT NOT NULL,
    booked_by INTEGER REFERENCES users (id),
    CHECK ((status = 'booked') = (payment_id IS NOT NULL))
);
CREATE INDEX billing_mpesa_receipts_unmatched ON billing_mpesa_receipts (received_at) WHERE status = 'unmatched';

CREATE TRIGGER billing_mpesa_pushes_uuid AFTER INSERT ON billing_mpesa_pushes WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_mpesa_pushes SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_mpesa_pushes_uuid_fixed BEFORE UPDATE OF uuid ON billing_mpesa_pushes
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER billing_mpesa_pushes_no_delete BEFORE DELETE ON billing_mpesa_pushes BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_mpesa_messages_no_update BEFORE UPDATE ON billing_mpesa_messages BEGIN
    SELECT RAISE(ABORT, 'a message from M-Pesa is kept as it came');
END;
CREATE TRIGGER billing_mpesa_messages_no_delete BEFORE DELETE ON billing_mpesa_messages BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_mpesa_receipts_uuid AFTER INSERT ON billing_mpesa_receipts WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_mpesa_receipts SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_mpesa_receipts_uuid_fixed BEFORE UPDATE OF uuid ON billing_mpesa_receipts
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
-- A receipt is booked once and then never changes.
CREATE TRIGGER billing_mpesa_receipts_booked BEFORE UPDATE ON billing_mpesa_receipts
WHEN OLD.uuid IS NOT NULL AND (OLD.status = 'booked' OR NEW.receipt <> OLD.receipt
    OR NEW.amount_cents <> OLD.amount_cents) BEGIN
    SELECT RAISE(ABORT, 'a booked M-Pesa receipt never changes');
END;
CREATE TRIGGER billing_mpesa_receipts_no_delete BEFORE DELETE ON billing_mpesa_receipts BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
