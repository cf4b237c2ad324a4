//! SQL of the pharmacy's reports.
