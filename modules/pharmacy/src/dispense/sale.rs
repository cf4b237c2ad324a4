//! Over-the-counter sales: a walk-in buys medicines that need no prescription, with or without
//! a patient record. The sale is a dispense of kind `sale`; with a patient record its lines are
//! charged (and paid before issue when billing is on); a walk-in without one pays at the
//! counter and the sale's lines keep the prices.

use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::day::Day;
use hms_core::db::DbError;
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::ui::FormErrors;
use hms_core::App;

use super::{issue, DispenseError, Shortfall};
use crate::model;
use crate::repo::dispenses as repo;

#[derive(Debug, Clone)]
pub struct SaleLine {
    pub drug: i64,
    pub quantity: i64,
}

#[derive(Debug, Clone)]
pub struct Sale {
    pub token: String,
    pub store: i64,
    pub patient: Option<i64>,
    pub walk_in_name: Option<String>,
    pub lines: Vec<SaleLine>,
    pub language: String,
}

/// Records and (unless payment comes first) issues a sale; its dispense id. The same token
/// again answers the sale it made.
pub async fn sell(app: &App, actor: &Actor, s: &Sale) -> Result<i64, DispenseError> {
    let db = &app.db;
    if let Some(id) = repo::by_token(db, &s.token).await? {
        return Ok(id);
    }
    let mut errors = FormErrors::new();
    let store = model::store(db, s.store).await?.filter(|st| st.active);
    if store.is_none() {
        errors.add("store", t("pharmacy_dispense.error_store"));
    }
    if let Some(p) = s.patient {
        if hms_patients::api::card(db, PatientId(p)).await?.is_none() {
            errors.add("patient", t("pharmacy_dispense.error_patient"));
        }
    }
    if s.lines.is_empty() {
        errors.add("drug_0", t("pharmacy_dispense.error_no_lines"));
    }
    let mut drugs = Vec::new();
    for (i, l) in s.lines.iter().enumerate() {
        match model::drug(db, l.drug).await?.filter(|d| d.active) {
            None => errors.add(&format!("drug_{i}"), t("pharmacy_dispense.error_drug")),
            Some(d) if d.prescription_only => errors.add(
                &format!("drug_{i}"),
                t("pharmacy_dispense.error_prescription_only").replace("{drug}", &d.display()),
            ),
            Some(d) if drugs.iter().any(|(x, _): &(model::Drug, i64)| x.id == d.id) => {
                errors.add(&format!("drug_{i}"), t("pharmacy_dispense.error_twice"))
            }
            Some(d) => drugs.push((d, l.quantity)),
        }
    }
    let Some(store) = store.filter(|_| errors.is_empty()) else {
        return Err(DispenseError::Invalid(errors));
    };
    let charged = s.patient.is_some();
    let one_click = !charged || !super::payment_first(&app.modules, db).await?;
    let today = Day::today().date();
    let now = hms_core::clock::now_rfc3339();
    drugs.sort_by_key(|(d, _)| d.id);

    let (mut tx, id) = match super::begin(
        db,
        &repo::NewDispense {
            kind: "sale",
            store: store.id,
            patient: s.patient,
            visit: None,
            walk_in_name: s
                .walk_in_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty()),
            language: &s.language,
            emergency: false,
            token: &s.token,
            user: actor.user_id,
            at: &now,
        },
    )
    .await?
    {
        super::Begun::New(tx, id) => (tx, id),
        super::Begun::Posted(id) => return Ok(id),
    };
    let mut short = Vec::new();
    for (d, quantity) in &drugs {
        let available = repo::usable_in(&mut tx, store.id, d.id, today).await?;
        if available < *quantity {
            short.push(Shortfall {
                order: None,
                drug: d.id,
                drug_name: d.display(),
                wanted: *quantity,
                available,
            });
        }
    }
    if !short.is_empty() {
        drop(tx);
        return Err(DispenseError::Short(short));
    }
    let mut lines = Vec::new();
    for (d, quantity) in &drugs {
        let line = repo::insert_line(
            &mut tx,
            &repo::NewLine {
                dispense: id,
                order: None,
                drug: d.id,
                quantity: *quantity,
                unit_price_cents: d.price_cents,
                instructions: "",
                batch: None,
                batch_reason: None,
            },
        )
        .await?;
        lines.push(line);
    }
    // The stock before any audit row (see `prepare`).
    let taken = if one_click {
        Some(issue::take(&mut tx, db, actor, id, true, None).await?)
    } else {
        None
    };
    let mut written = Vec::new();
    for ((d, quantity), line) in drugs.iter().zip(lines) {
        let charge = match s.patient {
            Some(p) => Some(
                super::prepare::charge_line(&mut tx, actor, d, PatientId(p), None, line, *quantity)
                    .await?,
            ),
            None => None,
        };
        written
            .push(json!({ "line": line, "drug": d.code, "quantity": quantity, "charge": charge }));
    }
    let mut event = Event::new("pharmacy.sale", "dispense", Some(id))
        .detail(json!({ "store": store.id, "lines": written }));
    if let Some(p) = s.patient {
        event = event.patient(p);
    }
    audit::record(&mut tx, actor, event).await?;
    if let Some(taken) = taken {
        issue::record(&mut tx, actor, &taken).await?;
    }
    tx.commit().await.map_err(DbError::from)?;
    Ok(id)
}
