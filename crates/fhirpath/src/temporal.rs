//! FHIRPath `Date`, `Time` and `DateTime` values: partial (precision-carrying) calendar values
//! with the comparison, arithmetic and boundary semantics of FHIRPath N1 as exercised by the
//! R4 test suite.
//!
//! - Parsing takes the text *without* the leading `@` (and, for `Time`, without the `T`);
//!   `DateTime::parse` also takes plain FHIR `date`, `dateTime` and `instant` strings.
//! - Comparison goes from the most to the least significant part; when all common parts are
//!   equal and one value has more parts, the result is unknown (`None`, FHIRPath empty).
//!   Seconds and milliseconds are one part compared as a decimal (`10:30:00 = 10:30:00.0`).
//! - Time zones: two values with offsets are compared in UTC. When only one has an offset, the
//!   other (if it has a time) is tried at both ends of the offset range, `+14:00` and
//!   `-12:00`; if the outcome differs the result is unknown (`@2012-04-15T15:00:00Z =
//!   @2012-04-15T10:00:00` is empty, `now() > @1974-12-25` is true). A value without time is
//!   compared on its calendar date as written.
//! - `Display` gives the FHIRPath text without `@` (`2014-01-25T14:30:14.559+09:00`); a
//!   `DateTime` without time prints as the bare date (`2015`, `2015-02-04`), the form FHIR uses
//!   and `toString()` returns. [`DateTime::to_literal`] gives the `@2015T` literal form. An
//!   offset of zero prints as `Z`.
//! - `now()`/`today()` use the system clock in UTC (no time-zone database is available);
//!   [`DateTime::now_with_offset`] lets a caller supply its local offset.
//!
//! No function panics; out-of-range results are `None`.

use std::cmp::Ordering;
use std::fmt;

use crate::quantity::Quantity;

/// The precision of a temporal value (the least significant part present).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl Precision {
    /// Precision for comparison purposes: seconds and milliseconds are one precision.
    fn comparison_key(self) -> Precision {
        if self == Precision::Millisecond {
            Precision::Second
        } else {
            self
        }
    }

    fn unit(self) -> DurUnit {
        match self {
            Precision::Year => DurUnit::Year,
            Precision::Month => DurUnit::Month,
            Precision::Day => DurUnit::Day,
            Precision::Hour => DurUnit::Hour,
            Precision::Minute => DurUnit::Minute,
            Precision::Second => DurUnit::Second,
            Precision::Millisecond => DurUnit::Millisecond,
        }
    }
}

const MS_PER_DAY: i128 = 86_400_000;
/// Offsets used for a value without time zone: the earliest and latest zones in use.
const EARLIEST_OFFSET: i16 = 14 * 60;
const LATEST_OFFSET: i16 = -12 * 60;
const MAX_OFFSET: i16 = 14 * 60;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (era-based computation).
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (m + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`]; `None` far outside the years 1..=9999.
fn civil_from_days(days: i64) -> Option<(i64, u8, u8)> {
    if !(-1_000_000_000..=1_000_000_000).contains(&days) {
        return None;
    }
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = year_of_era + era * 400 + i64::from(m <= 2);
    Some((y, u8::try_from(m).ok()?, u8::try_from(d).ok()?))
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |acc, &c| {
        acc.checked_mul(10)?.checked_add(u32::from(c - b'0'))
    })
}

// ------------------------------------------------------------------------------------ units

/// A duration unit usable in date/time arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DurUnit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl DurUnit {
    /// Calendar keywords (singular or plural) and the UCUM definite-duration codes. UCUM `a`
    /// and `mo` are not calendar durations and are refused (the suite expects an error for
    /// `@1973-12-25 + 1 'a'`).
    fn parse(u: &str) -> Option<DurUnit> {
        Some(match u {
            "year" | "years" => DurUnit::Year,
            "month" | "months" => DurUnit::Month,
            "week" | "weeks" | "wk" => DurUnit::Week,
            "day" | "days" | "d" => DurUnit::Day,
            "hour" | "hours" | "h" => DurUnit::Hour,
            "minute" | "minutes" | "min" => DurUnit::Minute,
            "second" | "seconds" | "s" => DurUnit::Second,
            "millisecond" | "milliseconds" | "ms" => DurUnit::Millisecond,
            _ => return None,
        })
    }

    fn rank(self) -> u8 {
        match self {
            DurUnit::Year => 0,
            DurUnit::Month => 1,
            DurUnit::Week => 2,
            DurUnit::Day => 3,
            DurUnit::Hour => 4,
            DurUnit::Minute => 5,
            DurUnit::Second => 6,
            DurUnit::Millisecond => 7,
        }
    }

    /// Milliseconds in one unit (not for years and months).
    fn millis(self) -> Option<i128> {
        Some(match self {
            DurUnit::Week => 7 * MS_PER_DAY,
            DurUnit::Day => MS_PER_DAY,
            DurUnit::Hour => 3_600_000,
            DurUnit::Minute => 60_000,
            DurUnit::Second => 1000,
            DurUnit::Millisecond => 1,
            DurUnit::Year | DurUnit::Month => return None,
        })
    }
}

/// Converts `n` units to the precision of the value when the unit is finer, truncating:
/// `@2014 + 24 months` adds 2 years; `@2014-01-01 + 25 hours` adds 1 day. Days to months and
/// years use 30 and 365 days (the calendar-unit conversion factors of the specification).
fn to_precision(n: i64, u: DurUnit, p: Precision) -> Option<(i64, DurUnit)> {
    let pu = p.unit();
    if u.rank() <= pu.rank() {
        return Some((n, u));
    }
    let converted = match p {
        Precision::Year | Precision::Month => {
            let per = if p == Precision::Year { 365 } else { 30 };
            if u == DurUnit::Month {
                // only reachable for year precision
                i128::from(n) / 12
            } else {
                let days = i128::from(n).checked_mul(u.millis()?)? / MS_PER_DAY;
                days / per
            }
        }
        _ => i128::from(n).checked_mul(u.millis()?)? / pu.millis()?,
    };
    Some((i64::try_from(converted).ok()?, pu))
}

// ------------------------------------------------------------------------------------ Date

/// A partial date: year (1..=9999), optional month, optional day.
#[derive(Clone, Copy, Debug)]
pub struct Date {
    year: u16,
    month: Option<u8>,
    day: Option<u8>,
}

impl Date {
    /// A validated date; a day needs a month.
    pub fn new(year: i64, month: Option<u8>, day: Option<u8>) -> Option<Date> {
        if !(1..=9999).contains(&year) {
            return None;
        }
        if let Some(m) = month {
            if !(1..=12).contains(&m) {
                return None;
            }
        }
        match (month, day) {
            (None, Some(_)) => return None,
            (Some(m), Some(d)) if d == 0 || d > days_in_month(year, m) => return None,
            _ => {}
        }
        Some(Date {
            year: u16::try_from(year).ok()?,
            month,
            day,
        })
    }

    /// `2014`, `2014-01`, `2014-01-25`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        let year = digits(b.get(0..4)?)?;
        let (month, day) = match b.len() {
            4 => (None, None),
            7 if b[4] == b'-' => (Some(digits(&b[5..7])?), None),
            10 if b[4] == b'-' && b[7] == b'-' => {
                (Some(digits(&b[5..7])?), Some(digits(&b[8..10])?))
            }
            _ => return None,
        };
        Date::new(
            i64::from(year),
            month.map(u8::try_from).transpose().ok()?,
            day.map(u8::try_from).transpose().ok()?,
        )
    }

    /// The current date in UTC.
    pub fn today() -> Date {
        DateTime::now().date
    }

    pub fn year(&self) -> i64 {
        i64::from(self.year)
    }

    pub fn month(&self) -> Option<u8> {
        self.month
    }

    pub fn day(&self) -> Option<u8> {
        self.day
    }

    pub fn precision(&self) -> Precision {
        match (self.month, self.day) {
            (None, _) => Precision::Year,
            (Some(_), None) => Precision::Month,
            (Some(_), Some(_)) => Precision::Day,
        }
    }

    /// FHIRPath `precision()`: digits of the value (4, 6 or 8).
    pub fn precision_digits(&self) -> u32 {
        precision_digits(self.precision())
    }

    fn components(&self) -> [Option<i64>; 3] {
        [
            Some(self.year()),
            self.month.map(i64::from),
            self.day.map(i64::from),
        ]
    }

    /// Order; `None` when the precisions differ and the common parts are equal.
    pub fn compare(&self, o: &Date) -> Option<Ordering> {
        cmp_components(&self.components(), &o.components())
    }

    /// `=`: `None` (empty) when unknown.
    pub fn equals(&self, o: &Date) -> Option<bool> {
        self.compare(o).map(Ordering::is_eq)
    }

    /// `~`: different precision is not equivalent.
    pub fn equivalent(&self, o: &Date) -> bool {
        self.precision() == o.precision() && self.compare(o) == Some(Ordering::Equal)
    }

    /// Adds `value` units (see [`DateTime::add_duration`]); the result keeps the precision.
    pub fn add_duration(&self, value: i64, unit: &str) -> Option<Date> {
        DateTime::from_date(*self)
            .add_duration(value, unit)
            .map(|d| d.date)
    }

    /// Subtracts `value` units.
    pub fn sub_duration(&self, value: i64, unit: &str) -> Option<Date> {
        self.add_duration(value.checked_neg()?, unit)
    }

    /// Adds a time-valued quantity, truncating its value to whole units.
    pub fn add_quantity(&self, q: &Quantity) -> Option<Date> {
        self.add_duration(q.value.truncate()?, &q.unit)
    }

    /// `lowBoundary(precision)`: precision 4, 6 or 8 (default 8), else `None`.
    pub fn low_boundary(&self, precision: Option<u32>) -> Option<Date> {
        self.boundary(precision, false)
    }

    /// `highBoundary(precision)`: `@2014.highBoundary(6)` = `@2014-12`.
    pub fn high_boundary(&self, precision: Option<u32>) -> Option<Date> {
        self.boundary(precision, true)
    }

    fn boundary(&self, precision: Option<u32>, high: bool) -> Option<Date> {
        let target = match precision.unwrap_or(8) {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            _ => return None,
        };
        let full = DateTime::from_date(*self).filled(high)?;
        Some(full.truncated(target)?.date)
    }

    /// The literal form with `@`: `@2014-01-25`.
    pub fn to_literal(&self) -> String {
        format!("@{self}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------ Time

/// A partial time of day: hour, optional minute, second and milliseconds. The number of
/// fraction digits written (1 to 3) is kept for display; more digits are truncated to
/// milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Time {
    hour: u8,
    minute: Option<u8>,
    second: Option<u8>,
    millis: Option<u16>,
    frac_digits: u8,
}

impl Time {
    /// A validated time; each part needs the previous one. Second 60 (a leap second) is
    /// accepted as FHIR allows it.
    pub fn new(
        hour: u8,
        minute: Option<u8>,
        second: Option<u8>,
        millis: Option<u16>,
    ) -> Option<Time> {
        if hour > 23 || minute.is_some_and(|m| m > 59) || second.is_some_and(|s| s > 60) {
            return None;
        }
        if millis.is_some_and(|ms| ms > 999)
            || (minute.is_none() && second.is_some())
            || (second.is_none() && millis.is_some())
        {
            return None;
        }
        Some(Time {
            hour,
            minute,
            second,
            millis,
            frac_digits: if millis.is_some() { 3 } else { 0 },
        })
    }

    /// `14`, `14:30`, `14:30:14`, `14:30:14.559` (no leading `T`, no time zone).
    pub fn parse(s: &str) -> Option<Time> {
        let b = s.as_bytes();
        let hour = digits(b.get(0..2)?)?;
        let mut minute = None;
        let mut second = None;
        let mut millis = None;
        let mut frac_digits = 0u8;
        if b.len() > 2 {
            if b.len() < 5 || b[2] != b':' {
                return None;
            }
            minute = Some(digits(&b[3..5])?);
        }
        if b.len() > 5 {
            if b.len() < 8 || b[5] != b':' {
                return None;
            }
            second = Some(digits(&b[6..8])?);
        }
        if b.len() > 8 {
            if b[8] != b'.' || b.len() < 10 {
                return None;
            }
            let frac = &b[9..];
            if !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let mut ms = 0u32;
            for i in 0..3 {
                ms = ms * 10 + frac.get(i).map_or(0, |c| u32::from(c - b'0'));
            }
            millis = Some(ms);
            frac_digits = frac.len().min(3) as u8;
        }
        let mut t = Time::new(
            u8::try_from(hour).ok()?,
            minute.map(u8::try_from).transpose().ok()?,
            second.map(u8::try_from).transpose().ok()?,
            millis.map(u16::try_from).transpose().ok()?,
        )?;
        t.frac_digits = frac_digits;
        Some(t)
    }

    pub fn hour(&self) -> u8 {
        self.hour
    }

    pub fn minute(&self) -> Option<u8> {
        self.minute
    }

    pub fn second(&self) -> Option<u8> {
        self.second
    }

    pub fn millisecond(&self) -> Option<u16> {
        self.millis
    }

    pub fn precision(&self) -> Precision {
        match (self.minute, self.second, self.millis) {
            (None, _, _) => Precision::Hour,
            (Some(_), None, _) => Precision::Minute,
            (Some(_), Some(_), None) => Precision::Second,
            (Some(_), Some(_), Some(_)) => Precision::Millisecond,
        }
    }

    /// FHIRPath `precision()`: 2, 4, 6 or 9.
    pub fn precision_digits(&self) -> u32 {
        precision_digits(self.precision()) - 8
    }

    fn components(&self) -> [Option<i64>; 3] {
        [
            Some(i64::from(self.hour)),
            self.minute.map(i64::from),
            self.second_millis(),
        ]
    }

    /// Seconds and milliseconds as one value in milliseconds.
    fn second_millis(&self) -> Option<i64> {
        self.second
            .map(|s| i64::from(s) * 1000 + i64::from(self.millis.unwrap_or(0)))
    }

    /// Milliseconds since midnight with missing parts as zero.
    fn millis_of_day(&self) -> i128 {
        i128::from(self.hour) * 3_600_000
            + i128::from(self.minute.unwrap_or(0)) * 60_000
            + i128::from(self.second.unwrap_or(0)) * 1000
            + i128::from(self.millis.unwrap_or(0))
    }

    /// A time with the same parts present as `self`, from milliseconds since midnight.
    fn with_millis_of_day(&self, ms: i128) -> Option<Time> {
        let ms = ms.rem_euclid(MS_PER_DAY);
        let hour = u8::try_from(ms / 3_600_000).ok()?;
        let minute = u8::try_from(ms / 60_000 % 60).ok()?;
        let second = u8::try_from(ms / 1000 % 60).ok()?;
        let millis = u16::try_from(ms % 1000).ok()?;
        let mut t = Time::new(
            hour,
            self.minute.map(|_| minute),
            self.second.map(|_| second),
            self.millis.map(|_| millis),
        )?;
        t.frac_digits = fit_frac_digits(self.frac_digits, t.millis);
        Some(t)
    }

    /// Order; `None` when the precisions differ and the common parts are equal.
    pub fn compare(&self, o: &Time) -> Option<Ordering> {
        cmp_components(&self.components(), &o.components())
    }

    /// `=`: `None` (empty) when unknown.
    pub fn equals(&self, o: &Time) -> Option<bool> {
        self.compare(o).map(Ordering::is_eq)
    }

    /// `~`: different precision (seconds and milliseconds counting as one) is not equivalent.
    pub fn equivalent(&self, o: &Time) -> bool {
        self.precision().comparison_key() == o.precision().comparison_key()
            && self.compare(o) == Some(Ordering::Equal)
    }

    /// Adds `value` hours, minutes, seconds or milliseconds (calendar keyword or UCUM code),
    /// wrapping around midnight. Units finer than the precision are converted to it,
    /// truncating. Years, months, weeks and days are refused (`None`).
    pub fn add_duration(&self, value: i64, unit: &str) -> Option<Time> {
        let u = DurUnit::parse(unit)?;
        if u.rank() < DurUnit::Hour.rank() {
            return None;
        }
        let (n, u) = to_precision(value, u, self.precision())?;
        let delta = i128::from(n).checked_mul(u.millis()?)?;
        self.with_millis_of_day(self.millis_of_day().checked_add(delta)?)
    }

    /// Subtracts `value` units.
    pub fn sub_duration(&self, value: i64, unit: &str) -> Option<Time> {
        self.add_duration(value.checked_neg()?, unit)
    }

    /// Adds a time-valued quantity, truncating its value to whole units.
    pub fn add_quantity(&self, q: &Quantity) -> Option<Time> {
        self.add_duration(q.value.truncate()?, &q.unit)
    }

    /// `lowBoundary(precision)`: precision 2, 4, 6 or 9 (default 9), else `None`.
    pub fn low_boundary(&self, precision: Option<u32>) -> Option<Time> {
        self.boundary(precision, false)
    }

    /// `highBoundary(precision)`: `@T10:30.highBoundary(9)` = `@T10:30:59.999`.
    pub fn high_boundary(&self, precision: Option<u32>) -> Option<Time> {
        self.boundary(precision, true)
    }

    fn boundary(&self, precision: Option<u32>, high: bool) -> Option<Time> {
        let target = match precision.unwrap_or(9) {
            2 => Precision::Hour,
            4 => Precision::Minute,
            6 => Precision::Second,
            9 => Precision::Millisecond,
            _ => return None,
        };
        Some(fill_time(Some(*self), high).truncated(target))
    }

    /// Drops the parts below `p` (`p` at least `Hour`).
    fn truncated(&self, p: Precision) -> Time {
        let mut t = *self;
        if p < Precision::Minute {
            t.minute = None;
        }
        if p < Precision::Second {
            t.second = None;
        }
        if p < Precision::Millisecond {
            t.millis = None;
            t.frac_digits = 0;
        }
        t
    }

    /// The literal form with `@T`: `@T14:30`.
    pub fn to_literal(&self) -> String {
        format!("@T{self}")
    }
}

/// Fraction digits able to show `millis` (at least the digits written).
fn fit_frac_digits(written: u8, millis: Option<u16>) -> u8 {
    let Some(ms) = millis else { return 0 };
    let mut d = written.clamp(1, 3);
    while d < 3 && ms % 10u16.pow(u32::from(3 - d)) != 0 {
        d += 1;
    }
    d
}

/// All parts of a time present, missing ones at their lowest (or highest) value.
fn fill_time(t: Option<Time>, high: bool) -> Time {
    let (h, mi, s, ms) = if high {
        (23, 59, 59, 999)
    } else {
        (0, 0, 0, 0)
    };
    match t {
        Some(t) => Time {
            hour: t.hour,
            minute: Some(t.minute.unwrap_or(mi)),
            second: Some(t.second.unwrap_or(s)),
            millis: Some(t.millis.unwrap_or(ms)),
            frac_digits: 3,
        },
        None => Time {
            hour: h,
            minute: Some(mi),
            second: Some(s),
            millis: Some(ms),
            frac_digits: 3,
        },
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.hour)?;
        if let Some(m) = self.minute {
            write!(f, ":{m:02}")?;
        }
        if let Some(s) = self.second {
            write!(f, ":{s:02}")?;
        }
        if let Some(ms) = self.millis {
            let d = fit_frac_digits(self.frac_digits, Some(ms));
            let shown = ms / 10u16.pow(u32::from(3 - d));
            write!(f, ".{shown:0width$}", width = usize::from(d))?;
        }
        Ok(())
    }
}

// -------------------------------------------------------------------------------- DateTime

/// A partial date-time: a [`Date`], an optional [`Time`] (only with a full date) and an
/// optional time-zone offset in minutes (only with a time).
#[derive(Clone, Copy, Debug)]
pub struct DateTime {
    date: Date,
    time: Option<Time>,
    tz: Option<i16>,
}

fn precision_digits(p: Precision) -> u32 {
    match p {
        Precision::Year => 4,
        Precision::Month => 6,
        Precision::Day => 8,
        Precision::Hour => 10,
        Precision::Minute => 12,
        Precision::Second => 14,
        Precision::Millisecond => 17,
    }
}

fn parse_offset(s: &str) -> Option<i16> {
    if s == "Z" {
        return Some(0);
    }
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign: i16 = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h = i16::try_from(digits(&b[1..3])?).ok()?;
    let m = i16::try_from(digits(&b[4..6])?).ok()?;
    if m > 59 || h * 60 + m > MAX_OFFSET {
        return None;
    }
    Some(sign * (h * 60 + m))
}

impl DateTime {
    /// A validated date-time: a time needs a full date, an offset needs a time and lies within
    /// ±14:00.
    pub fn new(date: Date, time: Option<Time>, tz_offset_minutes: Option<i16>) -> Option<DateTime> {
        if time.is_some() && date.day.is_none() {
            return None;
        }
        if let Some(tz) = tz_offset_minutes {
            if time.is_none() || tz.abs() > MAX_OFFSET {
                return None;
            }
        }
        Some(DateTime {
            date,
            time,
            tz: tz_offset_minutes,
        })
    }

    /// `2015T`, `2015-02T`, `2015-02-04T`, `2015-02-04T14`, `2014-01-25T14:30:14.559+09:00`,
    /// `…Z`, and FHIR `date`/`dateTime`/`instant` strings (`2015-02-04`, `2015`,
    /// `2015-02-04T14:34:28Z`).
    pub fn parse(s: &str) -> Option<DateTime> {
        let (date_part, rest) = match s.find('T') {
            Some(i) => (&s[..i], &s[i + 1..]),
            None => (s, ""),
        };
        let date = Date::parse(date_part)?;
        if rest.is_empty() {
            return DateTime::new(date, None, None);
        }
        let (time_part, tz) = match rest.find(['Z', '+', '-']) {
            Some(i) => (&rest[..i], Some(parse_offset(&rest[i..])?)),
            None => (rest, None),
        };
        let time = Time::parse(time_part)?;
        DateTime::new(date, Some(time), tz)
    }

    /// The value without time.
    pub fn from_date(d: Date) -> DateTime {
        DateTime {
            date: d,
            time: None,
            tz: None,
        }
    }

    /// The instant `ms` milliseconds after 1970-01-01T00:00:00Z shown at the given offset,
    /// with millisecond precision.
    pub fn from_epoch_millis(ms: i64, tz_offset_minutes: i16) -> Option<DateTime> {
        if tz_offset_minutes.abs() > MAX_OFFSET {
            return None;
        }
        let local = i128::from(ms).checked_add(i128::from(tz_offset_minutes) * 60_000)?;
        let days = i64::try_from(local.div_euclid(MS_PER_DAY)).ok()?;
        let (y, m, d) = civil_from_days(days)?;
        let date = Date::new(y, Some(m), Some(d))?;
        let time = fill_time(None, false).with_millis_of_day(local.rem_euclid(MS_PER_DAY))?;
        DateTime::new(date, Some(time), Some(tz_offset_minutes))
    }

    /// The current instant in UTC (`Z`), millisecond precision.
    pub fn now() -> DateTime {
        DateTime::now_with_offset(0).unwrap_or(DateTime {
            date: Date {
                year: 1970,
                month: Some(1),
                day: Some(1),
            },
            time: Some(fill_time(None, false)),
            tz: Some(0),
        })
    }

    /// The current instant shown at the given offset (minutes east of UTC).
    pub fn now_with_offset(tz_offset_minutes: i16) -> Option<DateTime> {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_millis()).ok())
            .unwrap_or(0);
        DateTime::from_epoch_millis(ms, tz_offset_minutes)
    }

    /// The date part (always present; `Option` for the caller's convenience).
    pub fn date(&self) -> Option<Date> {
        Some(self.date)
    }

    /// The time part, if any.
    pub fn time(&self) -> Option<Time> {
        self.time
    }

    /// The offset in minutes east of UTC, if any.
    pub fn tz_offset_minutes(&self) -> Option<i16> {
        self.tz
    }

    pub fn precision(&self) -> Precision {
        match self.time {
            Some(t) => t.precision(),
            None => self.date.precision(),
        }
    }

    /// FHIRPath `precision()`: 4, 6, 8, 10, 12, 14 or 17.
    pub fn precision_digits(&self) -> u32 {
        precision_digits(self.precision())
    }

    fn components(&self) -> [Option<i64>; 6] {
        let [y, m, d] = self.date.components();
        match self.time {
            Some(t) => {
                let [h, mi, s] = t.components();
                [y, m, d, h, mi, s]
            }
            None => [y, m, d, None, None, None],
        }
    }

    /// Components shifted to UTC assuming `offset` (needs a time). Parts absent in the value
    /// stay absent.
    fn utc_components(&self, offset: i16) -> Option<[Option<i64>; 6]> {
        let t = self.time?;
        let (m, d) = (self.date.month?, self.date.day?);
        let minutes = days_from_civil(self.date.year(), m, d) * 1440
            + i64::from(t.hour) * 60
            + i64::from(t.minute.unwrap_or(0))
            - i64::from(offset);
        let (y, m, d) = civil_from_days(minutes.div_euclid(1440))?;
        let rem = minutes.rem_euclid(1440);
        Some([
            Some(y),
            Some(i64::from(m)),
            Some(i64::from(d)),
            Some(rem / 60),
            t.minute.map(|_| rem % 60),
            t.second_millis(),
        ])
    }

    /// Order; `None` when unknown (precisions differ with equal common parts, or the missing
    /// time zone of one value decides the outcome). See the module documentation.
    pub fn compare(&self, o: &DateTime) -> Option<Ordering> {
        match (self.tz, o.tz) {
            (Some(a), Some(b)) => cmp_components(&self.utc_components(a)?, &o.utc_components(b)?),
            (None, None) => cmp_components(&self.components(), &o.components()),
            (Some(a), None) => Self::compare_mixed(self, a, o),
            (None, Some(b)) => Self::compare_mixed(o, b, self).map(Ordering::reverse),
        }
    }

    /// `zoned` (with offset `offset`) against `local` (without offset).
    fn compare_mixed(zoned: &DateTime, offset: i16, local: &DateTime) -> Option<Ordering> {
        if local.time.is_none() {
            return cmp_components(&zoned.components(), &local.components());
        }
        let z = zoned.utc_components(offset)?;
        let early = cmp_components(&z, &local.utc_components(EARLIEST_OFFSET)?)?;
        let late = cmp_components(&z, &local.utc_components(LATEST_OFFSET)?)?;
        (early == late).then_some(early)
    }

    /// `=`: `None` (empty) when unknown.
    pub fn equals(&self, o: &DateTime) -> Option<bool> {
        self.compare(o).map(Ordering::is_eq)
    }

    /// `~`: different precision (seconds and milliseconds counting as one) is not equivalent;
    /// an unknown comparison is not equivalent.
    pub fn equivalent(&self, o: &DateTime) -> bool {
        self.precision().comparison_key() == o.precision().comparison_key()
            && self.compare(o) == Some(Ordering::Equal)
    }

    /// Adds `value` units of a calendar keyword (`year(s)`, `month(s)`, `week(s)`, `day(s)`,
    /// `hour(s)`, `minute(s)`, `second(s)`, `millisecond(s)`) or UCUM definite duration (`wk`,
    /// `d`, `h`, `min`, `s`, `ms`; `a` and `mo` are refused). The result keeps the precision
    /// and time zone of `self`: month and year arithmetic clamp the day
    /// (`2020-01-31 + 1 month = 2020-02-29`); a unit finer than the precision is first
    /// converted to it, truncating (`@2014 + 24 months = @2016`, `@2014-01-01 + 25 hours =
    /// @2014-01-02`). `None` for other units and results outside years 1..=9999.
    pub fn add_duration(&self, value: i64, unit: &str) -> Option<DateTime> {
        let u = DurUnit::parse(unit)?;
        let (n, u) = to_precision(value, u, self.precision())?;
        self.shifted(n, u)
    }

    /// Subtracts `value` units.
    pub fn sub_duration(&self, value: i64, unit: &str) -> Option<DateTime> {
        self.add_duration(value.checked_neg()?, unit)
    }

    /// Adds a time-valued quantity, truncating its value to whole units (`+ 7.7 days` adds 7
    /// days, `+ 0.1 's'` nothing).
    pub fn add_quantity(&self, q: &Quantity) -> Option<DateTime> {
        self.add_duration(q.value.truncate()?, &q.unit)
    }

    fn shifted(&self, n: i64, u: DurUnit) -> Option<DateTime> {
        let mut out = *self;
        match u {
            DurUnit::Year | DurUnit::Month => {
                let months = if u == DurUnit::Year {
                    i128::from(n).checked_mul(12)?
                } else {
                    i128::from(n)
                };
                let month0 = i128::from(self.date.month.unwrap_or(1)) - 1;
                let total = i128::from(self.date.year) * 12 + month0 + months;
                let year = i64::try_from(total.div_euclid(12)).ok()?;
                let month = u8::try_from(total.rem_euclid(12) + 1).ok()?;
                let day = self.date.day.map(|d| d.min(days_in_month(year, month)));
                out.date = Date::new(year, self.date.month.map(|_| month), day)?;
            }
            _ => {
                let (m, d) = (self.date.month?, self.date.day?);
                let t = self.time.unwrap_or_else(|| fill_time(None, false));
                let epoch = i128::from(days_from_civil(self.date.year(), m, d)) * MS_PER_DAY
                    + t.millis_of_day();
                let shifted = epoch.checked_add(i128::from(n).checked_mul(u.millis()?)?)?;
                let days = i64::try_from(shifted.div_euclid(MS_PER_DAY)).ok()?;
                let (y, m, d) = civil_from_days(days)?;
                out.date = Date::new(y, Some(m), Some(d))?;
                out.time = match self.time {
                    Some(t) => Some(t.with_millis_of_day(shifted.rem_euclid(MS_PER_DAY))?),
                    None => None,
                };
            }
        }
        Some(out)
    }

    /// All parts present, missing ones at their lowest (or highest) value; no offset change.
    fn filled(&self, high: bool) -> Option<DateTime> {
        let month = self.date.month.unwrap_or(if high { 12 } else { 1 });
        let year = self.date.year();
        let day = self
            .date
            .day
            .unwrap_or(if high { days_in_month(year, month) } else { 1 });
        Some(DateTime {
            date: Date::new(year, Some(month), Some(day))?,
            time: Some(fill_time(self.time, high)),
            tz: self.tz,
        })
    }

    /// Drops the parts below `p` (and the offset when no time remains).
    fn truncated(&self, p: Precision) -> Option<DateTime> {
        let mut out = *self;
        if p < Precision::Hour {
            out.time = None;
            out.tz = None;
        } else {
            out.time = self.time.map(|t| t.truncated(p));
        }
        if p < Precision::Day {
            out.date.day = None;
        }
        if p < Precision::Month {
            out.date.month = None;
        }
        Some(out)
    }

    /// `lowBoundary(precision)`: precision 4, 6, 8, 10, 12, 14 or 17 (default 17), else
    /// `None`. A value without offset gets the earliest one, `+14:00`, when the result has a
    /// time.
    ///
    /// As the R4 suite expects (`@2014-01-01T08.highBoundary(17)` =
    /// `@2014-01-01T08:00:59.999-12:00`), a value with hour precision is first taken as
    /// minute `00`, hour-only times not being valid FHIR.
    pub fn low_boundary(&self, precision: Option<u32>) -> Option<DateTime> {
        self.boundary(precision, false)
    }

    /// `highBoundary(precision)`: as [`DateTime::low_boundary`], with the latest offset
    /// `-12:00` for a value without one.
    pub fn high_boundary(&self, precision: Option<u32>) -> Option<DateTime> {
        self.boundary(precision, true)
    }

    fn boundary(&self, precision: Option<u32>, high: bool) -> Option<DateTime> {
        let target = match precision.unwrap_or(17) {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            10 => Precision::Hour,
            12 => Precision::Minute,
            14 => Precision::Second,
            17 => Precision::Millisecond,
            _ => return None,
        };
        let mut src = *self;
        if let Some(t) = src.time.as_mut() {
            if t.minute.is_none() {
                t.minute = Some(0);
            }
        }
        let mut out = src.filled(high)?.truncated(target)?;
        if out.time.is_some() && out.tz.is_none() {
            out.tz = Some(if high { LATEST_OFFSET } else { EARLIEST_OFFSET });
        }
        Some(out)
    }

    /// The literal form with `@`, keeping the `T` of a value without time: `@2015T`,
    /// `@2015-02-04T14:30+09:00`.
    pub fn to_literal(&self) -> String {
        if self.time.is_none() {
            format!("@{}T", self.date)
        } else {
            format!("@{self}")
        }
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date)?;
        if let Some(t) = self.time {
            write!(f, "T{t}")?;
        }
        match self.tz {
            None => {}
            Some(0) => write!(f, "Z")?,
            Some(tz) => {
                let sign = if tz < 0 { '-' } else { '+' };
                let a = tz.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", a / 60, a % 60)?;
            }
        }
        Ok(())
    }
}

/// Part-by-part comparison from the most significant; unknown when one value stops earlier
/// and all common parts are equal.
fn cmp_components(a: &[Option<i64>], b: &[Option<i64>]) -> Option<Ordering> {
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Some(x), Some(y)) => match x.cmp(y) {
                Ordering::Equal => {}
                other => return Some(other),
            },
            (None, None) => return Some(Ordering::Equal),
            _ => return None,
        }
    }
    Some(Ordering::Equal)
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // the test tables are tuples
mod tests {
    use super::*;
    use crate::test_util::random_strings;

    use crate::decimal::Decimal;

    fn dt(s: &str) -> DateTime {
        match DateTime::parse(s) {
            Some(v) => v,
            None => panic!("test dateTime {s} does not parse"),
        }
    }

    fn da(s: &str) -> Date {
        match Date::parse(s) {
            Some(v) => v,
            None => panic!("test date {s} does not parse"),
        }
    }

    fn ti(s: &str) -> Time {
        match Time::parse(s) {
            Some(v) => v,
            None => panic!("test time {s} does not parse"),
        }
    }

    #[test]
    fn temporal_parse_and_display() {
        let dates: &[(&str, Option<&str>, Option<Precision>)] = &[
            ("2015", Some("2015"), Some(Precision::Year)),
            ("2015-02", Some("2015-02"), Some(Precision::Month)),
            ("2015-02-04", Some("2015-02-04"), Some(Precision::Day)),
            ("2016-02-29", Some("2016-02-29"), Some(Precision::Day)),
            ("2015-02-29", None, None),
            ("2015-13", None, None),
            ("2015-00", None, None),
            ("0000", None, None),
            ("15", None, None),
            ("2015-2-4", None, None),
            ("2015-02-04T", None, None),
            ("", None, None),
        ];
        for (s, shown, p) in dates {
            let got = Date::parse(s);
            assert_eq!(got.map(|d| d.to_string()).as_deref(), *shown, "Date {s:?}");
            assert_eq!(got.map(|d| d.precision()), *p, "Date precision {s:?}");
        }
        let times: &[(&str, Option<&str>, Option<Precision>)] = &[
            ("14", Some("14"), Some(Precision::Hour)),
            ("14:34", Some("14:34"), Some(Precision::Minute)),
            ("14:34:28", Some("14:34:28"), Some(Precision::Second)),
            (
                "14:34:28.123",
                Some("14:34:28.123"),
                Some(Precision::Millisecond),
            ),
            (
                "14:34:28.1",
                Some("14:34:28.1"),
                Some(Precision::Millisecond),
            ),
            (
                "14:34:28.123456",
                Some("14:34:28.123"),
                Some(Precision::Millisecond),
            ),
            ("23:59:60", Some("23:59:60"), Some(Precision::Second)),
            ("24", None, None),
            ("14:60", None, None),
            ("14:34:28+10:00", None, None),
            ("T14", None, None),
            ("14:3", None, None),
            ("14:34:28.", None, None),
            ("14:34:28.1a", None, None),
        ];
        for (s, shown, p) in times {
            let got = Time::parse(s);
            assert_eq!(got.map(|d| d.to_string()).as_deref(), *shown, "Time {s:?}");
            assert_eq!(got.map(|d| d.precision()), *p, "Time precision {s:?}");
        }
        let dts: &[(&str, Option<&str>, Option<Precision>)] = &[
            ("2015T", Some("2015"), Some(Precision::Year)),
            ("2015-02T", Some("2015-02"), Some(Precision::Month)),
            ("2015-02-04T", Some("2015-02-04"), Some(Precision::Day)),
            ("2015-02-04", Some("2015-02-04"), Some(Precision::Day)),
            ("2015", Some("2015"), Some(Precision::Year)),
            (
                "2015-02-04T14",
                Some("2015-02-04T14"),
                Some(Precision::Hour),
            ),
            (
                "2015-02-04T14:34",
                Some("2015-02-04T14:34"),
                Some(Precision::Minute),
            ),
            (
                "2015-02-04T14:34:28",
                Some("2015-02-04T14:34:28"),
                Some(Precision::Second),
            ),
            (
                "2015-02-04T14:34:28Z",
                Some("2015-02-04T14:34:28Z"),
                Some(Precision::Second),
            ),
            (
                "2015-02-04T14:34:28+10:00",
                Some("2015-02-04T14:34:28+10:00"),
                Some(Precision::Second),
            ),
            (
                "2014-01-25T14:30:14.559+09:00",
                Some("2014-01-25T14:30:14.559+09:00"),
                Some(Precision::Millisecond),
            ),
            (
                "2017-11-05T01:30:00.0-04:00",
                Some("2017-11-05T01:30:00.0-04:00"),
                Some(Precision::Millisecond),
            ),
            (
                "2015-02-04T14:34:28+00:00",
                Some("2015-02-04T14:34:28Z"),
                Some(Precision::Second),
            ),
            (
                "2014-01-01T08+08:00",
                Some("2014-01-01T08+08:00"),
                Some(Precision::Hour),
            ),
            ("2015-02T14", None, None),
            ("2015T14", None, None),
            ("2015-02-04T14:34:28+15:00", None, None),
            ("2015-02-04T14:34:28+10", None, None),
            ("2015-02-04Z", None, None),
            ("2015-02-04T14:34:28ZZ", None, None),
            ("T14:34", None, None),
            ("2015-02-04TZ", None, None),
        ];
        for (s, shown, p) in dts {
            let got = DateTime::parse(s);
            assert_eq!(
                got.map(|d| d.to_string()).as_deref(),
                *shown,
                "DateTime {s:?}"
            );
            assert_eq!(got.map(|d| d.precision()), *p, "DateTime precision {s:?}");
        }
        assert_eq!(dt("2015T").to_literal(), "@2015T");
        assert_eq!(
            dt("2015-02-04T14:30+09:00").to_literal(),
            "@2015-02-04T14:30+09:00"
        );
        assert_eq!(da("2014-12-14").to_literal(), "@2014-12-14");
        assert_eq!(ti("14:30").to_literal(), "@T14:30");
        // testToString5
        assert_eq!(da("2014-12-14").to_string(), "2014-12-14");
    }

    #[test]
    fn temporal_precision_digits() {
        // Precision group: @2014 → 4, @2014-01-05T10:30:00.000 → 17, @T10:30:00.000 → 9
        assert_eq!(da("2014").precision_digits(), 4);
        assert_eq!(dt("2014-01-05T10:30:00.000").precision_digits(), 17);
        assert_eq!(ti("10:30:00.000").precision_digits(), 9);
        assert_eq!(ti("10").precision_digits(), 2);
        assert_eq!(dt("2014-01-05T10+05:00").precision_digits(), 10);
        assert_eq!(da("2014-01").precision_digits(), 6);
    }

    #[test]
    fn temporal_datetime_comparison() {
        use Ordering::*;
        // (left, right, compare); None = empty.
        let cases: &[(&str, &str, Option<Ordering>)] = &[
            // testEquality / testNEquality
            ("2012-04-15", "2012-04-16", Some(Less)),
            ("2012-04-15", "2012-04-15T10:00:00", None),
            ("2012-04-15T15:00:00", "2012-04-15T10:00:00", Some(Greater)),
            ("2012-04-15T15:30:31", "2012-04-15T15:30:31.0", Some(Equal)),
            ("2012-04-15T15:30:31", "2012-04-15T15:30:31.1", Some(Less)),
            (
                "2012-04-15T15:00:00+02:00",
                "2012-04-15T16:00:00+03:00",
                Some(Equal),
            ),
            (
                "2012-04-15T15:00:00Z",
                "2012-04-15T10:00:00-05:00",
                Some(Equal),
            ),
            ("2012-04-15T15:00:00Z", "2012-04-15T10:00:00", None),
            // testLiterals
            (
                "2017-11-05T01:30:00.0-04:00",
                "2017-11-05T01:15:00.0-05:00",
                Some(Less),
            ),
            (
                "2017-11-05T01:30:00.0-04:00",
                "2017-11-05T00:30:00.0-05:00",
                Some(Equal),
            ),
            ("1974-12-25", "1974-12-25T12:34:00-10:00", None),
            ("1974-12-25", "1974-12-25T12:34:00+10:00", None),
            // testLessThan & co
            ("2014-12-13T12:00:00", "2014-12-13T12:00:01", Some(Less)),
            ("2014-12-13T12:00:00", "2014-12-13T12:00:00", Some(Equal)),
            ("2014-12-13T12:00:01", "2014-12-13T12:00:00", Some(Greater)),
            ("2018-03", "2018-03-01", None),
            ("2018-03-01T10:30", "2018-03-01T10:30:00", None),
            ("2018-03-01T10:30:00", "2018-03-01T10:30:00.0", Some(Equal)),
            ("2014-12-12", "2014-12-13", Some(Less)),
            ("2015", "2016-01-01", Some(Less)),
            // Mixed zones: the answer does not depend on the missing zone.
            ("2025-06-01T10:00:00Z", "1974-12-25", Some(Greater)),
            ("2025-06-01T10:00:00Z", "2025-06-03T10:00:00", Some(Less)),
            ("2025-06-01T10:00:00Z", "2025-06-01T10:00:00", None),
            // The period test: start 2001-05-06 vs end 2001-05-06T10:10:10Z.
            ("2001-05-06", "2001-05-06T10:10:10Z", None),
            // Across midnight in UTC.
            (
                "2012-04-16T01:00:00+05:00",
                "2012-04-15T20:00:00Z",
                Some(Equal),
            ),
            ("2012-01-01T00:30+01:00", "2011-12-31T23:30Z", Some(Equal)),
        ];
        for (a, b, want) in cases {
            assert_eq!(dt(a).compare(&dt(b)), *want, "{a} vs {b}");
            assert_eq!(
                dt(b).compare(&dt(a)),
                want.map(Ordering::reverse),
                "{b} vs {a}"
            );
            assert_eq!(dt(a).equals(&dt(b)), want.map(Ordering::is_eq), "{a} = {b}");
        }
        // now() > Patient.birthDate, today() > birthDate
        assert_eq!(
            DateTime::now().compare(&DateTime::from_date(da("1974-12-25"))),
            Some(Greater)
        );
        assert_eq!(Date::today().compare(&da("1974-12-25")), Some(Greater));
    }

    #[test]
    fn temporal_equivalence() {
        let cases: &[(&str, &str, bool)] = &[
            ("2012-04-15", "2012-04-15", true),
            ("2012-04-15", "2012-04-16", false),
            ("2012-04-15", "2012-04-15T10:00:00", false),
            ("2012-04-15T15:30:31", "2012-04-15T15:30:31.0", true),
            ("2012-04-15T15:30:31", "2012-04-15T15:30:31.1", false),
            ("2012-04-15T15:00:00Z", "2012-04-15T10:00:00", false),
            (
                "2012-04-15T15:00:00+02:00",
                "2012-04-15T16:00:00+03:00",
                true,
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(dt(a).equivalent(&dt(b)), *want, "{a} ~ {b}");
            assert_eq!(dt(b).equivalent(&dt(a)), *want, "{b} ~ {a}");
        }
        assert!(da("2012-04-15").equivalent(&da("2012-04-15")));
        assert!(!da("2012-04").equivalent(&da("2012-04-15")));
        assert!(ti("10:30:00").equivalent(&ti("10:30:00.0")));
        assert!(!ti("10:30").equivalent(&ti("10:30:00")));
    }

    #[test]
    fn temporal_date_and_time_comparison() {
        use Ordering::*;
        let dates: &[(&str, &str, Option<Ordering>)] = &[
            ("2014-12-12", "2014-12-12", Some(Equal)),
            ("2014-12-13", "2014-12-12", Some(Greater)),
            ("2018-03", "2018-03-01", None),
            ("2018-02", "2018-03-01", Some(Less)),
            ("2018", "2018", Some(Equal)),
        ];
        for (a, b, want) in dates {
            assert_eq!(da(a).compare(&da(b)), *want, "{a} vs {b}");
            assert_eq!(da(a).equals(&da(b)), want.map(Ordering::is_eq), "{a} = {b}");
        }
        let times: &[(&str, &str, Option<Ordering>)] = &[
            ("12:00:00", "14:00:00", Some(Less)),
            ("12:00:01", "12:00:00", Some(Greater)),
            ("12:00:00", "12:00:00", Some(Equal)),
            ("10:30:00", "10:30:00.0", Some(Equal)),
            ("10:30", "10:30:00", None),
            ("10", "11:30", Some(Less)),
        ];
        for (a, b, want) in times {
            assert_eq!(ti(a).compare(&ti(b)), *want, "{a} vs {b}");
        }
    }

    #[test]
    fn temporal_arithmetic() {
        // (start, amount, unit, expected); None = error/empty.
        let dts: &[(&str, i64, &str, Option<&str>)] = &[
            // testPlus
            (
                "1973-12-25T00:00:00.000+10:00",
                7,
                "days",
                Some("1974-01-01T00:00:00.000+10:00"),
            ),
            (
                "1973-12-25T00:00:00.000+10:00",
                10,
                "millisecond",
                Some("1973-12-25T00:00:00.010+10:00"),
            ),
            (
                "1973-12-25T00:00:00.000+10:00",
                1,
                "hour",
                Some("1973-12-25T01:00:00.000+10:00"),
            ),
            (
                "1973-12-25T00:00:00.000+10:00",
                1,
                "s",
                Some("1973-12-25T00:00:01.000+10:00"),
            ),
            (
                "1973-12-25T00:00:00.000+10:00",
                0,
                "s",
                Some("1973-12-25T00:00:00.000+10:00"),
            ),
            (
                "1973-12-25T00:00:00.000+10:00",
                1,
                "min",
                Some("1973-12-25T00:01:00.000+10:00"),
            ),
            (
                "1973-12-25T00:00:00.000+10:00",
                1,
                "h",
                Some("1973-12-25T01:00:00.000+10:00"),
            ),
            (
                "1973-12-25T00:00:00.0+10:00",
                10,
                "ms",
                Some("1973-12-25T00:00:00.01+10:00"),
            ),
            ("2020-01-31T10:00", 1, "month", Some("2020-02-29T10:00")),
            ("2019-01-31", 1, "month", Some("2019-02-28")),
            ("2020-02-29", 1, "year", Some("2021-02-28")),
            ("2015-02-04T14", 90, "minutes", Some("2015-02-04T15")),
            (
                "2015-02-04T23:59:59.999Z",
                1,
                "ms",
                Some("2015-02-05T00:00:00.000Z"),
            ),
            ("2015-02-04T00:00", -1, "minute", Some("2015-02-03T23:59")),
            ("2015", 24, "months", Some("2017")),
            ("2015", -1, "month", Some("2015")),
            ("2015", 365, "days", Some("2016")),
            ("2015-02", 45, "days", Some("2015-03")),
            ("2015-02", 1, "year", Some("2016-02")),
            ("2015-02-04", 25, "hours", Some("2015-02-05")),
            ("2015-02-04", 1, "wk", Some("2015-02-11")),
            ("1973-12-25T00:00:00.000+10:00", 1, "a", None),
            ("1973-12-25T00:00:00.000+10:00", 1, "mo", None),
            ("1973-12-25T00:00:00.000+10:00", 1, "kg", None),
            ("9999-12-31", 1, "day", None),
            ("0001-01-01", -1, "day", None),
            ("9999", 1, "year", None),
            ("2015", i64::MAX, "year", None),
            ("2015-02-04T00:00:00.000Z", i64::MAX, "week", None),
            ("2015-02-04T00:00:00.000Z", i64::MIN, "millisecond", None),
        ];
        for (s, n, unit, want) in dts {
            let got = dt(s).add_duration(*n, unit).map(|v| v.to_string());
            assert_eq!(got.as_deref(), *want, "{s} + {n} {unit}");
        }
        let dates: &[(&str, i64, &str, Option<&str>)] = &[
            ("1973-12-25", 7, "days", Some("1974-01-01")),
            ("1973-12-25", 1, "day", Some("1973-12-26")),
            ("1973-12-25", 1, "month", Some("1974-01-25")),
            ("1973-12-25", 1, "d", Some("1973-12-26")),
            ("1973-12-25", 1, "wk", Some("1974-01-01")),
            ("1973-12-25", 1, "a", None),
            ("1975-12-25", 1, "a", None),
            ("1974-12-25", -1, "month", Some("1974-11-25")),
            ("1974-12-25", 1, "hour", Some("1974-12-25")),
            ("1974-12-25", 48, "hours", Some("1974-12-27")),
        ];
        for (s, n, unit, want) in dates {
            let got = da(s).add_duration(*n, unit).map(|v| v.to_string());
            assert_eq!(got.as_deref(), *want, "{s} + {n} {unit}");
        }
        assert_eq!(
            da("1974-12-25")
                .sub_duration(1, "month")
                .map(|v| v.to_string())
                .as_deref(),
            Some("1974-11-25")
        );
        let times: &[(&str, i64, &str, Option<&str>)] = &[
            ("10:00", 1, "hour", Some("11:00")),
            ("23:30", 1, "hour", Some("00:30")),
            ("00:30", -1, "hour", Some("23:30")),
            ("10:00:00.000", 1500, "ms", Some("10:00:01.500")),
            ("10", 90, "minutes", Some("11")),
            ("10:00", 1, "day", None),
            ("10:00", 1, "year", None),
        ];
        for (s, n, unit, want) in times {
            let got = ti(s).add_duration(*n, unit).map(|v| v.to_string());
            assert_eq!(got.as_deref(), *want, "{s} + {n} {unit}");
        }
        // Decimal durations truncate (testPlusDate2/4/19).
        let q = |v: &str, u: &str| match Decimal::parse(v) {
            Some(d) => Quantity::new(d, u),
            None => panic!("bad test quantity"),
        };
        assert_eq!(
            da("1973-12-25")
                .add_quantity(&q("7.7", "days"))
                .map(|v| v.to_string())
                .as_deref(),
            Some("1974-01-01")
        );
        assert_eq!(
            dt("1973-12-25T00:00:00.000+10:00")
                .add_quantity(&q("7.7", "days"))
                .map(|v| v.to_string())
                .as_deref(),
            Some("1974-01-01T00:00:00.000+10:00")
        );
        assert_eq!(
            dt("1973-12-25T00:00:00.000+10:00")
                .add_quantity(&q("0.1", "s"))
                .map(|v| v.to_string())
                .as_deref(),
            Some("1973-12-25T00:00:00.000+10:00")
        );
        assert_eq!(
            ti("10:00")
                .add_quantity(&q("2", "hours"))
                .map(|v| v.to_string())
                .as_deref(),
            Some("12:00")
        );
    }

    #[test]
    fn temporal_boundaries() {
        // LowBoundary / HighBoundary groups and the spec examples.
        let dts: &[(&str, Option<u32>, Option<&str>, Option<&str>)] = &[
            (
                "2014-01-01T08",
                Some(17),
                Some("2014-01-01T08:00:00.000+14:00"),
                Some("2014-01-01T08:00:59.999-12:00"),
            ),
            (
                "2014-01-01T08:05+08:00",
                Some(17),
                Some("2014-01-01T08:05:00.000+08:00"),
                Some("2014-01-01T08:05:59.999+08:00"),
            ),
            (
                "2014-01-01T08",
                Some(8),
                Some("2014-01-01"),
                Some("2014-01-01"),
            ),
            ("2014", Some(6), Some("2014-01"), Some("2014-12")),
            (
                "2014",
                None,
                Some("2014-01-01T00:00:00.000+14:00"),
                Some("2014-12-31T23:59:59.999-12:00"),
            ),
            ("2016-02", Some(8), Some("2016-02-01"), Some("2016-02-29")),
            (
                "2001-05-06",
                None,
                Some("2001-05-06T00:00:00.000+14:00"),
                Some("2001-05-06T23:59:59.999-12:00"),
            ),
            (
                "2001-05-06T10:10:10Z",
                None,
                Some("2001-05-06T10:10:10.000Z"),
                Some("2001-05-06T10:10:10.999Z"),
            ),
            (
                "2014-01-01T08:05:30",
                Some(12),
                Some("2014-01-01T08:05+14:00"),
                Some("2014-01-01T08:05-12:00"),
            ),
            (
                "2014-01-01T08:05:30",
                Some(10),
                Some("2014-01-01T08+14:00"),
                Some("2014-01-01T08-12:00"),
            ),
            ("2014", Some(5), None, None),
            ("2014", Some(18), None, None),
        ];
        for (s, p, low, high) in dts {
            assert_eq!(
                dt(s).low_boundary(*p).map(|v| v.to_string()).as_deref(),
                *low,
                "{s}.lowBoundary({p:?})"
            );
            assert_eq!(
                dt(s).high_boundary(*p).map(|v| v.to_string()).as_deref(),
                *high,
                "{s}.highBoundary({p:?})"
            );
        }
        let dates: &[(&str, Option<u32>, Option<&str>, Option<&str>)] = &[
            ("2014", Some(6), Some("2014-01"), Some("2014-12")),
            ("2014", None, Some("2014-01-01"), Some("2014-12-31")),
            ("2015-02", None, Some("2015-02-01"), Some("2015-02-28")),
            ("2014-01-25", Some(4), Some("2014"), Some("2014")),
            ("2014", Some(7), None, None),
        ];
        for (s, p, low, high) in dates {
            assert_eq!(
                da(s).low_boundary(*p).map(|v| v.to_string()).as_deref(),
                *low,
                "{s}.lowBoundary({p:?})"
            );
            assert_eq!(
                da(s).high_boundary(*p).map(|v| v.to_string()).as_deref(),
                *high,
                "{s}.highBoundary({p:?})"
            );
        }
        let times: &[(&str, Option<u32>, Option<&str>, Option<&str>)] = &[
            ("10:30", Some(9), Some("10:30:00.000"), Some("10:30:59.999")),
            ("10:30", None, Some("10:30:00.000"), Some("10:30:59.999")),
            ("10", Some(6), Some("10:00:00"), Some("10:59:59")),
            ("10:30:15.5", Some(4), Some("10:30"), Some("10:30")),
            ("10:30", Some(3), None, None),
        ];
        for (s, p, low, high) in times {
            assert_eq!(
                ti(s).low_boundary(*p).map(|v| v.to_string()).as_deref(),
                *low,
                "{s}.lowBoundary({p:?})"
            );
            assert_eq!(
                ti(s).high_boundary(*p).map(|v| v.to_string()).as_deref(),
                *high,
                "{s}.highBoundary({p:?})"
            );
        }
        // period group: start.lowBoundary() < end.highBoundary()
        let start = dt("2001-05-06").low_boundary(None);
        let end = dt("2001-05-06T10:10:10Z").high_boundary(None);
        match (start, end) {
            (Some(s), Some(e)) => assert_eq!(s.compare(&e), Some(Ordering::Less)),
            _ => panic!("period boundaries missing"),
        }
    }

    #[test]
    fn temporal_now_and_today() {
        let now = DateTime::now();
        assert_eq!(now.precision(), Precision::Millisecond);
        assert_eq!(now.tz_offset_minutes(), Some(0));
        // testNow2: now().toString().length() > 10; testToday2: today().toString().length() = 10
        assert!(now.to_string().len() > 10);
        assert_eq!(Date::today().to_string().len(), 10);
        assert_eq!(now.date().map(|d| d.precision()), Some(Precision::Day));
        assert_eq!(
            now.time().map(|t| t.precision()),
            Some(Precision::Millisecond)
        );
        let jst = DateTime::now_with_offset(9 * 60).map(|d| d.to_string());
        assert!(jst.is_some_and(|s| s.ends_with("+09:00")));
        assert_eq!(
            DateTime::from_epoch_millis(0, 0)
                .map(|d| d.to_string())
                .as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        assert_eq!(
            DateTime::from_epoch_millis(951_782_400_000, -300)
                .map(|d| d.to_string())
                .as_deref(),
            Some("2000-02-28T19:00:00.000-05:00")
        );
        assert!(DateTime::from_epoch_millis(i64::MAX, 0).is_none());
        assert!(DateTime::from_epoch_millis(0, 900).is_none());
    }

    #[test]
    fn temporal_never_panics_on_random_text() {
        let mut parsed = 0;
        for s in random_strings(b"0123456789-:T.Z+", 40_000, 30) {
            let d = Date::parse(&s);
            let t = Time::parse(&s);
            let x = DateTime::parse(&s);
            if let Some(d) = d {
                parsed += 1;
                let _ = (
                    d.low_boundary(None),
                    d.high_boundary(Some(6)),
                    d.add_duration(-40, "months"),
                );
                let _ = (d.compare(&Date::today()), d.to_string());
            }
            if let Some(t) = t {
                parsed += 1;
                let _ = (
                    t.low_boundary(None),
                    t.high_boundary(Some(4)),
                    t.add_duration(7, "h"),
                );
                let _ = t.to_string();
            }
            if let Some(x) = x {
                parsed += 1;
                let _ = (
                    x.low_boundary(None),
                    x.high_boundary(Some(10)),
                    x.add_duration(1, "wk"),
                );
                let _ = (
                    x.compare(&DateTime::now()),
                    x.equivalent(&x),
                    x.to_string(),
                    x.to_literal(),
                );
                assert_eq!(
                    DateTime::parse(&x.to_string()).map(|y| y.equivalent(&x)),
                    Some(true),
                    "{s}"
                );
            }
        }
        assert!(parsed > 0);
    }

    #[test]
    fn temporal_calendar_math_roundtrips() {
        for days in [-719_162, -1, 0, 1, 59, 60, 365, 10_957, 2_932_896] {
            let Some((y, m, d)) = civil_from_days(days) else {
                panic!("day {days}")
            };
            assert_eq!(days_from_civil(y, m, d), days, "day {days}");
        }
        assert_eq!(civil_from_days(0), Some((1970, 1, 1)));
        assert_eq!(civil_from_days(11_016), Some((2000, 2, 29)));
        assert_eq!(civil_from_days(i64::MAX), None);
    }
}
