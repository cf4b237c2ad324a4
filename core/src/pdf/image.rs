//! The facility logo placed in a PDF without decoding it: a JPEG goes in as it is (DCTDecode),
//! a plain PNG (8-bit grey or RGB, not interlaced) as its compressed pixel rows with the PNG
//! predictors PDF readers understand. Other images (transparency, palettes) are left out of the
//! letterhead rather than pulling an image decoder into the build.

use std::collections::BTreeMap;

use printpdf::{DictItem, ExternalStream, ExternalXObject, Px};

/// A logo ready to place: its object and its size in pixels.
#[derive(Debug, Clone)]
pub(crate) struct Logo {
    pub xobject: ExternalXObject,
    pub width: u32,
    pub height: u32,
}

fn name(s: &str) -> DictItem {
    DictItem::Name(s.as_bytes().to_vec())
}

fn colour_space(components: u8) -> Option<DictItem> {
    match components {
        1 => Some(name("DeviceGray")),
        3 => Some(name("DeviceRGB")),
        _ => None,
    }
}

fn object(width: u32, height: u32, mut dict: BTreeMap<String, DictItem>, content: Vec<u8>) -> Logo {
    dict.insert("Type".into(), name("XObject"));
    dict.insert("Subtype".into(), name("Image"));
    dict.insert("Width".into(), DictItem::Int(i64::from(width)));
    dict.insert("Height".into(), DictItem::Int(i64::from(height)));
    dict.insert("BitsPerComponent".into(), DictItem::Int(8));
    Logo {
        xobject: ExternalXObject {
            stream: ExternalStream {
                dict,
                content,
                compress: false,
            },
            width: Some(Px(width as usize)),
            height: Some(Px(height as usize)),
            dpi: None,
        },
        width,
        height,
    }
}

/// The logo, if it is an image kind that can go in as it is.
pub(crate) fn logo(data: &[u8]) -> Option<Logo> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(data)
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(data)
    } else {
        None
    }
}

fn jpeg(data: &[u8]) -> Option<Logo> {
    let mut i = 2;
    while i + 9 < data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        // Start-of-frame markers (not DHT C4, JPG C8, DAC CC) carry the size.
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let height = u32::from(u16::from_be_bytes([data[i + 5], data[i + 6]]));
            let width = u32::from(u16::from_be_bytes([data[i + 7], data[i + 8]]));
            let mut dict = BTreeMap::new();
            dict.insert("ColorSpace".into(), colour_space(data[i + 9])?);
            dict.insert("Filter".into(), name("DCTDecode"));
            return (width > 0 && height > 0).then(|| object(width, height, dict, data.to_vec()));
        }
        i += 2 + len;
    }
    None
}

fn png(data: &[u8]) -> Option<Logo> {
    let mut i = 8;
    let (mut width, mut height, mut components) = (0, 0, 0);
    let mut idat = Vec::new();
    while i + 8 <= data.len() {
        let len = u32::from_be_bytes(data[i..i + 4].try_into().ok()?) as usize;
        let kind = &data[i + 4..i + 8];
        let body = data.get(i + 8..i + 8 + len)?;
        match kind {
            b"IHDR" if len >= 13 => {
                width = u32::from_be_bytes(body[0..4].try_into().ok()?);
                height = u32::from_be_bytes(body[4..8].try_into().ok()?);
                let (depth, colour, interlace) = (body[8], body[9], body[12]);
                if depth != 8 || interlace != 0 {
                    return None;
                }
                components = match colour {
                    0 => 1,
                    2 => 3,
                    _ => return None,
                };
            }
            b"IDAT" => idat.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        i += 12 + len;
    }
    if width == 0 || height == 0 || idat.is_empty() {
        return None;
    }
    let mut parms = BTreeMap::new();
    parms.insert("Predictor".into(), DictItem::Int(15));
    parms.insert("Colors".into(), DictItem::Int(components));
    parms.insert("BitsPerComponent".into(), DictItem::Int(8));
    parms.insert("Columns".into(), DictItem::Int(i64::from(width)));
    let mut dict = BTreeMap::new();
    dict.insert("ColorSpace".into(), colour_space(components as u8)?);
    dict.insert("Filter".into(), name("FlateDecode"));
    dict.insert("DecodeParms".into(), DictItem::Dict { map: parms });
    Some(object(width, height, dict, idat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sizes_are_read_from_headers_and_other_kinds_refused() {
        // A JPEG: SOI, an APP0 segment, then SOF0 for 3 x 2 RGB.
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x02, 0x00, 0x03, 0x03]);
        j.extend_from_slice(&[0; 16]);
        let l = logo(&j).unwrap();
        assert_eq!((l.width, l.height), (3, 2));
        // A PNG header with RGBA (colour type 6): left out.
        let mut p = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        p.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 4, 8, 6, 0, 0, 0, 0, 0, 0, 0]);
        assert!(logo(&p).is_none());
        assert!(logo(b"GIF89a....").is_none());
    }
}
