-- SHA claims and pre-authorisations: the FHIR Bundle (Kenya eClaims IG) built from a scheme's
-- invoice or a visit's expected services, kept as sent, and what SHA answered. A claim is made
-- once per invoice; a pre-authorisation precedes the claim it names. Eligibility checks are kept
-- on the visit's account (billing_accounts.eligibility) with when they were checked.

CREATE TABLE billing_claims (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('claim', 'preauthorization')),
    invoice_id BIGINT UNIQUE REFERENCES billing_invoices (id),
    visit_id BIGINT NOT NULL REFERENCES visits (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    scheme_id BIGINT NOT NULL REFERENCES billing_schemes (id),
    preauth_id BIGINT REFERENCES billing_claims (id),
    total_cents BIGINT NOT NULL CHECK (total_cents >= 0),
    bundle TEXT NOT NULL,
    -- prepared: built, not yet accepted by the HIE (offline: exported as a file);
    -- submitted: the HIE took it; approved, partial, rejected: SHA's answer.
    status TEXT NOT NULL DEFAULT 'prepared'
        CHECK (status IN ('prepared', 'submitted', 'approved', 'partial', 'rejected')),
    approved_cents BIGINT CHECK (approved_cents IS NULL OR approved_cents >= 0),
    external_id TEXT,
    answer TEXT,
    last_error TEXT,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    submitted_at TEXT,
    decided_at TEXT,
    CHECK ((purpose = 'claim') = (invoice_id IS NOT NULL))
);
CREATE INDEX billing_claims_status ON billing_claims (status, id);
CREATE INDEX billing_claims_visit ON billing_claims (visit_id);

ALTER TABLE billing_accounts ADD COLUMN eligibility_checked_at TEXT;
ALTER TABLE billing_accounts ADD COLUMN eligibility_note TEXT;

CREATE FUNCTION billing_claims_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.bundle IS DISTINCT FROM OLD.bundle
        OR NEW.total_cents IS DISTINCT FROM OLD.total_cents
        OR NEW.invoice_id IS DISTINCT FROM OLD.invoice_id OR NEW.purpose IS DISTINCT FROM OLD.purpose THEN
        RAISE EXCEPTION 'a claim never changes once made: make another';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER billing_claims_uuid_fixed BEFORE UPDATE OF uuid ON billing_claims
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER billing_claims_fixed BEFORE UPDATE ON billing_claims
FOR EACH ROW EXECUTE FUNCTION billing_claims_fixed();
CREATE TRIGGER billing_claims_no_delete BEFORE DELETE ON billing_claims
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_claims_no_truncate BEFORE TRUNCATE ON billing_claims
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');

-- What a company owes (its open invoices), summed against its credit limit at every issue.
CREATE INDEX billing_invoices_scheme_open ON billing_invoices (scheme_id)
    WHERE payer = 'scheme' AND status = 'issued';
