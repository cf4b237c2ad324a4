-- SHA claims and pre-authorisations: the FHIR Bundle (Kenya eClaims IG) built from a scheme's
-- invoice or a visit's expected services, kept as sent, and what SHA answered. A claim is made
-- once per invoice; a pre-authorisation precedes the claim it names. Eligibility checks are kept
-- on the visit's account (billing_accounts.eligibility) with when they were checked.

CREATE TABLE billing_claims (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('claim', 'preauthorization')),
    invoice_id INTEGER UNIQUE REFERENCES billing_invoices (id),
    visit_id INTEGER NOT NULL REFERENCES visits (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    scheme_id INTEGER NOT NULL REFERENCES billing_schemes (id),
    preauth_id INTEGER REFERENCES billing_claims (id),
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    bundle TEXT NOT NULL,
    -- prepared: built, not yet accepted by the HIE (offline: exported as a file);
    -- submitted: the HIE took it; approved, partial, rejected: SHA's answer.
    status TEXT NOT NULL DEFAULT 'prepared'
        CHECK (status IN ('prepared', 'submitted', 'approved', 'partial', 'rejected')),
    approved_cents INTEGER CHECK (approved_cents IS NULL OR approved_cents >= 0),
    external_id TEXT,
    answer TEXT,
    last_error TEXT,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    submitted_at TEXT,
    decided_at TEXT,
    CHECK ((purpose = 'claim') = (invoice_id IS NOT NULL))
);
CREATE INDEX billing_claims_status ON billing_claims (status, id);
CREATE INDEX billing_claims_visit ON billing_claims (visit_id);

ALTER TABLE billing_accounts ADD COLUMN eligibility_checked_at TEXT;
ALTER TABLE billing_accounts ADD COLUMN eligibility_note TEXT;

CREATE TRIGGER billing_claims_uuid AFTER INSERT ON billing_claims WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_claims SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_claims_uuid_fixed BEFORE UPDATE OF uuid ON billing_claims
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
-- What was claimed never changes; only its course does.
CREATE TRIGGER billing_claims_fixed BEFORE UPDATE ON billing_claims
WHEN OLD.uuid IS NOT NULL AND (NEW.bundle IS NOT OLD.bundle
    OR NEW.total_cents IS NOT OLD.total_cents OR NEW.invoice_id IS NOT OLD.invoice_id
    OR NEW.purpose IS NOT OLD.purpose) BEGIN
    SELECT RAISE(ABORT, 'a claim never changes once made: make another');
END;
CREATE TRIGGER billing_claims_no_delete BEFORE DELETE ON billing_claims BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;

-- What a company owes (its open invoices), summed against its credit limit at every issue.
CREATE INDEX billing_invoices_scheme_open ON billing_invoices (scheme_id)
    WHERE payer = 'scheme' AND status = 'issued';
