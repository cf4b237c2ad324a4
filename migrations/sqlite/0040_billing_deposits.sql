-- Deposits: money a patient pays ahead (on admission, before a procedure), booked with a receipt
-- in the cashier's shift like any payment but held for the visit's bill, and used when the bill
-- is settled (at discharge). What is used moves by a guarded update and is allocated to the
-- invoices it pays; a deposit is never edited or deleted.

ALTER TABLE billing_payments ADD COLUMN purpose TEXT NOT NULL DEFAULT 'bill'
    CHECK (purpose IN ('bill', 'deposit'));

CREATE TABLE billing_deposits (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    payment_id INTEGER NOT NULL UNIQUE REFERENCES billing_payments (id),
    visit_id INTEGER NOT NULL REFERENCES visits (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    used_cents INTEGER NOT NULL DEFAULT 0 CHECK (used_cents >= 0),
    CHECK (used_cents <= amount_cents)
);
CREATE INDEX billing_deposits_visit ON billing_deposits (visit_id);

CREATE TRIGGER billing_deposits_uuid AFTER INSERT ON billing_deposits WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_deposits SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_deposits_uuid_fixed BEFORE UPDATE OF uuid ON billing_deposits
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
-- Only what is used of a deposit moves, and only upwards.
CREATE TRIGGER billing_deposits_fixed BEFORE UPDATE ON billing_deposits
WHEN OLD.uuid IS NOT NULL AND (NEW.uuid IS NOT OLD.uuid OR NEW.payment_id IS NOT OLD.payment_id
    OR NEW.visit_id IS NOT OLD.visit_id OR NEW.patient_id IS NOT OLD.patient_id
    OR NEW.amount_cents IS NOT OLD.amount_cents OR NEW.used_cents < OLD.used_cents) BEGIN
    SELECT RAISE(ABORT, 'a deposit never changes except by being used');
END;
CREATE TRIGGER billing_deposits_no_delete BEFORE DELETE ON billing_deposits BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
