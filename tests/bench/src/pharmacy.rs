//! The pharmacy's scenarios: a pharmacist dispensing a three-line prescription (`dispense`),
//! every client dispensing the same item while it is restocked through the receipt form
//! (`dispense_hot`: the refusals for lack of stock are counted apart from errors, and the
//! ledger check runs after it), the stock page of the dispensary (`pharmacy_stock`) and a
//! month's consumption report (`consumption_report`).
//!
//! The prescriptions come from the demo data: visits whose drug orders were placed and left
//! for the pharmacy (three orders each, or one of the busy item), read before the server
//! starts and taken one per operation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::RngExt;
use sqlx::Row;

use crate::http::{Client, Response};

/// What an operation answers when the server refused it for lack of stock (409): a correct
/// outcome of a contested item, counted apart from errors.
pub const REFUSED: &str = "refused: not enough stock";

/// A `dispense_hot` client posts a receipt of the busy item every this many operations...
const RESTOCK_EVERY: u64 = 20;
/// ...of this many units (ten courses, about half of what those operations ask for).
const RESTOCK_UNITS: i64 = 240;

/// A visit waiting at the pharmacy: its id and its placed drug orders (id, quantity).
pub type Waiting = (i64, Vec<(i64, i64)>);

/// A visit's placed orders (id, quantity) and the drug of the last, by visit.
type Placed = BTreeMap<i64, (Vec<(i64, i64)>, Option<i64>)>;

/// The pharmacy's part of the shared state.
#[derive(Default)]
pub struct Pharmacy {
    /// The dispensary the scenarios work in.
    pub dispensary: Option<i64>,
    /// A supplier for the restocking receipts.
    pub supplier: Option<i64>,
    /// The busy item of `dispense_hot` (the drug of the one-order prescriptions).
    pub hot_drug: Option<i64>,
    /// Three-line prescriptions, taken one per `dispense`.
    pub three: Mutex<Vec<Waiting>>,
    /// One-line prescriptions of the busy item, taken one per `dispense_hot`.
    pub hot: Mutex<Vec<Waiting>>,
    /// Operations of `dispense_hot` so far (every [`RESTOCK_EVERY`]-th restocks).
    pub hot_ops: AtomicU64,
    /// The last twelve whole months, `YYYY-MM`, for the consumption report.
    pub months: Vec<String>,
}

/// Reads the prescriptions waiting and the dispensary from the demo data (nothing when the
/// pharmacy module is off: its tables are missing).
pub async fn load(db: &hms_core::db::Db) -> Result<Pharmacy, String> {
    let pool = db.read();
    let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
    let mut months = Vec::new();
    let mut m = chrono::Datelike::with_day(&today, 1).unwrap_or(today);
    for _ in 0..12 {
        m = m.checked_sub_months(chrono::Months::new(1)).unwrap_or(m);
        months.push(m.format("%Y-%m").to_string());
    }
    let Ok(stores) = sqlx::query(
        "SELECT id FROM stores WHERE kind = 'dispensary' AND active = 1 ORDER BY id LIMIT 1",
    )
    .fetch_all(pool)
    .await
    else {
        return Ok(Pharmacy {
            months,
            ..Pharmacy::default()
        });
    };
    let dispensary = stores.first().map(|r| r.get::<i64, _>(0));
    let supplier = sqlx::query("SELECT id FROM suppliers WHERE active = 1 ORDER BY id LIMIT 1")
        .fetch_optional(pool)
        .await
        .map_err(|e| e.to_string())?
        .map(|r| r.get::<i64, _>(0));
    let rows = sqlx::query(
        "SELECT o.visit_id, o.id, o.quantity, d.id FROM orders o \
         LEFT JOIN drugs d ON d.code = o.code \
         WHERE o.kind = 'drug' AND o.state = 'placed' AND o.visit_id IS NOT NULL \
         ORDER BY o.visit_id, o.id",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    let mut visits: Placed = BTreeMap::new();
    for r in &rows {
        let entry = visits.entry(r.get(0)).or_default();
        entry.0.push((r.get(1), r.get(2)));
        entry.1 = r.get(3);
    }
    let (mut three, mut hot, mut hot_drug) = (Vec::new(), Vec::new(), None);
    for (visit, (orders, drug)) in visits {
        match orders.len() {
            3 => three.push((visit, orders)),
            1 if hot_drug.is_none() || hot_drug == drug => {
                hot_drug = drug;
                hot.push((visit, orders));
            }
            _ => {}
        }
    }
    Ok(Pharmacy {
        dispensary,
        supplier,
        hot_drug,
        three: Mutex::new(three),
        hot: Mutex::new(hot),
        hot_ops: AtomicU64::new(0),
        months,
    })
}

/// Why a scenario cannot run on this data set, before its clock starts.
pub fn missing(p: &Pharmacy, hot: bool) -> Option<String> {
    if p.dispensary.is_none() {
        return Some("the demo data has no dispensary (is the pharmacy module on?)".into());
    }
    let waiting = if hot {
        p.hot.lock().expect("not poisoned").len()
    } else {
        p.three.lock().expect("not poisoned").len()
    };
    if waiting == 0 {
        return Some("the demo data has no prescriptions waiting at the pharmacy".into());
    }
    if hot && (p.hot_drug.is_none() || p.supplier.is_none()) {
        return Some("the demo data has no busy item or supplier to restock it from".into());
    }
    None
}

/// `Ok` when the answer has `status`; otherwise a message that names a missing route plainly.
fn expect(r: &Response, status: u16, what: &str) -> Result<(), String> {
    if r.status == status {
        return Ok(());
    }
    if r.status == 404 || r.status == 405 {
        return Err(format!(
            "{what}: answered {} (is this pharmacy route built?)",
            r.status
        ));
    }
    let snippet: String = r.text().chars().take(200).collect();
    Err(format!(
        "{what}: expected {status}, got {} ({snippet})",
        r.status
    ))
}

/// A form token of this run, for a form that did not carry one.
fn own_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "bench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The value of the hidden field `name` on a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let v = tag.find("value=\"")? + 7;
    let len = tag[v..].find('"')?;
    Some(tag[v..v + len].to_string())
}

/// The prepare form of a waiting visit, then prepare (which issues at once when no payment
/// is due first): 303 to the dispense. Answers [`REFUSED`] on a 409.
async fn dispense_visit(c: &mut Client, store: i64, waiting: &Waiting) -> Result<(), String> {
    let (visit, orders) = waiting;
    let page = c
        .get(&format!("/pharmacy/visits/{visit}?store={store}"))
        .await?;
    expect(&page, 200, "GET /pharmacy/visits/:visit")?;
    let token = hidden(&page.text(), "token").unwrap_or_else(own_token);
    let store = store.to_string();
    let mut fields: Vec<(String, String)> = vec![("token".into(), token), ("store".into(), store)];
    for (order, quantity) in orders {
        fields.push(("order".into(), order.to_string()));
        fields.push((format!("qty_{order}"), quantity.to_string()));
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = c
        .post_form(&format!("/pharmacy/visits/{visit}/prepare"), &fields)
        .await?;
    if r.status == 409 {
        return Err(REFUSED.into());
    }
    expect(&r, 303, "POST /pharmacy/visits/:visit/prepare")?;
    match r.location.as_deref() {
        Some(l) if l.starts_with("/pharmacy/dispenses/") => Ok(()),
        other => Err(format!("prepare answered 303 to {other:?}, not a dispense")),
    }
}

/// `dispense`: the next three-line prescription.
pub async fn dispense(c: &mut Client, p: &Pharmacy) -> Result<(), String> {
    let waiting = p
        .three
        .lock()
        .expect("not poisoned")
        .pop()
        .ok_or(crate::scenarios::NO_MORE_WORK)?;
    let store = p.dispensary.ok_or("no dispensary")?;
    dispense_visit(c, store, &waiting).await
}

/// `dispense_hot`: the next prescription of the busy item, or every [`RESTOCK_EVERY`]-th
/// operation a receipt of it through the receipt form.
pub async fn dispense_hot(c: &mut Client, p: &Pharmacy) -> Result<(), String> {
    let store = p.dispensary.ok_or("no dispensary")?;
    let n = p.hot_ops.fetch_add(1, Ordering::Relaxed);
    if n % RESTOCK_EVERY == RESTOCK_EVERY - 1 {
        return restock(c, p, store, n).await;
    }
    let waiting = p
        .hot
        .lock()
        .expect("not poisoned")
        .pop()
        .ok_or(crate::scenarios::NO_MORE_WORK)?;
    let result = dispense_visit(c, store, &waiting).await;
    if matches!(&result, Err(e) if e == REFUSED) {
        // Still waiting: the patient comes back after the next delivery.
        p.hot.lock().expect("not poisoned").insert(0, waiting);
    }
    result
}

/// A receipt of the busy item into the dispensary, a new batch expiring in two years.
async fn restock(c: &mut Client, p: &Pharmacy, store: i64, n: u64) -> Result<(), String> {
    let mut form = c.get("/pharmacy/receipts/new").await?;
    if form.status == 404 {
        // The form may sit on the list page.
        form = c.get("/pharmacy/receipts").await?;
    }
    expect(&form, 200, "GET /pharmacy/receipts/new")?;
    let token = hidden(&form.text(), "token").unwrap_or_else(own_token);
    let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
    let expiry = (today + chrono::Duration::days(730))
        .format("%m/%Y")
        .to_string();
    let received_on = today.format("%d/%m/%Y").to_string();
    let drug = p.hot_drug.ok_or("no busy item")?.to_string();
    let supplier = p.supplier.ok_or("no supplier")?.to_string();
    let store = store.to_string();
    let reference = format!("Bench restock {n}");
    let batch = format!("HOT{n}");
    let quantity = RESTOCK_UNITS.to_string();
    let r = c
        .post_form(
            "/pharmacy/receipts",
            &[
                ("token", token.as_str()),
                ("store", store.as_str()),
                ("supplier", supplier.as_str()),
                ("reference", reference.as_str()),
                ("received_on", received_on.as_str()),
                ("drug", drug.as_str()),
                ("batch_no", batch.as_str()),
                ("expiry", expiry.as_str()),
                ("quantity", quantity.as_str()),
                ("unit_cost", "9.00"),
            ],
        )
        .await?;
    expect(&r, 303, "POST /pharmacy/receipts")
}

/// `pharmacy_stock`: the dispensary's stock page.
pub async fn stock_page(c: &mut Client, p: &Pharmacy) -> Result<(), String> {
    let store = p.dispensary.ok_or("no dispensary")?;
    let r = c.get(&format!("/pharmacy/stock?store={store}")).await?;
    expect(&r, 200, "GET /pharmacy/stock")
}

/// `consumption_report`: the dispensary's consumption report of one of the last twelve months.
pub async fn consumption(c: &mut Client, p: &Pharmacy, rng: &mut StdRng) -> Result<(), String> {
    let store = p.dispensary.ok_or("no dispensary")?;
    let month = &p.months[rng.random_range(0..p.months.len())];
    let r = c
        .get(&format!(
            "/pharmacy/reports/consumption?store={store}&month={month}"
        ))
        .await?;
    expect(&r, 200, "GET /pharmacy/reports/consumption")
}

/// The ledger check on the run's database after the busy item's scenario: the batches whose
/// balance differs from their ledger.
pub async fn ledger_differences(url: &str) -> Result<u64, String> {
    let db = hms_core::db::Db::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let result = hms_pharmacy::stock::check(&db).await;
    db.close().await;
    let (_, differences) = result.map_err(|e| e.to_string())?;
    Ok(differences.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_fields_are_found_whatever_the_order_of_attributes() {
        let page = r#"<form><input type="hidden" name="csrf_token" value="c1">
            <input value="t-42" type="hidden" name="token"><input name="store" value="3"></form>"#;
        assert_eq!(hidden(page, "token").as_deref(), Some("t-42"));
        assert_eq!(hidden(page, "store").as_deref(), Some("3"));
        assert_eq!(hidden(page, "order"), None);
    }
}
