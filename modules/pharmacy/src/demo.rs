//! The pharmacy's part of `hms demo-data`: a main store and the OPD dispensary, KEMSA, MEDS
//! and a wholesaler, a stock list of common essential medicines (1,500 items at scale), a
//! receipt into the main store at the start of every month of the history and the
//! dispensary's requisition issued from it, one dispense for each drug order the consultations
//! demo wrote (each visit its route sent to the pharmacy), a stock take of the main store,
//! near-expiry, expired and below-reorder items, and a pool of visits whose prescriptions wait
//! at the pharmacy (three drugs each, or one antimalarial) for the benchmark.
//!
//! Every unit moves through [`crate::stock`], so the ledger check passes on the result. The
//! dispenses are written a page of orders per transaction, each page audited with its running
//! total; the history is written once (nothing happens when stock has moved already).

mod catalogue;
mod month;
mod waiting;

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::SeedableRng;

use hms_core::auth::users;
use hms_core::demo::{DemoCount, DemoFuture, DemoGenerator, DemoRun};

use crate::repo::demo as sql;
use crate::stock::{self, Kind};

pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Orders dispensed per transaction.
const PAGE: i64 = 1_000;

/// Codes of the demo's stores.
pub const MAIN_STORE: &str = "MAIN";
pub const DISPENSARY: &str = "OPD";

pub struct PharmacyDemo;

const COUNTS: &[DemoCount] = &[
    DemoCount {
        key: "stock_items",
        label: Some("stock items"),
    },
    DemoCount {
        key: "receipts",
        label: Some("receipts"),
    },
    DemoCount {
        key: "dispenses",
        label: Some("dispenses"),
    },
    DemoCount {
        key: "prescriptions_waiting",
        label: Some("prescriptions waiting at the pharmacy"),
    },
];

impl DemoGenerator for PharmacyDemo {
    fn counts(&self) -> &'static [DemoCount] {
        COUNTS
    }

    fn generate<'a>(&'a self, run: &'a DemoRun<'a>) -> DemoFuture<'a, ()> {
        Box::pin(async move { generate(run).await.map_err(|e| e.to_string()) })
    }
}

/// Who does what in the demo pharmacy.
pub(crate) struct Staff {
    pub pharmacist: Option<i64>,
    pub admin: Option<i64>,
    pub doctor: Option<i64>,
}

/// The history being written: the stock list, the stores, what each month needs and how far
/// the months have got.
pub(crate) struct Plan {
    pub items: Vec<catalogue::Item>,
    pub main: i64,
    pub dispensary: i64,
    /// KEMSA, MEDS, the wholesaler.
    pub suppliers: [i64; 3],
    pub staff: Staff,
    /// The first day of each month of the history, oldest first.
    pub months: Vec<NaiveDate>,
    /// The first day of the history and the last (today).
    pub first_day: NaiveDate,
    pub today: NaiveDate,
    /// Units prescribed per (month, item) that the dispensary must hold.
    pub need: HashMap<(usize, usize), i64>,
    /// Items some order names (stocked every month by need), by item.
    pub moving: Vec<bool>,
    /// Each item's index by its code.
    pub codes: HashMap<String, usize>,
    /// Months whose receipt and requisition are written.
    pub opened: usize,
    pub receipts: u64,
    pub dispenses: u64,
    pub short: u64,
    pub rng: StdRng,
}

impl Plan {
    /// The index of the month `day` falls in (clamped to the history).
    pub fn month_of(&self, day: NaiveDate) -> usize {
        let m0 = self.months[0];
        let n = (day.year() - m0.year()) * 12 + day.month() as i32 - m0.month() as i32;
        n.clamp(0, self.months.len() as i32 - 1) as usize
    }

    /// The stock list's item an order names: by catalogue code, or by the text the
    /// consultations demo writes.
    fn item_for(&self, code: Option<&str>, free_text: Option<&str>) -> Option<usize> {
        if let Some(i) = code.and_then(|c| self.codes.get(c)) {
            return Some(*i);
        }
        let text = free_text?;
        catalogue::BASE
            .iter()
            .position(|b| b.prescribed_as == Some(text))
    }
}

fn day_of(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// `day` at `hh:mm` UTC, as stored.
pub(crate) fn at(day: NaiveDate, hh: u32, mm: u32) -> String {
    format!("{}T{hh:02}:{mm:02}:00.000Z", day.format("%Y-%m-%d"))
}

async fn generate(run: &DemoRun<'_>) -> Result<()> {
    let db = run.db;
    if sql::any_ledger(db).await? {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let now = hms_core::clock::now_rfc3339();
    let staff = Staff {
        pharmacist: users::id_by_username(db, "demo.pharmacist").await?,
        admin: users::id_by_username(db, "demo.admin").await?,
        doctor: users::id_by_username(db, "demo.doctor").await?,
    };
    let mut tx = db.begin().await?;
    let main = sql::store(&mut tx, MAIN_STORE, "Main store", "main", &now).await?;
    let dispensary = sql::store(&mut tx, DISPENSARY, "OPD dispensary", "dispensary", &now).await?;
    let suppliers = [
        sql::supplier(&mut tx, "KEMSA", "kemsa", "+254 20 3922000", &now).await?,
        sql::supplier(&mut tx, "MEDS", "meds", "+254 20 2060000", &now).await?,
        sql::supplier(
            &mut tx,
            "Mwangaza Wholesale Chemists",
            "wholesaler",
            "+254 722 000111",
            &now,
        )
        .await?,
    ];
    let items = catalogue::ensure(&mut tx, catalogue::size_for(run.patients), &now).await?;
    run.audit_batch(&mut tx, "demo.pharmacy_catalogue", items.len() as u64, None)
        .await?;
    tx.commit().await?;
    run.set("stock_items", items.len() as u64);

    let waiting = waiting::place(run, &items, staff.doctor).await?;

    let today = run.today;
    let first_day = today - Duration::days(i64::from(run.days));
    let mut months = Vec::new();
    let mut m = first_day.with_day(1).unwrap_or(first_day);
    while m <= today {
        months.push(m);
        m = m
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(today + Duration::days(1));
    }
    let mut plan = Plan {
        moving: vec![false; items.len()],
        codes: items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.drug.code.clone(), i))
            .collect(),
        items,
        main,
        dispensary,
        suppliers,
        staff,
        months,
        first_day,
        today,
        need: HashMap::new(),
        opened: 0,
        receipts: 0,
        dispenses: 0,
        short: 0,
        rng: StdRng::seed_from_u64(run.seed ^ 0x9a_20_20),
    };
    for (month, code, free_text, state, units) in sql::monthly_orders(db).await? {
        if state == "placed" && code.as_deref() == Some(waiting::HOT.code) {
            // The benchmark's busy item starts short and is restocked as it runs.
            continue;
        }
        let (Some(item), Some(day)) = (
            plan.item_for(code.as_deref(), free_text.as_deref()),
            day_of(&format!("{month}-01")),
        ) else {
            continue;
        };
        let m = plan.month_of(day);
        *plan.need.entry((m, item)).or_insert(0) += units;
        plan.moving[item] = true;
    }

    let mut after = 0;
    loop {
        let page = sql::done_orders(db, after, PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        let mut tx = db.begin().await?;
        for o in &page {
            let Some(day) = day_of(&o.day) else {
                continue;
            };
            plan.open_through(&mut tx, plan.month_of(day)).await?;
            dispense(&mut tx, &mut plan, o, day).await?;
        }
        run.audit_batch(&mut tx, "demo.pharmacy", plan.dispenses, None)
            .await?;
        tx.commit().await?;
        run.set("receipts", plan.receipts);
        run.set("dispenses", plan.dispenses);
    }
    let mut tx = db.begin().await?;
    plan.open_through(&mut tx, plan.months.len() - 1).await?;
    plan.levels(&mut tx, &now).await?;
    run.audit_batch(&mut tx, "demo.pharmacy", plan.dispenses, None)
        .await?;
    tx.commit().await?;
    run.set("receipts", plan.receipts);
    run.set("prescriptions_waiting", waiting);
    println!(
        "{} stock items, {} receipts, {} dispenses ({} short) and {waiting} prescriptions \
         waiting in {:.1} s",
        plan.items.len(),
        plan.receipts,
        plan.dispenses,
        plan.short,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the pharmacy handed over for one order: a dispense of one line, its units taken from
/// the dispensary first-expiry-first-out on the visit day.
async fn dispense(
    tx: &mut hms_core::db::Tx,
    plan: &mut Plan,
    o: &sql::DoneOrder,
    day: NaiveDate,
) -> Result<()> {
    let Some(item) = plan.item_for(o.code.as_deref(), o.free_text.as_deref()) else {
        return Ok(());
    };
    let instructions = serde_json::from_str::<serde_json::Value>(&o.details)
        .ok()
        .and_then(|d| d["instructions"].as_str().map(str::to_string))
        .unwrap_or_default();
    let pharmacist = plan.staff.pharmacist;
    let token = format!("demo-order-{}", o.id);
    let id = sql::dispense(
        tx,
        plan.dispensary,
        o.patient,
        o.visit,
        &token,
        pharmacist,
        &o.at,
    )
    .await?;
    let drug = &plan.items[item].drug;
    let line = sql::dispense_line(tx, id, o.id, drug, o.quantity, &instructions).await?;
    let reference = format!("dispense_line:{line}");
    let (_, missing) = stock::take_fefo(
        tx,
        plan.dispensary,
        drug.id,
        o.quantity,
        Kind::Dispense,
        &reference,
        pharmacist,
        &o.at,
        day,
    )
    .await?;
    if missing > 0 {
        sql::short_line(tx, line, o.quantity - missing).await?;
        plan.short += 1;
    }
    plan.dispenses += 1;
    Ok(())
}
