//! The validator: R4 base structure, then profiles, then pluggable service rules.
//!
//! Pass 1 (base) walks every element against the R4 core definitions: known element names,
//! JSON shapes, cardinality, primitive formats, required bindings, empty values, Bundle and
//! contained-resource rules. It also collects the profiles each resource claims.
//! Pass 2 (profiles) checks each resource against its claimed profiles and against the profiles
//! that Bundle slices assign to entries: cardinality, fixed and pattern values, types and target
//! profiles, slicing, extensions by URL, bindings, maxLength.
//! FHIRPath invariants are not evaluated yet (issue #3); each one met is reported once per file
//! as `information`, except those enforced natively here (listed in `NATIVE_INVARIANTS`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use fhir::json::{Object, Value};
use fhir::outcome::{Issue, IssueType, Severity};
use fhir::primitive;
use fhir::reference::{classify, BundleIndex, RefKind};

use crate::definitions::{unversioned, Definitions};
use crate::plan::{
    choice_key, Binding, BindingStrength, Node, NodeId, Plan, SliceTest, SlicingRules, TypeRef,
};
use crate::terminology::{expand, Membership};

/// Invariants enforced by Rust code in this crate, so they are not "skipped".
pub const NATIVE_INVARIANTS: &[&str] = &[
    "ele-1", "ext-1", "dom-2", "dom-3", "dom-4", "dom-5", "dom-6", "txt-1", "txt-2", "cmp-1",
    "cmp-2", "ras-2", "bdl-1", "bdl-2", "bdl-3", "bdl-4", "bdl-5", "bdl-7", "bdl-8", "bdl-9",
    "bdl-10", "bdl-11", "bdl-12", "ref-1",
];

/// Extra checks run after structure and profiles (the JP-CLINS service rules plug in here).
pub type RuleSet = Arc<dyn Fn(&Value) -> Vec<Issue> + Send + Sync>;

#[derive(Clone)]
pub struct Validator {
    defs: Arc<Definitions>,
    /// The type model FHIRPath invariants are evaluated with.
    model: Arc<crate::fhirpath_model::DefinitionsModel>,
    rules: Vec<RuleSet>,
    /// Invariant keys the rule sets enforce (not reported as "not evaluated").
    rule_invariants: Vec<&'static str>,
}

impl Validator {
    pub fn new(defs: Arc<Definitions>) -> Self {
        Validator {
            model: Arc::new(crate::fhirpath_model::DefinitionsModel::new(defs.clone())),
            defs,
            rules: Vec::new(),
            rule_invariants: Vec::new(),
        }
    }

    /// Adds a rule set, with the keys of the profile invariants it enforces natively.
    pub fn with_rules(mut self, rules: RuleSet, enforced_invariants: &[&'static str]) -> Self {
        self.rules.push(rules);
        self.rule_invariants.extend_from_slice(enforced_invariants);
        self
    }

    pub fn definitions(&self) -> &Arc<Definitions> {
        &self.defs
    }

    /// Validates raw bytes: size, encoding and JSON syntax first.
    pub fn validate_bytes(&self, bytes: &[u8]) -> Vec<Issue> {
        if bytes.is_empty() || bytes.iter().all(u8::is_ascii_whitespace) {
            return vec![Issue::new(
                Severity::Fatal,
                IssueType::Structure,
                "JSON-EMPTY",
                "",
                "the file is empty: expected a FHIR resource in JSON",
                "ファイルが空です。JSON形式のFHIRリソースが必要です",
            )];
        }
        if bytes.len() > MAX_BYTES {
            return vec![Issue::new(
                Severity::Fatal,
                IssueType::TooLong,
                "SIZE-LIMIT",
                "",
                format!(
                    "the file is {} bytes; the limit is 10 MB (10485760 bytes)",
                    bytes.len()
                ),
                format!(
                    "ファイルサイズが{}バイトです。上限は10MB（10485760バイト）です",
                    bytes.len()
                ),
            )];
        }
        match fhir::json::parse_bytes(bytes) {
            Ok(v) => self.validate(&v),
            Err(e) => vec![Issue::new(
                Severity::Fatal,
                IssueType::Structure,
                "JSON-SYNTAX",
                format!("line {}, column {}", e.line, e.column),
                format!(
                    "not valid JSON at line {}, column {}: {}",
                    e.line, e.column, e.en
                ),
                format!("{}行{}列目でJSONとして不正です: {}", e.line, e.column, e.ja),
            )],
        }
    }

    /// Validates a parsed resource against R4 and one given profile (in addition to those it
    /// claims), without the rule sets.
    pub fn validate_against(&self, resource: &Value, profile: &str) -> Vec<Issue> {
        let mut run = Run::new(&self.defs);
        run.rule_invariants = &self.rule_invariants;
        run.model = Some(&*self.model);
        run.validate_root(resource);
        let rt = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        run.path.clear();
        run.path.push_str(rt);
        run.profile_resource(resource, profile);
        run.finish()
    }

    /// Validates a parsed resource.
    pub fn validate(&self, resource: &Value) -> Vec<Issue> {
        let mut run = Run::new(&self.defs);
        run.rule_invariants = &self.rule_invariants;
        run.model = Some(&*self.model);
        run.validate_root(resource);
        for r in &self.rules {
            run.issues.extend(r(resource));
        }
        run.finish()
    }
}

/// Submissions over this size are refused (DECISIONS.md: 10 MB per submission).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// Most issues reported for one resource (errors first); the rest are counted in one last
/// `TOO-MANY-ISSUES` issue. A vendor fixes the first thousand before the next.
pub const MAX_ISSUES: usize = 1000;
/// Once a run has found this many issues it stops descending into more elements: the work
/// (and the memory) spent on a hostile or hopeless input is bounded.
const WORK_LIMIT: usize = 10 * MAX_ISSUES;

struct ResourceFrame<'a> {
    resource: &'a Value,
    /// A resource inside another's `contained`.
    contained: bool,
    /// Ids referenced with `#id` from within this resource.
    local_refs: Vec<&'a str>,
}

struct BundleFrame<'a> {
    index: std::rc::Rc<BundleIndex>,
    entry: Option<usize>,
    bundle: &'a Value,
}

struct Run<'a> {
    defs: &'a Definitions,
    issues: Vec<Issue>,
    path: String,
    skipped: BTreeMap<Box<str>, (u32, Box<str>)>,
    /// (resource, expression, profile url, enclosing Bundle, index in meta.profile)
    claims: Vec<(&'a Value, String, String, Option<&'a Value>, usize)>,
    rule_invariants: &'a [&'static str],
    model: Option<&'a dyn fhirpath::Model>,
    /// Invariant keys already reported as not compilable / not evaluable.
    broken_invariants: HashSet<Box<str>>,
    /// (element, invariant key) pairs already evaluated: the base definition and a profile
    /// often carry the same invariant.
    evaluated: HashSet<(usize, u64), crate::definitions::FastHash>,
    /// Set while a claimed profile (`meta.profile[i]`) is being checked, for error locations.
    claim_at: Option<usize>,
    /// (value, plan) pairs already checked.
    done: HashSet<(usize, usize), crate::definitions::FastHash>,
    resources: Vec<ResourceFrame<'a>>,
    bundles: Vec<BundleFrame<'a>>,
    unknown_profiles: HashSet<String>,
    /// Results of speculative conformance checks: (value, plan) → conforms.
    conforms_cache: HashMap<(usize, usize), bool, crate::definitions::FastHash>,
    /// Plans by canonical URL, without the shared cache's lock.
    plan_cache: HashMap<Box<str>, Option<Arc<Plan>>, crate::definitions::FastHash>,
    /// Code systems held in full, by URL, for CODE-UNKNOWN (None: not loaded or partial).
    code_systems:
        HashMap<Box<str>, Option<Arc<crate::terminology::Expansion>>, crate::definitions::FastHash>,
    /// Reference indexes of the Bundles met, built once per Bundle.
    indexes: Vec<(usize, std::rc::Rc<BundleIndex>)>,
    /// Nesting of speculative validations (slice matching by profile); no skip reports there.
    speculative: u32,
    /// Errors counted among `issues[..counted.0]` (`counted.1`), for [`Run::saturated`].
    counted: (usize, usize),
    /// The run stopped descending because it had found [`WORK_LIMIT`] errors.
    stopped: bool,
    /// Emptied buffers of `profile_children`, kept for reuse (it runs for every element and
    /// recurses: a stack of them instead of two allocations per call and child).
    member_bufs: Vec<Vec<(NodeId, &'a str, &'a Value)>>,
    item_bufs: Vec<Vec<Item<'a>>>,
    /// Likewise for `base_children`.
    seen_bufs: Vec<Vec<Member<'a>>>,
}

fn err(code: IssueType, detail: &'static str, path: &str, en: String, ja: String) -> Issue {
    Issue::error(code, detail, path, en, ja)
}

impl<'a> Run<'a> {
    fn new(defs: &'a Definitions) -> Self {
        Run {
            defs,
            issues: Vec::new(),
            path: String::with_capacity(128),
            skipped: BTreeMap::new(),
            claims: Vec::new(),
            done: HashSet::default(),
            resources: Vec::new(),
            bundles: Vec::new(),
            unknown_profiles: HashSet::new(),
            indexes: Vec::new(),
            claim_at: None,
            rule_invariants: &[],
            model: None,
            broken_invariants: HashSet::new(),
            evaluated: HashSet::default(),
            plan_cache: HashMap::default(),
            code_systems: HashMap::default(),
            conforms_cache: HashMap::default(),
            speculative: 0,
            counted: (0, 0),
            stopped: false,
            member_bufs: Vec::new(),
            item_bufs: Vec::new(),
            seen_bufs: Vec::new(),
        }
    }

    fn plan_for(&mut self, url: &str) -> Option<Arc<Plan>> {
        if let Some(p) = self.plan_cache.get(url) {
            return p.clone();
        }
        let p = self.defs.plan(url);
        self.plan_cache.insert(url.into(), p.clone());
        p
    }

    fn bundle_index(&mut self, b: &'a Value) -> std::rc::Rc<BundleIndex> {
        let key = b as *const Value as usize;
        if let Some((_, i)) = self.indexes.iter().find(|(k, _)| *k == key) {
            return i.clone();
        }
        let i = std::rc::Rc::new(BundleIndex::new(b));
        self.indexes.push((key, i.clone()));
        i
    }

    fn error(&mut self, code: IssueType, detail: &'static str, en: String, ja: String) {
        self.issues.push(err(code, detail, &self.path, en, ja));
    }

    fn finish(mut self) -> Vec<Issue> {
        for (key, (count, human)) in std::mem::take(&mut self.skipped) {
            self.issues.push(Issue::new(
                Severity::Information,
                IssueType::Informational,
                "INVARIANT-NOT-EVALUATED",
                "",
                format!(
                    "invariant {key} ({human}) was not evaluated at {count} place(s): no FHIRPath model was available for this run"
                ),
                format!(
                    "制約 {key} は{count}箇所で評価されていません（この検証ではFHIRPathモデルが利用できませんでした）"
                ),
            ));
        }
        // The same problem can be found by the base pass and a profile; report it once.
        let mut seen: HashSet<(Severity, &str, &str, &str), crate::definitions::FastHash> =
            HashSet::default();
        let keep: Vec<bool> = self
            .issues
            .iter()
            .map(|i| seen.insert((i.severity, &i.expression, i.detail, &i.en)))
            .collect();
        drop(seen);
        let mut k = keep.into_iter();
        self.issues.retain(|_| k.next().unwrap_or(true));
        self.issues.sort_by_key(|i| i.severity);
        let stopped = self.stopped;
        if self.issues.len() > MAX_ISSUES || stopped {
            let more = self.issues.len().saturating_sub(MAX_ISSUES);
            // An error when the resource has errors (or was not checked to its end): a Bundle
            // with only warnings, however many, is not refused for the notice.
            let severity = if stopped || self.issues.iter().any(|i| i.severity.is_error()) {
                Severity::Error
            } else {
                Severity::Warning
            };
            self.issues.truncate(MAX_ISSUES);
            self.issues.push(Issue::new(
                severity,
                IssueType::TooCostly,
                "TOO-MANY-ISSUES",
                "",
                format!(
                    "{more} more issue(s) not listed{}: at most {MAX_ISSUES} are reported; fix these first",
                    if stopped { ", and validation stopped early" } else { "" }
                ),
                format!(
                    "ほかに{more}件の問題があります{}。報告は{MAX_ISSUES}件までです。まずこれらを修正してください",
                    if stopped { "（検証は途中で打ち切りました）" } else { "" }
                ),
            ));
        }
        self.issues
    }

    /// Whether the run has found enough errors to stop looking (warnings do not count; not
    /// inside a speculative check, whose outcome must stay exact). Errors are counted again
    /// only as issues accumulate, so the check stays cheap on every element.
    fn saturated(&mut self) -> bool {
        if self.speculative != 0 {
            return false;
        }
        if self.stopped {
            return true;
        }
        let n = self.issues.len();
        if n < WORK_LIMIT {
            return false;
        }
        let (upto, errors) = self.counted;
        let (from, base) = if upto <= n { (upto, errors) } else { (0, 0) };
        if n - from < 256 && from != 0 {
            return false;
        }
        let more = self.issues[from..]
            .iter()
            .filter(|i| i.severity.is_error())
            .count();
        self.counted = (n, base + more);
        self.stopped = base + more >= WORK_LIMIT;
        self.stopped
    }

    fn validate_root(&mut self, v: &'a Value) {
        let Some(rt) = v.get("resourceType").and_then(Value::as_str) else {
            let (en, ja) = if let Some(other) = v.get("resourceType") {
                (
                    match other {
                        Value::Null => "resourceType is null: it must be the resource type name as a string, e.g. \"Bundle\"",
                        _ => "resourceType must be a string naming the resource type, e.g. \"Bundle\"",
                    },
                    "resourceType はリソース型名の文字列で指定してください（例: \"Bundle\"）",
                )
            } else if v.as_object().is_some() {
                (
                    "resourceType is missing: a FHIR resource must name its type",
                    "resourceType がありません。FHIRリソースには型名が必要です",
                )
            } else {
                (
                    "the document is not a JSON object: a FHIR resource is a JSON object",
                    "JSONオブジェクトではありません。FHIRリソースはJSONオブジェクトです",
                )
            };
            self.issues.push(Issue::new(
                Severity::Fatal,
                IssueType::Structure,
                "RESOURCE-TYPE",
                "",
                en,
                ja,
            ));
            return;
        };
        self.path.push_str(rt);
        self.base_resource(v);
        // Pass 2: claimed profiles, in the order found.
        let claims = std::mem::take(&mut self.claims);
        for (res, expr, url, bundle, index) in claims {
            self.path.clear();
            self.path.push_str(&expr);
            if let Some(b) = bundle {
                let index = self.bundle_index(b);
                self.bundles.push(BundleFrame {
                    index,
                    entry: None,
                    bundle: b,
                });
            }
            self.claim_at = Some(index);
            self.profile_resource(res, &url);
            self.claim_at = None;
            if bundle.is_some() {
                self.bundles.pop();
            }
        }
        if !self.defs.has_packages() && self.unknown_profiles.is_empty() {
            // Nothing claimed; nothing to say.
        }
    }

    /// Evaluates the invariants of `node` (those not enforced natively) on one element.
    /// `type_name` and `key` describe the element for the FHIRPath model.
    fn check_invariants(
        &mut self,
        node: &Node,
        value: Option<&'a Value>,
        under: Option<&'a Value>,
        type_name: &str,
        key: &str,
    ) {
        if !node.has_foreign_constraints {
            return;
        }
        let Some(model) = self.model else {
            self.note_skipped(node);
            return;
        };
        let mut shared_item: Option<fhirpath::Item<'a>> = None;
        for &i in &node.foreign_constraints {
            let c = &node.constraints[usize::from(i)];
            if self.rule_invariants.contains(&&*c.key) {
                continue;
            }
            let element = value.or(under).map_or(0, |v| v as *const Value as usize);
            if self.speculative == 0 && !self.evaluated.insert((element, key_hash(&c.key))) {
                continue;
            }
            let compiled = match c.compiled() {
                Ok(x) => x.clone(),
                Err(why) => {
                    let why = why.to_string();
                    self.broken_invariant(c, &format!("it does not compile: {why}"));
                    continue;
                }
            };
            let item = shared_item
                .get_or_insert_with(|| {
                    fhirpath::Item::Node(fhirpath::Node {
                        value,
                        under,
                        type_name: fhirpath::intern(type_name),
                        key: fhirpath::intern(key),
                    })
                })
                .clone();
            let mut ctx = fhirpath::Context::new(model);
            ctx.context = Some(item.clone());
            ctx.resource = self
                .resources
                .last()
                .map(|f| fhirpath::eval::root_item(model, f.resource));
            ctx.root_resource = self
                .resources
                .first()
                .map(|f| fhirpath::eval::root_item(model, f.resource));
            let input = vec![item];
            match fhirpath::evaluate(&compiled, &input, &mut ctx) {
                Ok(r) => {
                    // A constraint holds only when it evaluates to true: an empty result
                    // (`start <= end` on a date and a dateTime of another precision) fails,
                    // as in the reference validator.
                    let holds = match r.as_slice() {
                        [] => false,
                        [one] => !matches!(one.to_system(), fhirpath::Item::Boolean(false)),
                        _ => true,
                    };
                    if !holds && (c.error || self.speculative == 0) {
                        let severity = if c.error {
                            Severity::Error
                        } else {
                            Severity::Warning
                        };
                        self.issues.push(Issue::new(
                            severity,
                            IssueType::Invariant,
                            "INVARIANT",
                            self.path.clone(),
                            format!("constraint {} failed: {}", c.key, c.human),
                            format!("制約 {} を満たしていません: {}", c.key, c.human),
                        ));
                    }
                }
                Err(e) => {
                    let why = e.message.clone();
                    self.broken_invariant(c, &format!("evaluation failed: {why}"));
                }
            }
        }
    }

    /// Reports once per key and run that an invariant could not be used (as a warning: the
    /// element may or may not satisfy it).
    fn broken_invariant(&mut self, c: &crate::plan::Constraint, why: &str) {
        if self.speculative > 0 || !self.broken_invariants.insert(c.key.clone()) {
            return;
        }
        self.issues.push(Issue::new(
            Severity::Warning,
            IssueType::Invariant,
            "INVARIANT-NOT-EVALUATED",
            self.path.clone(),
            format!("invariant {} ({}) was not checked: {why}", c.key, c.human),
            format!("制約 {} を検証できませんでした: {why}", c.key),
        ));
    }

    /// Without a FHIRPath model the invariants of a node are counted as not evaluated.
    fn note_skipped(&mut self, node: &Node) {
        if self.speculative > 0 {
            return;
        }
        for &i in &node.foreign_constraints {
            let c = &node.constraints[usize::from(i)];
            if let Some(e) = self.skipped.get_mut(&*c.key) {
                e.0 += 1;
            } else if !self.rule_invariants.contains(&&*c.key) {
                self.skipped.insert(c.key.clone(), (1, c.human.clone()));
            }
        }
    }

    // ------------------------------------------------------------------ pass 1: base

    fn base_resource(&mut self, res: &'a Value) {
        let Some(obj) = res.as_object() else {
            self.error(
                IssueType::Structure,
                "RESOURCE-NOT-OBJECT",
                "a resource must be a JSON object".into(),
                "リソースはJSONオブジェクトである必要があります".into(),
            );
            return;
        };
        let rt = match obj.get("resourceType") {
            Some(Value::String(s)) => &**s,
            _ => {
                self.error(
                    IssueType::Structure,
                    "RESOURCE-TYPE",
                    "resourceType is missing or not a string".into(),
                    "resourceType がないか、文字列ではありません".into(),
                );
                return;
            }
        };
        let Some(plan) = self.defs.base_plan(rt).filter(|p| &*p.kind == "resource") else {
            self.error(
                IssueType::NotSupported,
                "RESOURCE-TYPE-UNKNOWN",
                format!("unknown resource type \"{rt}\" (not a FHIR R4 resource)"),
                format!("リソース型\"{rt}\"はFHIR R4に存在しません"),
            );
            return;
        };
        let contained = is_contained_path(&self.path);
        self.resources.push(ResourceFrame {
            resource: res,
            contained,
            local_refs: Vec::new(),
        });
        let is_bundle = rt == "Bundle";
        if is_bundle {
            let index = self.bundle_index(res);
            self.bundles.push(BundleFrame {
                index,
                entry: None,
                bundle: res,
            });
        }
        self.base_children(obj, &plan, 0, true, (Some(res), None));
        if rt == "RiskAssessment" {
            self.risk_assessment_rules(res);
        }
        if rt == "Composition" {
            self.composition_rules(res);
        }
        if plan.kind.as_ref() == "resource" && is_domain_resource(rt) {
            self.narrative_rules(res);
        }
        if is_bundle {
            self.bundle_rules(res);
            if res.get("type").and_then(Value::as_str) == Some("searchset") {
                let root = self.path.clone();
                self.searchset_rules(res, &root);
            }
            self.bundles.pop();
        }
        self.contained_rules(res);
        self.resources.pop();
        // Claimed profiles.
        if let Some(profiles) = res.pointer("meta.profile").and_then(Value::as_array) {
            let bundle = self.bundles.last().map(|b| b.bundle);
            for (i, p) in profiles.iter().enumerate() {
                if let Some(p) = p.as_str() {
                    self.claims
                        .push((res, self.path.clone(), p.to_string(), bundle, i));
                }
            }
        }
    }

    /// Checks the members of `obj` against the children of `node` in `plan`.
    fn base_children(
        &mut self,
        obj: &'a Object,
        plan: &Arc<Plan>,
        node: NodeId,
        is_resource: bool,
        element: (Option<&'a Value>, Option<&'a Value>),
    ) {
        if self.saturated() {
            return;
        }
        let mut node_id = node;
        if let Some(cr) = &plan.node(node).content_reference {
            match plan.content_reference(cr) {
                Some(n) => node_id = n,
                None => return,
            }
        }
        let node = plan.node(node_id);
        if node.has_foreign_constraints {
            // The element as FHIRPath sees it: a type, or an inline element by its path.
            let (type_name, key): (&str, &str) = if node_id == 0 {
                (&plan.type_name, &plan.type_name)
            } else {
                ("BackboneElement", &node.path)
            };
            let (type_name, key) = (type_name.to_string(), key.to_string());
            self.check_invariants(node, element.0, element.1, &type_name, &key);
        }
        if obj.is_empty() {
            self.error(
                IssueType::Invalid,
                "EMPTY-ELEMENT",
                "empty object: an element must have a value or children (ele-1); omit it instead"
                    .into(),
                "空のオブジェクトです。値も子要素もない要素は省略してください（ele-1）".into(),
            );
            return;
        }
        // Which child each member belongs to; `x` and `_x` are one member.
        let mut seen = self.seen_bufs.pop().unwrap_or_default();
        for (key, v) in obj.iter() {
            if is_resource && key == "resourceType" {
                continue;
            }
            let (name, is_under) = match key.strip_prefix('_') {
                Some(n) => (n, true),
                None => (key, false),
            };
            if let Some(m) = seen.iter_mut().find(|m| m.name == name) {
                if is_under {
                    m.under = Some(v);
                } else {
                    m.value = Some(v);
                }
                continue;
            }
            match plan.child_for_key(node_id, name) {
                Some((c, ti)) => seen.push(Member {
                    node: c,
                    name,
                    type_index: ti,
                    value: (!is_under).then_some(v),
                    under: is_under.then_some(v),
                }),
                None => {
                    let l = self.path.len();
                    self.path.push('.');
                    self.path.push_str(key);
                    let (en, ja) = (
                        format!(
                            "unknown element \"{key}\": {} has no such element in FHIR R4",
                            node.path
                        ),
                        format!("要素\"{key}\"は{}に存在しません（FHIR R4）", node.path),
                    );
                    self.error(IssueType::Structure, "UNKNOWN-ELEMENT", en, ja);
                    self.path.truncate(l);
                }
            }
        }
        // Two members for one choice element (valueString and valueQuantity).
        for (i, m) in seen.iter().enumerate() {
            if seen[..i].iter().any(|o| o.node == m.node) {
                let l = self.path.len();
                self.path.push('.');
                self.path.push_str(m.name);
                let base = &plan.node(m.node).name;
                self.error(
                    IssueType::Structure,
                    "CHOICE-MULTIPLE",
                    format!("only one {base}[x] is allowed, but several types are present"),
                    format!("{base}[x] は1つだけ指定できます（複数の型が指定されています）"),
                );
                self.path.truncate(l);
            }
        }
        // Required children that are missing.
        for &c in &node.required {
            if seen.iter().any(|m| m.node == c) {
                continue;
            }
            let cn = plan.node(c);
            let l = self.path.len();
            self.path.push('.');
            self.path.push_str(&cn.name);
            self.error(
                IssueType::Required,
                "REQUIRED-MISSING",
                format!("{} is required (minimum {}) but missing", cn.path, cn.min),
                format!("必須要素 {} がありません（最小{}）", cn.path, cn.min),
            );
            self.path.truncate(l);
        }
        // Values, in document order.
        for m in seen.drain(..) {
            let cn = plan.node(m.node);
            let ty = match m.type_index {
                Some(i) => cn.types.get(i),
                None => cn.types.first(),
            };
            self.base_member(m.name, m.value, m.under, plan, m.node, ty);
        }
        self.seen_bufs.push(seen);
    }

    /// One member (`name` and/or `_name`) of an object.
    fn base_member(
        &mut self,
        key: &'a str,
        value: Option<&'a Value>,
        under: Option<&'a Value>,
        plan: &Arc<Plan>,
        node: NodeId,
        ty: Option<&TypeRef>,
    ) {
        let cn = plan.node(node);
        let type_code: &str = ty.map(|t| &*t.code).unwrap_or("");
        let is_prim = ty.is_some_and(|t| t.primitive);
        let many = cn.max != Some(1) && cn.max != Some(0);
        let l = self.path.len();
        self.path.push('.');
        self.path.push_str(key);
        if cn.max == Some(0) {
            self.error(
                IssueType::Structure,
                "PROHIBITED",
                format!("{} is not allowed here (maximum 0)", cn.path),
                format!("{} はここでは使用できません（最大0）", cn.path),
            );
        }
        // Array shape.
        let shape_ok = |v: &Value| matches!(v, Value::Array(_)) == many;
        for v in [value, under].into_iter().flatten() {
            if !shape_ok(v) {
                let (en, ja) = if many {
                    (
                        format!(
                            "{} can repeat, so it must be a JSON array even with one item",
                            cn.path
                        ),
                        format!(
                            "{} は繰り返し要素のため、1件でもJSON配列で指定してください",
                            cn.path
                        ),
                    )
                } else {
                    (
                        format!(
                            "{} has at most one value: it must not be a JSON array",
                            cn.path
                        ),
                        format!("{} は最大1件の要素のため、JSON配列にはできません", cn.path),
                    )
                };
                self.error(IssueType::Structure, "ARRAY-SHAPE", en, ja);
                self.path.truncate(l);
                return;
            }
        }
        let items_v: &[Value] = value.map(Value::items).unwrap_or(&[]);
        let items_u: &[Value] = under.map(Value::items).unwrap_or(&[]);
        if many {
            if value.is_some_and(|v| v.as_array().is_some_and(<[Value]>::is_empty))
                || under.is_some_and(|v| v.as_array().is_some_and(<[Value]>::is_empty))
            {
                self.error(
                    IssueType::Invalid,
                    "EMPTY-ELEMENT",
                    "empty array: omit the element instead".into(),
                    "空の配列です。値がない場合は要素ごと省略してください".into(),
                );
            }
            if value.is_some() && under.is_some() && items_v.len() != items_u.len() {
                self.error(
                    IssueType::Structure,
                    "PRIMITIVE-EXTENSION-ALIGN",
                    format!(
                        "{key} and _{key} must have the same number of items ({} vs {})",
                        items_v.len(),
                        items_u.len()
                    ),
                    format!(
                        "{key} と _{key} の件数が一致しません（{} 件と {} 件）",
                        items_v.len(),
                        items_u.len()
                    ),
                );
            }
        }
        let count = items_v.len().max(items_u.len());
        if let Some(max) = cn.max {
            if max > 0 && count > max as usize {
                self.error(
                    IssueType::Structure,
                    "CARDINALITY-MAX",
                    format!("{} allows at most {max} item(s), found {count}", cn.path),
                    format!("{} は最大{max}件ですが、{count}件あります", cn.path),
                );
            }
        }
        if count < cn.min as usize && count > 0 {
            self.error(
                IssueType::Required,
                "CARDINALITY-MIN",
                format!(
                    "{} needs at least {} item(s), found {count}",
                    cn.path, cn.min
                ),
                format!("{} は最低{}件必要ですが、{count}件です", cn.path, cn.min),
            );
        }
        let base_len = self.path.len();
        for i in 0..count {
            if many {
                self.path.truncate(base_len);
                push_index(&mut self.path, i);
            }
            let v = items_v.get(i).filter(|v| !v.is_null());
            let u = items_u.get(i).filter(|v| !v.is_null());
            if v.is_none() && u.is_none() {
                self.error(
                    IssueType::Invalid,
                    "EMPTY-ELEMENT",
                    "null value: an element must have a value or an extension".into(),
                    "nullは使えません。値か拡張のどちらかが必要です".into(),
                );
                continue;
            }
            if is_prim {
                if let Some(v) = v {
                    self.base_primitive(type_code, v, cn);
                } else if !many && items_v.is_empty() && value.is_some() {
                    // `"x": null` outside an array.
                }
                if let Some(u) = u {
                    match u.as_object() {
                        Some(o) => {
                            if let Some(p) = self.defs.base_plan(type_code) {
                                // id + extension only; `value` is not a JSON member.
                                let saved = std::mem::take(&mut self.path);
                                self.path.push_str(&saved[..l]);
                                self.path.push_str("._");
                                self.path.push_str(key);
                                if many {
                                    push_index(&mut self.path, i);
                                }
                                self.base_children(o, &p, 0, false, (v, Some(u)));
                                self.path = saved;
                            }
                        }
                        None => self.error(
                            IssueType::Structure,
                            "PRIMITIVE-EXTENSION-SHAPE",
                            format!("_{key} must be an object with id and/or extension"),
                            format!(
                                "_{key} は id・extension を持つオブジェクトである必要があります"
                            ),
                        ),
                    }
                }
            } else if let Some(v) = v {
                if u.is_some() {
                    self.error(
                        IssueType::Structure,
                        "UNKNOWN-ELEMENT",
                        format!("_{key} is only allowed for primitive elements"),
                        format!("_{key} はプリミティブ型の要素にしか使えません"),
                    );
                }
                self.base_complex(v, ty, plan, node);
            } else {
                self.error(
                    IssueType::Structure,
                    "UNKNOWN-ELEMENT",
                    format!("_{key} is only allowed for primitive elements"),
                    format!("_{key} はプリミティブ型の要素にしか使えません"),
                );
            }
        }
        self.path.truncate(l);
    }

    fn base_primitive(&mut self, type_code: &str, v: &'a Value, node: &Node) {
        if let Err(e) = primitive::check(type_code, v) {
            self.error(IssueType::Value, "PRIMITIVE-FORMAT", e.en, e.ja);
            return;
        }
        if matches!(type_code, "canonical" | "uri") {
            if let Some(id) = v.as_str().and_then(|s| s.strip_prefix('#')) {
                self.note_local_ref(id);
            }
        }
        if let (Some(b), Some(code)) = (&node.binding, v.as_str()) {
            if b.strength == BindingStrength::Required && type_code == "code" {
                self.check_code(None, code, b, true);
            }
        }
        if type_code == "xhtml" {
            if let Some(s) = v.as_str() {
                // The namespace belongs in the opening <div> tag.
                let open_tag = s.find('>').map_or(s, |e| &s[..e]);
                if !open_tag.contains("xmlns=\"http://www.w3.org/1999/xhtml\"")
                    && !open_tag.contains("xmlns='http://www.w3.org/1999/xhtml'")
                {
                    self.error(
                        IssueType::Value,
                        "XHTML-NAMESPACE",
                        "the narrative div must declare xmlns=\"http://www.w3.org/1999/xhtml\""
                            .into(),
                        "narrativeのdivには xmlns=\"http://www.w3.org/1999/xhtml\" が必要です"
                            .into(),
                    );
                }
            }
        }
    }

    fn base_complex(&mut self, v: &'a Value, ty: Option<&TypeRef>, plan: &Arc<Plan>, node: NodeId) {
        let type_code: &str = ty.map(|t| &*t.code).unwrap_or("");
        let type_plan = ty.and_then(|t| t.base_plan(self.defs));
        let Some(obj) = v.as_object() else {
            self.error(
                IssueType::Structure,
                "JSON-SHAPE",
                format!("expected a JSON object ({type_code}), found a {}", v.kind()),
                format!(
                    "JSONオブジェクト（{type_code}型）が必要ですが、{}になっています",
                    v.kind()
                ),
            );
            return;
        };
        let cn = plan.node(node);
        if type_code == "Resource" || type_plan.is_some_and(|p| &*p.kind == "resource") {
            // A nested resource (contained, Bundle.entry.resource, Parameters…).
            let in_bundle_entry = cn.path.as_ref() == "Bundle.entry.resource";
            if in_bundle_entry {
                if let Some(b) = self.bundles.last_mut() {
                    b.entry = entry_index(&self.path);
                }
            }
            self.base_resource(v);
            return;
        }
        if !cn.children.is_empty() || cn.content_reference.is_some() {
            self.base_children(obj, plan, node, false, (Some(v), None));
        } else if let Some(p) = type_plan {
            self.base_children(obj, p, 0, false, (Some(v), None));
        }
        match type_code {
            "Extension" => self.extension_rules(v, obj),
            "Reference" => self.reference_rules(obj),
            "Attachment" => self.attachment_rules(obj),
            "Coding" | "CodeableConcept" => {
                if type_code == "Coding" {
                    self.coding_system_rules(obj);
                }
                if let Some(b) = &cn.binding {
                    if b.strength == BindingStrength::Required {
                        self.check_coded(v, type_code, b, true);
                    }
                }
            }
            _ => {}
        }
    }

    /// dom-6 (a resource should have a narrative; warning) and txt-1/txt-2 (the narrative is
    /// XHTML with content): evaluated natively because every resource carries them.
    fn narrative_rules(&mut self, res: &'a Value) {
        match res.pointer("text.div").and_then(Value::as_str) {
            None => {
                if self.speculative == 0 {
                    self.issues.push(Issue::new(
                        Severity::Warning,
                        IssueType::Invariant,
                        "INVARIANT",
                        self.path.clone(),
                        "constraint dom-6 failed: A resource should have narrative for robust management".to_string(),
                        "制約 dom-6 を満たしていません: リソースにはナラティブ（text）を付けることが推奨されます".to_string(),
                    ));
                }
            }
            Some(div) => {
                let t = div.trim();
                let well_formed = t.starts_with("<div") && t.ends_with("</div>");
                // Content: text, or any element inside the div.
                let inner = t
                    .split_once('>')
                    .map(|(_, rest)| rest.trim_end().trim_end_matches("</div>"))
                    .unwrap_or("");
                let has_content = !inner.trim().is_empty();
                if !well_formed || !has_content {
                    let at = format!("{}.text.div", self.path);
                    let (key, en, ja) = if !well_formed {
                        (
                            "txt-1",
                            "the narrative must be an XHTML <div> element",
                            "ナラティブは XHTML の <div> 要素である必要があります",
                        )
                    } else {
                        (
                            "txt-2",
                            "the narrative should contain some non-whitespace content",
                            "ナラティブには空白以外の内容が必要です",
                        )
                    };
                    self.issues.push(err(
                        IssueType::Invariant,
                        "INVARIANT",
                        &at,
                        format!("constraint {key} failed: {en}"),
                        format!("制約 {key} を満たしていません: {ja}"),
                    ));
                }
            }
        }
    }

    /// cmp-1 (a section has text, entries or sub-sections) and cmp-2 (emptyReason only when
    /// there are no entries), on every section.
    fn composition_rules(&mut self, res: &'a Value) {
        fn walk(run: &mut Run<'_>, sections: &[Value], at: &str) {
            for (i, sec) in sections.iter().enumerate() {
                let here = format!("{at}.section[{i}]");
                let has = |k: &str| sec.get(k).is_some();
                if !(has("text") || has("entry") || has("section")) {
                    run.issues.push(err(
                        IssueType::Invariant,
                        "INVARIANT",
                        &here,
                        "constraint cmp-1 failed: a section must contain at least one of text, entries, or sub-sections".into(),
                        "制約 cmp-1 を満たしていません: セクションには text、entry、sub-section のいずれかが必要です".into(),
                    ));
                }
                if has("emptyReason") && has("entry") {
                    run.issues.push(err(
                        IssueType::Invariant,
                        "INVARIANT",
                        &format!("{here}.emptyReason"),
                        "constraint cmp-2 failed: a section can only have an emptyReason if it is empty".into(),
                        "制約 cmp-2 を満たしていません: emptyReason は entry のないセクションにのみ指定できます".into(),
                    ));
                }
                if let Some(sub) = sec.get("section").and_then(Value::as_array) {
                    walk(run, sub, &here);
                }
            }
        }
        if let Some(sections) = res.get("section").and_then(Value::as_array) {
            let at = self.path.clone();
            walk(self, sections, &at);
        }
    }

    /// ras-2: a probability given as a decimal is at most 100.
    fn risk_assessment_rules(&mut self, res: &'a Value) {
        let Some(preds) = res.get("prediction").and_then(Value::as_array) else {
            return;
        };
        for (i, p) in preds.iter().enumerate() {
            let over = p
                .get("probabilityDecimal")
                .and_then(Value::as_number)
                .and_then(|n| n.parse::<f64>().ok())
                .is_some_and(|d| d > 100.0);
            if over {
                let at = format!("{}.prediction[{i}].probabilityDecimal", self.path);
                self.issues.push(err(
                    IssueType::Invariant,
                    "RAS-2",
                    &at,
                    "a probability must be at most 100 (ras-2)".into(),
                    "確率は100以下で指定してください（ras-2）".into(),
                ));
            }
        }
    }

    /// An extension whose definition is not loaded. With IG packages loaded that is an error
    /// (a mistyped or foreign URL cannot be checked and would be dropped by receivers);
    /// without packages nothing can be known, so it is only information.
    fn unknown_extension(&mut self, url: &str) {
        if self.speculative > 0 && !self.defs.has_packages() {
            return;
        }
        let mut at = self.path.clone();
        at.push_str(".url");
        let (severity, en, ja) = if self.defs.has_packages() {
            (
                Severity::Error,
                format!("extension {url} is not defined in FHIR R4 or the loaded IG packages; check the URL"),
                format!("拡張 {url} はFHIR R4にも読み込んだIGパッケージにも定義されていません。URLを確認してください"),
            )
        } else {
            (
                Severity::Information,
                format!("extension {url} was not checked: its definition is not loaded"),
                format!("拡張 {url} の定義が読み込まれていないため、検証していません"),
            )
        };
        self.issues.push(Issue::new(
            severity,
            IssueType::NotFound,
            "EXTENSION-UNKNOWN",
            at,
            en,
            ja,
        ));
    }

    /// `Coding.system` names a code system: an absolute URI, not a value set.
    fn coding_system_rules(&mut self, obj: &'a Object) {
        let Some(system) = obj.get("system").and_then(Value::as_str) else {
            return;
        };
        let l = self.path.len();
        self.path.push_str(".system");
        if !has_scheme(system) {
            self.error(
                IssueType::Value,
                "CODING-SYSTEM-ABSOLUTE",
                format!("Coding.system \"{system}\" must be an absolute URI"),
                format!("Coding.system\"{system}\"は絶対URIで指定してください"),
            );
        } else if self.defs.value_set(system).is_some() && self.defs.code_system(system).is_none() {
            self.error(
                IssueType::Value,
                "CODING-SYSTEM-VALUESET",
                format!("Coding.system \"{system}\" is a value set, not a code system"),
                format!("Coding.system\"{system}\"は値セットのURLです。コードシステムのURLを指定してください"),
            );
        } else if let Some(code) = obj.get("code").and_then(Value::as_str) {
            // A code system held in full locally should contain the code, bound or not (a
            // fabricated JLAC10 code in the InfectionLabo code system would otherwise pass
            // silently). A warning, not an error: published code systems lag behind their
            // own IGs (the checkup IG uses 53576-5, which doc-typecodes lacks); under a
            // required binding the code is an error anyway (BINDING-REQUIRED).
            let codes = match self.code_systems.get(system) {
                Some(c) => c.clone(),
                None => {
                    let c = crate::terminology::code_system_known(self.defs, system)
                        .then(|| crate::terminology::code_system_codes(self.defs, system));
                    self.code_systems.insert(system.into(), c.clone());
                    c
                }
            };
            if let Some(codes) = codes {
                if codes.contains(Some(system), code) == Membership::NotMember {
                    self.path.truncate(l);
                    self.path.push_str(".code");
                    self.issues.push(Issue::new(
                        Severity::Warning,
                        IssueType::CodeInvalid,
                        "CODE-UNKNOWN",
                        self.path.clone(),
                        format!("code \"{code}\" is not defined in code system {system}"),
                        format!("コード「{code}」はコードシステム {system} に定義されていません"),
                    ));
                }
            }
        }
        self.path.truncate(l);
    }

    /// `Attachment.size` must equal the size of inline `data`.
    fn attachment_rules(&mut self, obj: &'a Object) {
        let (Some(data), Some(size)) = (
            obj.get("data").and_then(Value::as_str),
            obj.get("size")
                .and_then(Value::as_number)
                .and_then(|n| n.parse::<u64>().ok()),
        ) else {
            return;
        };
        let chars = data.bytes().filter(|b| !b.is_ascii_whitespace()).count() as u64;
        let pad = data
            .bytes()
            .rev()
            .filter(|b| !b.is_ascii_whitespace())
            .take_while(|&b| b == b'=')
            .count() as u64;
        let actual = (chars / 4 * 3).saturating_sub(pad);
        if actual != size {
            let l = self.path.len();
            self.path.push_str(".size");
            self.error(
                IssueType::Value,
                "ATTACHMENT-SIZE",
                format!("Attachment.size is {size} but the data holds {actual} bytes"),
                format!("Attachment.size は{size}ですが、data は{actual}バイトです"),
            );
            self.path.truncate(l);
        }
    }

    fn extension_rules(&mut self, ext: &'a Value, obj: &'a Object) {
        let has_value = obj.keys().any(|k| k.starts_with("value"));
        let has_ext = obj.get("extension").is_some();
        if has_value == has_ext {
            self.error(
                IssueType::Invariant,
                "EXT-1",
                "an extension must have either extensions or a value[x], not both (ext-1)".into(),
                "拡張には extension か value[x] のどちらか一方だけを指定してください（ext-1）"
                    .into(),
            );
        }
        if let Some(url) = obj.get("url").and_then(Value::as_str) {
            // Known extensions are checked against their own definition.
            self.check_extension_definition(ext, url);
        }
    }

    fn check_extension_definition(&mut self, ext: &'a Value, url: &str) {
        let Some(plan) = self.plan_for(url) else {
            self.unknown_extension(url);
            return;
        };
        if &*plan.type_name != "Extension" || plan.is_base {
            return;
        }
        if !self
            .done
            .insert((ext as *const Value as usize, Arc::as_ptr(&plan) as usize))
        {
            return;
        }
        self.profile_children(ext.as_object(), &plan, 0);
    }

    fn reference_rules(&mut self, obj: &'a Object) {
        let Some(r) = obj.get("reference").and_then(Value::as_str) else {
            return;
        };
        match classify(r) {
            RefKind::Contained(id) => {
                self.note_local_ref(id);
                let container = self.container_of_current();
                if !id.is_empty() {
                    let found = container
                        .and_then(|c| c.get("contained"))
                        .and_then(Value::as_array)
                        .is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c.get("id").and_then(Value::as_str) == Some(id))
                        });
                    if !found {
                        let l = self.path.len();
                        self.path.push_str(".reference");
                        self.error(
                            IssueType::NotFound,
                            "REF-CONTAINED-MISSING",
                            format!(
                                "reference \"#{id}\" names no contained resource of this resource"
                            ),
                            format!("参照\"#{id}\"に対応する contained リソースがありません"),
                        );
                        self.path.truncate(l);
                    }
                }
            }
            RefKind::Other(s) if !s.starts_with('?') => {
                let l = self.path.len();
                self.path.push_str(".reference");
                self.error(
                    IssueType::Value,
                    "REF-FORMAT",
                    format!("reference \"{s}\" is not a valid reference (use Type/id, an absolute URL, urn:uuid: or #id)"),
                    format!("参照\"{s}\"の形式が不正です（Type/id、絶対URL、urn:uuid:、#id のいずれか）"),
                );
                self.path.truncate(l);
            }
            RefKind::Urn(u) => {
                // Inside a Bundle a urn reference should resolve to an entry. R4 leaves it a
                // warning; the JP-CLINS rules make it an error where the service requires it.
                if let Some(b) = self.bundles.last() {
                    let in_contained = self.resources.len() > self.bundles.len() + 1;
                    if b.index.resolve(u, b.entry).is_none() && !in_contained {
                        let mut at = self.path.clone();
                        at.push_str(".reference");
                        self.issues.push(Issue::new(
                            Severity::Warning,
                            IssueType::NotFound,
                            "REF-UNRESOLVED",
                            at,
                            format!("reference \"{u}\" does not match the fullUrl of any entry in the Bundle"),
                            format!("参照\"{u}\"に一致する fullUrl のエントリがBundle内にありません"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    /// The resource whose `contained` a `#id` reference points into: the nearest resource that
    /// is not itself contained.
    fn container_of_current(&self) -> Option<&'a Value> {
        self.resources
            .iter()
            .rev()
            .find(|f| !f.contained)
            .map(|f| f.resource)
    }

    /// Records a `#id` reference (or canonical) for the dom-3 check of the container.
    fn note_local_ref(&mut self, id: &'a str) {
        if let Some(f) = self.resources.iter_mut().rev().find(|f| !f.contained) {
            f.local_refs.push(id);
        }
    }

    fn contained_rules(&mut self, res: &'a Value) {
        let Some(cs) = res.get("contained").and_then(Value::as_array) else {
            return;
        };
        let refs: Vec<&str> = self
            .resources
            .last()
            .map(|f| f.local_refs.clone())
            .unwrap_or_default();
        let l = self.path.len();
        for (i, c) in cs.iter().enumerate() {
            self.path.truncate(l);
            self.path.push_str(&format!(".contained[{i}]"));
            if c.get("contained").is_some() {
                self.error(
                    IssueType::Invariant,
                    "DOM-2",
                    "a contained resource must not contain other resources (dom-2)".into(),
                    "contained リソースの中に contained は置けません（dom-2）".into(),
                );
            }
            if c.pointer("meta.versionId").is_some() || c.pointer("meta.lastUpdated").is_some() {
                self.error(
                    IssueType::Invariant,
                    "DOM-4",
                    "a contained resource must not have meta.versionId or meta.lastUpdated (dom-4)".into(),
                    "contained リソースに meta.versionId・meta.lastUpdated は指定できません（dom-4）".into(),
                );
            }
            if c.pointer("meta.security").is_some() {
                self.error(
                    IssueType::Invariant,
                    "DOM-5",
                    "a contained resource must not have security labels (dom-5)".into(),
                    "contained リソースにセキュリティラベルは指定できません（dom-5）".into(),
                );
            }
            let id = c.get("id").and_then(Value::as_str);
            match id {
                None => self.error(
                    IssueType::Required,
                    "CONTAINED-ID",
                    "a contained resource needs an id so that it can be referenced".into(),
                    "contained リソースには参照用の id が必要です".into(),
                ),
                Some(id) => {
                    let referenced = refs.contains(&id) || references_container(c);
                    if !referenced {
                        self.error(
                            IssueType::Invariant,
                            "DOM-3",
                            format!("contained resource \"{id}\" is not referenced from the resource that contains it (dom-3)"),
                            format!("contained リソース\"{id}\"が親リソースのどこからも参照されていません（dom-3）"),
                        );
                    }
                }
            }
        }
        self.path.truncate(l);
    }

    fn bundle_rules(&mut self, b: &'a Value) {
        let ty = b.get("type").and_then(Value::as_str).unwrap_or_default();
        let entries: &[Value] = b.get("entry").and_then(Value::as_array).unwrap_or(&[]);
        let root = self.path.clone();
        let push = |run: &mut Self, sub: &str, key: &'static str, en: String, ja: String| {
            run.issues.push(err(
                IssueType::Invariant,
                key,
                &format!("{root}{sub}"),
                en,
                ja,
            ));
        };
        if b.get("total").is_some() && !matches!(ty, "searchset" | "history") {
            push(
                self,
                ".total",
                "BDL-1",
                "total is only allowed in a searchset or history Bundle (bdl-1)".into(),
                "total は searchset・history のBundleでのみ使えます（bdl-1）".into(),
            );
        }
        if ty == "document" {
            if b.pointer("identifier.system").is_none() || b.pointer("identifier.value").is_none() {
                push(
                    self,
                    ".identifier",
                    "BDL-9",
                    "a document Bundle must have an identifier with system and value (bdl-9)"
                        .into(),
                    "文書Bundleには system と value を持つ identifier が必要です（bdl-9）".into(),
                );
            }
            if b.get("timestamp").is_none() {
                push(
                    self,
                    ".timestamp",
                    "BDL-10",
                    "a document Bundle must have a timestamp (bdl-10)".into(),
                    "文書Bundleには timestamp が必要です（bdl-10）".into(),
                );
            }
            let first = entries
                .first()
                .and_then(|e| e.pointer("resource.resourceType"))
                .and_then(Value::as_str);
            if first != Some("Composition") {
                push(
                    self,
                    ".entry[0]",
                    "BDL-11",
                    "the first entry of a document Bundle must be a Composition (bdl-11)".into(),
                    "文書Bundleの最初のエントリは Composition である必要があります（bdl-11）"
                        .into(),
                );
            }
        }
        if ty == "message" {
            let first = entries
                .first()
                .and_then(|e| e.pointer("resource.resourceType"))
                .and_then(Value::as_str);
            if first != Some("MessageHeader") {
                push(self, ".entry[0]", "BDL-12", "the first entry of a message Bundle must be a MessageHeader (bdl-12)".into(), "メッセージBundleの最初のエントリは MessageHeader である必要があります（bdl-12）".into());
            }
        }
        let mut seen: Vec<(&str, Option<&str>)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let at = format!(".entry[{i}]");
            if e.get("search").is_some() && ty != "searchset" {
                push(
                    self,
                    &format!("{at}.search"),
                    "BDL-2",
                    "entry.search is only allowed in a searchset Bundle (bdl-2)".into(),
                    "entry.search は searchset のBundleでのみ使えます（bdl-2）".into(),
                );
            }
            let needs_req = matches!(ty, "batch" | "transaction" | "history");
            if e.get("request").is_some() != needs_req {
                let (en, ja) = if needs_req {
                    (
                        format!("entry.request is required in a {ty} Bundle (bdl-3)"),
                        format!("{ty} のBundleでは entry.request が必要です（bdl-3）"),
                    )
                } else {
                    (
                        format!("entry.request is not allowed in a {ty} Bundle (bdl-3)"),
                        format!("{ty} のBundleでは entry.request は使えません（bdl-3）"),
                    )
                };
                push(self, &format!("{at}.request"), "BDL-3", en, ja);
            }
            let needs_resp = matches!(ty, "batch-response" | "transaction-response" | "history");
            if e.get("response").is_some() != needs_resp {
                let (en, ja) = if needs_resp {
                    (
                        format!("entry.response is required in a {ty} Bundle (bdl-4)"),
                        format!("{ty} のBundleでは entry.response が必要です（bdl-4）"),
                    )
                } else {
                    (
                        format!("entry.response is not allowed in a {ty} Bundle (bdl-4)"),
                        format!("{ty} のBundleでは entry.response は使えません（bdl-4）"),
                    )
                };
                push(self, &format!("{at}.response"), "BDL-4", en, ja);
            }
            if e.get("resource").is_none()
                && e.get("request").is_none()
                && e.get("response").is_none()
            {
                push(self, &at, "BDL-5", "an entry must have a resource unless it is a request or response (bdl-5)".into(), "エントリには resource が必要です（request・response のみの場合を除く）（bdl-5）".into());
            }
            if let Some(full) = e.get("fullUrl").and_then(Value::as_str) {
                if !has_scheme(full) {
                    push(
                        self,
                        &format!("{at}.fullUrl"),
                        "BUNDLE-FULLURL-ABSOLUTE",
                        format!("fullUrl \"{full}\" must be an absolute URL or a urn:uuid:/urn:oid: URI"),
                        format!("fullUrl\"{full}\"は絶対URLまたは urn:uuid:／urn:oid: で指定してください"),
                    );
                }
                if full.contains("/_history/") {
                    push(
                        self,
                        &format!("{at}.fullUrl"),
                        "BDL-8",
                        "fullUrl must not be a version-specific URL (bdl-8)".into(),
                        "fullUrl にバージョン指定のURLは使えません（bdl-8）".into(),
                    );
                }
                let version = e.pointer("resource.meta.versionId").and_then(Value::as_str);
                if ty != "history" && seen.iter().any(|(f, v)| *f == full && *v == version) {
                    push(
                        self,
                        &format!("{at}.fullUrl"),
                        "BDL-7",
                        format!("fullUrl \"{full}\" is used by more than one entry (bdl-7)"),
                        format!("fullUrl\"{full}\"が複数のエントリで使われています（bdl-7）"),
                    );
                }
                seen.push((full, version));
                if let (Some((_, t, id)), Some(res)) =
                    (fhir::reference::split_restful(full), e.get("resource"))
                {
                    let rt = res.get("resourceType").and_then(Value::as_str);
                    let rid = res.get("id").and_then(Value::as_str);
                    if rt == Some(t) && rid.is_some_and(|r| r != id) {
                        // A warning, as in the reference validator: the entry is still usable.
                        self.issues.push(Issue::new(
                            Severity::Warning,
                            IssueType::Invalid,
                            "BUNDLE-FULLURL-ID",
                            format!("{root}{at}.resource.id"),
                            format!(
                                "resource id \"{}\" does not match the fullUrl \"{full}\"",
                                rid.unwrap_or_default()
                            ),
                            format!(
                                "リソースid\"{}\"が fullUrl\"{full}\"と一致しません",
                                rid.unwrap_or_default()
                            ),
                        ));
                    }
                }
            }
        }
    }

    /// Rules of searchset Bundles (R4 §3.1.1.4 and the reference validator's checks).
    fn searchset_rules(&mut self, b: &'a Value, root: &str) {
        let links: &[Value] = b.get("link").and_then(Value::as_array).unwrap_or(&[]);
        let mut seen: Vec<&str> = Vec::new();
        let mut self_type: Option<&str> = None;
        for (i, l) in links.iter().enumerate() {
            let Some(rel) = l.get("relation").and_then(Value::as_str) else {
                continue;
            };
            if seen.contains(&rel) {
                self.issues.push(err(
                    IssueType::Invalid,
                    "BUNDLE-LINK-DUPLICATE",
                    &format!("{root}.link[{i}].relation"),
                    format!("link relation \"{rel}\" appears more than once"),
                    format!("リンクのrelation\"{rel}\"が重複しています"),
                ));
            }
            seen.push(rel);
            if rel == "self" {
                self_type = l
                    .get("url")
                    .and_then(Value::as_str)
                    .and_then(|u| u.split('?').next())
                    .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
                    .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_uppercase()));
            }
        }
        let entries: &[Value] = b.get("entry").and_then(Value::as_array).unwrap_or(&[]);
        for (i, e) in entries.iter().enumerate() {
            let mode = e.pointer("search.mode").and_then(Value::as_str);
            let rt = e.pointer("resource.resourceType").and_then(Value::as_str);
            match mode {
                Some("match") => {
                    if e.pointer("resource.id").is_none() && rt.is_some() {
                        self.issues.push(err(
                            IssueType::Required,
                            "BUNDLE-SEARCH-ID",
                            &format!("{root}.entry[{i}].resource"),
                            "a search match must have a resource id".into(),
                            "検索結果（match）のリソースには id が必要です".into(),
                        ));
                    }
                    if let (Some(t), Some(rt)) = (self_type, rt) {
                        if t != rt && is_resource_name(self.defs, t) {
                            self.issues.push(err(
                                IssueType::Invalid,
                                "BUNDLE-SEARCH-TYPE",
                                &format!("{root}.entry[{i}].resource"),
                                format!("a search match of a {t} search must be a {t}, not a {rt}"),
                                format!("{t}の検索結果（match）が{rt}になっています"),
                            ));
                        }
                    }
                }
                Some("outcome") if rt.is_some_and(|r| r != "OperationOutcome") => {
                    self.issues.push(err(
                        IssueType::Invalid,
                        "BUNDLE-SEARCH-OUTCOME",
                        &format!("{root}.entry[{i}].resource"),
                        "an entry with search.mode = outcome must be an OperationOutcome".into(),
                        "search.mode が outcome のエントリは OperationOutcome である必要があります"
                            .into(),
                    ));
                }
                _ => {}
            }
        }
    }

    fn check_coded(&mut self, v: &'a Value, type_code: &str, binding: &Binding, required: bool) {
        match type_code {
            "Coding" | "Quantity" => {
                let sys = v.get("system").and_then(Value::as_str);
                if let Some(code) = v.get("code").and_then(Value::as_str) {
                    let l = self.path.len();
                    self.path.push_str(".code");
                    self.check_code(sys, code, binding, required);
                    self.path.truncate(l);
                }
            }
            "CodeableConcept" => {
                let Some(codings) = v.get("coding").and_then(Value::as_array) else {
                    return;
                };
                let exp = binding.expansion(self.defs);
                let mut any = false;
                let mut unknown: Option<String> = None;
                for c in codings {
                    let Some(code) = c.get("code").and_then(Value::as_str) else {
                        continue;
                    };
                    any = true;
                    let s = c.get("system").and_then(Value::as_str);
                    match exp.contains(s, code) {
                        Membership::Member => return,
                        Membership::Unknown(why) => unknown = Some(why.to_string()),
                        Membership::NotMember => {
                            // A code system we do not have may still hold the code.
                            if let Some(s) = s {
                                if !exp.has_system(s)
                                    && !crate::terminology::code_system_known(self.defs, s)
                                    && required
                                {
                                    unknown =
                                        Some(format!("code system {s} is not available locally"));
                                }
                            }
                        }
                    }
                }
                if !any {
                    return;
                }
                let vs = &binding.value_set;
                let l = self.path.len();
                self.path.push_str(".coding[0].code");
                match unknown {
                    Some(why) => self.info_unchecked(vs, &why),
                    None => self.error(
                        IssueType::CodeInvalid,
                        "BINDING-REQUIRED",
                        format!("none of the codes is in the required value set {vs}"),
                        format!("必須の値セット {vs} に含まれるコードがありません"),
                    ),
                }
                self.path.truncate(l);
            }
            _ => {}
        }
    }

    fn info_unchecked(&mut self, vs: &str, why: &str) {
        if self.speculative > 0 {
            return;
        }
        self.issues.push(Issue::new(
            Severity::Information,
            IssueType::Informational,
            "BINDING-NOT-CHECKED",
            self.path.clone(),
            format!("code not checked against value set {vs}: {why}"),
            format!("値セット {vs} に対するコードの検証は行っていません（{why}）"),
        ));
    }

    fn check_code(&mut self, system: Option<&str>, code: &str, binding: &Binding, required: bool) {
        let exp = binding.expansion(self.defs);
        let vs = &binding.value_set;
        match exp.contains(system, code) {
            Membership::Member => {}
            Membership::Unknown(why) => self.info_unchecked(vs, why),
            Membership::NotMember => {
                if let Some(s) = system {
                    if !exp.has_system(s) && !crate::terminology::code_system_known(self.defs, s) {
                        self.info_unchecked(
                            vs,
                            &format!("code system {s} is not available locally"),
                        );
                        return;
                    }
                }
                if required {
                    let shown = match system {
                        Some(s) => format!("{s}#{code}"),
                        None => code.to_string(),
                    };
                    self.error(
                        IssueType::CodeInvalid,
                        "BINDING-REQUIRED",
                        format!("code {shown} is not in the required value set {vs}"),
                        format!("コード {shown} は必須の値セット {vs} に含まれていません"),
                    );
                }
            }
        }
    }

    // ------------------------------------------------------------------ pass 2: profiles

    fn profile_resource(&mut self, res: &'a Value, url: &str) {
        let Some(plan) = self.plan_for(url) else {
            if self.speculative == 0 && self.unknown_profiles.insert(url.to_string()) {
                let (en, ja) = if self.defs.has_packages() {
                    (
                        format!("profile {url} is not in the loaded IG packages, so it was not checked"),
                        format!("プロファイル {url} は読み込んだIGパッケージにないため、検証していません"),
                    )
                } else {
                    (
                        format!("profile {url} was not checked: no IG packages are loaded (use --ig DIR or CLINS_IG_PATH)"),
                        format!("IGパッケージが読み込まれていないため、プロファイル {url} は検証していません（--ig または CLINS_IG_PATH を指定してください）"),
                    )
                };
                // Without packages the run says once that profiles were not checked.
                let severity = if self.defs.has_packages() {
                    Severity::Warning
                } else {
                    Severity::Information
                };
                let mut at = self.path.clone();
                if let Some(i) = self.claim_at {
                    at.push_str(".meta.profile");
                    push_index(&mut at, i);
                }
                self.issues.push(Issue::new(
                    severity,
                    IssueType::NotFound,
                    "PROFILE-NOT-LOADED",
                    at,
                    en,
                    ja,
                ));
            }
            return;
        };
        if !self
            .done
            .insert((res as *const Value as usize, Arc::as_ptr(&plan) as usize))
        {
            return;
        }
        let rt = res
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let claim = self.claim_at.take();
        if &*plan.type_name != rt {
            let l = self.path.len();
            if let Some(i) = claim {
                self.path.push_str(".meta.profile");
                push_index(&mut self.path, i);
            }
            self.error(
                IssueType::Invalid,
                "PROFILE-TYPE",
                format!(
                    "profile {url} is for {}, but this is a {rt}",
                    plan.type_name
                ),
                format!(
                    "プロファイル {url} は{}用ですが、このリソースは{rt}です",
                    plan.type_name
                ),
            );
            self.path.truncate(l);
            return;
        }
        if plan.is_base {
            return;
        }
        let contained = is_contained_path(&self.path);
        self.resources.push(ResourceFrame {
            resource: res,
            contained,
            local_refs: Vec::new(),
        });
        let pushed_bundle =
            rt == "Bundle" && !self.bundles.iter().any(|b| std::ptr::eq(b.bundle, res));
        if pushed_bundle {
            let index = self.bundle_index(res);
            self.bundles.push(BundleFrame {
                index,
                entry: None,
                bundle: res,
            });
        }
        let rt_owned = rt.to_string();
        self.check_invariants(plan.root(), Some(res), None, &rt_owned, &rt_owned);
        self.profile_children(res.as_object(), &plan, 0);
        if pushed_bundle {
            self.bundles.pop();
        }
        self.resources.pop();
    }

    /// Checks the members of `obj` (absent = no members) against the children of `node`.
    fn profile_children(&mut self, obj: Option<&'a Object>, plan: &Arc<Plan>, node: NodeId) {
        if plan.node(node).active_children.is_empty() || self.saturated() {
            return;
        }
        // Which child each member belongs to, found once per member.
        let mut members = self.member_bufs.pop().unwrap_or_default();
        if let Some(o) = obj {
            for (k, v) in o.iter() {
                let name = k.strip_prefix('_').unwrap_or(k);
                if let Some((c, _)) = plan.child_for_key(node, name) {
                    members.push((c, k, v));
                }
            }
        }
        for &c in &plan.node(node).active_children {
            let cn = plan.node(c);
            let mut items = self.item_bufs.pop().unwrap_or_default();
            collect_items(&members, c, &mut items);
            if cn.choice {
                // A type the profile removed from value[x].
                if let Some(o) = obj {
                    for (k, _) in o.iter() {
                        let k2 = k.strip_prefix('_').unwrap_or(k);
                        if let Some(sfx) = k2.strip_prefix(&*cn.name) {
                            if sfx.starts_with(|ch: char| ch.is_ascii_uppercase())
                                && cn.matches_key(k2).is_none()
                            {
                                let l = self.path.len();
                                self.path.push('.');
                                self.path.push_str(k);
                                self.error(
                                    IssueType::Structure,
                                    "PROFILE-TYPE-NOT-ALLOWED",
                                    format!("{k} is not allowed by profile {}: {}[x] may only be {}", plan.name, cn.name, type_list(cn)),
                                    format!("{k} はプロファイル {} で許可されていません（{}[x] は {} のみ）", plan.name, cn.name, type_list(cn)),
                                );
                                self.path.truncate(l);
                            }
                        }
                    }
                }
            }
            self.check_count(cn, items.len(), &items, plan);
            if !cn.is_prohibited() {
                if cn.slicing.is_some() && !cn.slices.is_empty() {
                    self.profile_sliced(&items, plan, c);
                } else {
                    for it in &items {
                        self.profile_item(it, plan, c);
                    }
                }
            }
            items.clear();
            self.item_bufs.push(items);
        }
        members.clear();
        self.member_bufs.push(members);
    }

    fn check_count(&mut self, cn: &Node, count: usize, items: &[Item<'a>], plan: &Plan) {
        if count < cn.min as usize {
            let l = self.path.len();
            self.path.push('.');
            self.path.push_str(&cn.name);
            if let Some(s) = &cn.slice_name {
                let _ = s;
            }
            let (what_en, what_ja) = match &cn.slice_name {
                Some(s) => (
                    format!("{} (slice {s})", cn.path),
                    format!("{}（スライス {s}）", cn.path),
                ),
                None => (cn.path.to_string(), cn.path.to_string()),
            };
            let ms = if cn.must_support {
                "CLINS-MS-REQUIRED"
            } else {
                "PROFILE-MIN"
            };
            self.error(
                IssueType::Required,
                ms,
                format!(
                    "{what_en} is required by profile {} (minimum {}), found {count}",
                    plan.name, cn.min
                ),
                format!(
                    "{what_ja} はプロファイル {} で必須です（最小{}件、現在{count}件）",
                    plan.name, cn.min
                ),
            );
            self.path.truncate(l);
        }
        if let Some(max) = cn.max {
            if count > max as usize {
                let at = items
                    .get(max as usize)
                    .map(|i| i.expr(&self.path))
                    .unwrap_or_else(|| self.path.clone());
                let (what_en, what_ja) = match &cn.slice_name {
                    Some(s) => (
                        format!("{} (slice {s})", cn.path),
                        format!("{}（スライス {s}）", cn.path),
                    ),
                    None => (cn.path.to_string(), cn.path.to_string()),
                };
                let (en, ja) = if max == 0 {
                    (
                        format!("{what_en} is not allowed by profile {}", plan.name),
                        format!("{what_ja} はプロファイル {} で使用できません", plan.name),
                    )
                } else {
                    (
                        format!(
                            "{what_en} allows at most {max} item(s) in profile {}, found {count}",
                            plan.name
                        ),
                        format!(
                            "{what_ja} はプロファイル {} で最大{max}件ですが、{count}件あります",
                            plan.name
                        ),
                    )
                };
                self.issues
                    .push(err(IssueType::Structure, "PROFILE-MAX", &at, en, ja));
            }
        }
    }

    fn profile_sliced(&mut self, items: &[Item<'a>], plan: &Arc<Plan>, node: NodeId) {
        let cn = plan.node(node);
        let Some(slicing) = cn.slicing.clone() else {
            return;
        };
        let slices = cn.slices.clone();
        let mut assigned: Vec<Option<usize>> = Vec::with_capacity(items.len());
        for it in items {
            let mut hit = None;
            for (si, &s) in slices.iter().enumerate() {
                if self.slice_matches(it, plan, s, &slicing.discriminators) {
                    hit = Some(si);
                    break;
                }
            }
            assigned.push(hit);
        }
        // Order and closed/openAtEnd rules.
        let mut last_slice = 0usize;
        let mut seen_unsliced = false;
        for (it, a) in items.iter().zip(&assigned) {
            match a {
                Some(si) => {
                    if slicing.ordered && *si < last_slice {
                        self.issues.push(err(
                            IssueType::Structure,
                            "SLICE-ORDER",
                            &it.expr(&self.path),
                            format!(
                                "{} slices must appear in the order of the profile {}",
                                cn.path, plan.name
                            ),
                            format!(
                                "{} のスライスはプロファイル {} の順序で記述してください",
                                cn.path, plan.name
                            ),
                        ));
                    }
                    last_slice = last_slice.max(*si);
                    if seen_unsliced && slicing.rules == SlicingRules::OpenAtEnd {
                        self.issues.push(err(
                            IssueType::Structure,
                            "SLICE-OPEN-AT-END",
                            &it.expr(&self.path),
                            format!("{}: items that match no slice must come after all slices (openAtEnd)", cn.path),
                            format!("{}: どのスライスにも該当しない要素は、スライスの後に置いてください（openAtEnd）", cn.path),
                        ));
                    }
                }
                None => {
                    seen_unsliced = true;
                    if slicing.rules == SlicingRules::Closed {
                        let names: Vec<&str> = slices
                            .iter()
                            .filter_map(|&s| plan.node(s).slice_name.as_deref())
                            .collect();
                        self.issues.push(err(
                            IssueType::Structure,
                            "SLICE-CLOSED",
                            &it.expr(&self.path),
                            format!(
                                "this {} matches none of the slices allowed by profile {} ({}); the slicing is closed",
                                cn.name,
                                plan.name,
                                names.join(", ")
                            ),
                            format!(
                                "この{}はプロファイル {} のどのスライス（{}）にも該当しません（閉じたスライス）",
                                cn.name,
                                plan.name,
                                names.join("、")
                            ),
                        ));
                    } else {
                        self.profile_item(it, plan, node);
                    }
                }
            }
        }
        for (si, &s) in slices.iter().enumerate() {
            let sn = plan.node(s);
            let mine: Vec<Item<'a>> = items
                .iter()
                .zip(&assigned)
                .filter(|(_, a)| **a == Some(si))
                .map(|(i, _)| i.clone())
                .collect();
            self.check_count(sn, mine.len(), &mine, plan);
            for it in &mine {
                self.profile_item(it, plan, s);
            }
        }
    }

    fn slice_matches(
        &mut self,
        it: &Item<'a>,
        plan: &Arc<Plan>,
        slice: NodeId,
        discs: &[crate::plan::Discriminator],
    ) -> bool {
        let sn = plan.node(slice);
        if sn.slice_tests.is_empty() {
            return false;
        }
        for (d, test) in discs.iter().zip(&sn.slice_tests) {
            let values = eval_path(it, &d.segments, self);
            let ok = match test {
                SliceTest::Unknown => false,
                SliceTest::Any => true,
                SliceTest::Value(exp) => values.iter().any(|v| matches_pattern(v, exp)),
                SliceTest::Binding(vs) => values.iter().any(|v| {
                    codes_of(v)
                        .iter()
                        .any(|(s, c)| expand(self.defs, vs).contains(*s, c) == Membership::Member)
                }),
                SliceTest::Exists(want) => values.is_empty() != *want,
                SliceTest::Types(names) => {
                    if d.segments.is_empty() {
                        // For a choice element the JSON key names the type (`valueQuantity`).
                        match it.key.strip_prefix(&*sn.name).filter(|_| sn.choice) {
                            Some(suffix) => names
                                .iter()
                                .any(|n| crate::plan::type_suffix_matches(n, suffix)),
                            None => {
                                let t = it.type_name(sn);
                                names.iter().any(|n| **n == *t)
                            }
                        }
                    } else {
                        values.iter().any(|v| {
                            v.get("resourceType")
                                .and_then(Value::as_str)
                                .is_some_and(|rt| names.iter().any(|n| **n == *rt))
                        })
                    }
                }
                SliceTest::Profiles { profiles, .. } => values
                    .iter()
                    .any(|v| profiles.iter().any(|p| self.conforms(v, p))),
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// Whether a resource (or element) conforms to a profile; used to match slices.
    fn conforms(&mut self, v: &'a Value, profile: &str) -> bool {
        let Some(plan) = self.plan_for(profile) else {
            return false;
        };
        if let Some(rt) = v.get("resourceType").and_then(Value::as_str) {
            if rt != &*plan.type_name {
                return false;
            }
            // A resource that claims the profile is taken at its word here; the claim itself
            // is validated in full.
            let claims = v
                .pointer("meta.profile")
                .and_then(Value::as_array)
                .is_some_and(|ps| {
                    ps.iter()
                        .filter_map(Value::as_str)
                        .any(|p| unversioned(p) == unversioned(profile))
                });
            if claims {
                return true;
            }
        }
        let key = (v as *const Value as usize, Arc::as_ptr(&plan) as usize);
        if let Some(&known) = self.conforms_cache.get(&key) {
            return known;
        }
        let saved_issues = self.issues.len();
        let saved_path = self.path.len();
        self.speculative += 1;
        // A speculative check starts from a clean slate and leaves no trace.
        let done_before = std::mem::take(&mut self.done);
        if v.get("resourceType").is_some() {
            self.profile_resource(v, profile);
        } else {
            self.profile_children(v.as_object(), &plan, 0);
        }
        self.speculative -= 1;
        self.done = done_before;
        let ok = !self.issues[saved_issues..]
            .iter()
            .any(|i| i.severity.is_error());
        self.issues.truncate(saved_issues);
        self.path.truncate(saved_path);
        self.conforms_cache.insert(key, ok);
        ok
    }

    fn profile_item(&mut self, it: &Item<'a>, plan: &Arc<Plan>, node: NodeId) {
        let cn = plan.node(node);
        let l = self.path.len();
        it.push_path(&mut self.path);
        if cn.has_foreign_constraints {
            let t = it.type_name(cn).to_string();
            let backbone = matches!(t.as_str(), "BackboneElement" | "Element");
            let key = if backbone {
                cn.path.to_string()
            } else {
                t.clone()
            };
            self.check_invariants(cn, it.value, it.under, &t, &key);
        }
        let type_name = it.type_name(cn);
        // fixed / pattern
        if let Some(v) = it.value {
            if let Some(fx) = &cn.fixed {
                if !values_equal(v, fx) {
                    self.error(
                        IssueType::Value,
                        "PROFILE-FIXED",
                        format!(
                            "value must be exactly {} (profile {})",
                            fhir::json::to_string(fx),
                            plan.name
                        ),
                        format!(
                            "値は {} でなければなりません（プロファイル {}）",
                            fhir::json::to_string(fx),
                            plan.name
                        ),
                    );
                }
            }
            if let Some(pt) = &cn.pattern {
                if !matches_pattern(v, pt) {
                    self.error(
                        IssueType::Value,
                        "PROFILE-PATTERN",
                        format!(
                            "value must match {} (profile {})",
                            fhir::json::to_string(pt),
                            plan.name
                        ),
                        format!(
                            "値は {} に一致する必要があります（プロファイル {}）",
                            fhir::json::to_string(pt),
                            plan.name
                        ),
                    );
                }
            }
            if let (Some(max), Some(s)) = (cn.max_length, v.as_str()) {
                let n = s.chars().count();
                if n > max {
                    self.error(
                        IssueType::TooLong,
                        "PROFILE-MAX-LENGTH",
                        format!(
                            "value is {n} characters long; profile {} allows at most {max}",
                            plan.name
                        ),
                        format!(
                            "値が{n}文字です。プロファイル {} では最大{max}文字です",
                            plan.name
                        ),
                    );
                }
            }
            if let Some((t, min)) = &cn.min_value {
                if let Some(false) = crate::bounds::within(v, t, min, true) {
                    self.error(
                        IssueType::Value,
                        "PROFILE-MIN-VALUE",
                        format!(
                            "value {} is below the minimum {} allowed by profile {}",
                            fhir::json::to_string(v),
                            fhir::json::to_string(min),
                            plan.name
                        ),
                        format!(
                            "値 {} はプロファイル {} の最小値 {} を下回っています",
                            fhir::json::to_string(v),
                            plan.name,
                            fhir::json::to_string(min)
                        ),
                    );
                }
            }
            if let Some((t, max)) = &cn.max_value {
                if let Some(false) = crate::bounds::within(v, t, max, false) {
                    self.error(
                        IssueType::Value,
                        "PROFILE-MAX-VALUE",
                        format!(
                            "value {} is above the maximum {} allowed by profile {}",
                            fhir::json::to_string(v),
                            fhir::json::to_string(max),
                            plan.name
                        ),
                        format!(
                            "値 {} はプロファイル {} の最大値 {} を超えています",
                            fhir::json::to_string(v),
                            plan.name,
                            fhir::json::to_string(max)
                        ),
                    );
                }
            }
            if let Some(b) = &cn.binding {
                if b.strength == BindingStrength::Required && !plan.is_base {
                    if type_name == "code" {
                        if let Some(c) = v.as_str() {
                            self.check_code(None, c, b, true);
                        }
                    } else {
                        self.check_coded(v, type_name, b, true);
                    }
                }
            }
        }
        // Types: profiles of the value's type (extensions, datatype profiles, entry resources).
        let ty = cn
            .types
            .iter()
            .find(|t| *t.code == *type_name)
            .or(cn.single_type());
        if let Some(t) = ty {
            if !t.profiles.is_empty() {
                if let Some(v) = it.value {
                    let ps = t.profiles.clone();
                    self.profile_typed(v, &ps);
                }
            }
            if !t.target_profiles.is_empty() && &*t.code == "Reference" {
                if let Some(v) = it.value {
                    let tps = t.target_profiles.clone();
                    self.check_target(v, &tps, plan);
                }
            }
        }
        // Children constrained by the profile.
        if !cn.children.is_empty() {
            let obj = if primitive::is_primitive(type_name) {
                it.under.and_then(Value::as_object)
            } else {
                it.value.and_then(Value::as_object)
            };
            if it.value.is_some_and(|v| v.get("resourceType").is_some()) {
                // Resource-typed element with children in the snapshot (rare): skip.
            } else {
                self.profile_children(obj, plan, node);
            }
        }
        self.path.truncate(l);
    }

    fn profile_typed(&mut self, v: &'a Value, profiles: &[Box<str>]) {
        if v.get("resourceType").is_some() {
            // Entry resource slices: the resource must conform to one of the profiles.
            match profiles {
                [p] => self.profile_resource(v, p),
                _ => {
                    let any = profiles.iter().any(|p| self.conforms(v, p));
                    if !any {
                        let list: Vec<&str> = profiles.iter().map(|p| &**p).collect();
                        self.error(
                            IssueType::Invalid,
                            "PROFILE-NO-MATCH",
                            format!(
                                "the resource conforms to none of the profiles {}",
                                list.join(", ")
                            ),
                            format!(
                                "リソースはプロファイル {} のいずれにも適合しません",
                                list.join("、")
                            ),
                        );
                    }
                }
            }
            return;
        }
        for p in profiles {
            let Some(plan) = self.plan_for(p) else {
                if self.speculative == 0 && self.unknown_profiles.insert(p.to_string()) {
                    self.issues.push(Issue::new(
                        Severity::Information,
                        IssueType::NotFound,
                        "PROFILE-NOT-LOADED",
                        self.path.clone(),
                        format!("profile {p} is not loaded; the element was checked against its base type only"),
                        format!("プロファイル {p} が読み込まれていないため、基本型のみで検証しました"),
                    ));
                }
                continue;
            };
            if plan.is_base {
                continue;
            }
            if !self
                .done
                .insert((v as *const Value as usize, Arc::as_ptr(&plan) as usize))
            {
                break;
            }
            let t = plan.type_name.to_string();
            self.check_invariants(plan.root(), Some(v), None, &t, &t);
            self.profile_children(v.as_object(), &plan, 0);
            // Only the first profile is enforced for a datatype with several (rare).
            break;
        }
    }

    fn check_target(&mut self, v: &'a Value, targets: &[Box<str>], _plan: &Plan) {
        let Some(r) = v.get("reference").and_then(Value::as_str) else {
            return;
        };
        let target = self.resolve(r);
        // The type: from the resolved resource, or else from a `Type/id` reference itself.
        let rt: &str = match target
            .and_then(|t| t.get("resourceType"))
            .and_then(Value::as_str)
        {
            Some(rt) => rt,
            None => match classify(r) {
                RefKind::Relative { resource_type, .. } => resource_type,
                RefKind::Absolute(u) => match fhir::reference::split_restful(u) {
                    Some((_, t, _)) => t,
                    None => return,
                },
                _ => return,
            },
        };
        let mut types = Vec::new();
        let mut profiles = Vec::new();
        for t in targets {
            let ty = match t.strip_prefix("http://hl7.org/fhir/StructureDefinition/") {
                Some(base) if is_resource_name(self.defs, base) || base == "Resource" => {
                    base.to_string()
                }
                _ => match self.plan_for(t) {
                    Some(p) => {
                        if &*p.type_name == rt {
                            profiles.push(t.clone());
                        }
                        p.type_name.to_string()
                    }
                    None => continue,
                },
            };
            types.push(ty);
        }
        if types.is_empty() {
            return;
        }
        let l = self.path.len();
        self.path.push_str(".reference");
        if !types.iter().any(|t| t == rt || t == "Resource") {
            self.error(
                IssueType::Invalid,
                "REF-TARGET-TYPE",
                format!(
                    "the reference points to a {rt}, but only {} is allowed here",
                    types.join(" or ")
                ),
                format!(
                    "参照先が{rt}ですが、ここでは{}のみ参照できます",
                    types.join("・")
                ),
            );
        } else if let Some(target) = target {
            // A target profile beyond the base type: the resource must conform to one of them.
            let plain_type_allowed = targets.iter().any(|t| {
                t.strip_prefix("http://hl7.org/fhir/StructureDefinition/") == Some(rt)
                    || t.as_ref() == "http://hl7.org/fhir/StructureDefinition/Resource"
            });
            if !plain_type_allowed
                && !profiles.is_empty()
                && !profiles.iter().any(|p| self.conforms(target, p))
            {
                let list: Vec<&str> = profiles.iter().map(|p| &**p).collect();
                self.error(
                    IssueType::Invalid,
                    "REF-TARGET-PROFILE",
                    format!(
                        "the referenced {rt} does not conform to the required profile {}",
                        list.join(" or ")
                    ),
                    format!(
                        "参照先の{rt}が必要なプロファイル {} に適合しません",
                        list.join("・")
                    ),
                );
            }
        }
        self.path.truncate(l);
    }

    /// Resolves a reference within the current resource (contained) or Bundle.
    fn resolve(&self, r: &str) -> Option<&'a Value> {
        match classify(r) {
            RefKind::Contained(id) => {
                let res = self.resources.last()?.resource;
                res.get("contained")?
                    .as_array()?
                    .iter()
                    .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
            }
            _ => {
                let b = self.bundles.last()?;
                let i = b.index.resolve(r, entry_index(&self.path))?;
                b.bundle.get("entry")?.as_array()?.get(i)?.get("resource")
            }
        }
    }
}

/// Appends `[i]` without the formatting machinery (this runs for every array element).
fn push_index(path: &mut String, i: usize) {
    let mut digits = [0u8; 20];
    let mut n = i;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    path.push('[');
    for d in digits[..len].iter().rev() {
        path.push(char::from(*d));
    }
    path.push(']');
}

/// Resources that are DomainResources (all but Bundle, Binary and Parameters in R4).
fn is_domain_resource(rt: &str) -> bool {
    !matches!(rt, "Bundle" | "Binary" | "Parameters")
}

fn key_hash(key: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = crate::definitions::FastHash::default().build_hasher();
    h.write(key.as_bytes());
    h.finish()
}

/// Whether the path ends in `.contained[i]` (the resource being entered is contained).
fn is_contained_path(path: &str) -> bool {
    let Some(open) = path.strip_suffix(']').and_then(|p| p.rfind('[')) else {
        return false;
    };
    path[..open].ends_with(".contained")
}

fn has_scheme(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn is_resource_name(defs: &Definitions, t: &str) -> bool {
    defs.base_plan(t)
        .is_some_and(|p| &*p.kind == "resource" && p.is_base)
}

fn type_list(n: &Node) -> String {
    n.types
        .iter()
        .map(|t| choice_key(&n.name, &t.code))
        .collect::<Vec<_>>()
        .join(", ")
}

fn references_container(c: &Value) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::Object(o) => o
                .iter()
                .any(|(k, x)| (k == "reference" && x.as_str() == Some("#")) || walk(x)),
            Value::Array(a) => a.iter().any(walk),
            _ => false,
        }
    }
    walk(c)
}

/// `Bundle.entry[3].resource…` → 3 (the outermost entry index in the path).
fn entry_index(path: &str) -> Option<usize> {
    let start = match path.strip_prefix("Bundle.entry[") {
        Some(rest) => path.len() - rest.len(),
        None => path.find(".entry[")? + ".entry[".len(),
    };
    let end = path[start..].find(']')? + start;
    path[start..end].parse().ok()
}

/// A member of an object in the base pass: `name` and/or `_name`.
struct Member<'a> {
    node: NodeId,
    name: &'a str,
    type_index: Option<usize>,
    value: Option<&'a Value>,
    under: Option<&'a Value>,
}

/// One occurrence of an element: the JSON value and/or its `_` sibling.
#[derive(Clone)]
struct Item<'a> {
    key: &'a str,
    index: Option<usize>,
    value: Option<&'a Value>,
    under: Option<&'a Value>,
}

impl<'a> Item<'a> {
    fn push_path(&self, path: &mut String) {
        path.push('.');
        path.push_str(self.key);
        if let Some(i) = self.index {
            push_index(path, i);
        }
    }
    fn expr(&self, base: &str) -> String {
        let mut s = base.to_string();
        self.push_path(&mut s);
        s
    }
    /// The FHIR type of this occurrence (from the JSON key for choice elements).
    fn type_name<'n>(&self, node: &'n Node) -> &'n str
    where
        'a: 'n,
    {
        if let [t] = node.types.as_slice() {
            if !node.choice && &*t.code != "Resource" {
                return &t.code;
            }
        }
        if node.choice {
            if let Some(t) = node.types.iter().find(|t| {
                self.key
                    .strip_prefix(&*node.name)
                    .is_some_and(|s| crate::plan::type_suffix_matches(&t.code, s))
            }) {
                return &t.code;
            }
        }
        if let Some(rt) = self
            .value
            .and_then(|v| v.get("resourceType"))
            .and_then(Value::as_str)
        {
            return rt;
        }
        node.types.first().map(|t| &*t.code).unwrap_or_default()
    }
}

/// The items of child `node` among `members`, appended to `out`.
fn collect_items<'a>(
    members: &[(NodeId, &'a str, &'a Value)],
    node: NodeId,
    out: &mut Vec<Item<'a>>,
) {
    for (i, (c, k, v)) in members.iter().enumerate() {
        if *c != node {
            continue;
        }
        if let Some(name) = k.strip_prefix('_') {
            // `_x` without `x`.
            if !members.iter().any(|(c2, k2, _)| *c2 == node && *k2 == name) {
                push_items(out, name, None, Some(v));
            }
            continue;
        }
        let under = members[i + 1..]
            .iter()
            .chain(&members[..i])
            .find(|(c2, k2, _)| *c2 == node && k2.strip_prefix('_') == Some(k))
            .map(|(_, _, u)| *u);
        push_items(out, k, Some(v), under);
    }
}

fn push_items<'a>(
    out: &mut Vec<Item<'a>>,
    key: &'a str,
    v: Option<&'a Value>,
    u: Option<&'a Value>,
) {
    let arr = matches!(v, Some(Value::Array(_))) || matches!(u, Some(Value::Array(_)));
    if !arr {
        out.push(Item {
            key,
            index: None,
            value: v.filter(|x| !x.is_null()),
            under: u,
        });
        return;
    }
    let vs: &[Value] = v.map(Value::items).unwrap_or(&[]);
    let us: &[Value] = u.map(Value::items).unwrap_or(&[]);
    for i in 0..vs.len().max(us.len()) {
        out.push(Item {
            key,
            index: Some(i),
            value: vs.get(i).filter(|x| !x.is_null()),
            under: us.get(i).filter(|x| !x.is_null()),
        });
    }
}

/// Evaluates a discriminator path (the FHIRPath subset slicing uses) on an item.
fn eval_path<'a>(it: &Item<'a>, segments: &[Box<str>], run: &Run<'a>) -> Vec<&'a Value> {
    let mut cur: Vec<&'a Value> = it.value.into_iter().collect();
    for seg in segments {
        let seg: &str = seg;
        let mut next = Vec::new();
        if seg == "$this" {
            continue;
        } else if seg == "resolve()" {
            for v in &cur {
                if let Some(r) = v.get("reference").and_then(Value::as_str) {
                    if let Some(t) = run.resolve(r) {
                        next.push(t);
                    }
                }
            }
        } else if let Some(url) = seg
            .strip_prefix("extension(")
            .and_then(|s| s.strip_suffix(')'))
        {
            let url = url.trim_matches(|c| c == '\'' || c == '"');
            for v in &cur {
                for x in v.get("extension").map(Value::items).unwrap_or(&[]) {
                    if x.get("url").and_then(Value::as_str) == Some(url) {
                        next.push(x);
                    }
                }
            }
        } else if let Some(t) = seg
            .strip_prefix("ofType(")
            .and_then(|s| s.strip_suffix(')'))
        {
            // Applied to the previous name: keep values reached through name + Type.
            next = cur.clone();
            let _ = t;
        } else {
            for v in &cur {
                if let Some(o) = v.as_object() {
                    for (k, x) in o.iter() {
                        let hit = k == seg
                            || (k.len() > seg.len()
                                && k.starts_with(seg)
                                && k[seg.len()..].starts_with(|c: char| c.is_ascii_uppercase()));
                        if hit {
                            next.extend(x.items().iter());
                        }
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

fn codes_of(v: &Value) -> Vec<(Option<&str>, &str)> {
    if let Some(c) = v.as_str() {
        return vec![(None, c)];
    }
    let mut out = Vec::new();
    if let Some(code) = v.get("code").and_then(Value::as_str) {
        out.push((v.get("system").and_then(Value::as_str), code));
    }
    for c in v.get("coding").map(Value::items).unwrap_or(&[]) {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            out.push((c.get("system").and_then(Value::as_str), code));
        }
    }
    out
}

/// Exact equality for fixed values: object member order does not matter, array order does.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| values_equal(v, w))
        }
        _ => a == b,
    }
}

/// FHIR pattern matching: every member of the pattern is present in the value (arrays: each
/// pattern item matches some value item).
pub fn matches_pattern(v: &Value, p: &Value) -> bool {
    match (v, p) {
        (Value::Object(vo), Value::Object(po)) => po
            .iter()
            .all(|(k, pv)| vo.get(k).is_some_and(|vv| matches_pattern(vv, pv))),
        (Value::Array(va), Value::Array(pa)) => pa
            .iter()
            .all(|pi| va.iter().any(|vi| matches_pattern(vi, pi))),
        (Value::Array(va), pi) => va.iter().any(|vi| matches_pattern(vi, pi)),
        (a, b) => a == b,
    }
}
