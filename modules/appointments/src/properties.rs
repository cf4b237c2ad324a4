//! Property tests of the booking rules: public holidays over two centuries and free slots over
//! random working hours.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use hms_core::props::{check, ensure};
use rand::RngExt;

use crate::holidays::{easter_sunday, holiday_on, holidays};
use crate::schedule::{free_slots, slot_starts, WorkingHours};

#[test]
fn every_year_has_its_holidays_and_each_sunday_one_is_observed_on_a_later_day() {
    check(
        "holidays of a year",
        400,
        |r| r.random_range(1900..=2100),
        |&year| {
            let all = holidays(year, &[]);
            let easter = easter_sunday(year).ok_or("no Easter")?;
            ensure(easter.weekday() == Weekday::Sun, || {
                format!("Easter {easter} is not a Sunday")
            })?;
            let (earliest, latest) = (
                NaiveDate::from_ymd_opt(year, 3, 22).unwrap(),
                NaiveDate::from_ymd_opt(year, 4, 25).unwrap(),
            );
            ensure((earliest..=latest).contains(&easter), || {
                format!("Easter {easter} out of range")
            })?;
            for (m, d) in [
                (1, 1),
                (5, 1),
                (6, 1),
                (10, 10),
                (10, 20),
                (12, 12),
                (12, 25),
                (12, 26),
            ] {
                let date = NaiveDate::from_ymd_opt(year, m, d).unwrap();
                ensure(holiday_on(date, &[]).is_some(), || {
                    format!("{date} is not a holiday")
                })?;
            }
            for date in [easter - Duration::days(2), easter + Duration::days(1)] {
                ensure(all.iter().any(|h| h.date == date), || {
                    format!("{date} (Easter) missing")
                })?;
            }
            ensure(all.windows(2).all(|w| w[0].date <= w[1].date), || {
                "not in date order".into()
            })?;
            // Every Sunday holiday is observed on a later day that is not itself a Sunday.
            let sundays = all
                .iter()
                .filter(|h| h.date.weekday() == Weekday::Sun)
                .count();
            let observed: Vec<_> = all
                .iter()
                .filter(|h| h.name.ends_with("(observed)"))
                .collect();
            ensure(sundays == observed.len(), || {
                format!("{sundays} Sunday holidays, {} observed", observed.len())
            })?;
            ensure(
                observed.iter().all(|h| h.date.weekday() != Weekday::Sun),
                || "observed on a Sunday".into(),
            )?;
            let mut dates: Vec<_> = all.iter().map(|h| h.date).collect();
            dates.dedup();
            ensure(dates.len() == all.len(), || {
                "two holidays share a date".into()
            })
        },
    );
}

#[derive(Debug)]
struct Day {
    date: NaiveDate,
    hours: Vec<WorkingHours>,
    slot: u32,
    booked: Vec<u32>,
    now: Option<(NaiveDate, u32)>,
}

fn random_day(r: &mut rand::rngs::StdRng) -> Day {
    let date =
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(r.random_range(0..365));
    let hours = (0..r.random_range(0..3))
        .map(|_| {
            let start = r.random_range(0..20) * 30;
            let end = (start + r.random_range(1..40) * 15).min(24 * 60);
            let lunch = r.random_bool(0.5) && end - start > 60;
            let break_start = lunch.then(|| start + (end - start) / 2);
            WorkingHours {
                weekday: date.weekday().number_from_monday(),
                start,
                end,
                break_start,
                break_end: break_start.map(|b| (b + 30).min(end)),
            }
        })
        .filter(|h| h.check().is_ok())
        .collect();
    let slot = [10, 15, 20, 30, 45][r.random_range(0..5)];
    let booked = (0..r.random_range(0..6))
        .map(|_| r.random_range(0..96) * 15)
        .collect();
    let now = r
        .random_bool(0.3)
        .then(|| (date, r.random_range(0..24 * 60)));
    Day {
        date,
        hours,
        slot,
        booked,
        now,
    }
}

#[test]
fn free_slots_fit_the_hours_miss_the_break_and_bookings_and_are_not_past() {
    check("free slots", 3_000, random_day, |d| {
        let weekday = d.date.weekday().number_from_monday();
        let all = slot_starts(&d.hours, weekday, d.slot);
        let free = free_slots(d.date, &d.hours, d.slot, true, false, &d.booked, d.now);
        ensure(free.windows(2).all(|w| w[0] < w[1]), || {
            format!("not sorted and distinct: {free:?}")
        })?;
        for t in &free {
            ensure(all.contains(t), || format!("{t} is not a slot"))?;
            ensure(!d.booked.contains(t), || format!("{t} is booked"))?;
            let fits = d.hours.iter().any(|h| {
                h.start <= *t
                    && t + d.slot <= h.end
                    && !matches!((h.break_start, h.break_end), (Some(s), Some(e)) if *t < e && s < t + d.slot)
            });
            ensure(fits, || format!("{t} does not fit the hours"))?;
            if let Some((_, minute)) = d.now {
                ensure(*t > minute, || format!("{t} is already past {minute}"))?;
            }
        }
        // Every slot not booked and not past is offered.
        let missing = all.iter().find(|t| {
            !d.booked.contains(t) && d.now.is_none_or(|(_, m)| **t > m) && !free.contains(t)
        });
        ensure(missing.is_none(), || {
            format!("{missing:?} free but not offered")
        })?;
        let closed = free_slots(d.date, &d.hours, d.slot, false, false, &d.booked, d.now);
        let off = free_slots(d.date, &d.hours, d.slot, true, true, &d.booked, d.now);
        ensure(closed.is_empty() && off.is_empty(), || {
            "slots on a closed day or a day off".into()
        })
    });
}
