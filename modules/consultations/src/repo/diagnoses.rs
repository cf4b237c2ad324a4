//! Storage for the diagnoses part of the module.
