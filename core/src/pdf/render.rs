//! The laid-out pages turned into PDF operations (points, from the bottom-left corner).

use printpdf::matrix::CurTransMat;
use printpdf::{
    Color, FontId, Greyscale, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Pt, Rect, TextItem, XObjectId, XObjectTransform,
};

use super::{font, Document, Item, Style, MM_PER_PT};

fn pt(mm: f32) -> Pt {
    Pt(mm / MM_PER_PT)
}

/// The document's resources: a font only when some text uses it, the logo when placed.
struct Resources {
    regular: Option<FontId>,
    bold: Option<FontId>,
    logo: Option<XObjectId>,
    /// Page height in mm (to turn top-down positions into PDF's bottom-up ones).
    height: f32,
}

impl Resources {
    fn y(&self, top: f32) -> Pt {
        pt(self.height - top)
    }
}

pub(super) fn pdf(mut doc: Document) -> Vec<u8> {
    let size = doc.size;
    add_footers(&mut doc);
    let height = size
        .height_mm()
        .unwrap_or_else(|| (doc.lowest + size.margin_mm()).max(size.width_mm() / 2.0));
    let mut out = PdfDocument::new(&doc.title);
    let uses = |bold: bool| {
        doc.pages
            .iter()
            .flatten()
            .any(|i| matches!(i, Item::Text { bold: b, .. } if *b == bold))
    };
    let res = Resources {
        regular: uses(false).then(|| out.add_font(font::face(false))),
        bold: uses(true).then(|| out.add_font(font::face(true))),
        logo: doc.logo.as_ref().map(|l| out.add_xobject(&l.xobject)),
        height,
    };
    let black = Color::Greyscale(Greyscale::new(0.0, None));
    let pages = doc
        .pages
        .iter()
        .map(|items| {
            let mut ops = vec![
                Op::SetFillColor { col: black.clone() },
                Op::SetOutlineColor { col: black.clone() },
            ];
            for item in items {
                ops.extend(item_ops(item, &res));
            }
            PdfPage::new(Mm(size.width_mm()), Mm(height), ops)
        })
        .collect();
    out.with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new())
}

fn item_ops(item: &Item, res: &Resources) -> Vec<Op> {
    match item {
        Item::Text {
            x,
            y,
            size,
            bold,
            text,
        } => {
            let Some(id) = (if *bold { &res.bold } else { &res.regular }) else {
                return Vec::new();
            };
            vec![
                Op::StartTextSection,
                Op::SetFont {
                    font: PdfFontHandle::External(id.clone()),
                    size: Pt(*size),
                },
                Op::SetTextCursor {
                    pos: Point {
                        x: pt(*x),
                        y: res.y(*y),
                    },
                },
                Op::ShowText {
                    items: vec![TextItem::Text(text.clone())],
                },
                Op::EndTextSection,
            ]
        }
        Item::Fill { x, y, w, h } => vec![Op::DrawRectangle {
            rectangle: Rect {
                x: pt(*x),
                y: res.y(y + h),
                width: pt(*w),
                height: pt(*h),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        }],
        Item::Rule { x, y, w, pt: thick } => {
            let point = |px: f32| LinePoint {
                p: Point {
                    x: pt(px),
                    y: res.y(*y),
                },
                bezier: false,
            };
            vec![
                Op::SetOutlineThickness { pt: Pt(*thick) },
                Op::DrawLine {
                    line: Line {
                        points: vec![point(*x), point(x + w)],
                        is_closed: false,
                    },
                },
            ]
        }
        Item::Logo { x, y, w, h } => {
            let Some(id) = &res.logo else {
                return Vec::new();
            };
            // The image fills the unit square; the matrix scales and places it.
            let matrix = [pt(*w).0, 0.0, 0.0, pt(*h).0, pt(*x).0, res.y(y + h).0];
            vec![
                Op::SaveGraphicsState,
                Op::SetTransformationMatrix {
                    matrix: CurTransMat::Raw(matrix),
                },
                Op::UseXobject {
                    id: id.clone(),
                    transform: XObjectTransform {
                        no_auto_scale: true,
                        ..Default::default()
                    },
                },
                Op::RestoreGraphicsState,
            ]
        }
    }
}

/// "Page n of m" centred under each page's content.
fn add_footers(doc: &mut Document) {
    let Some(template) = doc.page_label.clone() else {
        return;
    };
    let count = doc.pages.len();
    let size = Style::Small.size_pt(doc.size);
    let footer_top = match doc.size.height_mm() {
        Some(h) => h - doc.size.margin_mm() - size * MM_PER_PT,
        None => doc.lowest + 2.0,
    };
    for n in 0..count {
        let text = template
            .replace("{n}", &(n + 1).to_string())
            .replace("{m}", &count.to_string());
        let w = font::width_pt(false, &text, size) * MM_PER_PT;
        let x = (doc.size.width_mm() - w) / 2.0;
        let item = Item::Text {
            x,
            y: footer_top + size * MM_PER_PT,
            size,
            bold: false,
            text,
        };
        doc.lowest = doc.lowest.max(footer_top + size * MM_PER_PT * 1.3);
        doc.pages[n].push(item);
    }
}

#[cfg(test)]
pub(super) fn add_footers_for_test(doc: &mut Document) {
    add_footers(doc)
}
