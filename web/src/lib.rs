//! hms-web: assembles the platform and its screens into the `hms` server, and the command line.

/// The server's allocator for every binary built on this crate (`hms`, the benchmark's copy of
/// it, the tests): with glibc's, a live patient search spent about 18% of its time in
/// `malloc` and `free` (many small short-lived strings and rows, across threads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod assets;
pub mod cli;
pub mod connections;
pub mod demo;
pub mod pages;
pub mod server;

use hms_core::app::Parts;
use hms_core::config::Config;
use hms_core::db::Db;
use std::sync::Arc;

use hms_core::http::{build_router, Access, Platform, RouteSpec};
use hms_core::module::Module;
use hms_core::App;
use poem::Endpoint;

use pages::{account, alerts, health, home, language, login, logo, setup};

/// The department modules compiled into this binary, one Cargo feature each.
pub fn compiled_modules() -> Vec<Arc<dyn Module>> {
    let list: Vec<Arc<dyn Module>> = vec![
        #[cfg(feature = "admin")]
        Arc::new(hms_admin::AdminModule),
        #[cfg(feature = "audit")]
        Arc::new(hms_audit::AuditModule),
        #[cfg(feature = "patients")]
        Arc::new(hms_patients::PatientsModule),
        #[cfg(feature = "appointments")]
        Arc::new(hms_appointments::AppointmentsModule),
        #[cfg(feature = "consultations")]
        Arc::new(hms_consultations::ConsultationsModule),
        #[cfg(feature = "pharmacy")]
        Arc::new(hms_pharmacy::PharmacyModule),
        #[cfg(feature = "billing")]
        Arc::new(hms_billing::BillingModule),
    ];
    list
}

/// Every route: the platform's own and every compiled module's (disabled modules answer 404
/// through the gate). Each names its access; the platform adds the guard.
pub fn routes(app: &App) -> Vec<RouteSpec> {
    let mut all = platform_routes();
    all.extend(app.modules.routes());
    all
}

/// The platform's own screens.
pub fn platform_routes() -> Vec<RouteSpec> {
    use Access::*;
    vec![
        RouteSpec::get("/healthz", Public, health::healthz),
        RouteSpec::get("/static/*name", Public, assets::static_file),
        RouteSpec::get("/favicon.ico", Public, assets::favicon),
        RouteSpec::get("/setup", Public, setup::show),
        RouteSpec::post("/setup", Public, setup::submit),
        RouteSpec::get("/login", Public, login::show),
        RouteSpec::post("/login", Public, login::submit),
        RouteSpec::post("/logout", Authenticated, login::logout),
        RouteSpec::post("/language", Public, language::switch),
        RouteSpec::get("/facility/logo", Authenticated, logo::show),
        RouteSpec::get("/", Authenticated, home::dashboard),
        RouteSpec::get("/account/password", Authenticated, account::password_form),
        RouteSpec::post("/account/password", Authenticated, account::password_submit),
        RouteSpec::get("/orders/alerts", Authenticated, alerts::list),
        RouteSpec::get("/orders/alerts/badge", Authenticated, alerts::badge),
        RouteSpec::post("/orders/alerts/:id/ack", Authenticated, alerts::acknowledge),
    ]
}

/// The compiled modules, templates and static file versions; the compiled licence key and the
/// system clock.
pub fn parts() -> Parts {
    Parts {
        modules: compiled_modules(),
        licence_key: None,
        clock: None,
        templates: Vec::new(),
        asset_versions: assets::versions(),
    }
}

/// Opens the configured database (creating and migrating it) and builds the application.
pub async fn start(config: Config) -> Result<App, hms_core::app::StartError> {
    App::start(config, parts()).await
}

/// Builds the application on an already open database (tests use this).
pub async fn start_with_db(config: Config, db: Db) -> Result<App, hms_core::app::StartError> {
    App::with_db(config, db, parts()).await
}

/// Builds the application from explicit parts (the test kit adds test modules, a test licence
/// key and a movable clock this way).
pub async fn start_with_parts(
    config: Config,
    db: Db,
    parts: Parts,
) -> Result<App, hms_core::app::StartError> {
    App::with_db(config, db, parts).await
}

/// The whole HTTP application: the router behind the platform pipeline.
pub fn endpoint(app: App) -> impl Endpoint<Output = poem::Response> {
    let router = build_router(routes(&app));
    Platform::new(app, router)
}
