//! Dates people type (forms, filters, imports, the command line), read in one place and held to
//! a sane range. chrono accepts years from -262143 to +262142, and a day moved a week past either
//! end panics; a holiday in year 0001 or a day off in 9999 means nothing to a clinic. So a date
//! is `YYYY-MM-DD` with a four-digit year, events fall from 1900 to 2100, and births from 1900
//! up to today.

use chrono::{Datelike, NaiveDate};

/// The first year a typed date may fall in.
pub const FIRST_YEAR: i32 = 1900;
/// The last year an event (appointment, holiday, day off, filter) may fall in.
pub const LAST_YEAR: i32 = 2100;

/// Why a typed date was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("not a date written as year-month-day")]
    Unreadable,
    #[error("before {FIRST_YEAR}")]
    TooEarly,
    #[error("after the latest date allowed")]
    TooLate,
}

impl DateError {
    /// The message to show beside the field, in the request's language.
    pub fn message(&self, latest: NaiveDate) -> String {
        match self {
            DateError::Unreadable => crate::i18n::t("dates.unreadable"),
            DateError::TooEarly | DateError::TooLate => crate::i18n::t("dates.out_of_range")
                .replace("{from}", &text(earliest()))
                .replace("{to}", &text(latest)),
        }
    }
}

/// 1900-01-01.
pub fn earliest() -> NaiveDate {
    NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).expect("1900-01-01 exists")
}

/// 2100-12-31, the last day an event may fall on.
pub fn latest_event() -> NaiveDate {
    NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).expect("2100-12-31 exists")
}

/// A date as stored and as a date input sends it: `2026-11-25`.
pub fn text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// `YYYY-MM-DD` (month and day may have one digit), nothing else: no sign, no five-digit year.
/// Any year from 0000 to 9999: for recognising what was written; [`event`] and [`birth`]
/// accept.
pub fn read(text: &str) -> Result<NaiveDate, DateError> {
    let mut parts = text.trim().split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DateError::Unreadable);
    };
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !(digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2)) {
        return Err(DateError::Unreadable);
    }
    let number = |s: &str| s.parse::<u32>().map_err(|_| DateError::Unreadable);
    let year = i32::try_from(number(y)?).map_err(|_| DateError::Unreadable)?;
    NaiveDate::from_ymd_opt(year, number(m)?, number(d)?).ok_or(DateError::Unreadable)
}

/// A date within `first..=last`.
pub fn within(text: &str, first: NaiveDate, last: NaiveDate) -> Result<NaiveDate, DateError> {
    let date = read(text)?;
    if date < first {
        Err(DateError::TooEarly)
    } else if date > last {
        Err(DateError::TooLate)
    } else {
        Ok(date)
    }
}

/// The date of an event (appointment, holiday, day off, deactivation, a report's bounds):
/// from 1900 to 2100.
pub fn event(text: &str) -> Result<NaiveDate, DateError> {
    within(text, earliest(), latest_event())
}

/// A date of birth: from 1900 up to `today`.
pub fn birth(text: &str, today: NaiveDate) -> Result<NaiveDate, DateError> {
    within(text, earliest(), today)
}

/// A date typed into a list's filter, where a wrong date must not stop the list: the date, or
/// `default` with the message to show when something unusable was typed. An empty filter is
/// `default` without a message.
pub fn filter(text: &str, default: NaiveDate) -> (NaiveDate, Option<String>) {
    if text.trim().is_empty() {
        return (default, None);
    }
    match event(text) {
        Ok(date) => (date, None),
        Err(e) => (default, Some(e.message(latest_event()))),
    }
}

/// `date` moved by `days`, kept within the event range (a list's "earlier"/"later" links at the
/// range's ends).
pub fn shift(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(chrono::TimeDelta::days(days))
        .unwrap_or(date)
        .clamp(earliest(), latest_event())
}

/// The Monday of `date`'s week, within the event range.
pub fn monday_of(date: NaiveDate) -> NaiveDate {
    shift(date, -i64::from(date.weekday().num_days_from_monday()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates_are_year_month_day_within_the_range() {
        assert_eq!(event("2026-11-25"), Ok(d(2026, 11, 25)));
        assert_eq!(event(" 2026-1-5 "), Ok(d(2026, 1, 5)));
        assert_eq!(event("1900-01-01"), Ok(d(1900, 1, 1)));
        assert_eq!(event("2100-12-31"), Ok(d(2100, 12, 31)));
        for unreadable in [
            "+262142-12-31",
            "-262143-01-02",
            "262142-12-31",
            "2026-02-30",
            "2026/11/25",
            "25-11-2026",
            "2026-11-25-1",
            "",
            "２０２６-11-25",
        ] {
            assert_eq!(
                event(unreadable),
                Err(DateError::Unreadable),
                "{unreadable}"
            );
        }
        assert_eq!(event("0001-01-01"), Err(DateError::TooEarly));
        assert_eq!(event("1899-12-31"), Err(DateError::TooEarly));
        assert_eq!(event("9999-12-31"), Err(DateError::TooLate));
        assert_eq!(event("2101-01-01"), Err(DateError::TooLate));
    }

    #[test]
    fn births_end_today() {
        let today = d(2026, 11, 25);
        assert_eq!(birth("1990-05-31", today), Ok(d(1990, 5, 31)));
        assert_eq!(birth("2026-11-25", today), Ok(today));
        assert_eq!(birth("2026-11-26", today), Err(DateError::TooLate));
        assert_eq!(birth("1899-01-01", today), Err(DateError::TooEarly));
    }

    #[test]
    fn filters_fall_back_with_a_message_and_moves_stay_in_range() {
        let today = d(2026, 11, 25);
        assert_eq!(filter("", today), (today, None));
        assert_eq!(filter("2026-12-01", today), (d(2026, 12, 1), None));
        let (day, message) = filter("+262142-12-31", today);
        assert_eq!(day, today);
        assert!(message.is_some());
        assert_eq!(shift(latest_event(), 7), latest_event());
        assert_eq!(shift(earliest(), -30), earliest());
        assert_eq!(monday_of(d(2026, 11, 25)), d(2026, 11, 23));
        assert_eq!(monday_of(earliest()), earliest());
    }
}
