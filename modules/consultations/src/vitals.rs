//! Vital signs at triage: measured, checked against the ranges of the patient's age band,
//! stored as integers, never edited (a wrong set is marked entered in error), and drawn as
//! trends on the chart.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::{ChartPanel, TimelineEntry};
use hms_core::ui::FormErrors;

use crate::model::Age;
use crate::ranges::{self, Band, Flag, Measure, Verdict};
use crate::repo::vitals::{self as repo, VitalsRow};

/// The vitals panel on the patient chart.
pub const PANELS: &[ChartPanel] = &[ChartPanel {
    id: "consultations-vitals",
    title: "consultations_triage.panel_title",
    href: "/patients/{patient}/vitals/panel?patients={patients}",
    permission: crate::VIEW,
    order: 15,
}];

/// The measures typed on the form, in the order of the stored columns.
pub const TYPED: [Measure; 10] = [
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
];

/// General danger signs (WHO IMCI) and emergency signs (WHO ETAT): any one makes the set
/// critical.
pub const DANGER_SIGNS: &[&str] = &[
    "unable_to_drink",
    "vomits_everything",
    "convulsions",
    "lethargic",
    "obstructed_breathing",
    "respiratory_distress",
    "cyanosis",
    "shock",
    "severe_bleeding",
    "severe_dehydration",
];

/// Triage categories of ETAT: emergency (red), priority (yellow), queue (green).
pub const CATEGORIES: &[&str] = &["emergency", "priority", "queue"];

/// Longest note.
pub const NOTE_MAX: usize = 500;

/// MUAC is measured from 6 to 59 months.
const MUAC_MONTHS: std::ops::Range<i64> = 6..60;

/// The longest a pregnancy may have lasted since the last menstrual period (44 weeks).
const LMP_MAX_DAYS: i64 = 44 * 7;

/// The patient as the checks need them.
#[derive(Debug, Clone)]
pub struct Patient {
    pub sex: String,
    pub age: Option<Age>,
}

impl Patient {
    pub fn band(&self) -> Band {
        Band::of(self.age)
    }

    pub fn muac_applies(&self) -> bool {
        self.age.is_some_and(|a| MUAC_MONTHS.contains(&a.months))
    }

    /// Pregnancy is asked of women and girls from 10 years (or of unknown age).
    pub fn pregnancy_applies(&self) -> bool {
        self.sex == "female" && self.age.is_none_or(|a| a.years >= 10)
    }

    pub fn adult(&self) -> bool {
        self.band() == Band::Adult
    }
}

/// The form as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Input {
    pub values: BTreeMap<String, String>,
    pub pregnant: String,
    pub lmp: String,
    pub danger_signs: Vec<String>,
    pub triage_category: String,
    pub note: String,
    pub checked: Vec<String>,
}

impl Input {
    pub fn from_form(form: &hms_core::http::Form) -> Input {
        Input {
            values: TYPED
                .iter()
                .map(|m| {
                    (
                        m.field().to_string(),
                        form.get(m.field()).trim().to_string(),
                    )
                })
                .collect(),
            pregnant: form.get("pregnant").trim().to_string(),
            lmp: form.get("lmp").trim().to_string(),
            danger_signs: form
                .all("danger_signs")
                .into_iter()
                .map(str::to_string)
                .collect(),
            triage_category: form.get("triage_category").trim().to_string(),
            note: form.get("note").trim().to_string(),
            checked: form
                .all("checked")
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }

    fn value(&self, m: Measure) -> &str {
        self.values.get(m.field()).map(String::as_str).unwrap_or("")
    }
}

/// A checked set, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Stored values in the order of [`TYPED`].
    pub values: [Option<i64>; 10],
    pub bmi: Option<i64>,
    pub pregnant: Option<bool>,
    pub lmp: Option<NaiveDate>,
    pub danger_signs: Vec<&'static str>,
    pub triage_category: &'static str,
    pub note: Option<String>,
    pub flags: BTreeMap<&'static str, Flag>,
    pub worst: Flag,
    pub checked: Vec<&'static str>,
}

impl Reading {
    pub fn value(&self, m: Measure) -> Option<i64> {
        TYPED
            .iter()
            .position(|t| *t == m)
            .and_then(|i| self.values[i])
    }

    pub fn flags_json(&self) -> String {
        let map: BTreeMap<&str, &str> = self.flags.iter().map(|(k, f)| (*k, f.code())).collect();
        serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
    }

    /// The values that are critical, for the offer of emergency priority.
    pub fn critical(&self) -> bool {
        self.worst == Flag::Critical
    }
}

/// Why a form was refused: messages by field, and the fields whose unusual value may be
/// confirmed with "I have checked this value".
#[derive(Debug, Default)]
pub struct Refusal {
    pub errors: FormErrors,
    pub confirm: Vec<&'static str>,
}

/// Reads a typed number as stored units: `37.5` with scale 10 is 375. `None` when unreadable
/// or with more decimals than the measure keeps.
pub fn parse_scaled(text: &str, decimals: u32, scale: i64) -> Option<i64> {
    let text = text.replace(',', ".");
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text.as_str(), ""),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && frac.is_empty()
        || !digits(whole)
        || !digits(frac)
        || frac.len() > decimals as usize
        || whole.len() > 7
    {
        return None;
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let mut places = frac.len() as u32;
    let scale_places = scale.ilog10();
    while places < scale_places {
        f *= 10;
        places += 1;
    }
    Some(w * scale + f)
}

fn unit(m: Measure) -> String {
    t(&format!("consultations_triage.unit_{}", m.field()))
}

fn name(m: Measure) -> String {
    t(&format!("consultations_triage.name_{}", m.field()))
}

/// Checks a typed form for a patient on `day`.
pub fn check(input: &Input, patient: &Patient, day: Day) -> Result<Reading, Refusal> {
    let mut refusal = Refusal::default();
    let band = patient.band();
    let known_checked: Vec<&'static str> = TYPED
        .iter()
        .map(|m| m.field())
        .filter(|f| input.checked.iter().any(|c| c == f))
        .collect();
    let mut values = [None; 10];
    let mut flags = BTreeMap::new();
    for (i, m) in TYPED.iter().enumerate() {
        let text = input.value(*m);
        if text.is_empty() {
            continue;
        }
        let Some(v) = parse_scaled(text, m.decimals(), m.scale()) else {
            refusal.errors.add(
                m.field(),
                t("consultations_triage.error_number").replace("{measure}", &name(*m)),
            );
            continue;
        };
        if *m == Measure::Muac && !patient.muac_applies() {
            refusal
                .errors
                .add(m.field(), t("consultations_triage.error_muac_age"));
            continue;
        }
        match ranges::range(*m, band).check(v) {
            Verdict::Flag(f) => {
                flags.insert(m.field(), f);
                values[i] = Some(v);
            }
            Verdict::Refused { suggest } => {
                let message = match suggest {
                    Some(s) => t("consultations_triage.error_implausible_suggest")
                        .replace("{suggest}", &m.show(s)),
                    None => t("consultations_triage.error_implausible"),
                };
                refusal.errors.add(
                    m.field(),
                    message
                        .replace("{value}", text)
                        .replace("{measure}", &name(*m))
                        .replace("{unit}", &unit(*m)),
                );
            }
            Verdict::Unusual if known_checked.contains(&m.field()) => {
                flags.insert(m.field(), Flag::Critical);
                values[i] = Some(v);
            }
            Verdict::Unusual => {
                refusal.confirm.push(m.field());
                refusal.errors.add(
                    m.field(),
                    t("consultations_triage.error_unusual")
                        .replace("{value}", text)
                        .replace("{measure}", &name(*m))
                        .replace("{unit}", &unit(*m)),
                );
            }
        }
    }
    let at = |m: Measure| TYPED.iter().position(|t| *t == m).map(|i| values[i]);
    let (sys, dia) = (
        at(Measure::Systolic).flatten(),
        at(Measure::Diastolic).flatten(),
    );
    let typed = |m: Measure| !input.value(m).is_empty();
    if typed(Measure::Systolic) != typed(Measure::Diastolic) {
        let missing = if typed(Measure::Systolic) {
            "diastolic"
        } else {
            "systolic"
        };
        refusal
            .errors
            .add(missing, t("consultations_triage.error_bp_pair"));
    }
    if let (Some(s), Some(d)) = (sys, dia) {
        if d >= s {
            refusal
                .errors
                .add("diastolic", t("consultations_triage.error_diastolic"));
        }
    }
    let bmi = match (at(Measure::Weight).flatten(), at(Measure::Height).flatten()) {
        (Some(w), Some(h)) if patient.adult() && h > 0 => {
            let bmi = (w * 10_000 * 2 + h * h) / (2 * h * h);
            match ranges::range(Measure::Bmi, band).check(bmi) {
                Verdict::Flag(f) => {
                    flags.insert("bmi", f);
                    Some(bmi)
                }
                _ => None,
            }
        }
        _ => None,
    };
    let pregnant = match input.pregnant.as_str() {
        "" => None,
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            refusal
                .errors
                .add("pregnant", t("consultations_triage.error_choose"));
            None
        }
    };
    if pregnant == Some(true) && !patient.pregnancy_applies() {
        let key = if patient.sex == "female" {
            "consultations_triage.error_pregnant_age"
        } else {
            "consultations_triage.error_pregnant_sex"
        };
        refusal.errors.add("pregnant", t(key));
    }
    let mut lmp = None;
    if !input.lmp.is_empty() {
        if pregnant != Some(true) {
            refusal
                .errors
                .add("lmp", t("consultations_triage.error_lmp_not_pregnant"));
        } else {
            match hms_core::dates::read(&input.lmp) {
                Err(e) => refusal.errors.add("lmp", e.message(day.date())),
                Ok(d) if d > day.date() => refusal
                    .errors
                    .add("lmp", t("consultations_triage.error_lmp_future")),
                Ok(d) if (day.date() - d).num_days() > LMP_MAX_DAYS => refusal
                    .errors
                    .add("lmp", t("consultations_triage.error_lmp_old")),
                Ok(d) => lmp = Some(d),
            }
        }
    }
    let mut danger_signs = Vec::new();
    for sign in &input.danger_signs {
        match DANGER_SIGNS.iter().find(|s| **s == sign.as_str()) {
            Some(s) if !danger_signs.contains(s) => danger_signs.push(*s),
            Some(_) => {}
            None => refusal
                .errors
                .add("danger_signs", t("consultations_triage.error_choose")),
        }
    }
    if !danger_signs.is_empty() {
        flags.insert("danger_signs", Flag::Critical);
    }
    let worst = flags.values().copied().max().unwrap_or(Flag::Normal);
    let triage_category = if input.triage_category.is_empty() {
        suggested_category(worst)
    } else {
        match CATEGORIES
            .iter()
            .find(|c| **c == input.triage_category.as_str())
        {
            Some(c) => *c,
            None => {
                refusal
                    .errors
                    .add("triage_category", t("consultations_triage.error_choose"));
                "queue"
            }
        }
    };
    if input.note.chars().count() > NOTE_MAX {
        refusal.errors.add(
            "note",
            t("consultations_triage.error_note_long").replace("{max}", &NOTE_MAX.to_string()),
        );
    }
    let measured = values.iter().any(Option::is_some) || !danger_signs.is_empty();
    if refusal.errors.is_empty() && !measured {
        refusal
            .errors
            .add("temperature", t("consultations_triage.error_empty"));
    }
    if !refusal.errors.is_empty() {
        return Err(refusal);
    }
    let checked = known_checked
        .into_iter()
        .filter(|f| {
            Measure::parse(f).is_some_and(|m| {
                let i = TYPED.iter().position(|t| *t == m).unwrap_or(0);
                values[i].is_some_and(|v| ranges::range(m, band).check(v) == Verdict::Unusual)
            })
        })
        .collect();
    Ok(Reading {
        values,
        bmi,
        pregnant,
        lmp,
        danger_signs,
        triage_category,
        note: Some(input.note.clone()).filter(|n| !n.is_empty()),
        flags,
        worst,
        checked,
    })
}

/// A typed value's flag while the form is filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub label: String,
    pub value: String,
    pub unit: String,
    pub flag: &'static str,
    pub flag_text: String,
}

/// The flags of what has been typed so far (values that cannot be read or are refused are left
/// to the form's messages), and the worst of them with the danger signs.
pub fn preview(input: &Input, patient: &Patient) -> (Vec<Preview>, Flag) {
    let band = patient.band();
    let mut worst = if input
        .danger_signs
        .iter()
        .any(|s| DANGER_SIGNS.contains(&s.as_str()))
    {
        Flag::Critical
    } else {
        Flag::Normal
    };
    let mut shown = Vec::new();
    for m in TYPED {
        if m == Measure::Muac && !patient.muac_applies() {
            continue;
        }
        let Some(v) = parse_scaled(input.value(m), m.decimals(), m.scale()) else {
            continue;
        };
        let flag = match ranges::range(m, band).check(v) {
            Verdict::Flag(f) => f,
            _ => continue,
        };
        worst = worst.max(flag);
        if flag != Flag::Normal {
            shown.push(Preview {
                label: t(&format!("consultations_triage.label_{}", m.field())),
                value: m.show(v),
                unit: unit(m),
                flag: flag.code(),
                flag_text: flag_text(flag.code()),
            });
        }
    }
    (shown, worst)
}

/// The category the findings suggest: critical findings or danger signs an emergency,
/// abnormal ones priority, else the queue.
pub fn suggested_category(worst: Flag) -> &'static str {
    match worst {
        Flag::Critical => "emergency",
        Flag::Abnormal => "priority",
        Flag::Normal => "queue",
    }
}

/// Weeks and days of gestation on `day`, and the due date (Naegele: LMP + 280 days).
pub fn gestation(lmp: NaiveDate, day: NaiveDate) -> (i64, i64, NaiveDate) {
    let days = (day - lmp).num_days().max(0);
    (days / 7, days % 7, lmp + chrono::Duration::days(280))
}

/// The age of a patient on a day from the patients module's card.
pub fn patient_of(card: &hms_patients::api::PatientCard, day: Day) -> Patient {
    Patient {
        sex: card.sex.clone(),
        age: card.date_of_birth.and_then(|born| Age::on(born, day)),
    }
}

// ---------------------------------------------------------------------------------------------
// Showing stored sets
// ---------------------------------------------------------------------------------------------

/// One measure of a stored set, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub field: &'static str,
    pub label: String,
    pub value: String,
    pub unit: String,
    pub flag: &'static str,
    /// The flag in the reader's language.
    pub flag_text: String,
}

fn flag_text(flag: &str) -> String {
    t(&format!("consultations_triage.flag_{flag}"))
}

fn stored_values(r: &VitalsRow) -> [Option<i64>; 10] {
    [
        r.temperature_dc,
        r.pulse,
        r.resp_rate,
        r.systolic,
        r.diastolic,
        r.spo2,
        r.weight_g,
        r.height_mm,
        r.muac_mm,
        r.pain,
    ]
}

/// A stored value of a measure.
pub fn stored(r: &VitalsRow, m: Measure) -> Option<i64> {
    TYPED
        .iter()
        .position(|t| *t == m)
        .and_then(|i| stored_values(r)[i])
}

fn flags_of(r: &VitalsRow) -> BTreeMap<String, String> {
    serde_json::from_str(&r.flags).unwrap_or_default()
}

/// The BMI of a stored adult set, in 0.1 kg/m² (flagged sets only: it was computed then).
pub fn bmi_of(r: &VitalsRow) -> Option<i64> {
    if !flags_of(r).contains_key("bmi") {
        return None;
    }
    match (r.weight_g, r.height_mm) {
        (Some(w), Some(h)) if h > 0 => Some((w * 10_000 * 2 + h * h) / (2 * h * h)),
        _ => None,
    }
}

/// A stored set's measures as shown, blood pressure as one line.
pub fn shown(r: &VitalsRow) -> Vec<Shown> {
    let flags = flags_of(r);
    let flag = |f: &str| Flag::parse(flags.get(f).map(String::as_str).unwrap_or("normal")).code();
    let mut out = Vec::new();
    for m in TYPED {
        let Some(v) = stored(r, m) else { continue };
        if m == Measure::Diastolic {
            continue;
        }
        if m == Measure::Systolic {
            let dia = r.diastolic.map(|d| d.to_string()).unwrap_or_default();
            let worse = Flag::parse(flag("systolic")).max(Flag::parse(flag("diastolic")));
            out.push(Shown {
                field: "bp",
                label: t("consultations_triage.short_bp"),
                value: format!("{v}/{dia}"),
                unit: t("consultations_triage.unit_systolic"),
                flag: worse.code(),
                flag_text: flag_text(worse.code()),
            });
            continue;
        }
        out.push(Shown {
            field: m.field(),
            label: t(&format!("consultations_triage.short_{}", m.field())),
            value: m.show(v),
            unit: unit(m),
            flag: flag(m.field()),
            flag_text: flag_text(flag(m.field())),
        });
    }
    if let Some(b) = bmi_of(r) {
        out.push(Shown {
            field: "bmi",
            label: t("consultations_triage.short_bmi"),
            value: Measure::Bmi.show(b),
            unit: t("consultations_triage.unit_bmi"),
            flag: flag("bmi"),
            flag_text: flag_text(flag("bmi")),
        });
    }
    out
}

/// What a stored set suggests for the diagnosis and its MOH 705 row: SpO2 below 90 %
/// (hypoxaemia, 705A row 69 under five years) and a BMI above 25 (overweight, 705B row 54).
pub fn suggestions(r: &VitalsRow) -> Vec<String> {
    let mut out = Vec::new();
    if r.spo2.is_some_and(|s| s < 90) {
        out.push(t("consultations_triage.suggest_hypoxaemia"));
    }
    if bmi_of(r).is_some_and(|b| b > 250) {
        out.push(t("consultations_triage.suggest_overweight"));
    }
    out
}

fn category_label(code: &str) -> String {
    t(&format!("consultations_triage.category_{code}"))
}

/// A stored set as JSON for the templates: its measures, pregnancy, danger signs, category.
pub fn set_json(r: &VitalsRow) -> Value {
    let recorded_day = chrono::DateTime::parse_from_rfc3339(&r.recorded_at)
        .map(|t| hms_core::clock::to_local(t.with_timezone(&chrono::Utc)).date_naive())
        .unwrap_or_else(|_| Day::today().date());
    let lmp = r.lmp.as_deref().and_then(Day::from_db_text);
    let (weeks, days, due) = lmp
        .map(|l| {
            let (w, d, due) = gestation(l.date(), recorded_day);
            (Some(w), Some(d), Some(Day::new(due).display()))
        })
        .unwrap_or((None, None, None));
    let signs: Vec<String> = r
        .danger_signs
        .split(',')
        .filter(|s| DANGER_SIGNS.contains(s))
        .map(|s| t(&format!("consultations_triage.sign_{s}")))
        .collect();
    json!({
        "id": r.id,
        "patient_id": r.patient_id,
        "visit_id": r.visit_id,
        "recorded_at": hms_core::clock::display_rfc3339(&r.recorded_at),
        "recorded_by": r.recorded_by,
        "worst": r.worst,
        "items": shown(r),
        "suggests": suggestions(r),
        "pregnant": r.pregnant.map(|p| p == 1),
        "lmp": lmp.map(|l| l.display()),
        "gestation_weeks": weeks,
        "gestation_days": days,
        "due": due,
        "danger_signs": signs,
        "triage_category": r.triage_category,
        "triage_category_label": r.triage_category.as_deref().map(category_label),
        "note": r.note,
        "age_days": r.age_days,
        "checked": r.checked.split(',').filter(|c| !c.is_empty()).collect::<Vec<_>>(),
        "in_error": r.error_at.is_some(),
        "error_reason": r.error_reason,
        "error_at": r.error_at.as_deref().map(hms_core::clock::display_rfc3339),
    })
}

/// The latest vital signs of a visit, as the consultation page shows them (JSON for the
/// template `consultations/_vitals_summary.html`, which reads it as `vitals`); `Null` when none
/// were taken. Sets entered in error are passed over.
pub async fn summary_for_visit(db: &Db, visit: VisitId) -> Result<Value, DbError> {
    let sets = repo::of_visit(db, visit).await?;
    Ok(sets
        .iter()
        .find(|s| s.error_at.is_none())
        .map(set_json)
        .unwrap_or(Value::Null))
}

/// Whether the latest vital signs of the visit that asked say the patient is pregnant (`None`:
/// not asked). Sets entered in error are passed over.
pub async fn pregnant_at_visit(db: &Db, visit: VisitId) -> Result<Option<bool>, DbError> {
    Ok(repo::of_visit(db, visit)
        .await?
        .iter()
        .filter(|s| s.error_at.is_none())
        .find_map(|s| s.pregnant)
        .map(|p| p == 1))
}

/// Vital-sign sets of the patient for the chart timeline, newest first, flags in the title.
pub async fn timeline(
    db: &Db,
    patients: &[i64],
    limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    let mut entries = Vec::new();
    for &p in patients {
        for r in repo::of_patient(db, PatientId::from(p), limit).await? {
            let items = shown(&r);
            let flagged: Vec<String> = items
                .iter()
                .filter(|i| i.flag != "normal")
                .map(|i| format!("{} {} {} ({})", i.label, i.value, i.unit, i.flag_text))
                .collect();
            let mut title = t("consultations_triage.timeline_title");
            if r.error_at.is_some() {
                title = format!("{title} ({})", t("consultations_triage.entered_in_error"));
            } else if !flagged.is_empty() {
                title = format!("{title}: {}", flagged.join(", "));
            }
            let detail = items
                .iter()
                .map(|i| format!("{} {} {}", i.label, i.value, i.unit))
                .collect::<Vec<_>>()
                .join(" · ");
            entries.push(TimelineEntry {
                at: r.recorded_at.clone(),
                kind: "consultations_triage.timeline_kind",
                title,
                detail: Some(detail).filter(|d| !d.is_empty()),
                href: Some(format!("/patients/{}/vitals", r.patient_id.get())),
                permission: crate::VIEW,
            });
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Day {
        Day::new(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap())
    }

    fn patient(sex: &str, born: (i32, u32, u32)) -> Patient {
        let b = Day::new(NaiveDate::from_ymd_opt(born.0, born.1, born.2).unwrap());
        Patient {
            sex: sex.into(),
            age: Age::on(b, day()),
        }
    }

    fn input(values: &[(&str, &str)]) -> Input {
        Input {
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Input::default()
        }
    }

    #[test]
    fn numbers_are_read_as_stored_units() {
        assert_eq!(parse_scaled("37.5", 1, 10), Some(375));
        assert_eq!(parse_scaled("37,5", 1, 10), Some(375));
        assert_eq!(parse_scaled("37", 1, 10), Some(370));
        assert_eq!(parse_scaled("6.25", 3, 1000), Some(6250));
        assert_eq!(parse_scaled("37.55", 1, 10), None);
        assert_eq!(parse_scaled("-1", 0, 1), None);
        assert_eq!(parse_scaled("abc", 0, 1), None);
        assert_eq!(parse_scaled(".", 1, 10), None);
        assert_eq!(parse_scaled("72", 0, 1), Some(72));
    }

    #[test]
    fn an_adult_set_is_flagged_and_bmi_computed() {
        let adult = patient("male", (1980, 1, 1));
        let r = check(
            &input(&[
                ("temperature", "38.2"),
                ("pulse", "88"),
                ("systolic", "150"),
                ("diastolic", "95"),
                ("spo2", "97"),
                ("weight", "90"),
                ("height", "175"),
            ]),
            &adult,
            day(),
        )
        .unwrap();
        assert_eq!(r.value(Measure::Temperature), Some(382));
        assert_eq!(r.flags["temperature"], Flag::Abnormal);
        assert_eq!(r.flags["pulse"], Flag::Normal);
        assert_eq!(r.flags["systolic"], Flag::Abnormal);
        assert_eq!(r.bmi, Some(294));
        assert_eq!(r.flags["bmi"], Flag::Abnormal);
        assert_eq!(r.worst, Flag::Abnormal);
        assert_eq!(r.triage_category, "priority");
    }

    #[test]
    fn a_typo_is_refused_and_nothing_else_decides() {
        let adult = patient("female", (1990, 5, 31));
        let refused = check(&input(&[("temperature", "375")]), &adult, day()).unwrap_err();
        assert!(refused.errors.get("temperature").is_some());
        assert!(refused.confirm.is_empty());
    }

    #[test]
    fn an_unusual_weight_needs_checking_then_is_kept() {
        let baby = patient("female", (2026, 9, 1));
        let mut i = input(&[("weight", "40")]);
        let refused = check(&i, &baby, day()).unwrap_err();
        assert_eq!(refused.confirm, vec!["weight"]);
        i.checked = vec!["weight".into()];
        let r = check(&i, &baby, day()).unwrap();
        assert_eq!(r.value(Measure::Weight), Some(40_000));
        assert_eq!(r.checked, vec!["weight"]);
        assert_eq!(r.worst, Flag::Critical);
    }

    #[test]
    fn blood_pressure_comes_in_pairs_with_diastolic_below() {
        let adult = patient("male", (1980, 1, 1));
        let e = check(&input(&[("systolic", "120")]), &adult, day()).unwrap_err();
        assert!(e.errors.get("diastolic").is_some());
        let e = check(
            &input(&[("systolic", "80"), ("diastolic", "90")]),
            &adult,
            day(),
        )
        .unwrap_err();
        assert!(e.errors.get("diastolic").is_some());
    }

    #[test]
    fn muac_only_from_6_to_59_months() {
        let toddler = patient("male", (2024, 12, 7));
        let r = check(&input(&[("muac", "11.2")]), &toddler, day()).unwrap();
        assert_eq!(r.flags["muac"], Flag::Critical);
        let adult = patient("male", (1980, 1, 1));
        assert!(check(&input(&[("muac", "24")]), &adult, day()).is_err());
        let young = patient("male", (2026, 8, 1));
        assert!(check(&input(&[("muac", "12")]), &young, day()).is_err());
    }

    #[test]
    fn pregnancy_for_a_man_is_refused_and_lmp_gives_gestation() {
        let man = patient("male", (1980, 1, 1));
        let mut i = input(&[("pulse", "80")]);
        i.pregnant = "yes".into();
        assert!(check(&i, &man, day())
            .unwrap_err()
            .errors
            .get("pregnant")
            .is_some());
        let woman = patient("female", (1995, 1, 1));
        i.lmp = "08/06/2026".into();
        let r = check(&i, &woman, day()).unwrap();
        assert_eq!(r.pregnant, Some(true));
        let (w, d, due) = gestation(r.lmp.unwrap(), day().date());
        assert_eq!((w, d), (26, 0));
        assert_eq!(due, NaiveDate::from_ymd_opt(2027, 3, 15).unwrap());
        i.lmp = "08/12/2026".into();
        assert!(check(&i, &woman, day())
            .unwrap_err()
            .errors
            .get("lmp")
            .is_some());
        i.lmp = "01/01/2026".into();
        assert!(check(&i, &woman, day())
            .unwrap_err()
            .errors
            .get("lmp")
            .is_some());
    }

    #[test]
    fn a_danger_sign_makes_the_set_an_emergency() {
        let child = patient("female", (2023, 1, 1));
        let mut i = input(&[]);
        i.danger_signs = vec!["convulsions".into()];
        let r = check(&i, &child, day()).unwrap();
        assert_eq!(r.worst, Flag::Critical);
        assert_eq!(r.triage_category, "emergency");
        i.danger_signs = vec!["unknown".into()];
        assert!(check(&i, &child, day()).is_err());
    }

    #[test]
    fn low_oxygen_and_a_high_bmi_suggest_their_moh_705_rows() {
        let adult = patient("male", (1980, 1, 1));
        let r = check(
            &input(&[("spo2", "88"), ("weight", "90"), ("height", "175")]),
            &adult,
            day(),
        )
        .unwrap();
        let row = VitalsRow {
            id: 1.into(),
            patient_id: 1.into(),
            visit_id: None,
            age_days: None,
            temperature_dc: None,
            pulse: None,
            resp_rate: None,
            systolic: None,
            diastolic: None,
            spo2: r.value(Measure::Spo2),
            weight_g: r.value(Measure::Weight),
            height_mm: r.value(Measure::Height),
            muac_mm: None,
            pain: None,
            pregnant: None,
            lmp: None,
            danger_signs: String::new(),
            triage_category: None,
            note: None,
            flags: r.flags_json(),
            worst: r.worst.code().into(),
            checked: String::new(),
            recorded_at: "2026-12-07T08:00:00.000Z".into(),
            recorded_by: None,
            error_at: None,
            error_reason: None,
        };
        assert_eq!(suggestions(&row).len(), 2);
        let normal = VitalsRow {
            spo2: Some(96),
            weight_g: Some(60_000),
            ..row
        };
        assert!(suggestions(&normal).is_empty());
    }

    #[test]
    fn an_empty_form_is_refused() {
        let adult = patient("male", (1980, 1, 1));
        assert!(check(&input(&[]), &adult, day()).is_err());
    }
}
