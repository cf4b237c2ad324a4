//! Finding patients by parts of their names across pages: every patient whose names match all
//! the typed words is listed exactly once, page after page, whichever word drives the search
//! (a word of 3 or more letters, a longer one, or one of one or two letters), and whether two
//! words are answered by the word-pair index or one word by the token index.

use std::collections::BTreeSet;

use hms_patients::demo::DemoPatient;
use hms_testkit::{each_backend, Client, TestApp};

const FIRST: &[&str] = &["Wanjiru", "Wangari", "Grace", "Kamande"];
const MIDDLE: &[Option<&str>] = &[None, Some("Wambui"), Some("Akinyi")];
const LAST: &[&str] = &["Kamau", "Kamande", "Otieno", "Wanyama", "Ka"];

/// 360 patients mixing a few names, stored in one batch as `hms demo-data` stores them.
async fn register_many(app: &TestApp) -> Vec<(i64, Vec<String>)> {
    let mut rows = Vec::new();
    for i in 0..360usize {
        let first = FIRST[i % FIRST.len()];
        let middle = MIDDLE[(i / FIRST.len()) % MIDDLE.len()];
        let last = LAST[(i / 7) % LAST.len()];
        rows.push(DemoPatient {
            first_name: first.into(),
            middle_name: middle.map(str::to_string),
            last_name: last.into(),
            sex: "female",
            date_of_birth: "1990-01-01".into(),
            dob_estimated: false,
            phone: None,
            county_code: None,
            allergies: None,
            identifier: None,
            registered_at: format!("2026-01-01T08:{:02}:{:02}.000Z", i / 60, i % 60),
            number_year: 2026,
            tokens: hms_patients::name_tokens(&[first, middle.unwrap_or(""), last]),
        });
    }
    let mut tx = app.db().begin().await.unwrap();
    let stored = hms_patients::demo::insert(&mut tx, &rows, "P", None)
        .await
        .unwrap();
    hms_patients::demo::pair_names(&mut tx, 0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored.patients, 360);
    use sqlx::Row;
    let ids: Vec<i64> = sqlx::query("SELECT id FROM patients ORDER BY number")
        .fetch_all(app.db().read())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.into_iter()
        .zip(rows.into_iter().map(|r| r.tokens))
        .collect()
}

/// Follows the search's "next page" links to the end; returns the patients in order shown.
async fn every_page(c: &Client, q: &str) -> (Vec<i64>, usize) {
    let mut url = format!(
        "/patients?q={}",
        form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    let mut found = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 100, "the pages end");
        let page = c.get(&url).await;
        assert_eq!(page.status, 200);
        let mut on_page: Vec<i64> = Vec::new();
        for part in page.body.split("href=\"/patients/").skip(1) {
            let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(id) = digits.parse::<i64>() {
                if on_page.last() != Some(&id) {
                    on_page.push(id);
                }
            }
        }
        found.extend(on_page);
        let Some(at) = page.body.find("href=\"/patients?q=") else {
            return (found, pages);
        };
        let rest = &page.body[at + 6..];
        url = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
    }
}

each_backend! {
    async fn name_searches_list_every_match_once_across_pages(app) {
        let admin = app.setup_admin().await;
        let patients = register_many(&app).await;
        for q in [
            "wan kam", "wanj kamau", "ka wanjiru", "gr wamb kam", "kamande", "k a",
            "kamau kamande", "kamande kam", "wanj wanjiru", "wanjiru kamande akinyi",
            "ot wa ka", "wangari o",
        ] {
            let words = hms_patients::query_tokens(q);
            let expected: BTreeSet<i64> = patients
                .iter()
                .filter(|(_, tokens)| {
                    words.iter().all(|w| tokens.iter().any(|t| t.starts_with(w.as_str())))
                })
                .map(|(id, _)| *id)
                .collect();
            let (found, pages) = every_page(&admin, q).await;
            let unique: BTreeSet<i64> = found.iter().copied().collect();
            assert_eq!(unique.len(), found.len(), "'{q}': no patient twice");
            assert_eq!(unique, expected, "'{q}': every match, nothing else");
            assert!(!expected.is_empty(), "'{q}' matches someone");
            if expected.len() > 25 {
                assert!(pages > 1, "'{q}': {} matches over several pages", expected.len());
            }
        }
    }
}
