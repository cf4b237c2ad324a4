//! Dispensing labels (`/pharmacy/dispenses/:id/labels.pdf`), for a label printer (one 50 x 25 mm
//! label per medicine) or an A4 sheet, in the language chosen for the dispense (English or
//! Kiswahili): facility and phone, patient name and number, drug, strength, quantity,
//! directions, warnings, date, batch and expiry, dispenser. Directions are composed from the
//! structured prescription in the label's language; the prescriber's own note is added as typed.

use hms_core::i18n::t_in;
use hms_core::orders::{DrugDetails, Frequency, Route};
use hms_core::pdf::{Document, Letterhead, PageSize, Style};

/// The unit words a label translates (others print as typed).
const UNITS: &[&str] = &[
    "tablet",
    "capsule",
    "ml",
    "drop",
    "puff",
    "sachet",
    "suppository",
    "vial",
    "tube",
    "bottle",
];

fn unit_word(lang: &str, unit: &str, dose: &str) -> String {
    let u = unit.trim().to_lowercase();
    let u = u
        .strip_suffix('s')
        .filter(|s| UNITS.contains(s))
        .unwrap_or(&u)
        .to_string();
    if !UNITS.contains(&u.as_str()) {
        return unit.trim().to_string();
    }
    let one = dose.trim() == "1" || dose.trim() == "0.5";
    let key = if one {
        format!("pharmacy_dispense.unit_{u}")
    } else {
        format!("pharmacy_dispense.unit_{u}_many")
    };
    t_in(lang, &key)
}

fn verb_key(route: Route) -> &'static str {
    match route {
        Route::Oral => "pharmacy_dispense.verb_swallow",
        Route::Sublingual => "pharmacy_dispense.verb_under_tongue",
        Route::Topical => "pharmacy_dispense.verb_apply",
        Route::Inhaled => "pharmacy_dispense.verb_inhale",
        Route::Rectal | Route::Vaginal => "pharmacy_dispense.verb_insert",
        Route::Eye | Route::Ear | Route::Nasal => "pharmacy_dispense.verb_drops",
        Route::Intravenous | Route::Intramuscular | Route::Subcutaneous => {
            "pharmacy_dispense.verb_inject"
        }
    }
}

fn frequency_key(f: Frequency) -> &'static str {
    match f {
        Frequency::Od => "pharmacy_dispense.freq_od",
        Frequency::Bd => "pharmacy_dispense.freq_bd",
        Frequency::Tds => "pharmacy_dispense.freq_tds",
        Frequency::Qid => "pharmacy_dispense.freq_qid",
        Frequency::Q8h => "pharmacy_dispense.freq_q8h",
        Frequency::Prn => "pharmacy_dispense.freq_prn",
    }
}

/// The directions of a prescription line in `lang`: "Take 1 tablet three times a day for 5
/// days. After food" / "Meza kidonge 1 mara tatu kwa siku kwa siku 5. After food".
pub fn directions(lang: &str, d: &DrugDetails) -> String {
    let text = t_in(lang, "pharmacy_dispense.directions")
        .replace("{verb}", &t_in(lang, verb_key(d.route)))
        .replace("{dose}", d.dose.trim())
        .replace("{unit}", &unit_word(lang, &d.dose_unit, &d.dose))
        .replace(
            "{frequency}",
            &t_in(lang, frequency_key(d.frequency))
                .replace("{max}", &d.max_per_day.unwrap_or(1).to_string()),
        )
        .replace("{days}", &d.duration_days.to_string());
    let note = d.instructions.trim();
    if note.is_empty() {
        text
    } else {
        format!("{text} {note}")
    }
}

/// One medicine's label.
#[derive(Debug, Clone, Default)]
pub struct Label {
    pub drug: String,
    pub quantity: i64,
    pub unit: String,
    pub directions: String,
    pub antibiotic: bool,
    pub controlled: bool,
    /// "B123 (exp 03/2027)", several when taken from several batches.
    pub batches: String,
}

/// Who and when, printed on every label.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub lang: String,
    pub patient: String,
    pub number: String,
    pub date: String,
    pub dispenser: String,
}

fn warnings(lang: &str, l: &Label) -> String {
    let mut w = Vec::new();
    if l.antibiotic {
        w.push(t_in(lang, "pharmacy_dispense.warn_course"));
    }
    if l.controlled {
        w.push(t_in(lang, "pharmacy_dispense.warn_controlled"));
    }
    w.push(t_in(lang, "pharmacy_dispense.warn_children"));
    w.join(" ")
}

fn lines(head: &Letterhead, h: &Header, l: &Label) -> Vec<(Style, String)> {
    let lang = h.lang.as_str();
    let facility = [head.name.as_str(), head.phone.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    let patient = if h.number.is_empty() {
        h.patient.clone()
    } else {
        format!("{} · {}", h.patient, h.number)
    };
    vec![
        (Style::Bold, facility),
        (Style::Body, patient),
        (
            Style::Bold,
            format!("{} × {} {}", l.drug, l.quantity, l.unit),
        ),
        (Style::Body, l.directions.clone()),
        (Style::Small, warnings(lang, l)),
        (
            Style::Small,
            format!(
                "{} {} · {} {}",
                t_in(lang, "pharmacy_dispense.label_date"),
                h.date,
                t_in(lang, "pharmacy_dispense.label_batch"),
                l.batches
            ),
        ),
        (
            Style::Small,
            format!(
                "{}: {}",
                t_in(lang, "pharmacy_dispense.label_by"),
                h.dispenser
            ),
        ),
    ]
}

/// The labels of a dispense: one label per medicine on the label printer, or all on an A4
/// sheet under the letterhead.
pub fn pdf(size: PageSize, head: &Letterhead, h: &Header, labels: &[Label]) -> Vec<u8> {
    let title = t_in(&h.lang, "pharmacy_dispense.labels_title");
    let mut doc = Document::new(size, &title);
    if size == PageSize::A4 {
        doc.letterhead(head);
        doc.heading(&title);
    }
    for (i, l) in labels.iter().enumerate() {
        if size == PageSize::Label50x25 && i > 0 {
            doc.new_page();
        }
        for (style, text) in lines(head, h, l) {
            let style = if size == PageSize::Label50x25 && style == Style::Body {
                Style::Small
            } else {
                style
            };
            if !text.trim().is_empty() {
                doc.text(style, &text);
            }
        }
        if size != PageSize::Label50x25 {
            doc.space(2.0);
            doc.rule();
        }
    }
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amoxicillin() -> DrugDetails {
        DrugDetails {
            code: Some("amox500".into()),
            drug: "Amoxicillin 500 mg".into(),
            dose: "1".into(),
            dose_unit: "capsule".into(),
            route: Route::Oral,
            frequency: Frequency::Tds,
            max_per_day: None,
            duration_days: 5,
            quantity: 15,
            instructions: String::new(),
        }
    }

    #[test]
    fn directions_read_in_english_and_kiswahili() {
        hms_core::i18n::install(&[("pharmacy", crate::LOCALES)]).unwrap();
        assert_eq!(
            directions("en", &amoxicillin()),
            "Take 1 capsule three times a day for 5 days."
        );
        assert_eq!(
            directions("sw", &amoxicillin()),
            "Meza kapsuli 1 mara tatu kwa siku kwa siku 5."
        );
    }
}
