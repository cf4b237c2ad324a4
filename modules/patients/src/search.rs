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
/// of the date, sex in words, the phone partly masked) and where they live, so that two people
/// of the same name, sex and age still differ on screen.
#[derive(Debug, Clone, Serialize)]
pub struct Pick {
    pub id: PatientId,
    pub number: String,
    pub name: String,
    pub sex: String,
    pub age: String,
    pub phone: String,
    /// Ward or sub-county, then county ("Githunguri, Kiambu"); empty when not given.
    pub place: String,
    pub last_visit: String,
}

pub fn pick(f: Found) -> Pick {
    let county = f.county_code.as_deref().and_then(model::county);
    let local = [f.ward.as_deref(), f.sub_county.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty());
    let place = [local, county.map(|c| c.name)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
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
        place,
        last_visit: f
            .last_visit_on
            .as_deref()
            .and_then(Day::from_db_text)
            .map(Day::display)
            .unwrap_or_default(),
    }
}

/// Matches are counted up to this many; beyond, "more than 100" (type more to narrow them).
/// Counting reads at most three index entries per patient counted: with 200,000 demo patients
/// a three-letter name costs about 0.5 ms at the median (5 ms at p95 on a busy machine), twice
/// that with a cap of 200.
pub const COUNT_CAP: i64 = 100;

/// How many patients a search found: `n`, or at least `n` when `more`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Count {
    pub n: i64,
    pub more: bool,
}

/// One page of a search: the patients, closest first, the key of the next page and how many
/// match in all (`None` when nothing was typed).
#[derive(Debug, Clone)]
pub struct Matches {
    pub found: Vec<Found>,
    pub next: Option<String>,
    pub count: Option<Count>,
}

/// The E.164 range of a partly typed mobile number ("0748300", "748 300", "+254 748 300"):
/// (the prefix, the first number past it). `None` when the text is not digits of a phone, is a
/// whole number (found exactly), or has fewer than four digits after the country code (they
/// would match a large share of all phones).
pub fn phone_range(q: &str) -> Option<(String, String)> {
    let compact: String = q
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let national = if let Some(rest) = digits.strip_prefix("254") {
        rest
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest
    } else if compact.starts_with('+') || !digits.starts_with('7') {
        // Without 0 or the country code only 7xx reads as a phone (1xx could be a document).
        return None;
    } else {
        digits
    };
    // Kenyan mobiles are 7xx or 1xx and nine digits long.
    if national.len() < 4 || national.len() >= 9 || !matches!(national.as_bytes()[0], b'7' | b'1') {
        return None;
    }
    let prefix = format!("+254{national}");
    // The next number of the same length: 748300 -> 748301, 748399 -> 7484.
    let mut upper = national.as_bytes().to_vec();
    while upper.last() == Some(&b'9') {
        upper.pop();
    }
    let last = upper.last_mut()?;
    *last += 1;
    Some((prefix, format!("+254{}", String::from_utf8(upper).ok()?)))
}

/// How close a name match is: 0 when every typed word is a whole name of the patient ("john
/// kamau" for John Kamau), 1 when some word only starts a name ("john kam").
fn closeness(f: &Found, words: &[String]) -> u8 {
    let names = model::name_tokens(&[f.name.as_str()]);
    u8::from(!words.iter().all(|w| names.contains(w)))
}

/// One page of matches for `q` and the key of the next page (pass it back as `after`), closest
/// first: an exact patient number, phone or identifier, then phones that start with the typed
/// digits, then names, those where every typed word is a whole name before those where a word
/// only starts one. An empty `q` gives the newest registrations.
pub async fn search(db: &Db, q: &str, after: &str, limit: i64) -> Result<Matches, DbError> {
    let q: String = q.trim().chars().take(80).collect();
    if q.is_empty() {
        return Ok(Matches {
            found: repo::newest(db, limit).await?,
            next: None,
            count: None,
        });
    }
    let after = after
        .rsplit_once(':')
        .and_then(|(tok, id)| Some((tok.to_string(), id.parse::<i64>().ok()?)));
    let first_page = after.is_none();
    // Exact matches belong on the first page only, and need a digit: every patient number,
    // phone and identifier has one, and names never do (so a name costs no lookups here).
    let digits = q.chars().any(|c| c.is_ascii_digit());
    let mut found = Vec::new();
    let mut counted = Count { n: 0, more: false };
    if first_page && digits {
        let compact: String = q
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        let phone = phone::normalize_mobile(&q).ok();
        found = repo::exact(db, &compact, phone.as_deref(), &compact).await?;
        if let Some((prefix, upper)) = phone_range(&q) {
            let (n, more) = repo::count_phone_prefix(db, &prefix, &upper, COUNT_CAP).await?;
            counted = Count { n, more };
            for f in repo::phone_prefix(db, &prefix, &upper, limit).await? {
                if !found.iter().any(|e| e.id == f.id) {
                    found.push(f);
                }
            }
        }
    }
    // Names are letters: a typed number is not looked up among them, nor the single letters
    // of a number's prefix ("P" of P-25-000123) when digits were typed.
    let tokens: Vec<String> = model::query_tokens(&q)
        .into_iter()
        .filter(|t| t.chars().all(char::is_alphabetic) && (!digits || t.chars().count() > 1))
        .collect();
    if tokens.is_empty() {
        let n = (found.len() as i64).max(counted.n);
        return Ok(Matches {
            found,
            next: None,
            count: Some(Count {
                n,
                more: counted.more,
            }),
        });
    }
    let after_ref = after
        .as_ref()
        .map(|(t, i)| (t.as_str(), *i))
        .unwrap_or(("", 0));
    let (mut by_name, more) = repo::by_names(db, &tokens, after_ref, limit).await?;
    by_name.retain(|f| !found.iter().any(|e| e.id == f.id));
    // Stable: within each closeness, index order (whole first names before longer ones).
    by_name.sort_by_key(|f| closeness(f, &tokens));
    let extra = found.len() as i64;
    found.extend(by_name);
    let count = if !first_page {
        None
    } else if more.is_none() {
        Some(Count {
            n: found.len() as i64,
            more: false,
        })
    } else {
        let (n, capped) = repo::count_names(db, &tokens, COUNT_CAP).await?;
        Some(Count {
            n: n + extra,
            more: capped,
        })
    };
    Ok(Matches {
        found,
        next: more.map(|(tok, id)| format!("{tok}:{id}")),
        count,
    })
}

/// The patient's summary row by id, following a merge to the surviving record.
pub async fn summary(db: &Db, id: PatientId) -> Result<Option<Pick>, DbError> {
    Ok(repo::summary(db, id.get()).await?.map(pick))
}

#[cfg(test)]
mod tests {
    use super::phone_range;

    fn range(q: &str) -> Option<(String, String)> {
        phone_range(q)
    }

    #[test]
    fn part_of_a_phone_is_a_range_of_numbers() {
        let r = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(range("0748300"), r("+254748300", "+254748301"));
        assert_eq!(range("0748 399"), r("+254748399", "+2547484"));
        assert_eq!(range("748300"), r("+254748300", "+254748301"));
        assert_eq!(range("+254 7483"), r("+2547483", "+2547484"));
        assert_eq!(
            range("254110"),
            None,
            "three digits after the country code are too few"
        );
        assert_eq!(range("0799"), None);
        assert_eq!(range("0712345678"), None, "a whole number is found exactly");
        assert_eq!(range("P-25-00010"), None);
        assert_eq!(range("12345"), None, "not a mobile number");
    }
}
