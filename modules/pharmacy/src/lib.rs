//! Pharmacy and inventory: the drug catalogue and stores, receipts from suppliers, batches
//! picked first-expiry-first-out, dispensing of prescriptions (core `drug` orders) and
//! over-the-counter sales with their charges, adjustments, transfers between stores, stock
//! takes, alerts, labels and consumption reports. Every movement of stock goes through
//! [`stock::post`], the one writer of balances and of the append-only stock ledger.

mod alerts;
mod catalogue;
mod cli;
mod demo;
mod dispense;
mod labels;
pub mod model;
mod movements;
mod repo;
mod reporting;
mod reports;
mod routes;
pub mod stock;

use hms_core::db::Db;
use hms_core::http::RouteSpec;
use hms_core::module::{
    ChartPanel, ContributionFuture, DashboardCard, ExportSection, Figure, FigureRange,
    FigureSource, Indicator, MenuItem, Module, OrderableFuture, OrderablesFuture, Permission,
    TimelineFuture,
};
use rust_embed::RustEmbed;

/// See the pharmacy's screens, stock and a patient's medicines.
pub const VIEW: &str = "pharmacy.view";
/// Prepare and issue prescriptions and over-the-counter sales; returns.
pub const DISPENSE: &str = "pharmacy.dispense";
/// Receive stock from suppliers.
pub const RECEIVE: &str = "pharmacy.receive";
/// Adjust stock with a reason; write off expired stock.
pub const ADJUST: &str = "pharmacy.adjust";
/// Move stock between stores; request stock for a dispensary.
pub const TRANSFER: &str = "pharmacy.transfer";
/// Count stock in a stock take.
pub const COUNT: &str = "pharmacy.count";
/// Keep the drug catalogue, stores, suppliers and reorder levels.
pub const CATALOGUE: &str = "pharmacy.catalogue";
/// Approve stock-take variances.
pub const APPROVE: &str = "pharmacy.approve";
/// Pharmacy reports and registers.
pub const REPORTS: &str = "pharmacy.reports";

const PERMISSIONS: &[Permission] = &[
    Permission {
        code: VIEW,
        description: "See the pharmacy, its stock and patients' medicines",
        administrative: false,
    },
    Permission {
        code: DISPENSE,
        description: "Dispense prescriptions and over-the-counter sales",
        administrative: false,
    },
    Permission {
        code: RECEIVE,
        description: "Receive stock from suppliers",
        administrative: false,
    },
    Permission {
        code: ADJUST,
        description: "Adjust stock and write off expired stock",
        administrative: false,
    },
    Permission {
        code: TRANSFER,
        description: "Transfer stock between stores",
        administrative: false,
    },
    Permission {
        code: COUNT,
        description: "Count stock in a stock take",
        administrative: false,
    },
    Permission {
        code: CATALOGUE,
        description: "Keep the drug catalogue, stores, suppliers and reorder levels",
        administrative: false,
    },
    Permission {
        code: APPROVE,
        description: "Approve stock-take variances",
        administrative: false,
    },
    Permission {
        code: REPORTS,
        description: "Pharmacy reports and registers",
        administrative: true,
    },
];

const GRANTS: &[(&str, &str)] = &[
    ("pharmacist", VIEW),
    ("doctor", VIEW),
    ("nurse", VIEW),
    ("admin", VIEW),
    ("pharmacist", DISPENSE),
    ("pharmacist", RECEIVE),
    ("pharmacist", ADJUST),
    ("pharmacist", TRANSFER),
    ("pharmacist", COUNT),
    ("pharmacist", CATALOGUE),
    ("admin", APPROVE),
    ("pharmacist", REPORTS),
    ("accountant", REPORTS),
    ("admin", REPORTS),
];

const MENU: &[MenuItem] = &[
    MenuItem {
        label: "pharmacy.menu_dispense",
        href: "/pharmacy",
        permission: DISPENSE,
        order: 30,
    },
    MenuItem {
        label: "pharmacy.menu_stock",
        href: "/pharmacy/stock",
        permission: VIEW,
        order: 31,
    },
    MenuItem {
        label: "pharmacy.menu_receive",
        href: "/pharmacy/receipts",
        permission: RECEIVE,
        order: 32,
    },
    MenuItem {
        label: "pharmacy.menu_transfers",
        href: "/pharmacy/transfers",
        permission: TRANSFER,
        order: 33,
    },
    MenuItem {
        label: "pharmacy.menu_adjustments",
        href: "/pharmacy/adjustments",
        permission: ADJUST,
        order: 34,
    },
    MenuItem {
        label: "pharmacy.menu_stocktakes",
        href: "/pharmacy/stocktakes",
        permission: COUNT,
        order: 35,
    },
    MenuItem {
        label: "pharmacy.menu_catalogue",
        href: "/pharmacy/catalogue",
        permission: CATALOGUE,
        order: 36,
    },
    MenuItem {
        label: "pharmacy.menu_reports",
        href: "/pharmacy/reports",
        permission: REPORTS,
        order: 37,
    },
];

const CARDS: &[DashboardCard] = &[
    DashboardCard {
        id: "pharmacy-waiting",
        title: "pharmacy.card_waiting",
        href: "/pharmacy/cards/waiting",
        permission: DISPENSE,
        order: 30,
    },
    DashboardCard {
        id: "pharmacy-balances",
        title: "pharmacy.card_balances",
        href: "/pharmacy/cards/balances",
        permission: DISPENSE,
        order: 31,
    },
    DashboardCard {
        id: "pharmacy-reorder",
        title: "pharmacy.card_reorder",
        href: "/pharmacy/cards/reorder",
        permission: DISPENSE,
        order: 32,
    },
    DashboardCard {
        id: "pharmacy-expiring",
        title: "pharmacy.card_expiring",
        href: "/pharmacy/cards/expiring",
        permission: DISPENSE,
        order: 33,
    },
    DashboardCard {
        id: "pharmacy-expired",
        title: "pharmacy.card_expired",
        href: "/pharmacy/cards/expired",
        permission: DISPENSE,
        order: 34,
    },
    DashboardCard {
        id: "pharmacy-stocktakes",
        title: "pharmacy.card_stocktakes",
        href: "/pharmacy/cards/stocktakes",
        permission: APPROVE,
        order: 35,
    },
    DashboardCard {
        id: "pharmacy-ledger",
        title: "pharmacy.card_ledger",
        href: "/pharmacy/cards/ledger",
        permission: APPROVE,
        order: 36,
    },
];

/// The module's texts, one file per area, merged into the catalogue at start-up.
const LOCALES: hms_core::i18n::ModuleLocales = &[
    (
        "en",
        concat!(
            include_str!("../locales/en/base.toml"),
            include_str!("../locales/en/catalogue.toml"),
            include_str!("../locales/en/movements.toml"),
            include_str!("../locales/en/dispense.toml"),
            include_str!("../locales/en/reports.toml"),
        ),
    ),
    (
        "sw",
        concat!(
            include_str!("../locales/sw/base.toml"),
            include_str!("../locales/sw/catalogue.toml"),
            include_str!("../locales/sw/movements.toml"),
            include_str!("../locales/sw/dispense.toml"),
            include_str!("../locales/sw/reports.toml"),
        ),
    ),
];

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Templates;

pub struct PharmacyModule;

impl Module for PharmacyModule {
    fn id(&self) -> &'static str {
        "pharmacy"
    }

    fn title(&self) -> &'static str {
        "pharmacy.title"
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

    fn settings(&self) -> &'static [hms_core::module_config::Setting] {
        movements::SETTINGS
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

    fn fulfils(&self) -> &'static [&'static str] {
        &["drug"]
    }

    fn orderables<'a>(&'a self, db: &'a Db, kind: &'a str, query: &'a str) -> OrderablesFuture<'a> {
        Box::pin(async move {
            if kind != "drug" {
                return Ok(Vec::new());
            }
            catalogue::orderables(db, query).await
        })
    }

    fn orderable<'a>(&'a self, db: &'a Db, kind: &'a str, code: &'a str) -> OrderableFuture<'a> {
        Box::pin(async move {
            if kind != "drug" {
                return Ok(None);
            }
            catalogue::orderable(db, code).await
        })
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

    fn background(
        &self,
        app: hms_core::App,
        stop: hms_core::module::StopSignal,
    ) -> Option<hms_core::module::BackgroundFuture> {
        Some(Box::pin(alerts::nightly_check(app, stop)))
    }

    fn demo(&self) -> Option<&dyn hms_core::demo::DemoGenerator> {
        Some(&demo::PharmacyDemo)
    }

    fn chart_timeline<'a>(
        &'a self,
        db: &'a Db,
        patients: &'a [i64],
        limit: i64,
    ) -> TimelineFuture<'a> {
        Box::pin(dispense::timeline(db, patients, limit))
    }

    fn chart_panels(&self) -> &'static [ChartPanel] {
        dispense::PANELS
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
        hms_core::i18n::check_module("pharmacy", super::LOCALES).unwrap();
    }
}
