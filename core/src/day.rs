//! A calendar day in Nairobi time: the one form of a date between the database, forms and code.
//! Stored as `YYYY-MM-DD` text (both databases sort and compare it as a date), read from what
//! people type through [`crate::dates`], shown to people as `25 Nov 2026`.

use std::fmt;

use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, Type};

use crate::dates::DateError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(NaiveDate);

impl Day {
    pub fn new(date: NaiveDate) -> Self {
        Self(date)
    }

    /// Today in Nairobi.
    pub fn today() -> Self {
        Self(
            Utc::now()
                .with_timezone(&crate::clock::nairobi())
                .date_naive(),
        )
    }

    /// The day of an event typed into a form (1900 to 2100), see [`crate::dates::event`].
    pub fn event(text: &str) -> Result<Self, DateError> {
        crate::dates::event(text).map(Self)
    }

    /// A date of birth typed into a form (1900 up to today).
    pub fn birth(text: &str) -> Result<Self, DateError> {
        crate::dates::birth(text, Self::today().0).map(Self)
    }

    /// From stored text; `None` for anything that is not `YYYY-MM-DD`.
    pub fn from_db_text(text: &str) -> Option<Self> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(Self)
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// As stored and as a date input sends it: `2026-11-25`.
    pub fn text(self) -> String {
        crate::dates::text(self.0)
    }

    /// For people, in the request's language: `07 Dec 2026`, in Kiswahili `07 Des 2026`.
    pub fn display(self) -> String {
        crate::dates::show(self.0)
    }

    /// With its weekday, for headings: `Monday 07 December 2026` / `Jumatatu 07 Desemba 2026`.
    pub fn long(self) -> String {
        crate::dates::show_long(self.0)
    }

    /// As a form's date field shows it: `07/12/2026`.
    pub fn form(self) -> String {
        crate::dates::form_text(self.0)
    }

    /// `days` later (earlier when negative), kept within the range events may fall in.
    pub fn plus_days(self, days: i64) -> Self {
        Self(crate::dates::shift(self.0, days))
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Day) -> i64 {
        (later.0 - self.0).num_days()
    }

    /// Monday of this day's week.
    pub fn monday(self) -> Self {
        Self(crate::dates::monday_of(self.0))
    }

    pub fn weekday(self) -> chrono::Weekday {
        self.0.weekday()
    }

    /// The instant the day starts in Nairobi, as epoch milliseconds (for `_ms` columns).
    pub fn start_ms(self) -> i64 {
        let midnight = self.0.and_hms_opt(0, 0, 0).expect("midnight exists");
        (midnight - TimeDelta::hours(3))
            .and_utc()
            .timestamp_millis()
    }
}

impl From<NaiveDate> for Day {
    fn from(date: NaiveDate) -> Self {
        Self(date)
    }
}

impl From<Day> for NaiveDate {
    fn from(day: Day) -> Self {
        day.0
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Day::event(&text).map_err(serde::de::Error::custom)
    }
}

impl Type<Any> for Day {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Any> for Day {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Any>>::encode(self.text(), buf)
    }
}

impl<'r> Decode<'r, Any> for Day {
    fn decode(value: <Any as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Any>>::decode(value)?;
        Day::from_db_text(text).ok_or_else(|| format!("not a stored day: {text:?}").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Day {
        Day::new(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn a_day_reads_and_shows_one_way() {
        assert_eq!(Day::event("2026-1-5").unwrap(), day(2026, 1, 5));
        assert_eq!(day(2026, 1, 5).text(), "2026-01-05");
        assert_eq!(day(2026, 11, 25).display(), "25 Nov 2026");
        assert_eq!(Day::from_db_text("2026-11-25"), Some(day(2026, 11, 25)));
        assert_eq!(Day::from_db_text("25/11/2026"), None);
        assert!(Day::event("2026-02-30").is_err());
        assert_eq!(
            serde_json::from_str::<Day>("\"2026-11-25\"").unwrap(),
            day(2026, 11, 25)
        );
        assert!(serde_json::from_str::<Day>("\"0001-01-01\"").is_err());
    }

    #[test]
    fn days_count_and_start_in_nairobi() {
        assert_eq!(day(2026, 12, 30).days_until(day(2027, 1, 2)), 3);
        assert_eq!(day(2026, 12, 6).monday(), day(2026, 11, 30));
        assert_eq!(day(2026, 12, 31).plus_days(1), day(2027, 1, 1));
        // Midnight in Nairobi is 21:00 UTC the evening before.
        assert_eq!(day(1970, 1, 2).start_ms(), 21 * 3600 * 1000);
    }
}
