//! SQL of the pharmacy's catalogue.
