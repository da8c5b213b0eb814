//! Snapshot generation for StructureDefinitions published with a differential only.
//!
//! Published IG packages carry snapshots, but profiles written by hand (and most validator test
//! cases) often do not. The snapshot is the base definition's snapshot with the differential
//! merged in by element id: constrained elements are overridden, slices are added as copies of
//! the sliced element, and elements below a datatype that the base snapshot does not expand are
//! taken from the datatype's own definition.

use fhir::json::{Object, Value};

use crate::definitions::Definitions;

const MAX_DEPTH: usize = 12;

/// A copy of `sd` with a generated `snapshot`, or `None` when it cannot be generated (no base,
/// base not loaded, or not a constraint).
pub fn generate(defs: &Definitions, sd: &Value) -> Option<Value> {
    generate_at(defs, sd, 0)
}

fn generate_at(defs: &Definitions, sd: &Value, depth: usize) -> Option<Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    let diff = sd.pointer("differential.element")?.as_array()?;
    let base_url = sd.get("baseDefinition")?.as_str()?;
    let base = defs.structure_definition(base_url)?;
    let base_elements: Vec<Value> = match base.pointer("snapshot.element").and_then(Value::as_array)
    {
        Some(e) => e.to_vec(),
        None => {
            let generated = generate_at(defs, base, depth + 1)?;
            generated.pointer("snapshot.element")?.as_array()?.to_vec()
        }
    };
    let mut b = Builder {
        defs,
        base: base_elements.clone(),
        elements: base_elements,
    };
    for d in diff {
        let Some(mut id) = element_id(d) else {
            continue;
        };
        if !b.ensure(&id, 0) {
            // Old style `Observation.valueQuantity`: a constraint on `value[x]`.
            match b.choice_for(&id) {
                Some(c) => id = c,
                None => continue,
            }
        }
        if let Some(i) = b.index(&id) {
            merge(&mut b.elements[i], d);
        }
    }
    let mut out = sd.as_object()?.clone();
    let mut snap = Object::new();
    snap.insert("element", Value::Array(b.elements));
    out.insert("snapshot", Value::Object(snap));
    Some(Value::Object(out))
}

/// The element id, derived from path and sliceName when absent.
fn element_id(e: &Value) -> Option<String> {
    if let Some(id) = e.get("id").and_then(Value::as_str) {
        return Some(id.to_string());
    }
    let path = e.get("path").and_then(Value::as_str)?;
    Some(match e.get("sliceName").and_then(Value::as_str) {
        Some(s) => format!("{path}:{s}"),
        None => path.to_string(),
    })
}

/// `a.b:s.c:t` → `a.b.c`.
fn unsliced(id: &str) -> String {
    id.split('.')
        .map(|seg| seg.split(':').next().unwrap_or(seg))
        .collect::<Vec<_>>()
        .join(".")
}

struct Builder<'d> {
    defs: &'d Definitions,
    /// The base snapshot as it was, for templates that must not carry this profile's changes.
    base: Vec<Value>,
    elements: Vec<Value>,
}

impl Builder<'_> {
    fn index(&self, id: &str) -> Option<usize> {
        self.elements
            .iter()
            .position(|e| element_id(e).as_deref() == Some(id))
    }

    /// Makes sure an element with `id` exists, creating it (and its ancestors) from templates.
    fn ensure(&mut self, id: &str, depth: usize) -> bool {
        if self.index(id).is_some() {
            return true;
        }
        if depth > MAX_DEPTH {
            return false;
        }
        let Some(dot) = id.rfind('.') else {
            return false;
        };
        let (parent, last) = (&id[..dot], &id[dot + 1..]);
        if let Some((elem, slice)) = last.split_once(':') {
            // A slice: a copy of the sliced element.
            let sliced = format!("{parent}.{elem}");
            if !self.ensure(&sliced, depth + 1) {
                return false;
            }
            let Some(i) = self.index(&sliced) else {
                return false;
            };
            let mut copy = self.elements[i].clone();
            if let Some(o) = copy.as_object_mut() {
                o.insert("id", Value::string(id));
                o.insert("sliceName", Value::string(slice));
                o.remove("slicing");
            }
            self.elements.push(copy);
            return true;
        }
        if !self.ensure(parent, depth + 1) {
            return false;
        }
        // A child: from the unsliced element of the same path, or from the parent's datatype.
        let plain = unsliced(id);
        let template = if plain != id {
            self.index(&plain).map(|i| self.elements[i].clone())
        } else {
            None
        };
        let template = template
            .or_else(|| self.template_via_content_reference(parent, last))
            .or_else(|| self.template_from_datatype(parent, last));
        let Some(mut t) = template else {
            return false;
        };
        if let Some(o) = t.as_object_mut() {
            o.insert("id", Value::string(id));
            o.insert("path", Value::string(plain));
            o.remove("sliceName");
        }
        self.elements.push(t);
        true
    }

    /// `a.valueQuantity` → `a.value[x]` when that choice element exists.
    fn choice_for(&self, id: &str) -> Option<String> {
        let (parent, last) = id.rsplit_once('.')?;
        self.elements.iter().filter_map(element_id).find(|e| {
            e.strip_prefix(parent)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(|r| r.strip_suffix("[x]"))
                .is_some_and(|base| {
                    !base.contains('.')
                        && last
                            .strip_prefix(base)
                            .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_uppercase()))
                })
        })
    }

    /// For an element defined by `contentReference` (`Parameters.parameter.part` →
    /// `#Parameters.parameter`), the definition of `child` under the referenced element.
    fn template_via_content_reference(&self, parent: &str, child: &str) -> Option<Value> {
        let plain = unsliced(parent);
        let p = &self.elements[self.index(&plain)?];
        let target = p.get("contentReference")?.as_str()?.rsplit('#').next()?;
        let want = format!("{target}.{child}");
        let mut copy = self
            .base
            .iter()
            .find(|e| element_id(e).as_deref() == Some(want.as_str()))?
            .clone();
        if let Some(o) = copy.as_object_mut() {
            o.insert("path", Value::string(format!("{plain}.{child}")));
        }
        Some(copy)
    }

    /// The definition of `child` in the datatype of element `parent`.
    fn template_from_datatype(&self, parent: &str, child: &str) -> Option<Value> {
        let p = &self.elements[self.index(parent)?];
        let types = p.get("type")?.as_array()?;
        // A renamed choice slice (`value[x]:valueQuantity`) names its type.
        let code = if types.len() == 1 {
            types[0].get("code")?.as_str()?.to_string()
        } else {
            let slice = p.get("sliceName").and_then(Value::as_str)?;
            types
                .iter()
                .filter_map(|t| t.get("code").and_then(Value::as_str))
                .find(|c| {
                    slice
                        .to_ascii_lowercase()
                        .ends_with(&c.to_ascii_lowercase())
                })?
                .to_string()
        };
        let dt = self
            .defs
            .structure_definition(&format!("http://hl7.org/fhir/StructureDefinition/{code}"))?;
        let want = format!("{code}.{child}");
        dt.pointer("snapshot.element")?
            .as_array()?
            .iter()
            .find(|e| e.get("path").and_then(Value::as_str) == Some(want.as_str()))
            .cloned()
    }
}

/// Differential element `d` applied to snapshot element `e`.
fn merge(e: &mut Value, d: &Value) {
    let (Some(eo), Some(dobj)) = (e.as_object_mut(), d.as_object()) else {
        return;
    };
    for (k, v) in dobj.iter() {
        match k {
            "id" | "path" => {}
            "constraint" => {
                let mut list = eo
                    .get("constraint")
                    .and_then(Value::as_array)
                    .map(<[Value]>::to_vec)
                    .unwrap_or_default();
                list.extend(v.items().iter().cloned());
                eo.insert("constraint", Value::Array(list));
            }
            _ => {
                if k.starts_with("fixed") || k.starts_with("pattern") {
                    let old: Vec<String> = eo
                        .keys()
                        .filter(|x| x.starts_with("fixed") || x.starts_with("pattern"))
                        .map(str::to_string)
                        .collect();
                    for o in old {
                        eo.remove(&o);
                    }
                }
                eo.insert(k, v.clone());
            }
        }
    }
}
