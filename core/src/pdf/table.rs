//! Tables that continue over pages: the header row is drawn again at the top of each page and a
//! row is never split (a row that would cross the bottom starts the next page).

use super::{font, Document, Item, Style, MM_PER_PT};

/// A column: its heading and its share of the width.
#[derive(Debug, Clone)]
pub struct Column {
    pub title: String,
    pub weight: f32,
}

impl Column {
    pub fn new(title: &str, weight: f32) -> Self {
        Self {
            title: title.to_string(),
            weight,
        }
    }
}

/// Padding inside a cell, mm.
const PAD: f32 = 1.0;

impl Document {
    /// A table of `rows` (one string per column) under `columns`.
    pub fn table(&mut self, columns: &[Column], rows: &[Vec<String>]) {
        if columns.is_empty() {
            return;
        }
        let total: f32 = columns.iter().map(|c| c.weight.max(0.01)).sum();
        let widths: Vec<f32> = columns
            .iter()
            .map(|c| self.content_width() * c.weight.max(0.01) / total)
            .collect();
        let titles: Vec<String> = columns.iter().map(|c| c.title.clone()).collect();
        let header = self.cells(Style::Bold, &titles, &widths);
        let first = rows.first().map(|r| self.cells(Style::Body, r, &widths));
        let first_h = first
            .as_ref()
            .map(|c| self.row_height(Style::Body, c))
            .unwrap_or(0.0);
        // The header and the first row start together.
        self.room(self.row_height(Style::Bold, &header) + first_h);
        self.draw_row(Style::Bold, &header, &widths, 0.8);
        for row in rows {
            let cells = self.cells(Style::Body, row, &widths);
            if self.room(self.row_height(Style::Body, &cells)) {
                self.draw_row(Style::Bold, &header, &widths, 0.8);
            }
            self.draw_row(Style::Body, &cells, &widths, 0.2);
        }
        self.space(1.5);
    }

    /// Each cell's text wrapped to its column.
    fn cells(&self, style: Style, texts: &[String], widths: &[f32]) -> Vec<Vec<String>> {
        let size = style.size_pt(self.size);
        widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let text = texts.get(i).map(String::as_str).unwrap_or("");
                font::wrap(style.bold(), text, size, (w - 2.0 * PAD) / MM_PER_PT)
            })
            .collect()
    }

    fn row_height(&self, style: Style, cells: &[Vec<String>]) -> f32 {
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        lines as f32 * self.line_mm(style) + 2.0 * PAD
    }

    /// Draws one row at the cursor with a rule under it, and moves the cursor below it.
    fn draw_row(&mut self, style: Style, cells: &[Vec<String>], widths: &[f32], rule_pt: f32) {
        let size = style.size_pt(self.size);
        let lh = self.line_mm(style);
        let h = self.row_height(style, cells);
        let top = self.y;
        let mut x = self.left();
        for (lines, w) in cells.iter().zip(widths) {
            for (n, line) in lines.iter().enumerate().filter(|(_, l)| !l.is_empty()) {
                self.push(Item::Text {
                    x: x + PAD,
                    y: top + PAD + n as f32 * lh + size * MM_PER_PT,
                    size,
                    bold: style.bold(),
                    text: line.clone(),
                });
            }
            x += w;
        }
        let (left, width) = (self.left(), self.content_width());
        self.push(Item::Rule {
            x: left,
            y: top + h,
            w: width,
            pt: rule_pt,
        });
        self.y = top + h;
    }
}
