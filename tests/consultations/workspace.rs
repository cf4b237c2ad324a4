//! Consultations tests: workspace.
