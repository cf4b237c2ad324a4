//! The pharmacy queue: visits with drug orders placed or part done, oldest first (a query on core
//! `orders`); *Call next* takes the next patient sent to the pharmacy's service point, and
//! *Done* ends their visit at the pharmacy.

use std::collections::HashMap;
use std::time::Duration;

use poem::web::Path;
use poem::{handler, Response};
use serde_json::json;

use hms_appointments::api as appts;
use hms_core::http::{hx_or_see_other, render, Ctx, FlashKind};
use hms_core::i18n::t;
use hms_core::ids::{PatientId, VisitId};
use hms_core::{AppError, AppResult};

use crate::dispense::POINT;
use crate::repo::dispenses as repo;

/// Most visits the queue lists.
const QUEUE_LIMIT: i64 = 100;

/// GET `/pharmacy`: who waits for medicines.
#[handler]
pub async fn index(cx: Ctx) -> AppResult<Response> {
    let db = &cx.app().db;
    let waiting = repo::queue(db, QUEUE_LIMIT).await?;
    let ids: Vec<PatientId> = waiting.iter().map(|w| PatientId(w.patient)).collect();
    let cards: HashMap<i64, _> = hms_patients::api::cards(db, &ids)
        .await?
        .into_iter()
        .map(|c| (c.id.get(), c))
        .collect();
    let at_point: HashMap<i64, appts::QueueEntry> = appts::queue(db, POINT, 200)
        .await?
        .into_iter()
        .map(|e| (e.visit_id.get(), e))
        .collect();
    let now = chrono::Utc::now();
    let rows: Vec<_> = waiting
        .iter()
        .map(|w| {
            let card = cards.get(&w.patient);
            let entry = at_point.get(&w.visit);
            json!({
                "visit": w.visit,
                "name": card.map(|c| c.full_name.clone()).unwrap_or_default(),
                "number": card.map(|c| c.number.clone()).unwrap_or_default(),
                "age": card.map(|c| c.age_text.clone()).unwrap_or_default(),
                "sex": card.map(|c| c.sex_label.clone()).unwrap_or_default(),
                "lines": w.lines,
                "minutes": hms_core::clock::minutes_since(&w.since, now),
                "token": entry.map(|e| e.token),
                "here": entry.is_some(),
                "emergency": entry.is_some_and(|e| e.priority == appts::Priority::Emergency),
            })
        })
        .collect();
    let (queued, _) = appts::waiting(db, POINT).await?;
    let stores = crate::model::stores(db).await?;
    let mut c = tera::Context::new();
    c.insert("rows", &rows);
    c.insert("queued", &queued);
    c.insert("no_store", &stores.iter().all(|s| !s.active));
    render(&cx, "pharmacy/dispense_queue.html", c)
}

/// POST `/pharmacy/next`: calls and serves the next patient waiting at the pharmacy, then opens
/// their prescriptions; when two pharmacists call at once each gets a different patient.
#[handler]
pub async fn call_next(cx: Ctx) -> AppResult<Response> {
    let actor = cx.actor();
    let db = &cx.app().db;
    for attempt in 0..8u64 {
        let mut tx = db.begin().await?;
        let called = match appts::call_next(&mut tx, POINT, &actor).await {
            Ok(Some(entry)) => appts::serve(&mut tx, entry.id, &actor).await.map(Some),
            other => other,
        };
        match called {
            Ok(Some(entry)) => {
                tx.commit().await?;
                return Ok(hx_or_see_other(
                    &cx,
                    &format!("/pharmacy/visits/{}", entry.visit_id.get()),
                ));
            }
            Ok(None) => {
                drop(tx);
                cx.flash(FlashKind::Info, t("pharmacy_dispense.nobody_waiting"));
                return Ok(hx_or_see_other(&cx, "/pharmacy"));
            }
            Err(appts::VisitError::Conflict) => {
                drop(tx);
                tokio::time::sleep(Duration::from_millis(2 + attempt * 3)).await;
            }
            Err(appts::VisitError::Db(e)) => return Err(e.into()),
            Err(e) => {
                drop(tx);
                cx.flash(FlashKind::Warning, e.message());
                return Ok(hx_or_see_other(&cx, "/pharmacy"));
            }
        }
    }
    Err(AppError::Conflict(t("pharmacy_dispense.busy")))
}

/// POST `/pharmacy/visits/:id/finish`: the patient leaves the pharmacy with their medicines;
/// the visit's entry at the pharmacy is done and the visit completed.
#[handler]
pub async fn finish(cx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let actor = cx.actor();
    let db = &cx.app().db;
    let mut tx = db.begin().await?;
    let done = match appts::take(&mut tx, VisitId(id), POINT, &actor).await {
        Ok(Some(entry)) => appts::finish(&mut tx, entry.id, None, &actor)
            .await
            .map(|_| true),
        Ok(None) => Ok(false),
        Err(e) => Err(e),
    };
    match done {
        Ok(true) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("pharmacy_dispense.finished"));
        }
        Ok(false) => {
            drop(tx);
            cx.flash(FlashKind::Warning, t("pharmacy_dispense.not_at_pharmacy"));
        }
        Err(appts::VisitError::Db(e)) => return Err(e.into()),
        Err(e) => {
            drop(tx);
            cx.flash(FlashKind::Warning, e.message());
        }
    }
    Ok(hx_or_see_other(&cx, "/pharmacy"))
}
