-- consultations: triage vitals, the doctor's notes (drafts saved as versions, signed notes never
-- changed), diagnoses counted for MOH 705 when signed, the order basket of a draft, procedures
-- done in the room, addenda, and the documents issued (numbered, every print kept).
--
-- Clinical events are never edited: a wrong vital-signs set is marked entered in error (the only
-- columns that may change, once); a signed note, its diagnoses, procedures, addenda, documents
-- and prints refuse UPDATE and DELETE (triggers, here and on PostgreSQL).

-- Vital signs, stored as integers: 0.1 °C, beats/min, breaths/min, mmHg, %, grams, mm.
CREATE TABLE vital_signs (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    visit_id INTEGER REFERENCES visits (id),
    age_days INTEGER,
    temperature_dc INTEGER,
    pulse INTEGER,
    resp_rate INTEGER,
    systolic INTEGER,
    diastolic INTEGER,
    spo2 INTEGER,
    weight_g INTEGER,
    height_mm INTEGER,
    muac_mm INTEGER,
    pain INTEGER,
    pregnant INTEGER,
    lmp TEXT,
    danger_signs TEXT NOT NULL DEFAULT '',
    triage_category TEXT,
    note TEXT,
    flags TEXT NOT NULL DEFAULT '{}',
    worst TEXT NOT NULL DEFAULT 'normal',
    checked TEXT NOT NULL DEFAULT '',
    recorded_by INTEGER REFERENCES users (id),
    recorded_at TEXT NOT NULL,
    error_at TEXT,
    error_by INTEGER REFERENCES users (id),
    error_reason TEXT,
    CHECK (worst IN ('normal', 'abnormal', 'critical')),
    CHECK (pregnant IS NULL OR pregnant IN (0, 1)),
    CHECK (systolic IS NULL OR diastolic IS NULL OR diastolic < systolic)
);
CREATE INDEX vital_signs_patient ON vital_signs (patient_id, recorded_at);
CREATE INDEX vital_signs_visit ON vital_signs (visit_id);
CREATE INDEX vital_signs_worst ON vital_signs (worst, recorded_at);

-- Encounters: one consultation note. One draft per visit at a time.
CREATE TABLE encounters (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    visit_id INTEGER NOT NULL REFERENCES visits (id),
    visit_day TEXT NOT NULL,
    clinician_id INTEGER NOT NULL REFERENCES users (id),
    state TEXT NOT NULL DEFAULT 'draft',
    version INTEGER NOT NULL DEFAULT 1,
    complaint TEXT NOT NULL DEFAULT '',
    complaint_duration TEXT NOT NULL DEFAULT '',
    history TEXT NOT NULL DEFAULT '',
    examination TEXT NOT NULL DEFAULT '',
    assessment TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '',
    outcome TEXT,
    outcome_detail TEXT NOT NULL DEFAULT '{}',
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by INTEGER REFERENCES users (id),
    signed_at TEXT,
    signed_by INTEGER REFERENCES users (id),
    CHECK (state IN ('draft', 'signed')),
    CHECK (version > 0),
    CHECK (outcome IS NULL OR outcome IN ('home', 'referral', 'follow_up', 'admit', 'died')),
    CHECK (state = 'draft' OR (signed_at IS NOT NULL AND signed_by IS NOT NULL))
);
CREATE UNIQUE INDEX encounters_one_draft ON encounters (visit_id) WHERE state = 'draft';
CREATE INDEX encounters_visit ON encounters (visit_id);
CREATE INDEX encounters_patient ON encounters (patient_id, started_at);
CREATE INDEX encounters_clinician ON encounters (clinician_id, state, updated_at);
CREATE INDEX encounters_signed ON encounters (state, visit_day);

-- Every saved version of a draft's texts (JSON), so no typed text is ever lost.
CREATE TABLE encounter_versions (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    encounter_id INTEGER NOT NULL REFERENCES encounters (id),
    version INTEGER NOT NULL,
    texts TEXT NOT NULL,
    saved_by INTEGER REFERENCES users (id),
    saved_at TEXT NOT NULL,
    UNIQUE (encounter_id, version)
);

-- Diagnoses: the catalogue (ICD-10 and our mapping to MOH 705 rows, admin-editable) and those
-- made in a consultation. Form and row are fixed at signing from the age on the visit day.
CREATE TABLE diagnosis_catalogue (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_sw TEXT,
    synonyms TEXT NOT NULL DEFAULT '',
    icd10 TEXT,
    icd11 TEXT,
    moh705a_row INTEGER,
    moh705b_row INTEGER,
    pregnancy_row INTEGER,
    mapping TEXT NOT NULL DEFAULT 'hms',
    active INTEGER NOT NULL DEFAULT 1,
    search_text TEXT NOT NULL DEFAULT '',
    updated_by INTEGER REFERENCES users (id),
    updated_at TEXT NOT NULL,
    CHECK (active IN (0, 1)),
    CHECK (mapping IN ('hms', 'admin'))
);

CREATE TABLE encounter_diagnoses (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    encounter_id INTEGER NOT NULL REFERENCES encounters (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    visit_id INTEGER NOT NULL REFERENCES visits (id),
    visit_day TEXT NOT NULL,
    catalogue_code TEXT,
    free_text TEXT,
    display TEXT NOT NULL,
    icd10 TEXT,
    certainty TEXT NOT NULL DEFAULT 'provisional',
    moh_form TEXT,
    moh_row INTEGER,
    added_by INTEGER REFERENCES users (id),
    added_at TEXT NOT NULL,
    removed_by INTEGER REFERENCES users (id),
    removed_at TEXT,
    CHECK (catalogue_code IS NOT NULL OR free_text IS NOT NULL),
    CHECK (certainty IN ('provisional', 'final')),
    CHECK (moh_form IS NULL OR moh_form IN ('705A', '705B'))
);
CREATE INDEX encounter_diagnoses_encounter ON encounter_diagnoses (encounter_id);
CREATE INDEX encounter_diagnoses_patient ON encounter_diagnoses (patient_id, added_at);
CREATE INDEX encounter_diagnoses_moh ON encounter_diagnoses (moh_form, visit_day, moh_row);
-- A diagnosis taken off a draft note is voided (removed_at), never deleted: the note's
-- diagnoses are those not voided.
CREATE VIEW note_diagnoses AS SELECT * FROM encounter_diagnoses WHERE removed_at IS NULL;

-- Addenda to a signed note: text, a diagnosis added, or one marked entered in error.
CREATE TABLE encounter_addenda (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    encounter_id INTEGER NOT NULL REFERENCES encounters (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    diagnosis_id INTEGER REFERENCES encounter_diagnoses (id),
    written_by INTEGER REFERENCES users (id),
    written_at TEXT NOT NULL,
    CHECK (kind IN ('text', 'diagnosis', 'error')),
    CHECK (kind = 'text' OR diagnosis_id IS NOT NULL)
);
CREATE INDEX encounter_addenda_encounter ON encounter_addenda (encounter_id, id);
CREATE INDEX encounter_addenda_diagnosis ON encounter_addenda (diagnosis_id);

-- The order basket of a draft: nothing reaches a department until *Place orders* turns the
-- basket into core orders in one transaction (and empties it).
CREATE TABLE encounter_basket (
    id INTEGER PRIMARY KEY,
    encounter_id INTEGER NOT NULL REFERENCES encounters (id),
    kind TEXT NOT NULL,
    code TEXT,
    free_text TEXT,
    display TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    quantity INTEGER NOT NULL DEFAULT 1,
    priority TEXT NOT NULL DEFAULT 'routine',
    allergy_reason TEXT,
    added_by INTEGER REFERENCES users (id),
    added_at TEXT NOT NULL,
    CHECK (code IS NOT NULL OR free_text IS NOT NULL),
    CHECK (quantity > 0 AND quantity <= 10000)
);
CREATE INDEX encounter_basket_encounter ON encounter_basket (encounter_id);

-- Procedures done in the room (dressing, injection, stitching, stitch removal): each posts its
-- charge in the same transaction; counted for MOH 717 A.9-A.12.
CREATE TABLE encounter_procedures (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    encounter_id INTEGER NOT NULL REFERENCES encounters (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    visit_id INTEGER NOT NULL REFERENCES visits (id),
    visit_day TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    charge_id INTEGER REFERENCES charges (id),
    done_by INTEGER REFERENCES users (id),
    done_at TEXT NOT NULL
);
CREATE INDEX encounter_procedures_encounter ON encounter_procedures (encounter_id);
CREATE INDEX encounter_procedures_day ON encounter_procedures (visit_day, code);

-- Documents issued from a consultation: numbered per facility and series, the content kept as
-- issued (JSON) so a reprint is the same document marked "Copy"; every print is a row.
CREATE TABLE consultation_documents (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    number TEXT NOT NULL,
    kind TEXT NOT NULL,
    encounter_id INTEGER NOT NULL REFERENCES encounters (id),
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    visit_id INTEGER NOT NULL REFERENCES visits (id),
    content TEXT NOT NULL,
    issued_by INTEGER REFERENCES users (id),
    issued_at TEXT NOT NULL,
    UNIQUE (facility_id, number),
    CHECK (kind IN ('referral', 'sick_note', 'prescription', 'lab_request', 'visit_summary'))
);
CREATE INDEX consultation_documents_encounter ON consultation_documents (encounter_id);
CREATE INDEX consultation_documents_patient ON consultation_documents (patient_id, issued_at);

CREATE TABLE consultation_document_prints (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities (id),
    document_id INTEGER NOT NULL REFERENCES consultation_documents (id),
    copy INTEGER NOT NULL,
    printed_by INTEGER REFERENCES users (id),
    printed_at TEXT NOT NULL,
    CHECK (copy IN (0, 1))
);
CREATE INDEX consultation_document_prints_document ON consultation_document_prints (document_id);

-- Number series of documents, one row per facility and series (kind and year).
CREATE TABLE consultation_counters (
    facility_id INTEGER NOT NULL REFERENCES facilities (id),
    series TEXT NOT NULL,
    next_value INTEGER NOT NULL,
    PRIMARY KEY (facility_id, series)
);

-- uuids: set at insert, never changed. The append-only tables below let exactly that one
-- update through (OLD.uuid IS NULL just after insert).
CREATE TRIGGER vital_signs_uuid AFTER INSERT ON vital_signs WHEN NEW.uuid IS NULL BEGIN
    UPDATE vital_signs SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER encounters_uuid AFTER INSERT ON encounters WHEN NEW.uuid IS NULL BEGIN
    UPDATE encounters SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER encounter_versions_uuid AFTER INSERT ON encounter_versions WHEN NEW.uuid IS NULL BEGIN
    UPDATE encounter_versions SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER diagnosis_catalogue_uuid AFTER INSERT ON diagnosis_catalogue WHEN NEW.uuid IS NULL BEGIN
    UPDATE diagnosis_catalogue SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER encounter_diagnoses_uuid AFTER INSERT ON encounter_diagnoses WHEN NEW.uuid IS NULL BEGIN
    UPDATE encounter_diagnoses SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER encounter_addenda_uuid AFTER INSERT ON encounter_addenda WHEN NEW.uuid IS NULL BEGIN
    UPDATE encounter_addenda SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER encounter_procedures_uuid AFTER INSERT ON encounter_procedures WHEN NEW.uuid IS NULL BEGIN
    UPDATE encounter_procedures SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER consultation_documents_uuid AFTER INSERT ON consultation_documents WHEN NEW.uuid IS NULL BEGIN
    UPDATE consultation_documents SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER consultation_document_prints_uuid AFTER INSERT ON consultation_document_prints WHEN NEW.uuid IS NULL BEGIN
    UPDATE consultation_document_prints SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;
CREATE TRIGGER vital_signs_uuid_fixed BEFORE UPDATE OF uuid ON vital_signs
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER encounters_uuid_fixed BEFORE UPDATE OF uuid ON encounters
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER diagnosis_catalogue_uuid_fixed BEFORE UPDATE OF uuid ON diagnosis_catalogue
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER encounter_diagnoses_uuid_fixed BEFORE UPDATE OF uuid ON encounter_diagnoses
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER consultation_documents_uuid_fixed BEFORE UPDATE OF uuid ON consultation_documents
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;
CREATE TRIGGER consultation_document_prints_uuid_fixed BEFORE UPDATE OF uuid ON consultation_document_prints
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

-- Vital signs: only the entered-in-error columns may be set, and only once.
CREATE TRIGGER vital_signs_fixed BEFORE UPDATE OF
    facility_id, patient_id, visit_id, age_days, temperature_dc, pulse, resp_rate, systolic,
    diastolic, spo2, weight_g, height_mm, muac_mm, pain, pregnant, lmp, danger_signs,
    triage_category, note, flags, worst, checked, recorded_by, recorded_at ON vital_signs
BEGIN
    SELECT RAISE(ABORT, 'vital signs are never edited: mark the set entered in error');
END;
CREATE TRIGGER vital_signs_error_once BEFORE UPDATE OF error_at, error_by, error_reason ON vital_signs
WHEN OLD.error_at IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'vital signs are never edited: mark the set entered in error');
END;
CREATE TRIGGER vital_signs_no_delete BEFORE DELETE ON vital_signs BEGIN
    SELECT RAISE(ABORT, 'vital signs are never deleted');
END;

-- A signed note never changes; no note is deleted.
CREATE TRIGGER encounters_signed_fixed BEFORE UPDATE ON encounters
WHEN OLD.state = 'signed' AND OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'a signed consultation never changes: write an addendum');
END;
CREATE TRIGGER encounters_no_delete BEFORE DELETE ON encounters BEGIN
    SELECT RAISE(ABORT, 'consultations are never deleted');
END;
CREATE TRIGGER encounter_versions_no_update BEFORE UPDATE ON encounter_versions WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'saved versions never change');
END;
CREATE TRIGGER encounter_versions_no_delete BEFORE DELETE ON encounter_versions BEGIN
    SELECT RAISE(ABORT, 'saved versions are never deleted');
END;
-- A diagnosis may be removed or changed while its note is a draft, never once signed.
CREATE TRIGGER encounter_diagnoses_signed_fixed BEFORE UPDATE ON encounter_diagnoses
WHEN OLD.uuid IS NOT NULL AND (SELECT state FROM encounters WHERE id = OLD.encounter_id) = 'signed' BEGIN
    SELECT RAISE(ABORT, 'a signed diagnosis never changes: write an addendum');
END;
CREATE TRIGGER encounter_diagnoses_signed_kept BEFORE DELETE ON encounter_diagnoses
WHEN (SELECT state FROM encounters WHERE id = OLD.encounter_id) = 'signed' BEGIN
    SELECT RAISE(ABORT, 'a signed diagnosis is never deleted: write an addendum');
END;
CREATE TRIGGER encounter_addenda_no_update BEFORE UPDATE ON encounter_addenda WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'addenda never change');
END;
CREATE TRIGGER encounter_addenda_no_delete BEFORE DELETE ON encounter_addenda BEGIN
    SELECT RAISE(ABORT, 'addenda are never deleted');
END;
CREATE TRIGGER encounter_procedures_no_update BEFORE UPDATE ON encounter_procedures WHEN OLD.uuid IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'procedures done never change');
END;
CREATE TRIGGER encounter_procedures_no_delete BEFORE DELETE ON encounter_procedures BEGIN
    SELECT RAISE(ABORT, 'procedures done are never deleted');
END;
CREATE TRIGGER consultation_documents_fixed BEFORE UPDATE OF
    facility_id, number, kind, encounter_id, patient_id, visit_id, content, issued_by, issued_at
    ON consultation_documents BEGIN
    SELECT RAISE(ABORT, 'an issued document never changes');
END;
CREATE TRIGGER consultation_documents_no_delete BEFORE DELETE ON consultation_documents BEGIN
    SELECT RAISE(ABORT, 'issued documents are never deleted');
END;
CREATE TRIGGER consultation_document_prints_fixed BEFORE UPDATE OF
    facility_id, document_id, copy, printed_by, printed_at ON consultation_document_prints BEGIN
    SELECT RAISE(ABORT, 'prints are never changed');
END;
CREATE TRIGGER consultation_document_prints_no_delete BEFORE DELETE ON consultation_document_prints BEGIN
    SELECT RAISE(ABORT, 'prints are never deleted');
END;
