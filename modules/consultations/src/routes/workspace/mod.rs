//! The doctor's workspace: the queue at the consultation point with its waits, *Take next* (call,
//! serve and open the draft in one transaction), the consultation page that gathers the
//! patient's allergies, vitals, history and results around the note, the note saved on the
//! server as it is typed (versioned; a save over a newer version is refused showing both texts),
//! signing with its outcome, addenda to signed notes, and the doctor's dashboard cards.

use hms_core::clock::minutes_since;
use std::time::Duration;

use chrono::Utc;
use poem::http::StatusCode;
use poem::web::Path;
use poem::{handler, Response};
use serde::Serialize;
use serde_json::json;

use hms_appointments::api as appts;
use hms_core::audit::{self, Actor, Event};
use hms_core::day::Day;
use hms_core::db::Tx;
use hms_core::http::{
    hx_or_see_other, render, render_status, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ids::{EncounterId, PatientId, UserId};
use hms_core::orders::{self as orders, alerts};
use hms_core::ui::FormErrors;
use hms_core::{clock, AppError, AppResult};
use hms_patients::api as patients;

use super::encounter_of;

mod draft;
mod page;
mod sign;

use crate::encounter::{outcome_label, Encounter, OUTCOMES, SIGNED};
use crate::model::Age;
use crate::repo::encounters::{self as q, NewDraft, Texts};
use crate::{VIEW, WRITE};
use draft::*;
use page::*;
use sign::*;

/// The service point whose queue the doctors take patients from.
pub const POINT: &str = "consultation";

/// Most lines of each list on the workspace.
const LIST_LIMIT: i64 = 100;

/// How many times *Take next* starts again when other doctors took the patients it chose
/// (PostgreSQL; SQLite writes one at a time). Each round one of the doctors racing wins, so
/// this bounds how many can press the button in the same instant and all get a patient.
const TAKE_ATTEMPTS: usize = 64;

/// The longest texts of a note (characters).
const COMPLAINT_MAX: usize = 500;
const DURATION_MAX: usize = 60;
const TEXT_MAX: usize = 20_000;
const ADDENDUM_MAX: usize = 5_000;
const COMMUNITY_UNIT_MAX: usize = 120;

/// The note's text areas: they may hold several lines.
const MULTILINE: &[&str] = &["history", "examination", "assessment", "plan", "text"];

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/consultations", P(WRITE), index),
        RouteSpec::post("/consultations/next", P(WRITE), take_next),
        RouteSpec::get("/consultations/cards/waiting", P(WRITE), card_waiting),
        RouteSpec::get("/consultations/cards/results", P(WRITE), card_results),
        RouteSpec::get("/consultations/cards/unsigned", P(WRITE), card_unsigned),
        RouteSpec::get(
            "/consultations/cards/critical-results",
            P(WRITE),
            card_critical_results,
        ),
        RouteSpec::get("/consultations/:id", P(VIEW), page),
        RouteSpec::get("/consultations/:id/results", P(VIEW), results_part),
        RouteSpec::post("/consultations/:id/draft", P(WRITE), save_draft).multiline(MULTILINE),
        RouteSpec::post("/consultations/:id/sign", P(WRITE), sign).multiline(MULTILINE),
        RouteSpec::post("/consultations/:id/addenda", P(WRITE), add_addendum).multiline(MULTILINE),
        RouteSpec::post("/consultations/:id/send", P(WRITE), send_on),
    ]
}

fn user_id(cx: &Ctx) -> AppResult<UserId> {
    Ok(UserId(cx.require_user()?.id))
}

// ---------------------------------------------------------------------------------------------
// The workspace
// ---------------------------------------------------------------------------------------------

/// A patient waiting at the consultation point.
#[derive(Serialize)]
struct WaitingShown {
    token: i64,
    name: String,
    number: String,
    age: String,
    sex: String,
    minutes: i64,
    priority: Option<String>,
    emergency: bool,
}

/// A draft on the doctor's lists.
#[derive(Serialize)]
struct DraftShown {
    id: EncounterId,
    name: String,
    number: String,
    complaint: String,
    day: String,
    updated: String,
    results: i64,
}

/// A critical result waiting for the doctor.
#[derive(Serialize)]
struct AlertShown {
    name: String,
    number: String,
    display: String,
    summary: String,
    at: String,
}

/// Patients' cards for a list, looked up in one batch.
async fn cards_of(
    cx: &Ctx,
    ids: Vec<PatientId>,
) -> AppResult<std::collections::HashMap<PatientId, patients::PatientCard>> {
    let cards = patients::cards(&cx.app().db, &ids).await?;
    Ok(cards.into_iter().map(|c| (c.id, c)).collect())
}

/// The patients waiting at the consultation point, in calling order.
async fn waiting_lines(cx: &Ctx) -> AppResult<Vec<appts::QueueEntry>> {
    Ok(appts::queue(&cx.app().db, POINT, LIST_LIMIT)
        .await?
        .into_iter()
        .filter(|l| l.state == appts::EntryState::Waiting)
        .collect())
}

fn waiting_shown(
    lines: Vec<appts::QueueEntry>,
    cards: &std::collections::HashMap<PatientId, patients::PatientCard>,
) -> Vec<WaitingShown> {
    let now = Utc::now();
    lines
        .into_iter()
        .map(|l| {
            let card = cards.get(&l.patient_id);
            let priority = Some(l.priority).filter(|p| *p != appts::Priority::Normal);
            WaitingShown {
                token: l.token,
                name: card.map(|c| c.full_name.clone()).unwrap_or_default(),
                number: card.map(|c| c.number.clone()).unwrap_or_default(),
                age: card.map(|c| c.age_text.clone()).unwrap_or_default(),
                sex: card.map(|c| c.sex_label.clone()).unwrap_or_default(),
                minutes: minutes_since(&l.enqueued_at, now),
                emergency: priority == Some(appts::Priority::Emergency),
                priority: priority.map(appts::Priority::label),
            }
        })
        .collect()
}

/// The workspace: critical results, who is waiting and for how long, *Take next*, the
/// doctor's drafts (those with results back marked) and unsigned notes of earlier days.
async fn workspace_page(cx: &Ctx, nobody_waiting: bool) -> AppResult<Response> {
    let db = &cx.app().db;
    let me = user_id(cx)?;
    let lines = waiting_lines(cx).await?;
    let drafts = q::drafts_of(db, me, LIST_LIMIT).await?;
    let open_alerts = alerts::open_for(db, me, LIST_LIMIT).await?;
    // Every patient the page names, in one batch.
    let mut ids: Vec<PatientId> = lines.iter().map(|l| l.patient_id).collect();
    ids.extend(drafts.iter().map(|d| d.patient_id));
    ids.extend(open_alerts.iter().map(|a| a.patient));
    ids.sort();
    ids.dedup();
    let cards = cards_of(cx, ids).await?;
    let waiting = waiting_shown(lines, &cards);
    let today = Day::today();
    let mut today_drafts = Vec::new();
    let mut results_back = Vec::new();
    let mut unsigned = Vec::new();
    for d in drafts {
        let card = cards.get(&d.patient_id);
        let shown = DraftShown {
            id: d.id,
            name: card.map(|c| c.full_name.clone()).unwrap_or_default(),
            number: card.map(|c| c.number.clone()).unwrap_or_default(),
            complaint: d.complaint,
            day: d.visit_day.display(),
            updated: clock::display_rfc3339(&d.updated_at),
            results: d.results,
        };
        if d.visit_day < today {
            unsigned.push(shown);
        } else if d.results > 0 {
            results_back.push(shown);
        } else {
            today_drafts.push(shown);
        }
    }
    let critical: Vec<AlertShown> = open_alerts
        .into_iter()
        .map(|a| {
            let card = cards.get(&a.patient);
            AlertShown {
                name: card.map(|c| c.full_name.clone()).unwrap_or_default(),
                number: card.map(|c| c.number.clone()).unwrap_or_default(),
                display: a.display,
                summary: a.summary,
                at: clock::display_rfc3339(&a.created_at),
            }
        })
        .collect();
    cx.audit_read(
        Event::new("consultation.workspace", "user", Some(me.get())).detail(json!({
            "waiting": waiting.len(),
            "drafts": today_drafts.len() + results_back.len() + unsigned.len(),
            "critical": critical.len(),
        })),
    )
    .await;
    let mut c = tera::Context::new();
    c.insert("waiting", &waiting);
    c.insert("drafts", &today_drafts);
    c.insert("results_back", &results_back);
    c.insert("unsigned", &unsigned);
    c.insert("critical", &critical);
    c.insert("nobody_waiting", &nobody_waiting);
    render(cx, "consultations/index.html", c)
}

#[handler]
pub async fn index(cx: Ctx) -> AppResult<Response> {
    workspace_page(&cx, false).await
}

/// What taking the next patient came to.
enum Taken {
    Opened(EncounterId),
    Nobody,
}

/// Calls the next patient of the consultation queue, starts serving them and opens their draft
/// (or takes up the draft of a patient back from the laboratory), all in `tx`.
async fn take_in(tx: &mut Tx, actor: &Actor) -> Result<Taken, appts::VisitError> {
    let Some(entry) = appts::call_next(tx, POINT, actor).await? else {
        return Ok(Taken::Nobody);
    };
    appts::serve(tx, entry.id, actor).await?;
    let visit = appts::visit_in(tx, entry.visit_id)
        .await?
        .ok_or(appts::VisitError::NotFound)?;
    let me = UserId(actor.user_id.unwrap_or_default());
    let now = clock::now_rfc3339();
    let (id, reopened) = match q::draft_of_visit(tx, visit.id).await? {
        Some(id) => {
            q::reopen(tx, id, me, entry.id, &now).await?;
            (id, true)
        }
        None => {
            let draft = NewDraft {
                patient: visit.patient_id,
                visit: visit.id,
                visit_day: visit.day,
                clinician: me,
                queue_entry: entry.id,
                now,
            };
            (q::insert_draft(tx, &draft).await?, false)
        }
    };
    audit::record(
        tx,
        actor,
        Event::new("consultation.open", "encounter", Some(id.get()))
            .patient(visit.patient_id.get())
            .detail(json!({
                "visit": visit.id,
                "token": visit.token,
                "entry": entry.id,
                "reopened": reopened,
            })),
    )
    .await?;
    Ok(Taken::Opened(id))
}

/// *Take next*: one transaction calls, serves and opens the note; when another doctor took the
/// chosen patient at the same instant, it starts again with the next one.
#[handler]
pub async fn take_next(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    for attempt in 0..TAKE_ATTEMPTS {
        // Doctors taking their next patients at once share a commit (group commit).
        let taken = db
            .write_or_refuse(cx.actor(), |tx, actor| Box::pin(take_in(tx, actor)))
            .await;
        match taken {
            Ok(Taken::Opened(id)) => {
                return Ok(hx_or_see_other(&cx, &format!("/consultations/{id}")));
            }
            Ok(Taken::Nobody) => {
                return workspace_page(&cx, true).await;
            }
            Err(appts::VisitError::Conflict) => {
                // Let the doctor who won commit before looking again.
                let pause = 2 + (attempt as u64 % 5) * 3;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(appts::VisitError::Db(e)) if e.is_unique() => {}
            Err(appts::VisitError::Db(e)) => return Err(e.into()),
            Err(e) => {
                cx.flash(FlashKind::Warning, e.message());
                return Ok(hx_or_see_other(&cx, "/consultations"));
            }
        }
    }
    Err(AppError::Conflict(t("consultations_workspace.busy")))
}

// ---------------------------------------------------------------------------------------------
// Dashboard cards
// ---------------------------------------------------------------------------------------------

#[handler]
pub async fn card_waiting(cx: Ctx) -> AppResult<Response> {
    // The whole queue is counted; the emergencies are among the first lines (called first).
    let (waiting, oldest) = appts::waiting(&cx.app().db, POINT).await?;
    let lines = waiting_lines(&cx).await?;
    let longest = oldest.map_or(0, |at| minutes_since(&at, Utc::now()));
    let emergencies = lines
        .iter()
        .filter(|l| l.priority == appts::Priority::Emergency)
        .count();
    let mut c = tera::Context::new();
    c.insert("waiting", &waiting);
    c.insert("longest", &longest);
    c.insert("emergencies", &emergencies);
    render(&cx, "consultations/card_waiting.html", c)
}

async fn draft_counts(cx: &Ctx) -> AppResult<(i64, i64)> {
    Ok(q::draft_counts(&cx.app().db, user_id(cx)?, Day::today()).await?)
}

#[handler]
pub async fn card_results(cx: Ctx) -> AppResult<Response> {
    let (_, results) = draft_counts(&cx).await?;
    let mut c = tera::Context::new();
    c.insert("count", &results);
    render(&cx, "consultations/card_results.html", c)
}

#[handler]
pub async fn card_unsigned(cx: Ctx) -> AppResult<Response> {
    let (unsigned, _) = draft_counts(&cx).await?;
    let mut c = tera::Context::new();
    c.insert("count", &unsigned);
    render(&cx, "consultations/card_unsigned.html", c)
}

#[handler]
pub async fn card_critical_results(cx: Ctx) -> AppResult<Response> {
    let count = alerts::open_count(&cx.app().db, user_id(&cx)?).await?;
    let mut c = tera::Context::new();
    c.insert("count", &count);
    render(&cx, "consultations/card_critical_results.html", c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kmhfl_code_is_five_digits() {
        assert!(super::kmhfl_code("13023"));
        assert!(!super::kmhfl_code("1302"));
        assert!(!super::kmhfl_code("130234"));
        assert!(!super::kmhfl_code("1302a"));
        assert!(!super::kmhfl_code(""));
    }
}
