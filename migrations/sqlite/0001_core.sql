-- core: facility settings, roles, users, sessions, login throttling and the audit log.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE roles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    builtin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

INSERT INTO roles (name, title, description, builtin, created_at) VALUES
    ('admin', 'Administrator', 'Manages users, roles, settings and the audit trail', 1, '2026-01-01T00:00:00.000Z'),
    ('receptionist', 'Receptionist', 'Registers patients and books visits', 1, '2026-01-01T00:00:00.000Z'),
    ('doctor', 'Doctor', 'Consults, diagnoses and prescribes', 1, '2026-01-01T00:00:00.000Z'),
    ('nurse', 'Nurse', 'Takes vitals and cares for patients', 1, '2026-01-01T00:00:00.000Z'),
    ('lab_tech', 'Laboratory technologist', 'Handles lab orders and results', 1, '2026-01-01T00:00:00.000Z'),
    ('pharmacist', 'Pharmacist', 'Dispenses medicines and keeps stock', 1, '2026-01-01T00:00:00.000Z'),
    ('accountant', 'Accountant', 'Bills, takes payments and runs finance reports', 1, '2026-01-01T00:00:00.000Z');

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    cadre TEXT,
    registration_no TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    auth_epoch INTEGER NOT NULL DEFAULT 0,
    password_changed_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id),
    role_id INTEGER NOT NULL REFERENCES roles(id),
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    auth_epoch INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    client_addr TEXT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE login_throttle (
    username TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    PRIMARY KEY (username, client_addr)
);

-- The audit log is a hash chain: each row's hash covers the previous row's hash and the row
-- itself, and ids are assigned by the application one after another (no gaps). The chain head is
-- one row, locked by every append so appends never fork the chain.
CREATE TABLE audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_id BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (singleton, last_id, last_hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT,
    patient_id INTEGER,
    detail TEXT NOT NULL,
    client_addr TEXT,
    request_id TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_user_id ON audit_log (user_id, id);
CREATE INDEX audit_log_patient_id ON audit_log (patient_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
