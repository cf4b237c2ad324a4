//! Backups of the SQLite database (filled in by the backup work).
