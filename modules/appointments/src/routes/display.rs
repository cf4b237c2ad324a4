//! The waiting-room TV: one screen per service point at a secret address, opened without signing
//! in. It shows token numbers (the ones called and where to go, the next ones waiting), never a
//! name. The address holds a random 256-bit key shown once to the administrator; only its
//! SHA-256 is stored, and making a new key (or turning the display off) ends the old address.

use chrono::{Duration, Utc};
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::auth::{random_token, token_hash};
use hms_core::http::{render, render_part, see_other, Access, Ctx, FlashKind, RouteSpec};
use hms_core::i18n::t;
use hms_core::{clock, AppError, AppResult};

use crate::repo::queue as q;
use crate::SCHEDULES;

/// Calls older than this leave the "now calling" list.
const CALLED_MINUTES: i64 = 30;
/// Most tokens in each list of the screen.
const CALLED_SHOWN: i64 = 6;
const WAITING_SHOWN: i64 = 12;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/display/:key", Access::Public, show),
        RouteSpec::get("/displays", P(SCHEDULES), list),
        RouteSpec::post("/queues/:code/display-key", P(SCHEDULES), new_key),
        RouteSpec::post("/queues/:code/display-key/revoke", P(SCHEDULES), revoke),
    ]
}

/// A display key as the address carries it: 64 lowercase hex characters.
fn well_formed(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Debug, Default, Deserialize)]
pub struct DisplayQuery {
    /// Set by the polling request, which wants only the lists.
    #[serde(default)]
    live: Option<String>,
}

#[derive(Serialize)]
struct Called {
    token: i64,
    serving: bool,
}

#[handler]
pub async fn show(
    cx: Ctx,
    Path(key): Path<String>,
    Query(query): Query<DisplayQuery>,
) -> AppResult<Response> {
    if !well_formed(&key) {
        return Err(AppError::NotFound);
    }
    let db = &cx.app().db;
    let point = q::point_by_display_hash(db, &token_hash(&key))
        .await?
        .ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let since = (now - Duration::minutes(CALLED_MINUTES))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let called: Vec<Called> = q::display_called(db, point.id, &since, CALLED_SHOWN)
        .await?
        .into_iter()
        .map(|(token, state, _)| Called {
            token,
            serving: state == "serving",
        })
        .collect();
    let waiting: Vec<i64> = q::waiting_tokens(db, point.id, WAITING_SHOWN)
        .await?
        .into_iter()
        .map(|(token, _, _)| token)
        .collect();
    let mut c = tera::Context::new();
    c.insert("key", &key);
    c.insert(
        "point",
        &json!({"name": point.name, "room": point.room.clone().unwrap_or(point.name.clone())}),
    );
    c.insert("called", &called);
    c.insert("waiting", &waiting);
    c.insert("time", &clock::to_local(now).format("%H:%M").to_string());
    if query.live.is_some() {
        render_part(
            &cx,
            "appointments/display.html",
            "appointments/_display_live.html",
            c,
        )
    } else {
        render(&cx, "appointments/display.html", c)
    }
}

/// The service points and whether each has a display address.
#[handler]
pub async fn list(cx: Ctx) -> AppResult<Response> {
    let points: Vec<serde_json::Value> = q::points(&cx.app().db)
        .await?
        .into_iter()
        .map(|p| json!({"code": p.code, "name": p.name, "room": p.room, "on": p.has_display}))
        .collect();
    let mut c = tera::Context::new();
    c.insert("points", &points);
    render(&cx, "appointments/displays.html", c)
}

/// Makes a new display key for a point (ending the old address) and shows its address once.
#[handler]
pub async fn new_key(cx: Ctx, Path(code): Path<String>) -> AppResult<Response> {
    let app = cx.app();
    let point = q::point(app.db.read(), &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let key = random_token();
    let mut tx = app.db.begin().await?;
    q::set_display_hash(&mut tx, point.id, Some(&token_hash(&key))).await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("display.key_new", "service_point", Some(point.id))
            .detail(json!({"point": point.code, "replaced": point.has_display})),
    )
    .await?;
    tx.commit().await?;
    let path = format!("/display/{key}");
    // The full address only from the configured public URL: a request's Host header is the
    // sender's to choose. Without one, the path (the screen says to add it to the address).
    let address = match &app.config.public_url {
        Some(base) => format!("{base}{path}"),
        None => path.clone(),
    };
    let mut c = tera::Context::new();
    c.insert(
        "point",
        &json!({"code": point.code, "name": point.name, "room": point.room}),
    );
    c.insert("display_path", &path);
    c.insert("address", &address);
    c.insert("path_only", &app.config.public_url.is_none());
    c.insert("replaced", &point.has_display);
    render(&cx, "appointments/display_key.html", c)
}

/// Turns a point's display off: its address answers 404 from now on.
#[handler]
pub async fn revoke(cx: Ctx, Path(code): Path<String>) -> AppResult<Response> {
    let app = cx.app();
    let point = q::point(app.db.read(), &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = app.db.begin().await?;
    q::set_display_hash(&mut tx, point.id, None).await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("display.key_revoke", "service_point", Some(point.id))
            .detail(json!({"point": point.code})),
    )
    .await?;
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("appointments_queue.display_revoked").replace("{point}", &point.name),
    );
    Ok(see_other("/displays"))
}
