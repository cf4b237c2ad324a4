//! Clinics, clinicians' working hours, days off and declared holidays.

use hms_core::audit::{self, Actor, Event};
use hms_core::clock;
use hms_core::day::Day;
use hms_core::db::{Db, DbError, Tx};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::holidays::Holiday;
use crate::schedule::WorkingHours;

/// How a clinic is booked.
pub const BOOKING_KINDS: &[&str] = &["slots", "day"];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Clinic {
    pub id: i64,
    pub name: String,
    /// "slots" (a time with a clinician) or "day" (a clinic day with a daily capacity).
    pub booking: String,
    pub slot_minutes: i64,
    pub daily_capacity: i64,
    pub opens_on_holidays: bool,
    pub is_active: bool,
    /// For clinic-day clinics: the weekdays it runs (1 = Monday).
    pub weekdays: Vec<i64>,
}

/// What the clinic form saves.
#[derive(Debug, Clone, Serialize)]
pub struct ClinicFields {
    pub name: String,
    pub booking: String,
    pub slot_minutes: i64,
    pub daily_capacity: i64,
    pub opens_on_holidays: bool,
    pub is_active: bool,
    pub weekdays: Vec<i64>,
}

fn clinic_at(r: &sqlx::any::AnyRow) -> Clinic {
    Clinic {
        id: r.get(0),
        name: r.get(1),
        booking: r.get(2),
        slot_minutes: r.get(3),
        daily_capacity: r.get(4),
        opens_on_holidays: r.get::<i64, _>(5) == 1,
        is_active: r.get::<i64, _>(6) == 1,
        weekdays: Vec::new(),
    }
}

/// Every clinic with its weekdays, active first, by name.
pub async fn clinics(db: &Db) -> Result<Vec<Clinic>, DbError> {
    let mut out: Vec<Clinic> = sqlx::query(
        "SELECT id, name, booking, slot_minutes, daily_capacity, opens_on_holidays, is_active \
         FROM clinics ORDER BY is_active DESC, name",
    )
    .fetch_all(db.read())
    .await?
    .iter()
    .map(clinic_at)
    .collect();
    let days = sqlx::query(
        "SELECT clinic_id, weekday FROM clinic_weekdays WHERE voided_at IS NULL ORDER BY weekday",
    )
    .fetch_all(db.read())
    .await?;
    for r in days {
        let (clinic, weekday): (i64, i64) = (r.get(0), r.get(1));
        if let Some(c) = out.iter_mut().find(|c| c.id == clinic) {
            c.weekdays.push(weekday);
        }
    }
    Ok(out)
}

/// One clinic with its weekdays. A facility has tens of clinics at most: reading them all is one
/// small query and keeps one way of reading a clinic.
pub async fn clinic(db: &Db, id: i64) -> Result<Option<Clinic>, DbError> {
    Ok(clinics(db).await?.into_iter().find(|c| c.id == id))
}

/// Creates (`id` None) or changes a clinic; returns its id. A clinic name is unique.
pub async fn save_clinic(
    tx: &mut Tx,
    id: Option<i64>,
    f: &ClinicFields,
    actor: &Actor,
) -> Result<i64, DbError> {
    let id = match id {
        None => sqlx::query(
            "INSERT INTO clinics (name, booking, slot_minutes, daily_capacity, opens_on_holidays, \
             is_active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&f.name)
        .bind(&f.booking)
        .bind(f.slot_minutes)
        .bind(f.daily_capacity)
        .bind(i64::from(f.opens_on_holidays))
        .bind(i64::from(f.is_active))
        .bind(clock::now_rfc3339())
        .fetch_one(&mut **tx)
        .await?
        .get(0),
        Some(id) => {
            sqlx::query(
                "UPDATE clinics SET name = $1, booking = $2, slot_minutes = $3, daily_capacity = $4, \
                 opens_on_holidays = $5, is_active = $6 WHERE id = $7",
            )
            .bind(&f.name)
            .bind(&f.booking)
            .bind(f.slot_minutes)
            .bind(f.daily_capacity)
            .bind(i64::from(f.opens_on_holidays))
            .bind(i64::from(f.is_active))
            .bind(id)
            .execute(&mut **tx)
            .await?;
            id
        }
    };
    // Weekdays no longer run are voided, chosen ones (new or voided before) are active.
    sqlx::query(
        "UPDATE clinic_weekdays SET voided_at = $2, voided_by = $3 \
         WHERE clinic_id = $1 AND voided_at IS NULL",
    )
    .bind(id)
    .bind(clock::now_rfc3339())
    .bind(actor.user_id)
    .execute(&mut **tx)
    .await?;
    for day in &f.weekdays {
        sqlx::query(
            "INSERT INTO clinic_weekdays (clinic_id, weekday) VALUES ($1, $2) \
             ON CONFLICT (clinic_id, weekday) DO UPDATE SET voided_at = NULL, voided_by = NULL",
        )
        .bind(id)
        .bind(day)
        .execute(&mut **tx)
        .await?;
    }
    audit::record(
        tx,
        actor,
        Event::new("schedules.clinic_save", "clinic", Some(id)).detail(json!({"after": f})),
    )
    .await?;
    Ok(id)
}

/// A row of working hours with the clinician's name, for the clinic page.
#[derive(Debug, Clone, Serialize)]
pub struct HoursRow {
    pub id: i64,
    pub clinician_id: i64,
    pub clinician: String,
    #[serde(flatten)]
    pub hours: WorkingHours,
}

pub async fn hours_of_clinic(db: &Db, clinic: i64) -> Result<Vec<HoursRow>, DbError> {
    Ok(sqlx::query(
        "SELECT h.id, h.clinician_id, u.full_name, h.weekday, h.start_minute, h.end_minute, \
         h.break_start, h.break_end FROM working_hours h JOIN users u ON u.id = h.clinician_id \
         WHERE h.clinic_id = $1 AND h.voided_at IS NULL ORDER BY u.full_name, h.weekday, h.start_minute",
    )
    .bind(clinic)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| HoursRow {
        id: r.get(0),
        clinician_id: r.get(1),
        clinician: r.get(2),
        hours: hours_at(r, 3),
    })
    .collect())
}

fn hours_at(r: &sqlx::any::AnyRow, at: usize) -> WorkingHours {
    let minute = |i: usize| u32::try_from(r.get::<i64, _>(at + i)).unwrap_or(0);
    let optional = |i: usize| {
        r.get::<Option<i64>, _>(at + i)
            .and_then(|m| u32::try_from(m).ok())
    };
    WorkingHours {
        weekday: minute(0),
        start: minute(1),
        end: minute(2),
        break_start: optional(3),
        break_end: optional(4),
    }
}

/// A clinician's hours at a clinic, every weekday.
pub async fn hours_of(db: &Db, clinic: i64, clinician: i64) -> Result<Vec<WorkingHours>, DbError> {
    Ok(sqlx::query(
        "SELECT weekday, start_minute, end_minute, break_start, break_end FROM working_hours \
         WHERE clinic_id = $1 AND clinician_id = $2 AND voided_at IS NULL",
    )
    .bind(clinic)
    .bind(clinician)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| hours_at(r, 0))
    .collect())
}

pub async fn add_hours(
    tx: &mut Tx,
    clinic: i64,
    clinician: i64,
    h: &WorkingHours,
    actor: &Actor,
) -> Result<i64, DbError> {
    let id: i64 = sqlx::query(
        "INSERT INTO working_hours (clinic_id, clinician_id, weekday, start_minute, end_minute, \
         break_start, break_end) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(clinic)
    .bind(clinician)
    .bind(i64::from(h.weekday))
    .bind(i64::from(h.start))
    .bind(i64::from(h.end))
    .bind(h.break_start.map(i64::from))
    .bind(h.break_end.map(i64::from))
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    audit::record(
        tx,
        actor,
        Event::new("schedules.hours_add", "clinic", Some(clinic))
            .detail(json!({"clinician": clinician, "after": h})),
    )
    .await?;
    Ok(id)
}

/// Removes (voids) a row of working hours; false when it was already gone.
pub async fn remove_hours(tx: &mut Tx, id: i64, actor: &Actor) -> Result<Option<i64>, DbError> {
    let Some(r) = sqlx::query(
        "UPDATE working_hours SET voided_at = $2, voided_by = $3 \
         WHERE id = $1 AND voided_at IS NULL RETURNING clinic_id, weekday, start_minute, \
         end_minute, break_start, break_end, clinician_id",
    )
    .bind(id)
    .bind(clock::now_rfc3339())
    .bind(actor.user_id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(None);
    };
    let clinic: i64 = r.get(0);
    let before = hours_at(&r, 1);
    audit::record(
        tx,
        actor,
        Event::new("schedules.hours_remove", "clinic", Some(clinic))
            .detail(json!({"clinician": r.get::<i64, _>(6), "before": before})),
    )
    .await?;
    Ok(Some(clinic))
}

/// People who can hold working hours: active staff with a clinical role.
pub async fn clinicians(db: &Db) -> Result<Vec<(i64, String)>, DbError> {
    Ok(sqlx::query(
        "SELECT DISTINCT u.id, u.full_name FROM users u JOIN user_roles ur ON ur.user_id = u.id \
         JOIN roles r ON r.id = ur.role_id \
         WHERE u.is_active = 1 AND r.name IN ('doctor', 'nurse') AND ur.voided_at IS NULL \
         ORDER BY u.full_name",
    )
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// The clinicians with hours at a clinic.
pub async fn clinicians_of(db: &Db, clinic: i64) -> Result<Vec<(i64, String)>, DbError> {
    Ok(sqlx::query(
        "SELECT DISTINCT u.id, u.full_name FROM working_hours h JOIN users u ON u.id = h.clinician_id \
         WHERE h.clinic_id = $1 AND h.voided_at IS NULL AND u.is_active = 1 ORDER BY u.full_name",
    )
    .bind(clinic)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct DayOff {
    pub clinician_id: i64,
    pub clinician: String,
    pub day: String,
    pub reason: Option<String>,
}

/// Days off from `from` on, soonest first.
pub async fn days_off(db: &Db, from: Day) -> Result<Vec<DayOff>, DbError> {
    Ok(sqlx::query(
        "SELECT d.clinician_id, u.full_name, d.day, d.reason FROM days_off d \
         JOIN users u ON u.id = d.clinician_id WHERE d.day >= $1 AND d.voided_at IS NULL ORDER BY d.day, u.full_name LIMIT 200",
    )
    .bind(from)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| DayOff {
        clinician_id: r.get(0),
        clinician: r.get(1),
        day: r.get(2),
        reason: r.get(3),
    })
    .collect())
}

/// A clinician's days off from `from` to `to` (both included).
pub async fn days_off_between(
    db: &Db,
    clinician: i64,
    from: &str,
    to: &str,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query(
        "SELECT day FROM days_off WHERE clinician_id = $1 AND day >= $2 AND day <= $3 \
         AND voided_at IS NULL",
    )
    .bind(clinician)
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?
    .into_iter()
    .map(|r| r.get(0))
    .collect())
}

/// Adds a day off; false when the clinician already has that day off.
pub async fn add_day_off(
    tx: &mut Tx,
    clinician: i64,
    day: Day,
    reason: Option<&str>,
    actor: &Actor,
) -> Result<bool, DbError> {
    let added = sqlx::query(
        "INSERT INTO days_off (clinician_id, day, reason) VALUES ($1, $2, $3) \
         ON CONFLICT (clinician_id, day) DO UPDATE SET reason = excluded.reason, voided_at = NULL, \
         voided_by = NULL WHERE days_off.voided_at IS NOT NULL",
    )
    .bind(clinician)
    .bind(day)
    .bind(reason)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if added {
        audit::record(
            tx,
            actor,
            Event::new("schedules.day_off_add", "user", Some(clinician))
                .detail(json!({"day": day, "reason": reason})),
        )
        .await?;
    }
    Ok(added)
}

pub async fn remove_day_off(
    tx: &mut Tx,
    clinician: i64,
    day: &str,
    actor: &Actor,
) -> Result<(), DbError> {
    let removed = sqlx::query(
        "UPDATE days_off SET voided_at = $3, voided_by = $4 \
         WHERE clinician_id = $1 AND day = $2 AND voided_at IS NULL",
    )
    .bind(clinician)
    .bind(day)
    .bind(clock::now_rfc3339())
    .bind(actor.user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if removed == 1 {
        audit::record(
            tx,
            actor,
            Event::new("schedules.day_off_remove", "user", Some(clinician))
                .detail(json!({"day": day})),
        )
        .await?;
    }
    Ok(())
}

/// Holidays an administrator declared (Idd, gazetted days).
pub async fn declared_holidays(db: &Db) -> Result<Vec<Holiday>, DbError> {
    Ok(
        sqlx::query("SELECT day, name FROM declared_holidays WHERE voided_at IS NULL ORDER BY day")
            .fetch_all(db.read())
            .await?
            .into_iter()
            .map(|r| Holiday {
                date: r.get::<Day, _>(0).date(),
                name: r.get(1),
            })
            .collect(),
    )
}

pub async fn declare_holiday(
    tx: &mut Tx,
    day: Day,
    name: &str,
    actor: &Actor,
) -> Result<bool, DbError> {
    let added = sqlx::query(
        "INSERT INTO declared_holidays (day, name, created_by, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (day) DO UPDATE SET name = excluded.name, created_by = excluded.created_by, \
         created_at = excluded.created_at, voided_at = NULL, voided_by = NULL \
         WHERE declared_holidays.voided_at IS NOT NULL",
    )
    .bind(day)
    .bind(name)
    .bind(actor.user_id)
    .bind(clock::now_rfc3339())
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if added {
        audit::record(
            tx,
            actor,
            Event::new("schedules.holiday_add", "holiday", None)
                .detail(json!({"day": day, "name": name})),
        )
        .await?;
    }
    Ok(added)
}

pub async fn remove_holiday(tx: &mut Tx, day: &str, actor: &Actor) -> Result<(), DbError> {
    let removed = sqlx::query(
        "UPDATE declared_holidays SET voided_at = $2, voided_by = $3 \
         WHERE day = $1 AND voided_at IS NULL",
    )
    .bind(day)
    .bind(clock::now_rfc3339())
    .bind(actor.user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if removed == 1 {
        audit::record(
            tx,
            actor,
            Event::new("schedules.holiday_remove", "holiday", None).detail(json!({"day": day})),
        )
        .await?;
    }
    Ok(())
}
