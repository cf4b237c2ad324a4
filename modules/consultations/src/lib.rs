//! Consultations and nursing: the nurse takes vital signs at triage and sends the patient on;
//! the doctor takes the next patient, writes the note (saved on the server as it is typed),
//! codes diagnoses that count for MOH 705 when signed, orders tests and drugs through core
//! orders, does procedures that post charges, signs, and issues referral letters, sick notes
//! and prescriptions. Signed notes never change; addenda add to them.

mod basket;
mod demo;
mod diagnoses;
mod documents;
mod encounter;
mod model;
mod procedures;
mod ranges;
mod register;
mod repo;
mod reporting;
mod routes;
mod vitals;

use hms_core::db::Db;
use hms_core::http::RouteSpec;
use hms_core::module::{
    ChartPanel, ContributionFuture, DashboardCard, ExportSection, Figure, FigureRange,
    FigureSource, Indicator, MenuItem, Module, Permission, TimelineFuture, VisitFact,
};
use rust_embed::RustEmbed;

/// Record vital signs at triage (and on the ward).
pub const VITALS: &str = "vitals.record";
/// Read consultation notes, vitals history and trends.
pub const VIEW: &str = "consultations.view";
/// Take patients from the queue, write, sign and add to notes.
pub const WRITE: &str = "consultations.write";
/// Place lab tests, drugs and procedures.
pub const ORDERS: &str = "orders.place";
/// Issue referral letters, sick notes, prescriptions and request forms.
pub const DOCUMENTS: &str = "documents.issue";
/// Keep the diagnosis catalogue and its MOH 705 mapping.
pub const DIAGNOSES: &str = "diagnoses.manage";

const PERMISSIONS: &[Permission] = &[
    Permission {
        code: VITALS,
        description: "Record vital signs and triage patients",
        administrative: false,
    },
    Permission {
        code: VIEW,
        description: "Read consultation notes and vital-signs history",
        administrative: false,
    },
    Permission {
        code: WRITE,
        description: "Consult: take patients, write, sign and add to notes",
        administrative: false,
    },
    Permission {
        code: ORDERS,
        description: "Order tests, drugs and procedures",
        administrative: false,
    },
    Permission {
        code: DOCUMENTS,
        description: "Issue referral letters, sick notes and prescriptions",
        administrative: false,
    },
    Permission {
        code: DIAGNOSES,
        description: "Keep the diagnosis catalogue and its MOH 705 mapping",
        administrative: true,
    },
];

const GRANTS: &[(&str, &str)] = &[
    ("nurse", VITALS),
    ("doctor", VITALS),
    ("doctor", VIEW),
    ("nurse", VIEW),
    ("doctor", WRITE),
    ("doctor", ORDERS),
    ("doctor", DOCUMENTS),
    ("admin", DIAGNOSES),
];

const MENU: &[MenuItem] = &[
    MenuItem {
        label: "consultations.menu_triage",
        href: "/triage",
        permission: VITALS,
        order: 17,
    },
    MenuItem {
        label: "consultations.menu_patients",
        href: "/consultations",
        permission: WRITE,
        order: 18,
    },
    MenuItem {
        label: "consultations_documents.register_link",
        href: "/consultations/register",
        permission: VIEW,
        order: 19,
    },
    MenuItem {
        label: "consultations.menu_diagnoses",
        href: "/consultations/diagnoses",
        permission: DIAGNOSES,
        order: 62,
    },
];

const CARDS: &[DashboardCard] = &[
    DashboardCard {
        id: "triage-waiting",
        title: "consultations.card_triage",
        href: "/consultations/cards/triage",
        permission: VITALS,
        order: 16,
    },
    DashboardCard {
        id: "critical-vitals",
        title: "consultations.card_critical_vitals",
        href: "/consultations/cards/critical-vitals",
        permission: VITALS,
        order: 17,
    },
    DashboardCard {
        id: "consult-waiting",
        title: "consultations.card_waiting",
        href: "/consultations/cards/waiting",
        permission: WRITE,
        order: 10,
    },
    DashboardCard {
        id: "results-back",
        title: "consultations.card_results",
        href: "/consultations/cards/results",
        permission: WRITE,
        order: 11,
    },
    DashboardCard {
        id: "unsigned-notes",
        title: "consultations.card_unsigned",
        href: "/consultations/cards/unsigned",
        permission: WRITE,
        order: 12,
    },
    DashboardCard {
        id: "critical-results",
        title: "consultations.card_critical_results",
        href: "/consultations/cards/critical-results",
        permission: WRITE,
        order: 13,
    },
];

/// The module's texts, one file per area, merged into the catalogue at start-up.
const LOCALES: hms_core::i18n::ModuleLocales = &[
    (
        "en",
        concat!(
            include_str!("../locales/en/base.toml"),
            include_str!("../locales/en/triage.toml"),
            include_str!("../locales/en/workspace.toml"),
            include_str!("../locales/en/diagnoses.toml"),
            include_str!("../locales/en/orders.toml"),
            include_str!("../locales/en/documents.toml"),
        ),
    ),
    (
        "sw",
        concat!(
            include_str!("../locales/sw/base.toml"),
            include_str!("../locales/sw/triage.toml"),
            include_str!("../locales/sw/workspace.toml"),
            include_str!("../locales/sw/diagnoses.toml"),
            include_str!("../locales/sw/orders.toml"),
            include_str!("../locales/sw/documents.toml"),
        ),
    ),
];

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Templates;

pub struct ConsultationsModule;

impl Module for ConsultationsModule {
    fn id(&self) -> &'static str {
        "consultations"
    }

    fn title(&self) -> &'static str {
        "consultations.title"
    }

    fn requires(&self) -> &'static [&'static str] {
        &["patients", "appointments"]
    }

    fn permissions(&self) -> &'static [Permission] {
        PERMISSIONS
    }

    fn default_grants(&self) -> &'static [(&'static str, &'static str)] {
        GRANTS
    }

    fn locales(&self) -> hms_core::i18n::ModuleLocales {
        LOCALES
    }

    fn demo(&self) -> Option<&dyn hms_core::demo::DemoGenerator> {
        Some(&demo::ConsultationsDemo)
    }

    fn menu(&self) -> &'static [MenuItem] {
        MENU
    }

    fn templates(&self) -> Vec<(String, String)> {
        hms_core::module::embedded_templates::<Templates>()
    }

    fn routes(&self) -> Vec<RouteSpec> {
        routes::all()
    }

    fn dashboard_cards(&self) -> &'static [DashboardCard] {
        CARDS
    }

    fn chart_timeline<'a>(
        &'a self,
        db: &'a Db,
        patients: &'a [i64],
        limit: i64,
    ) -> TimelineFuture<'a> {
        Box::pin(async move {
            let mut entries = vitals::timeline(db, patients, limit).await?;
            entries.extend(encounter::timeline(db, patients, limit).await?);
            entries.extend(documents::timeline(db, patients, limit).await?);
            entries.sort_by(|a, b| b.at.cmp(&a.at));
            entries.truncate(usize::try_from(limit).unwrap_or(0));
            Ok(entries)
        })
    }

    fn chart_panels(&self) -> &'static [ChartPanel] {
        vitals::PANELS
    }

    fn indicators(&self) -> &'static [Indicator] {
        reporting::INDICATORS
    }

    fn figures<'a>(
        &'a self,
        db: &'a Db,
        indicator: &'a str,
        range: &'a FigureRange,
    ) -> ContributionFuture<'a, Option<Figure>> {
        Box::pin(reporting::figures(db, indicator, range))
    }

    fn figure_sources<'a>(
        &'a self,
        db: &'a Db,
        indicator: &'a str,
        range: &'a FigureRange,
    ) -> ContributionFuture<'a, Vec<FigureSource>> {
        Box::pin(reporting::figure_sources(db, indicator, range))
    }

    fn visit_facts<'a>(
        &'a self,
        db: &'a Db,
        visits: &'a [hms_core::ids::VisitId],
    ) -> ContributionFuture<'a, Vec<VisitFact>> {
        Box::pin(reporting::visit_facts(db, visits))
    }

    fn patient_export<'a>(
        &'a self,
        db: &'a Db,
        patients: &'a [hms_core::ids::PatientId],
    ) -> ContributionFuture<'a, Vec<ExportSection>> {
        Box::pin(reporting::export(db, patients))
    }
}

#[cfg(test)]
mod locale_tests {
    #[test]
    fn translations_have_the_same_keys_in_every_language_and_none_empty() {
        hms_core::i18n::check_module("consultations", super::LOCALES).unwrap();
    }
}
