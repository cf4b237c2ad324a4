//! Booking as reception does it: clinics and working hours set up by an administrator, free
//! slots around breaks, days off and holidays, clinic days with a capacity, and never a double
//! booking when many desks try the same slot or the last place at once.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use hms_testkit::domain::*;
use hms_testkit::{each_backend, Client, TestApp};
use sqlx::Row;

/// The next Monday after today (Nairobi), as YYYY-MM-DD.
fn next_monday() -> NaiveDate {
    let today = hms_core::clock::to_local(Utc::now()).date_naive();
    let ahead = 7 - i64::from(today.weekday().num_days_from_monday());
    today + Duration::days(ahead)
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

async fn scalar(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(app.db().read())
        .await
        .expect("query")
        .get(0)
}

/// An OPD clinic (30-minute slots) where a doctor works Mondays 08:00–12:00 with a 10:00–10:30
/// break, and an MCH clinic day on Mondays for `capacity` mothers. Returns (opd, mch, doctor).
async fn set_up(app: &TestApp, admin: &Client, capacity: &str) -> (i64, i64, i64) {
    let doctor = app.add_user("dr.otieno", &["doctor"]).await;
    let opd = add_clinic(
        admin,
        &[
            ("name", "OPD"),
            ("booking", "slots"),
            ("slot_minutes", "30"),
        ],
    )
    .await;
    add_hours(
        admin,
        opd,
        doctor,
        1,
        ("08:00", "12:00"),
        Some(("10:00", "10:30")),
    )
    .await;
    let mch = add_clinic(
        admin,
        &[
            ("name", "MCH"),
            ("booking", "day"),
            ("daily_capacity", capacity),
            ("weekday", "1"),
        ],
    )
    .await;
    (opd, mch, doctor)
}

each_backend! {
    async fn free_slots_follow_working_hours_breaks_days_off_and_holidays(app) {
        let admin = app.setup_admin().await;
        let (opd, _, doctor) = set_up(&app, &admin, "10").await;
        let p = register_quick(&admin, "Achieng", "Odhiambo", "0722000001").await;
        let monday = day(next_monday());
        let url = format!("/appointments/book?patient={p}&clinic={opd}&clinician={doctor}&day={monday}");
        let page = admin.get(&url).await;
        assert_eq!(page.status, 200);
        for free in ["08:00", "08:30", "09:00", "09:30", "10:30", "11:00", "11:30"] {
            assert!(page.body.contains(&format!(">{free}<")), "{free} offered");
        }
        assert!(!page.body.contains(">10:00<"), "the break is not offered");
        assert!(!page.body.contains(">12:00<"), "no slot runs past closing");
        // The HTMX request gets only the availability part.
        let part = admin.get_htmx(&url).await;
        assert!(part.body.contains("id=\"availability\"") && !part.body.contains("<form"));

        // A day off, then a declared holiday, close the day.
        let r = admin.post_form("/schedules/days-off", &[("off_clinician", &doctor.to_string()), ("off_day", &monday), ("off_reason", "Training")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(admin.get(&url).await.body.contains("off that day"));
        admin.post_form("/schedules/days-off/remove", &[("clinician", &doctor.to_string()), ("day", &monday)]).await;
        assert!(admin.get(&url).await.body.contains(">08:00<"), "free again");
        let r = admin.post_form("/schedules/holidays", &[("holiday_day", &monday), ("holiday_name", "Idd-ul-Fitr")]).await;
        assert_eq!(r.status, 303);
        let closed = admin.get(&url).await;
        assert!(closed.body.contains("Idd-ul-Fitr: the clinic is closed") && !closed.body.contains(">08:00<"));
        assert_eq!(app.audit_count("schedules.holiday_add").await, 1);
    }

    async fn a_slot_is_booked_once_and_freed_by_cancelling(app) {
        let admin = app.setup_admin().await;
        let (opd, mch, doctor) = set_up(&app, &admin, "10").await;
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        let first = register_quick(&desk, "Achieng", "Odhiambo", "0722000001").await;
        let second = register_quick(&desk, "Wambui", "Kariuki", "0722000002").await;
        let monday = day(next_monday());
        desk.get("/appointments/book").await;
        let book = |p: i64| {
            let (opd, doctor, monday) = (opd.to_string(), doctor.to_string(), monday.clone());
            let desk = &desk;
            async move {
                desk.post_form("/appointments", &[("patient", &p.to_string()), ("clinic", &opd), ("clinician", &doctor),
                    ("day", &monday), ("slot", "480"), ("reason", "Review")]).await
            }
        };
        let r = book(first).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id: i64 = r.location().unwrap().rsplit('/').next().unwrap().parse().unwrap();
        let taken = book(second).await;
        assert_eq!(taken.status, 409);
        assert!(taken.body.contains("This slot was just taken, pick another"));
        // Cancelling needs a reason, then frees the slot.
        let r = desk.post_form(&format!("/appointments/{id}/cancel"), &[("cancel_reason", "")]).await;
        assert_eq!(r.status, 422);
        let r = desk.post_form(&format!("/appointments/{id}/cancel"), &[("cancel_reason", "Patient travelling")]).await;
        assert_eq!(r.status, 303);
        assert_eq!(book(second).await.status, 303, "a cancelled slot can be booked again");
        assert_eq!(app.audit_count("appointment.book").await, 2);
        // The chart timeline shows the appointment.
        let chart = desk.get(&format!("/patients/{second}")).await;
        assert!(chart.body.contains("OPD") && !chart.body.contains("No visits yet"));
        // The day list puts clinic-day bookings before the timed ones, on both databases.
        let r = desk.post_form("/appointments", &[("patient", &first.to_string()), ("clinic", &mch.to_string()), ("day", &monday)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let list = desk.get(&format!("/appointments?day={monday}")).await.body;
        let (clinic_day, timed) = (list.find(">Clinic day<").expect("clinic day row"), list.find(">08:00<").expect("08:00 row"));
        assert!(clinic_day < timed);
    }

    async fn twenty_desks_booking_one_slot_get_one_booking(app) {
        let admin = app.setup_admin().await;
        let (opd, _, doctor) = set_up(&app, &admin, "10").await;
        let monday = day(next_monday());
        let mut patients = Vec::new();
        for n in 0..20 {
            patients.push(register_quick(&admin, "Pat", &format!("Mutua{}", ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","r","s","t"][n]), &format!("07220000{n:02}")).await);
        }
        let mut tasks = Vec::new();
        for p in patients {
            let c = app.login("admin").await;
            c.get("/appointments/book").await;
            let (opd, doctor, monday) = (opd.to_string(), doctor.to_string(), monday.clone());
            tasks.push(tokio::spawn(async move {
                let r = c.post_form("/appointments", &[("patient", &p.to_string()), ("clinic", &opd), ("clinician", &doctor), ("day", &monday), ("slot", "540")]).await;
                (r.status, r.body.contains("This slot was just taken, pick another"))
            }));
        }
        let mut booked = 0;
        for t in tasks {
            match t.await.unwrap() {
                (303, _) => booked += 1,
                (409, true) => {}
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert_eq!(booked, 1);
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM appointments WHERE status = 'booked'").await, 1);
    }

    async fn a_full_clinic_day_refuses_the_next_booking(app) {
        let admin = app.setup_admin().await;
        let (_, mch, _) = set_up(&app, &admin, "5").await;
        let monday = day(next_monday());
        let mut patients = Vec::new();
        for n in 0..12 {
            patients.push(register_quick(&admin, "Mama", &format!("Njeri{}", ["a","b","c","d","e","f","g","h","i","j","k","l"][n]), &format!("07330000{n:02}")).await);
        }
        let page = admin.get(&format!("/appointments/book?patient={}&clinic={mch}&day={monday}", patients[0])).await;
        assert!(page.body.contains("Places left that day:") && page.body.contains("<strong>5</strong>"));
        let mut tasks = Vec::new();
        for p in patients {
            let c = app.login("admin").await;
            c.get("/appointments/book").await;
            let (mch, monday) = (mch.to_string(), monday.clone());
            tasks.push(tokio::spawn(async move {
                let r = c.post_form("/appointments", &[("patient", &p.to_string()), ("clinic", &mch), ("day", &monday)]).await;
                (r.status, r.body.contains("This clinic day is full"))
            }));
        }
        let (mut booked, mut full) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                (303, _) => booked += 1,
                (409, true) => full += 1,
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert_eq!((booked, full), (5, 7));
        assert_eq!(scalar(&app, "SELECT booked FROM clinic_day_bookings").await, 5);
        // Tuesday is not a clinic day.
        let tuesday = day(next_monday() + Duration::days(1));
        let r = admin.post_form("/appointments", &[("patient", "1"), ("clinic", &mch.to_string()), ("day", &tuesday)]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("does not run on that day"));
    }

    async fn missed_appointments_are_listed_for_follow_up(app) {
        let admin = app.setup_admin().await;
        let (opd, _, doctor) = set_up(&app, &admin, "10").await;
        let p = register_quick(&admin, "Kamau", "Njoroge", "0711222333").await;
        let monday = day(next_monday());
        admin.get("/appointments/book").await;
        let r = admin.post_form("/appointments", &[("patient", &p.to_string()), ("clinic", &opd.to_string()),
            ("clinician", &doctor.to_string()), ("day", &monday), ("slot", "480")]).await;
        let id: i64 = r.location().unwrap().rsplit('/').next().unwrap().parse().unwrap();
        // Not yet: a future appointment cannot be a no-show.
        admin.post_form(&format!("/appointments/{id}/no-show"), &[]).await;
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM appointments WHERE status = 'no_show'").await, 0);
        // The day passes without the patient.
        let past = day(hms_core::clock::to_local(Utc::now()).date_naive() - Duration::days(3));
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("UPDATE appointments SET day = $1").bind(&past).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let list = admin.get("/appointments/missed").await;
        assert_eq!(list.status, 200);
        assert!(list.body.contains("0711 222 333"));
        let csv = admin.get("/appointments/missed?format=csv").await;
        assert!(csv.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/csv"));
        assert!(csv.body.contains("0711 222 333") && csv.body.contains(&past));
        let r = admin.post_form(&format!("/appointments/{id}/no-show"), &[]).await;
        assert_eq!(r.status, 303);
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM appointments WHERE status = 'no_show'").await, 1);
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("appointment.missed_export").await, 1);
    }

    async fn each_role_gets_what_the_defaults_say(app) {
        let admin = app.setup_admin().await;
        let (opd, _, _) = set_up(&app, &admin, "10").await;
        app.add_user("nurse1", &["nurse"]).await;
        let nurse = app.login("nurse1").await;
        assert_eq!(nurse.get("/appointments").await.status, 200);
        assert_eq!(nurse.get("/appointments/book").await.status, 403);
        assert_eq!(nurse.post_form("/appointments", &[("clinic", &opd.to_string())]).await.status, 403);
        assert_eq!(nurse.get("/schedules").await.status, 403);
        app.add_user("lab", &["lab_tech"]).await;
        let lab = app.login("lab").await;
        assert_eq!(lab.get("/appointments").await.status, 403);
        app.add_user("desk", &["receptionist"]).await;
        let desk = app.login("desk").await;
        assert_eq!(desk.get("/appointments/missed").await.status, 200);
        assert_eq!(desk.get("/schedules").await.status, 403);
        assert_eq!(desk.post_form("/schedules/clinics", &[("name", "X"), ("booking", "slots"), ("slot_minutes", "15")]).await.status, 403);
        // Bad clinic settings are explained and change nothing.
        let r = admin.post_form("/schedules/clinics", &[("name", ""), ("booking", "day"), ("daily_capacity", "0")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("Enter the clinic") && r.body.contains("from 1 to 2000") && r.body.contains("Tick the days"));
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM clinics").await, 2);
    }
}
