//! All SQL of the module besides the stock writer (`crate::stock`), one file per area.

pub mod catalogue;
pub mod demo;
pub mod dispenses;
pub mod movements;
pub mod reports;
