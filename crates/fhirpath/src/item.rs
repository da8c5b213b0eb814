//! Values of evaluation: FHIR nodes of the input (borrowed JSON) and System values.

use std::rc::Rc;

use fhir::json::Value;

use crate::decimal::Decimal;
use crate::quantity::Quantity;
use crate::temporal::{Date, DateTime, Time};

/// One item of a collection.
#[derive(Debug, Clone)]
pub enum Item<'a> {
    /// An element or resource of the input.
    Node(Node<'a>),
    Boolean(bool),
    Integer(i64),
    Long(i64),
    Decimal(Decimal),
    String(Text<'a>),
    Date(Date),
    DateTime(DateTime),
    Time(Time),
    Quantity(Quantity),
    /// The result of `type()`: a type's namespace and name (`SimpleTypeInfo`/`ClassInfo`).
    TypeInfo(&'static str, Rc<str>),
}

/// A string value: borrowed from the input when it comes from a FHIR node (no copy), shared
/// when it was computed or written as a literal.
#[derive(Debug, Clone)]
pub enum Text<'a> {
    Ref(&'a str),
    Own(std::sync::Arc<str>),
}

impl<'a> Text<'a> {
    pub fn as_str(&self) -> &str {
        match self {
            Text::Ref(s) => s,
            Text::Own(s) => s,
        }
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text<'_> {
    fn from(s: &str) -> Self {
        Text::Own(std::sync::Arc::from(s))
    }
}

impl From<String> for Text<'_> {
    fn from(s: String) -> Self {
        Text::Own(std::sync::Arc::from(s))
    }
}

impl From<std::sync::Arc<str>> for Text<'_> {
    fn from(s: std::sync::Arc<str>) -> Self {
        Text::Own(s)
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.as_str() == o.as_str()
    }
}

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A FHIR element: its JSON value and, for primitives, the `_name` object with id/extensions.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    /// The JSON value: an object, or the primitive's JSON value (absent when only `_name`
    /// exists).
    pub value: Option<&'a Value>,
    /// The `_name` sibling of a primitive.
    pub under: Option<&'a Value>,
    /// The FHIR type (`Patient`, `HumanName`, `string`, `BackboneElement`), from [`intern`].
    pub type_name: &'static str,
    /// The model key of its children: the type name, or the element path for inline types;
    /// from [`intern`] (the engine caches model answers by its address).
    pub key: &'static str,
}

pub type Collection<'a> = Vec<Item<'a>>;

/// FHIR primitive types whose value is a System.String.
pub const STRING_TYPES: &[&str] = &[
    "string",
    "code",
    "id",
    "uri",
    "url",
    "canonical",
    "oid",
    "uuid",
    "markdown",
    "base64Binary",
    "xhtml",
];

/// FHIR types that convert to a System.Quantity.
pub const QUANTITY_TYPES: &[&str] = &[
    "Quantity",
    "Age",
    "Count",
    "Distance",
    "Duration",
    "SimpleQuantity",
    "MoneyQuantity",
];

impl<'a> Node<'a> {
    pub fn object(&self) -> Option<&'a fhir::json::Object> {
        self.value.and_then(Value::as_object)
    }
    pub fn is_primitive(&self) -> bool {
        self.type_name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
    }
}

impl<'a> Item<'a> {
    /// The System value of a FHIR primitive node (or a Quantity-typed node); other items as
    /// they are.
    pub fn to_system(&self) -> Item<'a> {
        let Item::Node(n) = self else {
            return self.clone();
        };
        let t: &str = n.type_name;
        if QUANTITY_TYPES.contains(&t) {
            if let Some(q) = node_quantity(n) {
                return Item::Quantity(q);
            }
            return self.clone();
        }
        let Some(v) = n.value else {
            return self.clone();
        };
        match (t, v) {
            ("boolean", Value::Bool(b)) => Item::Boolean(*b),
            ("integer" | "positiveInt" | "unsignedInt", Value::Number(s)) => {
                match s.parse::<i64>() {
                    Ok(i) => Item::Integer(i),
                    Err(_) => self.clone(),
                }
            }
            ("integer64", Value::String(s) | Value::Number(s)) => match s.parse::<i64>() {
                Ok(i) => Item::Long(i),
                Err(_) => self.clone(),
            },
            ("decimal", Value::Number(s)) => match Decimal::parse(s) {
                Some(d) => Item::Decimal(d),
                None => self.clone(),
            },
            ("date", Value::String(s)) => match Date::parse(s) {
                Some(d) => Item::Date(d),
                None => self.clone(),
            },
            ("dateTime" | "instant", Value::String(s)) => match DateTime::parse(s) {
                Some(d) => Item::DateTime(d),
                None => self.clone(),
            },
            ("time", Value::String(s)) => match Time::parse(s) {
                Some(d) => Item::Time(d),
                None => self.clone(),
            },
            (_, Value::String(s)) if STRING_TYPES.contains(&t) => Item::String(Text::Ref(s)),
            // A primitive whose JSON form does not match its type: use the JSON value.
            (_, Value::String(s)) => Item::String(Text::Ref(s)),
            (_, Value::Bool(b)) => Item::Boolean(*b),
            (_, Value::Number(s)) => match s.parse::<i64>() {
                Ok(i) => Item::Integer(i),
                Err(_) => Decimal::parse(s).map_or(self.clone(), Item::Decimal),
            },
            _ => self.clone(),
        }
    }

    /// The FHIRPath type name of the item (`System.Integer`, `FHIR.Patient`).
    pub fn type_name(&self) -> (&'static str, &str) {
        match self {
            Item::Node(n) => ("FHIR", n.type_name),
            Item::Boolean(_) => ("System", "Boolean"),
            Item::Integer(_) => ("System", "Integer"),
            Item::Long(_) => ("System", "Long"),
            Item::Decimal(_) => ("System", "Decimal"),
            Item::String(_) => ("System", "String"),
            Item::Date(_) => ("System", "Date"),
            Item::DateTime(_) => ("System", "DateTime"),
            Item::Time(_) => ("System", "Time"),
            Item::Quantity(_) => ("System", "Quantity"),
            Item::TypeInfo(..) => ("System", "TypeInfo"),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Item::String(s) => Some(s),
            Item::Node(n) => n.value.and_then(Value::as_str),
            _ => None,
        }
    }
}

/// A FHIR Quantity-typed node as a System Quantity (UCUM code preferred, else unit).
pub fn node_quantity(n: &Node<'_>) -> Option<Quantity> {
    let o = n.object()?;
    let value = Decimal::parse(o.get("value")?.as_number()?)?;
    let ucum = o.get("system").and_then(Value::as_str) == Some("http://unitsofmeasure.org");
    let unit = if ucum {
        o.get("code").and_then(Value::as_str)
    } else {
        None
    }
    .or_else(|| o.get("unit").and_then(Value::as_str))
    .or_else(|| o.get("code").and_then(Value::as_str))
    .unwrap_or("1");
    Some(Quantity::new(value, unit))
}

#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

type NameSet = std::collections::HashSet<&'static str, std::hash::BuildHasherDefault<FxHasher>>;

thread_local! {
    static NAMES: std::cell::RefCell<NameSet> = std::cell::RefCell::new(NameSet::default());
}

/// The permanent copy of a type name or model key. The same few hundred names are used for
/// every node, so each is stored once per thread and never freed (a bounded set: type names
/// and element paths of the loaded definitions): nodes then copy a reference instead of
/// counting or allocating.
///
/// Names also come from data (the `resourceType` of a contained resource), so the set is
/// capped: a name longer than 256 bytes, or any new name once 100,000 are stored, becomes
/// `"Resource"` instead of growing memory without bound.
pub fn intern(s: &str) -> &'static str {
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some(hit) = names.get(s) {
            return *hit;
        }
        if s.len() > 256 || names.len() >= 100_000 {
            return "Resource";
        }
        let leaked: &'static str = Box::leak(Box::<str>::from(s));
        names.insert(leaked);
        leaked
    })
}
