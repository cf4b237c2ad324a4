-- Facilities and global identity. Row 1 is this install's facility (named at setup). Every
-- table that holds records carries `facility_id` and `uuid`: a UUIDv7 set by the database at
-- insert (`uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7()`) and never changed (trigger
-- `hms_uuid_fixed`), so branches can sync rows while URLs keep the short integer ids.

-- 48 bits of Unix milliseconds, version 7, variant 10, random bits from gen_random_uuid().
CREATE FUNCTION hms_uuid7() RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t TEXT := lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT), 12, '0');
    r TEXT := replace(gen_random_uuid()::TEXT, '-', '');
BEGIN
    RETURN substr(t, 1, 8) || '-' || substr(t, 9, 4)
        || '-7' || substr(r, 1, 3)
        || '-' || substr('89ab', 1 + floor(random() * 4)::INT, 1) || substr(r, 4, 3)
        || '-' || substr(r, 7, 12);
END
$$;

CREATE FUNCTION hms_uuid_fixed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.uuid IS DISTINCT FROM OLD.uuid THEN
        RAISE EXCEPTION 'a record''s uuid never changes';
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE facilities (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    kmhfl_code TEXT,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TRIGGER facilities_uuid_fixed BEFORE UPDATE OF uuid ON facilities
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

INSERT INTO facilities (id, name, created_at)
VALUES (1, 'This facility', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
SELECT setval(pg_get_serial_sequence('facilities', 'id'), 1);
