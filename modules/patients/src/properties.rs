//! Property tests of the patient rules staff rely on without seeing them: search tokens and the
//! age shown on every list.

use chrono::{Duration, NaiveDate};
use hms_core::props::{check, ensure, string_from, RngExt, StdRng};

use crate::model::{age_text, name_tokens, query_tokens};

const LETTERS: &[char] = &[
    'a', 'b', 'k', 'W', 'ũ', 'ĩ', 'é', 'Ñ', 'ß', 'o', ' ', '-', '\'', '.', '’', ',', '0', 'Z',
];

fn names(r: &mut StdRng) -> Vec<String> {
    (0..r.random_range(1..4))
        .map(|_| {
            let len = r.random_range(0..14);
            string_from(r, LETTERS, len)
        })
        .collect()
}

#[test]
fn name_tokens_are_lower_case_words_without_duplicates_whatever_the_case_or_separators() {
    check("name tokens", 5_000, names, |names| {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let tokens = name_tokens(&refs);
        for t in &tokens {
            ensure(
                !t.is_empty() && t.chars().all(char::is_alphanumeric),
                || format!("{t:?} is not one word"),
            )?;
            ensure(t.to_lowercase() == *t, || {
                format!("{t:?} is not lower case")
            })?;
        }
        let mut unique = tokens.clone();
        unique.sort();
        unique.dedup();
        ensure(unique.len() == tokens.len(), || {
            format!("duplicates in {tokens:?}")
        })?;
        // Shouting the names, or joining their words with other separators, finds the same words.
        let loud: Vec<String> = names
            .iter()
            .map(|n| n.to_uppercase().replace(' ', "-").replace('.', " "))
            .collect();
        let loud_refs: Vec<&str> = loud.iter().map(String::as_str).collect();
        ensure(name_tokens(&loud_refs) == tokens, || {
            format!(
                "{loud:?} gives {:?}, not {tokens:?}",
                name_tokens(&loud_refs)
            )
        })
    });
}

#[test]
fn a_typed_query_finds_the_name_it_was_typed_from() {
    check("query tokens", 5_000, names, |names| {
        let joined = names.join(" ");
        let query = query_tokens(&joined);
        let tokens = name_tokens(&[joined.as_str()]);
        ensure(query.len() <= 5, || format!("{} query words", query.len()))?;
        ensure(query.iter().zip(&tokens).all(|(q, t)| q == t), || {
            format!("{query:?} is not a prefix of {tokens:?}")
        })
    });
}

#[test]
fn the_age_shown_grows_with_time_in_the_unit_clinicians_use() {
    check(
        "age text",
        5_000,
        |r| {
            let dob = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()
                + Duration::days(r.random_range(0..46_000));
            let today = dob + Duration::days(r.random_range(0..40_000));
            (dob, today, r.random_bool(0.3))
        },
        |&(dob, today, estimated)| {
            let text = age_text(dob, estimated, today);
            let (prefix, rest) = match text.strip_prefix('~') {
                Some(rest) => (true, rest),
                None => (false, text.as_str()),
            };
            ensure(prefix == estimated, || {
                format!("{text:?}: '~' means estimated")
            })?;
            let (n, unit) = rest.split_once(' ').ok_or("no unit")?;
            let n: i64 = n.parse().map_err(|_| format!("{text:?}: not a number"))?;
            let days = (today - dob).num_days();
            let right_unit = match unit {
                "d" => n == days && days < 31,
                "m" => (1..24).contains(&n) && (28..731).contains(&days),
                "y" => n >= 2 && (n * 365..=(n + 1) * 366).contains(&days),
                _ => false,
            };
            ensure(right_unit, || format!("{text:?} for {days} days"))?;
            let later = age_text(dob, estimated, today + Duration::days(400));
            ensure(later != text || unit == "y" && n > 100, || {
                format!("{text:?} unchanged 400 days later")
            })
        },
    );
}
