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

pub fn nairobi() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600).expect("UTC+3 is a valid offset")
}

/// Local time in Nairobi for display.
pub fn to_local(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&nairobi())
}
