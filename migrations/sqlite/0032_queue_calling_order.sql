-- A point's waiting entries in calling order (priority first, then the longest waiting), held
-- by an index so that a queue listing, *Take next* and the waiting-room screen read the first
-- few in that order instead of sorting every entry waiting at the point. Only waiting entries
-- are in it: it stays as small as the queues are, whatever the history.
CREATE INDEX queue_entries_calling ON queue_entries (service_point_id, priority DESC, enqueued_at, id)
    WHERE state = 'waiting';
