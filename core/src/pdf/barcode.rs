//! Code 128 barcodes (of patient numbers, later of specimens and invoices), as inline SVG for
//! print pages and as bars for PDF documents. A USB barcode scanner at the desk reads them as
//! if the number were typed, so a returning patient's card finds the chart without typing.
//!
//! Only code set B is used (printable ASCII, one symbol per character): numbers such as
//! "P-26-00042" are short, and one code set keeps the encoder small and easy to check.

/// Widths of the bar, space, bar, space, bar, space (in modules) of each symbol value 0 to 105,
/// from the Code 128 standard (ISO/IEC 15417). Every symbol is 11 modules wide.
const PATTERNS: [[u8; 6]; 106] = [
    [2, 1, 2, 2, 2, 2], // 0
    [2, 2, 2, 1, 2, 2],
    [2, 2, 2, 2, 2, 1],
    [1, 2, 1, 2, 2, 3],
    [1, 2, 1, 3, 2, 2],
    [1, 3, 1, 2, 2, 2],
    [1, 2, 2, 2, 1, 3],
    [1, 2, 2, 3, 1, 2],
    [1, 3, 2, 2, 1, 2],
    [2, 2, 1, 2, 1, 3],
    [2, 2, 1, 3, 1, 2], // 10
    [2, 3, 1, 2, 1, 2],
    [1, 1, 2, 2, 3, 2],
    [1, 2, 2, 1, 3, 2],
    [1, 2, 2, 2, 3, 1],
    [1, 1, 3, 2, 2, 2],
    [1, 2, 3, 1, 2, 2],
    [1, 2, 3, 2, 2, 1],
    [2, 2, 3, 2, 1, 1],
    [2, 2, 1, 1, 3, 2],
    [2, 2, 1, 2, 3, 1], // 20
    [2, 1, 3, 2, 1, 2],
    [2, 2, 3, 1, 1, 2],
    [3, 1, 2, 1, 3, 1],
    [3, 1, 1, 2, 2, 2],
    [3, 2, 1, 1, 2, 2],
    [3, 2, 1, 2, 2, 1],
    [3, 1, 2, 2, 1, 2],
    [3, 2, 2, 1, 1, 2],
    [3, 2, 2, 2, 1, 1],
    [2, 1, 2, 1, 2, 3], // 30
    [2, 1, 2, 3, 2, 1],
    [2, 3, 2, 1, 2, 1],
    [1, 1, 1, 3, 2, 3],
    [1, 3, 1, 1, 2, 3],
    [1, 3, 1, 3, 2, 1],
    [1, 1, 2, 3, 1, 3],
    [1, 3, 2, 1, 1, 3],
    [1, 3, 2, 3, 1, 1],
    [2, 1, 1, 3, 1, 3],
    [2, 3, 1, 1, 1, 3], // 40
    [2, 3, 1, 3, 1, 1],
    [1, 1, 2, 1, 3, 3],
    [1, 1, 2, 3, 3, 1],
    [1, 3, 2, 1, 3, 1],
    [1, 1, 3, 1, 2, 3],
    [1, 1, 3, 3, 2, 1],
    [1, 3, 3, 1, 2, 1],
    [3, 1, 3, 1, 2, 1],
    [2, 1, 1, 3, 3, 1],
    [2, 3, 1, 1, 3, 1], // 50
    [2, 1, 3, 1, 1, 3],
    [2, 1, 3, 3, 1, 1],
    [2, 1, 3, 1, 3, 1],
    [3, 1, 1, 1, 2, 3],
    [3, 1, 1, 3, 2, 1],
    [3, 3, 1, 1, 2, 1],
    [3, 1, 2, 1, 1, 3],
    [3, 1, 2, 3, 1, 1],
    [3, 3, 2, 1, 1, 1],
    [3, 1, 4, 1, 1, 1], // 60
    [2, 2, 1, 4, 1, 1],
    [4, 3, 1, 1, 1, 1],
    [1, 1, 1, 2, 2, 4],
    [1, 1, 1, 4, 2, 2],
    [1, 2, 1, 1, 2, 4],
    [1, 2, 1, 4, 2, 1],
    [1, 4, 1, 1, 2, 2],
    [1, 4, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 4],
    [1, 1, 2, 4, 1, 2], // 70
    [1, 2, 2, 1, 1, 4],
    [1, 2, 2, 4, 1, 1],
    [1, 4, 2, 1, 1, 2],
    [1, 4, 2, 2, 1, 1],
    [2, 4, 1, 2, 1, 1],
    [2, 2, 1, 1, 1, 4],
    [4, 1, 3, 1, 1, 1],
    [2, 4, 1, 1, 1, 2],
    [1, 3, 4, 1, 1, 1],
    [1, 1, 1, 2, 4, 2], // 80
    [1, 2, 1, 1, 4, 2],
    [1, 2, 1, 2, 4, 1],
    [1, 1, 4, 2, 1, 2],
    [1, 2, 4, 1, 1, 2],
    [1, 2, 4, 2, 1, 1],
    [4, 1, 1, 2, 1, 2],
    [4, 2, 1, 1, 1, 2],
    [4, 2, 1, 2, 1, 1],
    [2, 1, 2, 1, 4, 1],
    [2, 1, 4, 1, 2, 1], // 90
    [4, 1, 2, 1, 2, 1],
    [1, 1, 1, 1, 4, 3],
    [1, 1, 1, 3, 4, 1],
    [1, 3, 1, 1, 4, 1],
    [1, 1, 4, 1, 1, 3],
    [1, 1, 4, 3, 1, 1],
    [4, 1, 1, 1, 1, 3],
    [4, 1, 1, 3, 1, 1],
    [1, 1, 3, 1, 4, 1],
    [1, 1, 4, 1, 3, 1], // 100
    [3, 1, 1, 1, 4, 1],
    [4, 1, 1, 1, 3, 1],
    [2, 1, 1, 4, 1, 2], // 103: start A
    [2, 1, 1, 2, 1, 4], // 104: start B
    [2, 1, 1, 2, 3, 2], // 105: start C
];

/// The stop symbol (value 106) with its final 2-module bar: 13 modules.
const STOP: [u8; 7] = [2, 3, 3, 1, 1, 1, 2];

const START_B: u8 = 104;

/// Blank modules on each side; scanners need at least 10 to find where the code begins.
pub const QUIET_ZONE: u32 = 10;

/// Bar height in modules, in the SVG's own units (CSS sets the printed size).
const HEIGHT: u32 = 50;

/// The symbol values of `text` in code set B: start B, one value per character, then the check
/// value. `None` when a character is outside printable ASCII (code set B has no symbol for it).
pub fn symbols(text: &str) -> Option<Vec<u8>> {
    let mut values = vec![START_B];
    for b in text.bytes() {
        if !(32..=126).contains(&b) {
            return None;
        }
        values.push(b - 32);
    }
    values.push(check_value(&values));
    Some(values)
}

/// The check value: the start value plus each data value times its position (from 1),
/// modulo 103.
fn check_value(start_and_data: &[u8]) -> u8 {
    let sum: usize = start_and_data
        .iter()
        .enumerate()
        .map(|(i, &v)| usize::from(v) * i.max(1))
        .sum();
    // Below 103, so it fits.
    (sum % 103) as u8
}

/// Element widths (bar first, alternating with spaces) of the whole symbol: start, data,
/// check and stop, without the quiet zones.
fn widths(values: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = values
        .iter()
        .flat_map(|&v| PATTERNS[usize::from(v)])
        .collect();
    out.extend_from_slice(&STOP);
    out
}

/// The width in modules of the barcode of `text`, quiet zones included.
pub fn total_modules(text: &str) -> Option<u32> {
    let bars: u32 = widths(&symbols(text)?).iter().map(|&w| u32::from(w)).sum();
    Some(bars + 2 * QUIET_ZONE)
}

/// The bars of the barcode of `text`: (start, width) in modules from the left edge of the quiet
/// zone, for drawing. `None` when `text` is empty or has characters code set B cannot carry.
pub fn bars(text: &str) -> Option<Vec<(u32, u32)>> {
    if text.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    let mut x = QUIET_ZONE;
    for (i, &w) in widths(&symbols(text)?).iter().enumerate() {
        if i % 2 == 0 {
            out.push((x, u32::from(w)));
        }
        x += u32::from(w);
    }
    Some(out)
}

/// The barcode of `text` as an inline SVG element, one `<rect>` per bar, with
/// `role="img"` and `aria-label` set to `label` (escaped). Sized by CSS (class `barcode`):
/// the bars stretch to the width and height the stylesheet gives. `None` when `text` is empty
/// or has characters code set B cannot carry.
pub fn svg(text: &str, label: &str) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let total = total_modules(text)?;
    let mut rects = String::new();
    for (x, w) in bars(text)? {
        rects.push_str(&format!(
            "<rect x=\"{x}\" y=\"0\" width=\"{w}\" height=\"{HEIGHT}\"/>"
        ));
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"barcode\" role=\"img\" \
         aria-label=\"{}\" viewBox=\"0 0 {total} {HEIGHT}\" preserveAspectRatio=\"none\" \
         shape-rendering=\"crispEdges\"><rect class=\"barcode-quiet\" x=\"0\" y=\"0\" \
         width=\"{total}\" height=\"{HEIGHT}\" fill=\"#fff\"/><g fill=\"#000\">{rects}</g></svg>",
        escape(label)
    ))
}

/// Escapes text for an XML attribute value.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_is_11_modules_with_even_bars_and_all_differ() {
        for (v, p) in PATTERNS.iter().enumerate() {
            let total: u8 = p.iter().sum();
            assert_eq!(total, 11, "value {v}");
            let bars: u8 = p.iter().step_by(2).sum();
            assert_eq!(bars % 2, 0, "value {v}: bar modules are even (parity)");
            assert!(p.iter().all(|w| (1..=4).contains(w)), "value {v}");
        }
        for (a, pa) in PATTERNS.iter().enumerate() {
            for pb in &PATTERNS[a + 1..] {
                assert_ne!(pa, pb, "value {a} is not unique");
            }
        }
        assert_eq!(STOP.iter().map(|&w| u32::from(w)).sum::<u32>(), 13);
    }

    #[test]
    fn check_value_of_known_inputs() {
        // The textbook example: 104 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5 + 19·6 + 35·7 = 879;
        // 879 mod 103 = 55.
        assert_eq!(
            symbols("PJJ123C").unwrap(),
            [104, 48, 42, 42, 17, 18, 19, 35, 55]
        );
        // A patient number: 104 + 48 + 13·2 + 18·3 + 22·4 + 13·5 + 16·6 + 16·7 + 16·8 + 20·9
        // + 18·10 = 1081; 1081 mod 103 = 51.
        let v = symbols("P-26-00042").unwrap();
        assert_eq!(v.first(), Some(&START_B));
        assert_eq!(&v[1..11], &[48, 13, 18, 22, 13, 16, 16, 16, 20, 18]);
        assert_eq!(v.last(), Some(&51));
        // Only the start: the check is the start value modulo 103.
        assert_eq!(symbols("").unwrap(), [104, 1]);
    }

    #[test]
    fn only_printable_ascii_is_encoded() {
        assert!(symbols("P-26-00042 ~").is_some());
        for bad in ["Zoë", "A\tB", "A\nB", "\u{7f}"] {
            assert!(symbols(bad).is_none(), "{bad:?}");
            assert!(svg(bad, "x").is_none(), "{bad:?}");
        }
        assert!(svg("", "x").is_none(), "nothing to draw");
    }

    #[test]
    fn starts_with_start_b_and_ends_with_the_stop() {
        let w = widths(&symbols("P-26-00042").unwrap());
        assert_eq!(&w[..6], &[2, 1, 1, 2, 1, 4], "start B");
        assert_eq!(&w[w.len() - 7..], &[2, 3, 3, 1, 1, 1, 2], "stop");
        // start + 10 characters + check, 6 elements each, and the 7 of the stop.
        assert_eq!(w.len(), 12 * 6 + 7);
        // Check value 51's pattern just before the stop.
        assert_eq!(&w[w.len() - 13..w.len() - 7], &PATTERNS[51]);
    }

    #[test]
    fn total_width_counts_symbols_stop_and_quiet_zones() {
        // (start + 10 + check) · 11 + stop 13 + 2 · 10 quiet = 132 + 13 + 20.
        assert_eq!(total_modules("P-26-00042"), Some(165));
        assert_eq!(total_modules("A"), Some(3 * 11 + 13 + 20));
    }

    #[test]
    fn svg_draws_each_bar_inside_the_quiet_zones() {
        let s = svg("P-26-00042", "Barcode P-26-00042").unwrap();
        assert!(s.starts_with("<svg "));
        assert!(s.contains("role=\"img\""));
        assert!(s.contains("aria-label=\"Barcode P-26-00042\""));
        assert!(s.contains("viewBox=\"0 0 165 50\""));
        // 3 bars per symbol (12 symbols) + 4 in the stop, plus the white background.
        assert_eq!(s.matches("<rect ").count(), 12 * 3 + 4 + 1);
        assert!(
            s.contains("<rect x=\"10\" y=\"0\" width=\"2\""),
            "first bar after the quiet zone"
        );
        // The last bar (2 modules) ends 10 modules before the right edge.
        assert!(s.contains("<rect x=\"153\" y=\"0\" width=\"2\""), "{s}");
    }

    #[test]
    fn bars_match_the_svg_and_end_before_the_quiet_zone() {
        let b = bars("P-26-00042").unwrap();
        assert_eq!(b.len(), 12 * 3 + 4);
        assert_eq!(b[0], (10, 2));
        assert_eq!(*b.last().unwrap(), (153, 2));
        assert!(bars("").is_none());
        assert!(bars("Wanjirũ").is_none());
    }

    #[test]
    fn the_label_is_escaped() {
        let s = svg("A", "\"><script>&'").unwrap();
        assert!(s.contains("aria-label=\"&quot;&gt;&lt;script&gt;&amp;&#39;\""));
        assert!(!s.contains("<script>"));
    }
}
