//! Time as stored (UTC) and as shown (Africa/Nairobi, UTC+3 all year, no daylight saving).

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, the storage form for times compared in SQL.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// RFC 3339 UTC text with milliseconds, the storage form for times people read.
pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whole minutes from a stored RFC 3339 time to `now` (0 when unreadable or in the future):
/// how long a patient has waited.
pub fn minutes_since(at: &str, now: DateTime<Utc>) -> i64 {
    DateTime::parse_from_rfc3339(at)
        .map(|t| (now - t.with_timezone(&Utc)).num_minutes().max(0))
        .unwrap_or(0)
}

pub fn nairobi() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600).expect("UTC+3 is a valid offset")
}

/// Local time in Nairobi for display.
pub fn to_local(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&nairobi())
}

/// Epoch milliseconds as Nairobi time for people: `25 Nov 2026, 20:31`.
pub fn display_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| local_text(to_local(t)))
        .unwrap_or_default()
}

/// `25 Nov 2026, 20:31`, the month in the request's language.
fn local_text(t: DateTime<FixedOffset>) -> String {
    format!(
        "{}, {}",
        crate::dates::show(t.date_naive()),
        t.format("%H:%M")
    )
}

/// Stored RFC 3339 UTC text as Nairobi time for people.
pub fn display_rfc3339(text: &str) -> String {
    DateTime::parse_from_rfc3339(text)
        .map(|t| local_text(to_local(t.with_timezone(&Utc))))
        .unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_shown_in_nairobi() {
        assert_eq!(
            super::display_rfc3339("2026-11-25T17:31:00.000Z"),
            "25 Nov 2026, 20:31"
        );
        assert_eq!(super::display_ms(0), "01 Jan 1970, 03:00");
    }
}
