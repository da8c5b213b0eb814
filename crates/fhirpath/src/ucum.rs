//! A UCUM subset for FHIRPath quantity comparison, conversion and unit algebra.
//!
//! Unit expressions follow the UCUM case-sensitive grammar: components joined by `.` and `/`
//! (left-associative, `kg/m.s` = `(kg/m).s`), an optional leading `/`, parentheses, integer
//! exponents (`m2`, `s-1`, `10*3`), integer factors (`1000`), annotations `{...}` (which count
//! as 1), prefixes (`Y` … `y`, `da`) on metric atoms, and the atoms of [`ATOMS`]: SI and CGS
//! units, time (`min`, `h`, `d`, `wk`, `mo`, `a` and their variants), `L`/`l`, `%` and the
//! other dimensionless ratios, `mol`, `eq`, `osm`, `U`, `kat`, `[iU]`/`[IU]`, `mm[Hg]`,
//! `cm[H2O]`, international customary lengths, avoirdupois masses, US volumes, `Cel` and
//! `[degF]`.
//!
//! Each unit resolves to an exact rational factor over a dimension vector of the base units
//! `m g s rad K C cd` plus two kept apart: `mol` (UCUM defines it as a dimensionless count of
//! 6.0221367e23; keeping it as its own dimension keeps `mmol/L` from matching `1/L`) and
//! `[iU]` (arbitrary international units). `Cel` and `[degF]` are affine: they convert only
//! when they stand alone. Units outside the table are not commensurable with anything but
//! themselves (the caller compares identical unit strings directly).

use std::cmp::Ordering;

use crate::decimal::Decimal;

/// Number of base dimensions: m, g, s, rad, K, C, cd, mol, [iU].
pub const DIMS: usize = 9;

/// Deepest nesting of unit definitions followed (the table is acyclic; this guards it).
const MAX_DEPTH: u32 = 16;

/// An exact positive-denominator fraction in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    i128::try_from(a).unwrap_or(1)
}

impl Ratio {
    /// `num / den` in lowest terms; `None` when `den` is zero or on overflow.
    pub fn new(num: i128, den: i128) -> Option<Ratio> {
        if den == 0 || num == i128::MIN || den == i128::MIN {
            return None;
        }
        let g = gcd(num, den).max(1);
        let (mut num, mut den) = (num / g, den / g);
        if den < 0 {
            num = -num;
            den = -den;
        }
        Some(Ratio { num, den })
    }

    pub fn one() -> Ratio {
        Ratio { num: 1, den: 1 }
    }

    pub fn numerator(&self) -> i128 {
        self.num
    }

    pub fn denominator(&self) -> i128 {
        self.den
    }

    /// The exact value of a decimal.
    pub fn from_decimal(d: &Decimal) -> Option<Ratio> {
        Ratio::new(d.mantissa(), 10i128.checked_pow(d.scale())?)
    }

    pub fn mul(&self, o: &Ratio) -> Option<Ratio> {
        // Cross-reduce first to keep the products small.
        let g1 = gcd(self.num, o.den).max(1);
        let g2 = gcd(o.num, self.den).max(1);
        Ratio::new(
            (self.num / g1).checked_mul(o.num / g2)?,
            (self.den / g2).checked_mul(o.den / g1)?,
        )
    }

    pub fn div(&self, o: &Ratio) -> Option<Ratio> {
        self.mul(&Ratio::new(o.den, o.num)?)
    }

    pub fn add(&self, o: &Ratio) -> Option<Ratio> {
        let n = self
            .num
            .checked_mul(o.den)?
            .checked_add(o.num.checked_mul(self.den)?)?;
        Ratio::new(n, self.den.checked_mul(o.den)?)
    }

    pub fn pow(&self, e: i32) -> Option<Ratio> {
        let base = if e < 0 {
            Ratio::new(self.den, self.num)?
        } else {
            *self
        };
        let mut out = Ratio::one();
        for _ in 0..e.unsigned_abs() {
            out = out.mul(&base)?;
        }
        Some(out)
    }

    /// `d * self` as a decimal (exact when the denominator allows it, else at least 8 digits
    /// after the point).
    pub fn apply(&self, d: &Decimal) -> Option<Decimal> {
        let n = d.checked_mul(&Decimal::from_i128(self.num)?)?;
        if self.den == 1 {
            Some(n)
        } else {
            n.checked_div(&Decimal::from_i128(self.den)?)
        }
    }
}

/// A resolved unit: `value [unit] = (value + offset) * factor [base units^dims]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub factor: Ratio,
    pub dims: [i8; DIMS],
    /// The additive offset of `Cel` and `[degF]` (in their own unit); `None` for ordinary
    /// (multiplicative) units.
    pub offset: Option<Ratio>,
}

impl Unit {
    fn dimensionless(factor: Ratio) -> Unit {
        Unit {
            factor,
            dims: [0; DIMS],
            offset: None,
        }
    }

    fn mul(&self, o: &Unit) -> Option<Unit> {
        if self.offset.is_some() || o.offset.is_some() {
            return None;
        }
        let mut dims = self.dims;
        for (d, e) in dims.iter_mut().zip(o.dims) {
            *d = d.checked_add(e)?;
        }
        Some(Unit {
            factor: self.factor.mul(&o.factor)?,
            dims,
            offset: None,
        })
    }

    fn pow(&self, e: i32) -> Option<Unit> {
        if e == 1 {
            return Some(*self);
        }
        if self.offset.is_some() {
            return None;
        }
        let e8 = i8::try_from(e).ok()?;
        let mut dims = self.dims;
        for d in &mut dims {
            *d = d.checked_mul(e8)?;
        }
        Some(Unit {
            factor: self.factor.pow(e)?,
            dims,
            offset: None,
        })
    }

    /// Same dimensions (and so convertible).
    pub fn is_commensurable(&self, o: &Unit) -> bool {
        self.dims == o.dims
    }

    /// `value` in this unit expressed in base units.
    fn base_value(&self, value: &Decimal) -> Option<Decimal> {
        let v = match self.offset {
            Some(off) => value.checked_add(&ratio_decimal(&off)?)?,
            None => *value,
        };
        self.factor.apply(&v)
    }

    /// A value in base units expressed in this unit.
    fn value_from_base(&self, value: &Decimal) -> Option<Decimal> {
        let v = Ratio::new(self.factor.den, self.factor.num)?.apply(value)?;
        match self.offset {
            Some(off) => v.checked_sub(&ratio_decimal(&off)?),
            None => Some(v),
        }
    }
}

fn ratio_decimal(r: &Ratio) -> Option<Decimal> {
    r.apply(&Decimal::from_i64(1))
}

// ------------------------------------------------------------------------------ the table

/// How an atom is defined.
#[derive(Clone, Copy, Debug)]
pub enum Def {
    /// A base dimension (index into the dimension vector).
    Base(usize),
    /// `value` times a unit expression.
    Derived(&'static str, &'static str),
    /// An affine unit: `(v + offset)` times a unit expression.
    Affine(&'static str, &'static str),
}

/// The atoms: code, whether prefixes apply (UCUM "metric"), definition.
pub const ATOMS: &[(&str, bool, Def)] = &[
    // base units
    ("m", true, Def::Base(0)),
    ("g", true, Def::Base(1)),
    ("s", true, Def::Base(2)),
    ("rad", true, Def::Base(3)),
    ("K", true, Def::Base(4)),
    ("C", true, Def::Base(5)),
    ("cd", true, Def::Base(6)),
    ("mol", true, Def::Base(7)),
    ("[iU]", true, Def::Base(8)),
    // dimensionless
    ("10*", false, Def::Derived("10", "1")),
    ("10^", false, Def::Derived("10", "1")),
    ("[pi]", false, Def::Derived("3.141592653589793", "1")),
    ("%", false, Def::Derived("1", "10*-2")),
    ("[ppth]", false, Def::Derived("1", "10*-3")),
    ("[ppm]", false, Def::Derived("1", "10*-6")),
    ("[ppb]", false, Def::Derived("1", "10*-9")),
    ("[pptr]", false, Def::Derived("1", "10*-12")),
    // angles
    ("sr", true, Def::Derived("1", "rad2")),
    ("deg", false, Def::Derived("2", "[pi].rad/360")),
    ("gon", false, Def::Derived("0.9", "deg")),
    // time
    ("min", false, Def::Derived("60", "s")),
    ("h", false, Def::Derived("60", "min")),
    ("d", false, Def::Derived("24", "h")),
    ("wk", false, Def::Derived("7", "d")),
    ("a_t", false, Def::Derived("365.24219", "d")),
    ("a_j", false, Def::Derived("365.25", "d")),
    ("a_g", false, Def::Derived("365.2425", "d")),
    ("a", false, Def::Derived("1", "a_j")),
    ("mo_s", false, Def::Derived("29.53059", "d")),
    ("mo_j", false, Def::Derived("1", "a_j/12")),
    ("mo_g", false, Def::Derived("1", "a_g/12")),
    ("mo", false, Def::Derived("1", "mo_j")),
    // SI derived
    ("L", true, Def::Derived("1", "dm3")),
    ("l", true, Def::Derived("1", "dm3")),
    ("ar", true, Def::Derived("100", "m2")),
    ("t", true, Def::Derived("1000", "kg")),
    ("Hz", true, Def::Derived("1", "s-1")),
    ("N", true, Def::Derived("1", "kg.m/s2")),
    ("Pa", true, Def::Derived("1", "N/m2")),
    ("J", true, Def::Derived("1", "N.m")),
    ("W", true, Def::Derived("1", "J/s")),
    ("A", true, Def::Derived("1", "C/s")),
    ("V", true, Def::Derived("1", "J/C")),
    ("F", true, Def::Derived("1", "C/V")),
    ("Ohm", true, Def::Derived("1", "V/A")),
    ("S", true, Def::Derived("1", "Ohm-1")),
    ("Wb", true, Def::Derived("1", "V.s")),
    ("T", true, Def::Derived("1", "Wb/m2")),
    ("H", true, Def::Derived("1", "Wb/A")),
    ("lm", true, Def::Derived("1", "cd.sr")),
    ("lx", true, Def::Derived("1", "lm/m2")),
    ("Bq", true, Def::Derived("1", "s-1")),
    ("Gy", true, Def::Derived("1", "J/kg")),
    ("Sv", true, Def::Derived("1", "J/kg")),
    ("bar", true, Def::Derived("100000", "Pa")),
    (
        "u",
        true,
        Def::Derived("0.0000000000000000000000016605402", "g"),
    ),
    (
        "eV",
        true,
        Def::Derived("0.000000000000000000160217733", "J"),
    ),
    // CGS and other metric
    ("[g]", false, Def::Derived("9.80665", "m/s2")),
    ("gf", true, Def::Derived("1", "g.[g]")),
    ("dyn", true, Def::Derived("1", "g.cm/s2")),
    ("erg", true, Def::Derived("1", "dyn.cm")),
    ("P", true, Def::Derived("1", "dyn.s/cm2")),
    ("St", true, Def::Derived("1", "cm2/s")),
    ("G", true, Def::Derived("0.0001", "T")),
    ("Ci", true, Def::Derived("37000000000", "Bq")),
    ("R", true, Def::Derived("0.000258", "C/kg")),
    ("RAD", true, Def::Derived("100", "erg/g")),
    ("REM", true, Def::Derived("1", "RAD")),
    ("Ao", false, Def::Derived("0.1", "nm")),
    ("cal", true, Def::Derived("4.184", "J")),
    ("cal_th", true, Def::Derived("4.184", "J")),
    ("cal_IT", true, Def::Derived("4.1868", "J")),
    ("[Cal]", false, Def::Derived("1", "kcal")),
    // pressure
    ("atm", false, Def::Derived("101325", "Pa")),
    ("m[Hg]", true, Def::Derived("133.322", "kPa")),
    ("m[H2O]", true, Def::Derived("9.80665", "kPa")),
    ("[in_i'Hg]", false, Def::Derived("1", "m[Hg].[in_i]/m")),
    ("[psi]", false, Def::Derived("1", "[lbf_av]/[in_i]2")),
    // international customary lengths, areas, volumes
    ("[in_i]", false, Def::Derived("2.54", "cm")),
    ("[ft_i]", false, Def::Derived("12", "[in_i]")),
    ("[yd_i]", false, Def::Derived("3", "[ft_i]")),
    ("[mi_i]", false, Def::Derived("5280", "[ft_i]")),
    ("[nmi_i]", false, Def::Derived("1852", "m")),
    ("[sin_i]", false, Def::Derived("1", "[in_i]2")),
    ("[sft_i]", false, Def::Derived("1", "[ft_i]2")),
    ("[cin_i]", false, Def::Derived("1", "[in_i]3")),
    ("[cft_i]", false, Def::Derived("1", "[ft_i]3")),
    // avoirdupois
    ("[gr]", false, Def::Derived("64.79891", "mg")),
    ("[lb_av]", false, Def::Derived("7000", "[gr]")),
    ("[oz_av]", false, Def::Derived("1", "[lb_av]/16")),
    ("[dr_av]", false, Def::Derived("1", "[oz_av]/16")),
    ("[stone_av]", false, Def::Derived("14", "[lb_av]")),
    ("[lbf_av]", false, Def::Derived("1", "[lb_av].[g]")),
    // US and metric household volumes
    ("[gal_us]", false, Def::Derived("231", "[in_i]3")),
    ("[qt_us]", false, Def::Derived("1", "[gal_us]/4")),
    ("[pt_us]", false, Def::Derived("1", "[qt_us]/2")),
    ("[gil_us]", false, Def::Derived("1", "[pt_us]/4")),
    ("[foz_us]", false, Def::Derived("1", "[gil_us]/4")),
    ("[fdr_us]", false, Def::Derived("1", "[foz_us]/8")),
    ("[tbs_us]", false, Def::Derived("1", "[foz_us]/2")),
    ("[tsp_us]", false, Def::Derived("1", "[tbs_us]/3")),
    ("[cup_us]", false, Def::Derived("16", "[tbs_us]")),
    ("[foz_m]", false, Def::Derived("30", "mL")),
    ("[cup_m]", false, Def::Derived("240", "mL")),
    ("[tsp_m]", false, Def::Derived("5", "mL")),
    ("[tbs_m]", false, Def::Derived("15", "mL")),
    ("[drp]", false, Def::Derived("1", "mL/20")),
    // chemistry and clinical
    ("eq", true, Def::Derived("1", "mol")),
    ("osm", true, Def::Derived("1", "mol")),
    ("kat", true, Def::Derived("1", "mol/s")),
    ("U", true, Def::Derived("1", "umol/min")),
    ("[IU]", true, Def::Derived("1", "[iU]")),
    ("g%", true, Def::Derived("1", "g/dL")),
    // information
    ("bit", true, Def::Derived("1", "1")),
    ("By", true, Def::Derived("8", "bit")),
    ("Bd", true, Def::Derived("1", "/s")),
    // temperature (affine)
    ("Cel", true, Def::Affine("273.15", "K")),
    ("[degF]", false, Def::Affine("459.67", "5.K/9")),
];

/// Metric prefixes (two-letter first).
const PREFIXES: &[(&str, i32)] = &[
    ("da", 1),
    ("Y", 24),
    ("Z", 21),
    ("E", 18),
    ("P", 15),
    ("T", 12),
    ("G", 9),
    ("M", 6),
    ("k", 3),
    ("h", 2),
    ("d", -1),
    ("c", -2),
    ("m", -3),
    ("u", -6),
    ("n", -9),
    ("p", -12),
    ("f", -15),
    ("a", -18),
    ("z", -21),
    ("y", -24),
];

fn atom(code: &str) -> Option<(bool, Def)> {
    ATOMS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, metric, def)| (metric, def))
}

fn resolve_def(def: Def, depth: u32) -> Option<Unit> {
    match def {
        Def::Base(i) => {
            let mut dims = [0i8; DIMS];
            *dims.get_mut(i)? = 1;
            Some(Unit {
                factor: Ratio::one(),
                dims,
                offset: None,
            })
        }
        Def::Derived(value, expr) => {
            let v = Ratio::from_decimal(&Decimal::parse(value)?)?;
            let u = resolve(expr, depth + 1)?;
            u.mul(&Unit::dimensionless(v))
        }
        Def::Affine(offset, expr) => {
            let mut u = resolve(expr, depth + 1)?;
            u.offset = Some(Ratio::from_decimal(&Decimal::parse(offset)?)?);
            Some(u)
        }
    }
}

/// A simple unit: an atom, or a prefix and a metric atom.
fn resolve_symbol(sym: &str, depth: u32) -> Option<Unit> {
    if let Some((_, def)) = atom(sym) {
        return resolve_def(def, depth);
    }
    for &(p, e) in PREFIXES {
        let Some(rest) = sym.strip_prefix(p) else {
            continue;
        };
        let Some((true, def)) = atom(rest) else {
            continue;
        };
        if matches!(def, Def::Affine(..)) {
            return None;
        }
        let u = resolve_def(def, depth)?;
        return u.mul(&Unit::dimensionless(Ratio::new(10, 1)?.pow(e)?));
    }
    None
}

// ------------------------------------------------------------------------------ syntax

/// One component of a flattened unit expression.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// A simple unit (atom with optional prefix) and its exponent.
    Symbol(String, i32),
    /// An integer factor and its exponent.
    Factor(u64, i32),
}

struct Parser<'s> {
    b: &'s [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn term(&mut self, sign: i32, out: &mut Vec<Piece>, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut sign = sign;
        loop {
            self.component(sign, out, depth)?;
            match self.peek() {
                Some(b'.') => sign = 1,
                Some(b'/') => sign = -1,
                _ => return Some(()),
            }
            self.pos += 1;
        }
    }

    fn annotation(&mut self) -> Option<()> {
        // at '{'
        let close = self.b[self.pos..].iter().position(|&c| c == b'}')?;
        self.pos += close + 1;
        Some(())
    }

    fn component(&mut self, sign: i32, out: &mut Vec<Piece>, depth: u32) -> Option<()> {
        match self.peek()? {
            b'(' => {
                self.pos += 1;
                let mut inner = Vec::new();
                self.term(1, &mut inner, depth + 1)?;
                if self.peek()? != b')' {
                    return None;
                }
                self.pos += 1;
                if self.peek() == Some(b'{') {
                    self.annotation()?;
                }
                for p in inner {
                    out.push(match p {
                        Piece::Symbol(s, e) => Piece::Symbol(s, e.checked_mul(sign)?),
                        Piece::Factor(f, e) => Piece::Factor(f, e.checked_mul(sign)?),
                    });
                }
                Some(())
            }
            b'{' => self.annotation(),
            _ => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    match c {
                        b'.' | b'/' | b'(' | b')' | b'{' => break,
                        b'[' => {
                            let close = self.b[self.pos..].iter().position(|&c| c == b']')?;
                            self.pos += close + 1;
                        }
                        b'}' | b']' => return None,
                        33..=126 => self.pos += 1,
                        _ => return None,
                    }
                }
                let chunk = std::str::from_utf8(&self.b[start..self.pos]).ok()?;
                if self.peek() == Some(b'{') {
                    self.annotation()?;
                }
                out.push(simple(chunk, sign)?);
                Some(())
            }
        }
    }
}

/// A chunk such as `mg`, `m2`, `s-1`, `10*3`, `[in_i]`, `1000`.
fn simple(chunk: &str, sign: i32) -> Option<Piece> {
    if chunk.is_empty() {
        return None;
    }
    if chunk.bytes().all(|c| c.is_ascii_digit()) {
        return Some(Piece::Factor(chunk.parse().ok()?, sign));
    }
    let b = chunk.as_bytes();
    let mut e = b.len();
    while e > 0 && b[e - 1].is_ascii_digit() {
        e -= 1;
    }
    let mut exp_start = e;
    if e < b.len() && e > 0 && (b[e - 1] == b'+' || b[e - 1] == b'-') {
        exp_start = e - 1;
    }
    let (sym, exp) = chunk.split_at(exp_start);
    if sym.is_empty() {
        return None;
    }
    let exp: i32 = if exp.is_empty() {
        1
    } else {
        let v: i32 = exp.trim_start_matches('+').parse().ok()?;
        if v == 0 || v.abs() > 64 {
            return None;
        }
        v
    };
    Some(Piece::Symbol(sym.to_string(), exp.checked_mul(sign)?))
}

/// The flattened components of a unit expression; the empty string and `1` are unity.
fn syntax(code: &str) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    if code.is_empty() {
        return Some(out);
    }
    let mut p = Parser {
        b: code.as_bytes(),
        pos: 0,
    };
    let sign = if p.peek() == Some(b'/') {
        p.pos += 1;
        -1
    } else {
        1
    };
    p.term(sign, &mut out, 0)?;
    if p.pos != p.b.len() {
        return None;
    }
    Some(out)
}

fn resolve(code: &str, depth: u32) -> Option<Unit> {
    if depth > MAX_DEPTH {
        return None;
    }
    let pieces = syntax(code)?;
    if let [Piece::Symbol(sym, 1)] = pieces.as_slice() {
        // Alone, an affine unit keeps its offset.
        return resolve_symbol(sym, depth);
    }
    let mut u = Unit::dimensionless(Ratio::one());
    for p in &pieces {
        let v = match p {
            Piece::Symbol(sym, e) => resolve_symbol(sym, depth)?.pow(*e)?,
            Piece::Factor(f, e) => Unit::dimensionless(Ratio::new(i128::from(*f), 1)?.pow(*e)?),
        };
        u = u.mul(&v)?;
    }
    Some(u)
}

// ------------------------------------------------------------------------------ public API

/// Resolves a UCUM unit expression (`mg`, `kg/m2`, `10*3/uL`, `mm[Hg]`, `Cel`); `None` when
/// it is malformed or uses atoms outside the table.
pub fn parse(code: &str) -> Option<Unit> {
    resolve(code.trim(), 0)
}

/// Whether values in the two units can be converted into each other.
pub fn commensurable(a: &str, b: &str) -> bool {
    a == b
        || match (parse(a), parse(b)) {
            (Some(x), Some(y)) => x.is_commensurable(&y),
            _ => false,
        }
}

/// `value` in unit `from` expressed in unit `to` (`convert(4000, "mg", "g")` = 4); `None` when
/// the units are unknown or not commensurable. Non-terminating results have at least 8 digits
/// after the point.
pub fn convert(value: &Decimal, from: &str, to: &str) -> Option<Decimal> {
    if from == to {
        return Some(*value);
    }
    let (a, b) = (parse(from)?, parse(to)?);
    if !a.is_commensurable(&b) {
        return None;
    }
    if a.offset.is_none() && b.offset.is_none() {
        return a.factor.div(&b.factor)?.apply(value);
    }
    b.value_from_base(&a.base_value(value)?)
}

/// Orders `a [ua]` against `b [ub]` after conversion (exact for multiplicative units); `None`
/// when the units are unknown or not commensurable.
pub fn compare(a: &Decimal, ua: &str, b: &Decimal, ub: &str) -> Option<Ordering> {
    if ua == ub {
        return Some(a.cmp_value(b));
    }
    let (x, y) = (parse(ua)?, parse(ub)?);
    if !x.is_commensurable(&y) {
        return None;
    }
    if x.offset.is_none() && y.offset.is_none() {
        // a * fx <=> b * fy  ⇔  a * nx * dy <=> b * ny * dx (denominators are positive)
        let exact = (|| {
            let l = a.checked_mul(&Decimal::from_i128(
                x.factor.num.checked_mul(y.factor.den)?,
            )?)?;
            let r = b.checked_mul(&Decimal::from_i128(
                y.factor.num.checked_mul(x.factor.den)?,
            )?)?;
            Some(l.cmp_value(&r))
        })();
        if exact.is_some() {
            return exact;
        }
    }
    let bx = convert(b, ub, ua)?;
    Some(a.cmp_value(&bx))
}

/// The size of one `unit` relative to another commensurable unit, for choosing the coarser
/// of two units: `Greater` when one `a` is more than one `b`.
pub fn magnitude_order(a: &str, b: &str) -> Option<Ordering> {
    compare(&Decimal::from_i64(1), a, &Decimal::from_i64(1), b)
}

/// The unit of a product: `g` × `m` = `g.m`, `m` × `m` = `m2`, `g/m` × `m` = `g`.
pub fn multiply(a: &str, b: &str) -> Option<String> {
    combine(a, b, 1)
}

/// The unit of a quotient: `g` / `m` = `g/m`, `m` / `m` = `1`, `1` / `s` = `1/s`.
pub fn divide(a: &str, b: &str) -> Option<String> {
    combine(a, b, -1)
}

fn combine(a: &str, b: &str, sign: i32) -> Option<String> {
    let mut terms: Vec<(String, bool, i32)> = Vec::new();
    let mut add = |p: Piece, s: i32| -> Option<()> {
        let (key, numeric, e) = match p {
            Piece::Symbol(sym, e) => (sym, false, e),
            Piece::Factor(1, _) => return Some(()),
            Piece::Factor(f, e) => (f.to_string(), true, e),
        };
        let e = e.checked_mul(s)?;
        match terms
            .iter_mut()
            .find(|(k, n, _)| *k == key && *n == numeric)
        {
            Some(t) => t.2 = t.2.checked_add(e)?,
            None => terms.push((key, numeric, e)),
        }
        Some(())
    };
    for p in syntax(a.trim())? {
        add(p, 1)?;
    }
    for p in syntax(b.trim())? {
        add(p, sign)?;
    }
    let render = |key: &str, numeric: bool, e: i32| -> String {
        let n = e.unsigned_abs();
        if numeric {
            vec![key; n as usize].join(".")
        } else if n == 1 {
            key.to_string()
        } else {
            format!("{key}{n}")
        }
    };
    let num: Vec<String> = terms
        .iter()
        .filter(|t| t.2 > 0)
        .map(|(k, n, e)| render(k, *n, *e))
        .collect();
    let den: Vec<String> = terms
        .iter()
        .filter(|t| t.2 < 0)
        .map(|(k, n, e)| render(k, *n, *e))
        .collect();
    let mut out = if num.is_empty() {
        "1".to_string()
    } else {
        num.join(".")
    };
    for d in den {
        out.push('/');
        out.push_str(&d);
    }
    Some(out)
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
    fn ucum_parse_factors() {
        // (unit, factor numerator, denominator) relative to the base units.
        let cases: &[(&str, i128, i128)] = &[
            ("g", 1, 1),
            ("mg", 1, 1000),
            ("kg", 1000, 1),
            ("ug", 1, 1_000_000),
            ("m", 1, 1),
            ("cm", 1, 100),
            ("mm", 1, 1000),
            ("dm3", 1, 1000),
            ("L", 1, 1000),
            ("dL", 1, 10_000),
            ("mL", 1, 1_000_000),
            ("uL", 1, 1_000_000_000),
            ("min", 60, 1),
            ("h", 3600, 1),
            ("d", 86_400, 1),
            ("wk", 604_800, 1),
            ("a", 31_557_600, 1),
            ("mo", 2_629_800, 1),
            ("ms", 1, 1000),
            ("%", 1, 100),
            ("1", 1, 1),
            ("", 1, 1),
            ("{beats}", 1, 1),
            ("10*3", 1000, 1),
            ("10^3", 1000, 1),
            ("10*-3", 1, 1000),
            ("10*3/uL", 1_000_000_000_000, 1),
            ("kg/m2", 1000, 1),
            ("[in_i]", 127, 5000),
            ("[ft_i]", 381, 1250),
            ("[lb_av]", 45_359_237, 100_000),
            ("[oz_av]", 45_359_237, 1_600_000),
            ("mm[Hg]", 133_322, 1),
            ("Pa", 1000, 1),
            ("N", 1000, 1),
            ("/min", 1, 60),
            ("1/min", 1, 60),
            ("{beats}/min", 1, 60),
            ("g/(m.s2)", 1, 1),
            ("mmol/L", 1, 1),
            ("meq/L", 1, 1),
            ("kcal", 4_184_000, 1),
            ("m2", 1, 1),
            ("cm3", 1, 1_000_000),
            ("[IU]/L", 1000, 1),
            ("U/L", 1, 60_000),
            ("s-1", 1, 1),
        ];
        for (code, n, den) in cases {
            let u = parse(code);
            assert_eq!(
                u.map(|u| (u.factor.numerator(), u.factor.denominator())),
                Some((*n, *den)),
                "{code}"
            );
        }
        for bad in [
            "xyz", "mgg", "m(", "(m", "m)", "g/", "[in_i", "m{x", "g m", "kCel", "Cel2", "m.Cel",
            "m-", "2-",
        ] {
            assert!(parse(bad).is_none(), "{bad} should not resolve");
        }
        assert!(commensurable("cm", "[in_i]"));
        assert!(!commensurable("cm", "s"));
        assert!(commensurable("mmol/L", "umol/mL"));
        assert!(!commensurable("mmol/L", "mg/dL"));
        assert!(commensurable("Cel", "[degF]"));
        assert!(commensurable("Cel", "K"));
        assert!(commensurable("foo", "foo"));
        assert!(!commensurable("foo", "bar"));
        assert!(commensurable("kg/m2", "g/cm2"));
        assert!(commensurable("mm[Hg]", "kPa"));
    }

    #[test]
    fn ucum_conversions() {
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            ("4000", "mg", "g", Some("4")),
            ("4.0", "g", "mg", Some("4000.0")),
            ("3", "min", "s", Some("180")),
            ("180", "s", "min", Some("3")),
            ("90", "s", "min", Some("1.5")),
            ("100", "s", "min", Some("1.66666667")),
            ("1", "wk", "d", Some("7")),
            ("1", "[in_i]", "cm", Some("2.54")),
            ("185", "[lb_av]", "kg", Some("83.91458845")),
            ("1", "kg/m2", "g/cm2", Some("0.1")),
            ("37", "Cel", "K", Some("310.15")),
            ("100", "Cel", "[degF]", Some("212")),
            ("32", "[degF]", "Cel", Some("0")),
            ("1", "mm[Hg]", "Pa", Some("133.322")),
            ("1", "cm", "s", None),
            ("1", "foo", "g", None),
            ("2", "foo", "foo", Some("2")),
            ("1", "a", "mo", Some("12")),
            ("1", "L", "dL", Some("10")),
            ("5", "10*3/uL", "10*9/L", Some("5")),
        ];
        for (v, from, to, want) in cases {
            let got = convert(&d(v), from, to);
            assert_eq!(
                got.is_some(),
                want.is_some(),
                "{v} {from} → {to}: got {got:?}"
            );
            if let (Some(g), Some(w)) = (got, want) {
                assert!(g == d(w), "{v} {from} → {to}: got {g}, want {w}");
            }
        }
        // Exact conversions keep the digits as written.
        let shown = |v: &str, from: &str, to: &str| convert(&d(v), from, to).map(|x| x.to_string());
        assert_eq!(shown("4.0", "g", "mg").as_deref(), Some("4000.0"));
        assert_eq!(shown("4040", "mg", "g").as_deref(), Some("4.04"));
        assert_eq!(shown("1", "[in_i]", "cm").as_deref(), Some("2.54"));
    }

    #[test]
    fn ucum_comparisons() {
        use Ordering::*;
        let cases: &[(&str, &str, &str, &str, Option<Ordering>)] = &[
            ("4.0000", "g", "4000.0", "mg", Some(Equal)),
            ("1", "cm", "1", "m", Some(Less)),
            ("3", "min", "180", "s", Some(Equal)),
            ("7", "d", "1", "wk", Some(Equal)),
            ("6", "d", "1", "wk", Some(Less)),
            ("185", "[lb_av]", "200", "[lb_av]", Some(Less)),
            ("185", "[lb_av]", "185", "kg", Some(Less)),
            ("185", "[lb_av]", "83.91458845", "kg", Some(Equal)),
            ("1", "cm", "1", "s", None),
            ("1", "[in_i]", "2.54", "cm", Some(Equal)),
            ("1", "kg/m2", "0.1", "g/cm2", Some(Equal)),
            ("37", "Cel", "98.6", "[degF]", Some(Equal)),
            ("1", "foo", "2", "foo", Some(Less)),
            ("1", "foo", "1", "bar", None),
        ];
        for (a, ua, b, ub, want) in cases {
            assert_eq!(compare(&d(a), ua, &d(b), ub), *want, "{a} {ua} vs {b} {ub}");
            assert_eq!(
                compare(&d(b), ub, &d(a), ua),
                want.map(Ordering::reverse),
                "{b} {ub} vs {a} {ua}"
            );
        }
        assert_eq!(magnitude_order("g", "mg"), Some(Greater));
    }

    #[test]
    fn ucum_algebra() {
        let mul: &[(&str, &str, &str)] = &[
            ("g", "m", "g.m"),
            ("m", "m", "m2"),
            ("g/m", "m", "g"),
            ("1", "g", "g"),
            ("g", "1", "g"),
            ("kg", "m-2", "kg/m2"),
            ("10*3/uL", "uL", "10*3"),
            ("mg", "mL-1", "mg/mL"),
            ("{beats}/min", "min", "1"),
        ];
        for (a, b, want) in mul {
            assert_eq!(multiply(a, b).as_deref(), Some(*want), "{a} * {b}");
        }
        let div: &[(&str, &str, &str)] = &[
            ("g", "m", "g/m"),
            ("m", "m", "1"),
            ("1", "s", "1/s"),
            ("kg", "m2", "kg/m2"),
            ("g/m", "s", "g/m/s"),
            ("m2", "m", "m"),
            ("mg", "dL", "mg/dL"),
        ];
        for (a, b, want) in div {
            assert_eq!(divide(a, b).as_deref(), Some(*want), "{a} / {b}");
        }
        // Every rendered unit parses back to the right factor.
        let back = divide("g/m", "s").and_then(|u| parse(&u));
        assert_eq!(back.map(|u| u.dims), Some([-1, 1, -1, 0, 0, 0, 0, 0, 0]));
        assert!(multiply("g(", "m").is_none());
    }

    #[test]
    fn ucum_never_panics_on_random_units() {
        let one = Decimal::from_i64(1);
        let mut resolved = 0;
        for s in random_strings(b"mgsLkdcu[]{}()./0123456789-+*^%_iCelab'", 40_000, 14) {
            if parse(&s).is_some() {
                resolved += 1;
            }
            let _ = (multiply(&s, "m"), divide("g", &s), commensurable(&s, "g"));
            let _ = (convert(&one, &s, "g"), compare(&one, &s, &one, "mg"));
        }
        assert!(resolved > 0);
    }

    #[test]
    fn ucum_ratio_arithmetic() {
        let r = Ratio::new(6, -4);
        assert_eq!(r.map(|r| (r.numerator(), r.denominator())), Some((-3, 2)));
        assert!(Ratio::new(1, 0).is_none());
        let big = Ratio::new(i128::MAX, 1);
        assert!(big.and_then(|b| b.mul(&b)).is_none());
        assert!(Ratio::new(10, 1).and_then(|t| t.pow(40)).is_none());
        let third = Ratio::new(1, 3);
        let sum = third.and_then(|t| t.add(&t));
        assert_eq!(sum, Ratio::new(2, 3));
    }
}
