//! Signing with its outcome, addenda to signed notes, and sending the patient on.

use super::*;

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/// A KMHFL facility code: five digits (the Kenya Master Health Facility List).
pub(super) fn kmhfl_code(s: &str) -> bool {
    s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The outcome and its details from the sign form; field errors for what is missing or wrong.
pub(super) async fn outcome_of(
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
pub(super) struct BeforeSigning {
    /// Pregnancy at the visit, from its vital signs (malaria in pregnancy).
    pregnant: Option<bool>,
    /// The note's queue entry and whether it was being served; the finish that ends it is
    /// guarded, so a change meanwhile is refused, not lost.
    entry: Option<i64>,
    serving: bool,
}

/// Why the signing transaction stopped.
pub(super) enum SignRefusal {
    Stale,
    Invalid(FormErrors),
}

/// A signing transaction that did not sign: refused (its work rolled back), or failed.
pub(super) enum SignStop {
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
pub(super) struct Signing {
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
pub(super) async fn sign_in(
    tx: &mut Tx,
    s: &Signing,
) -> AppResult<Result<(i64, i64), SignRefusal>> {
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
pub(super) async fn addendum_refused(
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
