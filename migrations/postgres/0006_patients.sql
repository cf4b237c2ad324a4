-- patients: demographics, identifiers (one row each, any number of kinds), the name-token index
-- that makes search a prefix range scan, and the per-year patient number counter.

CREATE TABLE patients (
    id BIGSERIAL PRIMARY KEY,
    number TEXT COLLATE "C" NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    middle_name TEXT,
    last_name TEXT NOT NULL,
    sex TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    dob_estimated BIGINT NOT NULL DEFAULT 0,
    phone TEXT,
    county_code TEXT,
    sub_county TEXT,
    ward TEXT,
    kin_name TEXT,
    kin_relationship TEXT,
    kin_phone TEXT,
    allergies TEXT,
    blood_group TEXT,
    consent_contact BIGINT NOT NULL DEFAULT 0,
    consent_at TEXT,
    is_active BIGINT NOT NULL DEFAULT 1,
    inactive_reason TEXT,
    merged_into BIGINT REFERENCES patients(id),
    created_by BIGINT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX patients_phone ON patients (phone);
CREATE INDEX patients_birth_sex ON patients (date_of_birth, sex);

CREATE TABLE patient_identifiers (
    id BIGSERIAL PRIMARY KEY,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    id_type TEXT NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (id_type, value)
);
CREATE INDEX patient_identifiers_value ON patient_identifiers (value);
CREATE INDEX patient_identifiers_patient ON patient_identifiers (patient_id);

CREATE TABLE patient_name_tokens (
    token TEXT COLLATE "C" NOT NULL,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    PRIMARY KEY (token, patient_id)
);
CREATE INDEX patient_name_tokens_patient ON patient_name_tokens (patient_id);

CREATE TABLE patient_counters (
    year BIGINT PRIMARY KEY,
    next_seq BIGINT NOT NULL
);
