//! The front desk as staff find it, in a real browser (and over HTTP where a browser adds
//! nothing): booking in any order of choices, check-in that marks today's appointment, the one
//! patient picker, search by part of a phone number, Kiswahili on every page, dates typed
//! day/month/year, phones at 390 px, and a one-person dispensary's setup. One test binary, one
//! file per area.

mod booking;
mod install;
mod phone;
mod picker;
mod setup;
mod swahili;
