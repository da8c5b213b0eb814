//! FHIRPath tokens: the lexical rules of the N1 grammar (plus `123L` long literals from
//! FHIRPath 2.1).
//!
//! Whitespace and comments are skipped. Date/time literals are checked here, shape and ranges,
//! so that the parser only sees well-formed ones. Every error carries the byte offset where the
//! offending token starts.

use crate::parser::ParseError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A plain identifier or keyword (`name`, `and`, `true`, `days`); see [`Token::text`].
    Word,
    /// `` `name` ``, escapes resolved.
    Delimited(String),
    /// `'text'`, escapes resolved.
    Str(String),
    /// `123`
    Integer,
    /// `123L` (the text includes the `L`).
    Long,
    /// `1.5`
    Decimal,
    /// `@2014-01-25` (the text includes the `@`).
    Date,
    /// `@2014-01-25T14:30`, `@2015T` (the text includes the `@`).
    DateTime,
    /// `@T14:30` (the text includes the `@T`).
    Time,
    /// `$this`
    This,
    /// `$index`
    Index,
    /// `$total`
    Total,
    Percent,
    Dot,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Plus,
    Minus,
    Star,
    Slash,
    Amp,
    Pipe,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Tilde,
    NotTilde,
    /// End of input (`start == end == text.len()`).
    Eof,
}

/// A token and its byte range in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token as written.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }
}

/// Splits FHIRPath text into tokens, one [`Lexer::next_token`] call at a time.
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Which date/time literal is being read, for messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Temporal {
    Date,
    DateTime,
    Time,
}

impl Temporal {
    fn name(self) -> &'static str {
        match self {
            Temporal::Date => "date",
            Temporal::DateTime => "datetime",
            Temporal::Time => "time",
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        // Gregorian leap years (written as a match: `is_multiple_of` is newer than the MSRV).
        2 if matches!((year % 4, year % 100, year % 400), (0, 1.., _) | (_, _, 0)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
        }
    }

    fn err(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.src, pos, message)
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn is_digit_at(&self, i: usize) -> bool {
        self.byte(i).is_some_and(|b| b.is_ascii_digit())
    }

    /// Skips whitespace, `// line` and `/* block */` comments.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match self.byte(self.pos) {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0x0c) => self.pos += 1,
                Some(b'/') if self.byte(self.pos + 1) == Some(b'/') => {
                    while self.byte(self.pos).is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.byte(self.pos + 1) == Some(b'*') => {
                    let body = self.src.get(self.pos + 2..).unwrap_or("");
                    match body.find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        None => return Err(self.err(self.pos, "unterminated comment '/*'")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(b) = self.byte(start) else {
            return Ok(Token {
                kind: TokenKind::Eof,
                start,
                end: start,
            });
        };
        let next = self.byte(start + 1);
        let (kind, len) = match b {
            b'.' => (TokenKind::Dot, 1),
            b',' => (TokenKind::Comma, 1),
            b'(' => (TokenKind::LParen, 1),
            b')' => (TokenKind::RParen, 1),
            b'[' => (TokenKind::LBracket, 1),
            b']' => (TokenKind::RBracket, 1),
            b'{' => (TokenKind::LBrace, 1),
            b'}' => (TokenKind::RBrace, 1),
            b'+' => (TokenKind::Plus, 1),
            b'-' => (TokenKind::Minus, 1),
            b'*' => (TokenKind::Star, 1),
            b'/' => (TokenKind::Slash, 1),
            b'&' => (TokenKind::Amp, 1),
            b'|' => (TokenKind::Pipe, 1),
            b'%' => (TokenKind::Percent, 1),
            b'=' => (TokenKind::Eq, 1),
            b'~' => (TokenKind::Tilde, 1),
            b'<' if next == Some(b'=') => (TokenKind::Le, 2),
            b'<' => (TokenKind::Lt, 1),
            b'>' if next == Some(b'=') => (TokenKind::Ge, 2),
            b'>' => (TokenKind::Gt, 1),
            b'!' if next == Some(b'=') => (TokenKind::Ne, 2),
            b'!' if next == Some(b'~') => (TokenKind::NotTilde, 2),
            b'!' => {
                return Err(self.err(
                    start,
                    "unexpected character '!' (negation is written 'x.not()'; '!=' and '!~' are \
                     operators)",
                ))
            }
            b'\'' => {
                let s = self.quoted(b'\'', "string")?;
                return Ok(self.finish(TokenKind::Str(s), start));
            }
            b'`' => {
                let s = self.quoted(b'`', "delimited identifier")?;
                return Ok(self.finish(TokenKind::Delimited(s), start));
            }
            b'"' => {
                return Err(self.err(
                    start,
                    "unexpected character '\"' (strings are written in single quotes: 'text')",
                ))
            }
            b'0'..=b'9' => {
                let kind = self.number();
                return Ok(self.finish(kind, start));
            }
            b'@' => {
                let kind = self.temporal()?;
                return Ok(self.finish(kind, start));
            }
            b'$' => {
                let mut end = start + 1;
                while self.byte(end).is_some_and(is_ident_char) {
                    end += 1;
                }
                let kind = match self.src.get(start + 1..end).unwrap_or("") {
                    "this" => TokenKind::This,
                    "index" => TokenKind::Index,
                    "total" => TokenKind::Total,
                    "" => {
                        return Err(self.err(start, "expected 'this', 'index' or 'total' after '$'"))
                    }
                    other => {
                        return Err(self.err(
                            start,
                            format!(
                                "unknown special variable '${other}' (expected $this, $index or \
                                 $total)"
                            ),
                        ))
                    }
                };
                (kind, end - start)
            }
            b if is_ident_start(b) => {
                let mut end = start + 1;
                while self.byte(end).is_some_and(is_ident_char) {
                    end += 1;
                }
                (TokenKind::Word, end - start)
            }
            _ => {
                let c = self.src.get(start..).and_then(|s| s.chars().next());
                let shown = c.map_or_else(|| "?".to_string(), |c| c.escape_debug().to_string());
                return Err(self.err(start, format!("unexpected character '{shown}'")));
            }
        };
        self.pos = start + len;
        Ok(Token {
            kind,
            start,
            end: start + len,
        })
    }

    /// A token whose reader already advanced `self.pos` to its end.
    fn finish(&self, kind: TokenKind, start: usize) -> Token {
        Token {
            kind,
            start,
            end: self.pos,
        }
    }

    /// `'...'` or `` `...` `` starting at `self.pos`, with the grammar's escapes
    /// (`\'` `\"` `` \` `` `\\` `\/` `\f` `\n` `\r` `\t` `\uXXXX`).
    fn quoted(&mut self, quote: u8, what: &str) -> Result<String, ParseError> {
        let start = self.pos;
        let mut i = start + 1;
        let mut out = String::new();
        let unterminated = || self.err(start, format!("unterminated {what}"));
        loop {
            let rest = self.src.get(i..).unwrap_or("");
            let Some(c) = rest.chars().next() else {
                return Err(unterminated());
            };
            if c == char::from(quote) {
                self.pos = i + 1;
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                i += c.len_utf8();
                continue;
            }
            let Some(e) = self.src.get(i + 1..).and_then(|s| s.chars().next()) else {
                return Err(unterminated());
            };
            let simple = match e {
                '\'' | '"' | '`' | '\\' | '/' => Some(e),
                'f' => Some('\u{c}'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                'u' => None,
                other => {
                    return Err(self.err(
                        i,
                        format!(
                            "invalid escape sequence '\\{}' in {what} (write '\\\\' for a \
                             backslash)",
                            other.escape_debug()
                        ),
                    ))
                }
            };
            if let Some(c) = simple {
                out.push(c);
                i += 2;
                continue;
            }
            let unit = self.hex4(i)?;
            i += 6;
            let code = if (0xD800..0xDC00).contains(&unit) {
                // A high surrogate must be followed by an escaped low surrogate.
                let low = if self.src.get(i..i + 2) == Some("\\u") {
                    self.hex4(i).ok()
                } else {
                    None
                };
                match low {
                    Some(low) if (0xDC00..0xE000).contains(&low) => {
                        i += 6;
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => {
                        return Err(self.err(
                            i - 6,
                            format!("unpaired surrogate '\\u{unit:04X}' in {what}"),
                        ))
                    }
                }
            } else {
                unit
            };
            match char::from_u32(code) {
                Some(c) => out.push(c),
                None => {
                    return Err(self.err(
                        i - 6,
                        format!("unpaired surrogate '\\u{code:04X}' in {what}"),
                    ))
                }
            }
        }
    }

    /// The four hex digits of a `\uXXXX` escape whose backslash is at `at`.
    fn hex4(&self, at: usize) -> Result<u32, ParseError> {
        let digits = self.src.get(at + 2..at + 6).unwrap_or("");
        if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(v) = u32::from_str_radix(digits, 16) {
                return Ok(v);
            }
        }
        Err(self.err(
            at,
            "invalid unicode escape (expected '\\u' and four hex digits)",
        ))
    }

    /// `[0-9]+ ('.' [0-9]+)?` or `[0-9]+ 'L'`.
    fn number(&mut self) -> TokenKind {
        let mut i = self.pos;
        while self.is_digit_at(i) {
            i += 1;
        }
        let kind = if self.byte(i) == Some(b'.') && self.is_digit_at(i + 1) {
            i += 1;
            while self.is_digit_at(i) {
                i += 1;
            }
            TokenKind::Decimal
        } else if self.byte(i) == Some(b'L') && !self.byte(i + 1).is_some_and(is_ident_char) {
            i += 1;
            TokenKind::Long
        } else {
            TokenKind::Integer
        };
        self.pos = i;
        kind
    }

    /// Exactly two digits at `i`, as a number.
    fn two_digits(&self, i: usize) -> Option<u32> {
        match (self.byte(i), self.byte(i + 1), self.byte(i + 2)) {
            (Some(a), Some(b), c)
                if a.is_ascii_digit()
                    && b.is_ascii_digit()
                    && !c.is_some_and(|c| c.is_ascii_digit()) =>
            {
                Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
            }
            _ => None,
        }
    }

    /// A date, datetime or time literal starting at the `@` at `self.pos`.
    fn temporal(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.pos;
        let mut i = start + 1;
        let kind;
        if self.byte(i) == Some(b'T') {
            kind = Temporal::Time;
            i += 1;
            if !self.is_digit_at(i) {
                return Err(self.bad(start, i, kind, "expected the hour after '@T'"));
            }
            i = self.time_part(start, i, kind)?;
            let tz = match self.byte(i) {
                Some(b'Z') => true,
                Some(b'+' | b'-') => {
                    self.two_digits(i + 1).is_some() && self.byte(i + 3) == Some(b':')
                }
                _ => false,
            };
            if tz {
                return Err(self.bad(start, i, kind, "a time cannot have a timezone offset"));
            }
        } else if self.is_digit_at(i) {
            let mut year_end = i;
            while self.is_digit_at(year_end) {
                year_end += 1;
            }
            if year_end - i != 4 {
                return Err(self.bad(start, year_end, Temporal::Date, "the year needs 4 digits"));
            }
            let year = self
                .src
                .get(i..year_end)
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(0);
            i = year_end;
            if year == 0 {
                return Err(self.bad(start, i, Temporal::Date, "year 0000 does not exist"));
            }
            // `-` and a digit after the year or month must start the next two-digit part.
            if self.byte(i) == Some(b'-') && self.is_digit_at(i + 1) {
                let Some(m) = self.two_digits(i + 1) else {
                    return Err(self.bad(start, i + 1, Temporal::Date, "the month needs 2 digits"));
                };
                if !(1..=12).contains(&m) {
                    return Err(self.bad(start, i + 3, Temporal::Date, "month must be 01-12"));
                }
                i += 3;
                if self.byte(i) == Some(b'-') && self.is_digit_at(i + 1) {
                    let Some(d) = self.two_digits(i + 1) else {
                        return Err(self.bad(
                            start,
                            i + 1,
                            Temporal::Date,
                            "the day needs 2 digits",
                        ));
                    };
                    let max = days_in_month(year, m);
                    if !(1..=max).contains(&d) {
                        return Err(self.bad(
                            start,
                            i + 3,
                            Temporal::Date,
                            format!("day must be 01-{max} in this month"),
                        ));
                    }
                    i += 3;
                }
            }
            kind = if self.byte(i) == Some(b'T') {
                i += 1;
                if self.is_digit_at(i) {
                    i = self.time_part(start, i, Temporal::DateTime)?;
                    i = self.timezone(start, i)?;
                }
                Temporal::DateTime
            } else {
                Temporal::Date
            };
        } else {
            return Err(self.err(
                start,
                "expected a date ('@2014-01-25'), datetime ('@2014-01-25T14:30') or time \
                 ('@T14:30') after '@'",
            ));
        }
        // A literal run straight into letters, digits or ':' is malformed (`@2014-01-01X`).
        if self.byte(i).is_some_and(|b| is_ident_char(b) || b == b':') {
            let mut end = i;
            while self
                .byte(end)
                .is_some_and(|b| is_ident_char(b) || b == b':')
            {
                end += 1;
            }
            return Err(self.bad(start, end, kind, "unexpected characters after the literal"));
        }
        self.pos = i;
        Ok(match kind {
            Temporal::Date => TokenKind::Date,
            Temporal::DateTime => TokenKind::DateTime,
            Temporal::Time => TokenKind::Time,
        })
    }

    /// `hh(:mm(:ss(.fff)?)?)?` at `i`; returns the end.
    fn time_part(&self, start: usize, mut i: usize, kind: Temporal) -> Result<usize, ParseError> {
        let limits = [
            (23, "hour must be 00-23"),
            (59, "minute must be 00-59"),
            (59, "second must be 00-59"),
        ];
        let names = ["hour", "minute", "second"];
        for (n, ((max, range_msg), name)) in limits.iter().zip(names).enumerate() {
            if n > 0 {
                if self.byte(i) != Some(b':') {
                    break;
                }
                i += 1;
            }
            let Some(v) = self.two_digits(i) else {
                return Err(self.bad(start, i, kind, format!("the {name} needs 2 digits")));
            };
            i += 2;
            if v > *max {
                return Err(self.bad(start, i, kind, *range_msg));
            }
            if n == 2 && self.byte(i) == Some(b'.') && self.is_digit_at(i + 1) {
                i += 1;
                while self.is_digit_at(i) {
                    i += 1;
                }
            }
        }
        // A fraction is only allowed on the seconds.
        if self.byte(i) == Some(b'.') && self.is_digit_at(i + 1) {
            let mut end = i + 1;
            while self.is_digit_at(end) {
                end += 1;
            }
            return Err(self.bad(
                start,
                end,
                kind,
                "a fraction is only allowed after the seconds",
            ));
        }
        Ok(i)
    }

    /// An optional `Z` or `+hh:mm` / `-hh:mm` at `i`; returns the end.
    fn timezone(&self, start: usize, i: usize) -> Result<usize, ParseError> {
        let kind = Temporal::DateTime;
        match self.byte(i) {
            Some(b'Z') => Ok(i + 1),
            // `+hh:` can only be an offset; `+ 1`, `+1 day` are operators (grammar).
            Some(b'+' | b'-')
                if self.two_digits(i + 1).is_some() && self.byte(i + 3) == Some(b':') =>
            {
                let (Some(h), Some(m)) = (self.two_digits(i + 1), self.two_digits(i + 4)) else {
                    return Err(self.bad(
                        start,
                        i + 4,
                        kind,
                        "a timezone offset is written +hh:mm",
                    ));
                };
                if h > 14 || m > 59 {
                    return Err(self.bad(start, i + 6, kind, "timezone offset out of range"));
                }
                Ok(i + 6)
            }
            _ => Ok(i),
        }
    }

    /// "invalid <kind> literal '<text>': <why>" at the `@`, showing the text up to `end` and any
    /// digits right after it.
    fn bad(
        &self,
        start: usize,
        end: usize,
        kind: Temporal,
        why: impl std::fmt::Display,
    ) -> ParseError {
        let mut end = end.min(self.src.len());
        while self.is_digit_at(end) {
            end += 1;
        }
        while !self.src.is_char_boundary(end) {
            end -= 1;
        }
        let text = self.src.get(start..end).unwrap_or("@");
        self.err(
            start,
            format!("invalid {} literal '{text}': {why}", kind.name()),
        )
    }
}
