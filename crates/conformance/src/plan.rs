//! StructureDefinition snapshots compiled into validation plans.
//!
//! A plan is the snapshot turned into a tree: each element knows its children, its slices and
//! everything the validator checks (cardinality, types, fixed/pattern values, binding,
//! maxLength, invariants). The tree is built from element ids (`Bundle.entry:patient.resource`),
//! which encode both nesting and slicing.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::definitions::Definitions;
use crate::terminology::Expansion;

use fhir::json::Value;

pub type NodeId = u32;

#[derive(Debug, Clone)]
pub struct TypeRef {
    /// FHIR type name (`CodeableConcept`, `string`, `Reference`); System types are mapped to
    /// their FHIR names.
    pub code: Box<str>,
    /// The core definition of `code`, looked up on first use.
    base: OnceLock<Option<Arc<Plan>>>,
    /// Whether `code` is an R4 primitive type.
    pub primitive: bool,
    pub profiles: Vec<Box<str>>,
    pub target_profiles: Vec<Box<str>>,
}

impl TypeRef {
    /// The core plan of this type (cached).
    pub fn base_plan(&self, defs: &Definitions) -> Option<&Arc<Plan>> {
        self.base
            .get_or_init(|| defs.base_plan(&self.code))
            .as_ref()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingStrength {
    Required,
    Extensible,
    Preferred,
    Example,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub strength: BindingStrength,
    pub value_set: Box<str>,
    /// The local expansion, computed on first use.
    expansion: OnceLock<Arc<Expansion>>,
}

impl Binding {
    pub fn new(strength: BindingStrength, value_set: &str) -> Self {
        Binding {
            strength,
            value_set: value_set.into(),
            expansion: OnceLock::new(),
        }
    }

    /// The value set expanded with the loaded terminology (cached in the plan).
    pub fn expansion(&self, defs: &Definitions) -> &Expansion {
        self.expansion
            .get_or_init(|| crate::terminology::expand(defs, &self.value_set))
    }
}

#[derive(Debug, Clone)]
pub struct Constraint {
    pub key: Box<str>,
    pub error: bool,
    pub human: Box<str>,
    pub expression: Box<str>,
    /// The compiled expression (or why it does not compile), on first use.
    compiled: OnceLock<Result<Arc<fhirpath::Compiled>, String>>,
}

impl Constraint {
    pub fn compiled(&self) -> Result<&Arc<fhirpath::Compiled>, &str> {
        self.compiled
            .get_or_init(|| {
                // R4 search-style `as` on collections is tolerated by the engine itself.
                fhirpath::compile_cached(&self.expression).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscriminatorKind {
    Value,
    Pattern,
    Type,
    Profile,
    Exists,
}

#[derive(Debug, Clone)]
pub struct Discriminator {
    pub kind: DiscriminatorKind,
    pub path: Box<str>,
    /// The path split into FHIRPath steps, `$this` removed.
    pub segments: Vec<Box<str>>,
}

/// What a slice requires of a value for one discriminator, worked out when the plan is compiled.
#[derive(Debug, Clone)]
pub enum SliceTest {
    /// The value at the path matches this fixed/pattern value.
    Value(Value),
    /// The code at the path is in this (required) value set.
    Binding(Box<str>),
    /// The path exists (true) or does not (false).
    Exists(bool),
    /// The type at the path is one of these.
    Types(Vec<Box<str>>),
    /// The element (or, through `resolve()`, the referenced resource) conforms to a profile.
    Profiles {
        profiles: Vec<Box<str>>,
        through_ref: bool,
    },
    /// The slice leaves the discriminator element unconstrained: any value matches.
    Any,
    /// The discriminator path cannot be followed in the slice; nothing matches.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlicingRules {
    Closed,
    Open,
    OpenAtEnd,
}

#[derive(Debug, Clone)]
pub struct Slicing {
    pub discriminators: Vec<Discriminator>,
    pub rules: SlicingRules,
    pub ordered: bool,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: Box<str>,
    pub path: Box<str>,
    /// Last path segment without `[x]` (`value` for `value[x]`).
    pub name: Box<str>,
    pub choice: bool,
    pub slice_name: Option<Box<str>>,
    pub min: u32,
    /// `None` = unbounded.
    pub max: Option<u32>,
    pub types: Vec<TypeRef>,
    pub content_reference: Option<Box<str>>,
    /// `fixed[x]`: (type suffix, value).
    pub fixed: Option<Value>,
    pub pattern: Option<Value>,
    pub binding: Option<Binding>,
    pub max_length: Option<usize>,
    /// `minValue[x]` / `maxValue[x]`: (type suffix, value).
    pub min_value: Option<(Box<str>, Value)>,
    pub max_value: Option<(Box<str>, Value)>,
    pub must_support: bool,
    pub constraints: Vec<Constraint>,
    /// Whether some constraint is not enforced natively (so it is reported as not evaluated).
    pub has_foreign_constraints: bool,
    /// Indices of those constraints.
    pub foreign_constraints: Vec<u16>,
    pub slicing: Option<Slicing>,
    pub children: Vec<NodeId>,
    pub slices: Vec<NodeId>,
    /// For a slice: one test per discriminator of the sliced element.
    pub slice_tests: Vec<SliceTest>,
    /// Non-choice children: (signature of the JSON name, child), for lookup.
    pub lookup: Vec<(u64, NodeId)>,
    /// Choice (`[x]`) children.
    pub choices: Vec<NodeId>,
    /// Children with a minimum cardinality above zero.
    pub required: Vec<NodeId>,
    /// Cardinality of the element in the base definition (snapshot `base`).
    pub base_min: u32,
    pub base_max: Option<u32>,
    /// True when this element and everything below it add nothing to the base definition
    /// (same cardinality, no fixed/pattern/slicing/profiles/required binding/invariants):
    /// the base pass has already checked it, so the profile pass skips it.
    pub trivial: bool,
    /// Children the profile pass must visit (the non-trivial ones; all of them in a base plan).
    pub active_children: Vec<NodeId>,
}

impl Node {
    pub fn is_prohibited(&self) -> bool {
        self.max == Some(0)
    }
    /// The single type of this element, if it has exactly one.
    pub fn single_type(&self) -> Option<&TypeRef> {
        match self.types.as_slice() {
            [t] => Some(t),
            _ => None,
        }
    }
    /// Whether a JSON key names this element, and with which type (for choice elements).
    pub fn matches_key<'a>(&'a self, key: &str) -> Option<Option<&'a TypeRef>> {
        if !self.choice {
            return (key == &*self.name).then_some(None);
        }
        let suffix = key.strip_prefix(&*self.name)?;
        self.types
            .iter()
            .find(|t| type_suffix_matches(&t.code, suffix))
            .map(Some)
    }
}

/// `valueQuantity` → suffix `Quantity` matches type `Quantity`; `valueString` matches `string`.
pub fn type_suffix_matches(type_code: &str, suffix: &str) -> bool {
    let mut tc = type_code.chars();
    let mut sc = suffix.chars();
    match (tc.next(), sc.next()) {
        (Some(a), Some(b)) if a.to_ascii_uppercase() == b => tc.eq(sc),
        _ => false,
    }
}

/// The JSON key of choice element `base` for type `code` (`value` + `string` → `valueString`).
pub fn choice_key(base: &str, code: &str) -> String {
    let mut s = String::with_capacity(base.len() + code.len());
    s.push_str(base);
    let mut cs = code.chars();
    if let Some(f) = cs.next() {
        s.push(f.to_ascii_uppercase());
        s.extend(cs);
    }
    s
}

#[derive(Debug)]
pub struct Plan {
    pub url: Box<str>,
    pub name: Box<str>,
    /// The FHIR type constrained (`Bundle`, `Extension`, `Patient`).
    pub type_name: Box<str>,
    pub kind: Box<str>,
    /// True for the R4 core definition of a type (not a constraint on it).
    pub is_base: bool,
    pub nodes: Vec<Node>,
    by_id: HashMap<Box<str>, NodeId>,
}

#[derive(Debug)]
pub struct CompileError(pub String);

impl Plan {
    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }
    pub fn node_by_id(&self, element_id: &str) -> Option<NodeId> {
        self.by_id.get(element_id).copied()
    }
    /// Resolves a `contentReference` (`#Questionnaire.item` or `http://…#Questionnaire.item`).
    pub fn content_reference(&self, reference: &str) -> Option<NodeId> {
        let id = reference.rsplit('#').next()?;
        self.node_by_id(id)
    }

    pub fn compile(sd: &Value) -> Result<Plan, CompileError> {
        Self::compile_against(sd, None)
    }

    /// Compiles a profile; `base` (the core definition of the same type) lets elements that do
    /// not differ from it be skipped by the profile pass.
    pub fn compile_against(sd: &Value, base: Option<&Plan>) -> Result<Plan, CompileError> {
        let url = sd
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| CompileError("StructureDefinition without url".into()))?;
        let elements = sd
            .pointer("snapshot.element")
            .and_then(Value::as_array)
            .ok_or_else(|| CompileError(format!("{url}: no snapshot")))?;
        if elements.is_empty() {
            return Err(CompileError(format!("{url}: empty snapshot")));
        }
        let type_name = sd
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default();
        let derivation = sd.get("derivation").and_then(Value::as_str);
        let is_base = url.starts_with("http://hl7.org/fhir/StructureDefinition/")
            && derivation != Some("constraint");
        let mut plan = Plan {
            url: url.into(),
            name: sd
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(type_name)
                .into(),
            type_name: type_name.into(),
            kind: sd
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            is_base,
            nodes: Vec::with_capacity(elements.len()),
            by_id: HashMap::with_capacity(elements.len()),
        };
        for (i, e) in elements.iter().enumerate() {
            let node = compile_element(e, i == 0, plan.kind.as_ref() == "resource");
            let nid = plan.nodes.len() as NodeId;
            if i > 0 {
                // Parent: strip the last segment of the id. A slice (`a.b:s`) attaches to the
                // sliced element (`a.b`); everything else to its parent element.
                let id = &*node.id;
                let last_dot = last_segment_dot(id);
                let (parent_id, last) = match last_dot {
                    Some(d) => (&id[..d], &id[d + 1..]),
                    None => ("", id),
                };
                if let Some((elem, _slice)) = split_slice(last) {
                    let sliced = if parent_id.is_empty() {
                        elem.to_string()
                    } else {
                        format!("{parent_id}.{elem}")
                    };
                    if let Some(&owner) = plan.by_id.get(sliced.as_str()) {
                        plan.nodes[owner as usize].slices.push(nid);
                    }
                } else if let Some(&p) = plan.by_id.get(parent_id) {
                    plan.nodes[p as usize].children.push(nid);
                }
            }
            plan.by_id.insert(node.id.clone(), nid);
            plan.nodes.push(node);
        }
        plan.index_children();
        plan.compile_slices();
        plan.mark_trivial(base);
        Ok(plan)
    }

    fn mark_trivial(&mut self, base: Option<&Plan>) {
        // Children come after their parent in a snapshot, so a reverse sweep sees them first.
        for i in (0..self.nodes.len()).rev() {
            let n = &self.nodes[i];
            let own = n.min == n.base_min
                && n.max == n.base_max
                && n.fixed.is_none()
                && n.pattern.is_none()
                // Open slicing without slices (how snapshots describe every `extension`)
                // constrains nothing.
                && (n.slicing.is_none()
                    || n.slices.is_empty()
                        && n.slicing.as_ref().is_some_and(|s| s.rules != SlicingRules::Closed))
                && n.slices.is_empty()
                && n.slice_name.is_none()
                && n.max_length.is_none()
                && n.min_value.is_none()
                && n.max_value.is_none()
                && !n.has_foreign_constraints
                && n.content_reference.is_none()
                && n.binding
                    .as_ref()
                    .is_none_or(|b| b.strength != BindingStrength::Required)
                && n.types.iter().all(|t| t.profiles.is_empty())
                && same_targets(n, base);
            let kids = n.children.iter().all(|&c| self.nodes[c as usize].trivial);
            self.nodes[i].trivial = own && kids && i != 0;
        }
        for i in 0..self.nodes.len() {
            let active = self.nodes[i]
                .children
                .iter()
                .copied()
                .filter(|&c| self.is_base || !self.nodes[c as usize].trivial)
                .collect();
            self.nodes[i].active_children = active;
        }
    }

    fn index_children(&mut self) {
        for i in 0..self.nodes.len() {
            let mut lookup = Vec::new();
            let mut choices = Vec::new();
            for &c in &self.nodes[i].children {
                let cn = &self.nodes[c as usize];
                if cn.choice {
                    choices.push(c);
                } else {
                    lookup.push((name_signature(&cn.name), c));
                }
            }
            self.nodes[i].lookup = lookup;
            self.nodes[i].choices = choices;
            let required = self.nodes[i]
                .children
                .iter()
                .copied()
                .filter(|&c| self.nodes[c as usize].min > 0)
                .collect();
            self.nodes[i].required = required;
        }
    }

    /// The child of `node` that JSON member `key` (without `_`) belongs to, with the index of
    /// the type it selects for choice elements.
    pub fn child_for_key(&self, node: NodeId, key: &str) -> Option<(NodeId, Option<usize>)> {
        let n = self.node(node);
        let h = name_signature(key);
        for &(kh, c) in &n.lookup {
            if kh == h && *self.node(c).name == *key {
                return Some((c, None));
            }
        }
        for &c in &n.choices {
            let cn = self.node(c);
            if let Some(sfx) = key.strip_prefix(&*cn.name) {
                if let Some(ti) = cn
                    .types
                    .iter()
                    .position(|t| type_suffix_matches(&t.code, sfx))
                {
                    return Some((c, Some(ti)));
                }
            }
        }
        None
    }

    fn compile_slices(&mut self) {
        let mut tests: Vec<(NodeId, Vec<SliceTest>)> = Vec::new();
        for n in &self.nodes {
            let Some(slicing) = &n.slicing else { continue };
            for &s in &n.slices {
                let t = slicing
                    .discriminators
                    .iter()
                    .map(|d| self.slice_test(s, d))
                    .collect();
                tests.push((s, t));
            }
        }
        for (s, t) in tests {
            self.nodes[s as usize].slice_tests = t;
        }
    }

    fn slice_test(&self, slice: NodeId, d: &Discriminator) -> SliceTest {
        let segs: Vec<&str> = d.segments.iter().map(|s| &**s).collect();
        match d.kind {
            DiscriminatorKind::Value | DiscriminatorKind::Pattern => self.expected_at(slice, &segs),
            DiscriminatorKind::Exists => match self.target_node(slice, &segs) {
                Some(n) => SliceTest::Exists(self.node(n).min > 0),
                None => SliceTest::Unknown,
            },
            DiscriminatorKind::Type => match self.target_node(slice, &segs) {
                Some(n) => {
                    SliceTest::Types(self.node(n).types.iter().map(|t| t.code.clone()).collect())
                }
                None => SliceTest::Unknown,
            },
            DiscriminatorKind::Profile => {
                let through_ref = segs.last() == Some(&"resolve()");
                let node_segs = if through_ref {
                    &segs[..segs.len() - 1]
                } else {
                    &segs[..]
                };
                let Some(n) = self.target_node(slice, node_segs) else {
                    return SliceTest::Unknown;
                };
                // Through resolve() the profile is the Reference's target profile.
                let profiles: Vec<Box<str>> = self
                    .node(n)
                    .types
                    .iter()
                    .flat_map(|t| {
                        if through_ref {
                            t.target_profiles.iter()
                        } else {
                            t.profiles.iter()
                        }
                    })
                    .cloned()
                    .collect();
                if profiles.is_empty() {
                    SliceTest::Unknown
                } else {
                    SliceTest::Profiles {
                        profiles,
                        through_ref,
                    }
                }
            }
        }
    }

    /// The node a discriminator path leads to inside a slice.
    fn target_node(&self, slice: NodeId, segs: &[&str]) -> Option<NodeId> {
        let mut cur = slice;
        for seg in segs {
            if seg.contains('(') {
                return None;
            }
            let n = self.node(cur);
            cur = *n.children.iter().find(|&&c| {
                let cn = self.node(c);
                &*cn.name == *seg || (cn.choice && seg.starts_with(&*cn.name))
            })?;
        }
        Some(cur)
    }

    fn expected_at(&self, slice: NodeId, segs: &[&str]) -> SliceTest {
        let mut cur = slice;
        for (i, seg) in segs.iter().enumerate() {
            let n = self.node(cur);
            if let Some(v) = n.fixed.as_ref().or(n.pattern.as_ref()) {
                // Descend into the fixed value itself.
                let mut vals = vec![v];
                for s in &segs[i..] {
                    vals = vals
                        .iter()
                        .filter_map(|x| x.get(s))
                        .flat_map(|x| x.items())
                        .collect();
                }
                return vals
                    .first()
                    .map_or(SliceTest::Unknown, |v| SliceTest::Value((*v).clone()));
            }
            let next = n.children.iter().copied().find(|&c| {
                let cn = self.node(c);
                &*cn.name == *seg || (cn.choice && seg.starts_with(&*cn.name))
            });
            match next {
                Some(c) => cur = c,
                None => {
                    // Extension slices: `url` is given by the slice's type profile.
                    if *seg == "url" && i == segs.len() - 1 {
                        if let Some(p) = n.types.iter().flat_map(|t| t.profiles.iter()).next() {
                            return SliceTest::Value(Value::string(
                                crate::definitions::unversioned(p),
                            ));
                        }
                    }
                    // A plain element the slice does not mention is unconstrained by it;
                    // a function step (`resolve()`, `extension(…)`) cannot be followed here.
                    return if seg.contains('(') {
                        SliceTest::Unknown
                    } else {
                        SliceTest::Any
                    };
                }
            }
        }
        let n = self.node(cur);
        if let Some(v) = n.fixed.as_ref().or(n.pattern.as_ref()) {
            return SliceTest::Value(v.clone());
        }
        if segs.last() == Some(&"url") {
            let owner = self.node(slice);
            if let Some(p) = owner.types.iter().flat_map(|t| t.profiles.iter()).next() {
                return SliceTest::Value(Value::string(crate::definitions::unversioned(p)));
            }
        }
        if let Some(b) = &n.binding {
            if b.strength == BindingStrength::Required {
                return SliceTest::Binding(b.value_set.clone());
            }
        }
        // The path exists but this slice does not constrain it.
        SliceTest::Any
    }
}

/// Position of the dot that starts the last segment of an element id, ignoring dots inside a
/// slice name (a slice name runs from ':' to the next '.' that is followed by a lower-case
/// element name; slice names with dots are rare but exist).
fn last_segment_dot(id: &str) -> Option<usize> {
    id.rfind('.')
}

/// `entry:patient` → (`entry`, `patient`); `value[x]:valueQuantity` likewise. Re-slices
/// (`a:b/c`) keep the whole name after the first ':'.
fn split_slice(segment: &str) -> Option<(&str, &str)> {
    segment.split_once(':')
}

fn compile_element(e: &Value, is_root: bool, in_resource: bool) -> Node {
    let path = e.get("path").and_then(Value::as_str).unwrap_or_default();
    let id = e.get("id").and_then(Value::as_str).unwrap_or(path);
    let last = path.rsplit('.').next().unwrap_or(path);
    let (name, choice) = match last.strip_suffix("[x]") {
        Some(b) => (b, true),
        None => (last, false),
    };
    let max = match e.get("max").and_then(Value::as_str) {
        Some("*") | None => None,
        Some(n) => n.parse().ok(),
    };
    let min = e
        .get("min")
        .and_then(Value::as_number)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut types = Vec::new();
    if let Some(ts) = e.get("type").and_then(Value::as_array) {
        for t in ts {
            let raw = t.get("code").and_then(Value::as_str).unwrap_or_default();
            let code = fhir_type_of(t, raw, path, in_resource);
            let list = |k: &str| -> Vec<Box<str>> {
                t.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(Into::into).collect())
                    .unwrap_or_default()
            };
            types.push(TypeRef {
                code: code.into(),
                base: OnceLock::new(),
                primitive: fhir::primitive::is_primitive(code),
                profiles: list("profile"),
                target_profiles: list("targetProfile"),
            });
        }
    }
    let mut fixed = None;
    let mut pattern = None;
    let mut max_length = None;
    let mut min_value = None;
    let mut max_value = None;
    let mut must_support = false;
    if let Some(o) = e.as_object() {
        for (k, v) in o.iter() {
            if k.starts_with("fixed") {
                fixed = Some(v.clone());
            } else if k.starts_with("pattern") {
                pattern = Some(v.clone());
            } else if let Some(t) = k.strip_prefix("minValue") {
                min_value = Some((t.into(), v.clone()));
            } else if let Some(t) = k.strip_prefix("maxValue") {
                max_value = Some((t.into(), v.clone()));
            } else if k == "maxLength" {
                max_length = v.as_number().and_then(|n| n.parse().ok());
            } else if k == "mustSupport" {
                must_support = v.as_bool() == Some(true);
            }
        }
    }
    let binding = e.get("binding").and_then(|b| {
        let vs = b.get("valueSet").and_then(Value::as_str)?;
        let strength = match b.get("strength").and_then(Value::as_str)? {
            "required" => BindingStrength::Required,
            "extensible" => BindingStrength::Extensible,
            "preferred" => BindingStrength::Preferred,
            _ => BindingStrength::Example,
        };
        Some(Binding::new(strength, vs))
    });
    let constraints: Vec<Constraint> = e
        .get("constraint")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| {
                    Some(Constraint {
                        key: c.get("key").and_then(Value::as_str)?.into(),
                        error: c.get("severity").and_then(Value::as_str) == Some("error"),
                        human: c
                            .get("human")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .into(),
                        expression: c
                            .get("expression")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .into(),
                        compiled: OnceLock::new(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let slicing = e.get("slicing").map(|s| Slicing {
        discriminators: s
            .get("discriminator")
            .and_then(Value::as_array)
            .map(|ds| {
                ds.iter()
                    .filter_map(|d| {
                        let kind = match d.get("type").and_then(Value::as_str)? {
                            "value" => DiscriminatorKind::Value,
                            "pattern" => DiscriminatorKind::Pattern,
                            "type" => DiscriminatorKind::Type,
                            "profile" => DiscriminatorKind::Profile,
                            "exists" => DiscriminatorKind::Exists,
                            _ => return None,
                        };
                        let path = d.get("path").and_then(Value::as_str)?.trim();
                        Some(Discriminator {
                            kind,
                            path: path.into(),
                            segments: split_segments(path)
                                .into_iter()
                                .filter(|s| *s != "$this" && !s.is_empty())
                                .map(Into::into)
                                .collect(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        rules: match s.get("rules").and_then(Value::as_str) {
            Some("closed") => SlicingRules::Closed,
            Some("openAtEnd") => SlicingRules::OpenAtEnd,
            _ => SlicingRules::Open,
        },
        ordered: s.get("ordered").and_then(Value::as_bool) == Some(true),
    });
    Node {
        id: id.into(),
        path: path.into(),
        name: if is_root { path.into() } else { name.into() },
        choice,
        slice_name: e.get("sliceName").and_then(Value::as_str).map(Into::into),
        min,
        max,
        types,
        content_reference: e
            .get("contentReference")
            .and_then(Value::as_str)
            .map(Into::into),
        fixed,
        pattern,
        binding,
        max_length,
        min_value,
        max_value,
        must_support,
        has_foreign_constraints: constraints
            .iter()
            .any(|c: &Constraint| !crate::validator::NATIVE_INVARIANTS.contains(&&*c.key)),
        foreign_constraints: constraints
            .iter()
            .enumerate()
            .filter(|(_, c)| !crate::validator::NATIVE_INVARIANTS.contains(&&*c.key))
            .map(|(i, _)| i as u16)
            .collect(),
        constraints,
        slicing,
        children: Vec::new(),
        slices: Vec::new(),
        slice_tests: Vec::new(),
        lookup: Vec::new(),
        choices: Vec::new(),
        required: Vec::new(),
        base_min: e
            .pointer("base.min")
            .and_then(Value::as_number)
            .and_then(|n| n.parse().ok())
            .unwrap_or(min),
        base_max: match e.pointer("base.max").and_then(Value::as_str) {
            Some("*") => None,
            Some(n) => n.parse().ok(),
            None => max,
        },
        trivial: false,
        active_children: Vec::new(),
    }
}

/// Maps FHIRPath system type codes (used by R4 snapshots for `id`, `url` and primitive values)
/// to FHIR type names.
fn fhir_type_of<'a>(t: &'a Value, code: &'a str, path: &str, in_resource: bool) -> &'a str {
    if !code.starts_with("http://hl7.org/fhirpath/System.") {
        return code;
    }
    if let Some(exts) = t.get("extension").and_then(Value::as_array) {
        for x in exts {
            if x.get("url").and_then(Value::as_str)
                == Some("http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type")
            {
                if let Some(u) = x.get("valueUrl").and_then(Value::as_str) {
                    // Resource.id is an `id` (R4 §2.21); the snapshot labels it string.
                    if u == "string"
                        && in_resource
                        && path.ends_with(".id")
                        && path.matches('.').count() == 1
                    {
                        return "id";
                    }
                    return u;
                }
            }
        }
    }
    match code.rsplit('.').next().unwrap_or(code) {
        "Boolean" => "boolean",
        "Integer" => "integer",
        "Decimal" => "decimal",
        "Date" => "date",
        "DateTime" => "dateTime",
        "Time" => "time",
        _ => "string",
    }
}

/// Splits a FHIRPath at top-level dots (`extension('a.b').value` → two steps).
pub fn split_segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in path.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

/// A cheap signature of an element name for child lookup: its length and first seven bytes.
/// Equal signatures are confirmed by comparing the names.
pub fn name_signature(name: &str) -> u64 {
    let b = name.as_bytes();
    let mut w = [0u8; 8];
    let n = b.len().min(7);
    w[..n].copy_from_slice(&b[..n]);
    w[7] = b.len().min(255) as u8;
    u64::from_le_bytes(w)
}

/// Whether the reference targets of `n` are those of the same element in the base definition
/// (without a base, only core targets count as unchanged).
fn same_targets(n: &Node, base: Option<&Plan>) -> bool {
    let targets = |n: &Node| -> Vec<Box<str>> {
        let mut v: Vec<Box<str>> = n
            .types
            .iter()
            .flat_map(|t| t.target_profiles.iter().cloned())
            .collect();
        v.sort();
        v
    };
    let mine = targets(n);
    if mine.is_empty() {
        return true;
    }
    match base.and_then(|b| b.node_by_id(&n.path)) {
        Some(b) => base.is_some_and(|p| targets(p.node(b)) == mine),
        None => {
            base.is_none()
                && mine
                    .iter()
                    .all(|p| p.starts_with("http://hl7.org/fhir/StructureDefinition/"))
        }
    }
}
