//! Compilation (literals turned into values once) and evaluation.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, OnceLock, RwLock};

use fhir::json::Value;

use crate::ast::{BinaryOp, Expr, Literal, TypeOp, TypeSpec, UnaryOp};
use crate::decimal::Decimal;
use crate::item::{Collection, Item, Node};
use crate::model::Model;
use crate::quantity::Quantity;
use crate::temporal::{Date, DateTime, Time};

/// An evaluation error (a run-time error in FHIRPath terms, or a semantic error found while
/// evaluating, such as an unknown function or a path the model does not have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        message: message.into(),
    })
}

/// Either problem an expression can have.
#[derive(Debug, Clone)]
pub enum Error {
    Parse(crate::parser::ParseError),
    Eval(EvalError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Parse(e) => write!(f, "syntax error: {e}"),
            Error::Eval(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// A literal turned into its value.
#[derive(Debug, Clone)]
pub enum Const {
    Boolean(bool),
    String(std::sync::Arc<str>),
    Integer(i64),
    Long(i64),
    Decimal(Decimal),
    Date(Date),
    DateTime(DateTime),
    Time(Time),
    Quantity(Quantity),
}

impl PartialEq for Const {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (Const::Boolean(a), Const::Boolean(b)) => a == b,
            (Const::String(a), Const::String(b)) => a == b,
            (Const::Integer(a), Const::Integer(b)) | (Const::Long(a), Const::Long(b)) => a == b,
            (Const::Decimal(a), Const::Decimal(b)) => a == b && a.scale() == b.scale(),
            (Const::Date(a), Const::Date(b)) => a.to_string() == b.to_string(),
            (Const::DateTime(a), Const::DateTime(b)) => a.to_string() == b.to_string(),
            (Const::Time(a), Const::Time(b)) => a.to_string() == b.to_string(),
            (Const::Quantity(a), Const::Quantity(b)) => {
                a.to_fhirpath_string() == b.to_fhirpath_string()
            }
            _ => false,
        }
    }
}

/// A compiled expression, shareable between threads.
#[derive(Debug)]
pub struct Compiled {
    pub text: Box<str>,
    pub(crate) expr: Expr,
}

impl Compiled {
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}

/// Parses and checks an expression. Literals are validated here (an invalid date literal is a
/// compile error).
pub fn compile(text: &str) -> Result<Compiled, Error> {
    let expr = crate::parser::parse(text).map_err(Error::Parse)?;
    check_literals(&expr).map_err(Error::Eval)?;
    let expr = fold_literals(expr).map_err(Error::Eval)?;
    Ok(Compiled {
        text: text.into(),
        expr,
    })
}

/// Replaces every literal by its value, so evaluation never parses a literal again.
fn fold_literals(e: Expr) -> Result<Expr, EvalError> {
    let b = |x: Box<Expr>| -> Result<Box<Expr>, EvalError> { Ok(Box::new(fold_literals(*x)?)) };
    Ok(match e {
        Expr::Literal(l) => Expr::Const(literal(&l)?),
        Expr::Member(t, n) => Expr::Member(b(t)?, n),
        Expr::Function {
            target,
            name,
            args,
            pos,
        } => Expr::Function {
            target: target.map(b).transpose()?,
            name,
            args: args
                .into_iter()
                .map(fold_literals)
                .collect::<Result<_, _>>()?,
            pos,
        },
        Expr::Index(t, i) => Expr::Index(b(t)?, b(i)?),
        Expr::Unary(op, t) => Expr::Unary(op, b(t)?),
        Expr::Binary(op, l, r) => Expr::Binary(op, b(l)?, b(r)?),
        Expr::Type(op, t, spec) => Expr::Type(op, b(t)?, spec),
        other => other,
    })
}

/// Compiles once per distinct text (process-wide cache).
pub fn compile_cached(text: &str) -> Result<Arc<Compiled>, Error> {
    static CACHE: OnceLock<RwLock<HashMap<Box<str>, Arc<Compiled>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| RwLock::new(HashMap::new()));
    if let Ok(c) = cache.read() {
        if let Some(hit) = c.get(text) {
            return Ok(hit.clone());
        }
    }
    let compiled = Arc::new(compile(text)?);
    if let Ok(mut c) = cache.write() {
        if c.len() < 100_000 {
            c.insert(text.into(), compiled.clone());
        }
    }
    Ok(compiled)
}

fn check_literals(e: &Expr) -> Result<(), EvalError> {
    match e {
        Expr::Literal(l) => literal(l).map(|_| ()),
        Expr::Member(t, _) | Expr::Unary(_, t) | Expr::Type(_, t, _) => check_literals(t),
        Expr::Function { target, args, .. } => {
            if let Some(t) = target {
                check_literals(t)?;
            }
            args.iter().try_for_each(check_literals)
        }
        Expr::Index(a, b) | Expr::Binary(_, a, b) => {
            check_literals(a)?;
            check_literals(b)
        }
        _ => Ok(()),
    }
}

pub(crate) fn literal(l: &Literal) -> Result<Const, EvalError> {
    Ok(match l {
        Literal::Boolean(b) => Const::Boolean(*b),
        Literal::String(s) => Const::String(std::sync::Arc::from(&**s)),
        Literal::Integer(i) => Const::Integer(*i),
        Literal::Long(i) => Const::Long(*i),
        Literal::Decimal(s) => match Decimal::parse(s) {
            Some(d) => Const::Decimal(d),
            None => return fail(format!("invalid decimal literal {s}")),
        },
        Literal::Date(s) => match Date::parse(s) {
            Some(d) => Const::Date(d),
            None => return fail(format!("invalid date literal @{s}")),
        },
        Literal::DateTime(s) => match DateTime::parse(s) {
            Some(d) => Const::DateTime(d),
            None => return fail(format!("invalid dateTime literal @{s}")),
        },
        Literal::Time(s) => match Time::parse(s) {
            Some(d) => Const::Time(d),
            None => return fail(format!("invalid time literal @T{s}")),
        },
        Literal::Quantity { value, unit, .. } => match Decimal::parse(value) {
            Some(d) => Const::Quantity(Quantity::new(d, unit)),
            None => return fail(format!("invalid quantity {value}")),
        },
    })
}

/// Receives `trace()` output: the label and the traced collection.
pub type TraceSink<'a, 'm> = Box<dyn FnMut(&str, &Collection<'a>) + 'm>;

/// What an evaluation runs against.
pub struct Context<'a, 'm> {
    pub model: &'m dyn Model,
    /// `%resource` / `%context` / `%rootResource`.
    pub resource: Option<Item<'a>>,
    pub root_resource: Option<Item<'a>>,
    pub context: Option<Item<'a>>,
    /// Other environment variables (`%name`), e.g. `%ucum`.
    pub variables: HashMap<String, Collection<'a>>,
    /// `trace()` output goes here.
    pub trace: Option<TraceSink<'a, 'm>>,
    /// Raise errors for paths the model does not know (strict mode).
    pub strict: bool,
    /// Fixed "now" for reproducible tests.
    pub now: Option<DateTime>,
    /// `x as T` on a collection filters instead of failing (R4 search parameters use it so).
    pub lenient_as: bool,
    /// `resolve()` of a reference that is not in the Bundle/contained gives a typed
    /// placeholder (type from `Type/id`), so `resolve() is Patient` works when indexing.
    pub resolve_to_type: bool,
    /// Order-dependent functions on an unordered collection (`children()`,
    /// `descendants()`) are errors.
    pub check_ordered_functions: bool,
}

impl<'a, 'm> Context<'a, 'm> {
    pub fn new(model: &'m dyn Model) -> Self {
        Context {
            model,
            resource: None,
            root_resource: None,
            context: None,
            variables: HashMap::new(),
            trace: None,
            strict: false,
            now: None,
            lenient_as: false,
            resolve_to_type: false,
            check_ordered_functions: false,
        }
    }

    /// A context whose `%resource`, `%rootResource` and `%context` are `resource`.
    pub fn for_resource(model: &'m dyn Model, resource: &'a Value) -> Self {
        let mut c = Self::new(model);
        let item = root_item(model, resource);
        c.resource = Some(item.clone());
        c.root_resource = Some(item.clone());
        c.context = Some(item);
        c
    }
}

/// The item for a resource (or any JSON object) at the root of an evaluation.
pub fn root_item<'a>(model: &dyn Model, v: &'a Value) -> Item<'a> {
    let t: &'static str = crate::item::intern(
        v.get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Element"),
    );
    let _ = model;
    Item::Node(Node {
        value: Some(v),
        under: None,
        type_name: t,
        key: t,
    })
}

/// Evaluates `compiled` against `input` (normally the context item).
pub fn evaluate<'a>(
    compiled: &Compiled,
    input: &Collection<'a>,
    ctx: &mut Context<'a, '_>,
) -> Result<Collection<'a>, EvalError> {
    let mut ev = Evaluator { ctx };
    let frame = Frame {
        this: None,
        index: None,
        total: None,
    };
    ev.eval(&compiled.expr, input, &frame)
}

/// `$this`, `$index`, `$total` inside an iteration.
#[derive(Clone)]
pub(crate) struct Frame<'a> {
    pub this: Option<Item<'a>>,
    pub index: Option<i64>,
    pub total: Option<Collection<'a>>,
}

pub(crate) struct Evaluator<'c, 'a, 'm> {
    pub ctx: &'c mut Context<'a, 'm>,
}

type ResolvedByName = HashMap<Box<str>, Option<Rc<Resolved>>, FxBuild>;

thread_local! {
    /// Model answers per (model instance, interned type key), reused across evaluations: the
    /// keys are interned for the life of the thread and model ids are never reused.
    static RESOLVED: std::cell::RefCell<HashMap<(u64, usize), ResolvedByName, FxBuild>> =
        std::cell::RefCell::new(HashMap::default());
}

type MembersByName = HashMap<Box<str>, Option<(&'static str, &'static str)>, FxBuild>;

thread_local! {
    /// JSON member name → (type, key) per (model instance, interned type key), for
    /// `children()` and `descendants()`.
    static MEMBERS: std::cell::RefCell<HashMap<(u64, usize), MembersByName, FxBuild>> =
        std::cell::RefCell::new(HashMap::default());
}

/// A model element resolved for this evaluation: its JSON member names with interned type
/// names and keys.
pub(crate) struct Resolved {
    members: Vec<(Box<str>, &'static str, &'static str)>,
    /// The model knows the parent type (so an empty `members` means "no such element").
    known_type: bool,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct PtrHasher(u64);

impl std::hash::Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes at a time: member names are short, and this runs per node visited.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

type FxBuild = std::hash::BuildHasherDefault<PtrHasher>;

impl<'a> Evaluator<'_, 'a, '_> {
    pub(crate) fn eval(
        &mut self,
        e: &Expr,
        input: &Collection<'a>,
        frame: &Frame<'a>,
    ) -> Result<Collection<'a>, EvalError> {
        match e {
            Expr::Empty => Ok(Vec::new()),
            Expr::Literal(l) => Ok(vec![const_item(literal(l)?)]),
            Expr::Const(c) => Ok(vec![const_item(c.clone())]),
            Expr::This => Ok(frame
                .this
                .clone()
                .map_or_else(|| input.clone(), |t| vec![t])),
            Expr::IndexVar => Ok(frame.index.map(Item::Integer).into_iter().collect()),
            Expr::Total => Ok(frame.total.clone().unwrap_or_default()),
            Expr::Variable(name) => self.variable(name),
            Expr::Ident(name) => {
                let base = match &frame.this {
                    Some(t) => vec![t.clone()],
                    None => input.clone(),
                };
                self.ident(&base, name, true)
            }
            Expr::Member(target, name) => {
                let base = self.eval(target, input, frame)?;
                self.ident(&base, name, false)
            }
            Expr::Index(target, index) => {
                let base = self.eval(target, input, frame)?;
                let idx = self.eval(index, input, frame)?;
                let i = match idx.as_slice() {
                    [] => return Ok(Vec::new()),
                    [one] => match one.to_system() {
                        Item::Integer(i) => i,
                        _ => return fail("an index must be an integer"),
                    },
                    _ => return fail("an index must be a single integer"),
                };
                Ok(usize::try_from(i)
                    .ok()
                    .and_then(|i| base.get(i).cloned())
                    .into_iter()
                    .collect())
            }
            Expr::Unary(op, inner) => {
                let v = self.eval(inner, input, frame)?;
                match op {
                    UnaryOp::Plus => Ok(v),
                    UnaryOp::Minus => {
                        let mut out = Vec::with_capacity(v.len());
                        for it in v {
                            out.push(match it.to_system() {
                                Item::Integer(i) => {
                                    Item::Integer(i.checked_neg().ok_or_else(overflow)?)
                                }
                                Item::Long(i) => Item::Long(i.checked_neg().ok_or_else(overflow)?),
                                Item::Decimal(d) => Item::Decimal(d.neg()),
                                Item::Quantity(q) => Item::Quantity(Quantity {
                                    value: q.value.neg(),
                                    unit: q.unit.clone(),
                                }),
                                _ => return fail("unary minus applies to numbers and quantities"),
                            });
                        }
                        Ok(out)
                    }
                }
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r, input, frame),
            Expr::Type(op, inner, spec) => {
                let v = self.eval(inner, input, frame)?;
                match op {
                    TypeOp::Is => match v.as_slice() {
                        [] => Ok(Vec::new()),
                        [one] => Ok(vec![Item::Boolean(self.is_type(one, spec, false))]),
                        _ => fail("'is' needs a single item"),
                    },
                    TypeOp::As => {
                        // R4 search expressions apply `as` to collections; `lenient_as`
                        // lets it filter like ofType() there.
                        if v.len() > 1 && !self.ctx.lenient_as {
                            return fail("'as' needs a single item");
                        }
                        Ok(v.into_iter()
                            .filter(|i| self.is_type(i, spec, true))
                            .collect())
                    }
                }
            }
            Expr::Function {
                target, name, args, ..
            } => {
                if self.ctx.check_ordered_functions
                    && matches!(
                        &**name,
                        "skip" | "take" | "first" | "last" | "tail" | "single"
                    )
                    && target.as_deref().is_some_and(is_unordered)
                {
                    return fail(format!("{name}() needs an ordered collection"));
                }
                let base = match target {
                    Some(t) => self.eval(t, input, frame)?,
                    None => match &frame.this {
                        Some(t) => vec![t.clone()],
                        None => input.clone(),
                    },
                };
                crate::functions::call(self, name, base, args, input, frame)
            }
        }
    }

    fn variable(&mut self, name: &str) -> Result<Collection<'a>, EvalError> {
        let single = |i: &Option<Item<'a>>| i.clone().into_iter().collect::<Vec<_>>();
        Ok(match name {
            "resource" => single(&self.ctx.resource),
            "rootResource" => single(&self.ctx.root_resource),
            "context" => single(&self.ctx.context),
            "ucum" => vec![Item::String(crate::item::Text::from(
                "http://unitsofmeasure.org",
            ))],
            "sct" => vec![Item::String(crate::item::Text::from(
                "http://snomed.info/sct",
            ))],
            "loinc" => vec![Item::String(crate::item::Text::from("http://loinc.org"))],
            _ => {
                if let Some(v) = self.ctx.variables.get(name) {
                    v.clone()
                } else if let Some(rest) = name.strip_prefix("vs-") {
                    vec![Item::String(crate::item::Text::from(
                        format!("http://hl7.org/fhir/ValueSet/{rest}").as_str(),
                    ))]
                } else if let Some(rest) = name.strip_prefix("ext-") {
                    vec![Item::String(crate::item::Text::from(
                        format!("http://hl7.org/fhir/StructureDefinition/{rest}").as_str(),
                    ))]
                } else {
                    return fail(format!("unknown environment variable %{name}"));
                }
            }
        })
    }

    /// Member access (or a type filter for a leading type name).
    pub(crate) fn ident(
        &mut self,
        base: &Collection<'a>,
        name: &str,
        leading: bool,
    ) -> Result<Collection<'a>, EvalError> {
        let mut out = Vec::new();
        // A name no item's type has is a semantic error (`Patient.name.given1`); a name some
        // items lack is simply absent there (`descendants().concept`).
        let mut known_missing = 0usize;
        let mut nodes = 0usize;
        for it in base {
            if let Item::TypeInfo(ns, n) = it {
                match name {
                    "namespace" => out.push(Item::String(crate::item::Text::from(*ns))),
                    "name" => out.push(Item::String(crate::item::Text::from(&**n))),
                    _ => {}
                }
                continue;
            }
            let Item::Node(n) = it else {
                continue;
            };
            nodes += 1;
            // `Patient.name` on a Patient: a leading type name selects the item itself.
            if leading && name.starts_with(|c: char| c.is_ascii_uppercase()) {
                if self.derives_from(n.type_name, name) {
                    out.push(it.clone());
                    continue;
                }
                if self.ctx.model.is_resource(name) || self.ctx.model.is_type(name) {
                    continue;
                }
            }
            if !self.children_named(n, name, &mut out)? {
                known_missing += 1;
            }
        }
        if nodes > 0 && known_missing == nodes {
            return fail(format!("no element '{name}' in {}", type_list(base)));
        }
        Ok(out)
    }

    /// The children of `n` called `name` (choice elements by their base name). Returns false
    /// when the model knows the type and it has no such element.
    pub(crate) fn children_named(
        &mut self,
        n: &Node<'a>,
        name: &str,
        out: &mut Collection<'a>,
    ) -> Result<bool, EvalError> {
        let model_id = self.ctx.model.cache_id();
        let key_ptr = n.key.as_ptr() as usize;
        let cached = if model_id == 0 {
            None
        } else {
            RESOLVED.with(|c| {
                c.borrow()
                    .get(&(model_id, key_ptr))
                    .and_then(|m| m.get(name).cloned())
            })
        };
        let resolved = match cached {
            Some(d) => d,
            None => {
                let def = self.ctx.model.child(n.key, name);
                let known_type = def.is_some() || self.model_knows(n.key);
                let d = Some(def.map_or_else(
                    || {
                        Rc::new(Resolved {
                            members: Vec::new(),
                            known_type,
                        })
                    },
                    |def| {
                        let members = if def.choice {
                            def.types
                                .iter()
                                .map(|(t, key)| {
                                    (
                                        choice_member(name, t).into_boxed_str(),
                                        crate::item::intern(t),
                                        crate::item::intern(key),
                                    )
                                })
                                .collect()
                        } else {
                            let (t, key) =
                                def.types.first().cloned().unwrap_or_else(|| {
                                    ("Element".into(), format!("{}.{name}", n.key))
                                });
                            vec![(
                                Box::<str>::from(name),
                                crate::item::intern(&t),
                                crate::item::intern(&key),
                            )]
                        };
                        Rc::new(Resolved {
                            members,
                            known_type,
                        })
                    },
                ));
                if model_id != 0 {
                    RESOLVED.with(|c| {
                        let mut c = c.borrow_mut();
                        if c.len() < 100_000 {
                            c.entry((model_id, key_ptr))
                                .or_default()
                                .insert(name.into(), d.clone());
                        }
                    });
                }
                d
            }
        };
        let Some(obj) = n.object() else {
            // A primitive value has no children, but its type may still define the name.
            return Ok(match resolved {
                Some(r) => !r.known_type || !r.members.is_empty(),
                None => !self.model_knows(n.key) || self.ctx.model.child(n.key, name).is_some(),
            });
        };
        match resolved {
            Some(r) if !r.members.is_empty() || r.known_type => {
                if r.members.is_empty() {
                    return Ok(false);
                }
                for (member, t, key) in &r.members {
                    push_member_rc(obj, member, t, key, out);
                }
            }
            _ => {
                if self.model_knows(n.key) {
                    return Ok(false);
                }
                // No model information: use the JSON as it is.
                if obj.get(name).is_some() || obj.get(&format!("_{name}")).is_some() {
                    let t = guess_type(obj.get(name));
                    push_member(obj, name, t, t, out);
                }
            }
        }
        Ok(true)
    }

    /// The type and key of JSON member `member` of type `key` (`valueQuantity` resolves
    /// through choice element `value[x]`), remembered per model (models with a cache id); None
    /// when the model has no such member or no stable answer (a choice element's base name).
    pub(crate) fn member_def(
        &self,
        key: &'static str,
        member: &str,
    ) -> Option<(&'static str, &'static str)> {
        let model_id = self.ctx.model.cache_id();
        let at = (model_id, key.as_ptr() as usize);
        if model_id != 0 {
            if let Some(hit) =
                MEMBERS.with(|c| c.borrow().get(&at).and_then(|m| m.get(member).copied()))
            {
                return hit;
            }
        }
        let model = &self.ctx.model;
        let found = match model.child(key, member) {
            Some(def) if def.choice => None,
            Some(def) => Some(match def.types.first() {
                Some((t, k)) => (crate::item::intern(t), crate::item::intern(k)),
                None => ("Element", crate::item::intern(&format!("{key}.{member}"))),
            }),
            None => (1..member.len()).rev().find_map(|split| {
                if !member.is_char_boundary(split)
                    || !member[split..].starts_with(|c: char| c.is_ascii_uppercase())
                {
                    return None;
                }
                let base = &member[..split];
                let def = model.child(key, base).filter(|d| d.choice)?;
                let (t, k) = def
                    .types
                    .iter()
                    .find(|(t, _)| choice_member(base, t) == member)?;
                Some((crate::item::intern(t), crate::item::intern(k)))
            }),
        };
        if model_id == 0 {
            return found;
        }
        MEMBERS.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() < 100_000 {
                let m = c.entry(at).or_default();
                if m.len() < 1_000 {
                    m.insert(member.into(), found);
                }
            }
        });
        found
    }

    fn model_knows(&self, key: &str) -> bool {
        self.ctx.model.is_type(key) || self.ctx.model.child(key, "id").is_some()
    }

    /// Whether FHIR type `t` is `ancestor` or derives from it.
    pub(crate) fn derives_from(&self, t: &str, ancestor: &str) -> bool {
        let mut cur = t;
        for _ in 0..16 {
            if cur == ancestor {
                return true;
            }
            match self.ctx.model.base_type(cur) {
                Some(b) => cur = b,
                None => return false,
            }
        }
        false
    }

    /// `is` (with inheritance) and, with `exact`, `as` / `ofType` (FHIR primitive types
    /// match only themselves there: `Patient.gender.ofType(string)` is empty).
    pub(crate) fn is_type(&self, item: &Item<'a>, spec: &TypeSpec, exact: bool) -> bool {
        let ns = spec.namespace.as_deref();
        let name: &str = &spec.name;
        match item {
            Item::Node(n) => {
                if ns == Some("System") {
                    return false;
                }
                if exact && n.is_primitive() {
                    return n.type_name == name;
                }
                self.derives_from(n.type_name, name)
            }
            other => {
                if ns == Some("FHIR") {
                    return false;
                }
                other.type_name().1 == name
            }
        }
    }

    /// An error for a type name that is neither a System type nor known to the model.
    pub(crate) fn check_type_known(&self, spec: &TypeSpec) -> Result<(), EvalError> {
        const SYSTEM: &[&str] = &[
            "Boolean", "Integer", "Long", "Decimal", "String", "Date", "DateTime", "Time",
            "Quantity",
        ];
        let name: &str = &spec.name;
        let known = match spec.namespace.as_deref() {
            // An unknown System type simply matches nothing.
            Some("System") => true,
            Some("FHIR") => self.ctx.model.is_type(name) || !self.model_has_types(),
            _ => SYSTEM.contains(&name) || self.ctx.model.is_type(name) || !self.model_has_types(),
        };
        if known {
            Ok(())
        } else {
            fail(format!("unknown type {name}"))
        }
    }

    fn model_has_types(&self) -> bool {
        self.ctx.model.is_type("Element")
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        l: &Expr,
        r: &Expr,
        input: &Collection<'a>,
        frame: &Frame<'a>,
    ) -> Result<Collection<'a>, EvalError> {
        use BinaryOp::*;
        // Boolean operators evaluate with three-valued logic.
        if matches!(op, And | Or | Xor | Implies) {
            let a = self.eval(l, input, frame)?;
            let a = to_bool3(&a)?;
            if op == And && a == Some(false) {
                return Ok(vec![Item::Boolean(false)]);
            }
            if op == Or && a == Some(true) {
                return Ok(vec![Item::Boolean(true)]);
            }
            if op == Implies && a == Some(false) {
                return Ok(vec![Item::Boolean(true)]);
            }
            let b = self.eval(r, input, frame)?;
            let b = to_bool3(&b)?;
            let res = match op {
                And => match (a, b) {
                    (Some(true), Some(true)) => Some(true),
                    (_, Some(false)) => Some(false),
                    _ => None,
                },
                Or => match (a, b) {
                    (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
                Xor => match (a, b) {
                    (Some(x), Some(y)) => Some(x != y),
                    _ => None,
                },
                _ => match (a, b) {
                    (Some(true), b) => b,
                    (None, Some(true)) => Some(true),
                    _ => None,
                },
            };
            return Ok(res.map(Item::Boolean).into_iter().collect());
        }
        let a = self.eval(l, input, frame)?;
        let b = self.eval(r, input, frame)?;
        crate::ops::binary(self, op, a, b)
    }
}

fn overflow() -> EvalError {
    EvalError {
        message: "arithmetic overflow".into(),
    }
}

pub(crate) fn const_item<'a>(c: Const) -> Item<'a> {
    match c {
        Const::Boolean(b) => Item::Boolean(b),
        Const::String(s) => Item::String(crate::item::Text::Own(s)),
        Const::Integer(i) => Item::Integer(i),
        Const::Long(i) => Item::Long(i),
        Const::Decimal(d) => Item::Decimal(d),
        Const::Date(d) => Item::Date(d),
        Const::DateTime(d) => Item::DateTime(d),
        Const::Time(t) => Item::Time(t),
        Const::Quantity(q) => Item::Quantity(q),
    }
}

/// Whether an expression yields a collection without a defined order.
fn is_unordered(e: &Expr) -> bool {
    matches!(e, Expr::Function { name, .. } if matches!(&**name, "children" | "descendants"))
}

fn type_list(c: &Collection<'_>) -> String {
    let mut names: Vec<String> = Vec::new();
    for i in c {
        let t = i.type_name().1.to_string();
        if !names.contains(&t) {
            names.push(t);
        }
    }
    names.join(", ")
}

/// The JSON member of choice element `name` for type `t` (`value` + `Quantity`).
pub(crate) fn choice_member(name: &str, t: &str) -> String {
    let mut s = String::with_capacity(name.len() + t.len());
    s.push_str(name);
    let mut cs = t.chars();
    if let Some(f) = cs.next() {
        s.push(f.to_ascii_uppercase());
        s.extend(cs);
    }
    s
}

/// Pushes the items of member `name` (and its `_name` sibling) of `obj`.
pub(crate) fn push_member<'a>(
    obj: &'a fhir::json::Object,
    name: &str,
    type_name: &str,
    key: &str,
    out: &mut Collection<'a>,
) {
    let t = crate::item::intern(type_name);
    let k = if key == type_name {
        t
    } else {
        crate::item::intern(key)
    };
    push_member_rc(obj, name, t, k, out);
}

/// [`push_member`] with interned type name and key.
pub(crate) fn push_member_rc<'a>(
    obj: &'a fhir::json::Object,
    name: &str,
    t: &'static str,
    k: &'static str,
    out: &mut Collection<'a>,
) {
    let type_name: &str = t;
    // One pass finds `name` and `_name`.
    let mut v = None;
    let mut u = None;
    for (key, x) in obj.iter() {
        if key.len() == name.len() && key == name {
            v = Some(x);
        } else if key.len() == name.len() + 1 && key.as_bytes()[0] == b'_' && &key[1..] == name {
            u = Some(x);
        }
    }
    if v.is_none() && u.is_none() {
        return;
    }
    // Only resource-typed elements (contained, Bundle.entry.resource…) hold resources, which
    // carry their own type; elements of unknown type are checked too.
    let may_hold_resource = matches!(type_name, "Resource" | "Element" | "DomainResource");
    let node = |value: Option<&'a Value>, under: Option<&'a Value>| {
        // A resource inside an element (contained, Bundle.entry.resource) has its own type.
        if let Some(rt) = value
            .filter(|_| may_hold_resource)
            .and_then(|x| x.get("resourceType"))
            .and_then(Value::as_str)
        {
            let rt: &'static str = crate::item::intern(rt);
            return Node {
                value,
                under,
                type_name: rt,
                key: rt,
            };
        }
        Node {
            value,
            under,
            type_name: t,
            key: k,
        }
    };
    match (v, u) {
        (Some(Value::Array(vs)), u) => {
            let us: &[Value] = u.and_then(Value::as_array).map_or(&[], |a| a);
            for (i, x) in vs.iter().enumerate() {
                let ux = us.get(i).filter(|x| !x.is_null());
                if x.is_null() && ux.is_none() {
                    continue;
                }
                out.push(Item::Node(node((!x.is_null()).then_some(x), ux)));
            }
        }
        (None, Some(Value::Array(us))) => {
            for x in us.iter().filter(|x| !x.is_null()) {
                out.push(Item::Node(node(None, Some(x))));
            }
        }
        (v, u) => {
            if v.is_some_and(|x| !x.is_null()) || u.is_some() {
                out.push(Item::Node(node(v.filter(|x| !x.is_null()), u)));
            }
        }
    }
}

/// The type of a JSON value when no model says it.
fn guess_type(v: Option<&Value>) -> &'static str {
    match v {
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(n)) if !n.contains(['.', 'e', 'E']) => "integer",
        Some(Value::Number(_)) => "decimal",
        Some(Value::String(_)) => "string",
        Some(Value::Array(a)) => guess_type(a.first()),
        _ => "Element",
    }
}

/// A collection as a boolean for the logical operators: empty → unknown, one boolean → it,
/// anything else single → true (singleton evaluation), several items → error.
pub(crate) fn to_bool3(c: &Collection<'_>) -> Result<Option<bool>, EvalError> {
    match c.as_slice() {
        [] => Ok(None),
        [one] => match one.to_system() {
            Item::Boolean(b) => Ok(Some(b)),
            _ => Ok(Some(true)),
        },
        _ => fail("a boolean operator needs a single item, not a collection"),
    }
}

/// Orders two System values (numbers, strings, temporals, quantities); `None` when they cannot
/// be compared or the answer is unknown (different precisions).
pub(crate) fn compare_items(a: &Item<'_>, b: &Item<'_>) -> Result<Option<Ordering>, EvalError> {
    use Item::*;
    match (a, b) {
        (Integer(x), Integer(y)) => return Ok(Some(x.cmp(y))),
        (String(x), String(y)) => return Ok(Some(x.cmp(y))),
        _ => {}
    }
    let (a, b) = (a.to_system(), b.to_system());
    Ok(match (&a, &b) {
        (Integer(x), Integer(y))
        | (Long(x), Long(y))
        | (Integer(x), Long(y))
        | (Long(x), Integer(y)) => Some(x.cmp(y)),
        (Integer(x) | Long(x), Decimal(y)) => {
            Some(crate::decimal::Decimal::from_i64(*x).cmp_value(y))
        }
        (Decimal(x), Integer(y) | Long(y)) => {
            Some(x.cmp_value(&crate::decimal::Decimal::from_i64(*y)))
        }
        (Decimal(x), Decimal(y)) => Some(x.cmp_value(y)),
        (String(x), String(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => x.compare(y),
        (DateTime(x), DateTime(y)) => x.compare(y),
        (Date(x), DateTime(y)) => crate::temporal::DateTime::from_date(*x).compare(y),
        (DateTime(x), Date(y)) => x.compare(&crate::temporal::DateTime::from_date(*y)),
        (Time(x), Time(y)) => x.compare(y),
        (Quantity(x), Quantity(y)) => x.compare(y),
        _ => {
            return fail(format!(
                "cannot compare {} with {}",
                a.type_name().1,
                b.type_name().1
            ))
        }
    })
}
