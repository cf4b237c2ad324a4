//! The audit trail on screen: who did what and when, filtered and exported, and the access report
//! a patient may ask for under Kenya's Data Protection Act ("who opened my record, and when").
//! The log itself (hash chain, triggers, verification) lives in `hms_core::audit`.

mod access;
mod repo;
mod report;
mod routes;

use hms_core::http::{Access, RouteSpec};
use hms_core::module::{MenuItem, Module, Permission};
use rust_embed::RustEmbed;

pub use access::words as action_words;
pub use repo::csv_cell;

pub const VIEW: &str = "audit.view";
pub const EXPORT: &str = "audit.export";
pub const PATIENT_REPORT: &str = "audit.patient_report";

const PERMISSIONS: &[Permission] = &[
    Permission {
        code: VIEW,
        description: "See the audit trail: who did what, when and from which computer",
        administrative: false,
    },
    Permission {
        code: EXPORT,
        description: "Download the audit trail (filtered) as a spreadsheet file",
        administrative: false,
    },
    Permission {
        code: PATIENT_REPORT,
        description: "Print a patient's access report for a data-protection request",
        administrative: false,
    },
];

const GRANTS: &[(&str, &str)] = &[
    ("admin", VIEW),
    ("admin", EXPORT),
    ("admin", PATIENT_REPORT),
];

const MENU: &[MenuItem] = &[MenuItem {
    label: "audit.menu",
    href: "/audit",
    permission: VIEW,
    order: 910,
}];

/// The module's texts, merged into the catalogue at start-up.
const LOCALES: hms_core::i18n::ModuleLocales = &[
    ("en", include_str!("../locales/en.toml")),
    ("sw", include_str!("../locales/sw.toml")),
];

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Templates;

pub struct AuditModule;

impl Module for AuditModule {
    fn id(&self) -> &'static str {
        "audit"
    }

    fn title(&self) -> &'static str {
        "audit.title"
    }

    // The access report names the patient and follows merges through patients' api.
    fn requires(&self) -> &'static [&'static str] {
        &["patients"]
    }

    fn permissions(&self) -> &'static [Permission] {
        PERMISSIONS
    }

    fn locales(&self) -> hms_core::i18n::ModuleLocales {
        LOCALES
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
            RouteSpec::get("/audit", P(VIEW), routes::log),
            RouteSpec::get("/audit/export.csv", P(EXPORT), routes::export),
            RouteSpec::get("/audit/patients", P(PATIENT_REPORT), report::find),
            RouteSpec::get("/audit/patients/:number", P(PATIENT_REPORT), report::page),
            RouteSpec::get(
                "/audit/patients/:number/report.pdf",
                P(PATIENT_REPORT),
                report::pdf,
            ),
        ]
    }
}

#[cfg(test)]
mod locale_tests {
    #[test]
    fn translations_have_the_same_keys_in_every_language_and_none_empty() {
        hms_core::i18n::check_module("audit", super::LOCALES).unwrap();
    }
}
