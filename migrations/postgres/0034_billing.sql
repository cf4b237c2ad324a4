-- Billing: schemes and their dated price lists, a visit's account, priced lines, invoices with
-- gapless numbers, cashier shifts and payments. Money rows are never deleted (triggers refuse);
-- an issued invoice never changes except for what has been paid of it; a correction is a
-- reversal. Checks hold the sums: a line's amount is quantity x unit price and splits exactly
-- into the payer's and the patient's share; an invoice's paid part never exceeds its total.

CREATE TABLE billing_schemes (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('cash', 'sha', 'insurer', 'corporate')),
    credit_limit_cents BIGINT CHECK (credit_limit_cents IS NULL OR credit_limit_cents >= 0),
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

-- A price list version: in force from its date until the scheme's next version; never edited.
CREATE TABLE billing_price_lists (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    scheme_id BIGINT NOT NULL REFERENCES billing_schemes (id),
    effective_from TEXT NOT NULL,
    note TEXT,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    UNIQUE (scheme_id, effective_from)
);

CREATE TABLE billing_prices (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    list_id BIGINT NOT NULL REFERENCES billing_price_lists (id),
    item_code TEXT NOT NULL,
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    scheme_code TEXT,
    covered BIGINT NOT NULL DEFAULT 1 CHECK (covered IN (0, 1)),
    copay_cents BIGINT NOT NULL DEFAULT 0 CHECK (copay_cents >= 0),
    UNIQUE (list_id, item_code)
);

-- Who pays for a visit when it is not the visit's own payer class (an insurer, a corporate).
CREATE TABLE billing_accounts (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    visit_id BIGINT NOT NULL UNIQUE REFERENCES visits (id),
    scheme_id BIGINT NOT NULL REFERENCES billing_schemes (id),
    member_number TEXT,
    eligibility TEXT NOT NULL DEFAULT 'unchecked' CHECK (eligibility IN ('unchecked', 'eligible', 'not_eligible')),
    set_by BIGINT REFERENCES users (id),
    set_at TEXT NOT NULL
);

-- The last number taken per facility, series and Nairobi year, moved in the issuing
-- transaction: a rollback gives the number back.
CREATE TABLE billing_counters (
    facility_id BIGINT NOT NULL,
    series TEXT NOT NULL,
    year BIGINT NOT NULL,
    last_number BIGINT NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (facility_id, series, year)
);

CREATE TABLE billing_invoices (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    series TEXT NOT NULL,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL CHECK (seq > 0),
    number TEXT NOT NULL UNIQUE,
    visit_id BIGINT REFERENCES visits (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    -- 'patient' or 'scheme' (then scheme_id says which)
    payer TEXT NOT NULL CHECK (payer IN ('patient', 'scheme')),
    scheme_id BIGINT REFERENCES billing_schemes (id),
    total_cents BIGINT NOT NULL CHECK (total_cents >= 0),
    paid_cents BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('draft', 'issued')),
    issued_by BIGINT REFERENCES users (id),
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
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    charge_id BIGINT NOT NULL UNIQUE REFERENCES charges (id),
    visit_id BIGINT REFERENCES visits (id),
    item_code TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity <> 0),
    unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    amount_cents BIGINT NOT NULL,
    payer_share_cents BIGINT NOT NULL,
    patient_share_cents BIGINT NOT NULL,
    price_list_id BIGINT REFERENCES billing_price_lists (id),
    scheme_code TEXT,
    patient_invoice_id BIGINT REFERENCES billing_invoices (id),
    payer_invoice_id BIGINT REFERENCES billing_invoices (id),
    CHECK (amount_cents = quantity * unit_price_cents),
    CHECK (payer_share_cents + patient_share_cents = amount_cents),
    CHECK (patient_share_cents = 0 OR patient_invoice_id IS NOT NULL),
    CHECK (payer_share_cents = 0 OR payer_invoice_id IS NOT NULL)
);
CREATE INDEX billing_lines_patient_invoice ON billing_lines (patient_invoice_id);
CREATE INDEX billing_lines_payer_invoice ON billing_lines (payer_invoice_id);
CREATE INDEX billing_lines_visit ON billing_lines (visit_id);

CREATE TABLE billing_shifts (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    cashier_id BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'approved')),
    float_cents BIGINT NOT NULL CHECK (float_cents >= 0),
    cash_taken_cents BIGINT NOT NULL DEFAULT 0 CHECK (cash_taken_cents >= 0),
    other_taken_cents BIGINT NOT NULL DEFAULT 0 CHECK (other_taken_cents >= 0),
    payments BIGINT NOT NULL DEFAULT 0,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    counted_cents BIGINT CHECK (counted_cents IS NULL OR counted_cents >= 0),
    count_detail TEXT,
    expected_cents BIGINT,
    variance_reason TEXT,
    approved_by BIGINT REFERENCES users (id),
    approved_at TEXT,
    CHECK (approved_by IS NULL OR approved_by <> cashier_id),
    CHECK (status = 'open' OR counted_cents IS NOT NULL)
);
CREATE UNIQUE INDEX billing_shifts_one_open ON billing_shifts (cashier_id) WHERE status = 'open';
CREATE INDEX billing_shifts_opened ON billing_shifts (opened_at);

CREATE TABLE billing_payments (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    series TEXT NOT NULL,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL CHECK (seq > 0),
    receipt_number TEXT NOT NULL UNIQUE,
    shift_id BIGINT NOT NULL REFERENCES billing_shifts (id),
    visit_id BIGINT REFERENCES visits (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    method TEXT NOT NULL CHECK (method IN ('cash', 'mpesa', 'card')),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0 AND amount_cents <= 1000000000),
    tendered_cents BIGINT,
    form_token TEXT UNIQUE,
    mpesa_receipt TEXT UNIQUE,
    card_reference TEXT UNIQUE,
    received_by BIGINT REFERENCES users (id),
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
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    payment_id BIGINT NOT NULL REFERENCES billing_payments (id),
    invoice_id BIGINT NOT NULL REFERENCES billing_invoices (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    UNIQUE (payment_id, invoice_id)
);
CREATE INDEX billing_allocations_invoice ON billing_allocations (invoice_id);

-- Each print of a money document: the first is the original, later ones print "COPY".
CREATE TABLE billing_prints (
    id BIGSERIAL PRIMARY KEY,
    document TEXT NOT NULL,
    document_id BIGINT NOT NULL,
    printed_by BIGINT REFERENCES users (id),
    printed_at TEXT NOT NULL
);
CREATE INDEX billing_prints_document ON billing_prints (document, document_id);

-- The desk finds charges not yet priced into a line, newest days first.
CREATE INDEX charges_posted ON charges (posted_at);

CREATE TRIGGER billing_schemes_uuid_fixed BEFORE UPDATE OF uuid ON billing_schemes
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER billing_accounts_uuid_fixed BEFORE UPDATE OF uuid ON billing_accounts
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER billing_invoices_uuid_fixed BEFORE UPDATE OF uuid ON billing_invoices
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER billing_shifts_uuid_fixed BEFORE UPDATE OF uuid ON billing_shifts
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

CREATE FUNCTION billing_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END;
$$;

-- Price lists and prices are never edited: a new version replaces them from its date.
CREATE TRIGGER billing_price_lists_no_update BEFORE UPDATE ON billing_price_lists
FOR EACH ROW EXECUTE FUNCTION billing_refuse('a price list is never edited: add a new version');
CREATE TRIGGER billing_prices_no_update BEFORE UPDATE ON billing_prices
FOR EACH ROW EXECUTE FUNCTION billing_refuse('a price list is never edited: add a new version');

-- An issued invoice changes only in what has been paid of it; issuing checks its total.
CREATE FUNCTION billing_invoice_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.total_cents <> OLD.total_cents OR NEW.number <> OLD.number
       OR NEW.patient_id <> OLD.patient_id OR NEW.visit_id IS DISTINCT FROM OLD.visit_id
       OR NEW.payer <> OLD.payer OR NEW.scheme_id IS DISTINCT FROM OLD.scheme_id
       OR NEW.uuid <> OLD.uuid
       OR (OLD.status = 'issued' AND NEW.status <> 'issued')
       OR (OLD.status = 'draft' AND NEW.paid_cents <> OLD.paid_cents) THEN
        RAISE EXCEPTION 'an issued invoice never changes: issue a credit note';
    END IF;
    IF OLD.status = 'draft' AND NEW.status = 'issued' AND NEW.total_cents <> (
        SELECT COALESCE(SUM(CASE WHEN patient_invoice_id = NEW.id THEN patient_share_cents ELSE 0 END
                          + CASE WHEN payer_invoice_id = NEW.id THEN payer_share_cents ELSE 0 END), 0)
        FROM billing_lines WHERE patient_invoice_id = NEW.id OR payer_invoice_id = NEW.id) THEN
        RAISE EXCEPTION 'an invoice''s total must equal the sum of its lines';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER billing_invoices_frozen BEFORE UPDATE ON billing_invoices
FOR EACH ROW EXECUTE FUNCTION billing_invoice_update();

CREATE TRIGGER billing_lines_no_update BEFORE UPDATE ON billing_lines
FOR EACH ROW EXECUTE FUNCTION billing_refuse('an invoice line never changes: issue a credit note');
CREATE FUNCTION billing_line_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM billing_invoices WHERE status = 'issued'
               AND id IN (NEW.patient_invoice_id, NEW.payer_invoice_id)) THEN
        RAISE EXCEPTION 'an issued invoice takes no new lines';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER billing_lines_issued BEFORE INSERT ON billing_lines
FOR EACH ROW EXECUTE FUNCTION billing_line_insert();
CREATE TRIGGER billing_payments_no_update BEFORE UPDATE ON billing_payments
FOR EACH ROW EXECUTE FUNCTION billing_refuse('a payment never changes: record a refund');

CREATE TRIGGER billing_allocations_no_update BEFORE UPDATE ON billing_allocations
FOR EACH ROW EXECUTE FUNCTION billing_refuse('a payment never changes: record a refund');

-- Nothing of money is ever deleted.
CREATE TRIGGER billing_allocations_no_delete BEFORE DELETE ON billing_allocations
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_allocations_no_truncate BEFORE TRUNCATE ON billing_allocations
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_schemes_no_delete BEFORE DELETE ON billing_schemes
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_schemes_no_truncate BEFORE TRUNCATE ON billing_schemes
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_price_lists_no_delete BEFORE DELETE ON billing_price_lists
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_price_lists_no_truncate BEFORE TRUNCATE ON billing_price_lists
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_prices_no_delete BEFORE DELETE ON billing_prices
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_prices_no_truncate BEFORE TRUNCATE ON billing_prices
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_accounts_no_delete BEFORE DELETE ON billing_accounts
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_accounts_no_truncate BEFORE TRUNCATE ON billing_accounts
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_counters_no_delete BEFORE DELETE ON billing_counters
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_counters_no_truncate BEFORE TRUNCATE ON billing_counters
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_invoices_no_delete BEFORE DELETE ON billing_invoices
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_invoices_no_truncate BEFORE TRUNCATE ON billing_invoices
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_lines_no_delete BEFORE DELETE ON billing_lines
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_lines_no_truncate BEFORE TRUNCATE ON billing_lines
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_shifts_no_delete BEFORE DELETE ON billing_shifts
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_shifts_no_truncate BEFORE TRUNCATE ON billing_shifts
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_payments_no_delete BEFORE DELETE ON billing_payments
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_payments_no_truncate BEFORE TRUNCATE ON billing_payments
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_prints_no_delete BEFORE DELETE ON billing_prints
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_prints_no_truncate BEFORE TRUNCATE ON billing_prints
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');

-- The cash and SHA schemes every facility has; insurers and corporates are added on screen.
INSERT INTO billing_schemes (code, name, kind, created_at) VALUES
    ('cash', 'Cash', 'cash', '2026-01-01T00:00:00.000Z'),
    ('sha', 'Social Health Authority (SHA)', 'sha', '2026-01-01T00:00:00.000Z');
