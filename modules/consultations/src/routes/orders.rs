//! Orders from a consultation: the basket of the draft (search the fillers' catalogues or type
//! free text, add, remove), *Place orders* (the whole basket in one transaction), cancelling an
//! order no department has started, and procedures done in the room (each posts its charge).

use poem::http::StatusCode;
use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use hms_core::audit::{self, Event};
use hms_core::charges::{self, NewCharge};
use hms_core::db::DbError;
use hms_core::http::{
    render_part, render_status, safe_next, see_other, Access, Ctx, FlashKind, Form, RouteSpec,
};
use hms_core::i18n::t;
use hms_core::ids::{EncounterId, OrderId};
use hms_core::module::Orderable;
use hms_core::orders;
use hms_core::ui::FormErrors;
use hms_core::{AppError, AppResult};

use super::encounter_of;
use crate::basket::{self, Typed};
use crate::encounter::Encounter;
use crate::procedures;
use crate::repo::orders as repo;
use crate::ORDERS;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::get(
            "/consultations/:id/orders",
            Access::Permission(ORDERS),
            page,
        ),
        RouteSpec::post("/consultations/:id/orders", Access::Permission(ORDERS), add),
        RouteSpec::post(
            "/consultations/:id/orders/place",
            Access::Permission(ORDERS),
            place,
        ),
        RouteSpec::post(
            "/consultations/:id/orders/:item/cancel",
            Access::Permission(ORDERS),
            cancel,
        ),
        RouteSpec::post(
            "/consultations/:id/basket/:item/remove",
            Access::Permission(ORDERS),
            remove,
        ),
        RouteSpec::post(
            "/consultations/:id/procedures",
            Access::Permission(ORDERS),
            procedure,
        ),
    ]
}

/// The catalogue search of the basket: the kind and what was typed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Search {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    q: String,
}

/// Shortest search sent to a filler's catalogue.
const SEARCH_MIN: usize = 2;

/// Where to go back to after a POST: the form's `next` when it is a local path, else the
/// orders screen of the note.
fn back(form: &Form, encounter: &Encounter) -> String {
    safe_next(form.get("next"))
        .map(str::to_string)
        .unwrap_or_else(|| format!("/consultations/{}/orders", encounter.id.get()))
}

/// Kinds filled by enabled modules besides lab and drug (for the kind choice).
fn extra_kinds(cx: &Ctx) -> Vec<&'static str> {
    cx.app()
        .modules
        .enabled()
        .flat_map(|m| m.fulfils().iter().copied())
        .filter(|k| !basket::KINDS.contains(k) && *k != orders::ADMISSION)
        .collect()
}

/// The orders screen: its context with the section and the search.
async fn screen(
    cx: &Ctx,
    encounter: &Encounter,
    search: &Search,
    values: Option<&Typed>,
    errors: Option<&FormErrors>,
) -> AppResult<tera::Context> {
    let app = cx.app();
    let form = basket::Form {
        extra_kinds: extra_kinds(cx),
        values,
        errors,
    };
    let mut section = basket::section_with(&app.db, encounter, &form).await?;
    section["next"] = json!(format!("/consultations/{}/orders", encounter.id.get()));
    let kind = if search.kind.trim().is_empty() {
        values
            .map(|v| v.kind.clone())
            .unwrap_or_else(|| orders::LAB.to_string())
    } else {
        search.kind.trim().to_string()
    };
    let q = search.q.trim();
    let filler = basket::known_kind(&app.modules, &kind) && app.modules.filler(&kind).is_some();
    let chosen = values.map(|v| v.code.trim()).filter(|c| !c.is_empty());
    let results: Vec<Orderable> = match (filler, chosen) {
        (false, _) => Vec::new(),
        (true, _) if q.chars().count() >= SEARCH_MIN => {
            app.modules.orderables(&app.db, &kind, q).await?
        }
        // A refused line keeps its catalogue choice on the screen.
        (true, Some(code)) => app
            .modules
            .orderable(&app.db, &kind, code)
            .await?
            .into_iter()
            .collect(),
        (true, None) => Vec::new(),
    };
    section["search"] = json!({
        "kind": kind,
        "q": q,
        "searched": q.chars().count() >= SEARCH_MIN,
        "filler": filler,
        "results": results.iter().map(|o| json!({
            "code": o.code,
            "name": o.name,
            "unit": o.unit,
            "price": o.price.map(|p| p.to_string()),
            "stock": o.stock,
        })).collect::<Vec<_>>(),
    });
    let patient = hms_patients::api::card(&app.db, encounter.patient_id).await?;
    let mut c = tera::Context::new();
    c.insert("orders", &section);
    c.insert("patient", &patient);
    c.insert("encounter", encounter);
    Ok(c)
}

fn audit_view(encounter: &Encounter) -> Event {
    Event::new(
        "consultations.orders_view",
        "encounter",
        Some(encounter.id.get()),
    )
    .patient(encounter.patient_id.get())
}

/// GET: the orders screen of a note; an HTMX search gets only the catalogue's matches.
#[handler]
pub async fn page(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(search): Query<Search>,
) -> AppResult<Response> {
    let encounter = encounter_of(&cx.app().db, EncounterId(id)).await?;
    let c = screen(&cx, &encounter, &search, None, None).await?;
    if !cx.wants_fragment() {
        cx.audit_read(audit_view(&encounter)).await;
    }
    render_part(
        &cx,
        "consultations/orders.html",
        "consultations/_orders_results.html",
        c,
    )
}

/// The screen again with what was typed and why it was refused (422), nothing saved.
async fn refused(
    cx: &Ctx,
    encounter: &Encounter,
    values: &Typed,
    errors: &FormErrors,
) -> AppResult<Response> {
    let search = Search {
        kind: values.kind.clone(),
        q: String::new(),
    };
    let c = screen(cx, encounter, &search, Some(values), Some(errors)).await?;
    render_status(
        cx,
        StatusCode::UNPROCESSABLE_ENTITY,
        "consultations/orders.html",
        c,
    )
}

/// A draft whose visit is open and is the note's patient's; otherwise the refusal to show.
async fn writable(cx: &Ctx, encounter: &Encounter) -> AppResult<Option<FormErrors>> {
    if !encounter.is_draft() {
        return Err(AppError::Conflict(t("consultations_orders.error_signed")));
    }
    Ok(basket::visit_refusal(&cx.app().db, encounter)
        .await?
        .map(|key| {
            let mut errors = FormErrors::new();
            errors.add("visit", t(key));
            errors
        }))
}

fn typed(form: &Form) -> Typed {
    let f = |name: &str| form.get(name).to_string();
    Typed {
        kind: f("kind"),
        code: f("code"),
        free_text: f("free_text"),
        quantity: f("quantity"),
        priority: f("priority"),
        dose: f("dose"),
        dose_unit: f("dose_unit"),
        route: f("route"),
        frequency: f("frequency"),
        duration_days: f("duration_days"),
        instructions: f("instructions"),
        max_per_day: f("max_per_day"),
        allergy_reason: f("allergy_reason"),
    }
}

/// The note read in `tx`, refused unless still a draft.
async fn draft_in(
    tx: &mut hms_core::db::Tx,
    id: EncounterId,
) -> AppResult<crate::encounter::Encounter> {
    let now = crate::repo::encounters::get_in(tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !now.is_draft() {
        return Err(AppError::Conflict(t("consultations_orders.error_signed")));
    }
    Ok(now)
}

/// POST: adds a line to the basket of a draft.
#[handler]
pub async fn add(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let encounter = encounter_of(&app.db, EncounterId(id)).await?;
    let values = typed(&form);
    if let Some(errors) = writable(&cx, &encounter).await? {
        return refused(&cx, &encounter, &values, &errors).await;
    }
    let valid = match basket::check(&app.db, &app.modules, &encounter, &values).await? {
        Ok(v) => v,
        Err(errors) => return refused(&cx, &encounter, &values, &errors).await,
    };
    // Lines added at once share a commit (group commit).
    let job = (encounter.id, valid, cx.actor());
    let valid = app
        .db
        .write_or_refuse(job, |tx, (id, valid, actor)| {
            Box::pin(async move {
                let now = draft_in(tx, *id).await?;
                basket::add(tx, actor, &now, valid).await?;
                Ok::<_, AppError>(valid.clone())
            })
        })
        .await?;
    cx.flash(
        FlashKind::Success,
        t("consultations_orders.added").replace("{item}", &valid.display),
    );
    Ok(see_other(&back(&form, &encounter)))
}

/// POST: takes a line out of the basket.
#[handler]
pub async fn remove(
    cx: Ctx,
    Path((id, item)): Path<(i64, i64)>,
    form: Form,
) -> AppResult<Response> {
    let app = cx.app();
    let encounter = encounter_of(&app.db, EncounterId(id)).await?;
    if !encounter.is_draft() {
        return Err(AppError::Conflict(t("consultations_orders.error_signed")));
    }
    let mut tx = app.db.begin().await?;
    match basket::remove(&mut tx, &cx.actor(), &encounter, item).await {
        Ok(()) => {
            tx.commit().await?;
            cx.flash(FlashKind::Success, t("consultations_orders.removed"));
        }
        Err(DbError::Conflict) => {
            drop(tx);
            cx.flash(
                FlashKind::Warning,
                t("consultations_orders.removed_already"),
            );
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&back(&form, &encounter)))
}

/// POST: *Place orders*: the whole basket becomes orders in one transaction.
#[handler]
pub async fn place(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let encounter = encounter_of(&app.db, EncounterId(id)).await?;
    let values = Typed::default();
    if let Some(errors) = writable(&cx, &encounter).await? {
        return refused(&cx, &encounter, &values, &errors).await;
    }
    // Baskets placed at once share a commit (group commit).
    let job = (encounter.id, cx.actor());
    let placed = app
        .db
        .write_or_refuse(job, |tx, (id, actor)| {
            Box::pin(async move {
                let now = draft_in(tx, *id).await?;
                if basket::unplaced(tx, &now).await? == 0 {
                    return Ok(None);
                }
                match basket::place_all(tx, actor, &now).await {
                    Ok(placed) => Ok(Some(placed)),
                    Err(AppError::Conflict(_)) => Err(AppError::Conflict(t(
                        "consultations_orders.error_placed_already",
                    ))),
                    Err(e) => Err(e),
                }
            })
        })
        .await?;
    let Some(placed) = placed else {
        let mut errors = FormErrors::new();
        errors.add("place", t("consultations_orders.error_empty"));
        return refused(&cx, &encounter, &values, &errors).await;
    };
    cx.flash(
        FlashKind::Success,
        t("consultations_orders.placed").replace("{count}", &placed.len().to_string()),
    );
    Ok(see_other(&back(&form, &encounter)))
}

/// POST: cancels an order of this note that no department has started.
#[handler]
pub async fn cancel(
    cx: Ctx,
    Path((id, item)): Path<(i64, i64)>,
    form: Form,
) -> AppResult<Response> {
    let app = cx.app();
    let encounter = encounter_of(&app.db, EncounterId(id)).await?;
    let order = orders::get(&app.db, OrderId(item))
        .await?
        .filter(|o| {
            o.placer_module == basket::PLACER
                && o.placer_ref.as_deref() == Some(basket::placer_ref(&encounter).as_str())
        })
        .ok_or(AppError::NotFound)?;
    let reason = form.get("reason").trim();
    if reason.chars().count() > 500 {
        return Err(AppError::BadRequest(t(
            "consultations_orders.error_too_long",
        )));
    }
    let mut tx = app.db.begin().await?;
    match orders::cancel(&mut tx, &cx.actor(), order.id, Some(reason)).await {
        Ok(()) => tx.commit().await?,
        Err(e) if e.is_conflict() => {
            drop(tx);
            return Err(AppError::Conflict(t(
                "consultations_orders.error_cancel_started",
            )));
        }
        Err(e) => return Err(e.into()),
    }
    cx.flash(
        FlashKind::Success,
        t("consultations_orders.cancelled").replace("{item}", &order.display),
    );
    Ok(see_other(&back(&form, &encounter)))
}

/// POST: a procedure done in the room, its charge posted in the same transaction.
#[handler]
pub async fn procedure(cx: Ctx, Path(id): Path<i64>, form: Form) -> AppResult<Response> {
    let app = cx.app();
    let encounter = encounter_of(&app.db, EncounterId(id)).await?;
    let values = Typed::default();
    if let Some(errors) = writable(&cx, &encounter).await? {
        return refused(&cx, &encounter, &values, &errors).await;
    }
    let Some(done) = procedures::find(form.get("procedure")) else {
        let mut errors = FormErrors::new();
        errors.add("procedure", t("consultations_orders.error_procedure"));
        return refused(&cx, &encounter, &values, &errors).await;
    };
    let item = done.charge_item();
    let published = charges::item(&app.db, &item.code).await?.is_some();
    let actor = cx.actor();
    let mut tx = app.db.begin().await?;
    let now = crate::repo::encounters::get_in(&mut tx, encounter.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !now.is_draft() {
        return Err(AppError::Conflict(t("consultations_orders.error_signed")));
    }
    if !published {
        charges::publish_item(&mut tx, basket::PLACER, &item).await?;
    }
    let name = hms_core::i18n::t_in("en", done.name);
    let row = repo::record_procedure(
        &mut tx,
        &repo::NewProcedure {
            encounter: &now,
            code: done.code,
            name: &name,
        },
        actor.user_id,
    )
    .await?;
    let charge = charges::post(
        &mut tx,
        &actor,
        &NewCharge {
            patient: now.patient_id,
            visit: Some(now.visit_id),
            item: item.code.clone(),
            quantity: 1,
            unit_price: None,
            service_point: Some("consultation".into()),
            source: procedures::CHARGE_SOURCE.into(),
            source_ref: format!("procedure:{row}"),
        },
    )
    .await?;
    repo::link_charge(&mut tx, row, charge.id.get()).await?;
    audit::record(
        &mut tx,
        &actor,
        Event::new("consultations.procedure", "encounter", Some(now.id.get()))
            .patient(now.patient_id.get())
            .detail(json!({ "procedure": row, "code": done.code, "charge": charge.id.get() })),
    )
    .await?;
    tx.commit().await?;
    cx.flash(
        FlashKind::Success,
        t("consultations_orders.procedure_done").replace("{procedure}", &t(done.name)),
    );
    Ok(see_other(&back(&form, &encounter)))
}
