//! Importing patients from a CSV file, as an administrator bringing in a paper register: upload,
//! a preview that says what would happen to every row (and registers nobody), the import, its
//! report, and importing the same rows again creating nobody twice.

use hms_testkit::{each_backend, Client, TestApp, TestResponse};
use poem::http::Method;
use sqlx::Row;

/// Uploads a file from the import screen, as a browser would.
async fn upload(c: &Client, file_name: &str, data: &[u8]) -> TestResponse {
    c.get("/patients/import").await;
    c.post_file("/patients/import", "file", file_name, data)
        .await
}

/// Uploads a file that must be accepted; returns the preview's address.
async fn staged(c: &Client, file_name: &str, data: &str) -> String {
    let r = upload(c, file_name, data.as_bytes()).await;
    assert_eq!(r.status, 303, "the upload leads to the preview: {}", r.body);
    let location = r.location().unwrap().to_string();
    assert!(location.starts_with("/patients/import/"), "{location}");
    location
}

/// Confirms the import of a previewed upload.
async fn import(c: &Client, preview: &str, fields: &[(&str, &str)]) -> TestResponse {
    c.get(preview).await;
    c.post_form(preview, fields).await
}

async fn scalar(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(app.db().read())
        .await
        .expect("query")
        .get(0)
}

async fn patients(app: &TestApp) -> i64 {
    scalar(app, "SELECT COUNT(*) FROM patients").await
}

/// Amina, registered at the desk before the import.
async fn register_amina(c: &Client) -> String {
    c.get("/patients/new").await;
    let r = c
        .post_form(
            "/patients",
            &[
                ("first_name", "Amina"),
                ("last_name", "Kamau"),
                ("sex", "female"),
                ("date_of_birth", "1990-05-31"),
                ("phone", "0712 345 678"),
                ("id_type", "national_id"),
                ("id_number", "12345678"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let chart = c.get(r.location().unwrap()).await;
    chart
        .body
        .split("<strong>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string()
}

/// A register as a clerk types it: a new patient with an old file number, Amina's ID card on
/// another name, a child on Amina's phone, a row with mistakes, and the first row again.
const REGISTER: &str = "\u{feff}File No,First name,Surname,Sex,Date of birth,Phone number,ID number,County,Allergies\r\n\
1001/2019,Baraka,Otieno,M,31/05/1990,0722 000 111,,Nairobi,Sulfa\r\n\
,Zawadi,Achieng,F,01/01/1985,,12345678,,\r\n\
,Wanjiru,Njeri,F,02/03/2020,0712345678,,047,\r\n\
,,K4mau,Q,31/13/1990,0812 000 000,,Atlantis,\r\n\
1001/2019,Baraka,Otieno,M,31/05/1990,0722 000 111,,Nairobi,Sulfa\r\n";

each_backend! {
    async fn the_preview_tells_each_rows_fate_and_registers_nobody(app) {
        let admin = app.setup_admin().await;
        let amina = register_amina(&admin).await;
        let preview = staged(&admin, "register.csv", REGISTER).await;
        assert_eq!(patients(&app).await, 1, "a preview registers nobody");
        let page = admin.get(&preview).await;
        assert_eq!(page.status, 200);
        let body = &page.body;
        assert!(body.contains("Check before importing"));
        assert!(
            body.contains("<a href=\"/patients/import\" aria-current=\"page\">")
                && !body.contains("<a href=\"/patients\" aria-current=\"page\">"),
            "the menu shows where the page is"
        );
        assert!(body.contains("Will be created") && body.contains("Baraka Otieno"));
        assert!(body.contains("Duplicate of") && body.contains(&amina), "Zawadi holds Amina's ID card");
        assert!(body.contains("same identity document or number"));
        assert!(body.contains("Possible duplicate of") && body.contains("same phone number"), "Wanjiru is on Amina's phone");
        assert!(body.contains("Duplicate of row 2"), "the repeated row");
        assert!(body.contains("Invalid"));
        for message in ["Enter the name", "Names may use", "Write F or M", "day/month/year", "Kenyan mobile", "or its code (047)"] {
            assert!(body.contains(message), "{message}");
        }
        assert!(body.contains("<code>Surname</code>"), "messages name the file's own columns");
        assert!(body.contains("Import 1 patients"), "only Baraka would be registered");
        // The figures: 1 to create, 2 duplicates, 1 possible, 1 invalid.
        let figures: Vec<&str> = body.split("<span class=\"figure\">").skip(1)
            .map(|s| s.split('<').next().unwrap()).collect();
        assert_eq!(figures, ["1", "2", "1", "0", "1", "5"], "create, duplicate, possible, already, invalid, rows");
        let problems = admin.get(&format!("{preview}?show=problems")).await;
        assert!(
            !problems.body.contains("<td>2</td>") && problems.body.contains("<td>6</td>"),
            "only the rows that would not be imported"
        );
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM patient_imports").await, 1, "the upload is staged");
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM patient_import_rows").await, 0);
        assert_eq!(app.audit_count("patient.import").await, 0);
        assert_eq!(app.audit_count("patient.import_preview").await, 1);
    }

    async fn the_import_registers_exactly_the_valid_rows(app) {
        let admin = app.setup_admin().await;
        register_amina(&admin).await;
        let preview = staged(&admin, "register.csv", REGISTER).await;
        let r = import(&admin, &preview, &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), Some(preview.as_str()));
        let report = admin.get(&preview).await;
        assert!(report.body.contains("Import finished: 1 patients registered."), "flash");
        assert!(report.body.contains("Import report") && report.body.contains("Created"));
        assert!(!report.body.contains("Import 1 patients"), "no second import from the report");
        assert_eq!(patients(&app).await, 2, "Amina and Baraka");

        let row = sqlx::query(
            "SELECT p.id, p.number, p.county_code, p.allergies, p.date_of_birth FROM patients p \
             JOIN patient_identifiers i ON i.patient_id = p.id \
             WHERE i.id_type = 'file_number' AND i.value = '1001/2019'")
            .fetch_one(app.db().read()).await.expect("Baraka holds the old file number");
        let (id, number): (i64, String) = (row.get(0), row.get(1));
        assert!(number.starts_with("P-"), "{number}");
        assert_eq!(row.get::<String, _>(2), "047");
        assert_eq!(row.get::<Option<String>, _>(3), None, "allergies are rows now");
        let allergen: String = sqlx::query_scalar("SELECT allergen FROM patient_allergies WHERE patient_id = $1")
            .bind(row.get::<i64, _>(0)).fetch_one(app.db().read()).await.unwrap();
        assert_eq!(allergen, "Sulfa");
        assert_eq!(row.get::<String, _>(4), "1990-05-31");
        assert!(report.body.contains(&format!("/patients/{id}\">{number}</a>")), "the report links the new record");
        let found = admin.get("/patients?q=barak+otie").await;
        assert!(found.body.contains(&format!("/patients/{id}\"")), "imported names are searchable");
        let by_file = admin.get("/patients?q=1001%2F2019").await;
        assert!(by_file.body.contains(&format!("/patients/{id}\"")), "and so is the old file number");

        assert_eq!(app.audit_count("patient.register").await, 2, "each imported patient has its register row");
        assert_eq!(app.audit_count("patient.import").await, 1);
        let detail: String = sqlx::query("SELECT detail FROM audit_log WHERE action = 'patient.import'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert!(detail.contains("\"created\":1") && detail.contains("register.csv") && detail.contains("file_sha256"));
        assert!(!detail.contains("Baraka") && !detail.contains("Otieno"), "no patient names: {detail}");
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM patient_import_rows WHERE patient_id IS NOT NULL").await, 1);

        // The same upload cannot be imported twice (a second click, another administrator).
        let again = import(&admin, &preview, &[]).await;
        assert_eq!(again.status, 303);
        assert!(admin.get(&preview).await.body.contains("already been imported"));
        assert_eq!(patients(&app).await, 2);
    }

    async fn possible_duplicates_are_imported_only_when_asked(app) {
        let admin = app.setup_admin().await;
        register_amina(&admin).await;
        let preview = staged(&admin, "register.csv", REGISTER).await;
        let page = admin.get(&preview).await;
        assert!(page.body.contains("Also import the 1 possible duplicates"));
        let r = import(&admin, &preview, &[("include_possible", "1")]).await;
        assert_eq!(r.status, 303);
        assert_eq!(patients(&app).await, 3, "Amina, Baraka and Wanjiru on her mother's phone");
        let shared: i64 = scalar(&app, "SELECT COUNT(*) FROM patients WHERE phone = '+254712345678'").await;
        assert_eq!(shared, 2);
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM patient_identifiers WHERE value = '12345678'").await, 1,
            "a taken ID card is never imported");
    }

    async fn importing_the_same_file_again_creates_nobody_and_says_so(app) {
        let admin = app.setup_admin().await;
        let first = staged(&admin, "register.csv", REGISTER).await;
        assert_eq!(import(&admin, &first, &[]).await.status, 303);
        let count = patients(&app).await;
        assert_eq!(count, 3, "Baraka, Zawadi and Wanjiru (no Amina at the desk this time)");

        let second = staged(&admin, "register-copy.csv", REGISTER).await;
        assert_ne!(first, second);
        let page = admin.get(&second).await;
        assert!(page.body.contains("This file was already imported on"), "{}", page.body);
        assert!(page.body.contains("Already imported"));
        assert!(page.body.contains("There is nothing to import from this file."));
        assert!(!page.body.contains("Import 0 patients"));
        // Even when pushed through, nobody is created twice.
        assert_eq!(import(&admin, &second, &[]).await.status, 303);
        assert_eq!(patients(&app).await, count);
        let report = admin.get(&second).await;
        assert!(report.body.contains("Import finished: 0 patients registered."));

        // Two administrators confirming the same upload at once import it once.
        let third = staged(&admin, "more.csv", "first_name,last_name,sex,age_years\nJuma,Mwangi,M,40\nAchieng,Odhiambo,F,22\n").await;
        let other = app.login("admin").await;
        other.get(&third).await;
        admin.get(&third).await;
        let (a, b) = tokio::join!(admin.post_form(&third, &[]), other.post_form(&third, &[]));
        assert_eq!((a.status, b.status), (303, 303));
        assert_eq!(patients(&app).await, count + 2);
        assert_eq!(app.audit_count("patient.import").await, 3);
    }

    async fn a_second_file_skips_the_row_it_shares_with_the_first(app) {
        let admin = app.setup_admin().await;
        let first = staged(&admin, "week1.csv",
            "first_name,last_name,sex,date_of_birth,phone\nJuma,Mwangi,M,1970-01-01,0733 111 222\nNeema,Wafula,F,1995-07-15,\n").await;
        assert_eq!(import(&admin, &first, &[]).await.status, 303);
        assert_eq!(patients(&app).await, 2);
        // The same person written again (spaces, another date format) and a new one.
        let second = staged(&admin, "week2.csv",
            "First Name,Last Name,Sex,DOB,Phone\n Neema ,Wafula,f,15/07/1995,\nOmondi,Ouma,M,1988-02-29,\n").await;
        let page = admin.get(&second).await;
        assert!(page.body.contains("Already imported") && page.body.contains("Will be created"));
        assert!(!page.body.contains("This file was already imported"), "another file");
        assert_eq!(import(&admin, &second, &[]).await.status, 303);
        assert_eq!(patients(&app).await, 3);
        let neema: i64 = scalar(&app, "SELECT COUNT(*) FROM patients WHERE first_name = 'Neema'").await;
        assert_eq!(neema, 1);
    }

    async fn only_administrators_may_import(app) {
        let admin = app.setup_admin().await;
        let preview = staged(&admin, "register.csv", REGISTER).await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let home = desk.get("/").await;
        assert!(!home.body.contains("/patients/import"), "no menu item");
        assert!(admin.get("/").await.body.contains("href=\"/patients/import\""), "the administrator's menu has it");
        for path in ["/patients/import", "/patients/import/template.csv", preview.as_str(), &format!("{preview}/report.csv")] {
            assert_eq!(desk.get(path).await.status, 403, "GET {path}");
        }
        desk.get("/patients/new").await;
        assert_eq!(desk.post_file("/patients/import", "file", "r.csv", REGISTER.as_bytes()).await.status, 403);
        assert_eq!(desk.post_form(&preview, &[]).await.status, 403);
        assert_eq!(patients(&app).await, 0);
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM patient_imports").await, 1, "only the administrator's upload");
    }

    async fn uploads_and_imports_without_the_csrf_token_are_refused(app) {
        let admin = app.setup_admin().await;
        admin.get("/patients/import").await;
        let boundary = "hms-test-boundary-no-token";
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\n").into_bytes();
        body.extend_from_slice(REGISTER.as_bytes());
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let r = admin.send(Method::POST, "/patients/import", &[("Content-Type", content_type.as_str())], body).await;
        assert_eq!(r.status, 403);
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM patient_imports").await, 0);
        let preview = staged(&admin, "register.csv", REGISTER).await;
        let r = admin.post_form_raw(&preview, &[]).await;
        assert_eq!(r.status, 403);
        let r = admin.post_form_raw(&preview, &[("csrf_token", "0123456789abcdef")]).await;
        assert_eq!(r.status, 403);
        assert_eq!(patients(&app).await, 0);
        assert_eq!(app.audit_count("patient.import").await, 0);
    }

    async fn files_that_cannot_be_read_get_a_clear_message_and_change_nothing(app) {
        let admin = app.setup_admin().await;
        let audit_before = app.count("audit_log").await;
        let mut too_many = String::from("first_name,last_name,sex,age_years\n");
        for _ in 0..20_001 {
            too_many.push_str("Juma,Mwangi,M,40\n");
        }
        let mut too_large = String::from("first_name,last_name,sex,age_years,notes\n");
        while too_large.len() <= 5 * 1024 * 1024 {
            too_large.push_str(&format!("Juma,Mwangi,M,40,{}\n", "x".repeat(500)));
        }
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("register.xlsx", b"PK\x03\x04\x14\x00\x06\x00workbook".to_vec(), "Excel workbook"),
            ("register.csv", b"first_name,last_name,sex,age_years\nJos\xe9,Kamau,M,40\n".to_vec(), "UTF-8"),
            ("register.csv", b"name,phone\nAmina Kamau,0712345678\n".to_vec(), "Missing: first_name, last_name, sex, date_of_birth"),
            ("register.csv", b"first_name,last_name,sex,dob\n".to_vec(), "no patients"),
            ("", Vec::new(), "Choose the CSV file"),
            ("empty.csv", Vec::new(), "The file is empty."),
            ("register.csv", b"first_name,last_name,sex,DOB,Date of birth\nA,B,F,1990-01-01,1990-01-01\n".to_vec(), "Two columns mean the same thing"),
            ("big.csv", too_many.into_bytes(), "more than 20000 patients"),
            ("huge.csv", too_large.into_bytes(), "larger than 5 MB"),
        ];
        for (name, data, message) in cases {
            let r = upload(&admin, name, &data).await;
            assert_eq!(r.status, 422, "{message}");
            assert!(r.body.contains(message), "{message}: {}", r.body);
            assert!(r.body.contains("Nothing was imported."));
            assert!(r.body.contains("aria-invalid=\"true\""), "the file field is marked");
        }
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM patient_imports").await, 0);
        assert_eq!(patients(&app).await, 0);
        assert_eq!(app.count("audit_log").await, audit_before);
    }

    async fn free_text_from_the_file_is_shown_escaped(app) {
        let admin = app.setup_admin().await;
        let file = "first_name,last_name,sex,age_years,allergies,ward,<b>Remarks</b>\n\
                    Juma,Mwangi,M,40,<script>alert('allergy')</script>,<img src=x onerror=alert(1)>,x\n\
                    <script>alert('name')</script>,Kamau,F,30,,,\n";
        let preview = staged(&admin, "<img src=x onerror=alert(2)>.csv", file).await;
        let page = admin.get(&preview).await;
        assert!(page.body.contains("&lt;script&gt;alert("), "the invalid name is shown, escaped");
        assert!(page.body.contains("&lt;img src=x onerror=alert(2)&gt;.csv"), "the file name, escaped");
        assert!(page.body.contains("&lt;b&gt;Remarks&lt;&#x2F;b&gt;") || page.body.contains("&lt;b&gt;Remarks&lt;/b&gt;"),
            "the ignored column, escaped");
        for raw in ["<script>alert", "<img src=x", "<b>Remarks"] {
            assert!(!page.body.contains(raw), "{raw} on the preview");
        }
        assert_eq!(import(&admin, &preview, &[]).await.status, 303);
        let report = admin.get(&preview).await;
        for raw in ["<script>alert", "<img src=x", "<b>Remarks"] {
            assert!(!report.body.contains(raw), "{raw} on the report");
        }
        let id: i64 = scalar(&app, "SELECT id FROM patients WHERE first_name = 'Juma'").await;
        let chart = admin.get(&format!("/patients/{id}")).await;
        assert!(!chart.body.contains("<script>alert") && !chart.body.contains("<img src=x"));
        assert!(chart.body.contains("&lt;script&gt;alert("), "the allergy is kept as written");
    }

    async fn the_report_download_defuses_spreadsheet_formulas(app) {
        let admin = app.setup_admin().await;
        let file = "first_name,last_name,sex,age_years\n\
                    \"=HYPERLINK(\"\"http://x\"\",\"\"a\"\")\",Kamau,F,30\n\
                    -Amina,Kamau,F,30\n\
                    @SUM(A1),Otieno,M,30\n\
                    +254,Otieno,M,31\n";
        let preview = staged(&admin, "formulas.csv", file).await;
        let csv = admin.get(&format!("{preview}/report.csv")).await;
        assert_eq!(csv.status, 200);
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        assert!(csv.header("content-disposition").unwrap().contains("attachment"));
        let text = csv.body.trim_start_matches('\u{feff}');
        assert!(text.starts_with("\"Row\",\"Name\",\"Outcome\",\"Patient number\",\"Details\"\r\n"), "{text}");
        for defused in ["\"'=HYPERLINK(\"\"http://x\"\"", "\"'-Amina Kamau\"", "\"'@SUM(A1) Otieno\"", "\"'+254 Otieno\""] {
            assert!(text.contains(defused), "{defused} in {text}");
        }
        for line in text.lines().skip(1) {
            for cell in line.split("\",\"") {
                let cell = cell.trim_start_matches('"');
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
            }
        }
        assert!(text.contains("Names may use"), "messages are in the report");
        assert_eq!(import(&admin, &preview, &[]).await.status, 303);
        let after = admin.get(&format!("{preview}/report.csv")).await;
        assert!(after.body.contains("\"Created\",\"P-"), "numbers of created patients: {}", after.body);
    }

    async fn the_template_names_every_column(app) {
        let admin = app.setup_admin().await;
        let page = admin.get("/patients/import").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("enctype=\"multipart/form-data\""));
        for column in ["file_number", "date_of_birth", "consent_contact", "DD/MM/YYYY"] {
            assert!(page.body.contains(column), "the help lists {column}");
        }
        let t = admin.get("/patients/import/template.csv").await;
        assert_eq!(t.status, 200);
        assert!(t.header("content-type").unwrap().starts_with("text/csv"));
        assert!(t.body.starts_with("\u{feff}file_number,first_name,middle_name,last_name,sex,date_of_birth,"));
        // The template itself, filled in, is accepted.
        let filled = format!("{}13939/2019/00012,Amina,,Kamau,F,31/05/1990,,,,,,,,,,,,,,,,,\n", t.body);
        let preview = staged(&admin, "template.csv", &filled).await;
        assert!(admin.get(&preview).await.body.contains("Import 1 patients"));
    }
}

each_backend! {
    async fn control_characters_in_a_cell_make_the_row_invalid_never_a_stored_nul(app) {
        let admin = app.setup_admin().await;
        // A NUL byte: the file is refused whole (a NUL is what a UTF-16 or binary file holds).
        let file = "first_name,last_name,sex,age_years,allergies\nJuma,Mwangi,M,40,pen\u{0}icillin\n";
        let r = upload(&admin, "register.csv", file.as_bytes()).await;
        assert!(r.status < 500 && r.body.contains("Nothing was imported"), "{} {}", r.status, r.body);
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM patient_imports").await, 0);
        // Another control character in a cell: that row is invalid, the others import.
        let file = "first_name,last_name,sex,age_years,allergies,ward\n\
                    Juma,Mwangi,M,40,pen\u{7}icillin,Kibra\n\
                    Achieng,Otieno,F,30,,Kibra\u{1b}West\n\
                    Baraka,Kiprop,M,20,,Kibra\n";
        let preview = staged(&admin, "register.csv", file).await;
        let page = admin.get(&preview).await;
        assert!(page.body.contains("invisible control character"), "the cell is named");
        assert!(page.body.contains("Import 1 patients"), "only Baraka");
        assert_eq!(import(&admin, &preview, &[]).await.status, 303);
        assert_eq!(patients(&app).await, 1);
    }
}
