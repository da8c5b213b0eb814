//! R4 primitive data types: which JSON form each takes and which lexical rule it follows
//! (FHIR R4 §2.24 "Primitive Types"). The rules are written by hand rather than with a regex
//! engine: they are simple, and validation of every element of every submission runs them.

use crate::json::Value;

/// The FHIR R4 primitive type names.
pub const PRIMITIVES: &[&str] = &[
    "base64Binary",
    "boolean",
    "canonical",
    "code",
    "date",
    "dateTime",
    "decimal",
    "id",
    "instant",
    "integer",
    "markdown",
    "oid",
    "positiveInt",
    "string",
    "time",
    "unsignedInt",
    "uri",
    "url",
    "uuid",
    "xhtml",
];

pub fn is_primitive(type_name: &str) -> bool {
    PRIMITIVES.contains(&type_name)
}

/// Why a primitive value is wrong, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimitiveError {
    pub en: String,
    pub ja: String,
}

fn fail(en: String, ja: String) -> Result<(), PrimitiveError> {
    Err(PrimitiveError { en, ja })
}

/// Largest string FHIR allows (1 MB of characters).
pub const MAX_STRING_LEN: usize = 1024 * 1024;

/// Checks `v` as the JSON representation of the R4 primitive `type_name`.
/// Unknown type names are accepted (the caller decides what they are).
pub fn check(type_name: &str, v: &Value) -> Result<(), PrimitiveError> {
    match type_name {
        "boolean" => match v {
            Value::Bool(_) => Ok(()),
            other => wrong_json(type_name, "true or false", other),
        },
        "integer" | "positiveInt" | "unsignedInt" => match v {
            Value::Number(n) => check_integer(type_name, n),
            other => wrong_json(type_name, "a JSON number", other),
        },
        "decimal" => match v {
            // The JSON parser already enforced the number grammar, which equals FHIR's.
            Value::Number(_) => Ok(()),
            other => wrong_json(type_name, "a JSON number", other),
        },
        _ => match v {
            Value::String(s) => check_lexical(type_name, s),
            other => wrong_json(type_name, "a JSON string", other),
        },
    }
}

fn wrong_json(t: &str, want: &str, got: &Value) -> Result<(), PrimitiveError> {
    fail(
        format!("a {t} must be {want}, not a JSON {}", got.kind()),
        format!(
            "{t}型の値は{want}で書く必要があります（JSONの{}になっています）",
            got.kind()
        ),
    )
}

fn check_integer(t: &str, n: &str) -> Result<(), PrimitiveError> {
    let digits = n.strip_prefix('-').unwrap_or(n);
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !plain {
        return fail(
            format!("{n:?} is not a valid {t}: integers have no fraction or exponent"),
            format!("{n:?} は{t}として不正です（小数点や指数は使えません）"),
        );
    }
    let Ok(value) = n.parse::<i64>() else {
        return fail(
            format!("{n} is out of range for {t} (32-bit)"),
            format!("{n} は{t}の範囲（32ビット）を超えています"),
        );
    };
    let (lo, label_en, label_ja) = match t {
        "positiveInt" => (1, "at least 1", "1以上"),
        "unsignedInt" => (0, "at least 0", "0以上"),
        _ => (i64::from(i32::MIN), "32-bit", "32ビット"),
    };
    if value < lo || value > i64::from(i32::MAX) {
        return fail(
            format!("{n} is not a valid {t} (must be {label_en} and at most 2147483647)"),
            format!("{n} は{t}として不正です（{label_ja}、2147483647以下）"),
        );
    }
    Ok(())
}

fn check_lexical(t: &str, s: &str) -> Result<(), PrimitiveError> {
    if s.is_empty() {
        return fail(
            format!("empty string for {t}: omit the element instead of sending an empty value"),
            format!("{t}型に空文字列があります。値がない場合は要素ごと省略してください"),
        );
    }
    // Characters never outnumber bytes: count them only for long strings.
    if s.len() > MAX_STRING_LEN && s.chars().count() > MAX_STRING_LEN {
        return fail(
            format!("{t} longer than 1 MB"),
            format!("{t}型の値が1MBを超えています"),
        );
    }
    let ok = match t {
        "string" | "markdown" => {
            // R4: strings may not be all whitespace in practice; the spec regex only
            // requires one character. Control characters other than CR, LF, TAB are barred.
            !s.chars()
                .any(|c| (c as u32) < 0x20 && !matches!(c, '\r' | '\n' | '\t'))
        }
        "code" => is_code(s),
        "id" => {
            s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
        "uri" | "url" | "canonical" => !s.chars().any(char::is_whitespace),
        "oid" => is_oid(s),
        "uuid" => is_uuid(s),
        "base64Binary" => is_base64(s),
        "date" => parse_date(s).is_some_and(|rest| rest.is_empty()),
        "dateTime" => is_datetime(s, false),
        "instant" => is_datetime(s, true),
        "time" => parse_time(s).is_some_and(|rest| rest.is_empty()),
        "xhtml" => s.trim_start().starts_with("<div"),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        let shown: String = s.chars().take(80).collect();
        fail(
            format!("{shown:?} is not a valid {t}{}", hint_en(t)),
            format!("{shown:?} は{t}型として不正です{}", hint_ja(t)),
        )
    }
}

fn hint_en(t: &str) -> &'static str {
    match t {
        "date" => " (use YYYY, YYYY-MM or YYYY-MM-DD)",
        "dateTime" => " (use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz; a time needs a time zone)",
        "instant" => " (use YYYY-MM-DDThh:mm:ss[.sss]+zz:zz or Z)",
        "time" => " (use hh:mm:ss)",
        "id" => " (1-64 characters A-Z a-z 0-9 - .)",
        "code" => " (no leading, trailing or repeated whitespace)",
        "uri" | "url" | "canonical" => " (no whitespace allowed)",
        "oid" => " (use urn:oid:1.2.3...)",
        "uuid" => " (use urn:uuid: followed by a lower-case UUID)",
        "base64Binary" => " (base64 characters only)",
        "string" | "markdown" => " (control characters are not allowed)",
        _ => "",
    }
}

fn hint_ja(t: &str) -> &'static str {
    match t {
        "date" => "（YYYY、YYYY-MM、YYYY-MM-DD の形式）",
        "dateTime" => {
            "（YYYY-MM-DD または YYYY-MM-DDThh:mm:ss+09:00 の形式。時刻にはタイムゾーンが必要）"
        }
        "instant" => "（YYYY-MM-DDThh:mm:ss+09:00 の形式）",
        "time" => "（hh:mm:ss の形式）",
        "id" => "（英数字・ハイフン・ピリオドで1〜64文字）",
        "code" => "（前後の空白や連続した空白は使えません）",
        "uri" | "url" | "canonical" => "（空白は使えません）",
        "oid" => "（urn:oid:1.2.3... の形式）",
        "uuid" => "（urn:uuid: と小文字のUUID）",
        "base64Binary" => "（base64の文字のみ）",
        "string" | "markdown" => "（制御文字は使えません）",
        _ => "",
    }
}

fn is_code(s: &str) -> bool {
    // [^\s]+(\s[^\s]+)*
    let mut prev_ws = true;
    for c in s.chars() {
        let ws = c.is_whitespace();
        if ws && prev_ws {
            return false;
        }
        prev_ws = ws;
    }
    !prev_ws
}

fn is_oid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:oid:") else {
        return false;
    };
    let mut parts = rest.split('.');
    let first_ok = matches!(parts.next(), Some("0" | "1" | "2"));
    let mut n = 0;
    for p in parts {
        n += 1;
        if p.is_empty()
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return false;
        }
    }
    first_ok && n >= 1
}

fn is_uuid(s: &str) -> bool {
    let Some(u) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    let b = u.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

fn is_base64(s: &str) -> bool {
    let mut n = 0usize;
    for b in s.bytes() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=') {
            return false;
        }
        n += 1;
    }
    n.is_multiple_of(4) && n > 0
}

fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses YYYY[-MM[-DD]] and returns the rest of the text.
fn parse_date(s: &str) -> Option<&str> {
    let (y, rest) = digits(s, 4)?;
    if y == 0 {
        return None;
    }
    let Some(r) = rest.strip_prefix('-') else {
        return Some(rest);
    };
    let (m, rest) = digits(r, 2)?;
    if !(1..=12).contains(&m) {
        return None;
    }
    let Some(r) = rest.strip_prefix('-') else {
        return Some(rest);
    };
    let (d, rest) = digits(r, 2)?;
    if d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(rest)
}

/// Parses hh:mm:ss[.fff] and returns the rest.
fn parse_time(s: &str) -> Option<&str> {
    let (h, r) = digits(s, 2)?;
    let r = r.strip_prefix(':')?;
    let (mi, r) = digits(r, 2)?;
    let r = r.strip_prefix(':')?;
    let (sec, mut r) = digits(r, 2)?;
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    if let Some(f) = r.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        r = &f[n..];
    }
    Some(r)
}

fn is_zone(s: &str) -> bool {
    if s == "Z" {
        return true;
    }
    let Some(r) = s.strip_prefix('+').or_else(|| s.strip_prefix('-')) else {
        return false;
    };
    let Some((h, r)) = digits(r, 2) else {
        return false;
    };
    let Some(r) = r.strip_prefix(':') else {
        return false;
    };
    let Some((m, r)) = digits(r, 2) else {
        return false;
    };
    r.is_empty() && m <= 59 && (h < 14 || (h == 14 && m == 0))
}

fn is_datetime(s: &str, instant: bool) -> bool {
    let Some(rest) = parse_date(s) else {
        return false;
    };
    if rest.is_empty() {
        // A partial date is a valid dateTime but not an instant.
        return !instant;
    }
    // A time requires a full date.
    if s.len() != 10 + rest.len() {
        return false;
    }
    let Some(t) = rest.strip_prefix('T') else {
        return false;
    };
    let Some(zone) = parse_time(t) else {
        return false;
    };
    is_zone(zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(t: &str, s: &str) -> bool {
        check(t, &Value::string(s)).is_ok()
    }
    fn num(t: &str, s: &str) -> bool {
        check(t, &Value::Number(s.into())).is_ok()
    }

    #[test]
    fn dates_and_times() {
        for good in ["2024", "2024-02", "2024-02-29", "0001-01-01"] {
            assert!(ok("date", good), "{good}");
            assert!(ok("dateTime", good), "{good}");
        }
        for bad in [
            "2023-02-29",
            "2024-13",
            "2024-1-01",
            "24",
            "0000",
            "2024-02-30",
            "2024-01-01T",
        ] {
            assert!(!ok("date", bad), "{bad}");
        }
        assert!(ok("dateTime", "2024-10-19T10:00:00+09:00"));
        assert!(ok("dateTime", "2024-10-19T10:00:00.123Z"));
        assert!(!ok("dateTime", "2024-10-19T10:00:00"), "time needs a zone");
        assert!(!ok("dateTime", "2024-10T10:00:00Z"));
        assert!(!ok("dateTime", "2024-10-19T24:00:00Z"));
        assert!(!ok("dateTime", "2024-10-19T10:00:00+15:00"));
        assert!(ok("instant", "2024-10-19T10:00:00+09:00"));
        assert!(!ok("instant", "2024-10-19"));
        assert!(ok("time", "23:59:60.5"));
        assert!(!ok("time", "23:59"));
    }

    #[test]
    fn numbers() {
        assert!(num("integer", "-12"));
        assert!(!num("integer", "1.0"));
        assert!(!num("integer", "2147483648"));
        assert!(num("integer", "-2147483648"));
        assert!(!num("positiveInt", "0"));
        assert!(num("unsignedInt", "0"));
        assert!(!num("unsignedInt", "-1"));
        assert!(num("decimal", "1E-22"));
        assert!(check("decimal", &Value::string("1.0")).is_err());
        assert!(check("boolean", &Value::string("true")).is_err());
        assert!(check("string", &Value::Number("1".into())).is_err());
    }

    #[test]
    fn identifiers_and_uris() {
        assert!(ok("id", "abc-1.2"));
        assert!(!ok("id", "abc_1"));
        assert!(!ok("id", &"a".repeat(65)));
        assert!(ok("code", "a b"));
        assert!(!ok("code", " a"));
        assert!(!ok("code", "a  b"));
        assert!(!ok("code", "a "));
        assert!(ok("oid", "urn:oid:1.2.392.100495.20.3.51.11318814790"));
        assert!(!ok("oid", "urn:oid:3.1"));
        assert!(!ok("oid", "urn:oid:1.02"));
        assert!(ok("uuid", "urn:uuid:0a8e2a0c-7b6f-4a7c-9f43-3b1d6f0d2e11"));
        assert!(!ok("uuid", "urn:uuid:0A8E2A0C-7B6F-4A7C-9F43-3B1D6F0D2E11"));
        assert!(!ok("uri", "http://a b"));
        assert!(ok("base64Binary", "aGVsbG8="));
        assert!(!ok("base64Binary", "aGVsbG8"));
        assert!(!ok("string", ""));
        assert!(!ok("string", "a\u{0}b"));
        assert!(ok("string", "改行\nあり"));
    }
}
