//! The patient card and file labels as PDF documents, beside the print pages: the card on A4,
//! A5 or an 80 mm roll; labels as a sheet (A4 and A5 hold many, the roll a strip of four) or one
//! 50 x 25 mm label. Each carries the number as text and as a Code 128 barcode.

use poem::web::{Path, Query};
use poem::{handler, Response};
use serde::Deserialize;
use serde_json::json;

use hms_core::audit::Event;
use hms_core::http::{pdf_inline, see_other, Ctx};
use hms_core::i18n::t;
use hms_core::ids::PatientId;
use hms_core::pdf::{Document, Letterhead, PageSize, Style};
use hms_core::{AppError, AppResult};

use crate::api::{self, PatientCard};

#[derive(Debug, Default, Deserialize)]
pub struct SizeQuery {
    #[serde(default)]
    size: String,
}

impl SizeQuery {
    /// The chosen paper (A4 when none), or 400 for a size this document does not come in.
    fn page(&self, labels: bool) -> AppResult<PageSize> {
        let chosen = self.size.trim();
        if chosen.is_empty() {
            return Ok(PageSize::A4);
        }
        match PageSize::from_query(chosen) {
            Some(PageSize::Label50x25) if !labels => Err(AppError::BadRequest("size".into())),
            Some(size) => Ok(size),
            None => Err(AppError::BadRequest("size".into())),
        }
    }
}

fn size_name(size: PageSize) -> &'static str {
    match size {
        PageSize::A4 => "a4",
        PageSize::A5 => "a5",
        PageSize::Receipt80 => "80mm",
        PageSize::Label50x25 => "label",
    }
}

/// The patient, audited as a print; a merged record sends the reader to the survivor's document.
async fn patient(
    cx: &Ctx,
    id: i64,
    what: &str,
    size: PageSize,
) -> AppResult<Result<PatientCard, Response>> {
    let found = api::card(&cx.app().db, PatientId::from(id))
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(survivor) = found.merged_into {
        let to = format!("/patients/{survivor}/{what}.pdf?size={}", size_name(size));
        return Ok(Err(see_other(&to)));
    }
    cx.audit_read(
        Event::new("patient.print", "patient", Some(found.id.get()))
            .patient(found.id.get())
            .detail(json!({"what": what, "layout": size_name(size), "format": "pdf"})),
    )
    .await;
    Ok(Ok(found))
}

#[handler]
pub async fn card(cx: Ctx, Path(id): Path<i64>, Query(q): Query<SizeQuery>) -> AppResult<Response> {
    let size = q.page(false)?;
    let p = match patient(&cx, id, "card", size).await? {
        Ok(p) => p,
        Err(redirect) => return Ok(redirect),
    };
    let head = Letterhead::load(&cx.app().db).await?;
    let mut doc = Document::new(
        size,
        &format!("{} {}", t("patients_print.card_title"), p.number),
    );
    doc.letterhead(&head);
    doc.text(Style::Heading, &t("patients_print.card_heading"));
    doc.space(1.0);
    doc.text(Style::Title, &p.full_name);
    doc.text(Style::Big, &p.number);
    doc.space(1.0);
    let bar_h = if size == PageSize::Receipt80 {
        12.0
    } else {
        15.0
    };
    doc.barcode(&p.number, bar_h);
    doc.fields(&[
        (&t("patients.sex"), &p.sex_label),
        (&t("patients.date_of_birth"), &dob_text(&p)),
    ]);
    doc.space(2.0);
    doc.text(Style::Small, &t("patients_print.card_note"));
    Ok(pdf_inline(&format!("card-{}.pdf", p.number), doc.finish()))
}

fn dob_text(p: &PatientCard) -> String {
    let day = p.date_of_birth.map(|d| d.display()).unwrap_or_default();
    if p.age_text.is_empty() {
        day
    } else {
        format!("{day} ({})", p.age_text)
    }
}

/// Labels across and down a sheet, and the size of each, mm.
fn grid(size: PageSize) -> (usize, usize, f32, f32) {
    match size {
        PageSize::A4 => (3, 8, 70.0, 297.0 / 8.0),
        PageSize::A5 => (2, 6, 74.0, 35.0),
        PageSize::Receipt80 => (1, 4, 80.0, 36.0),
        PageSize::Label50x25 => (1, 1, 50.0, 25.0),
    }
}

#[handler]
pub async fn label(
    cx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<SizeQuery>,
) -> AppResult<Response> {
    let size = q.page(true)?;
    let p = match patient(&cx, id, "label", size).await? {
        Ok(p) => p,
        Err(redirect) => return Ok(redirect),
    };
    let mut doc = Document::new(
        size,
        &format!("{} {}", t("patients_print.label_title"), p.number),
    );
    let (across, down, w, h) = grid(size);
    for row in 0..down {
        for col in 0..across {
            draw_label(&mut doc, col as f32 * w, row as f32 * h, w, h, &p);
        }
    }
    Ok(pdf_inline(
        &format!("labels-{}.pdf", p.number),
        doc.finish(),
    ))
}

/// One label in the box at (`x`, `y`), `w` x `h` mm: number, barcode, name, sex and age.
fn draw_label(doc: &mut Document, x: f32, y: f32, w: f32, h: f32, p: &PatientCard) {
    let pad = if doc.size() == PageSize::Label50x25 {
        2.0
    } else {
        3.5
    };
    let (bold, small) = (doc.line_mm(Style::Bold), doc.line_mm(Style::Small));
    let inner = w - 2.0 * pad;
    let (x, mut y) = (x + pad, y + pad);
    doc.text_at(x, y, inner, Style::Bold, &p.number);
    y += bold;
    let bar_h = h - 2.0 * pad - bold - 2.0 * small - 1.0;
    doc.barcode_at(x, y, inner, bar_h, &p.number);
    y += bar_h + 0.5;
    doc.text_at(x, y, inner, Style::Bold, &p.full_name);
    y += small;
    doc.text_at(
        x,
        y + 0.5,
        inner,
        Style::Small,
        &format!("{} · {}", p.sex_label, dob_text(p)),
    );
}
