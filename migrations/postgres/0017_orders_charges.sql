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
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    kind TEXT NOT NULL,
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    visit_id BIGINT REFERENCES visits (id),
    placer_module TEXT NOT NULL,
    placer_ref TEXT,
    order_group TEXT,
    code TEXT,
    free_text TEXT,
    display TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    quantity BIGINT NOT NULL DEFAULT 1,
    quantity_done BIGINT NOT NULL DEFAULT 0,
    priority TEXT NOT NULL DEFAULT 'routine',
    state TEXT NOT NULL DEFAULT 'placed',
    reason TEXT,
    outcome_summary TEXT,
    outcome_flag TEXT,
    placed_by BIGINT REFERENCES users (id),
    placed_at TEXT NOT NULL,
    started_by BIGINT REFERENCES users (id),
    started_at TEXT,
    ended_by BIGINT REFERENCES users (id),
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

CREATE TABLE order_outcomes (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    summary TEXT NOT NULL,
    flag TEXT NOT NULL,
    amended BIGINT NOT NULL DEFAULT 0,
    recorded_by BIGINT REFERENCES users (id),
    recorded_at TEXT NOT NULL,
    CHECK (flag IN ('normal', 'abnormal', 'critical')),
    CHECK (amended IN (0, 1))
);
CREATE INDEX order_outcomes_order ON order_outcomes (order_id, id);

CREATE TABLE order_alerts (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    outcome_id BIGINT NOT NULL REFERENCES order_outcomes (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    created_at TEXT NOT NULL,
    acknowledged_at TEXT
);
CREATE INDEX order_alerts_open ON order_alerts (user_id, acknowledged_at);

CREATE TABLE charge_items (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    module TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (price_cents >= 0)
);

CREATE TABLE charges (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    visit_id BIGINT REFERENCES visits (id),
    item_code TEXT NOT NULL REFERENCES charge_items (code),
    quantity BIGINT NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    service_point TEXT,
    source TEXT NOT NULL,
    source_ref TEXT NOT NULL,
    reverses BIGINT REFERENCES charges (id),
    posted_by BIGINT REFERENCES users (id),
    posted_at TEXT NOT NULL,
    UNIQUE (source, source_ref),
    CHECK (quantity <> 0),
    CHECK (unit_price_cents >= 0),
    CHECK ((reverses IS NULL AND quantity > 0) OR (reverses IS NOT NULL AND quantity < 0))
);
CREATE INDEX charges_visit ON charges (visit_id);
CREATE INDEX charges_patient ON charges (patient_id, posted_at);
CREATE INDEX charges_reverses ON charges (reverses);

CREATE TRIGGER orders_uuid_fixed BEFORE UPDATE OF uuid ON orders
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

CREATE TRIGGER order_outcomes_uuid_fixed BEFORE UPDATE OF uuid ON order_outcomes
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

CREATE TRIGGER order_alerts_uuid_fixed BEFORE UPDATE OF uuid ON order_alerts
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

CREATE TRIGGER charge_items_uuid_fixed BEFORE UPDATE OF uuid ON charge_items
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

CREATE FUNCTION charges_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'charges are append-only: post a reversal instead';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER charges_no_update BEFORE UPDATE OR DELETE ON charges
    FOR EACH ROW EXECUTE FUNCTION charges_append_only();

CREATE TRIGGER charges_no_truncate BEFORE TRUNCATE ON charges
    FOR EACH STATEMENT EXECUTE FUNCTION charges_append_only();
