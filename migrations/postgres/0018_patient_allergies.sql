-- patients: allergies as rows (allergen, the drug group it belongs to when known, reaction,
-- severity, active or refuted, who recorded or refuted it and when), so prescribers and pharmacy
-- can match drug groups against them. Rows are never deleted: a wrong entry is refuted. The
-- text of `patients.allergies` becomes one row per comma- or semicolon-separated entry, its drug
-- group guessed from well-known drug names (the same list as `hms_patients::allergies`); the
-- column stays for now but is no longer written.

CREATE TABLE patient_allergies (
    id BIGSERIAL PRIMARY KEY,
    patient_id BIGINT NOT NULL REFERENCES patients(id),
    allergen TEXT NOT NULL,
    drug_group TEXT,
    reaction TEXT,
    severity TEXT CHECK (severity IN ('mild', 'moderate', 'severe')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'refuted')),
    recorded_by BIGINT,
    recorded_at TEXT NOT NULL,
    refuted_by BIGINT,
    refuted_at TEXT,
    facility_id BIGINT NOT NULL DEFAULT 1 REFERENCES facilities(id),
    uuid TEXT NOT NULL DEFAULT hms_uuid7()
);
CREATE INDEX patient_allergies_patient ON patient_allergies (patient_id, id);
CREATE UNIQUE INDEX patient_allergies_uuid ON patient_allergies (uuid);
CREATE TRIGGER patient_allergies_uuid_fixed BEFORE UPDATE OF uuid ON patient_allergies
FOR EACH ROW EXECUTE FUNCTION hms_uuid_fixed();

INSERT INTO patient_allergies (patient_id, allergen, drug_group, status, recorded_by, recorded_at)
SELECT p.id, trim(s.item),
    CASE
        WHEN lower(trim(s.item)) LIKE '%cillin%' OR lower(trim(s.item)) LIKE '%penicil%' OR lower(trim(s.item)) LIKE '%augmentin%'
            THEN 'penicillins'
        WHEN lower(trim(s.item)) LIKE '%sulfa%' OR lower(trim(s.item)) LIKE '%sulpha%' OR lower(trim(s.item)) LIKE '%septrin%' OR lower(trim(s.item)) LIKE '%trimoxazole%' OR lower(trim(s.item)) LIKE '%fansidar%'
            THEN 'sulfonamides'
        WHEN lower(trim(s.item)) LIKE '%ceph%' OR lower(trim(s.item)) LIKE '%cef%' OR lower(trim(s.item)) LIKE '%rocephin%'
            THEN 'cephalosporins'
        WHEN lower(trim(s.item)) LIKE '%nsaid%' OR lower(trim(s.item)) LIKE '%aspirin%' OR lower(trim(s.item)) LIKE '%ibuprofen%' OR lower(trim(s.item)) LIKE '%brufen%' OR lower(trim(s.item)) LIKE '%diclofenac%' OR lower(trim(s.item)) LIKE '%naproxen%' OR lower(trim(s.item)) LIKE '%indomethacin%' OR lower(trim(s.item)) LIKE '%meloxicam%' OR lower(trim(s.item)) LIKE '%piroxicam%' OR lower(trim(s.item)) LIKE '%mefenamic%'
            THEN 'nsaids'
        WHEN lower(trim(s.item)) LIKE '%codeine%' OR lower(trim(s.item)) LIKE '%morphine%' OR lower(trim(s.item)) LIKE '%tramadol%' OR lower(trim(s.item)) LIKE '%pethidine%'
            THEN 'opioids'
        END,
    'active', p.created_by, p.created_at
FROM patients p, unnest(regexp_split_to_array(p.allergies, '[,;]')) WITH ORDINALITY AS s (item, n)
WHERE p.allergies IS NOT NULL AND trim(s.item) <> ''
ORDER BY p.id, s.n;
