-- Orders and charges: how departments hand work and money to each other through core.
--
-- `orders`: one row per item a department asks another to do (kind `lab`, `drug`, `admission`,
-- and kinds modules add). Its state moves by guarded updates only; the quantity done never
-- passes the quantity (CHECK). `order_outcomes`: each outcome the filler records; an amended
-- result is a new row marked `amended`, never an edit. `order_alerts`: a critical result for
-- the placer, acknowledged once.
--
-- `charge_items`: what can be charged (published by the module that sells it). `charges`: the
-- money ledger: append-only (triggers refuse UPDATE and DELETE); a mistake is a reversal row
-- with a negative quantity. `UNIQUE (source, source_ref)` makes a retried post find the charge
-- it already made.

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    kind TEXT NOT NULL,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    visit_id INTEGER REFERENCES visits (id),
    placer_module TEXT NOT NULL,
    placer_ref TEXT,
    order_group TEXT,
    code TEXT,
    free_text TEXT,
    display TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    quantity INTEGER NOT NULL DEFAULT 1,
    quantity_done INTEGER NOT NULL DEFAULT 0,
    priority TEXT NOT NULL DEFAULT 'routine',
    state TEXT NOT NULL DEFAULT 'placed',
    reason TEXT,
    outcome_summary TEXT,
    outcome_flag TEXT,
    placed_by INTEGER REFERENCES users (id),
    placed_at TEXT NOT NULL,
    started_by INTEGER REFERENCES users (id),
    started_at TEXT,
    ended_by INTEGER REFERENCES users (id),
    ended_at TEXT,
    CHECK (code IS NOT NULL OR free_text IS NOT NULL),
    CHECK (quantity > 0),
    CHECK (quantity_done >= 0 AND quantity_done <= quantity),
    CHECK (priority IN ('routine', 'urgent', 'stat')),
    CHECK (state IN ('placed', 'in_progress', 'completed', 'partly_done', 'cancelled',
                     'not_done', 'discontinued')),
    CHECK (outcome_flag IS NULL OR outcome_flag IN ('normal', 'abnormal', 'critical'))
);
CREATE INDEX orders_worklist ON orders (kind, state, placed_at);
CREATE INDEX orders_patient ON orders (patient_id, placed_at);
CREATE INDEX orders_visit ON orders (visit_id);

CREATE TRIGGER orders_uuid AFTER INSERT ON orders WHEN NEW.uuid IS NULL BEGIN
    UPDATE orders SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER orders_uuid_fixed BEFORE UPDATE OF uuid ON orders
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

CREATE TABLE order_outcomes (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    order_id INTEGER NOT NULL REFERENCES orders (id),
    summary TEXT NOT NULL,
    flag TEXT NOT NULL,
    amended INTEGER NOT NULL DEFAULT 0,
    recorded_by INTEGER REFERENCES users (id),
    recorded_at TEXT NOT NULL,
    CHECK (flag IN ('normal', 'abnormal', 'critical')),
    CHECK (amended IN (0, 1))
);
CREATE INDEX order_outcomes_order ON order_outcomes (order_id, id);

CREATE TRIGGER order_outcomes_uuid AFTER INSERT ON order_outcomes WHEN NEW.uuid IS NULL BEGIN
    UPDATE order_outcomes SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER order_outcomes_uuid_fixed BEFORE UPDATE OF uuid ON order_outcomes
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

CREATE TABLE order_alerts (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    order_id INTEGER NOT NULL REFERENCES orders (id),
    outcome_id INTEGER NOT NULL REFERENCES order_outcomes (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    created_at TEXT NOT NULL,
    acknowledged_at TEXT
);
CREATE INDEX order_alerts_open ON order_alerts (user_id, acknowledged_at);

CREATE TRIGGER order_alerts_uuid AFTER INSERT ON order_alerts WHEN NEW.uuid IS NULL BEGIN
    UPDATE order_alerts SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER order_alerts_uuid_fixed BEFORE UPDATE OF uuid ON order_alerts
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

CREATE TABLE charge_items (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    module TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (price_cents >= 0)
);

CREATE TRIGGER charge_items_uuid AFTER INSERT ON charge_items WHEN NEW.uuid IS NULL BEGIN
    UPDATE charge_items SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER charge_items_uuid_fixed BEFORE UPDATE OF uuid ON charge_items
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

CREATE TABLE charges (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    visit_id INTEGER REFERENCES visits (id),
    item_code TEXT NOT NULL REFERENCES charge_items (code),
    quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    service_point TEXT,
    source TEXT NOT NULL,
    source_ref TEXT NOT NULL,
    reverses INTEGER REFERENCES charges (id),
    posted_by INTEGER REFERENCES users (id),
    posted_at TEXT NOT NULL,
    UNIQUE (source, source_ref),
    CHECK (quantity <> 0),
    CHECK (unit_price_cents >= 0),
    CHECK ((reverses IS NULL AND quantity > 0) OR (reverses IS NOT NULL AND quantity < 0))
);
CREATE INDEX charges_visit ON charges (visit_id);
CREATE INDEX charges_patient ON charges (patient_id, posted_at);
CREATE INDEX charges_reverses ON charges (reverses);

-- The only change a charge ever sees is its uuid being filled in just after insert (OLD.uuid is
-- NULL then); anything else is refused, as is every DELETE.
CREATE TRIGGER charges_uuid AFTER INSERT ON charges WHEN NEW.uuid IS NULL BEGIN
    UPDATE charges SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER charges_no_update BEFORE UPDATE ON charges WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'charges are append-only: post a reversal instead');
END;
CREATE TRIGGER charges_no_delete BEFORE DELETE ON charges BEGIN
    SELECT RAISE(ABORT, 'charges are append-only: post a reversal instead');
END;
