//! The embedded fonts: DejaVu Sans and Sans Bold, cut to Latin, Latin-1, Latin Extended-A and -B
//! and general punctuation (`core/fonts/`, licence beside them), so every name prints as typed
//! (`Wanjirũ`, `Mũthoni`, `Peña`, `Zoë`) without carrying the whole font in every document.
//! Each is parsed once per process; measuring text uses the same advance widths the PDF carries.

use std::sync::OnceLock;

use printpdf::ParsedFont;

const REGULAR: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");

fn parse(bytes: &'static [u8]) -> ParsedFont {
    // The fonts are part of the build: a font that does not parse is a broken build.
    ParsedFont::from_bytes(bytes, 0, &mut Vec::new()).expect("embedded font parses")
}

pub(crate) fn face(bold: bool) -> &'static ParsedFont {
    static REGULAR_FACE: OnceLock<ParsedFont> = OnceLock::new();
    static BOLD_FACE: OnceLock<ParsedFont> = OnceLock::new();
    if bold {
        BOLD_FACE.get_or_init(|| parse(BOLD))
    } else {
        REGULAR_FACE.get_or_init(|| parse(REGULAR))
    }
}

/// Whether the font has a glyph for `c` (otherwise it prints as an empty box).
pub fn covers(c: char) -> bool {
    face(false).lookup_glyph_index(u32::from(c)).is_some()
}

/// Width of `text` in points at `size` points.
pub(crate) fn width_pt(bold: bool, text: &str, size: f32) -> f32 {
    let f = face(bold);
    let units: u32 = text
        .chars()
        .map(|c| {
            let gid = f.lookup_glyph_index(u32::from(c)).unwrap_or(0);
            u32::from(f.get_glyph_width(gid).unwrap_or(0))
        })
        .sum();
    units as f32 * size / f32::from(f.units_per_em.max(1))
}

/// Control characters never reach the page (they would print as boxes or break lines).
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` broken into lines no wider than `max_pt`: at spaces where possible, inside a word only
/// when the word alone is wider than a line. Line breaks in `text` are kept.
pub(crate) fn wrap(bold: bool, text: &str, size: f32, max_pt: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in clean(para).split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if width_pt(bold, &candidate, size) <= max_pt {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: split it where it overflows.
            for c in word.chars() {
                line.push(c);
                if width_pt(bold, &line, size) > max_pt && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// `text` on one line no wider than `max_pt`, shortened with "…" when it does not fit.
pub(crate) fn fit(bold: bool, text: &str, size: f32, max_pt: f32) -> String {
    let text = clean(text);
    if width_pt(bold, &text, size) <= max_pt {
        return text;
    }
    let mut out: String = text.clone();
    while !out.is_empty() {
        out.pop();
        let candidate = format!("{}…", out.trim_end());
        if width_pt(bold, &candidate, size) <= max_pt {
            return candidate;
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_every_latin_script_have_glyphs() {
        for name in [
            "Wanjirũ Mũthoni",
            "Kĩmani",
            "Peña",
            "Zoë Hélène",
            "Cabdulaahi Ḥ",
            "Ŋ ŋ",
        ] {
            for c in name.chars().filter(|c| *c != 'Ḥ') {
                assert!(covers(c), "{c:?} in {name}");
            }
        }
        assert!(covers('…') && covers('–') && covers('·'));
    }

    #[test]
    fn measuring_and_wrapping() {
        let w = width_pt(false, "MMMM", 10.0);
        assert!(w > 30.0 && w < 40.0, "{w}");
        assert!(width_pt(true, "MMMM", 10.0) > w, "bold is wider");
        let lines = wrap(false, "opened the chart of the patient", 10.0, 60.0);
        assert!(lines.len() >= 2, "{lines:?}");
        assert!(lines.iter().all(|l| width_pt(false, l, 10.0) <= 60.0));
        assert_eq!(lines.join(" "), "opened the chart of the patient");
        // A word longer than a line is split, nothing is lost.
        let long = wrap(false, "P-26-0000000000000042", 10.0, 30.0);
        assert!(long.len() > 1);
        assert_eq!(long.concat(), "P-26-0000000000000042");
        assert_eq!(wrap(false, "a\nb", 10.0, 100.0), ["a", "b"]);
        let cut = fit(true, "Wanjirũ Mũthoni Kamau Njoroge", 10.0, 60.0);
        assert!(
            cut.ends_with('…') && width_pt(true, &cut, 10.0) <= 60.0,
            "{cut}"
        );
        assert_eq!(fit(false, "Ok\u{7}", 10.0, 100.0), "Ok ");
    }
}
