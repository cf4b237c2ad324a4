-- Word pairs of patients' names, for searches of two words ("wanj kam"): for each patient,
-- every ordered pair of two distinct name tokens, keyed by the first three letters of the
-- second one (the partner), so one range scan finds the patients who have both.
CREATE TABLE patient_name_pairs (
    partner3 TEXT NOT NULL,
    token TEXT NOT NULL,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    partner TEXT NOT NULL,
    PRIMARY KEY (partner3, token, patient_id, partner)
) WITHOUT ROWID;

INSERT INTO patient_name_pairs (partner3, token, patient_id, partner)
SELECT substr(b.token, 1, 3), a.token, a.patient_id, b.token
FROM patient_name_tokens a JOIN patient_name_tokens b
  ON b.patient_id = a.patient_id AND b.token <> a.token
WHERE true;
