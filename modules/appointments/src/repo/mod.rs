//! All SQL of the appointments module: scheduling and bookings here, visits and queues in
//! `queue.rs`.

/// The ids of a service point's first entries in calling order, at most `limit` of each part:
/// those called or being served (few), and the waiting read in calling order (priority first,
/// then the longest waiting) from the partial index `queue_entries_calling`. A listing joins
/// these ids and puts them in order again: a sort of at most twice `limit` rows. `point` is
/// an SQL expression giving the point's id, `limit` the parameter of the count.
macro_rules! calling_order {
    ($point:literal, $limit:literal) => {
        concat!(
            "SELECT id FROM (SELECT id FROM queue_entries WHERE service_point_id = ",
            $point,
            " AND state IN ('called', 'serving') ORDER BY called_at, priority DESC, \
             enqueued_at, id LIMIT CAST(",
            $limit,
            " AS BIGINT)) AS active UNION ALL SELECT id FROM (SELECT id FROM queue_entries \
             WHERE service_point_id = ",
            $point,
            " AND state = 'waiting' ORDER BY priority DESC, enqueued_at, id LIMIT CAST(",
            $limit,
            " AS BIGINT)) AS waiting"
        )
    };
}

pub mod booking;
pub mod demo;
pub mod queue;
pub mod reminders;
pub mod reporting;
pub mod schedules;
pub mod visits;

use chrono::TimeZone;
use hms_core::clock;
use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::module::TimelineEntry;
use sqlx::Row;

/// Nairobi wall-clock `day` + `minute` as RFC 3339 UTC, the timeline's sort key.
pub fn local_to_rfc3339(day: &str, minute: Option<i64>) -> String {
    let Some(date) = Day::from_db_text(day).map(Day::date) else {
        return String::new();
    };
    let minute = u32::try_from(minute.unwrap_or(0)).unwrap_or(0);
    let local = date
        .and_hms_opt(minute / 60 % 24, minute % 60, 0)
        .and_then(|t| clock::nairobi().from_local_datetime(&t).single());
    local
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_default()
}

/// The patient's appointments and visits for the chart timeline, newest first. `patients` is the
/// chart's id and the ids merged into it (a handful at most), read one by one.
pub async fn timeline(
    db: &Db,
    patients: &[i64],
    limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    let mut out = Vec::new();
    for patient in patients {
        for r in sqlx::query(
            "SELECT a.day, a.start_minute, a.status, c.name, u.full_name FROM appointments a \
             JOIN clinics c ON c.id = a.clinic_id LEFT JOIN users u ON u.id = a.clinician_id \
             WHERE a.patient_id = $1 ORDER BY a.day DESC, COALESCE(a.start_minute, -1) DESC \
             LIMIT CAST($2 AS BIGINT)",
        )
        .bind(patient)
        .bind(limit)
        .fetch_all(db.read())
        .await?
        {
            let day: String = r.get(0);
            let start: Option<i64> = r.get(1);
            let status: String = r.get(2);
            let clinician: Option<String> = r.get(4);
            out.push(TimelineEntry {
                at: local_to_rfc3339(&day, start),
                kind: "appointments.timeline_appointment",
                title: match clinician {
                    Some(c) => format!("{} · {c}", r.get::<String, _>(3)),
                    None => r.get(3),
                },
                detail: Some(crate::model::status_label(&status)),
                href: Some(format!("/appointments?day={day}")),
                permission: crate::VIEW,
            });
        }
        for r in sqlx::query(
            "SELECT checked_in_at, token, payer, status, day FROM visits WHERE patient_id = $1 \
             ORDER BY id DESC LIMIT CAST($2 AS BIGINT)",
        )
        .bind(patient)
        .bind(limit)
        .fetch_all(db.read())
        .await?
        {
            out.push(TimelineEntry {
                at: r.get(0),
                kind: "appointments.timeline_visit",
                title: t("appointments.visit_token")
                    .replace("{token}", &r.get::<i64, _>(1).to_string()),
                detail: Some(crate::model::payer_label(&r.get::<String, _>(2))),
                href: None,
                permission: crate::VIEW,
            });
        }
    }
    Ok(out)
}
