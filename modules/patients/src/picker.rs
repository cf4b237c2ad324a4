//! The one patient picker: every screen that chooses a patient (the patient list, merging,
//! check-in, booking) searches through here and lists with `patients/_picker.html`, so each
//! row shows what tells two people of the same name apart (number, sex, age, masked phone,
//! where they live) and offers the next steps other modules contribute ("Check in", "Book").

use serde::Serialize;
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::Ctx;
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::module::{fill_href, ChartLink};
use hms_core::AppResult;

use crate::search::{self, Count, Pick};

/// The button that chooses a patient on a screen ("Check in", "Compare", "Book").
#[derive(Debug, Clone)]
pub struct Choose {
    /// The chart action it stands for, if any ("check-in"): that action is then not repeated.
    pub id: &'static str,
    /// Translation key of the label.
    pub label: &'static str,
    /// Where it leads; `{patient}` is replaced by the patient id.
    pub href: String,
}

/// What a screen wants of the picker.
#[derive(Debug, Clone)]
pub struct Screen<'a> {
    /// Named in the search's audit row ("find", "merge", "checkin", "booking").
    pub name: &'static str,
    pub q: &'a str,
    /// The key of the page to show (empty for the first).
    pub after: &'a str,
    pub limit: i64,
    /// The address the next page link goes to (with `q` and `after`); `None`: one page only.
    pub pages: Option<&'a str>,
    pub choose: Option<Choose>,
    /// Offer the chart actions of other modules on each row.
    pub actions: bool,
    /// Names and numbers lead to the chart.
    pub chart_links: bool,
    /// Before anything is typed, list the newest registrations (else nothing).
    pub newest: bool,
    /// Translation key of the message when nothing matches.
    pub no_match: &'static str,
    /// A patient not to list (merging: the record being merged).
    pub exclude: Option<PatientId>,
    /// Offer registration when nothing matches (to those allowed).
    pub register: bool,
}

/// One listed patient and what can be done from the row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub patient: Pick,
    pub choose: Option<ChartLink>,
    pub actions: Vec<ChartLink>,
}

/// What `patients/_picker.html` draws.
#[derive(Debug, Clone, Serialize)]
pub struct Picker {
    pub q: String,
    pub rows: Vec<Row>,
    /// "3 patients match.", or empty before anything is typed and on later pages.
    pub count: String,
    pub next: Option<String>,
    /// The message when nothing matched ("" when nothing was typed).
    pub no_match: String,
    /// Offer registration when nothing matched (for those allowed).
    pub register: bool,
    pub chart_links: bool,
}

/// The count in words, in the request's language.
fn count_text(count: Option<Count>) -> String {
    match count {
        None => String::new(),
        Some(Count { more: true, n }) => {
            t("patients.picker_count_more").replace("{count}", &n.to_string())
        }
        Some(Count { n: 1, .. }) => t("patients.picker_count_one"),
        Some(Count { n, .. }) => t("patients.picker_count").replace("{count}", &n.to_string()),
    }
}

/// Searches for what was typed, records the search in the audit trail (without the typed
/// text: it may be a name) and lays out the rows for the screen.
pub async fn picker(cx: &Ctx, screen: Screen<'_>) -> AppResult<Picker> {
    let q: String = screen.q.trim().chars().take(80).collect();
    let mut matches = if q.is_empty() && !screen.newest {
        search::Matches {
            found: Vec::new(),
            next: None,
            count: None,
        }
    } else {
        search::search(&cx.app().db, &q, screen.after, screen.limit).await?
    };
    if let Some(not) = screen.exclude {
        matches.found.retain(|f| f.id != not.get());
    }
    if !q.is_empty() {
        cx.audit_read(
            Event::new("patient.search", "patient", None)
                .detail(json!({"results": matches.found.len(), "screen": screen.name})),
        )
        .await;
    }
    let skip = screen.choose.as_ref().map(|c| c.id).unwrap_or_default();
    let actions: Vec<_> = if screen.actions {
        cx.app()
            .modules
            .chart_actions_for(|m| cx.module_on(m), |p| cx.can(p))
            .into_iter()
            .filter(|a| a.id != skip)
            .collect()
    } else {
        Vec::new()
    };
    let choose_label = screen.choose.as_ref().map(|c| t(c.label));
    let rows = matches
        .found
        .into_iter()
        .map(|f| {
            let id = PatientId(f.id);
            Row {
                choose: screen.choose.as_ref().map(|c| ChartLink {
                    id: c.id,
                    label: choose_label.clone().unwrap_or_default(),
                    href: fill_href(&c.href, id, &[]),
                }),
                actions: actions.iter().map(|a| a.link(id)).collect(),
                patient: search::pick(f),
            }
        })
        .collect();
    let next = match (screen.pages, matches.next) {
        (Some(path), Some(after)) => Some(format!(
            "{path}?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &q)
                .append_pair("after", &after)
                .finish()
        )),
        _ => None,
    };
    Ok(Picker {
        count: count_text(matches.count),
        no_match: if q.is_empty() {
            String::new()
        } else {
            t(screen.no_match)
        },
        register: screen.register && cx.can(crate::REGISTER),
        chart_links: screen.chart_links,
        rows,
        next,
        q,
    })
}
