-- queues: when an entry began to be served (waiting time until served is what a facility
-- reports), and the rules the visit and queue code relies on, kept by the database so that two
-- desks acting at the same moment cannot break them: a patient has at most one open visit a day
-- (a second check-in is refused), and a visit is in at most one queue at a time (waiting, called
-- or being served).

ALTER TABLE queue_entries ADD COLUMN served_at TEXT;
ALTER TABLE queue_entries ADD COLUMN served_by INTEGER;

CREATE UNIQUE INDEX visits_one_open_per_day ON visits (patient_id, day) WHERE status = 'open';
CREATE UNIQUE INDEX queue_entries_one_active ON queue_entries (visit_id)
    WHERE state IN ('waiting', 'called', 'serving');
-- The waiting-room display's "now calling" list: the point's latest calls.
CREATE INDEX queue_entries_called ON queue_entries (service_point_id, called_at);
