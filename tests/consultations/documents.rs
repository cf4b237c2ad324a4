//! Consultations tests: documents.
