//! `resource.Quantity`, parsed exactly as apimachinery does.
//!
//! Grammar `<signedNumber><suffix>`: a number (`1`, `1.5`, `1.`, `.5`) followed by a binary
//! suffix (`Ki`…`Ei`), a decimal SI suffix (`n u m "" k M G T P E`) or a decimal exponent
//! (`e3`, `E-2`). The value is exact decimal arithmetic (never a float), rounded **up, away from
//! zero, to a multiple of 10⁻⁹**, and its magnitude is capped at 2⁶³−1. `value()` and
//! `milli_value()` round up like Go's `Value()` / `MilliValue()`. This module only parses and
//! converts; it knows nothing of which resource a quantity belongs to.

use std::fmt;

/// Nanos in one unit.
const NANO: i128 = 1_000_000_000;
/// Largest magnitude a quantity can hold, in base units (2⁶³−1), as apimachinery caps it.
const MAX_UNITS: i128 = i64::MAX as i128;
/// Fraction digits kept exactly; more are folded into a round-up of the last kept digit.
const MAX_FRACTION_DIGITS: usize = 30;

/// A parsed quantity: its exact value in nano-units plus the text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quantity {
    nanos: i128,
    text: String,
}

/// Why a string is not a quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text is empty.
    #[error("\"\" is not a quantity: it is empty")]
    Empty,
    /// The text (given) is not a number with an optional suffix.
    #[error("{0:?} is not a quantity: expected a number such as 100m, 1.5, 2Gi or 1e3")]
    Malformed(String),
    /// The number is followed by a suffix apimachinery does not know.
    #[error(
        "{text:?} is not a quantity: unknown suffix {suffix:?} (use one of n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent like e3)"
    )]
    UnknownSuffix {
        /// The whole text.
        text: String,
        /// The suffix not known.
        suffix: String,
    },
}

/// What a suffix multiplies the number by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scale {
    /// × 10^exponent
    Decimal(i32),
    /// × 2^exponent
    Binary(u32),
}

impl Quantity {
    /// Parses `text` following apimachinery's `ParseQuantity`.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        if text.is_empty() {
            return Err(QuantityError::Empty);
        }
        let (negative, rest) = split_sign(text);
        let (int_digits, frac_digits, suffix) =
            split_number(rest).ok_or_else(|| QuantityError::Malformed(text.to_string()))?;
        let scale = parse_suffix(suffix).ok_or_else(|| {
            if suffix
                .chars()
                .all(|c| "eEinumkKMGTP+-0123456789".contains(c))
            {
                QuantityError::UnknownSuffix {
                    text: text.to_string(),
                    suffix: suffix.to_string(),
                }
            } else {
                QuantityError::Malformed(text.to_string())
            }
        })?;
        let magnitude = nanos_of(int_digits, frac_digits, scale);
        Ok(Quantity {
            nanos: if negative { -magnitude } else { magnitude },
            text: text.to_string(),
        })
    }

    /// The exact value in units of 10⁻⁹.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// Go's `Value()`: the value rounded up (away from zero) to an integer.
    pub fn value(&self) -> i64 {
        saturate(div_away_from_zero(self.nanos, NANO))
    }

    /// Go's `MilliValue()`: the value × 1000 rounded up (away from zero).
    pub fn milli_value(&self) -> i64 {
        saturate(div_away_from_zero(self.nanos, NANO / 1000))
    }

    /// Whether the value is a whole number (extended resources must be).
    pub fn is_integer(&self) -> bool {
        self.nanos % NANO == 0
    }

    /// Whether the value is below 0 (requests and limits may not be).
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// An approximate float, like Go's `AsApproximateFloat64()` (for tolerances, never for counts).
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANO as f64
    }

    /// The text the quantity was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    }
}

/// Splits `digits[.digits]suffix`; `None` when there is no digit at all or a second dot.
fn split_number(s: &str) -> Option<(&str, &str, &str)> {
    let bytes = s.as_bytes();
    let int_end = bytes
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(bytes.len());
    let (int_digits, after_int) = s.split_at(int_end);
    let (frac_digits, suffix) = match after_int.strip_prefix('.') {
        Some(after_dot) => {
            let frac_end = after_dot
                .as_bytes()
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(after_dot.len());
            after_dot.split_at(frac_end)
        }
        None => ("", after_int),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    if suffix.starts_with('.') {
        return None;
    }
    Some((int_digits, frac_digits, suffix))
}

fn parse_suffix(suffix: &str) -> Option<Scale> {
    let scale = match suffix {
        "" => Scale::Decimal(0),
        "n" => Scale::Decimal(-9),
        "u" => Scale::Decimal(-6),
        "m" => Scale::Decimal(-3),
        "k" => Scale::Decimal(3),
        "M" => Scale::Decimal(6),
        "G" => Scale::Decimal(9),
        "T" => Scale::Decimal(12),
        "P" => Scale::Decimal(15),
        "E" => Scale::Decimal(18),
        "Ki" => Scale::Binary(10),
        "Mi" => Scale::Binary(20),
        "Gi" => Scale::Binary(30),
        "Ti" => Scale::Binary(40),
        "Pi" => Scale::Binary(50),
        "Ei" => Scale::Binary(60),
        _ => return parse_exponent(suffix),
    };
    Some(scale)
}

/// `e<signed int>` or `E<signed int>` (a bare `E` is exa, handled above).
fn parse_exponent(suffix: &str) -> Option<Scale> {
    let rest = suffix.strip_prefix(['e', 'E'])?;
    let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let exponent: i32 = rest.parse().ok()?;
    Some(Scale::Decimal(exponent.clamp(-1000, 1000)))
}

/// |value| in nanos, rounded up to a whole nano and capped at 2⁶³−1 units.
fn nanos_of(int_digits: &str, frac_digits: &str, scale: Scale) -> i128 {
    let cap = MAX_UNITS * NANO;
    let frac_trimmed = frac_digits.trim_end_matches('0');
    let (kept_frac, dropped_nonzero) = if frac_trimmed.len() > MAX_FRACTION_DIGITS {
        (&frac_trimmed[..MAX_FRACTION_DIGITS], true)
    } else {
        (frac_trimmed, false)
    };
    let int_trimmed = int_digits.trim_start_matches('0');
    if int_trimmed.len() > 30 {
        return cap;
    }
    // mantissa = all kept digits as one integer; value = mantissa × 10^-len(frac) × scale.
    let mut mantissa: i128 = 0;
    for b in int_trimmed.bytes().chain(kept_frac.bytes()) {
        mantissa = mantissa * 10 + i128::from(b - b'0');
    }
    if dropped_nonzero {
        mantissa += 1;
    }
    if mantissa == 0 {
        return 0;
    }
    let mut decimal_exponent = 9 - kept_frac.len() as i32; // 9: express the result in nanos
    let mut binary_exponent = 0u32;
    match scale {
        Scale::Decimal(e) => decimal_exponent += e,
        Scale::Binary(e) => binary_exponent = e,
    }
    scale_capped(mantissa, decimal_exponent, binary_exponent, cap)
}

/// mantissa × 10^decimal_exponent × 2^binary_exponent, rounded up, capped at `cap`.
fn scale_capped(mantissa: i128, decimal_exponent: i32, binary_exponent: u32, cap: i128) -> i128 {
    let mut value = mantissa;
    for _ in 0..binary_exponent {
        value = match value.checked_mul(2) {
            Some(v) if v <= cap * 1_000_000_000 => v,
            _ => return cap,
        };
    }
    if decimal_exponent >= 0 {
        for _ in 0..decimal_exponent {
            value = match value.checked_mul(10) {
                Some(v) if v <= cap => v,
                _ => return cap,
            };
        }
        return value.min(cap);
    }
    let divisor_digits = (-decimal_exponent) as u32;
    if divisor_digits > 38 {
        return 1; // a positive value far below one nano rounds up to one nano
    }
    div_away_from_zero(value, 10i128.pow(divisor_digits)).min(cap)
}

fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if n > 0 {
        q + 1
    } else {
        q - 1
    }
}

fn saturate(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Bytes with the largest binary suffix that divides them exactly (`268435456` → `256Mi`).
pub fn format_bytes(bytes: i64) -> String {
    for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        if bytes != 0 && bytes % (1i64 << shift) == 0 {
            return format!("{}{suffix}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// CPU millicores as a manifest writes them: whole cores plain (`2`), else millicores (`250m`).
pub fn format_cpu(millis: i64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// An amount of resource `name` in the units [`super::resources::Resources`] keeps it in
/// (millicores for cpu, bytes for memory and ephemeral storage, counts otherwise) as a quantity.
pub fn format_amount(name: &str, amount: i64) -> String {
    match name {
        super::resources::CPU => format_cpu(amount),
        super::resources::MEMORY | super::resources::EPHEMERAL_STORAGE => format_bytes(amount),
        _ => amount.to_string(),
    }
}

/// A milli-value as a quantity-like decimal: 1500 → "1.5", 250 → "0.25".
pub fn format_milli(milli: i64) -> String {
    let whole = milli / 1000;
    let frac = (milli % 1000).abs();
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:03}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(s: &str) -> i128 {
        Quantity::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .nanos()
    }

    #[test]
    fn apimachinery_examples_parse_exactly() {
        // (text, value in nanos) — arithmetic in the comment beside each.
        let cases: &[(&str, i128)] = &[
            ("100.035k", 100_035 * NANO),             // 100.035 × 10³
            ("7.123456M", 7_123_456 * NANO),          // 7.123456 × 10⁶
            ("1.3E+6", 1_300_000 * NANO),             // exponent form
            ("1E6", 1_000_000 * NANO),                // exponent form, no sign
            ("1E", 1_000_000_000_000_000_000 * NANO), // bare E is exa = 10¹⁸
            ("100m", 100_000_000),                    // 0.1 = 10⁸ nanos
            ("1", NANO),
            ("1.", NANO), // trailing dot accepted
            ("1.G", NANO * 1_000_000_000),
            (".001", 1_000_000), // 10⁻³ = 10⁶ nanos
            ("+1", NANO),
            ("-1", -NANO),
            ("0.5e-9", 1), // half a nano rounds up to 1n
            ("0.9n", 1),
            ("3.001n", 4), // 3.001 nanos rounds up to 4
            ("1Ki", 1024 * NANO),
            ("1.5Gi", 1_610_612_736 * NANO),    // 1.5 × 2³⁰
            ("0.000000000001Ki", 2),            // 1.024e-9 → rounds up to 2n
            ("0.05Gi", 53_687_091_200_000_000), // 0.05 × 2³⁰ = 53 687 091.2 exactly
            ("9Ei", MAX_UNITS * NANO),          // 9 × 2⁶⁰ > 2⁶³−1 → capped
            ("0", 0),
            ("00.000", 0),
        ];
        for (text, want) in cases {
            assert_eq!(nanos(text), *want, "{text}");
        }
    }

    #[test]
    fn value_and_milli_value_round_up() {
        // 0.05Gi = 53 687 091.2 bytes → Value() rounds up to 53 687 092.
        assert_eq!(Quantity::parse("0.05Gi").unwrap().value(), 53_687_092);
        // 1 cpu = 1000 millicores; 100m = 100; 0.0001 (0.1m) rounds up to 1m.
        assert_eq!(Quantity::parse("1").unwrap().milli_value(), 1000);
        assert_eq!(Quantity::parse("100m").unwrap().milli_value(), 100);
        assert_eq!(Quantity::parse("0.0001").unwrap().milli_value(), 1);
        // -1.5 → away from zero → -2.
        assert_eq!(Quantity::parse("-1.5").unwrap().value(), -2);
        assert_eq!(Quantity::parse("9Ei").unwrap().value(), i64::MAX);
        assert!(Quantity::parse("2").unwrap().is_integer());
        assert!(!Quantity::parse("500m").unwrap().is_integer());
    }

    #[test]
    fn apimachinery_invalid_examples_are_rejected() {
        let invalid = [
            "1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01e-", " 1", "1 ", "1K",
            "", ".", "-", "1e", "1.5.0", "1Gib", "e3",
        ];
        for text in invalid {
            assert!(Quantity::parse(text).is_err(), "{text:?} should be invalid");
        }
    }

    #[test]
    fn errors_explain_the_problem() {
        let err = Quantity::parse("1K").unwrap_err().to_string();
        assert!(err.contains("unknown suffix \"K\""), "{err}");
        let err = Quantity::parse("1.5.0").unwrap_err().to_string();
        assert!(err.contains("\"1.5.0\" is not a quantity"), "{err}");
    }

    #[test]
    fn very_long_fractions_still_round_up() {
        // 0.000…0001 with 40 fraction digits is far below a nano: rounds up to 1n.
        let tiny = format!("0.{}1", "0".repeat(39));
        assert_eq!(nanos(&tiny), 1);
    }
}
