//! The FHIRPath parser: N1 grammar (http://hl7.org/fhirpath/N1, Appendix "Grammar") with the
//! FHIR R4 usage, plus `123L` long literals (FHIRPath 2.1).
//!
//! A precedence-climbing parser over the tokens of [`crate::lexer`]. Operators, highest first,
//! all left-associative: `.` `[]`; unary `+` `-`; `*` `/` `div` `mod`; `+` `-` `&`; `is` `as`;
//! `|`; `<=` `<` `>` `>=`; `=` `~` `!=` `!~`; `in` `contains`; `and`; `xor` `or`; `implies`.
//!
//! Deviations from the ANTLR grammar, all in the lenient direction where nothing is ambiguous:
//! after `.` any word is a member or function name (`text.div`, `x.not()`), and the calendar
//! units (`day`, `years`, ...) are keywords only right after a number. `-` directly before an
//! integer or long literal (and nothing binding tighter, so not `-1.abs()`) is folded into a
//! negative literal, which also makes `-9223372036854775808` representable.
//!
//! The parser never panics; nesting is limited to [`MAX_DEPTH`] so that neither the parser nor
//! the evaluator can overflow the stack.

use std::fmt;

use crate::ast::{BinaryOp, Expr, Literal, TypeOp, TypeSpec, UnaryOp};
use crate::lexer::{Lexer, Token, TokenKind};

/// The deepest expression tree accepted, and the deepest nesting of parentheses, arguments and
/// unary operators.
pub const MAX_DEPTH: usize = 128;

/// Why a text is not a FHIRPath expression, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the offending token in the source text.
    pub pos: usize,
    /// 1-based line of `pos`.
    pub line: usize,
    /// 1-based column of `pos`, counted in characters.
    pub column: usize,
    pub message: String,
}

impl ParseError {
    /// An error at byte offset `pos` of `src` (line and column computed from it).
    pub fn new(src: &str, pos: usize, message: impl Into<String>) -> Self {
        let mut at = pos.min(src.len());
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        let before = src.get(..at).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ParseError {
            pos,
            line: before.matches('\n').count() + 1,
            column: before.get(line_start..).map_or(0, |s| s.chars().count()) + 1,
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses one FHIRPath expression; the whole text must be consumed.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser::new(text);
    if p.peek().kind == TokenKind::Eof {
        return Err(p.error_at(p.i, "empty expression"));
    }
    let (expr, _) = p.expr(0)?;
    if p.peek().kind != TokenKind::Eof {
        let found = p.describe(p.i);
        return Err(p.error_at(
            p.i,
            format!("unexpected token {found} (expected an operator or the end of the expression)"),
        ));
    }
    match p.lex_error {
        Some(e) => Err(e),
        None => Ok(expr),
    }
}

// Binding powers, higher binds tighter.
const PREC_IMPLIES: u8 = 1;
const PREC_OR: u8 = 2;
const PREC_AND: u8 = 3;
const PREC_MEMBERSHIP: u8 = 4;
const PREC_EQUALITY: u8 = 5;
const PREC_INEQUALITY: u8 = 6;
const PREC_UNION: u8 = 7;
const PREC_TYPE: u8 = 8;
const PREC_ADDITIVE: u8 = 9;
const PREC_MULTIPLICATIVE: u8 = 10;
/// The operand of unary `+`/`-`: only `.` and `[]` bind tighter.
const PREC_POSTFIX: u8 = 12;

/// An expression and the height of its tree.
type Node = (Expr, usize);

enum Infix {
    Binary(BinaryOp, u8),
    Type(TypeOp),
    Dot,
    Bracket,
}

/// Words that are never identifiers (the grammar's `identifier` admits `as`, `contains`, `in`
/// and `is`).
fn is_reserved(word: &str) -> bool {
    matches!(
        word,
        "div" | "mod" | "and" | "or" | "xor" | "implies" | "true" | "false"
    )
}

fn is_calendar_unit(word: &str) -> bool {
    matches!(
        word,
        "year"
            | "years"
            | "month"
            | "months"
            | "week"
            | "weeks"
            | "day"
            | "days"
            | "hour"
            | "hours"
            | "minute"
            | "minutes"
            | "second"
            | "seconds"
            | "millisecond"
            | "milliseconds"
    )
}

struct Parser<'a> {
    src: &'a str,
    /// All tokens, ending with `Eof`. After a lexical error the `Eof` stands at the error and
    /// `lex_error` holds it: whoever reaches that token reports it, so errors come in source
    /// order.
    toks: Vec<Token>,
    lex_error: Option<ParseError>,
    eof: Token,
    i: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        let mut lexer = Lexer::new(src);
        let mut toks = Vec::new();
        let mut lex_error = None;
        loop {
            match lexer.next_token() {
                Ok(t) => {
                    let eof = t.kind == TokenKind::Eof;
                    toks.push(t);
                    if eof {
                        break;
                    }
                }
                Err(e) => {
                    toks.push(Token {
                        kind: TokenKind::Eof,
                        start: e.pos,
                        end: e.pos,
                    });
                    lex_error = Some(e);
                    break;
                }
            }
        }
        let eof = toks.last().cloned().unwrap_or(Token {
            kind: TokenKind::Eof,
            start: src.len(),
            end: src.len(),
        });
        Parser {
            src,
            toks,
            lex_error,
            eof,
            i: 0,
            depth: 0,
        }
    }

    // The recursive functions (`expr` down to `term` and back) keep their frames small: leaves
    // and error messages live in separate functions, so deep nesting stays within the stack even
    // in debug builds.

    /// Token `idx` (the final `Eof` past the end).
    fn tok(&self, idx: usize) -> &Token {
        self.toks.get(idx).unwrap_or(&self.eof)
    }

    fn peek(&self) -> &Token {
        self.tok(self.i)
    }

    fn kind_at(&self, k: usize) -> &TokenKind {
        &self.tok(self.i + k).kind
    }

    /// Moves past the current token (never past `Eof`).
    fn advance(&mut self) {
        if self.peek().kind != TokenKind::Eof {
            self.i += 1;
        }
    }

    fn text(&self, idx: usize) -> &'a str {
        self.tok(idx).text(self.src)
    }

    /// `'text'` (shortened) or `end of input`, for messages.
    fn describe(&self, idx: usize) -> String {
        if self.tok(idx).kind == TokenKind::Eof {
            return "end of input".to_string();
        }
        let text = self.text(idx);
        match text.char_indices().nth(30) {
            Some((cut, _)) => format!("'{}...'", text.get(..cut).unwrap_or("")),
            None => format!("'{text}'"),
        }
    }

    /// An error at token `idx`; at the end of the tokens, the pending lexical error if any.
    #[cold]
    fn error_at(&self, idx: usize, message: impl Into<String>) -> ParseError {
        let t = self.tok(idx);
        if t.kind == TokenKind::Eof {
            if let Some(e) = &self.lex_error {
                return e.clone();
            }
        }
        ParseError::new(self.src, t.start, message)
    }

    /// "expected <what>, found <token>" at the current token.
    #[cold]
    fn expected(&self, what: &str) -> ParseError {
        let found = self.describe(self.i);
        self.error_at(self.i, format!("expected {what}, found {found}"))
    }

    #[cold]
    fn too_deep(&self, idx: usize) -> ParseError {
        ParseError::new(
            self.src,
            self.tok(idx).start,
            format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"),
        )
    }

    /// Checks the height of a new node made by the operator at token `at`.
    fn node(&self, expr: Expr, height: usize, at: usize) -> Result<Node, ParseError> {
        if height > MAX_DEPTH {
            return Err(self.too_deep(at));
        }
        Ok((expr, height))
    }

    fn expect(&mut self, kind: TokenKind, what: &str) -> Result<(), ParseError> {
        if self.peek().kind != kind {
            return Err(self.expected(what));
        }
        self.advance();
        Ok(())
    }

    /// The operator at the current token, if it binds at least as tightly as `min_prec`.
    fn infix(&self, min_prec: u8) -> Option<Infix> {
        use BinaryOp as B;
        let (op, prec) = match self.peek().kind {
            TokenKind::Dot => return Some(Infix::Dot),
            TokenKind::LBracket => return Some(Infix::Bracket),
            TokenKind::Star => (B::Mul, PREC_MULTIPLICATIVE),
            TokenKind::Slash => (B::Div, PREC_MULTIPLICATIVE),
            TokenKind::Plus => (B::Add, PREC_ADDITIVE),
            TokenKind::Minus => (B::Sub, PREC_ADDITIVE),
            TokenKind::Amp => (B::Concat, PREC_ADDITIVE),
            TokenKind::Pipe => (B::Union, PREC_UNION),
            TokenKind::Lt => (B::Lt, PREC_INEQUALITY),
            TokenKind::Le => (B::Le, PREC_INEQUALITY),
            TokenKind::Gt => (B::Gt, PREC_INEQUALITY),
            TokenKind::Ge => (B::Ge, PREC_INEQUALITY),
            TokenKind::Eq => (B::Eq, PREC_EQUALITY),
            TokenKind::Ne => (B::Ne, PREC_EQUALITY),
            TokenKind::Tilde => (B::Equiv, PREC_EQUALITY),
            TokenKind::NotTilde => (B::NotEquiv, PREC_EQUALITY),
            TokenKind::Word => match self.text(self.i) {
                "div" => (B::IntDiv, PREC_MULTIPLICATIVE),
                "mod" => (B::Mod, PREC_MULTIPLICATIVE),
                "is" | "as" if PREC_TYPE >= min_prec => {
                    let is = self.text(self.i) == "is";
                    return Some(Infix::Type(if is { TypeOp::Is } else { TypeOp::As }));
                }
                "in" => (B::In, PREC_MEMBERSHIP),
                "contains" => (B::Contains, PREC_MEMBERSHIP),
                "and" => (B::And, PREC_AND),
                "or" => (B::Or, PREC_OR),
                "xor" => (B::Xor, PREC_OR),
                "implies" => (B::Implies, PREC_IMPLIES),
                _ => return None,
            },
            _ => return None,
        };
        (prec >= min_prec).then_some(Infix::Binary(op, prec))
    }

    /// An expression whose operators all bind at least as tightly as `min_prec`.
    fn expr(&mut self, min_prec: u8) -> Result<Node, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.too_deep(self.i));
        }
        // Not restored on errors: the first error ends the parse.
        self.depth += 1;
        let mut lhs = self.prefix()?;
        while let Some(infix) = self.infix(min_prec) {
            let at = self.i;
            self.advance();
            lhs = match infix {
                Infix::Dot => self.invocation(lhs)?,
                Infix::Bracket => self.indexer(lhs, at)?,
                Infix::Binary(op, prec) => self.binary(lhs, op, prec, at)?,
                Infix::Type(op) => self.type_expr(lhs, op, at)?,
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    /// `lhs op rhs`, the operator at token `at` already consumed.
    fn binary(&mut self, lhs: Node, op: BinaryOp, prec: u8, at: usize) -> Result<Node, ParseError> {
        let (rhs, rh) = self.expr(prec + 1)?;
        let h = lhs.1.max(rh) + 1;
        self.node(Expr::Binary(op, Box::new(lhs.0), Box::new(rhs)), h, at)
    }

    /// `lhs[index]`, the `[` at token `at` already consumed.
    fn indexer(&mut self, lhs: Node, at: usize) -> Result<Node, ParseError> {
        let (index, ih) = self.expr(0)?;
        self.expect(TokenKind::RBracket, "']' to close '['")?;
        let h = lhs.1.max(ih) + 1;
        self.node(Expr::Index(Box::new(lhs.0), Box::new(index)), h, at)
    }

    /// `lhs is Type` / `lhs as Type`, the operator at token `at` already consumed.
    fn type_expr(&mut self, lhs: Node, op: TypeOp, at: usize) -> Result<Node, ParseError> {
        let spec = self.type_spec(at)?;
        self.node(Expr::Type(op, Box::new(lhs.0), spec), lhs.1 + 1, at)
    }

    /// Unary `+`/`-`, `(expr)`, a name or call, or a leaf term.
    fn prefix(&mut self) -> Result<Node, ParseError> {
        let at = self.i;
        let op = match self.peek().kind {
            TokenKind::Plus => UnaryOp::Plus,
            TokenKind::Minus => UnaryOp::Minus,
            TokenKind::LParen => {
                self.advance();
                let inner = self.expr(0)?;
                self.expect(TokenKind::RParen, "')'")?;
                return Ok(inner);
            }
            _ => {
                return match self.name_at(at) {
                    Some(name) => {
                        self.advance();
                        self.name_or_call(name, at, None)
                    }
                    None => self.leaf(),
                }
            }
        };
        self.advance();
        if op == UnaryOp::Minus {
            if let Some(lit) = self.negative_literal()? {
                return Ok((Expr::Literal(lit), 1));
            }
        }
        let (operand, h) = self.expr(PREC_POSTFIX)?;
        self.node(Expr::Unary(op, Box::new(operand)), h + 1, at)
    }

    /// After a `-`: an integer or long literal that is the whole operand (`-5`, but not
    /// `-5.abs()`, `-5[0]` or `-5 'mg'`), folded into a negative literal.
    fn negative_literal(&mut self) -> Result<Option<Literal>, ParseError> {
        let long = match self.kind_at(0) {
            TokenKind::Integer => false,
            TokenKind::Long => true,
            _ => return Ok(None),
        };
        if matches!(self.kind_at(1), TokenKind::Dot | TokenKind::LBracket)
            || self.unit_at(1).is_some()
        {
            return Ok(None);
        }
        let at = self.i;
        self.advance();
        let digits = self.text(at).trim_end_matches('L');
        let Ok(value) = format!("-{digits}").parse::<i64>() else {
            return Err(self.error_at(at, format!("integer literal '-{digits}' is out of range")));
        };
        Ok(Some(if long {
            Literal::Long(value)
        } else {
            Literal::Integer(value)
        }))
    }

    /// A quantity unit at token `k` ahead: a string (UCUM) or a calendar keyword.
    fn unit_at(&self, k: usize) -> Option<(Box<str>, bool)> {
        match self.kind_at(k) {
            TokenKind::Str(s) => Some((s.as_str().into(), false)),
            TokenKind::Word if is_calendar_unit(self.text(self.i + k)) => {
                Some((self.text(self.i + k).into(), true))
            }
            _ => None,
        }
    }

    /// A name usable as an identifier at token `idx`: a non-reserved word or a delimited name.
    fn name_at(&self, idx: usize) -> Option<Box<str>> {
        match &self.tok(idx).kind {
            TokenKind::Word if !is_reserved(self.text(idx)) => Some(self.text(idx).into()),
            TokenKind::Delimited(s) => Some(s.as_str().into()),
            _ => None,
        }
    }

    /// A term that contains no expression: a literal, `{}`, `$this`, `%name`.
    #[inline(never)]
    fn leaf(&mut self) -> Result<Node, ParseError> {
        let at = self.i;
        let text = self.text(at);
        let expr = match &self.tok(at).kind {
            TokenKind::Integer | TokenKind::Decimal | TokenKind::Long => {
                return self.number();
            }
            TokenKind::Str(s) => Expr::Literal(Literal::String(s.as_str().into())),
            TokenKind::Date => Expr::Literal(Literal::Date(text.get(1..).unwrap_or("").into())),
            TokenKind::DateTime => {
                Expr::Literal(Literal::DateTime(text.get(1..).unwrap_or("").into()))
            }
            TokenKind::Time => Expr::Literal(Literal::Time(text.get(2..).unwrap_or("").into())),
            TokenKind::This => Expr::This,
            TokenKind::Index => Expr::IndexVar,
            TokenKind::Total => Expr::Total,
            TokenKind::Word if text == "true" || text == "false" => {
                Expr::Literal(Literal::Boolean(text == "true"))
            }
            TokenKind::Word => {
                return Err(self.error_at(
                    at,
                    format!(
                        "unexpected keyword '{text}', expected an expression (write `{text}` in \
                         backticks to use it as a name)"
                    ),
                ))
            }
            TokenKind::Percent => {
                self.advance();
                let name: Box<str> = match self.kind_at(0) {
                    TokenKind::Word => self.text(self.i).into(),
                    TokenKind::Str(s) | TokenKind::Delimited(s) => s.as_str().into(),
                    _ => return Err(self.expected("a variable name after '%'")),
                };
                Expr::Variable(name)
            }
            TokenKind::LBrace => {
                self.advance();
                if self.peek().kind != TokenKind::RBrace {
                    return Err(self.expected(
                        "'}' after '{' (only the empty collection '{}' can be written)",
                    ));
                }
                Expr::Empty
            }
            _ => return Err(self.expected_expression()),
        };
        self.advance();
        Ok((expr, 1))
    }

    /// An integer, decimal or long literal, or a quantity (a number and a unit).
    fn number(&mut self) -> Result<Node, ParseError> {
        let at = self.i;
        let kind = self.tok(at).kind.clone();
        let text = self.text(at);
        self.advance();
        let lit =
            if let Some((unit, calendar)) = self.unit_at(0).filter(|_| kind != TokenKind::Long) {
                self.advance();
                Literal::Quantity {
                    value: text.into(),
                    unit,
                    calendar,
                }
            } else if kind == TokenKind::Decimal {
                Literal::Decimal(text.into())
            } else {
                let long = kind == TokenKind::Long;
                match text.trim_end_matches('L').parse::<i64>() {
                    Ok(v) if long => Literal::Long(v),
                    Ok(v) => Literal::Integer(v),
                    Err(_) => {
                        let what = if long { "long" } else { "integer" };
                        return Err(
                            self.error_at(at, format!("{what} literal '{text}' is out of range"))
                        );
                    }
                }
            };
        Ok((Expr::Literal(lit), 1))
    }

    /// "unexpected token X, expected an expression", with a hint for `==`, `&&` and `||`.
    #[cold]
    fn expected_expression(&self) -> ParseError {
        let t = self.peek();
        if t.kind == TokenKind::Eof {
            return self.error_at(self.i, "unexpected end of input, expected an expression");
        }
        let prev = self
            .i
            .checked_sub(1)
            .map(|j| self.tok(j))
            .filter(|p| p.end == t.start);
        let hint = match (prev.map(|p| &p.kind), &t.kind) {
            (Some(TokenKind::Eq), TokenKind::Eq) => " (equality is a single '=')",
            (Some(TokenKind::Amp), TokenKind::Amp) => " (logical and is written 'and')",
            (Some(TokenKind::Pipe), TokenKind::Pipe) => " (logical or is written 'or')",
            _ => "",
        };
        let found = self.describe(self.i);
        self.error_at(
            self.i,
            format!("unexpected token {found}, expected an expression{hint}"),
        )
    }

    /// After a name at token `at`: `name(args)` or just `name`, on `target` (`$this` when
    /// `None`).
    fn name_or_call(
        &mut self,
        name: Box<str>,
        at: usize,
        target: Option<Node>,
    ) -> Result<Node, ParseError> {
        let th = target.as_ref().map_or(0, |t| t.1);
        let target = target.map(|t| Box::new(t.0));
        if self.peek().kind != TokenKind::LParen {
            return match target {
                None => Ok((Expr::Ident(name), 1)),
                Some(t) => self.node(Expr::Member(t, name), th + 1, at),
            };
        }
        self.advance();
        let mut args = Vec::new();
        let mut ah = 0;
        if self.peek().kind == TokenKind::RParen {
            self.advance();
        } else {
            loop {
                let (arg, h) = self.expr(0)?;
                args.push(arg);
                ah = ah.max(h);
                match self.peek().kind {
                    TokenKind::Comma => self.advance(),
                    TokenKind::RParen => break self.advance(),
                    _ => return Err(self.bad_argument_list(&name)),
                }
            }
        }
        let pos = self.tok(at).start;
        let function = Expr::Function {
            target,
            name,
            args,
            pos,
        };
        self.node(function, th.max(ah) + 1, at)
    }

    #[cold]
    fn bad_argument_list(&self, name: &str) -> ParseError {
        self.expected(&format!("',' or ')' in the arguments of '{name}('"))
    }

    /// After `.`: a member, a function call, or `$this` (the focus itself).
    fn invocation(&mut self, target: Node) -> Result<Node, ParseError> {
        let at = self.i;
        let name: Box<str> = match self.kind_at(0) {
            // Any word: after `.` nothing else can follow, so `text.div` needs no backticks.
            TokenKind::Word => self.text(at).into(),
            TokenKind::Delimited(s) => s.as_str().into(),
            // `x.$this` is `x`: each item is its own `$this`.
            TokenKind::This => {
                self.advance();
                return Ok(target);
            }
            _ => return Err(self.bad_invocation()),
        };
        self.advance();
        self.name_or_call(name, at, Some(target))
    }

    #[cold]
    fn bad_invocation(&self) -> ParseError {
        let found = self.describe(self.i);
        match self.kind_at(0) {
            TokenKind::Index | TokenKind::Total => {
                self.error_at(self.i, format!("{found} cannot follow '.'"))
            }
            _ => self.error_at(
                self.i,
                format!("expected identifier after '.', found {found}"),
            ),
        }
    }

    /// `Name` or `Namespace.Name` after the `is` / `as` at token `op`. A following `.name(` is
    /// an invocation on the type expression, not part of the name.
    fn type_spec(&mut self, op: usize) -> Result<TypeSpec, ParseError> {
        let Some(first) = self.name_at(self.i) else {
            let what = format!("a type name after '{}'", self.text(op));
            return Err(self.expected(&what));
        };
        self.advance();
        if self.peek().kind == TokenKind::Dot && *self.kind_at(2) != TokenKind::LParen {
            if let Some(name) = self.name_at(self.i + 1) {
                self.advance();
                self.advance();
                return Ok(TypeSpec {
                    namespace: Some(first),
                    name,
                });
            }
        }
        Ok(TypeSpec {
            namespace: None,
            name: first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A compact rendering of the tree: `(op lhs rhs)`, `(. target name)`, `(.fn target args)`.
    fn sexp(e: &Expr) -> String {
        match e {
            Expr::Empty => "{}".into(),
            Expr::Literal(l) => match l {
                Literal::Boolean(b) => b.to_string(),
                Literal::String(s) => format!("'{s}'"),
                Literal::Integer(i) => i.to_string(),
                Literal::Long(i) => format!("{i}L"),
                Literal::Decimal(d) => d.to_string(),
                Literal::Date(d) | Literal::DateTime(d) => format!("@{d}"),
                Literal::Time(t) => format!("@T{t}"),
                Literal::Quantity {
                    value,
                    unit,
                    calendar: true,
                } => format!("(q {value} {unit})"),
                Literal::Quantity { value, unit, .. } => format!("(q {value} '{unit}')"),
            },
            Expr::Ident(n) => n.to_string(),
            Expr::Member(t, n) => format!("(. {} {n})", sexp(t)),
            Expr::Function {
                target, name, args, ..
            } => {
                let mut s = match target {
                    Some(t) => format!("(.{name} {}", sexp(t)),
                    None => format!("({name}"),
                };
                for a in args {
                    s.push(' ');
                    s.push_str(&sexp(a));
                }
                s + ")"
            }
            Expr::Index(t, i) => format!("([] {} {})", sexp(t), sexp(i)),
            Expr::Unary(UnaryOp::Minus, x) => format!("(neg {})", sexp(x)),
            Expr::Unary(UnaryOp::Plus, x) => format!("(pos {})", sexp(x)),
            Expr::Binary(op, l, r) => {
                let op = match op {
                    BinaryOp::Mul => "*",
                    BinaryOp::Div => "/",
                    BinaryOp::IntDiv => "div",
                    BinaryOp::Mod => "mod",
                    BinaryOp::Add => "+",
                    BinaryOp::Sub => "-",
                    BinaryOp::Concat => "&",
                    BinaryOp::Union => "|",
                    BinaryOp::Lt => "<",
                    BinaryOp::Gt => ">",
                    BinaryOp::Le => "<=",
                    BinaryOp::Ge => ">=",
                    BinaryOp::Eq => "=",
                    BinaryOp::Ne => "!=",
                    BinaryOp::Equiv => "~",
                    BinaryOp::NotEquiv => "!~",
                    BinaryOp::In => "in",
                    BinaryOp::Contains => "contains",
                    BinaryOp::And => "and",
                    BinaryOp::Or => "or",
                    BinaryOp::Xor => "xor",
                    BinaryOp::Implies => "implies",
                };
                format!("({op} {} {})", sexp(l), sexp(r))
            }
            Expr::Type(op, x, spec) => {
                let op = if *op == TypeOp::Is { "is" } else { "as" };
                let ns = spec
                    .namespace
                    .as_ref()
                    .map_or(String::new(), |n| format!("{n}."));
                format!("({op} {} {ns}{})", sexp(x), spec.name)
            }
            Expr::This => "$this".into(),
            Expr::IndexVar => "$index".into(),
            Expr::Total => "$total".into(),
            Expr::Variable(n) => format!("%{n}"),
            Expr::Const(c) => format!("(const {c:?})"),
        }
    }

    fn height(e: &Expr) -> usize {
        1 + match e {
            Expr::Member(t, _) => height(t),
            Expr::Function { target, args, .. } => target
                .iter()
                .map(|t| height(t))
                .chain(args.iter().map(height))
                .max()
                .unwrap_or(0),
            Expr::Index(a, b) | Expr::Binary(_, a, b) => height(a).max(height(b)),
            Expr::Unary(_, x) | Expr::Type(_, x, _) => height(x),
            _ => 0,
        }
    }

    fn tree(text: &str) -> String {
        match parse(text) {
            Ok(e) => sexp(&e),
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn lit(text: &str) -> Literal {
        match parse(text) {
            Ok(Expr::Literal(l)) => l,
            other => panic!("{text:?}: expected a literal, got {other:?}"),
        }
    }

    #[test]
    fn precedence_and_associativity() {
        let cases = [
            ("1 + 2 * 3", "(+ 1 (* 2 3))"),
            ("1 * 2 + 3", "(+ (* 1 2) 3)"),
            ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
            ("5 - 3 - 1", "(- (- 5 3) 1)"),
            ("8 / 4 / 2", "(/ (/ 8 4) 2)"),
            ("7 div 2 mod 3", "(mod (div 7 2) 3)"),
            ("'a' & 'b' + 'c'", "(+ (& 'a' 'b') 'c')"),
            ("a | b = c", "(= (| a b) c)"),
            ("a = b | c", "(= a (| b c))"),
            ("a | b | c", "(| (| a b) c)"),
            ("a < b = c >= d", "(= (< a b) (>= c d))"),
            ("a ~ b !~ c != d", "(!= (!~ (~ a b) c) d)"),
            ("a <= b | c", "(<= a (| b c))"),
            ("a = b in c", "(in (= a b) c)"),
            ("a in b and c contains d", "(and (in a b) (contains c d))"),
            ("x and y or z", "(or (and x y) z)"),
            ("x or y and z", "(or x (and y z))"),
            ("x xor y or z", "(or (xor x y) z)"),
            ("a implies b or c", "(implies a (or b c))"),
            ("a implies b implies c", "(implies (implies a b) c)"),
            ("-1", "-1"),
            ("-1.abs()", "(neg (.abs 1))"),
            ("(-1).abs()", "(.abs -1)"),
            ("- 5.abs()", "(neg (.abs 5))"),
            ("-1.5", "(neg 1.5)"),
            ("-0.1.convertsToDecimal()", "(neg (.convertsToDecimal 0.1))"),
            ("-a.b", "(neg (. a b))"),
            ("-a[0]", "(neg ([] a 0))"),
            ("-a * b", "(* (neg a) b)"),
            ("-1 + 2", "(+ -1 2)"),
            ("- -1", "(neg -1)"),
            ("+2", "(pos 2)"),
            ("+1 < +2", "(< (pos 1) (pos 2))"),
            ("2 - -1", "(- 2 -1)"),
            ("2--1", "(- 2 -1)"),
            ("-5 'mg'", "(neg (q 5 'mg'))"),
            ("-5L", "-5L"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("a is B and c", "(and (is a B) c)"),
            ("a is FHIR.Patient", "(is a FHIR.Patient)"),
            ("a as System.`Integer`", "(as a System.Integer)"),
            ("a * b is C", "(is (* a b) C)"),
            ("a is B | c", "(| (is a B) c)"),
            ("a = b is C", "(= a (is b C))"),
            ("x is B.exists()", "(.exists (is x B))"),
            ("a is `is`", "(is a is)"),
            ("a.b[0].c", "(. ([] (. a b) 0) c)"),
            ("a[1 + 2][0]", "([] ([] a (+ 1 2)) 0)"),
            ("value.as(Quantity).unit", "(. (.as value Quantity) unit)"),
            ("x.is(FHIR.string)", "(.is x (. FHIR string))"),
            ("ofType(Patient)", "(ofType Patient)"),
            ("is(Patient)", "(is Patient)"),
            (
                "Patient.name.where(use = 'official').given.first()",
                "(.first (. (.where (. Patient name) (= use 'official')) given))",
            ),
            ("iif(a, b, c)", "(iif a b c)"),
            ("f()", "(f)"),
            ("$this.a", "(. $this a)"),
            ("x.$this", "x"),
            (
                "a.aggregate($this + $total, 0)",
                "(.aggregate a (+ $this $total) 0)",
            ),
            ("select($index)", "(select $index)"),
            ("%resource.id", "(. %resource id)"),
            ("%`vs-x` | %'ext-y'", "(| %vs-x %ext-y)"),
            ("a.contains('x')", "(.contains a 'x')"),
            ("a contains 'x'", "(contains a 'x')"),
            ("contains", "contains"),
            ("a.in", "(. a in)"),
            ("text.div", "(. text div)"),
            ("text.`div`", "(. text div)"),
            ("`div`", "div"),
            ("a.`where`(x)", "(.where a x)"),
            ("a.not()", "(.not a)"),
            ("{} | a", "(| {} a)"),
            ("{ }", "{}"),
            ("1 year + 2 'mg'", "(+ (q 1 year) (q 2 'mg'))"),
            ("5 days.value", "(. (q 5 days) value)"),
            ("10L + 1", "(+ 10L 1)"),
            ("a.day", "(. a day)"),
            ("day", "day"),
            ("@2014 - 1", "(- @2014 1)"),
            ("@2014-01-01-1 day", "(- @2014-01-01 (q 1 day))"),
            ("@2014-01-01T10:00+1 'h'", "(+ @2014-01-01T10:00 (q 1 'h'))"),
            ("@T14.is(Time)", "(.is @T14 Time)"),
            ("1.abs()", "(.abs 1)"),
            ("1.5.abs()", "(.abs 1.5)"),
        ];
        let mut failures = Vec::new();
        for (text, want) in cases {
            let got = tree(text);
            if got != want {
                failures.push(format!("{text:?}: got {got}, want {want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn literals() {
        assert_eq!(lit("true"), Literal::Boolean(true));
        assert_eq!(lit("false"), Literal::Boolean(false));
        assert_eq!(lit("''"), Literal::String("".into()));
        assert_eq!(lit("'a\\'b'"), Literal::String("a'b".into()));
        assert_eq!(
            lit(r#"'\\\/\f\r\n\t\"\`\'\u002a'"#),
            Literal::String("\\/\u{c}\r\n\t\"`'*".into())
        );
        assert_eq!(lit("'P\\u0065ter'"), Literal::String("Peter".into()));
        assert_eq!(lit("'\\uD83D\\uDE00'"), Literal::String("😀".into()));
        assert_eq!(
            lit("'日本語\nline'"),
            Literal::String("日本語\nline".into())
        );
        assert_eq!(lit("42"), Literal::Integer(42));
        assert_eq!(lit("0"), Literal::Integer(0));
        assert_eq!(lit("007"), Literal::Integer(7));
        assert_eq!(lit("-42"), Literal::Integer(-42));
        assert_eq!(lit("9223372036854775807"), Literal::Integer(i64::MAX));
        assert_eq!(lit("10L"), Literal::Long(10));
        assert_eq!(lit("-10L"), Literal::Long(-10));
        assert_eq!(lit("1.50"), Literal::Decimal("1.50".into()));
        assert_eq!(lit("0.0"), Literal::Decimal("0.0".into()));
        assert_eq!(lit("@2014"), Literal::Date("2014".into()));
        assert_eq!(lit("@2014-01"), Literal::Date("2014-01".into()));
        assert_eq!(lit("@2014-01-25"), Literal::Date("2014-01-25".into()));
        assert_eq!(lit("@2016-02-29"), Literal::Date("2016-02-29".into()));
        assert_eq!(lit("@2000-02-29"), Literal::Date("2000-02-29".into()));
        for dt in [
            "2014-01-25T14:30:14.559+09:00",
            "2015T",
            "2015-02T",
            "2015-02-04T",
            "2015-02-04T14",
            "2015-02-04T14:34",
            "2015-02-04T14:34:28",
            "2015-02-04T14:34:28Z",
            "2015-02-04T14:34:28-05:00",
            "2017-11-05T01:30:00.0-04:00",
            "2015-02-04T14Z",
        ] {
            assert_eq!(lit(&format!("@{dt}")), Literal::DateTime(dt.into()), "{dt}");
        }
        for t in [
            "14",
            "14:34",
            "14:34:28",
            "14:34:28.123",
            "00:00:00.0",
            "23:59:59",
        ] {
            assert_eq!(lit(&format!("@T{t}")), Literal::Time(t.into()), "{t}");
        }
        let q = |value: &str, unit: &str, calendar| Literal::Quantity {
            value: value.into(),
            unit: unit.into(),
            calendar,
        };
        assert_eq!(lit("4 'mg'"), q("4", "mg", false));
        assert_eq!(lit("1.5 'kg'"), q("1.5", "kg", false));
        assert_eq!(lit("200 '[lb_av]'"), q("200", "[lb_av]", false));
        assert_eq!(lit("1 '\\'mo\\''"), q("1", "'mo'", false));
        assert_eq!(lit("10 days"), q("10", "days", true));
        assert_eq!(lit("1 year"), q("1", "year", true));
        assert_eq!(lit("7.7 days"), q("7.7", "days", true));
        for unit in [
            "year",
            "years",
            "month",
            "months",
            "week",
            "weeks",
            "day",
            "days",
            "hour",
            "hours",
            "minute",
            "minutes",
            "second",
            "seconds",
            "millisecond",
            "milliseconds",
        ] {
            assert_eq!(lit(&format!("3 {unit}")), q("3", unit, true));
        }
        assert_eq!(parse("{}"), Ok(Expr::Empty));
        assert_eq!(parse("$this"), Ok(Expr::This));
        assert_eq!(parse("$index"), Ok(Expr::IndexVar));
        assert_eq!(parse("$total"), Ok(Expr::Total));
        assert_eq!(parse("%ucum"), Ok(Expr::Variable("ucum".into())));
        assert_eq!(parse("%'vs-a'"), Ok(Expr::Variable("vs-a".into())));
        assert_eq!(parse("%`ext-b`"), Ok(Expr::Variable("ext-b".into())));
        assert_eq!(parse("`Patient`"), Ok(Expr::Ident("Patient".into())));
        assert_eq!(parse("`a b`"), Ok(Expr::Ident("a b".into())));
    }

    #[test]
    fn function_positions() {
        let Ok(Expr::Function { pos, target, .. }) = parse("name.where(x)") else {
            panic!("expected a function");
        };
        assert_eq!(pos, 5);
        assert!(target.is_some());
        let Ok(Expr::Function { pos, target, .. }) = parse("  exists()") else {
            panic!("expected a function");
        };
        assert_eq!(pos, 2);
        assert!(target.is_none());
    }

    #[test]
    fn comments_and_whitespace() {
        assert_eq!(tree("2 + 2 // a comment + 4"), "(+ 2 2)");
        assert_eq!(tree("2 + /* inline $@%^+ * */ 2 = 4"), "(= (+ 2 2) 4)");
        assert_eq!(tree("/* lead */ a // trail"), "a");
        assert_eq!(tree("a /* x */ . /* y */ b"), "(. a b)");
        assert_eq!(tree("4 / 2"), "(/ 4 2)");
        let multi = "Patient.name\n  // first the official ones\n  .where(use = 'official' /* not 'usual'\n  */)\r\n\t.given";
        assert_eq!(
            tree(multi),
            "(. (.where (. Patient name) (= use 'official')) given)"
        );
        assert_eq!(tree("a\n|\nb"), "(| a b)");
    }

    /// (input, byte pos, line, column, message fragment)
    #[test]
    fn error_positions() {
        let cases: &[(&str, usize, usize, usize, &str)] = &[
            (
                "Patient.name.",
                13,
                1,
                14,
                "expected identifier after '.', found end of input",
            ),
            ("1 +", 3, 1, 4, "expected an expression"),
            ("'abc", 0, 1, 1, "unterminated string"),
            ("(1 + 2", 6, 1, 7, "expected ')', found end of input"),
            (
                "@2014-13-01",
                0,
                1,
                1,
                "invalid date literal '@2014-13': month must be 01-12",
            ),
            (
                "Patient..name",
                8,
                1,
                9,
                "expected identifier after '.', found '.'",
            ),
            ("1 2", 2, 1, 3, "unexpected token '2'"),
            ("", 0, 1, 1, "empty expression"),
            ("  // just a comment", 19, 1, 20, "empty expression"),
            ("2 + 2 /* not finished", 6, 1, 7, "unterminated comment"),
            (
                "a.where(b c)",
                10,
                1,
                11,
                "expected ',' or ')' in the arguments of 'where('",
            ),
            ("f(a,)", 4, 1, 5, "unexpected token ')'"),
            (")", 0, 1, 1, "unexpected token ')'"),
            ("a == b", 3, 1, 4, "equality is a single '='"),
            ("a && b", 3, 1, 4, "logical and is written 'and'"),
            ("a || b", 3, 1, 4, "logical or is written 'or'"),
            ("a and", 5, 1, 6, "unexpected end of input"),
            ("and b", 0, 1, 1, "unexpected keyword 'and'"),
            ("a is", 4, 1, 5, "expected a type name after 'is'"),
            (
                "a as 5",
                5,
                1,
                6,
                "expected a type name after 'as', found '5'",
            ),
            ("{1}", 1, 1, 2, "expected '}'"),
            ("\"abc\"", 0, 1, 1, "single quotes"),
            ("$foo", 0, 1, 1, "unknown special variable '$foo'"),
            ("$", 0, 1, 1, "after '$'"),
            ("'\\q'", 1, 1, 2, "invalid escape sequence '\\q'"),
            ("'\\u12'", 1, 1, 2, "invalid unicode escape"),
            ("'\\uD800'", 1, 1, 2, "unpaired surrogate"),
            ("`abc", 0, 1, 1, "unterminated delimited identifier"),
            ("a[1", 3, 1, 4, "expected ']' to close '['"),
            ("1 + 'abc", 4, 1, 5, "unterminated string"),
            ("1 2 'abc", 2, 1, 3, "unexpected token '2'"),
            ("a\n  .b +\n  )", 11, 3, 3, "unexpected token ')'"),
            ("'日本' +", 10, 1, 7, "unexpected end of input"),
            ("!a", 0, 1, 1, "unexpected character '!'"),
            ("a # b", 2, 1, 3, "unexpected character '#'"),
            ("a.$index", 2, 1, 3, "'$index' cannot follow '.'"),
            ("%", 1, 1, 2, "expected a variable name after '%'"),
            (
                "% 5",
                2,
                1,
                3,
                "expected a variable name after '%', found '5'",
            ),
            (
                "99999999999999999999",
                0,
                1,
                1,
                "integer literal '99999999999999999999' is out of range",
            ),
            ("-9223372036854775809", 1, 1, 2, "out of range"),
            ("10L 'mg'", 4, 1, 5, "unexpected token ''mg''"),
            ("Patient name", 8, 1, 9, "unexpected token 'name'"),
            ("1.5L", 3, 1, 4, "unexpected token 'L'"),
            ("a.b(", 4, 1, 5, "unexpected end of input"),
            ("a.1", 2, 1, 3, "expected identifier after '.', found '1'"),
        ];
        let mut failures = Vec::new();
        for &(text, pos, line, column, fragment) in cases {
            match parse(text) {
                Ok(e) => failures.push(format!("{text:?} parsed as {}", sexp(&e))),
                Err(e) => {
                    if (e.pos, e.line, e.column) != (pos, line, column)
                        || !e.message.contains(fragment)
                    {
                        failures.push(format!(
                            "{text:?}: got {}@{} {e}, want {pos}@{line}:{column} containing {fragment:?}",
                            e.pos, e.line
                        ));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn display_format() {
        let e = parse("(1 + 2").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("1:7: expected ')', found end of input".to_string())
        );
    }

    #[test]
    fn invalid_temporal_literals() {
        let cases = [
            (
                "@2014-13",
                "invalid date literal '@2014-13': month must be 01-12",
            ),
            ("@2014-00-01", "month must be 01-12"),
            (
                "@2014-02-30",
                "invalid date literal '@2014-02-30': day must be 01-28",
            ),
            ("@2015-02-29", "day must be 01-28"),
            ("@1900-02-29", "day must be 01-28"),
            ("@2014-04-31", "day must be 01-30"),
            ("@2014-01-32", "day must be 01-31"),
            ("@2014-01-00", "day must be 01-31"),
            (
                "@201",
                "invalid date literal '@201': the year needs 4 digits",
            ),
            ("@20145", "the year needs 4 digits"),
            ("@0000", "year 0000 does not exist"),
            (
                "@2014-1",
                "invalid date literal '@2014-1': the month needs 2 digits",
            ),
            ("@2014-123", "the month needs 2 digits"),
            ("@2014-01-1", "the day needs 2 digits"),
            ("@2014-01-01X", "unexpected characters after the literal"),
            (
                "@2014-01-01T24:00",
                "invalid datetime literal '@2014-01-01T24': hour must be 00-23",
            ),
            ("@2014-01-01T10:60", "minute must be 00-59"),
            ("@2014-01-01T10:00:60", "second must be 00-59"),
            ("@2014-01-01T1", "the hour needs 2 digits"),
            ("@2014-01-01T10:0", "the minute needs 2 digits"),
            ("@2014-01-01T10:00+15:00", "timezone offset out of range"),
            ("@2014-01-01T10:00+10:60", "timezone offset out of range"),
            (
                "@2014-01-01T10:00+10:0",
                "a timezone offset is written +hh:mm",
            ),
            (
                "@2014-01-01T10.5",
                "a fraction is only allowed after the seconds",
            ),
            (
                "@2014-01-01T10:00:00:00",
                "unexpected characters after the literal",
            ),
            ("@2014-01-01TZ", "unexpected characters after the literal"),
            (
                "@T",
                "invalid time literal '@T': expected the hour after '@T'",
            ),
            ("@T1", "the hour needs 2 digits"),
            ("@T24", "hour must be 00-23"),
            ("@T14:34:28+10:00", "a time cannot have a timezone offset"),
            ("@T14Z", "a time cannot have a timezone offset"),
            ("@T14:30.5", "a fraction is only allowed after the seconds"),
            ("@", "after '@'"),
            ("@x", "after '@'"),
        ];
        let mut failures = Vec::new();
        for (text, fragment) in cases {
            match parse(text) {
                Ok(e) => failures.push(format!("{text:?} parsed as {}", sexp(&e))),
                Err(e) if e.pos != 0 || !e.message.contains(fragment) => {
                    failures.push(format!("{text:?}: {e} (pos {})", e.pos));
                }
                Err(_) => {}
            }
        }
        // In context, the error points at the literal.
        let e = parse("birthDate < @2014-13-01").err();
        assert_eq!(e.map(|e| (e.pos, e.column)), Some((12, 13)));
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    const LONG_EXPRESSIONS: &[&str] = &[
        "Patient.name.where(use = 'official' and period.start <= @2014-01-25T14:30:14.559+09:00).given.first() | %resource.`id` & 'x\\u0041'",
        "(1 + -2.5 * 3 div 4 mod 5 - 10 'mg') is System.Quantity implies {} xor $this.aggregate($total + $index, 0L) ~ 7 days // c\n/* d */ != @T14:34:28.123",
        "contained.select(('#'+id in %resource.descendants().reference).not()).empty() and a[0].as(FHIR.Patient).b !~ @2015T or x contains 'é日本'",
        "-1.abs() >= +5 and (@2014-01 | @2015-02-04T14Z).count() < 3 and `div`.exists() and value.ofType(Quantity).value > 1.0",
    ];

    fn check_error_invariants(text: &str) {
        if let Err(e) = parse(text) {
            assert!(e.pos <= text.len(), "{text:?}: pos {} out of range", e.pos);
            assert!(
                text.is_char_boundary(e.pos),
                "{text:?}: pos {} inside a character",
                e.pos
            );
            assert!(e.line >= 1 && e.column >= 1 && !e.message.is_empty());
        }
    }

    #[test]
    fn no_panic_on_prefixes_and_suffixes() {
        for text in LONG_EXPRESSIONS {
            assert!(parse(text).is_ok(), "{text:?}: {:?}", parse(text));
            for (i, _) in text.char_indices().chain([(text.len(), ' ')]) {
                check_error_invariants(&text[..i]);
                check_error_invariants(&text[i..]);
            }
        }
    }

    #[test]
    fn no_panic_on_mutations() {
        const ALPHABET: &[char] = &[
            '.', '(', ')', '[', ']', '{', '}', '\'', '`', '"', '@', 'T', 'Z', ':', '-', '+', '0',
            '1', '9', ' ', '\n', 'a', 'L', '%', '$', '/', '*', '\\', '|', '<', '>', '=', '!', '~',
            ',', '&', 'u', 'é', '日',
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        for round in 0..20_000 {
            let base = LONG_EXPRESSIONS[round % LONG_EXPRESSIONS.len()];
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..1 + next(3) {
                let at = next(chars.len() + 1);
                let c = ALPHABET[next(ALPHABET.len())];
                match next(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 if at < chars.len() => chars[at] = c,
                    _ => chars.insert(at, c),
                }
            }
            let text: String = chars.into_iter().collect();
            check_error_invariants(&text);
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // Run with a small stack to show the limit leaves headroom.
        let worker = std::thread::Builder::new().stack_size(1 << 20).spawn(|| {
            let n = 100_000;
            let too_deep = [
                "(".repeat(n) + "1",
                "(".repeat(n) + "1" + &")".repeat(n),
                "1+".repeat(n) + "1",
                "-".repeat(n) + "1",
                "a.".repeat(n) + "b",
                "f(".repeat(n),
                "a[".repeat(n),
                "a".to_string() + &" is B".repeat(n),
            ];
            for text in &too_deep {
                let e = parse(text).err();
                assert!(
                    e.as_ref()
                        .is_some_and(|e| e.message.contains("nested too deeply")),
                    "{:?}...: {e:?}",
                    &text[..20]
                );
            }
            // Just within the limits.
            let m = MAX_DEPTH - 1;
            let ok = "(".repeat(m) + "1" + &")".repeat(m);
            assert_eq!(parse(&ok), Ok(Expr::Literal(Literal::Integer(1))));
            let within = [
                "1".to_string() + &"+1".repeat(m),
                "f(".repeat(m / 2) + &")".repeat(m / 2),
                "a[".repeat(m / 2) + "0" + &"]".repeat(m / 2),
                "-".repeat(m / 2) + "a",
                "a".to_string() + &".b".repeat(m),
            ];
            for text in &within {
                assert!(
                    parse(text).is_ok(),
                    "{:?}...: {:?}",
                    &text[..20],
                    parse(text)
                );
            }
        });
        let joined = worker.map(|h| h.join());
        assert!(matches!(joined, Ok(Ok(()))), "worker failed");
    }

    /// `/work/shared`, or `$CLINS_SHARED`.
    fn shared_file(rel: &str) -> Option<String> {
        let dir = std::env::var_os("CLINS_SHARED").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
            PathBuf::from,
        );
        let path = dir.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(s) => Some(s),
            Err(e) => {
                if std::env::var("CLINS_REQUIRE_SHARED").as_deref() == Ok("1") {
                    panic!("{}: {e}", path.display());
                }
                println!("skipped: {} not readable ({e})", path.display());
                None
            }
        }
    }

    fn xml_unescape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            let Some(end) = rest.find(';') else { break };
            let entity = &rest[1..end];
            let decoded = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .map(|h| u32::from_str_radix(h, 16))
                    .or_else(|| entity.strip_prefix('#').map(|d| d.parse::<u32>()))
                    .and_then(|r| r.ok())
                    .and_then(char::from_u32),
            };
            match decoded {
                Some(c) => {
                    out.push(c);
                    rest = &rest[end + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// `(invalid attribute, expression)` for each `<expression>` element.
    fn xml_expressions(xml: &str) -> Vec<(Option<String>, String)> {
        // Drop comments first: the suite has a commented-out test.
        let mut uncommented = String::with_capacity(xml.len());
        let mut rest = xml;
        while let Some(i) = rest.find("<!--") {
            uncommented.push_str(&rest[..i]);
            rest = rest[i..].find("-->").map_or("", |j| &rest[i + j + 3..]);
        }
        uncommented.push_str(rest);
        let mut out = Vec::new();
        let mut rest = uncommented.as_str();
        while let Some(i) = rest.find("<expression") {
            rest = &rest[i + "<expression".len()..];
            if !rest.starts_with(|c: char| c == '>' || c.is_whitespace()) {
                continue;
            }
            let Some(tag_end) = rest.find('>') else { break };
            let attrs = &rest[..tag_end];
            rest = &rest[tag_end + 1..];
            let Some(close) = rest.find("</expression>") else {
                break;
            };
            let invalid = attrs.find("invalid=").and_then(|a| {
                let v = &attrs[a + "invalid=".len()..];
                let q = v.chars().next()?;
                let v = &v[1..];
                Some(v[..v.find(q)?].to_string())
            });
            out.push((invalid, xml_unescape(&rest[..close])));
            rest = &rest[close..];
        }
        out
    }

    #[test]
    fn conformance_suite_expressions() {
        let Some(xml) = shared_file("conformance/fhirpath/tests-fhir-r4.xml") else {
            return;
        };
        let expressions = xml_expressions(&xml);
        assert!(
            expressions.len() > 500,
            "only {} expressions found",
            expressions.len()
        );
        let (mut valid_ok, mut valid_total) = (0, 0);
        let (mut syntax_rejected, mut syntax_total) = (0, 0);
        let (mut other_parsed, mut other_total) = (0, 0);
        let mut failures = Vec::new();
        for (invalid, text) in &expressions {
            let result = parse(text);
            match invalid.as_deref() {
                None => {
                    valid_total += 1;
                    match result {
                        Ok(_) => valid_ok += 1,
                        Err(e) => failures.push(format!("should parse: {text:?}: {e}")),
                    }
                }
                Some("syntax") => {
                    syntax_total += 1;
                    match result {
                        Err(_) => syntax_rejected += 1,
                        Ok(e) => failures.push(format!("should fail: {text:?}: {}", sexp(&e))),
                    }
                }
                Some(kind) => {
                    other_total += 1;
                    match result {
                        Ok(_) => other_parsed += 1,
                        Err(e) => {
                            println!("invalid={kind:?} rejected by the parser: {text:?}: {e}")
                        }
                    }
                }
            }
        }
        println!(
            "conformance: {valid_ok}/{valid_total} valid expressions parse, \
             {syntax_rejected}/{syntax_total} invalid=\"syntax\" rejected, \
             {other_parsed}/{other_total} other invalid=... parse"
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Every FHIRPath `expression` in the shared R4 / JP Core / JP-CLINS definitions parses
    /// (invariants and search parameters).
    #[test]
    fn shared_definition_expressions() {
        let Some(_) = shared_file("spec/fhir-r4/package.json") else {
            return;
        };
        let dir = std::env::var_os("CLINS_SHARED").map_or_else(
            || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
            PathBuf::from,
        );
        let mut files = Vec::new();
        let mut stack = vec![dir.join("spec")];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
        files.sort();
        fn collect(v: &fhir::Value, out: &mut Vec<String>) {
            if let Some(o) = v.as_object() {
                for (k, v) in o.iter() {
                    match (k, v.as_str()) {
                        ("expression", Some(s)) => out.push(s.to_string()),
                        _ => collect(v, out),
                    }
                }
            } else if let Some(a) = v.as_array() {
                a.iter().for_each(|v| collect(v, out));
            }
        }
        let mut expressions = Vec::new();
        for path in &files {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            if !bytes.windows(12).any(|w| w == b"\"expression\"") {
                continue;
            }
            if let Ok(v) = fhir::json::parse_bytes(&bytes) {
                collect(&v, &mut expressions);
            }
        }
        expressions.sort();
        expressions.dedup();
        let failures: Vec<String> = expressions
            .iter()
            .filter_map(|x| parse(x).err().map(|e| format!("{x:?}: {e}")))
            .collect();
        // The tallest real expression shows how much room MAX_DEPTH leaves.
        let tallest = expressions
            .iter()
            .filter_map(|x| parse(x).ok().map(|e| height(&e)))
            .max()
            .unwrap_or(0);
        println!(
            "definitions: {}/{} distinct expressions parse; tallest tree {tallest} levels \
             (limit {MAX_DEPTH})",
            expressions.len() - failures.len(),
            expressions.len()
        );
        assert!(tallest * 2 < MAX_DEPTH, "MAX_DEPTH is too tight: {tallest}");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
