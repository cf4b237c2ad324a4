//! Reports, cards and the ledger check: a known October built with SQL and the stock writer
//! gives exact figures in the consumption report (F-CDRR style), the registers, stock on hand,
//! the expiry report and MOH 717 D; `hms stock check` exits 0 or 1; every card answers with an
//! empty state first, then with what waits.

use std::process::ExitCode;
use std::time::Duration;

use hms_pharmacy::stock::Kind;
use hms_testkit::each_backend;

use crate::fixtures::{day, store_and_drug};
use crate::report_month::{batch, csv, october, patient, post, row, stock_check};

each_backend! {
    async fn a_known_october_gives_exact_figures_in_every_report(app) {
        let admin = app.setup_admin().await;
        app.add_user("dawa", &["pharmacist"]).await;
        let pharmacist = app.login("dawa").await;
        // Before any store: every report answers with its empty state and the next step.
        for name in ["consumption", "stock-on-hand", "dispensing-register", "controlled-drugs", "expiry", "moh717"] {
            let r = pharmacist.get(&format!("/pharmacy/reports/{name}")).await;
            assert_eq!(r.status, 200, "{name}: {}", r.body);
        }
        assert!(pharmacist.get("/pharmacy/reports/consumption").await.body.contains("/pharmacy/catalogue"));
        let index = pharmacist.get("/pharmacy/reports").await;
        assert_eq!(index.status, 200);
        assert!(index.body.contains("/pharmacy/reports/moh717"), "{}", index.body);
        assert_eq!(pharmacist.get("/pharmacy/reports/nothing").await.status, 404);

        let o = october(&app).await;
        let store = o.store;

        // Consumption, October: F-CDRR columns in units.
        let rows = csv(&pharmacist, &format!("/pharmacy/reports/consumption?store={store}&month=2026-10&format=csv")).await;
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert_eq!(rows[0][3], "Opening balance");
        let cols = |code: &str| row(&rows, code)[3..].to_vec();
        // opening, received, dispensed, losses, +adj, -adj, closing, earliest expiry,
        // expiring within 6 months, to request, days out of stock.
        assert_eq!(cols("T-PCM"), ["90", "70", "26", "4", "4", "18", "116", "02/2027", "58", "84", "0"]);
        assert_eq!(cols("T-AMX"), ["0", "10", "10", "0", "0", "0", "0", "", "0", "30", "27"]);
        // Received on 1 October: that day began with none. Three months of 2 is less than 18.
        assert_eq!(cols("T-MOR"), ["0", "20", "2", "0", "0", "0", "18", "12/2027", "0", "0", "1"]);
        assert_eq!(cols("T-ORS"), ["5", "0", "0", "0", "0", "0", "5", "09/2026", "5", "0", "0"]);
        // November opens with October's closing; the dispense at 00:30 on 1 November belongs there.
        let rows = csv(&pharmacist, &format!("/pharmacy/reports/consumption?store={store}&month=2026-11&format=csv")).await;
        assert_eq!(row(&rows, "T-PCM")[3..7], ["116", "0", "6", "0"]);
        let page = pharmacist.get(&format!("/pharmacy/reports/consumption?store={store}&month=2026-10")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Paracetamol 500 mg tablet") && page.body.contains("116"), "{}", page.body);
        let pdf = pharmacist.get(&format!("/pharmacy/reports/consumption?store={store}&month=2026-10&format=pdf")).await;
        assert_eq!(pdf.status, 200);
        assert!(pdf.bytes.starts_with(b"%PDF"));
        let text = hms_testkit::pdf::text(&pdf.bytes);
        assert!(text.contains("Amoxicillin") && text.contains("116"), "{text}");

        // Bad choices: 422 with the reason, nothing shown.
        for q in ["month=2026-13", "month=soon", "store=99999", "store=x", "format=xls"] {
            let r = pharmacist.get(&format!("/pharmacy/reports/consumption?{q}")).await;
            assert_eq!(r.status, 422, "{q}");
            assert!(r.body.contains("alert-danger"), "{q}: {}", r.body);
        }
        assert_eq!(pharmacist.get("/pharmacy/reports/expiry?within=0").await.status, 422);
        assert_eq!(pharmacist.get("/pharmacy/reports/dispensing-register?day=31/02/2026").await.status, 422);

        // Stock on hand now, at cost (each batch's cost) and at price.
        let rows = csv(&pharmacist, "/pharmacy/reports/stock-on-hand?format=csv").await;
        assert_eq!(row(&rows, "T-PCM")[3..], ["110", "0", "121.60", "2.00", "220.00"]);
        assert_eq!(row(&rows, "T-MOR")[3..], ["18", "0", "900.00", "100.00", "1800.00"]);
        assert_eq!(row(&rows, "T-ORS")[3..], ["5", "5", "2.50", "0.00", "0.00"]);
        assert!(rows.iter().all(|r| r[0] != "T-AMX"), "nothing left of amoxicillin");
        let totals = rows.last().unwrap();
        assert_eq!((totals[5].as_str(), totals[7].as_str()), ("1024.10", "2020.00"));

        // The dispensing register of 20 October (Nairobi): three lines, two patients, audited.
        app.app.audit_reads.flush().await;
        let audited = app.audit_count("pharmacy.report_view").await;
        let rows = csv(&pharmacist, &format!("/pharmacy/reports/dispensing-register?store={store}&day=2026-10-20&format=csv")).await;
        assert_eq!(rows.len(), 1 + 3 + 1, "{rows:?}");
        assert_eq!(rows[1][3..7], ["P-0001", "Wanjiru Kamau", "Paracetamol 500 mg tablet", "30"]);
        assert_eq!(rows[3][3..7], ["P-0002", "Baraka Otieno", "Amoxicillin tablet", "6"]);
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("pharmacy.report_view").await, audited + 1);
        // The sale of 31 October 22:30 Nairobi is that day's; the prescription at 00:30 the next.
        let rows = csv(&pharmacist, "/pharmacy/reports/dispensing-register?day=31/10/2026&format=csv").await;
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert_eq!(rows[1][2..5], ["Sale", "", "Juma"]);

        // The controlled-drug register: opening, the receipt, the dispense to its patient.
        let rows = csv(&pharmacist, &format!("/pharmacy/reports/controlled-drugs?store={store}&month=2026-10&format=csv")).await;
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(rows[1][6], "0");
        assert_eq!((rows[2][4].as_str(), rows[2][6].as_str()), ("20", "20"));
        assert_eq!((rows[3][5].as_str(), rows[3][6].as_str()), ("2", "18"));
        assert_eq!(rows[3][7], "P-0001 Wanjiru Kamau");

        // Expiry: the expired ORS batch first, then paracetamol's batch A.
        let rows = csv(&pharmacist, &format!("/pharmacy/reports/expiry?store={store}&within=730&format=csv")).await;
        assert_eq!(rows[1][1..6], ["ORS tablet", "O", "30/09/2026", "Expired", "5"]);
        assert_eq!(rows[2][2], "A");

        // MOH 717 D for October: three prescriptions (the sale, the unissued one and the one of
        // 1 November left out); the child's counts on D.2 and D.4.
        let rows = csv(&pharmacist, "/pharmacy/reports/moh717?month=2026-10&format=csv").await;
        let counts: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
        assert_eq!(counts, ["1", "2", "1", "1", "3"]);

        // The same through the reporting contract, with the records behind each count, and
        // the adult's medicines in their export.
        let october_days = hms_core::module::FigureRange::days(
            hms_core::day::Day::new(day(2026, 10, 1)),
            hms_core::day::Day::new(day(2026, 10, 31)),
        );
        let registry = &app.app.modules;
        for (code, value) in [
            ("pharmacy.prescriptions", 3),
            ("pharmacy.prescriptions.common", 1),
            ("pharmacy.prescriptions.antibiotics", 2),
            ("pharmacy.prescriptions.special", 1),
            ("pharmacy.prescriptions.children", 1),
        ] {
            let f = registry.figure(app.db(), code, &october_days, |_| true).await.unwrap().unwrap();
            assert_eq!(f.value, value, "{code}");
            assert_eq!(f.parts.iter().map(|p| p.value).sum::<i64>(), value, "{code}");
            let behind = registry.figure_sources(app.db(), code, &october_days, |_| true).await.unwrap();
            assert_eq!(behind.len() as i64, value, "{code}");
        }
        let children = registry
            .figure_sources(app.db(), "pharmacy.prescriptions.children", &october_days, |_| true)
            .await
            .unwrap();
        assert_eq!(children[0].patient, hms_core::ids::PatientId(o.child));
        let export = registry
            .patient_export(app.db(), &[hms_core::ids::PatientId(o.adult)], |m| m == "pharmacy")
            .await
            .unwrap();
        assert_eq!(export.len(), 1);
        assert_eq!(export[0].rows.len(), 4, "{:?}", export[0].rows);
        assert!(export[0].rows.iter().any(|(_, v)| v.contains("Morphine tablet · 2 tablet")), "{:?}", export[0].rows);

        // The ledger check: clean, then a balance changed behind the writer's back is listed.
        assert_eq!(stock_check(&app).await, ExitCode::SUCCESS);
        let card = admin.get("/pharmacy/cards/ledger").await;
        assert_eq!(card.status, 200);
        assert!(card.body.contains("The books agree"), "{}", card.body);
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("UPDATE stock_batches SET qty_on_hand = 99 WHERE drug_id = $1")
            .bind(o.mor).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(stock_check(&app).await, ExitCode::from(1));
        let card = admin.get("/pharmacy/cards/ledger").await;
        assert!(card.body.contains("balance 99, ledger 18"), "{}", card.body);
    }

    async fn cards_answer_with_an_empty_state_then_with_what_waits(app) {
        let admin = app.setup_admin().await;
        app.add_user("dawa", &["pharmacist"]).await;
        let pharmacist = app.login("dawa").await;
        let empty = [
            ("waiting", "No prescriptions are waiting."),
            ("balances", "No balances wait for stock."),
            ("reorder", "No item is at or below its reorder level."),
            ("expiring", "No stock expires within 90 days."),
            ("expired", "No expired stock is on the shelf."),
        ];
        for (card, text) in empty {
            let r = pharmacist.get(&format!("/pharmacy/cards/{card}")).await;
            assert_eq!(r.status, 200, "{card}");
            assert!(r.body.contains(text), "{card}: {}", r.body);
        }
        for (card, text) in [("stocktakes", "No stock take waits"), ("ledger", "has not been checked yet")] {
            let r = admin.get(&format!("/pharmacy/cards/{card}")).await;
            assert_eq!(r.status, 200, "{card}");
            assert!(r.body.contains(text), "{card}: {}", r.body);
            assert_eq!(pharmacist.get(&format!("/pharmacy/cards/{card}")).await.status, 403, "{card}");
        }

        let db = app.db();
        let (store, pcm) = store_and_drug(db).await;
        let today = hms_core::day::Day::today().date();
        let soon = batch(db, store, pcm, "SOON", hms_core::dates::shift(today, 30), 100).await;
        let gone = batch(db, store, pcm, "GONE", hms_core::dates::shift(today, -3), 100).await;
        let now = hms_core::clock::now_rfc3339();
        post(db, soon, 40, Kind::Receipt, "receipt_line:1", &now).await;
        post(db, gone, 7, Kind::Receipt, "receipt_line:2", &now).await;
        post(db, soon, -9, Kind::Dispense, "dispense_line:1", &now).await;
        let adult = patient(db, "P-0003", "Akinyi", "Odhiambo", "1985-03-03").await;
        let mut tx = db.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO store_levels (store_id, drug_id, reorder_level, maximum_level, updated_at) \
             VALUES ($1, $2, 50, 200, $3)",
        ).bind(store).bind(pcm).bind(&now).execute(&mut *tx).await.unwrap();
        for (state, quantity, done) in [("placed", 10, 0), ("in_progress", 20, 12)] {
            sqlx::query(
                "INSERT INTO orders (kind, patient_id, placer_module, code, display, quantity, \
                 quantity_done, state, placed_at) VALUES ('drug', $1, 'consultations', 'T-PCM', \
                 'Paracetamol 500 mg tablet', $2, $3, $4, $5)",
            ).bind(adult).bind(quantity).bind(done).bind(state).bind(&now)
                .execute(&mut *tx).await.unwrap();
        }
        let take: i64 = sqlx::query_scalar(
            "INSERT INTO stock_takes (store_id, state, started_at, submitted_at) \
             VALUES ($1, 'submitted', $2, $2) RETURNING id",
        ).bind(store).bind(&now).fetch_one(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();

        let r = pharmacist.get("/pharmacy/cards/waiting").await;
        assert!(r.body.contains("Patients waiting") && r.body.contains("/pharmacy"), "{}", r.body);
        let r = pharmacist.get("/pharmacy/cards/balances").await;
        assert!(r.body.contains("Paracetamol 500 mg tablet") && r.body.contains(">8<"), "{}", r.body);
        // 31 usable units against a reorder level of 50; the expired 7 do not count. 9 dispensed
        // in 90 days: 3 a month, 31 / 3 = 10.3 months of stock, on every card that lists it.
        let months = |body: &str| body.contains(">3<") && body.contains(">10.3<");
        let r = pharmacist.get("/pharmacy/cards/reorder").await;
        assert!(r.body.contains("31 tablet") && r.body.contains(">50<"), "{}", r.body);
        assert!(months(&r.body), "{}", r.body);
        let r = pharmacist.get("/pharmacy/cards/expiring").await;
        assert!(r.body.contains("SOON") && !r.body.contains("GONE") && months(&r.body), "{}", r.body);
        let r = pharmacist.get("/pharmacy/cards/expired").await;
        assert!(r.body.contains("GONE") && r.body.contains("/pharmacy/adjustments/expired"), "{}", r.body);
        assert!(months(&r.body), "{}", r.body);
        let r = admin.get("/pharmacy/cards/stocktakes").await;
        assert!(r.body.contains(&format!("/pharmacy/stocktakes/{take}")), "{}", r.body);
        // In Kiswahili too.
        assert_eq!(pharmacist.post_form("/language", &[("lang", "sw"), ("next", "/")]).await.status, 303);
        let r = pharmacist.get("/pharmacy/cards/expired").await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("Ondoa stoku iliyoisha muda"), "{}", r.body);
        let r = pharmacist.get("/pharmacy/reports/consumption").await;
        assert!(r.body.contains("Matumizi ya mwezi"), "{}", r.body);
    }

    async fn two_servers_run_one_nightly_check(app) {
        use chrono::Timelike;
        let hour = hms_core::clock::to_local(chrono::Utc::now()).hour();
        if hour < 2 {
            eprintln!("skipped: the nightly check is due from 02:00 Nairobi time");
            return;
        }
        let (store, pcm) = store_and_drug(app.db()).await;
        crate::fixtures::receive(app.db(), store, pcm, "N1", day(2030, 1, 31), 12).await;
        let first = hms_web::server::start_background(&app.app);
        let second = hms_web::server::start_background(&app.app);
        let mut finished = 0;
        for _ in 0..100 {
            finished = app.scalar("SELECT COUNT(*) FROM stock_checks WHERE finished_at IS NOT NULL").await;
            if finished > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        first.stop(Duration::from_secs(5)).await;
        second.stop(Duration::from_secs(5)).await;
        assert_eq!(finished, 1);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM stock_checks").await, 1);
        assert_eq!(app.scalar("SELECT batches FROM stock_checks").await, 1);
        assert_eq!(app.scalar("SELECT differences FROM stock_checks").await, 0);
    }
}
