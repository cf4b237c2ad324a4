-- patients: allergies as rows (allergen, the drug group it belongs to when known, reaction,
-- severity, active or refuted, who recorded or refuted it and when), so prescribers and pharmacy
-- can match drug groups against them. Rows are never deleted: a wrong entry is refuted. The
-- text of `patients.allergies` becomes one row per comma- or semicolon-separated entry, its drug
-- group guessed from well-known drug names (the same list as `hms_patients::allergies`); the
-- column stays for now but is no longer written.

CREATE TABLE patient_allergies (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    allergen TEXT NOT NULL,
    drug_group TEXT,
    reaction TEXT,
    severity TEXT CHECK (severity IN ('mild', 'moderate', 'severe')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'refuted')),
    recorded_by INTEGER,
    recorded_at TEXT NOT NULL,
    refuted_by INTEGER,
    refuted_at TEXT,
    facility_id INTEGER NOT NULL DEFAULT 1 REFERENCES facilities(id),
    uuid TEXT
);
CREATE INDEX patient_allergies_patient ON patient_allergies (patient_id, id);
CREATE UNIQUE INDEX patient_allergies_uuid ON patient_allergies (uuid);
CREATE TRIGGER patient_allergies_uuid AFTER INSERT ON patient_allergies WHEN NEW.uuid IS NULL BEGIN
    UPDATE patient_allergies SET uuid = (SELECT value FROM hms_uuid7) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER patient_allergies_uuid_fixed BEFORE UPDATE OF uuid ON patient_allergies
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

WITH RECURSIVE parts (patient_id, created_by, created_at, n, item, rest) AS (
    SELECT id, created_by, created_at, 0, '', replace(allergies, ';', ',') || ','
    FROM patients WHERE allergies IS NOT NULL AND trim(allergies) <> ''
    UNION ALL
    SELECT patient_id, created_by, created_at, n + 1,
        trim(substr(rest, 1, instr(rest, ',') - 1)), substr(rest, instr(rest, ',') + 1)
    FROM parts WHERE rest <> ''
)
INSERT INTO patient_allergies (patient_id, allergen, drug_group, status, recorded_by, recorded_at)
SELECT patient_id, item,
    CASE
        WHEN lower(item) LIKE '%cillin%' OR lower(item) LIKE '%penicil%' OR lower(item) LIKE '%augmentin%'
            THEN 'penicillins'
        WHEN lower(item) LIKE '%sulfa%' OR lower(item) LIKE '%sulpha%' OR lower(item) LIKE '%septrin%' OR lower(item) LIKE '%trimoxazole%' OR lower(item) LIKE '%fansidar%'
            THEN 'sulfonamides'
        WHEN lower(item) LIKE '%ceph%' OR lower(item) LIKE '%cef%' OR lower(item) LIKE '%rocephin%'
            THEN 'cephalosporins'
        WHEN lower(item) LIKE '%nsaid%' OR lower(item) LIKE '%aspirin%' OR lower(item) LIKE '%ibuprofen%' OR lower(item) LIKE '%brufen%' OR lower(item) LIKE '%diclofenac%' OR lower(item) LIKE '%naproxen%' OR lower(item) LIKE '%indomethacin%' OR lower(item) LIKE '%meloxicam%' OR lower(item) LIKE '%piroxicam%' OR lower(item) LIKE '%mefenamic%'
            THEN 'nsaids'
        WHEN lower(item) LIKE '%codeine%' OR lower(item) LIKE '%morphine%' OR lower(item) LIKE '%tramadol%' OR lower(item) LIKE '%pethidine%'
            THEN 'opioids'
        END,
    'active', created_by, created_at
FROM parts WHERE item <> '' ORDER BY patient_id, n;
