//! Stock movements other than dispensing: receipts from suppliers, adjustments with a reason
//! (and the write-off of expired stock), transfers between stores (optionally against a
//! requisition) and stock takes, each posting through [`crate::stock::post`].

use hms_core::module_config::{Setting, SettingKind};

/// A batch expiring sooner than this after receipt needs the receiver's confirmation.
pub const SHORT_EXPIRY_DAYS: Setting = Setting {
    key: "short_expiry_days",
    description: "A received batch expiring within this many days needs confirmation",
    kind: SettingKind::Integer {
        default: 90,
        min: 0,
        max: 730,
    },
};

pub const SETTINGS: &[Setting] = &[SHORT_EXPIRY_DAYS];
