//! Kenyan phone numbers. Mobile national numbers are 9 digits (7xx xxxxxx, or 1xx xxxxxx in the
//! newer ranges 100-108, 110-117, 120, 121, 124 and 130), written 07.., 01.., +2547.., +2541..
//! or without the leading 0
//! (ITU numbering as carried in libphonenumber's Kenya metadata). Stored as +254 and 9 digits.

/// Normalises a Kenyan mobile number to `+254XXXXXXXXX`, or explains what is wrong (in the
/// request's language).
pub fn normalize_mobile(raw: &str) -> Result<String, String> {
    mobile(raw).map_err(crate::i18n::t)
}

/// The check itself: the stored form, or the catalogue key of what is wrong.
fn mobile(raw: &str) -> Result<String, &'static str> {
    const MESSAGE: &str = "phone.format";
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
        return Err("phone.not_mobile");
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
    use rand::RngExt;

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

    /// A valid 9-digit national mobile number, drawn at random from the 7xx and 1xx ranges.
    fn random_national(rng: &mut impl RngExt) -> String {
        const ONES: &[&str] = &[
            "100", "101", "102", "103", "104", "105", "106", "107", "108", "110", "111", "112",
            "113", "114", "115", "116", "117", "120", "121", "124", "130",
        ];
        let prefix = if rng.random_bool(0.7) {
            format!("7{:02}", rng.random_range(0..100))
        } else {
            ONES[rng.random_range(0..ONES.len())].to_string()
        };
        format!("{prefix}{:06}", rng.random_range(0..1_000_000))
    }

    /// Writes `digits` the way people do: groups split by spaces, dashes or nothing.
    fn scatter(digits: &str, rng: &mut impl RngExt) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && rng.random_bool(0.25) {
                out.push([' ', '-', ' '][rng.random_range(0..3)]);
            }
            out.push(c);
        }
        out
    }

    /// Property: every way of writing the same number (0.., +254.., 254.., bare 9 digits, with
    /// any grouping) normalises to one stored form, which shows and normalises back to itself.
    #[test]
    fn every_format_of_a_number_normalises_to_the_same_stored_form() {
        let mut rng = rand::rng();
        for _ in 0..5_000 {
            let national = random_national(&mut rng);
            let stored = format!("+254{national}");
            for written in [
                format!("0{national}"),
                format!("+254{national}"),
                format!("254{national}"),
                national.clone(),
            ] {
                let typed = scatter(&written, &mut rng);
                assert_eq!(
                    normalize_mobile(&typed).as_deref(),
                    Ok(stored.as_str()),
                    "{typed}"
                );
            }
            assert_eq!(
                normalize_mobile(&display(&stored)).as_deref(),
                Ok(stored.as_str())
            );
            assert_eq!(display(&stored).len(), 12, "0XXX XXX XXX");
        }
    }

    /// Property: a digit more or less, or a letter anywhere, is always refused.
    #[test]
    fn a_digit_too_many_or_too_few_or_a_letter_is_always_refused() {
        let mut rng = rand::rng();
        for _ in 0..5_000 {
            let national = random_national(&mut rng);
            let longer = format!("0{national}{}", rng.random_range(0..10));
            let shorter = format!("+254{}", &national[..8]);
            let at = rng.random_range(1..national.len());
            let lettered = format!("0{}x{}", &national[..at], &national[at + 1..]);
            for bad in [longer, shorter, lettered] {
                assert!(normalize_mobile(&bad).is_err(), "{bad}");
            }
        }
    }
}
