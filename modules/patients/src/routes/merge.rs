//! Merging two records of the same person, and undoing a merge: pick the other record from the
//! chart, compare both side by side, give the reason, confirm. The record the merge started from
//! is kept unless the user swaps the two on the comparison page.

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{render, render_status, see_other, Ctx, FlashKind, Form};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::ui::FormErrors;
use hms_core::{phone, AppError, AppResult};

use super::{sex_label, PAGE_SIZE};
use crate::model;
use crate::picker::{Choose, Screen};
use crate::repo::merge::{self as merging, MergeError, Refusal, Side};

/// Longest reason kept, in characters.
const MAX_REASON: usize = 500;

#[derive(Debug, Default, Deserialize)]
pub struct PickQuery {
    #[serde(default)]
    q: String,
}

/// A record as the comparison shows it: every field people check to tell two records apart.
#[derive(Serialize)]
struct Compared {
    id: i64,
    number: String,
    name: String,
    sex: String,
    date_of_birth: String,
    dob_estimated: bool,
    phone: String,
    identifiers: Vec<(String, String)>,
}

fn compared(s: &Side) -> Compared {
    Compared {
        id: s.id,
        number: s.number.clone(),
        name: s.name.clone(),
        sex: sex_label(&s.sex),
        date_of_birth: s.date_of_birth.clone(),
        dob_estimated: s.dob_estimated,
        phone: s.phone.as_deref().map(phone::display).unwrap_or_default(),
        identifiers: s
            .identifiers
            .iter()
            .map(|(kind, value)| (model::id_type_label(kind), value.clone()))
            .collect(),
    }
}

/// The message for a refusal, for the person at the screen.
fn refusal_text(refusal: Refusal, survivor: Option<&Side>, merged: Option<&Side>) -> String {
    let number = |s: Option<&Side>| s.map(|s| s.number.clone()).unwrap_or_default();
    match refusal {
        Refusal::SameRecord => t("patients_merge.error_same"),
        Refusal::SurvivorMerged => {
            t("patients_merge.error_survivor_merged").replace("{number}", &number(survivor))
        }
        Refusal::AlreadyMerged => {
            t("patients_merge.error_already_merged").replace("{number}", &number(merged))
        }
        Refusal::HasMergedRecords => {
            t("patients_merge.error_has_merged").replace("{number}", &number(merged))
        }
        Refusal::NotFound => t("patients_merge.error_not_found"),
        Refusal::AlreadyUndone => t("patients_merge.error_already_undone"),
    }
}

async fn side_or_404(cx: &Ctx, id: i64) -> AppResult<Side> {
    merging::side(&cx.app().db, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Records that the merge screens showed a patient's details.
async fn audit_shown(cx: &Ctx, id: i64, screen: &str) {
    cx.audit_read(
        Event::new("patient.view", "patient", Some(id))
            .patient(id)
            .detail(json!({"screen": screen})),
    )
    .await;
}

/// Step 1: find the other record of the same person.
#[handler]
pub async fn pick(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(query): Query<PickQuery>,
) -> AppResult<Response> {
    let patient = side_or_404(&cx, id).await?;
    if let Some(survivor) = patient.merged_into {
        return Ok(see_other(&format!("/patients/{survivor}/merge")));
    }
    let picker = crate::picker::picker(
        &cx,
        Screen {
            name: "merge",
            q: &query.q,
            after: "",
            limit: PAGE_SIZE,
            pages: None,
            choose: Some(Choose {
                id: "compare",
                label: "patients_merge.compare",
                href: format!("/patients/{id}/merge/{{patient}}"),
            }),
            actions: false,
            chart_links: false,
            newest: false,
            no_match: "patients_merge.no_match",
            exclude: Some(PatientId(id)),
            register: false,
        },
    )
    .await?;
    audit_shown(&cx, id, "merge").await;
    let mut c = tera::Context::new();
    c.insert("patient", &compared(&patient));
    c.insert("q", &picker.q);
    c.insert("picker", &picker);
    render(&cx, "patients/merge.html", c)
}

/// Draws the comparison page: both records side by side, the reason field, and the refusal
/// when the two cannot be merged.
fn confirm_page(
    cx: &Ctx,
    status: StatusCode,
    survivor: &Side,
    merged: &Side,
    reason: &str,
    errors: &FormErrors,
    refusal: Option<String>,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("survivor", &compared(survivor));
    c.insert("merged", &compared(merged));
    c.insert("reason", reason);
    c.insert("errors", errors);
    c.insert("refusal", &refusal);
    c.insert("max_reason", &MAX_REASON);
    render_status(cx, status, "patients/merge_confirm.html", c)
}

/// Step 2: both records side by side; `id` is kept, `other` is merged into it.
#[handler]
pub async fn confirm(cx: Ctx, Path((id, other)): Path<(i64, i64)>) -> AppResult<Response> {
    let survivor = side_or_404(&cx, id).await?;
    let merged = side_or_404(&cx, other).await?;
    audit_shown(&cx, survivor.id, "merge").await;
    if merged.id != survivor.id {
        audit_shown(&cx, merged.id, "merge").await;
    }
    match merging::check(&survivor, &merged) {
        Ok(()) => confirm_page(
            &cx,
            StatusCode::OK,
            &survivor,
            &merged,
            "",
            &FormErrors::new(),
            None,
        ),
        Err(r) => {
            let text = refusal_text(r, Some(&survivor), Some(&merged));
            confirm_page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &survivor,
                &merged,
                "",
                &FormErrors::new(),
                Some(text),
            )
        }
    }
}

/// Step 3: the merge itself.
#[handler]
pub async fn merge(
    cx: Ctx,
    Path((id, other)): Path<(i64, i64)>,
    form: Form,
) -> AppResult<Response> {
    let app = cx.app();
    let survivor = side_or_404(&cx, id).await?;
    let merged = side_or_404(&cx, other).await?;
    let reason = form.get("reason").trim().to_string();
    let mut errors = FormErrors::new();
    if reason.is_empty() {
        errors.add("reason", t("patients_merge.error_reason"));
    } else if reason.chars().count() > MAX_REASON {
        errors.add("reason", t("patients_merge.error_reason_long"));
    }
    let refused = |r: Refusal| {
        let text = refusal_text(r, Some(&survivor), Some(&merged));
        confirm_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &survivor,
            &merged,
            &reason,
            &FormErrors::new(),
            Some(text),
        )
    };
    if let Err(r) = merging::check(&survivor, &merged) {
        return refused(r);
    }
    if !errors.is_empty() {
        return confirm_page(
            &cx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &survivor,
            &merged,
            &reason,
            &errors,
            None,
        );
    }
    let mut tx = app.db.begin().await?;
    match merging::merge(&mut tx, survivor.id, merged.id, &reason, &cx.actor()).await {
        Ok(_) => {}
        // Someone changed one of the records a moment ago; the transaction is dropped unchanged.
        Err(MergeError::Refused(r)) => {
            drop(tx);
            return refused(r);
        }
        Err(MergeError::Db(e)) => return Err(e.into()),
    }
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("patients_merge.merged")
            .replace("{merged}", &merged.number)
            .replace("{survivor}", &survivor.number),
    );
    Ok(see_other(&format!("/patients/{}", survivor.id)))
}

/// Draws the undo page (the merge as it stands, or why it cannot be undone).
fn undo_page(
    cx: &Ctx,
    status: StatusCode,
    survivor: &Side,
    record: Option<&merging::MergedRecord>,
    merged: Option<&Side>,
    refusal: Option<String>,
) -> AppResult<Response> {
    let mut c = tera::Context::new();
    c.insert("survivor", &compared(survivor));
    c.insert("record", &record);
    c.insert("merged", &merged.map(compared));
    c.insert("refusal", &refusal);
    render_status(cx, status, "patients/merge_undo.html", c)
}

/// Undo, step 1: what the undo will separate again.
#[handler]
pub async fn undo_confirm(cx: Ctx, Path((id, merge_id)): Path<(i64, i64)>) -> AppResult<Response> {
    let survivor = side_or_404(&cx, id).await?;
    let record = merging::active_merge(&cx.app().db, id, merge_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let merged = side_or_404(&cx, record.id).await?;
    audit_shown(&cx, survivor.id, "merge_undo").await;
    audit_shown(&cx, merged.id, "merge_undo").await;
    undo_page(
        &cx,
        StatusCode::OK,
        &survivor,
        Some(&record),
        Some(&merged),
        None,
    )
}

/// Undo, step 2: the merged record stands on its own again.
#[handler]
pub async fn undo(cx: Ctx, Path((id, merge_id)): Path<(i64, i64)>) -> AppResult<Response> {
    let app = cx.app();
    let survivor = side_or_404(&cx, id).await?;
    let mut tx = app.db.begin().await?;
    let (merged_id, merged_number) = match merging::undo(&mut tx, id, merge_id, &cx.actor()).await {
        Ok(done) => done,
        Err(MergeError::Refused(Refusal::NotFound)) => return Err(AppError::NotFound),
        Err(MergeError::Refused(r)) => {
            drop(tx);
            let text = refusal_text(r, Some(&survivor), None);
            return undo_page(
                &cx,
                StatusCode::UNPROCESSABLE_ENTITY,
                &survivor,
                None,
                None,
                Some(text),
            );
        }
        Err(MergeError::Db(e)) => return Err(e.into()),
    };
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("patients_merge.undone")
            .replace("{merged}", &merged_number)
            .replace("{survivor}", &survivor.number),
    );
    Ok(see_other(&format!("/patients/{merged_id}")))
}
