//! Billing's rules on typed values: amounts, M-Pesa confirmation codes, payment methods, and
//! which scheme pays for a visit.

use hms_core::money::{Money, MoneyError};

/// No single amount at a desk is larger than KES 10,000,000: more is a typing slip.
pub const MAX_AMOUNT: Money = Money::from_cents(1_000_000_000);

/// An amount typed at the desk: positive, whole cents, at most [`MAX_AMOUNT`]; the error is a
/// translation key for the message beside the field.
pub fn amount(text: &str) -> Result<Money, &'static str> {
    amount_up_to(text, MAX_AMOUNT)
}

/// Like [`amount`], with another ceiling (a scheme's remittance settles many bills at once).
pub fn amount_up_to(text: &str, max: Money) -> Result<Money, &'static str> {
    if text.trim().is_empty() {
        return Err("billing.error_amount_missing");
    }
    if text.trim().starts_with('-') {
        return Err("billing.error_amount_positive");
    }
    let money = Money::parse(text).map_err(|e| match e {
        MoneyError::TooPrecise => "billing.error_amount_cents",
        MoneyError::TooLarge => "billing.error_amount_large",
        _ => "billing.error_amount_unreadable",
    })?;
    if money.cents() <= 0 {
        return Err("billing.error_amount_positive");
    }
    if money > max {
        return Err("billing.error_amount_large");
    }
    Ok(money)
}

/// A cash float or a counted drawer: like [`amount`], but zero is allowed.
pub fn count(text: &str) -> Result<Money, &'static str> {
    if text.trim() == "0" || text.trim() == "0.00" {
        return Ok(Money::from_cents(0));
    }
    amount(text)
}

/// An M-Pesa confirmation code as the patient's phone shows it: ten letters and digits,
/// starting with a letter (`SGH7K2LQ9P`); case and spaces do not matter. Our rule from the
/// codes Safaricom issues; the statement match checks the rest.
pub fn mpesa_code(text: &str) -> Result<String, &'static str> {
    let code: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let ok = code.len() == 10
        && code.chars().all(|c| c.is_ascii_alphanumeric())
        && code.starts_with(|c: char| c.is_ascii_alphabetic());
    if ok {
        Ok(code)
    } else {
        Err("billing.error_mpesa_code")
    }
}

/// A card terminal's approval: terminal id and approval code, as `T123/456789`.
pub fn card_reference(terminal: &str, approval: &str) -> Result<String, &'static str> {
    let clean = |s: &str| s.trim().to_ascii_uppercase();
    let (t, a) = (clean(terminal), clean(approval));
    let fine = |s: &str| {
        !s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if fine(&t) && fine(&a) {
        Ok(format!("{t}/{a}"))
    } else {
        Err("billing.error_card")
    }
}

/// How a payment is made at the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Cash,
    Mpesa,
    Card,
}

impl Method {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "cash" => Some(Method::Cash),
            "mpesa" => Some(Method::Mpesa),
            "card" => Some(Method::Card),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Method::Cash => "cash",
            Method::Mpesa => "mpesa",
            Method::Card => "card",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Method::Cash => "billing.method_cash",
            Method::Mpesa => "billing.method_mpesa",
            Method::Card => "billing.method_card",
        }
    }
}

/// How a visit is paid for, from its payer class at check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayerClass {
    /// Cash or M-Pesa: pays at the desk, before service at the gated points.
    Cash,
    /// SHA or an insurer: billed after, to the scheme; co-pays at the desk.
    Insured,
    /// Exempt (a waiver given at check-in): nothing to pay first.
    Exempt,
}

impl PayerClass {
    pub fn of(payer: &str) -> Self {
        match payer {
            "sha" | "insurance" => PayerClass::Insured,
            "waiver" => PayerClass::Exempt,
            _ => PayerClass::Cash,
        }
    }

    /// The class once the visit's account names a scheme of `kind`: exempt stays exempt; a
    /// cash scheme makes it cash; SHA, an insurer or a corporate make it insured.
    pub fn with_account(self, kind: &str) -> Self {
        match (self, kind) {
            (PayerClass::Exempt, _) => PayerClass::Exempt,
            (_, "cash") => PayerClass::Cash,
            _ => PayerClass::Insured,
        }
    }

    /// The scheme code a visit of this payer is priced on, before any account says otherwise.
    pub fn default_scheme(payer: &str) -> &'static str {
        match payer {
            "sha" => "sha",
            _ => "cash",
        }
    }
}

/// Service points that wait for payment from cash patients unless the facility says otherwise.
pub const DEFAULT_PAY_BEFORE: &str = "laboratory,pharmacy,imaging";

/// The facility setting holding the gated service points (comma separated codes).
pub const PAY_BEFORE_SETTING: &str = "billing.pay_before";

/// The points of a setting's value, trimmed, without blanks.
pub fn points(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The amount in words for documents: `One thousand two hundred and fifty shillings and fifty
/// cents`.
pub fn in_words(money: Money) -> String {
    let cents = money.cents().abs();
    let (shillings, cents) = (cents / 100, cents % 100);
    let mut text = format!("{} shillings", capitalise(&words(shillings)));
    if cents > 0 {
        text.push_str(&format!(" and {} cents", words(cents)));
    }
    text
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn words(n: i64) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    fn below_thousand(n: i64) -> String {
        let (h, rest) = (n / 100, n % 100);
        let tail = if rest < 20 {
            ONES[rest as usize].to_string()
        } else if rest % 10 == 0 {
            TENS[(rest / 10) as usize].to_string()
        } else {
            format!(
                "{}-{}",
                TENS[(rest / 10) as usize],
                ONES[(rest % 10) as usize]
            )
        };
        match (h, rest) {
            (0, _) => tail,
            (_, 0) => format!("{} hundred", ONES[h as usize]),
            _ => format!("{} hundred and {tail}", ONES[h as usize]),
        }
    }
    if n == 0 {
        return "zero".into();
    }
    let mut parts = Vec::new();
    let mut rest = n;
    for (size, name) in [
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ] {
        if rest >= size {
            parts.push(format!("{} {name}", below_thousand(rest / size)));
            rest %= size;
        }
    }
    if rest > 0 {
        if !parts.is_empty() && rest < 100 {
            parts.push(format!("and {}", below_thousand(rest)));
        } else {
            parts.push(below_thousand(rest));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_positive_whole_cents_up_to_ten_million() {
        assert_eq!(amount("1,250.50"), Ok(Money::from_cents(125_050)));
        assert_eq!(amount("KES 10000000"), Ok(MAX_AMOUNT));
        assert_eq!(amount("10000000.01"), Err("billing.error_amount_large"));
        assert_eq!(amount("0"), Err("billing.error_amount_positive"));
        assert_eq!(amount("-5"), Err("billing.error_amount_positive"));
        assert_eq!(amount("1.005"), Err("billing.error_amount_cents"));
        assert_eq!(amount("12a"), Err("billing.error_amount_unreadable"));
        assert_eq!(amount(" "), Err("billing.error_amount_missing"));
        assert_eq!(count("0"), Ok(Money::from_cents(0)));
    }

    #[test]
    fn mpesa_codes_are_ten_letters_and_digits_led_by_a_letter() {
        assert_eq!(mpesa_code(" sgh7k2lq9p "), Ok("SGH7K2LQ9P".into()));
        assert!(mpesa_code("1GH7K2LQ9P").is_err());
        assert!(mpesa_code("SGH7K2LQ9").is_err());
        assert!(mpesa_code("SGH7K2LQ9P1").is_err());
        assert!(mpesa_code("SGH7K2-Q9P").is_err());
    }

    #[test]
    fn amounts_read_in_words() {
        assert_eq!(
            in_words(Money::from_cents(125_050)),
            "One thousand two hundred and fifty shillings and fifty cents"
        );
        assert_eq!(
            in_words(Money::from_cents(100_000_000)),
            "One million shillings"
        );
        assert_eq!(
            in_words(Money::from_cents(100_500)),
            "One thousand and five shillings"
        );
        assert_eq!(in_words(Money::from_cents(0)), "Zero shillings");
    }
}
