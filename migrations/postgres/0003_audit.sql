-- audit: indexes for the audit trail viewer's filters.
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_at ON audit_log (at);
