//! Search index values: the R4 SearchParameter expressions (FHIRPath) evaluated against a
//! resource, and their results turned into typed index values for the store.
//!
//! R4's expressions use `x as T` on collections; they are evaluated with `as` filtering like
//! `ofType(T)` (`Context::lenient_as`), the common practice. Composite and special parameters
//! are not indexed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fhir::json::Value;
use fhirpath::{Collection, Item};

use crate::definitions::Definitions;
use crate::fhirpath_model::DefinitionsModel;

/// The kind of a search parameter (SearchParameter.type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    Number,
    Date,
    String,
    Token,
    Reference,
    Quantity,
    Uri,
    Composite,
    Special,
}

impl SearchKind {
    fn parse(s: &str) -> SearchKind {
        match s {
            "number" => SearchKind::Number,
            "date" => SearchKind::Date,
            "string" => SearchKind::String,
            "token" => SearchKind::Token,
            "reference" => SearchKind::Reference,
            "quantity" => SearchKind::Quantity,
            "uri" => SearchKind::Uri,
            "composite" => SearchKind::Composite,
            _ => SearchKind::Special,
        }
    }
}

/// One value to index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexValue {
    /// system|code (identifier system|value, a boolean as `true`/`false`).
    Token {
        system: Option<String>,
        code: String,
    },
    String(String),
    /// The instant range a date covers: inclusive low and high bounds (`None` = open).
    Date {
        low: Option<String>,
        high: Option<String>,
    },
    /// The reference as written (`Patient/123`, `urn:uuid:…`, an absolute URL).
    Reference(String),
    Quantity {
        value: String,
        system: Option<String>,
        code: Option<String>,
        unit: Option<String>,
    },
    /// A decimal as written.
    Number(String),
    Uri(String),
}

#[derive(Debug)]
pub struct SearchParam {
    pub code: Box<str>,
    pub url: Box<str>,
    pub kind: SearchKind,
    /// The expression evaluated for this parameter's resource type: the SearchParameter's
    /// expression without the union branches of other resource types (see [`prune_union`]).
    pub expression: Option<Arc<fhirpath::Compiled>>,
    /// The SearchParameter's expression as written (all resource types).
    pub source: Box<str>,
}

/// Extracts index values for every search parameter of a resource's type.
pub struct SearchIndexer {
    model: DefinitionsModel,
    by_type: HashMap<String, Vec<Arc<SearchParam>>>,
    /// Parameters whose expression does not compile (url, reason).
    pub broken: Vec<(String, String)>,
}

impl SearchIndexer {
    pub fn new(defs: Arc<Definitions>) -> Self {
        let mut by_type: HashMap<String, Vec<Arc<SearchParam>>> = HashMap::new();
        let mut broken = Vec::new();
        let resource_types: Vec<String> = defs
            .search_parameters()
            .iter()
            .flat_map(|sp| sp.get("base").map(Value::items).unwrap_or_default())
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let type_names: HashSet<&str> = resource_types.iter().map(String::as_str).collect();
        for sp in defs.search_parameters() {
            let code = sp.get("code").and_then(Value::as_str).unwrap_or_default();
            let url = sp.get("url").and_then(Value::as_str).unwrap_or_default();
            let kind = SearchKind::parse(sp.get("type").and_then(Value::as_str).unwrap_or(""));
            let source = sp.get("expression").and_then(Value::as_str);
            let indexable = !matches!(kind, SearchKind::Composite | SearchKind::Special);
            let mut compile = |text: &str| match fhirpath::compile_cached(text) {
                Ok(c) => Some(c),
                Err(why) => {
                    broken.push((url.to_string(), why.to_string()));
                    None
                }
            };
            let expression = match source {
                Some(e) if indexable => compile(e),
                _ => None,
            };
            let param = Arc::new(SearchParam {
                code: code.into(),
                url: url.into(),
                kind,
                expression: expression.clone(),
                source: source.unwrap_or_default().into(),
            });
            for base in sp.get("base").map(Value::items).unwrap_or_default() {
                let Some(b) = base.as_str() else { continue };
                let targets: Vec<&str> = if matches!(b, "Resource" | "DomainResource") {
                    resource_types.iter().map(String::as_str).collect()
                } else {
                    vec![b]
                };
                for t in targets {
                    let list = by_type.entry(t.to_string()).or_default();
                    if list.iter().any(|p| p.code == param.code) {
                        continue;
                    }
                    // A shared parameter (`code` of 16 resource types) evaluated on one type
                    // only needs that type's branches.
                    let pruned = match (source, &expression) {
                        (Some(e), Some(_)) => prune_union(e, t, &type_names),
                        _ => None,
                    };
                    list.push(match pruned {
                        None => param.clone(),
                        Some(text) => Arc::new(SearchParam {
                            code: param.code.clone(),
                            url: param.url.clone(),
                            kind,
                            expression: if text.is_empty() {
                                None
                            } else {
                                compile(&text)
                            },
                            source: param.source.clone(),
                        }),
                    });
                }
            }
        }
        SearchIndexer {
            model: DefinitionsModel::new(defs),
            by_type,
            broken,
        }
    }

    /// The search parameters of a resource type.
    pub fn params(&self, resource_type: &str) -> &[Arc<SearchParam>] {
        self.by_type
            .get(resource_type)
            .map_or(&[], |v| v.as_slice())
    }

    /// Index values of `resource`, as (parameter code, value). Parameters whose expression
    /// fails on this resource are skipped and reported in the second list.
    pub fn extract(&self, resource: &Value) -> (Vec<(Arc<SearchParam>, IndexValue)>, Vec<String>) {
        self.extract_only(resource, None)
    }

    /// [`SearchIndexer::extract`] for the parameters named in `only` (all when `None`).
    pub fn extract_only(
        &self,
        resource: &Value,
        only: Option<&[&str]>,
    ) -> (Vec<(Arc<SearchParam>, IndexValue)>, Vec<String>) {
        let mut out = Vec::new();
        let mut failed = Vec::new();
        let Some(rt) = resource.get("resourceType").and_then(Value::as_str) else {
            return (out, failed);
        };
        // One context for all parameters of the resource (evaluation does not change it).
        let mut ctx = self.context(resource);
        let start: Collection<'_> = ctx.context.clone().into_iter().collect();
        for p in self.params(rt) {
            if only.is_some_and(|o| !o.contains(&&*p.code)) {
                continue;
            }
            let Some(c) = &p.expression else { continue };
            match evaluate_in(&mut ctx, &start, c, p.kind) {
                Ok(values) => out.extend(values.into_iter().map(|v| (p.clone(), v))),
                Err(e) => failed.push(format!("{}: {e}", p.code)),
            }
        }
        (out, failed)
    }

    /// The index values of one expression on `resource`, as a parameter of `kind`.
    pub fn evaluate(
        &self,
        resource: &Value,
        expression: &fhirpath::Compiled,
        kind: SearchKind,
    ) -> Result<Vec<IndexValue>, fhirpath::EvalError> {
        let mut ctx = self.context(resource);
        let start: Collection<'_> = ctx.context.clone().into_iter().collect();
        evaluate_in(&mut ctx, &start, expression, kind)
    }

    fn context<'a>(&'a self, resource: &'a Value) -> fhirpath::Context<'a, 'a> {
        let mut ctx = fhirpath::Context::for_resource(&self.model, resource);
        ctx.lenient_as = true;
        ctx.resolve_to_type = true;
        ctx
    }
}

fn evaluate_in<'a>(
    ctx: &mut fhirpath::Context<'a, '_>,
    start: &Collection<'a>,
    expression: &fhirpath::Compiled,
    kind: SearchKind,
) -> Result<Vec<IndexValue>, fhirpath::EvalError> {
    let items = fhirpath::evaluate(expression, start, ctx)?;
    Ok(items.iter().flat_map(|it| index_values(kind, it)).collect())
}

/// `expression` for resources of type `rt`: its top-level union branches that begin with another
/// resource type's name dropped (`AllergyIntolerance.code | Condition.code | …` on a Condition is
/// `Condition.code`; on a Condition the others are empty, and the union of the rest is the same).
/// A union removes repeated values, so a single branch left keeps a union with the empty
/// collection. `None` when nothing is dropped, an empty string when nothing is left.
pub fn prune_union(expression: &str, rt: &str, resource_types: &HashSet<&str>) -> Option<String> {
    let mut branches = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<u8>, 0);
    let bytes = expression.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'\'' | b'`' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                b'|' if depth == 0 => {
                    branches.push(&expression[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    if quote.is_some() || depth != 0 {
        return None;
    }
    branches.push(&expression[start..]);
    fn leading(branch: &str) -> Option<&str> {
        let t = branch.trim_start_matches(|c: char| c == '(' || c.is_whitespace());
        let end = t
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(t.len());
        t[end..].starts_with('.').then(|| &t[..end])
    }
    let keep: Vec<&str> = branches
        .iter()
        .copied()
        .filter(|b| {
            // A branch with a union of its own inside parentheses is kept whole.
            b.contains('|')
                || leading(b).is_none_or(|name| {
                    name == rt
                        || matches!(name, "Resource" | "DomainResource")
                        || !resource_types.contains(name)
                })
        })
        .collect();
    if keep.len() == branches.len() {
        return None;
    }
    Some(match keep.as_slice() {
        [] => String::new(),
        // A union also drops repeated values: one branch left stays a union (with nothing).
        [one] => format!("{} | {{}}", one.trim()),
        more => more
            .iter()
            .map(|b| b.trim())
            .collect::<Vec<_>>()
            .join(" | "),
    })
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// The index values one result item gives for a parameter kind.
pub fn index_values(kind: SearchKind, it: &Item<'_>) -> Vec<IndexValue> {
    let node = match it {
        Item::Node(n) => Some(n),
        _ => None,
    };
    let ty: &str = node.map_or("", |n| n.type_name);
    let obj = node
        .and_then(|n| n.value)
        .filter(|v| v.as_object().is_some());
    let prim = node
        .and_then(|n| n.value)
        .filter(|v| v.as_object().is_none());
    match kind {
        SearchKind::Token => match (ty, obj) {
            ("Coding", Some(o)) => s(o.get("code"))
                .map(|code| IndexValue::Token {
                    system: s(o.get("system")),
                    code,
                })
                .into_iter()
                .collect(),
            ("CodeableConcept", Some(o)) => o
                .get("coding")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| {
                    Some(IndexValue::Token {
                        system: s(c.get("system")),
                        code: s(c.get("code"))?,
                    })
                })
                .collect(),
            ("Identifier" | "ContactPoint", Some(o)) => s(o.get("value"))
                .map(|code| IndexValue::Token {
                    system: s(o.get("system")),
                    code,
                })
                .into_iter()
                .collect(),
            _ => match it.to_system() {
                Item::String(x) => vec![IndexValue::Token {
                    system: None,
                    code: x.to_string(),
                }],
                Item::Boolean(b) => vec![IndexValue::Token {
                    system: None,
                    code: b.to_string(),
                }],
                Item::Integer(i) => vec![IndexValue::Token {
                    system: None,
                    code: i.to_string(),
                }],
                _ => Vec::new(),
            },
        },
        SearchKind::String => match (ty, obj) {
            ("HumanName", Some(o)) => ["family", "given", "prefix", "suffix", "text"]
                .iter()
                .flat_map(|k| o.get(k).map(Value::items).unwrap_or_default())
                .filter_map(|v| v.as_str().map(|x| IndexValue::String(x.to_string())))
                .collect(),
            ("Address", Some(o)) => [
                "line",
                "city",
                "district",
                "state",
                "postalCode",
                "country",
                "text",
            ]
            .iter()
            .flat_map(|k| o.get(k).map(Value::items).unwrap_or_default())
            .filter_map(|v| v.as_str().map(|x| IndexValue::String(x.to_string())))
            .collect(),
            _ => prim
                .and_then(Value::as_str)
                .map(|x| IndexValue::String(x.to_string()))
                .into_iter()
                .collect(),
        },
        SearchKind::Date => match (ty, obj) {
            ("Period", Some(o)) => vec![IndexValue::Date {
                low: o
                    .get("start")
                    .and_then(Value::as_str)
                    .and_then(|x| bound(x, true)),
                high: o
                    .get("end")
                    .and_then(Value::as_str)
                    .and_then(|x| bound(x, false)),
            }],
            ("Timing", Some(o)) => o
                .get("event")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
                .map(|x| IndexValue::Date {
                    low: bound(x, true),
                    high: bound(x, false),
                })
                .collect(),
            _ => prim
                .and_then(Value::as_str)
                .map(|x| IndexValue::Date {
                    low: bound(x, true),
                    high: bound(x, false),
                })
                .into_iter()
                .collect(),
        },
        SearchKind::Reference => match obj {
            Some(o) => s(o.get("reference"))
                .map(IndexValue::Reference)
                .into_iter()
                .collect(),
            None => prim
                .and_then(Value::as_str)
                .map(|x| IndexValue::Reference(x.to_string()))
                .into_iter()
                .collect(),
        },
        SearchKind::Quantity => match (ty, obj) {
            (_, Some(o)) if o.get("value").is_some() => {
                let value = o
                    .get("value")
                    .and_then(Value::as_number)
                    .map(str::to_string)
                    .unwrap_or_default();
                vec![IndexValue::Quantity {
                    value,
                    system: s(o.get("system")),
                    code: s(o.get("code")).or_else(|| s(o.get("currency"))),
                    unit: s(o.get("unit")),
                }]
            }
            _ => Vec::new(),
        },
        SearchKind::Number => prim
            .and_then(Value::as_number)
            .map(|n| IndexValue::Number(n.to_string()))
            .into_iter()
            .collect(),
        SearchKind::Uri => prim
            .and_then(Value::as_str)
            .map(|x| IndexValue::Uri(x.to_string()))
            .into_iter()
            .collect(),
        SearchKind::Composite | SearchKind::Special => Vec::new(),
    }
}

/// The low or high instant of a date/dateTime/instant value at millisecond precision.
fn bound(text: &str, low: bool) -> Option<String> {
    let dt = fhirpath::temporal::DateTime::parse(text)?;
    let b = if low {
        dt.low_boundary(Some(17))
    } else {
        dt.high_boundary(Some(17))
    }?;
    Some(b.to_string())
}
