//! The platform's tests and the front office's, one module per area, in one test binary: it is
//! linked once, and its tests run side by side instead of one binary after another. Tests that
//! need the process to themselves (the log capture, socket options, the browser) and the
//! departments' suites keep binaries of their own.

#[path = "access.rs"]
mod access;
#[path = "account_security.rs"]
mod account_security;
#[path = "admin.rs"]
mod admin;
#[path = "appointments_booking.rs"]
mod appointments_booking;
#[path = "appointments_queue.rs"]
mod appointments_queue;
#[path = "appointments_reminders.rs"]
mod appointments_reminders;
#[path = "audit.rs"]
mod audit;
#[path = "audit_access_report.rs"]
mod audit_access_report;
#[path = "branches.rs"]
mod branches;
#[path = "charges.rs"]
mod charges;
#[path = "contributions.rs"]
mod contributions;
#[path = "dates.rs"]
mod dates;
#[path = "i18n.rs"]
mod i18n;
#[path = "licence.rs"]
mod licence;
#[path = "module_rule.rs"]
mod module_rule;
#[path = "orders.rs"]
mod orders;
#[path = "outbox.rs"]
mod outbox;
#[path = "patients.rs"]
mod patients;
#[path = "patients_import.rs"]
mod patients_import;
#[path = "patients_merge.rs"]
mod patients_merge;
#[path = "patients_pdf.rs"]
mod patients_pdf;
#[path = "patients_print.rs"]
mod patients_print;
#[path = "patients_records.rs"]
mod patients_records;
#[path = "patients_search.rs"]
mod patients_search;
#[path = "platform.rs"]
mod platform;
#[path = "security.rs"]
mod security;
#[path = "settings.rs"]
mod settings;
