//! The one table of vital-sign ranges, by age band, each with its source. A value is
//! `normal`, `abnormal` (flagged) or `critical` (red, emergency priority offered). Outside its
//! plausible bounds a value is a typing slip: bounded measures (temperature, SpO2, MUAC, pain)
//! are refused; open-ended ones (pulse, breathing, blood pressure, weight, height) need "I have
//! checked this value", and beyond the hard limits nothing is accepted.
//!
//! Values are the stored integers: 0.1 °C, beats/min, breaths/min, mmHg, %, grams, mm, and
//! BMI in 0.1 kg/m².

use serde::Serialize;

use crate::model::Age;

/// The age bands of the table: those of WHO IMCI (0-2 months, 2-12 months, 1-5 years), then
/// school age, adolescence and adults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Under 2 months (IMCI "young infant").
    YoungInfant,
    /// 2 to 11 months.
    Infant,
    /// 12 to 59 months.
    YoungChild,
    /// 5 to 11 years.
    Child,
    /// 12 to 17 years.
    Adolescent,
    /// 18 years and over (also when the age is unknown).
    Adult,
}

impl Band {
    pub const ALL: [Band; 6] = [
        Band::YoungInfant,
        Band::Infant,
        Band::YoungChild,
        Band::Child,
        Band::Adolescent,
        Band::Adult,
    ];

    /// The band of an age; adults when the date of birth is unknown.
    pub fn of(age: Option<Age>) -> Band {
        match age {
            None => Band::Adult,
            Some(a) if a.months < 2 => Band::YoungInfant,
            Some(a) if a.months < 12 => Band::Infant,
            Some(a) if a.months < 60 => Band::YoungChild,
            Some(a) if a.years < 12 => Band::Child,
            Some(a) if a.years < 18 => Band::Adolescent,
            Some(_) => Band::Adult,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Band::YoungInfant => "young_infant",
            Band::Infant => "infant",
            Band::YoungChild => "young_child",
            Band::Child => "child",
            Band::Adolescent => "adolescent",
            Band::Adult => "adult",
        }
    }

    fn index(self) -> usize {
        Band::ALL.iter().position(|b| *b == self).unwrap_or(5)
    }
}

/// The measures checked against the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Temperature,
    Pulse,
    RespRate,
    Systolic,
    Diastolic,
    Spo2,
    Weight,
    Height,
    Muac,
    Pain,
    Bmi,
}

impl Measure {
    pub const ALL: [Measure; 11] = [
        Measure::Temperature,
        Measure::Pulse,
        Measure::RespRate,
        Measure::Systolic,
        Measure::Diastolic,
        Measure::Spo2,
        Measure::Weight,
        Measure::Height,
        Measure::Muac,
        Measure::Pain,
        Measure::Bmi,
    ];

    /// The form field (and the key of the stored flags).
    pub fn field(self) -> &'static str {
        match self {
            Measure::Temperature => "temperature",
            Measure::Pulse => "pulse",
            Measure::RespRate => "resp_rate",
            Measure::Systolic => "systolic",
            Measure::Diastolic => "diastolic",
            Measure::Spo2 => "spo2",
            Measure::Weight => "weight",
            Measure::Height => "height",
            Measure::Muac => "muac",
            Measure::Pain => "pain",
            Measure::Bmi => "bmi",
        }
    }

    pub fn parse(field: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.field() == field)
    }

    /// Stored units per unit typed: 10 for 0.1 °C, 1000 for grams from kg, 10 for mm from cm.
    pub fn scale(self) -> i64 {
        match self {
            Measure::Temperature | Measure::Height | Measure::Muac | Measure::Bmi => 10,
            Measure::Weight => 1000,
            _ => 1,
        }
    }

    /// Decimals a typed value may have.
    pub fn decimals(self) -> u32 {
        match self {
            Measure::Temperature | Measure::Height | Measure::Muac | Measure::Bmi => 1,
            Measure::Weight => 3,
            _ => 0,
        }
    }

    /// Bounded measures: a value outside the plausible bounds is refused, never confirmed.
    pub fn bounded(self) -> bool {
        matches!(
            self,
            Measure::Temperature | Measure::Spo2 | Measure::Muac | Measure::Pain | Measure::Bmi
        )
    }

    /// A stored integer as typed units (`375` -> `37.5`).
    pub fn show(self, stored: i64) -> String {
        match self.scale() {
            1 => stored.to_string(),
            1000 => {
                let kg = stored as f64 / 1000.0;
                let text = format!("{kg:.3}");
                text.trim_end_matches('0').trim_end_matches('.').to_string()
            }
            s => {
                let sign = if stored < 0 { "-" } else { "" };
                let a = stored.abs();
                format!("{sign}{}.{}", a / s, a % s)
            }
        }
    }
}

/// A value's place in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Normal,
    Abnormal,
    Critical,
}

impl Flag {
    pub fn code(self) -> &'static str {
        match self {
            Flag::Normal => "normal",
            Flag::Abnormal => "abnormal",
            Flag::Critical => "critical",
        }
    }

    pub fn parse(code: &str) -> Flag {
        match code {
            "critical" => Flag::Critical,
            "abnormal" => Flag::Abnormal,
            _ => Flag::Normal,
        }
    }
}

/// One line of the table: a measure in an age band. `None` bounds are open.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Range {
    pub measure: Measure,
    pub band: Band,
    /// Normal from `normal.0` to `normal.1`, both included.
    pub normal: (Option<i64>, Option<i64>),
    /// Critical below `critical.0` or above `critical.1` (strictly).
    pub critical: (Option<i64>, Option<i64>),
    /// Outside these a value is a slip (refused or to be confirmed).
    pub plausible: (i64, i64),
    /// Beyond these nothing is accepted, confirmed or not.
    pub hard: (i64, i64),
    pub source: &'static str,
}

const IMCI: &str = "WHO IMCI chart booklet (2014): fast breathing 60/50/40 per minute by age; \
    fever from 37.5 °C; low body temperature below 35.5 °C";
const ETAT: &str = "WHO ETAT guidelines (2016) and Kenya Basic Paediatric Protocols (2022): \
    emergency signs; critical bounds are ours from them";
const PALS: &str = "Paediatric normal heart rate and systolic pressure as in the Kenya Basic \
    Paediatric Protocols (2022); hypotension below 70 + 2 × age in years";
const NEWS2: &str = "Royal College of Physicians NEWS2 (2017): scores 3 for breathing ≤ 8 or \
    ≥ 25, pulse ≤ 40 or ≥ 131, systolic ≤ 90, SpO2 ≤ 91 %, temperature ≤ 35.0 °C";
const BP: &str = "Kenya National Guidelines for Cardiovascular Diseases (2018): hypertension \
    from 140/90; hypertensive emergency from 180/120";
const SPO2: &str = "WHO Oxygen therapy for children (2016): SpO2 < 90 % needs oxygen (MOH 705A \
    row 69, hypoxaemia); 90-94 % watched";
const BMI: &str = "WHO BMI classes: 18.5-24.9 normal; > 25 overweight (MOH 705B row 54); \
    < 16 severe thinness; ≥ 40 obesity class III";
const MUAC: &str = "WHO/UNICEF (2009) and Kenya IMAM guideline (2019), 6-59 months: < 11.5 cm \
    severe acute malnutrition, 11.5-12.4 moderate, ≥ 12.5 normal";
const GROWTH: &str = "WHO child growth standards and adult extremes: plausible bounds are ours, \
    to catch typing slips (grams for kilograms, a misplaced point)";
const PAIN: &str = "0-10 numeric rating scale: 7 and above is severe pain";

type Bounds = (Option<i64>, Option<i64>);

/// One measure's numbers in the six bands (young infant to adult).
struct Row {
    measure: Measure,
    normal: [Bounds; 6],
    critical: [Bounds; 6],
    plausible: [(i64, i64); 6],
    hard: (i64, i64),
    source: &'static str,
}

const fn b(lo: i64, hi: i64) -> Bounds {
    (Some(lo), Some(hi))
}

const fn same<T: Copy>(x: T) -> [T; 6] {
    [x, x, x, x, x, x]
}

const TABLE: &[Row] = &[
    Row {
        measure: Measure::Temperature,
        normal: same(b(360, 374)),
        critical: [
            b(355, 380),
            b(355, 390),
            b(350, 395),
            b(350, 395),
            b(351, 390),
            b(351, 390),
        ],
        plausible: same((250, 450)),
        hard: (250, 450),
        source: IMCI,
    },
    Row {
        measure: Measure::Pulse,
        normal: [
            b(100, 160),
            b(100, 160),
            b(80, 140),
            b(70, 120),
            b(60, 100),
            b(60, 100),
        ],
        critical: [
            b(80, 180),
            b(80, 180),
            b(60, 160),
            b(60, 140),
            b(50, 130),
            b(41, 130),
        ],
        plausible: same((30, 250)),
        hard: (1, 350),
        source: PALS,
    },
    Row {
        measure: Measure::RespRate,
        normal: [
            b(30, 59),
            b(25, 49),
            b(20, 39),
            b(16, 30),
            b(12, 20),
            b(12, 20),
        ],
        critical: [
            b(20, 69),
            b(20, 69),
            b(15, 59),
            b(12, 40),
            b(9, 30),
            b(9, 24),
        ],
        plausible: same((5, 100)),
        hard: (1, 150),
        source: IMCI,
    },
    Row {
        measure: Measure::Systolic,
        normal: [
            b(60, 90),
            b(70, 105),
            b(80, 115),
            b(90, 125),
            b(100, 135),
            b(100, 139),
        ],
        critical: [
            (Some(50), Some(120)),
            (Some(60), Some(140)),
            (Some(70), Some(150)),
            (Some(80), Some(160)),
            (Some(90), Some(179)),
            (Some(91), Some(179)),
        ],
        plausible: same((50, 260)),
        hard: (20, 320),
        source: BP,
    },
    Row {
        measure: Measure::Diastolic,
        normal: [
            b(30, 60),
            b(35, 65),
            b(40, 75),
            b(50, 80),
            b(55, 85),
            b(60, 89),
        ],
        critical: [
            (Some(20), Some(90)),
            (Some(25), Some(95)),
            (Some(30), Some(100)),
            (Some(35), Some(105)),
            (Some(40), Some(119)),
            (Some(40), Some(119)),
        ],
        plausible: same((25, 160)),
        hard: (10, 220),
        source: BP,
    },
    Row {
        measure: Measure::Spo2,
        normal: same((Some(95), None)),
        critical: same((Some(90), None)),
        plausible: same((40, 100)),
        hard: (40, 100),
        source: SPO2,
    },
    Row {
        measure: Measure::Weight,
        normal: same((None, None)),
        critical: same((None, None)),
        plausible: [
            (1_000, 8_000),
            (2_500, 15_000),
            (5_000, 30_000),
            (10_000, 90_000),
            (20_000, 150_000),
            (25_000, 250_000),
        ],
        hard: (300, 400_000),
        source: GROWTH,
    },
    Row {
        measure: Measure::Height,
        normal: same((None, None)),
        critical: same((None, None)),
        plausible: [
            (350, 700),
            (450, 900),
            (600, 1_300),
            (900, 1_850),
            (1_200, 2_100),
            (1_200, 2_200),
        ],
        hard: (200, 2_600),
        source: GROWTH,
    },
    Row {
        measure: Measure::Muac,
        normal: same((Some(125), None)),
        critical: same((Some(115), None)),
        plausible: same((60, 300)),
        hard: (60, 300),
        source: MUAC,
    },
    Row {
        measure: Measure::Pain,
        normal: same(b(0, 6)),
        critical: same((None, None)),
        plausible: same((0, 10)),
        hard: (0, 10),
        source: PAIN,
    },
    Row {
        measure: Measure::Bmi,
        normal: same(b(185, 250)),
        critical: same(b(160, 399)),
        plausible: same((80, 900)),
        hard: (80, 900),
        source: BMI,
    },
];

/// Source of the critical bounds shared by the children's rows, shown on the table.
pub const SOURCES: &[&str] = &[IMCI, ETAT, PALS, NEWS2, BP, SPO2, BMI, MUAC, GROWTH, PAIN];

/// The range of a measure in a band.
pub fn range(measure: Measure, band: Band) -> Range {
    let row = TABLE
        .iter()
        .find(|r| r.measure == measure)
        .expect("every measure has a row");
    let i = band.index();
    Range {
        measure,
        band,
        normal: row.normal[i],
        critical: row.critical[i],
        plausible: row.plausible[i],
        hard: row.hard,
        source: row.source,
    }
}

/// Every line of the table.
#[cfg(test)]
pub fn table() -> Vec<Range> {
    Measure::ALL
        .into_iter()
        .flat_map(|m| Band::ALL.into_iter().map(move |b| range(m, b)))
        .collect()
}

/// What the table says of a stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within plausible bounds: its flag.
    Flag(Flag),
    /// Outside plausible bounds of a bounded measure, or beyond the hard limits: refused.
    /// `suggest` is a stored value that would be plausible (the point a place further left).
    Refused { suggest: Option<i64> },
    /// Outside plausible bounds of an open-ended measure: accepted only when confirmed, then
    /// critical.
    Unusual,
}

impl Range {
    /// The flag of a plausible value.
    pub fn flag(&self, v: i64) -> Flag {
        let below = |bound: Option<i64>| bound.is_some_and(|lo| v < lo);
        let above = |bound: Option<i64>| bound.is_some_and(|hi| v > hi);
        if below(self.critical.0) || above(self.critical.1) {
            Flag::Critical
        } else if below(self.normal.0) || above(self.normal.1) {
            Flag::Abnormal
        } else {
            Flag::Normal
        }
    }

    fn plausible(&self, v: i64) -> bool {
        (self.plausible.0..=self.plausible.1).contains(&v)
    }

    /// Checks a stored value.
    pub fn check(&self, v: i64) -> Verdict {
        if self.plausible(v) {
            return Verdict::Flag(self.flag(v));
        }
        let hard = !(self.hard.0..=self.hard.1).contains(&v);
        if self.measure.bounded() || hard {
            let suggest = [10, 100, 1000]
                .into_iter()
                .map(|d| v / d)
                .find(|s| self.plausible(*s));
            return Verdict::Refused { suggest };
        }
        Verdict::Unusual
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hms_core::day::Day;

    fn age(born: (i32, u32, u32), on: (i32, u32, u32)) -> Option<Age> {
        let d = |(y, m, dd)| Day::new(chrono::NaiveDate::from_ymd_opt(y, m, dd).unwrap());
        Age::on(d(born), d(on))
    }

    #[test]
    fn bands_follow_imci_ages() {
        let on = (2026, 12, 7);
        assert_eq!(Band::of(age((2026, 10, 8), on)), Band::YoungInfant);
        assert_eq!(Band::of(age((2026, 10, 7), on)), Band::Infant);
        assert_eq!(Band::of(age((2025, 12, 8), on)), Band::Infant);
        assert_eq!(Band::of(age((2025, 12, 7), on)), Band::YoungChild);
        assert_eq!(Band::of(age((2021, 12, 8), on)), Band::YoungChild);
        assert_eq!(Band::of(age((2021, 12, 7), on)), Band::Child);
        assert_eq!(Band::of(age((2014, 12, 7), on)), Band::Adolescent);
        assert_eq!(Band::of(age((2008, 12, 7), on)), Band::Adult);
        assert_eq!(Band::of(None), Band::Adult);
    }

    #[test]
    fn fast_breathing_by_imci_band() {
        // 50 breaths a minute: fast at 2-11 months and 1-4 years, not for a young infant.
        let r = |b| range(Measure::RespRate, b).check(50);
        assert_eq!(r(Band::YoungInfant), Verdict::Flag(Flag::Normal));
        assert_eq!(r(Band::Infant), Verdict::Flag(Flag::Abnormal));
        assert_eq!(r(Band::YoungChild), Verdict::Flag(Flag::Abnormal));
        assert_eq!(r(Band::Adult), Verdict::Flag(Flag::Critical));
        // The thresholds themselves: 60, 50 and 40 are fast.
        assert_eq!(
            range(Measure::RespRate, Band::YoungInfant).check(60),
            Verdict::Flag(Flag::Abnormal)
        );
        assert_eq!(
            range(Measure::RespRate, Band::Infant).check(49),
            Verdict::Flag(Flag::Normal)
        );
        assert_eq!(
            range(Measure::RespRate, Band::YoungChild).check(40),
            Verdict::Flag(Flag::Abnormal)
        );
        assert_eq!(
            range(Measure::RespRate, Band::YoungChild).check(39),
            Verdict::Flag(Flag::Normal)
        );
    }

    #[test]
    fn pulse_of_a_baby_is_not_an_adults() {
        assert_eq!(
            range(Measure::Pulse, Band::Infant).check(150),
            Verdict::Flag(Flag::Normal)
        );
        assert_eq!(
            range(Measure::Pulse, Band::Adult).check(150),
            Verdict::Flag(Flag::Critical)
        );
        assert_eq!(
            range(Measure::Pulse, Band::Child).check(130),
            Verdict::Flag(Flag::Abnormal)
        );
        assert_eq!(
            range(Measure::Pulse, Band::Adult).check(72),
            Verdict::Flag(Flag::Normal)
        );
    }

    #[test]
    fn fever_and_hypothermia() {
        let adult = range(Measure::Temperature, Band::Adult);
        assert_eq!(adult.check(370), Verdict::Flag(Flag::Normal));
        assert_eq!(adult.check(375), Verdict::Flag(Flag::Abnormal));
        assert_eq!(adult.check(392), Verdict::Flag(Flag::Critical));
        assert_eq!(adult.check(349), Verdict::Flag(Flag::Critical));
        // A young infant with 38.1 °C is an emergency; a school child is watched.
        assert_eq!(
            range(Measure::Temperature, Band::YoungInfant).check(381),
            Verdict::Flag(Flag::Critical)
        );
        assert_eq!(
            range(Measure::Temperature, Band::Child).check(381),
            Verdict::Flag(Flag::Abnormal)
        );
    }

    #[test]
    fn a_temperature_typed_without_its_point_is_refused_with_a_suggestion() {
        let adult = range(Measure::Temperature, Band::Adult);
        assert_eq!(adult.check(3750), Verdict::Refused { suggest: Some(375) });
        assert_eq!(adult.check(100), Verdict::Refused { suggest: None });
        let spo2 = range(Measure::Spo2, Band::Adult);
        assert_eq!(spo2.check(980), Verdict::Refused { suggest: Some(98) });
        assert_eq!(spo2.check(101), Verdict::Refused { suggest: None });
    }

    #[test]
    fn oxygen_below_90_is_critical_in_every_band() {
        for band in Band::ALL {
            let r = range(Measure::Spo2, band);
            assert_eq!(r.check(89), Verdict::Flag(Flag::Critical), "{band:?}");
            assert_eq!(r.check(93), Verdict::Flag(Flag::Abnormal), "{band:?}");
            assert_eq!(r.check(97), Verdict::Flag(Flag::Normal), "{band:?}");
        }
    }

    #[test]
    fn open_ended_weight_needs_a_confirmation_then_a_hard_limit() {
        // 40 kg for a baby of 3 months: possible only as a slip; confirmable.
        let infant = range(Measure::Weight, Band::Infant);
        assert_eq!(infant.check(6_500), Verdict::Flag(Flag::Normal));
        assert_eq!(infant.check(40_000), Verdict::Unusual);
        // 650 kg is no one's weight: refused even when confirmed.
        let adult = range(Measure::Weight, Band::Adult);
        assert_eq!(adult.check(180_000), Verdict::Flag(Flag::Normal));
        assert_eq!(adult.check(260_000), Verdict::Unusual);
        assert!(matches!(adult.check(650_000), Verdict::Refused { .. }));
    }

    #[test]
    fn muac_bands() {
        let r = range(Measure::Muac, Band::YoungChild);
        assert_eq!(r.check(114), Verdict::Flag(Flag::Critical));
        assert_eq!(r.check(115), Verdict::Flag(Flag::Abnormal));
        assert_eq!(r.check(124), Verdict::Flag(Flag::Abnormal));
        assert_eq!(r.check(125), Verdict::Flag(Flag::Normal));
    }

    #[test]
    fn adult_blood_pressure_and_bmi() {
        let sys = range(Measure::Systolic, Band::Adult);
        assert_eq!(sys.check(120), Verdict::Flag(Flag::Normal));
        assert_eq!(sys.check(150), Verdict::Flag(Flag::Abnormal));
        assert_eq!(sys.check(185), Verdict::Flag(Flag::Critical));
        assert_eq!(sys.check(85), Verdict::Flag(Flag::Critical));
        let bmi = range(Measure::Bmi, Band::Adult);
        assert_eq!(bmi.check(250), Verdict::Flag(Flag::Normal));
        assert_eq!(bmi.check(251), Verdict::Flag(Flag::Abnormal));
        assert_eq!(bmi.check(155), Verdict::Flag(Flag::Critical));
    }

    #[test]
    fn every_line_has_a_source_and_sane_bounds() {
        for r in table() {
            assert!(!r.source.is_empty());
            assert!(r.plausible.0 < r.plausible.1, "{r:?}");
            assert!(
                r.hard.0 <= r.plausible.0 && r.plausible.1 <= r.hard.1,
                "{r:?}"
            );
            if let (Some(lo), Some(hi)) = r.normal {
                assert!(lo <= hi, "{r:?}");
            }
            if let (Some(c), Some(n)) = (r.critical.0, r.normal.0) {
                assert!(c <= n, "{r:?}");
            }
        }
    }

    #[test]
    fn stored_values_show_as_typed() {
        assert_eq!(Measure::Temperature.show(375), "37.5");
        assert_eq!(Measure::Weight.show(6_500), "6.5");
        assert_eq!(Measure::Weight.show(70_000), "70");
        assert_eq!(Measure::Height.show(1_105), "110.5");
        assert_eq!(Measure::Pulse.show(72), "72");
    }
}
