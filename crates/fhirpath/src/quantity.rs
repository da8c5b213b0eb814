//! The FHIRPath `Quantity`: a [`Decimal`] and a unit, either a UCUM code or a calendar
//! duration keyword (`year`, `month`, `week`, `day`, `hour`, `minute`, `second`,
//! `millisecond`, stored singular).
//!
//! Comparison rules (FHIRPath N1 and the R4 suite):
//! - identical unit strings compare their values directly (so units outside the UCUM table
//!   still compare with themselves);
//! - UCUM units convert through [`crate::ucum`] when commensurable (`4.0 'g' = 4000 'mg'`,
//!   `1 'cm' < 1 'm'`); otherwise the result is unknown (`None`);
//! - calendar `week` … `millisecond` are the UCUM definite durations `wk`, `d`, `h`, `min`,
//!   `s`, `ms` (`7 days = 1 'wk'`);
//! - calendar `year` and `month` compare with each other (`1 year = 12 months`) but not with
//!   anything else for `=`/`<`/`>` (`1 year = 1 'a'` is empty, a month having no fixed length);
//!   for `~` they are taken as UCUM `a` and `mo` (`1 year ~ 1 'a'` is true).
//!
//! Equivalence (`~`) converts to the coarser of the two units, then compares the values at
//! the precision of the less precise one ([`Decimal::equivalent`]): `4 'g' ~ 4040 'mg'`.

use std::cmp::Ordering;
use std::fmt;

use crate::decimal::Decimal;
use crate::ucum;

/// A quantity: value and unit (`'1'` for a unitless one).
#[derive(Clone, Debug)]
pub struct Quantity {
    pub value: Decimal,
    pub unit: Box<str>,
}

/// Calendar keywords: singular, plural, UCUM equivalent.
const CALENDAR: &[(&str, &str, &str)] = &[
    ("year", "years", "a"),
    ("month", "months", "mo"),
    ("week", "weeks", "wk"),
    ("day", "days", "d"),
    ("hour", "hours", "h"),
    ("minute", "minutes", "min"),
    ("second", "seconds", "s"),
    ("millisecond", "milliseconds", "ms"),
];

/// How a unit takes part in a strict comparison.
enum Kind<'q> {
    /// Calendar year or month: months per unit.
    YearMonth(i64),
    /// A UCUM code.
    Ucum(&'q str),
}

impl Quantity {
    /// A quantity; the unit is trimmed, an empty unit becomes `'1'` and calendar plurals
    /// become singular (`days` → `day`).
    pub fn new(value: Decimal, unit: &str) -> Quantity {
        let unit = unit.trim();
        let unit = if unit.is_empty() {
            "1"
        } else {
            CALENDAR
                .iter()
                .find(|(_, plural, _)| *plural == unit)
                .map_or(unit, |(singular, _, _)| *singular)
        };
        Quantity {
            value,
            unit: unit.into(),
        }
    }

    /// Whether the unit is a calendar duration keyword.
    pub fn is_calendar(&self) -> bool {
        self.calendar_ucum().is_some()
    }

    /// The UCUM code of a calendar keyword unit.
    fn calendar_ucum(&self) -> Option<&'static str> {
        CALENDAR
            .iter()
            .find(|(singular, plural, _)| **singular == *self.unit || **plural == *self.unit)
            .map(|(_, _, ucum)| *ucum)
    }

    /// The unit as UCUM: calendar keywords mapped to `a`, `mo`, `wk`, `d`, `h`, `min`, `s`,
    /// `ms`.
    pub fn ucum_unit(&self) -> &str {
        self.calendar_ucum().unwrap_or(&self.unit)
    }

    fn kind(&self) -> Kind<'_> {
        match self.calendar_ucum() {
            Some("a") => Kind::YearMonth(12),
            Some("mo") => Kind::YearMonth(1),
            Some(code) => Kind::Ucum(code),
            None => Kind::Ucum(&self.unit),
        }
    }

    /// Order after unit conversion; `None` when the units are not comparable.
    pub fn compare(&self, o: &Quantity) -> Option<Ordering> {
        if self.unit == o.unit {
            return Some(self.value.cmp_value(&o.value));
        }
        match (self.kind(), o.kind()) {
            (Kind::YearMonth(fa), Kind::YearMonth(fb)) => {
                let a = self.value.checked_mul(&Decimal::from_i64(fa))?;
                let b = o.value.checked_mul(&Decimal::from_i64(fb))?;
                Some(a.cmp_value(&b))
            }
            (Kind::Ucum(ua), Kind::Ucum(ub)) => ucum::compare(&self.value, ua, &o.value, ub),
            _ => None,
        }
    }

    /// `=`: `None` (empty) when the units are not comparable.
    pub fn equals(&self, o: &Quantity) -> Option<bool> {
        self.compare(o).map(Ordering::is_eq)
    }

    /// `~`: converted to the coarser unit, equal at the precision of the less precise value;
    /// false when the units are not comparable.
    pub fn equivalent(&self, o: &Quantity) -> bool {
        let (ua, ub) = (self.ucum_unit(), o.ucum_unit());
        if ua == ub {
            return self.value.equivalent(&o.value);
        }
        let Some(order) = ucum::magnitude_order(ua, ub) else {
            return false;
        };
        let converted = if order == Ordering::Less {
            ucum::convert(&self.value, ua, ub).map(|a| (a, o.value))
        } else {
            ucum::convert(&o.value, ub, ua).map(|b| (self.value, b))
        };
        converted.is_some_and(|(a, b)| a.equivalent(&b))
    }

    /// FHIRPath `comparable()`: whether the units can be converted into each other (calendar
    /// keywords taken as their UCUM equivalents).
    pub fn comparable(&self, o: &Quantity) -> bool {
        self.unit == o.unit || ucum::commensurable(self.ucum_unit(), o.ucum_unit())
    }

    /// The same quantity in `unit` (a UCUM code or calendar keyword); `None` when not
    /// convertible. Calendar years and months convert only into each other.
    pub fn convert_to(&self, unit: &str) -> Option<Quantity> {
        let target = Quantity::new(Decimal::zero(), unit);
        let value = self.value_in(&target)?;
        Some(Quantity {
            value,
            unit: target.unit,
        })
    }

    /// `self.value` expressed in the unit of `target` (strict rules).
    fn value_in(&self, target: &Quantity) -> Option<Decimal> {
        if self.unit == target.unit {
            return Some(self.value);
        }
        match (self.kind(), target.kind()) {
            (Kind::YearMonth(fa), Kind::YearMonth(fb)) => self
                .value
                .checked_mul(&Decimal::from_i64(fa))?
                .checked_div(&Decimal::from_i64(fb)),
            (Kind::Ucum(ua), Kind::Ucum(ub)) => ucum::convert(&self.value, ua, ub),
            _ => None,
        }
    }

    /// Sum in the unit of `self`; `None` when the units are not comparable or on overflow.
    pub fn checked_add(&self, o: &Quantity) -> Option<Quantity> {
        let b = o.value_in(self)?;
        Some(Quantity {
            value: self.value.checked_add(&b)?,
            unit: self.unit.clone(),
        })
    }

    /// Difference in the unit of `self`.
    pub fn checked_sub(&self, o: &Quantity) -> Option<Quantity> {
        let b = o.value_in(self)?;
        Some(Quantity {
            value: self.value.checked_sub(&b)?,
            unit: self.unit.clone(),
        })
    }

    /// Product with unit algebra (`'g' * 'm'` = `'g.m'`); a `'1'` operand keeps the other
    /// unit (`2 * 3 days` = `6 days`). Calendar keywords otherwise become UCUM codes.
    pub fn checked_mul(&self, o: &Quantity) -> Option<Quantity> {
        let value = self.value.checked_mul(&o.value)?;
        let unit: Box<str> = if *o.unit == *"1" {
            self.unit.clone()
        } else if *self.unit == *"1" {
            o.unit.clone()
        } else {
            ucum::multiply(self.ucum_unit(), o.ucum_unit())?.into()
        };
        Some(Quantity { value, unit })
    }

    /// Quotient with unit algebra (`'g' / 'm'` = `'g/m'`, `'m' / 'm'` = `'1'`); `None` on
    /// division by zero.
    pub fn checked_div(&self, o: &Quantity) -> Option<Quantity> {
        let value = self.value.checked_div(&o.value)?;
        let unit: Box<str> = if *o.unit == *"1" {
            self.unit.clone()
        } else if self.unit == o.unit {
            "1".into()
        } else {
            ucum::divide(self.ucum_unit(), o.ucum_unit())?.into()
        };
        Some(Quantity { value, unit })
    }

    /// `lowBoundary(precision)` of the value, same unit.
    pub fn low_boundary(&self, precision: Option<u32>) -> Option<Quantity> {
        Some(Quantity {
            value: self.value.low_boundary(precision)?,
            unit: self.unit.clone(),
        })
    }

    /// `highBoundary(precision)` of the value, same unit.
    pub fn high_boundary(&self, precision: Option<u32>) -> Option<Quantity> {
        Some(Quantity {
            value: self.value.high_boundary(precision)?,
            unit: self.unit.clone(),
        })
    }

    /// The FHIRPath literal / `toString()` form: `4 'g'`, `1.5 'mg/dL'`, `1 year`.
    pub fn to_fhirpath_string(&self) -> String {
        if self.is_calendar() {
            format!("{} {}", self.value, self.unit)
        } else {
            let escaped = self.unit.replace('\\', "\\\\").replace('\'', "\\'");
            format!("{} '{escaped}'", self.value)
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_fhirpath_string())
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // the test tables are tuples
mod tests {
    use super::*;

    fn q(v: &str, u: &str) -> Quantity {
        match Decimal::parse(v) {
            Some(d) => Quantity::new(d, u),
            None => panic!("test quantity {v} does not parse"),
        }
    }

    #[test]
    fn quantity_new_normalises_units() {
        let cases: &[(&str, &str, bool)] = &[
            ("days", "day", true),
            ("day", "day", true),
            ("years", "year", true),
            ("milliseconds", "millisecond", true),
            ("mg", "mg", false),
            ("", "1", false),
            (" mg ", "mg", false),
            ("d", "d", false),
        ];
        for (input, unit, calendar) in cases {
            let x = q("1", input);
            assert_eq!(&*x.unit, *unit, "{input:?}");
            assert_eq!(x.is_calendar(), *calendar, "{input:?}");
        }
    }

    #[test]
    fn quantity_comparison() {
        use Ordering::*;
        let cases: &[((&str, &str), (&str, &str), Option<Ordering>)] = &[
            // testQuantity
            (("4.0000", "g"), ("4000.0", "mg"), Some(Equal)),
            (("7", "days"), ("1", "week"), Some(Equal)),
            (("7", "days"), ("1", "wk"), Some(Equal)),
            (("6", "days"), ("1", "week"), Some(Less)),
            (("8", "days"), ("1", "week"), Some(Greater)),
            (("2.0", "g/m"), ("2", "g/m"), Some(Equal)),
            (("1.0", "1"), ("1", "1"), Some(Equal)),
            // Observation.value (185 [lb_av])
            (("185", "[lb_av]"), ("185", "[lb_av]"), Some(Equal)),
            (("185", "[lb_av]"), ("200", "[lb_av]"), Some(Less)),
            (("185", "[lb_av]"), ("100", "[lb_av]"), Some(Greater)),
            (("185", "[lb_av]"), ("185", "kg"), Some(Less)),
            // UCUM conversions
            (("1", "cm"), ("1", "m"), Some(Less)),
            (("3", "min"), ("180", "s"), Some(Equal)),
            (("1", "kg/m2"), ("0.1", "g/cm2"), Some(Equal)),
            (("1", "cm"), ("1", "s"), None),
            (("1", "hour"), ("60", "min"), Some(Equal)),
            (("1", "second"), ("1", "s"), Some(Equal)),
            (("1000", "millisecond"), ("1", "second"), Some(Equal)),
            // calendar years and months
            (("1", "year"), ("12", "months"), Some(Equal)),
            (("1", "year"), ("13", "months"), Some(Less)),
            (("1", "year"), ("1", "a"), None),
            (("1", "month"), ("1", "mo"), None),
            (("1", "month"), ("30", "days"), None),
            (("1", "a"), ("12", "mo"), Some(Equal)),
            // unknown units compare only with themselves
            (("2", "tablets"), ("3", "tablets"), Some(Less)),
            (("2", "tablets"), ("3", "mg"), None),
        ];
        for ((av, au), (bv, bu), want) in cases {
            let (a, b) = (q(av, au), q(bv, bu));
            assert_eq!(a.compare(&b), *want, "{a} vs {b}");
            assert_eq!(b.compare(&a), want.map(Ordering::reverse), "{b} vs {a}");
            assert_eq!(a.equals(&b), want.map(Ordering::is_eq), "{a} = {b}");
        }
    }

    #[test]
    fn quantity_equivalence_and_comparable() {
        let cases: &[((&str, &str), (&str, &str), bool)] = &[
            (("4", "g"), ("4040", "mg"), true),
            (("4.1", "g"), ("4040", "mg"), false),
            (("4.00", "g"), ("4040", "mg"), true),
            (("4", "g"), ("4600", "mg"), false),
            (("185", "[lb_av]"), ("185", "[lb_av]"), true),
            (("1", "year"), ("1", "a"), true),
            (("1", "month"), ("1", "mo"), true),
            (("1", "year"), ("12", "months"), true),
            (("1", "second"), ("1", "s"), true),
            (("1.0", "m"), ("100", "cm"), true),
            (("1", "cm"), ("1", "s"), false),
            (("90", "s"), ("1.5", "min"), true),
            (("100", "s"), ("1.6667", "min"), true),
            (("37", "Cel"), ("98.6", "[degF]"), true),
        ];
        for ((av, au), (bv, bu), want) in cases {
            let (a, b) = (q(av, au), q(bv, bu));
            assert_eq!(a.equivalent(&b), *want, "{a} ~ {b}");
            assert_eq!(b.equivalent(&a), *want, "{b} ~ {a}");
        }
        // Comparable group
        assert!(q("1", "cm").comparable(&q("1", "[in_i]")));
        assert!(!q("1", "cm").comparable(&q("1", "s")));
        assert!(q("1", "year").comparable(&q("1", "a")));
    }

    #[test]
    fn quantity_arithmetic() {
        type Op = fn(&Quantity, &Quantity) -> Option<Quantity>;
        let add: Op = Quantity::checked_add;
        let sub: Op = Quantity::checked_sub;
        let mul: Op = Quantity::checked_mul;
        let div: Op = Quantity::checked_div;
        let cases: &[(Op, (&str, &str), (&str, &str), Option<&str>)] = &[
            (add, ("2", "kg"), ("500", "g"), Some("2.5 'kg'")),
            (add, ("1", "year"), ("6", "months"), Some("1.5 year")),
            (add, ("1", "day"), ("12", "h"), Some("1.5 day")),
            (sub, ("1", "m"), ("1", "cm"), Some("0.99 'm'")),
            (add, ("1", "year"), ("1", "day"), None),
            (add, ("1", "g"), ("1", "m"), None),
            // testQuantity10/11, testMultiply/testDivide unit algebra
            (div, ("4.0", "g"), ("2.0", "m"), Some("2.0 'g/m'")),
            (div, ("1.0", "m"), ("1.0", "m"), Some("1.0 '1'")),
            (div, ("1", "m"), ("0", "s"), None),
            (mul, ("2", "g"), ("3", "m"), Some("6 'g.m'")),
            (mul, ("2", "m"), ("3", "m"), Some("6 'm2'")),
            (mul, ("2", "day"), ("3", "1"), Some("6 day")),
            (mul, ("3", "1"), ("2", "mg"), Some("6 'mg'")),
            (div, ("6", "mg"), ("3", "1"), Some("2 'mg'")),
            (div, ("6", "1"), ("3", "s"), Some("2 '1/s'")),
            (div, ("10", "mg"), ("2", "dL"), Some("5 'mg/dL'")),
            (mul, ("1", "km"), ("1", "h-1"), Some("1 'km/h'")),
        ];
        for (op, (av, au), (bv, bu), want) in cases {
            let got = op(&q(av, au), &q(bv, bu)).map(|x| x.to_fhirpath_string());
            assert_eq!(got.as_deref(), *want, "{av} {au} op {bv} {bu}");
        }
        // 4.0 'g' / 2.0 'm' = 2 'g/m' and 1.0 'm' / 1.0 'm' = 1 '1'
        let r = q("4.0", "g").checked_div(&q("2.0", "m"));
        assert_eq!(r.and_then(|r| r.equals(&q("2", "g/m"))), Some(true));
        let r = q("1.0", "m").checked_div(&q("1.0", "m"));
        assert_eq!(r.and_then(|r| r.equals(&q("1", "1"))), Some(true));
    }

    #[test]
    fn quantity_conversion_boundaries_and_text() {
        let conv = |v: &str, from: &str, to: &str| {
            q(v, from).convert_to(to).map(|x| x.to_fhirpath_string())
        };
        assert_eq!(conv("4000", "mg", "g").as_deref(), Some("4 'g'"));
        assert_eq!(conv("2", "years", "months").as_deref(), Some("24 month"));
        assert_eq!(conv("1", "week", "days").as_deref(), Some("7 day"));
        assert_eq!(conv("1", "year", "d"), None);
        // LowBoundaryQuantity / HighBoundaryQuantity
        let low = q("1.587", "cm")
            .low_boundary(Some(8))
            .map(|x| x.to_fhirpath_string());
        assert_eq!(low.as_deref(), Some("1.58650000 'cm'"));
        let high = q("1.587", "m")
            .high_boundary(Some(8))
            .map(|x| x.to_fhirpath_string());
        assert_eq!(high.as_deref(), Some("1.58750000 'm'"));
        assert!(q("1.587", "m").high_boundary(Some(29)).is_none());
        assert_eq!(q("4", "g").to_string(), "4 'g'");
        assert_eq!(q("1", "years").to_string(), "1 year");
        assert_eq!(q("1", "[arb'U]").to_string(), "1 '[arb\\'U]'");
    }
}
