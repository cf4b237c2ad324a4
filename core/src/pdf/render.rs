//! The laid-out pages turned into PDF operations (points, from the bottom-left corner).

use printpdf::matrix::CurTransMat;
use printpdf::{
    Color, Greyscale, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, TextItem, XObjectTransform,
};

use super::{font, Document, Item, Style, MM_PER_PT};

fn pt(mm: f32) -> Pt {
    Pt(mm / MM_PER_PT)
}

pub(super) fn pdf(mut doc: Document) -> Vec<u8> {
    let size = doc.size;
    let margin = size.margin_mm();
    add_footers(&mut doc);
    let height = size
        .height_mm()
        .unwrap_or_else(|| (doc.lowest + margin).max(size.width_mm() / 2.0));
    let mut out = PdfDocument::new(&doc.title);
    let uses = |bold: bool| {
        doc.pages
            .iter()
            .flatten()
            .any(|i| matches!(i, Item::Text { bold: b, .. } if *b == bold))
    };
    let regular = uses(false).then(|| out.add_font(font::face(false)));
    let bold = uses(true).then(|| out.add_font(font::face(true)));
    let logo = doc.logo.as_ref().map(|l| out.add_xobject(&l.xobject));
    let black = Color::Greyscale(Greyscale::new(0.0, None));
    let mut pages = Vec::with_capacity(doc.pages.len());
    for items in &doc.pages {
        let mut ops = vec![
            Op::SetFillColor { col: black.clone() },
            Op::SetOutlineColor { col: black.clone() },
        ];
        let y = |top: f32| pt(height - top);
        for item in items {
            match item {
                Item::Text {
                    x,
                    y: base,
                    size,
                    bold: b,
                    text,
                } => {
                    let Some(id) = (if *b { &bold } else { &regular }) else {
                        continue;
                    };
                    ops.extend([
                        Op::StartTextSection,
                        Op::SetFont {
                            font: PdfFontHandle::External(id.clone()),
                            size: Pt(*size),
                        },
                        Op::SetTextCursor {
                            pos: Point {
                                x: pt(*x),
                                y: y(*base),
                            },
                        },
                        Op::ShowText {
                            items: vec![TextItem::Text(text.clone())],
                        },
                        Op::EndTextSection,
                    ]);
                }
                Item::Fill { x, y: top, w, h } => ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: pt(*x),
                        y: y(top + h),
                        width: pt(*w),
                        height: pt(*h),
                        mode: Some(PaintMode::Fill),
                        winding_order: None,
                    },
                }),
                Item::Rule {
                    x,
                    y: at,
                    w,
                    pt: thick,
                } => {
                    let point = |px: f32| LinePoint {
                        p: Point {
                            x: pt(px),
                            y: y(*at),
                        },
                        bezier: false,
                    };
                    ops.extend([
                        Op::SetOutlineThickness { pt: Pt(*thick) },
                        Op::DrawLine {
                            line: Line {
                                points: vec![point(*x), point(x + w)],
                                is_closed: false,
                            },
                        },
                    ]);
                }
                Item::Logo { x, y: top, w, h } => {
                    let Some(id) = &logo else { continue };
                    ops.extend([
                        Op::SaveGraphicsState,
                        Op::SetTransformationMatrix {
                            matrix: CurTransMat::Raw([
                                pt(*w).0,
                                0.0,
                                0.0,
                                pt(*h).0,
                                pt(*x).0,
                                y(top + h).0,
                            ]),
                        },
                        Op::UseXobject {
                            id: id.clone(),
                            transform: XObjectTransform {
                                no_auto_scale: true,
                                ..Default::default()
                            },
                        },
                        Op::RestoreGraphicsState,
                    ]);
                }
            }
        }
        pages.push(PdfPage::new(Mm(size.width_mm()), Mm(height), ops));
    }
    out.with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new())
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
