//! Reading PDF documents the way a person or a scanner would: text through `pdftotext`, the page
//! count through `pdfinfo`, barcodes through `pdftoppm` at a thermal printer's 203 dpi and
//! `zbarimg` (poppler-utils and zbar-tools).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A scratch folder removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hms-pdf-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Self(dir)
    }

    fn write(&self, bytes: &[u8]) -> PathBuf {
        let file = self.0.join("doc.pdf");
        std::fs::write(&file, bytes).expect("write the PDF");
        file
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .expect("the PDF tools are installed (poppler-utils, zbar-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The document's text as `pdftotext` extracts it (pages end with a form feed).
pub fn text(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let s = Scratch::new();
    let file = s.write(bytes);
    run(Command::new("pdftotext").arg(&file).arg("-"))
}

/// The number of pages (`pdfinfo`).
pub fn pages(bytes: &[u8]) -> usize {
    let s = Scratch::new();
    let file = s.write(bytes);
    run(Command::new("pdfinfo").arg(&file))
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().unwrap()))
        .expect("pdfinfo names the page count")
}

/// The page size in millimetres (`pdfinfo`), rounded.
pub fn page_mm(bytes: &[u8]) -> (u32, u32) {
    let s = Scratch::new();
    let file = s.write(bytes);
    let info = run(Command::new("pdfinfo").arg(&file));
    let line = info
        .lines()
        .find_map(|l| l.strip_prefix("Page size:"))
        .expect("pdfinfo names the page size")
        .to_string();
    let mut n = line
        .split_whitespace()
        .filter_map(|w| w.parse::<f32>().ok());
    let pt = |v: f32| (v * 25.4 / 72.0).round() as u32;
    (pt(n.next().unwrap()), pt(n.next().unwrap()))
}

/// Every barcode a scanner reads on the pages, rendered at 203 dpi.
pub fn barcodes(bytes: &[u8]) -> Vec<String> {
    let s = Scratch::new();
    let file = s.write(bytes);
    let prefix = s.0.join("page");
    let status = Command::new("pdftoppm")
        .args(["-r", "203", "-gray", "-png"])
        .arg(&file)
        .arg(&prefix)
        .status()
        .expect("pdftoppm");
    assert!(status.success());
    let mut found = Vec::new();
    let mut images: Vec<PathBuf> = std::fs::read_dir(&s.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    images.sort();
    for image in images {
        let out = run(Command::new("zbarimg").args(["-q", "--raw"]).arg(&image));
        found.extend(out.lines().filter(|l| !l.is_empty()).map(str::to_string));
    }
    found
}

/// The barcode read in each box of the first page (`x`, `y`, width, height in mm from the
/// top-left corner), one rendering per box: a scanner reports a repeated code once per image.
pub fn barcode_in_each(bytes: &[u8], boxes: &[(f32, f32, f32, f32)]) -> Vec<Option<String>> {
    let s = Scratch::new();
    let file = s.write(bytes);
    let px = |mm: f32| ((mm * 203.0 / 25.4).round() as u32).to_string();
    boxes
        .iter()
        .enumerate()
        .map(|(i, (x, y, w, h))| {
            let out = s.0.join(format!("box{i}"));
            let status = Command::new("pdftoppm")
                .args([
                    "-r",
                    "203",
                    "-gray",
                    "-png",
                    "-singlefile",
                    "-f",
                    "1",
                    "-l",
                    "1",
                ])
                .args(["-x", &px(*x), "-y", &px(*y), "-W", &px(*w), "-H", &px(*h)])
                .arg(&file)
                .arg(&out)
                .status()
                .expect("pdftoppm");
            assert!(status.success());
            let image = out.with_extension("png");
            let read = run(Command::new("zbarimg").args(["-q", "--raw"]).arg(&image));
            read.lines().next().map(str::to_string)
        })
        .collect()
}

/// The images the document places, as `pdfimages -list` lists them: (width, height) in pixels.
pub fn images(bytes: &[u8]) -> Vec<(u32, u32)> {
    let s = Scratch::new();
    let file = s.write(bytes);
    run(Command::new("pdfimages").arg("-list").arg(&file))
        .lines()
        .skip(2)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            Some((cols.get(3)?.parse().ok()?, cols.get(4)?.parse().ok()?))
        })
        .collect()
}
