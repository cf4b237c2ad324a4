-- patients: email for reminders (sent only with consent), and when a record was made inactive
-- (with the reason already in inactive_reason), e.g. the date a patient died.

ALTER TABLE patients ADD COLUMN email TEXT;
ALTER TABLE patients ADD COLUMN inactive_on TEXT;
