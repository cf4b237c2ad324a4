//! Check-in and service-point queues as a facility runs them: reception checks patients in with
//! the day's token, triage and the consultation room call, serve and send them on, a patient who
//! leaves is recorded, and the waiting-room TV shows token numbers at a secret address. Two
//! desks acting at the same moment never check in one patient twice or call one patient twice.

use chrono::Utc;
use hms_testkit::domain::*;
use hms_testkit::{each_backend, Client, TestApp, TestResponse};
use sqlx::Row;

/// Registers a patient (no document) born on `dob`; returns the id.
async fn patient(c: &Client, first: &str, last: &str, dob: &str) -> i64 {
    c.get("/patients/new").await;
    let r = c
        .post_form(
            "/patients",
            &[
                ("first_name", first),
                ("last_name", last),
                ("sex", "female"),
                ("date_of_birth", dob),
                ("id_type", "none"),
                ("register_anyway", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location()
        .unwrap()
        .trim_start_matches("/patients/")
        .parse()
        .unwrap()
}

async fn token_of(app: &TestApp, visit: i64) -> i64 {
    sqlx::query("SELECT token FROM visits WHERE id = $1")
        .bind(visit)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

/// The visit's entry at a point: (id, state).
async fn entry_at(app: &TestApp, visit: i64, point: &str) -> (i64, String) {
    let r = sqlx::query(
        "SELECT e.id, e.state FROM queue_entries e JOIN service_points s ON s.id = e.service_point_id \
         WHERE e.visit_id = $1 AND s.code = $2 ORDER BY e.id DESC LIMIT 1",
    )
    .bind(visit)
    .bind(point)
    .fetch_one(app.db().read())
    .await
    .expect("an entry at the point");
    (r.get(0), r.get(1))
}

async fn visit_status(app: &TestApp, visit: i64) -> String {
    sqlx::query("SELECT status FROM visits WHERE id = $1")
        .bind(visit)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

/// Audit details of an action, oldest first.
async fn details(app: &TestApp, action: &str) -> Vec<String> {
    sqlx::query("SELECT detail FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(app.db().read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect()
}

/// Presses "Call next" at a point and returns the queue page it leads to.
async fn call_next(c: &Client, point: &str) -> TestResponse {
    c.get(&format!("/queues/{point}")).await;
    let r = c.post_form(&format!("/queues/{point}/call"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    c.get(r.location().unwrap()).await
}

async fn desk_and_nurse(app: &TestApp) -> (Client, Client) {
    app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    app.add_user("nurse", &["nurse"]).await;
    (app.login("desk").await, app.login("nurse").await)
}

each_backend! {
    async fn walk_ins_get_tokens_one_then_two_and_a_second_check_in_the_same_day_is_refused(app) {
        let (desk, _) = desk_and_nurse(&app).await;
        let amina = patient(&desk, "Amina", "Kamau", "1990-05-31").await;
        let baraka = patient(&desk, "Baraka", "Otieno", "1985-01-10").await;

        // Reception finds her by name as it types; the results link to her check-in form.
        let found = desk.get_htmx("/visits/checkin?q=kamau").await;
        assert!(found.body.trim_start().starts_with("<div id=\"checkin-results\""), "{}", found.body);
        assert!(found.body.contains(&format!("/visits/checkin?patient={amina}")) && !found.body.contains("Otieno"));

        let form = desk.get(&format!("/visits/checkin?patient={amina}")).await;
        assert_eq!(form.status, 200);
        assert!(form.body.contains("Amina Kamau") && form.body.contains("M-Pesa") && form.body.contains("SHA"));

        // Who pays must be chosen.
        let r = desk.post_form("/visits", &[("patient", &amina.to_string()), ("point", "triage"), ("priority", "")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("Choose who pays for the visit."));

        let first = visit_id(&submit_check_in(&desk, amina, "triage", "").await);
        let second = visit_id(&submit_check_in(&desk, baraka, "triage", "").await);
        assert_eq!(token_of(&app, first).await, 1);
        assert_eq!(token_of(&app, second).await, 2);

        let slip = desk.get(&format!("/visits/{first}/slip")).await;
        assert_eq!(slip.status, 200);
        assert!(slip.body.contains("class=\"slip-token\">1<") && slip.body.contains("Triage room"));
        assert!(slip.body.contains("data-print") && !slip.body.contains("Amina"), "token slip without the name");

        // The same patient again the same day: refused, with the token she already has.
        let again = submit_check_in(&desk, amina, "triage", "").await;
        assert_eq!(again.status, 409);
        assert!(again.body.contains("already checked in today (token 1)"), "{}", again.body);
        assert!(again.body.contains(&format!("/visits/{first}/slip")));
        let visits: i64 = sqlx::query("SELECT COUNT(*) FROM visits").fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(visits, 2);

        // Audited without names.
        let checkins = details(&app, "visit.checkin").await;
        assert_eq!(checkins.len(), 2);
        assert!(checkins[0].contains("\"token\":1") && checkins[0].contains("\"payer\":\"cash\""));
        assert!(!checkins.iter().any(|d| d.contains("Amina") || d.contains("Kamau")));
    }

    async fn ten_desks_checking_in_at_once_get_distinct_tokens(app) {
        let (desk, _) = desk_and_nurse(&app).await;
        let mut patients = Vec::new();
        for n in 0..10 {
            let last = ["Achieng", "Barasa", "Chege", "Dida", "Ekai", "Fundi", "Gitau", "Halake", "Imani", "Jeptoo"][n];
            patients.push(patient(&desk, "Neema", last, "1992-03-04").await);
        }
        let mut tasks = Vec::new();
        for p in patients {
            let c = app.login("desk").await;
            c.get(&format!("/visits/checkin?patient={p}")).await;
            tasks.push(tokio::spawn(async move {
                c.post_form("/visits", &[("patient", &p.to_string()), ("payer", "mpesa"), ("point", "triage"), ("priority", "")])
                    .await
                    .status
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 303);
        }
        let mut tokens: Vec<i64> = sqlx::query("SELECT token FROM visits ORDER BY token")
            .fetch_all(app.db().read()).await.unwrap().into_iter().map(|r| r.get(0)).collect();
        tokens.dedup();
        assert_eq!(tokens, (1..=10).collect::<Vec<i64>>());
        let waiting: i64 = sqlx::query("SELECT COUNT(*) FROM queue_entries WHERE state = 'waiting'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(waiting, 10);
    }

    async fn five_desks_checking_in_the_same_patient_at_once_make_one_visit(app) {
        let (desk, _) = desk_and_nurse(&app).await;
        let p = patient(&desk, "Wairimu", "Kinyua", "1983-03-13").await;
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let c = app.login("desk").await;
            c.get(&format!("/visits/checkin?patient={p}")).await;
            tasks.push(tokio::spawn(async move {
                let r = c.post_form("/visits", &[("patient", &p.to_string()), ("payer", "cash"), ("point", "triage"), ("priority", "")]).await;
                (r.status, r.body.contains("already checked in today") || r.body.contains("checked in a moment ago"))
            }));
        }
        let mut made = 0;
        for t in tasks {
            match t.await.unwrap() {
                (303, _) => made += 1,
                (409, true) => {}
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert_eq!(made, 1);
        let visits: i64 = sqlx::query("SELECT COUNT(*) FROM visits").fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(visits, 1);
        assert_eq!(app.audit_count("visit.checkin").await, 1);
    }

    async fn call_next_takes_emergencies_then_other_priorities_then_the_longest_waiting(app) {
        let (desk, nurse) = desk_and_nurse(&app).await;
        let a = patient(&desk, "Akinyi", "Odhiambo", "1990-01-01").await;
        let b = patient(&desk, "Bahati", "Mwende", "1991-02-02").await;
        let c = patient(&desk, "Chausiku", "Njeri", "1992-03-03").await;
        let d = patient(&desk, "Dalmas", "Kiprono", "1993-04-04").await;
        let ta = token_of(&app, visit_id(&submit_check_in(&desk, a, "triage", "").await)).await;
        let tb = token_of(&app, visit_id(&submit_check_in(&desk, b, "triage", "pregnant").await)).await;
        let tc = token_of(&app, visit_id(&submit_check_in(&desk, c, "triage", "").await)).await;
        let td = token_of(&app, visit_id(&submit_check_in(&desk, d, "triage", "emergency").await)).await;

        for expected in [td, tb, ta, tc] {
            let page = call_next(&nurse, "triage").await;
            assert!(page.body.contains(&format!("Token {expected} called.")), "expected token {expected}: {}", page.body);
        }
        let page = call_next(&nurse, "triage").await;
        assert!(page.body.contains("Nobody is waiting."));
        assert_eq!(app.audit_count("queue.call").await, 4);
    }

    async fn the_birth_date_suggests_a_priority_at_check_in(app) {
        let (desk, _) = desk_and_nurse(&app).await;
        let elderly = patient(&desk, "Wanjiku", "Mzee", "1940-06-01").await;
        let child = {
            let dob = (Utc::now() - chrono::Duration::days(400)).format("%Y-%m-%d").to_string();
            patient(&desk, "Toto", "Mdogo", &dob).await
        };
        let form = desk.get(&format!("/visits/checkin?patient={elderly}")).await;
        assert!(form.body.contains("<option value=\"elderly\" selected>"), "{}", form.body);
        let form = desk.get(&format!("/visits/checkin?patient={child}")).await;
        assert!(form.body.contains("<option value=\"under_five\" selected>"));
    }

    async fn staff_calling_at_the_same_moment_never_get_the_same_patient(app) {
        let (desk, _) = desk_and_nurse(&app).await;
        for (n, last) in ["Langat", "Maina", "Nduta"].iter().enumerate() {
            let p = patient(&desk, "Zawadi", last, &format!("198{n}-07-07")).await;
            visit_id(&submit_check_in(&desk, p, "triage", "").await);
        }
        let mut tasks = Vec::new();
        for n in 0..5 {
            let name = format!("nurse{n}");
            app.add_user(&name, &["nurse"]).await;
            let c = app.login(&name).await;
            c.get("/queues/triage").await;
            tasks.push(tokio::spawn(async move {
                let r = c.post_form("/queues/triage/call", &[]).await;
                assert_eq!(r.status, 303);
                let page = c.get("/queues/triage").await;
                // The success message of a call (a lost race says nobody is waiting).
                page.body.contains("alert-success")
            }));
        }
        let mut called = 0;
        for t in tasks {
            if t.await.unwrap() {
                called += 1;
            }
        }
        assert_eq!(called, 3, "three patients, three calls");
        let rows = sqlx::query("SELECT entity_id FROM audit_log WHERE action = 'queue.call'")
            .fetch_all(app.db().read()).await.unwrap();
        let mut ids: Vec<String> = rows.into_iter().map(|r| r.get(0)).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "each entry called once");
        let states: i64 = sqlx::query("SELECT COUNT(*) FROM queue_entries WHERE state = 'called'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(states, 3);
    }

    async fn transitions_are_guarded_and_a_refused_one_changes_nothing(app) {
        let (desk, nurse) = desk_and_nurse(&app).await;
        let p = patient(&desk, "Imani", "Wekesa", "1988-08-08").await;
        let visit = visit_id(&submit_check_in(&desk, p, "triage", "").await);
        let (entry, state) = entry_at(&app, visit, "triage").await;
        assert_eq!(state, "waiting");
        nurse.get("/queues/triage").await;

        // Serving or completing a patient who was not called is refused.
        for action in ["serve", "complete"] {
            let r = nurse.post_form(&format!("/queues/triage/entries/{entry}/{action}"), &[]).await;
            assert_eq!(r.status, 303);
            let page = nurse.get("/queues/triage").await;
            assert!(page.body.contains("Someone else acted on this patient first"), "{action}");
        }
        let r = nurse.post_form(&format!("/queues/triage/entries/{entry}/send"), &[("point", "consultation")]).await;
        assert_eq!(r.status, 303);
        assert_eq!(entry_at(&app, visit, "triage").await.1, "waiting");
        assert_eq!(app.audit_count("queue.serve").await + app.audit_count("queue.send").await + app.audit_count("visit.complete").await, 0);
        assert_eq!(visit_status(&app, visit).await, "open");

        // A form of another point's screen cannot act on this patient.
        let r = nurse.post_form(&format!("/queues/laboratory/entries/{entry}/left"), &[]).await;
        assert_eq!(r.status, 404);
        assert_eq!(entry_at(&app, visit, "triage").await.1, "waiting");

        // Called once, it can be served once.
        call_next(&nurse, "triage").await;
        let r = nurse.post_form(&format!("/queues/triage/entries/{entry}/serve"), &[]).await;
        assert_eq!(r.status, 303);
        assert_eq!(entry_at(&app, visit, "triage").await.1, "serving");
        nurse.post_form(&format!("/queues/triage/entries/{entry}/serve"), &[]).await;
        assert_eq!(app.audit_count("queue.serve").await, 1);
    }

    async fn triage_sends_the_patient_to_consultation_and_the_doctor_completes_the_visit(app) {
        let (desk, nurse) = desk_and_nurse(&app).await;
        app.add_user("daktari", &["doctor"]).await;
        let doctor = app.login("daktari").await;
        let p = patient(&desk, "Faith", "Chebet", "1979-09-09").await;
        let visit = visit_id(&submit_check_in(&desk, p, "triage", "").await);
        let (triage_entry, _) = entry_at(&app, visit, "triage").await;

        call_next(&nurse, "triage").await;
        nurse.post_form(&format!("/queues/triage/entries/{triage_entry}/serve"), &[]).await;
        let page = nurse.get("/queues/triage").await;
        assert!(page.body.contains(&format!("/queues/triage/entries/{triage_entry}/send")), "a patient being served can be sent on");
        let r = nurse.post_form(&format!("/queues/triage/entries/{triage_entry}/send"), &[("point", "consultation")]).await;
        assert_eq!(r.status, 303);
        assert!(nurse.get("/queues/triage").await.body.contains("sent to Consultation"));
        assert_eq!(entry_at(&app, visit, "triage").await.1, "done");
        let (consult_entry, state) = entry_at(&app, visit, "consultation").await;
        assert_eq!(state, "waiting");

        let queue = doctor.get("/queues/consultation").await;
        assert!(queue.body.contains("Faith Chebet"), "the doctor sees who is waiting");
        call_next(&doctor, "consultation").await;
        doctor.post_form(&format!("/queues/consultation/entries/{consult_entry}/serve"), &[]).await;
        let r = doctor.post_form(&format!("/queues/consultation/entries/{consult_entry}/complete"), &[]).await;
        assert_eq!(r.status, 303);
        assert_eq!(entry_at(&app, visit, "consultation").await.1, "done");
        assert_eq!(visit_status(&app, visit).await, "completed");
        assert!(!doctor.get("/queues/consultation").await.body.contains("Faith Chebet"));

        let sends = details(&app, "queue.send").await;
        assert_eq!(sends.len(), 1);
        assert!(sends[0].contains("\"from\":\"triage\"") && sends[0].contains("\"to\":\"consultation\""));
        assert_eq!(app.audit_count("visit.complete").await, 1);
        let patient_rows: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE patient_id = $1 AND action LIKE 'queue.%'")
            .bind(p).fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(patient_rows, 5, "call, serve, send, call, serve: each on the patient's record");

        // Completed, the patient may be checked in again the same day (she came back).
        let again = submit_check_in(&desk, p, "triage", "").await;
        assert_eq!(again.status, 303);
    }

    async fn a_patient_who_left_without_being_seen_is_recorded(app) {
        let (desk, nurse) = desk_and_nurse(&app).await;
        let p = patient(&desk, "Grace", "Auma", "1995-05-05").await;
        let visit = visit_id(&submit_check_in(&desk, p, "triage", "").await);
        let (entry, _) = entry_at(&app, visit, "triage").await;
        nurse.get("/queues/triage").await;
        let r = nurse.post_form(&format!("/queues/triage/entries/{entry}/left"), &[]).await;
        assert_eq!(r.status, 303);
        let page = nurse.get("/queues/triage").await;
        assert!(page.body.contains("left without being seen") && !page.body.contains("Grace Auma"));
        assert_eq!(entry_at(&app, visit, "triage").await.1, "left");
        assert_eq!(visit_status(&app, visit).await, "left");
        let left = details(&app, "queue.left").await;
        assert_eq!(left.len(), 1);
        assert!(left[0].contains("\"was\":\"waiting\"") && !left[0].contains("Grace"));
        // Recording it twice changes nothing.
        nurse.post_form(&format!("/queues/triage/entries/{entry}/left"), &[]).await;
        assert_eq!(app.audit_count("queue.left").await, 1);
    }

    async fn who_may_check_in_and_who_may_call(app) {
        let (desk, _) = desk_and_nurse(&app).await;
        app.add_user("maabara", &["lab_tech"]).await;
        let lab = app.login("maabara").await;
        let p = patient(&desk, "Hawa", "Ali", "1999-09-19").await;
        visit_id(&submit_check_in(&desk, p, "laboratory", "").await);

        // The lab technologist calls at the laboratory but does not check patients in.
        let page = call_next(&lab, "laboratory").await;
        assert!(page.body.contains("Token 1 called."));
        assert_eq!(lab.get("/visits/checkin").await.status, 403);
        let r = lab.post_form("/visits", &[("patient", &p.to_string()), ("payer", "cash"), ("point", "triage"), ("priority", "")]).await;
        assert_eq!(r.status, 403);

        // Reception checks in but does not call.
        assert_eq!(desk.get("/queues/triage").await.status, 403);
        let r = desk.post_form("/queues/triage/call", &[]).await;
        assert_eq!(r.status, 403);
        assert_eq!(app.audit_count("queue.call").await, 1);
    }

    async fn the_waiting_room_screen_shows_tokens_without_login_never_names_and_dies_when_replaced(app) {
        let admin = app.setup_admin().await;
        app.add_user("desk", &["receptionist"]).await;
        app.add_user("nurse", &["nurse"]).await;
        let (desk, nurse) = (app.login("desk").await, app.login("nurse").await);
        let a = patient(&desk, "Mercy", "Wambui", "1990-10-10").await;
        let b = patient(&desk, "Joseph", "Kariuki", "1980-11-11").await;
        visit_id(&submit_check_in(&desk, a, "triage", "").await);
        visit_id(&submit_check_in(&desk, b, "triage", "").await);
        call_next(&nurse, "triage").await;

        assert_eq!(admin.get("/displays").await.status, 200);
        let made = admin.post_form("/queues/triage/display-key", &[]).await;
        assert_eq!(made.status, 200, "{}", made.body);
        let key = display_key(&made.body);
        let stored: String = sqlx::query("SELECT display_key_hash FROM service_points WHERE code = 'triage'")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_ne!(stored, key, "only the hash is stored");

        let tv = app.client();
        let screen = tv.get(&format!("/display/{key}")).await;
        assert_eq!(screen.status, 200);
        assert!(screen.body.contains("Now calling") && screen.body.contains("Triage room"));
        assert!(screen.body.contains("tv-token\">1<"), "token 1 is called");
        assert!(screen.body.contains("<li>2</li>"), "token 2 is next");
        for name in ["Mercy", "Wambui", "Joseph", "Kariuki"] {
            assert!(!screen.body.contains(name), "no names on the TV");
        }
        let live = tv.get_htmx(&format!("/display/{key}?live=1")).await;
        assert_eq!(live.status, 200);
        assert!(live.body.starts_with("\n  <div id=\"tv-live\"") || live.body.trim_start().starts_with("<div id=\"tv-live\""), "{}", live.body);
        assert!(!live.body.contains("<html"));

        // A new address ends the old one; a wrong key is simply not found.
        admin.get("/displays").await;
        let again = admin.post_form("/queues/triage/display-key", &[]).await;
        let new_key = display_key(&again.body);
        assert_eq!(tv.get(&format!("/display/{key}")).await.status, 404);
        assert_eq!(tv.get(&format!("/display/{new_key}")).await.status, 200);
        assert_eq!(tv.get(&format!("/display/{}", "0".repeat(64))).await.status, 404);
        admin.get("/displays").await;
        let r = admin.post_form("/queues/triage/display-key/revoke", &[]).await;
        assert_eq!(r.status, 303);
        assert_eq!(tv.get(&format!("/display/{new_key}")).await.status, 404);
        assert_eq!(app.audit_count("display.key_new").await, 2);
        assert_eq!(app.audit_count("display.key_revoke").await, 1);

        // Only administrators make addresses.
        assert_eq!(nurse.post_form("/queues/triage/display-key", &[]).await.status, 403);
    }

    async fn the_chart_timeline_shows_the_visit(app) {
        let (desk, _) = desk_and_nurse(&app).await;
        let p = patient(&desk, "Esther", "Nyambura", "1970-12-12").await;
        let before = desk.get("/patients?q=nyambura").await;
        assert!(before.body.contains("None yet"), "no visit yet in the search results");
        visit_id(&submit_check_in(&desk, p, "triage", "").await);
        let chart = desk.get(&format!("/patients/{p}")).await;
        assert!(chart.body.contains("Visit, token 1"), "{}", chart.body);
        // The search results show the day of the last visit.
        let today = hms_core::clock::to_local(chrono::Utc::now()).date_naive();
        let found = desk.get("/patients?q=nyambura").await;
        assert!(found.body.contains(&today.format("%d %b %Y").to_string()) && !found.body.contains("None yet"));
    }

    async fn names_are_escaped_on_the_queue_screen_and_reading_it_is_audited(app) {
        let (desk, nurse) = desk_and_nurse(&app).await;
        let p = patient(&desk, "Safari", "Mwangi", "1991-01-21").await;
        visit_id(&submit_check_in(&desk, p, "triage", "").await);
        // A name from an older system or a direct import, not typed through the form.
        sqlx::query("UPDATE patients SET first_name = '<script>alert(1)</script>' WHERE id = $1")
            .bind(p).execute(app.db().read()).await.unwrap();
        let before = app.audit_count("queue.view").await;
        let page = nurse.get("/queues/triage").await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<script>alert(1)</script>"));
        assert!(page.body.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;") || page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", page.body);
        // The polling refresh sends only the lists, and the view is recorded once.
        let live = nurse.get_htmx("/queues/triage?live=1").await;
        assert!(live.body.trim_start().starts_with("<div id=\"queue-live\""));
        assert!(!live.body.contains("<script>alert(1)</script>"));
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("queue.view").await, before + 1);
        let detail = details(&app, "queue.view").await.pop().unwrap();
        assert!(!detail.contains("Mwangi") && detail.contains("\"point\":\"triage\""));
    }

    async fn the_nurse_dashboard_shows_her_queue_with_waiting_times(app) {
        let (desk, nurse) = desk_and_nurse(&app).await;
        let p = patient(&desk, "Rehema", "Njoroge", "1940-02-02").await;
        visit_id(&submit_check_in(&desk, p, "triage", "elderly").await);
        let home = nurse.get("/").await;
        assert!(home.body.contains("hx-get=\"/cards/queues\""));
        let card = nurse.get_htmx("/cards/queues").await;
        assert_eq!(card.status, 200);
        assert!(card.body.contains("Your queue: Triage") && card.body.contains("Token 1"), "{}", card.body);
        assert!(card.body.contains("hx-get=\"/queues/triage\"") && card.body.contains("hx-target=\"#main\""));
        assert!(!card.body.contains("Rehema"), "the card shows tokens, not names");
        // The link the card swaps in is the queue screen's main area, not a whole page.
        let swapped = nurse.get_htmx("/queues/triage").await;
        assert!(swapped.body.contains("Call next") && !swapped.body.contains("<html"));
    }

    async fn a_booked_patient_arrives_and_the_appointment_is_marked_arrived(app) {
        let (desk, _) = desk_and_nurse(&app).await;
        let p = patient(&desk, "Lucy", "Atieno", "1987-07-17").await;
        let today = hms_core::clock::to_local(Utc::now()).date_naive().format("%Y-%m-%d").to_string();
        let now = hms_core::clock::now_rfc3339();
        let clinic: i64 = sqlx::query("INSERT INTO clinics (name, booking, created_at) VALUES ('MCH', 'day', $1) RETURNING id")
            .bind(&now).fetch_one(app.db().read()).await.unwrap().get(0);
        let appointment: i64 = sqlx::query(
            "INSERT INTO appointments (patient_id, clinic_id, day, status, created_at, updated_at) \
             VALUES ($1, $2, $3, 'booked', $4, $4) RETURNING id")
            .bind(p).bind(clinic).bind(&today).bind(&now)
            .fetch_one(app.db().read()).await.unwrap().get(0);
        let form = desk.get(&format!("/visits/checkin?appointment={appointment}")).await;
        assert!(form.body.contains("Lucy Atieno") && form.body.contains("MCH"));
        let r = desk.post_form("/visits", &[("patient", &p.to_string()), ("appointment", &appointment.to_string()),
            ("payer", "sha"), ("point", "triage"), ("priority", "pregnant")]).await;
        let visit = visit_id(&r);
        let row = sqlx::query("SELECT status FROM appointments WHERE id = $1").bind(appointment)
            .fetch_one(app.db().read()).await.unwrap();
        assert_eq!(row.get::<String, _>(0), "arrived");
        let linked: Option<i64> = sqlx::query("SELECT appointment_id FROM visits WHERE id = $1").bind(visit)
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(linked, Some(appointment));
    }
}

/// The display key in the "shown once" page.
fn display_key(body: &str) -> String {
    let at = body.find("/display/").expect("the address is shown") + "/display/".len();
    let key: String = body[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    assert_eq!(key.len(), 64, "a 256-bit key");
    key
}

each_backend! {
    async fn a_patient_with_an_estimated_age_shows_the_same_age_on_every_check_in_and_queue_screen(app) {
        let (desk, nurse) = desk_and_nurse(&app).await;
        desk.get("/patients/new").await;
        let r = desk
            .post_form(
                "/patients",
                &[
                    ("first_name", "Wanjirũ"),
                    ("last_name", "Mũthoni"),
                    ("sex", "female"),
                    ("age_years", "34"),
                    ("id_type", "none"),
                    ("register_anyway", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id: i64 = r.location().unwrap().trim_start_matches("/patients/").parse().unwrap();

        // The patients module's rules, everywhere: "~34 y" for an estimated birth date.
        let found = desk.get_htmx("/visits/checkin?q=wanjir").await;
        assert!(found.body.contains("~34 y"), "search results: {}", found.body);
        let form = desk.get(&format!("/visits/checkin?patient={id}")).await;
        assert!(form.body.contains("~34 y") && form.body.contains("Wanjirũ Mũthoni"), "check-in form: {}", form.body);
        let picked = desk.get(&format!("/appointments/book?patient={id}")).await;
        assert!(picked.body.contains("~34 y"), "booking: {}", picked.body);

        visit_id(&submit_check_in(&desk, id, "triage", "").await);
        let queue = nurse.get("/queues/triage").await;
        assert_eq!(queue.status, 200);
        assert!(queue.body.contains("~34 y") && queue.body.contains("Wanjirũ Mũthoni"), "queue: {}", queue.body);
    }
}

/// The queue listings read a point's first entries in calling order from the partial indexes
/// (the waiting, and those called or being served), never sorting every entry ever at the
/// point (SQLite shows its plan).
#[tokio::test]
async fn the_first_in_line_are_read_in_calling_order_from_indexes() {
    let app = TestApp::start(hms_testkit::Backend::Sqlite).await.unwrap();
    for (sql, index) in [
        (
            "EXPLAIN QUERY PLAN SELECT id FROM queue_entries WHERE service_point_id = 1 \
             AND state = 'waiting' ORDER BY priority DESC, enqueued_at, id LIMIT 100",
            "queue_entries_calling",
        ),
        (
            "EXPLAIN QUERY PLAN SELECT id FROM queue_entries WHERE service_point_id = 1 \
             AND state IN ('called', 'serving') ORDER BY called_at LIMIT 100",
            "queue_entries_in_service",
        ),
    ] {
        let plan: Vec<String> = sqlx::query(sql)
            .fetch_all(app.db().read())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(3))
            .collect();
        let plan = plan.join("; ");
        assert!(
            plan.contains(index) && !plan.contains("TEMP B-TREE"),
            "{plan}"
        );
    }
}
