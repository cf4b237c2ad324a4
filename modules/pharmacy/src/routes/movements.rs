//! Pharmacy screens: stock movements (receipts, adjustments, transfers, stock takes), one file
//! per screen.

mod adjustments;
mod receipts;
mod stocktakes;
mod transfers;

use hms_core::http::RouteSpec;
use hms_core::money::Money;

pub fn routes() -> Vec<RouteSpec> {
    let mut routes = receipts::routes();
    routes.extend(adjustments::routes());
    routes.extend(transfers::routes());
    routes.extend(stocktakes::routes());
    routes
}

/// `KES 1,250.00`.
fn money(cents: i64) -> String {
    Money::from_cents(cents).to_string()
}

/// The `n`-th value of a repeated form field ("" past its end).
fn nth<'a>(values: &[&'a str], n: usize) -> &'a str {
    values.get(n).copied().unwrap_or("")
}

/// Options of a select: stores (active ones).
async fn store_choices(db: &hms_core::db::Db) -> hms_core::AppResult<Vec<(String, String)>> {
    Ok(crate::model::stores(db)
        .await?
        .into_iter()
        .filter(|s| s.active)
        .map(|s| (s.id.to_string(), s.name))
        .collect())
}

/// Options of a select: active drugs, "Amoxicillin 500 mg capsule (capsule)".
async fn drug_choices(db: &hms_core::db::Db) -> hms_core::AppResult<Vec<(String, String)>> {
    Ok(crate::repo::movements::drug_choices(db)
        .await?
        .into_iter()
        .map(|d| (d.id.to_string(), format!("{} ({})", d.display(), d.unit)))
        .collect())
}

/// `?before=` of a keyset-paginated list.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Page {
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    store: Option<String>,
    #[serde(default)]
    drug: Option<String>,
    #[serde(default)]
    lines: Option<usize>,
    #[serde(default)]
    mode: Option<String>,
}

const PAGE: i64 = 50;

/// A listed record with the translated name of its state or reason.
#[derive(serde::Serialize)]
struct Labelled<T> {
    #[serde(flatten)]
    row: T,
    label: String,
}

/// Each row labelled with the text of `key_prefix` + its code.
fn labelled<T>(rows: Vec<T>, key_prefix: &str, code: impl Fn(&T) -> &str) -> Vec<Labelled<T>> {
    rows.into_iter()
        .map(|row| Labelled {
            label: hms_core::i18n::t(&format!("{key_prefix}{}", code(&row))),
            row,
        })
        .collect()
}
