//! The pharmacy's demo data at small scale, after the patients, appointments and consultations
//! demo it builds on: the ledger check passes, every drug order of the history is dispensed,
//! and the cards and benchmark have what they need (near-expiry, expired and below-reorder
//! items, an approved stock take, prescriptions waiting with stock to fill them).

use hms_core::audit::Actor;
use hms_core::demo::{DemoProgress, DemoRun};
use hms_pharmacy::stock;
use hms_testkit::each_backend;

struct Quiet;

impl DemoProgress for Quiet {
    fn start(&self, _: u64, _: &str) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Runs every enabled module's demo generator in order, as `hms demo-data` does.
async fn demo(app: &hms_testkit::TestApp, patients: u64, days: u32) {
    for (user, role) in [
        ("demo.admin", "admin"),
        ("demo.receptionist", "receptionist"),
        ("demo.doctor", "doctor"),
        ("demo.nurse", "nurse"),
        ("demo.pharmacist", "pharmacist"),
    ] {
        app.add_user(user, &[role]).await;
    }
    let actor = Actor::cli(None);
    let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
    let modules = app.app.modules.enabled_in_order();
    let counts: Vec<&'static str> = modules
        .iter()
        .filter_map(|m| m.demo())
        .flat_map(|g| g.counts().iter().map(|c| c.key))
        .collect();
    let run = DemoRun::new(
        app.db(),
        &actor,
        (patients, days, 7, false),
        today,
        &Quiet,
        &counts,
    );
    for g in modules.iter().filter_map(|m| m.demo()) {
        g.generate(&run).await.expect("demo generator runs");
    }
}

each_backend! {
    async fn the_demo_pharmacy_passes_the_ledger_check_and_leaves_work_for_the_benchmark(app) {
        demo(&app, 150, 75).await;
        let db = app.db();

        let (batches, differences) = stock::check(db).await.unwrap();
        assert!(batches > 50, "{batches} batches");
        assert_eq!(differences, vec![], "the ledger adds up to every balance");

        // Every drug order the consultations demo completed has its dispense, issued.
        let done = app.scalar("SELECT COUNT(*) FROM orders WHERE kind = 'drug' AND state = 'completed'").await;
        assert!(done > 20, "{done} completed drug orders");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM dispense_lines WHERE order_id IS NOT NULL").await, done);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM dispenses WHERE state <> 'issued'").await, 0);
        // Each line's units are in the ledger under its reference.
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM dispense_lines l WHERE l.quantity_issued <> \
                        -(SELECT COALESCE(CAST(SUM(g.quantity) AS BIGINT), 0) FROM stock_ledger g \
                          WHERE g.reference = 'dispense_line:' || l.id)").await,
            0
        );

        // Two stores, KEMSA and MEDS receipts every month, the dispensary's requisitions.
        assert_eq!(app.scalar("SELECT COUNT(*) FROM stores").await, 2);
        assert!(app.scalar("SELECT COUNT(*) FROM receipts").await >= 3);
        assert!(app.scalar("SELECT COUNT(*) FROM transfers").await >= 3);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM drugs d WHERE NOT EXISTS \
            (SELECT 1 FROM charge_items c WHERE c.code = 'pharmacy.drug.' || d.code)").await, 0);

        // Something for each card.
        let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
        let soon = (today + chrono::Duration::days(90)).format("%Y-%m-%d").to_string();
        let today = today.format("%Y-%m-%d").to_string();
        let count = |sql: &'static str, a: String, b: Option<String>| async move {
            let q = sqlx::query_scalar::<_, i64>(sql).bind(a);
            let q = match b { Some(b) => q.bind(b), None => q };
            q.fetch_one(db.read()).await.unwrap()
        };
        assert!(count("SELECT COUNT(*) FROM stock_batches WHERE qty_on_hand > 0 AND expiry < $1",
            today.clone(), None).await > 0, "expired stock on a shelf");
        assert!(count("SELECT COUNT(*) FROM stock_batches WHERE qty_on_hand > 0 AND expiry >= $1 \
            AND expiry < $2", today.clone(), Some(soon)).await > 0, "stock expiring soon");
        assert!(app.scalar("SELECT COUNT(*) FROM store_levels l WHERE l.reorder_level > \
            (SELECT COALESCE(CAST(SUM(b.qty_on_hand) AS BIGINT), 0) FROM stock_batches b \
             WHERE b.store_id = l.store_id AND b.drug_id = l.drug_id)").await > 0, "below reorder");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM stock_takes WHERE state = 'approved' \
            AND decided_by <> started_by").await, 1);
        assert!(app.scalar("SELECT COUNT(*) FROM stock_ledger WHERE kind = 'stock_take'").await > 0);

        // Prescriptions waiting: three drugs each, or the busy antimalarial alone; the
        // dispensary holds enough of the three-drug ones to fill them all.
        let waiting = app.scalar("SELECT COUNT(DISTINCT visit_id) FROM orders \
            WHERE kind = 'drug' AND state = 'placed'").await;
        assert!(waiting > 50, "{waiting} visits waiting");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM (SELECT visit_id FROM orders WHERE kind = 'drug' \
            AND state = 'placed' GROUP BY visit_id HAVING COUNT(*) NOT IN (1, 3)) x").await, 0);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM (SELECT o.code, CAST(SUM(o.quantity) AS BIGINT) AS wanted \
            FROM orders o WHERE o.kind = 'drug' AND o.state = 'placed' AND o.code <> 'AL20T' \
            GROUP BY o.code) w WHERE w.wanted > (SELECT COALESCE(CAST(SUM(b.qty_on_hand) AS BIGINT), 0) \
            FROM stock_batches b JOIN drugs d ON d.id = b.drug_id JOIN stores s ON s.id = b.store_id \
            WHERE d.code = w.code AND s.code = 'OPD')").await, 0);

        // Written once: a second run adds nothing.
        let ledger = app.scalar("SELECT COUNT(*) FROM stock_ledger").await;
        let actor = Actor::cli(None);
        let run = DemoRun::new(db, &actor, (150, 75, 7, true),
            hms_core::clock::to_local(chrono::Utc::now()).date_naive(), &Quiet, &[]);
        app.app.modules.enabled_in_order().iter()
            .find(|m| m.id() == "pharmacy").unwrap()
            .demo().unwrap().generate(&run).await.unwrap();
        assert_eq!(app.scalar("SELECT COUNT(*) FROM stock_ledger").await, ledger);
    }
}
