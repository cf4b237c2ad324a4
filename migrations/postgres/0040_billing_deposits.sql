-- Deposits: money a patient pays ahead (on admission, before a procedure), booked with a receipt
-- in the cashier's shift like any payment but held for the visit's bill, and used when the bill
-- is settled (at discharge). What is used moves by a guarded update and is allocated to the
-- invoices it pays; a deposit is never edited or deleted.

ALTER TABLE billing_payments ADD COLUMN purpose TEXT NOT NULL DEFAULT 'bill'
    CHECK (purpose IN ('bill', 'deposit'));

CREATE TABLE billing_deposits (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    payment_id BIGINT NOT NULL UNIQUE REFERENCES billing_payments (id),
    visit_id BIGINT NOT NULL REFERENCES visits (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    used_cents BIGINT NOT NULL DEFAULT 0 CHECK (used_cents >= 0),
    CHECK (used_cents <= amount_cents)
);
CREATE INDEX billing_deposits_visit ON billing_deposits (visit_id);

-- Only what is used of a deposit moves, and only upwards.
CREATE FUNCTION billing_deposit_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.uuid <> OLD.uuid OR NEW.payment_id <> OLD.payment_id OR NEW.visit_id <> OLD.visit_id
       OR NEW.patient_id <> OLD.patient_id OR NEW.amount_cents <> OLD.amount_cents
       OR NEW.used_cents < OLD.used_cents THEN
        RAISE EXCEPTION 'a deposit never changes except by being used';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER billing_deposits_uuid_fixed BEFORE UPDATE OF uuid ON billing_deposits
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER billing_deposits_fixed BEFORE UPDATE ON billing_deposits
FOR EACH ROW EXECUTE FUNCTION billing_deposit_update();
CREATE TRIGGER billing_deposits_no_delete BEFORE DELETE ON billing_deposits
FOR EACH ROW EXECUTE FUNCTION billing_refuse('billing records are never deleted');
CREATE TRIGGER billing_deposits_no_truncate BEFORE TRUNCATE ON billing_deposits
FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse('billing records are never deleted');
