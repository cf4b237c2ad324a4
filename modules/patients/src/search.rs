//! Finding patients, for every screen that picks one (the patient list, merging, booking,
//! check-in): by patient number, phone in any written form, identifier number, or any part of
//! the names in any order. The caller records the search in the audit trail.

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::ids::PatientId;
use hms_core::phone;
use serde::Serialize;

use crate::model;
use crate::repo::{self, Found};

/// A patient as every picker lists them: the display rules of [`model`] applied (age instead
/// of the date, sex in words, the phone partly masked).
#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    pub id: PatientId,
    pub number: String,
    pub name: String,
    pub sex: String,
    pub age: String,
    pub phone: String,
    pub last_visit: String,
}

pub fn pick(f: Found) -> Pick {
    Pick {
        id: PatientId(f.id),
        age: model::age_of(&f.date_of_birth, f.dob_estimated, Day::today()),
        number: f.number,
        name: f.name,
        sex: model::sex_label(&f.sex),
        phone: f
            .phone
            .as_deref()
            .map(model::mask_phone)
            .unwrap_or_default(),
        last_visit: f
            .last_visit_on
            .as_deref()
            .and_then(Day::from_db_text)
            .map(Day::display)
            .unwrap_or_default(),
    }
}

/// One page of matches for `q` and the key of the next page (pass it back as `after`). Exact
/// matches (number, phone, identifier) come first, then name matches in index order. An empty
/// `q` gives the newest registrations.
pub async fn search(
    db: &Db,
    q: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<Found>, Option<String>), DbError> {
    let q: String = q.trim().chars().take(80).collect();
    if q.is_empty() {
        return Ok((repo::newest(db, limit).await?, None));
    }
    let after = after
        .rsplit_once(':')
        .and_then(|(tok, id)| Some((tok.to_string(), id.parse::<i64>().ok()?)));
    // Exact matches belong on the first page only, and need a digit: every patient number,
    // phone and identifier has one, and names never do (so a name costs no lookups here).
    let digits = q.chars().any(|c| c.is_ascii_digit());
    let mut found = if after.is_none() && digits {
        let compact: String = q
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let phone = phone::normalize_mobile(&q).ok();
        repo::exact(db, &compact, phone.as_deref(), &compact).await?
    } else {
        Vec::new()
    };
    // Names are letters: a typed number is not looked up among them, nor the single letters
    // of a number's prefix ("P" of P-25-000123) when digits were typed.
    let tokens: Vec<String> = model::query_tokens(&q)
        .into_iter()
        .filter(|t| t.chars().all(char::is_alphabetic) && (!digits || t.chars().count() > 1))
        .collect();
    if tokens.is_empty() {
        return Ok((found, None));
    }
    let after_ref = after
        .as_ref()
        .map(|(t, i)| (t.as_str(), *i))
        .unwrap_or(("", 0));
    let (by_name, more) = repo::by_names(db, &tokens, after_ref, limit).await?;
    for f in by_name {
        if !found.iter().any(|e| e.id == f.id) {
            found.push(f);
        }
    }
    Ok((found, more.map(|(tok, id)| format!("{tok}:{id}"))))
}

/// The patient's summary row by id, following a merge to the surviving record.
pub async fn summary(db: &Db, id: PatientId) -> Result<Option<Pick>, DbError> {
    Ok(repo::summary(db, id.get()).await?.map(pick))
}
