//! Administration: the facility's user accounts (add, edit roles and details, disable, reset
//! passwords, end sessions, clear sign-in delays) and the state of backups. It is the first
//! module, so the module mechanism is exercised before any department exists.

mod model;
mod outbox;
mod repo;
mod roles;
mod routes;
mod settings;

use hms_core::http::{Access, RouteSpec};
use hms_core::module::{DashboardCard, MenuItem, Module, Permission};
use rust_embed::RustEmbed;

pub use model::CADRES;

pub const USERS_VIEW: &str = "admin.users.view";
pub const USERS_MANAGE: &str = "admin.users.manage";
pub const BACKUPS_VIEW: &str = "admin.backups.view";
pub const LICENCE_MANAGE: &str = hms_core::licence::MANAGE_PERMISSION;
pub const SETTINGS_MANAGE: &str = "admin.settings.manage";
pub const OUTBOX_VIEW: &str = "admin.outbox.view";
pub const ROLES_MANAGE: &str = "admin.roles.manage";

const PERMISSIONS: &[Permission] = &[
    Permission {
        code: USERS_VIEW,
        description: "See staff accounts, their roles and their sessions",
        administrative: false,
    },
    Permission {
        code: USERS_MANAGE,
        description: "Add staff accounts, change roles and details, disable accounts, reset \
                      passwords, end sessions and clear sign-in delays (the last four go on \
                      when the licence has expired)",
        administrative: true,
    },
    Permission {
        code: ROLES_MANAGE,
        description: "Decide which roles hold which permissions, and add or remove custom roles",
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
    Permission {
        code: SETTINGS_MANAGE,
        description: "Change the facility's settings (name, KMHFL code, level, contacts, \
                      language, working days, email sender, logo) and send a test email",
        administrative: true,
    },
    Permission {
        code: OUTBOX_VIEW,
        description: "See emails waiting to be sent or that failed, and send failed ones again",
        administrative: false,
    },
];

/// The administrator holds every administration permission from the start.
const GRANTS: &[(&str, &str)] = &[
    ("admin", USERS_VIEW),
    ("admin", USERS_MANAGE),
    ("admin", ROLES_MANAGE),
    ("admin", BACKUPS_VIEW),
    ("admin", LICENCE_MANAGE),
    ("admin", SETTINGS_MANAGE),
    ("admin", OUTBOX_VIEW),
];

const MENU: &[MenuItem] = &[
    MenuItem {
        label: "admin.menu_users",
        href: "/admin/users",
        permission: USERS_VIEW,
        order: 900,
    },
    MenuItem {
        label: "admin.menu_roles",
        href: "/admin/roles",
        permission: ROLES_MANAGE,
        order: 905,
    },
    MenuItem {
        label: "admin.menu_licence",
        href: "/admin/licence",
        permission: LICENCE_MANAGE,
        order: 920,
    },
    MenuItem {
        label: "settings.menu",
        href: "/admin/settings",
        permission: SETTINGS_MANAGE,
        order: 930,
    },
    MenuItem {
        label: "outbox.menu",
        href: "/admin/outbox",
        permission: OUTBOX_VIEW,
        order: 940,
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

/// The module's texts, merged into the catalogue at start-up.
const LOCALES: hms_core::i18n::ModuleLocales = &[
    ("en", include_str!("../locales/en.toml")),
    ("sw", include_str!("../locales/sw.toml")),
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
        use routes::*;
        use Access::Permission as P;
        vec![
            RouteSpec::get("/admin/users", P(USERS_VIEW), users_list),
            RouteSpec::get("/admin/users/new", P(USERS_MANAGE), user_new),
            RouteSpec::post("/admin/users", P(USERS_MANAGE), user_create),
            RouteSpec::get("/admin/users/:id", P(USERS_VIEW), user_show),
            RouteSpec::post("/admin/users/:id", P(USERS_MANAGE), user_update),
            // Shutting a person out (or a locked-out person back in with a new password) is
            // security, not administration: it goes on when the licence pauses administration.
            RouteSpec::post("/admin/users/:id/disable", P(USERS_MANAGE), user_disable)
                .never_paused(),
            RouteSpec::post("/admin/users/:id/enable", P(USERS_MANAGE), user_enable),
            RouteSpec::post(
                "/admin/users/:id/reset-password",
                P(USERS_MANAGE),
                user_reset_password,
            )
            .never_paused(),
            RouteSpec::post(
                "/admin/users/:id/sessions/end",
                P(USERS_MANAGE),
                user_end_sessions,
            )
            .never_paused(),
            RouteSpec::post(
                "/admin/users/:id/throttle/clear",
                P(USERS_MANAGE),
                user_clear_throttle,
            )
            .never_paused(),
            RouteSpec::get("/admin/roles", P(ROLES_MANAGE), roles::matrix),
            RouteSpec::post("/admin/roles", P(ROLES_MANAGE), roles::save_matrix),
            RouteSpec::get("/admin/roles/new", P(ROLES_MANAGE), roles::new_role),
            RouteSpec::post("/admin/roles/new", P(ROLES_MANAGE), roles::create_role),
            RouteSpec::post(
                "/admin/roles/:name/delete",
                P(ROLES_MANAGE),
                roles::delete_role,
            ),
            RouteSpec::get("/admin/licence", P(LICENCE_MANAGE), licence_show),
            RouteSpec::post("/admin/licence", P(LICENCE_MANAGE), licence_install)
                .body_limit(64 * 1024),
            RouteSpec::get(
                "/admin/settings",
                P(SETTINGS_MANAGE),
                settings::settings_show,
            ),
            // The logo (at most 256 KiB) and the fields; larger files get a message, not 413.
            RouteSpec::post(
                "/admin/settings",
                P(SETTINGS_MANAGE),
                settings::settings_save,
            )
            .body_limit(2 * hms_core::settings::LOGO_MAX_BYTES)
            .multiline(&["facility_address"]),
            RouteSpec::post(
                "/admin/settings/test-email",
                P(SETTINGS_MANAGE),
                settings::settings_test_email,
            ),
            RouteSpec::get("/admin/outbox", P(OUTBOX_VIEW), outbox::outbox_list),
            RouteSpec::post(
                "/admin/outbox/:id/retry",
                P(OUTBOX_VIEW),
                outbox::outbox_retry,
            ),
            RouteSpec::get("/admin/cards/users", P(USERS_VIEW), card_users),
            RouteSpec::get("/admin/cards/backup", P(BACKUPS_VIEW), card_backup),
        ]
    }

    fn dashboard_cards(&self) -> &'static [DashboardCard] {
        CARDS
    }
}

#[cfg(test)]
mod locale_tests {
    #[test]
    fn translations_have_the_same_keys_in_every_language_and_none_empty() {
        hms_core::i18n::check_module("admin", super::LOCALES).unwrap();
    }
}
