//! Receiving stock from a supplier: what was typed, its checks (an expired batch refused, one
//! expiring soon only when confirmed, packs converted to units) and the posting, once per form
//! token however often the form is sent.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::db::Db;
use hms_core::i18n::t;
use hms_core::money::Money;
use hms_core::ui::FormErrors;

use super::{id, quantity, token_ok, MoveError, Moved, MAX_QUANTITY};
use crate::model::Drug;
use crate::repo::movements as repo;
use crate::stock::{self, Kind, Movement};

/// A line as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TypedLine {
    pub drug: String,
    pub batch_no: String,
    pub expiry: String,
    pub quantity: String,
    pub packs: String,
    pub unit_cost: String,
}

impl TypedLine {
    fn is_blank(&self) -> bool {
        [
            &self.drug,
            &self.batch_no,
            &self.expiry,
            &self.quantity,
            &self.packs,
            &self.unit_cost,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }
}

/// The receipt form as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Typed {
    pub token: String,
    pub store: String,
    pub supplier: String,
    pub reference: String,
    pub received_on: String,
    pub confirm_short_expiry: bool,
    pub lines: Vec<TypedLine>,
}

/// A checked line, in units.
#[derive(Debug, Clone)]
pub struct Line {
    pub drug: Drug,
    pub batch_no: String,
    pub expiry: NaiveDate,
    pub packs: Option<i64>,
    pub quantity: i64,
    pub unit_cost_cents: i64,
}

/// A checked receipt.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub token: String,
    pub store: i64,
    pub supplier: i64,
    pub reference: String,
    pub received_on: NaiveDate,
    pub lines: Vec<Line>,
}

/// The field name of line `n` (from 1) in a form's errors: `line2_expiry`.
pub fn line_field(n: usize, field: &str) -> String {
    format!("line{n}_{field}")
}

/// Checks a typed receipt against the catalogue and today's date. A batch already expired is
/// refused; one expiring within `short_days` needs `confirm_short_expiry`.
pub async fn validate(
    db: &Db,
    typed: &Typed,
    today: NaiveDate,
    short_days: i64,
) -> Result<Result<Receipt, FormErrors>, MoveError> {
    let mut errors = FormErrors::new();
    if !token_ok(&typed.token) {
        errors.add("token", t("pharmacy_movements.error_token"));
    }
    let store = match id(&typed.store) {
        Some(s) if repo::receipts::store_active(db, s).await? => s,
        _ => {
            errors.add("store", t("pharmacy_movements.error_store"));
            0
        }
    };
    let supplier = match id(&typed.supplier) {
        Some(s) if repo::receipts::supplier_active(db, s).await? => s,
        _ => {
            errors.add("supplier", t("pharmacy_movements.error_supplier"));
            0
        }
    };
    let reference = typed.reference.trim().to_string();
    if reference.is_empty() {
        errors.add("reference", t("pharmacy_movements.error_reference"));
    } else if reference.chars().count() > 60 {
        errors.add("reference", t("pharmacy_movements.error_too_long"));
    }
    let received_on = if typed.received_on.trim().is_empty() {
        today
    } else {
        match hms_core::dates::within(&typed.received_on, hms_core::dates::earliest(), today) {
            Ok(d) => d,
            Err(_) => {
                errors.add("received_on", t("pharmacy_movements.error_received_on"));
                today
            }
        }
    };
    let mut lines = Vec::new();
    for (i, l) in typed.lines.iter().enumerate() {
        if l.is_blank() {
            continue;
        }
        let n = i + 1;
        let f = |name: &str| line_field(n, name);
        let drug = match id(&l.drug) {
            Some(d) => crate::model::drug(db, d).await?.filter(|d| d.active),
            None => None,
        };
        if drug.is_none() {
            errors.add(&f("drug"), t("pharmacy_movements.error_drug"));
        }
        let batch_no = l.batch_no.trim().to_string();
        if batch_no.is_empty() {
            errors.add(&f("batch_no"), t("pharmacy_movements.error_batch_no"));
        } else if batch_no.chars().count() > 40 {
            errors.add(&f("batch_no"), t("pharmacy_movements.error_too_long"));
        }
        let expiry = stock::pack_expiry(&l.expiry);
        match expiry {
            None => errors.add(&f("expiry"), t("pharmacy_movements.error_expiry")),
            Some(e) if e < today => errors.add(&f("expiry"), t("pharmacy_movements.error_expired")),
            Some(e) if (e - today).num_days() < short_days && !typed.confirm_short_expiry => errors
                .add(
                    &f("expiry"),
                    t("pharmacy_movements.error_short_expiry")
                        .replace("{days}", &short_days.to_string()),
                ),
            Some(_) => {}
        }
        let mut packs = None;
        let units = if !l.quantity.trim().is_empty() {
            quantity(&l.quantity)
                .map_err(|k| errors.add(&f("quantity"), t(k)))
                .ok()
        } else if !l.packs.trim().is_empty() {
            match quantity(&l.packs) {
                Ok(p) => {
                    packs = Some(p);
                    let size = drug.as_ref().map(|d| d.pack_size).unwrap_or(1);
                    match p.checked_mul(size).filter(|u| *u <= MAX_QUANTITY) {
                        Some(u) => Some(u),
                        None => {
                            errors.add(&f("packs"), t("pharmacy_movements.error_quantity_huge"));
                            None
                        }
                    }
                }
                Err(k) => {
                    errors.add(&f("packs"), t(k));
                    None
                }
            }
        } else {
            errors.add(
                &f("quantity"),
                t("pharmacy_movements.error_quantity_missing"),
            );
            None
        };
        let cost = if l.unit_cost.trim().is_empty() {
            Some(0)
        } else {
            match Money::parse(&l.unit_cost) {
                Ok(m) if m.cents() <= 100_000_000 => Some(m.cents()),
                _ => {
                    errors.add(&f("unit_cost"), t("pharmacy_movements.error_unit_cost"));
                    None
                }
            }
        };
        if let (Some(drug), Some(expiry), Some(quantity), Some(unit_cost_cents)) =
            (drug, expiry, units, cost)
        {
            lines.push(Line {
                drug,
                batch_no,
                expiry,
                packs,
                quantity,
                unit_cost_cents,
            });
        }
    }
    if typed.lines.iter().all(TypedLine::is_blank) {
        errors.add("lines", t("pharmacy_movements.error_no_lines"));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(Receipt {
        token: typed.token.trim().to_string(),
        store,
        supplier,
        reference,
        received_on,
        lines,
    }))
}

/// A receipt posted now, or the one its token posted before (`fresh` false).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posted {
    pub id: i64,
    pub fresh: bool,
}

/// Posts a checked receipt: its header (token UNIQUE), for each line the batch (made empty the
/// first time) and its units through the stock writer, and the audit row, in one transaction.
pub async fn post(db: &Db, actor: &Actor, r: &Receipt) -> Result<Posted, MoveError> {
    let at = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await?;
    let received_on = r.received_on.format("%Y-%m-%d").to_string();
    let inserted = repo::receipts::insert(
        &mut tx,
        r.store,
        r.supplier,
        &r.reference,
        &received_on,
        &r.token,
        actor.user_id,
        &at,
    )
    .await?;
    let Some(id) = inserted else {
        // Posted before (a second click, or the same form racing itself): that receipt.
        let id = repo::receipts::by_token(&mut tx, &r.token).await?;
        tx.rollback().await.map_err(hms_core::db::classify)?;
        return id
            .map(|id| Posted { id, fresh: false })
            .ok_or(MoveError::NotFound);
    };
    let mut moved = Vec::new();
    for l in &r.lines {
        let batch = stock::batch(
            &mut tx,
            r.store,
            l.drug.id,
            &l.batch_no,
            l.expiry,
            l.unit_cost_cents,
            &at,
        )
        .await?;
        let line = repo::receipts::insert_line(
            &mut tx,
            id,
            l.drug.id,
            batch,
            l.packs,
            l.quantity,
            l.unit_cost_cents,
        )
        .await?;
        let reference = format!("receipt_line:{line}");
        let after = stock::post(
            &mut tx,
            &Movement {
                batch,
                quantity: l.quantity,
                kind: Kind::Receipt,
                reference: &reference,
                reason: None,
                user: actor.user_id,
                at: &at,
                usable_on: None,
            },
        )
        .await?;
        moved.push(Moved::new(batch, l.quantity, after));
    }
    audit::record(
        &mut tx,
        actor,
        Event::new("pharmacy.receipt_post", "receipt", Some(id)).detail(json!({
            "store": r.store,
            "supplier": r.supplier,
            "reference": r.reference,
            "batches": moved,
        })),
    )
    .await?;
    tx.commit().await.map_err(hms_core::db::classify)?;
    Ok(Posted { id, fresh: true })
}
