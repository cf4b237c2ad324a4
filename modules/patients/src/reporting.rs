//! The patients module's contributions to reports and to the patient's export: new files opened
//! (MOH 717 F.1, by sex and MOH age group at registration), and each record's demographics,
//! identifiers and merges.

use std::collections::BTreeMap;

use hms_core::clock;
use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::module::{
    AgeBand, ExportSection, Figure, FigurePart, FigureRange, FigureSource, Indicator, Unit,
};
use serde_json::json;

use crate::model;
use crate::repo::reporting::{self as repo, Record};
use crate::routes::{kin_label, sex_label};

pub const NEW_FILES: &str = "patients.new_files";

pub const INDICATORS: &[Indicator] = &[Indicator {
    code: NEW_FILES,
    name: "contributions.indicator_new_files",
    description: "Patient records opened (registered or imported) on the days of the range, \
                  Nairobi time; records later merged into another still count, since a file \
                  was opened. Broken down by sex and MOH age group at registration.",
    unit: Unit::Files,
    moh: &["MOH 717 F.1"],
}];

/// The Nairobi day of a stored RFC 3339 UTC time.
fn local_day(at: &str) -> Option<Day> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| Day::new(clock::to_local(t.to_utc()).date_naive()))
}

pub async fn figures(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Option<Figure>, DbError> {
    if indicator != NEW_FILES {
        return Ok(None);
    }
    let rows = repo::new_files(db, range).await?;
    let mut parts: BTreeMap<(String, Option<AgeBand>), i64> = BTreeMap::new();
    for (_, sex, born, at) in &rows {
        let band = Day::from_db_text(born)
            .zip(local_day(at))
            .map(|(b, on)| AgeBand::at(b, on));
        *parts.entry((sex.clone(), band)).or_default() += 1;
    }
    Ok(Some(Figure {
        indicator: NEW_FILES,
        value: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        parts: parts
            .into_iter()
            .map(|((sex, age_band), value)| FigurePart {
                sex: Some(sex),
                age_band,
                value,
            })
            .collect(),
    }))
}

pub async fn figure_sources(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Vec<FigureSource>, DbError> {
    if indicator != NEW_FILES {
        return Ok(Vec::new());
    }
    Ok(repo::new_files(db, range)
        .await?
        .into_iter()
        .filter_map(|(id, _, _, at)| {
            Some(FigureSource {
                patient: PatientId(id),
                visit: None,
                record: id,
                day: local_day(&at)?,
            })
        })
        .collect())
}

/// The survivor's record, then each record merged into it, each with its identifiers, then the
/// merges that joined them.
pub async fn export(db: &Db, patients: &[PatientId]) -> Result<Vec<ExportSection>, DbError> {
    let mut sections = Vec::new();
    let mut merges = Vec::new();
    for (n, id) in patients.iter().enumerate() {
        let Some(r) = repo::record(db, id.get()).await? else {
            continue;
        };
        let title = if n == 0 {
            t("contributions.export_patient")
        } else {
            format!("{} {}", t("contributions.export_merged_record"), r.number)
        };
        sections.push(record_section(title, &r));
        for m in repo::merges_of(db, id.get()).await? {
            if !merges.contains(&m) {
                merges.push(m);
            }
        }
    }
    if !merges.is_empty() {
        sections.push(merges_section(&merges));
    }
    Ok(sections)
}

fn record_section(title: String, r: &Record) -> ExportSection {
    let name = [
        Some(r.first_name.as_str()),
        r.middle_name.as_deref(),
        Some(&r.last_name),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let mut rows = vec![
        (t("patients.number"), r.number.clone()),
        (t("patients.name"), name),
        (t("patients.sex"), sex_label(&r.sex)),
        (t("patients.date_of_birth"), r.date_of_birth.clone()),
        (t("patients.phone"), text(&r.phone)),
        (t("patients.email"), text(&r.email)),
        (
            t("patients.county"),
            r.county_code
                .as_deref()
                .and_then(model::county)
                .map(|c| c.name.to_string())
                .unwrap_or_default(),
        ),
        (t("patients.ward"), text(&r.ward)),
        (t("patients.section_kin"), kin_text(r)),
        (t("patients.allergies"), text(&r.allergies)),
        (t("patients.blood_group"), text(&r.blood_group)),
        (
            t("patients.registered_on"),
            clock::display_rfc3339(&r.created_at),
        ),
    ];
    rows.extend(
        r.identifiers
            .iter()
            .map(|(kind, value)| (model::id_type_label(kind).to_string(), value.clone())),
    );
    if !r.is_active {
        rows.push((
            t("patients.inactive_since"),
            format!("{} {}", text(&r.inactive_on), text(&r.inactive_reason)),
        ));
    }
    ExportSection {
        module: "patients",
        title,
        rows,
        json: serde_json::to_value(r).unwrap_or_default(),
    }
}

fn kin_text(r: &Record) -> String {
    let mut s = r.kin_name.clone().unwrap_or_default();
    if let Some(rel) = &r.kin_relationship {
        s.push_str(&format!(" ({})", kin_label(rel)));
    }
    if let Some(p) = &r.kin_phone {
        s.push_str(&format!(" · {p}"));
    }
    s
}

type Merge = (String, String, String, String, Option<String>);

fn merges_section(merges: &[Merge]) -> ExportSection {
    ExportSection {
        module: "patients",
        title: t("contributions.export_merges"),
        rows: merges
            .iter()
            .map(|(survivor, merged, at, reason, undone)| {
                let mut value = format!(
                    "{merged} → {survivor}, {}: {reason}",
                    clock::display_rfc3339(at)
                );
                if let Some(u) = undone {
                    value.push_str(&format!(
                        " ({} {})",
                        t("contributions.export_undone"),
                        clock::display_rfc3339(u)
                    ));
                }
                (t("contributions.export_merge"), value)
            })
            .collect(),
        json: json!(merges
            .iter()
            .map(|(survivor, merged, at, reason, undone)| json!({
                "survivor": survivor, "merged": merged, "merged_at": at,
                "reason": reason, "undone_at": undone,
            }))
            .collect::<Vec<_>>()),
    }
}
