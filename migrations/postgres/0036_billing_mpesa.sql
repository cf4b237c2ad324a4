-- M-Pesa: STK pushes sent from the desk, every message Safaricom sends kept as it came (before it
-- is answered), and one row per M-Pesa receipt whichever way it arrives (the push's callback, a
-- paybill confirmation, a statement): the receipt's UNIQUE key is what makes one receipt book
-- one payment, repeated or in any order. A receipt that cannot be matched to a bill waits as
-- unmatched for a cashier to book; nothing is guessed.

CREATE TABLE billing_mpesa_pushes (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    visit_id BIGINT NOT NULL REFERENCES visits (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    phone TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0 AND amount_cents % 100 = 0),
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
    requested_by BIGINT NOT NULL REFERENCES users (id),
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
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('stk_callback', 'c2b_confirmation', 'c2b_validation', 'stk_query', 'statement')),
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);

CREATE TABLE billing_mpesa_receipts (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    receipt TEXT NOT NULL UNIQUE,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    phone TEXT,
    bill_ref TEXT,
    paid_at TEXT,
    source TEXT NOT NULL CHECK (source IN ('stk', 'c2b', 'statement')),
    status TEXT NOT NULL CHECK (status IN ('booked', 'unmatched')),
    -- The bill it was meant for, when the reference or push named one.
    visit_id BIGINT REFERENCES visits (id),
    push_id BIGINT REFERENCES billing_mpesa_pushes (id),
    payment_id BIGINT REFERENCES billing_payments (id),
    received_at TEXT NOT NULL,
    booked_by BIGINT REFERENCES users (id),
    CHECK ((status = 'booked') = (payment_id IS NOT NULL))
);
CREATE INDEX billing_mpesa_receipts_unmatched ON billing_mpesa_receipts (received_at) WHERE status = 'unmatched';

CREATE TRIGGER billing_mpesa_pushes_uuid_fixed BEFORE UPDATE OF uuid ON billing_mpesa_pushes
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER billing_mpesa_pushes_no_delete BEFORE DELETE ON billing_mpesa_pushes
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_mpesa_pushes_no_truncate BEFORE TRUNCATE ON billing_mpesa_pushes
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_mpesa_messages_no_update BEFORE UPDATE ON billing_mpesa_messages
FOR EACH ROW EXECUTE FUNCTION billing_refuse('a message from M-Pesa is kept as it came');
CREATE TRIGGER billing_mpesa_messages_no_delete BEFORE DELETE ON billing_mpesa_messages
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_mpesa_messages_no_truncate BEFORE TRUNCATE ON billing_mpesa_messages
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_mpesa_receipts_uuid_fixed BEFORE UPDATE OF uuid ON billing_mpesa_receipts
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
-- A receipt is booked once and then never changes.
CREATE FUNCTION billing_mpesa_receipt_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'booked' OR NEW.receipt <> OLD.receipt OR NEW.amount_cents <> OLD.amount_cents THEN
        RAISE EXCEPTION 'a booked M-Pesa receipt never changes';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER billing_mpesa_receipts_booked BEFORE UPDATE ON billing_mpesa_receipts
FOR EACH ROW EXECUTE FUNCTION billing_mpesa_receipt_update();
CREATE TRIGGER billing_mpesa_receipts_no_delete BEFORE DELETE ON billing_mpesa_receipts
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_mpesa_receipts_no_truncate BEFORE TRUNCATE ON billing_mpesa_receipts
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
