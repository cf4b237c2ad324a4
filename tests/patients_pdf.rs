//! The patient card and file labels as PDF documents: names printed as typed (Kikuyu ũ and ĩ),
//! the number as text and as a barcode a scanner reads at 203 dpi (also on the 80 mm roll), a
//! sheet of labels on one A4 page, never cached, audited as prints, for those who may view.

use hms_testkit::{each_backend, pdf, Client, TestResponse};

async fn register(c: &Client, fields: &[(&str, &str)]) -> i64 {
    c.get("/patients/new").await;
    // A second record of the same person is registered on purpose (to merge it).
    let mut fields = fields.to_vec();
    fields.push(("register_anyway", "1"));
    let r = c.post_form("/patients", &fields).await;
    assert_eq!(r.status, 303, "registration: {}", r.body);
    r.location()
        .expect("redirect to the chart")
        .trim_start_matches("/patients/")
        .parse()
        .expect("a chart address")
}

fn wanjiru<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("first_name", "Wanjirũ"),
        ("middle_name", "Mũthoni"),
        ("last_name", "Kĩmani"),
        ("sex", "female"),
        ("date_of_birth", "1990-05-31"),
        ("phone", "0712 345 678"),
        ("id_type", "national_id"),
        ("id_number", "12345678"),
    ]
}

/// The patient number as the chart shows it.
async fn number_of(c: &Client, id: i64) -> String {
    let chart = c.get(&format!("/patients/{id}")).await;
    chart
        .body
        .split("<strong>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the number on the chart")
        .to_string()
}

fn is_pdf(r: &TestResponse, url: &str) {
    assert_eq!(r.status, 200, "{url}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/pdf"), "{url}");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{url}");
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("inline"),
        "{url}"
    );
}

/// A 4 x 4 red PNG (8-bit RGB), as a facility might upload for its logo.
const LOGO: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 4, 0, 0, 0, 4, 8, 2, 0,
    0, 0, 38, 147, 9, 41, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 56, 33, 39, 7, 71, 12, 196,
    113, 0, 177, 99, 16, 65, 59, 75, 99, 130, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

each_backend! {
    async fn the_card_prints_the_name_as_typed_and_a_barcode_that_scans_on_every_paper(app) {
        app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let id = register(&desk, &wanjiru()).await;
        let number = number_of(&desk, id).await;
        for (size, width) in [("a4", 210), ("a5", 148), ("80mm", 80)] {
            let url = format!("/patients/{id}/card.pdf?size={size}");
            let r = desk.get(&url).await;
            is_pdf(&r, &url);
            assert_eq!(pdf::pages(&r.bytes), 1, "{url}");
            assert_eq!(pdf::page_mm(&r.bytes).0, width, "{url}");
            let text = pdf::text(&r.bytes);
            assert!(text.contains("Wanjirũ Mũthoni Kĩmani"), "{url}: the name as typed: {text}");
            assert!(text.contains(&number) && text.contains("Female") && text.contains("31 May 1990"), "{url}: {text}");
            assert!(text.contains("Mwangaza Health Centre"), "{url}: the letterhead");
            assert!(!text.contains("0712"), "{url}: no phone number on the card");
            assert_eq!(pdf::barcodes(&r.bytes), vec![number.clone()], "{url}: the barcode scans");
            assert!(r.bytes.len() < 120_000, "{url}: {} bytes", r.bytes.len());
        }
        // No size: A4. Unknown sizes are refused.
        let plain = desk.get(&format!("/patients/{id}/card.pdf")).await;
        assert_eq!(pdf::page_mm(&plain.bytes), (210, 297));
        assert_eq!(desk.get(&format!("/patients/{id}/card.pdf?size=a3")).await.status, 400);
        assert_eq!(desk.get(&format!("/patients/{id}/card.pdf?size=label")).await.status, 400);

        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("patient.print").await, 4, "every PDF is recorded as a print");
        use sqlx::Row;
        let row = sqlx::query("SELECT patient_id, detail FROM audit_log WHERE action = 'patient.print' ORDER BY id DESC LIMIT 1")
            .fetch_one(app.db().read()).await.unwrap();
        assert_eq!(row.get::<Option<i64>, _>(0), Some(id));
        let detail: String = row.get(1);
        assert!(detail.contains("\"format\":\"pdf\"") && detail.contains("\"what\":\"card\""), "{detail}");
        assert!(!detail.contains("Wanjir"), "no name in the audit detail");
    }

    async fn a_sheet_of_labels_fills_one_page_and_each_label_scans(app) {
        let admin = app.setup_admin().await;
        let id = register(&admin, &wanjiru()).await;
        let number = number_of(&admin, id).await;
        let sheet = admin.get(&format!("/patients/{id}/label.pdf?size=a4")).await;
        is_pdf(&sheet, "a4 labels");
        assert_eq!(pdf::pages(&sheet.bytes), 1, "many labels, one page");
        let text = pdf::text(&sheet.bytes);
        assert_eq!(text.matches(number.as_str()).count(), 24, "3 x 8 labels: {text}");
        assert_eq!(text.matches("Wanjirũ Mũthoni Kĩmani").count(), 24);
        // Each label on its own, as a scanner at the desk sees it.
        let cells: Vec<_> = (0..24).map(|i| ((i % 3) as f32 * 70.0, (i / 3) as f32 * 297.0 / 8.0, 70.0, 297.0 / 8.0)).collect();
        let scanned = pdf::barcode_in_each(&sheet.bytes, &cells);
        assert!(scanned.iter().all(|s| s.as_deref() == Some(number.as_str())), "every label's barcode scans: {scanned:?}");

        let a5 = admin.get(&format!("/patients/{id}/label.pdf?size=a5")).await;
        assert_eq!(pdf::pages(&a5.bytes), 1);
        assert_eq!(pdf::text(&a5.bytes).matches(number.as_str()).count(), 12);

        let roll = admin.get(&format!("/patients/{id}/label.pdf?size=80mm")).await;
        assert_eq!(pdf::page_mm(&roll.bytes).0, 80);
        let strip: Vec<_> = (0..4).map(|i| (0.0, i as f32 * 36.0, 80.0, 36.0)).collect();
        let scanned = pdf::barcode_in_each(&roll.bytes, &strip);
        assert!(scanned.iter().all(|s| s.as_deref() == Some(number.as_str())), "a strip of four on the roll: {scanned:?}");

        let one = admin.get(&format!("/patients/{id}/label.pdf?size=label")).await;
        assert_eq!(pdf::page_mm(&one.bytes), (50, 25));
        assert_eq!(pdf::barcodes(&one.bytes), vec![number.clone()], "the 50 x 25 mm label scans");
        assert!(pdf::text(&one.bytes).contains(&number));
    }

    async fn the_print_pages_link_their_pdfs_which_follow_merges_and_need_the_view_permission(app) {
        let admin = app.setup_admin().await;
        let id = register(&admin, &wanjiru()).await;
        let page = admin.get(&format!("/patients/{id}/card?layout=thermal")).await;
        assert!(page.body.contains(&format!("href=\"/patients/{id}/card.pdf?size=80mm\"")), "{}", page.body);
        let labels = admin.get(&format!("/patients/{id}/label?layout=a5")).await;
        assert!(labels.body.contains(&format!("href=\"/patients/{id}/label.pdf?size=a5\"")));
        assert!(labels.body.contains(&format!("href=\"/patients/{id}/label.pdf?size=label\"")));

        assert_eq!(admin.get("/patients/999999/card.pdf").await.status, 404);
        app.add_user("clerk", &[]).await;
        let clerk = app.login("clerk").await;
        assert_eq!(clerk.get(&format!("/patients/{id}/card.pdf")).await.status, 403);
        assert_eq!(clerk.get(&format!("/patients/{id}/label.pdf")).await.status, 403);

        // A record merged into another prints the survivor's card.
        let mut other = wanjiru();
        other[0] = ("first_name", "Nyambura");
        other[7] = ("id_number", "87654321");
        let dup = register(&admin, &other).await;
        admin.get(&format!("/patients/{id}/merge/{dup}")).await;
        let m = admin.post_form(&format!("/patients/{id}/merge/{dup}"), &[("reason", "Registered twice")]).await;
        assert_eq!(m.status, 303, "{}", m.body);
        let old = admin.get(&format!("/patients/{dup}/label.pdf?size=a5")).await;
        assert_eq!(old.status, 303);
        assert_eq!(old.location(), Some(format!("/patients/{id}/label.pdf?size=a5").as_str()));
    }

    async fn the_letterhead_carries_the_facility_logo_code_and_phone(app) {
        let admin = app.setup_admin().await;
        let id = register(&admin, &wanjiru()).await;
        let mut tx = app.db().begin().await.unwrap();
        hms_core::settings::put(&mut tx, "facility_code", "12345").await.unwrap();
        hms_core::settings::put(&mut tx, "facility_phone", "0722 000 111").await.unwrap();
        hms_core::settings::put_logo(&mut tx, "image/png", LOGO).await.unwrap();
        tx.commit().await.unwrap();
        let card = admin.get(&format!("/patients/{id}/card.pdf?size=a5")).await;
        let text = pdf::text(&card.bytes);
        assert!(text.contains("KMHFL 12345") && text.contains("Tel. 0722 000 111"), "{text}");
        assert_eq!(pdf::images(&card.bytes), vec![(4, 4)], "the logo");
        assert_eq!(pdf::barcodes(&card.bytes).len(), 1);
    }
}
