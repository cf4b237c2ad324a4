-- The nightly ledger check runs once a night however many app servers run it: each night is
-- claimed by inserting its row (`night`, the Nairobi date), unique among the nightly rows.
-- Checks run by hand (`hms stock check`) leave `night` empty. `finished_at` is empty while the
-- check is still running.
ALTER TABLE stock_checks ADD COLUMN night TEXT;
ALTER TABLE stock_checks ADD COLUMN finished_at TEXT;
CREATE UNIQUE INDEX stock_checks_night ON stock_checks (night) WHERE night IS NOT NULL;
CREATE INDEX stock_checks_ran ON stock_checks (ran_at);
