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
use crate::encounter::{outcome_label, Encounter, OUTCOMES, SIGNED};
use crate::model::Age;
use crate::repo::encounters::{self as q, NewDraft, Texts};
use crate::{VIEW, WRITE};

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
// The consultation page
// ---------------------------------------------------------------------------------------------

/// An order of the visit with its result, as the page lists them.
#[derive(Serialize)]
struct ResultShown {
    display: String,
    kind: String,
    state: String,
    state_label: String,
    summary: Option<String>,
    flag: Option<String>,
    flag_label: Option<String>,
    ended: Option<String>,
}

/// The note's fields with their labels in the reader's language, in the order they are written.
fn note_fields() -> Vec<(&'static str, String)> {
    [
        ("complaint", "consultations_workspace.complaint"),
        (
            "complaint_duration",
            "consultations_workspace.complaint_duration",
        ),
        ("history", "consultations_workspace.history"),
        ("examination", "consultations_workspace.examination"),
        ("assessment", "consultations_workspace.assessment"),
        ("plan", "consultations_workspace.plan"),
    ]
    .into_iter()
    .map(|(field, key)| (field, t(key)))
    .collect()
}

/// An order's state in the reader's language.
fn state_label(state: orders::State) -> String {
    t(match state {
        orders::State::Placed => "consultations_workspace.order_placed",
        orders::State::InProgress => "consultations_workspace.order_in_progress",
        orders::State::Completed => "consultations_workspace.order_completed",
        orders::State::PartlyDone => "consultations_workspace.order_partly_done",
        orders::State::Cancelled => "consultations_workspace.order_cancelled",
        orders::State::NotDone => "consultations_workspace.order_not_done",
        orders::State::Discontinued => "consultations_workspace.order_discontinued",
    })
}

/// How a result reads, in the reader's language.
fn flag_label(flag: orders::Flag) -> String {
    t(match flag {
        orders::Flag::Normal => "consultations_workspace.flag_normal",
        orders::Flag::Abnormal => "consultations_workspace.flag_abnormal",
        orders::Flag::Critical => "consultations_workspace.flag_critical",
    })
}

async fn results_of(cx: &Ctx, e: &Encounter) -> AppResult<Vec<ResultShown>> {
    Ok(orders::for_visit(&cx.app().db, e.visit_id)
        .await?
        .into_iter()
        .map(|o| ResultShown {
            display: o.display,
            kind: o.kind,
            state: o.state.code().to_string(),
            state_label: state_label(o.state),
            summary: o.outcome_summary,
            flag: o.outcome_flag.map(|f| f.code().to_string()),
            flag_label: o.outcome_flag.map(flag_label),
            ended: o.ended_at.as_deref().map(clock::display_rfc3339),
        })
        .collect())
}

/// What the page shows besides the form's own values and errors.
async fn page_context(cx: &Ctx, e: &Encounter) -> AppResult<tera::Context> {
    let db = &cx.app().db;
    let card = patients::card(db, e.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let allergies = patients::allergies(db, e.patient_id).await?;
    let vitals = crate::vitals::summary_for_visit(db, e.visit_id).await?;
    let diagnoses = crate::diagnoses::section(db, e).await?;
    let basket = crate::basket::section(db, e).await?;
    let documents = crate::documents::section(db, e).await?;
    let earlier = q::earlier_diagnoses(db, e.patient_id, e.id, 10).await?;
    let prescriptions: Vec<serde_json::Value> = orders::for_patient(db, e.patient_id, 50)
        .await?
        .into_iter()
        .filter(|o| o.kind == orders::DRUG && o.visit != Some(e.visit_id))
        .take(10)
        .map(|o| {
            json!({
                "display": o.display,
                "placed": clock::display_rfc3339(&o.placed_at),
                "state": o.state.code(),
            })
        })
        .collect();
    let results = results_of(cx, e).await?;
    let clinician = q::user_name(db, e.clinician_id).await?;
    let signer = match e.signed_by {
        Some(u) => q::user_name(db, u).await?,
        None => None,
    };
    let points: Vec<(String, String)> = appts::service_points(db)
        .await?
        .into_iter()
        .filter(|p| p.code != POINT)
        .map(|p| (p.code, p.name))
        .collect();
    let outcomes: Vec<(&str, String)> = OUTCOMES.iter().map(|o| (*o, outcome_label(o))).collect();
    let mut c = tera::Context::new();
    c.insert("encounter", e);
    c.insert("patient", &card);
    c.insert("allergies", &allergies);
    c.insert("vitals", &vitals);
    c.insert("diagnoses", &diagnoses);
    c.insert("orders", &basket);
    c.insert("documents", &documents);
    c.insert("earlier_diagnoses", &earlier);
    c.insert("prescriptions", &prescriptions);
    c.insert("results", &results);
    c.insert("clinician", &clinician);
    c.insert("signer", &signer);
    c.insert("points", &points);
    c.insert("outcomes", &outcomes);
    c.insert("outcome_label", &e.outcome.as_deref().map(outcome_label));
    c.insert("started", &clock::display_rfc3339(&e.started_at));
    c.insert(
        "signed",
        &e.signed_at.as_deref().map(clock::display_rfc3339),
    );
    c.insert("visit_day", &e.visit_day.display());
    // The sections of the other parts read these too: `encounter` (its `id`, `state`), and what
    // the user may do on the page.
    c.insert("can_write", &cx.can(WRITE));
    c.insert("can_order", &cx.can(crate::ORDERS));
    c.insert("can_issue", &cx.can(crate::DOCUMENTS));
    c.insert("note_fields", &note_fields());
    // What the signed note's parts name, empty until the note is signed.
    c.insert("addenda", &Vec::<serde_json::Value>::new());
    c.insert("note_diagnoses", &Vec::<q::NoteDiagnosis>::new());
    c.insert("follow_up_href", &Option::<String>::None);
    c.insert("follow_up_day", &Option::<String>::None);
    c.insert("addendum_errors", &FormErrors::new());
    c.insert("addendum_text", "");
    c.insert("addendum_kind", "");
    c.insert("conflict", &false);
    if e.state == SIGNED {
        c.insert("note_diagnoses", &q::diagnoses_of(db, e.id).await?);
        let addenda: Vec<serde_json::Value> = q::addenda_of(db, e.id)
            .await?
            .into_iter()
            .map(|a| {
                json!({
                    "kind": a.kind,
                    "text": a.text,
                    "diagnosis": a.diagnosis,
                    "written_by": a.written_by,
                    "written_at": clock::display_rfc3339(&a.written_at),
                })
            })
            .collect();
        c.insert("addenda", &addenda);
        if e.outcome.as_deref() == Some("follow_up") {
            let day = e.outcome_detail["day"].as_str().unwrap_or_default();
            c.insert(
                "follow_up_href",
                &format!("/appointments/book?patient={}&day={day}", e.patient_id),
            );
            c.insert(
                "follow_up_day",
                &Day::from_db_text(day).map(Day::display).unwrap_or_default(),
            );
        }
    }
    Ok(c)
}

/// The values the sign form shows (what was posted, or nothing yet).
#[derive(Serialize, Default, Clone)]
struct SignValues {
    outcome: String,
    referral_facility: String,
    referral_community_unit: String,
    follow_up_day: String,
    next_point: String,
}

impl SignValues {
    fn from_form(f: &Form) -> Self {
        let g = |k: &str| f.get(k).trim().to_string();
        SignValues {
            outcome: g("outcome"),
            referral_facility: g("referral_facility"),
            referral_community_unit: g("referral_community_unit"),
            follow_up_day: g("follow_up_day"),
            next_point: g("next_point"),
        }
    }
}

async fn show(
    cx: &Ctx,
    status: StatusCode,
    e: &Encounter,
    texts: &Texts,
    values: &SignValues,
    errors: &FormErrors,
) -> AppResult<Response> {
    let mut c = page_context(cx, e).await?;
    c.insert("texts", texts);
    c.insert("sign", values);
    c.insert("errors", errors);
    render_status(cx, status, "consultations/encounter.html", c)
}

#[handler]
pub async fn page(cx: Ctx, Path(id): Path<EncounterId>) -> AppResult<Response> {
    let e = encounter_of(&cx.app().db, id).await?;
    cx.audit_read(
        Event::new("consultation.view", "encounter", Some(id.get()))
            .patient(e.patient_id.get())
            .detail(json!({"state": e.state, "version": e.version})),
    )
    .await;
    show(
        &cx,
        StatusCode::OK,
        &e,
        &Texts::of(&e),
        &SignValues::default(),
        &FormErrors::new(),
    )
    .await
}

/// The visit's orders and results, refreshed on the open page as results complete (the view
/// was recorded when the page opened).
#[handler]
pub async fn results_part(cx: Ctx, Path(id): Path<EncounterId>) -> AppResult<Response> {
    let e = encounter_of(&cx.app().db, id).await?;
    let mut c = tera::Context::new();
    c.insert("encounter", &e);
    c.insert("results", &results_of(&cx, &e).await?);
    render_fragment(&cx, StatusCode::OK, "consultations/_note_results.html", c)
}

/// Renders a fragment alone (for HTMX swaps and the draft saves).
fn render_fragment(
    cx: &Ctx,
    status: StatusCode,
    template: &str,
    mut c: tera::Context,
) -> AppResult<Response> {
    c.insert("csrf_token", &cx.csrf_token());
    let html = cx.app().ui.tera.render(template, &c)?;
    Ok(Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header("Cache-Control", "no-store")
        .body(html))
}

// ---------------------------------------------------------------------------------------------
// Draft saves
// ---------------------------------------------------------------------------------------------

/// The texts of a posted note, and what is wrong with them.
fn texts_of(f: &Form, errors: &mut FormErrors) -> Texts {
    let texts = Texts {
        complaint: f.get("complaint").trim().to_string(),
        complaint_duration: f.get("complaint_duration").trim().to_string(),
        history: f.get("history").to_string(),
        examination: f.get("examination").to_string(),
        assessment: f.get("assessment").to_string(),
        plan: f.get("plan").to_string(),
    };
    let mut limit = |field: &str, value: &str, max: usize| {
        if value.chars().count() > max {
            errors.add(
                field,
                t("consultations_workspace.error_too_long").replace("{max}", &max.to_string()),
            );
        }
    };
    limit("complaint", &texts.complaint, COMPLAINT_MAX);
    limit(
        "complaint_duration",
        &texts.complaint_duration,
        DURATION_MAX,
    );
    limit("history", &texts.history, TEXT_MAX);
    limit("examination", &texts.examination, TEXT_MAX);
    limit("assessment", &texts.assessment, TEXT_MAX);
    limit("plan", &texts.plan, TEXT_MAX);
    texts
}

fn version_of(f: &Form) -> AppResult<i64> {
    f.get("version")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| AppError::BadRequest(t("consultations_workspace.error_version")))
}

/// The answer to a save: the version now on the server (in the fragment, which also moves the
/// form's hidden version, and in `X-Draft-Version`).
fn saved(cx: &Ctx, e: &Encounter, version: i64) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("encounter", e);
    c.insert("version", &version);
    c.insert(
        "at",
        &clock::to_local(Utc::now()).format("%H:%M:%S").to_string(),
    );
    let mut r = render_fragment(cx, StatusCode::OK, "consultations/_note_saved.html", c)?;
    r.headers_mut()
        .insert("X-Draft-Version", poem::http::HeaderValue::from(version));
    Ok(r)
}

/// 409: the note moved on since the version the form was typed over. Both texts are shown, the
/// doctor's and the one saved, with a way to keep theirs over the saved one.
async fn stale(cx: &Ctx, id: EncounterId, mine: &Texts) -> AppResult<Response> {
    let now = encounter_of(&cx.app().db, id).await?;
    let saved_by = match now.signed_by {
        Some(u) => q::user_name(&cx.app().db, u).await?,
        None => None,
    };
    let mut c = tera::Context::new();
    c.insert("encounter", &now);
    c.insert("mine", mine);
    c.insert("note_fields", &note_fields());
    c.insert("saved", &Texts::of(&now));
    c.insert("saved_by", &saved_by);
    c.insert("saved_at", &clock::display_rfc3339(&now.updated_at));
    let mut r = render_fragment(
        cx,
        StatusCode::CONFLICT,
        "consultations/_note_conflict.html",
        c,
    )?;
    r.headers_mut().insert(
        "X-Draft-Version",
        poem::http::HeaderValue::from(now.version),
    );
    Ok(r)
}

#[handler]
pub async fn save_draft(cx: Ctx, Path(id): Path<EncounterId>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let e = encounter_of(db, id).await?;
    let version = version_of(&form)?;
    let mut errors = FormErrors::new();
    let texts = texts_of(&form, &mut errors);
    if !errors.is_empty() {
        let mut c = tera::Context::new();
        c.insert("encounter", &e);
        c.insert("errors", &errors);
        return render_fragment(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "consultations/_note_saved.html",
            c,
        );
    }
    if !e.is_draft() || e.version != version {
        return stale(&cx, id, &texts).await;
    }
    if texts == Texts::of(&e) {
        // Nothing changed since this version (a field left without typing).
        return saved(&cx, &e, version);
    }
    let job = (
        texts.clone(),
        user_id(&cx)?,
        clock::now_rfc3339(),
        cx.actor(),
        e.patient_id,
    );
    // Draft saves of doctors typing at once share a commit (group commit).
    let new = db
        .write_or_refuse(job, move |tx, (texts, me, now, actor, patient)| {
            Box::pin(async move {
                let Some(new) = q::save(tx, id, version, texts, *me, now).await? else {
                    return Ok::<_, AppError>(None);
                };
                audit::record(
                    tx,
                    actor,
                    Event::new("consultation.draft_save", "encounter", Some(id.get()))
                        .patient(patient.get())
                        .detail(json!({"from": version, "version": new})),
                )
                .await?;
                Ok(Some(new))
            })
        })
        .await?;
    match new {
        Some(new) => saved(&cx, &e, new),
        None => stale(&cx, id, &texts).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/// A KMHFL facility code: five digits (the Kenya Master Health Facility List).
fn kmhfl_code(s: &str) -> bool {
    s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The outcome and its details from the sign form; field errors for what is missing or wrong.
async fn outcome_of(
    cx: &Ctx,
    v: &SignValues,
    errors: &mut FormErrors,
) -> AppResult<serde_json::Value> {
    let mut detail = serde_json::Map::new();
    match v.outcome.as_str() {
        "" => errors.add("outcome", t("consultations_workspace.error_outcome")),
        "referral" => {
            if v.referral_facility.is_empty() && v.referral_community_unit.is_empty() {
                errors.add(
                    "referral_facility",
                    t("consultations_workspace.error_referral"),
                );
            } else if !v.referral_facility.is_empty() && !kmhfl_code(&v.referral_facility) {
                errors.add(
                    "referral_facility",
                    t("consultations_workspace.error_kmhfl"),
                );
            } else if v.referral_community_unit.chars().count() > COMMUNITY_UNIT_MAX {
                errors.add(
                    "referral_community_unit",
                    t("consultations_workspace.error_too_long")
                        .replace("{max}", &COMMUNITY_UNIT_MAX.to_string()),
                );
            }
            if !v.referral_facility.is_empty() {
                detail.insert("facility".into(), json!(v.referral_facility));
            }
            if !v.referral_community_unit.is_empty() {
                detail.insert("community_unit".into(), json!(v.referral_community_unit));
            }
        }
        "follow_up" => {
            let today = Day::today();
            match Day::event(&v.follow_up_day) {
                Ok(day) if day > today && today.days_until(day) <= 366 => {
                    detail.insert("day".into(), json!(day.text()));
                }
                _ => errors.add(
                    "follow_up_day",
                    t("consultations_workspace.error_follow_up_day"),
                ),
            }
        }
        o if OUTCOMES.contains(&o) => {}
        _ => errors.add("outcome", t("consultations_workspace.error_outcome")),
    }
    if !v.next_point.is_empty() {
        let known = appts::service_points(&cx.app().db)
            .await?
            .iter()
            .any(|p| p.code == v.next_point && p.code != POINT);
        if !known {
            errors.add("next_point", t("consultations_workspace.error_point"));
        }
        detail.insert("next_point".into(), json!(v.next_point));
    }
    Ok(serde_json::Value::Object(detail))
}

/// What signing reads before its transaction (reads on other connections inside it could wait
/// for a connection while the transaction holds its locks).
struct BeforeSigning {
    /// Pregnancy at the visit, from its vital signs (malaria in pregnancy).
    pregnant: Option<bool>,
    /// The note's queue entry and whether it was being served; the finish that ends it is
    /// guarded, so a change meanwhile is refused, not lost.
    entry: Option<i64>,
    serving: bool,
}

/// Why the signing transaction stopped.
enum SignRefusal {
    Stale,
    Invalid(FormErrors),
}

/// A signing transaction that did not sign: refused (its work rolled back), or failed.
enum SignStop {
    Refused(SignRefusal),
    Failed(AppError),
}

impl From<hms_core::db::DbError> for SignStop {
    fn from(e: hms_core::db::DbError) -> Self {
        SignStop::Failed(e.into())
    }
}

/// What the signing transaction writes with: the note's version and texts, the sign form, the
/// reads made before it, and who signs.
struct Signing {
    actor: Actor,
    me: UserId,
    id: EncounterId,
    version: i64,
    texts: Texts,
    values: SignValues,
    detail: serde_json::Value,
    before: BeforeSigning,
}

/// Inside the signing transaction: saves the texts posted with it (if they changed), checks
/// the rules that must hold at the write, signs, and ends the patient's consultation queue
/// entry (on to `next_point`, or the visit complete).
async fn sign_in(tx: &mut Tx, s: &Signing) -> AppResult<Result<(i64, i64), SignRefusal>> {
    let Signing {
        actor,
        me,
        id,
        version,
        texts,
        values,
        detail,
        before,
    } = s;
    let (me, id, version) = (*me, *id, *version);
    let now = clock::now_rfc3339();
    let Some(current) = q::get_in(tx, id).await? else {
        return Err(AppError::NotFound);
    };
    if !current.is_draft() || current.version != version {
        return Ok(Err(SignRefusal::Stale));
    }
    let mut version = version;
    if *texts != Texts::of(&current) {
        match q::save(tx, id, version, texts, me, &now).await? {
            Some(v) => version = v,
            None => return Ok(Err(SignRefusal::Stale)),
        }
    }
    let mut errors = FormErrors::new();
    if texts.complaint.is_empty() {
        errors.add("complaint", t("consultations_workspace.error_complaint"));
    }
    let born = patients::card_in(tx, current.patient_id)
        .await?
        .and_then(|c| c.date_of_birth);
    let age = born.and_then(|b| Age::on(b, current.visit_day));
    let diagnoses = crate::diagnoses::fix_at_signing(tx, &current, age, before.pregnant).await?;
    if diagnoses == 0 {
        errors.add("diagnoses", t("consultations_workspace.error_diagnosis"));
    }
    let unplaced = crate::basket::unplaced(tx, &current).await?;
    if unplaced > 0 {
        errors.add(
            "orders",
            t("consultations_workspace.error_unplaced").replace("{count}", &unplaced.to_string()),
        );
    }
    if !errors.is_empty() {
        return Ok(Err(SignRefusal::Invalid(errors)));
    }
    let outcome = values.outcome.as_str();
    if !q::sign(tx, id, version, outcome, detail, me, &now).await? {
        return Ok(Err(SignRefusal::Stale));
    }
    if let Some(entry) = current.queue_entry_id {
        if before.serving && current.queue_entry_id == before.entry {
            let next = Some(values.next_point.as_str()).filter(|p| !p.is_empty());
            match appts::finish(tx, entry, next, actor).await {
                Ok(_) => {}
                Err(appts::VisitError::Db(e)) => return Err(e.into()),
                Err(_) => return Ok(Err(SignRefusal::Stale)),
            }
        }
    }
    audit::record(
        tx,
        actor,
        Event::new("consultation.sign", "encounter", Some(id.get()))
            .patient(current.patient_id.get())
            .detail(json!({
                "version": version,
                "outcome": outcome,
                "outcome_detail": detail,
                "diagnoses": diagnoses,
            })),
    )
    .await?;
    Ok(Ok((version, diagnoses)))
}

#[handler]
pub async fn sign(cx: Ctx, Path(id): Path<EncounterId>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let e = encounter_of(db, id).await?;
    let version = version_of(&form)?;
    let mut errors = FormErrors::new();
    // The sign button sends the note's texts with it; without them the saved texts are signed.
    let texts = if form.get_opt("complaint").is_some() {
        texts_of(&form, &mut errors)
    } else {
        Texts::of(&e)
    };
    let values = SignValues::from_form(&form);
    let detail = outcome_of(&cx, &values, &mut errors).await?;
    if texts.complaint.is_empty() {
        errors.add("complaint", t("consultations_workspace.error_complaint"));
    }
    if !e.is_draft() {
        cx.flash(
            FlashKind::Warning,
            t("consultations_workspace.already_signed"),
        );
        return Ok(hx_or_see_other(&cx, &format!("/consultations/{id}")));
    }
    if !errors.is_empty() {
        return show(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &e,
            &texts,
            &values,
            &errors,
        )
        .await;
    }
    let serving = match e.queue_entry_id {
        Some(entry) => appts::entry(db, entry)
            .await?
            .is_some_and(|q| q.state == appts::EntryState::Serving),
        None => false,
    };
    let before = BeforeSigning {
        pregnant: crate::vitals::pregnant_at_visit(db, e.visit_id).await?,
        entry: e.queue_entry_id,
        serving,
    };
    let job = Signing {
        actor: cx.actor(),
        me: user_id(&cx)?,
        id,
        version,
        texts: texts.clone(),
        values: values.clone(),
        detail,
        before,
    };
    // Notes signed at once share a commit (group commit); a refusal rolls its work back.
    let signed = db
        .write_or_refuse(job, |tx, job| {
            Box::pin(async move {
                match sign_in(tx, job).await {
                    Ok(Ok(done)) => Ok(done),
                    Ok(Err(refusal)) => Err(SignStop::Refused(refusal)),
                    Err(e) => Err(SignStop::Failed(e)),
                }
            })
        })
        .await;
    let refusal = match signed {
        Ok(done) => Ok(done),
        Err(SignStop::Refused(refusal)) => Err(refusal),
        Err(SignStop::Failed(e)) => return Err(e),
    };
    match refusal {
        Ok(_) => {
            cx.flash(FlashKind::Success, t("consultations_workspace.signed"));
            Ok(hx_or_see_other(&cx, &format!("/consultations/{id}")))
        }
        Err(SignRefusal::Invalid(errors)) => {
            show(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &e,
                &texts,
                &values,
                &errors,
            )
            .await
        }
        Err(SignRefusal::Stale) => {
            // The note moved on: the page shows it as saved now, and the doctor's text beside it
            // (nothing is overwritten, nothing typed is lost).
            let now = encounter_of(db, id).await?;
            let mut errors = FormErrors::new();
            errors.add("version", t("consultations_workspace.error_stale_sign"));
            let mut c = page_context(&cx, &now).await?;
            c.insert("texts", &Texts::of(&now));
            c.insert("sign", &values);
            c.insert("errors", &errors);
            c.insert("conflict", &true);
            c.insert("mine", &texts);
            c.insert("saved", &Texts::of(&now));
            c.insert("saved_at", &clock::display_rfc3339(&now.updated_at));
            render_status(&cx, StatusCode::CONFLICT, "consultations/encounter.html", c)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Addenda and sending on
// ---------------------------------------------------------------------------------------------

/// 422: the addendum form again with its message, the page around it.
async fn addendum_refused(
    cx: &Ctx,
    e: &Encounter,
    form: &Form,
    errors: FormErrors,
) -> AppResult<Response> {
    let mut c = page_context(cx, e).await?;
    c.insert("texts", &Texts::of(e));
    c.insert("sign", &SignValues::default());
    c.insert("errors", &FormErrors::new());
    c.insert("addendum_errors", &errors);
    c.insert("addendum_text", form.get("text"));
    c.insert("addendum_kind", form.get("kind"));
    render_status(
        cx,
        StatusCode::UNPROCESSABLE_ENTITY,
        "consultations/encounter.html",
        c,
    )
}

#[handler]
pub async fn add_addendum(cx: Ctx, Path(id): Path<EncounterId>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let e = encounter_of(db, id).await?;
    let kind = form.get("kind").trim();
    let text = form.get("text").trim().to_string();
    let mut errors = FormErrors::new();
    if e.is_draft() {
        errors.add("text", t("consultations_workspace.error_addendum_draft"));
    }
    let mut pick = None;
    let diagnosis = match kind {
        "text" => None,
        "diagnosis" => {
            match crate::diagnoses::read_pick(
                db,
                form.get("code"),
                form.get("free_text"),
                form.get("certainty"),
            )
            .await?
            {
                Ok(p) => pick = Some(p),
                Err(refused) => return addendum_refused(&cx, &e, &form, refused).await,
            }
            None
        }
        "error" => match form.get("diagnosis").trim().parse::<i64>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.add(
                    "diagnosis",
                    t("consultations_workspace.error_addendum_diagnosis"),
                );
                None
            }
        },
        _ => {
            errors.add("kind", t("consultations_workspace.error_addendum_kind"));
            None
        }
    };
    if text.is_empty() {
        errors.add(
            "text",
            if kind == "error" {
                t("consultations_workspace.error_addendum_reason")
            } else {
                t("consultations_workspace.error_addendum_text")
            },
        );
    } else if text.chars().count() > ADDENDUM_MAX {
        errors.add(
            "text",
            t("consultations_workspace.error_too_long").replace("{max}", &ADDENDUM_MAX.to_string()),
        );
    }
    if !errors.is_empty() {
        return addendum_refused(&cx, &e, &form, errors).await;
    }
    let me = user_id(&cx)?;
    let now = clock::now_rfc3339();
    let (age, pregnant) = crate::diagnoses::at_visit(db, &e).await?;
    let mut tx = db.begin().await?;
    let diagnosis = match &pick {
        Some(p) => {
            Some(crate::diagnoses::add_to_signed(&mut tx, &e, p, age, pregnant, &cx.actor()).await?)
        }
        None => diagnosis,
    };
    if let (Some(d), None) = (diagnosis, &pick) {
        match q::diagnosis_in(&mut tx, id, d).await? {
            Some((_, false)) => {}
            Some((_, true)) => {
                drop(tx);
                let mut errors = FormErrors::new();
                errors.add(
                    "diagnosis",
                    t("consultations_workspace.error_already_error"),
                );
                return addendum_refused(&cx, &e, &form, errors).await;
            }
            None => {
                drop(tx);
                let mut errors = FormErrors::new();
                errors.add(
                    "diagnosis",
                    t("consultations_workspace.error_addendum_diagnosis"),
                );
                return addendum_refused(&cx, &e, &form, errors).await;
            }
        }
    }
    let addendum = q::insert_addendum(&mut tx, &e, kind, &text, diagnosis, me, &now).await?;
    audit::record(
        &mut tx,
        &cx.actor(),
        Event::new("consultation.addendum", "encounter", Some(id.get()))
            .patient(e.patient_id.get())
            .detail(json!({"addendum": addendum, "kind": kind, "diagnosis": diagnosis})),
    )
    .await?;
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("consultations_workspace.addendum_added"),
    );
    Ok(hx_or_see_other(&cx, &format!("/consultations/{id}")))
}

/// Sends the patient of a draft on (to the laboratory, say) while the note stays open: the
/// consultation entry ends and the patient waits at the point chosen; back in the consultation
/// queue, *Take next* reopens the same draft.
#[handler]
pub async fn send_on(cx: Ctx, Path(id): Path<EncounterId>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let e = encounter_of(db, id).await?;
    let point = form.get("point").trim().to_string();
    let here = format!("/consultations/{id}");
    let known = appts::service_points(db)
        .await?
        .into_iter()
        .find(|p| p.code == point && p.code != POINT);
    let (Some(target), Some(entry), true) = (known, e.queue_entry_id, e.is_draft()) else {
        cx.flash(FlashKind::Warning, t("consultations_workspace.error_send"));
        return Ok(hx_or_see_other(&cx, &here));
    };
    let mut tx = db.begin().await?;
    match appts::finish(&mut tx, entry, Some(&target.code), &cx.actor()).await {
        Ok(_) => {
            tx.commit().await?;
            cx.flash(
                FlashKind::Success,
                t("consultations_workspace.sent").replace("{point}", &target.name),
            );
            Ok(hx_or_see_other(&cx, "/consultations"))
        }
        Err(appts::VisitError::Db(e)) => Err(e.into()),
        Err(err) => {
            drop(tx);
            cx.flash(FlashKind::Warning, err.message());
            Ok(hx_or_see_other(&cx, &here))
        }
    }
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
