-- A point's entries in calling order, held by indexes so that a queue listing, *Take next* and
-- the waiting-room screen read the first few in that order instead of sorting every entry at
-- the point: the waiting (priority first, then the longest waiting), and those called or being
-- served (oldest call first). Only entries in those states are in them: they stay as small as
-- the queues are, whatever the history.
CREATE INDEX queue_entries_calling ON queue_entries (service_point_id, priority DESC, enqueued_at, id)
    WHERE state = 'waiting';
CREATE INDEX queue_entries_in_service ON queue_entries (service_point_id, called_at)
    WHERE state IN ('called', 'serving');
