//! The mutation suite: every valid JP-CLINS example, corrupted in many ways, must be rejected
//! with an error that points at the corrupted element.
//!
//! Examples: the official clinical-core Bundles (Observations, Referral, PCS), the eCheckupReport
//! Bundle, every valid clinical-core stand-alone resource, and the project's
//! `examples/clins-condition-bundle.json` and `examples/clins-allergy-bundle.json`.
//!
//! Each mutation kind looks for something it can corrupt in the example (an element of the
//! right type, a profile-required element, a Patient's insurance ID, a section…). It is
//! *applicable* when it finds one. Each mutant records the expression `E` of the element it
//! corrupted (the expression convention of docs/architecture.md: root type, an index on every
//! array item, JSON key names). A mutant passes when the validator (R4 + JP packages + JP-CLINS
//! rules) reports at least one `error`/`fatal` issue whose expression
//!
//! - equals `E`, or starts with `E.` or `E[` (the problem is inside the corrupted element), or
//! - only for mutants that remove an item from a list, or move an item out of a slice by
//!   changing its discriminator (the MEDIS / resource-identifier / JLAC local-code system
//!   changes and the removed 910 section): equals the path of that list (`…code.coding`,
//!   `…identifier`, `…section`), because a violated slice or list cardinality is reported on
//!   the list, where the missing item should be. This is the only tolerance.
//!
//! The suite prints the table examples × kinds and the totals, and asserts that every example
//! has at least 15 applicable kinds and that 100% of the mutants are rejected with a matching
//! expression. Failing mutants are printed with their kind, path and our issues.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use conformance::plan::{NodeId, Plan, SliceTest};
use conformance::terminology::{expand, Expansion};
use conformance::{Definitions, Validator};
use fhir::json::{Object, Value};
use fhir::outcome::Issue;

// ------------------------------------------------------------------------------------ paths

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    K(String),
    I(usize),
}

fn k(s: &str) -> Seg {
    Seg::K(s.to_string())
}

/// The expression of a JSON location: `Bundle.entry[1].resource.code`.
fn expr(root: &str, segs: &[Seg]) -> String {
    let mut s = root.to_string();
    for g in segs {
        match g {
            Seg::K(key) => {
                s.push('.');
                s.push_str(key);
            }
            Seg::I(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn at<'a>(v: &'a Value, segs: &[Seg]) -> Option<&'a Value> {
    segs.iter().try_fold(v, |v, g| match g {
        Seg::K(key) => v.get(key),
        Seg::I(i) => v.as_array()?.get(*i),
    })
}

fn at_mut<'a>(v: &'a mut Value, segs: &[Seg]) -> Option<&'a mut Value> {
    let mut cur = v;
    for g in segs {
        cur = match g {
            Seg::K(key) => cur.as_object_mut()?.get_mut(key)?,
            Seg::I(i) => cur.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(cur)
}

fn obj_mut<'a>(v: &'a mut Value, segs: &[Seg]) -> Option<&'a mut Object> {
    at_mut(v, segs)?.as_object_mut()
}

fn join(base: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut v = base.to_vec();
    v.extend_from_slice(more);
    v
}

fn s(v: &str) -> Value {
    Value::string(v)
}

fn parse(text: &str) -> Value {
    fhir::json::parse(text).unwrap_or_else(|e| panic!("test JSON: {e}"))
}

// ------------------------------------------------------------------------------------ index

/// One occurrence of an element in an example, typed through the R4 base definitions.
#[derive(Clone, Debug)]
struct Elem {
    /// Location of this occurrence (with the index when it is an array item).
    segs: Vec<Seg>,
    /// JSON key of the member.
    key: String,
    /// FHIR type of this occurrence.
    ty: String,
    /// The element repeats (JSON array).
    many: bool,
    in_array: bool,
    required_binding: bool,
    /// The value set of a required binding.
    binding_vs: Option<String>,
    choice: bool,
    /// Location of the enclosing resource.
    res: Vec<Seg>,
}

impl Elem {
    /// The member path (without the array index).
    fn member(&self) -> Vec<Seg> {
        if self.in_array {
            self.segs[..self.segs.len() - 1].to_vec()
        } else {
            self.segs.clone()
        }
    }
    fn under_meta(&self) -> bool {
        self.segs.get(self.res.len()) == Some(&k("meta"))
    }
    /// Inside the narrative (`text.div`), which has no FHIR type structure to corrupt here.
    fn in_narrative(&self) -> bool {
        self.segs.get(self.res.len()) == Some(&k("text")) && self.ty != "Narrative"
    }
    fn parent(&self) -> Vec<Seg> {
        self.member()[..self.member().len() - 1].to_vec()
    }
}

/// A resource found in the example (root, entry resource or contained).
#[derive(Clone, Debug)]
struct Res {
    segs: Vec<Seg>,
    rt: String,
}

fn is_resource_type(defs: &Definitions, ty: &str) -> bool {
    ty == "Resource"
        || ty == "DomainResource"
        || defs.base_plan(ty).is_some_and(|p| &*p.kind == "resource")
}

#[allow(clippy::too_many_arguments)]
fn walk(
    defs: &Definitions,
    v: &Value,
    plan: &Plan,
    node: NodeId,
    segs: &mut Vec<Seg>,
    res: &[Seg],
    elems: &mut Vec<Elem>,
    resources: &mut Vec<Res>,
) {
    let mut node = node;
    if let Some(cr) = &plan.node(node).content_reference {
        match plan.content_reference(cr) {
            Some(n) => node = n,
            None => return,
        }
    }
    let Some(obj) = v.as_object() else { return };
    for (key, val) in obj.iter() {
        if key == "resourceType" || key.starts_with('_') {
            continue;
        }
        let Some((c, ti)) = plan.child_for_key(node, key) else {
            continue;
        };
        let cn = plan.node(c);
        let ty: String = ti
            .and_then(|i| cn.types.get(i))
            .or(cn.types.first())
            .map(|t| t.code.to_string())
            .unwrap_or_default();
        let many = cn.max != Some(1) && cn.max != Some(0);
        let binding_vs = cn
            .binding
            .as_ref()
            .filter(|b| b.strength == conformance::plan::BindingStrength::Required)
            .map(|b| b.value_set.to_string());
        let required_binding = binding_vs.is_some();
        let items: Vec<(Option<usize>, &Value)> = match val {
            Value::Array(a) => a.iter().enumerate().map(|(i, x)| (Some(i), x)).collect(),
            other => vec![(None, other)],
        };
        for (idx, item) in items {
            segs.push(Seg::K(key.to_string()));
            if let Some(i) = idx {
                segs.push(Seg::I(i));
            }
            let resource_here = item.as_object().is_some() && is_resource_type(defs, &ty);
            let item_ty = if resource_here {
                item.get("resourceType")
                    .and_then(Value::as_str)
                    .unwrap_or(&ty)
                    .to_string()
            } else {
                ty.clone()
            };
            elems.push(Elem {
                segs: segs.clone(),
                key: key.to_string(),
                ty: item_ty.clone(),
                many,
                in_array: idx.is_some(),
                required_binding,
                binding_vs: binding_vs.clone(),
                choice: cn.choice,
                res: res.to_vec(),
            });
            if item.as_object().is_some() {
                if resource_here {
                    if let Some(p) = defs.base_plan(&item_ty) {
                        resources.push(Res {
                            segs: segs.clone(),
                            rt: item_ty.clone(),
                        });
                        let here = segs.clone();
                        walk(defs, item, &p, 0, segs, &here, elems, resources);
                    }
                } else if !cn.children.is_empty() || cn.content_reference.is_some() {
                    walk(defs, item, plan, c, segs, res, elems, resources);
                } else if let Some(p) = defs.base_plan(&ty) {
                    walk(defs, item, &p, 0, segs, res, elems, resources);
                }
            }
            if idx.is_some() {
                segs.pop();
            }
            segs.pop();
        }
    }
}

// ------------------------------------------------------------------------------------ mutants

/// Where an error must be for a mutant to count as rejected at the mutated element.
#[derive(Clone, Debug)]
struct Expect {
    /// `E`: the expressions of the corrupted element (an error at or inside one of them).
    at: Vec<String>,
    /// The list path tolerated for mutants that take an item out of a list or slice.
    list_ok: Option<String>,
    /// Stricter: the error must be exactly at `E`, not inside it (for mutants that add
    /// content which could carry incidental errors of its own).
    exact: bool,
}

struct Mutant {
    kind: &'static str,
    /// What was done, for the report.
    what: String,
    expect: Expect,
    doc: Value,
}

/// The same mutant, matched exactly at `E` (see [`Expect::exact`]).
fn exact(m: Option<Mutant>) -> Option<Mutant> {
    m.map(|mut m| {
        m.expect.exact = true;
        m
    })
}

struct Ctx<'a> {
    defs: &'a Definitions,
    doc: &'a Value,
    rt: String,
    elems: Vec<Elem>,
    resources: Vec<Res>,
    /// A resource of another 6情報 type, for the mixed-bundle mutation.
    other_items: &'a BTreeMap<String, Value>,
}

impl Ctx<'_> {
    fn e(&self, segs: &[Seg]) -> String {
        expr(&self.rt, segs)
    }
    /// A mutant from a copy of the example changed by `f`; `None` if `f` could not apply.
    fn mutant(
        &self,
        kind: &'static str,
        what: String,
        expect: Vec<String>,
        list_ok: Option<String>,
        f: impl FnOnce(&mut Value) -> Option<()>,
    ) -> Option<Mutant> {
        let mut doc = self.doc.clone();
        f(&mut doc)?;
        Some(Mutant {
            kind,
            what,
            expect: Expect {
                at: expect,
                list_ok,
                exact: false,
            },
            doc,
        })
    }
    fn get(&self, segs: &[Seg]) -> Option<&Value> {
        at(self.doc, segs)
    }
    fn first(&self, pred: impl Fn(&Elem) -> bool) -> Option<&Elem> {
        self.elems.iter().find(|e| pred(e))
    }
    /// Resources other than the root Bundle: the root itself when it is not a Bundle, entry
    /// resources and contained resources, in document order.
    fn domain_resources(&self) -> Vec<&Res> {
        self.resources.iter().filter(|r| r.rt != "Bundle").collect()
    }
    fn is_bundle(&self) -> bool {
        self.rt == "Bundle"
    }
    fn bundle_profile(&self) -> &str {
        self.doc
            .pointer("meta.profile")
            .and_then(Value::as_array)
            .and_then(|p| p.first())
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    /// A 6情報 submission bundle (BundleResourceType tag).
    fn is_clins6(&self) -> bool {
        self.is_bundle()
            && self
                .doc
                .pointer("meta.tag")
                .and_then(Value::as_array)
                .is_some_and(|t| {
                    t.iter().any(|t| {
                        t.get("system").and_then(Value::as_str)
                            == Some("http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS")
                    })
                })
    }
    fn is_document(&self) -> bool {
        self.is_bundle() && self.doc.get("type").and_then(Value::as_str) == Some("document")
    }
    fn entries(&self) -> &[Value] {
        self.doc
            .get("entry")
            .and_then(Value::as_array)
            .unwrap_or(&[])
    }
}

/// The claimed profile's plan of the resource at `segs`.
fn claimed_plan(ctx: &Ctx, segs: &[Seg]) -> Option<std::sync::Arc<Plan>> {
    let url = ctx
        .get(&join(segs, &[k("meta"), k("profile"), Seg::I(0)]))?
        .as_str()?;
    ctx.defs.plan(url)
}

/// The JSON keys of the resource at `segs` that its claimed profile requires (min ≥ 1), with
/// the element name; `meta` (which carries the profile claim itself) is left out.
fn required_present(ctx: &Ctx, segs: &[Seg]) -> Vec<(String, String, bool)> {
    let Some(plan) = claimed_plan(ctx, segs) else {
        return Vec::new();
    };
    let Some(obj) = ctx.get(segs).and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &c in &plan.root().children {
        let cn = plan.node(c);
        if cn.min == 0 || &*cn.name == "meta" || &*cn.name == "resourceType" {
            continue;
        }
        for (key, _) in obj.iter() {
            if !key.starts_with('_') && cn.matches_key(key).is_some() {
                out.push((key.to_string(), cn.name.to_string(), cn.choice));
            }
        }
    }
    out
}

fn remove_required(ctx: &Ctx, res: &[Seg], kind: &'static str) -> Vec<Mutant> {
    required_present(ctx, res)
        .into_iter()
        .filter_map(|(key, name, choice)| {
            let mut expect = vec![ctx.e(&join(res, &[k(&name)]))];
            if choice {
                expect.push(ctx.e(&join(res, &[k(&key)])));
            }
            ctx.mutant(
                kind,
                format!("remove required {}", ctx.e(&join(res, &[k(&key)]))),
                expect,
                None,
                |d| {
                    obj_mut(d, res)?.remove(&key)?;
                    obj_mut(d, res)?.remove(&format!("_{key}"));
                    Some(())
                },
            )
        })
        .collect()
}

type KindFn = fn(&Ctx) -> Vec<Mutant>;

/// A string element present in the resource at `res` whose value its claimed profile fixes
/// (fixed[x] or pattern[x], outside slices), changed to another value.
fn fixed_in_profile(ctx: &Ctx, res: &[Seg]) -> Option<Mutant> {
    let plan = claimed_plan(ctx, res)?;
    let resource = ctx.get(res)?;
    for n in &plan.nodes {
        if n.id.contains(':') || n.choice {
            continue;
        }
        let want = match (&n.fixed, &n.pattern) {
            (Some(Value::String(v)), _) | (None, Some(Value::String(v))) => v,
            _ => continue,
        };
        let steps: Vec<&str> = n.path.split('.').skip(1).collect();
        if steps.is_empty()
            || steps
                .iter()
                .any(|s| matches!(*s, "meta" | "extension" | "modifierExtension"))
        {
            continue;
        }
        if ctx.is_bundle() && res.is_empty() && steps == ["type"] {
            continue; // covered by bundle-type-batch
        }
        // Follow the path through the JSON, taking the first item of arrays.
        let mut segs = Vec::new();
        let mut cur = resource;
        let mut ok = true;
        for st in &steps {
            match cur.get(st) {
                Some(Value::Array(a)) if !a.is_empty() => {
                    segs.push(k(st));
                    segs.push(Seg::I(0));
                    cur = &a[0];
                }
                Some(v) if !matches!(v, Value::Array(_)) => {
                    segs.push(k(st));
                    cur = v;
                }
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok || cur.as_str() != Some(&**want) {
            continue;
        }
        let segs = join(res, &segs);
        let m = ctx.mutant(
            "profile-fixed-changed",
            format!(
                "{} := changed-by-mutation (profile fixes {want:?})",
                ctx.e(&segs)
            ),
            vec![ctx.e(&segs)],
            None,
            |d| {
                *at_mut(d, &segs)? = s("changed-by-mutation");
                Some(())
            },
        );
        if m.is_some() {
            return m;
        }
    }
    None
}

/// Helper for kinds that set one element to a new value.
fn set_value(ctx: &Ctx, kind: &'static str, e: &Elem, value: Value) -> Vec<Mutant> {
    let segs = e.segs.clone();
    let shown = fhir::json::to_string(&value);
    ctx.mutant(
        kind,
        format!("{} := {}", ctx.e(&segs), short(&shown, 40)),
        vec![ctx.e(&segs)],
        None,
        move |d| {
            *at_mut(d, &segs)? = value;
            Some(())
        },
    )
    .into_iter()
    .collect()
}

fn plain(e: &Elem) -> bool {
    !e.under_meta() && !e.in_narrative()
}

const FLAG_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication";
const INSTITUTION_EXT: &str =
    "http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber";
const MEMBER_ID: &str = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID";
const MEDIS: &str = "http://medis.or.jp/CodeSystem/master-disease-keyNumber";
const RESOURCE_ID: &str = "http://jpfhir.jp/fhir/core/IdSystem/resourceInstance-identifier";
const LOCAL_LAB: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_ObsLabResult_LocalCode_CS";
const SECTION_SYSTEM: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/document-section";

fn add_tag(d: &mut Value, res: &[Seg], code: &str) -> Option<()> {
    let r = obj_mut(d, res)?;
    if r.get("meta").is_none() {
        r.insert("meta", Value::Object(Object::new()));
    }
    let meta = r.get_mut("meta")?.as_object_mut()?;
    if meta.get("tag").is_none() {
        meta.insert("tag", Value::Array(Vec::new()));
    }
    let tags = meta.get_mut("tag")?.as_array_mut()?;
    tags.push(parse(&format!(
        r#"{{"system":"{FLAG_SYSTEM}","code":"{code}"}}"#
    )));
    Some(())
}

fn tag_count(ctx: &Ctx, res: &[Seg]) -> usize {
    ctx.get(&join(res, &[k("meta"), k("tag")]))
        .and_then(Value::as_array)
        .map_or(0, <[Value]>::len)
}

/// Patients' insurance member-ID value locations.
fn member_ids(ctx: &Ctx) -> Vec<(Vec<Seg>, String)> {
    let mut out = Vec::new();
    for r in ctx.resources.iter().filter(|r| r.rt == "Patient") {
        let ids = ctx
            .get(&join(&r.segs, &[k("identifier")]))
            .and_then(Value::as_array)
            .unwrap_or(&[]);
        for (i, id) in ids.iter().enumerate() {
            if id.get("system").and_then(Value::as_str) == Some(MEMBER_ID) {
                if let Some(v) = id.get("value").and_then(Value::as_str) {
                    out.push((
                        join(&r.segs, &[k("identifier"), Seg::I(i), k("value")]),
                        v.to_string(),
                    ));
                }
            }
        }
    }
    out
}

fn member_id_kind(ctx: &Ctx, kind: &'static str, f: fn(&str) -> Option<String>) -> Vec<Mutant> {
    let Some((segs, old)) = member_ids(ctx).into_iter().next() else {
        return Vec::new();
    };
    let Some(new) = f(&old) else {
        return Vec::new();
    };
    let e = Elem {
        segs,
        key: "value".into(),
        ty: "string".into(),
        many: false,
        in_array: false,
        required_binding: false,
        binding_vs: None,
        choice: false,
        res: Vec::new(),
    };
    set_value(ctx, kind, &e, s(&new))
}

/// Codings (`…code.coding[i]`) with `system`, in resources of type `rt` (any when empty).
fn codings_with_system(ctx: &Ctx, rt: &str, system: &str) -> Vec<Vec<Seg>> {
    ctx.elems
        .iter()
        .filter(|e| e.ty == "Coding" && e.in_array)
        .filter(|e| e.segs.len() >= 3 && e.segs[e.segs.len() - 3] == k("code"))
        .filter(|e| e.segs.len() - 3 == e.res.len())
        .filter(|e| rt.is_empty() || ctx.resources.iter().any(|r| r.segs == e.res && r.rt == rt))
        .filter(|e| {
            ctx.get(&join(&e.segs, &[k("system")]))
                .and_then(Value::as_str)
                == Some(system)
        })
        .map(|e| e.segs.clone())
        .collect()
}

fn change_system_in_list(
    ctx: &Ctx,
    kind: &'static str,
    item: &[Seg],
    new_system: &str,
) -> Vec<Mutant> {
    let sys = join(item, &[k("system")]);
    let list = item[..item.len() - 1].to_vec();
    let new_system = new_system.to_string();
    ctx.mutant(
        kind,
        format!("{} := {new_system}", ctx.e(&sys)),
        vec![ctx.e(&sys)],
        Some(ctx.e(&list)),
        |d| {
            *at_mut(d, &sys)? = s(&new_system);
            Some(())
        },
    )
    .into_iter()
    .collect()
}

/// Whether the claimed profile of the resource requires an identifier with the resource
/// instance system (a required slice, or a fixed/pattern system on a required identifier).
fn profile_requires_resource_identifier(ctx: &Ctx, res: &[Seg], rt: &str) -> bool {
    let Some(plan) = claimed_plan(ctx, res) else {
        return false;
    };
    let idn = format!("{rt}.identifier");
    let Some(id_node) = plan.node_by_id(&idn) else {
        return false;
    };
    let mentions = |v: &Value| fhir::json::to_string(v).contains(RESOURCE_ID);
    let n = plan.node(id_node);
    for &sl in &n.slices {
        let sn = plan.node(sl);
        if sn.min >= 1
            && sn.slice_tests.iter().any(|t| match t {
                SliceTest::Value(v) => mentions(v),
                _ => false,
            })
        {
            return true;
        }
    }
    if n.min >= 1 {
        if let Some(sys) = plan.node_by_id(&format!("{idn}.system")) {
            let sn = plan.node(sys);
            if sn.fixed.as_ref().is_some_and(mentions) || sn.pattern.as_ref().is_some_and(mentions)
            {
                return true;
            }
        }
        if n.fixed.as_ref().is_some_and(mentions) || n.pattern.as_ref().is_some_and(mentions) {
            return true;
        }
    }
    false
}

fn sections(ctx: &Ctx) -> Vec<(Vec<Seg>, String)> {
    let base = vec![k("entry"), Seg::I(0), k("resource"), k("section")];
    ctx.get(&base)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, sec)| {
                    let code = sec
                        .pointer("code.coding")
                        .and_then(Value::as_array)
                        .and_then(|c| c.first())
                        .and_then(|c| c.get("code"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    (join(&base, &[Seg::I(i)]), code)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The subject/patient Reference of the first 6情報 item entry.
fn item_subject(ctx: &Ctx) -> Option<(usize, Vec<Seg>)> {
    for (i, e) in ctx.entries().iter().enumerate().skip(1) {
        for key in ["subject", "patient"] {
            if e.pointer(&format!("resource.{key}.reference")).is_some() {
                return Some((i, vec![k("entry"), Seg::I(i), k("resource"), k(key)]));
            }
        }
    }
    None
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

const KINDS: &[(&str, KindFn)] = &[
    ("required-removed", |c| {
        remove_required(c, &[], "required-removed")
    }),
    ("required-removed-nested", |c| {
        for r in c.resources.iter().filter(|r| !r.segs.is_empty()) {
            let m = remove_required(c, &r.segs, "required-removed-nested");
            if !m.is_empty() {
                return m;
            }
        }
        Vec::new()
    }),
    ("max1-as-array", |c| {
        let Some(e) = c.first(|e| {
            plain(e) && !e.many && c.get(&e.segs).is_some_and(|v| v.as_object().is_some())
        }) else {
            return Vec::new();
        };
        let segs = e.segs.clone();
        c.mutant(
            "max1-as-array",
            format!("{} wrapped in an array", c.e(&segs)),
            vec![c.e(&segs)],
            None,
            |d| {
                let v = at_mut(d, &segs)?;
                let inner = std::mem::replace(v, Value::Null);
                *v = Value::Array(vec![inner]);
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("repeating-as-object", |c| {
        let Some(e) = c.first(|e| {
            plain(e)
                && e.many
                && e.in_array
                && e.key != "entry"
                && c.get(&e.segs).is_some_and(|v| v.as_object().is_some())
        }) else {
            return Vec::new();
        };
        let member = e.member();
        c.mutant(
            "repeating-as-object",
            format!("{} given as a bare object", c.e(&member)),
            vec![c.e(&member)],
            None,
            |d| {
                let v = at_mut(d, &member)?;
                let first = v.as_array()?.first()?.clone();
                *v = first;
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("status-bogus", |c| {
        match c.first(|e| plain(e) && e.key == "status" && e.ty == "code") {
            Some(e) => set_value(c, "status-bogus", e, s("bogus")),
            None => Vec::new(),
        }
    }),
    ("required-code-bogus", |c| {
        // Only bindings whose value set can be expanded locally: a code of a value set that
        // cannot be expanded (BCP-13 mime types, BCP-47 languages, JP masters) is reported as
        // "not checked" (information) by design, never as an error.
        match c.first(|e| {
            plain(e)
                && e.ty == "code"
                && e.required_binding
                && e.key != "status"
                && e.binding_vs
                    .as_deref()
                    .is_some_and(|vs| matches!(*expand(c.defs, vs), Expansion::Codes(_)))
        }) {
            Some(e) => set_value(c, "required-code-bogus", e, s("bogus-code")),
            None => Vec::new(),
        }
    }),
    ("profile-fixed-changed", |c| {
        for r in &c.resources {
            if let Some(m) = fixed_in_profile(c, &r.segs) {
                return vec![m];
            }
        }
        Vec::new()
    }),
    ("code-whitespace", |c| {
        match c.first(|e| plain(e) && e.ty == "code") {
            Some(e) => {
                let old = c.get(&e.segs).and_then(Value::as_str).unwrap_or("x");
                set_value(c, "code-whitespace", e, s(&format!(" {old}")))
            }
            None => Vec::new(),
        }
    }),
    ("unknown-element-root", |c| {
        c.mutant(
            "unknown-element-root",
            format!("{}.bogusElement added", c.rt),
            vec![format!("{}.bogusElement", c.rt)],
            None,
            |d| {
                d.as_object_mut()?.insert("bogusElement", s("x"));
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("unknown-element-nested", |c| {
        // A complex element inside another complex element (not a resource, not meta).
        let Some(e) = c.first(|e| {
            plain(e)
                && !is_resource_type(c.defs, &e.ty)
                && e.segs.len() >= e.res.len() + 2
                && c.get(&e.segs).is_some_and(|v| v.as_object().is_some())
        }) else {
            return Vec::new();
        };
        let segs = e.segs.clone();
        c.mutant(
            "unknown-element-nested",
            format!("{}.bogusElement added", c.e(&segs)),
            vec![c.e(&join(&segs, &[k("bogusElement")]))],
            None,
            |d| {
                obj_mut(d, &segs)?.insert("bogusElement", s("x"));
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("bad-dateTime", |c| {
        match c.first(|e| plain(e) && e.ty == "dateTime") {
            Some(e) => set_value(c, "bad-dateTime", e, s("2024-02-30T10:00:00+09:00")),
            None => Vec::new(),
        }
    }),
    ("bad-date", |c| {
        match c.first(|e| plain(e) && e.ty == "date") {
            Some(e) => set_value(c, "bad-date", e, s("2024-13-01")),
            None => Vec::new(),
        }
    }),
    ("bad-instant", |c| match c.first(|e| e.ty == "instant") {
        Some(e) => set_value(c, "bad-instant", e, s("2024-13-01T10:00:00+09:00")),
        None => Vec::new(),
    }),
    ("bad-id", |c| {
        // The id of the first resource that has one.
        for r in &c.resources {
            let segs = join(&r.segs, &[k("id")]);
            if c.get(&segs).is_some() {
                let e = c.first(|e| e.segs == segs).cloned();
                if let Some(e) = e {
                    return set_value(c, "bad-id", &e, s("bad_id"));
                }
            }
        }
        Vec::new()
    }),
    ("bad-uri", |c| {
        match c.first(|e| plain(e) && e.ty == "uri") {
            Some(e) => set_value(c, "bad-uri", e, s("not a uri")),
            None => Vec::new(),
        }
    }),
    ("number-for-string", |c| {
        match c.first(|e| plain(e) && e.ty == "string") {
            Some(e) => set_value(c, "number-for-string", e, Value::Number("12345".into())),
            None => Vec::new(),
        }
    }),
    ("empty-string", |c| {
        match c.first(|e| plain(e) && e.ty == "string") {
            Some(e) => set_value(c, "empty-string", e, s("")),
            None => Vec::new(),
        }
    }),
    ("empty-object", |c| {
        match c.first(|e| {
            plain(e)
                && !is_resource_type(c.defs, &e.ty)
                && e.segs.len() >= e.res.len() + 2
                && c.get(&e.segs).is_some_and(|v| v.as_object().is_some())
        }) {
            Some(e) => set_value(c, "empty-object", e, Value::Object(Object::new())),
            None => Vec::new(),
        }
    }),
    ("null-value", |c| {
        match c.first(|e| {
            plain(e) && !e.in_array && fhir::primitive::is_primitive(&e.ty) && e.key != "id"
        }) {
            Some(e) => set_value(c, "null-value", e, Value::Null),
            None => Vec::new(),
        }
    }),
    ("empty-array", |c| {
        let Some(e) = c.first(|e| plain(e) && e.in_array && e.key != "entry") else {
            return Vec::new();
        };
        let member = e.member();
        c.mutant(
            "empty-array",
            format!("{} := []", c.e(&member)),
            vec![c.e(&member)],
            None,
            |d| {
                *at_mut(d, &member)? = Value::Array(Vec::new());
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("null-in-array", |c| {
        match c.first(|e| plain(e) && e.in_array && e.key != "entry") {
            Some(e) => set_value(c, "null-in-array", e, Value::Null),
            None => Vec::new(),
        }
    }),
    ("choice-multiple", |c| {
        let Some(e) = c.first(|e| plain(e) && e.choice && !e.in_array) else {
            return Vec::new();
        };
        let parent = e.parent();
        // `valueQuantity` → `value`: the element name is the key without its type suffix.
        let name_len = e
            .key
            .char_indices()
            .skip(1)
            .find(|(_, ch)| ch.is_ascii_uppercase())
            .map_or(e.key.len(), |(i, _)| i);
        let name = &e.key[..name_len];
        let (extra_key, extra) = if e.key == format!("{name}String") {
            (format!("{name}Boolean"), Value::Bool(true))
        } else {
            (format!("{name}String"), s("x"))
        };
        let orig = e.key.clone();
        c.mutant(
            "choice-multiple",
            format!(
                "{} added next to {orig}",
                c.e(&join(&parent, &[k(&extra_key)]))
            ),
            vec![
                c.e(&join(&parent, &[k(&extra_key)])),
                c.e(&join(&parent, &[k(&orig)])),
            ],
            None,
            |d| {
                obj_mut(d, &parent)?.insert(extra_key.as_str(), extra);
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("unknown-resourceType", |c| {
        // A nested resource when there is one (the last entry, or the first contained).
        let nested: Vec<&Res> = c.resources.iter().filter(|r| !r.segs.is_empty()).collect();
        let target = if c.is_bundle() {
            nested
                .iter()
                .rev()
                .find(|r| r.segs.len() == 3)
                .map(|r| r.segs.clone())
        } else {
            nested.first().map(|r| r.segs.clone())
        };
        match target {
            Some(segs) => c
                .mutant(
                    "unknown-resourceType",
                    format!("{}.resourceType := Nope", c.e(&segs)),
                    vec![c.e(&segs)],
                    None,
                    |d| {
                        obj_mut(d, &segs)?.insert("resourceType", s("Nope"));
                        Some(())
                    },
                )
                .into_iter()
                .collect(),
            None => c
                .mutant(
                    "unknown-resourceType",
                    "root resourceType := Nope".into(),
                    vec!["Nope".into()],
                    None,
                    |d| {
                        d.as_object_mut()?.insert("resourceType", s("Nope"));
                        Some(())
                    },
                )
                .into_iter()
                .collect(),
        }
    }),
    ("profile-wrong-type", |c| {
        let segs = vec![k("meta"), k("profile"), Seg::I(0)];
        c.get(&segs)
            .and_then(|_| {
                let other = if c.rt == "Patient" {
                    "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Condition_eCS|1"
                } else {
                    "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS|1"
                };
                c.mutant(
                    "profile-wrong-type",
                    format!("{} := {other}", c.e(&segs)),
                    vec![c.e(&segs)],
                    None,
                    |d| {
                        *at_mut(d, &segs)? = s(other);
                        Some(())
                    },
                )
            })
            .into_iter()
            .collect()
    }),
    ("flag-code-invalid", |c| {
        let Some(r) = c.domain_resources().first().map(|r| r.segs.clone()) else {
            return Vec::new();
        };
        let n = tag_count(c, &r);
        let tag = join(&r, &[k("meta"), k("tag"), Seg::I(n)]);
        c.mutant(
            "flag-code-invalid",
            format!("{} := JP_ehrshrs_indication#BOGUS", c.e(&tag)),
            vec![c.e(&tag)],
            None,
            |d| add_tag(d, &r, "BOGUS"),
        )
        .into_iter()
        .collect()
    }),
    ("uninformed-non-condition", |c| {
        let Some(r) = c
            .domain_resources()
            .into_iter()
            .find(|r| r.rt != "Condition")
            .map(|r| r.segs.clone())
        else {
            return Vec::new();
        };
        let n = tag_count(c, &r);
        let tag = join(&r, &[k("meta"), k("tag"), Seg::I(n)]);
        c.mutant(
            "uninformed-non-condition",
            format!("{} := UNINFORMED", c.e(&tag)),
            vec![c.e(&tag)],
            None,
            |d| add_tag(d, &r, "UNINFORMED"),
        )
        .into_iter()
        .collect()
    }),
    ("contained-unreferenced", |c| {
        // The first resource that is not contained itself (contained cannot nest).
        let Some(r) = c
            .domain_resources()
            .into_iter()
            .find(|r| !r.segs.contains(&k("contained")))
            .map(|r| r.segs.clone())
        else {
            return Vec::new();
        };
        let n = c
            .get(&join(&r, &[k("contained")]))
            .and_then(Value::as_array)
            .map_or(0, <[Value]>::len);
        let item = join(&r, &[k("contained"), Seg::I(n)]);
        exact(c.mutant(
            "contained-unreferenced",
            format!("{} added, referenced from nowhere", c.e(&item)),
            vec![c.e(&item)],
            None,
            |d| {
                let o = obj_mut(d, &r)?;
                if o.get("contained").is_none() {
                    o.insert("contained", Value::Array(Vec::new()));
                }
                o.get_mut("contained")?.as_array_mut()?.push(parse(
                    r#"{"resourceType":"Practitioner","id":"unreferenced-1","name":[{"text":"未参照 医師"}]}"#,
                ));
                Some(())
            },
        ))
        .into_iter()
        .collect()
    }),
    ("contained-ref-broken", |c| {
        let Some(e) = c.first(|e| {
            plain(e)
                && e.ty == "Reference"
                && c.get(&join(&e.segs, &[k("reference")]))
                    .and_then(Value::as_str)
                    .is_some_and(|r| r.starts_with('#') && r.len() > 1)
        }) else {
            return Vec::new();
        };
        let segs = e.segs.clone();
        c.mutant(
            "contained-ref-broken",
            format!("{}.reference := #does-not-exist", c.e(&segs)),
            vec![c.e(&segs)],
            None,
            |d| {
                obj_mut(d, &segs)?.insert("reference", s("#does-not-exist"));
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("ext-value-and-extension", |c| {
        let Some(e) = c.first(|e| {
            plain(e)
                && e.ty == "Extension"
                && c.get(&e.segs)
                    .and_then(Value::as_object)
                    .is_some_and(|o| o.keys().any(|k| k.starts_with("value")))
        }) else {
            return Vec::new();
        };
        let segs = e.segs.clone();
        exact(c.mutant(
            "ext-value-and-extension",
            format!("{} given both value[x] and extension", c.e(&segs)),
            vec![c.e(&segs)],
            None,
            |d| {
                obj_mut(d, &segs)?.insert(
                    "extension",
                    parse(r#"[{"url":"http://example.org/fhir/StructureDefinition/x","valueString":"x"}]"#),
                );
                Some(())
            },
        ))
        .into_iter()
        .collect()
    }),
    ("institution-number-bad", |c| {
        let Some(e) = c.first(|e| {
            e.ty == "Extension"
                && c.get(&join(&e.segs, &[k("url")])).and_then(Value::as_str)
                    == Some(INSTITUTION_EXT)
                && c.get(&join(&e.segs, &[k("valueIdentifier"), k("value")]))
                    .is_some()
        }) else {
            return Vec::new();
        };
        let segs = join(&e.segs, &[k("valueIdentifier"), k("value")]);
        c.mutant(
            "institution-number-bad",
            format!("{} := 1391234567 (fee table 9)", c.e(&segs)),
            vec![c.e(&segs)],
            None,
            |d| {
                *at_mut(d, &segs)? = s("1391234567");
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("insurance-id-fullwidth-colon", |c| {
        member_id_kind(c, "insurance-id-fullwidth-colon", |v| {
            v.contains(':').then(|| v.replacen(':', "：", 1))
        })
    }),
    ("insurance-id-mixed-width", |c| {
        member_id_kind(c, "insurance-id-mixed-width", |v| {
            let mut parts: Vec<String> = v.split(':').map(str::to_string).collect();
            if parts.len() != 4 {
                return None;
            }
            parts[2] = "１2３4".into();
            Some(parts.join(":"))
        })
    }),
    ("insurance-id-branch-1", |c| {
        member_id_kind(c, "insurance-id-branch-1", |v| {
            let mut parts: Vec<String> = v.split(':').map(str::to_string).collect();
            if parts.len() != 4 {
                return None;
            }
            parts[3] = "1".into();
            Some(parts.join(":"))
        })
    }),
    ("medis-system-changed", |c| {
        match codings_with_system(c, "Condition", MEDIS).first() {
            Some(item) => change_system_in_list(
                c,
                "medis-system-changed",
                item,
                "http://example.org/CodeSystem/disease",
            ),
            None => Vec::new(),
        }
    }),
    ("resource-identifier-system-changed", |c| {
        for r in &c.resources {
            if !profile_requires_resource_identifier(c, &r.segs, &r.rt) {
                continue;
            }
            let idp = join(&r.segs, &[k("identifier")]);
            match c.get(&idp) {
                Some(Value::Array(ids)) => {
                    if let Some(i) = ids.iter().position(|id| {
                        id.get("system").and_then(Value::as_str) == Some(RESOURCE_ID)
                    }) {
                        return change_system_in_list(
                            c,
                            "resource-identifier-system-changed",
                            &join(&idp, &[Seg::I(i)]),
                            "http://example.org/IdSystem/other",
                        );
                    }
                }
                Some(Value::Object(o))
                    if o.get("system").and_then(Value::as_str) == Some(RESOURCE_ID) =>
                {
                    let e = Elem {
                        segs: join(&idp, &[k("system")]),
                        key: "system".into(),
                        ty: "uri".into(),
                        many: false,
                        in_array: false,
                        required_binding: false,
                        binding_vs: None,
                        choice: false,
                        res: r.segs.clone(),
                    };
                    return set_value(
                        c,
                        "resource-identifier-system-changed",
                        &e,
                        s("http://example.org/IdSystem/other"),
                    );
                }
                _ => {}
            }
        }
        Vec::new()
    }),
    ("jlac-local-system-changed", |c| {
        // The local code is a JP-CLINS submission rule (CLINS-OBS-LOCAL-CODE, 6情報 bundles);
        // its profile invariant R6021 is not bound in JP-CLINS 1.5.2, so a stand-alone lab
        // result without it is only warned about.
        if !c.is_clins6() {
            return Vec::new();
        }
        match codings_with_system(c, "Observation", LOCAL_LAB).first() {
            Some(item) => change_system_in_list(
                c,
                "jlac-local-system-changed",
                item,
                "http://example.org/CodeSystem/local-lab",
            ),
            None => Vec::new(),
        }
    }),
    // ---- Bundles
    ("bundle-type-batch", |c| {
        if !c.is_bundle() {
            return Vec::new();
        }
        match c.first(|e| e.segs == [k("type")]) {
            Some(e) => set_value(c, "bundle-type-batch", e, s("batch")),
            None => Vec::new(),
        }
    }),
    ("bundle-id-format", |c| {
        // Bundle-ID rules apply to the CLINS Bundle profiles (not to the checkup IG's
        // general-use profile).
        if !c.is_bundle()
            || !c
                .bundle_profile()
                .starts_with("http://jpfhir.jp/fhir/clins/")
        {
            return Vec::new();
        }
        match c.first(|e| e.segs == [k("identifier"), k("value")]) {
            Some(e) => set_value(c, "bundle-id-format", e, s("1311234567-2024-123")),
            None => Vec::new(),
        }
    }),
    ("duplicate-fullurl", |c| {
        let n = c.entries().len();
        if !c.is_bundle() || n < 2 {
            return Vec::new();
        }
        let (from, to) = if n >= 3 { (1, 2) } else { (0, 1) };
        let Some(url) = c.entries()[from].get("fullUrl").cloned() else {
            return Vec::new();
        };
        let segs = vec![k("entry"), Seg::I(to), k("fullUrl")];
        c.mutant(
            "duplicate-fullurl",
            format!("{} := entry[{from}].fullUrl", c.e(&segs)),
            vec![c.e(&segs)],
            None,
            |d| {
                *at_mut(d, &segs)? = url;
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("mixed-resource-types", |c| {
        if !c.is_clins6() || c.entries().len() < 2 {
            return Vec::new();
        }
        let last = c.entries().len() - 1;
        let rt = c.entries()[last]
            .pointer("resource.resourceType")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some((other_rt, other)) = c.other_items.iter().find(|(t, _)| *t != rt) else {
            return Vec::new();
        };
        let segs = vec![k("entry"), Seg::I(last), k("resource")];
        // The foreign resource is made to fit the bundle in every other respect: its patient
        // reference points at this bundle's Patient and its institution number is the one of
        // the resource it replaces.
        let mut other = other.clone();
        let patient = c.entries()[0].get("fullUrl").cloned();
        let replaced = c.entries()[last].get("resource");
        let institution = |r: &Value| -> Option<Value> {
            r.get("extension")?
                .as_array()?
                .iter()
                .find(|x| x.get("url").and_then(Value::as_str) == Some(INSTITUTION_EXT))?
                .pointer("valueIdentifier.value")
                .cloned()
        };
        let inst = replaced.and_then(institution);
        if let Some(o) = other.as_object_mut() {
            for key in ["subject", "patient"] {
                if let (Some(r), Some(p)) = (
                    o.get_mut(key).and_then(Value::as_object_mut),
                    patient.clone(),
                ) {
                    r.insert("reference", p);
                }
            }
            if let (Some(exts), Some(inst)) =
                (o.get_mut("extension").and_then(Value::as_array_mut), inst)
            {
                for x in exts.iter_mut() {
                    if x.get("url").and_then(Value::as_str) == Some(INSTITUTION_EXT) {
                        if let Some(vi) = x
                            .as_object_mut()
                            .and_then(|x| x.get_mut("valueIdentifier"))
                            .and_then(Value::as_object_mut)
                        {
                            vi.insert("value", inst.clone());
                        }
                    }
                }
            }
        }
        c.mutant(
            "mixed-resource-types",
            format!("{} := a {other_rt} (bundle of {rt})", c.e(&segs)),
            vec![c.e(&segs)],
            None,
            |d| {
                *at_mut(d, &segs)? = other;
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("ref-not-contained", |c| {
        if !c.is_clins6() {
            return Vec::new();
        }
        let Some((_, segs)) = item_subject(c) else {
            return Vec::new();
        };
        c.mutant(
            "ref-not-contained",
            format!("{}.reference := Patient/123", c.e(&segs)),
            vec![c.e(&segs)],
            None,
            |d| {
                obj_mut(d, &segs)?.insert("reference", s("Patient/123"));
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("ref-other-entry", |c| {
        if !c.is_clins6() {
            return Vec::new();
        }
        let Some((i, segs)) = item_subject(c) else {
            return Vec::new();
        };
        // Another entry that is not the Patient (itself when it is the only item).
        let j = if c.entries().len() > i + 1 { i + 1 } else { i };
        let Some(url) = c.entries()[j].get("fullUrl").cloned() else {
            return Vec::new();
        };
        c.mutant(
            "ref-other-entry",
            format!("{}.reference := entry[{j}].fullUrl", c.e(&segs)),
            vec![c.e(&segs)],
            None,
            |d| {
                obj_mut(d, &segs)?.insert("reference", url);
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("patient-not-first", |c| {
        if !c.is_clins6() || c.entries().len() < 2 {
            return Vec::new();
        }
        c.mutant(
            "patient-not-first",
            "entry[0] and entry[1] swapped".into(),
            vec![c.e(&[k("entry"), Seg::I(0)]), c.e(&[k("entry"), Seg::I(1)])],
            None,
            |d| {
                d.as_object_mut()?
                    .get_mut("entry")?
                    .as_array_mut()?
                    .swap(0, 1);
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("composition-type-changed", |c| {
        if !c.is_document() {
            return Vec::new();
        }
        let segs = vec![
            k("entry"),
            Seg::I(0),
            k("resource"),
            k("type"),
            k("coding"),
            Seg::I(0),
            k("code"),
        ];
        let Some(old) = c.get(&segs).and_then(Value::as_str) else {
            return Vec::new();
        };
        let new = if old == "57133-1" {
            "18842-5"
        } else {
            "57133-1"
        };
        let e = Elem {
            segs,
            key: "code".into(),
            ty: "code".into(),
            many: false,
            in_array: false,
            required_binding: false,
            binding_vs: None,
            choice: false,
            res: Vec::new(),
        };
        set_value(c, "composition-type-changed", &e, s(new))
    }),
    ("bundle-tag-medicationrequest", |c| {
        if !c.is_clins6() {
            return Vec::new();
        }
        let Some(i) = c
            .doc
            .pointer("meta.tag")
            .and_then(Value::as_array)
            .and_then(|t| {
                t.iter().position(|t| {
                    t.get("system").and_then(Value::as_str)
                        == Some("http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS")
                })
            })
        else {
            return Vec::new();
        };
        match c.first(|e| e.segs == [k("meta"), k("tag"), Seg::I(i), k("code")]) {
            Some(e) => set_value(c, "bundle-tag-medicationrequest", e, s("MedicationRequest")),
            None => Vec::new(),
        }
    }),
    ("bundle-id-year", |c| {
        if !c.is_bundle()
            || !c
                .bundle_profile()
                .starts_with("http://jpfhir.jp/fhir/clins/")
        {
            return Vec::new();
        }
        let Some(old) = c.doc.pointer("identifier.value").and_then(Value::as_str) else {
            return Vec::new();
        };
        let parts: Vec<&str> = old.split('^').collect();
        if parts.len() != 3 {
            return Vec::new();
        }
        match c.first(|e| e.segs == [k("identifier"), k("value")]) {
            Some(e) => set_value(
                c,
                "bundle-id-year",
                e,
                s(&format!("{}^2019^{}", parts[0], parts[2])),
            ),
            None => Vec::new(),
        }
    }),
    ("fullurl-uppercase", |c| {
        if !c.is_bundle()
            || !c
                .bundle_profile()
                .starts_with("http://jpfhir.jp/fhir/clins/")
            || c.entries().len() < 2
        {
            return Vec::new();
        }
        let last = c.entries().len() - 1;
        let Some(old) = c.entries()[last].get("fullUrl").and_then(Value::as_str) else {
            return Vec::new();
        };
        let Some(uuid) = old.strip_prefix("urn:uuid:") else {
            return Vec::new();
        };
        let new = format!("urn:uuid:{}", uuid.to_uppercase());
        if new == old {
            return Vec::new();
        }
        match c.first(|e| e.segs == [k("entry"), Seg::I(last), k("fullUrl")]) {
            Some(e) => set_value(c, "fullurl-uppercase", e, s(&new)),
            None => Vec::new(),
        }
    }),
    ("institution-mismatch", |c| {
        // An entry of a 6情報 bundle from another (valid) institution than the Bundle-ID's.
        if !c.is_clins6() {
            return Vec::new();
        }
        let Some(e) = c
            .elems
            .iter()
            .rev()
            .find(|e| {
                e.ty == "Extension"
                    && e.res.len() == 3
                    && e.segs.len() == 5
                    && c.get(&join(&e.segs, &[k("url")])).and_then(Value::as_str)
                        == Some(INSTITUTION_EXT)
            })
            .cloned()
        else {
            return Vec::new();
        };
        let segs = join(&e.segs, &[k("valueIdentifier"), k("value")]);
        let old = c.get(&segs).and_then(Value::as_str).unwrap_or("");
        let new = if old == "2711234567" {
            "2711234568"
        } else {
            "2711234567"
        };
        c.mutant(
            "institution-mismatch",
            format!(
                "{} := {new} (Bundle-ID has another institution)",
                c.e(&segs)
            ),
            vec![c.e(&segs)],
            None,
            |d| {
                *at_mut(d, &segs)? = s(new);
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("insurance-id-duplicated", |c| {
        // A second 被保険者個人識別子 on the Patient of a CLINS bundle.
        if !c.is_bundle()
            || !c
                .bundle_profile()
                .starts_with("http://jpfhir.jp/fhir/clins/")
        {
            return Vec::new();
        }
        let Some((segs, value)) = member_ids(c).into_iter().next() else {
            return Vec::new();
        };
        let ids = segs[..segs.len() - 2].to_vec();
        let n = c
            .get(&ids)
            .and_then(Value::as_array)
            .map_or(0, <[Value]>::len);
        let item = join(&ids, &[Seg::I(n)]);
        // Same insurer, another member number.
        let mut parts: Vec<String> = value.split(':').map(str::to_string).collect();
        if parts.len() == 4 {
            parts[2] = "9999".into();
        }
        let other = parts.join(":");
        c.mutant(
            "insurance-id-duplicated",
            format!("{} := a second member ID {other}", c.e(&item)),
            vec![c.e(&item)],
            None,
            |d| {
                at_mut(d, &ids)?.as_array_mut()?.push(parse(&format!(
                    r#"{{"system":"{MEMBER_ID}","value":"{other}"}}"#
                )));
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("composition-status-preliminary", |c| {
        if !c.is_document() {
            return Vec::new();
        }
        match c.first(|e| e.segs == [k("entry"), Seg::I(0), k("resource"), k("status")]) {
            Some(e) => set_value(c, "composition-status-preliminary", e, s("preliminary")),
            None => Vec::new(),
        }
    }),
    ("condition-onset-string", |c| {
        // 傷病名 in a 6情報 bundle must give onsetDateTime; another onset[x] type does not count.
        if !c.is_clins6() {
            return Vec::new();
        }
        let Some(r) = c
            .resources
            .iter()
            .find(|r| r.rt == "Condition" && c.get(&join(&r.segs, &[k("onsetDateTime")])).is_some())
            .map(|r| r.segs.clone())
        else {
            return Vec::new();
        };
        c.mutant(
            "condition-onset-string",
            format!("{} := onsetString", c.e(&join(&r, &[k("onsetDateTime")]))),
            vec![
                c.e(&join(&r, &[k("onsetDateTime")])),
                c.e(&join(&r, &[k("onsetString")])),
                c.e(&join(&r, &[k("onset")])),
            ],
            None,
            |d| {
                let o = obj_mut(d, &r)?;
                o.remove("onsetDateTime")?;
                o.insert("onsetString", s("2020年頃"));
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("referral-addressee-removed", |c| {
        if !c.bundle_profile().contains("JP_Bundle_eReferral") {
            return Vec::new();
        }
        let Some((item, _)) = sections(c).into_iter().find(|(_, code)| code == "910") else {
            return Vec::new();
        };
        let list = item[..item.len() - 1].to_vec();
        let Some(Seg::I(i)) = item.last().cloned() else {
            return Vec::new();
        };
        c.mutant(
            "referral-addressee-removed",
            format!("{} (section 910) removed", c.e(&item)),
            vec![c.e(&item)],
            Some(c.e(&list)),
            |d| {
                at_mut(d, &list)?.as_array_mut()?.remove(i);
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
    ("sections-200-and-300", |c| {
        let secs = sections(c);
        let Some(p300) = secs.iter().position(|(_, code)| code == "300") else {
            return Vec::new();
        };
        let list = secs[p300].0[..secs[p300].0.len() - 1].to_vec();
        let item = join(&list, &[Seg::I(p300 + 1)]);
        // The CDA section is well formed on its own: it references the DocumentReference entry
        // of the Bundle, so that the only fault is having both 200 and 300.
        let Some(target) = c
            .entries()
            .iter()
            .find(|e| {
                e.pointer("resource.resourceType").and_then(Value::as_str)
                    == Some("DocumentReference")
            })
            .and_then(|e| e.get("fullUrl"))
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Vec::new();
        };
        c.mutant(
            "sections-200-and-300",
            format!("{} (section 200) added next to 300", c.e(&item)),
            vec![c.e(&item)],
            None,
            |d| {
                let sec = parse(&format!(
                    r#"{{"title":"CDA参照","code":{{"coding":[{{"system":"{SECTION_SYSTEM}","code":"200","display":"CDA参照セクション"}}]}},"text":{{"status":"additional","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">CDA</div>"}},"entry":[{{"reference":"{target}","type":"DocumentReference"}}]}}"#
                ));
                at_mut(d, &list)?.as_array_mut()?.insert(p300 + 1, sec);
                Some(())
            },
        )
        .into_iter()
        .collect()
    }),
];

// ------------------------------------------------------------------------------------ suite

struct Example {
    name: String,
    doc: Value,
}

fn examples(shared: &Path) -> Vec<Example> {
    let fx = shared.join("fixtures/jp-clins");
    let mut files: Vec<PathBuf> = vec![
        fx.join("clinical-core/Bundle-Bundle-CLINS-Observations-Example-01.json"),
        fx.join("clinical-core/Bundle-Bundle-CLINS-Referral-Example-01.json"),
        fx.join("clinical-core/Bundle-Bundle-CLINS-PCS-Example-01.json"),
        fx.join("eCheckupReport/Bundle-Bundle-eCheckupReport-Sample-01.json"),
    ];
    for f in common::json_files(&fx.join("clinical-core")) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("Bundle-") || name.contains("ErrorExample") {
            continue;
        }
        files.push(f);
    }
    files.push(common::examples_dir().join("clins-condition-bundle.json"));
    files.push(common::examples_dir().join("clins-allergy-bundle.json"));
    files
        .into_iter()
        .map(|f| Example {
            name: f
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".json")
                .to_string(),
            doc: common::parse_file(&f),
        })
        .collect()
}

/// One resource of each 6情報 item type, taken from the project's examples, for the
/// mixed-bundle mutation.
fn other_items() -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for f in ["clins-condition-bundle.json", "clins-allergy-bundle.json"] {
        let d = common::parse_file(&common::examples_dir().join(f));
        if let Some(r) = d
            .get("entry")
            .and_then(Value::as_array)
            .and_then(|e| e.get(1))
            .and_then(|e| e.get("resource"))
        {
            let rt = r
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap()
                .to_string();
            m.insert(rt, r.clone());
        }
    }
    m
}

fn index(defs: &Definitions, doc: &Value) -> (String, Vec<Elem>, Vec<Res>) {
    let rt = doc
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut elems = Vec::new();
    let mut resources = vec![Res {
        segs: Vec::new(),
        rt: rt.clone(),
    }];
    if let Some(p) = defs.base_plan(&rt) {
        walk(
            defs,
            doc,
            &p,
            0,
            &mut Vec::new(),
            &[],
            &mut elems,
            &mut resources,
        );
    }
    (rt, elems, resources)
}

/// Whether an error names the mutated element (see the module documentation).
fn matches(x: &Expect, i: &Issue) -> bool {
    let e = &i.expression;
    x.at.iter().any(|a| {
        e == a
            || (!x.exact
                && e.strip_prefix(a.as_str())
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('[')))
    }) || x.list_ok.as_ref().is_some_and(|l| e == l)
}

struct Outcome {
    example: String,
    kind: &'static str,
    what: String,
    expect: Expect,
    rejected: bool,
    matched: bool,
    issues: Vec<Issue>,
}

fn run_suite(v: &Validator, exs: &[Example]) -> (Vec<Outcome>, BTreeMap<String, Vec<usize>>) {
    let others = other_items();
    let mut outcomes = Vec::new();
    // example → mutants per kind
    let mut table: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for ex in exs {
        let (rt, elems, resources) = index(v.definitions(), &ex.doc);
        let ctx = Ctx {
            defs: v.definitions(),
            doc: &ex.doc,
            rt,
            elems,
            resources,
            other_items: &others,
        };
        let mut counts = vec![0usize; KINDS.len()];
        for (ki, (_, f)) in KINDS.iter().enumerate() {
            for m in f(&ctx) {
                counts[ki] += 1;
                let issues = v.validate(&m.doc);
                let errs: Vec<&Issue> = issues.iter().filter(|i| i.severity.is_error()).collect();
                let matched = errs.iter().any(|i| matches(&m.expect, i));
                outcomes.push(Outcome {
                    example: ex.name.clone(),
                    kind: m.kind,
                    what: m.what,
                    expect: m.expect,
                    rejected: !errs.is_empty(),
                    matched,
                    issues,
                });
            }
        }
        table.insert(ex.name.clone(), counts);
    }
    (outcomes, table)
}

fn print_table(exs: &[Example], table: &BTreeMap<String, Vec<usize>>, outcomes: &[Outcome]) {
    println!("mutation kinds:");
    for (i, (name, _)) in KINDS.iter().enumerate() {
        let n: usize = table.values().map(|c| c[i]).sum();
        let bad = outcomes
            .iter()
            .filter(|o| o.kind == *name && !(o.rejected && o.matched))
            .count();
        println!("  {:>2} {name:<36} {n:>4} mutants, {bad} failing", i + 1);
    }
    println!();
    let w = exs
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(10)
        .min(60);
    let mut head = format!("{:<w$} kinds", "example");
    for i in 0..KINDS.len() {
        head.push_str(&format!("{:>3}", i + 1));
    }
    println!("{head}");
    for ex in exs {
        let counts = &table[&ex.name];
        let applicable = counts.iter().filter(|c| **c > 0).count();
        let mut line = format!("{:<w$} {applicable:>5}", short(&ex.name, w));
        for (i, c) in counts.iter().enumerate() {
            let cell = if *c == 0 {
                ".".to_string()
            } else if outcomes
                .iter()
                .any(|o| o.example == ex.name && o.kind == KINDS[i].0 && !(o.rejected && o.matched))
            {
                "X".to_string()
            } else {
                c.to_string()
            };
            line.push_str(&format!("{cell:>3}"));
        }
        println!("{line}");
    }
    println!(
        "(cell: number of mutants of that kind, all passing; X: some failing; .: not applicable)"
    );
}

#[test]
fn mutants_are_rejected_at_the_mutated_element() {
    let shared = shared_or_skip!();
    let v = common::jp_validator(&shared);
    let exs = examples(&shared);
    assert_eq!(exs.len(), 4 + 38 + 2, "unexpected example count");
    // Every example is valid before it is corrupted.
    for ex in &exs {
        let issues = v.validate(&ex.doc);
        let errs: Vec<Issue> = issues
            .iter()
            .filter(|i| i.severity.is_error())
            .cloned()
            .collect();
        assert!(
            errs.is_empty(),
            "{} is not valid before mutation:\n{}",
            ex.name,
            common::show(&errs)
        );
    }
    let (outcomes, table) = run_suite(v, &exs);
    print_table(&exs, &table, &outcomes);

    let total = outcomes.len();
    let rejected = outcomes.iter().filter(|o| o.rejected).count();
    let matched = outcomes.iter().filter(|o| o.rejected && o.matched).count();
    let kinds_used = (0..KINDS.len())
        .filter(|i| table.values().any(|c| c[*i] > 0))
        .count();
    println!(
        "\nmutation suite: {} examples, {} kinds ({} applied), {total} mutants, {rejected} rejected ({:.1}%), {matched} rejected with a matching expression ({:.1}%)",
        exs.len(),
        KINDS.len(),
        kinds_used,
        100.0 * rejected as f64 / total.max(1) as f64,
        100.0 * matched as f64 / total.max(1) as f64,
    );
    if std::env::var("CLINS_MUTATION_VERBOSE").as_deref() == Ok("1") {
        for o in &outcomes {
            let hit = o
                .issues
                .iter()
                .find(|i| i.severity.is_error() && matches(&o.expect, i));
            println!(
                "[{}] {} :: {} -> {}",
                o.kind,
                o.example,
                o.what,
                hit.map(|i| format!("{} [{}]", i.expression, i.detail))
                    .unwrap_or_else(|| "-".into())
            );
            if std::env::var("CLINS_MUTATION_SHOW").as_deref() == Ok(o.kind) {
                let errs: Vec<Issue> = o
                    .issues
                    .iter()
                    .filter(|i| i.severity.is_error())
                    .cloned()
                    .collect();
                println!("{}", common::show(&errs));
            }
        }
    }
    let failing: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !(o.rejected && o.matched))
        .collect();
    for o in &failing {
        println!(
            "\nFAILED [{}] {} :: {}\n  expected an error at {}{}{}\n  {}",
            o.kind,
            o.example,
            o.what,
            o.expect.at.join(" or "),
            if o.expect.exact { " (exactly)" } else { "" },
            o.expect
                .list_ok
                .as_ref()
                .map(|l| format!(" (or on the list {l})"))
                .unwrap_or_default(),
            if o.rejected {
                "rejected, but no error names the mutated element; our issues:"
            } else {
                "NOT rejected; our issues:"
            }
        );
        let shown: Vec<Issue> = o
            .issues
            .iter()
            .filter(|i| i.detail != "INVARIANT-NOT-EVALUATED")
            .cloned()
            .collect();
        println!("{}", common::show(&shown));
    }

    let few: Vec<(String, usize)> = exs
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                table[&e.name].iter().filter(|c| **c > 0).count(),
            )
        })
        .filter(|(_, n)| *n < 15)
        .collect();
    assert!(
        few.is_empty(),
        "examples with fewer than 15 applicable kinds: {few:?}"
    );
    assert!(
        failing.is_empty(),
        "{} of {total} mutants failed ({} not rejected, {} rejected without an error at the mutated element)",
        failing.len(),
        total - rejected,
        rejected - matched
    );
}

/// The matcher itself: prefixes only at element boundaries, the list path only when allowed.
#[test]
fn expression_matching_is_tight() {
    let m = Expect {
        at: vec!["Condition.code.coding[0].system".into()],
        list_ok: Some("Condition.code.coding".into()),
        exact: false,
    };
    let issue = |e: &str| Issue::error(fhir::outcome::IssueType::Value, "X", e, "", "");
    assert!(matches(&m, &issue("Condition.code.coding[0].system")));
    assert!(matches(&m, &issue("Condition.code.coding")));
    assert!(!matches(&m, &issue("Condition.code")));
    assert!(!matches(&m, &issue("Condition.code.coding[0]")));
    assert!(!matches(&m, &issue("Condition.code.coding[0].systemX")));
    let m2 = Expect {
        list_ok: None,
        at: vec!["Bundle.entry[1]".into()],
        exact: false,
    };
    assert!(matches(&m2, &issue("Bundle.entry[1].resource")));
    assert!(!matches(&m2, &issue("Bundle.entry[10].resource")));
    assert!(!matches(&m2, &issue("Bundle.entry")));
    let m3 = Expect { exact: true, ..m2 };
    assert!(matches(&m3, &issue("Bundle.entry[1]")));
    assert!(!matches(&m3, &issue("Bundle.entry[1].resource")));
    assert_eq!(
        expr("Bundle", &[k("entry"), Seg::I(1), k("resource"), k("code")]),
        "Bundle.entry[1].resource.code"
    );
}
