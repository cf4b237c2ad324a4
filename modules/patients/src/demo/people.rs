//! The demo patients themselves: who comes to a Kenyan facility. Deterministic for a seed: the
//! same seed gives the same people (their dates follow the day the generator runs).
//!
//! - Counties by population (2019 census); most people of a county from its main communities,
//!   the rest, and everyone in Nairobi and Mombasa, from the national mix.
//! - Ages follow Kenya's young pyramid (about 40% under 15), with infants and mothers of
//!   reproductive age over-represented as they are at clinics.
//! - Adults mostly have a national ID and a Safaricom or Airtel number; children often have a
//!   birth certificate and come with a parent's phone (so one phone finds several patients).
//! - Some adults give an age instead of a date (estimated date of birth), more of the elderly.

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::repo::demo::DemoPatient;

use super::names::{self, Community};
use super::population;

/// Age bands in years [from, to) and their weight.
const AGES: &[(u32, u32, f64)] = &[
    (0, 1, 6.0),
    (1, 5, 11.0),
    (5, 10, 12.0),
    (10, 15, 11.0),
    (15, 20, 10.0),
    (20, 25, 10.0),
    (25, 30, 9.0),
    (30, 35, 7.5),
    (35, 40, 6.0),
    (40, 45, 4.5),
    (45, 50, 3.5),
    (50, 55, 2.8),
    (55, 60, 2.1),
    (60, 65, 1.6),
    (65, 70, 1.1),
    (70, 75, 0.8),
    (75, 80, 0.5),
    (80, 96, 0.6),
];

/// Mobile prefixes after +254 (libphonenumber's operator ranges): Safaricom, then Airtel.
const SAFARICOM: &[u32] = &[
    700, 701, 702, 703, 704, 705, 706, 707, 708, 709, 710, 711, 712, 713, 714, 715, 716, 717, 718,
    719, 720, 721, 722, 723, 724, 725, 726, 727, 728, 729, 740, 741, 742, 743, 745, 746, 748, 757,
    758, 759, 768, 769, 790, 791, 792, 793, 794, 795, 796, 797, 798, 799, 110, 111, 112, 113, 114,
    115,
];
const AIRTEL: &[u32] = &[
    730, 731, 732, 733, 734, 735, 736, 737, 738, 739, 750, 751, 752, 753, 754, 755, 756, 780, 781,
    782, 783, 784, 785, 786, 787, 788, 789, 100, 101, 102, 103, 104, 105, 106,
];

/// A multiplier coprime with every identifier space below, so `index × K mod space` never
/// repeats: identity numbers are unique without remembering them.
const SPREAD: u64 = 7_368_787;

/// Cumulative weights, for picking by a uniform draw.
struct Weighted(Vec<f64>);

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        Weighted(
            weights
                .into_iter()
                .map(|w| {
                    total += w;
                    total
                })
                .collect(),
        )
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        let total = self.0.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.0.partition_point(|c| *c <= x).min(self.0.len() - 1)
    }
}

pub struct People {
    rng: StdRng,
    /// Patients of this run, and the index of the next one.
    total: u64,
    next: u64,
    /// Patients stored before this run: identity numbers continue after theirs.
    base: u64,
    days: u32,
    /// Midnight (Nairobi) of the first day of history.
    first_day: NaiveDate,
    counties: Weighted,
    ages: Weighted,
    nation: Weighted,
    offsets: [u64; 5],
    /// Phones of recent adult patients: children come with a parent's.
    parents: VecDeque<String>,
}

impl People {
    /// `total` patients registered over the `days` days before `today` (Nairobi).
    pub fn new(seed: u64, total: u64, days: u32, today: NaiveDate, stored_before: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let offsets = [(); 5].map(|_| rng.random_range(0..1_000_000_000u64));
        People {
            rng,
            total,
            next: 0,
            base: stored_before,
            days: days.max(1),
            first_day: today - Duration::days(i64::from(days.max(1))),
            counties: Weighted::new(population::COUNTIES.iter().map(|c| f64::from(c.1))),
            ages: Weighted::new(AGES.iter().map(|a| a.2)),
            nation: Weighted::new(names::ALL.iter().map(|c| c.share)),
            offsets,
            parents: VecDeque::with_capacity(256),
        }
    }

    /// The next `n` patients (fewer at the end), in registration order.
    pub fn batch(&mut self, n: usize) -> Vec<DemoPatient> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && self.next < self.total {
            out.push(self.patient());
        }
        out
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }

    fn one<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.rng.random_range(0..list.len())]
    }

    /// When patient `i` of the run was registered: spread evenly over the days of history,
    /// during opening hours (07:30 to 17:30 Nairobi), in order.
    fn registered_at(&mut self, i: u64) -> DateTime<Utc> {
        let days = u64::from(self.days);
        let day = i * days / self.total;
        let first = |d: u64| (d * self.total).div_ceil(days);
        let (start, end) = (first(day), first(day + 1));
        let slot_ms = 10 * 3600 * 1000 / (end - start).max(1);
        let offset_ms = (i - start) * slot_ms + self.rng.random_range(0..slot_ms.max(1));
        let date = self.first_day + Duration::days(day as i64);
        let opening = date.and_time(NaiveTime::from_hms_opt(7, 30, 0).expect("valid time"));
        let local = hms_core::clock::nairobi()
            .from_local_datetime(&opening)
            .single()
            .expect("Nairobi has no daylight saving");
        local.with_timezone(&Utc) + Duration::milliseconds(offset_ms as i64)
    }

    fn community(&mut self, county: Option<usize>) -> &'static Community {
        if let Some(c) = county {
            let local = population::COUNTIES[c].2;
            if !local.is_empty() && self.chance(0.85) {
                let weights = Weighted::new(local.iter().map(|c| c.share));
                return local[weights.pick(&mut self.rng)];
            }
        }
        names::ALL[self.nation.pick(&mut self.rng)]
    }

    fn phone(&mut self) -> String {
        let prefix = if self.chance(0.7) {
            SAFARICOM[self.rng.random_range(0..SAFARICOM.len())]
        } else {
            AIRTEL[self.rng.random_range(0..AIRTEL.len())]
        };
        format!("+254{prefix}{:06}", self.rng.random_range(0..1_000_000u32))
    }

    /// A unique number in `space` for this patient and kind of document.
    fn unique(&self, kind: usize, space: u64) -> u64 {
        ((self.base + self.next) * SPREAD + self.offsets[kind]) % space
    }

    fn patient(&mut self) -> DemoPatient {
        let i = self.next;
        let registered = self.registered_at(i);
        let reg_date = registered
            .with_timezone(&hms_core::clock::nairobi())
            .date_naive();

        let band = AGES[self.ages.pick(&mut self.rng)];
        let age_days = self
            .rng
            .random_range(f64::from(band.0) * 365.25..f64::from(band.1) * 365.25)
            as i64;
        let years = (age_days as f64 / 365.25) as u32;
        let female = self.chance(if (15..50).contains(&years) { 0.62 } else { 0.5 });
        let estimated = self.chance(match years {
            50.. => 0.4,
            18.. => 0.1,
            5.. => 0.05,
            _ => 0.01,
        });
        let dob = if estimated {
            reg_date
                .checked_sub_months(Months::new(years * 12))
                .unwrap_or(reg_date)
        } else {
            reg_date - Duration::days(age_days)
        };

        let county = (!self.chance(0.02)).then(|| self.counties.pick(&mut self.rng));
        let community = self.community(county);
        let (local, muslim, christian) = if female {
            (
                community.female,
                names::MUSLIM_FEMALE,
                names::CHRISTIAN_FEMALE,
            )
        } else {
            (community.male, names::MUSLIM_MALE, names::CHRISTIAN_MALE)
        };
        let u = self.rng.random::<f64>();
        let first = if u < community.muslim {
            self.one(muslim)
        } else if u < community.muslim + community.local_first {
            self.one(local)
        } else {
            self.one(christian)
        };
        // Somali names carry the father's name in the middle; elsewhere the middle name is a
        // name in the community's language, which many people use.
        let middle = if community.id == "somali" {
            Some(self.one(community.male))
        } else if self.chance(0.7) {
            Some(self.one(local))
        } else {
            None
        }
        .filter(|m| *m != first);
        let mut last = self.one(community.surnames);
        if female {
            // "Ole" means "son of".
            last = last.strip_prefix("Ole ").unwrap_or(last);
        }

        let phone = if years >= 18 {
            if self.chance(0.9) {
                let p = self.phone();
                if self.parents.len() == 256 {
                    self.parents.pop_front();
                }
                self.parents.push_back(p.clone());
                Some(p)
            } else {
                None
            }
        } else if years >= 13 && self.chance(0.3) {
            Some(self.phone())
        } else if self.chance(0.75) && !self.parents.is_empty() {
            let k = self.rng.random_range(0..self.parents.len());
            Some(self.parents[k].clone())
        } else {
            None
        };

        let north_east = matches!(
            county.map(|c| population::COUNTIES[c].0),
            Some("007" | "008" | "009")
        );
        let identifier = if years >= 18 {
            let u = self.rng.random::<f64>();
            if north_east && community.id == "somali" && u < 0.1 {
                Some(("refugee_id", format!("RC{:07}", self.unique(4, 10_000_000))))
            } else if u < 0.92 {
                let n = 10_000_000 + self.unique(0, 30_000_000);
                Some(("national_id", n.to_string()))
            } else if u < 0.935 {
                Some(("passport", format!("AK{:07}", self.unique(2, 10_000_000))))
            } else if u < 0.94 {
                Some(("alien_id", format!("{:08}", self.unique(3, 100_000_000))))
            } else {
                None
            }
        } else if self.chance(0.45) {
            let n = 100_000_000 + self.unique(1, 900_000_000);
            Some(("birth_certificate", n.to_string()))
        } else {
            None
        };

        let allergies = self.chance(0.04).then(|| {
            let a = self.one(population::ALLERGIES);
            let b = self.one(population::ALLERGIES);
            if a != b && self.chance(0.15) {
                format!("{a}, {b}")
            } else {
                a.to_string()
            }
        });

        let tokens = crate::name_tokens(&[first, middle.unwrap_or(""), last]);
        self.next += 1;
        DemoPatient {
            first_name: first.to_string(),
            middle_name: middle.map(str::to_string),
            last_name: last.to_string(),
            sex: if female { "female" } else { "male" },
            date_of_birth: dob.format("%Y-%m-%d").to_string(),
            dob_estimated: estimated,
            phone,
            county_code: county.map(|c| population::COUNTIES[c].0),
            allergies,
            identifier,
            registered_at: registered.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            number_year: reg_date.year(),
            tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_people() {
        let a = People::new(7, 500, 30, today(), 0).batch(500);
        let b = People::new(7, 500, 30, today(), 0).batch(500);
        let c = People::new(8, 500, 30, today(), 0).batch(500);
        let key = |v: &[DemoPatient]| {
            v.iter()
                .map(|p| {
                    format!(
                        "{} {} {:?} {:?}",
                        p.first_name, p.last_name, p.phone, p.identifier
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
    }

    #[test]
    fn people_are_plausible_and_valid() {
        let people = People::new(1, 20_000, 365, today(), 0).batch(20_000);
        assert_eq!(people.len(), 20_000);
        let children = people
            .iter()
            .filter(|p| p.date_of_birth.as_str() > "2011-03-15")
            .count();
        assert!(
            (6_000..11_000).contains(&children),
            "many children: {children}"
        );
        let mut seen = std::collections::HashSet::new();
        let mut last_at = String::new();
        for p in &people {
            for name in [
                Some(&p.first_name),
                p.middle_name.as_ref(),
                Some(&p.last_name),
            ]
            .into_iter()
            .flatten()
            {
                assert!(
                    name.chars().all(|c| c.is_alphabetic() || " -'".contains(c)),
                    "{name}"
                );
            }
            if let Some(phone) = &p.phone {
                assert_eq!(
                    hms_core::phone::normalize_mobile(phone).as_deref(),
                    Ok(phone.as_str())
                );
            }
            if let Some((kind, value)) = &p.identifier {
                assert!(seen.insert((*kind, value.clone())), "unique {kind} {value}");
            }
            assert!(p.registered_at > last_at, "in registration order");
            last_at = p.registered_at.clone();
            assert!(
                p.registered_at.as_str() < "2026-03-15",
                "history ends yesterday"
            );
            assert!(p.date_of_birth.as_str() <= &p.registered_at[..10]);
            assert!(!p.tokens.is_empty());
        }
        let with_id = people.iter().filter(|p| p.identifier.is_some()).count();
        assert!(with_id > 10_000, "{with_id}");
        let estimated = people.iter().filter(|p| p.dob_estimated).count();
        assert!((500..4_000).contains(&estimated), "{estimated}");
        let years: std::collections::BTreeSet<i32> = people.iter().map(|p| p.number_year).collect();
        assert_eq!(years.into_iter().collect::<Vec<_>>(), vec![2025, 2026]);
    }

    #[test]
    fn counties_are_the_47() {
        let codes: Vec<String> = population::COUNTIES
            .iter()
            .map(|c| c.0.to_string())
            .collect();
        let expected: Vec<String> = (1..=47).map(|n| format!("{n:03}")).collect();
        assert_eq!(codes, expected);
    }
}
