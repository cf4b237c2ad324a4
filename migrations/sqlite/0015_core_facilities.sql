-- Facilities and global identity. Row 1 is this install's facility (named at setup). Every
-- table that holds records carries `facility_id` and `uuid`: a UUIDv7 set by the database at
-- insert and never changed, so branches can sync rows while URLs keep the short integer ids.
--
-- SQLite has no UUID function: the view `hms_uuid7` yields a fresh one each time it is read
-- (48 bits of Unix milliseconds, version 7, variant 10, random bits), and each record table
-- fills a NULL uuid after insert from it:
--   CREATE TRIGGER <t>_uuid AFTER INSERT ON <t> WHEN NEW.uuid IS NULL BEGIN
--     UPDATE <t> SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id; END;
--   CREATE TRIGGER <t>_uuid_fixed BEFORE UPDATE OF uuid ON <t>
--     WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
--     SELECT RAISE(ABORT, 'a record''s uuid never changes'); END;

CREATE VIEW hms_uuid7 AS
SELECT lower(
    substr(printf('%012x', t), 1, 8) || '-' || substr(printf('%012x', t), 9, 4)
    || '-7' || substr(r, 1, 3)
    || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(r, 4, 3)
    || '-' || substr(r, 7, 12)
) AS value
FROM (SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER) AS t, hex(randomblob(9)) AS r);

CREATE TABLE facilities (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE,
    kmhfl_code TEXT,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TRIGGER facilities_uuid AFTER INSERT ON facilities WHEN NEW.uuid IS NULL BEGIN
    UPDATE facilities SET uuid = (SELECT value FROM hms_uuid7) WHERE id = NEW.id;
END;

CREATE TRIGGER facilities_uuid_fixed BEFORE UPDATE OF uuid ON facilities
WHEN OLD.uuid IS NOT NULL AND NEW.uuid IS NOT OLD.uuid BEGIN
    SELECT RAISE(ABORT, 'a record''s uuid never changes');
END;

INSERT INTO facilities (id, name, created_at)
VALUES (1, 'This facility', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
