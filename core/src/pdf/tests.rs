use super::*;

fn texts(doc: &Document, page: usize) -> Vec<String> {
    doc.pages[page]
        .iter()
        .filter_map(|i| match i {
            Item::Text { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn long_table(doc: &mut Document, rows: usize) {
    let columns = [Column::new("When", 1.0), Column::new("What", 2.0)];
    let rows: Vec<Vec<String>> = (0..rows)
        .map(|i| vec![format!("row {i}"), "opened the chart".to_string()])
        .collect();
    doc.table(&columns, &rows);
}

#[test]
fn a_long_table_repeats_its_header_and_never_splits_a_row() {
    let mut doc = Document::new(PageSize::A4, "t").page_numbers("Page {n} of {m}");
    doc.heading("Access report");
    long_table(&mut doc, 60);
    assert_eq!(doc.page_count(), 2);
    let bottom = doc.bottom().unwrap();
    for p in 0..2 {
        let t = texts(&doc, p);
        assert_eq!(
            t.iter().filter(|s| *s == "When").count(),
            1,
            "page {p}: {t:?}"
        );
        // Every row's two cells are on the same page.
        for i in 0..60 {
            let label = format!("row {i}");
            if t.contains(&label) {
                let at = t.iter().position(|s| *s == label).unwrap();
                assert_eq!(t[at + 1], "opened the chart");
            }
        }
        for item in &doc.pages[p] {
            if let Item::Text { y, .. } = item {
                assert!(*y <= bottom, "page {p}: text below the footer line");
            }
        }
    }
    let all: Vec<String> = (0..2).flat_map(|p| texts(&doc, p)).collect();
    assert_eq!(all.iter().filter(|s| s.starts_with("row ")).count(), 60);
    let bytes = doc.finish();
    assert!(bytes.starts_with(b"%PDF-"));
}

#[test]
fn the_footer_counts_pages() {
    let mut doc = Document::new(PageSize::A5, "t").page_numbers("Page {n} of {m}");
    long_table(&mut doc, 60);
    let m = doc.page_count();
    assert!(m >= 2);
    render::add_footers_for_test(&mut doc);
    assert!(texts(&doc, 0).contains(&format!("Page 1 of {m}")));
    assert!(texts(&doc, m - 1).contains(&format!("Page {m} of {m}")));
}

#[test]
fn the_receipt_roll_grows_with_its_content() {
    let mut doc = Document::new(PageSize::Receipt80, "t");
    long_table(&mut doc, 120);
    assert_eq!(doc.page_count(), 1, "a roll has no page breaks");
    assert!(doc.lowest > 297.0, "longer than an A4 page: {}", doc.lowest);
}

#[test]
fn barcode_modules_are_whole_printer_dots() {
    let mut doc = Document::new(PageSize::Label50x25, "t");
    assert!(doc.barcode_at(2.0, 5.0, 46.0, 8.0, "P-26-00042"));
    let fills: Vec<(f32, f32)> = doc.pages[0]
        .iter()
        .filter_map(|i| match i {
            Item::Fill { x, w, .. } => Some((*x, *w)),
            _ => None,
        })
        .collect();
    assert_eq!(fills.len(), 40);
    // 165 modules in 46 mm: two dots (0.25 mm) per module.
    let module = 2.0 * DOT_MM;
    assert!((fills[0].0 - (2.0 + 10.0 * module)).abs() < 1e-3);
    assert!((fills[0].1 - 2.0 * module).abs() < 1e-3);
    let right = fills.last().map(|(x, w)| x + w).unwrap();
    assert!(right <= 2.0 + 46.0, "inside the label: {right}");
    assert!(
        !doc.barcode_at(2.0, 5.0, 46.0, 8.0, "Wanjirũ"),
        "not code set B"
    );
}

#[test]
fn letterhead_names_the_facility_and_its_details() {
    let mut doc = Document::new(PageSize::A4, "t");
    doc.letterhead(&Letterhead {
        name: "Kĩambu Health Centre".into(),
        code: "12345".into(),
        address: "P.O. Box 1, Kiambu".into(),
        phone: "0712 345 678".into(),
        logo: None,
    });
    let t = texts(&doc, 0);
    assert_eq!(t[0], "Kĩambu Health Centre");
    assert!(t[1].contains("12345") && t[1].contains("Kiambu") && t[1].contains("0712 345 678"));
}

#[test]
fn a_one_page_document_is_small() {
    let mut doc = Document::new(PageSize::A4, "card").page_numbers("Page {n} of {m}");
    doc.heading("Wanjirũ Mũthoni");
    doc.paragraph("Peña Zoë");
    doc.barcode("P-26-00042", 12.0);
    let bytes = doc.finish();
    assert!(bytes.len() < 150_000, "{} bytes", bytes.len());
}

/// Prints how long a one-page card takes and how big it is (a figure, not a check:
/// `cargo test -p hms-core --release --lib pdf::tests::figures -- --ignored --nocapture`).
#[test]
#[ignore]
fn figures() {
    let card = || {
        let mut doc = Document::new(PageSize::A4, "card").page_numbers("Page {n} of {m}");
        doc.letterhead(&Letterhead {
            name: "Mwangaza Health Centre".into(),
            code: "12345".into(),
            ..Default::default()
        });
        doc.text(Style::Title, "Wanjirũ Mũthoni Kĩmani");
        doc.text(Style::Big, "P-26-00042");
        doc.barcode("P-26-00042", 15.0);
        doc.fields(&[("Sex", "Female"), ("Date of birth", "1990-05-31")]);
        doc.finish()
    };
    let first = std::time::Instant::now();
    let bytes = card();
    println!("first (parses the fonts): {:?}", first.elapsed());
    let start = std::time::Instant::now();
    for _ in 0..20 {
        card();
    }
    println!(
        "one page: {:?} each, {} KB",
        start.elapsed() / 20,
        bytes.len() / 1024
    );
}
