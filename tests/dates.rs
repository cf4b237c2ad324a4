//! Dates people type are read in one place and held to a sane range: a day in year 262142 on
//! the appointments list, a week view at the start of time or a missed-appointments report
//! ending in year -262143 answer with a message (they used to panic the handler), and a
//! holiday, a day off, a booking, a deactivation or a birth date out of range is refused with
//! 422 and nothing stored.

use hms_testkit::{each_backend, Client, TestApp};
use sqlx::Row;

const OUT_OF_RANGE: &str = "The date must be from 01/01/1900 to 31/12/2100.";
const UNREADABLE: &str = "day/month/year";

async fn rows(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(app.db().read())
        .await
        .expect("query")
        .get(0)
}

/// Registers a patient with an estimated age; returns the id.
async fn patient(c: &Client) -> i64 {
    c.get("/patients/new").await;
    let r = c
        .post_form(
            "/patients",
            &[
                ("first_name", "Achieng"),
                ("last_name", "Odhiambo"),
                ("sex", "female"),
                ("age_years", "30"),
                ("id_type", "none"),
                ("phone", "0722000001"),
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

each_backend! {
    async fn dates_beyond_any_calendar_in_lists_answer_with_a_message(app) {
        let admin = app.setup_admin().await;
        for (url, message) in [
            ("/appointments?day=%2B262142-12-31", UNREADABLE),
            ("/appointments?day=-262143-01-02&view=week", UNREADABLE),
            ("/appointments?day=9999-12-31&view=week", OUT_OF_RANGE),
            ("/appointments/missed?to=-262143-01-01", UNREADABLE),
            ("/appointments/missed?from=0001-01-01", OUT_OF_RANGE),
            ("/audit?from=%2B262142-12-31", UNREADABLE),
            ("/audit?to=9999-12-31", OUT_OF_RANGE),
        ] {
            let r = admin.get(url).await;
            assert_eq!(r.status, 422, "{url}: {}", r.body);
            assert!(r.body.contains(message), "{url}: {}", r.body);
        }
        // The list falls back to today, and the ends of the range still page.
        let today = hms_core::dates::form_text(hms_core::clock::to_local(chrono::Utc::now()).date_naive());
        let r = admin.get("/appointments?day=%2B262142-12-31").await;
        assert!(r.body.contains(&format!("value=\"{today}\"")), "{}", r.body);
        for url in ["/appointments?day=2100-12-31&view=week", "/appointments?day=1900-01-01"] {
            let r = admin.get(url).await;
            assert_eq!(r.status, 200, "{url}: {}", r.body);
        }
        let csv = admin.get("/appointments/missed?to=-262143-01-01&format=csv").await;
        assert_eq!(csv.status, 400, "{}", csv.body);
    }

    async fn holidays_days_off_bookings_and_deactivations_out_of_range_are_refused(app) {
        let admin = app.setup_admin().await;
        let doctor = app.add_user("dr.otieno", &["doctor"]).await;
        admin.get("/schedules").await;
        let r = admin.post_form("/schedules/clinics",
            &[("name", "MCH"), ("booking", "day"), ("daily_capacity", "10"), ("weekday", "1")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let mch = r.location().unwrap().rsplit('/').next().unwrap().to_string();

        for (day, message) in [("+262142-12-31", UNREADABLE), ("0001-01-01", OUT_OF_RANGE)] {
            let r = admin.post_form("/schedules/holidays", &[("holiday_day", day), ("holiday_name", "Far away")]).await;
            assert_eq!(r.status, 422, "{day}: {}", r.body);
            assert!(r.body.contains(message), "{day}: {}", r.body);
        }
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM declared_holidays").await, 0);
        let r = admin.post_form("/schedules/days-off",
            &[("off_clinician", &doctor.to_string()), ("off_day", "9999-12-31"), ("off_reason", "Leave")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains(OUT_OF_RANGE), "{}", r.body);
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM days_off").await, 0);

        let p = patient(&admin).await.to_string();
        admin.get("/appointments/book").await;
        for day in ["+262142-12-31", "2101-01-03"] {
            let r = admin.post_form("/appointments",
                &[("patient", &p), ("clinic", &mch), ("day", day), ("reason", "Clinic")]).await;
            assert_eq!(r.status, 422, "{day}: {}", r.body);
        }
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM appointments").await, 0);

        admin.get(&format!("/patients/{p}/deactivate")).await;
        for (on, message) in [("-262143-01-01", UNREADABLE), ("1899-12-31", "from 01/01/1900")] {
            let r = admin.post_form(&format!("/patients/{p}/deactivate"), &[("reason", "died"), ("on", on)]).await;
            assert_eq!(r.status, 422, "{on}: {}", r.body);
            assert!(r.body.contains(message), "{on}: {}", r.body);
        }
        assert_eq!(app.audit_count("patient.deactivate").await, 0);
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM patients WHERE is_active = 1").await, 1);

        // A birth before 1900 is refused too.
        admin.get("/patients/new").await;
        let r = admin.post_form("/patients", &[
            ("first_name", "Wambui"), ("last_name", "Kariuki"), ("sex", "female"),
            ("date_of_birth", "1899-12-31"), ("id_type", "none"), ("phone", "0722000002"),
            ("register_anyway", "1"),
        ]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("that age is not possible"), "{}", r.body);
        assert_eq!(app.count("patients").await, 1);
    }
}
