//! Pharmacy and inventory, over HTTP on SQLite and PostgreSQL and in a real browser: the stock
//! writer and its ledger, the catalogue, receipts, adjustments, transfers, stock takes,
//! dispensing (races included), labels, reports and alerts. One test binary, one file per area.

mod catalogue;
mod demo;
mod dispense;
mod dispense_billing;
mod dispense_browser;
mod dispense_races;
mod fixtures;
mod ledger;
mod movements;
mod movements_property;
mod movements_races;
mod report_month;
mod reports;
mod reports_browser;
