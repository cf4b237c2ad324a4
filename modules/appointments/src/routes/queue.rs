//! The service-point queues: each service point's screen lists who is waiting, for how long, and
//! calls, serves and sends patients on. The lists refresh themselves (HTMX polling).

use chrono::Utc;
use hms_core::clock::minutes_since;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{
    hx_or_see_other, render, render_part, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::{clock, AppError, AppResult};
use hms_patients::api::{self as patients, PatientCard};

use super::payer_label;
use crate::model::Priority;
use crate::repo::queue as q;
use crate::visits::{self, VisitError};
use crate::{CALL, CHECKIN};

/// Most lines a queue screen shows.
const QUEUE_LIMIT: i64 = 200;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/queues", P(CALL), queues),
        RouteSpec::get("/queues/:code", P(CALL), queue),
        RouteSpec::post("/queues/:code/call", P(CALL), call_next),
        RouteSpec::post("/queues/:code/entries/:id/serve", P(CALL), serve),
        RouteSpec::post("/queues/:code/entries/:id/send", P(CALL), send),
        RouteSpec::post("/queues/:code/entries/:id/complete", P(CALL), complete),
        RouteSpec::post("/queues/:code/entries/:id/left", P(CALL), left),
        RouteSpec::get("/cards/queues", P(CALL), card),
    ]
}

pub(super) async fn point_choices(cx: &Ctx) -> AppResult<Vec<(String, String)>> {
    Ok(q::points(&cx.app().db)
        .await?
        .into_iter()
        .map(|p| (p.code, p.name))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------------------------

/// A service point with its waiting figures.
#[derive(Serialize)]
struct PointShown {
    code: String,
    name: String,
    room: String,
    waiting: i64,
    longest_minutes: i64,
}

async fn points_shown(cx: &Ctx) -> AppResult<Vec<PointShown>> {
    let db = &cx.app().db;
    let counts = q::waiting_counts(db).await?;
    let now = Utc::now();
    Ok(q::points(db)
        .await?
        .into_iter()
        .map(|p| {
            let found = counts.iter().find(|(id, _, _)| *id == p.id);
            PointShown {
                waiting: found.map(|c| c.1).unwrap_or(0),
                longest_minutes: found
                    .and_then(|c| c.2.as_deref())
                    .map(|at| minutes_since(at, now))
                    .unwrap_or(0),
                code: p.code,
                name: p.name,
                room: p.room.unwrap_or_default(),
            }
        })
        .collect())
}

#[handler]
pub async fn queues(cx: Ctx) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("points", &points_shown(&cx).await?);
    c.insert("can_checkin", &cx.can(CHECKIN));
    render(&cx, "appointments/queues.html", c)
}

/// The service point each built-in role usually works at, for "your queue" on the dashboard.
const ROLE_POINTS: &[(&str, &str)] = &[
    ("nurse", "triage"),
    ("doctor", "consultation"),
    ("lab_tech", "laboratory"),
    ("pharmacist", "pharmacy"),
    ("accountant", "cashier"),
];

/// Tokens shown per queue on the dashboard card.
const CARD_TOKENS: i64 = 5;

/// A waiting token on the dashboard card (no name: the card refreshes itself and is glanced at).
#[derive(Serialize)]
struct TokenShown {
    token: i64,
    minutes: i64,
    priority: Option<String>,
}

/// The service points' waiting figures on a dashboard, with the next tokens and their waiting
/// times at the user's own service point (refreshes itself).
#[handler]
pub async fn card(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    let user = cx.require_user()?;
    let points = points_shown(&cx).await?;
    let now = Utc::now();
    let mut mine = Vec::new();
    for (role, code) in ROLE_POINTS {
        let Some(p) = points.iter().find(|p| p.code == *code) else {
            continue;
        };
        if !user.has_role(role) {
            continue;
        }
        let Some(point) = q::point(db.read(), code).await? else {
            continue;
        };
        let tokens: Vec<TokenShown> = q::waiting_tokens(db, point.id, CARD_TOKENS)
            .await?
            .into_iter()
            .map(|(token, at, reason)| TokenShown {
                token,
                minutes: minutes_since(&at, now),
                priority: Priority::parse(reason.as_deref().unwrap_or(""))
                    .filter(|p| *p != Priority::Normal)
                    .map(Priority::label),
            })
            .collect();
        mine.push(json!({"code": p.code, "name": p.name, "waiting": p.waiting, "tokens": tokens}));
    }
    let mut c = tera::Context::new();
    c.insert("points", &points);
    c.insert("mine", &mine);
    render(&cx, "appointments/queue_card.html", c)
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    /// Set by the polling request, which wants only the lists.
    #[serde(default)]
    live: Option<String>,
}

/// One line of a queue screen.
#[derive(Serialize)]
struct LineShown {
    entry_id: i64,
    patient_id: PatientId,
    token: i64,
    number: String,
    name: String,
    age: String,
    sex: String,
    state: String,
    priority: Option<String>,
    emergency: bool,
    minutes: i64,
    called_by: Option<String>,
    payer: String,
}

/// A point's queue as shown: the queue's lines, then the patients' cards in one batch.
async fn lines_shown(db: &hms_core::db::Db, point_id: i64) -> AppResult<Vec<LineShown>> {
    let lines = q::point_lines(db, point_id, QUEUE_LIMIT).await?;
    let ids: Vec<PatientId> = lines.iter().map(|l| l.patient_id).collect();
    let cards = patients::cards(db, &ids).await?;
    let now = Utc::now();
    Ok(lines
        .into_iter()
        .map(|l| {
            let found = cards.iter().find(|c| c.id == l.patient_id);
            let shown = |f: fn(&PatientCard) -> &String| found.map(f).cloned().unwrap_or_default();
            let priority = Priority::parse(l.priority_reason.as_deref().unwrap_or(""))
                .filter(|p| *p != Priority::Normal);
            let since = if l.state == "waiting" {
                l.enqueued_at.as_str()
            } else {
                l.called_at.as_deref().unwrap_or(&l.enqueued_at)
            };
            LineShown {
                entry_id: l.entry_id,
                patient_id: l.patient_id,
                token: l.token,
                number: shown(|c| &c.number),
                name: shown(|c| &c.full_name),
                age: shown(|c| &c.age_text),
                sex: shown(|c| &c.sex_label),
                minutes: minutes_since(since, now),
                state: l.state,
                emergency: priority == Some(Priority::Emergency),
                priority: priority.map(Priority::label),
                called_by: l.called_by,
                payer: payer_label(&l.payer),
            }
        })
        .collect())
}

#[handler]
pub async fn queue(
    cx: Ctx,
    Path(code): Path<String>,
    Query(query): Query<QueueQuery>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let point = q::point(db.read(), &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let lines = lines_shown(db, point.id).await?;
    let (waiting, active): (Vec<LineShown>, Vec<LineShown>) =
        lines.into_iter().partition(|l| l.state == "waiting");
    let live = query.live.is_some();
    if !live {
        // A queue screen lists patients: one read row per view (the polling refreshes of an
        // open screen continue that view and are not recorded again).
        cx.audit_read(
            Event::new("queue.view", "service_point", Some(point.id)).detail(
                json!({"point": point.code, "waiting": waiting.len(), "active": active.len()}),
            ),
        )
        .await;
    }
    let others: Vec<(String, String)> = point_choices(&cx)
        .await?
        .into_iter()
        .filter(|(c, _)| *c != point.code)
        .collect();
    let mut c = tera::Context::new();
    c.insert(
        "point",
        &json!({"code": point.code, "name": point.name, "room": point.room}),
    );
    c.insert("waiting", &waiting);
    c.insert("active", &active);
    c.insert("others", &others);
    c.insert("can_checkin", &cx.can(CHECKIN));
    c.insert(
        "updated",
        &clock::to_local(Utc::now()).format("%H:%M:%S").to_string(),
    );
    if live {
        render_part(
            &cx,
            "appointments/queue.html",
            "appointments/_queue_live.html",
            c,
        )
    } else {
        render(&cx, "appointments/queue.html", c)
    }
}

/// Maps a refused queue action to a message on the queue screen.
fn refused(cx: &Ctx, code: &str, e: VisitError) -> AppResult<Response> {
    match e {
        VisitError::Db(e) => Err(e.into()),
        e => {
            cx.flash(FlashKind::Warning, e.message());
            Ok(hx_or_see_other(cx, &format!("/queues/{code}")))
        }
    }
}

#[handler]
pub async fn call_next(cx: Ctx, Path(code): Path<String>) -> AppResult<Response> {
    let app = cx.app();
    let point = q::point(app.db.read(), &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = app.db.begin().await?;
    match visits::call_next(&mut tx, &point.code, &cx.actor()).await {
        Ok(Some(entry)) => {
            tx.commit().await?;
            cx.flash(
                FlashKind::Success,
                t("appointments_queue.called").replace("{token}", &entry.token.to_string()),
            );
        }
        Ok(None) => {
            drop(tx);
            cx.flash(FlashKind::Info, t("appointments_queue.nobody_waiting"));
        }
        Err(e) => {
            drop(tx);
            return refused(&cx, &point.code, e);
        }
    }
    Ok(hx_or_see_other(&cx, &format!("/queues/{}", point.code)))
}

/// The entry `id` of the point `code`: 404 when it is at another point, so a form of one screen
/// cannot act on another point's patient.
async fn entry_at_point(cx: &Ctx, code: &str, id: i64) -> AppResult<visits::QueueEntry> {
    let entry = visits::entry(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if entry.point != code {
        return Err(AppError::NotFound);
    }
    Ok(entry)
}

/// What a queue action does, once its entry is known to belong to the screen's point.
enum Action<'a> {
    Serve,
    Send(&'a str),
    Complete,
    Left,
}

async fn act(cx: &Ctx, code: &str, id: i64, action: Action<'_>) -> AppResult<Response> {
    let app = cx.app();
    let entry = entry_at_point(cx, code, id).await?;
    let actor = cx.actor();
    let mut tx = app.db.begin().await?;
    let token = entry.token.to_string();
    let done = match action {
        Action::Serve => visits::serve(&mut tx, entry.id, &actor)
            .await
            .map(|_| t("appointments_queue.serving").replace("{token}", &token)),
        Action::Send(to) => match q::point(app.db.read(), to).await? {
            Some(p) => visits::finish(&mut tx, entry.id, Some(&p.code), &actor)
                .await
                .map(|_| {
                    t("appointments_queue.sent")
                        .replace("{token}", &token)
                        .replace("{point}", &p.name)
                }),
            None => Err(VisitError::UnknownPoint),
        },
        Action::Complete => visits::finish(&mut tx, entry.id, None, &actor)
            .await
            .map(|_| t("appointments_queue.completed").replace("{token}", &token)),
        Action::Left => visits::left_without_being_seen(&mut tx, entry.id, &actor)
            .await
            .map(|_| t("appointments_queue.left_recorded").replace("{token}", &token)),
    };
    match done {
        Ok(message) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, message);
            Ok(hx_or_see_other(cx, &format!("/queues/{code}")))
        }
        Err(e) => {
            drop(tx);
            refused(cx, code, e)
        }
    }
}

#[handler]
pub async fn serve(cx: Ctx, Path((code, id)): Path<(String, i64)>) -> AppResult<Response> {
    act(&cx, &code, id, Action::Serve).await
}

#[handler]
pub async fn send(
    cx: Ctx,
    Path((code, id)): Path<(String, i64)>,
    form: Form,
) -> AppResult<Response> {
    act(&cx, &code, id, Action::Send(form.get("point").trim())).await
}

#[handler]
pub async fn complete(cx: Ctx, Path((code, id)): Path<(String, i64)>) -> AppResult<Response> {
    act(&cx, &code, id, Action::Complete).await
}

#[handler]
pub async fn left(cx: Ctx, Path((code, id)): Path<(String, i64)>) -> AppResult<Response> {
    act(&cx, &code, id, Action::Left).await
}
