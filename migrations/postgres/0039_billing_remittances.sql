-- Remittances: money a scheme (SHA, an insurer, a company) pays into the facility's account
-- for its invoices, recorded by its reference (SHA's payment notice, the bank's transfer
-- reference) once per scheme, and split over the invoices it settles. Each part moves the
-- invoice's paid amount by the same guarded update as a payment; nothing is edited or deleted.

CREATE TABLE billing_remittances (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    scheme_id BIGINT NOT NULL REFERENCES billing_schemes (id),
    reference TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    received_on TEXT NOT NULL,
    note TEXT,
    recorded_by BIGINT REFERENCES users (id),
    recorded_at TEXT NOT NULL,
    UNIQUE (scheme_id, reference)
);
CREATE INDEX billing_remittances_recorded ON billing_remittances (recorded_at);

CREATE TABLE billing_remittance_parts (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    remittance_id BIGINT NOT NULL REFERENCES billing_remittances (id),
    invoice_id BIGINT NOT NULL REFERENCES billing_invoices (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    UNIQUE (remittance_id, invoice_id)
);
CREATE INDEX billing_remittance_parts_invoice ON billing_remittance_parts (invoice_id);

CREATE TRIGGER billing_remittances_no_update BEFORE UPDATE ON billing_remittances
FOR EACH ROW EXECUTE FUNCTION billing_refuse('a remittance never changes: record a credit note or a refund');
CREATE TRIGGER billing_remittances_no_delete BEFORE DELETE ON billing_remittances
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_remittances_no_truncate BEFORE TRUNCATE ON billing_remittances
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_remittance_parts_no_update BEFORE UPDATE ON billing_remittance_parts
FOR EACH ROW EXECUTE FUNCTION billing_refuse('a remittance never changes: record a credit note or a refund');
CREATE TRIGGER billing_remittance_parts_no_delete BEFORE DELETE ON billing_remittance_parts
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_remittance_parts_no_truncate BEFORE TRUNCATE ON billing_remittance_parts
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
