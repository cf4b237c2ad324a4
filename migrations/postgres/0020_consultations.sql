-- consultations: triage vitals, the doctor's notes (drafts saved as versions, signed notes never
-- changed), diagnoses counted for MOH 705 when signed, the order basket of a draft, procedures
-- done in the room, addenda, and the documents issued (numbered, every print kept).
--
-- Clinical events are never edited: a wrong vital-signs set is marked entered in error (the only
-- columns that may change, once); a signed note, its diagnoses, procedures, addenda, documents
-- and prints refuse UPDATE and DELETE (triggers, here and on SQLite).

-- Vital signs, stored as integers: 0.1 °C, beats/min, breaths/min, mmHg, %, grams, mm.
CREATE TABLE vital_signs (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    visit_id BIGINT REFERENCES visits (id),
    age_days BIGINT,
    temperature_dc BIGINT,
    pulse BIGINT,
    resp_rate BIGINT,
    systolic BIGINT,
    diastolic BIGINT,
    spo2 BIGINT,
    weight_g BIGINT,
    height_mm BIGINT,
    muac_mm BIGINT,
    pain BIGINT,
    pregnant BIGINT,
    lmp TEXT,
    danger_signs TEXT NOT NULL DEFAULT '',
    triage_category TEXT,
    note TEXT,
    flags TEXT NOT NULL DEFAULT '{}',
    worst TEXT NOT NULL DEFAULT 'normal',
    checked TEXT NOT NULL DEFAULT '',
    recorded_by BIGINT REFERENCES users (id),
    recorded_at TEXT NOT NULL,
    error_at TEXT,
    error_by BIGINT REFERENCES users (id),
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
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    visit_id BIGINT NOT NULL REFERENCES visits (id),
    visit_day TEXT NOT NULL,
    clinician_id BIGINT NOT NULL REFERENCES users (id),
    state TEXT NOT NULL DEFAULT 'draft',
    version BIGINT NOT NULL DEFAULT 1,
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
    updated_by BIGINT REFERENCES users (id),
    signed_at TEXT,
    signed_by BIGINT REFERENCES users (id),
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
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    encounter_id BIGINT NOT NULL REFERENCES encounters (id),
    version BIGINT NOT NULL,
    texts TEXT NOT NULL,
    saved_by BIGINT REFERENCES users (id),
    saved_at TEXT NOT NULL,
    UNIQUE (encounter_id, version)
);

-- Diagnoses: the catalogue (ICD-10 and our mapping to MOH 705 rows, admin-editable) and those
-- made in a consultation. Form and row are fixed at signing from the age on the visit day.
CREATE TABLE diagnosis_catalogue (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_sw TEXT,
    synonyms TEXT NOT NULL DEFAULT '',
    icd10 TEXT,
    icd11 TEXT,
    moh705a_row BIGINT,
    moh705b_row BIGINT,
    pregnancy_row BIGINT,
    mapping TEXT NOT NULL DEFAULT 'hms',
    active BIGINT NOT NULL DEFAULT 1,
    search_text TEXT NOT NULL DEFAULT '',
    updated_by BIGINT REFERENCES users (id),
    updated_at TEXT NOT NULL,
    CHECK (active IN (0, 1)),
    CHECK (mapping IN ('hms', 'admin'))
);

CREATE TABLE encounter_diagnoses (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    encounter_id BIGINT NOT NULL REFERENCES encounters (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    visit_id BIGINT NOT NULL REFERENCES visits (id),
    visit_day TEXT NOT NULL,
    catalogue_code TEXT,
    free_text TEXT,
    display TEXT NOT NULL,
    icd10 TEXT,
    certainty TEXT NOT NULL DEFAULT 'provisional',
    moh_form TEXT,
    moh_row BIGINT,
    added_by BIGINT REFERENCES users (id),
    added_at TEXT NOT NULL,
    removed_by BIGINT REFERENCES users (id),
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
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    encounter_id BIGINT NOT NULL REFERENCES encounters (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    diagnosis_id BIGINT REFERENCES encounter_diagnoses (id),
    written_by BIGINT REFERENCES users (id),
    written_at TEXT NOT NULL,
    CHECK (kind IN ('text', 'diagnosis', 'error')),
    CHECK (kind = 'text' OR diagnosis_id IS NOT NULL)
);
CREATE INDEX encounter_addenda_encounter ON encounter_addenda (encounter_id, id);
CREATE INDEX encounter_addenda_diagnosis ON encounter_addenda (diagnosis_id);

-- The order basket of a draft: nothing reaches a department until *Place orders* turns the
-- basket into core orders in one transaction (and empties it).
CREATE TABLE encounter_basket (
    id BIGSERIAL PRIMARY KEY,
    encounter_id BIGINT NOT NULL REFERENCES encounters (id),
    kind TEXT NOT NULL,
    code TEXT,
    free_text TEXT,
    display TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    quantity BIGINT NOT NULL DEFAULT 1,
    priority TEXT NOT NULL DEFAULT 'routine',
    allergy_reason TEXT,
    added_by BIGINT REFERENCES users (id),
    added_at TEXT NOT NULL,
    CHECK (code IS NOT NULL OR free_text IS NOT NULL),
    CHECK (quantity > 0 AND quantity <= 10000)
);
CREATE INDEX encounter_basket_encounter ON encounter_basket (encounter_id);

-- Procedures done in the room (dressing, injection, stitching, stitch removal): each posts its
-- charge in the same transaction; counted for MOH 717 A.9-A.12.
CREATE TABLE encounter_procedures (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    encounter_id BIGINT NOT NULL REFERENCES encounters (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    visit_id BIGINT NOT NULL REFERENCES visits (id),
    visit_day TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    charge_id BIGINT REFERENCES charges (id),
    done_by BIGINT REFERENCES users (id),
    done_at TEXT NOT NULL
);
CREATE INDEX encounter_procedures_encounter ON encounter_procedures (encounter_id);
CREATE INDEX encounter_procedures_day ON encounter_procedures (visit_day, code);

-- Documents issued from a consultation: numbered per facility and series, the content kept as
-- issued (JSON) so a reprint is the same document marked "Copy"; every print is a row.
CREATE TABLE consultation_documents (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    number TEXT NOT NULL,
    kind TEXT NOT NULL,
    encounter_id BIGINT NOT NULL REFERENCES encounters (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    visit_id BIGINT NOT NULL REFERENCES visits (id),
    content TEXT NOT NULL,
    issued_by BIGINT REFERENCES users (id),
    issued_at TEXT NOT NULL,
    UNIQUE (facility_id, number),
    CHECK (kind IN ('referral', 'sick_note', 'prescription', 'lab_request', 'visit_summary'))
);
CREATE INDEX consultation_documents_encounter ON consultation_documents (encounter_id);
CREATE INDEX consultation_documents_patient ON consultation_documents (patient_id, issued_at);

CREATE TABLE consultation_document_prints (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE DEFAULT hms_uuid7(),
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities (id),
    document_id BIGINT NOT NULL REFERENCES consultation_documents (id),
    copy BIGINT NOT NULL,
    printed_by BIGINT REFERENCES users (id),
    printed_at TEXT NOT NULL,
    CHECK (copy IN (0, 1))
);
CREATE INDEX consultation_document_prints_document ON consultation_document_prints (document_id);

-- Number series of documents, one row per facility and series (kind and year).
CREATE TABLE consultation_counters (
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    series TEXT NOT NULL,
    next_value BIGINT NOT NULL,
    PRIMARY KEY (facility_id, series)
);

CREATE TRIGGER vital_signs_uuid_fixed BEFORE UPDATE OF uuid ON vital_signs
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER encounters_uuid_fixed BEFORE UPDATE OF uuid ON encounters
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER diagnosis_catalogue_uuid_fixed BEFORE UPDATE OF uuid ON diagnosis_catalogue
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER encounter_diagnoses_uuid_fixed BEFORE UPDATE OF uuid ON encounter_diagnoses
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER consultation_documents_uuid_fixed BEFORE UPDATE OF uuid ON consultation_documents
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();
CREATE TRIGGER consultation_document_prints_uuid_fixed BEFORE UPDATE OF uuid ON consultation_document_prints
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

-- Refuses the change with the message given as the trigger's argument.
CREATE FUNCTION consultations_refuse() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END;
$$ LANGUAGE plpgsql;

-- Vital signs: only the entered-in-error columns may be set, and only once.
CREATE TRIGGER vital_signs_fixed BEFORE UPDATE OF
    facility_id, patient_id, visit_id, age_days, temperature_dc, pulse, resp_rate, systolic,
    diastolic, spo2, weight_g, height_mm, muac_mm, pain, pregnant, lmp, danger_signs,
    triage_category, note, flags, worst, checked, recorded_by, recorded_at ON vital_signs
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('vital signs are never edited: mark the set entered in error');
CREATE TRIGGER vital_signs_error_once BEFORE UPDATE OF error_at, error_by, error_reason ON vital_signs
FOR EACH ROW WHEN (OLD.error_at IS NOT NULL)
EXECUTE FUNCTION consultations_refuse('vital signs are never edited: mark the set entered in error');
CREATE TRIGGER vital_signs_no_delete BEFORE DELETE ON vital_signs
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('vital signs are never deleted');

-- A signed note never changes; no note is deleted.
CREATE TRIGGER encounters_signed_fixed BEFORE UPDATE ON encounters
FOR EACH ROW WHEN (OLD.state = 'signed')
EXECUTE FUNCTION consultations_refuse('a signed consultation never changes: write an addendum');
CREATE TRIGGER encounters_no_delete BEFORE DELETE ON encounters
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('consultations are never deleted');
CREATE TRIGGER encounter_versions_no_update BEFORE UPDATE OR DELETE ON encounter_versions
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('saved versions never change');

-- A diagnosis may be removed or changed while its note is a draft, never once signed.
CREATE FUNCTION encounter_diagnoses_signed_fixed() RETURNS trigger AS $$
BEGIN
    IF (SELECT state FROM encounters WHERE id = OLD.encounter_id) = 'signed' THEN
        RAISE EXCEPTION 'a signed diagnosis never changes: write an addendum';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER encounter_diagnoses_signed_fixed BEFORE UPDATE OR DELETE ON encounter_diagnoses
FOR EACH ROW EXECUTE FUNCTION encounter_diagnoses_signed_fixed();

CREATE TRIGGER encounter_addenda_no_update BEFORE UPDATE OR DELETE ON encounter_addenda
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('addenda never change');
CREATE TRIGGER encounter_procedures_no_update BEFORE UPDATE OR DELETE ON encounter_procedures
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('procedures done never change');
CREATE TRIGGER consultation_documents_fixed BEFORE UPDATE OR DELETE ON consultation_documents
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('an issued document never changes');
CREATE TRIGGER consultation_document_prints_fixed BEFORE UPDATE OR DELETE ON consultation_document_prints
FOR EACH ROW EXECUTE FUNCTION consultations_refuse('prints are never changed');
