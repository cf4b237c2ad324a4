//! SQL of finding patients: exact keys (number, phone, document), names through the token and
//! word-pair indexes, a summary row by id, the newest registrations.

use hms_core::db::{Db, DbError};
use serde::Serialize;
use sqlx::Row;

use super::full_name;

#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub id: i64,
    pub number: String,
    pub name: String,
    pub sex: String,
    pub date_of_birth: String,
    pub dob_estimated: bool,
    pub phone: Option<String>,
    /// Day of the last visit (YYYY-MM-DD), if the patient has been checked in.
    pub last_visit_on: Option<String>,
    pub county_code: Option<String>,
    pub sub_county: Option<String>,
    pub ward: Option<String>,
}

/// A summary row whose `summary_columns!()` start at column `at`.
pub(super) fn found_at(r: &sqlx::any::AnyRow, at: usize) -> Found {
    Found {
        id: r.get(at),
        number: r.get(at + 1),
        name: full_name(
            &r.get::<String, _>(at + 2),
            r.get::<Option<String>, _>(at + 3).as_deref(),
            &r.get::<String, _>(at + 4),
        ),
        sex: r.get(at + 5),
        date_of_birth: r.get(at + 6),
        dob_estimated: r.get::<i64, _>(at + 7) == 1,
        phone: r.get(at + 8),
        last_visit_on: r.get(at + 9),
        county_code: r.get(at + 10),
        sub_county: r.get(at + 11),
        ward: r.get(at + 12),
    }
}

/// Exact matches: patient number, phone or identifier number.
pub async fn exact(
    db: &Db,
    number: &str,
    phone: Option<&str>,
    id_value: &str,
) -> Result<Vec<Found>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        summary_columns!(),
        // One index lookup per kind of key (an OR across them scans the table). A merged
        // record's number, phone or document finds its survivor: one step, as merges refuse
        // chains.
        " FROM patients p WHERE p.merged_into IS NULL AND p.id IN ( \
             SELECT COALESCE(merged_into, id) FROM patients WHERE number = $1 \
             UNION SELECT COALESCE(merged_into, id) FROM patients WHERE phone = $2 \
             UNION SELECT COALESCE(x.merged_into, x.id) FROM patient_identifiers i \
                   JOIN patients x ON x.id = i.patient_id \
                   WHERE i.value = $3 AND i.voided_at IS NULL) \
             ORDER BY p.id LIMIT 20"
    ))
    .bind(number)
    .bind(phone.unwrap_or(""))
    .bind(id_value)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(|r| found_at(r, 0)).collect())
}

/// Typed tokens shorter than this drive no search and pair no word: one or two letters prefix
/// a large share of all names ("k": about a quarter). They are checked per candidate instead.
const SHORT_TOKEN: usize = 3;

/// The conditions for the typed tokens beyond the one or two the index answers: each must prefix
/// one of the candidate's name tokens, looked up by patient (candidates are few by then).
macro_rules! name_probes {
    ($a:literal, $b:literal, $c:literal, $d:literal, $e:literal, $f:literal) => {
        concat!(
            " AND (", $a, " = '' OR EXISTS (SELECT 1 FROM patient_name_tokens x WHERE x.patient_id = t.patient_id AND x.token >= ", $a, " AND x.token < ", $b, "))",
            " AND (", $c, " = '' OR EXISTS (SELECT 1 FROM patient_name_tokens x WHERE x.patient_id = t.patient_id AND x.token >= ", $c, " AND x.token < ", $d, "))",
            " AND (", $e, " = '' OR EXISTS (SELECT 1 FROM patient_name_tokens x WHERE x.patient_id = t.patient_id AND x.token >= ", $e, " AND x.token < ", $f, "))"
        )
    };
}

/// The typed tokens of a name search: deduplicated, without any that prefixes another ("wanj
/// wanjiku" is "wanjiku": every name "wanjiku" prefixes, "wanj" prefixes too), longest first.
fn search_words(tokens: &[String]) -> Vec<&str> {
    let mut words: Vec<&str> = Vec::new();
    for t in tokens {
        let t = t.as_str();
        if !tokens.iter().any(|o| o.len() > t.len() && o.starts_with(t)) && !words.contains(&t) {
            words.push(t);
        }
    }
    words.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
    words
}

/// Where a two-word search reads: the word-pair index, the driver's range from `$1` (after
/// patient `$2`) up to `$3`, the partner's range `$5..$6` within its three letters `$4`, then the
/// probes `$7..$12`; the page size is `$13`.
macro_rules! pairs_where {
    () => {
        concat!(
            // CROSS JOIN keeps the index as the outer loop on SQLite (see below).
            " FROM patient_name_pairs t CROSS JOIN patients p \
             WHERE p.id = t.patient_id AND t.partner3 = $4 \
               AND t.token >= $1 AND t.token < $3 AND (t.token > $1 OR t.patient_id > $2) \
               AND t.partner >= $5 AND t.partner < $6 AND p.merged_into IS NULL",
            name_probes!("$7", "$8", "$9", "$10", "$11", "$12")
        )
    };
}

/// Where a one-word search reads: the token index from `$1` (after patient `$2`) up to `$3`,
/// then the probes `$4..$9`; the page size is `$10`.
macro_rules! tokens_where {
    () => {
        concat!(
            // CROSS JOIN keeps the token index as the outer loop on SQLite: without planner
            // statistics it would otherwise start from the merged_into index (IS NULL looks
            // selective), read every patient and sort (0.6 s a search in a million patients).
            " FROM patient_name_tokens t CROSS JOIN patients p \
             WHERE p.id = t.patient_id \
               AND t.token >= $1 AND t.token < $3 AND (t.token > $1 OR t.patient_id > $2) \
               AND p.merged_into IS NULL",
            name_probes!("$4", "$5", "$6", "$7", "$8", "$9")
        )
    };
}

/// One statement of a name search for each index: over the word pairs, over single tokens.
struct NameSql {
    pairs: &'static str,
    tokens: &'static str,
}

/// The name search of `words` (from [`search_words`], not empty) bound to its statement: the
/// driver is the longest word; with two words of three letters or more, the shortest of them is
/// the partner the pair index answers; the rest are probes. `limit` binds the last parameter.
fn name_query<'q>(
    sql: NameSql,
    words: &[&'q str],
    start: (&'q str, i64),
    limit: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let driver = words[0];
    let long = words
        .iter()
        .filter(|w| w.chars().count() >= SHORT_TOKEN)
        .count();
    // The partner is the shortest long word: its first three letters are the pair key and the
    // rest a range within it, so a three-letter word is answered exactly.
    let partner = (long >= 2).then(|| words[long - 1]);
    let probes: Vec<&str> = words[1..]
        .iter()
        .copied()
        .filter(|w| Some(*w) != partner)
        .collect();
    let bound = |t: &str| format!("{t}\u{10FFFF}");
    let probe = |i: usize| probes.get(i).copied().unwrap_or("");
    let query = match partner {
        Some(partner) => sqlx::query(sql.pairs)
            .bind(start.0)
            .bind(start.1)
            .bind(bound(driver))
            .bind(partner.chars().take(SHORT_TOKEN).collect::<String>())
            .bind(partner)
            .bind(bound(partner)),
        None => sqlx::query(sql.tokens)
            .bind(start.0)
            .bind(start.1)
            .bind(bound(driver)),
    };
    query
        .bind(probe(0))
        .bind(bound(probe(0)))
        .bind(probe(1))
        .bind(bound(probe(1)))
        .bind(probe(2))
        .bind(bound(probe(2)))
        .bind(limit)
}

/// How many patients a name search finds, counted up to `cap`: `(n, true)` when there are at
/// least that many. Reads the same index range as the search, at most `3 * cap` entries (a
/// patient has an entry per name the driver prefixes, and per partner name).
pub async fn count_names(db: &Db, tokens: &[String], cap: i64) -> Result<(i64, bool), DbError> {
    let words = search_words(tokens);
    let Some(&driver) = words.first() else {
        return Ok((0, false));
    };
    let row = name_query(
        NameSql {
            pairs: concat!(
                "SELECT COUNT(DISTINCT c.patient_id), COUNT(*) FROM (SELECT t.patient_id",
                pairs_where!(),
                " LIMIT CAST($13 AS BIGINT)) c"
            ),
            tokens: concat!(
                "SELECT COUNT(DISTINCT c.patient_id), COUNT(*) FROM (SELECT t.patient_id",
                tokens_where!(),
                " LIMIT CAST($10 AS BIGINT)) c"
            ),
        },
        &words,
        (driver, 0),
        3 * cap,
    )
    .fetch_one(db.read())
    .await?;
    let (patients, entries): (i64, i64) = (row.get(0), row.get(1));
    Ok((patients.min(cap), patients >= cap || entries >= 3 * cap))
}

/// Patients whose phone starts with `prefix` (E.164, "+254748300"), nearest first by phone,
/// through the phone index; a merged record's phone finds its survivor. `upper` is the first
/// phone past the prefix ("+254748301"): phones are digits after the plus, so this bound holds
/// in any collation. At most `limit` patients.
pub async fn phone_prefix(
    db: &Db,
    prefix: &str,
    upper: &str,
    limit: i64,
) -> Result<Vec<Found>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        summary_columns!(),
        " FROM patients p WHERE p.merged_into IS NULL AND p.id IN ( \
             SELECT COALESCE(merged_into, id) FROM patients \
             WHERE phone >= $1 AND phone < $2 ORDER BY phone LIMIT CAST($3 AS BIGINT)) \
         ORDER BY p.phone, p.id LIMIT CAST($3 AS BIGINT)"
    ))
    .bind(prefix)
    .bind(upper)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(|r| found_at(r, 0)).collect())
}

/// How many patients have a phone starting with `prefix` (bounds as for [`phone_prefix`]),
/// counted up to `cap`.
pub async fn count_phone_prefix(
    db: &Db,
    prefix: &str,
    upper: &str,
    cap: i64,
) -> Result<(i64, bool), DbError> {
    // Counted as the patients they lead to (a merged record's phone is its survivor's), read
    // through the phone index only: a condition on merged_into here would lead SQLite's planner
    // to that index, reading every patient.
    let row = sqlx::query(
        "SELECT COUNT(DISTINCT c.patient), COUNT(*) FROM (SELECT COALESCE(merged_into, id) AS patient \
         FROM patients WHERE phone >= $1 AND phone < $2 LIMIT CAST($3 AS BIGINT)) c",
    )
    .bind(prefix)
    .bind(upper)
    .bind(cap)
    .fetch_one(db.read())
    .await?;
    let (patients, phones): (i64, i64) = (row.get(0), row.get(1));
    Ok((patients, phones >= cap))
}

/// Name search: every typed token must prefix one of the patient's name tokens.
///
/// With two typed words of 3 or more letters, the word-pair index answers both at once: one
/// range scan at (first three letters of the shortest word, longest word's prefix), reading
/// only patients who have both, in (token, patient) order so a page stops at the page size.
/// With one such word it drives a range scan of the (token, patient) index. Further words, and
/// words of one or two letters, are looked up per candidate.
/// In a million patients two words cost 0.1 to 0.2 ms on average (SQLite), against 1.6 ms with
/// the other word's set read per query and 6.7 ms with a lookup per candidate (BENCHMARKS.md).
/// `after` is the (token, id) key of the last row of the previous page; the driving word
/// depends on the typed tokens only, so every page continues the same scan. Beyond the one or
/// two indexed words, three are checked; further ones are ignored (they rarely narrow a search).
pub async fn by_names(
    db: &Db,
    tokens: &[String],
    after: (&str, i64),
    limit: i64,
) -> Result<(Vec<Found>, Option<(String, i64)>), DbError> {
    let words = search_words(tokens);
    let Some(&driver) = words.first() else {
        return Ok((Vec::new(), None));
    };
    let (start_token, start_id) = if after.0.is_empty() {
        (driver, 0)
    } else {
        after
    };
    let rows = name_query(
        NameSql {
            pairs: concat!(
                "SELECT t.token, ",
                summary_columns!(),
                pairs_where!(),
                " ORDER BY t.token, t.patient_id LIMIT CAST($13 AS BIGINT)"
            ),
            tokens: concat!(
                "SELECT t.token, ",
                summary_columns!(),
                tokens_where!(),
                " ORDER BY t.token, t.patient_id LIMIT CAST($10 AS BIGINT)"
            ),
        },
        &words,
        (start_token, start_id),
        limit + 1,
    )
    .fetch_all(db.read())
    .await?;
    let mut next = None;
    let mut out: Vec<Found> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let token: String = r.get(0);
        let id: i64 = r.get(1);
        if i as i64 == limit {
            break;
        }
        if i as i64 == limit - 1 && rows.len() as i64 > limit {
            next = Some((token.clone(), id));
        }
        // A patient comes once per partner name the other word prefixes (pairs), and once per
        // name the driver prefixes ("kam": Kamau and Kamande), possibly on different pages:
        // list them at their first one only.
        if out.iter().any(|f| f.id == id) {
            continue;
        }
        let names = crate::model::name_tokens(&[
            r.get::<String, _>(3).as_str(),
            r.get::<Option<String>, _>(4).unwrap_or_default().as_str(),
            r.get::<String, _>(5).as_str(),
        ]);
        let first = names.iter().filter(|n| n.starts_with(driver)).min();
        if first.is_some_and(|f| *f != token) {
            continue;
        }
        out.push(found_at(r, 1));
    }
    Ok((out, next))
}

/// A patient's summary row by id; a merged record leads to the survivor.
pub async fn summary(db: &Db, id: i64) -> Result<Option<Found>, DbError> {
    let mut id = id;
    for _ in 0..8 {
        let Some(r) = sqlx::query(concat!(
            "SELECT ",
            summary_columns!(),
            ", p.merged_into FROM patients p WHERE p.id = $1"
        ))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        else {
            return Ok(None);
        };
        match r.get::<Option<i64>, _>(13) {
            Some(next) => id = next,
            None => return Ok(Some(found_at(&r, 0))),
        }
    }
    Ok(None)
}

/// The newest patients, for the list before anything is typed.
pub async fn newest(db: &Db, limit: i64) -> Result<Vec<Found>, DbError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        summary_columns!(),
        " FROM patients p WHERE p.merged_into IS NULL ORDER BY p.id DESC LIMIT CAST($1 AS BIGINT)"
    ))
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(|r| found_at(r, 0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &[&str]) -> Vec<String> {
        let tokens: Vec<String> = q.iter().map(|t| t.to_string()).collect();
        search_words(&tokens)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn search_words_drop_words_another_one_extends_and_put_the_longest_first() {
        assert_eq!(words(&["wanj", "kamau"]), ["kamau", "wanj"]);
        assert_eq!(words(&["wanj", "wanjiku"]), ["wanjiku"]);
        assert_eq!(words(&["k", "kamau", "ka", "wa"]), ["kamau", "wa"]);
        assert_eq!(words(&["ann", "ann", "bob"]), ["ann", "bob"]);
        assert!(words(&[]).is_empty());
    }
}
