//! What a module contributes beside its own screens: panels and buttons on the patient chart,
//! the figures it feeds to MOH and management reports (with the visits behind each count), the
//! facts of a visit an insurance or SHA claim needs, and its part of a patient's record for the
//! patient's right of access. Every department declares these from the day it lands; a report
//! reads them here and never another module's tables.

use std::future::Future;
use std::pin::Pin;

use chrono::Datelike;
use serde::Serialize;

use super::Registry;
use crate::day::Day;
use crate::db::{Db, DbError};
use crate::ids::{PatientId, VisitId};

/// What the reporting and export methods of [`super::Module`] return.
pub type ContributionFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + Send + 'a>>;

/// A fragment on the patient chart, like a dashboard card: loaded on its own
/// (`hx-trigger="load"`), so a slow panel never delays the chart.
#[derive(Debug, Clone, Copy)]
pub struct ChartPanel {
    pub id: &'static str,
    /// Translation key of the title.
    pub title: &'static str,
    /// URL of the fragment, also a full page for browsers without JavaScript. `{patient}` is
    /// replaced by the chart's patient id, `{patients}` by that id and the ids of records merged
    /// into it, comma-separated (other modules' rows keep the id they were written with).
    pub href: &'static str,
    pub permission: &'static str,
    /// Position on the chart, lower first.
    pub order: i32,
}

/// A button on the chart and on patient search results ("Check in", "Book").
#[derive(Debug, Clone, Copy)]
pub struct ChartAction {
    pub id: &'static str,
    /// Translation key of the label.
    pub label: &'static str,
    /// Where the button leads; `{patient}` is replaced by the patient id.
    pub href: &'static str,
    pub permission: &'static str,
    pub order: i32,
}

/// A panel or action ready for a template: translated, its address filled in.
#[derive(Debug, Clone, Serialize)]
pub struct ChartLink {
    pub id: &'static str,
    pub label: String,
    pub href: String,
}

/// Fills `{patient}` and `{patients}` in a contributed address.
pub fn fill_href(template: &str, patient: PatientId, merged: &[PatientId]) -> String {
    let all = std::iter::once(patient)
        .chain(merged.iter().copied())
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    template
        .replace("{patients}", &all)
        .replace("{patient}", &patient.to_string())
}

impl ChartPanel {
    pub fn link(&self, patient: PatientId, merged: &[PatientId]) -> ChartLink {
        ChartLink {
            id: self.id,
            label: crate::i18n::t(self.title),
            href: fill_href(self.href, patient, merged),
        }
    }
}

impl ChartAction {
    pub fn link(&self, patient: PatientId) -> ChartLink {
        ChartLink {
            id: self.id,
            label: crate::i18n::t(self.label),
            href: fill_href(self.href, patient, &[]),
        }
    }
}

/// What a count counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Patients,
    Visits,
    Appointments,
    /// Patient files (records) opened.
    Files,
    Tests,
    Prescriptions,
    Items,
    /// Money in whole cents of KES.
    Cents,
}

/// A figure a module keeps for MOH and management reports.
#[derive(Debug, Clone, Copy)]
pub struct Indicator {
    /// Unique across modules, starting with the module id: `appointments.first_attendances`.
    pub code: &'static str,
    /// Translation key of the name.
    pub name: &'static str,
    /// What is counted and how, for report builders and auditors (English).
    pub description: &'static str,
    pub unit: Unit,
    /// The MOH form lines it feeds, as printed (`MOH 717 F.1`), if any.
    pub moh: &'static [&'static str],
}

/// The days a figure covers (both ends included, Nairobi days) and the facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FigureRange {
    pub from: Day,
    pub to: Day,
    /// `None` for every facility of the database. Record tables carry `facility_id`; until a
    /// database holds more than one facility, every row is the install's (1).
    pub facility: Option<i64>,
}

impl FigureRange {
    pub fn days(from: Day, to: Day) -> Self {
        Self {
            from,
            to,
            facility: None,
        }
    }

    /// The first instant of `from` and the first instant after `to`, as stored RFC 3339 UTC
    /// text (for columns holding times rather than days).
    pub fn utc_bounds(&self) -> (String, String) {
        let at = |d: Day| {
            chrono::DateTime::from_timestamp_millis(d.start_ms())
                .expect("a day in range")
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        (at(self.from), at(self.to.plus_days(1)))
    }
}

/// MOH age groups (MOH 717 A.1: under 5, over 5 counted as 5 to 59, over 60).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeBand {
    Under5,
    From5To59,
    From60,
}

impl AgeBand {
    /// The band of someone born on `born`, on `on`.
    pub fn at(born: Day, on: Day) -> Self {
        let (b, d) = (born.date(), on.date());
        let mut years = d.year() - b.year();
        if (d.month(), d.day()) < (b.month(), b.day()) {
            years -= 1;
        }
        match years {
            ..5 => Self::Under5,
            5..60 => Self::From5To59,
            _ => Self::From60,
        }
    }
}

/// One cell of a figure's breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FigurePart {
    /// `male`, `female`, `other` as stored by patients; `None` when not broken down by sex.
    pub sex: Option<String>,
    pub age_band: Option<AgeBand>,
    pub value: i64,
}

/// A counted figure over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figure {
    pub indicator: &'static str,
    pub value: i64,
    /// A breakdown whose values add up to `value`, when the module has one cheaply.
    pub parts: Vec<FigurePart>,
}

/// One record behind a count: the patient, the visit when there is one, and the module's own
/// row (an appointment's id, a patient's id for a new file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FigureSource {
    pub patient: PatientId,
    pub visit: Option<VisitId>,
    pub record: i64,
    pub day: Day,
}

/// The kind of fact about a visit a claim carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    /// Who pays for the visit (`cash`, `sha`, `insurance`, ...).
    Payer,
    /// A service point the patient was served at.
    ServicePoint,
    Diagnosis,
    Procedure,
    /// A drug, test or other item given.
    Item,
}

/// A fact of a visit, for insurance and SHA claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitFact {
    pub visit: VisitId,
    pub module: &'static str,
    pub kind: FactKind,
    /// A code the claim carries (ICD-11, a catalogue code, a payer), if any.
    pub code: Option<String>,
    /// What it is, in words.
    pub text: String,
    pub quantity: i64,
    /// When, RFC 3339 UTC, if known.
    pub at: Option<String>,
}

/// A module's part of one patient's record, for the patient's right of access: the same
/// content as rows for a PDF section (heading, then label and value) and as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSection {
    pub module: &'static str,
    /// The heading, already in the reader's language.
    pub title: String,
    /// (label, value), already in the reader's language.
    pub rows: Vec<(String, String)>,
    pub json: serde_json::Value,
}

/// `items` in order of `key` (stable).
fn sorted<T, K: Ord>(mut items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    items.sort_by_key(key);
    items
}

impl Registry {
    /// Chart panels of modules that are on (`on`, the per-request gate) the user may see.
    pub fn chart_panels_for(
        &self,
        on: impl Fn(&str) -> bool,
        can: impl Fn(&str) -> bool,
    ) -> Vec<ChartPanel> {
        let panels = self
            .enabled()
            .filter(|m| on(m.id()))
            .flat_map(|m| m.chart_panels().iter().copied())
            .filter(|p| can(p.permission))
            .collect();
        sorted(panels, |p| p.order)
    }

    /// Chart actions of modules that are on the user may use.
    pub fn chart_actions_for(
        &self,
        on: impl Fn(&str) -> bool,
        can: impl Fn(&str) -> bool,
    ) -> Vec<ChartAction> {
        let actions = self
            .enabled()
            .filter(|m| on(m.id()))
            .flat_map(|m| m.chart_actions().iter().copied())
            .filter(|a| can(a.permission))
            .collect();
        sorted(actions, |a| a.order)
    }

    /// Indicators of modules that are on, each with its module.
    pub fn indicators(&self, on: impl Fn(&str) -> bool) -> Vec<(&'static str, Indicator)> {
        self.enabled()
            .filter(|m| on(m.id()))
            .flat_map(|m| m.indicators().iter().map(move |i| (m.id(), *i)))
            .collect()
    }

    /// The module that keeps an indicator, when it is on.
    fn keeper(
        &self,
        indicator: &str,
        on: impl Fn(&str) -> bool,
    ) -> Option<&std::sync::Arc<dyn super::Module>> {
        self.enabled()
            .filter(|m| on(m.id()))
            .find(|m| m.indicators().iter().any(|i| i.code == indicator))
    }

    /// An indicator's figure over a range; `None` when no module that is on keeps it.
    pub async fn figure(
        &self,
        db: &Db,
        indicator: &str,
        range: &FigureRange,
        on: impl Fn(&str) -> bool,
    ) -> Result<Option<Figure>, DbError> {
        match self.keeper(indicator, on) {
            Some(m) => m.figures(db, indicator, range).await,
            None => Ok(None),
        }
    }

    /// The records behind an indicator's figure over a range (empty when no module keeps it).
    pub async fn figure_sources(
        &self,
        db: &Db,
        indicator: &str,
        range: &FigureRange,
        on: impl Fn(&str) -> bool,
    ) -> Result<Vec<FigureSource>, DbError> {
        match self.keeper(indicator, on) {
            Some(m) => m.figure_sources(db, indicator, range).await,
            None => Ok(Vec::new()),
        }
    }

    /// The facts of visits from every module that is on, visit by visit.
    pub async fn visit_facts(
        &self,
        db: &Db,
        visits: &[VisitId],
        on: impl Fn(&str) -> bool,
    ) -> Result<Vec<VisitFact>, DbError> {
        let mut facts = Vec::new();
        for m in self.enabled().filter(|m| on(m.id())) {
            facts.extend(m.visit_facts(db, visits).await?);
        }
        // Stable: within a visit, each module's facts keep their order.
        facts.sort_by_key(|f| f.visit);
        Ok(facts)
    }

    /// Every section of a patient's record, module by module in registry order; `patients` is
    /// the patient's id then the ids of records merged into it. The export is all or nothing: a
    /// module failing fails it (a right-of-access answer must not be silently short).
    pub async fn patient_export(
        &self,
        db: &Db,
        patients: &[PatientId],
        on: impl Fn(&str) -> bool,
    ) -> Result<Vec<ExportSection>, DbError> {
        let mut sections = Vec::new();
        for m in self.enabled().filter(|m| on(m.id())) {
            sections.extend(m.patient_export(db, patients).await?);
        }
        Ok(sections)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        Day::from_db_text(s).unwrap()
    }

    #[test]
    fn age_bands_follow_the_birthday() {
        assert_eq!(
            AgeBand::at(day("2021-06-10"), day("2026-06-09")),
            AgeBand::Under5
        );
        assert_eq!(
            AgeBand::at(day("2021-06-10"), day("2026-06-10")),
            AgeBand::From5To59
        );
        assert_eq!(
            AgeBand::at(day("1966-06-10"), day("2026-06-09")),
            AgeBand::From5To59
        );
        assert_eq!(
            AgeBand::at(day("1966-06-10"), day("2026-06-10")),
            AgeBand::From60
        );
    }

    #[test]
    fn hrefs_get_the_patient_and_merged_records() {
        let p = PatientId(12);
        assert_eq!(fill_href("/a?p={patient}", p, &[]), "/a?p=12");
        assert_eq!(
            fill_href(
                "/a/{patient}?all={patients}",
                p,
                &[PatientId(3), PatientId(9)]
            ),
            "/a/12?all=12,3,9"
        );
    }

    #[test]
    fn range_bounds_are_nairobi_midnights_in_utc() {
        let r = FigureRange::days(day("2026-03-01"), day("2026-03-31"));
        assert_eq!(
            r.utc_bounds(),
            (
                "2026-02-28T21:00:00.000Z".to_string(),
                "2026-03-31T21:00:00.000Z".to_string()
            )
        );
    }
}
