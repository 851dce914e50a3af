//! Exact money: every amount is a [`Decimal`] with two fraction digits.
//!
//! Amounts never pass through `f32`/`f64`. SQLite has no decimal type, so the
//! contract (SPEC §3) stores amounts there as canonical TEXT (`"100.00"`);
//! the readers in `db` also accept INTEGER and REAL storage written by other
//! programs, and [`parse_real_text`] says when a REAL value was not exactly a
//! cent amount.

use rust_decimal::Decimal;
use std::str::FromStr;

/// Amounts are kept to the cent.
pub const SCALE: u32 = 2;

/// Why an amount could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a decimal number.
    #[error("'{0}' is not an amount (expected a decimal like 100.00)")]
    NotANumber(String),
    /// More than two fraction digits that are not zero.
    #[error("'{0}' has more than two decimal places")]
    TooPrecise(String),
    /// A REAL (floating point) value that is not exactly a cent amount.
    #[error("REAL value {0} is not exactly representable as an amount in cents")]
    InexactReal(String),
    /// An amount that must be positive is zero or negative.
    #[error("amount {0} must be greater than zero")]
    NotPositive(String),
}

/// Parses an amount written as text, e.g. `"100"`, `"100.5"`, `"100.50"`.
///
/// The result always has scale 2. Trailing zeros beyond the cent are
/// accepted (`"1.500"`), other digits beyond the cent are refused.
pub fn parse_amount(text: &str) -> Result<Decimal, MoneyError> {
    // The common `123.45` without a general decimal parser (statements, SQLite TEXT).
    if let Some(c) = fast_cents(text.as_bytes()) {
        return Ok(Decimal::new(c, SCALE));
    }
    let t = text.trim();
    let d = Decimal::from_str(t).map_err(|_| MoneyError::NotANumber(t.to_owned()))?;
    normalize(d).ok_or_else(|| MoneyError::TooPrecise(t.to_owned()))
}

/// `-?digits(.d{1,2})?` straight to cents; anything else (spaces, exponents,
/// more decimals, very long numbers, negative zero) goes through [`parse_amount`].
pub(crate) fn fast_cents(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match digits.iter().position(|&c| c == b'.') {
        Some(p) => (&digits[..p], &digits[p + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    if int.is_empty()
        || int.len() > 15
        || frac.len() > 2
        || (frac.is_empty() && int.len() < digits.len())
    {
        return None;
    }
    let mut v: i64 = 0;
    for &c in int {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    let mut f: i64 = 0;
    for k in 0..2 {
        let d = match frac.get(k) {
            Some(c) if c.is_ascii_digit() => i64::from(c - b'0'),
            Some(_) => return None,
            None => 0,
        };
        f = f * 10 + d;
    }
    let c = v * 100 + f;
    if neg && c == 0 {
        return None;
    }
    Some(if neg { -c } else { c })
}

/// Brings an exact decimal to scale 2, or `None` if it has sub-cent digits.
pub fn normalize(d: Decimal) -> Option<Decimal> {
    let mut n = d.normalize();
    if n.scale() > SCALE {
        return None;
    }
    n.rescale(SCALE);
    Some(n)
}

/// Formats an amount canonically: two fraction digits, no grouping (`"1234.50"`).
pub fn format_amount(d: Decimal) -> String {
    let mut n = d;
    n.rescale(SCALE);
    n.to_string()
}

/// Reads an amount from an SQLite REAL value's shortest round-trip text.
///
/// SQLite hands REAL values out as `f64`; we never do arithmetic on them —
/// the shortest decimal text that round-trips (`ryu`-style, as Rust's
/// `Display` for `f64` prints) is parsed as a decimal, and accepted only if
/// it has at most two fraction digits (`0.1` is fine, `0.30000000000000004`
/// is reported).
pub fn parse_real_text(text: &str) -> Result<Decimal, MoneyError> {
    let d = Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| MoneyError::InexactReal(text.to_owned()))?;
    normalize(d).ok_or_else(|| MoneyError::InexactReal(text.to_owned()))
}

/// Requires a strictly positive amount (flow amounts are always positive, SPEC §2).
pub fn require_positive(d: Decimal) -> Result<Decimal, MoneyError> {
    if d > Decimal::ZERO {
        Ok(d)
    } else {
        Err(MoneyError::NotPositive(format_amount(d)))
    }
}

/// An amount as whole cents (`123.45` → `12345`); `None` if it does not fit in `i64`.
pub fn to_cents(d: Decimal) -> Option<i64> {
    let mut x = d;
    x.rescale(SCALE);
    i64::try_from(x.mantissa()).ok()
}

/// Cents as an integer amount (for generators; `12345` → `123.45`).
pub fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_canonically() {
        assert_eq!(format_amount(parse_amount("100").unwrap()), "100.00");
        assert_eq!(format_amount(parse_amount(" 0.5 ").unwrap()), "0.50");
        assert_eq!(format_amount(parse_amount("1.500").unwrap()), "1.50");
        assert_eq!(format_amount(parse_amount("-12.5").unwrap()), "-12.50");
        assert_eq!(
            parse_amount("1.005"),
            Err(MoneyError::TooPrecise("1.005".into()))
        );
        assert!(matches!(
            parse_amount("abc"),
            Err(MoneyError::NotANumber(_))
        ));
        assert_eq!(format_amount(from_cents(12345)), "123.45");
        assert_eq!(to_cents(parse_amount("-12.5").unwrap()), Some(-1250));
    }

    #[test]
    fn real_text_must_be_exact_cents() {
        assert_eq!(format_amount(parse_real_text("0.1").unwrap()), "0.10");
        assert_eq!(format_amount(parse_real_text("100").unwrap()), "100.00");
        assert!(matches!(
            parse_real_text("0.30000000000000004"),
            Err(MoneyError::InexactReal(_))
        ));
    }

    #[test]
    fn positive_required() {
        assert!(require_positive(from_cents(1)).is_ok());
        assert!(require_positive(Decimal::ZERO).is_err());
    }
}
