//! The consultation page: the patient's allergies, vitals, history and the visit's results
//! around the note.

use super::*;

// ---------------------------------------------------------------------------------------------
// The consultation page
// ---------------------------------------------------------------------------------------------

/// An order of the visit with its result, as the page lists them.
#[derive(Serialize)]
pub(super) struct ResultShown {
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
pub(super) fn note_fields() -> Vec<(&'static str, String)> {
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
pub(super) fn state_label(state: orders::State) -> String {
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
pub(super) fn flag_label(flag: orders::Flag) -> String {
    t(match flag {
        orders::Flag::Normal => "consultations_workspace.flag_normal",
        orders::Flag::Abnormal => "consultations_workspace.flag_abnormal",
        orders::Flag::Critical => "consultations_workspace.flag_critical",
    })
}

pub(super) async fn results_of(cx: &Ctx, e: &Encounter) -> AppResult<Vec<ResultShown>> {
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
pub(super) async fn page_context(cx: &Ctx, e: &Encounter) -> AppResult<tera::Context> {
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
pub(super) struct SignValues {
    pub(super) outcome: String,
    pub(super) referral_facility: String,
    pub(super) referral_community_unit: String,
    pub(super) follow_up_day: String,
    pub(super) next_point: String,
}

impl SignValues {
    pub(super) fn from_form(f: &Form) -> Self {
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

pub(super) async fn show(
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
pub(super) fn render_fragment(
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
