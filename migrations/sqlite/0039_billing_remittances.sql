-- Remittances: money a scheme (SHA, an insurer, a company) pays into the facility's account
-- for its invoices, recorded by its reference (SHA's payment notice, the bank's transfer
-- reference) once per scheme, and split over the invoices it settles. Each part moves the
-- invoice's paid amount by the same guarded update as a payment; nothing is edited or deleted.

CREATE TABLE billing_remittances (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    scheme_id INTEGER NOT NULL REFERENCES billing_schemes (id),
    reference TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    received_on TEXT NOT NULL,
    note TEXT,
    recorded_by INTEGER REFERENCES users (id),
    recorded_at TEXT NOT NULL,
    UNIQUE (scheme_id, reference)
);
CREATE INDEX billing_remittances_recorded ON billing_remittances (recorded_at);

CREATE TABLE billing_remittance_parts (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    remittance_id INTEGER NOT NULL REFERENCES billing_remittances (id),
    invoice_id INTEGER NOT NULL REFERENCES billing_invoices (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    UNIQUE (remittance_id, invoice_id)
);
CREATE INDEX billing_remittance_parts_invoice ON billing_remittance_parts (invoice_id);

CREATE TRIGGER billing_remittances_uuid AFTER INSERT ON billing_remittances WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_remittances SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_remittances_no_update BEFORE UPDATE ON billing_remittances
WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'a remittance never changes: record a credit note or a refund');
END;
CREATE TRIGGER billing_remittances_no_delete BEFORE DELETE ON billing_remittances BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_remittance_parts_uuid AFTER INSERT ON billing_remittance_parts WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_remittance_parts SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_remittance_parts_no_update BEFORE UPDATE ON billing_remittance_parts
WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'a remittance never changes: record a credit note or a refund');
END;
CREATE TRIGGER billing_remittance_parts_no_delete BEFORE DELETE ON billing_remittance_parts BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
