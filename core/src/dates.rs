//! Dates people type (forms, filters, imports, the command line) and dates people read, in one
//! place. Typed the Kenyan way, day first (`7/12/2026`, `07-12-2026`, `07.12.2026`), or as stored
//! (`2026-12-07`), whatever the browser's language; always a four-digit year. Held to a sane
//! range: chrono accepts years from -262143 to +262142, and a day moved a week past either end
//! panics; a holiday in year 0001 or a day off in 9999 means nothing to a clinic, so events fall
//! from 1900 to 2100 and births from 1900 up to today. Shown as `07 Dec 2026` (`07 Des 2026` in
//! Kiswahili), in forms as `07/12/2026`.

use chrono::{Datelike, NaiveDate};

/// The first year a typed date may fall in.
pub const FIRST_YEAR: i32 = 1900;
/// The last year an event (appointment, holiday, day off, filter) may fall in.
pub const LAST_YEAR: i32 = 2100;

/// Why a typed date was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("not a date written as day/month/year")]
    Unreadable,
    /// Read as a day, a month and a year, but that month has no such day (`31/02/2026`).
    #[error("no day {day} in month {month} of {year}")]
    NoSuchDay { day: u32, month: u32, year: i32 },
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
            DateError::NoSuchDay { day, month, year } => crate::i18n::t("dates.no_such_day")
                .replace("{day}", &day.to_string())
                .replace("{month}", month_name(crate::i18n::current(), *month))
                .replace("{year}", &year.to_string()),
            DateError::TooEarly | DateError::TooLate => crate::i18n::t("dates.out_of_range")
                .replace("{from}", &form_text(earliest()))
                .replace("{to}", &form_text(latest)),
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

/// How a date is written in a form's field and its hint: `07/12/2026`.
pub fn form_text(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// A typed date: day first (`7/12/2026`, `07-12-2026`, `07.12.2026`) or year first
/// (`2026-12-07`), day and month of one or two digits, a four-digit year, one kind of separator.
/// Any year from 0000 to 9999: for recognising what was written; [`event`] and [`birth`]
/// accept.
pub fn read(text: &str) -> Result<NaiveDate, DateError> {
    let text = text.trim();
    let separator = text
        .chars()
        .find(|c| matches!(c, '/' | '-' | '.'))
        .ok_or(DateError::Unreadable)?;
    let mut parts = text.split(separator);
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DateError::Unreadable);
    };
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let (y, m, d) = if digits(a, 4..=4) && digits(b, 1..=2) && digits(c, 1..=2) {
        (a, b, c)
    } else if digits(a, 1..=2) && digits(b, 1..=2) && digits(c, 4..=4) {
        (c, b, a)
    } else {
        return Err(DateError::Unreadable);
    };
    let number = |s: &str| s.parse::<u32>().map_err(|_| DateError::Unreadable);
    let year = i32::try_from(number(y)?).map_err(|_| DateError::Unreadable)?;
    let (month, day) = (number(m)?, number(d)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(DateError::Unreadable);
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DateError::NoSuchDay { day, month, year })
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_SW: [&str; 12] = [
    "Januari", "Februari", "Machi", "Aprili", "Mei", "Juni", "Julai", "Agosti", "Septemba",
    "Oktoba", "Novemba", "Desemba",
];
const MONTHS_SHORT_SW: [&str; 12] = [
    "Jan", "Feb", "Mac", "Apr", "Mei", "Jun", "Jul", "Ago", "Sep", "Okt", "Nov", "Des",
];
const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const WEEKDAYS_SW: [&str; 7] = [
    "Jumatatu", "Jumanne", "Jumatano", "Alhamisi", "Ijumaa", "Jumamosi", "Jumapili",
];

/// A month's name (1 = January) in `lang` (`sw`, else English).
pub fn month_name(lang: &str, month: u32) -> &'static str {
    let names = if lang == "sw" { &MONTHS_SW } else { &MONTHS_EN };
    names[(month.clamp(1, 12) - 1) as usize]
}

/// A weekday's name in `lang` (`sw`, else English).
pub fn weekday_name(lang: &str, day: chrono::Weekday) -> &'static str {
    let names = if lang == "sw" {
        &WEEKDAYS_SW
    } else {
        &WEEKDAYS_EN
    };
    names[day.num_days_from_monday() as usize]
}

/// A date for people in the request's language: `07 Dec 2026`, `07 Des 2026`.
pub fn show(date: NaiveDate) -> String {
    show_in(crate::i18n::current(), date)
}

/// [`show`] in `lang`.
pub fn show_in(lang: &str, date: NaiveDate) -> String {
    let i = date.month0() as usize;
    let month = if lang == "sw" {
        MONTHS_SHORT_SW[i]
    } else {
        &MONTHS_EN[i][..3]
    };
    format!("{:02} {month} {}", date.day(), date.year())
}

/// A date with its weekday, for headings: `Monday 07 December 2026`, `Jumatatu 07 Desemba 2026`.
pub fn show_long(date: NaiveDate) -> String {
    let lang = crate::i18n::current();
    format!(
        "{} {:02} {} {}",
        weekday_name(lang, date.weekday()),
        date.day(),
        month_name(lang, date.month()),
        date.year()
    )
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
        assert_eq!(event("7/12/2026"), Ok(d(2026, 12, 7)));
        assert_eq!(event("07-12-2026"), Ok(d(2026, 12, 7)));
        assert_eq!(event("07.12.2026"), Ok(d(2026, 12, 7)));
        assert_eq!(event("2026/12/07"), Ok(d(2026, 12, 7)));
        assert_eq!(
            event("31/02/2026"),
            Err(DateError::NoSuchDay {
                day: 31,
                month: 2,
                year: 2026
            })
        );
        assert_eq!(
            event("2026-02-30"),
            Err(DateError::NoSuchDay {
                day: 30,
                month: 2,
                year: 2026
            })
        );
        assert_eq!(event("1900-01-01"), Ok(d(1900, 1, 1)));
        assert_eq!(event("2100-12-31"), Ok(d(2100, 12, 31)));
        for unreadable in [
            "+262142-12-31",
            "-262143-01-02",
            "262142-12-31",
            "11/25/2026",
            "25/11-2026",
            "25-11-26",
            "7 12 2026",
            "0/12/2026",
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

    #[test]
    fn dates_are_shown_the_kenyan_way_in_either_language() {
        let day = d(2026, 12, 7);
        assert_eq!(form_text(day), "07/12/2026");
        assert_eq!(show_in("en", day), "07 Dec 2026");
        assert_eq!(show_in("sw", day), "07 Des 2026");
        assert_eq!(show_in("sw", d(2026, 8, 1)), "01 Ago 2026");
        assert_eq!(weekday_name("sw", day.weekday()), "Jumatatu");
        assert_eq!(month_name("sw", 12), "Desemba");
        assert_eq!(read(&form_text(day)), Ok(day));
    }
}
