-- patients: the day of the last visit, kept on the patient row by the module that checks
-- patients in, so search results show it without reading that module's tables.

ALTER TABLE patients ADD COLUMN last_visit_on TEXT;
