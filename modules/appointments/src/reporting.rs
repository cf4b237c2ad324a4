//! The appointments module's contributions: "Check in" and "Book" on the chart and search
//! results, the chart panel of upcoming bookings and today's visit, the figures it keeps for MOH
//! and management reports, the payer and service points of a visit for claims, and its part of
//! a patient's export. Everything here reads this module's own tables only.
//!
//! First attendance and re-attendance follow the MOH 717 outpatient columns NEW and RE-ATT
//! (section A.1) and the MOH 705A rows 72 "NO. OF FIRST ATTENDANCES" and 73 "RE-ATTENDANCES"
//! (705B rows 69 and 70): a visit is a first attendance when it is the patient's first visit to
//! the facility in that calendar year, and a re-attendance otherwise. The patient is the record
//! the visit was written for; two records later merged as one person count as two.

use hms_core::day::Day;
use hms_core::db::{Db, DbError};
use hms_core::i18n::t;
use hms_core::ids::{PatientId, VisitId};
use hms_core::module::{
    ChartAction, ChartPanel, ExportSection, FactKind, Figure, FigureRange, FigureSource, Indicator,
    Unit, VisitFact,
};
use serde_json::json;

use crate::repo::reporting::{self as repo, Attendances};
use crate::routes::{payer_label, status_label};
use crate::schedule::clock_text;

pub const ATTENDANCES: &str = "appointments.attendances";
pub const FIRST_ATTENDANCES: &str = "appointments.first_attendances";
pub const RE_ATTENDANCES: &str = "appointments.re_attendances";
pub const BOOKINGS_KEPT: &str = "appointments.bookings_kept";
pub const BOOKINGS_MISSED: &str = "appointments.bookings_missed";

pub const ACTIONS: &[ChartAction] = &[
    ChartAction {
        id: "check-in",
        label: "appointments_queue.check_in",
        href: "/visits/checkin?patient={patient}",
        permission: crate::CHECKIN,
        order: 10,
    },
    ChartAction {
        id: "book",
        label: "contributions.action_book",
        href: "/appointments/book?patient={patient}",
        permission: crate::BOOK,
        order: 20,
    },
];

pub const PANELS: &[ChartPanel] = &[ChartPanel {
    id: "appointments-upcoming",
    title: "contributions.panel_appointments",
    href: "/appointments/chart-panel?patients={patients}",
    permission: crate::VIEW,
    order: 20,
}];

pub const INDICATORS: &[Indicator] = &[
    Indicator {
        code: ATTENDANCES,
        name: "contributions.indicator_attendances",
        description: "Visits checked in on the days of the range (open, completed or left).",
        unit: Unit::Visits,
        moh: &["MOH 717 A.1 TOTAL"],
    },
    Indicator {
        code: FIRST_ATTENDANCES,
        name: "contributions.indicator_first_attendances",
        description: "Visits of the range that were the patient's first visit to the facility \
                      in that calendar year.",
        unit: Unit::Visits,
        moh: &["MOH 717 A.1 NEW", "MOH 705A row 72", "MOH 705B row 69"],
    },
    Indicator {
        code: RE_ATTENDANCES,
        name: "contributions.indicator_re_attendances",
        description: "Visits of the range after an earlier visit of the patient in the same \
                      calendar year.",
        unit: Unit::Visits,
        moh: &["MOH 717 A.1 RE-ATT", "MOH 705A row 73", "MOH 705B row 70"],
    },
    Indicator {
        code: BOOKINGS_KEPT,
        name: "contributions.indicator_bookings_kept",
        description: "Appointments on the days of the range the patient arrived for.",
        unit: Unit::Appointments,
        moh: &[],
    },
    Indicator {
        code: BOOKINGS_MISSED,
        name: "contributions.indicator_bookings_missed",
        description: "Appointments on the days of the range marked no-show, or still booked \
                      once their day had passed.",
        unit: Unit::Appointments,
        moh: &[],
    },
];

fn figure(indicator: &'static str, value: i64) -> Option<Figure> {
    Some(Figure {
        indicator,
        value,
        parts: Vec::new(),
    })
}

pub async fn figures(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Option<Figure>, DbError> {
    let days = (range.from, range.to);
    Ok(match indicator {
        ATTENDANCES | FIRST_ATTENDANCES | RE_ATTENDANCES => {
            let (all, first) = repo::attendance_counts(db, range.from, range.to).await?;
            match indicator {
                ATTENDANCES => figure(ATTENDANCES, all),
                FIRST_ATTENDANCES => figure(FIRST_ATTENDANCES, first),
                _ => figure(RE_ATTENDANCES, all - first),
            }
        }
        BOOKINGS_KEPT => figure(
            BOOKINGS_KEPT,
            repo::booking_count(db, days, "kept", Day::today()).await?,
        ),
        BOOKINGS_MISSED => figure(
            BOOKINGS_MISSED,
            repo::booking_count(db, days, "missed", Day::today()).await?,
        ),
        _ => None,
    })
}

pub async fn figure_sources(
    db: &Db,
    indicator: &str,
    range: &FigureRange,
) -> Result<Vec<FigureSource>, DbError> {
    let days = (range.from, range.to);
    let visits = |which| repo::attendance_sources(db, range.from, range.to, which);
    match indicator {
        ATTENDANCES => visits(Attendances::All).await,
        FIRST_ATTENDANCES => visits(Attendances::First).await,
        RE_ATTENDANCES => visits(Attendances::Repeat).await,
        BOOKINGS_KEPT => repo::booking_sources(db, days, "kept", Day::today()).await,
        BOOKINGS_MISSED => repo::booking_sources(db, days, "missed", Day::today()).await,
        _ => Ok(Vec::new()),
    }
}

/// Each visit's payer, then the service points that served it.
pub async fn visit_facts(db: &Db, visits: &[VisitId]) -> Result<Vec<VisitFact>, DbError> {
    let mut facts = Vec::new();
    for &visit in visits {
        let Some((payer, points)) = repo::visit_facts(db, visit).await? else {
            continue;
        };
        facts.push(VisitFact {
            visit,
            module: "appointments",
            kind: FactKind::Payer,
            text: payer_label(&payer),
            code: Some(payer),
            quantity: 1,
            at: None,
        });
        facts.extend(points.into_iter().map(|(code, name, at)| VisitFact {
            visit,
            module: "appointments",
            kind: FactKind::ServicePoint,
            code: Some(code),
            text: name,
            quantity: 1,
            at,
        }));
    }
    Ok(facts)
}

/// Most visits and appointments of one record in an export (years of a chronic patient's
/// monthly visits fit).
const EXPORT_LIMIT: i64 = 5000;

/// The patient's appointments and visits, of the record and of every record merged into it.
pub async fn export(db: &Db, patients: &[PatientId]) -> Result<Vec<ExportSection>, DbError> {
    let (mut appointments, mut visits) = (Vec::new(), Vec::new());
    for &p in patients {
        appointments.extend(repo::appointments_of(db, p, (None, false), EXPORT_LIMIT).await?);
        visits.extend(repo::visits_of(db, p, EXPORT_LIMIT).await?);
    }
    appointments.sort_by_key(|a| (a.day, a.start_minute, a.id));
    visits.sort_by_key(|v| (v.day, v.id));
    let appointment_rows = appointments
        .iter()
        .map(|a| {
            let when = match a.start_minute {
                Some(m) => format!(
                    "{} {}",
                    a.day.display(),
                    clock_text(u32::try_from(m).unwrap_or(0))
                ),
                None => a.day.display(),
            };
            let with = a.clinician.as_deref().map(|c| format!(" · {c}"));
            let what = format!(
                "{}{} · {}",
                a.clinic,
                with.unwrap_or_default(),
                status_label(&a.status)
            );
            (when, what)
        })
        .collect();
    let visit_rows = visits
        .iter()
        .map(|v| {
            let token = t("appointments.visit_token").replace("{token}", &v.token.to_string());
            (
                v.day.display(),
                format!("{token} · {}", payer_label(&v.payer)),
            )
        })
        .collect();
    Ok(vec![
        ExportSection {
            module: "appointments",
            title: t("contributions.export_appointments"),
            rows: appointment_rows,
            json: json!(appointments),
        },
        ExportSection {
            module: "appointments",
            title: t("contributions.export_visits"),
            rows: visit_rows,
            json: json!(visits),
        },
    ])
}
