//! Patients: registration with Kenyan identifiers, duplicate checks, instant search and the
//! patient chart. Reception registers and finds patients; every clinical module hangs its work on
//! the patient found here.

mod allergies;
pub mod api;
pub mod demo;
mod form;
mod import;
mod model;
mod picker;
mod repo;
mod reporting;
mod routes;
mod search;

#[cfg(test)]
mod properties;

use hms_core::http::{Access, RouteSpec};
use hms_core::module::{ContributionFuture, ExportSection, Figure, FigureRange, FigureSource};
use hms_core::module::{MenuItem, Module, Permission};
use rust_embed::RustEmbed;

pub use model::{name_tokens, query_tokens, NUMBER_PREFIX};

pub const VIEW: &str = "patients.view";
pub const REGISTER: &str = "patients.register";
pub const EDIT: &str = "patients.edit";
pub const MERGE: &str = "patients.merge";
pub const IMPORT: &str = "patients.import";

const PERMISSIONS: &[Permission] = &[
    Permission {
        code: VIEW,
        description: "Find patients and open their charts",
        administrative: false,
    },
    Permission {
        code: REGISTER,
        description: "Register new patients",
        administrative: false,
    },
    Permission {
        code: EDIT,
        description: "Correct a patient's details, or mark the record inactive",
        administrative: false,
    },
    Permission {
        code: MERGE,
        description: "Merge two records of the same person",
        administrative: false,
    },
    Permission {
        code: IMPORT,
        description: "Import patients from a spreadsheet file",
        administrative: true,
    },
];

const GRANTS: &[(&str, &str)] = &[
    ("receptionist", VIEW),
    ("nurse", VIEW),
    ("doctor", VIEW),
    ("lab_tech", VIEW),
    ("pharmacist", VIEW),
    ("accountant", VIEW),
    ("admin", VIEW),
    ("receptionist", REGISTER),
    ("admin", REGISTER),
    ("receptionist", EDIT),
    ("admin", EDIT),
    ("admin", MERGE),
    ("admin", IMPORT),
];

const MENU: &[MenuItem] = &[
    MenuItem {
        label: "patients.menu_find",
        href: "/patients",
        permission: VIEW,
        order: 10,
    },
    MenuItem {
        label: "patients.menu_register",
        href: "/patients/new",
        permission: REGISTER,
        order: 11,
    },
    MenuItem {
        label: "patients_import.menu",
        href: "/patients/import",
        permission: IMPORT,
        order: 12,
    },
];

/// The module's texts, merged into the catalogue at start-up.
const LOCALES: hms_core::i18n::ModuleLocales = &[
    ("en", include_str!("../locales/en.toml")),
    ("sw", include_str!("../locales/sw.toml")),
];

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Templates;

pub struct PatientsModule;

impl Module for PatientsModule {
    fn id(&self) -> &'static str {
        "patients"
    }

    fn title(&self) -> &'static str {
        "patients.title"
    }

    fn permissions(&self) -> &'static [Permission] {
        PERMISSIONS
    }

    fn locales(&self) -> hms_core::i18n::ModuleLocales {
        LOCALES
    }

    fn demo(&self) -> Option<&dyn hms_core::demo::DemoGenerator> {
        Some(&demo::PatientsDemo)
    }

    fn default_grants(&self) -> &'static [(&'static str, &'static str)] {
        GRANTS
    }

    fn menu(&self) -> &'static [MenuItem] {
        MENU
    }

    fn templates(&self) -> Vec<(String, String)> {
        hms_core::module::embedded_templates::<Templates>()
    }

    fn routes(&self) -> Vec<RouteSpec> {
        use Access::Permission as P;
        vec![
            RouteSpec::get("/patients", P(VIEW), routes::find::find),
            RouteSpec::get("/patients/new", P(REGISTER), routes::register::new),
            RouteSpec::get("/patients/import", P(IMPORT), routes::import::upload_form),
            // The file (at most 5 MB) and the form; a larger file gets a message, not 413.
            RouteSpec::post("/patients/import", P(IMPORT), routes::import::upload)
                .body_limit(2 * import::MAX_BYTES),
            RouteSpec::get(
                "/patients/import/template.csv",
                P(IMPORT),
                routes::import::template,
            ),
            RouteSpec::get("/patients/import/:id", P(IMPORT), routes::import::show),
            RouteSpec::post("/patients/import/:id", P(IMPORT), routes::import::run),
            RouteSpec::get(
                "/patients/import/:id/report.csv",
                P(IMPORT),
                routes::import::report_csv,
            ),
            RouteSpec::post("/patients", P(REGISTER), routes::register::register),
            RouteSpec::get("/patients/:id", P(VIEW), routes::chart::chart),
            RouteSpec::get("/patients/:id/merge", P(MERGE), routes::merge::pick),
            RouteSpec::get(
                "/patients/:id/merge/:other",
                P(MERGE),
                routes::merge::confirm,
            ),
            RouteSpec::post("/patients/:id/merge/:other", P(MERGE), routes::merge::merge)
                .multiline(&["reason"]),
            RouteSpec::get(
                "/patients/:id/merges/:merge/undo",
                P(MERGE),
                routes::merge::undo_confirm,
            ),
            RouteSpec::post(
                "/patients/:id/merges/:merge/undo",
                P(MERGE),
                routes::merge::undo,
            ),
            RouteSpec::post("/patients/:id", P(EDIT), routes::edit::update),
            RouteSpec::get("/patients/:id/edit", P(EDIT), routes::edit::edit),
            RouteSpec::get(
                "/patients/:id/deactivate",
                P(EDIT),
                routes::edit::deactivate_form,
            ),
            RouteSpec::post(
                "/patients/:id/deactivate",
                P(EDIT),
                routes::edit::deactivate,
            ),
            RouteSpec::post(
                "/patients/:id/reactivate",
                P(EDIT),
                routes::edit::reactivate,
            ),
            RouteSpec::post(
                "/patients/:id/identifiers",
                P(EDIT),
                routes::edit::add_identifier,
            ),
            RouteSpec::get(
                "/patients/:id/identifiers/remove",
                P(EDIT),
                routes::edit::remove_identifier_form,
            ),
            RouteSpec::post(
                "/patients/:id/identifiers/remove",
                P(EDIT),
                routes::edit::remove_identifier,
            ),
            RouteSpec::get(
                "/patients/:id/allergies/new",
                P(EDIT),
                routes::allergies::new,
            ),
            RouteSpec::post("/patients/:id/allergies", P(EDIT), routes::allergies::add),
            RouteSpec::post(
                "/patients/:id/allergies/:allergy/refute",
                P(EDIT),
                routes::allergies::refute,
            ),
            RouteSpec::get("/patients/:id/card", P(VIEW), routes::print::card),
            RouteSpec::get("/patients/:id/label", P(VIEW), routes::print::label),
            RouteSpec::get("/patients/:id/card.pdf", P(VIEW), routes::pdf::card),
            RouteSpec::get("/patients/:id/label.pdf", P(VIEW), routes::pdf::label),
        ]
    }

    fn indicators(&self) -> &'static [hms_core::module::Indicator] {
        reporting::INDICATORS
    }

    fn figures<'a>(
        &'a self,
        db: &'a hms_core::db::Db,
        indicator: &'a str,
        range: &'a FigureRange,
    ) -> ContributionFuture<'a, Option<Figure>> {
        Box::pin(reporting::figures(db, indicator, range))
    }

    fn figure_sources<'a>(
        &'a self,
        db: &'a hms_core::db::Db,
        indicator: &'a str,
        range: &'a FigureRange,
    ) -> ContributionFuture<'a, Vec<FigureSource>> {
        Box::pin(reporting::figure_sources(db, indicator, range))
    }

    fn patient_export<'a>(
        &'a self,
        db: &'a hms_core::db::Db,
        patients: &'a [hms_core::ids::PatientId],
    ) -> ContributionFuture<'a, Vec<ExportSection>> {
        Box::pin(reporting::export(db, patients))
    }
}

#[cfg(test)]
mod locale_tests {
    #[test]
    fn translations_have_the_same_keys_in_every_language_and_none_empty() {
        hms_core::i18n::check_module("patients", super::LOCALES).unwrap();
    }
}
