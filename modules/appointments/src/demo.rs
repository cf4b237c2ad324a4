//! Demo history for `hms demo-data`: clinics with doctors' hours, and for each of the last days
//! the appointments (kept, missed, cancelled), the visits with their tokens and the queues they
//! went through, plus the coming two weeks' bookings, so a demonstration opens on a facility
//! that has been running. Deterministic for a seed.

use chrono::{Datelike, Duration, NaiveDate};
use hms_core::audit::{self, Actor, Event};
use hms_core::auth::users;
use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use hms_core::demo::{DemoCount, DemoFuture, DemoGenerator, DemoRun};
use hms_core::ids::PatientId;
use hms_patients::api as patients;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::repo::demo::{self as sql, PastAppointment, PastVisit};
use crate::repo::{local_to_rfc3339, queue, schedules};
use crate::schedule::{slot_starts, WorkingHours};

/// Who the history is written as.
pub struct Staff {
    pub doctors: Vec<i64>,
    pub receptionist: Option<i64>,
    pub nurse: Option<i64>,
}

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct History {
    pub appointments: u64,
    pub visits: u64,
}

/// A clinic the demo facility runs.
struct DemoClinic {
    name: &'static str,
    booking: &'static str,
    slot_minutes: i64,
    daily_capacity: i64,
    opens_on_holidays: bool,
    weekdays: &'static [i64],
}

const CLINICS: &[DemoClinic] = &[
    DemoClinic {
        name: "OPD",
        booking: "slots",
        slot_minutes: 15,
        daily_capacity: 0,
        opens_on_holidays: true,
        weekdays: &[],
    },
    DemoClinic {
        name: "Dental clinic",
        booking: "slots",
        slot_minutes: 20,
        daily_capacity: 0,
        opens_on_holidays: false,
        weekdays: &[],
    },
    DemoClinic {
        name: "MCH / child welfare clinic",
        booking: "day",
        slot_minutes: 15,
        daily_capacity: 60,
        opens_on_holidays: false,
        weekdays: &[2, 4],
    },
    DemoClinic {
        name: "Diabetes and hypertension clinic",
        booking: "day",
        slot_minutes: 15,
        daily_capacity: 40,
        opens_on_holidays: false,
        weekdays: &[3],
    },
];

/// Payers with weights out of 100: SHA and cash dominate, as at a public facility.
const PAYERS: &[(&str, u32)] = &[
    ("sha", 40),
    ("cash", 27),
    ("mpesa", 22),
    ("insurance", 8),
    ("waiver", 3),
];

fn hours(weekday: u32, start: u32, end: u32, lunch: bool) -> WorkingHours {
    WorkingHours {
        weekday,
        start: start * 60,
        end: end * 60,
        break_start: lunch.then_some(13 * 60),
        break_end: lunch.then_some(14 * 60),
    }
}

/// The appointments module's demo data (see [`history`]).
pub struct AppointmentsDemo;

const COUNTS: &[DemoCount] = &[
    DemoCount {
        key: "appointments",
        label: Some("appointments"),
    },
    DemoCount {
        key: "visits",
        label: Some("visits"),
    },
];

impl DemoGenerator for AppointmentsDemo {
    fn counts(&self) -> &'static [DemoCount] {
        COUNTS
    }

    fn generate<'a>(&'a self, run: &'a DemoRun<'a>) -> DemoFuture<'a, ()> {
        Box::pin(async move { generate(run).await.map_err(|e| e.to_string()) })
    }
}

/// Clinics, doctors' hours and `--days` of appointments, visits and queues, plus two weeks of
/// bookings ahead, written as the demo staff accounts.
async fn generate(run: &DemoRun<'_>) -> Result<(), DbError> {
    let db = run.db;
    let staff = Staff {
        doctors: users::id_by_username(db, "demo.doctor")
            .await?
            .into_iter()
            .collect(),
        receptionist: users::id_by_username(db, "demo.receptionist").await?,
        nurse: users::id_by_username(db, "demo.nurse").await?,
    };
    let started = std::time::Instant::now();
    let report = |h: &History| {
        run.set("appointments", h.appointments);
        run.set("visits", h.visits);
    };
    let history = history(
        db,
        run.actor,
        &staff,
        (run.seed, run.days, run.today),
        &report,
    )
    .await?;
    println!(
        "{} appointments and {} visits over {} days in {:.1} s",
        history.appointments,
        history.visits,
        run.days,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Sets up the clinics (those missing) and writes `days` of history before `today` and two weeks
/// of bookings after it, a week to a transaction, each with a `demo.appointments` audit row of
/// the running totals. `report` hears what each committed week brought the totals to, so a run
/// that stops partway (an error, or the future dropped) still says what it wrote.
pub async fn history(
    db: &Db,
    actor: &Actor,
    staff: &Staff,
    (seed, days, today): (u64, u32, NaiveDate),
    report: &(dyn Fn(&History) + Sync),
) -> Result<History, DbError> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0a99_0149);
    let clinic_ids = setup_clinics(db, actor, staff).await?;
    let mut tx = db.begin().await?;
    let patients = patients::id_range(&mut tx)
        .await?
        .map(|(low, high)| (low.get(), high.get()));
    let (Some(patients), false) = (patients, sql::any_appointments(&mut tx).await?) else {
        // No patients, or a history already there (a run with --force adds patients only).
        tx.commit().await?;
        return Ok(History::default());
    };
    tx.commit().await?;
    let mut plan = Plan::load(db, staff, clinic_ids, patients).await?;
    let mut counting = History::default();
    let mut open: Option<Tx> = None;
    let first_day = today - Duration::days(i64::from(days));
    let last_day = today + Duration::days(14);
    let mut day = first_day;
    while day <= last_day {
        let weekday = day.weekday().number_from_monday();
        if weekday == 7 {
            day += Duration::days(1);
            continue;
        }
        let mut tx = match open.take() {
            Some(tx) => tx,
            None => db.begin().await?,
        };
        plan.one_day(&mut tx, &mut rng, day, day < today, &mut counting)
            .await?;
        // Saturday ends the week (Sundays are skipped above).
        if weekday == 6 || day + Duration::days(1) > last_day {
            week_done(&mut tx, actor, day, &counting).await?;
            tx.commit().await?;
            report(&counting);
        } else {
            open = Some(tx);
        }
        day += Duration::days(1);
    }
    if let Some(tx) = open {
        tx.commit().await?;
        report(&counting);
    }
    let mut tx = db.begin().await?;
    for (patient, day) in sql::last_visit_days(&mut tx).await? {
        if let Some(day) = Day::from_db_text(&day) {
            patients::record_visit(&mut tx, PatientId(patient), day).await?;
        }
    }
    tx.commit().await?;
    Ok(counting)
}

/// The week's audit row: the running totals through `day`.
async fn week_done(
    tx: &mut Tx,
    actor: &Actor,
    day: NaiveDate,
    counting: &History,
) -> Result<(), DbError> {
    audit::record(
        tx,
        actor,
        Event::new("demo.appointments", "demo", None).detail(serde_json::json!({
            "through": day.format("%Y-%m-%d").to_string(),
            "appointments": counting.appointments,
            "visits": counting.visits,
        })),
    )
    .await?;
    Ok(())
}

/// The demo clinics' ids, creating those missing with their doctors' hours.
async fn setup_clinics(db: &Db, actor: &Actor, staff: &Staff) -> Result<Vec<i64>, DbError> {
    let existing = schedules::clinics(db).await?;
    let mut tx = db.begin().await?;
    let mut clinic_ids = Vec::new();
    for c in CLINICS {
        if let Some(found) = existing.iter().find(|e| e.name == c.name) {
            clinic_ids.push(found.id);
            continue;
        }
        let id = schedules::save_clinic(
            &mut tx,
            None,
            &schedules::ClinicFields {
                name: c.name.to_string(),
                booking: c.booking.to_string(),
                slot_minutes: c.slot_minutes,
                daily_capacity: c.daily_capacity,
                opens_on_holidays: c.opens_on_holidays,
                is_active: true,
                weekdays: c.weekdays.to_vec(),
            },
            actor,
        )
        .await?;
        for (doctor, h) in &doctors_week(c.name, staff) {
            schedules::add_hours(&mut tx, id, *doctor, h, actor).await?;
        }
        clinic_ids.push(id);
    }
    tx.commit().await?;
    Ok(clinic_ids)
}

/// Doctors see OPD patients on weekdays and Saturday mornings; the first runs the dental clinic
/// on Tuesdays and Thursdays instead (a clinician is in one place at a time).
fn doctors_week(clinic: &str, staff: &Staff) -> Vec<(i64, WorkingHours)> {
    let mut week: Vec<(i64, WorkingHours)> = Vec::new();
    if clinic == "OPD" {
        for (n, doctor) in staff.doctors.iter().enumerate() {
            let days = (1..=5).filter(|d| n > 0 || ![2, 4].contains(d));
            week.extend(days.map(|d| (*doctor, hours(d, 8, 17, true))));
            week.push((*doctor, hours(6, 8, 12, false)));
        }
    } else if clinic == "Dental clinic" {
        if let Some(doctor) = staff.doctors.first() {
            week.extend([2, 4].map(|d| (*doctor, hours(d, 9, 16, true))));
        }
    }
    week
}

/// What every day of the history draws on.
struct Plan<'a> {
    staff: &'a Staff,
    clinic_ids: Vec<i64>,
    /// Each clinic's (clinician, hours).
    clinic_hours: Vec<Vec<(i64, WorkingHours)>>,
    /// Service points by code.
    points: Vec<(String, i64)>,
    declared: Vec<crate::holidays::Holiday>,
    /// First and last patient id.
    patients: (i64, i64),
}

/// An arrived appointment: patient, appointment, start minute.
type Arrival = (i64, i64, u32);

impl<'a> Plan<'a> {
    async fn load(
        db: &Db,
        staff: &'a Staff,
        clinic_ids: Vec<i64>,
        patients: (i64, i64),
    ) -> Result<Self, DbError> {
        let points = queue::points(db)
            .await?
            .into_iter()
            .map(|p| (p.code, p.id))
            .collect();
        let declared = schedules::declared_holidays(db).await?;
        let mut clinic_hours = Vec::new();
        for clinic in &clinic_ids {
            clinic_hours.push(
                schedules::hours_of_clinic(db, *clinic)
                    .await?
                    .into_iter()
                    .map(|row| (row.clinician_id, row.hours))
                    .collect(),
            );
        }
        Ok(Self {
            staff,
            clinic_ids,
            clinic_hours,
            points,
            declared,
            patients,
        })
    }

    fn point(&self, code: &str) -> Option<i64> {
        self.points
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, id)| *id)
    }

    fn patient(&self, rng: &mut StdRng) -> i64 {
        rng.random_range(self.patients.0..=self.patients.1)
    }

    /// One day: each clinic's appointments, then (for a past day) the visits.
    async fn one_day(
        &mut self,
        tx: &mut Tx,
        rng: &mut StdRng,
        day: NaiveDate,
        past: bool,
        counting: &mut History,
    ) -> Result<(), DbError> {
        let holiday = crate::holidays::holiday_on(day, &self.declared).is_some();
        let mut arrived: Vec<Arrival> = Vec::new();
        for (n, c) in CLINICS.iter().enumerate() {
            if holiday && !c.opens_on_holidays {
                continue;
            }
            let bookings = self.bookings(rng, n, day.weekday().number_from_monday());
            self.book(tx, rng, (n, day, past), bookings, counting, &mut arrived)
                .await?;
        }
        if past {
            self.visits(tx, rng, day, arrived, counting).await?;
        }
        Ok(())
    }

    /// (clinician, start minute) of each booking of the day at clinic `n`.
    fn bookings(
        &self,
        rng: &mut StdRng,
        n: usize,
        weekday: u32,
    ) -> Vec<(Option<i64>, Option<u32>)> {
        let c = &CLINICS[n];
        if c.booking == "slots" {
            let mut out = Vec::new();
            for (doctor, h) in self.clinic_hours[n]
                .iter()
                .filter(|(_, h)| h.weekday == weekday)
            {
                let (doctor, h) = (*doctor, *h);
                for start in slot_starts(&[h], weekday, u32::try_from(c.slot_minutes).unwrap_or(15))
                {
                    if rng.random_range(0..100) < 35 {
                        out.push((Some(doctor), Some(start)));
                    }
                }
            }
            out
        } else if c.weekdays.contains(&i64::from(weekday)) {
            let n = rng.random_range(c.daily_capacity / 3..=c.daily_capacity * 4 / 5);
            (0..n).map(|_| (None, None)).collect()
        } else {
            Vec::new()
        }
    }

    /// Writes clinic `n`'s bookings of the day: kept, missed or cancelled when past.
    async fn book(
        &self,
        tx: &mut Tx,
        rng: &mut StdRng,
        (n, day, past): (usize, NaiveDate, bool),
        bookings: Vec<(Option<i64>, Option<u32>)>,
        counting: &mut History,
        arrived: &mut Vec<Arrival>,
    ) -> Result<(), DbError> {
        let (c, clinic) = (&CLINICS[n], self.clinic_ids[n]);
        let day_s = day.format("%Y-%m-%d").to_string();
        let mut places = 0;
        for (clinician, start) in bookings {
            let status = if !past {
                "booked"
            } else {
                match rng.random_range(0..100) {
                    0..=81 => "arrived",
                    82..=94 => "no_show",
                    _ => "cancelled",
                }
            };
            let patient = self.patient(rng);
            let booked_on = day - Duration::days(rng.random_range(1..=30));
            let id = sql::appointment(
                tx,
                &PastAppointment {
                    patient_id: patient,
                    clinic_id: clinic,
                    clinician_id: clinician,
                    day: &day_s,
                    start_minute: start.map(i64::from),
                    status,
                    created_by: self.staff.receptionist,
                    at: &local_to_rfc3339(&booked_on.format("%Y-%m-%d").to_string(), Some(600)),
                },
            )
            .await?;
            counting.appointments += 1;
            if status != "cancelled" {
                places += 1;
            }
            if status == "arrived" {
                arrived.push((patient, id, start.unwrap_or(8 * 60)));
            }
        }
        if c.booking == "day" && places > 0 {
            sql::day_places(tx, clinic, &day_s, places).await?;
        }
        Ok(())
    }

    /// The day's visits: those who came for their appointment and walk-ins, one a patient.
    async fn visits(
        &self,
        tx: &mut Tx,
        rng: &mut StdRng,
        day: NaiveDate,
        arrived: Vec<Arrival>,
        counting: &mut History,
    ) -> Result<(), DbError> {
        let day_s = day.format("%Y-%m-%d").to_string();
        // Walk-ins arrive through the day beside those who booked.
        let walk_ins = rng.random_range(15..45);
        let mut visits: Vec<(i64, Option<i64>, u32)> = arrived
            .into_iter()
            .map(|(p, a, start)| (p, Some(a), start.saturating_sub(20)))
            .collect();
        visits.extend((0..walk_ins).map(|_| {
            (
                self.patient(rng),
                None,
                rng.random_range(7 * 60 + 30..16 * 60),
            )
        }));
        visits.sort_by_key(|(_, _, at)| *at);
        let mut seen: Vec<i64> = Vec::new();
        let mut token = 0;
        for (patient, appointment, at) in visits {
            // One visit a day per patient.
            if seen.contains(&patient) {
                continue;
            }
            seen.push(patient);
            token += 1;
            self.visit(tx, rng, &day_s, (patient, appointment, at), token)
                .await?;
            counting.visits += 1;
        }
        if token > 0 {
            sql::tokens_used(tx, &day_s, token).await?;
        }
        Ok(())
    }

    /// One visit and its way through the service points.
    async fn visit(
        &self,
        tx: &mut Tx,
        rng: &mut StdRng,
        day_s: &str,
        (patient, appointment, at): (i64, Option<i64>, u32),
        token: i64,
    ) -> Result<(), DbError> {
        let time = |minute: u32| local_to_rfc3339(day_s, Some(i64::from(minute)));
        let payer = pick_payer(rng);
        let mut clock = at;
        let mut route = vec!["triage", "consultation"];
        if rng.random_range(0..100) < 30 {
            route.push("laboratory");
        }
        if rng.random_range(0..100) < 65 {
            route.push("pharmacy");
        }
        let visit = sql::visit(
            tx,
            &PastVisit {
                patient_id: patient,
                appointment_id: appointment,
                day: day_s,
                token,
                payer,
                checked_in_by: self.staff.receptionist,
                checked_in_at: &time(at),
                closed_at: &time(at + 30 * route.len() as u32),
            },
        )
        .await?;
        for code in route {
            let Some(point) = self.point(code) else {
                continue;
            };
            let wait = rng.random_range(3..40);
            let times = [
                time(clock),
                time(clock + wait),
                time(clock + wait + 1),
                time(clock + wait + 12),
            ];
            sql::served_entry(
                tx,
                visit,
                point,
                [&times[0], &times[1], &times[2], &times[3]],
                self.staff.nurse,
            )
            .await?;
            clock += wait + 12;
        }
        Ok(())
    }
}

/// A payer drawn by [`PAYERS`]' weights.
fn pick_payer(rng: &mut StdRng) -> &'static str {
    let mut roll = rng.random_range(0..100);
    PAYERS
        .iter()
        .find(|(_, w)| {
            let hit = roll < *w;
            roll = roll.saturating_sub(*w);
            hit
        })
        .map_or("cash", |(p, _)| *p)
}
