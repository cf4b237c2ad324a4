//! Consultations tests: diagnoses.
