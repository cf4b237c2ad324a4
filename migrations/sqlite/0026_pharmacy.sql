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
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    generic_name TEXT NOT NULL,
    strength TEXT NOT NULL DEFAULT '',
    form TEXT NOT NULL,
    unit TEXT NOT NULL,
    pack_size INTEGER NOT NULL DEFAULT 1,
    route TEXT NOT NULL DEFAULT 'oral',
    drug_class TEXT NOT NULL DEFAULT '',
    allergy_groups TEXT NOT NULL DEFAULT '',
    moh717 TEXT NOT NULL DEFAULT 'common',
    controlled INTEGER NOT NULL DEFAULT 0,
    prescription_only INTEGER NOT NULL DEFAULT 1,
    level_of_care INTEGER NOT NULL DEFAULT 2,
    price_cents INTEGER NOT NULL DEFAULT 0,
    brands TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
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
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    CHECK (kind IN ('main', 'dispensary')),
    CHECK (active IN (0, 1))
);

CREATE TABLE store_levels (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id INTEGER NOT NULL REFERENCES stores (id),
    drug_id INTEGER NOT NULL REFERENCES drugs (id),
    reorder_level INTEGER NOT NULL DEFAULT 0,
    maximum_level INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    UNIQUE (store_id, drug_id),
    CHECK (reorder_level >= 0 AND maximum_level >= 0)
);

CREATE TABLE suppliers (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL DEFAULT 'wholesaler',
    phone TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    CHECK (kind IN ('kemsa', 'meds', 'wholesaler', 'donor', 'other')),
    CHECK (active IN (0, 1))
);

CREATE TABLE stock_batches (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id INTEGER NOT NULL REFERENCES stores (id),
    drug_id INTEGER NOT NULL REFERENCES drugs (id),
    batch_no TEXT NOT NULL,
    expiry TEXT NOT NULL,
    unit_cost_cents INTEGER NOT NULL DEFAULT 0,
    qty_on_hand INTEGER NOT NULL DEFAULT 0,
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
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id INTEGER NOT NULL REFERENCES stores (id),
    drug_id INTEGER NOT NULL REFERENCES drugs (id),
    batch_id INTEGER NOT NULL REFERENCES stock_batches (id),
    quantity INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    reason TEXT,
    user_id INTEGER REFERENCES users (id),
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
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id INTEGER NOT NULL REFERENCES stores (id),
    supplier_id INTEGER NOT NULL REFERENCES suppliers (id),
    reference TEXT NOT NULL,
    received_on TEXT NOT NULL,
    note TEXT,
    form_token TEXT NOT NULL UNIQUE,
    posted_by INTEGER REFERENCES users (id),
    posted_at TEXT NOT NULL
);
CREATE INDEX receipts_posted ON receipts (posted_at);

CREATE TABLE receipt_lines (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    receipt_id INTEGER NOT NULL REFERENCES receipts (id),
    drug_id INTEGER NOT NULL REFERENCES drugs (id),
    batch_id INTEGER NOT NULL REFERENCES stock_batches (id),
    packs INTEGER,
    quantity INTEGER NOT NULL,
    unit_cost_cents INTEGER NOT NULL DEFAULT 0,
    CHECK (quantity > 0),
    CHECK (unit_cost_cents >= 0)
);
CREATE INDEX receipt_lines_receipt ON receipt_lines (receipt_id);

CREATE TABLE dispenses (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    kind TEXT NOT NULL,
    store_id INTEGER NOT NULL REFERENCES stores (id),
    patient_id INTEGER REFERENCES patients (id),
    visit_id INTEGER REFERENCES visits (id),
    walk_in_name TEXT,
    language TEXT NOT NULL DEFAULT 'en',
    state TEXT NOT NULL DEFAULT 'prepared',
    emergency INTEGER NOT NULL DEFAULT 0,
    form_token TEXT NOT NULL UNIQUE,
    prepared_by INTEGER REFERENCES users (id),
    prepared_at TEXT NOT NULL,
    issued_by INTEGER REFERENCES users (id),
    issued_at TEXT,
    cancelled_by INTEGER REFERENCES users (id),
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
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    dispense_id INTEGER NOT NULL REFERENCES dispenses (id),
    order_id INTEGER REFERENCES orders (id),
    drug_id INTEGER NOT NULL REFERENCES drugs (id),
    quantity INTEGER NOT NULL,
    quantity_issued INTEGER NOT NULL DEFAULT 0,
    quantity_returned INTEGER NOT NULL DEFAULT 0,
    unit_price_cents INTEGER NOT NULL DEFAULT 0,
    instructions TEXT NOT NULL DEFAULT '',
    batch_id INTEGER REFERENCES stock_batches (id),
    batch_reason TEXT,
    charge_id INTEGER REFERENCES charges (id),
    CHECK (quantity > 0),
    CHECK (quantity_issued >= 0 AND quantity_issued <= quantity),
    CHECK (quantity_returned >= 0 AND quantity_returned <= quantity_issued),
    CHECK (unit_price_cents >= 0)
);
CREATE INDEX dispense_lines_dispense ON dispense_lines (dispense_id);
CREATE INDEX dispense_lines_order ON dispense_lines (order_id);
CREATE INDEX dispense_lines_drug ON dispense_lines (drug_id);

CREATE TABLE adjustments (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id INTEGER NOT NULL REFERENCES stores (id),
    drug_id INTEGER NOT NULL REFERENCES drugs (id),
    batch_id INTEGER NOT NULL REFERENCES stock_batches (id),
    quantity INTEGER NOT NULL,
    reason TEXT NOT NULL,
    note TEXT,
    form_token TEXT NOT NULL UNIQUE,
    made_by INTEGER REFERENCES users (id),
    made_at TEXT NOT NULL,
    CHECK (quantity <> 0),
    CHECK (reason IN ('damaged', 'expired', 'lost', 'found', 'returned_to_supplier'))
);
CREATE INDEX adjustments_made ON adjustments (store_id, made_at);

CREATE TABLE transfers (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    from_store_id INTEGER NOT NULL REFERENCES stores (id),
    to_store_id INTEGER NOT NULL REFERENCES stores (id),
    state TEXT NOT NULL,
    note TEXT,
    form_token TEXT NOT NULL UNIQUE,
    requested_by INTEGER REFERENCES users (id),
    requested_at TEXT,
    issued_by INTEGER REFERENCES users (id),
    issued_at TEXT,
    CHECK (from_store_id <> to_store_id),
    CHECK (state IN ('requested', 'issued', 'cancelled'))
);
CREATE INDEX transfers_state ON transfers (state, requested_at);

CREATE TABLE transfer_lines (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    transfer_id INTEGER NOT NULL REFERENCES transfers (id),
    drug_id INTEGER NOT NULL REFERENCES drugs (id),
    quantity_requested INTEGER,
    quantity_issued INTEGER,
    CHECK (quantity_requested IS NULL OR quantity_requested > 0),
    CHECK (quantity_issued IS NULL OR quantity_issued >= 0)
);
CREATE INDEX transfer_lines_transfer ON transfer_lines (transfer_id);

CREATE TABLE stock_takes (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    store_id INTEGER NOT NULL REFERENCES stores (id),
    blind INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'counting',
    note TEXT,
    started_by INTEGER REFERENCES users (id),
    started_at TEXT NOT NULL,
    submitted_by INTEGER REFERENCES users (id),
    submitted_at TEXT,
    decided_by INTEGER REFERENCES users (id),
    decided_at TEXT,
    CHECK (blind IN (0, 1)),
    CHECK (state IN ('counting', 'submitted', 'approved', 'rejected'))
);
CREATE INDEX stock_takes_state ON stock_takes (state, started_at);

CREATE TABLE stock_take_lines (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    stock_take_id INTEGER NOT NULL REFERENCES stock_takes (id),
    batch_id INTEGER NOT NULL REFERENCES stock_batches (id),
    drug_id INTEGER NOT NULL REFERENCES drugs (id),
    system_qty INTEGER,
    counted_qty INTEGER,
    counted_by INTEGER REFERENCES users (id),
    counted_at TEXT,
    UNIQUE (stock_take_id, batch_id),
    CHECK (counted_qty IS NULL OR counted_qty >= 0)
);


-- The last ledger check (`hms stock check`, nightly): kept for the administrator's card.
CREATE TABLE stock_checks (
    id INTEGER PRIMARY KEY,
    ran_at TEXT NOT NULL,
    batches INTEGER NOT NULL,
    differences INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

CREATE TRIGGER drugs_uuid AFTER INSERT ON drugs WHEN NEW.uuid IS NULL BEGIN
    UPDATE drugs SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER drugs_uuid_fixed BEFORE UPDATE OF uuid ON drugs
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER stores_uuid AFTER INSERT ON stores WHEN NEW.uuid IS NULL BEGIN
    UPDATE stores SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER stores_uuid_fixed BEFORE UPDATE OF uuid ON stores
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER store_levels_uuid AFTER INSERT ON store_levels WHEN NEW.uuid IS NULL BEGIN
    UPDATE store_levels SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER store_levels_uuid_fixed BEFORE UPDATE OF uuid ON store_levels
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER suppliers_uuid AFTER INSERT ON suppliers WHEN NEW.uuid IS NULL BEGIN
    UPDATE suppliers SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER suppliers_uuid_fixed BEFORE UPDATE OF uuid ON suppliers
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER stock_batches_uuid AFTER INSERT ON stock_batches WHEN NEW.uuid IS NULL BEGIN
    UPDATE stock_batches SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER stock_batches_uuid_fixed BEFORE UPDATE OF uuid ON stock_batches
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER stock_ledger_uuid AFTER INSERT ON stock_ledger WHEN NEW.uuid IS NULL BEGIN
    UPDATE stock_ledger SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER receipts_uuid AFTER INSERT ON receipts WHEN NEW.uuid IS NULL BEGIN
    UPDATE receipts SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER receipts_uuid_fixed BEFORE UPDATE OF uuid ON receipts
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER receipt_lines_uuid AFTER INSERT ON receipt_lines WHEN NEW.uuid IS NULL BEGIN
    UPDATE receipt_lines SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER receipt_lines_uuid_fixed BEFORE UPDATE OF uuid ON receipt_lines
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER dispenses_uuid AFTER INSERT ON dispenses WHEN NEW.uuid IS NULL BEGIN
    UPDATE dispenses SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER dispenses_uuid_fixed BEFORE UPDATE OF uuid ON dispenses
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER dispense_lines_uuid AFTER INSERT ON dispense_lines WHEN NEW.uuid IS NULL BEGIN
    UPDATE dispense_lines SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER dispense_lines_uuid_fixed BEFORE UPDATE OF uuid ON dispense_lines
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER adjustments_uuid AFTER INSERT ON adjustments WHEN NEW.uuid IS NULL BEGIN
    UPDATE adjustments SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER adjustments_uuid_fixed BEFORE UPDATE OF uuid ON adjustments
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER transfers_uuid AFTER INSERT ON transfers WHEN NEW.uuid IS NULL BEGIN
    UPDATE transfers SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER transfers_uuid_fixed BEFORE UPDATE OF uuid ON transfers
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER transfer_lines_uuid AFTER INSERT ON transfer_lines WHEN NEW.uuid IS NULL BEGIN
    UPDATE transfer_lines SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER transfer_lines_uuid_fixed BEFORE UPDATE OF uuid ON transfer_lines
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER stock_takes_uuid AFTER INSERT ON stock_takes WHEN NEW.uuid IS NULL BEGIN
    UPDATE stock_takes SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER stock_takes_uuid_fixed BEFORE UPDATE OF uuid ON stock_takes
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER stock_take_lines_uuid AFTER INSERT ON stock_take_lines WHEN NEW.uuid IS NULL BEGIN
    UPDATE stock_take_lines SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER stock_take_lines_uuid_fixed BEFORE UPDATE OF uuid ON stock_take_lines
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

-- The only change a ledger row ever sees is its uuid being filled in just after insert.
CREATE TRIGGER stock_ledger_no_update BEFORE UPDATE ON stock_ledger WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'the stock ledger is append-only: post a new movement instead');
END;
CREATE TRIGGER stock_ledger_no_delete BEFORE DELETE ON stock_ledger BEGIN
    SELECT RAISE(ABORT, 'the stock ledger is append-only: post a new movement instead');
END;
