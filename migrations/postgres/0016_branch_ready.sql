-- Ready for branches: every table that holds records gets `facility_id` (the facility the row
-- belongs to; row 1 of `facilities` is this install) and `uuid` (UUIDv7 made by the database at
-- insert, never changed; the pattern of 0015), existing rows get distinct uuids here (a volatile
-- default is evaluated for each existing row). Numbers and unique names that are per facility
-- (patient numbers and their yearly counter, visit tokens and their daily counter, one open
-- visit per patient and day, clinic names, service point codes) include `facility_id`. Rows of
-- the tables edited by removal are voided (`voided_at`, `voided_by`) instead of deleted.

UPDATE facilities SET name = (SELECT value FROM settings WHERE key = 'facility_name')
WHERE id = 1 AND EXISTS (SELECT 1 FROM settings WHERE key = 'facility_name' AND value <> '');
UPDATE facilities SET kmhfl_code = (SELECT value FROM settings WHERE key = 'facility_code')
WHERE id = 1 AND EXISTS (SELECT 1 FROM settings WHERE key = 'facility_code' AND value <> '');

ALTER TABLE patients
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX patients_uuid ON patients (uuid);
CREATE TRIGGER patients_uuid_fixed BEFORE UPDATE OF uuid ON patients
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
ALTER TABLE patients DROP CONSTRAINT patients_number_key;
CREATE UNIQUE INDEX patients_number ON patients (number, facility_id);

ALTER TABLE patient_identifiers
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7(),
    ADD COLUMN voided_at TEXT,
    ADD COLUMN voided_by BIGINT;
CREATE UNIQUE INDEX patient_identifiers_uuid ON patient_identifiers (uuid);
CREATE TRIGGER patient_identifiers_uuid_fixed BEFORE UPDATE OF uuid ON patient_identifiers
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
ALTER TABLE patient_identifiers DROP CONSTRAINT patient_identifiers_id_type_value_key;
CREATE UNIQUE INDEX patient_identifiers_one_holder ON patient_identifiers (id_type, value)
    WHERE voided_at IS NULL;

ALTER TABLE clinics
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX clinics_uuid ON clinics (uuid);
CREATE TRIGGER clinics_uuid_fixed BEFORE UPDATE OF uuid ON clinics
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
ALTER TABLE clinics DROP CONSTRAINT clinics_name_key;
CREATE UNIQUE INDEX clinics_name ON clinics (name, facility_id);

ALTER TABLE service_points
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX service_points_uuid ON service_points (uuid);
CREATE TRIGGER service_points_uuid_fixed BEFORE UPDATE OF uuid ON service_points
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
ALTER TABLE service_points DROP CONSTRAINT service_points_code_key;
CREATE UNIQUE INDEX service_points_code ON service_points (code, facility_id);

ALTER TABLE visits
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX visits_uuid ON visits (uuid);
CREATE TRIGGER visits_uuid_fixed BEFORE UPDATE OF uuid ON visits
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
ALTER TABLE visits DROP CONSTRAINT visits_day_token_key;
CREATE UNIQUE INDEX visits_token ON visits (day, token, facility_id);
DROP INDEX visits_one_open_per_day;
CREATE UNIQUE INDEX visits_one_open_per_day ON visits (patient_id, day, facility_id) WHERE status = 'open';

ALTER TABLE settings
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX settings_uuid ON settings (uuid);
CREATE TRIGGER settings_uuid_fixed BEFORE UPDATE OF uuid ON settings
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE facility_logo
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX facility_logo_uuid ON facility_logo (uuid);
CREATE TRIGGER facility_logo_uuid_fixed BEFORE UPDATE OF uuid ON facility_logo
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE roles
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7(),
    ADD COLUMN voided_at TEXT,
    ADD COLUMN voided_by BIGINT;
CREATE UNIQUE INDEX roles_uuid ON roles (uuid);
CREATE TRIGGER roles_uuid_fixed BEFORE UPDATE OF uuid ON roles
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE users
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX users_uuid ON users (uuid);
CREATE TRIGGER users_uuid_fixed BEFORE UPDATE OF uuid ON users
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE user_roles
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7(),
    ADD COLUMN voided_at TEXT,
    ADD COLUMN voided_by BIGINT;
CREATE UNIQUE INDEX user_roles_uuid ON user_roles (uuid);
CREATE TRIGGER user_roles_uuid_fixed BEFORE UPDATE OF uuid ON user_roles
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE role_grants
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7(),
    ADD COLUMN voided_at TEXT,
    ADD COLUMN voided_by BIGINT;
CREATE UNIQUE INDEX role_grants_uuid ON role_grants (uuid);
CREATE TRIGGER role_grants_uuid_fixed BEFORE UPDATE OF uuid ON role_grants
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE patient_merges
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX patient_merges_uuid ON patient_merges (uuid);
CREATE TRIGGER patient_merges_uuid_fixed BEFORE UPDATE OF uuid ON patient_merges
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE clinic_weekdays
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7(),
    ADD COLUMN voided_at TEXT,
    ADD COLUMN voided_by BIGINT;
CREATE UNIQUE INDEX clinic_weekdays_uuid ON clinic_weekdays (uuid);
CREATE TRIGGER clinic_weekdays_uuid_fixed BEFORE UPDATE OF uuid ON clinic_weekdays
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE working_hours
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7(),
    ADD COLUMN voided_at TEXT,
    ADD COLUMN voided_by BIGINT;
CREATE UNIQUE INDEX working_hours_uuid ON working_hours (uuid);
CREATE TRIGGER working_hours_uuid_fixed BEFORE UPDATE OF uuid ON working_hours
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE days_off
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7(),
    ADD COLUMN voided_at TEXT,
    ADD COLUMN voided_by BIGINT;
CREATE UNIQUE INDEX days_off_uuid ON days_off (uuid);
CREATE TRIGGER days_off_uuid_fixed BEFORE UPDATE OF uuid ON days_off
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE declared_holidays
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7(),
    ADD COLUMN voided_at TEXT,
    ADD COLUMN voided_by BIGINT;
CREATE UNIQUE INDEX declared_holidays_uuid ON declared_holidays (uuid);
CREATE TRIGGER declared_holidays_uuid_fixed BEFORE UPDATE OF uuid ON declared_holidays
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE appointments
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX appointments_uuid ON appointments (uuid);
CREATE TRIGGER appointments_uuid_fixed BEFORE UPDATE OF uuid ON appointments
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

ALTER TABLE queue_entries
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    ADD COLUMN uuid TEXT NOT NULL DEFAULT hms_uuid7();
CREATE UNIQUE INDEX queue_entries_uuid ON queue_entries (uuid);
CREATE TRIGGER queue_entries_uuid_fixed BEFORE UPDATE OF uuid ON queue_entries
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

-- Counters of per-facility number series (local tables: they never leave the server).
ALTER TABLE patient_counters
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    DROP CONSTRAINT patient_counters_pkey,
    ADD PRIMARY KEY (facility_id, year);
ALTER TABLE visit_tokens
    ADD COLUMN facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    DROP CONSTRAINT visit_tokens_pkey,
    ADD PRIMARY KEY (facility_id, day);
