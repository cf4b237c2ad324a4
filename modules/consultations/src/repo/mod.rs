//! All SQL of the module, one file per area.

pub mod demo;
pub mod diagnoses;
pub mod documents;
pub mod encounters;
pub mod orders;
pub mod vitals;
