//! Each row's outcome: created, the same as a patient already stored, a possible duplicate, or
//! refused, and the summary of a file.

use super::*;

// ---------------------------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------------------------

/// An existing patient a row is the same as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Existing {
    pub id: i64,
    pub number: String,
}

/// Why a row is taken for a patient already registered (or an earlier row of the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The same values (or old file number) as an earlier row of the file.
    SameRow,
    /// The same identity document, SHA number, NUPI or old file number.
    Identifier,
    Phone,
    /// The same sex and date of birth, and a name in common.
    Likely,
}

/// What happens (or happened) to a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Preview: the patient will be registered.
    Create,
    Created {
        patient: Existing,
    },
    /// Skipped: certainly a patient already there.
    Duplicate {
        why: Why,
        patient: Option<Existing>,
        row: Option<u64>,
    },
    /// Skipped unless asked for: probably a patient already there (a shared phone, twins...).
    Possible {
        why: Why,
        patient: Option<Existing>,
        row: Option<u64>,
    },
    /// This row was imported before (from this file or another).
    Already,
    Invalid {
        errors: Vec<CellError>,
    },
}

/// A row of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub line: u64,
    pub name: String,
    pub outcome: Outcome,
}

/// What the database knows about a valid row.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// The row key was imported before.
    pub already: bool,
    /// A patient holding one of the row's identifiers.
    pub holder: Option<Existing>,
    /// A patient with the same phone.
    pub phone: Option<Existing>,
    /// A patient with the same sex and date of birth and a name in common.
    pub likely: Option<Existing>,
}

/// A row's line and the search tokens of its names.
type Named = (u64, Vec<String>);

/// Rows of the file that will be (or were) registered, to find a later row that repeats one.
#[derive(Debug, Default)]
pub struct Seen {
    keys: HashMap<String, u64>,
    identifiers: HashMap<(String, String), u64>,
    phones: HashMap<String, u64>,
    /// By (date of birth, sex): each row's line and name tokens.
    people: HashMap<(String, &'static str), Vec<Named>>,
}

impl Seen {
    /// Notes a row that is registered.
    pub fn add(&mut self, line: u64, key: &str, valid: &Valid) {
        self.keys.entry(key.to_string()).or_insert(line);
        for id in &valid.identifiers {
            self.identifiers.entry(id.clone()).or_insert(line);
        }
        let d = &valid.details;
        if let Some(phone) = &d.phone {
            self.phones.entry(phone.clone()).or_insert(line);
        }
        self.people
            .entry((d.date_of_birth.clone(), d.sex))
            .or_default()
            .push((line, d.tokens()));
    }

    fn same_row(&self, key: &str) -> Option<u64> {
        self.keys.get(key).copied()
    }

    fn same_identifier(&self, valid: &Valid) -> Option<u64> {
        valid
            .identifiers
            .iter()
            .find_map(|id| self.identifiers.get(id).copied())
    }

    fn same_phone(&self, valid: &Valid) -> Option<u64> {
        valid
            .details
            .phone
            .as_ref()
            .and_then(|p| self.phones.get(p).copied())
    }

    fn likely(&self, valid: &Valid) -> Option<u64> {
        let d = &valid.details;
        let tokens = d.tokens();
        self.people
            .get(&(d.date_of_birth.clone(), d.sex))?
            .iter()
            .find(|(_, theirs)| theirs.iter().any(|t| tokens.contains(t)))
            .map(|(line, _)| *line)
    }
}

/// The outcome of a valid row: imported before; the same as an earlier row of the file or a
/// registered patient by identifier (always skipped); or only likely the same (a shared phone,
/// the same birth date and a name), skipped unless `include_possible`. `Create` otherwise.
pub fn decide(
    key: &str,
    valid: &Valid,
    lookup: &Lookup,
    seen: &Seen,
    include_possible: bool,
) -> Outcome {
    let duplicate = |why, patient: Option<&Existing>, row| Outcome::Duplicate {
        why,
        patient: patient.cloned(),
        row,
    };
    let possible = |why, patient: Option<&Existing>, row| Outcome::Possible {
        why,
        patient: patient.cloned(),
        row,
    };
    if lookup.already {
        return Outcome::Already;
    }
    if let Some(row) = seen.same_row(key) {
        return duplicate(Why::SameRow, None, Some(row));
    }
    if let Some(p) = &lookup.holder {
        return duplicate(Why::Identifier, Some(p), None);
    }
    if let Some(row) = seen.same_identifier(valid) {
        return duplicate(Why::Identifier, None, Some(row));
    }
    if include_possible {
        return Outcome::Create;
    }
    if let Some(p) = &lookup.phone {
        return possible(Why::Phone, Some(p), None);
    }
    if let Some(row) = seen.same_phone(valid) {
        return possible(Why::Phone, None, Some(row));
    }
    if let Some(p) = &lookup.likely {
        return possible(Why::Likely, Some(p), None);
    }
    if let Some(row) = seen.likely(valid) {
        return possible(Why::Likely, None, Some(row));
    }
    Outcome::Create
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub rows: u64,
    pub create: u64,
    pub created: u64,
    pub duplicate: u64,
    pub possible: u64,
    pub already: u64,
    pub invalid: u64,
}

pub fn summarise(rows: &[ReportRow]) -> Summary {
    let mut s = Summary {
        rows: rows.len() as u64,
        ..Summary::default()
    };
    for r in rows {
        match r.outcome {
            Outcome::Create => s.create += 1,
            Outcome::Created { .. } => s.created += 1,
            Outcome::Duplicate { .. } => s.duplicate += 1,
            Outcome::Possible { .. } => s.possible += 1,
            Outcome::Already => s.already += 1,
            Outcome::Invalid { .. } => s.invalid += 1,
        }
    }
    s
}
