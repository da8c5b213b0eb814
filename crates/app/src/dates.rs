//! FHIR date, dateTime and instant values as UTC ranges, for the date index and date search.
//! A value without a time zone is taken as Japan time (+09:00): every submitter is in Japan.

/// The first and last millisecond (UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`) that a value covers:
/// `2026-11` covers the whole month, `2026-11-20T09:30+09:00` one minute.
///
/// The FHIRPath boundary functions fill a missing zone with +14:00 (low) or -12:00 (high);
/// those two zones are read as "no zone" too, which no Japanese submitter uses.
pub fn utc_range(text: &str) -> Option<(String, String)> {
    let (body, zone) = split_zone(text)?;
    let offset_min = match zone {
        Some(z) if z != 14 * 60 && z != -12 * 60 => z,
        _ => 9 * 60,
    };
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut dp = date.split('-');
    let y: i64 = num(dp.next()?, 4)?;
    if y < 1 {
        // FHIR's years start at 0001.
        return None;
    }
    let month = match dp.next() {
        Some(m) => Some(num(m, 2)?),
        None => None,
    };
    let day = match dp.next() {
        Some(d) => Some(num(d, 2)?),
        None => None,
    };
    if dp.next().is_some() {
        return None;
    }
    let (h, mi, s, ms, unit_ms): (i64, i64, i64, i64, i64);
    let (m_lo, m_hi) = match month {
        Some(m) if (1..=12).contains(&m) => (m, m),
        Some(_) => return None,
        None => (1, 12),
    };
    let last_day = days_in_month(y, m_hi);
    let (d_lo, d_hi) = match day {
        Some(d) if d >= 1 && d <= days_in_month(y, m_lo) => (d, d),
        Some(_) => return None,
        None => (1, last_day),
    };
    match time {
        None => {
            let lo = millis(y, m_lo, d_lo, 0);
            let hi = millis(y, m_hi, d_hi, 0) + 86_400_000 - 1;
            return Some(fmt(lo - offset_min * 60_000, hi - offset_min * 60_000));
        }
        Some(t) => {
            let mut tp = t.split(':');
            h = num(tp.next()?, 2)?;
            mi = num(tp.next()?, 2)?;
            match tp.next() {
                Some(sec) => {
                    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
                    s = num(whole, 2)?;
                    if frac.is_empty() {
                        ms = 0;
                        unit_ms = 1000;
                    } else {
                        if !frac.bytes().all(|b| b.is_ascii_digit()) {
                            return None;
                        }
                        let digits = &frac[..frac.len().min(3)];
                        ms = digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32);
                        unit_ms = 10_i64.pow(3 - digits.len() as u32).max(1);
                    }
                }
                None => {
                    s = 0;
                    ms = 0;
                    unit_ms = 60_000;
                }
            }
        }
    }
    if h > 24 || mi > 59 || s > 60 {
        return None;
    }
    let lo = millis(y, m_lo, d_lo, ((h * 60 + mi) * 60 + s) * 1000 + ms) - offset_min * 60_000;
    Some(fmt(lo, lo + unit_ms - 1))
}

fn fmt(lo: i64, hi: i64) -> (String, String) {
    (store::format_utc_millis(lo), store::format_utc_millis(hi))
}

fn millis(y: i64, m: i64, d: i64, ms_of_day: i64) -> i64 {
    store::days_from_civil(y, m as u32, d as u32) * 86_400_000 + ms_of_day
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn num(s: &str, len: usize) -> Option<i64> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Splits off a trailing `Z` or `±HH:MM` (only after a time), returning the zone in minutes.
fn split_zone(text: &str) -> Option<(&str, Option<i64>)> {
    if let Some(b) = text.strip_suffix('Z') {
        return Some((b, Some(0)));
    }
    if let Some(t) = text.find('T') {
        let tail = &text[t..];
        if let Some(p) = tail.rfind(['+', '-']) {
            let zone = &tail[p + 1..];
            let (zh, zm) = zone.split_once(':')?;
            let (zh, zm) = (num(zh, 2)?, num(zm, 2)?);
            // FHIR's zones: -14:00 to +14:00, minutes 00–59.
            if zm > 59 || zh * 60 + zm > 14 * 60 {
                return None;
            }
            let minutes = zh * 60 + zm;
            let sign = if tail.as_bytes()[p] == b'-' { -1 } else { 1 };
            return Some((&text[..t + p], Some(sign * minutes)));
        }
    }
    Some((text, None))
}

/// Day number (days since 1970-01-01, Japan time) of the date at the start of `text`.
pub fn day_number(text: &str) -> Option<i64> {
    let (lo, _) = utc_range(text)?;
    // Back to Japan time: add nine hours to the UTC instant.
    let y: i64 = lo.get(0..4)?.parse().ok()?;
    let m: u32 = lo.get(5..7)?.parse().ok()?;
    let d: u32 = lo.get(8..10)?.parse().ok()?;
    let h: i64 = lo.get(11..13)?.parse().ok()?;
    let days = store::days_from_civil(y, m, d);
    Some(if h + 9 >= 24 { days + 1 } else { days })
}

/// Milliseconds since 1970-01-01T00:00Z of the first instant `text` covers.
pub fn instant_millis(text: &str) -> Option<i64> {
    let (lo, _) = utc_range(text)?;
    let y: i64 = lo.get(0..4)?.parse().ok()?;
    let m: u32 = lo.get(5..7)?.parse().ok()?;
    let d: u32 = lo.get(8..10)?.parse().ok()?;
    let h: i64 = lo.get(11..13)?.parse().ok()?;
    let mi: i64 = lo.get(14..16)?.parse().ok()?;
    let s: i64 = lo.get(17..19)?.parse().ok()?;
    let ms: i64 = lo.get(20..23)?.parse().ok()?;
    let days = store::days_from_civil(y, m, d);
    Some((((days * 24 + h) * 60 + mi) * 60 + s) * 1000 + ms)
}

/// The instant `hours` after `text`, as UTC text (`YYYY-MM-DDThh:mm:ss.sssZ`).
pub fn plus_hours(text: &str, hours: i64) -> Option<String> {
    Some(store::format_utc_millis(
        instant_millis(text)? + hours * 3_600_000,
    ))
}

/// `text` as a UTC instant (`YYYY-MM-DDThh:mm:ss.sssZ`): its first millisecond.
pub fn utc_instant(text: &str) -> Option<String> {
    utc_range(text).map(|(lo, _)| lo)
}

/// Seconds since 1970 as an instant (`YYYY-MM-DDTHH:MM:SS.000Z`).
pub fn format_seconds(s: i64) -> String {
    store::format_utc_millis(s.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        let t = "2026-12-07T10:00:00.000Z";
        assert_eq!(
            plus_hours(t, 24).as_deref(),
            Some("2026-12-08T10:00:00.000Z")
        );
        assert_eq!(
            plus_hours("2026-12-31T23:30:00Z", 1).as_deref(),
            Some("2027-01-01T00:30:00.000Z")
        );
        assert_eq!(utc_instant("2026-12-07T19:00:00+09:00").as_deref(), Some(t));
        assert_eq!(instant_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(instant_millis("not a date"), None);
    }

    #[test]
    fn ranges() {
        let table: &[(&str, Option<(&str, &str)>)] = &[
            (
                "2026-11-20",
                Some(("2026-11-19T15:00:00.000Z", "2026-11-20T14:59:59.999Z")),
            ),
            (
                "2026-11",
                Some(("2026-10-31T15:00:00.000Z", "2026-11-30T14:59:59.999Z")),
            ),
            (
                "2024",
                Some(("2023-12-31T15:00:00.000Z", "2024-12-31T14:59:59.999Z")),
            ),
            (
                "2026-11-20T09:30:00+09:00",
                Some(("2026-11-20T00:30:00.000Z", "2026-11-20T00:30:00.999Z")),
            ),
            (
                "2026-11-20T09:30:00.123Z",
                Some(("2026-11-20T09:30:00.123Z", "2026-11-20T09:30:00.123Z")),
            ),
            (
                "2026-11-20T00:00:00.000+14:00",
                Some(("2026-11-19T15:00:00.000Z", "2026-11-19T15:00:00.000Z")),
            ),
            ("2026-02-30", None),
            ("20261120", None),
            ("2026-11-20T25:00", None),
            ("abc", None),
        ];
        for (text, want) in table {
            let got = utc_range(text);
            assert_eq!(
                got.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                *want,
                "{text}"
            );
        }
        assert_eq!(
            day_number("2026-11-20"),
            day_number("2026-11-20T23:59:00+09:00")
        );
        assert_eq!(
            day_number("2026-11-21").unwrap() - day_number("2026-11-20").unwrap(),
            1
        );
    }

    #[test]
    fn impossible_zones_and_year_zero_are_not_dates() {
        for bad in [
            "2026-01-01T00:00:00+99:99",
            "2026-01-01T00:00:00+14:01",
            "2026-01-01T00:00:00-15:00",
            "2026-01-01T00:00:00+09:60",
            "0000",
            "0000-01-01",
        ] {
            assert_eq!(utc_range(bad), None, "{bad}");
        }
        for good in [
            "2026-01-01T00:00:00+14:00",
            "2026-01-01T00:00:00-12:00",
            "0001",
        ] {
            assert!(utc_range(good).is_some(), "{good}");
        }
    }
}
