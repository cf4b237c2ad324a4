//! The daily MOH 204A (under 5 years) and 204B (5 years and over) outpatient registers: one
//! row per consultation signed for a visit of the day that has a standing diagnosis, with the
//! columns of the printed registers (`../shared/reference/kenya/moh204.md`). The CSV has every
//! column under its printed heading; the PDF, on A4, groups neighbouring columns into one cell
//! each (the printed letters say which value is which).

use std::collections::{HashMap, HashSet};

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::pdf::{Column, Document, Letterhead, PageSize, Style};
use serde::Serialize;

use crate::model::Age;
use crate::repo::documents::{self as repo, RegisterRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Under 5 years on the visit day.
    A,
    /// 5 years and over.
    B,
}

impl Form {
    pub fn code(self) -> &'static str {
        match self {
            Form::A => "204A",
            Form::B => "204B",
        }
    }
}

/// (printed letter, key, heading as printed) of each column of MOH 204A.
const COLUMNS_A: &[(&str, &str, &str)] = &[
    ("A", "date", "Date (DD/MM/YYYY)"),
    ("B", "opd_new", "OPD No. (New)"),
    ("C", "opd_revisit", "OPD No. (Revisit)"),
    ("D", "referred_from", "Referred From 1=CU, 2=From other facility, 3= Within 4=N/A"),
    ("E", "name", "Name"),
    ("F", "age", "Age"),
    ("G", "sex", "Sex"),
    ("H", "county", "County"),
    ("I", "sub_county", "Sub-county"),
    ("J", "village", "Village / Estate / Landmark"),
    ("K", "phone", "Parent/Caregiver's Telephone No."),
    ("L", "weight", "Weight (kg)"),
    ("M", "height", "Height /Length (cm)"),
    ("N", "muac", "MUAC 1.Green 2.Yellow 3.Red"),
    ("O", "temperature", "Temp (oC)"),
    ("P", "resp_rate", "Respiratory Rate"),
    ("Q", "spo2", "Oxygen Saturation Reading (SPO2)"),
    ("R", "pulse", "Pulse Rate"),
    ("S", "danger_signs", "DANGER SIGNS 1.Unable to drink or breastfeed 2.Vomits everything 3.Had convulsions in this illness 4.Is lethargic or unconscious 5. Is convulsing now"),
    ("T", "duration", "Duration of Current Illness (in hours/ days)"),
    ("U", "malaria", "Malaria 1.Presenting with symptoms NOT Tested 2. RDT Tested (-ve) 3. Microscopy Tested (-ve) 4. RDT Tested (+ve) 5. Microscopy Tested (+ve )"),
    ("V", "diagnosis", "IMNCI Classification or Diagnosis"),
    ("W", "tracer_drugs", "TRACER DRUGS PRESCRIBED 1.ORS & Zinc (Co-pack) 2.Zinc Only 3.ORS Only 4. Amoxicillin DT 5.Vitamin A 6.Oxygen 7. Albendazole 8.IV Fluids"),
    ("X", "other_treatments", "Other ALL Treatments Prescribed 1. CPAP 2. Other"),
    ("Y", "immunization", "Immunization Status Up to Date (Y/N)"),
    ("Z", "tb_screening", "TB Screening 1. presumed TB 2. Referred"),
    ("AA", "nutrition", "Nutrition and diatetics Interventions 1=Nutrition couselling 2=Nutrition therapeutic supplements 3 =. Diatetics"),
    ("AB", "referred_to", "Referred to (1==CU,2= to other H/F, 3= within the facility/ 4=N/A)"),
    ("AC", "outcome", "REMARKS/ Outcome"),
];

/// MOH 204B; the letters are those the register prints (from column S on, 204A's letters).
const COLUMNS_B: &[(&str, &str, &str)] = &[
    ("A", "date", "Date (DD/MM/YYYY)"),
    ("B", "opd_new", "OPD No. (New)"),
    ("C", "opd_revisit", "OPD No. (Revisit)"),
    ("D", "referred_from", "Referred From 1=CU, 2=From other facility, 3= Within 4=N/A"),
    ("E", "name", "Name"),
    ("F", "age", "Age"),
    ("G", "sex", "Sex"),
    ("H", "county", "County"),
    ("I", "sub_county", "Sub-county"),
    ("J", "village", "Village / Estate / Landmark"),
    ("K", "phone", "Patient/ Parent/Caregiver's Telephone No."),
    ("L", "weight", "Weight (kg)"),
    ("M", "height", "Height /Length (cm)"),
    ("N", "bmi", "BMI (Kg/m2)"),
    ("O", "temperature", "Temp (oC)"),
    ("P", "bp", "BP"),
    ("Q", "visual_acuity", "Visual Acuity \"RE (Right Eye) 'LE (Left Eye)"),
    ("R", "tb_screening", "TB Screening 1. presumed TB 2. Referred"),
    ("U", "malaria", "Malaria 1.Presenting with symptoms NOT Tested 2. RDT Tested (-ve) 3. Microscopy Tested (-ve) 4. RDT Tested (+ve) 5. Microscopy Tested (+ve )"),
    ("V", "diagnosis", "Diagnosis"),
    ("X", "treatments", "Treatments Prescribed"),
    ("AB", "referred_to", "Referred to (1==CU,2= to other H/F, 3= within the facility/ 4=N/A)"),
    ("AC", "outcome", "REMARKS/ Outcome"),
];

fn columns(form: Form) -> &'static [(&'static str, &'static str, &'static str)] {
    match form {
        Form::A => COLUMNS_A,
        Form::B => COLUMNS_B,
    }
}

/// A column as the screen heads it: the printed letter and the heading in the reader's language.
#[derive(Debug, Serialize)]
pub struct Heading {
    pub letter: &'static str,
    pub title: String,
}

pub fn headings(form: Form) -> Vec<Heading> {
    columns(form)
        .iter()
        .map(|(letter, key, _)| Heading {
            letter,
            title: t(&format!("consultations_documents.register.col_{key}")),
        })
        .collect()
}

/// One row: the cells in the order of the form's columns.
#[derive(Debug, Serialize)]
pub struct Row {
    pub cells: Vec<String>,
}

pub struct Register {
    pub rows: Vec<Row>,
}

/// The tracer drugs of 204A column W, by words of the drug's name (all must appear).
const TRACERS: &[(&str, &[&str])] = &[
    ("1", &["ors", "zinc"]),
    ("2", &["zinc"]),
    ("3", &["ors"]),
    ("3", &["oral rehydration"]),
    ("4", &["amoxicillin", "dt"]),
    ("5", &["vitamin a"]),
    ("6", &["oxygen"]),
    ("7", &["albendazole"]),
    ("8", &["ringer"]),
    ("8", &["normal saline"]),
    ("8", &["iv fluid"]),
];

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The tracer code of a drug line, if it is one.
fn tracer(line: &str) -> Option<&'static str> {
    let name = line.split(':').next().unwrap_or(line);
    let w = words(name);
    let joined = w.join(" ");
    TRACERS
        .iter()
        .find(|(_, all)| {
            all.iter().all(|needle| {
                if needle.contains(' ') {
                    joined.contains(needle)
                } else {
                    w.iter().any(|x| x == needle)
                }
            })
        })
        .map(|(code, _)| *code)
}

/// ICD-10 B50-B54: malaria.
fn is_malaria(icd10: &str) -> bool {
    let code = icd10.trim().to_ascii_uppercase();
    ["B50", "B51", "B52", "B53", "B54"]
        .iter()
        .any(|c| code.starts_with(c))
}

/// A lab test for malaria (RDT, blood slide, microscopy), by its name.
fn is_malaria_test(line: &str) -> bool {
    let w = words(line);
    w.iter()
        .any(|x| matches!(x.as_str(), "malaria" | "rdt" | "mrdt" | "bs" | "mps"))
}

fn one_decimal(value: Option<i64>, per: i64) -> String {
    value
        .map(|v| format!("{:.1}", v as f64 / per as f64))
        .unwrap_or_default()
}

fn whole(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// MUAC as 204A prints it: a colour word (bands < 11.5, 11.5-12.4, >= 12.5 cm).
fn muac_word(mm: Option<i64>) -> String {
    match mm {
        Some(m) if m >= 125 => "GREEN".into(),
        Some(m) if m >= 115 => "YELLOW".into(),
        Some(_) => "RED".into(),
        None => String::new(),
    }
}

fn bmi(weight_g: Option<i64>, height_mm: Option<i64>) -> String {
    match (weight_g, height_mm) {
        (Some(w), Some(h)) if h > 0 => {
            let m = h as f64 / 1000.0;
            format!("{:.1}", w as f64 / 1000.0 / (m * m))
        }
        _ => String::new(),
    }
}

fn age_text(age: Option<Age>) -> String {
    match age {
        Some(a) if a.years >= 1 => format!("{} y", a.years),
        Some(a) if a.months >= 1 => format!("{} m", a.months),
        Some(a) => format!("{} d", a.days),
        None => String::new(),
    }
}

fn name_of(r: &RegisterRow) -> String {
    let given = match r.middle_name.as_deref().map(str::trim) {
        Some(m) if !m.is_empty() => format!("{} {m}", r.first_name),
        _ => r.first_name.clone(),
    };
    format!("{}, {given}", r.last_name)
}

fn referred_to(r: &RegisterRow) -> String {
    if r.outcome.as_deref() != Some("referral") {
        return String::new();
    }
    let detail: serde_json::Value = serde_json::from_str(&r.outcome_detail).unwrap_or_default();
    let cu = detail
        .get("community_unit")
        .and_then(|v| v.as_str())
        .is_some_and(|s| !s.trim().is_empty());
    if cu { "1" } else { "2" }.to_string()
}

/// The register of `day` on `form`: five reads for the whole day, whatever its size.
pub async fn build(db: &Db, day: Day, form: Form) -> Result<Register, DbError> {
    let text = day.text();
    let rows = repo::register_rows(db, &text).await?;
    let diagnoses = repo::register_diagnoses(db, &text).await?;
    let vitals = repo::register_vitals(db, &text).await?;
    let drugs = repo::register_orders(db, &text, hms_core::orders::DRUG).await?;
    let tests = repo::register_orders(db, &text, hms_core::orders::LAB).await?;
    let mut dx_of: HashMap<i64, Vec<&str>> = HashMap::new();
    let mut malaria_dx: HashSet<i64> = HashSet::new();
    for (e, d) in &diagnoses {
        dx_of.entry(*e).or_default().push(d.display.as_str());
        if d.icd10.as_deref().is_some_and(is_malaria) {
            malaria_dx.insert(*e);
        }
    }
    let tested: HashSet<i64> = tests
        .iter()
        .filter(|(_, line)| is_malaria_test(line))
        .map(|(visit, _)| *visit)
        .collect();
    // The last set of each visit (sets come in the order they were taken).
    let vitals_of: HashMap<i64, &repo::Vitals> = vitals.iter().map(|v| (v.0, v)).collect();
    let mut drugs_of: HashMap<i64, Vec<&str>> = HashMap::new();
    for (visit, line) in &drugs {
        drugs_of.entry(*visit).or_default().push(line.as_str());
    }
    let mut out = Vec::new();
    for r in &rows {
        let Some(dx) = dx_of.get(&r.encounter_id) else {
            continue;
        };
        let age = Day::from_db_text(&r.date_of_birth).and_then(|born| Age::on(born, day));
        let under_five = age.is_some_and(Age::under_five);
        if under_five != (form == Form::A) {
            continue;
        }
        let v = vitals_of.get(&r.visit_id).copied();
        let lines: &[&str] = drugs_of.get(&r.visit_id).map_or(&[], Vec::as_slice);
        let mut cells = Vec::new();
        for (_, key, _) in columns(form) {
            let cell = match *key {
                "date" => day.form(),
                "opd_new" if !r.revisit => r.patient_number.clone(),
                "opd_revisit" if r.revisit => r.patient_number.clone(),
                "name" => name_of(r),
                "age" => age_text(age),
                "sex" => match r.sex.as_str() {
                    "female" => "F".into(),
                    "male" => "M".into(),
                    other => other.to_string(),
                },
                "county" => r.county_code.clone().unwrap_or_default(),
                "sub_county" => r.sub_county.clone().unwrap_or_default(),
                "village" => r.ward.clone().unwrap_or_default(),
                "phone" => r.phone.clone().unwrap_or_default(),
                "weight" => one_decimal(v.and_then(|v| v.1), 1000),
                "height" => one_decimal(v.and_then(|v| v.2), 10),
                "muac" => muac_word(v.and_then(|v| v.3)),
                "bmi" => bmi(v.and_then(|v| v.1), v.and_then(|v| v.2)),
                "temperature" => one_decimal(v.and_then(|v| v.4), 10),
                "resp_rate" => whole(v.and_then(|v| v.5)),
                "spo2" => whole(v.and_then(|v| v.6)),
                "pulse" => whole(v.and_then(|v| v.7)),
                "bp" => match v.map(|v| (v.8, v.9)) {
                    Some((Some(s), Some(d))) => format!("{s}/{d}"),
                    _ => String::new(),
                },
                "danger_signs" => v.map(|v| v.10.clone()).unwrap_or_default(),
                "duration" => r.complaint_duration.clone(),
                // Code 1, presenting with symptoms and not tested; the test codes (2-5) need
                // the laboratory's results and are left empty.
                "malaria"
                    if malaria_dx.contains(&r.encounter_id) && !tested.contains(&r.visit_id) =>
                {
                    "1".into()
                }
                "diagnosis" => dx.join("; "),
                "tracer_drugs" => {
                    let mut codes: Vec<&str> = lines.iter().filter_map(|l| tracer(l)).collect();
                    codes.dedup();
                    codes.join("|")
                }
                "other_treatments" => lines
                    .iter()
                    .filter(|l| tracer(l).is_none())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("; "),
                "treatments" => lines.join("; "),
                "referred_to" => referred_to(r),
                "outcome" => if r.outcome.as_deref() == Some("died") {
                    "Died"
                } else {
                    "Alive"
                }
                .to_string(),
                _ => String::new(),
            };
            cells.push(cell);
        }
        out.push(Row { cells });
    }
    Ok(Register { rows: out })
}

/// The register as CSV: the printed headings, then a line per row.
pub fn csv(form: Form, reg: &Register) -> String {
    use hms_core::ui::csv_cell;
    let mut out = columns(form)
        .iter()
        .map(|(letter, _, heading)| csv_cell(&format!("{letter}: {heading}")))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    for row in &reg.rows {
        out.push_str(
            &row.cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

/// Neighbouring columns printed in one cell of the PDF: (first letter, last letter, weight).
fn groups(form: Form) -> &'static [(&'static str, &'static str, f32)] {
    match form {
        Form::A => &[
            ("B", "D", 1.4),
            ("E", "G", 1.6),
            ("H", "K", 1.4),
            ("L", "R", 1.5),
            ("S", "U", 1.1),
            ("V", "V", 1.6),
            ("W", "X", 1.4),
            ("Y", "AA", 0.8),
            ("AB", "AC", 1.0),
        ],
        Form::B => &[
            ("B", "D", 1.4),
            ("E", "G", 1.6),
            ("H", "K", 1.4),
            ("L", "Q", 1.4),
            ("R", "U", 0.9),
            ("V", "V", 1.5),
            ("X", "X", 1.5),
            ("AB", "AC", 1.0),
        ],
    }
}

/// The short label a value carries in a grouped cell of the PDF ("" for none: names, places
/// and treatments read as what they are).
fn short(key: &str) -> &'static str {
    match key {
        "opd_new" => "New",
        "opd_revisit" => "Rev",
        "referred_from" => "From",
        "weight" => "Wt",
        "height" => "Ht",
        "muac" => "MUAC",
        "bmi" => "BMI",
        "temperature" => "T",
        "resp_rate" => "RR",
        "spo2" => "SpO2",
        "pulse" => "P",
        "bp" => "BP",
        "visual_acuity" => "VA",
        "danger_signs" => "DS",
        "duration" => "Dur",
        "malaria" => "Mal",
        "tracer_drugs" => "Tracer",
        "immunization" => "Imm",
        "tb_screening" => "TB",
        "nutrition" => "Nut",
        "referred_to" => "Ref",
        _ => "",
    }
}

/// The register on A4 (the day is in the heading, so column A is not repeated on each row): letterhead, the form's title and day, and the rows.
pub fn pdf(head: &Letterhead, day: Day, form: Form, reg: &Register) -> Vec<u8> {
    let title = t(&format!(
        "consultations_documents.register.title_{}",
        form.code().to_ascii_lowercase()
    ));
    let mut doc = Document::new(PageSize::A4, &format!("{title} {}", day.text()))
        .page_numbers(&t("pdf.page_of"));
    doc.letterhead(head);
    doc.text(Style::Title, &title);
    doc.fields(&[(&t("consultations_documents.register.day"), &day.display())]);
    doc.space(1.0);
    let cols = columns(form);
    let heads = headings(form);
    let at = |letter: &str| cols.iter().position(|(l, _, _)| *l == letter).unwrap_or(0);
    let spans: Vec<(usize, usize, f32)> = groups(form)
        .iter()
        .map(|(a, b, w)| (at(a), at(b), *w))
        .collect();
    let table_cols: Vec<Column> = spans
        .iter()
        .map(|(a, b, w)| {
            let letters = if a == b {
                heads[*a].letter.to_string()
            } else {
                format!("{}-{}", heads[*a].letter, heads[*b].letter)
            };
            let titles = (*a..=*b)
                .map(|i| heads[i].title.as_str())
                .collect::<Vec<_>>()
                .join(" · ");
            Column::new(&format!("{letters} {titles}"), *w)
        })
        .collect();
    let rows: Vec<Vec<String>> = reg
        .rows
        .iter()
        .map(|row| {
            spans
                .iter()
                .map(|(a, b, _)| {
                    (*a..=*b)
                        .filter(|i| !row.cells[*i].is_empty())
                        .map(|i| match short(cols[i].1) {
                            "" => row.cells[i].clone(),
                            label => format!("{label} {}", row.cells[i]),
                        })
                        .collect::<Vec<_>>()
                        .join(" · ")
                })
                .collect()
        })
        .collect();
    if rows.is_empty() {
        doc.paragraph(&t("consultations_documents.register.empty"));
    } else {
        doc.table(&table_cols, &rows);
    }
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registers_have_the_printed_columns() {
        assert_eq!(COLUMNS_A.len(), 29);
        assert_eq!(COLUMNS_B.len(), 23);
        assert_eq!(COLUMNS_A.last().unwrap().0, "AC");
        assert_eq!(COLUMNS_B[18].0, "U");
    }

    #[test]
    fn tracer_drugs_are_found_by_name() {
        assert_eq!(
            tracer("ORS/Zinc co-pack: 1 sachet OD x 5 days (1)"),
            Some("1")
        );
        assert_eq!(
            tracer("Zinc sulphate 20 mg: 1 tablet OD x 10 days (10)"),
            Some("2")
        );
        assert_eq!(
            tracer("Amoxicillin DT 250 mg: 1 tablet BD x 5 days (10)"),
            Some("4")
        );
        assert_eq!(
            tracer("Albendazole 400 mg: 1 tablet OD x 1 days (1)"),
            Some("7")
        );
        assert_eq!(
            tracer("Paracetamol 500 mg: 2 tablet TDS x 3 days (18)"),
            None
        );
        assert_eq!(tracer("Amoxicillin 500 mg capsules"), None);
    }

    #[test]
    fn malaria_is_found_by_icd10_and_its_tests_by_name() {
        assert!(is_malaria("B54") && is_malaria("b50.9") && !is_malaria("A09"));
        assert!(is_malaria_test("Malaria RDT") && is_malaria_test("BS for MPS"));
        assert!(!is_malaria_test("Full blood count"));
    }

    #[test]
    fn muac_prints_the_colour_band() {
        assert_eq!(muac_word(Some(114)), "RED");
        assert_eq!(muac_word(Some(115)), "YELLOW");
        assert_eq!(muac_word(Some(124)), "YELLOW");
        assert_eq!(muac_word(Some(125)), "GREEN");
        assert_eq!(bmi(Some(70_000), Some(1750)), "22.9");
    }
}
