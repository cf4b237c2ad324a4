//! The platform's tests and the front office's, one module per area, in one test binary: it is
//! linked once, and its tests run side by side instead of one binary after another. Tests that
//! need the process to themselves (the log capture, socket options, the browser) and the
//! departments' suites keep binaries of their own.

#[path = "platform.rs"]
mod platform;
#[path = "dates.rs"]
mod dates;
#[path = "security.rs"]
mod security;
#[path = "account_security.rs"]
mod account_security;
#[path = "access.rs"]
mod access;
#[path = "admin.rs"]
mod admin;
#[path = "audit.rs"]
mod audit;
#[path = "licence.rs"]
mod licence;
#[path = "i18n.rs"]
mod i18n;
#[path = "settings.rs"]
mod settings;
#[path = "outbox.rs"]
mod outbox;
#[path = "patients.rs"]
mod patients;
#[path = "patients_print.rs"]
mod patients_print;
#[path = "patients_merge.rs"]
mod patients_merge;
#[path = "patients_records.rs"]
mod patients_records;
#[path = "patients_import.rs"]
mod patients_import;
#[path = "appointments_booking.rs"]
mod appointments_booking;
#[path = "appointments_queue.rs"]
mod appointments_queue;
#[path = "appointments_reminders.rs"]
mod appointments_reminders;
#[path = "patients_search.rs"]
mod patients_search;
#[path = "orders.rs"]
mod orders;
#[path = "charges.rs"]
mod charges;
#[path = "module_rule.rs"]
mod module_rule;
#[path = "contributions.rs"]
mod contributions;
#[path = "patients_pdf.rs"]
mod patients_pdf;
#[path = "audit_access_report.rs"]
mod audit_access_report;
#[path = "branches.rs"]
mod branches;
