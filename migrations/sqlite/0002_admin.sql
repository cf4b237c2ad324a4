-- admin: role grants (the Casbin policy), modules seen, and staff details on users.

CREATE TABLE role_grants (
    role_name TEXT NOT NULL,
    permission TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (role_name, permission)
);

CREATE TABLE modules_seen (
    module_id TEXT PRIMARY KEY,
    first_seen_at TEXT NOT NULL
);

-- A permission's default grants are seeded the first time the permission is seen (a module's
-- new version may bring new permissions); an administrator's later changes are never undone.
CREATE TABLE permissions_seen (
    permission TEXT PRIMARY KEY,
    first_seen_at TEXT NOT NULL
);

ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

INSERT INTO settings (key, value, updated_at) VALUES ('policy_version', '1', '2026-01-01T00:00:00.000Z')
    ON CONFLICT (key) DO NOTHING;
