-- hms:foreign-keys-off
-- Ready for branches: every table that holds records gets `facility_id` (the facility the row
-- belongs to; row 1 of `facilities` is this install) and `uuid` (UUIDv7 made by the database at
-- insert, never changed; the pattern of 0015), existing rows get distinct uuids here. Numbers
-- and unique names that are per facility (patient numbers and their yearly counter, visit
-- tokens and their daily counter, one open visit per patient and day, clinic names, service
-- point codes) include `facility_id`. Rows of the tables edited by removal are voided
-- (`voided_at`, `voided_by`) instead of deleted.
--
-- Tables whose unique constraint is written inside CREATE TABLE are rebuilt (SQLite cannot drop
-- such a constraint): the first line of this file makes the migration runner switch foreign key
-- enforcement off for it and run `PRAGMA foreign_key_check` before it commits, SQLite's
-- documented way to rebuild a table others refer to. Added columns carry no REFERENCES (SQLite
-- refuses one with a non-NULL default); rebuilt tables do.

-- The install's facility takes its name and KMHFL code from the settings when they are set.
UPDATE facilities SET name = (SELECT value FROM settings WHERE key = 'facility_name')
WHERE id = 1 AND EXISTS (SELECT 1 FROM settings WHERE key = 'facility_name' AND value <> '');
UPDATE facilities SET kmhfl_code = (SELECT value FROM settings WHERE key = 'facility_code')
WHERE id = 1 AND EXISTS (SELECT 1 FROM settings WHERE key = 'facility_code' AND value <> '');

-- Tables rebuilt for their per-facility unique constraints.

CREATE TABLE patients_new (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    first_name TEXT NOT NULL,
    middle_name TEXT,
    last_name TEXT NOT NULL,
    sex TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    dob_estimated INTEGER NOT NULL DEFAULT 0,
    phone TEXT,
    county_code TEXT,
    sub_county TEXT,
    ward TEXT,
    kin_name TEXT,
    kin_relationship TEXT,
    kin_phone TEXT,
    allergies TEXT,
    blood_group TEXT,
    consent_contact INTEGER NOT NULL DEFAULT 0,
    consent_at TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    inactive_reason TEXT,
    merged_into INTEGER REFERENCES patients(id),
    created_by INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    email TEXT,
    inactive_on TEXT,
    last_visit_on TEXT,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities(id),
    uuid TEXT
);
INSERT INTO patients_new (id, number, first_name, middle_name, last_name, sex, date_of_birth, dob_estimated, phone, county_code, sub_county, ward, kin_name, kin_relationship, kin_phone, allergies, blood_group, consent_contact, consent_at, is_active, inactive_reason, merged_into, created_by, created_at, updated_at, email, inactive_on, last_visit_on, uuid)
SELECT id, number, first_name, middle_name, last_name, sex, date_of_birth, dob_estimated, phone, county_code, sub_county, ward, kin_name, kin_relationship, kin_phone, allergies, blood_group, consent_contact, consent_at, is_active, inactive_reason, merged_into, created_by, created_at, updated_at, email, inactive_on, last_visit_on, lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6))) FROM patients;
DROP TABLE patients;
ALTER TABLE patients_new RENAME TO patients;
CREATE INDEX patients_phone ON patients (phone);
CREATE INDEX patients_birth_sex ON patients (date_of_birth, sex);
CREATE INDEX patients_merged_into ON patients (merged_into);
CREATE UNIQUE INDEX patients_number ON patients (number, facility_id);
CREATE UNIQUE INDEX patients_uuid ON patients (uuid);
CREATE TRIGGER patients_uuid AFTER INSERT ON patients WHEN NEW.uuid IS NULL BEGIN
    UPDATE patients SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER patients_uuid_fixed BEFORE UPDATE OF uuid ON patients
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

CREATE TABLE patient_identifiers_new (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    id_type TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    voided_at TEXT,
    voided_by INTEGER,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities(id),
    uuid TEXT
);
INSERT INTO patient_identifiers_new (id, patient_id, id_type, value, created_at, uuid)
SELECT id, patient_id, id_type, value, created_at, lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6))) FROM patient_identifiers;
DROP TABLE patient_identifiers;
ALTER TABLE patient_identifiers_new RENAME TO patient_identifiers;
CREATE INDEX patient_identifiers_value ON patient_identifiers (value);
CREATE INDEX patient_identifiers_patient ON patient_identifiers (patient_id);
CREATE UNIQUE INDEX patient_identifiers_one_holder ON patient_identifiers (id_type, value)
    WHERE voided_at IS NULL;
CREATE UNIQUE INDEX patient_identifiers_uuid ON patient_identifiers (uuid);
CREATE TRIGGER patient_identifiers_uuid AFTER INSERT ON patient_identifiers WHEN NEW.uuid IS NULL BEGIN
    UPDATE patient_identifiers SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER patient_identifiers_uuid_fixed BEFORE UPDATE OF uuid ON patient_identifiers
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

CREATE TABLE clinics_new (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    booking TEXT NOT NULL,
    slot_minutes INTEGER NOT NULL DEFAULT 15,
    daily_capacity INTEGER NOT NULL DEFAULT 0,
    opens_on_holidays INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities(id),
    uuid TEXT
);
INSERT INTO clinics_new (id, name, booking, slot_minutes, daily_capacity, opens_on_holidays, is_active, created_at, uuid)
SELECT id, name, booking, slot_minutes, daily_capacity, opens_on_holidays, is_active, created_at, lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6))) FROM clinics;
DROP TABLE clinics;
ALTER TABLE clinics_new RENAME TO clinics;
CREATE UNIQUE INDEX clinics_name ON clinics (name, facility_id);
CREATE UNIQUE INDEX clinics_uuid ON clinics (uuid);
CREATE TRIGGER clinics_uuid AFTER INSERT ON clinics WHEN NEW.uuid IS NULL BEGIN
    UPDATE clinics SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER clinics_uuid_fixed BEFORE UPDATE OF uuid ON clinics
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

CREATE TABLE service_points_new (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    room TEXT,
    display_key_hash TEXT UNIQUE,
    sort_order INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities(id),
    uuid TEXT
);
INSERT INTO service_points_new (id, code, name, room, display_key_hash, sort_order, is_active, uuid)
SELECT id, code, name, room, display_key_hash, sort_order, is_active, lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6))) FROM service_points;
DROP TABLE service_points;
ALTER TABLE service_points_new RENAME TO service_points;
CREATE UNIQUE INDEX service_points_code ON service_points (code, facility_id);
CREATE UNIQUE INDEX service_points_uuid ON service_points (uuid);
CREATE TRIGGER service_points_uuid AFTER INSERT ON service_points WHEN NEW.uuid IS NULL BEGIN
    UPDATE service_points SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER service_points_uuid_fixed BEFORE UPDATE OF uuid ON service_points
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

CREATE TABLE visits_new (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    appointment_id INTEGER UNIQUE REFERENCES appointments(id),
    day TEXT NOT NULL,
    token INTEGER NOT NULL,
    payer TEXT NOT NULL,
    status TEXT NOT NULL,
    checked_in_by INTEGER,
    checked_in_at TEXT NOT NULL,
    closed_at TEXT,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities(id),
    uuid TEXT
);
INSERT INTO visits_new (id, patient_id, appointment_id, day, token, payer, status, checked_in_by, checked_in_at, closed_at, uuid)
SELECT id, patient_id, appointment_id, day, token, payer, status, checked_in_by, checked_in_at, closed_at, lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6))) FROM visits;
DROP TABLE visits;
ALTER TABLE visits_new RENAME TO visits;
CREATE INDEX visits_patient ON visits (patient_id, day);
CREATE INDEX visits_day ON visits (day, status);
CREATE UNIQUE INDEX visits_token ON visits (day, token, facility_id);
CREATE UNIQUE INDEX visits_one_open_per_day ON visits (patient_id, day, facility_id) WHERE status = 'open';
CREATE UNIQUE INDEX visits_uuid ON visits (uuid);
CREATE TRIGGER visits_uuid AFTER INSERT ON visits WHEN NEW.uuid IS NULL BEGIN
    UPDATE visits SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER visits_uuid_fixed BEFORE UPDATE OF uuid ON visits
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

-- Tables that take the columns as they are.

ALTER TABLE settings ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE settings ADD COLUMN uuid TEXT;
UPDATE settings SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX settings_uuid ON settings (uuid);
CREATE TRIGGER settings_uuid AFTER INSERT ON settings WHEN NEW.uuid IS NULL BEGIN
    UPDATE settings SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER settings_uuid_fixed BEFORE UPDATE OF uuid ON settings
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE facility_logo ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE facility_logo ADD COLUMN uuid TEXT;
UPDATE facility_logo SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX facility_logo_uuid ON facility_logo (uuid);
CREATE TRIGGER facility_logo_uuid AFTER INSERT ON facility_logo WHEN NEW.uuid IS NULL BEGIN
    UPDATE facility_logo SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER facility_logo_uuid_fixed BEFORE UPDATE OF uuid ON facility_logo
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE roles ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE roles ADD COLUMN uuid TEXT;
ALTER TABLE roles ADD COLUMN voided_at TEXT;
ALTER TABLE roles ADD COLUMN voided_by INTEGER;
UPDATE roles SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX roles_uuid ON roles (uuid);
CREATE TRIGGER roles_uuid AFTER INSERT ON roles WHEN NEW.uuid IS NULL BEGIN
    UPDATE roles SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER roles_uuid_fixed BEFORE UPDATE OF uuid ON roles
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE users ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN uuid TEXT;
UPDATE users SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX users_uuid ON users (uuid);
CREATE TRIGGER users_uuid AFTER INSERT ON users WHEN NEW.uuid IS NULL BEGIN
    UPDATE users SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER users_uuid_fixed BEFORE UPDATE OF uuid ON users
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE user_roles ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE user_roles ADD COLUMN uuid TEXT;
ALTER TABLE user_roles ADD COLUMN voided_at TEXT;
ALTER TABLE user_roles ADD COLUMN voided_by INTEGER;
UPDATE user_roles SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX user_roles_uuid ON user_roles (uuid);
CREATE TRIGGER user_roles_uuid AFTER INSERT ON user_roles WHEN NEW.uuid IS NULL BEGIN
    UPDATE user_roles SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER user_roles_uuid_fixed BEFORE UPDATE OF uuid ON user_roles
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE role_grants ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE role_grants ADD COLUMN uuid TEXT;
ALTER TABLE role_grants ADD COLUMN voided_at TEXT;
ALTER TABLE role_grants ADD COLUMN voided_by INTEGER;
UPDATE role_grants SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX role_grants_uuid ON role_grants (uuid);
CREATE TRIGGER role_grants_uuid AFTER INSERT ON role_grants WHEN NEW.uuid IS NULL BEGIN
    UPDATE role_grants SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER role_grants_uuid_fixed BEFORE UPDATE OF uuid ON role_grants
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE patient_merges ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE patient_merges ADD COLUMN uuid TEXT;
UPDATE patient_merges SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX patient_merges_uuid ON patient_merges (uuid);
CREATE TRIGGER patient_merges_uuid AFTER INSERT ON patient_merges WHEN NEW.uuid IS NULL BEGIN
    UPDATE patient_merges SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER patient_merges_uuid_fixed BEFORE UPDATE OF uuid ON patient_merges
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE clinic_weekdays ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE clinic_weekdays ADD COLUMN uuid TEXT;
ALTER TABLE clinic_weekdays ADD COLUMN voided_at TEXT;
ALTER TABLE clinic_weekdays ADD COLUMN voided_by INTEGER;
UPDATE clinic_weekdays SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX clinic_weekdays_uuid ON clinic_weekdays (uuid);
CREATE TRIGGER clinic_weekdays_uuid AFTER INSERT ON clinic_weekdays WHEN NEW.uuid IS NULL BEGIN
    UPDATE clinic_weekdays SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER clinic_weekdays_uuid_fixed BEFORE UPDATE OF uuid ON clinic_weekdays
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE working_hours ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE working_hours ADD COLUMN uuid TEXT;
ALTER TABLE working_hours ADD COLUMN voided_at TEXT;
ALTER TABLE working_hours ADD COLUMN voided_by INTEGER;
UPDATE working_hours SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX working_hours_uuid ON working_hours (uuid);
CREATE TRIGGER working_hours_uuid AFTER INSERT ON working_hours WHEN NEW.uuid IS NULL BEGIN
    UPDATE working_hours SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER working_hours_uuid_fixed BEFORE UPDATE OF uuid ON working_hours
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE days_off ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE days_off ADD COLUMN uuid TEXT;
ALTER TABLE days_off ADD COLUMN voided_at TEXT;
ALTER TABLE days_off ADD COLUMN voided_by INTEGER;
UPDATE days_off SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX days_off_uuid ON days_off (uuid);
CREATE TRIGGER days_off_uuid AFTER INSERT ON days_off WHEN NEW.uuid IS NULL BEGIN
    UPDATE days_off SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER days_off_uuid_fixed BEFORE UPDATE OF uuid ON days_off
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE declared_holidays ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE declared_holidays ADD COLUMN uuid TEXT;
ALTER TABLE declared_holidays ADD COLUMN voided_at TEXT;
ALTER TABLE declared_holidays ADD COLUMN voided_by INTEGER;
UPDATE declared_holidays SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX declared_holidays_uuid ON declared_holidays (uuid);
CREATE TRIGGER declared_holidays_uuid AFTER INSERT ON declared_holidays WHEN NEW.uuid IS NULL BEGIN
    UPDATE declared_holidays SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER declared_holidays_uuid_fixed BEFORE UPDATE OF uuid ON declared_holidays
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE appointments ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE appointments ADD COLUMN uuid TEXT;
UPDATE appointments SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX appointments_uuid ON appointments (uuid);
CREATE TRIGGER appointments_uuid AFTER INSERT ON appointments WHEN NEW.uuid IS NULL BEGIN
    UPDATE appointments SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER appointments_uuid_fixed BEFORE UPDATE OF uuid ON appointments
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

ALTER TABLE queue_entries ADD COLUMN facility_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE queue_entries ADD COLUMN uuid TEXT;
UPDATE queue_entries SET uuid = lower(substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 1, 8) || '-'
    || substr(printf('%012x', CAST(unixepoch('subsec') * 1000 AS INTEGER)), 9, 4)
    || '-7' || substr(hex(randomblob(2)), 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 1, 3)
    || '-' || hex(randomblob(6)));
CREATE UNIQUE INDEX queue_entries_uuid ON queue_entries (uuid);
CREATE TRIGGER queue_entries_uuid AFTER INSERT ON queue_entries WHEN NEW.uuid IS NULL BEGIN
    UPDATE queue_entries SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER queue_entries_uuid_fixed BEFORE UPDATE OF uuid ON queue_entries
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

-- Counters of per-facility number series (local tables: they never leave the server).
CREATE TABLE patient_counters_new (
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities(id),
    year INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    PRIMARY KEY (facility_id, year)
);
INSERT INTO patient_counters_new (year, next_seq) SELECT year, next_seq FROM patient_counters;
DROP TABLE patient_counters;
ALTER TABLE patient_counters_new RENAME TO patient_counters;

CREATE TABLE visit_tokens_new (
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities(id),
    day TEXT NOT NULL,
    next_token INTEGER NOT NULL,
    PRIMARY KEY (facility_id, day)
);
INSERT INTO visit_tokens_new (day, next_token) SELECT day, next_token FROM visit_tokens;
DROP TABLE visit_tokens;
ALTER TABLE visit_tokens_new RENAME TO visit_tokens;
