-- patients: imports from spreadsheet files (CSV). An upload is staged here with its content, so
-- the import step reads the file the preview was made from, never a second copy from the browser.
-- `patient_import_rows` keeps the key of every row imported (from any file) so that importing
-- the same rows again creates nobody twice.

CREATE TABLE patient_imports (
    id INTEGER PRIMARY KEY,
    file_sha256 TEXT NOT NULL,
    filename TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    -- previewed -> importing -> imported (back to previewed when an import fails half-way)
    status TEXT NOT NULL,
    created_by INTEGER,
    created_at TEXT NOT NULL,
    imported_by INTEGER,
    imported_at TEXT,
    -- JSON: counts per outcome
    summary TEXT NOT NULL,
    -- JSON: the outcome of each row, as last previewed or imported
    report TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX patient_imports_sha ON patient_imports (file_sha256);

CREATE TABLE patient_import_rows (
    id INTEGER PRIMARY KEY,
    import_id INTEGER NOT NULL REFERENCES patient_imports(id),
    row_number INTEGER NOT NULL,
    row_key TEXT NOT NULL UNIQUE,
    patient_id INTEGER REFERENCES patients(id),
    created_at TEXT NOT NULL
);
CREATE INDEX patient_import_rows_import ON patient_import_rows (import_id);
