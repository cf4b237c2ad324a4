//! SQL of the pharmacy's movements.
