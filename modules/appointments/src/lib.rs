//! Appointments, visits and queues: reception books patients into clinicians' slots or clinic
//! days, checks them in as visits, and each service point (triage, consultation, laboratory,
//! pharmacy, cashier) calls them from its queue. Other modules hang their work on the visit.

pub mod holidays;
pub mod schedule;
