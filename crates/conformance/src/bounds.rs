//! `minValue[x]` / `maxValue[x]` checks: numbers, dates and times, quantities (with the UCUM
//! metric prefixes of common base units), and durations relative to today for dates.

use std::time::{SystemTime, UNIX_EPOCH};

use fhir::json::Value;

/// Whether `v` respects the bound (`is_min`: v ≥ bound, else v ≤ bound). `None` when the two
/// cannot be compared (different kinds, unknown units): the caller says nothing then.
pub fn within(v: &Value, bound_type: &str, bound: &Value, is_min: bool) -> Option<bool> {
    let ord = compare(v, bound_type, bound, is_min)?;
    Some(if is_min { ord >= 0.0 } else { ord <= 0.0 })
}

/// Sign of (v − bound).
fn compare(v: &Value, bound_type: &str, bound: &Value, is_min: bool) -> Option<f64> {
    match bound_type {
        "Integer" | "Decimal" | "PositiveInt" | "UnsignedInt" => {
            let a: f64 = v.as_number()?.parse().ok()?;
            let b: f64 = bound.as_number()?.parse().ok()?;
            Some(a - b)
        }
        "Date" | "DateTime" | "Instant" | "Time" => {
            let (a, b) = (v.as_str()?, bound.as_str()?);
            let n = a.len().min(b.len()).min(10.max(a.len().min(b.len())));
            Some(ordering(&a[..n], &b[..n]))
        }
        "Quantity" => {
            let (av, au) = quantity(v)?;
            let (bv, bu) = quantity(bound)?;
            let (fa, ba) = ucum(&au)?;
            let (fb, bb) = ucum(&bu)?;
            (ba == bb).then_some(av * fa - bv * fb)
        }
        "Duration" => {
            // A date bound relative to now: minimum = today − d, maximum = today + d.
            let date = v.as_str()?;
            let (d, unit) = quantity(bound)?;
            let days = match unit.as_str() {
                "a" => d * 365.25,
                "mo" => d * 30.4375,
                "wk" => d * 7.0,
                "d" => d,
                _ => return None,
            };
            let today = days_since_epoch_now();
            let limit = if is_min { today - days } else { today + days };
            let value = days_of_date(date)?;
            Some(value - limit)
        }
        _ => None,
    }
}

fn ordering(a: &str, b: &str) -> f64 {
    match a.cmp(b) {
        std::cmp::Ordering::Less => -1.0,
        std::cmp::Ordering::Equal => 0.0,
        std::cmp::Ordering::Greater => 1.0,
    }
}

fn quantity(v: &Value) -> Option<(f64, String)> {
    let value: f64 = v.get("value")?.as_number()?.parse().ok()?;
    let unit = v
        .get("code")
        .or_else(|| v.get("unit"))
        .and_then(Value::as_str)?;
    Some((value, unit.to_string()))
}

/// (factor, base unit) for a UCUM code made of an optional metric prefix and a base unit.
fn ucum(code: &str) -> Option<(f64, &str)> {
    const BASES: &[&str] = &["mol", "g", "m", "L", "l", "s", "Pa", "J", "W", "Hz", "eq"];
    const PREFIXES: &[(&str, f64)] = &[
        ("k", 1e3),
        ("h", 1e2),
        ("da", 1e1),
        ("d", 1e-1),
        ("c", 1e-2),
        ("m", 1e-3),
        ("u", 1e-6),
        ("n", 1e-9),
        ("p", 1e-12),
    ];
    if let Some(b) = BASES.iter().find(|b| **b == code) {
        return Some((1.0, b));
    }
    for (p, f) in PREFIXES {
        if let Some(rest) = code.strip_prefix(p) {
            if let Some(b) = BASES.iter().find(|b| **b == rest) {
                return Some((*f, b));
            }
        }
    }
    // Anything else compares only with itself.
    Some((1.0, code))
        .filter(|_| !code.is_empty())
        .map(|(f, _)| (f, code))
}

fn days_since_epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() / 86_400.0)
        .unwrap_or(0.0)
}

/// Days since 1970-01-01 of a `YYYY[-MM[-DD]]…` value (missing parts = first of period).
fn days_of_date(s: &str) -> Option<f64> {
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: i64 = s.get(5..7).and_then(|x| x.parse().ok()).unwrap_or(1);
    let d: i64 = s.get(8..10).and_then(|x| x.parse().ok()).unwrap_or(1);
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhir::json::parse;

    #[test]
    fn quantities_convert_prefixes() {
        let v = parse(r#"{"value": 11000, "code": "g"}"#).unwrap();
        let max = parse(r#"{"value": 10, "code": "kg"}"#).unwrap();
        assert_eq!(within(&v, "Quantity", &max, false), Some(false));
        let v = parse(r#"{"value": 9000, "code": "g"}"#).unwrap();
        assert_eq!(within(&v, "Quantity", &max, false), Some(true));
        let other = parse(r#"{"value": 1, "code": "mm[Hg]"}"#).unwrap();
        assert_eq!(within(&other, "Quantity", &max, false), None);
    }

    #[test]
    fn numbers_dates_and_durations() {
        let n = Value::Number("5".into());
        assert_eq!(
            within(&n, "Integer", &Value::Number("3".into()), true),
            Some(true)
        );
        assert_eq!(
            within(&n, "Integer", &Value::Number("3".into()), false),
            Some(false)
        );
        let d = Value::string("2020-01-01");
        assert_eq!(
            within(&d, "Date", &Value::string("2021-01-01"), true),
            Some(false)
        );
        let century = parse(r#"{"value": 100, "code": "a"}"#).unwrap();
        assert_eq!(
            within(&Value::string("1850-01-01"), "Duration", &century, true),
            Some(false)
        );
        assert_eq!(
            within(&Value::string("1950-01-01"), "Duration", &century, true),
            Some(true)
        );
        assert_eq!(days_of_date("1970-01-01"), Some(0.0));
        assert_eq!(days_of_date("2000-03-01"), Some(11017.0));
    }
}
