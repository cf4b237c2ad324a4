//! PDF documents for every department: one small builder with the facility letterhead, headings,
//! paragraphs, tables that continue over pages (header repeated, a row never split), "Page n of
//! m" footers and Code 128 barcodes, on A4, A5, an 80 mm receipt roll or a 50 x 25 mm label.
//! Text is set in an embedded Unicode font, so names print as typed and can be searched and
//! copied (`pdftotext`). Layout works top-down in millimetres; `render` turns it into PDF.
//!
//! ```ignore
//! let mut doc = Document::new(PageSize::A4, "Access report").page_numbers(&t("pdf.page_of"));
//! doc.letterhead(&Letterhead::load(&db).await?);
//! doc.heading("Access report");
//! doc.table(&[Column::new("When", 1.0), Column::new("Who", 2.0)], &rows);
//! let bytes = doc.finish();
//! ```

pub mod barcode;
mod font;
mod image;
mod render;
mod table;

use crate::db::{Db, DbError};
use crate::i18n::t;

pub use font::covers;
pub use table::Column;

/// Millimetres per point.
const MM_PER_PT: f32 = 25.4 / 72.0;
/// One dot of a 203 dpi thermal printer, in millimetres: barcode modules are whole dots.
const DOT_MM: f32 = 25.4 / 203.0;

/// The paper a document is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSize {
    A4,
    A5,
    /// An 80 mm thermal roll: one page as long as its content.
    Receipt80,
    /// A 50 x 25 mm adhesive label.
    Label50x25,
}

impl PageSize {
    /// The size named in a query string (`a4`, `a5`, `80mm`, `label`).
    pub fn from_query(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a4" => Some(Self::A4),
            "a5" => Some(Self::A5),
            "80mm" | "thermal" | "receipt" => Some(Self::Receipt80),
            "label" | "50x25" => Some(Self::Label50x25),
            _ => None,
        }
    }

    pub fn width_mm(self) -> f32 {
        match self {
            Self::A4 => 210.0,
            Self::A5 => 148.0,
            Self::Receipt80 => 80.0,
            Self::Label50x25 => 50.0,
        }
    }

    /// Page height; `None` for the roll, whose page ends where the content ends.
    pub fn height_mm(self) -> Option<f32> {
        match self {
            Self::A4 => Some(297.0),
            Self::A5 => Some(210.0),
            Self::Receipt80 => None,
            Self::Label50x25 => Some(25.0),
        }
    }

    pub fn margin_mm(self) -> f32 {
        match self {
            Self::A4 => 15.0,
            Self::A5 => 10.0,
            Self::Receipt80 => 4.0,
            Self::Label50x25 => 2.0,
        }
    }

    /// Body text size in points; the other styles scale from it.
    fn body_pt(self) -> f32 {
        match self {
            Self::A4 => 10.0,
            Self::A5 => 9.0,
            Self::Receipt80 => 8.5,
            Self::Label50x25 => 6.5,
        }
    }
}

/// Kinds of text, sized for the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Body,
    Bold,
    Small,
    Heading,
    /// A name at the top of a card.
    Title,
    /// A number meant to be read across a desk.
    Big,
}

impl Style {
    fn size_pt(self, page: PageSize) -> f32 {
        let b = page.body_pt();
        match self {
            Style::Body | Style::Bold => b,
            Style::Small => b * 0.85,
            Style::Heading => b * 1.3,
            Style::Title => b * 1.6,
            Style::Big => b * 2.0,
        }
    }

    fn bold(self) -> bool {
        !matches!(self, Style::Body | Style::Small)
    }
}

/// The facility as it heads every document, from the facility settings.
#[derive(Debug, Clone, Default)]
pub struct Letterhead {
    pub name: String,
    /// The Kenya Master Health Facility List code.
    pub code: String,
    pub address: String,
    pub phone: String,
    /// The logo's bytes (JPEG or PNG), if one is configured.
    pub logo: Option<Vec<u8>>,
}

impl Letterhead {
    pub async fn load(db: &Db) -> Result<Self, DbError> {
        let s = crate::settings::facility(db).await?;
        let get = |k: &str| s.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        Ok(Self {
            name: get("facility_name"),
            code: get("facility_code"),
            address: get("facility_address"),
            phone: get("facility_phone"),
            logo: crate::settings::logo(db).await?.map(|l| l.data),
        })
    }

    /// The line under the name: code, address and phone, those that are set.
    fn details(&self) -> String {
        let mut parts = Vec::new();
        if !self.code.is_empty() {
            parts.push(format!("{} {}", t("pdf.kmhfl"), self.code));
        }
        if !self.address.is_empty() {
            parts.push(self.address.clone());
        }
        if !self.phone.is_empty() {
            parts.push(format!("{} {}", t("pdf.phone"), self.phone));
        }
        parts.join(" · ")
    }
}

/// What is drawn, in millimetres from the page's top-left corner.
#[derive(Debug, Clone)]
enum Item {
    /// `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    /// A filled black box (barcode bars).
    Fill { x: f32, y: f32, w: f32, h: f32 },
    /// A horizontal rule.
    Rule { x: f32, y: f32, w: f32, pt: f32 },
    /// The letterhead logo.
    Logo { x: f32, y: f32, w: f32, h: f32 },
}

/// A document being laid out.
pub struct Document {
    size: PageSize,
    title: String,
    pages: Vec<Vec<Item>>,
    /// The cursor, from the top of the current page.
    y: f32,
    /// Lowest point reached on any page (the roll's length).
    lowest: f32,
    page_label: Option<String>,
    logo: Option<image::Logo>,
}

impl Document {
    pub fn new(size: PageSize, title: &str) -> Self {
        Self {
            size,
            title: font::clean(title),
            pages: vec![Vec::new()],
            y: size.margin_mm(),
            lowest: 0.0,
            page_label: None,
            logo: None,
        }
    }

    /// A footer on every page from `template`, where `{n}` is the page and `{m}` the count
    /// ("Page {n} of {m}").
    pub fn page_numbers(mut self, template: &str) -> Self {
        self.page_label = Some(template.to_string());
        self
    }

    pub fn size(&self) -> PageSize {
        self.size
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Left edge of the content.
    pub fn left(&self) -> f32 {
        self.size.margin_mm()
    }

    pub fn content_width(&self) -> f32 {
        self.size.width_mm() - 2.0 * self.size.margin_mm()
    }

    /// Where the cursor is, from the top of the page.
    pub fn cursor(&self) -> f32 {
        self.y
    }

    /// Lowest point content may reach on a page (`None` on the roll).
    fn bottom(&self) -> Option<f32> {
        let footer = if self.page_label.is_some() {
            Style::Small.size_pt(self.size) * MM_PER_PT * 2.5
        } else {
            0.0
        };
        self.size
            .height_mm()
            .map(|h| h - self.size.margin_mm() - footer)
    }

    /// Starts a new page.
    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = self.size.margin_mm();
    }

    /// Makes room for `h` mm, starting a page when the rest of this one is too short (unless the
    /// page is still empty: what does not fit on an empty page goes on it anyway).
    fn room(&mut self, h: f32) -> bool {
        let fresh = self.pages.last().is_none_or(|p| p.is_empty());
        if let Some(bottom) = self.bottom() {
            if self.y + h > bottom && !fresh {
                self.new_page();
                return true;
            }
        }
        false
    }

    fn push(&mut self, item: Item) {
        let low = match &item {
            Item::Text { y, size, .. } => y + size * MM_PER_PT * 0.3,
            Item::Fill { y, h, .. } | Item::Logo { y, h, .. } => y + h,
            Item::Rule { y, .. } => *y,
        };
        self.lowest = self.lowest.max(low);
        self.pages.last_mut().expect("a page").push(item);
    }

    /// Height of one line of `style`, mm.
    pub fn line_mm(&self, style: Style) -> f32 {
        style.size_pt(self.size) * MM_PER_PT * 1.3
    }

    /// One line of text at a place (`y` its top), shortened with "…" to `width` mm.
    pub fn text_at(&mut self, x: f32, y: f32, width: f32, style: Style, text: &str) {
        let size = style.size_pt(self.size);
        let text = font::fit(style.bold(), text, size, width / MM_PER_PT);
        if !text.is_empty() {
            self.push(Item::Text {
                x,
                y: y + size * MM_PER_PT,
                size,
                bold: style.bold(),
                text,
            });
        }
    }

    /// Text wrapped to the content width, continuing on the next page when needed.
    pub fn text(&mut self, style: Style, text: &str) {
        let size = style.size_pt(self.size);
        let lh = self.line_mm(style);
        for line in font::wrap(style.bold(), text, size, self.content_width() / MM_PER_PT) {
            self.room(lh);
            let (x, y) = (self.left(), self.y);
            if !line.is_empty() {
                self.push(Item::Text {
                    x,
                    y: y + size * MM_PER_PT,
                    size,
                    bold: style.bold(),
                    text: line,
                });
            }
            self.y += lh;
        }
    }

    pub fn heading(&mut self, text: &str) {
        self.space(self.line_mm(Style::Body) * 0.4);
        // A heading never ends a page alone.
        self.room(self.line_mm(Style::Heading) + 2.0 * self.line_mm(Style::Body));
        self.text(Style::Heading, text);
    }

    pub fn paragraph(&mut self, text: &str) {
        self.text(Style::Body, text);
        self.space(self.line_mm(Style::Body) * 0.4);
    }

    /// Label and value pairs, one per line ("Sex: Female").
    pub fn fields(&mut self, pairs: &[(&str, &str)]) {
        for (label, value) in pairs {
            self.text(Style::Body, &format!("{label}: {value}"));
        }
    }

    /// Starts a new page unless a block `h` mm high fits below the cursor.
    pub fn keep_together(&mut self, h: f32) {
        self.room(h);
    }

    pub fn space(&mut self, mm: f32) {
        self.y += mm;
    }

    /// A thin line across the content.
    pub fn rule(&mut self) {
        let (x, y, w) = (self.left(), self.y, self.content_width());
        self.push(Item::Rule { x, y, w, pt: 0.5 });
        self.y += 1.5;
    }

    /// The facility's name, logo, KMHFL code, address and phone, then a rule.
    pub fn letterhead(&mut self, head: &Letterhead) {
        let top = self.y;
        let mut x = self.left();
        let logo_h = self.line_mm(Style::Heading) + self.line_mm(Style::Small);
        if let Some(logo) = head.logo.as_deref().and_then(image::logo) {
            if self.size != PageSize::Label50x25 {
                let w = logo_h * logo.width as f32 / logo.height.max(1) as f32;
                let w = w.min(self.content_width() / 3.0);
                self.push(Item::Logo {
                    x,
                    y: top,
                    w,
                    h: logo_h,
                });
                self.logo = Some(logo);
                x += w + 3.0;
            }
        }
        let width = self.left() + self.content_width() - x;
        let name = if head.name.is_empty() {
            "HMS"
        } else {
            &head.name
        };
        self.text_at(x, top, width, Style::Heading, name);
        let details = head.details();
        self.text_at(
            x,
            top + self.line_mm(Style::Heading),
            width,
            Style::Small,
            &details,
        );
        self.y = top + logo_h + 1.0;
        self.rule();
        self.space(1.0);
    }

    /// A Code 128 barcode of `text` in the box (`x`, `y` its top-left; mm). Each module is a
    /// whole number of 203 dpi dots (at least one), as wide as the box allows, at most three.
    /// `false` when `text` cannot be encoded (nothing is drawn).
    pub fn barcode_at(&mut self, x: f32, y: f32, width: f32, height: f32, text: &str) -> bool {
        let (Some(bars), Some(total)) = (barcode::bars(text), barcode::total_modules(text)) else {
            return false;
        };
        let dots = (width / (total as f32 * DOT_MM)).floor().clamp(1.0, 3.0);
        let module = dots * DOT_MM;
        for (start, w) in bars {
            self.push(Item::Fill {
                x: x + start as f32 * module,
                y,
                w: w as f32 * module,
                h: height,
            });
        }
        true
    }

    /// A QR code of `text` in a square of `size` mm (`x`, `y` its top-left), with no quiet zone
    /// of its own: leave 4 modules of white around it. `false` when `text` is too long.
    pub fn qr_at(&mut self, x: f32, y: f32, size: f32, text: &str) -> bool {
        let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
            return false;
        };
        let width = code.width();
        let module = size / width as f32;
        for (i, colour) in code.to_colors().iter().enumerate() {
            if *colour == qrcode::Color::Dark {
                self.push(Item::Fill {
                    x: x + (i % width) as f32 * module,
                    y: y + (i / width) as f32 * module,
                    w: module,
                    h: module,
                });
            }
        }
        true
    }

    /// A barcode across the content at the cursor.
    pub fn barcode(&mut self, text: &str, height: f32) -> bool {
        self.room(height);
        let (x, y, w) = (self.left(), self.y, self.content_width());
        let drawn = self.barcode_at(x, y, w, height, text);
        if drawn {
            self.y += height + 1.5;
        }
        drawn
    }

    /// The PDF file.
    pub fn finish(self) -> Vec<u8> {
        render::pdf(self)
    }
}

#[cfg(test)]
mod tests;
