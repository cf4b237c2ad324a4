//! Department modules: the contract every module crate implements, and the registry that gathers
//! their routes, permissions, menus, templates and dashboard cards. A module disabled by
//! configuration or not covered by the licence answers 404, shows no menu items and grants no
//! permissions; the same per-request gate serves both (and turns administrative writes read-only
//! past the licence's grace period). Each module also brings its own translations, settings,
//! command-line subcommands and demo data (see the trait).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::db::{Db, DbError};
use crate::http::RouteSpec;

mod contributions;
pub use contributions::{
    fill_href, AgeBand, ChartAction, ChartLink, ChartPanel, ContributionFuture, ExportSection,
    FactKind, Figure, FigurePart, FigureRange, FigureSource, Indicator, Unit, VisitFact,
};

/// A permission a module defines, e.g. `admin.users.manage`.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    pub code: &'static str,
    pub description: &'static str,
    /// Administrative work (adding users, settings, reports, finance exports): paused when the
    /// licence has run out past its grace period. Patient care is never administrative.
    pub administrative: bool,
}

/// An entry of the side menu.
#[derive(Debug, Clone, Copy)]
pub struct MenuItem {
    /// Translation key of the label.
    pub label: &'static str,
    pub href: &'static str,
    pub permission: &'static str,
    /// Position in the menu, lower first.
    pub order: i32,
}

/// A dashboard card: a small fragment loaded on its own (`hx-trigger="load"`), so a slow card
/// never delays the page.
#[derive(Debug, Clone, Copy)]
pub struct DashboardCard {
    pub id: &'static str,
    /// Translation key of the title.
    pub title: &'static str,
    /// URL of the fragment; also a full page for browsers without JavaScript.
    pub href: &'static str,
    pub permission: &'static str,
    pub order: i32,
}

/// One entry of a patient's chart timeline, contributed by a module (a visit, an appointment, a
/// result, a dispense). The patients module shows the entries of every enabled module together,
/// newest first, each only to users holding its `permission`.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// When it happened, RFC 3339 UTC (sorts as text).
    pub at: String,
    /// Translation key of the kind of entry ("appointments.visit").
    pub kind: &'static str,
    /// What to show, already in the reader's language.
    pub title: String,
    pub detail: Option<String>,
    /// Where the entry leads, if it has its own page.
    pub href: Option<String>,
    pub permission: &'static str,
}

/// What [`Module::chart_timeline`] returns.
pub type TimelineFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<TimelineEntry>, DbError>> + Send + 'a>,
>;

/// An entry of a filler's catalogue, as a prescriber sees it while ordering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orderable {
    /// The filler's code (stored as the order's `code`).
    pub code: String,
    pub name: String,
    /// What one is: "test", "tablet", "bottle".
    pub unit: String,
    pub price: Option<crate::money::Money>,
    /// Units in stock, for fillers that keep stock.
    pub stock: Option<i64>,
}

/// What [`Module::orderables`] returns.
pub type OrderablesFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<Orderable>, DbError>> + Send + 'a>,
>;

/// What [`Module::orderable`] returns.
pub type OrderableFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Orderable>, DbError>> + Send + 'a>,
>;

/// What [`Module::clearance`] returns.
pub type ClearanceFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<crate::charges::Clearance, DbError>> + Send + 'a>,
>;

/// What [`Module::holds_for_payment`] returns.
pub type HoldFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, DbError>> + Send + 'a>>;

/// A module's background work (see [`Module::background`]): runs until told to stop.
pub type BackgroundFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What [`Module::run_command`] returns: `Err` carries the message for standard error (exit 1).
pub type CommandFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;

/// Turns true when the server is stopping; background work finishes the unit in hand (one
/// transaction) and returns.
pub type StopSignal = tokio::sync::watch::Receiver<bool>;

pub trait Module: Send + Sync + 'static {
    /// URL prefix, template namespace and permission prefix.
    fn id(&self) -> &'static str;
    /// Translation key of the module's name.
    fn title(&self) -> &'static str;
    /// Modules this one builds on (by id).
    fn requires(&self) -> &'static [&'static str] {
        &[]
    }
    fn permissions(&self) -> &'static [Permission];
    /// (role, permission) pairs granted the first time the module is seen.
    fn default_grants(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    fn menu(&self) -> &'static [MenuItem] {
        &[]
    }
    /// Templates as (name, text); names start with `<id>/`.
    fn templates(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    fn routes(&self) -> Vec<RouteSpec>;
    fn dashboard_cards(&self) -> &'static [DashboardCard] {
        &[]
    }
    /// The patient's entries from this module for the chart timeline, newest first, at most
    /// `limit`. `patients` holds the chart's patient id first, then the ids of records merged
    /// into it, since other modules' rows keep the id they were written with.
    fn chart_timeline<'a>(
        &'a self,
        _db: &'a Db,
        _patients: &'a [i64],
        _limit: i64,
    ) -> TimelineFuture<'a> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Work this module does in the background while the server runs (appointment reminders).
    /// Design: core never depends on a module, so rather than the server knowing each
    /// module's jobs, a module hands its job over here and the server (`hms_web::server`)
    /// starts it for every enabled module, then stops it through `stop` at shutdown. Several
    /// app servers may share a database, so a job must be safe to run on all of them at once
    /// (guarded updates, as the outbox sender does), and run as often as it likes.
    fn background(&self, _app: crate::App, _stop: StopSignal) -> Option<BackgroundFuture> {
        None
    }
    /// Order kinds this module performs (`lab`, `drug`, ...): their orders are its worklist. At
    /// most one enabled module fills a kind; two stop the server at start.
    fn fulfils(&self) -> &'static [&'static str] {
        &[]
    }
    /// The catalogue entries of `kind` matching `query` (code, name, unit, price, stock), for a
    /// prescriber choosing what to order.
    fn orderables<'a>(
        &'a self,
        _db: &'a Db,
        _kind: &'a str,
        _query: &'a str,
    ) -> OrderablesFuture<'a> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// One catalogue entry of `kind` by code.
    fn orderable<'a>(&'a self, _db: &'a Db, _kind: &'a str, _code: &'a str) -> OrderableFuture<'a> {
        Box::pin(async { Ok(None) })
    }
    /// Whether the service behind a charge's (source, source_ref) may go ahead: a billing
    /// module answers; every other module returns `None` (see [`crate::charges::clearance`]).
    fn clearance<'a>(
        &'a self,
        _db: &'a Db,
        _source: &'a str,
        _source_ref: &'a str,
    ) -> Option<ClearanceFuture<'a>> {
        None
    }
    /// Whether a service point may hold patients until they pay (billing answers from its
    /// settings; every other module returns `None`, see [`crate::charges::holds_for_payment`]).
    /// A department that is never held does its work in one step.
    fn holds_for_payment<'a>(
        &'a self,
        _db: &'a Db,
        _service_point: &'a str,
    ) -> Option<HoldFuture<'a>> {
        None
    }
    /// The module's texts, (language code, TOML text) per language, usually
    /// `include_str!("../locales/en.toml")` and `sw.toml`. Merged into the catalogue at start-up;
    /// a key the platform or another module already defines stops start-up.
    fn locales(&self) -> crate::i18n::ModuleLocales {
        &[]
    }
    /// Settings of the `[modules.<id>]` table of the configuration file (and the
    /// `HMS_MODULES_<ID>_<KEY>` environment variables), read typed through
    /// [`crate::config::Config::module_integer`] and its siblings; `hms config` lists them.
    fn settings(&self) -> &'static [crate::module_config::Setting] {
        &[]
    }
    /// Subcommands of `hms` this module adds (`hms reminders run`). A module's command runs
    /// only while the module is enabled.
    fn commands(&self) -> Vec<clap::Command> {
        Vec::new()
    }
    /// Runs the command `name` (one of [`Module::commands`]) on a started application, with
    /// its matches. The caller keeps the audit head file current and closes the database.
    fn run_command<'a>(
        &'a self,
        _app: &'a crate::App,
        name: &'a str,
        _matches: &'a clap::ArgMatches,
    ) -> CommandFuture<'a> {
        Box::pin(async move { Err(format!("the command '{name}' is not this module's")) })
    }
    /// The module's part of `hms demo-data`; generators run in the order of `requires()`.
    fn demo(&self) -> Option<&dyn crate::demo::DemoGenerator> {
        None
    }

    // Contributions (see `contributions.rs`): chart panels and actions, the reporting contract
    // and the patient's export. Every department declares them from the day it lands.

    /// Fragments on the patient chart, each behind its permission.
    fn chart_panels(&self) -> &'static [ChartPanel] {
        &[]
    }
    /// Buttons on the chart and on patient search results, each behind its permission.
    fn chart_actions(&self) -> &'static [ChartAction] {
        &[]
    }
    /// The figures this module keeps for MOH and management reports.
    fn indicators(&self) -> &'static [Indicator] {
        &[]
    }
    /// One of this module's indicators over a range, from indexed queries on its own tables;
    /// `None` for an indicator it does not keep.
    fn figures<'a>(
        &'a self,
        _db: &'a Db,
        _indicator: &'a str,
        _range: &'a FigureRange,
    ) -> ContributionFuture<'a, Option<Figure>> {
        Box::pin(async { Ok(None) })
    }
    /// The records behind a figure: exactly those counted.
    fn figure_sources<'a>(
        &'a self,
        _db: &'a Db,
        _indicator: &'a str,
        _range: &'a FigureRange,
    ) -> ContributionFuture<'a, Vec<FigureSource>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Diagnoses, procedures, items (and payer, service points) of visits, for claims.
    fn visit_facts<'a>(
        &'a self,
        _db: &'a Db,
        _visits: &'a [crate::ids::VisitId],
    ) -> ContributionFuture<'a, Vec<VisitFact>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// This module's part of a patient's record (`patients`: the patient's id, then the ids of
    /// records merged into it), for the patient's right of access.
    fn patient_export<'a>(
        &'a self,
        _db: &'a Db,
        _patients: &'a [crate::ids::PatientId],
    ) -> ContributionFuture<'a, Vec<ExportSection>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// The `.html` files of an embedded template folder as (name, text), for `Module::templates`.
pub fn embedded_templates<E: rust_embed::RustEmbed>() -> Vec<(String, String)> {
    E::iter()
        .filter(|name| name.ends_with(".html"))
        .filter_map(|name| {
            let file = E::get(&name)?;
            Some((
                name.to_string(),
                String::from_utf8_lossy(&file.data).into_owned(),
            ))
        })
        .collect()
}

/// Why a module is or is not enabled (for `hms modules` and the admin screens).
#[derive(Debug, Clone, Serialize)]
pub struct ModuleState {
    pub id: &'static str,
    pub title: &'static str,
    pub enabled: bool,
    pub reason: String,
}

/// The compiled modules and which are enabled.
pub struct Registry {
    modules: Vec<Arc<dyn Module>>,
    enabled: HashMap<&'static str, ModuleState>,
    /// Each permission with its module.
    permissions: HashMap<&'static str, (&'static str, Permission)>,
}

impl Registry {
    /// Builds the registry; `disabled` are module ids switched off by configuration. A module
    /// whose required module is not enabled is disabled too.
    pub fn new(modules: Vec<Arc<dyn Module>>, disabled: &[String]) -> Self {
        let mut enabled: HashMap<&'static str, ModuleState> = HashMap::new();
        for m in &modules {
            let off = disabled.iter().any(|d| d == m.id());
            enabled.insert(
                m.id(),
                ModuleState {
                    id: m.id(),
                    title: m.title(),
                    enabled: !off,
                    reason: if off {
                        "disabled by configuration (modules_disabled)".into()
                    } else {
                        "compiled in and enabled".into()
                    },
                },
            );
        }
        // Requirements: repeat until stable (chains of requirements).
        loop {
            let mut changed = false;
            for m in &modules {
                if !enabled[m.id()].enabled {
                    continue;
                }
                let missing = m
                    .requires()
                    .iter()
                    .find(|r| !enabled.get(*r).is_some_and(|s| s.enabled));
                if let Some(req) = missing {
                    let state = enabled.get_mut(m.id()).expect("registered");
                    state.enabled = false;
                    state.reason =
                        format!("disabled: needs the '{req}' module, which is not enabled");
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let permissions = modules
            .iter()
            .flat_map(|m| m.permissions().iter().map(move |p| (p.code, (m.id(), *p))))
            .collect();
        Self {
            modules,
            enabled,
            permissions,
        }
    }

    /// A permission and the module that defines it.
    pub fn permission(&self, code: &str) -> Option<(&'static str, Permission)> {
        self.permissions.get(code).copied()
    }

    pub fn all(&self) -> &[Arc<dyn Module>] {
        &self.modules
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        self.enabled.get(id).is_some_and(|s| s.enabled)
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Arc<dyn Module>> {
        self.modules.iter().filter(|m| self.is_enabled(m.id()))
    }

    pub fn states(&self) -> Vec<ModuleState> {
        self.modules
            .iter()
            .map(|m| self.enabled[m.id()].clone())
            .collect()
    }

    /// Every permission of every compiled module.
    pub fn all_permissions(&self) -> Vec<Permission> {
        self.modules
            .iter()
            .flat_map(|m| m.permissions().iter().copied())
            .collect()
    }

    /// The module owning a permission code.
    pub fn owner_of(&self, permission: &str) -> Option<&'static str> {
        self.permission(permission).map(|(m, _)| m)
    }

    /// Module templates, for the template environment.
    pub fn templates(&self) -> Vec<(String, String)> {
        self.modules.iter().flat_map(|m| m.templates()).collect()
    }

    /// Merges every compiled module's translations into the catalogue (see
    /// [`crate::i18n::install`]); a key defined twice is an error naming both owners.
    pub fn install_translations(&self) -> Result<(), crate::i18n::CatalogueError> {
        let all: Vec<_> = self.modules.iter().map(|m| (m.id(), m.locales())).collect();
        crate::i18n::install(&all)
    }

    /// Enabled modules in dependency order: each after the modules it requires.
    pub fn enabled_in_order(&self) -> Vec<&Arc<dyn Module>> {
        let mut done: Vec<&Arc<dyn Module>> = Vec::new();
        let mut left: Vec<&Arc<dyn Module>> = self.enabled().collect();
        while !left.is_empty() {
            let before = left.len();
            left.retain(|m| {
                let ready = m
                    .requires()
                    .iter()
                    .all(|r| done.iter().any(|d| d.id() == *r));
                if ready {
                    done.push(m);
                }
                !ready
            });
            if left.len() == before {
                // A cycle cannot be enabled (`new` disables a module whose need is missing),
                // but never loop: keep the rest in their listed order.
                done.append(&mut left);
            }
        }
        done
    }

    /// Every module's routes, each tagged with its module for the per-request gate.
    pub fn routes(&self) -> Vec<RouteSpec> {
        self.modules
            .iter()
            .flat_map(|m| {
                let id = m.id();
                m.routes().into_iter().map(move |r| r.in_module(id))
            })
            .collect()
    }

    /// Menu entries of enabled modules the user may use, in order.
    pub fn menu_for(&self, can: impl Fn(&str) -> bool) -> Vec<MenuItem> {
        let mut items: Vec<MenuItem> = self
            .enabled()
            .flat_map(|m| m.menu().iter().copied())
            .filter(|i| can(i.permission))
            .collect();
        items.sort_by_key(|i| i.order);
        items
    }

    /// A patient's chart timeline from every module that is on (`on`, the per-request gate)
    /// with the entries the user may see (`can`), newest first, at most `limit`. A module whose
    /// read fails is left out (and logged) rather than failing the chart.
    pub async fn timeline(
        &self,
        db: &Db,
        patients: &[i64],
        limit: i64,
        on: impl Fn(&str) -> bool,
        can: impl Fn(&str) -> bool,
    ) -> Vec<TimelineEntry> {
        let mut entries = Vec::new();
        for module in self.enabled().filter(|m| on(m.id())) {
            match module.chart_timeline(db, patients, limit).await {
                Ok(found) => entries.extend(found.into_iter().filter(|e| can(e.permission))),
                Err(e) => {
                    tracing::warn!(module = module.id(), error = %e, "chart timeline read failed")
                }
            }
        }
        entries.sort_by(|a, b| b.at.cmp(&a.at));
        entries.truncate(usize::try_from(limit).unwrap_or(0));
        entries
    }

    /// The enabled module that fills orders of `kind`, if any (without one an order stays
    /// `placed` and prints).
    pub fn filler(&self, kind: &str) -> Option<&Arc<dyn Module>> {
        self.enabled().find(|m| m.fulfils().contains(&kind))
    }

    /// The filler's catalogue entries of `kind` matching `query`, for a prescriber choosing
    /// what to order (price and stock beside each); none when no enabled module fills `kind`,
    /// and the prescriber types the order as free text.
    pub async fn orderables(
        &self,
        db: &Db,
        kind: &str,
        query: &str,
    ) -> Result<Vec<Orderable>, DbError> {
        match self.filler(kind) {
            Some(m) => m.orderables(db, kind, query).await,
            None => Ok(Vec::new()),
        }
    }

    /// One entry of the filler's catalogue of `kind`, by code.
    pub async fn orderable(
        &self,
        db: &Db,
        kind: &str,
        code: &str,
    ) -> Result<Option<Orderable>, DbError> {
        match self.filler(kind) {
            Some(m) => m.orderable(db, kind, code).await,
            None => Ok(None),
        }
    }

    /// Two enabled modules filling one order kind: the message naming both (start-up stops).
    pub fn filler_clash(&self) -> Option<String> {
        let mut seen: HashMap<&'static str, &'static str> = HashMap::new();
        for m in self.enabled() {
            for kind in m.fulfils() {
                if let Some(first) = seen.insert(kind, m.id()) {
                    return Some(format!(
                        "two enabled modules fill '{kind}' orders: '{first}' and '{}'; \
                         disable one of them (modules_disabled)",
                        m.id()
                    ));
                }
            }
        }
        None
    }

    /// Dashboard cards of enabled modules the user may see, in order.
    pub fn cards_for(&self, can: impl Fn(&str) -> bool) -> Vec<DashboardCard> {
        let mut cards: Vec<DashboardCard> = self
            .enabled()
            .flat_map(|m| m.dashboard_cards().iter().copied())
            .filter(|c| can(c.permission))
            .collect();
        cards.sort_by_key(|c| c.order);
        cards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dept(&'static str, &'static [&'static str]);

    impl Module for Dept {
        fn id(&self) -> &'static str {
            self.0
        }
        fn title(&self) -> &'static str {
            "app.name"
        }
        fn requires(&self) -> &'static [&'static str] {
            self.1
        }
        fn permissions(&self) -> &'static [Permission] {
            &[]
        }
        fn routes(&self) -> Vec<RouteSpec> {
            Vec::new()
        }
    }

    #[test]
    fn modules_come_after_the_modules_they_require() {
        let modules: Vec<Arc<dyn Module>> = vec![
            Arc::new(Dept("pharmacy", &["consultations", "patients"])),
            Arc::new(Dept("consultations", &["appointments"])),
            Arc::new(Dept("appointments", &["patients"])),
            Arc::new(Dept("patients", &[])),
            Arc::new(Dept("laboratory", &["consultations"])),
        ];
        let registry = Registry::new(modules, &["laboratory".to_string()]);
        let order: Vec<&str> = registry.enabled_in_order().iter().map(|m| m.id()).collect();
        assert_eq!(
            order,
            ["patients", "appointments", "consultations", "pharmacy"]
        );
    }
}
