//! Draft saves: the note saved on the server as it is typed, each save a new version; a save
//! over a newer version is refused showing both texts.

use super::*;

// ---------------------------------------------------------------------------------------------
// Draft saves
// ---------------------------------------------------------------------------------------------

/// The texts of a posted note, and what is wrong with them.
pub(super) fn texts_of(f: &Form, errors: &mut FormErrors) -> Texts {
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

pub(super) fn version_of(f: &Form) -> AppResult<i64> {
    f.get("version")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| AppError::BadRequest(t("consultations_workspace.error_version")))
}

/// The answer to a save: the version now on the server (in the fragment, which also moves the
/// form's hidden version, and in `X-Draft-Version`).
pub(super) fn saved(cx: &Ctx, e: &Encounter, version: i64) -> AppResult<Response> {
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
pub(super) async fn stale(cx: &Ctx, id: EncounterId, mine: &Texts) -> AppResult<Response> {
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
