//! The catalogue and the stock views: an empty pharmacy set up from its empty states (usual
//! stores and suppliers, the starter list), drugs added and edited with their charge items in the
//! same transaction, bad input refused with nothing changed, a stale edit answered 409, CSV
//! import with its per-row report, and stock counted as prescribers and the stock page see it:
//! unexpired units only, expired stock on the shelf counted as out.

use hms_testkit::{each_backend, Client, TestApp};
use sqlx::Row;

use crate::fixtures::{day, receive, store_and_drug};

async fn pharmacist(app: &TestApp) -> Client {
    app.add_user("dawa", &["pharmacist"]).await;
    app.login("dawa").await
}

/// Rows of one of the pharmacy's tables.
async fn count(app: &TestApp, table: &str) -> i64 {
    let sql = match table {
        "drugs" => "SELECT COUNT(*) FROM drugs",
        "stores" => "SELECT COUNT(*) FROM stores",
        "suppliers" => "SELECT COUNT(*) FROM suppliers",
        "store_levels" => "SELECT COUNT(*) FROM store_levels",
        other => panic!("count: {other}?"),
    };
    app.scalar(sql).await
}

async fn drug_id(app: &TestApp, code: &str) -> i64 {
    sqlx::query("SELECT id FROM drugs WHERE code = $1")
        .bind(code)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

async fn charge_price(app: &TestApp, code: &str) -> Option<i64> {
    sqlx::query("SELECT price_cents FROM charge_items WHERE code = $1")
        .bind(format!("pharmacy.drug.{code}"))
        .fetch_optional(app.db().read())
        .await
        .unwrap()
        .map(|r| r.get(0))
}

/// The `value` of the hidden `seen` field of an edit form.
fn seen(body: &str) -> String {
    let marker = "name=\"seen\" value=\"";
    let start = body.find(marker).expect("an edit form") + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

/// Uploads a file with more form fields (multipart, with the client's CSRF token).
async fn upload(rx: &Client, fields: &[(&str, &str)], data: &[u8]) -> hms_testkit::TestResponse {
    let token = rx.csrf_token().unwrap_or_default();
    let boundary = "pharmacy-import-4b1e";
    let mut body = Vec::new();
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    for (k, v) in all {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"drugs.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    rx.send(
        poem::http::Method::POST,
        "/pharmacy/catalogue/import",
        &[("Content-Type", content_type.as_str())],
        body,
    )
    .await
}

const NEW_DRUG: &[(&str, &str)] = &[
    ("code", "zinc-20"),
    ("generic_name", "Zinc sulfate"),
    ("strength", "20 mg"),
    ("form", "dispersible tablet"),
    ("unit", "tablet"),
    ("pack_size", "10"),
    ("route", "oral"),
    ("moh717", "common"),
    ("level_of_care", "1"),
    ("price", "3.50"),
    ("prescription_only", ""),
    ("active", "1"),
];

fn with(
    fields: &[(&'static str, &'static str)],
    key: &str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    fields
        .iter()
        .map(|(k, v)| if *k == key { (*k, value) } else { (*k, *v) })
        .collect()
}

each_backend! {
    async fn an_empty_pharmacy_is_set_up_from_its_empty_states_and_drugs_keep_their_charge_items(app) {
        let rx = pharmacist(&app).await;
        let empty = rx.get("/pharmacy/catalogue").await;
        assert_eq!(empty.status, 200);
        assert!(empty.body.contains("The drug catalogue is empty") && empty.body.contains("Load the starter list"), "{}", empty.body);
        let stock = rx.get("/pharmacy/stock").await;
        assert_eq!(stock.status, 200);
        assert!(stock.body.contains("There is no store yet"), "{}", stock.body);
        for page in ["/pharmacy/stores", "/pharmacy/suppliers", "/pharmacy/catalogue/new", "/pharmacy/catalogue/import"] {
            assert_eq!(rx.get(page).await.status, 200, "{page}");
        }

        assert_eq!(rx.post_form("/pharmacy/stores/usual", &[]).await.status, 303);
        assert_eq!(rx.post_form("/pharmacy/stores/usual", &[]).await.status, 303);
        assert_eq!(count(&app, "stores").await, 2);
        assert_eq!(rx.post_form("/pharmacy/suppliers/usual", &[]).await.status, 303);
        assert_eq!(count(&app, "suppliers").await, 2);

        // The starter list, loaded twice (or by two people at once), is there once.
        let (a, b) = tokio::join!(
            rx.post_form("/pharmacy/catalogue/starter", &[]),
            rx.post_form("/pharmacy/catalogue/starter", &[]),
        );
        assert_eq!((a.status, b.status), (303, 303));
        let drugs = count(&app, "drugs").await;
        assert!(drugs >= 120, "{drugs}");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM charge_items WHERE code LIKE 'pharmacy.drug.%'").await, drugs);
        assert_eq!(charge_price(&app, "AMX-500-CAP").await, Some(500));
        assert_eq!(app.audit_count("pharmacy.catalogue_starter").await, 1);
        let list = rx.get("/pharmacy/catalogue?q=amoxi").await;
        assert!(list.body.contains("Amoxicillin 500 mg capsule"), "{}", list.body);
        assert!(!list.body.contains("Paracetamol"), "{}", list.body);
        // Long lists go by pages of 50, each linking the pages beside it with what was asked.
        let page = rx.get("/pharmacy/catalogue?page=2").await;
        for href in ["/pharmacy/catalogue?q=&amp;page=1\"", "/pharmacy/catalogue?q=&amp;page=3\""] {
            assert!(page.body.contains(href), "{href}: {}", page.body);
        }
        let main: i64 = app.scalar("SELECT MIN(id) FROM stores").await;
        let page = rx.get(&format!("/pharmacy/stock?store={main}&page=2")).await;
        for href in [
            format!("/pharmacy/stock?store={main}&amp;q=&amp;flag=&amp;page=1\""),
            format!("/pharmacy/stock?store={main}&amp;q=&amp;flag=&amp;page=3\""),
        ] {
            assert!(page.body.contains(&href), "{href}: {}", page.body);
        }
        let amx = drug_id(&app, "AMX-500-CAP").await;
        for n in 0..51 {
            receive(app.db(), main, amx, &format!("P{n}"), day(2030, 1, 31), 10).await;
        }
        for (asked, store) in [(format!("?store={main}&page=2"), main.to_string()), ("?page=2".into(), String::new())] {
            let page = rx.get(&format!("/pharmacy/stock/{amx}{asked}")).await;
            let href = format!("/pharmacy/stock/{amx}?store={store}&amp;page=1#card\"");
            assert!(page.body.contains(&href), "{href}: {}", page.body);
        }

        // Bad input: 422 beside each field, nothing saved.
        for (key, value, message) in [
            ("pack_size", "0", "The pack size is a whole number"),
            ("pack_size", "2.5", "The pack size is a whole number"),
            ("moh717", "vitamins", "Choose the MOH 717 category"),
            ("price", "-4", "Write the price in shillings"),
            ("generic_name", "", "Write the generic name"),
            ("code", "AMX-500-CAP", "Another drug already has this code"),
        ] {
            let r = rx.post_form("/pharmacy/catalogue", &with(NEW_DRUG, key, value)).await;
            assert_eq!(r.status, 422, "{key}={value}: {}", r.body);
            assert!(r.body.contains(message), "{key}={value}: {}", r.body);
        }
        assert_eq!(count(&app, "drugs").await, drugs);

        let made = rx.post_form("/pharmacy/catalogue", NEW_DRUG).await;
        assert_eq!(made.status, 303, "{}", made.body);
        let zinc = drug_id(&app, "ZINC-20").await;
        assert_eq!(made.location(), Some(format!("/pharmacy/catalogue/{zinc}").as_str()));
        assert_eq!(charge_price(&app, "ZINC-20").await, Some(350));
        assert_eq!(app.audit_count("pharmacy.drug_create").await, 1);

        // An edit saves and republishes the price; an edit from a stale form is refused.
        let form = rx.get(&format!("/pharmacy/catalogue/{zinc}")).await;
        assert_eq!(form.status, 200);
        let stale = seen(&form.body);
        let mut edit = with(NEW_DRUG, "price", "4");
        edit.push(("seen", &stale));
        let saved = rx.post_form(&format!("/pharmacy/catalogue/{zinc}"), &edit).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        assert_eq!(charge_price(&app, "ZINC-20").await, Some(400));
        let mut again = with(NEW_DRUG, "price", "9");
        again.push(("seen", &stale));
        let refused = rx.post_form(&format!("/pharmacy/catalogue/{zinc}"), &again).await;
        assert_eq!(refused.status, 409, "{}", refused.body);
        assert!(refused.body.contains("Someone saved this drug"), "{}", refused.body);
        assert_eq!(charge_price(&app, "ZINC-20").await, Some(400));

        // Levels per store: a maximum below the reorder level is refused, good ones kept.
        let stores: Vec<i64> = sqlx::query("SELECT id FROM stores ORDER BY id")
            .fetch_all(app.db().read()).await.unwrap().into_iter().map(|r| r.get(0)).collect();
        let (r0, m0) = (format!("reorder_{}", stores[0]), format!("maximum_{}", stores[0]));
        let bad = rx.post_form(&format!("/pharmacy/catalogue/{zinc}/levels"), &[(&r0, "50"), (&m0, "20")]).await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        assert_eq!(count(&app, "store_levels").await, 0);
        let bad = rx.post_form(&format!("/pharmacy/catalogue/{zinc}/levels"), &[(&r0, "-1")]).await;
        assert_eq!(bad.status, 422);
        let good = rx.post_form(&format!("/pharmacy/catalogue/{zinc}/levels"), &[(&r0, "50"), (&m0, "200")]).await;
        assert_eq!(good.status, 303, "{}", good.body);
        let level: i64 = sqlx::query("SELECT reorder_level FROM store_levels WHERE drug_id = $1 AND store_id = $2")
            .bind(zinc).bind(stores[0]).fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(level, 50);

        // Stores and suppliers refuse bad input.
        assert_eq!(rx.post_form("/pharmacy/stores", &[("code", "MAIN"), ("name", "Another"), ("kind", "main")]).await.status, 422);
        assert_eq!(rx.post_form("/pharmacy/stores", &[("code", "W2"), ("name", "Ward 2"), ("kind", "warehouse")]).await.status, 422);
        assert_eq!(rx.post_form("/pharmacy/stores", &[("code", "W2"), ("name", "Ward 2 dispensary"), ("kind", "dispensary")]).await.status, 303);
        assert_eq!(rx.post_form("/pharmacy/suppliers", &[("name", "Bad phone"), ("kind", "wholesaler"), ("phone", "call me")]).await.status, 422);
        assert_eq!(count(&app, "stores").await, 3);
        assert_eq!(count(&app, "suppliers").await, 2);
    }

    async fn a_csv_import_reports_every_row_and_a_second_import_changes_nothing(app) {
        let rx = pharmacist(&app).await;
        rx.get("/pharmacy/catalogue/import").await;
        let file = "code,generic_name,strength,form,unit,pack_size,moh717,price\n\
                    CTX-1,Ceftriaxone,1 g,powder for injection,vial,50,antibiotic,60\n\
                    ORS-1,Oral rehydration salts,,powder,sachet,0,common,10\n\
                    CTX-1,Ceftriaxone again,1 g,powder,vial,1,antibiotic,1\n\
                    MVT-1,Multivitamin,,tablet,tablet,1000,vitamins,1\n";
        // A check writes nothing.
        let check = upload(&rx, &[("check_only", "1")], file.as_bytes()).await;
        assert_eq!(check.status, 200, "{}", check.body);
        assert!(check.body.contains("nothing was saved"), "{}", check.body);
        assert_eq!(count(&app, "drugs").await, 0);

        let done = upload(&rx, &[], file.as_bytes()).await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert!(done.body.contains("id=\"total-created\">1<"), "{}", done.body);
        assert!(done.body.contains("id=\"total-refused\">3<"), "{}", done.body);
        assert!(done.body.contains("Same code as row 2"), "{}", done.body);
        assert!(done.body.contains("The pack size is a whole number"), "{}", done.body);
        assert!(done.body.contains("Choose the MOH 717 category"), "{}", done.body);
        assert_eq!(count(&app, "drugs").await, 1);
        assert_eq!(charge_price(&app, "CTX-1").await, Some(6000));

        let twice = upload(&rx, &[], file.as_bytes()).await;
        assert!(twice.body.contains("id=\"total-created\">0<") && twice.body.contains("Already the same"), "{}", twice.body);
        assert_eq!(count(&app, "drugs").await, 1);

        // A changed price updates the drug and its charge item.
        let changed = file.replace(",antibiotic,60", ",antibiotic,65");
        let updated = upload(&rx, &[], changed.as_bytes()).await;
        assert!(updated.body.contains("id=\"total-updated\">1<"), "{}", updated.body);
        assert_eq!(charge_price(&app, "CTX-1").await, Some(6500));

        // A file of codes and prices changes prices only: a drug taken out of use stays out.
        let ctx = drug_id(&app, "CTX-1").await;
        let form = rx.get(&format!("/pharmacy/catalogue/{ctx}")).await;
        let seen_at = seen(&form.body);
        let off = rx.post_form(&format!("/pharmacy/catalogue/{ctx}"), &[
            ("generic_name", "Ceftriaxone"), ("strength", "1 g"), ("form", "powder for injection"),
            ("unit", "vial"), ("pack_size", "50"), ("route", "intravenous"), ("moh717", "antibiotic"),
            ("level_of_care", "3"), ("price", "65"), ("prescription_only", "1"), ("seen", &seen_at),
        ]).await;
        assert_eq!(off.status, 303, "{}", off.body);
        let prices = upload(&rx, &[], b"code,price\nCTX-1,70\nNEW-1,5\n").await;
        assert!(prices.body.contains("id=\"total-updated\">1<") && prices.body.contains("Write the generic name"), "{}", prices.body);
        let row = sqlx::query("SELECT active, pack_size, route, price_cents FROM drugs WHERE id = $1")
            .bind(ctx).fetch_one(app.db().read()).await.unwrap();
        assert_eq!((row.get::<i64, _>(0), row.get::<i64, _>(1), row.get::<String, _>(2), row.get::<i64, _>(3)),
            (0, 50, "intravenous".to_string(), 7000));
        assert_eq!(count(&app, "drugs").await, 1);
        // A drug out of use is not offered to prescribers.
        assert!(app.app.modules.orderables(app.db(), "drug", "ceftri").await.unwrap().is_empty());
        assert!(app.app.modules.orderable(app.db(), "drug", "CTX-1").await.unwrap().is_none());

        // The export reads back unchanged.
        let export = rx.get("/pharmacy/catalogue/export.csv").await;
        assert_eq!(export.status, 200);
        assert!(export.body.contains("\"CTX-1\",\"Ceftriaxone\""), "{}", export.body);
        let back = upload(&rx, &[], export.body.as_bytes()).await;
        assert!(back.body.contains("id=\"total-updated\">0<") && back.body.contains("id=\"total-refused\">0<"), "{}", back.body);

        // A file without the needed columns is refused whole.
        let bad = upload(&rx, &[], b"name,price\nA,1\n").await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("lacks the columns: code."), "{}", bad.body);
    }

    async fn stock_counts_only_unexpired_units_for_prescribers_and_on_the_stock_pages(app) {
        let db = app.db();
        let (dispensary, drug) = store_and_drug(db).await;
        let now = hms_core::clock::now_rfc3339();
        let main: i64 = sqlx::query_scalar("INSERT INTO stores (code, name, kind, created_at) VALUES ('M1', 'Main store', 'main', $1) RETURNING id")
            .bind(&now).fetch_one(db.read()).await.unwrap_or_else(|_| panic!("main store"));
        let today = hms_core::day::Day::today().date();
        let soon = today + chrono::Duration::days(30);
        receive(db, dispensary, drug, "GOOD", day(2030, 1, 31), 1240).await;
        receive(db, dispensary, drug, "SOON", soon, 10).await;
        receive(db, dispensary, drug, "OLD", day(2020, 1, 31), 7).await;
        receive(db, main, drug, "BULK", day(2030, 1, 31), 5000).await;

        // Prescribers see usable stock in the dispensaries only.
        let found = app.app.modules.orderables(db, "drug", "parac").await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].code.as_str(), found[0].stock), ("T-PCM", Some(1250)));
        assert_eq!(found[0].name, "Paracetamol 500 mg tablet");
        let one = app.app.modules.orderable(db, "drug", "T-PCM").await.unwrap().unwrap();
        assert_eq!(one.stock, Some(1250));
        assert!(app.app.modules.orderables(db, "drug", "zzz").await.unwrap().is_empty());

        app.add_user("muuguzi", &["nurse"]).await;
        let nurse = app.login("muuguzi").await;
        // The drug search other screens embed, for one store.
        let search = nurse.get_htmx(&format!("/pharmacy/drugs/search?q=para&store={main}")).await;
        assert_eq!(search.status, 200);
        assert!(search.body.contains("5,000") && search.body.contains("usable in Main store"), "{}", search.body);
        assert!(!search.body.contains("<html"), "a fragment");
        assert_eq!(nurse.get("/pharmacy/drugs/search?q=para&store=999999").await.status, 404);
        // Without a store: usable units in each dispensary, the main store left out.
        let anywhere = nurse.get_htmx("/pharmacy/drugs/search?q=para").await;
        assert!(anywhere.body.contains("1,250 usable in Test dispensary") && !anywhere.body.contains("Main store"),
            "{}", anywhere.body);

        // The stock page of the dispensary: expired units are counted apart, as out.
        let page = nurse.get(&format!("/pharmacy/stock?store={dispensary}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("1,250") && page.body.contains("10 expiring") && page.body.contains("7 expired"), "{}", page.body);
        let expired = nurse.get_htmx(&format!("/pharmacy/stock?store={dispensary}&flag=expired")).await;
        assert!(expired.body.contains("Paracetamol"), "{}", expired.body);
        let out = nurse.get_htmx(&format!("/pharmacy/stock?store={dispensary}&flag=out")).await;
        assert!(!out.body.contains("Paracetamol"), "{}", out.body);
        let low = nurse.get_htmx(&format!("/pharmacy/stock?store={dispensary}&flag=low")).await;
        assert!(!low.body.contains("Paracetamol"), "{}", low.body);

        // Written off to zero usable (all taken), the drug shows as out even with expired units left.
        let mut tx = db.begin().await.unwrap();
        let (_, short) = hms_pharmacy::stock::take_fefo(&mut tx, dispensary, drug, 1250,
            hms_pharmacy::stock::Kind::Dispense, "dispense_line:0", None, &now, today).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(short, 0);
        let out = nurse.get_htmx(&format!("/pharmacy/stock?store={dispensary}&flag=out")).await;
        assert!(out.body.contains("Paracetamol") && out.body.contains("7 expired"), "{}", out.body);
        assert_eq!(app.app.modules.orderable(db, "drug", "T-PCM").await.unwrap().unwrap().stock, Some(0));

        // Taken out of use, a drug with stock left still shows where the stock is.
        let mut tx = db.begin().await.unwrap();
        sqlx::query("UPDATE drugs SET active = 0 WHERE id = $1").bind(drug).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let page = nurse.get(&format!("/pharmacy/stock?store={dispensary}")).await;
        assert!(page.body.contains("Paracetamol") && page.body.contains("Not in use"), "{}", page.body);
        let page = nurse.get(&format!("/pharmacy/stock?store={dispensary}&flag=expired")).await;
        assert!(page.body.contains("Paracetamol") && page.body.contains("Not in use"), "{}", page.body);

        // One drug: its batches per store and its stock card.
        let card = nurse.get(&format!("/pharmacy/stock/{drug}")).await;
        assert_eq!(card.status, 200);
        assert!(card.body.contains("BULK") && card.body.contains("OLD") && card.body.contains("Expired on the shelf"), "{}", card.body);
        assert!(card.body.contains("Received") && card.body.contains("Dispensed") && card.body.contains("dispense_line:0"), "{}", card.body);
        assert_eq!(nurse.get("/pharmacy/stock/999999").await.status, 404);

        // The nurse sees stock but does not keep the catalogue.
        assert_eq!(nurse.get("/pharmacy/catalogue").await.status, 403);
        assert_eq!(nurse.post_form("/pharmacy/stores/usual", &[]).await.status, 403);
        app.add_user("desk", &["receptionist"]).await;
        assert_eq!(app.login("desk").await.get("/pharmacy/stock").await.status, 403);
    }

    async fn the_catalogue_speaks_kiswahili(app) {
        app.add_user("mfamasia", &["pharmacist"]).await;
        let rx = app.client();
        rx.set_cookie(hms_core::http::LANG_COOKIE, "sw");
        assert_eq!(rx.login("mfamasia", hms_testkit::PASSWORD).await.status, 303);
        let empty = rx.get("/pharmacy/catalogue").await;
        assert!(empty.body.contains("Orodha ya dawa haina kitu") && empty.body.contains("Weka orodha ya mwanzo"), "{}", empty.body);
        let stock = rx.get("/pharmacy/stock").await;
        assert!(stock.body.contains("Bado hakuna stoo"), "{}", stock.body);
        let bad = rx.post_form("/pharmacy/catalogue", &with(NEW_DRUG, "pack_size", "0")).await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("Idadi katika pakiti ni namba kamili"), "{}", bad.body);
    }
}
