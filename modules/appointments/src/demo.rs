//! Demo history for `hms demo-data`: clinics with doctors' hours, and for each of the last days
//! the appointments (kept, missed, cancelled), the visits with their tokens and the queues they
//! went through, plus the coming two weeks' bookings, so a demonstration opens on a facility
//! that has been running. Deterministic for a seed.

use chrono::{Datelike, Duration, NaiveDate};
use hms_core::audit::{self, Actor, Event};
use hms_core::db::{Db, DbError, Tx};
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
#[derive(Debug, Default, Clone)]
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

/// Sets up the clinics (those missing) and writes `days` of history before `today` and two weeks
/// of bookings after it, a week to a transaction, each with a `demo.appointments` audit row of
/// the running totals. `written` holds what the committed weeks wrote, also when this stops
/// partway (an error, or the future dropped).
pub async fn history(
    db: &Db,
    actor: &Actor,
    staff: &Staff,
    (seed, days, today): (u64, u32, NaiveDate),
    written: &mut History,
) -> Result<(), DbError> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0a99_0149);
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
        // Doctors see OPD patients on weekdays and Saturday mornings; the first runs the dental
        // clinic on Tuesdays and Thursdays instead (a clinician is in one place at a time).
        let mut week: Vec<(i64, WorkingHours)> = Vec::new();
        if c.name == "OPD" {
            for (n, doctor) in staff.doctors.iter().enumerate() {
                let days = (1..=5).filter(|d| n > 0 || ![2, 4].contains(d));
                week.extend(days.map(|d| (*doctor, hours(d, 8, 17, true))));
                week.push((*doctor, hours(6, 8, 12, false)));
            }
        } else if c.name == "Dental clinic" {
            if let Some(doctor) = staff.doctors.first() {
                week.extend([2, 4].map(|d| (*doctor, hours(d, 9, 16, true))));
            }
        }
        for (doctor, h) in &week {
            schedules::add_hours(&mut tx, id, *doctor, h, actor).await?;
        }
        clinic_ids.push(id);
    }
    let patients = sql::patient_ids(&mut tx).await?;
    let (Some((first_patient, last_patient)), false) =
        (patients, sql::any_appointments(&mut tx).await?)
    else {
        // No patients, or a history already there (a run with --force adds patients only).
        tx.commit().await?;
        return Ok(());
    };
    tx.commit().await?;

    let points: Vec<(String, i64)> = queue::points(db)
        .await?
        .into_iter()
        .map(|p| (p.code, p.id))
        .collect();
    let point = |code: &str| points.iter().find(|(c, _)| c == code).map(|(_, id)| *id);
    let declared = schedules::declared_holidays(db).await?;
    let mut clinic_hours: Vec<Vec<(i64, WorkingHours)>> = Vec::new();
    for clinic in &clinic_ids {
        clinic_hours.push(
            schedules::hours_of_clinic(db, *clinic)
                .await?
                .into_iter()
                .map(|row| (row.clinician_id, row.hours))
                .collect(),
        );
    }
    let mut counting = History::default();
    let mut open: Option<Tx> = None;
    let first_day = today - Duration::days(i64::from(days));
    let last_day = today + Duration::days(14);
    let mut day = first_day;
    while day <= last_day {
        let weekday = day.weekday().number_from_monday();
        let holiday = crate::holidays::holiday_on(day, &declared).is_some();
        if weekday == 7 {
            day += Duration::days(1);
            continue;
        }
        let day_s = day.format("%Y-%m-%d").to_string();
        let past = day < today;
        let mut tx = match open.take() {
            Some(tx) => tx,
            None => db.begin().await?,
        };
        let mut arrived: Vec<(i64, i64, u32)> = Vec::new();
        for ((c, clinic), week) in CLINICS.iter().zip(&clinic_ids).zip(&clinic_hours) {
            if holiday && !c.opens_on_holidays {
                continue;
            }
            // (clinician, start minute) of each booking of the day at this clinic.
            let bookings: Vec<(Option<i64>, Option<u32>)> = if c.booking == "slots" {
                let mut out = Vec::new();
                for (doctor, h) in week.iter().filter(|(_, h)| h.weekday == weekday) {
                    let (doctor, h) = (*doctor, *h);
                    for start in
                        slot_starts(&[h], weekday, u32::try_from(c.slot_minutes).unwrap_or(15))
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
            };
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
                let patient = rng.random_range(first_patient..=last_patient);
                let booked_on = day - Duration::days(rng.random_range(1..=30));
                let id = sql::appointment(
                    &mut tx,
                    &PastAppointment {
                        patient_id: patient,
                        clinic_id: *clinic,
                        clinician_id: clinician,
                        day: &day_s,
                        start_minute: start.map(i64::from),
                        status,
                        created_by: staff.receptionist,
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
                sql::day_places(&mut tx, *clinic, &day_s, places).await?;
            }
        }
        if past {
            // Walk-ins arrive through the day beside those who booked.
            let walk_ins = rng.random_range(15..45);
            let mut visits: Vec<(i64, Option<i64>, u32)> = arrived
                .into_iter()
                .map(|(p, a, start)| (p, Some(a), start.saturating_sub(20)))
                .collect();
            visits.extend((0..walk_ins).map(|_| {
                (
                    rng.random_range(first_patient..=last_patient),
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
                let time = |minute: u32| local_to_rfc3339(&day_s, Some(i64::from(minute)));
                let payer = {
                    let mut roll = rng.random_range(0..100);
                    PAYERS
                        .iter()
                        .find(|(_, w)| {
                            let hit = roll < *w;
                            roll = roll.saturating_sub(*w);
                            hit
                        })
                        .map_or("cash", |(p, _)| *p)
                };
                let mut clock = at;
                let mut route = vec!["triage", "consultation"];
                if rng.random_range(0..100) < 30 {
                    route.push("laboratory");
                }
                if rng.random_range(0..100) < 65 {
                    route.push("pharmacy");
                }
                let visit = sql::visit(
                    &mut tx,
                    &PastVisit {
                        patient_id: patient,
                        appointment_id: appointment,
                        day: &day_s,
                        token,
                        payer,
                        checked_in_by: staff.receptionist,
                        checked_in_at: &time(at),
                        closed_at: &time(at + 30 * route.len() as u32),
                    },
                )
                .await?;
                for code in route {
                    let Some(point) = point(code) else { continue };
                    let wait = rng.random_range(3..40);
                    let times = [
                        time(clock),
                        time(clock + wait),
                        time(clock + wait + 1),
                        time(clock + wait + 12),
                    ];
                    sql::served_entry(
                        &mut tx,
                        visit,
                        point,
                        [&times[0], &times[1], &times[2], &times[3]],
                        staff.nurse,
                    )
                    .await?;
                    clock += wait + 12;
                }
                counting.visits += 1;
            }
            if token > 0 {
                sql::tokens_used(&mut tx, &day_s, token).await?;
            }
        }
        // Saturday ends the week (Sundays are skipped above).
        if weekday == 6 || day + Duration::days(1) > last_day {
            audit::record(
                &mut tx,
                actor,
                Event::new("demo.appointments", "demo", None).detail(serde_json::json!({
                    "through": day_s,
                    "appointments": counting.appointments,
                    "visits": counting.visits,
                })),
            )
            .await?;
            tx.commit().await?;
            *written = counting.clone();
        } else {
            open = Some(tx);
        }
        day += Duration::days(1);
    }
    if let Some(tx) = open {
        tx.commit().await?;
        *written = counting.clone();
    }
    let mut tx = db.begin().await?;
    sql::last_visits(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
