-- patients: merges of two records of the same person. The merged record keeps its rows and
-- points to the survivor (`patients.merged_into`, followed on read), so other modules' rows need
-- no rewriting; this table is the history, and undoing a merge marks its row undone.

CREATE TABLE patient_merges (
    id INTEGER PRIMARY KEY,
    survivor_id INTEGER NOT NULL REFERENCES patients(id),
    merged_id INTEGER NOT NULL REFERENCES patients(id),
    merged_by INTEGER,
    merged_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    undone_by INTEGER,
    undone_at TEXT
);
CREATE INDEX patient_merges_survivor ON patient_merges (survivor_id, id);
-- A record is merged at most once at a time.
CREATE UNIQUE INDEX patient_merges_active ON patient_merges (merged_id) WHERE undone_at IS NULL;

-- "Which records point to this one?" without a scan (merging refuses chains).
CREATE INDEX patients_merged_into ON patients (merged_into);
