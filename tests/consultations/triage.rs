//! Consultations tests: triage.
