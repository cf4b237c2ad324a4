//! Administration: the facility's user accounts (add, edit roles and details, disable, reset
//! passwords, end sessions, clear sign-in delays) and the state of backups. It is the first
//! module, so the module mechanism is exercised before any department exists.

mod model;
mod repo;
mod routes;

use hms_core::http::{Access, RouteSpec};
use hms_core::module::{DashboardCard, MenuItem, Module, Permission};
use rust_embed::RustEmbed;

pub use model::CADRES;

pub const USERS_VIEW: &str = "admin.users.view";
pub const USERS_MANAGE: &str = "admin.users.manage";
pub const BACKUPS_VIEW: &str = "admin.backups.view";
pub const LICENCE_MANAGE: &str = hms_core::licence::MANAGE_PERMISSION;

const PERMISSIONS: &[Permission] = &[
    Permission {
        code: USERS_VIEW,
        description: "See staff accounts, their roles and their sessions",
        administrative: false,
    },
    Permission {
        code: USERS_MANAGE,
        description: "Add staff accounts, change roles and details, disable accounts, reset \
                      passwords, end sessions and clear sign-in delays",
        administrative: true,
    },
    Permission {
        code: LICENCE_MANAGE,
        description: "See the licence and install a new one (always allowed, even when the \
                      licence has expired)",
        administrative: false,
    },
    Permission {
        code: BACKUPS_VIEW,
        description: "See whether the automatic backups are working",
        administrative: false,
    },
];

const MENU: &[MenuItem] = &[
    MenuItem {
        label: "admin.menu_users",
        href: "/admin/users",
        permission: USERS_VIEW,
        order: 900,
    },
    MenuItem {
        label: "admin.menu_licence",
        href: "/admin/licence",
        permission: LICENCE_MANAGE,
        order: 920,
    },
];

const CARDS: &[DashboardCard] = &[
    DashboardCard {
        id: "admin-users",
        title: "admin.card_users",
        href: "/admin/cards/users",
        permission: USERS_VIEW,
        order: 900,
    },
    DashboardCard {
        id: "admin-backup",
        title: "admin.card_backup",
        href: "/admin/cards/backup",
        permission: BACKUPS_VIEW,
        order: 910,
    },
];

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Templates;

pub struct AdminModule;

impl Module for AdminModule {
    fn id(&self) -> &'static str {
        "admin"
    }

    fn title(&self) -> &'static str {
        "admin.title"
    }

    fn permissions(&self) -> &'static [Permission] {
        PERMISSIONS
    }

    // The administrator's grants are in policies/policy.csv, the platform's baseline.

    fn menu(&self) -> &'static [MenuItem] {
        MENU
    }

    fn templates(&self) -> Vec<(String, String)> {
        hms_core::module::embedded_templates::<Templates>()
    }

    fn routes(&self) -> Vec<RouteSpec> {
        use routes::*;
        use Access::Permission as P;
        vec![
            RouteSpec::get("/admin/users", P(USERS_VIEW), users_list),
            RouteSpec::get("/admin/users/new", P(USERS_MANAGE), user_new),
            RouteSpec::post("/admin/users", P(USERS_MANAGE), user_create),
            RouteSpec::get("/admin/users/:id", P(USERS_VIEW), user_show),
            RouteSpec::post("/admin/users/:id", P(USERS_MANAGE), user_update),
            RouteSpec::post("/admin/users/:id/disable", P(USERS_MANAGE), user_disable),
            RouteSpec::post("/admin/users/:id/enable", P(USERS_MANAGE), user_enable),
            RouteSpec::post(
                "/admin/users/:id/reset-password",
                P(USERS_MANAGE),
                user_reset_password,
            ),
            RouteSpec::post(
                "/admin/users/:id/sessions/end",
                P(USERS_MANAGE),
                user_end_sessions,
            ),
            RouteSpec::post(
                "/admin/users/:id/throttle/clear",
                P(USERS_MANAGE),
                user_clear_throttle,
            ),
            RouteSpec::get("/admin/licence", P(LICENCE_MANAGE), licence_show),
            RouteSpec::post("/admin/licence", P(LICENCE_MANAGE), licence_install)
                .body_limit(64 * 1024),
            RouteSpec::get("/admin/cards/users", P(USERS_VIEW), card_users),
            RouteSpec::get("/admin/cards/backup", P(BACKUPS_VIEW), card_backup),
        ]
    }

    fn dashboard_cards(&self) -> &'static [DashboardCard] {
        CARDS
    }
}
