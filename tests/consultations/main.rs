//! Consultations and nursing, over HTTP on SQLite and PostgreSQL and in a real browser: triage
//! and vital-sign ranges, the doctor's workspace (take next, drafts, signing, addenda),
//! diagnoses and MOH 705 rows, orders and procedures, documents. One test binary, one file per
//! area.

mod diagnoses;
mod documents;
mod orders;
mod triage;
mod workspace;
