-- Billing adjustments: a credit note, a waiver or a refund is asked for with a reason and
-- approved by a second person (never the one who asked); approval issues a credit note from the
-- CN series, which cites the invoice and is never larger than what is left of it. A refund also
-- pays money back (from the cashier's open shift when in cash) and takes it off what was paid.

-- What has been credited of an invoice: paid and credited together never exceed the total.
ALTER TABLE billing_invoices ADD COLUMN credited_cents INTEGER NOT NULL DEFAULT 0
    CHECK (credited_cents >= 0 AND paid_cents + credited_cents <= total_cents);

-- Cash paid out of the drawer for refunds: never more than the float and the cash taken.
ALTER TABLE billing_shifts ADD COLUMN cash_refunded_cents INTEGER NOT NULL DEFAULT 0
    CHECK (cash_refunded_cents >= 0 AND cash_refunded_cents <= float_cents + cash_taken_cents);

-- The desk's open invoices: what is neither paid nor credited.
DROP INDEX billing_invoices_open;
CREATE INDEX billing_invoices_open ON billing_invoices (visit_id)
    WHERE payer = 'patient' AND paid_cents + credited_cents < total_cents;

-- A credited part only grows, and only on an issued invoice.
CREATE TRIGGER billing_invoices_credited BEFORE UPDATE OF credited_cents ON billing_invoices
WHEN NEW.credited_cents < OLD.credited_cents
    OR (OLD.status = 'draft' AND NEW.credited_cents <> OLD.credited_cents) BEGIN
    SELECT RAISE(ABORT, 'a credit note is never taken back');
END;

CREATE TABLE billing_requests (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    kind TEXT NOT NULL CHECK (kind IN ('credit', 'waiver', 'refund')),
    invoice_id INTEGER NOT NULL REFERENCES billing_invoices (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0 AND amount_cents <= 1000000000),
    reason TEXT NOT NULL CHECK (length(reason) >= 3),
    -- MOH 717 counts waivers (G.3) and exemptions (G.4) apart.
    category TEXT CHECK (category IS NULL OR category IN ('waiver', 'exemption')),
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'done')),
    requested_by INTEGER NOT NULL REFERENCES users (id),
    requested_at TEXT NOT NULL,
    decided_by INTEGER REFERENCES users (id),
    decided_at TEXT,
    decision_note TEXT,
    CHECK (decided_by IS NULL OR decided_by <> requested_by),
    CHECK (status = 'pending' OR decided_by IS NOT NULL),
    CHECK ((kind = 'waiver') = (category IS NOT NULL))
);
CREATE INDEX billing_requests_invoice ON billing_requests (invoice_id);
CREATE INDEX billing_requests_open ON billing_requests (requested_at)
    WHERE status IN ('pending', 'approved');
CREATE INDEX billing_requests_decided ON billing_requests (decided_at);

-- The credit note an approved request issued: numbered CN-<year>-<n> without gaps.
CREATE TABLE billing_credit_notes (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    series TEXT NOT NULL,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL CHECK (seq > 0),
    number TEXT NOT NULL UNIQUE,
    request_id INTEGER NOT NULL UNIQUE REFERENCES billing_requests (id),
    invoice_id INTEGER NOT NULL REFERENCES billing_invoices (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL CHECK (kind IN ('credit', 'waiver', 'refund')),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    reason TEXT NOT NULL,
    -- A refund pays the money back: in cash from the cashier's open shift, or by M-Pesa.
    refund_method TEXT CHECK (refund_method IS NULL OR refund_method IN ('cash', 'mpesa')),
    shift_id INTEGER REFERENCES billing_shifts (id),
    issued_by INTEGER REFERENCES users (id),
    issued_at TEXT NOT NULL,
    UNIQUE (facility_id, series, year, seq),
    CHECK ((kind = 'refund') = (refund_method IS NOT NULL AND shift_id IS NOT NULL))
);
CREATE INDEX billing_credit_notes_invoice ON billing_credit_notes (invoice_id);
CREATE INDEX billing_credit_notes_shift ON billing_credit_notes (shift_id);

CREATE TRIGGER billing_requests_uuid AFTER INSERT ON billing_requests WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_requests SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_requests_uuid_fixed BEFORE UPDATE OF uuid ON billing_requests
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
-- A request changes only by its decision: pending to approved, rejected or done; approved
-- (a refund waiting to be paid out) to done. What was asked never changes.
CREATE TRIGGER billing_requests_decided BEFORE UPDATE ON billing_requests
WHEN OLD.uuid IS NOT NULL AND (NEW.kind <> OLD.kind OR NEW.invoice_id <> OLD.invoice_id
    OR NEW.amount_cents <> OLD.amount_cents OR NEW.reason <> OLD.reason
    OR NEW.category IS NOT OLD.category OR NEW.requested_by <> OLD.requested_by
    OR NEW.requested_at <> OLD.requested_at
    OR (OLD.decided_by IS NOT NULL AND NEW.decided_by IS NOT OLD.decided_by)
    OR NOT ((OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected', 'done'))
            OR (OLD.status = 'approved' AND NEW.status = 'done'))) BEGIN
    SELECT RAISE(ABORT, 'a decided request never changes');
END;
CREATE TRIGGER billing_requests_no_delete BEFORE DELETE ON billing_requests BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;

CREATE TRIGGER billing_credit_notes_uuid AFTER INSERT ON billing_credit_notes WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_credit_notes SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_credit_notes_no_update BEFORE UPDATE ON billing_credit_notes WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'a credit note never changes');
END;
CREATE TRIGGER billing_credit_notes_no_delete BEFORE DELETE ON billing_credit_notes BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
