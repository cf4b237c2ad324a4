//! Appointments, visits and queues: reception books patients into clinicians' slots or clinic
//! days, checks them in as visits, and each service point (triage, consultation, laboratory,
//! pharmacy, cashier) calls them from its queue. Other modules hang their work on the visit
//! through [`api`], the public contract (declare `requires() = ["appointments"]`).

pub mod api;
mod cli;
pub mod demo;
pub mod fees;
pub mod holidays;
mod model;
pub mod reminders;
mod repo;
mod reporting;
mod routes;
pub mod schedule;
mod visits;

#[cfg(test)]
mod properties;

use hms_core::db::Db;
use hms_core::http::RouteSpec;
use hms_core::module::{
    ChartAction, ChartPanel, ContributionFuture, ExportSection, Figure, FigureRange, FigureSource,
    Indicator, VisitFact,
};
use hms_core::module::{DashboardCard, MenuItem, Module, Permission, TimelineFuture};
use rust_embed::RustEmbed;

pub const VIEW: &str = "appointments.view";
pub const BOOK: &str = "appointments.book";
pub const MANAGE: &str = "appointments.manage";
pub const CHECKIN: &str = "queue.checkin";
pub const CALL: &str = "queue.call";
pub const SCHEDULES: &str = "schedules.manage";

const PERMISSIONS: &[Permission] = &[
    Permission {
        code: VIEW,
        description: "See appointments and day lists",
        administrative: false,
    },
    Permission {
        code: BOOK,
        description: "Book, reschedule and cancel appointments",
        administrative: false,
    },
    Permission {
        code: MANAGE,
        description: "Mark no-shows and follow up missed appointments",
        administrative: false,
    },
    Permission {
        code: CHECKIN,
        description: "Check patients in and put them in a queue",
        administrative: false,
    },
    Permission {
        code: CALL,
        description: "Call, serve and send on patients from a service point's queue",
        administrative: false,
    },
    Permission {
        code: SCHEDULES,
        description: "Set up clinics, working hours, days off, holidays and waiting-room displays",
        administrative: true,
    },
];

const GRANTS: &[(&str, &str)] = &[
    ("receptionist", VIEW),
    ("nurse", VIEW),
    ("doctor", VIEW),
    ("admin", VIEW),
    ("receptionist", BOOK),
    ("admin", BOOK),
    ("receptionist", MANAGE),
    ("admin", MANAGE),
    ("receptionist", CHECKIN),
    ("nurse", CHECKIN),
    ("nurse", CALL),
    ("doctor", CALL),
    ("lab_tech", CALL),
    ("pharmacist", CALL),
    ("accountant", CALL),
    ("admin", SCHEDULES),
];

const MENU: &[MenuItem] = &[
    MenuItem {
        label: "appointments.menu_book",
        href: "/appointments/book",
        permission: BOOK,
        order: 20,
    },
    MenuItem {
        label: "appointments.menu_day",
        href: "/appointments",
        permission: VIEW,
        order: 21,
    },
    MenuItem {
        label: "appointments.menu_missed",
        href: "/appointments/missed",
        permission: MANAGE,
        order: 22,
    },
    MenuItem {
        label: "appointments.menu_schedules",
        href: "/schedules",
        permission: SCHEDULES,
        order: 60,
    },
    MenuItem {
        label: "appointments_queue.menu_checkin",
        href: "/visits/checkin",
        permission: CHECKIN,
        order: 15,
    },
    MenuItem {
        label: "appointments_queue.menu_queues",
        href: "/queues",
        permission: CALL,
        order: 16,
    },
    MenuItem {
        label: "appointments_queue.menu_displays",
        href: "/displays",
        permission: SCHEDULES,
        order: 61,
    },
];

const CARDS: &[DashboardCard] = &[
    DashboardCard {
        id: "appointments-today",
        title: "appointments.card_today",
        href: "/appointments/cards/today",
        permission: VIEW,
        order: 20,
    },
    DashboardCard {
        id: "queue-waiting",
        title: "appointments_queue.card_title",
        href: "/cards/queues",
        permission: CALL,
        order: 15,
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

pub struct AppointmentsModule;

impl Module for AppointmentsModule {
    fn id(&self) -> &'static str {
        "appointments"
    }

    fn title(&self) -> &'static str {
        "appointments.title"
    }

    fn requires(&self) -> &'static [&'static str] {
        &["patients"]
    }

    fn permissions(&self) -> &'static [Permission] {
        PERMISSIONS
    }

    fn locales(&self) -> hms_core::i18n::ModuleLocales {
        LOCALES
    }

    fn settings(&self) -> &'static [hms_core::module_config::Setting] {
        &[reminders::DAYS_BEFORE, reminders::HOUR]
    }

    fn commands(&self) -> Vec<clap::Command> {
        cli::commands()
    }

    fn run_command<'a>(
        &'a self,
        app: &'a hms_core::App,
        name: &'a str,
        matches: &'a clap::ArgMatches,
    ) -> hms_core::module::CommandFuture<'a> {
        Box::pin(cli::run(app, name, matches))
    }

    fn demo(&self) -> Option<&dyn hms_core::demo::DemoGenerator> {
        Some(&demo::AppointmentsDemo)
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
        Box::pin(repo::timeline(db, patients, limit))
    }

    /// Reminders the day before (see [`reminders`]).
    fn background(
        &self,
        app: hms_core::App,
        stop: hms_core::module::StopSignal,
    ) -> Option<hms_core::module::BackgroundFuture> {
        Some(Box::pin(reminders::run_in_background(app, stop)))
    }

    fn chart_panels(&self) -> &'static [ChartPanel] {
        reporting::PANELS
    }

    fn chart_actions(&self) -> &'static [ChartAction] {
        reporting::ACTIONS
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
        hms_core::i18n::check_module("appointments", super::LOCALES).unwrap();
    }
}
