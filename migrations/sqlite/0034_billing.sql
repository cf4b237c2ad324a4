-- Billing: schemes and their dated price lists, a visit's account, priced lines, invoices with
-- gapless numbers, cashier shifts and payments. Money rows are never deleted (triggers refuse);
-- an issued invoice never changes except for what has been paid of it; a correction is a
-- reversal. Checks hold the sums: a line's amount is quantity x unit price and splits exactly
-- into the payer's and the patient's share; an invoice's paid part never exceeds its total.

CREATE TABLE billing_schemes (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('cash', 'sha', 'insurer', 'corporate')),
    credit_limit_cents INTEGER CHECK (credit_limit_cents IS NULL OR credit_limit_cents >= 0),
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

-- A price list version: in force from its date until the scheme's next version; never edited.
CREATE TABLE billing_price_lists (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    scheme_id INTEGER NOT NULL REFERENCES billing_schemes (id),
    effective_from TEXT NOT NULL,
    note TEXT,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    UNIQUE (scheme_id, effective_from)
);

CREATE TABLE billing_prices (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    list_id INTEGER NOT NULL REFERENCES billing_price_lists (id),
    item_code TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    scheme_code TEXT,
    covered INTEGER NOT NULL DEFAULT 1 CHECK (covered IN (0, 1)),
    copay_cents INTEGER NOT NULL DEFAULT 0 CHECK (copay_cents >= 0),
    UNIQUE (list_id, item_code)
);

-- Who pays for a visit when it is not the visit's own payer class (an insurer, a corporate).
CREATE TABLE billing_accounts (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    visit_id INTEGER NOT NULL UNIQUE REFERENCES visits (id),
    scheme_id INTEGER NOT NULL REFERENCES billing_schemes (id),
    member_number TEXT,
    eligibility TEXT NOT NULL DEFAULT 'unchecked' CHECK (eligibility IN ('unchecked', 'eligible', 'not_eligible')),
    set_by INTEGER REFERENCES users (id),
    set_at TEXT NOT NULL
);

-- The last number taken per facility, series and Nairobi year, moved in the issuing
-- transaction: a rollback gives the number back.
CREATE TABLE billing_counters (
    facility_id INTEGER NOT NULL,
    series TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_number INTEGER NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (facility_id, series, year)
);

CREATE TABLE billing_invoices (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    series TEXT NOT NULL,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL CHECK (seq > 0),
    number TEXT NOT NULL UNIQUE,
    visit_id INTEGER REFERENCES visits (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    -- 'patient' or 'scheme' (then scheme_id says which)
    payer TEXT NOT NULL CHECK (payer IN ('patient', 'scheme')),
    scheme_id INTEGER REFERENCES billing_schemes (id),
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    paid_cents INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('draft', 'issued')),
    issued_by INTEGER REFERENCES users (id),
    issued_at TEXT NOT NULL,
    UNIQUE (facility_id, series, year, seq),
    CHECK (paid_cents >= 0 AND paid_cents <= total_cents),
    CHECK (payer = 'patient' OR scheme_id IS NOT NULL)
);
CREATE INDEX billing_invoices_visit ON billing_invoices (visit_id);
CREATE INDEX billing_invoices_issued ON billing_invoices (issued_at);
-- The desk's patients with an invoice still open.
CREATE INDEX billing_invoices_open ON billing_invoices (visit_id)
    WHERE payer = 'patient' AND paid_cents < total_cents;

-- A charge priced: each charge at most once (UNIQUE charge_id), split between the payer's
-- invoice and the patient's.
CREATE TABLE billing_lines (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    charge_id INTEGER NOT NULL UNIQUE REFERENCES charges (id),
    visit_id INTEGER REFERENCES visits (id),
    item_code TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity <> 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    amount_cents INTEGER NOT NULL,
    payer_share_cents INTEGER NOT NULL,
    patient_share_cents INTEGER NOT NULL,
    price_list_id INTEGER REFERENCES billing_price_lists (id),
    scheme_code TEXT,
    patient_invoice_id INTEGER REFERENCES billing_invoices (id),
    payer_invoice_id INTEGER REFERENCES billing_invoices (id),
    CHECK (amount_cents = quantity * unit_price_cents),
    CHECK (payer_share_cents + patient_share_cents = amount_cents),
    CHECK (patient_share_cents = 0 OR patient_invoice_id IS NOT NULL),
    CHECK (payer_share_cents = 0 OR payer_invoice_id IS NOT NULL)
);
CREATE INDEX billing_lines_patient_invoice ON billing_lines (patient_invoice_id);
CREATE INDEX billing_lines_payer_invoice ON billing_lines (payer_invoice_id);
CREATE INDEX billing_lines_visit ON billing_lines (visit_id);

CREATE TABLE billing_shifts (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    cashier_id INTEGER NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'approved')),
    float_cents INTEGER NOT NULL CHECK (float_cents >= 0),
    cash_taken_cents INTEGER NOT NULL DEFAULT 0 CHECK (cash_taken_cents >= 0),
    other_taken_cents INTEGER NOT NULL DEFAULT 0 CHECK (other_taken_cents >= 0),
    payments INTEGER NOT NULL DEFAULT 0,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    counted_cents INTEGER CHECK (counted_cents IS NULL OR counted_cents >= 0),
    count_detail TEXT,
    expected_cents INTEGER,
    variance_reason TEXT,
    approved_by INTEGER REFERENCES users (id),
    approved_at TEXT,
    CHECK (approved_by IS NULL OR approved_by <> cashier_id),
    CHECK (status = 'open' OR counted_cents IS NOT NULL)
);
CREATE UNIQUE INDEX billing_shifts_one_open ON billing_shifts (cashier_id) WHERE status = 'open';
CREATE INDEX billing_shifts_opened ON billing_shifts (opened_at);

CREATE TABLE billing_payments (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    series TEXT NOT NULL,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL CHECK (seq > 0),
    receipt_number TEXT NOT NULL UNIQUE,
    shift_id INTEGER NOT NULL REFERENCES billing_shifts (id),
    visit_id INTEGER REFERENCES visits (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    method TEXT NOT NULL CHECK (method IN ('cash', 'mpesa', 'card')),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0 AND amount_cents <= 1000000000),
    tendered_cents INTEGER,
    form_token TEXT UNIQUE,
    mpesa_receipt TEXT UNIQUE,
    card_reference TEXT UNIQUE,
    received_by INTEGER REFERENCES users (id),
    received_at TEXT NOT NULL,
    UNIQUE (facility_id, series, year, seq),
    CHECK (tendered_cents IS NULL OR tendered_cents >= amount_cents),
    CHECK (method <> 'mpesa' OR mpesa_receipt IS NOT NULL),
    CHECK (method <> 'card' OR card_reference IS NOT NULL)
);
CREATE INDEX billing_payments_shift ON billing_payments (shift_id);
CREATE INDEX billing_payments_received ON billing_payments (received_at);

-- What of a payment went to which invoice; the invoice's paid part moves with it (guarded).
CREATE TABLE billing_allocations (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    payment_id INTEGER NOT NULL REFERENCES billing_payments (id),
    invoice_id INTEGER NOT NULL REFERENCES billing_invoices (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    UNIQUE (payment_id, invoice_id)
);
CREATE INDEX billing_allocations_invoice ON billing_allocations (invoice_id);

-- Each print of a money document: the first is the original, later ones print "COPY".
CREATE TABLE billing_prints (
    id INTEGER PRIMARY KEY,
    document TEXT NOT NULL,
    document_id INTEGER NOT NULL,
    printed_by INTEGER REFERENCES users (id),
    printed_at TEXT NOT NULL
);
CREATE INDEX billing_prints_document ON billing_prints (document, document_id);

-- The desk finds charges not yet priced into a line, newest days first.
CREATE INDEX charges_posted ON charges (posted_at);

-- Record ids, as on every record table.
CREATE TRIGGER billing_schemes_uuid AFTER INSERT ON billing_schemes WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_schemes SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_schemes_uuid_fixed BEFORE UPDATE OF uuid ON billing_schemes
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER billing_price_lists_uuid AFTER INSERT ON billing_price_lists WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_price_lists SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_prices_uuid AFTER INSERT ON billing_prices WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_prices SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_accounts_uuid AFTER INSERT ON billing_accounts WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_accounts SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_accounts_uuid_fixed BEFORE UPDATE OF uuid ON billing_accounts
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER billing_invoices_uuid AFTER INSERT ON billing_invoices WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_invoices SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_lines_uuid AFTER INSERT ON billing_lines WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_lines SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_shifts_uuid AFTER INSERT ON billing_shifts WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_shifts SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_shifts_uuid_fixed BEFORE UPDATE OF uuid ON billing_shifts
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER billing_payments_uuid AFTER INSERT ON billing_payments WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_payments SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;

-- Price lists and prices are never edited: a new version replaces them from its date.
CREATE TRIGGER billing_price_lists_no_update BEFORE UPDATE ON billing_price_lists WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'a price list is never edited: add a new version');
END;
CREATE TRIGGER billing_prices_no_update BEFORE UPDATE ON billing_prices WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'a price list is never edited: add a new version');
END;

-- An issued invoice changes only in what has been paid of it; issuing checks its total.
CREATE TRIGGER billing_invoices_frozen BEFORE UPDATE ON billing_invoices
WHEN OLD.uuid IS NOT NULL AND (NEW.total_cents <> OLD.total_cents OR NEW.number <> OLD.number
    OR NEW.patient_id <> OLD.patient_id OR NEW.visit_id IS NOT OLD.visit_id
    OR NEW.payer <> OLD.payer OR NEW.scheme_id IS NOT OLD.scheme_id
    OR (OLD.status = 'issued' AND NEW.status <> 'issued')
    OR (OLD.status = 'draft' AND NEW.paid_cents <> OLD.paid_cents)) BEGIN
    SELECT RAISE(ABORT, 'an issued invoice never changes: issue a credit note');
END;
CREATE TRIGGER billing_invoices_uuid_fixed BEFORE UPDATE OF uuid ON billing_invoices
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER billing_invoices_total BEFORE UPDATE OF status ON billing_invoices
WHEN OLD.status = 'draft' AND NEW.status = 'issued' AND NEW.total_cents <> (
    SELECT COALESCE(SUM(CASE WHEN patient_invoice_id = NEW.id THEN patient_share_cents ELSE 0 END
                      + CASE WHEN payer_invoice_id = NEW.id THEN payer_share_cents ELSE 0 END), 0)
    FROM billing_lines WHERE patient_invoice_id = NEW.id OR payer_invoice_id = NEW.id) BEGIN
    SELECT RAISE(ABORT, 'an invoice''s total must equal the sum of its lines');
END;
CREATE TRIGGER billing_lines_no_update BEFORE UPDATE ON billing_lines WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'an invoice line never changes: issue a credit note');
END;
CREATE TRIGGER billing_lines_issued BEFORE INSERT ON billing_lines
WHEN EXISTS (SELECT 1 FROM billing_invoices WHERE status = 'issued'
             AND id IN (NEW.patient_invoice_id, NEW.payer_invoice_id)) BEGIN
    SELECT RAISE(ABORT, 'an issued invoice takes no new lines');
END;
CREATE TRIGGER billing_allocations_uuid AFTER INSERT ON billing_allocations WHEN NEW.uuid IS NULL BEGIN
    UPDATE billing_allocations SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER billing_allocations_no_update BEFORE UPDATE ON billing_allocations WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'a payment never changes: record a refund');
END;
CREATE TRIGGER billing_payments_no_update BEFORE UPDATE ON billing_payments WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'a payment never changes: record a refund');
END;

-- Nothing of money is ever deleted.
CREATE TRIGGER billing_schemes_no_delete BEFORE DELETE ON billing_schemes BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_price_lists_no_delete BEFORE DELETE ON billing_price_lists BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_prices_no_delete BEFORE DELETE ON billing_prices BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_accounts_no_delete BEFORE DELETE ON billing_accounts BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_counters_no_delete BEFORE DELETE ON billing_counters BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_invoices_no_delete BEFORE DELETE ON billing_invoices BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_lines_no_delete BEFORE DELETE ON billing_lines BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_shifts_no_delete BEFORE DELETE ON billing_shifts BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_payments_no_delete BEFORE DELETE ON billing_payments BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_allocations_no_delete BEFORE DELETE ON billing_allocations BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;
CREATE TRIGGER billing_prints_no_delete BEFORE DELETE ON billing_prints BEGIN
    SELECT RAISE(ABORT, 'billing records are never deleted');
END;

-- The cash and SHA schemes every facility has; insurers and corporates are added on screen.
INSERT INTO billing_schemes (code, name, kind, created_at) VALUES
    ('cash', 'Cash', 'cash', '2026-01-01T00:00:00.000Z'),
    ('sha', 'Social Health Authority (SHA)', 'sha', '2026-01-01T00:00:00.000Z');
