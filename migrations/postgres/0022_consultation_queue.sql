-- consultations workspace: the queue entry a note was opened from (Take next), so signing ends
-- that entry and a patient back from the laboratory reopens the same draft.

ALTER TABLE encounters ADD COLUMN queue_entry_id BIGINT REFERENCES queue_entries (id);
