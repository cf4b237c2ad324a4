//! Stock movements through the real router on both databases: receipts (posted once however
//! often sent, packs to units, expiry checks, bad input refused with nothing changed),
//! adjustments and the expired write-off, transfers and requisitions, stock takes and their
//! approval by someone who did not count.

use hms_testkit::{each_backend, Client, TestApp};
use sqlx::Row;

use crate::fixtures::{day, receive, store_and_drug};

/// A supplier (the catalogue's screens keep them; tests write one straight to the table).
pub async fn supplier(app: &TestApp) -> i64 {
    let now = hms_core::clock::now_rfc3339();
    sqlx::query_scalar(
        "INSERT INTO suppliers (name, kind, created_at) VALUES ('KEMSA', 'kemsa', $1) RETURNING id",
    )
    .bind(&now)
    .fetch_one(app.db().read())
    .await
    .unwrap()
}

/// A second store (the main store); returns its id.
pub async fn main_store(app: &TestApp) -> i64 {
    let now = hms_core::clock::now_rfc3339();
    sqlx::query_scalar(
        "INSERT INTO stores (code, name, kind, created_at) VALUES ('MAIN', 'Main store', 'main', $1) \
         RETURNING id",
    )
    .bind(&now)
    .fetch_one(app.db().read())
    .await
    .unwrap()
}

/// Units of `drug` on hand in `store`.
pub async fn on_hand(app: &TestApp, store: i64, drug: i64) -> i64 {
    sqlx::query(
        "SELECT CAST(COALESCE(SUM(qty_on_hand), 0) AS BIGINT) FROM stock_batches \
         WHERE store_id = $1 AND drug_id = $2",
    )
    .bind(store)
    .bind(drug)
    .fetch_one(app.db().read())
    .await
    .unwrap()
    .get(0)
}

pub async fn ledger_rows(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM stock_ledger").await
}

/// The ledger agrees with every balance and none is negative.
pub async fn books_balance(app: &TestApp) {
    let (_, differences) = hms_pharmacy::stock::check(app.db()).await.unwrap();
    assert_eq!(differences, vec![], "every balance equals its ledger");
    let negative = app
        .scalar("SELECT COUNT(*) FROM stock_batches WHERE qty_on_hand < 0")
        .await;
    assert_eq!(negative, 0);
}

/// A fresh form token, as a form page would carry.
pub fn token() -> String {
    let mut b = [0u8; 12];
    rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The hidden `token` of a page.
pub fn page_token(html: &str) -> String {
    let marker = "name=\"token\" value=\"";
    let at = html.find(marker).expect("the page carries a form token") + marker.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// The id at the end of a redirect's location.
pub fn id_of(location: Option<&str>) -> i64 {
    location
        .expect("a redirect")
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .expect("an id")
}

pub async fn pharmacist(app: &TestApp, name: &str) -> Client {
    app.add_user(name, &["pharmacist"]).await;
    let c = app.login(name).await;
    // The signed-in session's form token, as any page carries it.
    c.get("/").await;
    c
}

/// A bad input: what it is, the fields changed, the message expected.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

/// A one-line receipt's fields.
pub fn receipt_fields<'a>(
    token: &'a str,
    store: &'a str,
    supplier: &'a str,
    drug: &'a str,
    batch: &'a str,
    expiry: &'a str,
    quantity: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("token", token),
        ("store", store),
        ("supplier", supplier),
        ("reference", "INV-001"),
        ("received_on", ""),
        ("drug", drug),
        ("batch_no", batch),
        ("expiry", expiry),
        ("quantity", quantity),
        ("packs", ""),
        ("unit_cost", "2.50"),
    ]
}

each_backend! {
    async fn a_receipt_converts_packs_checks_expiry_and_posts_once(app) {
        let db = app.db();
        let (store, drug) = store_and_drug(db).await;
        sqlx::query("UPDATE drugs SET pack_size = 100 WHERE id = $1").bind(drug)
            .execute(db.read()).await.unwrap();
        let sup = supplier(&app).await;
        let c = pharmacist(&app, "pharm").await;

        let empty = c.get("/pharmacy/receipts").await;
        assert_eq!(empty.status, 200);
        assert!(empty.body.contains("No deliveries received yet"), "{}", empty.body);
        let form = c.get("/pharmacy/receipts/new").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let tok = page_token(&form.body);
        let (s, p, d) = (store.to_string(), sup.to_string(), drug.to_string());
        let fields = vec![
            ("token", tok.as_str()), ("store", &s), ("supplier", &p),
            ("reference", "KEMSA DN 4411"), ("received_on", "01/12/2026"),
            ("drug", &d), ("batch_no", "PCM-A"), ("expiry", "03/2029"), ("quantity", "250"),
            ("packs", ""), ("unit_cost", "1.50"),
            // a blank line in between is skipped
            ("drug", ""), ("batch_no", ""), ("expiry", ""), ("quantity", ""), ("packs", ""),
            ("unit_cost", ""),
            ("drug", &d), ("batch_no", "PCM-B"), ("expiry", "31/05/2030"), ("quantity", ""),
            ("packs", "3"), ("unit_cost", "2"),
        ];
        let r = c.post_form("/pharmacy/receipts", &fields).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let location = r.location().unwrap().to_string();
        assert!(location.starts_with("/pharmacy/receipts/"));
        assert_eq!(on_hand(&app, store, drug).await, 250 + 300);
        let expiry: String = sqlx::query_scalar("SELECT expiry FROM stock_batches WHERE batch_no = 'PCM-A'")
            .fetch_one(db.read()).await.unwrap();
        assert_eq!(expiry, "2029-03-31", "a pack's month means its last day");
        books_balance(&app).await;

        // The same form again (a second click, a resend): the same receipt, nothing more.
        let again = c.post_form("/pharmacy/receipts", &fields).await;
        assert_eq!(again.status, 303);
        assert_eq!(again.location(), Some(location.as_str()));
        assert_eq!(on_hand(&app, store, drug).await, 550);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM receipts").await, 1);

        let shown = c.get(&location).await;
        assert_eq!(shown.status, 200);
        assert!(shown.body.contains("PCM-B") && shown.body.contains("KEMSA DN 4411"), "{}", shown.body);
        assert!(shown.body.contains("3 "), "packs are shown");
        let list = c.get("/pharmacy/receipts").await;
        assert!(list.body.contains("KEMSA"), "{}", list.body);
        assert!(app.audit_count("pharmacy.receipt_post").await >= 1);

        // A batch expiring within the setting's 90 days needs the confirmation.
        let soon = (chrono::Utc::now().date_naive() + chrono::Duration::days(30))
            .format("%d/%m/%Y").to_string();
        let t2 = token();
        let short = receipt_fields(&t2, &s, &p, &d, "PCM-S", &soon, "10");
        let r = c.post_form("/pharmacy/receipts", &short).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("expires within 90 days"), "{}", r.body);
        let mut confirmed = short.clone();
        confirmed.push(("confirm_short_expiry", "1"));
        let r = c.post_form("/pharmacy/receipts", &confirmed).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(on_hand(&app, store, drug).await, 560);
    }

    async fn bad_receipts_are_refused_and_change_nothing(app) {
        let db = app.db();
        let (store, drug) = store_and_drug(db).await;
        let sup = supplier(&app).await;
        let c = pharmacist(&app, "pharm").await;
        let (s, p, d) = (store.to_string(), sup.to_string(), drug.to_string());
        let cases: Vec<Case> = vec![
            ("expired", vec![("expiry", "01/2020")], "has expired"),
            ("zero", vec![("quantity", "0")], "more than 0"),
            ("negative", vec![("quantity", "-5")], "more than 0"),
            ("fraction", vec![("quantity", "2.5")], "whole number"),
            ("huge", vec![("quantity", "99999999999")], "too large"),
            ("empty batch", vec![("batch_no", "  ")], "batch number"),
            ("unknown drug", vec![("drug", "999999")], "Choose a drug"),
            ("unknown store", vec![("store", "999999")], "Choose a store"),
            ("unknown supplier", vec![("supplier", "abc")], "Choose the supplier"),
            ("bad expiry", vec![("expiry", "soon")], "like 03/2027"),
            ("bad cost", vec![("unit_cost", "-3")], "cost per unit"),
            ("no reference", vec![("reference", "")], "invoice or delivery note"),
            ("future day", vec![("received_on", "01/01/2099")], "not in the future"),
            ("no token", vec![("token", "")], "out of date"),
        ];
        for (what, changes, message) in cases {
            let tok = token();
            let mut fields = receipt_fields(&tok, &s, &p, &d, "B1", "12/2030", "10");
            for (k, v) in changes {
                let slot = fields.iter_mut().find(|(name, _)| *name == k).unwrap();
                slot.1 = v;
            }
            let r = c.post_form("/pharmacy/receipts", &fields).await;
            assert_eq!(r.status, 422, "{what}: {}", r.body);
            assert!(r.body.contains(message), "{what}: expected '{message}' in {}", r.body);
        }
        // No line at all.
        let tok = token();
        let r = c.post_form("/pharmacy/receipts", &[("token", tok.as_str()), ("store", &s),
            ("supplier", &p), ("reference", "X")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("at least one line"));
        assert_eq!(app.scalar("SELECT COUNT(*) FROM receipts").await, 0);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM stock_batches").await, 0);
        assert_eq!(ledger_rows(&app).await, 0);
        // Who may not receive does not get the form.
        app.add_user("doc", &["doctor"]).await;
        let doctor = app.login("doc").await;
        assert_eq!(doctor.get("/pharmacy/receipts/new").await.status, 403);
    }

    async fn a_receipt_sent_many_times_at_once_posts_once(app) {
        let db = app.db();
        let (store, drug) = store_and_drug(db).await;
        let sup = supplier(&app).await;
        let c = std::sync::Arc::new(pharmacist(&app, "pharm").await);
        c.get("/pharmacy/receipts/new").await;
        let tok = token();
        let (s, p, d) = (store.to_string(), sup.to_string(), drug.to_string());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let c = c.clone();
            let fields: Vec<(String, String)> = receipt_fields(&tok, &s, &p, &d, "RACE", "12/2030", "40")
                .into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            tasks.push(tokio::spawn(async move {
                let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let r = c.post_form("/pharmacy/receipts", &f).await;
                (r.status, r.location().map(str::to_string))
            }));
        }
        let mut locations = std::collections::BTreeSet::new();
        for t in tasks {
            let (status, location) = t.await.unwrap();
            assert_eq!(status, 303);
            locations.insert(location.unwrap());
        }
        assert_eq!(locations.len(), 1, "every click lands on the one receipt");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM receipts").await, 1);
        assert_eq!(on_hand(&app, store, drug).await, 40);
        books_balance(&app).await;
    }

    async fn adjustments_need_a_reason_and_expired_stock_is_written_off_once(app) {
        let db = app.db();
        let (store, drug) = store_and_drug(db).await;
        let c = pharmacist(&app, "pharm").await;
        let page = c.get("/pharmacy/adjustments").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("No adjustments yet"));
        let batch = receive(db, store, drug, "ADJ1", day(2030, 6, 30), 20).await;
        let chosen = c.get(&format!("/pharmacy/adjustments?store={store}&drug={drug}")).await;
        assert!(chosen.body.contains("ADJ1"), "{}", chosen.body);
        let (b, tok) = (batch.to_string(), token());
        let post = |reason: &'static str, qty: &'static str, tok: String| {
            let b = b.clone();
            let c = &c;
            async move {
                c.post_form("/pharmacy/adjustments", &[("token", tok.as_str()), ("batch", &b),
                    ("quantity", qty), ("reason", reason), ("note", "")]).await
            }
        };
        let r = post("", "3", token()).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("Choose a reason"), "{}", r.body);
        let r = post("lost", "25", token()).await;
        assert_eq!(r.status, 422, "more than the batch holds");
        assert!(r.body.contains("Only 20 left"), "{}", r.body);
        let r = post("damaged", "0", token()).await;
        assert_eq!(r.status, 422);
        assert_eq!(on_hand(&app, store, drug).await, 20);
        let r = post("lost", "3", tok.clone()).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let r = post("lost", "3", tok.clone()).await;
        assert_eq!(r.status, 303, "the same form again");
        assert_eq!(on_hand(&app, store, drug).await, 17);
        assert_eq!(post("found", "2", token()).await.status, 303);
        assert_eq!(on_hand(&app, store, drug).await, 19);
        let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM stock_ledger WHERE kind = 'adjustment' ORDER BY id")
            .fetch_all(db.read()).await.unwrap();
        assert_eq!(reasons, vec!["lost", "found"]);
        let listed = c.get("/pharmacy/adjustments").await;
        assert!(listed.body.contains("Lost") && listed.body.contains("Found"), "{}", listed.body);

        // Expired stock: its own list, written off per batch, once.
        let none = c.get("/pharmacy/adjustments/expired").await;
        assert_eq!(none.status, 200);
        assert!(none.body.contains("No expired stock"));
        let old = receive(db, store, drug, "OLD1", day(2024, 1, 31), 7).await;
        let old2 = receive(db, store, drug, "OLD2", day(2024, 3, 31), 5).await;
        let list = c.get("/pharmacy/adjustments/expired").await;
        assert!(list.body.contains("OLD1") && list.body.contains("OLD2"), "{}", list.body);
        let tok = page_token(&list.body);
        let one = [("token", tok.as_str()), ("batch", &old.to_string()), ("store", "")];
        assert_eq!(c.post_form("/pharmacy/adjustments/expired", &one).await.status, 303);
        assert_eq!(c.post_form("/pharmacy/adjustments/expired", &one).await.status, 303);
        let all = [("token", tok.as_str()), ("all", "1"), ("store", "")];
        assert_eq!(c.post_form("/pharmacy/adjustments/expired", &all).await.status, 303);
        assert_eq!(c.post_form("/pharmacy/adjustments/expired", &all).await.status, 303);
        let left: i64 = sqlx::query_scalar("SELECT qty_on_hand FROM stock_batches WHERE id = $1")
            .bind(old2).fetch_one(db.read()).await.unwrap();
        assert_eq!(left, 0);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM adjustments WHERE reason = 'expired'").await, 2);
        assert_eq!(on_hand(&app, store, drug).await, 19, "only the expired batches went");
        books_balance(&app).await;
        assert_eq!(app.audit_count("pharmacy.adjustment").await, 2);
        assert_eq!(app.audit_count("pharmacy.expired_write_off").await, 2);
    }

    async fn transfers_move_stock_out_and_in_and_requisitions_are_issued_once(app) {
        let db = app.db();
        let (disp, drug) = store_and_drug(db).await;
        let main = main_store(&app).await;
        receive(db, main, drug, "T-EARLY", day(2029, 1, 31), 30).await;
        receive(db, main, drug, "T-LATE", day(2031, 1, 31), 100).await;
        let c = pharmacist(&app, "pharm").await;
        assert_eq!(c.get("/pharmacy/transfers").await.status, 200);
        assert_eq!(c.get("/pharmacy/transfers/new").await.status, 200);
        let (m, ds, d) = (main.to_string(), disp.to_string(), drug.to_string());

        let tok = token();
        let same = [("token", tok.as_str()), ("mode", "direct"), ("from", &m), ("to", &m),
            ("drug", &d), ("quantity", "5")];
        let r = c.post_form("/pharmacy/transfers", &same).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("different store"), "{}", r.body);
        let too_much = [("token", tok.as_str()), ("mode", "direct"), ("from", &m), ("to", &ds),
            ("drug", &d), ("quantity", "500")];
        let r = c.post_form("/pharmacy/transfers", &too_much).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("only 130 usable"), "{}", r.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM transfers").await, 0);
        assert_eq!(on_hand(&app, main, drug).await, 130);

        let direct = [("token", tok.as_str()), ("mode", "direct"), ("from", &m), ("to", &ds),
            ("drug", &d), ("quantity", "40")];
        let r = c.post_form("/pharmacy/transfers", &direct).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(c.post_form("/pharmacy/transfers", &direct).await.location(), r.location());
        assert_eq!((on_hand(&app, main, drug).await, on_hand(&app, disp, drug).await), (90, 40));
        // First expiry first: all 30 of T-EARLY, then 10 of T-LATE, into the same batches.
        let landed: Vec<(String, i64)> = sqlx::query(
            "SELECT batch_no, qty_on_hand FROM stock_batches WHERE store_id = $1 ORDER BY expiry")
            .bind(disp).fetch_all(db.read()).await.unwrap()
            .iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(landed, vec![("T-EARLY".to_string(), 30), ("T-LATE".to_string(), 10)]);

        // A requisition: asked 50, the store issues 25; only the issue moves stock.
        let rtok = token();
        let r = c.post_form("/pharmacy/transfers", &[("token", rtok.as_str()), ("mode", "request"),
            ("from", &m), ("to", &ds), ("drug", &d), ("quantity", "50")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id = id_of(r.location());
        assert_eq!(on_hand(&app, main, drug).await, 90);
        let page = c.get(&format!("/pharmacy/transfers/{id}")).await;
        assert_eq!(page.status, 200);
        let line: i64 = sqlx::query_scalar("SELECT id FROM transfer_lines WHERE transfer_id = $1")
            .bind(id).fetch_one(db.read()).await.unwrap();
        let field = format!("issue_{line}");
        let bad = c.post_form(&format!("/pharmacy/transfers/{id}/issue"), &[(field.as_str(), "2.5")]).await;
        assert_eq!(bad.status, 422);
        let r = c.post_form(&format!("/pharmacy/transfers/{id}/issue"), &[(field.as_str(), "25")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let again = c.post_form(&format!("/pharmacy/transfers/{id}/issue"), &[(field.as_str(), "25")]).await;
        assert_eq!(again.status, 409, "issued once");
        assert_eq!((on_hand(&app, main, drug).await, on_hand(&app, disp, drug).await), (65, 65));
        let issued: Option<i64> = sqlx::query_scalar("SELECT quantity_issued FROM transfer_lines WHERE id = $1")
            .bind(line).fetch_one(db.read()).await.unwrap();
        assert_eq!(issued, Some(25));
        let shown = c.get(&format!("/pharmacy/transfers/{id}")).await;
        assert_eq!(shown.status, 200);
        assert!(shown.body.contains("Issued") && shown.body.contains("25 tablet"), "{}", shown.body);
        let listed = c.get("/pharmacy/transfers").await;
        assert!(listed.body.contains("No requests waiting") && listed.body.contains("Issued"), "{}", listed.body);
        books_balance(&app).await;
    }

    async fn a_stock_take_is_approved_by_someone_who_did_not_count(app) {
        let db = app.db();
        let (store, drug) = store_and_drug(db).await;
        let batch = receive(db, store, drug, "ST1", day(2030, 1, 31), 50).await;
        app.add_user("counter", &["pharmacist", "admin"]).await;
        let counter = app.login("counter").await;
        app.add_user("boss", &["admin"]).await;
        let boss = app.login("boss").await;
        assert_eq!(counter.get("/pharmacy/stocktakes").await.status, 200);

        let r = counter.post_form("/pharmacy/stocktakes", &[("store", &store.to_string()), ("blind", "1")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id = id_of(r.location());
        // A second start of the same store lands on the open sheet.
        let again = counter.post_form("/pharmacy/stocktakes", &[("store", &store.to_string())]).await;
        assert_eq!(again.location(), r.location());
        let sheet = counter.get(&format!("/pharmacy/stocktakes/{id}")).await;
        assert_eq!(sheet.status, 200);
        assert!(!sheet.body.contains(">50<"), "a blind sheet shows no balance while counting");
        let line: i64 = sqlx::query_scalar("SELECT id FROM stock_take_lines WHERE stock_take_id = $1")
            .bind(id).fetch_one(db.read()).await.unwrap();
        let field = format!("count_{line}");
        let bad = counter.post_form(&format!("/pharmacy/stocktakes/{id}/count"), &[(field.as_str(), "-1")]).await;
        assert_eq!(bad.status, 422);
        let r = counter.post_form(&format!("/pharmacy/stocktakes/{id}/count"), &[(field.as_str(), "46")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        // Dispensing goes on after the count: 5 out.
        let now = hms_core::clock::now_rfc3339();
        let mut tx = db.begin().await.unwrap();
        hms_pharmacy::stock::take_fefo(&mut tx, store, drug, 5, hms_pharmacy::stock::Kind::Dispense,
            "dispense_line:0", None, &now, day(2026, 12, 7)).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(counter.post_form(&format!("/pharmacy/stocktakes/{id}/submit"), &[]).await.status, 303);
        let own = counter.post_form(&format!("/pharmacy/stocktakes/{id}/approve"), &[]).await;
        assert_eq!(own.status, 422, "approving one's own count");
        assert!(own.body.contains("someone else must approve"), "{}", own.body);
        let pharm = pharmacist(&app, "pharm2").await;
        assert_eq!(pharm.post_form(&format!("/pharmacy/stocktakes/{id}/approve"), &[]).await.status, 403);
        let shown = boss.get(&format!("/pharmacy/stocktakes/{id}")).await;
        assert!(shown.body.contains("-4"), "the approver sees the variance: {}", shown.body);
        let r = boss.post_form(&format!("/pharmacy/stocktakes/{id}/approve"), &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(boss.post_form(&format!("/pharmacy/stocktakes/{id}/approve"), &[]).await.status, 409);
        // Counted 46 when the system said 50; 5 dispensed since: 41 now.
        let left: i64 = sqlx::query_scalar("SELECT qty_on_hand FROM stock_batches WHERE id = $1")
            .bind(batch).fetch_one(db.read()).await.unwrap();
        assert_eq!(left, 41);
        let reference: String = sqlx::query_scalar("SELECT reference FROM stock_ledger WHERE kind = 'stock_take'")
            .fetch_one(db.read()).await.unwrap();
        assert_eq!(reference, format!("stock_take_line:{line}"));
        books_balance(&app).await;
        assert_eq!(app.audit_count("pharmacy.stocktake_approve").await, 1);
        let listed = boss.get("/pharmacy/stocktakes").await;
        assert_eq!(listed.status, 200);
        assert!(listed.body.contains("Approved") && listed.body.contains("1 / 1"), "{}", listed.body);
    }
}
