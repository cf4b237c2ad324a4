//! Which times and days can be booked: a clinician's weekly working hours with a break, cut into
//! slots of the clinic's length, on days that are neither the clinician's day off nor a public
//! holiday the clinic closes for. Pure functions over minutes since midnight, so every rule is
//! unit-tested; the repository feeds them what is stored.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// One weekday's working hours of a clinician at a clinic, in minutes since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkingHours {
    /// 1 = Monday … 7 = Sunday (ISO).
    pub weekday: u32,
    pub start: u32,
    pub end: u32,
    /// A break inside the hours (lunch), if any.
    pub break_start: Option<u32>,
    pub break_end: Option<u32>,
}

/// Why a set of working hours cannot be saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoursError {
    Weekday,
    EndBeforeStart,
    BreakOutside,
}

impl WorkingHours {
    pub fn check(&self) -> Result<(), HoursError> {
        if !(1..=7).contains(&self.weekday) {
            return Err(HoursError::Weekday);
        }
        if self.end <= self.start || self.end > 24 * 60 {
            return Err(HoursError::EndBeforeStart);
        }
        match (self.break_start, self.break_end) {
            (None, None) => Ok(()),
            (Some(s), Some(e)) if self.start <= s && s < e && e <= self.end => Ok(()),
            _ => Err(HoursError::BreakOutside),
        }
    }

    /// Whether `[from, from + length)` lies inside the hours and outside the break.
    fn holds(&self, from: u32, length: u32) -> bool {
        let to = from + length;
        let in_hours = self.start <= from && to <= self.end;
        let in_break = match (self.break_start, self.break_end) {
            (Some(s), Some(e)) => from < e && s < to,
            _ => false,
        };
        in_hours && !in_break
    }
}

/// Start times (minutes since midnight) of the slots of `slot_minutes` in the given hours, in
/// order, without duplicates when two sets of hours overlap.
pub fn slot_starts(hours: &[WorkingHours], weekday: u32, slot_minutes: u32) -> Vec<u32> {
    if slot_minutes == 0 {
        return Vec::new();
    }
    let mut out: Vec<u32> = Vec::new();
    for h in hours.iter().filter(|h| h.weekday == weekday) {
        let mut t = h.start;
        while t + slot_minutes <= h.end {
            if h.holds(t, slot_minutes) {
                out.push(t);
                t += slot_minutes;
            } else {
                // Skip to the end of the break, so slots after lunch start at its end.
                t = match h.break_end {
                    Some(e) if t < e => e,
                    _ => t + slot_minutes,
                };
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the clinic takes bookings on `date`: it is not a public holiday the clinic closes for.
pub fn clinic_open(
    date: NaiveDate,
    opens_on_holidays: bool,
    declared: &[crate::holidays::Holiday],
) -> bool {
    opens_on_holidays || crate::holidays::holiday_on(date, declared).is_none()
}

/// The free slots of a clinician on `date`: the day's slots minus those already booked, none on
/// a day off or a closed day, and none already past when `date` is today (`now_minute`).
pub fn free_slots(
    date: NaiveDate,
    hours: &[WorkingHours],
    slot_minutes: u32,
    open: bool,
    day_off: bool,
    booked: &[u32],
    now: Option<(NaiveDate, u32)>,
) -> Vec<u32> {
    if !open || day_off {
        return Vec::new();
    }
    let weekday = date.weekday().number_from_monday();
    slot_starts(hours, weekday, slot_minutes)
        .into_iter()
        .filter(|t| !booked.contains(t))
        .filter(|t| match now {
            Some((today, minute)) if today == date => *t > minute,
            Some((today, _)) => date > today,
            None => true,
        })
        .collect()
}

/// Translation keys of the weekday names, Monday first (ISO order).
pub const WEEKDAY_KEYS: [&str; 7] = [
    "appointments.mon",
    "appointments.tue",
    "appointments.wed",
    "appointments.thu",
    "appointments.fri",
    "appointments.sat",
    "appointments.sun",
];

/// "08:30" for 510 minutes.
pub fn clock_text(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Minutes since midnight from "08:30" (also "8:30"); `None` for anything else.
pub fn parse_clock(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holidays::Holiday;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    /// Monday 08:00–13:00 with a 10:30–11:00 tea break.
    fn monday() -> WorkingHours {
        WorkingHours {
            weekday: 1,
            start: 8 * 60,
            end: 13 * 60,
            break_start: Some(10 * 60 + 30),
            break_end: Some(11 * 60),
        }
    }

    #[test]
    fn hours_are_cut_into_slots_around_the_break() {
        let slots: Vec<String> = slot_starts(&[monday()], 1, 30)
            .into_iter()
            .map(clock_text)
            .collect();
        assert_eq!(
            slots,
            ["08:00", "08:30", "09:00", "09:30", "10:00", "11:00", "11:30", "12:00", "12:30"]
        );
        // 20-minute slots: 10:20 would run into the break; the next starts when it ends.
        let twenty = slot_starts(&[monday()], 1, 20);
        assert!(twenty.contains(&(10 * 60)) && !twenty.contains(&(10 * 60 + 20)));
        assert!(twenty.contains(&(11 * 60)));
        assert!(
            slot_starts(&[monday()], 2, 30).is_empty(),
            "no hours on Tuesday"
        );
        assert!(slot_starts(&[monday()], 1, 0).is_empty());
    }

    #[test]
    fn a_last_slot_that_would_run_past_closing_is_not_offered() {
        let h = WorkingHours {
            end: 9 * 60 + 45,
            break_start: None,
            break_end: None,
            ..monday()
        };
        assert_eq!(slot_starts(&[h], 1, 30), [480, 510, 540]);
    }

    #[test]
    fn working_hours_are_checked() {
        assert_eq!(monday().check(), Ok(()));
        let bad_break = WorkingHours {
            break_start: Some(7 * 60),
            ..monday()
        };
        assert_eq!(bad_break.check(), Err(HoursError::BreakOutside));
        let backwards = WorkingHours {
            end: 7 * 60,
            ..monday()
        };
        assert_eq!(backwards.check(), Err(HoursError::EndBeforeStart));
        let day = WorkingHours {
            weekday: 8,
            ..monday()
        };
        assert_eq!(day.check(), Err(HoursError::Weekday));
    }

    #[test]
    fn booked_past_days_off_and_holidays_leave_no_slot() {
        let monday_date = d(2026, 11, 30);
        let free = free_slots(monday_date, &[monday()], 30, true, false, &[480, 510], None);
        assert_eq!(
            free.first().copied(),
            Some(540),
            "booked slots are not offered"
        );
        assert!(free_slots(monday_date, &[monday()], 30, true, true, &[], None).is_empty());
        assert!(free_slots(monday_date, &[monday()], 30, false, false, &[], None).is_empty());
        // Today at 09:10: only later slots; yesterday: nothing.
        let today = free_slots(
            monday_date,
            &[monday()],
            30,
            true,
            false,
            &[],
            Some((monday_date, 550)),
        );
        assert_eq!(today.first().copied(), Some(570));
        let past = free_slots(
            monday_date,
            &[monday()],
            30,
            true,
            false,
            &[],
            Some((d(2026, 12, 1), 0)),
        );
        assert!(past.is_empty());
    }

    #[test]
    fn clinics_close_on_holidays_unless_they_say_otherwise() {
        let jamhuri = d(2026, 12, 12);
        assert!(!clinic_open(jamhuri, false, &[]));
        assert!(clinic_open(jamhuri, true, &[]), "hospitals do not close");
        let idd = Holiday {
            date: d(2026, 3, 20),
            name: "Idd-ul-Fitr".into(),
        };
        assert!(!clinic_open(d(2026, 3, 20), false, &[idd]));
        assert!(clinic_open(d(2026, 3, 19), false, &[]));
    }

    #[test]
    fn clock_times_read_and_print() {
        assert_eq!(parse_clock("08:30"), Some(510));
        assert_eq!(parse_clock(" 8:05 "), Some(485));
        assert_eq!(parse_clock("24:00"), None);
        assert_eq!(parse_clock("8h30"), None);
        assert_eq!(clock_text(485), "08:05");
    }
}
