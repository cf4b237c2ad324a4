//! What every part of the module shares: a patient's age on a given day (vital-sign ranges are
//! read by age band; MOH 705A or 705B is chosen by the age on the visit day).

use chrono::Datelike;
use hms_core::day::Day;

/// Age on a day, in whole days, months and years (a birthday counts from its day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age {
    pub days: i64,
    pub months: i64,
    pub years: i64,
}

impl Age {
    /// The age on `day` of someone born on `born`; `None` when `day` is before the birth.
    pub fn on(born: Day, day: Day) -> Option<Age> {
        let (b, d) = (born.date(), day.date());
        if d < b {
            return None;
        }
        let mut months =
            i64::from(d.year() - b.year()) * 12 + i64::from(d.month()) - i64::from(b.month());
        if d.day() < b.day() {
            months -= 1;
        }
        Some(Age {
            days: born.days_until(day),
            months,
            years: months / 12,
        })
    }

    /// Under five years: the MOH 705A form; five and over, 705B.
    pub fn under_five(self) -> bool {
        self.years < 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Day {
        Day::new(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn age_counts_a_birthday_from_its_day() {
        let born = day(2021, 12, 7);
        let eve = Age::on(born, day(2026, 12, 6)).unwrap();
        assert_eq!((eve.years, eve.months), (4, 59));
        assert!(eve.under_five());
        let birthday = Age::on(born, day(2026, 12, 7)).unwrap();
        assert_eq!((birthday.years, birthday.months), (5, 60));
        assert!(!birthday.under_five());
        assert_eq!(Age::on(born, day(2021, 12, 8)).unwrap().days, 1);
        assert_eq!(Age::on(born, day(2021, 12, 6)), None);
    }
}
