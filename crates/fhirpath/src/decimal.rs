//! The FHIRPath `Decimal`: an exact base-10 number that remembers the number of digits written
//! after the point (its *scale*, which FHIRPath calls precision: `1.50` has scale 2).
//!
//! Value = `mantissa / 10^scale` with an `i128` mantissa and `scale <= 38`. Every operation is
//! checked: a result that cannot be represented is `None` (the evaluator turns that into an
//! error or an empty collection). No operation panics.
//!
//! Precision rules:
//! - `+`/`-` keep the larger scale, `*` adds the scales (`1.2 * 1.8 = 2.16`), rounding to 38
//!   digits after the point when needed.
//! - `/` computes at least 8 digits after the point (FHIRPath decimals step by 10^-8), rounding
//!   half away from zero, then drops trailing zeros down to the larger operand scale
//!   (`1 / 3 = 0.33333333`, `1 / 2 = 0.5`, `4.0 / 2.0 = 2.0`).
//! - `sqrt`, `exp`, `ln`, `log` and non-integral `power` go through `f64` and keep 15
//!   significant digits (what an `f64` carries), then drop trailing zeros; integral `power` is
//!   exact when it fits.

use std::cmp::Ordering;
use std::fmt;

/// The largest scale kept (`10^38` still fits an `i128`).
pub const MAX_SCALE: u32 = 38;

/// The largest precision accepted by `lowBoundary()` / `highBoundary()`.
pub const MAX_BOUNDARY_PRECISION: u32 = 28;

/// Digits after the point computed by a division (at least).
const DIV_SCALE: u32 = 8;

/// Digits after the point kept from an `f64` result (at most).
const F64_MAX_SCALE: u32 = 28;

/// An exact decimal with the scale as written. See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
    /// A zero written or computed with a minus sign (`-0.0`); shown with the sign, equal to
    /// zero in every comparison. Only parsing and the boundary functions set it.
    negative_zero: bool,
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// `round(n * 10^k / d)`, half away from zero, by long division so that only the quotient has
/// to fit. `None` when `d == 0` or on overflow.
fn div_scaled(n: i128, d: i128, k: u32) -> Option<i128> {
    if d == 0 {
        return None;
    }
    let negative = (n < 0) != (d < 0);
    let (un, ud) = (n.unsigned_abs(), d.unsigned_abs());
    let mut q = un / ud;
    let mut r = un % ud;
    for _ in 0..k {
        let r10 = r.checked_mul(10)?;
        q = q.checked_mul(10)?.checked_add(r10 / ud)?;
        r = r10 % ud;
    }
    // Half away from zero: round up when r / ud >= 1/2.
    if r >= ud - r {
        q = q.checked_add(1)?;
    }
    let q = i128::try_from(q).ok()?;
    Some(if negative { -q } else { q })
}

impl Decimal {
    /// A decimal from its parts; `None` when the scale exceeds [`MAX_SCALE`] (or the mantissa is
    /// `i128::MIN`, which is kept out so that negation never overflows).
    pub fn new(mantissa: i128, scale: u32) -> Option<Decimal> {
        if scale > MAX_SCALE || mantissa == i128::MIN {
            return None;
        }
        Some(Decimal {
            mantissa,
            scale,
            negative_zero: false,
        })
    }

    /// The integer as a decimal with scale 0.
    pub fn from_i64(v: i64) -> Decimal {
        Decimal {
            mantissa: i128::from(v),
            scale: 0,
            negative_zero: false,
        }
    }

    /// The integer as a decimal with scale 0 (`None` for `i128::MIN`).
    pub fn from_i128(v: i128) -> Option<Decimal> {
        Decimal::new(v, 0)
    }

    /// The zero with scale 0.
    pub fn zero() -> Decimal {
        Decimal::from_i64(0)
    }

    /// Parses `1.50`, `-0.5`, `+12`, `007`, and the JSON exponent forms `1E-22`,
    /// `-1.000000000000000000E+245`. `None` for anything else and for values that do not fit
    /// (more than 38 significant digits or a scale above 38 that is not trailing zeros).
    pub fn parse(s: &str) -> Option<Decimal> {
        let b = s.as_bytes();
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &b[int_start..i];
        if int_digits.is_empty() {
            return None;
        }
        let mut frac_digits: &[u8] = &[];
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            frac_digits = &b[start..i];
            if frac_digits.is_empty() {
                return None;
            }
        }
        let mut exponent: i64 = 0;
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            let exp_negative = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                exponent = exponent
                    .checked_mul(10)?
                    .checked_add(i64::from(b[i] - b'0'))?;
                if exponent > 100_000 {
                    return None;
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        if i != b.len() {
            return None;
        }
        // Significant digits and the resulting scale (digits after the point).
        let mut digits: Vec<u8> = int_digits.iter().chain(frac_digits).copied().collect();
        let mut scale = i64::try_from(frac_digits.len()).ok()? - exponent;
        if scale < 0 {
            let zeros = usize::try_from(-scale).ok()?;
            if zeros > MAX_SCALE as usize + 1 {
                // Only representable when the value is zero.
                if digits.iter().all(|&d| d == b'0') {
                    return Some(Decimal::zero());
                }
                return None;
            }
            digits.extend(std::iter::repeat_n(b'0', zeros));
            scale = 0;
        }
        // Drop leading zeros (they carry no precision).
        let first = digits
            .iter()
            .position(|&d| d != b'0')
            .unwrap_or(digits.len());
        digits.drain(..first);
        // Trailing zeros after the point may go when the value would not fit otherwise.
        while scale > i64::from(MAX_SCALE) && digits.last() == Some(&b'0') {
            digits.pop();
            scale -= 1;
        }
        if digits.is_empty() && scale > i64::from(MAX_SCALE) {
            scale = i64::from(MAX_SCALE);
        }
        let mut scale = u32::try_from(scale).ok()?;
        if scale > MAX_SCALE {
            return None;
        }
        let accumulate = |digits: &[u8]| -> Option<i128> {
            let mut m: i128 = 0;
            for &d in digits {
                m = m.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
            }
            Some(m)
        };
        let m = loop {
            if let Some(m) = accumulate(&digits) {
                break m;
            }
            if scale == 0 || digits.last() != Some(&b'0') {
                return None;
            }
            digits.pop();
            scale -= 1;
        };
        Some(Decimal::new(if negative { -m } else { m }, scale)?.signed_zero(negative))
    }

    /// Marks a zero as negative (for display) when `negative`.
    fn signed_zero(mut self, negative: bool) -> Decimal {
        self.negative_zero = negative && self.mantissa == 0;
        self
    }

    /// Converts an `f64` keeping 15 significant digits, dropping trailing zeros down to
    /// `min_scale`, with at most 28 digits after the point. `None` for NaN, infinities and
    /// magnitudes beyond the `i128` range.
    pub fn from_f64(v: f64, min_scale: u32) -> Option<Decimal> {
        if !v.is_finite() {
            return None;
        }
        if v.abs() < 1e-29 {
            return Decimal::new(0, min_scale.min(F64_MAX_SCALE));
        }
        let text = format!("{v:.14e}");
        let d = Decimal::parse(&text)?;
        let d = if d.scale > F64_MAX_SCALE {
            d.with_scale(F64_MAX_SCALE)?
        } else {
            d
        };
        Some(d.trim_zeros(min_scale.min(F64_MAX_SCALE)))
    }

    /// The unscaled value (`1.50` → 150).
    pub fn mantissa(&self) -> i128 {
        self.mantissa
    }

    /// Digits after the point as written (`1.50` → 2); FHIRPath `precision()` of a decimal.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// The nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        self.to_string().parse::<f64>().unwrap_or(f64::NAN)
    }

    /// The value as an `i64` when it is integral and fits.
    pub fn to_i64(&self) -> Option<i64> {
        let p = pow10(self.scale)?;
        if self.mantissa % p != 0 {
            return None;
        }
        i64::try_from(self.mantissa / p).ok()
    }

    /// Whether the value has no fractional part (`2.0` is integral).
    pub fn is_integral(&self) -> bool {
        match pow10(self.scale) {
            Some(p) => self.mantissa % p == 0,
            None => false,
        }
    }

    /// The same value with trailing zeros after the point removed, but keeping at least
    /// `min_scale` digits.
    pub fn trim_zeros(&self, min_scale: u32) -> Decimal {
        let mut d = *self;
        while d.scale > min_scale && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    /// The same value with all trailing zeros after the point removed (`1.50` → `1.5`).
    pub fn normalized(&self) -> Decimal {
        self.trim_zeros(0)
    }

    /// The value at exactly `scale` digits after the point: padded with zeros, or rounded half
    /// away from zero. `None` when it does not fit.
    pub fn with_scale(&self, scale: u32) -> Option<Decimal> {
        match scale.cmp(&self.scale) {
            Ordering::Equal => Some(*self),
            Ordering::Greater => {
                let m = self.mantissa.checked_mul(pow10(scale - self.scale)?)?;
                Decimal::new(m, scale)
            }
            Ordering::Less => {
                let m = div_scaled(self.mantissa, pow10(self.scale - scale)?, 0)?;
                Decimal::new(m, scale)
            }
        }
    }

    /// Both mantissas at the larger scale.
    fn aligned(&self, o: &Decimal) -> Option<(i128, i128, u32)> {
        let s = self.scale.max(o.scale);
        let a = self.mantissa.checked_mul(pow10(s - self.scale)?)?;
        let b = o.mantissa.checked_mul(pow10(s - o.scale)?)?;
        Some((a, b, s))
    }

    pub fn checked_add(&self, o: &Decimal) -> Option<Decimal> {
        let (a, b, s) = self.aligned(o)?;
        Decimal::new(a.checked_add(b)?, s)
    }

    pub fn checked_sub(&self, o: &Decimal) -> Option<Decimal> {
        let (a, b, s) = self.aligned(o)?;
        Decimal::new(a.checked_sub(b)?, s)
    }

    /// Exact product (scales add); rounded to 38 digits after the point when longer.
    pub fn checked_mul(&self, o: &Decimal) -> Option<Decimal> {
        fn raw(a: &Decimal, b: &Decimal) -> Option<Decimal> {
            let m = a.mantissa.checked_mul(b.mantissa)?;
            let s = a.scale + b.scale;
            if s > MAX_SCALE {
                let m = div_scaled(m, pow10(s - MAX_SCALE)?, 0)?;
                Decimal::new(m, MAX_SCALE)
            } else {
                Decimal::new(m, s)
            }
        }
        raw(self, o).or_else(|| {
            // Retry without trailing zeros (they only add width), keeping the written scale
            // when the shorter product allows it.
            let r = raw(&self.normalized(), &o.normalized())?;
            let want = (self.scale + o.scale).min(MAX_SCALE);
            Some(r.with_scale(want).unwrap_or(r))
        })
    }

    /// Quotient with at least 8 digits after the point (see the module documentation); `None`
    /// on division by zero or overflow.
    pub fn checked_div(&self, o: &Decimal) -> Option<Decimal> {
        if o.mantissa == 0 {
            return None;
        }
        let min_scale = self.scale.max(o.scale);
        let attempt = |target: u32| -> Option<Decimal> {
            // self.m / 10^sa / (o.m / 10^so) = self.m * 10^(so - sa) / o.m; at `target` digits
            // the mantissa is self.m * 10^(target + so - sa) / o.m.
            let k = target.checked_add(o.scale)?.checked_sub(self.scale)?;
            let m = div_scaled(self.mantissa, o.mantissa, k)?;
            Decimal::new(m, target)
        };
        let target = DIV_SCALE.max(min_scale).min(MAX_SCALE);
        let q = attempt(target).or_else(|| attempt(min_scale))?;
        Some(q.trim_zeros(min_scale))
    }

    /// FHIRPath `div`: the exactly truncated quotient; `None` on division by zero or when the
    /// quotient does not fit an `i64`.
    pub fn div_trunc(&self, o: &Decimal) -> Option<i64> {
        if o.mantissa == 0 {
            return None;
        }
        match self.aligned(o) {
            Some((a, b, _)) => i64::try_from(a / b).ok(),
            None => self.checked_div(o)?.truncate(),
        }
    }

    /// FHIRPath `mod`: the remainder of the truncated division, exact (`2.2 mod 1.8` = `0.4`,
    /// `-5.5 mod 2` = `-1.5`); `None` on division by zero or overflow.
    pub fn checked_rem(&self, o: &Decimal) -> Option<Decimal> {
        if o.mantissa == 0 {
            return None;
        }
        let (a, b, s) = self.aligned(o)?;
        Decimal::new(a.checked_rem(b)?, s)
    }

    /// `-self`.
    pub fn neg(&self) -> Decimal {
        Decimal {
            mantissa: self.mantissa.checked_neg().unwrap_or(i128::MAX),
            scale: self.scale,
            negative_zero: false,
        }
    }

    /// `|self|`.
    pub fn abs(&self) -> Decimal {
        Decimal {
            mantissa: self.mantissa.checked_abs().unwrap_or(i128::MAX),
            scale: self.scale,
            negative_zero: false,
        }
    }

    /// Numeric order, ignoring the scale (`1.0` equals `1.00`). Total: never fails.
    pub fn cmp_value(&self, o: &Decimal) -> Ordering {
        // Split into integer and fractional parts so that nothing can overflow.
        let (pa, pb) = match (pow10(self.scale), pow10(o.scale)) {
            (Some(pa), Some(pb)) => (pa, pb),
            _ => return self.mantissa.cmp(&o.mantissa),
        };
        let (ia, fa) = (self.mantissa / pa, self.mantissa % pa);
        let (ib, fb) = (o.mantissa / pb, o.mantissa % pb);
        if ia != ib {
            return ia.cmp(&ib);
        }
        let s = self.scale.max(o.scale);
        // |fa| < 10^sa, so |fa * 10^(s - sa)| < 10^s <= 10^38: fits.
        let fa = pow10(s - self.scale).and_then(|p| fa.checked_mul(p));
        let fb = pow10(s - o.scale).and_then(|p| fb.checked_mul(p));
        match (fa, fb) {
            (Some(fa), Some(fb)) => fa.cmp(&fb),
            _ => Ordering::Equal,
        }
    }

    /// `round(digits)`: half away from zero (`3.14159.round(3)` = `3.142`, `-2.5.round()` =
    /// `-3`). When `digits` is more than the scale the value is padded (`1.5.round(3)` =
    /// `1.500`), or returned unchanged if that does not fit.
    pub fn round(&self, digits: u32) -> Option<Decimal> {
        if digits >= self.scale {
            return Some(self.with_scale(digits).unwrap_or(*self));
        }
        self.with_scale(digits)
    }

    /// The greatest integer not above the value.
    pub fn floor(&self) -> Option<i64> {
        let p = pow10(self.scale)?;
        i64::try_from(self.mantissa.div_euclid(p)).ok()
    }

    /// The least integer not below the value.
    pub fn ceiling(&self) -> Option<i64> {
        let p = pow10(self.scale)?;
        let q = self.mantissa.div_euclid(p);
        let q = if self.mantissa.rem_euclid(p) != 0 {
            q.checked_add(1)?
        } else {
            q
        };
        i64::try_from(q).ok()
    }

    /// The integer part (toward zero): `(-1.56).truncate()` = `-1`.
    pub fn truncate(&self) -> Option<i64> {
        let p = pow10(self.scale)?;
        i64::try_from(self.mantissa / p).ok()
    }

    /// Square root (via `f64`); `None` for negative values.
    pub fn sqrt(&self) -> Option<Decimal> {
        if self.mantissa < 0 {
            return None;
        }
        if self.mantissa == 0 {
            return Some(*self);
        }
        Decimal::from_f64(self.to_f64().sqrt(), self.scale)
    }

    /// `e^self` (via `f64`); `None` when the result overflows.
    pub fn exp(&self) -> Option<Decimal> {
        if self.mantissa == 0 {
            return Some(Decimal::from_i64(1));
        }
        Decimal::from_f64(self.to_f64().exp(), 0)
    }

    /// Natural logarithm (via `f64`); `None` for values not above zero.
    pub fn ln(&self) -> Option<Decimal> {
        if self.mantissa <= 0 {
            return None;
        }
        Decimal::from_f64(self.to_f64().ln(), self.scale)
    }

    /// Logarithm in `base` (via `f64`); `None` unless both are above zero and the base is not 1.
    pub fn log(&self, base: &Decimal) -> Option<Decimal> {
        if self.mantissa <= 0 || base.mantissa <= 0 || base.cmp_value(&Decimal::from_i64(1)).is_eq()
        {
            return None;
        }
        let r = self.to_f64().ln() / base.to_f64().ln();
        Decimal::from_f64(r, self.scale.max(base.scale))
    }

    /// `self^exp`: exact for integral exponents when the result fits (`2.5.power(2)` = `6.25`),
    /// else via `f64`. `None` for a negative base with a fractional exponent, for `0` raised to
    /// a negative power, and on overflow.
    pub fn power(&self, exp: &Decimal) -> Option<Decimal> {
        if let Some(n) = exp.to_i64() {
            if self.mantissa == 0 && n < 0 {
                return None;
            }
            if let Some(r) = self.exact_power(n) {
                return Some(r);
            }
        } else if self.mantissa < 0 {
            return None;
        }
        let r = self.to_f64().powf(exp.to_f64());
        Decimal::from_f64(r, 0)
    }

    fn exact_power(&self, n: i64) -> Option<Decimal> {
        if n.unsigned_abs() > 4096 {
            return None;
        }
        let mut result = Decimal::from_i64(1);
        let mut base = *self;
        let mut e = n.unsigned_abs();
        while e > 0 {
            if e & 1 == 1 {
                result = result.checked_mul(&base)?;
            }
            e >>= 1;
            if e > 0 {
                base = base.checked_mul(&base)?;
            }
        }
        if n < 0 {
            Decimal::from_i64(1).checked_div(&result)
        } else {
            Some(result)
        }
    }

    /// `lowBoundary(precision)`: the least value that rounds to `self` at its scale, at
    /// `precision` digits after the point (default 8, at most 28, else `None`).
    ///
    /// Follows the R4 test suite (the reference Java engine): for a positive value the
    /// boundary `self - 0.5 * 10^-scale` is truncated to `precision` digits; for a negative
    /// value the result is the negated high boundary of `|self|` (`(-1.587).lowBoundary(2)` =
    /// `-1.59`). Zero gives `-(0.5 * 10^-scale)` rounded like a high boundary.
    pub fn low_boundary(&self, precision: Option<u32>) -> Option<Decimal> {
        self.boundary(precision, false)
    }

    /// `highBoundary(precision)`: the greatest value that rounds to `self`; for a positive
    /// value `self + 0.5 * 10^-scale` rounded half up to `precision` digits (default 8, at most
    /// 28); for a negative value the negated low boundary of `|self|`.
    pub fn high_boundary(&self, precision: Option<u32>) -> Option<Decimal> {
        self.boundary(precision, true)
    }

    fn boundary(&self, precision: Option<u32>, high: bool) -> Option<Decimal> {
        let p = precision.unwrap_or(8);
        if p > MAX_BOUNDARY_PRECISION {
            return None;
        }
        let m = self.mantissa;
        // Mirror negative values onto positive ones; zero rounds outward on both sides.
        let (use_high, negate) = match m.cmp(&0) {
            Ordering::Greater => (high, false),
            Ordering::Less => (!high, true),
            Ordering::Equal => (true, !high),
        };
        let a = m.checked_abs()?;
        // The boundary at scale + 1: 10a ± 5.
        let v = if use_high {
            a.checked_mul(10)?.checked_add(5)?
        } else {
            a.checked_mul(10)?.checked_sub(5)?
        };
        let vs = self.scale + 1;
        let r = if p >= vs {
            v.checked_mul(pow10(p - vs)?)?
        } else {
            let div = pow10(vs - p)?;
            if use_high {
                div_scaled(v, div, 0)?
            } else {
                v / div
            }
        };
        Some(Decimal::new(if negate { -r } else { r }, p)?.signed_zero(negate))
    }

    /// FHIRPath `~`: equal when rounded to the scale of the less precise operand, trailing
    /// zeros after the point not counting as precision (`1.10 ~ 1.1`, `0.0 ~ 0`).
    pub fn equivalent(&self, o: &Decimal) -> bool {
        let (a, b) = (self.normalized(), o.normalized());
        let s = a.scale.min(b.scale);
        match (a.with_scale(s), b.with_scale(s)) {
            (Some(x), Some(y)) => x.mantissa == y.mantissa,
            _ => a.cmp_value(&b).is_eq(),
        }
    }
}

impl PartialEq for Decimal {
    /// Numeric equality: `1.0 == 1.00`.
    fn eq(&self, o: &Decimal) -> bool {
        self.cmp_value(o).is_eq()
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, o: &Decimal) -> Option<Ordering> {
        Some(self.cmp_value(o))
    }
}

impl fmt::Display for Decimal {
    /// Plain digits keeping the scale: `1.50`, `-0.5`, `3`; never an exponent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let sign = if self.mantissa < 0 || (self.mantissa == 0 && self.negative_zero) {
            "-"
        } else {
            ""
        };
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
        } else {
            digits
        };
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

impl std::str::FromStr for Decimal {
    type Err = ();

    fn from_str(s: &str) -> Result<Decimal, ()> {
        Decimal::parse(s).ok_or(())
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // the test tables are tuples
mod tests {
    use super::*;
    use crate::test_util::random_strings;

    fn d(s: &str) -> Decimal {
        match Decimal::parse(s) {
            Some(v) => v,
            None => panic!("test decimal {s} does not parse"),
        }
    }

    #[test]
    fn decimal_parse_and_display() {
        let cases: &[(&str, Option<&str>, u32)] = &[
            ("1.50", Some("1.50"), 2),
            ("-0.5", Some("-0.5"), 1),
            ("12", Some("12"), 0),
            ("+12", Some("12"), 0),
            ("007", Some("7"), 0),
            ("0.0", Some("0.0"), 1),
            ("-0.0", Some("-0.0"), 1),
            ("-0", Some("-0"), 0),
            ("1.58700", Some("1.58700"), 5),
            ("0.00000001", Some("0.00000001"), 8),
            ("1234567890987654321.0", Some("1234567890987654321.0"), 1),
            ("1E-22", Some("0.0000000000000000000001"), 22),
            ("1e3", Some("1000"), 0),
            ("1.5E+2", Some("150"), 0),
            ("1.25e1", Some("12.5"), 1),
            ("-1.000000000000000000E+245", None, 0),
            ("1E-40", None, 0),
            (
                "0E-50",
                Some("0.00000000000000000000000000000000000000"),
                38,
            ),
            (
                "1.0000000000000000000000000000000000000000000",
                Some("1.00000000000000000000000000000000000000"),
                38,
            ),
            ("123456789012345678901234567890123456789012", None, 0),
            ("", None, 0),
            ("-", None, 0),
            (".5", None, 0),
            ("5.", None, 0),
            ("1.2.3", None, 0),
            (" 1", None, 0),
            ("1e", None, 0),
            ("1e+", None, 0),
            ("abc", None, 0),
            ("1e99999999999999999999", None, 0),
        ];
        for (input, shown, scale) in cases {
            let got = Decimal::parse(input);
            assert_eq!(
                got.map(|v| v.to_string()).as_deref(),
                *shown,
                "parse {input:?}"
            );
            if let Some(v) = got {
                assert_eq!(v.scale(), *scale, "scale of {input}");
            }
        }
        assert_eq!(
            "2.5".parse::<Decimal>().map(|v| v.to_string()),
            Ok("2.5".to_string())
        );
    }

    #[test]
    fn decimal_equality_and_order() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.00", Ordering::Equal),
            ("0.0", "0", Ordering::Equal),
            ("1.1", "1.2", Ordering::Less),
            ("1.0", "1.2", Ordering::Less),
            ("1.1", "1.0", Ordering::Greater),
            ("-0.5", "0.3", Ordering::Less),
            ("-1.5", "-0.2", Ordering::Less),
            ("-0.5", "-1.2", Ordering::Greater),
            ("0.9", "1", Ordering::Less),
            ("185", "180.0", Ordering::Greater),
            (
                "0.00000000000000000000000000000000000001",
                "0",
                Ordering::Greater,
            ),
            (
                "99999999999999999999999999999999999999",
                "0.1",
                Ordering::Greater,
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(d(a).cmp_value(&d(b)), *want, "{a} vs {b}");
            assert_eq!(d(b).cmp_value(&d(a)), want.reverse(), "{b} vs {a}");
        }
        assert_eq!(d("1.0"), d("1.00"));
        assert!(d("1.1") != d("1.2"));
    }

    #[test]
    fn decimal_equivalence() {
        let cases: &[(&str, &str, bool)] = &[
            ("1.1", "1.1", true),
            ("1.1", "1.2", false),
            ("1.10", "1.1", true),
            ("0.0", "0", true),
            ("0", "0", true),
            ("1", "2", false),
            ("4", "4.04", true),
            ("4", "4.5", false),
            ("1.24", "1.2", true),
            ("1.25", "1.2", false),
            ("-1.25", "-1.3", true),
        ];
        for (a, b, want) in cases {
            assert_eq!(d(a).equivalent(&d(b)), *want, "{a} ~ {b}");
            assert_eq!(d(b).equivalent(&d(a)), *want, "{b} ~ {a}");
        }
    }

    #[test]
    fn decimal_arithmetic() {
        type Op = fn(&Decimal, &Decimal) -> Option<Decimal>;
        let add: Op = Decimal::checked_add;
        let sub: Op = Decimal::checked_sub;
        let mul: Op = Decimal::checked_mul;
        let div: Op = Decimal::checked_div;
        let cases: &[(Op, &str, &str, Option<&str>)] = &[
            (add, "1.2", "1.8", Some("3.0")),
            (add, "1", "0", Some("1")),
            (add, "0.1", "0.02", Some("0.12")),
            (sub, "1.8", "1.2", Some("0.6")),
            (sub, "1", "1", Some("0")),
            (sub, "-1.5", "2", Some("-3.5")),
            (mul, "1.2", "1.8", Some("2.16")),
            (mul, "1", "1", Some("1")),
            (mul, "-2.5", "4", Some("-10.0")),
            (div, "1", "1", Some("1")),
            (div, "4", "2", Some("2")),
            (div, "4.0", "2.0", Some("2.0")),
            (div, "1", "2", Some("0.5")),
            (div, "1", "3", Some("0.33333333")),
            (div, "2", "3", Some("0.66666667")),
            (div, "-2", "3", Some("-0.66666667")),
            (div, "1.2", "1.8", Some("0.66666667")),
            (div, "5", "0", None),
            (div, "5.0", "0.0", None),
            (div, "10", "4", Some("2.5")),
            (div, "0.000000000001", "3", Some("0.000000000000")),
            (
                add,
                "99999999999999999999999999999999999999",
                "99999999999999999999999999999999999999",
                None,
            ),
            (mul, "99999999999999999999", "99999999999999999999", None),
            (
                mul,
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
                Some("0.00000000000000000000000000000000000000"),
            ),
        ];
        for (op, a, b, want) in cases {
            let got = op(&d(a), &d(b)).map(|v| v.to_string());
            assert_eq!(got.as_deref(), *want, "{a} op {b}");
        }
        // testDiv / testMod
        let div_mod: &[(&str, &str, Option<i64>, Option<&str>)] = &[
            ("1", "1", Some(1), Some("0")),
            ("4", "2", Some(2), Some("0")),
            ("5", "2", Some(2), Some("1")),
            ("5", "0", None, None),
            ("2.2", "1.8", Some(1), Some("0.4")),
            ("5.5", "0.7", Some(7), Some("0.6")),
            ("-5.5", "2", Some(-2), Some("-1.5")),
            ("2.99999999999", "1", Some(2), Some("0.99999999999")),
        ];
        for (a, b, q, r) in div_mod {
            assert_eq!(d(a).div_trunc(&d(b)), *q, "{a} div {b}");
            let got = d(a).checked_rem(&d(b)).map(|v| v.to_string());
            assert_eq!(got.as_deref(), *r, "{a} mod {b}");
        }
        // 2.2 mod 1.8 = 2.2 - 1.8 * trunc(2.2 / 1.8) = 0.4 (testMod4)
        let q = d("2.2").checked_div(&d("1.8")).and_then(|v| v.truncate());
        assert_eq!(q, Some(1));
        // (1.2 / 1.8).round(2) = 0.67 (testNEquality22/23)
        let r = d("1.2").checked_div(&d("1.8")).and_then(|v| v.round(2));
        assert_eq!(r, Some(d("0.67")));
        assert!(r != Some(d("0.6666667")));
    }

    #[test]
    fn decimal_rounding_functions() {
        let round: &[(&str, u32, &str)] = &[
            ("1", 0, "1"),
            ("3.14159", 3, "3.142"),
            ("2.5", 0, "3"),
            ("-2.5", 0, "-3"),
            ("-2.4", 0, "-2"),
            ("1.5", 3, "1.500"),
            ("0.666666667", 2, "0.67"),
        ];
        for (v, digits, want) in round {
            assert_eq!(
                d(v).round(*digits).map(|x| x.to_string()).as_deref(),
                Some(*want),
                "{v}.round({digits})"
            );
        }
        let ints: &[(&str, Option<i64>, Option<i64>, Option<i64>)] = &[
            // value, floor, ceiling, truncate
            ("1", Some(1), Some(1), Some(1)),
            ("1.1", Some(1), Some(2), Some(1)),
            ("2.1", Some(2), Some(3), Some(2)),
            ("-2.1", Some(-3), Some(-2), Some(-2)),
            ("-1.56", Some(-2), Some(-1), Some(-1)),
            ("101", Some(101), Some(101), Some(101)),
            ("-5.0", Some(-5), Some(-5), Some(-5)),
            ("99999999999999999999999", None, None, None),
        ];
        for (v, fl, ce, tr) in ints {
            assert_eq!(d(v).floor(), *fl, "{v}.floor()");
            assert_eq!(d(v).ceiling(), *ce, "{v}.ceiling()");
            assert_eq!(d(v).truncate(), *tr, "{v}.truncate()");
        }
        assert_eq!(d("-5").abs(), d("5"));
        assert_eq!(d("-5.5").abs().to_string(), "5.5");
        assert_eq!(d("5.5").neg().to_string(), "-5.5");
        assert_eq!(d("2.0").to_i64(), Some(2));
        assert_eq!(d("2.5").to_i64(), None);
        assert!(d("2.0").is_integral());
        assert!(!d("2.01").is_integral());
        assert_eq!(d("1.5").to_f64(), 1.5);
        assert_eq!(d("-0.25").to_f64(), -0.25);
    }

    #[test]
    fn decimal_math_functions() {
        // (result, expected); None = empty.
        let cases: &[(Option<Decimal>, Option<&str>)] = &[
            (d("81").sqrt(), Some("9")),
            (d("81.0").sqrt(), Some("9.0")),
            (d("2").sqrt(), Some("1.4142135623731")),
            (d("-1").sqrt(), None),
            (d("0").exp(), Some("1")),
            (d("1").exp(), Some("2.71828182845905")),
            (d("10000").exp(), None),
            (d("1").ln(), Some("0")),
            (d("1.0").ln(), Some("0.0")),
            (d("0").ln(), None),
            (d("-1").ln(), None),
            (d("16").log(&d("2")), Some("4")),
            (d("100.0").log(&d("10.0")), Some("2.0")),
            (d("1000").log(&d("10")), Some("3")),
            (d("8").log(&d("1")), None),
            (d("8").log(&d("-2")), None),
            (d("2").power(&d("3")), Some("8")),
            (d("2.5").power(&d("2")), Some("6.25")),
            (d("2").power(&d("-2")), Some("0.25")),
            (d("4").power(&d("0.5")), Some("2")),
            (d("-1").power(&d("0.5")), None),
            (d("0").power(&d("-1")), None),
            (d("0").power(&d("0")), Some("1")),
            (d("10").power(&d("100")), None),
            (d("-2").power(&d("3")), Some("-8")),
        ];
        for (i, (got, want)) in cases.iter().enumerate() {
            assert_eq!(got.map(|v| v.to_string()).as_deref(), *want, "case {i}");
        }
        assert_eq!(d("1000").log(&d("10")), Some(d("3")));
    }

    #[test]
    fn decimal_boundaries() {
        // (value, precision, low, high) from the LowBoundary/HighBoundary groups and the spec.
        let cases: &[(&str, Option<u32>, Option<&str>, Option<&str>)] = &[
            ("1.587", None, Some("1.58650000"), Some("1.58750000")),
            ("1.587", Some(6), Some("1.586500"), Some("1.587500")),
            ("1.587", Some(2), Some("1.58"), Some("1.59")),
            ("1.587", Some(0), Some("1"), Some("2")),
            ("1.587", Some(8), Some("1.58650000"), Some("1.58750000")),
            ("1.587", Some(32), None, None),
            ("1.587", Some(39), None, None),
            ("-1.587", None, Some("-1.58750000"), Some("-1.58650000")),
            ("-1.587", Some(6), Some("-1.587500"), Some("-1.586500")),
            ("-1.587", Some(2), Some("-1.59"), Some("-1.58")),
            ("-1.587", Some(0), Some("-2"), Some("-1")),
            ("1", Some(0), Some("0"), Some("2")),
            ("1", Some(5), Some("0.50000"), Some("1.50000")),
            ("1", None, Some("0.50000000"), Some("1.50000000")),
            ("12.500", Some(4), Some("12.4995"), Some("12.5005")),
            ("120", Some(2), Some("119.50"), Some("120.50")),
            ("-120", Some(2), Some("-120.50"), Some("-119.50")),
            ("0.0034", Some(1), Some("0.0"), Some("0.0")),
            // LowBoundaryDecimal15: `-0.0`, a zero shown with its sign.
            ("-0.0034", Some(1), Some("-0.0"), Some("-0.0")),
            ("0.06", Some(1), Some("0.0"), Some("0.1")),
            ("0", Some(2), Some("-0.50"), Some("0.50")),
            ("0.0", None, Some("-0.05000000"), Some("0.05000000")),
            (
                "1.587",
                Some(28),
                Some("1.5865000000000000000000000000"),
                Some("1.5875000000000000000000000000"),
            ),
        ];
        for (v, p, low, high) in cases {
            let got_low = d(v).low_boundary(*p).map(|x| x.to_string());
            let got_high = d(v).high_boundary(*p).map(|x| x.to_string());
            assert_eq!(got_low.as_deref(), *low, "{v}.lowBoundary({p:?})");
            assert_eq!(got_high.as_deref(), *high, "{v}.highBoundary({p:?})");
        }
        // `-0.0034.highBoundary(1)` parses as -(0.0034.highBoundary(1)) → 0.0.
        let r = d("0.0034")
            .high_boundary(Some(1))
            .map(|x| x.neg().to_string());
        assert_eq!(r.as_deref(), Some("0.0"));
        // A negative zero equals zero.
        assert!(d("-0.0") == d("0"));
        assert!(d("-0.0").equivalent(&d("0")));
        assert_eq!(d("-0.0").neg().to_string(), "0.0");
        let sum = d("-0.0").checked_add(&d("0")).map(|x| x.to_string());
        assert_eq!(sum.as_deref(), Some("0.0"));
        // `-120.highBoundary(2)` → -(120.50)
        assert_eq!(
            d("120")
                .high_boundary(Some(2))
                .map(|x| x.neg().to_string())
                .as_deref(),
            Some("-120.50")
        );
    }

    #[test]
    fn decimal_never_panics_on_random_text() {
        let mut parsed = Vec::new();
        for s in random_strings(b"0123456789.-+eE", 40_000, 45) {
            if let Some(v) = Decimal::parse(&s) {
                // Display round-trips.
                assert_eq!(
                    Decimal::parse(&v.to_string()).map(|w| w.to_string()),
                    Some(v.to_string()),
                    "{s}"
                );
                parsed.push(v);
            }
        }
        assert!(parsed.len() > 100);
        for w in parsed.windows(2) {
            let (a, b) = (w[0], w[1]);
            let _ = (
                a.checked_add(&b),
                a.checked_sub(&b),
                a.checked_mul(&b),
                a.checked_div(&b),
            );
            let _ = (a.power(&b), a.log(&b), a.equivalent(&b), a.cmp_value(&b));
            let _ = (
                a.low_boundary(Some(3)),
                a.high_boundary(None),
                a.round(2),
                a.sqrt(),
                a.exp(),
                a.ln(),
            );
        }
    }

    #[test]
    fn decimal_never_panics_on_extremes() {
        let big = d("99999999999999999999999999999999999999");
        let tiny = d("0.00000000000000000000000000000000000001");
        let values = [
            big,
            big.neg(),
            tiny,
            tiny.neg(),
            Decimal::zero(),
            d("1"),
            d("-1.5"),
        ];
        for a in &values {
            for b in &values {
                let _ = a.checked_add(b);
                let _ = a.checked_sub(b);
                let _ = a.checked_mul(b);
                let _ = a.checked_div(b);
                let _ = a.cmp_value(b);
                let _ = a.equivalent(b);
                let _ = a.power(b);
                let _ = a.log(b);
            }
            let _ = (
                a.sqrt(),
                a.exp(),
                a.ln(),
                a.floor(),
                a.ceiling(),
                a.truncate(),
            );
            let _ = (
                a.round(0),
                a.round(40),
                a.low_boundary(None),
                a.high_boundary(Some(28)),
            );
            let _ = (a.to_f64(), a.to_i64(), a.neg(), a.abs(), a.to_string());
        }
        assert_eq!(Decimal::new(i128::MIN, 0).map(|v| v.mantissa()), None);
        assert_eq!(Decimal::new(1, 39).map(|v| v.mantissa()), None);
        assert_eq!(Decimal::from_f64(f64::NAN, 0).map(|v| v.mantissa()), None);
        assert_eq!(Decimal::from_f64(1e300, 0).map(|v| v.mantissa()), None);
        assert_eq!(
            Decimal::from_f64(1e-300, 0)
                .map(|v| v.to_string())
                .as_deref(),
            Some("0")
        );
    }
}
