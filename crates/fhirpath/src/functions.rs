//! The function library: FHIRPath N1 (existence, filtering, subsetting, combining, conversion,
//! string, math, tree navigation, utility, aggregates) and the FHIR R4 additions
//! (`extension`, `hasValue`, `getValue`, `resolve`, `memberOf`, `conformsTo`, `htmlChecks`).

use std::cmp::Ordering;
use std::rc::Rc;

use fhir::json::Value;

use crate::ast::{Expr, TypeSpec};
use crate::decimal::Decimal;
use crate::eval::{compare_items, fail, EvalError, Evaluator, Frame};
use crate::item::{Collection, Item, Node};
use crate::ops::{contains_equal, singleton};
use crate::quantity::Quantity;
use crate::temporal::{Date, DateTime, Time};

type R<'a> = Result<Collection<'a>, EvalError>;

fn boolean<'a>(b: bool) -> R<'a> {
    Ok(vec![Item::Boolean(b)])
}

fn string<'a>(s: &str) -> Item<'a> {
    Item::String(crate::item::Text::from(s))
}

fn arity(name: &str, args: &[Expr], min: usize, max: usize) -> Result<(), EvalError> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return fail(format!(
            "{name}() takes {want} argument(s), got {}",
            args.len()
        ));
    }
    Ok(())
}

/// A type name given as a function argument (`ofType(Quantity)`, `as(FHIR.string)`).
fn type_arg(e: &Expr) -> Result<TypeSpec, EvalError> {
    match e {
        Expr::Ident(n) => Ok(TypeSpec {
            namespace: None,
            name: n.clone(),
        }),
        Expr::Member(inner, n) => match &**inner {
            Expr::Ident(ns) => Ok(TypeSpec {
                namespace: Some(ns.clone()),
                name: n.clone(),
            }),
            _ => fail("a type name is expected"),
        },
        _ => fail("a type name is expected"),
    }
}

pub(crate) fn call<'a>(
    ev: &mut Evaluator<'_, 'a, '_>,
    name: &str,
    base: Collection<'a>,
    args: &[Expr],
    input: &Collection<'a>,
    frame: &Frame<'a>,
) -> R<'a> {
    // Argument evaluated in the caller's context.
    macro_rules! arg {
        ($i:expr) => {
            ev.eval(&args[$i], input, frame)?
        };
    }
    // A single string argument.
    macro_rules! str_arg {
        ($i:expr) => {{
            let v = arg!($i);
            match singleton(&v, name)? {
                None => return Ok(Vec::new()),
                Some(x) => match x.to_system() {
                    Item::String(s) => s,
                    _ => return fail(format!("{name}() needs a string argument")),
                },
            }
        }};
    }
    macro_rules! int_arg {
        ($i:expr) => {{
            let v = arg!($i);
            match singleton(&v, name)? {
                None => return Ok(Vec::new()),
                Some(x) => match x.to_system() {
                    Item::Integer(i) => i,
                    _ => return fail(format!("{name}() needs an integer argument")),
                },
            }
        }};
    }
    match name {
        // ---------------------------------------------------------------- existence
        "empty" => {
            arity(name, args, 0, 0)?;
            boolean(base.is_empty())
        }
        "exists" => {
            arity(name, args, 0, 1)?;
            if args.is_empty() {
                return boolean(!base.is_empty());
            }
            let hits = filter(ev, &base, &args[0], frame)?;
            boolean(!hits.is_empty())
        }
        "all" => {
            arity(name, args, 1, 1)?;
            for (i, it) in base.iter().enumerate() {
                let r = ev.eval(&args[0], &vec![it.clone()], &sub_frame(it, i, frame))?;
                if !matches!(r.as_slice(), [x] if matches!(x.to_system(), Item::Boolean(true))) {
                    return boolean(false);
                }
            }
            boolean(true)
        }
        "not" => {
            arity(name, args, 0, 0)?;
            match base.as_slice() {
                [] => Ok(Vec::new()),
                [x] => match x.to_system() {
                    Item::Boolean(b) => boolean(!b),
                    // Singleton evaluation: a non-boolean single item counts as true.
                    _ => boolean(false),
                },
                _ => fail("not() needs a single item"),
            }
        }
        "allTrue" | "anyTrue" | "allFalse" | "anyFalse" => {
            arity(name, args, 0, 0)?;
            let mut bools = Vec::with_capacity(base.len());
            for it in &base {
                match it.to_system() {
                    Item::Boolean(b) => bools.push(b),
                    _ => return fail(format!("{name}() needs booleans")),
                }
            }
            boolean(match name {
                "allTrue" => bools.iter().all(|b| *b),
                "anyTrue" => bools.iter().any(|b| *b),
                "allFalse" => bools.iter().all(|b| !*b),
                _ => bools.iter().any(|b| !*b),
            })
        }
        "subsetOf" | "supersetOf" => {
            arity(name, args, 1, 1)?;
            let other = arg!(0);
            let (small, big) = if name == "subsetOf" {
                (&base, &other)
            } else {
                (&other, &base)
            };
            for x in small {
                if !contains_equal(big, x)? {
                    return boolean(false);
                }
            }
            boolean(true)
        }
        "count" => {
            arity(name, args, 0, 0)?;
            Ok(vec![Item::Integer(base.len() as i64)])
        }
        "distinct" => {
            arity(name, args, 0, 0)?;
            let mut out = Vec::with_capacity(base.len());
            for x in base {
                if !contains_equal(&out, &x)? {
                    out.push(x);
                }
            }
            Ok(out)
        }
        "isDistinct" => {
            arity(name, args, 0, 0)?;
            let mut seen: Collection<'a> = Vec::with_capacity(base.len());
            for x in base {
                if contains_equal(&seen, &x)? {
                    return boolean(false);
                }
                seen.push(x);
            }
            boolean(true)
        }
        // ---------------------------------------------------------------- filtering
        "where" => {
            arity(name, args, 1, 1)?;
            filter(ev, &base, &args[0], frame)
        }
        "select" => {
            arity(name, args, 1, 1)?;
            let mut out = Vec::new();
            for (i, it) in base.iter().enumerate() {
                out.extend(ev.eval(&args[0], &vec![it.clone()], &sub_frame(it, i, frame))?);
            }
            Ok(out)
        }
        "repeat" => {
            arity(name, args, 1, 1)?;
            let mut out: Collection<'a> = Vec::new();
            let mut frontier = base;
            let mut rounds = 0;
            while !frontier.is_empty() {
                rounds += 1;
                if rounds > 10_000 {
                    return fail("repeat() did not terminate");
                }
                let mut next = Vec::new();
                for (i, it) in frontier.iter().enumerate() {
                    for r in ev.eval(&args[0], &vec![it.clone()], &sub_frame(it, i, frame))? {
                        if !contains_equal(&out, &r)? {
                            out.push(r.clone());
                            next.push(r);
                        }
                    }
                }
                frontier = next;
            }
            Ok(out)
        }
        "ofType" => {
            arity(name, args, 1, 1)?;
            let t = type_arg(&args[0])?;
            ev.check_type_known(&t)?;
            Ok(base
                .into_iter()
                .filter(|i| ev.is_type(i, &t, true))
                .collect())
        }
        "is" | "as" => {
            arity(name, args, 1, 1)?;
            let t = type_arg(&args[0])?;
            ev.check_type_known(&t)?;
            match base.as_slice() {
                [] => Ok(Vec::new()),
                [one] => {
                    if name == "is" {
                        boolean(ev.is_type(one, &t, false))
                    } else if ev.is_type(one, &t, true) {
                        Ok(base)
                    } else {
                        Ok(Vec::new())
                    }
                }
                _ => fail(format!("{name}() needs a single item")),
            }
        }
        // ---------------------------------------------------------------- subsetting
        "single" => {
            arity(name, args, 0, 0)?;
            match base.len() {
                0 | 1 => Ok(base),
                _ => fail("single() found more than one item"),
            }
        }
        "first" => {
            arity(name, args, 0, 0)?;
            Ok(base.into_iter().take(1).collect())
        }
        "last" => {
            arity(name, args, 0, 0)?;
            Ok(base.last().cloned().into_iter().collect())
        }
        "tail" => {
            arity(name, args, 0, 0)?;
            Ok(base.into_iter().skip(1).collect())
        }
        "skip" => {
            arity(name, args, 1, 1)?;
            let n = int_arg!(0);
            Ok(base.into_iter().skip(n.max(0) as usize).collect())
        }
        "take" => {
            arity(name, args, 1, 1)?;
            let n = int_arg!(0);
            Ok(base.into_iter().take(n.max(0) as usize).collect())
        }
        "intersect" => {
            arity(name, args, 1, 1)?;
            let other = arg!(0);
            let mut out = Vec::new();
            for x in base {
                if contains_equal(&other, &x)? && !contains_equal(&out, &x)? {
                    out.push(x);
                }
            }
            Ok(out)
        }
        "exclude" => {
            arity(name, args, 1, 1)?;
            let other = arg!(0);
            let mut out = Vec::new();
            for x in base {
                if !contains_equal(&other, &x)? {
                    out.push(x);
                }
            }
            Ok(out)
        }
        // ---------------------------------------------------------------- combining
        "union" => {
            arity(name, args, 1, 1)?;
            let other = arg!(0);
            let mut out: Collection<'a> = Vec::new();
            for x in base.into_iter().chain(other) {
                if !contains_equal(&out, &x)? {
                    out.push(x);
                }
            }
            Ok(out)
        }
        "combine" => {
            arity(name, args, 1, 1)?;
            let mut out = base;
            out.extend(arg!(0));
            Ok(out)
        }
        // ---------------------------------------------------------------- conversion
        "iif" => {
            arity(name, args, 2, 3)?;
            if base.len() > 1 {
                return fail("iif() needs a single input item");
            }
            // The criterion and the results see the input item as $this.
            let inner = match base.first() {
                Some(it) => sub_frame(it, 0, frame),
                None => frame.clone(),
            };
            let cond = ev.eval(&args[0], &base, &inner)?;
            let c = match cond.as_slice() {
                [] => false,
                [x] => match x.to_system() {
                    Item::Boolean(b) => b,
                    _ => return fail("iif() criterion must be a boolean"),
                },
                _ => return fail("iif() criterion must be a single boolean"),
            };
            if c {
                ev.eval(&args[1], &base, &inner)
            } else if args.len() == 3 {
                ev.eval(&args[2], &base, &inner)
            } else {
                Ok(Vec::new())
            }
        }
        "toBoolean" | "convertsToBoolean" => convert(name, &base, |i| match i {
            Item::Boolean(b) => Some(Item::Boolean(b)),
            Item::Integer(0) => Some(Item::Boolean(false)),
            Item::Integer(1) => Some(Item::Boolean(true)),
            Item::Decimal(d) if d == Decimal::from_i64(0) => Some(Item::Boolean(false)),
            Item::Decimal(d) if d == Decimal::from_i64(1) => Some(Item::Boolean(true)),
            Item::String(s) => match s.to_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(Item::Boolean(true)),
                "false" | "f" | "no" | "n" | "0" | "0.0" => Some(Item::Boolean(false)),
                _ => None,
            },
            _ => None,
        }),
        "toInteger" | "convertsToInteger" => convert(name, &base, |i| match i {
            Item::Integer(v) => Some(Item::Integer(v)),
            Item::Boolean(b) => Some(Item::Integer(i64::from(b))),
            Item::String(s) => parse_integer(&s).map(Item::Integer),
            _ => None,
        }),
        "toLong" | "convertsToLong" => convert(name, &base, |i| match i {
            Item::Integer(v) | Item::Long(v) => Some(Item::Long(v)),
            Item::Boolean(b) => Some(Item::Long(i64::from(b))),
            Item::String(s) => parse_integer(&s).map(Item::Long),
            _ => None,
        }),
        "toDecimal" | "convertsToDecimal" => convert(name, &base, |i| match i {
            Item::Decimal(d) => Some(Item::Decimal(d)),
            Item::Integer(v) | Item::Long(v) => Some(Item::Decimal(Decimal::from_i64(v))),
            Item::Boolean(b) => Some(Item::Decimal(Decimal::from_i64(i64::from(b)))),
            Item::String(s) => valid_decimal_text(&s)
                .then(|| Decimal::parse(&s))
                .flatten()
                .map(Item::Decimal),
            _ => None,
        }),
        "toString" | "convertsToString" => convert(name, &base, |i| {
            to_string(&i).map(|s| Item::String(crate::item::Text::from(s.as_str())))
        }),
        "toDate" | "convertsToDate" => convert(name, &base, |i| match i {
            Item::Date(d) => Some(Item::Date(d)),
            Item::DateTime(d) => {
                Date::parse(&d.to_string()[..d.to_string().len().min(10)]).map(Item::Date)
            }
            Item::String(s) => Date::parse(&s).map(Item::Date),
            _ => None,
        }),
        "toDateTime" | "convertsToDateTime" => convert(name, &base, |i| match i {
            Item::DateTime(d) => Some(Item::DateTime(d)),
            Item::Date(d) => Some(Item::DateTime(DateTime::from_date(d))),
            Item::String(s) => DateTime::parse(&s).map(Item::DateTime),
            _ => None,
        }),
        "toTime" | "convertsToTime" => convert(name, &base, |i| match i {
            Item::Time(t) => Some(Item::Time(t)),
            Item::String(s) => Time::parse(s.strip_prefix('T').unwrap_or(&s)).map(Item::Time),
            _ => None,
        }),
        "toQuantity" | "convertsToQuantity" => {
            arity(name, args, 0, 1)?;
            let unit = if args.is_empty() {
                None
            } else {
                Some(str_arg!(0))
            };
            let q = convert(
                if name == "toQuantity" {
                    "toQuantity"
                } else {
                    "convertsToQuantity"
                },
                &base,
                |i| match i {
                    Item::Quantity(q) => Some(Item::Quantity(q)),
                    Item::Integer(v) | Item::Long(v) => {
                        Some(Item::Quantity(Quantity::new(Decimal::from_i64(v), "1")))
                    }
                    Item::Decimal(d) => Some(Item::Quantity(Quantity::new(d, "1"))),
                    Item::Boolean(b) => Some(Item::Quantity(Quantity::new(
                        Decimal::from_i64(i64::from(b)),
                        "1",
                    ))),
                    Item::String(s) => parse_quantity(&s).map(Item::Quantity),
                    _ => None,
                },
            )?;
            match unit {
                None => Ok(q),
                Some(u) => {
                    // Conversion to another unit: only when the units are commensurable.
                    if name == "convertsToQuantity" {
                        return Ok(q);
                    }
                    let mut out = Vec::new();
                    for it in q {
                        if let Item::Quantity(x) = it {
                            let target = Quantity::new(Decimal::from_i64(1), &u);
                            if &*x.unit == u.as_str() {
                                out.push(Item::Quantity(x));
                            } else if x.compare(&target).is_some() {
                                if let Some(conv) = x.convert_to(&u) {
                                    out.push(Item::Quantity(conv));
                                }
                            }
                        }
                    }
                    Ok(out)
                }
            }
        }
        // ---------------------------------------------------------------- strings
        "indexOf" => {
            arity(name, args, 1, 1)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let sub = str_arg!(0);
            Ok(vec![Item::Integer(match s.find(&*sub) {
                Some(b) => s[..b].chars().count() as i64,
                None => -1,
            })])
        }
        "lastIndexOf" => {
            arity(name, args, 1, 1)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let sub = str_arg!(0);
            Ok(vec![Item::Integer(match s.rfind(&*sub) {
                Some(b) => s[..b].chars().count() as i64,
                None => -1,
            })])
        }
        "substring" => {
            arity(name, args, 1, 2)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let start = int_arg!(0);
            let chars: Vec<char> = s.chars().collect();
            if start < 0 || start as usize >= chars.len() {
                return Ok(Vec::new());
            }
            let len = if args.len() == 2 {
                let l = int_arg!(1);
                l.max(0) as usize
            } else {
                chars.len()
            };
            let end = (start as usize).saturating_add(len).min(chars.len());
            Ok(vec![string(
                &chars[start as usize..end].iter().collect::<String>(),
            )])
        }
        "startsWith" | "endsWith" | "contains" => {
            arity(name, args, 1, 1)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let p = str_arg!(0);
            boolean(match name {
                "startsWith" => s.starts_with(&*p),
                "endsWith" => s.ends_with(&*p),
                _ => s.contains(&*p),
            })
        }
        "upper" | "lower" | "trim" | "length" | "toChars" => {
            arity(name, args, 0, 0)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            Ok(match name {
                "upper" => vec![string(&s.to_uppercase())],
                "lower" => vec![string(&s.to_lowercase())],
                "trim" => vec![string(s.trim())],
                "length" => vec![Item::Integer(s.chars().count() as i64)],
                _ => s.chars().map(|c| string(&c.to_string())).collect(),
            })
        }
        "replace" => {
            arity(name, args, 2, 2)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let pat = str_arg!(0);
            let rep = str_arg!(1);
            if pat.is_empty() {
                // Insert the replacement around every character.
                let mut out = String::from(&*rep);
                for c in s.chars() {
                    out.push(c);
                    out.push_str(&rep);
                }
                return Ok(vec![string(&out)]);
            }
            Ok(vec![string(&s.replace(&*pat, &rep))])
        }
        "matches" | "matchesFull" => {
            arity(name, args, 1, 1)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let pat = str_arg!(0);
            let re = crate::regex_cache::get(&pat, name == "matchesFull")?;
            boolean(re.is_match(&s))
        }
        "replaceMatches" => {
            arity(name, args, 2, 2)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let pat = str_arg!(0);
            let rep = str_arg!(1);
            if pat.is_empty() {
                return Ok(vec![string(&s)]);
            }
            let re = crate::regex_cache::get(&pat, false)?;
            // FHIRPath uses $1 for groups, as the regex crate does.
            Ok(vec![string(&re.replace_all(&s, &*rep))])
        }
        "split" => {
            arity(name, args, 1, 1)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let sep = str_arg!(0);
            if sep.is_empty() {
                return Ok(s.chars().map(|c| string(&c.to_string())).collect());
            }
            Ok(s.split(&*sep).map(string).collect())
        }
        "join" => {
            arity(name, args, 0, 1)?;
            let sep = if args.is_empty() {
                crate::item::Text::from("")
            } else {
                str_arg!(0)
            };
            let mut parts = Vec::with_capacity(base.len());
            for it in &base {
                match it.to_system() {
                    Item::String(s) => parts.push(s.to_string()),
                    _ => return fail("join() needs strings"),
                }
            }
            Ok(vec![string(&parts.join(&sep))])
        }
        "encode" | "decode" => {
            arity(name, args, 1, 1)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let fmt = str_arg!(0);
            Ok(crate::codec::transcode(name == "encode", &fmt, &s)
                .map(|r| string(&r))
                .into_iter()
                .collect())
        }
        "escape" | "unescape" => {
            arity(name, args, 1, 1)?;
            let Some(s) = input_string(name, &base)? else {
                return Ok(Vec::new());
            };
            let fmt = str_arg!(0);
            Ok(crate::codec::escape(name == "escape", &fmt, &s)
                .map(|r| string(&r))
                .into_iter()
                .collect())
        }
        // ---------------------------------------------------------------- math
        "abs" | "ceiling" | "floor" | "truncate" | "exp" | "ln" | "sqrt" => {
            arity(name, args, 0, 0)?;
            let Some(x) = singleton(&base, name)? else {
                return Ok(Vec::new());
            };
            math1(name, &x.to_system())
        }
        "round" => {
            arity(name, args, 0, 1)?;
            let Some(x) = singleton(&base, name)? else {
                return Ok(Vec::new());
            };
            let digits = if args.is_empty() { 0 } else { int_arg!(0) };
            if digits < 0 {
                return fail("round() precision must not be negative");
            }
            let d = match x.to_system() {
                Item::Integer(i) | Item::Long(i) => Decimal::from_i64(i),
                Item::Decimal(d) => d,
                _ => return fail("round() needs a number"),
            };
            Ok(d.round(digits as u32)
                .map(Item::Decimal)
                .into_iter()
                .collect())
        }
        "log" | "power" => {
            arity(name, args, 1, 1)?;
            let Some(x) = singleton(&base, name)? else {
                return Ok(Vec::new());
            };
            let y = arg!(0);
            let Some(y) = singleton(&y, name)? else {
                return Ok(Vec::new());
            };
            let (x, y) = (x.to_system(), y.to_system());
            if name == "power" {
                if let (Item::Integer(b), Item::Integer(e)) = (&x, &y) {
                    if *e >= 0 {
                        return Ok(u32::try_from(*e)
                            .ok()
                            .and_then(|e| b.checked_pow(e))
                            .map(Item::Integer)
                            .into_iter()
                            .collect());
                    }
                }
            }
            let (Some(a), Some(b)) = (num(&x), num(&y)) else {
                return fail(format!("{name}() needs numbers"));
            };
            let r = if name == "log" {
                a.log(&b)
            } else {
                a.power(&b)
            };
            Ok(r.map(Item::Decimal).into_iter().collect())
        }
        // ---------------------------------------------------------------- tree navigation
        "children" => {
            arity(name, args, 0, 0)?;
            let mut out = Vec::new();
            for it in &base {
                children(ev, it, &mut out)?;
            }
            Ok(out)
        }
        "descendants" => {
            arity(name, args, 0, 0)?;
            // Breadth first: the items found so far are the frontier of the next level.
            let mut out = Vec::new();
            for it in &base {
                children(ev, it, &mut out)?;
            }
            let mut i = 0;
            while i < out.len() {
                let it = out[i].clone();
                children(ev, &it, &mut out)?;
                i += 1;
            }
            Ok(out)
        }
        // ---------------------------------------------------------------- utility
        "trace" => {
            arity(name, args, 1, 2)?;
            let label = str_arg!(0);
            let shown = if args.len() == 2 {
                let mut out = Vec::new();
                for (i, it) in base.iter().enumerate() {
                    out.extend(ev.eval(&args[1], &vec![it.clone()], &sub_frame(it, i, frame))?);
                }
                out
            } else {
                base.clone()
            };
            if let Some(t) = ev.ctx.trace.as_mut() {
                t(&label, &shown);
            }
            Ok(base)
        }
        "now" => {
            arity(name, args, 0, 0)?;
            Ok(vec![Item::DateTime(
                ev.ctx.now.unwrap_or_else(DateTime::now),
            )])
        }
        "today" => {
            arity(name, args, 0, 0)?;
            let now = ev.ctx.now.unwrap_or_else(DateTime::now);
            Ok(now.date().map(Item::Date).into_iter().collect())
        }
        "timeOfDay" => {
            arity(name, args, 0, 0)?;
            let now = ev.ctx.now.unwrap_or_else(DateTime::now);
            Ok(now.time().map(Item::Time).into_iter().collect())
        }
        "lowBoundary" | "highBoundary" => {
            arity(name, args, 0, 1)?;
            let Some(x) = singleton(&base, name)? else {
                return Ok(Vec::new());
            };
            let p = if args.is_empty() {
                None
            } else {
                let v = int_arg!(0);
                match u32::try_from(v) {
                    Ok(p) => Some(p),
                    // A negative precision has no boundary.
                    Err(_) => return Ok(Vec::new()),
                }
            };
            let low = name == "lowBoundary";
            let r = match x.to_system() {
                Item::Decimal(d) => if low {
                    d.low_boundary(p)
                } else {
                    d.high_boundary(p)
                }
                .map(Item::Decimal),
                Item::Integer(i) => {
                    let d = Decimal::from_i64(i);
                    if low {
                        d.low_boundary(p)
                    } else {
                        d.high_boundary(p)
                    }
                    .map(Item::Decimal)
                }
                Item::Quantity(q) => {
                    let v = if low {
                        q.value.low_boundary(p)
                    } else {
                        q.value.high_boundary(p)
                    };
                    v.map(|v| {
                        Item::Quantity(Quantity {
                            value: v,
                            unit: q.unit.clone(),
                        })
                    })
                }
                Item::Date(d) => if low {
                    d.low_boundary(p)
                } else {
                    d.high_boundary(p)
                }
                .map(Item::Date),
                Item::DateTime(d) => if low {
                    d.low_boundary(p)
                } else {
                    d.high_boundary(p)
                }
                .map(Item::DateTime),
                Item::Time(d) => if low {
                    d.low_boundary(p)
                } else {
                    d.high_boundary(p)
                }
                .map(Item::Time),
                _ => None,
            };
            Ok(r.into_iter().collect())
        }
        "precision" => {
            arity(name, args, 0, 0)?;
            let Some(x) = singleton(&base, name)? else {
                return Ok(Vec::new());
            };
            let p = match x.to_system() {
                Item::Decimal(d) => Some(d.scale() as i64),
                Item::Integer(_) => Some(0),
                Item::Date(d) => Some(date_digits(&d.to_string())),
                Item::DateTime(d) => Some(date_digits(&d.to_string())),
                Item::Time(t) => Some(date_digits(&t.to_string())),
                _ => None,
            };
            Ok(p.map(Item::Integer).into_iter().collect())
        }
        "comparable" => {
            arity(name, args, 1, 1)?;
            let Some(x) = singleton(&base, name)? else {
                return Ok(Vec::new());
            };
            let y = arg!(0);
            let Some(y) = singleton(&y, name)? else {
                return Ok(Vec::new());
            };
            match (x.to_system(), y.to_system()) {
                (Item::Quantity(a), Item::Quantity(b)) => boolean(a.compare(&b).is_some()),
                _ => fail("comparable() needs quantities"),
            }
        }
        "aggregate" => {
            arity(name, args, 1, 2)?;
            let mut total = if args.len() == 2 { arg!(1) } else { Vec::new() };
            for (i, it) in base.iter().enumerate() {
                let f = Frame {
                    this: Some(it.clone()),
                    index: Some(i as i64),
                    total: Some(total.clone()),
                };
                total = ev.eval(&args[0], &vec![it.clone()], &f)?;
            }
            Ok(total)
        }
        "sort" => {
            // FHIRPath 2.1: sort(keys…); a key `-expr` sorts descending.
            let mut keyed: Vec<(Vec<Collection<'a>>, Item<'a>)> = Vec::with_capacity(base.len());
            for (i, it) in base.iter().enumerate() {
                let mut keys = Vec::with_capacity(args.len());
                for a in args {
                    let e = match a {
                        Expr::Unary(crate::ast::UnaryOp::Minus, inner) => &**inner,
                        other => other,
                    };
                    keys.push(ev.eval(e, &vec![it.clone()], &sub_frame(it, i, frame))?);
                }
                keyed.push((keys, it.clone()));
            }
            let desc: Vec<bool> = args
                .iter()
                .map(|a| matches!(a, Expr::Unary(crate::ast::UnaryOp::Minus, _)))
                .collect();
            let mut err = None;
            keyed.sort_by(|(ka, a), (kb, b)| {
                if args.is_empty() {
                    return order(a, b, &mut err);
                }
                for (j, (x, y)) in ka.iter().zip(kb).enumerate() {
                    let o = match (x.first(), y.first()) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) => Ordering::Greater,
                        (Some(_), None) => Ordering::Less,
                        (Some(p), Some(q)) => order(p, q, &mut err),
                    };
                    let o = if desc[j] { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
            if let Some(e) = err {
                return Err(e);
            }
            Ok(keyed.into_iter().map(|(_, i)| i).collect())
        }
        "defineVariable" => {
            arity(name, args, 1, 2)?;
            let var = str_arg!(0);
            let value = if args.len() == 2 {
                let mut out = Vec::new();
                for (i, it) in base.iter().enumerate() {
                    out.extend(ev.eval(&args[1], &vec![it.clone()], &sub_frame(it, i, frame))?);
                }
                out
            } else {
                base.clone()
            };
            if ev.ctx.variables.contains_key(&*var) {
                return fail(format!("variable %{var} is already defined"));
            }
            ev.ctx.variables.insert(var.to_string(), value);
            Ok(base)
        }
        "type" => {
            arity(name, args, 0, 0)?;
            Ok(base
                .iter()
                .map(|i| {
                    let (ns, n) = i.type_name();
                    Item::TypeInfo(ns, Rc::from(n))
                })
                .collect())
        }
        // ---------------------------------------------------------------- FHIR additions
        "extension" => {
            arity(name, args, 1, 1)?;
            let url = str_arg!(0);
            let mut out = Vec::new();
            for it in &base {
                let Item::Node(n) = it else { continue };
                for holder in [n.object(), n.under.and_then(Value::as_object)]
                    .into_iter()
                    .flatten()
                {
                    if let Some(Value::Array(exts)) = holder.get("extension") {
                        for x in exts {
                            if x.get("url").and_then(Value::as_str) == Some(&*url) {
                                out.push(Item::Node(Node {
                                    value: Some(x),
                                    under: None,
                                    type_name: crate::item::intern("Extension"),
                                    key: crate::item::intern("Extension"),
                                }));
                            }
                        }
                    }
                }
            }
            Ok(out)
        }
        "hasValue" => {
            arity(name, args, 0, 0)?;
            boolean(
                matches!(base.as_slice(), [Item::Node(n)] if n.is_primitive() && n.value.is_some()),
            )
        }
        "getValue" => {
            arity(name, args, 0, 0)?;
            Ok(match base.as_slice() {
                [Item::Node(n)] if n.is_primitive() && n.value.is_some() => {
                    vec![base[0].to_system()]
                }
                _ => Vec::new(),
            })
        }
        "resolve" => {
            arity(name, args, 0, 0)?;
            let mut out = Vec::new();
            for it in &base {
                let r = match it {
                    Item::Node(n) => n
                        .object()
                        .and_then(|o| o.get("reference"))
                        .and_then(Value::as_str),
                    Item::String(s) => Some(&**s),
                    _ => None,
                };
                if let Some(r) = r {
                    if let Some(v) = resolve(ev, r) {
                        out.push(crate::eval::root_item(ev.ctx.model, v));
                    } else if ev.ctx.resolve_to_type {
                        let t = match fhir::reference::classify(r) {
                            fhir::reference::RefKind::Relative { resource_type, .. } => {
                                Some(resource_type)
                            }
                            fhir::reference::RefKind::Absolute(u) => {
                                fhir::reference::split_restful(u).map(|(_, t, _)| t)
                            }
                            _ => None,
                        };
                        if let Some(t) = t {
                            let t = crate::item::intern(t);
                            out.push(Item::Node(Node {
                                value: None,
                                under: None,
                                type_name: t,
                                key: t,
                            }));
                        }
                    }
                }
            }
            Ok(out)
        }
        "memberOf" => {
            arity(name, args, 1, 1)?;
            let vs = str_arg!(0);
            let Some(x) = singleton(&base, name)? else {
                return Ok(Vec::new());
            };
            let codes = coded(x);
            let mut unknown = false;
            for (s, c) in &codes {
                match ev.ctx.model.member_of(&vs, s.as_deref(), c) {
                    Some(true) => return boolean(true),
                    Some(false) => {}
                    None => unknown = true,
                }
            }
            if unknown || codes.is_empty() {
                Ok(Vec::new())
            } else {
                boolean(false)
            }
        }
        "conformsTo" => {
            arity(name, args, 1, 1)?;
            let url = str_arg!(0);
            let Some(x) = singleton(&base, name)? else {
                return Ok(Vec::new());
            };
            match x {
                Item::Node(n) => match n.value {
                    Some(v) => Ok(ev
                        .ctx
                        .model
                        .conforms_to(v, &url)
                        .map(Item::Boolean)
                        .into_iter()
                        .collect()),
                    None => Ok(Vec::new()),
                },
                _ => boolean(false),
            }
        }
        "htmlChecks" | "htmlchecks" => {
            arity(name, args, 0, 0)?;
            // The narrative's XHTML is checked by the validator itself; here: well-formed div.
            boolean(base.iter().all(|i| {
                i.as_str().is_some_and(|s| {
                    s.trim_start().starts_with("<div") && s.trim_end().ends_with("</div>")
                })
            }))
        }
        _ => fail(format!("unknown function {name}()")),
    }
}

fn sub_frame<'a>(it: &Item<'a>, i: usize, outer: &Frame<'a>) -> Frame<'a> {
    Frame {
        this: Some(it.clone()),
        index: Some(i as i64),
        total: outer.total.clone(),
    }
}

fn filter<'a>(
    ev: &mut Evaluator<'_, 'a, '_>,
    base: &Collection<'a>,
    criteria: &Expr,
    frame: &Frame<'a>,
) -> R<'a> {
    let mut out = Vec::new();
    for (i, it) in base.iter().enumerate() {
        let r = ev.eval(criteria, &vec![it.clone()], &sub_frame(it, i, frame))?;
        match r.as_slice() {
            [] => {}
            [x] => match x.to_system() {
                Item::Boolean(true) => out.push(it.clone()),
                Item::Boolean(false) => {}
                _ => return fail("a filter criterion must be a boolean"),
            },
            _ => return fail("a filter criterion must give a single boolean"),
        }
    }
    Ok(out)
}

/// Converts the single input with `f`; `convertsToX` answers whether it would succeed.
fn convert<'a>(
    name: &str,
    base: &Collection<'a>,
    f: impl Fn(Item<'a>) -> Option<Item<'a>>,
) -> R<'a> {
    let Some(x) = singleton(base, name)? else {
        return Ok(Vec::new());
    };
    let r = f(x.to_system());
    if name.starts_with("convertsTo") {
        boolean(r.is_some())
    } else {
        Ok(r.into_iter().collect())
    }
}

fn input_string<'a>(
    name: &str,
    base: &Collection<'a>,
) -> Result<Option<crate::item::Text<'a>>, EvalError> {
    match singleton(base, name)? {
        None => Ok(None),
        Some(x) => match x.to_system() {
            Item::String(s) => Ok(Some(s)),
            other => fail(format!(
                "{name}() needs a string, not {}",
                other.type_name().1
            )),
        },
    }
}

fn parse_integer(s: &str) -> Option<i64> {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn valid_decimal_text(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (i, f) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    !i.is_empty()
        && i.bytes().all(|b| b.is_ascii_digit())
        && f.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// `5 'mg'`, `5 mg`? (only quoted UCUM or calendar words), `5`.
fn parse_quantity(s: &str) -> Option<Quantity> {
    let s = s.trim();
    let (num, rest) = match s.find(' ') {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    if !valid_decimal_text(num) {
        return None;
    }
    let value = Decimal::parse(num)?;
    if rest.is_empty() {
        return Some(Quantity::new(value, "1"));
    }
    if let Some(u) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return Some(Quantity::new(value, u));
    }
    const CAL: &[&str] = &[
        "year",
        "years",
        "month",
        "months",
        "week",
        "weeks",
        "day",
        "days",
        "hour",
        "hours",
        "minute",
        "minutes",
        "second",
        "seconds",
        "millisecond",
        "milliseconds",
    ];
    CAL.contains(&rest).then(|| Quantity::new(value, rest))
}

/// String form used by `toString()`.
pub fn to_string(i: &Item<'_>) -> Option<String> {
    Some(match i {
        Item::String(s) => s.to_string(),
        Item::Boolean(b) => b.to_string(),
        Item::Integer(v) | Item::Long(v) => v.to_string(),
        Item::Decimal(d) => d.to_string(),
        Item::Date(d) => d.to_string(),
        Item::DateTime(d) => d.to_string(),
        Item::Time(t) => t.to_string(),
        Item::Quantity(q) => q.to_fhirpath_string(),
        Item::TypeInfo(ns, n) => format!("{ns}.{n}"),
        Item::Node(_) => return None,
    })
}

fn num(i: &Item<'_>) -> Option<Decimal> {
    match i {
        Item::Integer(v) | Item::Long(v) => Some(Decimal::from_i64(*v)),
        Item::Decimal(d) => Some(*d),
        _ => None,
    }
}

fn math1<'a>(name: &str, x: &Item<'a>) -> R<'a> {
    let r = match (name, x) {
        ("abs", Item::Integer(i)) => i.checked_abs().map(Item::Integer),
        ("abs", Item::Decimal(d)) => Some(Item::Decimal(d.abs())),
        ("abs", Item::Quantity(q)) => Some(Item::Quantity(Quantity {
            value: q.value.abs(),
            unit: q.unit.clone(),
        })),
        ("ceiling" | "floor" | "truncate", Item::Integer(i)) => Some(Item::Integer(*i)),
        ("ceiling", Item::Decimal(d)) => d.ceiling().map(Item::Integer),
        ("floor", Item::Decimal(d)) => d.floor().map(Item::Integer),
        ("truncate", Item::Decimal(d)) => d.truncate().map(Item::Integer),
        ("exp" | "ln" | "sqrt", x) => {
            let Some(d) = num(x) else {
                return fail(format!("{name}() needs a number"));
            };
            match name {
                "exp" => d.exp(),
                "ln" => d.ln(),
                _ => d.sqrt(),
            }
            .map(Item::Decimal)
        }
        _ => return fail(format!("{name}() needs a number")),
    };
    Ok(r.into_iter().collect())
}

fn order(a: &Item<'_>, b: &Item<'_>, err: &mut Option<EvalError>) -> Ordering {
    match compare_items(a, b) {
        Ok(Some(o)) => o,
        Ok(None) => Ordering::Equal,
        Err(e) => {
            err.get_or_insert(e);
            Ordering::Equal
        }
    }
}

/// Number of significant date/time digits, for `precision()`.
fn date_digits(s: &str) -> i64 {
    let core = s.split(['Z', '+']).next().unwrap_or(s);
    let core = match core.rfind('-') {
        // a negative offset after the time part
        Some(i) if core[..i].contains(':') => &core[..i],
        _ => core,
    };
    core.bytes().filter(u8::is_ascii_digit).count() as i64
}

/// The child elements of a node (for `children()` / `descendants()`).
fn children<'a>(
    ev: &mut Evaluator<'_, 'a, '_>,
    it: &Item<'a>,
    out: &mut Collection<'a>,
) -> Result<(), EvalError> {
    let Item::Node(n) = it else { return Ok(()) };
    let Some(obj) = n.object() else { return Ok(()) };
    for (k, _) in obj.iter() {
        if k == "resourceType" {
            continue;
        }
        let name = match k.strip_prefix('_') {
            // `_name` goes with `name` when both are present.
            Some(name) if obj.get(name).is_some() => continue,
            Some(name) => name,
            None => k,
        };
        if let Some((t, key)) = ev.member_def(n.key, name) {
            crate::eval::push_member_rc(obj, name, t, key, out);
            continue;
        }
        // Not in the model (or no model): the JSON as it is.
        let _ = ev.children_named(n, name, out)?;
    }
    Ok(())
}

/// (system, code) pairs of a coded item: code, Coding or CodeableConcept.
fn coded(x: &Item<'_>) -> Vec<(Option<String>, String)> {
    match x {
        Item::String(s) => vec![(None, s.to_string())],
        Item::Node(n) => {
            if let Some(s) = n.value.and_then(Value::as_str) {
                return vec![(None, s.to_string())];
            }
            let Some(o) = n.object() else {
                return Vec::new();
            };
            let one = |c: &Value| -> Option<(Option<String>, String)> {
                Some((
                    c.get("system").and_then(Value::as_str).map(str::to_string),
                    c.get("code")?.as_str()?.to_string(),
                ))
            };
            if let Some(Value::Array(cs)) = o.get("coding") {
                cs.iter().filter_map(one).collect()
            } else {
                one(n.value.unwrap_or(&Value::Null)).into_iter().collect()
            }
        }
        _ => Vec::new(),
    }
}

/// Resolves a reference within the root resource: contained resources, and Bundle entries.
fn resolve<'a>(ev: &Evaluator<'_, 'a, '_>, r: &str) -> Option<&'a Value> {
    let root = match &ev.ctx.root_resource {
        Some(Item::Node(n)) => n.value?,
        _ => return None,
    };
    if let Some(id) = r.strip_prefix('#') {
        // Contained in the resource being evaluated (or in the root).
        for res in [ev.ctx.resource.as_ref(), ev.ctx.root_resource.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Item::Node(n) = res {
                if let Some(Value::Array(cs)) = n.value.and_then(|v| v.get("contained")) {
                    if let Some(c) = cs
                        .iter()
                        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
                    {
                        return Some(c);
                    }
                }
            }
        }
        return None;
    }
    let idx = fhir::reference::BundleIndex::new(root);
    let i = idx.resolve(r, None)?;
    root.get("entry")?.as_array()?.get(i)?.get("resource")
}
