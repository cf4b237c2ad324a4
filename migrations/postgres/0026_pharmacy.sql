-- Pharmacy and inventory: the drug catalogue, stores and their reorder levels, suppliers,
-- receipts, stock batches with the append-only stock ledger, dispenses (prescriptions and
-- over-the-counter sales), adjustments, transfers between stores and stock takes.
--
-- `stock_batches.qty_on_hand` never goes below zero (CHECK) and moves only through
-- `hms_pharmacy::stock::post`, which writes its `stock_ledger` row in the same transaction:
-- for every batch the ledger's quantities add up to the balance (`hms stock check`). The ledger
-- is never updated or deleted (triggers). Each form that moves stock carries a token UNIQUE in
-- its table, so the same request posted twice moves stock once.

CREATE TABLE drugs (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    generic_name TEXT NOT NULL,
    strength TEXT NOT NULL DEFAULT '',
    form TEXT NOT NULL,
    unit TEXT NOT NULL,
    pack_size BIGINT NOT NULL DEFAULT 1,
    route TEXT NOT NULL DEFAULT 'oral',
    drug_class TEXT NOT NULL DEFAULT '',
    allergy_groups TEXT NOT NULL DEFAULT '',
    moh717 TEXT NOT NULL DEFAULT 'common',
    controlled BIGINT NOT NULL DEFAULT 0,
    prescription_only BIGINT NOT NULL DEFAULT 1,
    level_of_care BIGINT NOT NULL DEFAULT 2,
    price_cents BIGINT NOT NULL DEFAULT 0,
    brands TEXT NOT NULL DEFAULT '',
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (pack_size > 0),
    CHECK (moh717 IN ('common', 'antibiotic', 'special')),
    CHECK (controlled IN (0, 1) AND prescription_only IN (0, 1) AND active IN (0, 1)),
    CHECK (level_of_care BETWEEN 1 AND 6),
    CHECK (price_cents >= 0)
);
CREATE INDEX drugs_name ON drugs (generic_name);

CREATE TABLE stores (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    CHECK (kind IN ('main', 'dispensary')),
    CHECK (active IN (0, 1))
);

CREATE TABLE store_levels (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id BIGINT NOT NULL REFERENCES stores (id),
    drug_id BIGINT NOT NULL REFERENCES drugs (id),
    reorder_level BIGINT NOT NULL DEFAULT 0,
    maximum_level BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    UNIQUE (store_id, drug_id),
    CHECK (reorder_level >= 0 AND maximum_level >= 0)
);

CREATE TABLE suppliers (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL DEFAULT 'wholesaler',
    phone TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    CHECK (kind IN ('kemsa', 'meds', 'wholesaler', 'donor', 'other')),
    CHECK (active IN (0, 1))
);

CREATE TABLE stock_batches (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id BIGINT NOT NULL REFERENCES stores (id),
    drug_id BIGINT NOT NULL REFERENCES drugs (id),
    batch_no TEXT NOT NULL,
    expiry TEXT NOT NULL,
    unit_cost_cents BIGINT NOT NULL DEFAULT 0,
    qty_on_hand BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (store_id, drug_id, batch_no, expiry),
    CHECK (qty_on_hand >= 0),
    CHECK (unit_cost_cents >= 0),
    CHECK (batch_no <> '')
);
CREATE INDEX stock_batches_pick ON stock_batches (store_id, drug_id, expiry, id);
CREATE INDEX stock_batches_drug ON stock_batches (drug_id, store_id);
CREATE INDEX stock_batches_expiry ON stock_batches (expiry) WHERE qty_on_hand > 0;

CREATE TABLE stock_ledger (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id BIGINT NOT NULL REFERENCES stores (id),
    drug_id BIGINT NOT NULL REFERENCES drugs (id),
    batch_id BIGINT NOT NULL REFERENCES stock_batches (id),
    quantity BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    reason TEXT,
    user_id BIGINT REFERENCES users (id),
    at TEXT NOT NULL,
    CHECK (quantity <> 0),
    CHECK (balance_after >= 0),
    CHECK (kind IN ('receipt', 'dispense', 'return', 'adjustment', 'transfer_out',
                    'transfer_in', 'stock_take'))
);
CREATE INDEX stock_ledger_batch ON stock_ledger (batch_id, id);
CREATE INDEX stock_ledger_card ON stock_ledger (drug_id, store_id, at);
CREATE INDEX stock_ledger_period ON stock_ledger (store_id, at);
CREATE INDEX stock_ledger_reference ON stock_ledger (reference);

CREATE TABLE receipts (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id BIGINT NOT NULL REFERENCES stores (id),
    supplier_id BIGINT NOT NULL REFERENCES suppliers (id),
    reference TEXT NOT NULL,
    received_on TEXT NOT NULL,
    note TEXT,
    form_token TEXT NOT NULL UNIQUE,
    posted_by BIGINT REFERENCES users (id),
    posted_at TEXT NOT NULL
);
CREATE INDEX receipts_posted ON receipts (posted_at);

CREATE TABLE receipt_lines (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    receipt_id BIGINT NOT NULL REFERENCES receipts (id),
    drug_id BIGINT NOT NULL REFERENCES drugs (id),
    batch_id BIGINT NOT NULL REFERENCES stock_batches (id),
    packs BIGINT,
    quantity BIGINT NOT NULL,
    unit_cost_cents BIGINT NOT NULL DEFAULT 0,
    CHECK (quantity > 0),
    CHECK (unit_cost_cents >= 0)
);
CREATE INDEX receipt_lines_receipt ON receipt_lines (receipt_id);

CREATE TABLE dispenses (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    kind TEXT NOT NULL,
    store_id BIGINT NOT NULL REFERENCES stores (id),
    patient_id BIGINT REFERENCES patients (id),
    visit_id BIGINT REFERENCES visits (id),
    walk_in_name TEXT,
    language TEXT NOT NULL DEFAULT 'en',
    state TEXT NOT NULL DEFAULT 'prepared',
    emergency BIGINT NOT NULL DEFAULT 0,
    form_token TEXT NOT NULL UNIQUE,
    prepared_by BIGINT REFERENCES users (id),
    prepared_at TEXT NOT NULL,
    issued_by BIGINT REFERENCES users (id),
    issued_at TEXT,
    cancelled_by BIGINT REFERENCES users (id),
    cancelled_at TEXT,
    reason TEXT,
    CHECK (kind IN ('prescription', 'sale')),
    CHECK (kind = 'sale' OR patient_id IS NOT NULL),
    CHECK (language IN ('en', 'sw')),
    CHECK (state IN ('prepared', 'issued', 'cancelled')),
    CHECK (emergency IN (0, 1))
);
CREATE INDEX dispenses_patient ON dispenses (patient_id, prepared_at);
CREATE INDEX dispenses_visit ON dispenses (visit_id);
CREATE INDEX dispenses_state ON dispenses (state, prepared_at);
CREATE INDEX dispenses_issued ON dispenses (issued_at);

CREATE TABLE dispense_lines (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    dispense_id BIGINT NOT NULL REFERENCES dispenses (id),
    order_id BIGINT REFERENCES orders (id),
    drug_id BIGINT NOT NULL REFERENCES drugs (id),
    quantity BIGINT NOT NULL,
    quantity_issued BIGINT NOT NULL DEFAULT 0,
    quantity_returned BIGINT NOT NULL DEFAULT 0,
    unit_price_cents BIGINT NOT NULL DEFAULT 0,
    instructions TEXT NOT NULL DEFAULT '',
    batch_id BIGINT REFERENCES stock_batches (id),
    batch_reason TEXT,
    charge_id BIGINT REFERENCES charges (id),
    CHECK (quantity > 0),
    CHECK (quantity_issued >= 0 AND quantity_issued <= quantity),
    CHECK (quantity_returned >= 0 AND quantity_returned <= quantity_issued),
    CHECK (unit_price_cents >= 0)
);
CREATE INDEX dispense_lines_dispense ON dispense_lines (dispense_id);
CREATE INDEX dispense_lines_order ON dispense_lines (order_id);
CREATE INDEX dispense_lines_drug ON dispense_lines (drug_id);

CREATE TABLE adjustments (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id BIGINT NOT NULL REFERENCES stores (id),
    drug_id BIGINT NOT NULL REFERENCES drugs (id),
    batch_id BIGINT NOT NULL REFERENCES stock_batches (id),
    quantity BIGINT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT,
    form_token TEXT NOT NULL UNIQUE,
    made_by BIGINT REFERENCES users (id),
    made_at TEXT NOT NULL,
    CHECK (quantity <> 0),
    CHECK (reason IN ('damaged', 'expired', 'lost', 'found', 'returned_to_supplier'))
);
CREATE INDEX adjustments_made ON adjustments (store_id, made_at);

CREATE TABLE transfers (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    from_store_id BIGINT NOT NULL REFERENCES stores (id),
    to_store_id BIGINT NOT NULL REFERENCES stores (id),
    state TEXT NOT NULL,
    note TEXT,
    form_token TEXT NOT NULL UNIQUE,
    requested_by BIGINT REFERENCES users (id),
    requested_at TEXT,
    issued_by BIGINT REFERENCES users (id),
    issued_at TEXT,
    CHECK (from_store_id <> to_store_id),
    CHECK (state IN ('requested', 'issued', 'cancelled'))
);
CREATE INDEX transfers_state ON transfers (state, requested_at);

CREATE TABLE transfer_lines (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    transfer_id BIGINT NOT NULL REFERENCES transfers (id),
    drug_id BIGINT NOT NULL REFERENCES drugs (id),
    quantity_requested BIGINT,
    quantity_issued BIGINT,
    CHECK (quantity_requested IS NULL OR quantity_requested > 0),
    CHECK (quantity_issued IS NULL OR quantity_issued >= 0)
);
CREATE INDEX transfer_lines_transfer ON transfer_lines (transfer_id);

CREATE TABLE stock_takes (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id BIGINT NOT NULL REFERENCES stores (id),
    blind BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'counting',
    note TEXT,
    started_by BIGINT REFERENCES users (id),
    started_at TEXT NOT NULL,
    submitted_by BIGINT REFERENCES users (id),
    submitted_at TEXT,
    decided_by BIGINT REFERENCES users (id),
    decided_at TEXT,
    CHECK (blind IN (0, 1)),
    CHECK (state IN ('counting', 'submitted', 'approved', 'rejected'))
);
CREATE INDEX stock_takes_state ON stock_takes (state, started_at);

CREATE TABLE stock_take_lines (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    stock_take_id BIGINT NOT NULL REFERENCES stock_takes (id),
    batch_id BIGINT NOT NULL REFERENCES stock_batches (id),
    drug_id BIGINT NOT NULL REFERENCES drugs (id),
    system_qty BIGINT,
    counted_qty BIGINT,
    counted_by BIGINT REFERENCES users (id),
    counted_at TEXT,
    UNIQUE (stock_take_id, batch_id),
    CHECK (counted_qty IS NULL OR counted_qty >= 0)
);


-- The last ledger check (`hms stock check`, nightly): kept for the administrator's card.
CREATE TABLE stock_checks (
    id BIGSERIAL PRIMARY KEY,
    ran_at TEXT NOT NULL,
    batches BIGINT NOT NULL,
    differences BIGINT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

CREATE TRIGGER drugs_uuid_fixed BEFORE UPDATE OF uuid ON drugs
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER stores_uuid_fixed BEFORE UPDATE OF uuid ON stores
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER store_levels_uuid_fixed BEFORE UPDATE OF uuid ON store_levels
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER suppliers_uuid_fixed BEFORE UPDATE OF uuid ON suppliers
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER stock_batches_uuid_fixed BEFORE UPDATE OF uuid ON stock_batches
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER stock_ledger_uuid_fixed BEFORE UPDATE OF uuid ON stock_ledger
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER receipts_uuid_fixed BEFORE UPDATE OF uuid ON receipts
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER receipt_lines_uuid_fixed BEFORE UPDATE OF uuid ON receipt_lines
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER dispenses_uuid_fixed BEFORE UPDATE OF uuid ON dispenses
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER dispense_lines_uuid_fixed BEFORE UPDATE OF uuid ON dispense_lines
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER adjustments_uuid_fixed BEFORE UPDATE OF uuid ON adjustments
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER transfers_uuid_fixed BEFORE UPDATE OF uuid ON transfers
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER transfer_lines_uuid_fixed BEFORE UPDATE OF uuid ON transfer_lines
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER stock_takes_uuid_fixed BEFORE UPDATE OF uuid ON stock_takes
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER stock_take_lines_uuid_fixed BEFORE UPDATE OF uuid ON stock_take_lines
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

CREATE FUNCTION stock_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the stock ledger is append-only: post a new movement instead';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER stock_ledger_no_update BEFORE UPDATE OR DELETE ON stock_ledger
    FOR EACH ROW EXECUTE FUNCTION stock_ledger_append_only();
CREATE TRIGGER stock_ledger_no_truncate BEFORE TRUNCATE ON stock_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION stock_ledger_append_only();
