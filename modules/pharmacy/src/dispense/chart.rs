//! The patient chart's view of dispensing: timeline entries (medicines issued, a part marked,
//! returns) and the medicines panel (the last 90 days).

use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::module::{ChartPanel, TimelineEntry};

use crate::repo::dispenses as repo;

/// The chart panel: medicines of the last 90 days.
pub const PANELS: &[ChartPanel] = &[ChartPanel {
    id: "pharmacy-medicines",
    title: "pharmacy_dispense.panel_title",
    href: "/pharmacy/patients/{patient}/medicines?patients={patients}",
    permission: crate::VIEW,
    order: 40,
}];

/// How far back the panel looks.
pub const PANEL_DAYS: i64 = 90;

/// One line of a dispense as the chart says it: "Amoxicillin 500 mg capsule × 15 (part)".
pub fn said(g: &repo::Given) -> String {
    let mut s = format!("{} × {}", g.drug_name, g.issued);
    if g.order_quantity.is_some_and(|q| g.issued < q) {
        s.push_str(&format!(" ({})", t("pharmacy_dispense.partial")));
    }
    if g.returned > 0 {
        s.push_str(&format!(
            " · {}",
            t("pharmacy_dispense.returned_n").replace("{n}", &g.returned.to_string())
        ));
    }
    s
}

/// The patients' dispenses and returns for the chart timeline, newest first: one entry per
/// dispense, its lines in the detail.
pub async fn timeline(
    db: &Db,
    patients: &[i64],
    limit: i64,
) -> Result<Vec<TimelineEntry>, DbError> {
    let given = repo::given(db, patients, "", limit.saturating_mul(4)).await?;
    let mut out: Vec<TimelineEntry> = Vec::new();
    for g in &given {
        let href = format!("/pharmacy/dispenses/{}", g.dispense);
        match out
            .iter_mut()
            .find(|e| e.href.as_deref() == Some(href.as_str()))
        {
            Some(e) => {
                let detail = e.detail.take().unwrap_or_default();
                e.detail = Some(format!("{detail}; {}", said(g)));
            }
            None => out.push(TimelineEntry {
                at: g.at.clone(),
                kind: "pharmacy_dispense.timeline_kind",
                title: if g.returned > 0 {
                    t("pharmacy_dispense.timeline_returned")
                } else {
                    t("pharmacy_dispense.timeline_title")
                },
                detail: Some(said(g)),
                href: Some(href),
                permission: crate::VIEW,
            }),
        }
    }
    out.truncate(limit.max(0) as usize);
    Ok(out)
}
