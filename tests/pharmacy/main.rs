//! Pharmacy and inventory, over HTTP on SQLite and PostgreSQL and in a real browser: the stock
//! writer and its ledger, the catalogue, receipts, adjustments, transfers, stock takes,
//! dispensing (races included), labels, reports and alerts. One test binary, one file per area.

mod fixtures;
mod ledger;
mod dispense;
mod dispense_races;
mod dispense_billing;
mod dispense_browser;
