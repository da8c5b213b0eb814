//! The official FHIRPath test-suite runner behind `clins-hub fhirpath-tests`, and the result
//! rendering shared with `clins-hub fhirpath`.

use std::collections::HashMap;
use std::path::Path;

use fhir::json::{self, Object, Value};
use fhirpath::{Collection, Context, Item, Model};

/// One `<test>` of a suite file.
#[derive(Debug, Clone, Default)]
pub struct SuiteTest {
    pub group: String,
    pub name: String,
    pub input_file: Option<String>,
    pub expression: String,
    /// `invalid` attribute: syntax, semantic, execution or true.
    pub invalid: Option<String>,
    pub predicate: bool,
    pub ordered: bool,
    pub mode: Option<String>,
    pub check_ordered_functions: bool,
    /// (type, text) of each expected output.
    pub outputs: Vec<(Option<String>, String)>,
}

/// Tests not run, with the reason (kept short and honest; each is listed in
/// docs/conformance.md).
const SKIPS: &[(&str, &str)] = &[];

/// Reads the suite. A small XML reader is enough for this format (elements, attributes,
/// comments, character references).
pub fn read_suite(text: &str) -> Result<Vec<SuiteTest>, String> {
    let mut tests = Vec::new();
    let mut group = String::new();
    let mut cur: Option<SuiteTest> = None;
    let mut pos = 0;
    let b = text.as_bytes();
    let mut pending: Option<(String, HashMap<String, String>)> = None;
    while pos < b.len() {
        if text[pos..].starts_with("<!--") {
            match text[pos..].find("-->") {
                Some(e) => pos += e + 3,
                None => return Err("unterminated comment".into()),
            }
            continue;
        }
        if b[pos] == b'<' {
            let end = text[pos..].find('>').ok_or("unterminated tag")? + pos;
            let tag = &text[pos + 1..end];
            pos = end + 1;
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                let name = name.trim();
                if let Some((open, attrs)) = pending.take() {
                    // Element with no text content.
                    element_text(&mut cur, &open, &attrs, String::new());
                }
                if name == "test" {
                    if let Some(t) = cur.take() {
                        tests.push(t);
                    }
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, attrs) = parse_tag(tag);
            match name.as_str() {
                "group" => group = attrs.get("name").cloned().unwrap_or_default(),
                "test" => {
                    let idx = tests.len();
                    cur = Some(SuiteTest {
                        group: group.clone(),
                        name: attrs
                            .get("name")
                            .cloned()
                            .unwrap_or_else(|| format!("{group}#{idx}")),
                        input_file: attrs.get("inputfile").cloned(),
                        predicate: attrs.get("predicate").map(String::as_str) == Some("true"),
                        ordered: attrs.get("ordered").map(String::as_str) != Some("false"),
                        mode: attrs.get("mode").cloned(),
                        check_ordered_functions: attrs
                            .get("checkOrderedFunctions")
                            .map(String::as_str)
                            == Some("true"),
                        ..Default::default()
                    });
                    if self_closing {
                        if let Some(t) = cur.take() {
                            tests.push(t);
                        }
                    }
                }
                "expression" | "output" => {
                    if self_closing {
                        element_text(&mut cur, &name, &attrs, String::new());
                    } else {
                        pending = Some((name, attrs));
                    }
                }
                _ => {}
            }
            continue;
        }
        // Text content.
        let end = text[pos..].find('<').map_or(b.len(), |e| e + pos);
        let raw = &text[pos..end];
        pos = end;
        if let Some((open, attrs)) = pending.take() {
            // Comments inside an element split its text; keep reading until the close tag.
            let mut content = unescape(raw);
            while text[pos..].starts_with("<!--") {
                let e = text[pos..].find("-->").ok_or("unterminated comment")? + pos + 3;
                let next = text[e..].find('<').map_or(b.len(), |x| x + e);
                content.push_str(&unescape(&text[e..next]));
                pos = next;
            }
            element_text(&mut cur, &open, &attrs, content);
        }
    }
    Ok(tests)
}

fn element_text(
    cur: &mut Option<SuiteTest>,
    name: &str,
    attrs: &HashMap<String, String>,
    text: String,
) {
    let Some(t) = cur.as_mut() else { return };
    if name == "expression" {
        t.expression = text.trim().to_string();
        t.invalid = attrs.get("invalid").cloned();
    } else {
        t.outputs.push((attrs.get("type").cloned(), text));
    }
}

fn parse_tag(tag: &str) -> (String, HashMap<String, String>) {
    let mut attrs = HashMap::new();
    let (name, mut rest) = match tag.find(char::is_whitespace) {
        Some(i) => (&tag[..i], &tag[i..]),
        None => (tag, ""),
    };
    loop {
        rest = rest.trim_start();
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start();
        let Some(q) = after.chars().next() else { break };
        let Some(close) = after[1..].find(q) else {
            break;
        };
        attrs.insert(key, unescape(&after[1..1 + close]));
        rest = &after[close + 2..];
    }
    (name.to_string(), attrs)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let ent = &rest[1..end];
        let rep = match ent {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match rep {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The outcome of one test.
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(&'static str),
}

/// Runs one test. `inputs` holds the parsed input resources by file name.
pub fn run_test(t: &SuiteTest, inputs: &HashMap<String, Value>, model: &dyn Model) -> Outcome {
    if let Some((_, why)) = SKIPS.iter().find(|(n, _)| *n == t.name) {
        return Outcome::Skip(why);
    }
    let compiled = match fhirpath::compile(&t.expression) {
        Ok(c) => c,
        Err(e) => {
            return if t.invalid.is_some() {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("did not compile: {e}"))
            }
        }
    };
    let input = match &t.input_file {
        Some(f) => {
            let json_name = match f.strip_suffix(".xml") {
                Some(stem) => format!("{stem}.json"),
                None => f.clone(),
            };
            match inputs.get(&json_name) {
                Some(v) => Some(v),
                None => return Outcome::Fail(format!("input file {json_name} not found")),
            }
        }
        None => None,
    };
    let mut ctx = match input {
        Some(v) => Context::for_resource(model, v),
        None => Context::new(model),
    };
    ctx.strict = t.mode.as_deref() == Some("strict");
    ctx.check_ordered_functions = t.check_ordered_functions;
    let start: Collection<'_> = ctx.context.clone().into_iter().collect();
    let result = fhirpath::evaluate(&compiled, &start, &mut ctx);
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            return if t.invalid.is_some() {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("error: {e}"))
            }
        }
    };
    if let Some(kind) = &t.invalid {
        return Outcome::Fail(format!(
            "expected an error ({kind}), got {}",
            render_items(&result)
        ));
    }
    let result: Vec<Item<'_>> = if t.predicate {
        vec![Item::Boolean(!result.is_empty())]
    } else {
        result
    };
    let got: Vec<(String, String)> = result.iter().map(typed_text).collect();
    let want: Vec<(Option<String>, String)> = t.outputs.clone();
    let matches =
        |w: &(Option<String>, String), g: &(String, String)| -> bool { output_matches(w, g) };
    let ok = if got.len() != want.len() {
        false
    } else if t.ordered {
        want.iter().zip(&got).all(|(w, g)| matches(w, g))
    } else {
        let mut used = vec![false; got.len()];
        want.iter().all(|w| {
            match got
                .iter()
                .enumerate()
                .find(|(i, g)| !used[*i] && matches(w, g))
            {
                Some((i, _)) => {
                    used[i] = true;
                    true
                }
                None => false,
            }
        })
    };
    if ok {
        Outcome::Pass
    } else {
        let want_s: Vec<String> = want
            .iter()
            .map(|(t, v)| format!("{}:{v}", t.as_deref().unwrap_or("?")))
            .collect();
        let got_s: Vec<String> = got.iter().map(|(t, v)| format!("{t}:{v}")).collect();
        Outcome::Fail(format!(
            "expected [{}], got [{}]",
            want_s.join(", "),
            got_s.join(", ")
        ))
    }
}

fn output_matches(w: &(Option<String>, String), g: &(String, String)) -> bool {
    let (wt, wv) = w;
    let (gt, gv) = g;
    if let Some(wt) = wt {
        let type_ok = wt == gt
            || (wt == "code" && gt == "string")
            || (wt == "id" && gt == "string")
            || (wt == "string" && gt == "code");
        if !type_ok {
            return false;
        }
        match wt.as_str() {
            "date" | "dateTime" | "time" => {
                return strip_at(wv) == strip_at(gv) || same_temporal(wt, wv, gv);
            }
            "Quantity" => return same_quantity(wv, gv),
            _ => {}
        }
    }
    if wv == gv {
        return true;
    }
    // Untyped outputs hold literal text: compare as FHIRPath literals.
    strip_at(wv) == strip_at(gv) || same_quantity(wv, gv)
}

fn strip_at(s: &str) -> &str {
    let s = s.strip_prefix('@').unwrap_or(s);
    s.strip_prefix('T').unwrap_or(s)
}

fn same_temporal(t: &str, a: &str, b: &str) -> bool {
    use fhirpath::temporal::{Date, DateTime, Time};
    let (a, b) = (strip_at(a), strip_at(b));
    match t {
        "date" => {
            matches!((Date::parse(a), Date::parse(b)), (Some(x), Some(y)) if x.equivalent(&y))
        }
        "dateTime" => {
            matches!((DateTime::parse(a), DateTime::parse(b)), (Some(x), Some(y)) if x.equivalent(&y))
        }
        _ => matches!((Time::parse(a), Time::parse(b)), (Some(x), Some(y)) if x.equivalent(&y)),
    }
}

fn same_quantity(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    norm(a) == norm(b)
}

/// (type, text) of a result item, in the suite's vocabulary.
pub fn typed_text(i: &Item<'_>) -> (String, String) {
    let sys = i.to_system();
    let t = match &sys {
        Item::Boolean(_) => "boolean",
        Item::Integer(_) => "integer",
        Item::Long(_) => "long",
        Item::Decimal(_) => "decimal",
        Item::String(_) => match i {
            Item::Node(n) => match n.type_name {
                "code" => "code",
                "id" => "id",
                _ => "string",
            },
            _ => "string",
        },
        Item::Date(_) => "date",
        Item::DateTime(_) => "dateTime",
        Item::Time(_) => "time",
        Item::Quantity(_) => "Quantity",
        Item::TypeInfo(..) => "TypeInfo",
        Item::Node(n) => {
            return (
                n.type_name.to_string(),
                n.value.map(json::to_string).unwrap_or_default(),
            )
        }
    };
    let text = match &sys {
        Item::Date(d) => format!("@{d}"),
        Item::DateTime(d) => format!("@{d}"),
        Item::Time(d) => format!("@T{d}"),
        other => fhirpath::to_string(other).unwrap_or_default(),
    };
    (t.to_string(), text)
}

/// A result collection as JSON (for `clins-hub fhirpath`).
pub fn render_json(c: &Collection<'_>) -> Value {
    Value::Array(
        c.iter()
            .map(|i| match i {
                Item::Node(n) => match n.value {
                    Some(v) => v.clone(),
                    None => n.under.cloned().unwrap_or(Value::Null),
                },
                Item::Boolean(b) => Value::Bool(*b),
                Item::Integer(v) | Item::Long(v) => Value::Number(v.to_string().into()),
                Item::Decimal(d) => Value::Number(d.to_string().into()),
                Item::String(s) => Value::string(&**s),
                Item::Date(d) => Value::string(format!("@{d}")),
                Item::DateTime(d) => Value::string(format!("@{d}")),
                Item::Time(t) => Value::string(format!("@T{t}")),
                Item::TypeInfo(ns, n) => {
                    let mut o = Object::new();
                    o.insert("namespace", Value::string(*ns));
                    o.insert("name", Value::string(&**n));
                    Value::Object(o)
                }
                Item::Quantity(q) => {
                    let mut o = Object::new();
                    o.insert("value", Value::Number(q.value.to_string().into()));
                    o.insert("unit", Value::string(&*q.unit));
                    Value::Object(o)
                }
            })
            .collect(),
    )
}

fn render_items(c: &Collection<'_>) -> String {
    json::to_string(&render_json(c))
}

/// Loads every `*.json` in `dir` by file name.
pub fn load_inputs(dir: &Path) -> Result<HashMap<String, Value>, String> {
    let mut out = HashMap::new();
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let v = json::parse_bytes(&bytes).map_err(|e| format!("{}: {e}", p.display()))?;
            if let Some(n) = p.file_name() {
                out.insert(n.to_string_lossy().into_owned(), v);
            }
        }
    }
    Ok(out)
}
