//! Billing and payments: schemes and their dated price lists, a visit's charges priced into
//! lines split between payer and patient, invoices and receipts numbered without gaps, cash
//! before service at the points a facility gates, cashier shifts with blind counts, PDFs, and
//! `hms billing verify`. Departments never call billing: they post charges through core
//! (`hms_core::charges`) and ask `charges::clearance`, which this module answers.

mod adjust;
mod bill;
pub mod claims;
mod clearance;
mod cli;
pub mod daraja;
mod demo;
mod deposit;
mod docs;
pub mod etims;
pub mod model;
pub mod mpesa;
mod pay;
mod prices;
mod remit;
mod routes;
mod shifts;
mod statement;
mod verify;

use hms_core::db::Db;
use hms_core::http::RouteSpec;
use hms_core::module::{ClearanceFuture, DashboardCard, HoldFuture, MenuItem, Module, Permission};
use rust_embed::RustEmbed;

/// See the cashier desk, bills, invoices and receipts.
pub const VIEW: &str = "billing.view";
/// Take payments, open and close one's own shift.
pub const COLLECT: &str = "billing.collect";
/// Issue invoices to schemes and insurers.
pub const INVOICE: &str = "billing.invoice";
/// Prepare and send SHA and insurance claims.
pub const CLAIMS: &str = "billing.claims";
/// Keep schemes and price lists.
pub const PRICES: &str = "billing.prices";
/// Approve what needs a second person: shift variances, waivers, refunds.
pub const APPROVE: &str = "billing.approve";
/// Billing settings: which service points wait for payment.
pub const SETTINGS: &str = "billing.settings";

const PERMISSIONS: &[Permission] = &[
    Permission {
        code: VIEW,
        description: "See the cashier desk, bills, invoices and receipts",
        administrative: false,
    },
    Permission {
        code: COLLECT,
        description: "Take payments and run one's own cashier shift",
        administrative: false,
    },
    Permission {
        code: INVOICE,
        description: "Issue invoices to schemes, insurers and companies",
        administrative: false,
    },
    Permission {
        code: CLAIMS,
        description: "Prepare and send SHA and insurance claims",
        administrative: false,
    },
    Permission {
        code: PRICES,
        description: "Keep payment schemes and their price lists",
        administrative: true,
    },
    Permission {
        code: APPROVE,
        description: "Approve shift variances, waivers and refunds (never one's own)",
        administrative: false,
    },
    Permission {
        code: SETTINGS,
        description: "Billing settings: the service points that wait for payment",
        administrative: true,
    },
];

const GRANTS: &[(&str, &str)] = &[
    ("accountant", VIEW),
    ("receptionist", VIEW),
    ("admin", VIEW),
    ("accountant", COLLECT),
    ("receptionist", COLLECT),
    ("accountant", INVOICE),
    ("accountant", CLAIMS),
    ("accountant", PRICES),
    ("admin", APPROVE),
    ("admin", SETTINGS),
];

const MENU: &[MenuItem] = &[
    MenuItem {
        label: "billing.menu_cashier",
        href: "/billing",
        permission: COLLECT,
        order: 40,
    },
    MenuItem {
        label: "billing.menu_invoices",
        href: "/billing/invoices",
        permission: VIEW,
        order: 41,
    },
    MenuItem {
        label: "billing_claims.title",
        href: "/billing/claims",
        permission: CLAIMS,
        order: 42,
    },
    MenuItem {
        label: "billing.menu_approvals",
        href: "/billing/approvals",
        permission: VIEW,
        order: 42,
    },
    MenuItem {
        label: "billing_remit.title",
        href: "/billing/remittances",
        permission: INVOICE,
        order: 42,
    },
    MenuItem {
        label: "billing.menu_mpesa",
        href: "/billing/mpesa",
        permission: VIEW,
        order: 43,
    },
    MenuItem {
        label: "billing_etims.title",
        href: "/billing/etims",
        permission: VIEW,
        order: 43,
    },
    MenuItem {
        label: "billing.menu_shifts",
        href: "/billing/shifts",
        permission: VIEW,
        order: 44,
    },
    MenuItem {
        label: "billing.menu_prices",
        href: "/billing/prices",
        permission: PRICES,
        order: 45,
    },
    MenuItem {
        label: "billing.menu_settings",
        href: "/billing/settings",
        permission: SETTINGS,
        order: 46,
    },
];

const CARDS: &[DashboardCard] = &[
    DashboardCard {
        id: "billing-my-shift",
        title: "billing.card_my_shift",
        href: "/billing/cards/my-shift",
        permission: COLLECT,
        order: 40,
    },
    DashboardCard {
        id: "billing-waiting",
        title: "billing.card_waiting",
        href: "/billing/cards/waiting",
        permission: COLLECT,
        order: 41,
    },
    DashboardCard {
        id: "billing-attention",
        title: "billing.card_attention",
        href: "/billing/cards/attention",
        permission: VIEW,
        order: 43,
    },
    DashboardCard {
        id: "billing-collections",
        title: "billing.card_collections",
        href: "/billing/cards/collections",
        permission: INVOICE,
        order: 42,
    },
];

const LOCALES: hms_core::i18n::ModuleLocales = &[
    ("en", include_str!("../locales/en.toml")),
    ("sw", include_str!("../locales/sw.toml")),
];

/// `[modules.billing]`: M-Pesa Daraja, then KRA eTIMS.
const MODULE_SETTINGS: &[hms_core::module_config::Setting] = &[
    daraja::API,
    daraja::SHORTCODE,
    daraja::PASSKEY,
    daraja::CONSUMER_KEY,
    daraja::CONSUMER_SECRET,
    daraja::CALLBACK_SECRET,
    etims::API,
    etims::BRANCH,
    etims::DEVICE,
    etims::CMC_KEY,
    claims::HIE_URL,
    claims::HIE_TOKEN,
];

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Templates;

pub struct BillingModule;

impl Module for BillingModule {
    fn id(&self) -> &'static str {
        "billing"
    }

    fn title(&self) -> &'static str {
        "billing.title"
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

    fn menu(&self) -> &'static [MenuItem] {
        MENU
    }

    fn templates(&self) -> Vec<(String, String)> {
        hms_core::module::embedded_templates::<Templates>()
    }

    fn routes(&self) -> Vec<RouteSpec> {
        routes::all()
    }

    fn settings(&self) -> &'static [hms_core::module_config::Setting] {
        MODULE_SETTINGS
    }

    fn background(
        &self,
        app: hms_core::App,
        stop: hms_core::module::StopSignal,
    ) -> Option<hms_core::module::BackgroundFuture> {
        Some(Box::pin(etims::run_in_background(
            app,
            stop,
            std::time::Duration::from_secs(30),
        )))
    }

    fn dashboard_cards(&self) -> &'static [DashboardCard] {
        CARDS
    }

    fn clearance<'a>(
        &'a self,
        db: &'a Db,
        source: &'a str,
        source_ref: &'a str,
    ) -> Option<ClearanceFuture<'a>> {
        Some(Box::pin(clearance::answer(db, source, source_ref)))
    }

    fn holds_for_payment<'a>(
        &'a self,
        db: &'a Db,
        service_point: &'a str,
    ) -> Option<HoldFuture<'a>> {
        Some(Box::pin(async move {
            Ok(clearance::gated_points(db)
                .await?
                .iter()
                .any(|p| p == service_point))
        }))
    }

    fn demo(&self) -> Option<&dyn hms_core::demo::DemoGenerator> {
        Some(&demo::BillingDemo)
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
}

/// What `hms billing verify` finds wrong (nothing when the books agree), for tests and tools.
pub async fn verify_findings(db: &Db) -> Result<Vec<String>, hms_core::db::DbError> {
    Ok(verify::run(db).await?.findings)
}

#[cfg(test)]
mod locale_tests {
    #[test]
    fn translations_have_the_same_keys_in_every_language_and_none_empty() {
        hms_core::i18n::check_module("billing", super::LOCALES).unwrap();
    }
}
