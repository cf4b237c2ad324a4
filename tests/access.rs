//! Access control over every route: each route with each seeded role gets exactly what the
//! stored policy grants. The routes come from the running application, so routes of modules
//! added later are covered without editing this file.

use std::collections::HashSet;

use hms_core::http::{Access, RouteSpec};
use hms_testkit::{each_backend, Backend, TestApp};
use poem::http::Method;
use sqlx::Row;

/// The only routes anyone may call without signing in.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/static/*name",
    "/favicon.ico",
    "/setup",
    "/login",
    "/language",
    // The waiting-room TV: a secret, revocable key in the address, token numbers only.
    "/display/:key",
];

/// Machines calling in (M-Pesa): a configured secret in the address, no session; without it
/// (as here) they answer 404 to everyone.
const CALLBACKS: &[&str] = &[
    "/billing/mpesa/stk/:secret",
    "/billing/mpesa/c2b/:secret/confirmation",
    "/billing/mpesa/c2b/:secret/validation",
];

fn concrete(path: &str, target_id: i64) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with(':') {
                target_id.to_string()
            } else if seg.starts_with('*') {
                "hms.css".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn granted(app: &TestApp, role: &str) -> HashSet<String> {
    sqlx::query("SELECT permission FROM role_grants WHERE role_name = $1 AND voided_at IS NULL")
        .bind(role)
        .fetch_all(app.db().read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect()
}

/// A fingerprint of everything a refused request must not change.
async fn state(app: &TestApp) -> (i64, i64, Vec<(i64, i64, String)>) {
    // Read rows of the previous (allowed) request are group-committed a moment later: let them
    // land first, so they are not taken for a change made by the refused request.
    app.app.audit_reads.flush().await;
    let users = sqlx::query("SELECT id, is_active, updated_at FROM users ORDER BY id")
        .fetch_all(app.db().read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    (
        app.count("audit_log").await,
        app.count("role_grants_rows").await,
        users,
    )
}

fn routes(app: &TestApp) -> Vec<RouteSpec> {
    let mut specs = hms_web::routes(&app.app);
    // Signing out ends the client's session: walk it last.
    specs.sort_by_key(|s| s.path == "/logout");
    specs
}

each_backend! {
    async fn every_route_answers_each_role_as_the_policy_says(app) {
        app.setup_admin().await;
        let target = app.add_user("target.nurse", &["nurse"]).await;
        let roles = ["admin", "receptionist", "doctor", "nurse", "lab_tech", "pharmacist", "accountant"];
        for role in roles {
            app.add_user(&format!("walk.{role}"), &[role]).await;
        }
        let specs = routes(&app);
        assert!(specs.len() >= 20, "platform and module routes are listed");

        // Public is explicit and rare; everything else needs a signed-in user.
        let anonymous = app.client();
        for spec in &specs {
            let path = concrete(spec.path, target);
            match spec.access {
                Access::Public => assert!(PUBLIC.contains(&spec.path), "{} {} is public but not on the list", spec.method, spec.path),
                Access::Callback => {
                    assert!(CALLBACKS.contains(&spec.path), "{} {} is a callback but not on the list", spec.method, spec.path);
                    let r = anonymous.send(spec.method.clone(), &path, &[("content-type", "application/json")], b"{}".to_vec()).await;
                    assert_eq!(r.status, 404, "{} {} with no secret configured", spec.method, spec.path);
                }
                _ => {
                    let r = if spec.method == Method::GET {
                        anonymous.get(&path).await
                    } else {
                        anonymous.post_form(&path, &[]).await
                    };
                    assert!(r.status == 303 || r.status == 403, "{} {} without a session: {}", spec.method, spec.path, r.status);
                    if r.status == 303 {
                        assert!(r.location().unwrap().starts_with("/login"), "{} {}", spec.method, spec.path);
                    }
                }
            }
        }

        let (mut allowed_seen, mut denied_seen) = (0, 0);
        for role in roles {
            let grants = granted(&app, role).await;
            let client = app.login(&format!("walk.{role}")).await;
            for spec in specs.iter().filter(|s| !matches!(s.access, Access::Public | Access::Callback)) {
                let path = concrete(spec.path, target);
                let allowed = match spec.access {
                    Access::Permission(p) => grants.contains(p),
                    _ => true,
                };
                let before = state(&app).await;
                let r = if spec.method == Method::GET {
                    client.get(&path).await
                } else {
                    client.post_form(&path, &[]).await
                };
                if allowed {
                    allowed_seen += 1;
                    assert_ne!(r.status, 403, "{role} may {} {}", spec.method, spec.path);
                } else {
                    denied_seen += 1;
                    assert_eq!(r.status, 403, "{role} may not {} {}", spec.method, spec.path);
                    assert!(r.body.contains("Not allowed"), "friendly 403 page");
                    assert!(!r.body.contains("target.nurse"), "no data in a refusal");
                    assert_eq!(state(&app).await, before, "{role} {} {} changed something", spec.method, spec.path);
                }
            }
        }
        assert!(allowed_seen > 20 && denied_seen > 20, "both outcomes walked: {allowed_seen} allowed, {denied_seen} denied");
    }

    async fn modules_switched_off_answer_404_and_leave_menus_and_permissions(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = TestApp::start_with(backend, |c| c.modules_disabled = vec!["admin".into()]).await else {
            return;
        };
        let admin = app.setup_admin().await;
        assert_eq!(admin.get("/admin/users").await.status, 404);
        assert_eq!(admin.get("/admin/cards/users").await.status, 404);
        let home = admin.get("/").await;
        assert!(!home.body.contains("Staff accounts"), "no menu item or card");
        assert!(!home.body.contains("/admin/cards/users"), "the staff card is gone");
        assert!(home.body.contains("/appointments/cards/today"), "other modules' cards stay");
        assert!(app.app.modules.states().iter().any(|s| s.id == "admin" && !s.enabled));
    }
}

/// For every role and permission, the set a request would use and Casbin's enforce agree.
async fn agree(app: &TestApp, version: i64) {
    use casbin::CoreApi;
    let db = app.db();
    let registry = &app.app.modules;
    let policy = app.app.rbac.policy(db, registry, version).await.unwrap();
    let roles = hms_core::auth::users::all_roles(db).await.unwrap();
    for role in &roles {
        let set = app
            .app
            .rbac
            .permissions(db, registry, version, std::slice::from_ref(&role.name))
            .await
            .unwrap();
        for p in registry.all_permissions() {
            let enforced = policy
                .enforcer
                .enforce((role.name.as_str(), p.code))
                .unwrap();
            assert_eq!(set.contains(p.code), enforced, "{} {}", role.name, p.code);
        }
    }
    // A user with several roles holds the union.
    let set = app
        .app
        .rbac
        .permissions(db, registry, version, &["nurse".into(), "admin".into()])
        .await
        .unwrap();
    assert_eq!(
        set.contains("admin.users.manage"),
        policy
            .enforcer
            .enforce(("admin", "admin.users.manage"))
            .unwrap()
    );
}

#[tokio::test]
async fn set_lookups_agree_with_casbin_enforce_for_every_role_and_permission() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let db = app.db();
    let registry = &app.app.modules;
    let v1 = hms_core::rbac::current_version(db).await.unwrap();
    agree(&app, v1).await;
    let before = app
        .app
        .rbac
        .permissions(db, registry, v1, &["admin".into()])
        .await
        .unwrap();
    assert!(before.contains("admin.users.view"));

    // A change moves the version; the new set and Casbin agree again.
    let mut tx = db.begin().await.unwrap();
    hms_core::rbac::revoke(&mut tx, "admin", "admin.users.view")
        .await
        .unwrap();
    hms_core::rbac::grant(&mut tx, "receptionist", "admin.users.view")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let v2 = hms_core::rbac::current_version(db).await.unwrap();
    assert!(v2 > v1);
    agree(&app, v2).await;
    let after = app
        .app
        .rbac
        .permissions(db, registry, v2, &["admin".into()])
        .await
        .unwrap();
    assert!(!after.contains("admin.users.view"));
    assert!(app
        .app
        .rbac
        .permissions(db, registry, v2, &["receptionist".into()])
        .await
        .unwrap()
        .contains("admin.users.view"));
}

/// Every role's default permissions, as seeded before each module declared all of its grants
/// in `Module::default_grants` (some came from a policy file then): moving them changed none.
/// Modules added since then bring their own (consultations: vitals, notes, orders, documents;
/// pharmacy: its nine permissions; billing: the desk for accountants and receptionists, approvals
/// and settings for administrators).
const GRANTS_BEFORE: &[(&str, &[&str])] = &[
    (
        "accountant",
        &[
            "billing.claims",
            "billing.collect",
            "billing.invoice",
            "billing.prices",
            "billing.view",
            "patients.view",
            "pharmacy.reports",
            "queue.call",
        ],
    ),
    (
        "admin",
        &[
            "admin.backups.view",
            "admin.licence.manage",
            "admin.outbox.view",
            "admin.roles.manage",
            "admin.settings.manage",
            "admin.users.manage",
            "admin.users.view",
            "appointments.book",
            "appointments.manage",
            "appointments.view",
            "audit.export",
            "audit.patient_report",
            "audit.view",
            "billing.approve",
            "billing.settings",
            "billing.view",
            "diagnoses.manage",
            "patients.edit",
            "patients.import",
            "patients.merge",
            "patients.register",
            "patients.view",
            "pharmacy.approve",
            "pharmacy.reports",
            "pharmacy.view",
            "schedules.manage",
        ],
    ),
    (
        "doctor",
        &[
            "appointments.view",
            "consultations.view",
            "consultations.write",
            "documents.issue",
            "orders.place",
            "patients.view",
            "pharmacy.view",
            "queue.call",
            "vitals.record",
        ],
    ),
    ("lab_tech", &["patients.view", "queue.call"]),
    (
        "nurse",
        &[
            "appointments.view",
            "consultations.view",
            "patients.view",
            "pharmacy.view",
            "queue.call",
            "queue.checkin",
            "vitals.record",
        ],
    ),
    (
        "pharmacist",
        &[
            "patients.view",
            "pharmacy.adjust",
            "pharmacy.catalogue",
            "pharmacy.count",
            "pharmacy.dispense",
            "pharmacy.receive",
            "pharmacy.reports",
            "pharmacy.transfer",
            "pharmacy.view",
            "queue.call",
        ],
    ),
    (
        "receptionist",
        &[
            "appointments.book",
            "appointments.manage",
            "appointments.view",
            "billing.collect",
            "billing.view",
            "patients.edit",
            "patients.register",
            "patients.view",
            "queue.checkin",
        ],
    ),
];

each_backend! {
    async fn every_role_gets_the_same_default_grants_as_before_they_moved_into_modules(app) {
        let rows = sqlx::query("SELECT role_name, permission FROM role_grants ORDER BY role_name, permission")
            .fetch_all(app.db().read())
            .await
            .unwrap();
        let mut seeded: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for r in rows {
            seeded.entry(r.get(0)).or_default().push(r.get(1));
        }
        let before: std::collections::BTreeMap<String, Vec<String>> = GRANTS_BEFORE
            .iter()
            .map(|(role, ps)| (role.to_string(), ps.iter().map(|p| p.to_string()).collect()))
            .collect();
        assert_eq!(seeded, before);
    }
}

#[tokio::test]
async fn default_grants_are_seeded_once_so_an_admins_revocation_survives_restarts() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let mut tx = app.db().begin().await.unwrap();
    hms_core::rbac::revoke(&mut tx, "admin", "admin.backups.view")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Restart: the app is built again on the same database.
    let again = hms_web::start_with_db(app.app.config.clone(), app.db().clone())
        .await
        .unwrap();
    let seeded = hms_core::rbac::seed_new_modules(&again.db, &again.modules)
        .await
        .unwrap();
    assert!(seeded.is_empty(), "nothing seeded twice");
    let granted = sqlx::query("SELECT COUNT(*) FROM role_grants WHERE role_name = 'admin' AND permission = 'admin.backups.view' AND voided_at IS NULL")
        .fetch_one(again.db.read()).await.unwrap().get::<i64, _>(0);
    assert_eq!(granted, 0, "the revocation stands");
    let others = sqlx::query(
        "SELECT COUNT(*) FROM role_grants WHERE role_name = 'admin' AND voided_at IS NULL",
    )
    .fetch_one(again.db.read())
    .await
    .unwrap()
    .get::<i64, _>(0);
    let mut defaults: std::collections::BTreeSet<String> = Default::default();
    for module in again.modules.all() {
        for (role, p) in module.default_grants() {
            if *role == "admin" {
                defaults.insert(p.to_string());
            }
        }
    }
    let defaults = defaults.len() as i64;
    assert_eq!(
        others,
        defaults - 1,
        "every other default grant is still there"
    );
}

/// Every `name="..."` of every template: the form fields and query parameters a screen sends.
fn field_names() -> Vec<String> {
    let mut sources: Vec<String> = hms_web::parts()
        .templates
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    for m in hms_web::compiled_modules() {
        sources.extend(m.templates().into_iter().map(|(_, s)| s));
    }
    let mut names: Vec<String> = Vec::new();
    for source in &sources {
        for piece in source.split("name=\"").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != "csrf_token" && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

each_backend! {
    async fn control_characters_in_any_field_of_any_route_are_refused_and_change_nothing(app) {
        app.setup_admin().await;
        let roles = ["admin", "receptionist", "doctor", "nurse", "lab_tech", "pharmacist", "accountant"];
        let target = app.add_user("every.role", &roles).await;
        let fields = field_names();
        assert!(fields.len() > 60, "fields found in the templates: {}", fields.len());
        for name in ["allergies", "ward", "reason", "full_name", "username", "q"] {
            assert!(fields.iter().any(|f| f == name), "{name} is a field of some screen");
        }
        let c = app.login("every.role").await;
        let specs = routes(&app);
        let before = state(&app).await;
        let patients = app.count("patients").await;
        let mut refused = 0;
        // Callbacks read no form: their JSON body is kept as it came (NUL removed).
        for spec in specs.iter().filter(|s| s.path != "/logout" && s.access != Access::Callback) {
            let path = concrete(spec.path, target);
            if spec.method == Method::GET {
                // A NUL and another control character in the query string.
                for bad in ["%00", "%1B"] {
                    let r = c.get(&format!("{path}?q=ab{bad}c&day=2026-01-01")).await;
                    assert_eq!(r.status, 400, "GET {path} with {bad}");
                    assert!(r.body.contains("“q”"), "the field is named: GET {path}");
                }
                continue;
            }
            c.get("/").await;
            let token = c.csrf_token().unwrap();
            for (i, field) in fields.iter().enumerate() {
                // NUL in every field; another control character in some, by turns.
                let bad = if (i + refused) % 7 == 0 { "Kibra\u{7}" } else { "pen\u{0}icillin" };
                let body: String = form_urlencoded::Serializer::new(String::new())
                    .append_pair("csrf_token", &token)
                    .append_pair(field, bad)
                    .finish();
                let r = c.send(spec.method.clone(), &path, &[
                    ("Content-Type", "application/x-www-form-urlencoded"), ("HX-Request", "true"),
                ], body.into_bytes()).await;
                assert_eq!(r.status, 400, "{} {path} field {field}: {}", spec.method, r.body);
                assert!(r.body.contains(&format!("“{field}”")), "names the field {field}");
                refused += 1;
            }
        }
        assert!(refused > 1000, "{refused} forms refused");
        assert_eq!(state(&app).await, before, "nothing was written");
        assert_eq!(app.count("patients").await, patients);

        // Signing in anonymously, and a NUL in the address itself.
        let anon = app.client();
        anon.get("/login").await;
        let r = anon.post_form("/login", &[("username", "ad\u{0}min"), ("password", "x")]).await;
        assert_eq!(r.status, 400);
        assert_eq!(c.get("/display/ab%00cd").await.status, 400);

        // A text area keeps its lines; a single-line field does not take them.
        let settings = c.get("/admin/settings").await;
        assert_eq!(settings.status, 200);
        let r = c.post_form("/patients", &[("ward", "Kibra\nWest")]).await;
        assert_eq!(r.status, 400, "newline in a one-line field");
        let r = c.post_form(&format!("/patients/{target}/merge/{target}"), &[("reason", "same person\nsame ID")]).await;
        assert_ne!(r.status, 400, "a newline in a text area reaches the screen's own checks");
        let r = c.post_form(&format!("/patients/{target}/merge/{target}"), &[("reason", "same\u{0}person")]).await;
        assert_eq!(r.status, 400, "but never a NUL");
    }
}
