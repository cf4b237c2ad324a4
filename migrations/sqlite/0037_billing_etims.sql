-- KRA eTIMS (OSCU): each issued invoice and credit note enters a submission queue in the
-- transaction that issues it. Rows form a chain per facility: a row's hash is the SHA-256 of the
-- previous row's hash and its own payload, so a row changed, removed or slipped in afterwards
-- shows (`hms billing verify`). The head row holds the last link and serialises issuing.
-- Items carry KRA's tax type (A exempt, B 16%, C zero-rated, D non-VAT, E 8%).

ALTER TABLE billing_prices ADD COLUMN tax_type TEXT NOT NULL DEFAULT 'A'
    CHECK (tax_type IN ('A', 'B', 'C', 'D', 'E'));
ALTER TABLE billing_lines ADD COLUMN tax_type TEXT NOT NULL DEFAULT 'A'
    CHECK (tax_type IN ('A', 'B', 'C', 'D', 'E'));
-- The KRA PIN an insurer's or company's invoices carry (custTin).
ALTER TABLE billing_schemes ADD COLUMN kra_pin TEXT;

CREATE TABLE billing_etims_head (
    facility_id INTEGER PRIMARY KEY REFERENCES facilities (id),
    last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
    last_hash TEXT NOT NULL
);

CREATE TABLE billing_etims_documents (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    seq INTEGER NOT NULL CHECK (seq > 0),
    invoice_id INTEGER UNIQUE REFERENCES billing_invoices (id),
    credit_note_id INTEGER UNIQUE REFERENCES billing_credit_notes (id),
    number TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    -- queued: waiting for the link (or for the one before it); sent: KRA signed it;
    -- failed: KRA refused it, and it waits for someone to look.
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    -- When the link was down: not tried again before this (backing off).
    next_attempt_at TEXT,
    -- A sender holds the document until this while it sends: no other sends it meanwhile.
    claimed_until TEXT,
    receipt_no TEXT,
    signature TEXT,
    internal_data TEXT,
    sdc_id TEXT,
    signed_at TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (facility_id, seq),
    CHECK ((invoice_id IS NULL) <> (credit_note_id IS NULL)),
    CHECK ((status = 'sent') = (signature IS NOT NULL))
);
CREATE INDEX billing_etims_documents_waiting ON billing_etims_documents (facility_id, seq)
    WHERE status <> 'sent';

-- The chain never changes; a signed document stays signed.
CREATE TRIGGER billing_etims_documents_fixed BEFORE UPDATE ON billing_etims_documents
WHEN NEW.payload IS NOT OLD.payload OR NEW.hash IS NOT OLD.hash OR NEW.prev_hash IS NOT OLD.prev_hash
    OR NEW.seq IS NOT OLD.seq OR NEW.invoice_id IS NOT OLD.invoice_id
    OR NEW.credit_note_id IS NOT OLD.credit_note_id OR OLD.status = 'sent' BEGIN
    SELECT RAISE(ABORT, 'an eTIMS document never changes once queued');
END;
CREATE TRIGGER billing_etims_documents_no_delete BEFORE DELETE ON billing_etims_documents BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_etims_head_no_delete BEFORE DELETE ON billing_etims_head BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
