//! Preparing a visit's prescription: checks each line against its order (open, not more than
//! the balance) and the store's usable stock, moves the orders to `in_progress`, writes the
//! dispense and its lines and posts one charge per line, in one transaction. A form token UNIQUE
//! on `dispenses` makes the same request posted twice one dispense.

use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::charges::{self, ChargeError, Clearance, NewCharge};
use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::i18n::t;
use hms_core::ids::{OrderId, PatientId, VisitId};
use hms_core::orders::{self, DrugDetails};
use hms_core::ui::FormErrors;
use hms_core::App;

use super::{issue, DispenseError, Shortfall, CHARGE_SOURCE};
use crate::model::{self, Drug};
use crate::repo::dispenses as repo;

/// One line asked for: an order and how many units now (the balance when `None`), from a
/// chosen batch with its reason, or first expiry first.
#[derive(Debug, Clone)]
pub struct Want {
    pub order: i64,
    pub quantity: Option<i64>,
    pub batch: Option<i64>,
    pub batch_reason: Option<String>,
}

/// A prepare request, already read from the form (see `routes::dispense`).
#[derive(Debug, Clone)]
pub struct Prepare {
    pub token: String,
    pub store: i64,
    pub visit: i64,
    pub wants: Vec<Want>,
    /// `en` or `sw`: the labels' language.
    pub language: String,
}

/// A line checked against its order and its drug, ready to write.
struct Checked {
    want: Want,
    drug: Drug,
    quantity: i64,
    instructions: String,
    start: bool,
}

/// Prepares (and, when nothing needs paying first, issues) a dispense; its id. The same token
/// again answers the dispense it made.
pub async fn prepare(app: &App, actor: &Actor, p: &Prepare) -> Result<i64, DispenseError> {
    let db = &app.db;
    if let Some(id) = repo::by_token(db, &p.token).await? {
        return Ok(id);
    }
    let visit = hms_appointments::api::visit(db, VisitId(p.visit))
        .await?
        .ok_or(DispenseError::NotFound)?;
    let store = model::store(db, p.store)
        .await?
        .filter(|s| s.active)
        .ok_or_else(|| super::invalid("store", "pharmacy_dispense.error_store"))?;
    if p.wants.is_empty() {
        return Err(super::invalid("order", "pharmacy_dispense.error_no_lines"));
    }
    // Each order once, each a drug of this visit's, each in the catalogue.
    let mut errors = FormErrors::new();
    let mut drugs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for w in &p.wants {
        let field = format!("qty_{}", w.order);
        if !seen.insert(w.order) {
            errors.add(&field, t("pharmacy_dispense.error_twice"));
            continue;
        }
        let order = orders::get(db, OrderId(w.order)).await?;
        let Some(order) = order.filter(|o| o.kind == orders::DRUG && o.visit == Some(visit.id))
        else {
            errors.add(&field, t("pharmacy_dispense.error_not_this_visit"));
            continue;
        };
        let drug = match order.code.as_deref() {
            Some(code) => model::drug_by_code(db, code).await?.filter(|d| d.active),
            None => None,
        };
        let Some(drug) = drug else {
            errors.add(&field, t("pharmacy_dispense.error_not_in_catalogue"));
            continue;
        };
        let details: Option<DrugDetails> = serde_json::from_value(order.details.clone()).ok();
        let instructions = details
            .map(|d| crate::labels::directions("en", &d))
            .unwrap_or_default();
        drugs.push((w.clone(), drug, instructions));
    }
    if !errors.is_empty() {
        return Err(DispenseError::Invalid(errors));
    }
    drugs.sort_by_key(|(w, _, _)| w.order);
    let emergency = hms_appointments::api::active_entry(db, visit.id)
        .await?
        .is_some_and(|e| e.priority == hms_appointments::api::Priority::Emergency);
    let one_click = emergency || !super::payment_first(&app.modules, db).await?;
    let job = Job {
        db: db.clone(),
        actor: actor.clone(),
        token: p.token.clone(),
        language: p.language.clone(),
        visit: (visit.id, visit.patient_id),
        store: store.id,
        drugs,
        emergency,
        one_click,
        today: Day::today().date(),
        now: hms_core::clock::now_rfc3339(),
    };
    // One job of the group writer: the dispense shares its commit with the writes that arrive
    // with it; a refusal (short stock, an order closed meanwhile) rolls back its own work only.
    let written = db
        .write_or_refuse(job, |tx, job| Box::pin(write(tx, job)))
        .await;
    let id = match written {
        Ok(Written::New(id)) => id,
        Ok(Written::Posted(id)) => return Ok(id),
        Err(e) => return Err(e),
    };
    if one_click {
        return Ok(id);
    }
    // Billing is on: issue now only when no line waits for payment.
    if cleared(app, db, id).await? {
        match issue::issue(app, actor, id).await {
            Ok(()) | Err(DispenseError::Short(_)) | Err(DispenseError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(id)
}

/// What the prepare job needs, handed to each run of it (see [`Db::write_or_refuse`]).
struct Job {
    db: Db,
    actor: Actor,
    token: String,
    language: String,
    visit: (VisitId, PatientId),
    store: i64,
    /// The lines asked for, in order id order, with their drug and directions.
    drugs: Vec<(Want, Drug, String)>,
    emergency: bool,
    /// Prepare and issue in one transaction (no payment first).
    one_click: bool,
    today: chrono::NaiveDate,
    now: String,
}

/// What the job did: a new dispense, or the one its form token made before.
enum Written {
    New(i64),
    Posted(i64),
}

/// The prepare job, in the group writer's transaction: the dispense, its lines checked against
/// their orders (locked in id order) and the store's usable stock, the orders started, a charge
/// per line, the audit row and, in one click, the stock taken.
async fn write(tx: &mut Tx, job: &Job) -> Result<Written, DispenseError> {
    let Job {
        actor,
        drugs,
        emergency,
        one_click,
        today,
        ref now,
        ..
    } = job;
    let (visit_id, patient_id) = job.visit;
    let Some(id) = repo::insert_once(
        tx,
        &repo::NewDispense {
            kind: "prescription",
            store: job.store,
            patient: Some(patient_id.get()),
            visit: Some(visit_id.get()),
            walk_in_name: None,
            language: &job.language,
            emergency: *emergency,
            token: &job.token,
            user: actor.user_id,
            at: now,
        },
    )
    .await?
    else {
        return repo::by_token_in(tx, &job.token)
            .await?
            .map(Written::Posted)
            .ok_or(DispenseError::Db(DbError::Conflict));
    };
    let mut errors = FormErrors::new();
    let today = *today;
    // Orders first, in id order, then stock: the same lock order as every dispense.
    let mut checked = Vec::new();
    let mut short = Vec::new();
    let mut locked = std::collections::HashMap::new();
    for (want, drug, instructions) in drugs.iter().cloned() {
        let field = format!("qty_{}", want.order);
        let Some(order) = repo::lock_order(tx, job.db.backend, want.order).await? else {
            errors.add(&field, t("pharmacy_dispense.error_not_this_visit"));
            continue;
        };
        if order.kind != orders::DRUG || order.visit != Some(visit_id.get()) {
            errors.add(&field, t("pharmacy_dispense.error_not_this_visit"));
            continue;
        }
        if !matches!(order.state.as_str(), "placed" | "in_progress") {
            errors.add(&field, t("pharmacy_dispense.error_closed"));
            continue;
        }
        locked.insert(want.order, (order.quantity, order.done));
        let balance = order.quantity - order.done - order.pending;
        if balance <= 0 {
            errors.add(&field, t("pharmacy_dispense.error_nothing_left"));
            continue;
        }
        let quantity = want.quantity.unwrap_or(balance);
        if quantity > balance {
            errors.add(
                &field,
                t("pharmacy_dispense.error_more_than_prescribed")
                    .replace("{balance}", &balance.to_string()),
            );
            continue;
        }
        let available = match want.batch {
            Some(batch) => {
                match repo::batch_usable_in(tx, batch, job.store, drug.id, today).await? {
                    Some(n) => n,
                    None => {
                        errors.add(
                            &format!("batch_{}", want.order),
                            t("pharmacy_dispense.error_batch"),
                        );
                        continue;
                    }
                }
            }
            // In one click the stock is taken below, where a short line refuses the whole.
            None if *one_click => quantity,
            None => repo::usable_in(tx, job.store, drug.id, today).await?,
        };
        if want.batch.is_some()
            && want
                .batch_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            errors.add(
                &format!("batch_reason_{}", want.order),
                t("pharmacy_dispense.error_batch_reason"),
            );
            continue;
        }
        if available < quantity {
            short.push(Shortfall {
                order: Some(want.order),
                drug: drug.id,
                drug_name: drug.display(),
                wanted: quantity,
                available,
            });
        }
        checked.push(Checked {
            start: order.state == "placed",
            want,
            drug,
            quantity,
            instructions,
        });
    }
    if !errors.is_empty() {
        return Err(DispenseError::Invalid(errors));
    }
    if !short.is_empty() {
        return Err(DispenseError::Short(short));
    }

    // The lines, the orders started and the charges, then (one click) the stock.
    let mut lines = Vec::new();
    for c in &checked {
        let line = repo::insert_line(
            tx,
            &repo::NewLine {
                dispense: id,
                order: Some(c.want.order),
                drug: c.drug.id,
                quantity: c.quantity,
                unit_price_cents: c.drug.price_cents,
                instructions: &c.instructions,
                batch: c.want.batch,
                batch_reason: c.want.batch_reason.as_deref().map(str::trim),
            },
        )
        .await?;
        lines.push(line);
    }
    let mut written = Vec::new();
    for (c, line) in checked.iter().zip(lines) {
        if c.start {
            orders::start(tx, actor, OrderId(c.want.order)).await?;
        }
        let charge = charge_line(
            tx,
            actor,
            &c.drug,
            patient_id,
            Some(visit_id),
            line,
            c.quantity,
        )
        .await?;
        written.push(json!({
            "line": line, "order": c.want.order, "drug": c.drug.code, "quantity": c.quantity,
            "batch": c.want.batch, "batch_reason": c.want.batch_reason, "charge": charge,
        }));
    }
    audit::record(
        tx,
        actor,
        Event::new("pharmacy.dispense.prepare", "dispense", Some(id))
            .patient(patient_id.get())
            .detail(json!({
                "visit": visit_id, "store": job.store, "emergency": emergency, "lines": written,
            })),
    )
    .await?;
    if *one_click {
        // The stock last: on PostgreSQL its batches stay locked only from here to COMMIT, and
        // every dispense of a drug waits on the same first-expiring batch.
        let taken = issue::take(tx, &job.db, actor, id, true, Some(locked)).await?;
        issue::record(tx, actor, &taken).await?;
    }
    Ok(Written::New(id))
}

/// Posts the charge of a line (publishing the drug's charge item first when the catalogue never
/// did, as for drugs loaded before it did) and links it to the line; the charge id.
pub(super) async fn charge_line(
    tx: &mut hms_core::db::Tx,
    actor: &Actor,
    drug: &Drug,
    patient: PatientId,
    visit: Option<VisitId>,
    line: i64,
    quantity: i64,
) -> Result<i64, DispenseError> {
    let charge = NewCharge {
        patient,
        visit,
        item: drug.charge_code(),
        quantity,
        unit_price: Some(hms_core::money::Money::from_cents(drug.price_cents)),
        service_point: Some(super::POINT.into()),
        source: CHARGE_SOURCE.into(),
        source_ref: format!("dispense_line:{line}"),
    };
    let posted = match charges::post(tx, actor, &charge).await {
        Err(ChargeError::UnknownItem(_)) => {
            model::publish_charge_item(tx, drug).await?;
            charges::post(tx, actor, &charge).await?
        }
        posted => posted?,
    };
    repo::link_charge(tx, line, posted.id.get()).await?;
    Ok(posted.id.get())
}

/// Whether every charged line of a dispense may be issued now (nothing to pay first).
pub(super) async fn cleared(app: &App, db: &Db, dispense: i64) -> Result<bool, DispenseError> {
    let emergency = repo::dispense(db, dispense)
        .await?
        .is_some_and(|d| d.emergency);
    if emergency {
        return Ok(true);
    }
    for line in repo::lines(db, dispense).await? {
        if line.charge.is_none() {
            continue;
        }
        let answer = charges::clearance(
            &app.modules,
            db,
            CHARGE_SOURCE,
            &format!("dispense_line:{}", line.id),
        )
        .await?;
        if matches!(answer, Clearance::Awaiting(_)) {
            return Ok(false);
        }
    }
    Ok(true)
}
