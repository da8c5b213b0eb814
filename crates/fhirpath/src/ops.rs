//! Binary operators other than the boolean ones: equality, equivalence, comparison,
//! membership, union, string concatenation and arithmetic.

use std::cmp::Ordering;

use fhir::json::Value;

use crate::ast::BinaryOp;
use crate::decimal::Decimal;
use crate::eval::{compare_items, fail, EvalError, Evaluator};
use crate::item::{Collection, Item};

pub(crate) fn binary<'a>(
    _ev: &mut Evaluator<'_, 'a, '_>,
    op: BinaryOp,
    a: Collection<'a>,
    b: Collection<'a>,
) -> Result<Collection<'a>, EvalError> {
    use BinaryOp::*;
    let one = |v: Option<bool>| v.map(Item::Boolean).into_iter().collect::<Vec<_>>();
    match op {
        Eq | Ne => {
            if a.is_empty() || b.is_empty() {
                return Ok(Vec::new());
            }
            let r = collections_equal(&a, &b)?;
            Ok(one(r.map(|x| if op == Eq { x } else { !x })))
        }
        Equiv | NotEquiv => {
            let r = collections_equivalent(&a, &b);
            Ok(one(Some(if op == Equiv { r } else { !r })))
        }
        Lt | Gt | Le | Ge => {
            let (x, y) = match (singleton(&a, "comparison")?, singleton(&b, "comparison")?) {
                (Some(x), Some(y)) => (x, y),
                _ => return Ok(Vec::new()),
            };
            let Some(ord) = compare_items(x, y)? else {
                return Ok(Vec::new());
            };
            Ok(one(Some(match op {
                Lt => ord == Ordering::Less,
                Gt => ord == Ordering::Greater,
                Le => ord != Ordering::Greater,
                _ => ord != Ordering::Less,
            })))
        }
        In | Contains => {
            let (needle, hay) = if op == In { (&a, &b) } else { (&b, &a) };
            let n = match singleton(needle, "membership")? {
                Some(n) => n,
                None => return Ok(Vec::new()),
            };
            let mut found = false;
            for h in hay {
                if item_equal(n, h)? == Some(true) {
                    found = true;
                    break;
                }
            }
            Ok(one(Some(found)))
        }
        Union => {
            let mut out: Collection<'a> = Vec::with_capacity(a.len() + b.len());
            for x in a.into_iter().chain(b) {
                if !contains_equal(&out, &x)? {
                    out.push(x);
                }
            }
            Ok(out)
        }
        Concat => {
            let s = |c: &Collection<'a>| -> Result<String, EvalError> {
                Ok(match singleton(c, "&")? {
                    None => String::new(),
                    Some(i) => match i.to_system() {
                        Item::String(s) => s.to_string(),
                        other => {
                            return fail(format!("& needs strings, not {}", other.type_name().1))
                        }
                    },
                })
            };
            let joined = s(&a)? + &s(&b)?;
            Ok(vec![Item::String(crate::item::Text::from(joined.as_str()))])
        }
        Add | Sub | Mul | Div | IntDiv | Mod => {
            let (x, y) = match (singleton(&a, "arithmetic")?, singleton(&b, "arithmetic")?) {
                (Some(x), Some(y)) => (x.to_system(), y.to_system()),
                _ => return Ok(Vec::new()),
            };
            arithmetic(op, &x, &y)
        }
        And | Or | Xor | Implies => fail("boolean operators are evaluated elsewhere"),
    }
}

/// The single item of a collection (`None` if empty); an error for several items.
pub(crate) fn singleton<'c, 'a>(
    c: &'c Collection<'a>,
    what: &str,
) -> Result<Option<&'c Item<'a>>, EvalError> {
    match c.as_slice() {
        [] => Ok(None),
        [x] => Ok(Some(x)),
        _ => fail(format!("{what} needs a single item, found {}", c.len())),
    }
}

fn arithmetic<'a>(op: BinaryOp, x: &Item<'a>, y: &Item<'a>) -> Result<Collection<'a>, EvalError> {
    use BinaryOp::*;
    use Item::*;
    let ovf = || EvalError {
        message: "arithmetic overflow".into(),
    };
    let dec = |i: i64| crate::decimal::Decimal::from_i64(i);
    let r: Option<Item<'a>> = match (x, y) {
        (Integer(p), Integer(q))
        | (Long(p), Long(q))
        | (Integer(p), Long(q))
        | (Long(p), Integer(q)) => {
            let long = matches!(x, Long(_)) || matches!(y, Long(_));
            let wrap = |v: i64| if long { Long(v) } else { Integer(v) };
            match op {
                Add => Some(wrap(p.checked_add(*q).ok_or_else(ovf)?)),
                Sub => Some(wrap(p.checked_sub(*q).ok_or_else(ovf)?)),
                Mul => Some(wrap(p.checked_mul(*q).ok_or_else(ovf)?)),
                Div => dec(*p).checked_div(&dec(*q)).map(Decimal),
                IntDiv => {
                    if *q == 0 {
                        None
                    } else {
                        Some(wrap(p.checked_div(*q).ok_or_else(ovf)?))
                    }
                }
                _ => {
                    if *q == 0 {
                        None
                    } else {
                        Some(wrap(p.checked_rem(*q).ok_or_else(ovf)?))
                    }
                }
            }
        }
        (Integer(_) | Long(_) | Decimal(_), Integer(_) | Long(_) | Decimal(_)) => {
            let as_dec = |i: &Item<'_>| match i {
                Integer(v) | Long(v) => dec(*v),
                Decimal(d) => *d,
                _ => dec(0),
            };
            let (p, q) = (as_dec(x), as_dec(y));
            match op {
                Add => Some(Decimal(p.checked_add(&q).ok_or_else(ovf)?)),
                Sub => Some(Decimal(p.checked_sub(&q).ok_or_else(ovf)?)),
                Mul => Some(Decimal(p.checked_mul(&q).ok_or_else(ovf)?)),
                Div => p.checked_div(&q).map(Decimal),
                IntDiv => p.checked_div(&q).and_then(|d| d.truncate()).map(Integer),
                _ => {
                    // p mod q = p - q * trunc(p / q)
                    match p.checked_div(&q).and_then(|d| d.truncate()) {
                        Some(t) => Some(Decimal(
                            p.checked_sub(&q.checked_mul(&dec(t)).ok_or_else(ovf)?)
                                .ok_or_else(ovf)?,
                        )),
                        None => None,
                    }
                }
            }
        }
        (String(p), String(q)) if op == Add => {
            Some(String(crate::item::Text::from(format!("{p}{q}").as_str())))
        }
        (Quantity(p), Quantity(q)) => match op {
            Add => p.checked_add(q).map(Quantity),
            Sub => p.checked_sub(q).map(Quantity),
            Mul => p.checked_mul(q).map(Quantity),
            Div => p.checked_div(q).map(Quantity),
            _ => return fail("div and mod do not apply to quantities"),
        },
        (Quantity(p), Integer(_) | Decimal(_) | Long(_)) if matches!(op, Mul | Div) => {
            let n = crate::quantity::Quantity::new(num(y), "1");
            if op == Mul {
                p.checked_mul(&n)
            } else {
                p.checked_div(&n)
            }
            .map(Quantity)
        }
        (Integer(_) | Decimal(_) | Long(_), Quantity(q)) if op == Mul => {
            crate::quantity::Quantity::new(num(x), "1")
                .checked_mul(q)
                .map(Quantity)
        }
        (Date(d), Quantity(q)) if matches!(op, Add | Sub) => {
            temporal_shift(q, op == Sub, |v, u| d.add_duration(v, u))?.map(Date)
        }
        (DateTime(d), Quantity(q)) if matches!(op, Add | Sub) => {
            temporal_shift(q, op == Sub, |v, u| d.add_duration(v, u))?.map(DateTime)
        }
        (Time(d), Quantity(q)) if matches!(op, Add | Sub) => {
            temporal_shift(q, op == Sub, |v, u| d.add_duration(v, u))?.map(Time)
        }
        _ => {
            return fail(format!(
                "operator {op:?} does not apply to {} and {}",
                x.type_name().1,
                y.type_name().1
            ))
        }
    };
    Ok(r.into_iter().collect())
}

fn num(i: &Item<'_>) -> Decimal {
    match i {
        Item::Integer(v) | Item::Long(v) => Decimal::from_i64(*v),
        Item::Decimal(d) => *d,
        _ => Decimal::from_i64(0),
    }
}

/// Adds (or subtracts) a calendar/UCUM duration to a temporal value. Fractional durations are
/// truncated to whole units, as the specification says for calendar arithmetic.
fn temporal_shift<T>(
    q: &crate::quantity::Quantity,
    negate: bool,
    add: impl Fn(i64, &str) -> Option<T>,
) -> Result<Option<T>, EvalError> {
    let Some(mut v) = q.value.truncate() else {
        return fail("duration out of range");
    };
    if negate {
        v = -v;
    }
    match add(v, &q.unit) {
        Some(t) => Ok(Some(t)),
        None => fail(format!(
            "cannot add a duration in '{}' to this value",
            q.unit
        )),
    }
}

/// FHIRPath `=` on two collections: same length and pairwise equal, in order.
pub(crate) fn collections_equal(
    a: &Collection<'_>,
    b: &Collection<'_>,
) -> Result<Option<bool>, EvalError> {
    if a.len() != b.len() {
        return Ok(Some(false));
    }
    let mut unknown = false;
    for (x, y) in a.iter().zip(b) {
        match item_equal(x, y)? {
            Some(false) => return Ok(Some(false)),
            None => unknown = true,
            Some(true) => {}
        }
    }
    Ok(if unknown { None } else { Some(true) })
}

/// `=` on two items; `None` when unknown (temporal precision).
pub(crate) fn item_equal(x: &Item<'_>, y: &Item<'_>) -> Result<Option<bool>, EvalError> {
    use Item::*;
    // Values that are already System values need no conversion.
    match (x, y) {
        (Integer(p), Integer(q)) => return Ok(Some(p == q)),
        (String(p), String(q)) => return Ok(Some(p == q)),
        (Boolean(p), Boolean(q)) => return Ok(Some(p == q)),
        _ => {}
    }
    // Complex nodes compare member by member.
    if let (Node(p), Node(q)) = (x, y) {
        if !p.is_primitive() || !q.is_primitive() {
            return Ok(Some(json_equal(p.value, q.value)));
        }
    }
    let (x, y) = (x.to_system(), y.to_system());
    Ok(match (&x, &y) {
        (Boolean(p), Boolean(q)) => Some(p == q),
        (String(p), String(q)) => Some(p == q),
        (Date(p), Date(q)) => p.equals(q),
        (DateTime(p), DateTime(q)) => p.equals(q),
        (Date(p), DateTime(q)) => crate::temporal::DateTime::from_date(*p).equals(q),
        (DateTime(p), Date(q)) => p.equals(&crate::temporal::DateTime::from_date(*q)),
        (Time(p), Time(q)) => p.equals(q),
        (Quantity(p), Quantity(q)) => p.equals(q),
        (Integer(_) | Long(_) | Decimal(_), Integer(_) | Long(_) | Decimal(_)) => {
            Some(compare_items(&x, &y)? == Some(Ordering::Equal))
        }
        (Node(p), Node(q)) => Some(json_equal(p.value, q.value)),
        _ => Some(false),
    })
}

fn json_equal(a: Option<&Value>, b: Option<&Value>) -> bool {
    fn eq(a: &Value, b: &Value) -> bool {
        match (a, b) {
            _ if std::ptr::eq(a, b) => true,
            (Value::Object(x), Value::Object(y)) => {
                let count = |o: &fhir::json::Object| o.iter().filter(|(k, _)| *k != "id").count();
                x.iter()
                    .filter(|(k, _)| *k != "id")
                    .all(|(k, v)| y.get(k).is_some_and(|w| eq(v, w)))
                    && count(x) == count(y)
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| eq(p, q))
            }
            (Value::Number(x), Value::Number(y)) => match (Decimal::parse(x), Decimal::parse(y)) {
                (Some(p), Some(q)) => p == q,
                _ => x == y,
            },
            _ => a == b,
        }
    }
    match (a, b) {
        (Some(a), Some(b)) => eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// `~` on two collections: same length and each item equivalent to one of the other's
/// (order-insensitive).
pub(crate) fn collections_equivalent(a: &Collection<'_>, b: &Collection<'_>) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    'outer: for x in a {
        for (j, y) in b.iter().enumerate() {
            if !used[j] && item_equivalent(x, y) {
                used[j] = true;
                continue 'outer;
            }
        }
        return false;
    }
    true
}

pub(crate) fn item_equivalent(x: &Item<'_>, y: &Item<'_>) -> bool {
    use Item::*;
    if let (Node(p), Node(q)) = (x, y) {
        if !p.is_primitive() || !q.is_primitive() {
            return json_equal(p.value, q.value);
        }
    }
    let (x, y) = (x.to_system(), y.to_system());
    match (&x, &y) {
        (String(p), String(q)) => normalize_ws(p) == normalize_ws(q),
        (Boolean(p), Boolean(q)) => p == q,
        (Decimal(p), Decimal(q)) => p.equivalent(q),
        (Integer(_) | Long(_) | Decimal(_), Integer(_) | Long(_) | Decimal(_)) => {
            num(&x).equivalent(&num(&y))
        }
        (Date(p), Date(q)) => p.equivalent(q),
        (DateTime(p), DateTime(q)) => p.equivalent(q),
        (Time(p), Time(q)) => p.equivalent(q),
        (Quantity(p), Quantity(q)) => p.equivalent(q),
        _ => false,
    }
}

fn normalize_ws(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether `c` already holds an item equal to `x` (for union and distinct).
pub(crate) fn contains_equal(c: &Collection<'_>, x: &Item<'_>) -> Result<bool, EvalError> {
    for y in c {
        if item_equal(x, y)? == Some(true) {
            return Ok(true);
        }
    }
    Ok(false)
}
