//! Pharmacy reports: monthly consumption per store (F-CDRR style), stock on hand at cost and at
//! price, the daily dispensing register, the controlled-drug register, the expiry report and
//! prescriptions per MOH 717 D. Each report is built as a [`Table`] of plain cells, which the
//! screen, the CSV file and the PDF all show alike.

pub mod consumption;
pub mod registers;

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

use hms_core::day::Day;
use hms_core::i18n::t;
use hms_core::module::FigureRange;
use hms_core::pdf::{Column, Document, Letterhead, PageSize, Style};

/// A report of the index: its name in the address and what it asks for.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    /// Asks for a store (`Some(true)`: one store; `Some(false)`: one store or every store).
    pub store: Option<bool>,
    pub month: bool,
    pub day: bool,
    /// Asks for a number of days ahead (the expiry report).
    pub within: bool,
    /// Shows patients' names: opening it is audited as a read of patient data.
    pub patients: bool,
}

pub const KINDS: &[Kind] = &[
    Kind {
        name: "consumption",
        store: Some(true),
        month: true,
        day: false,
        within: false,
        patients: false,
    },
    Kind {
        name: "stock-on-hand",
        store: Some(false),
        month: false,
        day: false,
        within: false,
        patients: false,
    },
    Kind {
        name: "dispensing-register",
        store: Some(false),
        month: false,
        day: true,
        within: false,
        patients: true,
    },
    Kind {
        name: "controlled-drugs",
        store: Some(true),
        month: true,
        day: false,
        within: false,
        patients: true,
    },
    Kind {
        name: "expiry",
        store: Some(false),
        month: false,
        day: false,
        within: true,
        patients: false,
    },
    Kind {
        name: "moh717",
        store: None,
        month: true,
        day: false,
        within: false,
        patients: false,
    },
];

pub fn kind(name: &str) -> Option<Kind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// The translation key of a report's title (`consumption` -> `pharmacy_reports.title_consumption`).
pub fn title_key(name: &str) -> String {
    format!("pharmacy_reports.title_{}", name.replace('-', "_"))
}

/// A calendar month, Nairobi days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Month {
    pub fn of(date: NaiveDate) -> Month {
        let first = date.with_day(1).unwrap_or(date);
        let last = first
            .checked_add_months(Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(first);
        Month { first, last }
    }

    /// `YYYY-MM` as a month input sends it (or `MM/YYYY`).
    pub fn parse(text: &str) -> Option<Month> {
        let text = text.trim();
        let (y, m) = match text.split_once('-') {
            Some((y, m)) => (y, m),
            None => {
                let (m, y) = text.split_once('/')?;
                (y, m)
            }
        };
        let (y, m): (i32, u32) = (y.trim().parse().ok()?, m.trim().parse().ok()?);
        if !(2000..=2100).contains(&y) {
            return None;
        }
        NaiveDate::from_ymd_opt(y, m, 1).map(Month::of)
    }

    /// The month before the one holding `today`: the month a report is usually made for.
    pub fn previous(today: NaiveDate) -> Month {
        Month::of(Month::of(today).first.pred_opt().unwrap_or(today))
    }

    /// `YYYY-MM`.
    pub fn text(self) -> String {
        self.first.format("%Y-%m").to_string()
    }

    /// "November 2026" in the request's language.
    pub fn display(self) -> String {
        format!(
            "{} {}",
            hms_core::dates::month_name(hms_core::i18n::current(), self.first.month()),
            self.first.year()
        )
    }

    pub fn range(self) -> FigureRange {
        FigureRange::days(Day::new(self.first), Day::new(self.last))
    }

    /// The month's first instant and the first instant after it, as stored (RFC 3339 UTC).
    pub fn utc_bounds(self) -> (String, String) {
        self.range().utc_bounds()
    }
}

/// A report's content: headings, rows of cells and an optional totals row.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    /// Which columns hold numbers (right-aligned).
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
    pub totals: Option<Vec<String>>,
}

impl Table {
    /// Columns from translation keys of `pharmacy_reports`, with whether each is a number.
    pub fn new(columns: &[(&str, bool)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(k, _)| t(&format!("pharmacy_reports.{k}")))
                .collect(),
            numeric: columns.iter().map(|(_, n)| *n).collect(),
            rows: Vec::new(),
            totals: None,
        }
    }

    /// Every row (and the totals) as CSV under the headings.
    pub fn csv(&self) -> String {
        let line = |cells: &[String]| {
            cells
                .iter()
                .map(|c| hms_core::ui::csv_cell(c))
                .collect::<Vec<_>>()
                .join(",")
                + "\r\n"
        };
        let mut out = line(&self.columns);
        for r in &self.rows {
            out.push_str(&line(r));
        }
        if let Some(totals) = &self.totals {
            out.push_str(&line(totals));
        }
        out
    }

    /// The report on A4 under the facility's letterhead. A wide table heads its number
    /// columns with letters (A, B, C...) explained under it, as the printed forms do, so the
    /// drug names keep room on a portrait page.
    pub fn pdf(&self, head: &Letterhead, title: &str, subtitle: &str) -> Vec<u8> {
        let mut doc = Document::new(PageSize::A4, title).page_numbers(&t("pdf.page_of"));
        doc.letterhead(head);
        doc.heading(title);
        doc.text(Style::Small, subtitle);
        doc.space(2.0);
        let wide = self.columns.len() > WIDE;
        let mut legend = Vec::new();
        let mut letter = b'A';
        let columns: Vec<Column> = self
            .columns
            .iter()
            .zip(&self.numeric)
            .enumerate()
            .map(|(i, (c, numeric))| match (wide, numeric) {
                (true, true) => {
                    let l = char::from(letter).to_string();
                    letter = letter.saturating_add(1);
                    legend.push(format!("{l}: {c}"));
                    Column::new(&l, 1.4)
                }
                (true, false) if i == 1 => Column::new(c, 3.2),
                (true, false) => Column::new(c, 1.5),
                (false, true) => Column::new(c, 1.0),
                (false, false) => Column::new(c, 2.2),
            })
            .collect();
        let mut rows = self.rows.clone();
        if let Some(totals) = &self.totals {
            rows.push(totals.clone());
        }
        if rows.is_empty() {
            doc.paragraph(&t("pharmacy_reports.empty"));
        } else {
            doc.table(&columns, &rows);
            if !legend.is_empty() {
                doc.text(Style::Small, &legend.join(" · "));
            }
        }
        doc.finish()
    }
}

/// Tables with more columns than this are lettered on paper.
const WIDE: usize = 8;

/// A whole number of units or shillings as the report prints it: `1240`.
pub fn n(value: i64) -> String {
    value.to_string()
}

/// Cents as shillings with two decimals, no thousands separator (read back by spreadsheets).
pub fn ksh(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_read_from_a_month_input_or_as_printed() {
        let nov = Month::parse("2026-11").unwrap();
        assert_eq!(nov.first, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(nov.last, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(Month::parse("02/2028").unwrap().last.day(), 29);
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("soon"), None);
        let today = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
        assert_eq!(Month::previous(today).text(), "2026-12");
        // The month starts at midnight in Nairobi (21:00 UTC the day before).
        assert_eq!(nov.utc_bounds().0, "2026-10-31T21:00:00.000Z");
        assert_eq!(nov.utc_bounds().1, "2026-11-30T21:00:00.000Z");
    }

    #[test]
    fn money_prints_as_plain_shillings() {
        assert_eq!(ksh(123_456), "1234.56");
        assert_eq!(ksh(-5), "-0.05");
    }
}
