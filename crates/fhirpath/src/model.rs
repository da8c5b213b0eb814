//! What the engine needs to know about FHIR types, supplied by the caller.
//!
//! `crates/conformance` implements [`Model`] from the R4 definitions. A type is identified by a
//! *type key*: the name of a type (`Patient`, `HumanName`, `string`) or, for elements defined
//! inline (BackboneElements), the element path (`Patient.contact`, `Bundle.entry`).

/// One FHIR element of a type.
#[derive(Debug, Clone)]
pub struct ChildDef {
    /// `true` for `value[x]`-style elements: the JSON member is `name` + type name.
    pub choice: bool,
    /// Allowed types: (FHIR type name, type key of its children).
    pub types: Vec<(String, String)>,
}

pub trait Model: Send + Sync {
    /// The element `name` of the type `key` (implementations should cache: this is called
    /// for every navigation step).
    fn child(&self, key: &str, name: &str) -> Option<std::sync::Arc<ChildDef>>;
    /// The base type of `type_name` (`code` → `string`, `Patient` → `DomainResource`,
    /// `Age` → `Quantity`), `None` at the top.
    fn base_type(&self, type_name: &str) -> Option<&str>;
    /// Whether `name` is a FHIR type (resource, complex or primitive).
    fn is_type(&self, name: &str) -> bool;
    /// Whether `name` is a resource type.
    fn is_resource(&self, name: &str) -> bool;
    /// Membership of a code in a value set, when it can be decided locally.
    fn member_of(&self, _value_set: &str, _system: Option<&str>, _code: &str) -> Option<bool> {
        None
    }
    /// A number unique to this model instance (never reused), or 0. Models with an id let
    /// the engine keep their answers in a per-thread cache across evaluations.
    fn cache_id(&self) -> u64 {
        0
    }
    /// Whether `resource` conforms to the profile `url`, when that can be decided.
    fn conforms_to(&self, _resource: &fhir::Value, _url: &str) -> Option<bool> {
        None
    }
}

/// A model that knows nothing: navigation falls back to JSON member names and resource types.
pub struct NoModel;

impl Model for NoModel {
    fn child(&self, _key: &str, _name: &str) -> Option<std::sync::Arc<ChildDef>> {
        None
    }
    fn base_type(&self, _type_name: &str) -> Option<&str> {
        None
    }
    fn is_type(&self, _name: &str) -> bool {
        false
    }
    fn is_resource(&self, name: &str) -> bool {
        name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
    }
}
