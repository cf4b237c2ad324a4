//! SQL of the pharmacy's dispenses.
