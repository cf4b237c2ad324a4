//! SQL of the pharmacy's demo.
