//! The platform's own screens: first-run setup, sign in and out, the dashboard, the user's
//! password, critical-result alerts, and the health check.

pub mod account;
pub mod alerts;
pub mod health;
pub mod home;
pub mod language;
pub mod login;
pub mod logo;
pub mod setup;
