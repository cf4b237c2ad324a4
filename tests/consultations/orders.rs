//! Consultations tests: orders.
