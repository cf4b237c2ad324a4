//! The order basket of a draft note: lab tests and drug lines gathered while consulting (from
//! the fillers' catalogues or as free text), placed as core orders all in one transaction; and
//! procedures done in the room, each posting its charge.
//!
//! Nothing reaches a department while it sits in the basket: only *Place orders* writes core
//! `orders`, every line of the basket in one transaction, and empties it. A drug whose group
//! matches one of the patient's active allergies needs a reason, kept on the order's details.

use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
use hms_core::i18n::t;
use hms_core::ids::OrderId;
use hms_core::module::{Orderable, Registry};
use hms_core::orders::{self, DrugDetails, Frequency, NewOrder, Order, Priority, Route, State};
use hms_core::ui::FormErrors;
use hms_core::AppError;
use serde::Serialize;
use serde_json::json;

use crate::encounter::Encounter;
use crate::procedures;
use crate::repo::orders::{self as repo, BasketLine, NewLine};

/// The placer module written on every order from a note.
pub const PLACER: &str = "consultations";

/// The most of anything one order asks for.
pub const MAX_QUANTITY: i64 = 10_000;

/// Longest texts kept.
const TEXT_MAX: usize = 200;
const NOTE_MAX: usize = 500;

/// The order kinds the basket always offers (a kind without an enabled filler is free text).
pub const KINDS: &[&str] = &[orders::LAB, orders::DRUG];

/// The placer reference of a note's orders (`encounter:<id>`).
pub fn placer_ref(encounter: &Encounter) -> String {
    format!("encounter:{}", encounter.id.get())
}

/// What was typed in the basket's form, shown again when it is refused.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Typed {
    pub kind: String,
    pub code: String,
    pub free_text: String,
    pub quantity: String,
    pub priority: String,
    pub dose: String,
    pub dose_unit: String,
    pub route: String,
    pub frequency: String,
    pub duration_days: String,
    pub instructions: String,
    pub max_per_day: String,
    pub allergy_reason: String,
}

/// A basket line that passed every check.
#[derive(Debug, Clone)]
pub struct Valid {
    pub kind: String,
    pub code: Option<String>,
    pub free_text: Option<String>,
    pub display: String,
    pub details: serde_json::Value,
    pub quantity: i64,
    pub priority: Priority,
    pub allergy_reason: Option<String>,
    /// The recorded allergy it matched ("Penicillin"), if any.
    pub allergy: Option<String>,
}

/// A quantity as typed: a whole number from 1 to 10,000, or the catalogue key saying what is
/// wrong with it.
pub fn parse_quantity(text: &str) -> Result<i64, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("consultations_orders.error_quantity_missing");
    }
    if text.starts_with('-') {
        return Err("consultations_orders.error_quantity_negative");
    }
    if text.contains(['.', ',', '/']) {
        return Err("consultations_orders.error_quantity_whole");
    }
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Err("consultations_orders.error_quantity_number");
    }
    match text.parse::<i64>() {
        Ok(0) => Err("consultations_orders.error_quantity_zero"),
        Ok(n) if n <= MAX_QUANTITY => Ok(n),
        _ => Err("consultations_orders.error_quantity_large"),
    }
}

fn parse_priority(text: &str) -> Option<Priority> {
    match text.trim() {
        "" | "routine" => Some(Priority::Routine),
        "urgent" => Some(Priority::Urgent),
        "stat" => Some(Priority::Stat),
        _ => None,
    }
}

fn parse_route(text: &str) -> Option<Route> {
    serde_json::from_value(json!(text.trim())).ok()
}

/// Every route a drug may be given by, as its code.
pub const ROUTES: &[&str] = &[
    "oral",
    "sublingual",
    "topical",
    "inhaled",
    "rectal",
    "vaginal",
    "eye",
    "ear",
    "nasal",
    "intravenous",
    "intramuscular",
    "subcutaneous",
];

fn too_long(text: &str, max: usize) -> bool {
    text.trim().chars().count() > max
}

fn some(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Whether `kind` may be ordered here: the kinds every install knows, or one an enabled module
/// fills (admission is the note's outcome, not a basket line).
pub fn known_kind(registry: &Registry, kind: &str) -> bool {
    KINDS.contains(&kind) || (kind != orders::ADMISSION && registry.filler(kind).is_some())
}

/// The recorded allergy a drug matches: same drug group (penicillins...), or the allergen named
/// in the drug's name.
pub fn allergy_match(allergies: &[hms_patients::api::Allergy], drug_name: &str) -> Option<String> {
    let lower = drug_name.to_lowercase();
    let group = hms_patients::api::drug_group(drug_name);
    allergies
        .iter()
        .filter(|a| a.active)
        .find(|a| {
            let same_group = group.is_some() && a.drug_group.as_deref() == group;
            let named = a.allergen.trim().chars().count() >= 3
                && lower.contains(&a.allergen.trim().to_lowercase());
            same_group || named
        })
        .map(|a| a.allergen.clone())
}

/// Checks a basket line: the kind, the catalogue code or free text, the quantity and priority,
/// for drugs the prescription and the allergy reason. Field messages in the reader's language.
pub async fn check(
    db: &Db,
    registry: &Registry,
    encounter: &Encounter,
    typed: &Typed,
) -> Result<Result<Valid, FormErrors>, DbError> {
    let mut errors = FormErrors::new();
    let kind = typed.kind.trim();
    if kind.is_empty() || !known_kind(registry, kind) {
        errors.add("kind", t("consultations_orders.error_kind"));
        return Ok(Err(errors));
    }
    let code = some(&typed.code);
    let free_text = some(&typed.free_text);
    let mut item: Option<Orderable> = None;
    match (&code, &free_text) {
        (Some(code), _) => match registry.orderable(db, kind, code).await? {
            Some(found) => item = Some(found),
            None => errors.add("code", t("consultations_orders.error_code")),
        },
        (None, Some(text)) if too_long(text, TEXT_MAX) => {
            errors.add("free_text", t("consultations_orders.error_too_long"))
        }
        (None, Some(_)) => {}
        (None, None) => errors.add("free_text", t("consultations_orders.error_what")),
    }
    let quantity = parse_quantity(&typed.quantity);
    if let Err(key) = quantity {
        errors.add("quantity", t(key));
    }
    let priority = parse_priority(&typed.priority);
    if priority.is_none() {
        errors.add("priority", t("consultations_orders.error_priority"));
    }
    if too_long(&typed.instructions, NOTE_MAX) {
        errors.add("instructions", t("consultations_orders.error_too_long"));
    }
    if too_long(&typed.allergy_reason, NOTE_MAX) {
        errors.add("allergy_reason", t("consultations_orders.error_too_long"));
    }
    let name = item
        .as_ref()
        .map(|i| i.name.clone())
        .or_else(|| free_text.clone())
        .unwrap_or_default();
    let mut details = json!({});
    let mut display = name.clone();
    let mut allergy = None;
    if kind == orders::DRUG {
        let drug = drug_details(typed, code.clone(), &name, *quantity.as_ref().unwrap_or(&1));
        match drug {
            Ok(d) => {
                if errors.is_empty() {
                    if let Err(orders::OrderError::Invalid { field, key }) = d.validate() {
                        errors.add(field, t(key));
                    }
                }
                display = d.display();
                details = serde_json::to_value(&d).unwrap_or_default();
            }
            Err((field, key)) => errors.add(field, t(key)),
        }
        if !name.is_empty() {
            let allergies = hms_patients::api::allergies(db, encounter.patient_id).await?;
            allergy = allergy_match(&allergies, &name);
            if let (Some(found), None) = (&allergy, some(&typed.allergy_reason)) {
                errors.add(
                    "allergy_reason",
                    t("consultations_orders.error_allergy").replace("{allergen}", found),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let allergy_reason = allergy.as_ref().and_then(|_| some(&typed.allergy_reason));
    if let (Some(reason), Some(map)) = (&allergy_reason, details.as_object_mut()) {
        map.insert("allergy_reason".into(), json!(reason));
    }
    Ok(Ok(Valid {
        kind: kind.to_string(),
        free_text: if code.is_some() { None } else { free_text },
        code,
        display,
        details,
        quantity: quantity.unwrap_or(1),
        priority: priority.unwrap_or_default(),
        allergy_reason,
        allergy,
    }))
}

/// The prescription of a drug line as typed, or the field and key of what cannot be read.
fn drug_details(
    typed: &Typed,
    code: Option<String>,
    name: &str,
    quantity: i64,
) -> Result<DrugDetails, (&'static str, &'static str)> {
    let route = parse_route(&typed.route).ok_or(("route", "consultations_orders.error_route"))?;
    let frequency = Frequency::parse(&typed.frequency)
        .ok_or(("frequency", "consultations_orders.error_frequency"))?;
    let duration_days = typed
        .duration_days
        .trim()
        .parse::<i64>()
        .map_err(|_| ("duration_days", "orders.drug.error_duration"))?;
    let max_per_day = match typed.max_per_day.trim() {
        "" => None,
        m => Some(
            m.parse::<i64>()
                .map_err(|_| ("max_per_day", "orders.drug.error_prn"))?,
        ),
    };
    if too_long(&typed.dose, 20) {
        return Err(("dose", "orders.drug.error_dose"));
    }
    if too_long(&typed.dose_unit, 30) {
        return Err(("dose_unit", "consultations_orders.error_too_long"));
    }
    Ok(DrugDetails {
        code,
        drug: name.trim().to_string(),
        dose: typed.dose.trim().to_string(),
        dose_unit: typed.dose_unit.trim().to_string(),
        route,
        frequency,
        max_per_day,
        duration_days,
        quantity,
        instructions: typed.instructions.trim().to_string(),
    })
}

/// Why the note's visit takes no orders now: the catalogue key of the message, if any.
pub async fn visit_refusal(
    db: &Db,
    encounter: &Encounter,
) -> Result<Option<&'static str>, DbError> {
    let visit = hms_appointments::api::visit(db, encounter.visit_id).await?;
    Ok(match visit {
        None => Some("consultations_orders.error_visit_closed"),
        Some(v) if v.patient_id != encounter.patient_id => {
            Some("consultations_orders.error_other_patient")
        }
        Some(v) if !v.is_open() => Some("consultations_orders.error_visit_closed"),
        Some(_) => None,
    })
}

/// Puts a checked line in the basket of a draft, audited.
pub async fn add(
    tx: &mut Tx,
    actor: &Actor,
    encounter: &Encounter,
    line: &Valid,
) -> Result<i64, DbError> {
    let id = repo::add(
        tx,
        encounter.id,
        &NewLine {
            kind: &line.kind,
            code: line.code.as_deref(),
            free_text: line.free_text.as_deref(),
            display: &line.display,
            details: &line.details,
            quantity: line.quantity,
            priority: line.priority.code(),
            allergy_reason: line.allergy_reason.as_deref(),
        },
        actor.user_id,
    )
    .await?;
    audit::record(
        tx,
        actor,
        Event::new(
            "consultations.basket_add",
            "encounter",
            Some(encounter.id.get()),
        )
        .patient(encounter.patient_id.get())
        .detail(json!({
            "line": id,
            "kind": line.kind,
            "code": line.code,
            "quantity": line.quantity,
            "priority": line.priority.code(),
            "allergy": line.allergy.is_some(),
        })),
    )
    .await?;
    Ok(id)
}

/// Takes a line out of the basket, audited; [`DbError::Conflict`] when it is gone already.
pub async fn remove(
    tx: &mut Tx,
    actor: &Actor,
    encounter: &Encounter,
    line: i64,
) -> Result<(), DbError> {
    let taken = repo::take(tx, encounter.id, line).await?;
    audit::record(
        tx,
        actor,
        Event::new(
            "consultations.basket_remove",
            "encounter",
            Some(encounter.id.get()),
        )
        .patient(encounter.patient_id.get())
        .detail(json!({ "line": line, "kind": taken.kind, "code": taken.code })),
    )
    .await?;
    Ok(())
}

/// The order a basket line becomes.
fn order_of(encounter: &Encounter, line: &BasketLine) -> Result<NewOrder, AppError> {
    let priority: Priority = serde_json::from_value(json!(line.priority)).unwrap_or_default();
    let mut order = if line.kind == orders::DRUG {
        let drug: DrugDetails = serde_json::from_value(line.details.clone())
            .map_err(|_| AppError::BadRequest(t("orders.drug.error_shape")))?;
        let mut order = NewOrder::drug(encounter.patient_id, PLACER, &drug);
        if let (Some(reason), Some(map)) = (&line.allergy_reason, order.details.as_object_mut()) {
            map.insert("allergy_reason".into(), json!(reason));
        }
        order
    } else {
        NewOrder {
            code: line.code.clone(),
            free_text: line.free_text.clone(),
            details: line.details.clone(),
            quantity: line.quantity,
            ..NewOrder::new(&line.kind, encounter.patient_id, PLACER, &line.display)
        }
    };
    order.visit = Some(encounter.visit_id);
    order.placer_ref = Some(placer_ref(encounter));
    order.group = Some(format!("{}/{}", placer_ref(encounter), line.kind));
    order.priority = priority;
    Ok(order)
}

/// *Place orders*: every line of the basket becomes a core order in the caller's transaction
/// and leaves the basket. A line gone meanwhile, or a basket found empty (placed by another
/// request), is a conflict: the caller rolls back and nothing is placed twice.
pub async fn place_all(
    tx: &mut Tx,
    actor: &Actor,
    encounter: &Encounter,
) -> Result<Vec<OrderId>, AppError> {
    let lines = repo::basket_in(tx, encounter.id).await?;
    if lines.is_empty() {
        // Another request placed them between the caller's check and this read (PostgreSQL
        // reads each statement afresh): this one places nothing and says so.
        return Err(AppError::Conflict(String::new()));
    }
    let mut placed = Vec::with_capacity(lines.len());
    for line in &lines {
        repo::take(tx, encounter.id, line.id).await?;
        let order = order_of(encounter, line)?;
        placed.push(orders::place(tx, actor, &order).await?);
    }
    audit::record(
        tx,
        actor,
        Event::new(
            "consultations.orders_place",
            "encounter",
            Some(encounter.id.get()),
        )
        .patient(encounter.patient_id.get())
        .detail(json!({ "orders": placed.iter().map(|o| o.get()).collect::<Vec<_>>() })),
    )
    .await?;
    Ok(placed)
}

/// The orders placed from a note (one indexed read of the visit's orders).
pub async fn placed(db: &Db, encounter: &Encounter) -> Result<Vec<Order>, DbError> {
    let mine = placer_ref(encounter);
    Ok(orders::for_visit(db, encounter.visit_id)
        .await?
        .into_iter()
        .filter(|o| o.placer_module == PLACER && o.placer_ref.as_deref() == Some(mine.as_str()))
        .collect())
}

/// Items still in the basket (signing refuses while any are left unplaced).
pub async fn unplaced(tx: &mut Tx, encounter: &Encounter) -> Result<i64, DbError> {
    repo::count_in(tx, encounter.id).await
}

fn kind_label(kind: &str) -> String {
    match kind {
        orders::LAB => t("consultations_orders.kind_lab"),
        orders::DRUG => t("consultations_orders.kind_drug"),
        other => other.to_string(),
    }
}

fn state_label(state: State) -> String {
    t(&format!("consultations_orders.state_{}", state.code()))
}

/// What the form needs besides the note: the kinds to choose from, what was typed, the
/// messages, and the catalogue entries found.
#[derive(Default)]
pub struct Form<'a> {
    /// Kinds filled by enabled modules besides lab and drug.
    pub extra_kinds: Vec<&'static str>,
    pub values: Option<&'a Typed>,
    pub errors: Option<&'a FormErrors>,
}

/// The basket, the orders placed from this note and the procedures done, for the consultation
/// page (JSON for `consultations/_orders.html`).
pub async fn section(db: &Db, encounter: &Encounter) -> Result<serde_json::Value, DbError> {
    section_with(db, encounter, &Form::default()).await
}

/// [`section`] with the form's state.
pub async fn section_with(
    db: &Db,
    encounter: &Encounter,
    form: &Form<'_>,
) -> Result<serde_json::Value, DbError> {
    let basket = repo::basket(db, encounter.id).await?;
    let placed = placed(db, encounter).await?;
    let done = repo::procedures(db, encounter.id).await?;
    let allergies = hms_patients::api::allergies(db, encounter.patient_id).await?;
    let basket: Vec<_> = basket
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "kind": l.kind,
                "kind_label": kind_label(&l.kind),
                "display": l.display,
                "quantity": l.quantity,
                "priority": l.priority,
                "priority_label": t(&format!("consultations_orders.priority_{}", l.priority)),
                "free_text": l.code.is_none(),
                "allergy_reason": l.allergy_reason,
            })
        })
        .collect();
    let placed: Vec<_> = placed
        .iter()
        .map(|o| {
            json!({
                "id": o.id.get(),
                "kind_label": kind_label(&o.kind),
                "display": o.display,
                "quantity": o.quantity,
                "priority": o.priority,
                "priority_label": t(&format!("consultations_orders.priority_{}", o.priority)),
                "state": o.state.code(),
                "state_label": state_label(o.state),
                "cancellable": o.state == State::Placed,
                "free_text": o.code.is_none(),
                "allergy_reason": o.details.get("allergy_reason"),
                "reason": o.reason,
                "outcome": o.outcome_summary,
                "outcome_flag": o.outcome_flag.map(|f| f.code()),
                "placed_at": hms_core::clock::display_rfc3339(&o.placed_at),
            })
        })
        .collect();
    let done: Vec<_> = done
        .iter()
        .map(|p| {
            json!({
                "name": procedures::find(&p.code).map(|x| t(x.name)).unwrap_or_else(|| p.name.clone()),
                "done_at": hms_core::clock::display_rfc3339(&p.done_at),
            })
        })
        .collect();
    let mut kinds: Vec<&str> = KINDS.to_vec();
    kinds.extend(form.extra_kinds.iter().filter(|k| !KINDS.contains(k)));
    let kinds: Vec<_> = kinds
        .iter()
        .map(|k| (k.to_string(), kind_label(k)))
        .collect();
    let priorities: Vec<_> = ["routine", "urgent", "stat"]
        .iter()
        .map(|p| {
            (
                p.to_string(),
                t(&format!("consultations_orders.priority_{p}")),
            )
        })
        .collect();
    let routes: Vec<_> = ROUTES
        .iter()
        .map(|r| (r.to_string(), t(&format!("consultations_orders.route_{r}"))))
        .collect();
    let frequencies: Vec<_> = Frequency::ALL
        .iter()
        .map(|f| {
            let key = format!("consultations_orders.frequency_{}", f.code().to_lowercase());
            (f.code().to_string(), t(&key))
        })
        .collect();
    let choices: Vec<_> = procedures::ALL
        .iter()
        .map(|p| (p.code.to_string(), t(p.name)))
        .collect();
    let active: Vec<_> = allergies
        .iter()
        .filter(|a| a.active)
        .map(|a| &a.allergen)
        .collect();
    let values = form.values.cloned().unwrap_or_else(|| Typed {
        kind: orders::LAB.into(),
        quantity: "1".into(),
        priority: "routine".into(),
        ..Typed::default()
    });
    let kind = values.kind.clone();
    Ok(json!({
        "encounter": encounter.id.get(),
        "draft": encounter.is_draft(),
        "basket": basket,
        "placed": placed,
        "procedures_done": done,
        "allergies": active,
        "kinds": kinds,
        "priorities": priorities,
        "routes": routes,
        "frequencies": frequencies,
        "procedures": choices,
        "values": values,
        // The catalogue search before anything is typed; the orders screen fills in what was
        // searched and found.
        "search": {
            "kind": kind,
            "q": "",
            "searched": false,
            "filler": true,
            "results": [],
        },
        "errors": form.errors.cloned().unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_whole_numbers_from_one_to_ten_thousand() {
        assert_eq!(parse_quantity("1"), Ok(1));
        assert_eq!(parse_quantity(" 15 "), Ok(15));
        assert_eq!(parse_quantity("10000"), Ok(10_000));
        let refused = |q: &str| parse_quantity(q).unwrap_err();
        assert_eq!(refused("0"), "consultations_orders.error_quantity_zero");
        assert_eq!(
            refused("-2"),
            "consultations_orders.error_quantity_negative"
        );
        assert_eq!(refused("1.5"), "consultations_orders.error_quantity_whole");
        assert_eq!(
            refused("10001"),
            "consultations_orders.error_quantity_large"
        );
        assert_eq!(
            refused("99999999999999999999"),
            "consultations_orders.error_quantity_large"
        );
        assert_eq!(refused(""), "consultations_orders.error_quantity_missing");
        assert_eq!(refused("two"), "consultations_orders.error_quantity_number");
    }

    fn allergy(allergen: &str, group: Option<&str>, active: bool) -> hms_patients::api::Allergy {
        hms_patients::api::Allergy {
            id: 1,
            patient_id: hms_core::ids::PatientId(1),
            allergen: allergen.into(),
            drug_group: group.map(str::to_string),
            reaction: None,
            severity: None,
            active,
            recorded_by: None,
            recorded_at: String::new(),
            refuted_by: None,
            refuted_at: None,
        }
    }

    #[test]
    fn a_drug_matches_an_allergy_by_group_or_by_name_and_refuted_ones_do_not_count() {
        let penicillin = [allergy("Penicillin", Some("penicillins"), true)];
        assert_eq!(
            allergy_match(&penicillin, "Amoxicillin 500 mg").as_deref(),
            Some("Penicillin")
        );
        assert_eq!(allergy_match(&penicillin, "Paracetamol 500 mg"), None);
        let named = [allergy("Chloroquine", None, true)];
        assert_eq!(
            allergy_match(&named, "chloroquine phosphate").as_deref(),
            Some("Chloroquine")
        );
        let refuted = [allergy("Penicillin", Some("penicillins"), false)];
        assert_eq!(allergy_match(&refuted, "Amoxicillin"), None);
    }

    #[test]
    fn every_route_code_reads_as_a_route() {
        for r in ROUTES {
            assert!(parse_route(r).is_some(), "{r}");
        }
        assert!(parse_route("by mouth").is_none());
        assert_eq!(parse_priority(""), Some(Priority::Routine));
        assert_eq!(parse_priority("asap"), None);
    }
}
