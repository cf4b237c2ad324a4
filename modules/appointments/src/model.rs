//! The words of appointments, visits and queues, free of screens and SQL: who pays, what state
//! a booking or a queue entry is in, and who goes first. Screens show them through the labels
//! here; the repository stores their codes.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use hms_core::i18n::t;

/// Ways a visit is paid for, as (stored value, translation key).
pub const PAYERS: &[(&str, &str)] = &[
    ("cash", "appointments.payer_cash"),
    ("mpesa", "appointments.payer_mpesa"),
    ("sha", "appointments.payer_sha"),
    ("insurance", "appointments.payer_insurance"),
    ("waiver", "appointments.payer_waiver"),
];

/// Whether `payer` is one of the ways a visit is paid for.
pub fn is_payer(payer: &str) -> bool {
    PAYERS.iter().any(|(v, _)| *v == payer)
}

/// A payer in the request's language.
pub fn payer_label(payer: &str) -> String {
    PAYERS
        .iter()
        .find(|(v, _)| *v == payer)
        .map(|(_, key)| t(key))
        .unwrap_or_else(|| payer.to_string())
}

/// An appointment status in the request's language.
pub fn status_label(status: &str) -> String {
    match status {
        "booked" => t("appointments.status_booked"),
        "arrived" => t("appointments.status_arrived"),
        "cancelled" => t("appointments.status_cancelled"),
        "no_show" => t("appointments.status_no_show"),
        other => other.to_string(),
    }
}

/// Why a patient goes ahead of those who came earlier. Emergencies first, then the elderly,
/// pregnant women and children under five, then everyone else, each by arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    Emergency,
    Elderly,
    Pregnant,
    UnderFive,
}

impl Priority {
    /// Every choice, in the order a form offers them.
    pub const ALL: [Priority; 5] = [
        Priority::Normal,
        Priority::Emergency,
        Priority::Elderly,
        Priority::Pregnant,
        Priority::UnderFive,
    ];

    /// The stored reason (`priority_reason`); empty for no priority.
    pub fn code(self) -> &'static str {
        match self {
            Priority::Normal => "",
            Priority::Emergency => "emergency",
            Priority::Elderly => "elderly",
            Priority::Pregnant => "pregnant",
            Priority::UnderFive => "under_five",
        }
    }

    /// A reason as typed in a form or stored; `None` for an unknown one.
    pub fn parse(code: &str) -> Option<Priority> {
        Self::ALL.into_iter().find(|p| p.code() == code.trim())
    }

    /// The queue's sort level: higher is called first.
    pub fn level(self) -> i64 {
        match self {
            Priority::Normal => 0,
            Priority::Emergency => 2,
            _ => 1,
        }
    }

    pub(crate) fn from_stored(reason: Option<&str>) -> Priority {
        reason.and_then(Priority::parse).unwrap_or(Priority::Normal)
    }

    /// The priority a birth date suggests at check-in: 65 or older, or under five. Pregnancy and
    /// emergencies are for the receptionist to say.
    pub fn suggested(date_of_birth: NaiveDate, today: NaiveDate) -> Priority {
        match age_years(date_of_birth, today) {
            y if y >= 65 => Priority::Elderly,
            y if y < 5 => Priority::UnderFive,
            _ => Priority::Normal,
        }
    }

    /// Whether the priority fits a patient of `age` whole years (unknown: every one fits).
    /// Emergencies and pregnancy are for the receptionist to judge; the elderly are 65 or
    /// older and children under five are under five.
    pub fn fits(self, age: Option<i32>) -> bool {
        match (self, age) {
            (Priority::Elderly, Some(years)) => years >= 65,
            (Priority::UnderFive, Some(years)) => years < 5,
            _ => true,
        }
    }

    /// The reason in the request's language.
    pub fn label(self) -> String {
        match self {
            Priority::Normal => t("appointments_queue.priority_none"),
            Priority::Emergency => t("appointments_queue.priority_emergency"),
            Priority::Elderly => t("appointments_queue.priority_elderly"),
            Priority::Pregnant => t("appointments_queue.priority_pregnant"),
            Priority::UnderFive => t("appointments_queue.priority_under_five"),
        }
    }
}

/// Whole years from `dob` to `today` (0 for a date in the future).
pub fn age_years(dob: NaiveDate, today: NaiveDate) -> i32 {
    let mut years = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    years.max(0)
}

/// Where an entry stands in its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Waiting,
    Called,
    Serving,
    Done,
    Left,
    Moved,
    Cancelled,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Waiting => "waiting",
            EntryState::Called => "called",
            EntryState::Serving => "serving",
            EntryState::Done => "done",
            EntryState::Left => "left",
            EntryState::Moved => "moved",
            EntryState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<EntryState> {
        [
            EntryState::Waiting,
            EntryState::Called,
            EntryState::Serving,
            EntryState::Done,
            EntryState::Left,
            EntryState::Moved,
            EntryState::Cancelled,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }

    /// Still in the queue (waiting, called or being served).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            EntryState::Waiting | EntryState::Called | EntryState::Serving
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn the_birth_date_suggests_a_priority() {
        let today = d(2026, 11, 25);
        assert_eq!(
            Priority::suggested(d(1961, 11, 25), today),
            Priority::Elderly
        );
        assert_eq!(
            Priority::suggested(d(1961, 11, 26), today),
            Priority::Normal,
            "64 until tomorrow"
        );
        assert_eq!(
            Priority::suggested(d(2021, 11, 26), today),
            Priority::UnderFive
        );
        assert_eq!(
            Priority::suggested(d(2021, 11, 25), today),
            Priority::Normal,
            "five today"
        );
        assert_eq!(Priority::suggested(d(1990, 1, 1), today), Priority::Normal);
    }

    #[test]
    fn emergencies_go_first_then_the_other_priorities() {
        assert!(Priority::Emergency.level() > Priority::Elderly.level());
        for p in [Priority::Elderly, Priority::Pregnant, Priority::UnderFive] {
            assert!(p.level() > Priority::Normal.level());
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.code()), Some(p));
        }
        assert_eq!(Priority::parse("vip"), None);
    }

    #[test]
    fn age_bound_priorities_fit_only_their_ages() {
        assert!(!Priority::Elderly.fits(Some(15)));
        assert!(Priority::Elderly.fits(Some(65)));
        assert!(!Priority::UnderFive.fits(Some(30)));
        assert!(!Priority::UnderFive.fits(Some(5)));
        assert!(Priority::UnderFive.fits(Some(4)));
        for p in [Priority::Normal, Priority::Emergency, Priority::Pregnant] {
            assert!(p.fits(Some(15)) && p.fits(Some(70)) && p.fits(Some(1)));
        }
        assert!(Priority::ALL.iter().all(|p| p.fits(None)), "unknown age");
    }

    #[test]
    fn states_round_trip() {
        for s in [
            "waiting",
            "called",
            "serving",
            "done",
            "left",
            "moved",
            "cancelled",
        ] {
            assert_eq!(EntryState::parse(s).map(EntryState::as_str), Some(s));
        }
        assert!(EntryState::Called.is_active() && !EntryState::Left.is_active());
    }
}
