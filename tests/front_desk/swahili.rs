//! Kiswahili throughout, dates the Kenyan way. A member of staff who chose Kiswahili walks every
//! page of every module with real data behind it (a patient with an allergy and a merged
//! duplicate, a visit in the queue, a booking, a clinic, an import, a waiting-room screen, the
//! error pages) and reads no English the catalogue has a Kiswahili text for, and no date written
//! as stored (`2026-12-07`). And a date field takes `7/12/2026`, `07-12-2026` and `2026-12-07`,
//! and refuses `31/02/2026` by name.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use hms_core::http::Access;
use hms_testkit::browser::*;
use hms_testkit::domain::*;
use hms_testkit::Backend;
use hms_testkit::{each_backend, Client, TestApp};
use poem::http::Method;
use thirtyfour::prelude::*;

/// The next Monday after today (Nairobi).
fn next_monday() -> NaiveDate {
    let today = hms_core::clock::to_local(Utc::now()).date_naive();
    today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()))
}

fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn last_id(location: Option<&str>) -> i64 {
    let to = location.expect("a redirect");
    to.trim_end_matches("/slip")
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {to}"))
}

async fn scalar(app: &TestApp, sql: &'static str) -> i64 {
    app.scalar(sql).await
}

/// What a reader sees of a page: its text, and the words in placeholders, titles, labels for
/// screen readers and alternative texts; without scripts, styles and markup.
pub fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        out.push(' ');
        rest = &rest[start..];
        let lower = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            Some("</script>")
        } else if lower.starts_with("<style") {
            Some("</style>")
        } else if lower.starts_with("<!--") {
            Some("-->")
        } else {
            None
        };
        if let Some(end) = skip_to {
            match rest.find(end) {
                Some(i) => rest = &rest[i + end.len()..],
                None => rest = "",
            }
            continue;
        }
        let end = rest.find('>').map(|i| i + 1).unwrap_or(rest.len());
        let tag = &rest[..end];
        // Text marked as English on purpose (spreadsheet headings a file may carry), and the
        // audit trail's record of what was written (field names), are not the page's words.
        let english = tag.contains(" lang=\"en\"") && !tag.starts_with("<html");
        if english || tag.starts_with("<pre class=\"detail\"") || tag.starts_with("<code") {
            let name: String = tag[1..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            let close = format!("</{name}>");
            rest = rest.find(&close).map_or("", |i| &rest[i + close.len()..]);
            continue;
        }
        for attr in ["placeholder=\"", "title=\"", "aria-label=\"", "alt=\""] {
            if let Some(at) = tag.find(attr) {
                let value = &tag[at + attr.len()..];
                out.push(' ');
                out.push_str(value.split('"').next().unwrap_or(""));
                out.push(' ');
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    let out = out
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&#x2F;", "/");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The English texts that must not be read on a Kiswahili page: each catalogue value whose
/// Kiswahili differs, cut at its `{placeholders}` into the literal pieces, keeping pieces long
/// enough to be English words and not mere names or codes.
fn english_texts() -> Vec<(String, String)> {
    // A word the Kiswahili texts themselves use (a code such as `patient.` in a hint, a name)
    // proves nothing when seen.
    let kiswahili: String = hms_core::i18n::keys("sw")
        .iter()
        .map(|k| hms_core::i18n::t_in("sw", k))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for key in hms_core::i18n::keys("en") {
        let en = hms_core::i18n::t_in("en", &key);
        let sw = hms_core::i18n::t_in("sw", &key);
        // The dispensing units a label spells out in the patient's language ("tablet") are
        // also the catalogue's own words in drug names ("Paracetamol 500 mg tablet"), which
        // stay as the catalogue writes them, like the names.
        if en == sw || key.starts_with("pharmacy_dispense.unit_") {
            continue;
        }
        for piece in en.split(['{', '}']).step_by(2) {
            let piece = piece.trim_matches(|c: char| !c.is_alphanumeric());
            if piece.len() >= 5 && !sw.contains(piece) && !has_words(&kiswahili, piece) {
                out.push((key.clone(), piece.to_string()));
            }
        }
    }
    out
}

/// Whether `text` holds `words` as whole words (not inside a longer word or a name).
fn has_words(text: &str, words: &str) -> bool {
    text.match_indices(words).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let mut rest = text[at + words.len()..].chars();
        // `patients.view` is a permission's code, not the English word.
        let after = match rest.next() {
            Some('.') => rest.next().filter(|c| c.is_alphanumeric()),
            other => other,
        };
        let word = |c: char| c.is_alphanumeric() || c == '_';
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// A stored date (`2026-12-07`) in `text`, if any.
fn iso_date_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let w = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        let edge_before = i == 0 || !b[i - 1].is_ascii_digit();
        let edge_after = b.get(i + 10).is_none_or(|c| !c.is_ascii_digit());
        let stored = digits(0..4) && w[4] == b'-' && digits(5..7) && w[7] == b'-' && digits(8..10);
        (stored && edge_before && edge_after).then(|| String::from_utf8_lossy(w).into_owned())
    })
}

/// The records the walk fills the route parameters with.
struct Records {
    patient: i64,
    other: i64,
    moved: i64,
    number: String,
    merge: i64,
    import: i64,
    visit: i64,
    appointment: i64,
    clinic: i64,
    user: i64,
    display_key: String,
    /// A draft consultation note (Juma, taken from the consultation queue).
    encounter: i64,
    /// A receipt of stock into the pharmacy's dispensary (the starter drug list loaded).
    receipt: i64,
}

impl Records {
    /// A route's address with each `:parameter` filled from the records; `None` for routes
    /// that are files, not pages.
    fn address(&self, path: &str) -> Option<String> {
        if path.ends_with(".pdf")
            || path.ends_with(".csv")
            || path.contains('*')
            || path.contains(":file")
        {
            return None;
        }
        let mut parts = Vec::new();
        let mut previous = "";
        for seg in path.split('/') {
            let value = match seg {
                ":id" => match previous {
                    "patients" => self.patient.to_string(),
                    "import" => self.import.to_string(),
                    "visits" => self.visit.to_string(),
                    "appointments" => self.appointment.to_string(),
                    "clinics" => self.clinic.to_string(),
                    "users" => self.user.to_string(),
                    "consultations" => self.encounter.to_string(),
                    "catalogue" => "1".to_string(),
                    "receipts" => self.receipt.to_string(),
                    // None of these made: the page that says so.
                    "transfers" | "stocktakes" | "dispenses" | "orders" | "remittances" => {
                        "1".to_string()
                    }
                    other => panic!("which record is :id after {other} in {path}?"),
                },
                ":other" => self.other.to_string(),
                ":merge" => self.merge.to_string(),
                ":number" => self.number.clone(),
                ":code" => "triage".to_string(),
                ":visit" => self.visit.to_string(),
                ":entry" => "pneumonia".to_string(),
                ":key" => self.display_key.clone(),
                ":drug" => "1".to_string(),
                // The cash scheme every facility has.
                ":scheme" => "1".to_string(),
                ":name" => "consumption".to_string(),
                ":line" => "1".to_string(),
                s if s.starts_with(':') => panic!("no record for {s} in {path}"),
                s => s.to_string(),
            };
            previous = seg;
            parts.push(value);
        }
        Some(parts.join("/"))
    }
}

/// Builds the records through the screens, as staff do.
async fn fill_the_facility(app: &TestApp, staff: &Client) -> Records {
    let doctor = app.add_user("dr.otieno", &["doctor"]).await;
    // A clinic with a doctor's Monday hours, and a clinic day.
    let clinic = add_clinic(
        staff,
        &[
            ("name", "OPD"),
            ("booking", "slots"),
            ("slot_minutes", "30"),
        ],
    )
    .await;
    add_hours(staff, clinic, doctor, 1, ("08:00", "12:00"), None).await;
    let monday = iso(next_monday());
    staff
        .post_form(
            "/schedules/holidays",
            &[
                ("holiday_day", &iso(next_monday() + Duration::days(7))),
                ("holiday_name", "Mashujaa"),
            ],
        )
        .await;
    staff
        .post_form(
            "/schedules/days-off",
            &[
                ("off_clinician", &doctor.to_string()),
                ("off_day", &iso(next_monday() + Duration::days(14))),
                ("off_reason", "Mafunzo"),
            ],
        )
        .await;

    // Amina with her allergy, and a duplicate of her merged into her chart.
    let patient = register(staff, &amina()).await;
    staff
        .get(&format!("/patients/{patient}/allergies/new"))
        .await;
    staff
        .post_form(
            &format!("/patients/{patient}/allergies"),
            &[("allergen", "Penicillin"), ("reaction", "Upele")],
        )
        .await;
    let other = register_quick(staff, "Baraka", "Otieno", "0722000111").await;
    let twin = register_quick(staff, "Amina", "Kamau", "0712345678").await;
    staff
        .get(&format!("/patients/{patient}/merge/{twin}"))
        .await;
    let r = staff
        .post_form(
            &format!("/patients/{patient}/merge/{twin}"),
            &[("reason", "Kitambulisho kimoja")],
        )
        .await;
    assert_eq!(r.status, 303, "merge: {}", r.body);
    let merge = scalar(app, "SELECT MAX(id) FROM patient_merges").await;
    // One who moved away: her chart says since when.
    let moved = register_quick(staff, "Neema", "Chebet", "0733444555").await;
    staff.get(&format!("/patients/{moved}/deactivate")).await;
    let r = staff
        .post_form(
            &format!("/patients/{moved}/deactivate"),
            &[
                ("reason", "moved"),
                ("on", "1/12/2026"),
                ("note", "Amehamia Kisumu"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "deactivation: {}", r.body);
    let number = patient_number(staff, patient).await;

    // A paper register brought in.
    staff.get("/patients/import").await;
    let csv = "file_number,first_name,last_name,sex,date_of_birth,phone\r\n\
               1001/2019,Zawadi,Achieng,F,01/01/1985,0733 000 111\r\n\
               ,,K4mau,Q,31/13/1990,0812 000 000\r\n";
    let r = staff
        .post_file("/patients/import", "file", "daftari.csv", csv.as_bytes())
        .await;
    let import = last_id(r.location());

    // Amina waits for triage; Baraka is booked for Monday.
    let visit = visit_id(&submit_check_in(staff, patient, "triage", "").await);
    staff
        .get(&format!("/appointments/book?patient={other}"))
        .await;
    let r = staff
        .post_form(
            "/appointments",
            &[
                ("patient", &other.to_string()),
                ("clinic", &clinic.to_string()),
                ("clinician", &doctor.to_string()),
                ("day", &monday),
                ("slot", "480"),
                ("reason", "Kliniki ya sukari"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "booking: {}", r.body);
    let appointment = last_id(r.location());

    // Juma waits for the doctor, who takes him and starts the note.
    let juma = register_quick(staff, "Juma", "Mwangi", "0711222333").await;
    visit_id(&submit_check_in(staff, juma, "consultation", "").await);
    let encounter = take_next_patient(staff).await;
    let r = staff
        .post_form(
            &format!("/consultations/{encounter}/draft"),
            &[("version", "1"), ("complaint", "Homa na kikohozi")],
        )
        .await;
    assert_eq!(r.status, 200, "draft: {}", r.body);

    let receipt = stock_the_dispensary(staff).await;

    staff.get("/displays").await;
    let r = staff.post_form("/queues/triage/display-key", &[]).await;
    let at = r.body.find("/display/").expect("the screen's address") + "/display/".len();
    let display_key = r.body[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();

    Records {
        patient,
        other,
        moved,
        number,
        merge,
        import,
        visit,
        appointment,
        clinic,
        user: doctor,
        display_key,
        encounter,
        receipt,
    }
}

/// The pharmacy's starter drug list, its usual stores and suppliers, and a receipt of the
/// first drug into the dispensary; returns the receipt's id.
async fn stock_the_dispensary(staff: &Client) -> i64 {
    for setup in [
        "/pharmacy/catalogue/starter",
        "/pharmacy/stores/usual",
        "/pharmacy/suppliers/usual",
    ] {
        let r = staff.post_form(setup, &[]).await;
        assert!(r.status == 303 || r.status == 200, "{setup}: {}", r.status);
    }
    let r = staff
        .post_form(
            "/pharmacy/receipts",
            &[
                ("token", "walk-receipt-0001"),
                ("store", "2"),
                ("supplier", "1"),
                ("reference", "KEMSA 4471"),
                ("received_on", ""),
                ("drug", "1"),
                ("batch_no", "B-100"),
                ("expiry", "12/2029"),
                ("quantity", "500"),
                ("unit_cost", "2.50"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "receipt: {}", r.body);
    let at = r.location().expect("the receipt's address");
    at.rsplit('/')
        .next()
        .unwrap()
        .parse()
        .expect("a receipt id")
}

/// The pages a person reaches beyond the bare routes: searches, filters, forms half filled,
/// refused input, error pages.
fn more_pages(r: &Records) -> Vec<String> {
    let (p, o, c) = (r.patient, r.other, r.clinic);
    let monday = iso(next_monday());
    vec![
        "/patients?q=amina".into(),
        format!("/patients/{}", r.moved),
        "/patients?q=0712".into(),
        "/patients?q=zzzz".into(),
        format!("/patients/{p}/merge?q=baraka"),
        format!("/patients/{p}/identifiers/remove?type=national_id"),
        format!("/visits/checkin?patient={p}"),
        format!("/visits/checkin?patient={o}"),
        "/visits/checkin?q=amina".into(),
        format!("/appointments/book?patient={o}"),
        format!("/appointments/book?patient={o}&clinic={c}&day={monday}"),
        format!("/appointments/book?patient={o}&clinic={c}&day={monday}&clinician=1"),
        format!("/appointments?day={monday}"),
        format!("/appointments?day={monday}&clinic={c}"),
        "/appointments?day=31/02/2026".into(),
        format!("/audit?patient={}", r.number),
        "/audit?action=patient.register".into(),
        "/audit?from=31/02/2026".into(),
        format!("/audit/patients?q={}", r.number),
        "/audit/patients?q=P-99-99999".into(),
        format!("/display/{}?live=1", r.display_key),
        "/patients/999999".into(),
        "/appointments/999999".into(),
        "/no/such/page".into(),
    ]
}

each_backend! {
    async fn every_page_of_every_module_speaks_kiswahili_and_shows_dates_the_kenyan_way(app) {
        app.setup_admin().await;
        app.add_user("mwanaidi", &["admin", "receptionist", "nurse", "doctor", "pharmacist"]).await;
        let staff = app.client();
        staff.set_cookie(hms_core::http::LANG_COOKIE, "sw");
        assert_eq!(staff.login("mwanaidi", hms_testkit::PASSWORD).await.status, 303);
        let records = fill_the_facility(&app, &staff).await;

        let mut pages: Vec<String> = hms_web::routes(&app.app)
            .iter()
            .filter(|s| s.method == Method::GET)
            .filter(|s| s.access != Access::Public || s.path == "/display/:key")
            .filter_map(|s| records.address(s.path))
            .collect();
        pages.extend(more_pages(&records));

        let english = english_texts();
        assert!(english.len() > 300, "the English catalogue is read ({} texts)", english.len());
        let receptionist = {
            app.add_user("mapokezi", &["receptionist"]).await;
            let c = app.client();
            c.set_cookie(hms_core::http::LANG_COOKIE, "sw");
            c.login("mapokezi", hms_testkit::PASSWORD).await;
            c
        };
        let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let read = |page: String, body: &str, found: &mut BTreeMap<String, Vec<String>>| {
            let text = visible_text(body);
            let mut problems: Vec<String> = english
                .iter()
                .filter(|(_, en)| has_words(&text, en))
                .map(|(key, en)| format!("{key}: {en}"))
                .collect();
            // English month and weekday abbreviations, where Kiswahili writes them otherwise.
            for word in ["Mar", "May", "Aug", "Oct", "Dec", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
                if has_words(&text, word) {
                    problems.push(format!("an English date: {word}"));
                }
            }
            if let Some(date) = iso_date_in(&text) {
                problems.push(format!("a stored date on screen: {date}"));
            }
            if !problems.is_empty() {
                problems.sort();
                problems.dedup();
                found.insert(page, problems);
            }
        };
        let mut walked = 0;
        for page in &pages {
            for htmx in [false, true] {
                let r = if htmx { staff.get_htmx(page).await } else { staff.get(page).await };
                assert!(r.status < 500, "{page}: {}", r.status);
                if r.status == 303 {
                    continue;
                }
                walked += 1;
                read(format!("{page}{}", if htmx { " (htmx)" } else { "" }), &r.body, &mut found);
            }
        }
        // A page someone may not open.
        let refused = receptionist.get("/admin/users").await;
        assert_eq!(refused.status, 403);
        read("/admin/users as a receptionist".into(), &refused.body, &mut found);

        // Forms sent back with what was wrong, beside the fields.
        staff.get("/patients/new").await;
        let bad = staff.post_form("/patients", &[
            ("first_name", ""), ("last_name", "K"), ("sex", ""), ("date_of_birth", "31/02/1990"),
            ("phone", "0812"), ("id_type", "national_id"), ("id_number", "12"), ("email", "amina@"),
        ]).await;
        assert_eq!(bad.status, 422);
        read("registration refused".into(), &bad.body, &mut found);
        let typed = staff.post_form("/patients", &[
            ("first_name", "Amina"), ("last_name", "Kamau"), ("sex", "female"), ("age_years", "200"),
            ("id_type", "none"), ("phone", "0712 345 678"),
        ]).await;
        read("registration with an age and a possible duplicate".into(), &typed.body, &mut found);
        staff.get(&format!("/patients/{}/edit", records.patient)).await;
        let edit = staff.post_form(&format!("/patients/{}", records.patient), &[("first_name", "")]).await;
        read("edit refused".into(), &edit.body, &mut found);
        staff.get(&format!("/visits/checkin?patient={}", records.other)).await;
        let check_in = staff.post_form("/visits", &[("patient", &records.other.to_string())]).await;
        read("check-in refused".into(), &check_in.body, &mut found);
        staff.get("/appointments/book").await;
        let book = staff.post_form("/appointments", &[("patient", &records.other.to_string()), ("clinic", &records.clinic.to_string()), ("day", "31/02/2026")]).await;
        read("booking refused".into(), &book.body, &mut found);
        staff.get("/schedules").await;
        let clinic = staff.post_form("/schedules/clinics", &[("name", ""), ("booking", "day"), ("daily_capacity", "0")]).await;
        read("clinic refused".into(), &clinic.body, &mut found);
        staff.get("/admin/users/new").await;
        let user = staff.post_form("/admin/users", &[("username", "x"), ("full_name", "")]).await;
        read("new user refused".into(), &user.body, &mut found);

        assert!(walked > 60, "pages walked: {walked}");
        assert!(
            found.is_empty(),
            "English or stored dates on Kiswahili pages:\n{}",
            found.iter().map(|(page, p)| format!("{page}\n    {}", p.join("\n    "))).collect::<Vec<_>>().join("\n")
        );
        // The refused registration says it in Kiswahili, beside the field.
        let phone = hms_core::i18n::t_in("sw", "phone.format");
        assert!(bad.body.contains(&phone) || bad.body.contains(&phone.replace('+', "&#x2B;")), "the phone message in Kiswahili: {phone}");

    }

    async fn a_date_field_takes_the_day_first_and_refuses_a_day_that_does_not_exist(app) {
        let admin = app.setup_admin().await;
        // The date of birth at registration.
        let form = admin.get("/patients/new").await;
        assert!(!form.body.contains("type=\"date\""), "a text field, whatever the browser's language");
        assert!(form.body.contains("dd/mm/yyyy"), "the format is shown as a hint");
        for typed in ["7/12/2025", "07-12-2025", "2025-12-07"] {
            let r = admin.post_form("/patients", &[
                ("first_name", "Zawadi"), ("last_name", "Achieng"), ("sex", "female"),
                ("date_of_birth", typed), ("id_type", "none"), ("phone", ""), ("register_anyway", "1"),
            ]).await;
            assert_eq!(r.status, 303, "{typed}: {}", r.body);
            let chart = visible_text(&admin.get(r.location().unwrap()).await.body);
            assert!(chart.contains("07 Dec 2025"), "{typed} is read as 7 December: {chart}");
            assert!(iso_date_in(&chart).is_none(), "no stored date on the chart: {chart}");
        }
        let r = admin.post_form("/patients", &[
            ("first_name", "Zawadi"), ("last_name", "Achieng"), ("sex", "female"),
            ("date_of_birth", "31/02/2026"), ("id_type", "none"), ("phone", ""), ("register_anyway", "1"),
        ]).await;
        assert_eq!(r.status, 422);
        let text = visible_text(&r.body);
        assert!(text.contains("There is no 31 February 2026"), "{text}");

        // The audit log's filter: the same dates, and the same refusal.
        let log = admin.get("/audit").await;
        assert!(!log.body.contains("type=\"date\""), "the audit filter takes typed dates");
        for typed in ["7/12/2026", "07-12-2026", "2026-12-07"] {
            let r = admin.get(&format!("/audit?from={typed}&to={typed}")).await;
            assert_eq!(r.status, 200);
            let kept = if typed == "2026-12-07" { "07/12/2026" } else { typed };
            assert!(r.body.contains(&format!("value=\"{kept}\"")), "{typed} is shown as {kept}");
            assert!(!visible_text(&r.body).contains("There is no"), "{typed} is accepted");
        }
        let r = admin.get("/audit?from=31/02/2026").await;
        let text = visible_text(&r.body);
        assert!(text.contains("There is no 31 February 2026"), "{text}");
    }
}

/// In a real browser (whose own date fields would follow its en-US language and ask for
/// mm/dd/yyyy), a receptionist working in Kiswahili types the date of birth day first, is told
/// plainly that 31/02/2026 does not exist, and reads the chart in Kiswahili with the date as
/// Kenyans write it; at a laptop's 1366 px and a phone's 390 px, and the same screens in English.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receptionist_types_dates_day_first_and_reads_kiswahili_in_a_real_browser() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    app.setup_admin().await;
    app.add_user("mwanaidi", &["receptionist"]).await;
    let mut tx = app.db().begin().await.unwrap();
    sqlx::query("UPDATE users SET language = 'sw' WHERE username = 'mwanaidi'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    in_browser(&tools, &app, "swahili", |driver, base_url, shots| async move {
        register_day_first(&driver, &base_url, &shots).await
    })
    .await;
}

async fn register_day_first(driver: &WebDriver, base: &str, shots: &Path) -> WebDriverResult<()> {
    for (user, lang, name, born, shown, kind, age) in [
        (
            "mwanaidi",
            "sw",
            "Zawadi Achieng",
            "7/12/2025",
            "07 Des 2025",
            "Cheti cha kuzaliwa",
            "miezi 12",
        ),
        (
            "admin",
            "en",
            "Baraka Otieno",
            "07-12-2025",
            "07 Dec 2025",
            "Birth certificate",
            "12 m",
        ),
    ] {
        driver.goto(format!("{base}/login")).await?;
        sign_in(driver, user, hms_testkit::PASSWORD).await?;
        wait_for_path(driver, "/").await?;
        driver.goto(format!("{base}/patients/new")).await?;
        let field = driver.find(By::Id("date_of_birth")).await?;
        assert_eq!(
            field.attr("type").await?.as_deref(),
            Some("text"),
            "a text field, not the browser's date picker"
        );
        let (first, last) = name.split_once(' ').expect("first and last name");
        fill(driver, "first_name", first).await?;
        fill(driver, "last_name", last).await?;
        click(driver, "#sex-female").await?;
        select_value(driver, "id_type", "none").await?;
        fill(driver, "date_of_birth", "31/02/2026").await?;
        submit(driver).await?;
        let refused = wait_for_text(driver, "#date_of_birth-error", |t| !t.is_empty()).await?;
        let month = if lang == "sw" {
            "Hakuna tarehe 31 Februari 2026"
        } else {
            "There is no 31 February 2026"
        };
        assert!(refused.contains(month), "{refused}");
        // The refusal is a 422, which the console reports; nothing else may be there.
        let logged = console_problems(driver, "the refused form").await?;
        assert!(
            logged.iter().all(|e| e.message.contains("422")),
            "{}",
            describe(&logged)
        );
        screenshot_fits(driver, shots, &format!("swahili-refused-{lang}-1366.png")).await?;
        viewport(driver, 390, 844).await?;
        screenshot_fits(driver, shots, &format!("swahili-refused-{lang}-390.png")).await?;
        viewport(driver, 1366, 768).await?;

        fill(driver, "date_of_birth", born).await?;
        submit(driver).await?;
        wait_until_path(driver, "the new chart", |p| {
            p.starts_with("/patients/") && p != "/patients/new"
        })
        .await?;
        let chart = page_text(driver).await?;
        assert!(chart.contains(shown), "{born} shown as {shown}:\n{chart}");
        assert!(
            chart.contains(kind) && chart.contains(age),
            "identifier kinds and age in {lang}:\n{chart}"
        );
        assert!(
            iso_date_in(&chart).is_none(),
            "no stored date on the chart:\n{chart}"
        );
        screenshot_fits(driver, shots, &format!("swahili-chart-{lang}-1366.png")).await?;
        viewport(driver, 390, 844).await?;
        screenshot_fits(driver, shots, &format!("swahili-chart-{lang}-390.png")).await?;
        viewport(driver, 1366, 768).await?;
        assert_clean_console(driver, "the chart").await?;
        click(driver, "form[action='/logout'] button[type=submit]").await?;
        wait_for_path(driver, "/login").await?;
    }
    Ok(())
}
