//! Every table the migrations create, with its class: what it holds decides whether it leaves
//! this server when branches sync, and how it may change. A test fails when a migration adds a
//! table missing here, or a record table without `facility_id` and `uuid`.

/// What a table holds, for sync between branches and headquarters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableClass {
    /// Never leaves this server: sessions, throttles, the outbox, staging, search indexes,
    /// counters a server keeps for itself.
    Local,
    /// One copy for the whole group, edited at headquarters: catalogues, roles, prices, staff.
    Central,
    /// Belongs to one facility: its clinics, service points, visits, queues, settings.
    Facility,
    /// Something that happened to a patient (vitals, notes, orders, results, dispenses):
    /// never edited; a correction is a new row.
    ClinicalEvent,
    /// Stock and money: append-only; a mistake is reversed by a new row.
    Ledger,
    /// The patient and their identifiers and merges, shared by every facility.
    SharedIdentity,
    /// The hash-chained audit trail, kept per server.
    Audit,
}

impl TableClass {
    /// Record tables carry `facility_id` and `uuid` and are never hard-deleted.
    pub fn holds_records(self) -> bool {
        !matches!(self, TableClass::Local | TableClass::Audit)
    }
}

/// Every table, by name.
pub const TABLES: &[(&str, TableClass)] = {
    use TableClass::*;
    &[
        // platform
        ("facilities", Central),
        ("settings", Facility),
        ("facility_logo", Facility),
        ("roles", Central),
        ("users", Central),
        ("user_roles", Central),
        ("role_grants", Central),
        ("sessions", Local),
        ("login_throttle", Local),
        ("login_throttle_addr", Local),
        ("modules_seen", Local),
        ("permissions_seen", Local),
        ("outbox", Local),
        ("audit_head", Audit),
        ("audit_log", Audit),
        // patients
        ("patients", SharedIdentity),
        ("patient_identifiers", SharedIdentity),
        ("patient_merges", SharedIdentity),
        ("patient_allergies", SharedIdentity),
        ("patient_name_tokens", Local),
        ("patient_name_pairs", Local),
        ("patient_counters", Local),
        ("patient_imports", Local),
        ("patient_import_rows", Local),
        // appointments
        ("clinics", Facility),
        ("clinic_weekdays", Facility),
        ("working_hours", Facility),
        ("days_off", Facility),
        ("declared_holidays", Central),
        ("appointments", Facility),
        ("clinic_day_bookings", Local),
        ("service_points", Facility),
        ("visits", Facility),
        ("visit_tokens", Local),
        ("queue_entries", Facility),
        // orders and charges (core)
        ("orders", ClinicalEvent),
        ("order_outcomes", ClinicalEvent),
        ("order_alerts", ClinicalEvent),
        ("charge_items", Central),
        ("charges", Ledger),
        // consultations
        ("vital_signs", ClinicalEvent),
        ("encounters", ClinicalEvent),
        ("encounter_versions", ClinicalEvent),
        ("diagnosis_catalogue", Central),
        ("encounter_diagnoses", ClinicalEvent),
        ("encounter_addenda", ClinicalEvent),
        // a draft's basket: scratch until placed, then emptied
        ("encounter_basket", Local),
        ("encounter_procedures", ClinicalEvent),
        ("consultation_documents", ClinicalEvent),
        ("consultation_document_prints", ClinicalEvent),
        ("consultation_counters", Local),
        // pharmacy
        ("drugs", Central),
        ("stores", Facility),
        ("store_levels", Facility),
        ("suppliers", Central),
        ("stock_batches", Facility),
        ("stock_ledger", Ledger),
        ("receipts", Facility),
        ("receipt_lines", Facility),
        ("dispenses", ClinicalEvent),
        ("dispense_lines", ClinicalEvent),
        ("adjustments", Facility),
        ("transfers", Facility),
        ("transfer_lines", Facility),
        ("stock_takes", Facility),
        ("stock_take_lines", Facility),
        ("stock_checks", Local),
        // billing
        ("billing_schemes", Central),
        ("billing_price_lists", Central),
        ("billing_prices", Central),
        ("billing_accounts", Facility),
        ("billing_counters", Local),
        ("billing_invoices", Ledger),
        ("billing_lines", Ledger),
        ("billing_shifts", Ledger),
        ("billing_payments", Ledger),
        ("billing_allocations", Ledger),
        ("billing_prints", Local),
        ("billing_requests", Ledger),
        ("billing_credit_notes", Ledger),
        ("billing_mpesa_pushes", Ledger),
        ("billing_mpesa_messages", Local),
        ("billing_mpesa_receipts", Ledger),
        ("billing_etims_head", Local),
        ("billing_etims_documents", Local),
        ("billing_claims", Ledger),
        ("billing_remittances", Ledger),
        ("billing_remittance_parts", Ledger),
        ("billing_deposits", Ledger),
    ]
};

/// The class of a table, if it is listed.
pub fn class_of(table: &str) -> Option<TableClass> {
    TABLES.iter().find(|(t, _)| *t == table).map(|(_, c)| *c)
}
