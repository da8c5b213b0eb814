//! The FHIR type model for FHIRPath, from the R4 core definitions (and loaded IG packages).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use fhir::json::Value;
use fhirpath::model::{ChildDef, Model};

use crate::definitions::{Definitions, FastHash};
use crate::plan::{NodeId, Plan};
use crate::terminology::Membership;

type ChildCache = HashMap<Box<str>, HashMap<Box<str>, Option<Arc<ChildDef>>, FastHash>, FastHash>;

/// [`Model`] over [`Definitions`]: element types from the core StructureDefinitions, value sets
/// from the local terminology.
pub struct DefinitionsModel {
    defs: Arc<Definitions>,
    /// key → element name → definition.
    children: RwLock<ChildCache>,
    /// Core type → its base type (`code` → `string`, `Patient` → `DomainResource`).
    bases: HashMap<Box<str>, Box<str>, FastHash>,
    /// Unique id of this instance (for the engine's per-thread caches).
    id: u64,
    /// The validator behind `conformsTo()`, built on first use.
    validator: std::sync::OnceLock<crate::validator::Validator>,
}

impl DefinitionsModel {
    pub fn new(defs: Arc<Definitions>) -> Self {
        let bases = defs.core_base_types();
        DefinitionsModel {
            defs,
            children: RwLock::new(HashMap::default()),
            bases,
            id: {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
            validator: std::sync::OnceLock::new(),
        }
    }

    pub fn definitions(&self) -> &Arc<Definitions> {
        &self.defs
    }

    /// The plan and node that a type key designates: a type name (`HumanName`) or an element
    /// path (`Patient.contact`).
    fn resolve_key(&self, key: &str) -> Option<(Arc<Plan>, NodeId)> {
        match key.split_once('.') {
            None => self.defs.base_plan(key).map(|p| (p, 0)),
            Some((root, _)) => {
                let plan = self.defs.base_plan(root)?;
                let mut id = plan.node_by_id(key)?;
                if let Some(cr) = &plan.node(id).content_reference {
                    id = plan.content_reference(cr)?;
                }
                Some((plan, id))
            }
        }
    }

    fn compute_child(&self, key: &str, name: &str) -> Option<ChildDef> {
        let (plan, node) = self.resolve_key(key)?;
        let n = plan.node(node);
        let c = n
            .children
            .iter()
            .map(|&c| plan.node(c))
            .find(|c| &*c.name == name)?;
        let path_key = || {
            let target = match &c.content_reference {
                Some(cr) => cr.rsplit('#').next().unwrap_or(&c.path).to_string(),
                None => c.path.to_string(),
            };
            target
        };
        let mut types = Vec::with_capacity(c.types.len().max(1));
        if c.types.is_empty() {
            // contentReference: the referenced element's type.
            types.push(("BackboneElement".to_string(), path_key()));
        }
        for t in &c.types {
            let code = t.code.to_string();
            let inline =
                matches!(code.as_str(), "BackboneElement" | "Element") && !c.children.is_empty();
            let k = if inline { path_key() } else { code.clone() };
            types.push((code, k));
        }
        Some(ChildDef {
            choice: c.choice,
            types,
        })
    }
}

impl Model for DefinitionsModel {
    fn child(&self, key: &str, name: &str) -> Option<Arc<ChildDef>> {
        if let Ok(cache) = self.children.read() {
            if let Some(hit) = cache.get(key).and_then(|m| m.get(name)) {
                return hit.clone();
            }
        }
        let def = self.compute_child(key, name).map(Arc::new);
        if let Ok(mut cache) = self.children.write() {
            cache
                .entry(key.into())
                .or_default()
                .insert(name.into(), def.clone());
        }
        def
    }

    fn cache_id(&self) -> u64 {
        self.id
    }

    fn base_type(&self, type_name: &str) -> Option<&str> {
        self.bases.get(type_name).map(|b| &**b)
    }

    fn is_type(&self, name: &str) -> bool {
        self.defs.base_plan(name).is_some()
    }

    fn is_resource(&self, name: &str) -> bool {
        self.defs
            .base_plan(name)
            .is_some_and(|p| &*p.kind == "resource")
    }

    fn member_of(&self, value_set: &str, system: Option<&str>, code: &str) -> Option<bool> {
        let exp = crate::terminology::expand(&self.defs, value_set);
        match exp.contains(system, code) {
            Membership::Member => Some(true),
            Membership::NotMember => Some(false),
            Membership::Unknown(_) => None,
        }
    }

    fn conforms_to(&self, resource: &Value, url: &str) -> Option<bool> {
        let plan = self.defs.plan(url)?;
        let rt = resource.get("resourceType").and_then(Value::as_str)?;
        if rt != &*plan.type_name {
            return Some(false);
        }
        let v = self
            .validator
            .get_or_init(|| crate::validator::Validator::new(self.defs.clone()));
        Some(
            !v.validate_against(resource, url)
                .iter()
                .any(|i| i.severity.is_error()),
        )
    }
}
