//! Kenya's public holidays (Public Holidays Act, Cap. 110, and Article 9 of the Constitution).
//! The dates fixed in the Act and the Easter-based ones are computed here; Idd-ul-Fitr and
//! Idd-ul-Azha depend on the moon and are announced each year, and the Cabinet Secretary gazettes
//! one-off days, so those are entered by an administrator and passed in as `declared`.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// A public holiday on a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

fn ymd(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Easter Sunday of `year` in the Gregorian calendar (the "anonymous Gregorian" computus).
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    ymd(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The name 10 October has carried: Moi Day, then Utamaduni Day (2020), renamed Mazingira Day by
/// the Statute Law (Miscellaneous Amendments) Act 2024.
fn tenth_of_october(year: i32) -> &'static str {
    match year {
        ..=2019 => "Moi Day",
        2020..=2023 => "Utamaduni Day",
        _ => "Mazingira Day",
    }
}

/// The public holidays of `year` from the Act's Part I and Easter, with the Sunday rule (s.4):
/// a holiday on a Sunday moves to the next day that is not already a holiday (Christmas on a
/// Sunday gives Tuesday 27 December, since Monday is Boxing Day). `declared` are the days an
/// administrator entered (Idd, gazetted days); they are holidays as entered and also block the
/// day a Sunday holiday would move to.
pub fn holidays(year: i32, declared: &[Holiday]) -> Vec<Holiday> {
    let mut fixed: Vec<(Option<NaiveDate>, &str)> = vec![
        (ymd(year, 1, 1), "New Year's Day"),
        (ymd(year, 5, 1), "Labour Day"),
        (ymd(year, 6, 1), "Madaraka Day"),
        (ymd(year, 10, 10), tenth_of_october(year)),
        (ymd(year, 10, 20), "Mashujaa Day"),
        (ymd(year, 12, 12), "Jamhuri Day"),
        (ymd(year, 12, 25), "Christmas Day"),
        (ymd(year, 12, 26), "Boxing Day"),
    ];
    if let Some(easter) = easter_sunday(year) {
        fixed.push((Some(easter - Duration::days(2)), "Good Friday"));
        fixed.push((Some(easter + Duration::days(1)), "Easter Monday"));
    }
    let mut out: Vec<Holiday> = fixed
        .into_iter()
        .filter_map(|(date, name)| {
            date.map(|date| Holiday {
                date,
                name: name.to_string(),
            })
        })
        .collect();
    out.extend(declared.iter().filter(|h| h.date.year() == year).cloned());
    // Sunday rule, in date order so that a moved holiday also blocks later moves.
    out.sort_by_key(|h| h.date);
    let sundays: Vec<Holiday> = out
        .iter()
        .filter(|h| h.date.weekday() == Weekday::Sun && !declared.contains(h))
        .cloned()
        .collect();
    for sunday in sundays {
        let mut day = sunday.date + Duration::days(1);
        while out.iter().any(|h| h.date == day) {
            day += Duration::days(1);
        }
        out.push(Holiday {
            date: day,
            name: format!("{} (observed)", sunday.name),
        });
    }
    out.sort_by_key(|h| h.date);
    out
}

/// A public holiday's name (as the Act has it, in English) in the request's language; names
/// entered by an administrator are shown as written and never come here.
pub fn name_in_language(name: &str) -> String {
    let (base, observed) = match name.strip_suffix(" (observed)") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let slug: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .collect::<String>()
        .to_ascii_lowercase()
        .replace(' ', "_");
    let key = format!("appointments_holidays.{slug}");
    if !hms_core::i18n::has(&key) {
        return name.to_string();
    }
    let shown = hms_core::i18n::t(&key);
    if observed {
        hms_core::i18n::t("appointments_holidays.observed").replace("{name}", &shown)
    } else {
        shown
    }
}

/// The holiday on `date`, if any.
pub fn holiday_on(date: NaiveDate, declared: &[Holiday]) -> Option<Holiday> {
    holidays(date.year(), declared)
        .into_iter()
        .find(|h| h.date == date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn easter_falls_on_the_known_dates() {
        for (year, month, day) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2019, 4, 21),
            (2000, 4, 23),
        ] {
            assert_eq!(easter_sunday(year), Some(d(year, month, day)), "{year}");
        }
    }

    #[test]
    fn the_acts_holidays_of_2026() {
        let all = holidays(2026, &[]);
        let dates: Vec<NaiveDate> = all.iter().map(|h| h.date).collect();
        for expected in [
            d(2026, 1, 1),
            d(2026, 4, 3),
            d(2026, 4, 6),
            d(2026, 5, 1),
            d(2026, 6, 1),
            d(2026, 10, 10),
            d(2026, 10, 20),
            d(2026, 12, 12),
            d(2026, 12, 25),
            d(2026, 12, 26),
        ] {
            assert!(dates.contains(&expected), "{expected}");
        }
        assert_eq!(
            holiday_on(d(2026, 10, 10), &[]).map(|h| h.name),
            Some("Mazingira Day".into())
        );
        assert!(holiday_on(d(2026, 11, 25), &[]).is_none());
    }

    #[test]
    fn a_sunday_holiday_moves_to_the_next_free_day() {
        // Christmas 2022 was a Sunday and Monday was Boxing Day: Tuesday 27 Dec was the holiday.
        let h = holiday_on(d(2022, 12, 27), &[]).expect("observed Christmas");
        assert_eq!(h.name, "Christmas Day (observed)");
        // Madaraka Day 2025 (1 June) was a Sunday: Monday 2 June.
        assert!(holiday_on(d(2025, 6, 2), &[]).is_some());
        // Jamhuri Day 2027 (12 Dec) is a Sunday: Monday 13 Dec.
        assert!(holiday_on(d(2027, 12, 13), &[]).is_some());
        assert!(holiday_on(d(2027, 12, 14), &[]).is_none());
    }

    #[test]
    fn declared_days_count_and_block_a_moved_holiday() {
        let idd = Holiday {
            date: d(2026, 3, 20),
            name: "Idd-ul-Fitr".into(),
        };
        assert_eq!(
            holiday_on(d(2026, 3, 20), std::slice::from_ref(&idd)).map(|h| h.name),
            Some("Idd-ul-Fitr".into())
        );
        // A gazetted Monday after a Sunday holiday pushes the observed day to Tuesday.
        let gazetted = Holiday {
            date: d(2025, 6, 2),
            name: "Gazetted day".into(),
        };
        assert_eq!(
            holiday_on(d(2025, 6, 3), std::slice::from_ref(&gazetted)).map(|h| h.name),
            Some("Madaraka Day (observed)".into())
        );
    }
}
