//! Screens: triage. The nurse's queue (the `triage` service point), the vital-signs form of a
//! visit (recorded and sent on in one transaction), marking a set entered in error, the table
//! of ranges, and the nurse's dashboard cards.

use chrono::Utc;
use hms_core::clock::minutes_since;
use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_appointments::api::{self as visits, Priority, VisitError};
use hms_core::audit::{self, Event};
use hms_core::day::Day;
use hms_core::http::{
    hx_or_see_other, render, render_part, render_status, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ids::{PatientId, VisitId, VitalsId};
use hms_core::ui::FormErrors;
use hms_core::{clock, AppError, AppResult};
use hms_patients::api::{self as patients, PatientCard};

use crate::ranges::{self, Band, Measure};
use crate::repo::vitals as repo;
use crate::vitals::{self, Input, Patient, Reading, CATEGORIES, DANGER_SIGNS, NOTE_MAX};
use crate::{VIEW, VITALS};

/// The service point whose queue this screen shows.
const POINT: &str = "triage";
/// Where a patient goes after triage unless the nurse chooses another point.
const NEXT_POINT: &str = "consultation";
/// Most lines the queue shows.
const QUEUE_LIMIT: i64 = 200;
/// Lines a dashboard card lists.
const CARD_LINES: i64 = 5;
/// Longest reason for marking a set entered in error.
const REASON_MAX: usize = 200;

pub fn routes() -> Vec<RouteSpec> {
    use Access::Permission as P;
    vec![
        RouteSpec::get("/triage", P(VITALS), queue),
        RouteSpec::get("/triage/ranges", P(VIEW), ranges_page),
        RouteSpec::get("/triage/:visit", P(VITALS), form_page),
        RouteSpec::post("/triage/:visit", P(VITALS), record).multiline(&["note"]),
        RouteSpec::post("/triage/:visit/check", P(VITALS), check).multiline(&["note"]),
        RouteSpec::post("/triage/vitals/:id/error", P(VITALS), entered_in_error),
        RouteSpec::get("/consultations/cards/triage", P(VITALS), card_triage),
        RouteSpec::get(
            "/consultations/cards/critical-vitals",
            P(VITALS),
            card_critical,
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// The queue
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct Line {
    visit_id: VisitId,
    patient_id: PatientId,
    token: i64,
    number: String,
    name: String,
    age: String,
    sex: String,
    state: String,
    minutes: i64,
    priority: Option<String>,
    emergency: bool,
}

async fn lines(db: &hms_core::db::Db, limit: i64) -> AppResult<Vec<Line>> {
    let entries = visits::queue(db, POINT, limit).await?;
    let ids: Vec<PatientId> = entries.iter().map(|e| e.patient_id).collect();
    let cards = patients::cards(db, &ids).await?;
    let now = Utc::now();
    Ok(entries
        .into_iter()
        .map(|e| {
            let card = cards.iter().find(|c| c.id == e.patient_id);
            let shown = |f: fn(&PatientCard) -> &String| card.map(f).cloned().unwrap_or_default();
            let since = e.called_at.as_deref().unwrap_or(&e.enqueued_at);
            Line {
                visit_id: e.visit_id,
                patient_id: e.patient_id,
                token: e.token,
                number: shown(|c| &c.number),
                name: shown(|c| &c.full_name),
                age: shown(|c| &c.age_text),
                sex: shown(|c| &c.sex_label),
                state: format!("{:?}", e.state).to_lowercase(),
                minutes: minutes_since(since, now),
                priority: Some(e.priority)
                    .filter(|p| *p != Priority::Normal)
                    .map(Priority::label),
                emergency: e.priority == Priority::Emergency,
            }
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    live: Option<String>,
}

/// The triage queue: who waits, for how long, with priority first.
#[handler]
pub async fn queue(cx: Ctx, Query(query): Query<QueueQuery>) -> AppResult<Response> {
    let db = &cx.app().db;
    let lines = lines(db, QUEUE_LIMIT).await?;
    if query.live.is_none() {
        cx.audit_read(
            Event::new("triage.queue", "service_point", None)
                .detail(json!({"point": POINT, "lines": lines.len()})),
        )
        .await;
    }
    let mut c = tera::Context::new();
    c.insert("lines", &lines);
    c.insert("can_checkin", &cx.can("queue.checkin"));
    render_part(
        &cx,
        "consultations/triage.html",
        "consultations/triage_queue.html",
        c,
    )
}

// ---------------------------------------------------------------------------------------------
// The form
// ---------------------------------------------------------------------------------------------

/// An open visit and its patient, 404 for no such visit.
async fn visit_and_patient(cx: &Ctx, id: i64) -> AppResult<(visits::Visit, PatientCard)> {
    let db = &cx.app().db;
    let visit = visits::visit(db, VisitId::from(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let card = patients::card(db, visit.patient_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((visit, card))
}

/// The choices of the form.
fn options(prefix: &str, codes: &[&str]) -> Vec<(String, String)> {
    codes
        .iter()
        .map(|c| {
            (
                c.to_string(),
                t(&format!("consultations_triage.{prefix}_{c}")),
            )
        })
        .collect()
}

#[derive(Serialize)]
struct FieldShown {
    name: &'static str,
    label: String,
    unit: String,
    mode: &'static str,
    max: usize,
    hint: String,
}

fn fields(patient: &Patient) -> Vec<FieldShown> {
    let band = patient.band();
    vitals::TYPED
        .iter()
        .filter(|m| **m != Measure::Muac || patient.muac_applies())
        .map(|m| {
            let r = ranges::range(*m, band);
            let hint = match r.normal {
                (Some(lo), Some(hi)) => format!("{}–{}", m.show(lo), m.show(hi)),
                (Some(lo), None) => format!("≥ {}", m.show(lo)),
                (None, Some(hi)) => format!("≤ {}", m.show(hi)),
                (None, None) => String::new(),
            };
            FieldShown {
                name: m.field(),
                label: t(&format!("consultations_triage.label_{}", m.field())),
                unit: t(&format!("consultations_triage.unit_{}", m.field())),
                mode: if m.decimals() > 0 {
                    "decimal"
                } else {
                    "numeric"
                },
                max: 7,
                hint,
            }
        })
        .collect()
}

struct FormState<'a> {
    input: &'a Input,
    errors: &'a FormErrors,
    confirm: &'a [&'static str],
    send_to: &'a str,
    emergency: bool,
}

async fn form_render(
    cx: &Ctx,
    status: StatusCode,
    visit: &visits::Visit,
    card: &PatientCard,
    state: FormState<'_>,
) -> AppResult<Response> {
    let db = &cx.app().db;
    let patient = vitals::patient_of(card, Day::today());
    let points: Vec<(String, String)> = visits::service_points(db)
        .await?
        .into_iter()
        .filter(|p| p.code != POINT)
        .map(|p| (p.code, p.name))
        .collect();
    let earlier: Vec<serde_json::Value> = repo::of_visit(db, visit.id)
        .await?
        .iter()
        .map(vitals::set_json)
        .collect();
    let mut c = tera::Context::new();
    c.insert("visit", visit);
    c.insert("patient", card);
    c.insert(
        "band",
        &t(&format!(
            "consultations_triage.band_{}",
            patient.band().code()
        )),
    );
    c.insert("fields", &fields(&patient));
    c.insert("pregnancy", &patient.pregnancy_applies());
    c.insert("input", state.input);
    c.insert("errors", state.errors);
    c.insert("confirm", state.confirm);
    c.insert("signs", &options("sign", DANGER_SIGNS));
    c.insert("categories", &options("category", CATEGORIES));
    c.insert("points", &points);
    c.insert("send_to", state.send_to);
    c.insert("emergency", &state.emergency);
    let (flags, worst) = vitals::preview(state.input, &patient);
    c.insert("flags", &flags);
    c.insert("critical", &(worst == ranges::Flag::Critical));
    c.insert("earlier", &earlier);
    c.insert("note_max", &NOTE_MAX);
    c.insert("open", &visit.is_open());
    render_status(cx, status, "consultations/triage_form.html", c)
}

/// The vital-signs form of a visit.
#[handler]
pub async fn form_page(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let (visit, card) = visit_and_patient(&cx, id).await?;
    cx.audit_read(
        Event::new("vitals.form", "visit", Some(visit.id.get()))
            .patient(visit.patient_id.get())
            .detail(json!({"token": visit.token})),
    )
    .await;
    let input = Input::default();
    form_render(
        &cx,
        StatusCode::OK,
        &visit,
        &card,
        FormState {
            input: &input,
            errors: &FormErrors::new(),
            confirm: &[],
            send_to: NEXT_POINT,
            emergency: false,
        },
    )
    .await
}

/// The flags of the values typed so far, shown beside the send button as the nurse types,
/// with the offer of emergency priority when one is critical. Nothing is stored.
#[handler]
pub async fn check(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let (_, card) = visit_and_patient(&cx, id).await?;
    let patient = vitals::patient_of(&card, Day::today());
    let (flags, worst) = vitals::preview(&Input::from_form(&form), &patient);
    let mut c = tera::Context::new();
    c.insert("flags", &flags);
    c.insert("critical", &(worst == ranges::Flag::Critical));
    render_part(
        &cx,
        "consultations/triage_check.html",
        "consultations/triage_check.html",
        c,
    )
}

fn refused_visit(cx: &Ctx, visit: VisitId, e: VisitError) -> AppResult<Response> {
    match e {
        VisitError::Db(e) => Err(e.into()),
        e => {
            cx.flash(FlashKind::Warning, e.message());
            Ok(hx_or_see_other(cx, &format!("/triage/{}", visit.get())))
        }
    }
}

/// Records the set and sends the patient on, in one transaction; 422 with the form and its
/// messages when a value is refused (nothing saved).
#[handler]
pub async fn record(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let (visit, card) = visit_and_patient(&cx, id).await?;
    let db = &cx.app().db;
    let today = Day::today();
    let patient = vitals::patient_of(&card, today);
    let input = Input::from_form(&form);
    let send_to = match form.get("send_to").trim() {
        "" => NEXT_POINT,
        s => s,
    };
    let emergency = form.get("emergency") == "1";
    let mut checked = vitals::check(&input, &patient, today);
    let points = visits::service_points(db).await?;
    let unknown_point = !points.iter().any(|p| p.code == send_to && p.code != POINT);
    if unknown_point || !visit.is_open() {
        let mut refusal = checked.err().unwrap_or_default();
        let key = if visit.is_open() {
            "consultations_triage.error_choose"
        } else {
            "consultations_triage.error_visit_closed"
        };
        refusal.errors.add("send_to", t(key));
        checked = Err(refusal);
    }
    let reading = match checked {
        Ok(r) => r,
        Err(refusal) => {
            return form_render(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &visit,
                &card,
                FormState {
                    input: &input,
                    errors: &refusal.errors,
                    confirm: &refusal.confirm,
                    send_to,
                    emergency,
                },
            )
            .await;
        }
    };
    let critical = reading.critical();
    let job = Recording {
        actor: cx.actor(),
        now: clock::now_rfc3339(),
        age_days: patient.age.map(|a| a.days),
        danger: reading.danger_signs.join(","),
        flags: reading.flags_json(),
        checked: reading.checked.join(","),
        detail: after_detail(&reading, visit.id, send_to, emergency),
        visit: visit.clone(),
        send_to: send_to.to_string(),
        priority: emergency.then_some(Priority::Emergency),
        reading,
    };
    // Sets recorded at several stations at once share a commit (group commit).
    let entry = match db.write_or_refuse(job, |tx, j| Box::pin(j.store(tx))).await {
        Ok(e) => e,
        Err(e) => return refused_visit(&cx, visit.id, e),
    };
    let mut text = match &entry {
        Some(entry) => t("consultations_triage.saved").replace(
            "{point}",
            &points
                .iter()
                .find(|p| p.code == entry.point)
                .map(|p| p.name.clone())
                .unwrap_or(entry.point.clone()),
        ),
        None => t("consultations_triage.saved_stayed"),
    }
    .replace("{token}", &visit.token.to_string());
    if critical && !emergency {
        text = format!("{text} {}", t("consultations_triage.saved_critical"));
    }
    cx.flash(
        if critical {
            FlashKind::Warning
        } else {
            FlashKind::Success
        },
        text,
    );
    Ok(hx_or_see_other(&cx, "/triage"))
}

/// A checked set with everything its transaction writes: the set, the patient sent on, the
/// audit row.
struct Recording {
    actor: audit::Actor,
    now: String,
    age_days: Option<i64>,
    danger: String,
    flags: String,
    checked: String,
    detail: serde_json::Value,
    visit: visits::Visit,
    send_to: String,
    priority: Option<Priority>,
    reading: Reading,
}

impl Recording {
    /// Stores the set and sends the patient on in `tx`: a patient waiting (or being seen) at
    /// triage is served there and sent on; one who waits elsewhere is moved as the nurse says;
    /// one whom other staff have called or are serving stays with them (`None`).
    async fn store(
        &self,
        tx: &mut hms_core::db::Tx,
    ) -> Result<Option<visits::QueueEntry>, VisitError> {
        let (visit, reading) = (&self.visit, &self.reading);
        let vitals_id = repo::insert(
            tx,
            &repo::NewVitals {
                patient_id: visit.patient_id,
                visit_id: visit.id,
                age_days: self.age_days,
                values: reading.values,
                pregnant: reading.pregnant,
                lmp: reading.lmp.map(hms_core::dates::text),
                danger_signs: &self.danger,
                triage_category: reading.triage_category,
                note: reading.note.as_deref(),
                flags: &self.flags,
                worst: reading.worst.code(),
                checked: &self.checked,
                recorded_by: self.actor.user_id,
                recorded_at: &self.now,
            },
        )
        .await?;
        let mut entry = None;
        let taken = visits::take(tx, visit.id, POINT, &self.actor).await?;
        let stays = match taken {
            Some(_) => false,
            None => visits::active_entry_in(tx, visit.id)
                .await?
                .is_some_and(|active| active.state != visits::EntryState::Waiting),
        };
        if !stays {
            entry = Some(
                visits::send_to(tx, visit.id, &self.send_to, self.priority, &self.actor).await?,
            );
        }
        audit::record(
            tx,
            &self.actor,
            Event::new("vitals.record", "vital_signs", Some(vitals_id.get()))
                .patient(visit.patient_id.get())
                .detail(self.detail.clone()),
        )
        .await?;
        Ok(entry)
    }
}

/// What the audit row keeps of a recorded set: its stored values and flags.
fn after_detail(r: &Reading, visit: VisitId, send_to: &str, emergency: bool) -> serde_json::Value {
    let values: serde_json::Map<String, serde_json::Value> = vitals::TYPED
        .iter()
        .filter_map(|m| r.value(*m).map(|v| (m.field().to_string(), json!(v))))
        .collect();
    json!({
        "visit": visit,
        "after": {
            "values": values,
            "pregnant": r.pregnant,
            "lmp": r.lmp.map(hms_core::dates::text),
            "danger_signs": r.danger_signs,
            "triage_category": r.triage_category,
            "flags": r.flags_json(),
            "worst": r.worst.code(),
            "checked": r.checked,
        },
        "send_to": send_to,
        "emergency": emergency,
    })
}

// ---------------------------------------------------------------------------------------------
// Entered in error
// ---------------------------------------------------------------------------------------------

/// Marks a set entered in error, with a reason; the set stays, shown struck through.
#[handler]
pub async fn entered_in_error(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let db = &cx.app().db;
    let set = repo::get(db.read(), VitalsId::from(id))
        .await?
        .ok_or(AppError::NotFound)?;
    let back = format!("/patients/{}/vitals", set.patient_id.get());
    let reason = form.get("reason").trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        let message =
            t("consultations_triage.error_reason").replace("{max}", &REASON_MAX.to_string());
        return super::vitals::trends_page(
            &cx,
            set.patient_id.get(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((id, reason.to_string(), message)),
        )
        .await;
    }
    let actor = cx.actor();
    let now = clock::now_rfc3339();
    let mut tx = db.begin().await?;
    if !repo::mark_error(&mut tx, set.id, actor.user_id, reason, &now).await? {
        return Err(AppError::Conflict(t(
            "consultations_triage.already_in_error",
        )));
    }
    audit::record(
        &mut tx,
        &actor,
        Event::new("vitals.entered_in_error", "vital_signs", Some(set.id.get()))
            .patient(set.patient_id.get())
            .detail(json!({
                "before": {"error_at": null},
                "after": {"error_at": now, "reason": reason},
                "visit": set.visit_id,
            })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("consultations_triage.marked_in_error"),
    );
    Ok(hx_or_see_other(&cx, &back))
}

// ---------------------------------------------------------------------------------------------
// The table of ranges
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct RangeShown {
    measure: String,
    unit: String,
    bands: Vec<(String, String, String)>,
    source: &'static str,
}

/// The ranges used to flag values, by age band, with their sources.
#[handler]
pub async fn ranges_page(cx: Ctx) -> AppResult<Response> {
    let bound = |m: Measure, b: (Option<i64>, Option<i64>), crit: bool| match b {
        (Some(lo), Some(hi)) if crit => format!("< {} · > {}", m.show(lo), m.show(hi)),
        (Some(lo), None) if crit => format!("< {}", m.show(lo)),
        (None, Some(hi)) if crit => format!("> {}", m.show(hi)),
        (Some(lo), Some(hi)) => format!("{}–{}", m.show(lo), m.show(hi)),
        (Some(lo), None) => format!("≥ {}", m.show(lo)),
        (None, Some(hi)) => format!("≤ {}", m.show(hi)),
        (None, None) => "—".into(),
    };
    let rows: Vec<RangeShown> = Measure::ALL
        .into_iter()
        .map(|m| {
            let bands = Band::ALL
                .into_iter()
                .map(|b| {
                    let r = ranges::range(m, b);
                    (
                        bound(m, r.normal, false),
                        bound(m, r.critical, true),
                        format!("{}–{}", m.show(r.plausible.0), m.show(r.plausible.1)),
                    )
                })
                .collect();
            RangeShown {
                measure: t(&format!("consultations_triage.label_{}", m.field())),
                unit: t(&format!("consultations_triage.unit_{}", m.field())),
                bands,
                source: ranges::range(m, Band::Adult).source,
            }
        })
        .collect();
    let bands: Vec<String> = Band::ALL
        .iter()
        .map(|b| t(&format!("consultations_triage.band_{}", b.code())))
        .collect();
    let mut c = tera::Context::new();
    c.insert("rows", &rows);
    c.insert("bands", &bands);
    c.insert("sources", ranges::SOURCES);
    render(&cx, "consultations/triage_ranges.html", c)
}

// ---------------------------------------------------------------------------------------------
// Dashboard cards
// ---------------------------------------------------------------------------------------------

/// Waiting for triage: how many, the longest wait, the next tokens (no names: glanced at).
#[handler]
pub async fn card_triage(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    // The whole queue is counted; the next few are read in calling order.
    let (waiting, oldest) = visits::waiting(db, POINT).await?;
    let entries = visits::queue(db, POINT, QUEUE_LIMIT).await?;
    let now = Utc::now();
    let longest = oldest.map_or(0, |at| minutes_since(&at, now));
    let next: Vec<serde_json::Value> = entries
        .iter()
        .filter(|e| e.state == visits::EntryState::Waiting)
        .take(CARD_LINES as usize)
        .map(|e| {
            json!({
                "token": e.token,
                "visit_id": e.visit_id,
                "minutes": minutes_since(&e.enqueued_at, now),
                "emergency": e.priority == Priority::Emergency,
                "priority": Some(e.priority).filter(|p| *p != Priority::Normal).map(Priority::label),
            })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("waiting", &waiting);
    c.insert("longest", &longest);
    c.insert("next", &next);
    render(&cx, "consultations/triage_card.html", c)
}

/// Critical vital signs recorded today: how many, and the newest with their critical values.
#[handler]
pub async fn card_critical(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    let since = hms_core::clock::to_local(Utc::now())
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(hms_core::clock::nairobi()).single())
        .map(|d| {
            d.with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_default();
    let (count, rows) = repo::critical_since(db, &since, CARD_LINES).await?;
    let ids: Vec<PatientId> = rows.iter().map(|r| r.patient_id).collect();
    let cards = patients::cards(db, &ids).await?;
    let sets: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let critical: Vec<String> = vitals::shown(r)
                .into_iter()
                .filter(|s| s.flag == "critical")
                .map(|s| format!("{} {} {}", s.label, s.value, s.unit))
                .collect();
            json!({
                "patient_id": r.patient_id,
                "number": cards.iter().find(|c| c.id == r.patient_id).map(|c| c.number.clone()),
                "at": hms_core::clock::display_rfc3339(&r.recorded_at),
                "critical": critical,
                "danger": !r.danger_signs.is_empty(),
            })
        })
        .collect();
    if !rows.is_empty() {
        cx.audit_read(
            Event::new("vitals.critical_card", "vital_signs", None)
                .detail(json!({"shown": rows.len()})),
        )
        .await;
    }
    let mut c = tera::Context::new();
    c.insert("count", &count);
    c.insert("sets", &sets);
    render(&cx, "consultations/vitals_card.html", c)
}
