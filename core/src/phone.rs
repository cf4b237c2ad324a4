//! Kenyan phone numbers. Mobile national numbers are 9 digits (7xx xxxxxx, or 1xx xxxxxx in the
//! newer ranges 100-108, 110-117, 120, 121, 124 and 130), written 07.., 01.., +2547.., +2541..
//! or without the leading 0
//! (ITU numbering as carried in libphonenumber's Kenya metadata). Stored as +254 and 9 digits.

/// Normalises a Kenyan mobile number to `+254XXXXXXXXX`, or explains what is wrong.
pub fn normalize_mobile(raw: &str) -> Result<String, &'static str> {
    const MESSAGE: &str = "Phone must look like 0712 345 678 or +254 712 345 678.";
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let national = if let Some(rest) = compact.strip_prefix("+254") {
        rest
    } else if let Some(rest) = compact.strip_prefix("254") {
        rest
    } else if let Some(rest) = compact.strip_prefix('0') {
        rest
    } else if compact.len() == 9 {
        // Written without the leading 0, as people often do: 712 345 678.
        compact.as_str()
    } else {
        return Err(MESSAGE);
    };
    if national.len() != 9 || !national.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MESSAGE);
    }
    let d = national.as_bytes();
    let valid = match d[0] {
        b'7' => true,
        b'1' => matches!(
            (d[1], d[2]),
            (b'0', b'0'..=b'8') | (b'1', b'0'..=b'7') | (b'2', b'0' | b'1' | b'4') | (b'3', b'0')
        ),
        _ => false,
    };
    if !valid {
        return Err("This is not a Kenyan mobile number (they start 07 or 01).");
    }
    Ok(format!("+254{national}"))
}

/// `+254712345678` shown as `0712 345 678`.
pub fn display(stored: &str) -> String {
    match stored.strip_prefix("+254") {
        Some(n) if n.len() == 9 => format!("0{} {} {}", &n[..3], &n[3..6], &n[6..]),
        _ => stored.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ways_of_writing_a_number_are_accepted() {
        for raw in [
            "0712 345 678",
            "+254712345678",
            "254712345678",
            "0712-345-678",
            "0110 123 456",
        ] {
            assert!(normalize_mobile(raw).is_ok(), "{raw}");
        }
        assert_eq!(normalize_mobile("0712 345 678").unwrap(), "+254712345678");
        assert_eq!(display("+254712345678"), "0712 345 678");
    }

    #[test]
    fn wrong_numbers_are_refused() {
        for raw in [
            "0812 345 678",
            "071234567",
            "07123456789",
            "0190 123 456",
            "hello",
            "",
        ] {
            assert!(normalize_mobile(raw).is_err(), "{raw}");
        }
    }
}
