//! Licences in tests: a test signing key (handed to the app in code, never through
//! configuration), a clock the test moves, and stand-in department modules so tiers can be
//! exercised before the real departments exist.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use hms_core::http::{Access, Ctx, RouteSpec};
use hms_core::licence::{self, Clock, Payload, Tier};
use hms_core::module::{MenuItem, Module, Permission};
use poem::handler;

/// The key tests sign licences with.
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// A signed licence file's text.
pub fn licence_text(tier: Tier, code: &str, expires: &str, extra: &[&str]) -> String {
    let payload = Payload {
        facility_name: "Mwangaza Health Centre".into(),
        facility_code: code.into(),
        tier,
        modules: extra.iter().map(|m| m.to_string()).collect(),
        branches: 1,
        issued: "2026-01-01".into(),
        expires: expires.into(),
    };
    serde_json::to_string(&licence::sign(&signing_key(), payload)).unwrap()
}

/// A clock that stands still until the test moves it.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn at(rfc3339: &str) -> Self {
        let t = DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc);
        TestClock(Arc::new(Mutex::new(t)))
    }

    pub fn set(&self, rfc3339: &str) {
        *self.0.lock().unwrap() = DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc);
    }

    pub fn advance_days(&self, days: i64) {
        *self.0.lock().unwrap() += Duration::days(days);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// (Patients and the pharmacy are real modules now; the stand-ins cover departments not yet
/// built.)
/// A stand-in department module: one page at `/<id>`, one care permission `<id>.use` granted
/// to every seeded role, and (for `reports`) an administrative permission.
pub struct Department {
    id: &'static str,
    path: &'static str,
    permissions: &'static [Permission],
    menu: &'static [MenuItem],
    grants: &'static [(&'static str, &'static str)],
}

macro_rules! department {
    ($name:ident, $id:literal, $administrative:literal) => {
        pub const $name: Department = Department {
            id: $id,
            path: concat!("/", $id),
            permissions: &[Permission {
                code: concat!($id, ".use"),
                description: concat!("Use the ", $id, " stand-in"),
                administrative: $administrative,
            }],
            menu: &[MenuItem {
                label: $id,
                href: concat!("/", $id),
                permission: concat!($id, ".use"),
                order: 100,
            }],
            grants: &[
                ("admin", concat!($id, ".use")),
                ("receptionist", concat!($id, ".use")),
                ("doctor", concat!($id, ".use")),
            ],
        };
    };
}

department!(LABORATORY, "laboratory", false);
department!(REPORTS, "reports", true);
department!(SYNC, "sync", false);

/// Every stand-in department.
pub fn departments() -> Vec<Arc<dyn Module>> {
    vec![Arc::new(LABORATORY), Arc::new(REPORTS), Arc::new(SYNC)]
}

#[handler]
async fn department_page(cx: Ctx) -> String {
    format!("department page {}", cx.path())
}

impl Module for Department {
    fn id(&self) -> &'static str {
        self.id
    }
    fn title(&self) -> &'static str {
        self.id
    }
    fn permissions(&self) -> &'static [Permission] {
        self.permissions
    }
    fn default_grants(&self) -> &'static [(&'static str, &'static str)] {
        self.grants
    }
    fn menu(&self) -> &'static [MenuItem] {
        self.menu
    }
    fn routes(&self) -> Vec<RouteSpec> {
        vec![
            RouteSpec::get(
                self.path,
                Access::Permission(self.permissions[0].code),
                department_page,
            ),
            RouteSpec::post(
                self.path,
                Access::Permission(self.permissions[0].code),
                department_page,
            ),
        ]
    }
}
