//! The Tera environment: shared templates (`templates/`), the binary's and modules' templates,
//! the translation function `t` and `static_url` for cache-busted static file links.

use std::collections::{BTreeMap, HashMap};

use rust_embed::RustEmbed;
use serde::Serialize;
use tera::{Kwargs, State, Tera};

#[derive(RustEmbed)]
#[folder = "../templates/"]
struct SharedTemplates;

/// Field messages of a form, keyed by field name, shown beside the fields.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FormErrors(BTreeMap<String, String>);

impl FormErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message unless the field already has one (the first problem is the one to fix).
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    /// Adds the message of a failed check, given as its catalogue key, in the request's language.
    pub fn check(&mut self, field: &str, result: Result<(), &'static str>) {
        if let Err(key) = result {
            self.add(field, crate::i18n::t(key));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
}

pub struct Ui {
    pub tera: Tera,
}

impl Ui {
    pub fn new(
        extra: Vec<(String, String)>,
        asset_versions: HashMap<String, String>,
    ) -> Result<Self, tera::Error> {
        let mut tera = Tera::default();
        let mut templates = crate::module::embedded_templates::<SharedTemplates>();
        templates.extend(extra);
        tera.register_function(
            "t",
            |kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
                let key: &str = kwargs.must_get("key")?;
                // Other arguments fill placeholders: t(key="admin.licence_days_left", days=30).
                let mut text = crate::i18n::t(key);
                for (name, value) in kwargs.iter() {
                    let name = name.to_string();
                    if name != "key" {
                        text = text.replace(&format!("{{{name}}}"), &value.to_string());
                    }
                }
                Ok(text)
            },
        );
        tera.register_function(
            "static_url",
            move |kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
                let name: &str = kwargs.must_get("name")?;
                Ok(match asset_versions.get(name) {
                    Some(v) => format!("/static/{name}?v={v}"),
                    None => format!("/static/{name}"),
                })
            },
        );
        tera.register_filter("urlencode", |s: &str, _: Kwargs, _: &State| -> String {
            form_urlencoded::byte_serialize(s.as_bytes()).collect()
        });
        // Money kept in cents (a `Money` serialises as its cents): `KES 1,250.00`.
        tera.register_filter("money", |cents: i64, _: Kwargs, _: &State| -> String {
            crate::money::Money::from_cents(cents).to_string()
        });
        // Stored dates (`2026-12-07`, or an RFC 3339 time) for people: `07 Dec 2026` in the
        // request's language; anything else is shown as it is.
        tera.register_filter("show_date", |s: &str, _: Kwargs, _: &State| -> String {
            match crate::day::Day::from_db_text(s.get(..10).unwrap_or(s)) {
                Some(day) if s.len() == 10 => day.display(),
                Some(_) => crate::clock::display_rfc3339(s),
                None => s.to_string(),
            }
        });
        // A stored date as a form's date field shows it (`07/12/2026`); what a person typed
        // (already not `YYYY-MM-DD`) is kept as typed.
        tera.register_filter("form_date", |s: &str, _: Kwargs, _: &State| -> String {
            match crate::day::Day::from_db_text(s) {
                Some(day) => day.form(),
                None => s.to_string(),
            }
        });
        // Functions and filters first: templates are checked against them as they are added.
        tera.add_raw_templates(templates)?;
        Ok(Self { tera })
    }

    /// Names of every template, for checks.
    pub fn template_names(&self) -> Vec<String> {
        self.tera.get_template_names().map(str::to_string).collect()
    }
}

/// One CSV cell: quoted, quotes doubled, and text a spreadsheet would run as a formula
/// (starting with = + - @, tab or carriage return) prefixed with an apostrophe. Every CSV export
/// of patient or audit data writes its cells through here.
pub fn csv_cell(value: &str) -> String {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if risky {
        format!("'{value}")
    } else {
        value.to_string()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Every `t(key="...")` used by the shared templates, for the catalogue test.
pub fn shared_translation_keys() -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for name in SharedTemplates::iter() {
        if let Some(file) = SharedTemplates::get(&name) {
            let text = String::from_utf8_lossy(&file.data);
            keys.extend(
                translation_keys(&text)
                    .into_iter()
                    .map(|k| (name.to_string(), k)),
            );
        }
    }
    keys
}

/// The keys of `t(key="...")` calls in a template's text.
pub fn translation_keys(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("t(key=\"") {
        rest = &rest[pos + 7..];
        if let Some(end) = rest.find('"') {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_translation_key_in_shared_templates_exists() {
        let keys = shared_translation_keys();
        assert!(keys.len() > 10, "templates use t() for their text");
        let missing: Vec<_> = keys.iter().filter(|(_, k)| !crate::i18n::has(k)).collect();
        assert!(missing.is_empty(), "missing translations: {missing:?}");
    }

    #[test]
    fn shared_templates_parse() {
        let ui = Ui::new(Vec::new(), HashMap::new()).expect("templates parse");
        assert!(ui.template_names().iter().any(|n| n == "base.html"));
    }
}
