//! `encode()` / `decode()` (base64, urlbase64, hex) and `escape()` / `unescape()` (html,
//! json), FHIRPath 2.1.

use fhir::base64::{self, Alphabet};

/// Encodes (`encode = true`) or decodes `s` in `format`; `None` for an unknown format or
/// undecodable input.
pub(crate) fn transcode(encode: bool, format: &str, s: &str) -> Option<String> {
    match (encode, format) {
        (true, "hex") => Some(s.bytes().map(|b| format!("{b:02x}")).collect()),
        (false, "hex") => {
            if !s.len().is_multiple_of(2) {
                return None;
            }
            let bytes: Option<Vec<u8>> = (0..s.len())
                .step_by(2)
                .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect();
            String::from_utf8(bytes?).ok()
        }
        (true, "base64") => Some(base64::encode(s.as_bytes(), Alphabet::Standard, true)),
        (true, "urlbase64") => Some(base64::encode(s.as_bytes(), Alphabet::Url, true)),
        (false, "base64") => {
            base64::decode(s, Alphabet::Standard).and_then(|b| String::from_utf8(b).ok())
        }
        (false, "urlbase64") => {
            base64::decode(s, Alphabet::Url).and_then(|b| String::from_utf8(b).ok())
        }
        _ => None,
    }
}

pub(crate) fn escape(escape: bool, format: &str, s: &str) -> Option<String> {
    match (escape, format) {
        (true, "html") => Some(
            s.chars()
                .map(|c| match c {
                    '<' => "&lt;".to_string(),
                    '>' => "&gt;".to_string(),
                    '&' => "&amp;".to_string(),
                    '"' => "&quot;".to_string(),
                    '\'' => "&#39;".to_string(),
                    c => c.to_string(),
                })
                .collect(),
        ),
        (false, "html") => Some(
            s.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        ),
        (true, "json") => {
            let mut out = String::new();
            fhir::json::write_str(&mut out, s);
            Some(out[1..out.len() - 1].to_string())
        }
        (false, "json") => {
            // Undo JSON string escapes (the text itself is not wrapped in quotes).
            let mut out = String::with_capacity(s.len());
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next()? {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    other => out.push(other),
                }
            }
            Some(out)
        }
        _ => None,
    }
}
