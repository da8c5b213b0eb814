//! Local terminology: ValueSets expanded from the CodeSystems that are loaded.
//!
//! No terminology server is consulted. A value set whose content depends on a code system that
//! is not available here (SNOMED CT, LOINC, the JP masters such as JFAGY or MEDIS) cannot be
//! expanded; the validator then reports `information`, never a false error.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fhir::json::Value;

use crate::definitions::{unversioned, Definitions, FastHash};

#[derive(Debug)]
pub enum Expansion {
    /// Every (system, code) in the value set.
    Codes(CodeSet),
    /// Could not be expanded locally, and why.
    Unknown(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Membership<'e> {
    Member,
    NotMember,
    /// Cannot tell locally; the reason is for the user.
    Unknown(&'e str),
}

impl Expansion {
    /// Whether `code` (with `system`, when known) is in the expansion.
    pub fn contains(&self, system: Option<&str>, code: &str) -> Membership<'_> {
        match self {
            Expansion::Unknown(why) => Membership::Unknown(why),
            Expansion::Codes(set) => {
                let hit = match system {
                    Some(s) => set.get(s).is_some_and(|codes| codes.contains(code)),
                    None => set.values().any(|codes| codes.contains(code)),
                };
                if hit {
                    Membership::Member
                } else {
                    Membership::NotMember
                }
            }
        }
    }
    /// Whether codes of `system` appear in the expansion.
    pub fn has_system(&self, system: &str) -> bool {
        match self {
            Expansion::Codes(set) => set.contains_key(system),
            Expansion::Unknown(_) => false,
        }
    }
}

const MAX_DEPTH: usize = 8;

/// Expands a value set (cached in `defs`).
pub fn expand(defs: &Definitions, canonical: &str) -> Arc<Expansion> {
    let url = unversioned(canonical);
    if let Some(e) = defs.cached_expansion(url) {
        return e;
    }
    let e = Arc::new(expand_uncached(defs, url, 0));
    defs.store_expansion(url, e.clone());
    e
}

fn expand_uncached(defs: &Definitions, url: &str, depth: usize) -> Expansion {
    if depth > MAX_DEPTH {
        return Expansion::Unknown(format!("value set {url} includes itself too deeply"));
    }
    let Some(vs) = defs.value_set(url) else {
        return Expansion::Unknown(format!("value set {url} is not available locally"));
    };
    let mut set = CodeSet::default();
    if let Some(include) = vs.pointer("compose.include").and_then(Value::as_array) {
        for inc in include {
            match include_codes(defs, inc, depth) {
                Ok(codes) => union(&mut set, codes),
                Err(why) => {
                    // Fall back to a stored expansion when the compose cannot be evaluated.
                    return stored_expansion(vs).unwrap_or(Expansion::Unknown(why));
                }
            }
        }
        if let Some(exclude) = vs.pointer("compose.exclude").and_then(Value::as_array) {
            for exc in exclude {
                match include_codes(defs, exc, depth) {
                    Ok(codes) => {
                        for (sys, cs) in codes {
                            if let Some(have) = set.get_mut(&sys) {
                                for c in cs {
                                    have.remove(&c);
                                }
                            }
                        }
                    }
                    Err(why) => return Expansion::Unknown(why),
                }
            }
        }
        return Expansion::Codes(set);
    }
    stored_expansion(vs)
        .unwrap_or_else(|| Expansion::Unknown(format!("value set {url} has no compose")))
}

fn stored_expansion(vs: &Value) -> Option<Expansion> {
    let contains = vs.pointer("expansion.contains")?.as_array()?;
    let mut set = CodeSet::default();
    fn walk(items: &[Value], set: &mut CodeSet) {
        for c in items {
            if let (Some(s), Some(code)) = (
                c.get("system").and_then(Value::as_str),
                c.get("code").and_then(Value::as_str),
            ) {
                add(set, s, code);
            }
            if let Some(sub) = c.get("contains").and_then(Value::as_array) {
                walk(sub, set);
            }
        }
    }
    walk(contains, &mut set);
    Some(Expansion::Codes(set))
}

/// Codes by system.
pub type CodeSet = HashMap<Box<str>, HashSet<Box<str>, FastHash>, FastHash>;

fn add(set: &mut CodeSet, system: &str, code: &str) {
    set.entry(system.into()).or_default().insert(code.into());
}

fn union(into: &mut CodeSet, from: CodeSet) {
    for (s, codes) in from {
        into.entry(s).or_default().extend(codes);
    }
}

fn include_codes(defs: &Definitions, inc: &Value, depth: usize) -> Result<CodeSet, String> {
    let mut out: Option<CodeSet> = None;
    if let Some(system) = inc.get("system").and_then(Value::as_str) {
        let mut codes = CodeSet::default();
        if let Some(concepts) = inc.get("concept").and_then(Value::as_array) {
            // Enumerated codes are known without the code system.
            for c in concepts {
                if let Some(code) = c.get("code").and_then(Value::as_str) {
                    add(&mut codes, system, code);
                }
            }
        } else {
            let cs = defs
                .code_system(system)
                .ok_or_else(|| format!("code system {system} is not available locally"))?;
            match cs.get("content").and_then(Value::as_str) {
                Some("complete") | None => {}
                Some(other) => {
                    return Err(format!(
                    "code system {system} is only partially available locally (content = {other})"
                ))
                }
            }
            let filters = inc.get("filter").and_then(Value::as_array);
            let all = all_codes(cs);
            match filters {
                None => {
                    for (code, _) in all {
                        add(&mut codes, system, code);
                    }
                }
                Some(fs) => {
                    let mut selected: Vec<&str> = all.iter().map(|(c, _)| *c).collect();
                    for f in fs {
                        let prop = f
                            .get("property")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let op = f.get("op").and_then(Value::as_str).unwrap_or_default();
                        let val = f.get("value").and_then(Value::as_str).unwrap_or_default();
                        if prop != "concept" {
                            return Err(format!(
                                "filter {prop} {op} on {system} cannot be evaluated locally"
                            ));
                        }
                        let keep: HashSet<&str> = match op {
                            "is-a" => descendants(&all, val, true),
                            "descendent-of" => descendants(&all, val, false),
                            "is-not-a" => {
                                let d = descendants(&all, val, true);
                                all.iter()
                                    .map(|(c, _)| *c)
                                    .filter(|c| !d.contains(c))
                                    .collect()
                            }
                            "=" => std::iter::once(val).collect(),
                            _ => {
                                return Err(format!(
                                    "filter op {op} on {system} cannot be evaluated locally"
                                ))
                            }
                        };
                        selected.retain(|c| keep.contains(c));
                    }
                    for c in selected {
                        add(&mut codes, system, c);
                    }
                }
            }
        }
        out = Some(codes);
    }
    if let Some(vss) = inc.get("valueSet").and_then(Value::as_array) {
        for vs in vss.iter().filter_map(Value::as_str) {
            match expand_uncached(defs, unversioned(vs), depth + 1) {
                Expansion::Codes(c) => {
                    out = Some(match out {
                        // system + valueSet in one include = intersection.
                        Some(prev) => intersect(prev, &c),
                        None => c,
                    });
                }
                Expansion::Unknown(why) => return Err(why),
            }
        }
    }
    Ok(out.unwrap_or_default())
}

/// (code, parent code) for every concept of a code system, hierarchy flattened.
fn all_codes(cs: &Value) -> Vec<(&str, Option<&str>)> {
    let mut out = Vec::new();
    fn walk<'a>(
        items: &'a [Value],
        parent: Option<&'a str>,
        out: &mut Vec<(&'a str, Option<&'a str>)>,
    ) {
        for c in items {
            let code = c.get("code").and_then(Value::as_str);
            if let Some(code) = code {
                out.push((code, parent));
            }
            if let Some(sub) = c.get("concept").and_then(Value::as_array) {
                walk(sub, code.or(parent), out);
            }
        }
    }
    if let Some(cs) = cs.get("concept").and_then(Value::as_array) {
        walk(cs, None, &mut out);
    }
    out
}

fn descendants<'a>(
    all: &[(&'a str, Option<&'a str>)],
    root: &'a str,
    include_self: bool,
) -> HashSet<&'a str> {
    let mut set = HashSet::new();
    if include_self {
        set.insert(root);
    }
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (c, parent) in all {
            if *parent == Some(p) && set.insert(c) {
                frontier.push(c);
            }
        }
    }
    if !include_self {
        set.remove(root);
    }
    set
}

/// Every code of a code system held locally in full (cached with the value-set expansions,
/// under `codesystem:` + the system URL). Unknown when the code system is not loaded or only
/// partly.
pub fn code_system_codes(defs: &Definitions, system: &str) -> Arc<Expansion> {
    let key = format!("codesystem:{system}");
    if let Some(e) = defs.cached_expansion(&key) {
        return e;
    }
    let mut inc = fhir::json::Object::new();
    inc.insert("system", Value::string(system));
    let e = Arc::new(match include_codes(defs, &Value::Object(inc), 0) {
        Ok(codes) => Expansion::Codes(codes),
        Err(why) => Expansion::Unknown(why),
    });
    defs.store_expansion(&key, e.clone());
    e
}

/// Whether the code system is known locally with its full content.
pub fn code_system_known(defs: &Definitions, system: &str) -> bool {
    defs.code_system(system).is_some_and(|cs| {
        matches!(
            cs.get("content").and_then(Value::as_str),
            Some("complete") | None
        )
    })
}

fn intersect(a: CodeSet, b: &CodeSet) -> CodeSet {
    let mut out = CodeSet::default();
    for (s, codes) in a {
        if let Some(other) = b.get(&s) {
            let kept: HashSet<Box<str>, FastHash> =
                codes.into_iter().filter(|c| other.contains(c)).collect();
            if !kept.is_empty() {
                out.insert(s, kept);
            }
        }
    }
    out
}
