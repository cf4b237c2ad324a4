//! Money: whole cents of Kenya shillings in an integer, never a float. Stored as an integer on
//! both databases, shown to people as `KES 1,250.00`, read from forms as `1250`, `1,250.5` or
//! `1250.50`.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, Type};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

/// Why typed money was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not an amount of shillings")]
    Unreadable,
    #[error("more than two decimal places")]
    TooPrecise,
    #[error("amount too large")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    pub fn from_shillings(shillings: i64) -> Self {
        Self(shillings.saturating_mul(100))
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// An amount typed by a person: digits with optional thousands commas and up to two
    /// decimals, optionally led by `KES`/`Ksh`. Negative amounts are refused (a refund is its
    /// own act).
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let t = text.trim();
        let t = ["KES", "Kes", "kes", "KSh", "Ksh", "ksh"]
            .iter()
            .find_map(|p| t.strip_prefix(p))
            .unwrap_or(t)
            .trim();
        let digits: String = t.chars().filter(|c| *c != ',').collect();
        let (whole, fraction) = digits.split_once('.').unwrap_or((&digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(MoneyError::Unreadable);
        }
        if fraction.len() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let whole: i64 = whole.parse().map_err(|_| MoneyError::TooLarge)?;
        let cents: i64 = format!("{fraction:0<2}").parse().unwrap_or(0);
        whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(cents))
            .map(Self)
            .ok_or(MoneyError::TooLarge)
    }

    /// `1250.00`: for a form's value attribute.
    pub fn plain(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    /// `KES 1,250.00`, `KES -300.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "KES {sign}{grouped}.{:02}", abs % 100)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, other: Money) {
        self.0 += other.0;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        Money(self.0 - other.0)
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Mul<i64> for Money {
    type Output = Money;
    fn mul(self, quantity: i64) -> Money {
        Money(self.0 * quantity)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

impl Type<Any> for Money {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Any> for Money {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, Any>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Any> for Money {
    fn decode(value: <Any as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        <i64 as Decode<'r, Any>>::decode(value).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_shows_with_thousands_and_cents() {
        assert_eq!(Money::from_cents(125_000).to_string(), "KES 1,250.00");
        assert_eq!(Money::from_cents(5).to_string(), "KES 0.05");
        assert_eq!(Money::from_cents(-30_000).to_string(), "KES -300.00");
        assert_eq!(
            Money::from_cents(12_345_678_901).to_string(),
            "KES 123,456,789.01"
        );
        assert_eq!(Money::from_cents(100_000).to_string(), "KES 1,000.00");
        assert_eq!(Money::from_cents(99_900).to_string(), "KES 999.00");
        assert_eq!(Money::from_cents(125_050).plain(), "1250.50");
    }

    #[test]
    fn money_reads_what_people_type() {
        assert_eq!(Money::parse("1250"), Ok(Money::from_cents(125_000)));
        assert_eq!(Money::parse("1,250.5"), Ok(Money::from_cents(125_050)));
        assert_eq!(
            Money::parse(" KES 1,250.05 "),
            Ok(Money::from_cents(125_005))
        );
        assert_eq!(Money::parse("0.5"), Ok(Money::from_cents(50)));
        assert_eq!(Money::parse("12.345"), Err(MoneyError::TooPrecise));
        for bad in ["", "-5", "1e3", "12.3.4", "abc", ".5", "1 000"] {
            assert_eq!(Money::parse(bad), Err(MoneyError::Unreadable), "{bad}");
        }
        assert_eq!(
            Money::parse("99999999999999999999"),
            Err(MoneyError::TooLarge)
        );
        let a = Money::from_shillings(3);
        assert_eq!(a * 2 - Money::from_cents(50), Money::from_cents(550));
        assert_eq!([a, a].into_iter().sum::<Money>(), Money::from_shillings(6));
    }
}
