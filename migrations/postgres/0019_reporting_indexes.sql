-- reporting: indexes the modules' figures need. New files opened over a range of days are read
-- by registration time; a patient's export lists the merges a record was absorbed in.

CREATE INDEX patients_created ON patients (created_at);
CREATE INDEX patient_merges_merged ON patient_merges (merged_id, id);
