//! Appointment reminders: some days before an appointment (`reminder_days_before`, 1 by default)
//! an email goes through the core outbox to each patient who has an email address and agreed to
//! be contacted. The email says where and when, and to bring the patient card; never why (no
//! reason, no diagnosis: mailboxes are shared and read over shoulders).
//!
//! Sent once: each appointment's reminder is claimed with a guarded update
//! (`reminder_queued_at` set only while unset, checked for one row) in the same transaction as
//! the outbox row and the audit row. The job can run any number of times, from the server's
//! background task on every app server and from `hms reminders run`, and each patient still gets
//! one email; the outbox sender, in turn, sends each message once.

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, Timelike, Utc};
use serde_json::json;

use hms_core::audit::{self, Actor, Event};
use hms_core::config::Config;
use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::{self, t_in};
use hms_core::ids::PatientId;
use hms_core::module::StopSignal;
use hms_core::module_config::{Setting, SettingKind};
use hms_core::outbox::{self, OutboxError};
use hms_core::{clock, settings, App};
use hms_patients::api as patients;

use crate::repo::reminders::{self as repo, Claimed};
use crate::schedule::clock_text;

#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl From<sqlx::Error> for ReminderError {
    fn from(e: sqlx::Error) -> Self {
        ReminderError::Db(DbError::from(e))
    }
}

/// Appointments read per round of [`queue_reminders`].
const BATCH: i64 = 200;

/// How often the server's background task looks whether reminders are due.
const CHECK_EVERY: Duration = Duration::from_secs(300);

/// `[modules.appointments] reminder_days_before`.
pub const DAYS_BEFORE: Setting = Setting {
    key: "reminder_days_before",
    description:
        "Appointment reminders go out this many days before the appointment (0: the same day)",
    kind: SettingKind::Integer {
        default: 1,
        min: 0,
        max: 30,
    },
};

/// `[modules.appointments] reminder_hour`.
pub const HOUR: Setting = Setting {
    key: "reminder_hour",
    description: "Local (Nairobi) hour of the day from which the day's reminders are queued",
    kind: SettingKind::Integer {
        default: 9,
        min: 0,
        max: 23,
    },
};

/// The reminder timing configured for this server: (days before, hour).
pub fn timing(config: &Config) -> (u64, u64) {
    let read = |s: &Setting| u64::try_from(config.module_integer("appointments", s)).unwrap_or(0);
    (read(&DAYS_BEFORE), read(&HOUR))
}

/// Who the reminders come from and in which language: the facility settings (name, phone,
/// default language). Read when the job runs, so a change on any app server is followed.
#[derive(Debug, Clone)]
pub struct Facility {
    pub name: String,
    pub phone: Option<String>,
    /// `en` or `sw`.
    pub language: &'static str,
}

impl Facility {
    pub async fn from_settings(db: &Db) -> Result<Self, DbError> {
        let all = settings::facility(db).await?;
        let value = |key: &str| {
            all.get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Ok(Self {
            name: value("facility_name").unwrap_or_default(),
            phone: value("facility_phone"),
            language: value("default_language")
                .and_then(|l| i18n::resolve(&l))
                .unwrap_or("en"),
        })
    }
}

/// The day whose reminders are due at local time `now`: `days_before` days ahead, once the
/// local `hour` has come (`None` before it).
pub fn due_day(now: DateTime<FixedOffset>, days_before: u64, hour: u64) -> Option<NaiveDate> {
    if u64::from(now.hour()) < hour {
        return None;
    }
    now.date_naive().checked_add_days(Days::new(days_before))
}

/// The day reminders are due for now, by the configured timing, whatever the hour (the
/// command line's default).
pub fn default_day(days_before: u64) -> Option<NaiveDate> {
    due_day(clock::to_local(Utc::now()), days_before, 0)
}

/// Queues the reminders of the appointments on `for_day` that have none yet; returns how many
/// were queued. One transaction per appointment: claim, outbox row, audit row.
pub async fn queue_reminders(
    db: &Db,
    for_day: NaiveDate,
    facility: &Facility,
    actor: &Actor,
) -> Result<usize, ReminderError> {
    let day = Day::from(for_day);
    let mut after = 0;
    let mut queued = 0;
    loop {
        let due = repo::due(db, day, after, BATCH).await?;
        let Some(last) = due.last() else {
            break;
        };
        after = last.0;
        // Only patients who can be written to: one read of their contact data per batch.
        let ids: Vec<PatientId> = due.iter().map(|(_, p)| *p).collect();
        let reachable = patients::contacts(db, &ids).await?;
        for (id, patient) in due {
            let writable = reachable
                .iter()
                .any(|(p, c)| *p == patient && c.email_to().is_some());
            if writable && queue_one(db, id, facility, actor).await? {
                queued += 1;
            }
        }
    }
    Ok(queued)
}

/// Claims and queues one appointment's reminder; false when another run has it, or the booking
/// or the patient's consent changed since it was listed (then the transaction rolls back).
async fn queue_one(
    db: &Db,
    id: i64,
    facility: &Facility,
    actor: &Actor,
) -> Result<bool, ReminderError> {
    let mut tx = db.begin().await?;
    let Some(claimed) = repo::claim(&mut tx, id, &clock::now_rfc3339()).await? else {
        return Ok(false);
    };
    let contact = patients::contact_in(&mut tx, claimed.patient_id).await?;
    let Some(to) = contact.as_ref().and_then(|c| c.email_to()) else {
        return Ok(false);
    };
    let (subject, body) = message(facility, &claimed);
    let (event, queued) = match outbox::enqueue(&mut tx, to, &subject, &body).await {
        Ok(message) => (
            Event::new("appointment.reminder_queued", "appointment", Some(id)).detail(
                json!({"channel": outbox::EMAIL, "day": claimed.day, "outbox_id": message}),
            ),
            true,
        ),
        // An address stored before addresses were checked: marked done, not retried all day.
        Err(OutboxError::BadAddress(_)) => (
            Event::new("appointment.reminder_skipped", "appointment", Some(id))
                .detail(json!({"channel": outbox::EMAIL, "reason": "invalid email address"})),
            false,
        ),
        Err(e) => return Err(e.into()),
    };
    audit::record(&mut tx, actor, event.patient(claimed.patient_id.get())).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(queued)
}

/// The weekday's name key (Monday first).
fn weekday_key(day: NaiveDate) -> &'static str {
    crate::schedule::WEEKDAY_KEYS[day.weekday().num_days_from_monday() as usize]
}

/// Subject and plain-text body in the facility's language: facility, clinic, date, time (or
/// clinic day), the patient card. No name, reason or diagnosis.
fn message(facility: &Facility, a: &Claimed) -> (String, String) {
    let lang = facility.language;
    let text = |key: &str| t_in(lang, &format!("appointments_reminders.{key}"));
    let d = a.day.date();
    let date = format!("{} {}", t_in(lang, weekday_key(d)), d.format("%d/%m/%Y"));
    let time = match a.start_minute.and_then(|m| u32::try_from(m).ok()) {
        Some(m) => text("time").replace("{time}", &clock_text(m)),
        None => text("clinic_day"),
    };
    let mut lines = vec![
        text("greeting"),
        String::new(),
        text("intro").replace("{facility}", &facility.name),
        String::new(),
        text("clinic").replace("{clinic}", &a.clinic),
        text("date").replace("{date}", &date),
        time,
        String::new(),
        text("bring"),
        text("cannot_come"),
    ];
    if let Some(phone) = &facility.phone {
        lines.push(text("phone").replace("{phone}", phone));
    }
    lines.extend([
        String::new(),
        facility.name.clone(),
        String::new(),
        text("footer").replace("{facility}", &facility.name),
    ]);
    let subject = text("subject").replace("{facility}", &facility.name);
    (subject, lines.join("\n") + "\n")
}

/// The server's reminder task (started through `Module::background`): every few minutes, once
/// the configured local hour has come, queues the reminders of the day `reminder_days_before`
/// ahead. Running again, or on every app server, queues nothing twice. Without an email server
/// configured here it does nothing: a reminder that waited in the outbox would arrive late.
pub async fn run_in_background(app: App, mut stop: StopSignal) {
    if app.config.smtp_url.is_none() {
        tracing::info!(
            "appointment reminders are not queued by this server: no email server (smtp_url)"
        );
        return;
    }
    let actor = Actor {
        user_id: None,
        client_addr: Some("system".into()),
        request_id: None,
    };
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = round(&app, &actor).await {
            tracing::error!(error = %e, "appointment reminders: the round failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn round(app: &App, actor: &Actor) -> Result<(), ReminderError> {
    let (days_before, hour) = timing(&app.config);
    let Some(day) = due_day(clock::to_local(Utc::now()), days_before, hour) else {
        return Ok(());
    };
    // The licence gate: a module the licence does not cover sends nothing either.
    let licensing = &app.licensing;
    if !licensing
        .loaded(&app.db)
        .await?
        .verdict(licensing.today())
        .covers("appointments")
    {
        return Ok(());
    }
    let facility = Facility::from_settings(&app.db).await?;
    let queued = queue_reminders(&app.db, day, &facility, actor).await?;
    if queued > 0 {
        tracing::info!(queued, %day, "appointment reminders queued");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<FixedOffset> {
        clock::nairobi()
            .with_ymd_and_hms(y, m, d, h, 30, 0)
            .unwrap()
    }

    fn claimed(start_minute: Option<i64>) -> Claimed {
        Claimed {
            patient_id: PatientId(7),
            day: Day::event("2026-05-12").unwrap(),
            start_minute,
            clinic: "MCH".into(),
        }
    }

    #[test]
    fn reminders_are_due_from_the_configured_hour_for_the_day_ahead() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(due_day(at(2026, 5, 11, 8), 1, 9), None);
        assert_eq!(due_day(at(2026, 5, 11, 9), 1, 9), day(2026, 5, 12));
        assert_eq!(due_day(at(2026, 5, 11, 23), 1, 9), day(2026, 5, 12));
        assert_eq!(due_day(at(2026, 12, 31, 10), 2, 9), day(2027, 1, 2));
        assert_eq!(due_day(at(2026, 5, 11, 0), 0, 0), day(2026, 5, 11));
    }

    #[test]
    fn the_email_says_where_and_when_in_the_facility_language() {
        use hms_core::module::Module;
        hms_core::i18n::install(&[("appointments", crate::AppointmentsModule.locales())]).unwrap();
        let facility = Facility {
            name: "Mwangaza Health Centre".into(),
            phone: Some("0712 345 678".into()),
            language: "en",
        };
        let (subject, body) = message(&facility, &claimed(Some(510)));
        assert!(subject.contains("Mwangaza Health Centre"), "{subject}");
        for part in [
            "Mwangaza Health Centre",
            "MCH",
            "Tuesday 12/05/2026",
            "08:30",
            "patient card",
            "0712 345 678",
        ] {
            assert!(body.contains(part), "{part} in {body}");
        }
        let (_, day_body) = message(&facility, &claimed(None));
        assert!(day_body.contains("clinic day"), "{day_body}");

        let sw = Facility {
            language: "sw",
            phone: None,
            ..facility
        };
        let (subject, body) = message(&sw, &claimed(Some(510)));
        assert!(subject.contains("Mwangaza Health Centre"));
        assert!(
            body.contains("Jumanne 12/05/2026") && body.contains("kadi"),
            "{body}"
        );
        assert!(
            !body.contains("appointments_reminders."),
            "every key has a text"
        );
    }
}
