//! The FHIRPath syntax tree.

/// A parsed expression. `pos` fields are byte offsets into the source text.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `{}`: the empty collection.
    Empty,
    Literal(Literal),
    /// An identifier at the start of a path: a member of `$this` (or a type name, e.g.
    /// `Patient.name` on a Patient).
    Ident(Box<str>),
    /// `target.name`
    Member(Box<Expr>, Box<str>),
    /// `target.name(args)`, or `name(args)` on `$this` when `target` is `None`.
    Function {
        target: Option<Box<Expr>>,
        name: Box<str>,
        args: Vec<Expr>,
        pos: usize,
    },
    /// `target[index]`
    Index(Box<Expr>, Box<Expr>),
    /// Unary `+` / `-`.
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `expr is Type`, `expr as Type`.
    Type(TypeOp, Box<Expr>, TypeSpec),
    This,
    /// `$index`
    IndexVar,
    /// `$total`
    Total,
    /// `%name` (without the `%`; quoted names unquoted).
    Variable(Box<str>),
    /// A literal already turned into its value (made by `eval::compile`, never by the
    /// parser).
    Const(crate::eval::Const),
}

/// Literals keep their text; the evaluator turns them into values once, when an expression is
/// compiled (so the parser does not depend on the value types).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Boolean(bool),
    /// Unescaped string content.
    String(Box<str>),
    Integer(i64),
    /// A long literal (`123L`, FHIRPath 2.1), without the `L`.
    Long(i64),
    /// The decimal as written (`1.50`).
    Decimal(Box<str>),
    /// Date text without `@` (`2014-01`, `2014-01-25`).
    Date(Box<str>),
    /// DateTime text without `@` (`2014-01-25T14:30:14.559+09:00`, `2015T`, `2015-02-04T14`).
    DateTime(Box<str>),
    /// Time text without `@T` (`14:30`, `14:30:14.559`).
    Time(Box<str>),
    /// A quantity: the number as written and the unit — a UCUM code (from the quotes) or a
    /// calendar duration keyword as written (`year`, `months`, `'mg'` → `mg`). `calendar` tells
    /// which.
    Quantity {
        value: Box<str>,
        unit: Box<str>,
        calendar: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Plus,
    Minus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Mul,
    Div,
    /// `div` (integer division)
    IntDiv,
    Mod,
    Add,
    Sub,
    /// `&` (string concatenation, empty as '')
    Concat,
    /// `|`
    Union,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    /// `~`
    Equiv,
    /// `!~`
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeOp {
    Is,
    As,
}

/// A type specifier: `Patient`, `FHIR.Patient`, `System.String`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSpec {
    pub namespace: Option<Box<str>>,
    pub name: Box<str>,
}
