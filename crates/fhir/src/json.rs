//! Lossless JSON for FHIR.
//!
//! FHIR JSON must survive a parse/serialize round trip unchanged: decimals keep their lexical
//! form (`1.50` is not `1.5`, `1E-22` stays as written) and object keys keep their order. General
//! purpose JSON libraries normalise numbers and may reorder keys, so the hub has its own small
//! parser. Objects are vectors of pairs: FHIR objects are small, and a linear scan beats hashing.
//!
//! The parser never panics on any input; nesting is bounded so hostile input cannot exhaust the
//! stack. Duplicate keys are a parse error (RFC 8259 leaves them undefined; FHIR forbids them).

use std::fmt;

/// An immutable string that keeps up to 22 bytes inline: most JSON keys and many FHIR values
/// (codes, dates, ids) are short, and not allocating them halves the allocations of a parse.
#[derive(Clone)]
pub struct Str(Repr);

#[derive(Clone)]
enum Repr {
    Inline(u8, [u8; INLINE]),
    Heap(Box<str>),
}

const INLINE: usize = 22;

impl Str {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(n, buf) => inline_str(&buf[..usize::from(*n)]),
            Repr::Heap(s) => s,
        }
    }
}

/// The bytes of an inline `Str`. They are always a copy of a whole `&str` (see `From<&str>`),
/// so they are valid UTF-8.
#[allow(unsafe_code)]
#[inline]
fn inline_str(bytes: &[u8]) -> &str {
    debug_assert!(std::str::from_utf8(bytes).is_ok());
    // SAFETY: inline bytes are only ever written by `From<&str>`, which copies an entire
    // `&str` (valid UTF-8) and records its exact length; nothing else mutates them.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

impl std::ops::Deref for Str {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Str {
    #[inline]
    fn from(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Str(Repr::Inline(s.len() as u8, buf))
        } else {
            Str(Repr::Heap(s.into()))
        }
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Str::from(s.as_str())
        } else {
            Str(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        if s.len() <= INLINE {
            Str::from(&*s)
        } else {
            Str(Repr::Heap(s))
        }
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str::from(s.as_str())
    }
}

impl From<Str> for Box<str> {
    fn from(s: Str) -> Self {
        match s.0 {
            Repr::Heap(b) => b,
            Repr::Inline(..) => s.as_str().into(),
        }
    }
}

impl From<Str> for String {
    fn from(s: Str) -> Self {
        s.as_str().to_string()
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for Str {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Deepest nesting accepted. Real FHIR resources rarely exceed 30 levels.
pub const MAX_DEPTH: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A JSON number, kept exactly as written.
    Number(Str),
    String(Str),
    Array(Vec<Value>),
    Object(Object),
}

/// A JSON object with its keys in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Object {
    entries: Vec<(Str, Value)>,
}

impl Object {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_capacity(n: usize) -> Self {
        Object {
            entries: Vec::with_capacity(n),
        }
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v)
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// Sets `key`, replacing an existing value in place (order kept) or appending.
    pub fn insert(&mut self, key: impl Into<Str>, value: Value) -> Option<Value> {
        let key = key.into();
        if let Some(slot) = self.get_mut(&key) {
            return Some(std::mem::replace(slot, value));
        }
        self.entries.push((key, value));
        None
    }
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let pos = self.entries.iter().position(|(k, _)| &**k == key)?;
        Some(self.entries.remove(pos).1)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&**k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<Str>> FromIterator<(K, Value)> for Object {
    fn from_iter<T: IntoIterator<Item = (K, Value)>>(iter: T) -> Self {
        Object {
            entries: iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }
    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The lexical form of a number.
    pub fn as_number(&self) -> Option<&str> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// Member `key` of an object; `None` for other values.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }
    /// Follows a dotted path of object keys (`"meta.lastUpdated"`); arrays are not traversed.
    pub fn pointer(&self, dotted: &str) -> Option<&Value> {
        dotted.split('.').try_fold(self, |v, k| v.get(k))
    }
    /// A value as a list: arrays as their items, anything else as one item.
    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(a) => a,
            other => std::slice::from_ref(other),
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
    pub fn string(s: impl Into<Str>) -> Value {
        Value::String(s.into())
    }
}

/// Where and why a document is not JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub en: String,
    pub ja: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {} / {}",
            self.line, self.column, self.en, self.ja
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses one JSON document. A UTF-8 byte order mark is rejected (FHIR JSON must not carry one).
pub fn parse(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
        text,
        members: Vec::with_capacity(64),
        items: Vec::with_capacity(64),
    };
    if text.starts_with('\u{feff}') {
        return Err(p.err(
            "byte order mark (BOM) at the start of the document is not allowed",
            "文書の先頭にBOMがあります。BOMを付けずに保存してください",
        ));
    }
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.err(
            "unexpected content after the end of the JSON document",
            "JSON文書の終わりの後に余分な内容があります",
        ));
    }
    Ok(v)
}

/// The end (exclusive) of the JSON value that starts at `i` (after whitespace), found by
/// scanning without building it: strings with their escapes, and nested brackets counted.
/// `None` when the input ends first.
fn value_end(b: &[u8], mut i: usize) -> Option<usize> {
    while b.get(i)?.is_ascii_whitespace() {
        i += 1;
    }
    let string_end = |mut j: usize| -> Option<usize> {
        // `j` is just after an opening quote.
        loop {
            match *b.get(j)? {
                b'\\' => j += 2,
                b'"' => return Some(j + 1),
                _ => j += 1,
            }
        }
    };
    match b[i] {
        b'"' => string_end(i + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = string_end(j + 1)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace()
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// Parses only the members `keep` of a top-level object: the other members are skipped by a
/// scan that builds nothing (a resource's narrative, contained resources and extensions cost
/// no allocation when a page needs five of its elements). `None` when the input is not an
/// object or is malformed; keys with escapes are matched as written.
pub fn parse_members(bytes: &[u8], keep: &[&str]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    let b = bytes;
    // One parser (and its scratch space) for every member kept.
    let mut p = Parser {
        s: b,
        pos: 0,
        text,
        members: Vec::new(),
        items: Vec::new(),
    };
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while b.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = Object::new();
    loop {
        skip_ws(&mut i);
        match b.get(i)? {
            b'}' => return Some(Value::Object(out)),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = value_end(b, i)?;
        let key = std::str::from_utf8(b.get(i + 1..key_end - 1)?).ok()?;
        i = key_end;
        skip_ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        let end = value_end(b, i)?;
        if keep.contains(&key) {
            p.pos = i;
            p.ws();
            let v = p.value(0).ok()?;
            p.ws();
            if p.pos != end {
                return None;
            }
            out.insert(key, v);
        }
        i = end;
    }
}

/// Parses raw bytes, reporting non-UTF-8 input as a parse error at the first bad byte.
pub fn parse_bytes(bytes: &[u8]) -> Result<Value, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(t) => parse(t),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
            let col_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let column = 1 + String::from_utf8_lossy(&good[col_start..]).chars().count();
            Err(ParseError {
                line,
                column,
                offset: e.valid_up_to(),
                en: format!(
                    "the file is not valid UTF-8 (bad byte at offset {}); FHIR JSON must be UTF-8",
                    e.valid_up_to()
                ),
                ja: format!(
                    "UTF-8として不正なバイトがあります（オフセット{}）。FHIR JSONはUTF-8で保存してください",
                    e.valid_up_to()
                ),
            })
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    text: &'a str,
    /// Members of the objects being parsed, innermost last; each object is moved out into an
    /// exactly sized vector when it closes (no growth reallocations).
    members: Vec<(Str, Value)>,
    /// Items of the arrays being parsed, likewise.
    items: Vec<Value>,
}

impl Parser<'_> {
    fn err(&self, en: &str, ja: &str) -> ParseError {
        let upto = self.pos.min(self.s.len());
        // `upto` may fall inside a multi-byte character; step back to a boundary.
        let mut b = upto;
        while b > 0 && !self.text.is_char_boundary(b) {
            b -= 1;
        }
        let before = &self.text[..b];
        let line = 1 + before.bytes().filter(|&c| c == b'\n').count();
        let column = 1 + before.rsplit('\n').next().map_or(0, |l| l.chars().count());
        ParseError {
            line,
            column,
            offset: upto,
            en: en.to_string(),
            ja: ja.to_string(),
        }
    }

    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("JSON nested too deeply", "JSONの入れ子が深すぎます"));
        }
        match self.s.get(self.pos) {
            None => Err(self.err(
                "unexpected end of input: the document is empty or truncated",
                "入力が途中で終わっています（空のファイルか、途中で切れています）",
            )),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => match self.plain_string() {
                Some(s) => Ok(Value::String(s)),
                None => Ok(Value::String(self.string()?.into())),
            },
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'/') => Err(self.err(
                "comments are not allowed in JSON",
                "JSONにコメントは書けません",
            )),
            Some(_) => Err(self.err(
                "unexpected character: expected a JSON value",
                "予期しない文字です。JSONの値が必要です",
            )),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, ParseError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err(
                "invalid literal (expected true, false or null)",
                "不正なリテラルです（true、false、null のいずれか）",
            ))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.pos += 1;
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Object(Object::new()));
        }
        let start = self.members.len();
        let r = self.object_members(depth, start);
        let entries: Vec<(Str, Value)> = self.members.drain(start..).collect();
        r.map(|()| Value::Object(Object { entries }))
    }

    fn object_members(&mut self, depth: usize, start: usize) -> Result<(), ParseError> {
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(if self.pos >= self.s.len() {
                    self.eof()
                } else {
                    self.err(
                        "expected a property name in double quotes",
                        "プロパティ名（二重引用符で囲む）が必要です",
                    )
                });
            }
            let key_pos = self.pos;
            let key: Str = match self.plain_string() {
                Some(k) => k,
                None => self.string()?.into(),
            };
            if self.members[start..].iter().any(|(k, _)| *k == key) {
                self.pos = key_pos;
                return Err(self.err(
                    &format!("duplicate property \"{key}\" in one object"),
                    &format!("同じオブジェクトにプロパティ\"{key}\"が重複しています"),
                ));
            }
            self.ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(self.err(
                    "expected ':' after the property name",
                    "プロパティ名の後に ':' が必要です",
                ));
            }
            self.pos += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            self.members.push((key, v));
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => return Err(self.eof()),
                Some(_) => {
                    return Err(self.err(
                        "expected ',' or '}' in object",
                        "オブジェクト内に ',' または '}' が必要です",
                    ))
                }
            }
        }
    }

    fn eof(&self) -> ParseError {
        self.err(
            "unexpected end of input: the document is truncated",
            "入力が途中で終わっています（ファイルが途中で切れています）",
        )
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.pos += 1;
        self.ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        let start = self.items.len();
        let r = self.array_items(depth);
        let items: Vec<Value> = self.items.drain(start..).collect();
        r.map(|()| Value::Array(items))
    }

    fn array_items(&mut self, depth: usize) -> Result<(), ParseError> {
        loop {
            self.ws();
            let v = self.value(depth + 1)?;
            self.items.push(v);
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => return Err(self.eof()),
                Some(_) => {
                    return Err(self.err(
                        "expected ',' or ']' in array",
                        "配列内に ',' または ']' が必要です",
                    ))
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let bad = |p: &Self| p.err("malformed number", "数値の形式が不正です");
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.s.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            }
            _ => return Err(bad(self)),
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
                return Err(bad(self));
            }
            while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        if matches!(self.s.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.s.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
                return Err(bad(self));
            }
            while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }
        // Bytes start..pos are ASCII, so this slice is on char boundaries.
        Ok(Value::Number(self.text[start..self.pos].into()))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.s.get(self.pos) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => {
                    return Err(self.err(
                        "invalid \\u escape (four hex digits expected)",
                        "不正な \\u エスケープです（16進数4桁が必要）",
                    ))
                }
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    /// A string literal without escapes, the common case, in one exact allocation.
    fn plain_string(&mut self) -> Option<Str> {
        let start = self.pos + 1;
        let rest = self.s.get(start..)?;
        let end = find_string_end(rest)?;
        if rest[end] != b'"' {
            return None;
        }
        self.pos = start + end + 1;
        Some(self.text[start..start + end].into())
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            match self.s.get(self.pos) {
                None => return Err(self.err("unterminated string", "文字列が閉じられていません")),
                Some(b'"') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    let c = match self.s.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.s.get(self.pos) == Some(&b'\\')
                                    && self.s.get(self.pos + 1) == Some(&b'u')
                                {
                                    self.pos += 2;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&lo) {
                                        return Err(self.err(
                                            "invalid UTF-16 surrogate pair in \\u escape",
                                            "\\u エスケープのサロゲートペアが不正です",
                                        ));
                                    }
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    return Err(self.err(
                                        "lone UTF-16 surrogate in \\u escape",
                                        "\\u エスケープに対になっていないサロゲートがあります",
                                    ));
                                }
                            } else {
                                hi
                            };
                            let Some(ch) = char::from_u32(cp) else {
                                return Err(self.err(
                                    "invalid character in \\u escape",
                                    "\\u エスケープの文字が不正です",
                                ));
                            };
                            out.push(ch);
                            run = self.pos;
                            continue;
                        }
                        _ => {
                            return Err(self.err(
                                "invalid escape sequence in string",
                                "文字列内のエスケープが不正です",
                            ))
                        }
                    };
                    out.push(c);
                    self.pos += 1;
                    run = self.pos;
                }
                Some(&c) if c < 0x20 => {
                    return Err(self.err(
                        "control character in string (must be escaped)",
                        "文字列に制御文字があります（エスケープが必要です）",
                    ))
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// Position of the first `"`, `\\` or control character, eight bytes at a time (strings are
/// most of a FHIR document, so this scan is the parser's inner loop).
#[inline]
fn find_string_end(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(w);
        let quote = has_zero(x ^ (LO * u64::from(b'"')));
        let backslash = has_zero(x ^ (LO * u64::from(b'\\')));
        // Bytes below 0x20: subtracting 0x20 from each byte borrows into the high bit.
        let control = x.wrapping_sub(LO * 0x20) & !x & HI;
        if quote | backslash | control != 0 {
            break;
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

/// Compact serialization. Numbers are written exactly as parsed.
pub fn to_string(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, v);
    out
}

/// Indented serialization (two spaces), for humans.
pub fn to_string_pretty(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_pretty(&mut out, v, 0);
    out
}

fn write_value(out: &mut String, v: &Value) {
    write_value_with(out, v, &|_, _| None);
}

/// Compact serialization of `v` into `out`, where `rewrite(key, value)` may replace the string
/// value of an object member (e.g. a `reference` to be written differently); `None` keeps it.
pub fn write_value_with<'a, F>(out: &mut String, v: &Value, rewrite: &F)
where
    F: Fn(&str, &str) -> Option<&'a str>,
{
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value_with(out, x, rewrite);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                match x {
                    Value::String(s) => write_str(out, rewrite(k, s).unwrap_or(s)),
                    _ => write_value_with(out, x, rewrite),
                }
            }
            out.push('}');
        }
    }
}

fn write_pretty(out: &mut String, v: &Value, indent: usize) {
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n * 2));
    match v {
        Value::Array(a) if !a.is_empty() => {
            out.push_str("[\n");
            for (i, x) in a.iter().enumerate() {
                pad(out, indent + 1);
                write_pretty(out, x, indent + 1);
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push(']');
        }
        Value::Object(o) if !o.is_empty() => {
            out.push_str("{\n");
            for (i, (k, x)) in o.entries.iter().enumerate() {
                pad(out, indent + 1);
                write_str(out, k);
                out.push_str(": ");
                write_pretty(out, x, indent + 1);
                out.push_str(if i + 1 < o.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push('}');
        }
        other => write_value(out, other),
    }
}

/// Writes a JSON string literal. Non-ASCII is written as UTF-8; only what JSON requires is
/// escaped.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut run = 0;
    // The bytes that need an escape are those that end a plain string when parsing: find them
    // eight at a time and copy the runs between them whole.
    while let Some(off) = find_string_end(&bytes[run..]) {
        let i = run + off;
        out.push_str(&s[run..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b => out.push_str(&format!("\\u{b:04x}")),
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_byte_by_byte() {
        let reference = |s: &str| {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        };
        let mut samples: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        samples.push(String::new());
        samples.push("急性上気道炎の疑い（active）".into());
        samples.push("<div xmlns=\"http://www.w3.org/1999/xhtml\">外来受診</div>".into());
        samples.push("a long run of plain text, then a tab\there and a quote \" at 40".into());
        let all: String = (0u8..0x80).map(char::from).collect();
        samples.push(all.repeat(3));
        for s in &samples {
            let mut out = String::new();
            write_str(&mut out, s);
            assert_eq!(out, reference(s), "{s:?}");
            assert_eq!(parse(&out).unwrap().as_str(), Some(s.as_str()));
        }
    }

    #[test]
    fn keeps_number_lexical_form_and_key_order() {
        let src = r#"{"z":1.50,"a":[1E-22,-1.000000000000000000E+245,0],"m":{"b":true,"a":null}}"#;
        let v = parse(src).unwrap();
        assert_eq!(to_string(&v), src);
    }

    #[test]
    fn decodes_escapes_and_surrogates() {
        let v = parse(r#""a\"b\\c\/\u00e9\ud83d\ude00\n""#).unwrap();
        assert_eq!(v.as_str(), Some("a\"b\\c/é😀\n"));
        assert_eq!(to_string(&v), r#""a\"b\\c/é😀\n""#);
    }

    #[test]
    fn rejects_bad_input_with_position() {
        for (src, line, col) in [
            ("", 1, 1),
            ("{\"a\":1,}", 1, 8),
            ("{\n  \"a\": 01}", 2, 9),
            ("[1,2", 1, 5),
            ("{\"a\":1,\"a\":2}", 1, 8),
            ("\"\\ud800\"", 1, 8),
            ("{\"a\":1} x", 1, 9),
            ("// c\n{}", 1, 1),
            ("\u{feff}{}", 1, 1),
            ("\"abc", 1, 5),
            ("tru", 1, 1),
        ] {
            let e = parse(src).unwrap_err();
            assert_eq!((e.line, e.column), (line, col), "{src:?}: {e}");
        }
    }

    #[test]
    fn string_end_scan_matches_a_plain_scan() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let samples = [
            "abcdefgh\"",
            "日本語のテキスト\"x",
            "no end at all......",
            "tab\there",
            "12345678\\x",
            "\"",
            "",
            "0123456789abcdef0123456789abcde\"",
            "\u{7f}\u{80}ÿ\"",
        ];
        for s in samples {
            assert_eq!(find_string_end(s.as_bytes()), naive(s.as_bytes()), "{s:?}");
        }
        // Every byte value at every position of a 24-byte buffer.
        for pos in 0..24 {
            for b in 0u8..=255 {
                let mut buf = vec![b'a'; 24];
                buf[pos] = b;
                assert_eq!(find_string_end(&buf), naive(&buf), "byte {b} at {pos}");
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = "[".repeat(100_000);
        assert!(parse(&src).is_err());
    }

    #[test]
    fn non_utf8_is_reported() {
        let e = parse_bytes(b"{\"a\":\"\xff\"}").unwrap_err();
        assert_eq!(e.offset, 6);
        assert!(e.en.contains("UTF-8"));
    }

    #[test]
    fn control_characters_are_escaped_on_output() {
        let v = Value::string("a\u{1}b");
        assert_eq!(to_string(&v), "\"a\\u0001b\"");
        assert_eq!(parse(&to_string(&v)).unwrap(), v);
    }

    #[test]
    fn parse_members_keeps_only_what_is_asked_and_skips_the_rest() {
        let text = r#"{"resourceType":"Observation","text":{"div":"<div>a \"}\" ]</div>"},
            "contained":[{"id":"x","a":[1,{"b":"]"}]}],"code":{"text":"HbA1c"},
            "valueQuantity":{"value":5.50,"unit":"%"},"flag":true,"n":-1.5e3}"#;
        let v = parse_members(text.as_bytes(), &["code", "valueQuantity", "flag", "n"]).unwrap();
        assert_eq!(
            v.pointer("code.text").and_then(Value::as_str),
            Some("HbA1c")
        );
        assert_eq!(
            to_string(v.pointer("valueQuantity.value").unwrap()),
            "5.50",
            "decimals keep their form"
        );
        assert_eq!(v.get("flag").and_then(Value::as_bool), Some(true));
        assert!(v.get("text").is_none() && v.get("contained").is_none());
        assert_eq!(to_string(v.get("n").unwrap()), "-1.5e3");
        // What a full parse gives for the same members.
        let full = parse(text).unwrap();
        assert_eq!(v.get("code"), full.get("code"));
    }

    #[test]
    fn parse_members_refuses_what_is_not_an_object_or_is_cut() {
        assert!(parse_members(b"[1]", &["a"]).is_none());
        assert!(parse_members(br#"{"a":{"b":1}"#, &["a"]).is_none());
        assert!(parse_members(br#"{"a":"x"#, &["a"]).is_none());
        assert!(parse_members(b"", &["a"]).is_none());
        assert_eq!(
            parse_members(br#" { } "#, &["a"]).map(|v| to_string(&v)),
            Some("{}".to_string())
        );
    }
}
