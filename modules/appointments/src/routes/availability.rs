//! What the booking form offers: a clinic's places or a clinician's free times on the chosen day
//! and, when that day has none, why (once), on which days the clinic or clinician works and the
//! next day that has something free. One calendar is read for the look-ahead window (a handful
//! of queries, whatever its length) and every day is judged from it by the same rules.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use hms_core::dates;
use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;

use super::minute_now;
use crate::holidays::{holiday_on, Holiday};
use crate::repo::booking;
use crate::repo::schedules::{self, Clinic};
use crate::schedule::{self as rules, clock_text, WorkingHours, WEEKDAY_KEYS};

/// How far ahead the next free day is looked for.
const LOOK_AHEAD_DAYS: i64 = 60;

/// What can be booked for the chosen clinic (and clinician) on the chosen day.
#[derive(Debug, Default, Serialize)]
pub(super) struct Availability {
    /// Why nothing can be booked that day (past, holiday, not a clinic day, day off, no time
    /// left, full).
    pub closed: Option<String>,
    /// Free slots as (minute, "08:30").
    pub slots: Vec<(u32, String)>,
    /// A clinic day (places) rather than slots.
    pub is_day: bool,
    /// Places left on a clinic day.
    pub places_left: Option<i64>,
    /// When closed: the days the clinic runs or the clinician works there.
    pub works_on: Option<String>,
    /// When closed: the next day with something free, to choose it in one click.
    pub next: Option<NextDay>,
    /// When closed and nothing is free within the look-ahead window.
    pub none_ahead: Option<String>,
    /// Closed because every place is taken (a conflict with other desks, not a wrong choice).
    #[serde(skip)]
    pub full: bool,
}

/// Why a day offers nothing: the message, and whether it is because all places are taken.
struct Shut {
    message: String,
    full: bool,
}

impl From<String> for Shut {
    fn from(message: String) -> Self {
        Shut {
            message,
            full: false,
        }
    }
}

/// The next day with free places or times.
#[derive(Debug, Serialize)]
pub(super) struct NextDay {
    /// As the booking form's query carries it (`2026-12-09`).
    pub day: String,
    /// "Next free day: Wednesday 09 December 2026".
    pub text: String,
}

/// What a day offers.
enum Open {
    Slots(Vec<u32>),
    Places(i64),
}

/// Everything that decides what is free, read once for a window of days.
struct Calendar<'a> {
    clinic: &'a Clinic,
    clinician: Option<i64>,
    declared: Vec<Holiday>,
    hours: Vec<WorkingHours>,
    days_off: HashSet<String>,
    taken: HashMap<String, Vec<u32>>,
    booked: HashMap<String, i64>,
    today: NaiveDate,
    now_minute: u32,
}

impl<'a> Calendar<'a> {
    async fn load(
        db: &Db,
        clinic: &'a Clinic,
        clinician: Option<i64>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Calendar<'a>, DbError> {
        let (from_s, to_s) = (dates::text(from), dates::text(to));
        let mut cal = Calendar {
            clinic,
            clinician,
            declared: schedules::declared_holidays(db).await?,
            hours: Vec::new(),
            days_off: HashSet::new(),
            taken: HashMap::new(),
            booked: HashMap::new(),
            today: Day::today().date(),
            now_minute: minute_now(),
        };
        if clinic.booking == "day" {
            cal.booked = booking::day_booked_between(db, clinic.id, &from_s, &to_s)
                .await?
                .into_iter()
                .collect();
        } else if let Some(clinician) = clinician {
            cal.hours = schedules::hours_of(db, clinic.id, clinician).await?;
            cal.days_off = schedules::days_off_between(db, clinician, &from_s, &to_s)
                .await?
                .into_iter()
                .collect();
            for (day, minute) in booking::taken_between(db, clinician, &from_s, &to_s).await? {
                cal.taken.entry(day).or_default().push(minute);
            }
        }
        Ok(cal)
    }

    /// What `day` offers, or why it offers nothing (the message). `Ok(None)`: a clinic that
    /// books slots, with no clinician chosen yet.
    fn on(&self, day: NaiveDate) -> Result<Option<Open>, Shut> {
        if day < self.today {
            return Err(t("appointments.closed_past").into());
        }
        if let Some(h) = holiday_on(day, &self.declared) {
            if !self.clinic.opens_on_holidays {
                return Err(t("appointments.closed_holiday")
                    .replace("{name}", &h.name)
                    .into());
            }
        }
        let key = dates::text(day);
        if self.clinic.booking == "day" {
            let weekday = i64::from(day.weekday().number_from_monday());
            if !self.clinic.weekdays.contains(&weekday) {
                return Err(t("appointments.closed_weekday").into());
            }
            let taken = self.booked.get(&key).copied().unwrap_or(0);
            let left = (self.clinic.daily_capacity - taken).max(0);
            if left == 0 {
                return Err(Shut {
                    message: t("appointments.day_full"),
                    full: true,
                });
            }
            return Ok(Some(Open::Places(left)));
        }
        if self.clinician.is_none() {
            return Ok(None);
        }
        if self.days_off.contains(&key) {
            return Err(t("appointments.closed_day_off").into());
        }
        let minutes = u32::try_from(self.clinic.slot_minutes).unwrap_or(15);
        let taken = self.taken.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        let free = rules::free_slots(
            day,
            &self.hours,
            minutes,
            true,
            false,
            taken,
            Some((self.today, self.now_minute)),
        );
        if free.is_empty() {
            return Err(t("appointments.no_free_slots").into());
        }
        Ok(Some(Open::Slots(free)))
    }

    /// The weekdays the clinic runs (clinic days) or the clinician works there, in words.
    fn works_on(&self, clinician_name: Option<&str>) -> Option<String> {
        let weekdays: Vec<u32> = if self.clinic.booking == "day" {
            self.clinic
                .weekdays
                .iter()
                .filter_map(|d| u32::try_from(*d).ok())
                .collect()
        } else {
            let mut days: Vec<u32> = self.hours.iter().map(|h| h.weekday).collect();
            days.sort_unstable();
            days.dedup();
            days
        };
        let names: Vec<String> = weekdays
            .iter()
            .filter_map(|d| WEEKDAY_KEYS.get(usize::try_from(*d).ok()?.checked_sub(1)?))
            .map(|key| t(key))
            .collect();
        if names.is_empty() {
            return None;
        }
        let text = match clinician_name {
            Some(name) if self.clinic.booking != "day" => {
                t("appointments.clinician_works_on").replace("{clinician}", name)
            }
            _ => t("appointments.clinic_runs_on").replace("{clinic}", &self.clinic.name),
        };
        Some(text.replace("{days}", &names.join(", ")))
    }
}

/// What the form offers for `clinic` (and `clinician`, named `clinician_name`) on `day`.
pub(super) async fn availability(
    db: &Db,
    clinic: &Clinic,
    clinician: Option<(i64, &str)>,
    day: NaiveDate,
) -> Result<Availability, DbError> {
    let today = Day::today().date();
    let first = day.max(today);
    let last = first + chrono::Duration::days(LOOK_AHEAD_DAYS);
    let cal = Calendar::load(db, clinic, clinician.map(|c| c.0), first, last).await?;
    let mut a = Availability::default();
    match cal.on(day) {
        Ok(None) => {}
        Ok(Some(Open::Places(left))) => {
            a.is_day = true;
            a.places_left = Some(left);
        }
        Ok(Some(Open::Slots(free))) => {
            a.slots = free.into_iter().map(|m| (m, clock_text(m))).collect();
        }
        Err(shut) => {
            a.is_day = clinic.booking == "day";
            a.closed = Some(shut.message);
            a.full = shut.full;
            if !a.is_day && clinician.is_none() {
                // Which days work depends on the clinician, not chosen yet.
                return Ok(a);
            }
            a.works_on = cal.works_on(clinician.map(|c| c.1));
            let start = if day < today {
                today
            } else {
                day.succ_opt().unwrap_or(day)
            };
            let next = start
                .iter_days()
                .take_while(|d| *d <= last)
                .find(|d| matches!(cal.on(*d), Ok(Some(_))));
            match next {
                Some(d) => {
                    a.next = Some(NextDay {
                        day: dates::text(d),
                        text: t("appointments.next_free").replace("{day}", &Day::from(d).long()),
                    })
                }
                None => {
                    a.none_ahead = Some(
                        t("appointments.none_ahead")
                            .replace("{days}", &LOOK_AHEAD_DAYS.to_string()),
                    )
                }
            }
        }
    }
    Ok(a)
}
