//! Base64 (RFC 4648): the standard and the URL-safe alphabet, with or without padding. The one
//! base64 of the hub (FHIRPath `encode`/`decode`, `base64Binary`, JOSE).

/// Which of the two alphabets of RFC 4648.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alphabet {
    /// `+` and `/` (§4).
    Standard,
    /// `-` and `_` (§5, "base64url").
    Url,
}

impl Alphabet {
    fn symbols(self) -> &'static [u8; 64] {
        match self {
            Alphabet::Standard => {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            }
            Alphabet::Url => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        }
    }
    fn value(self, c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' if self == Alphabet::Standard => 62,
            b'/' if self == Alphabet::Standard => 63,
            b'-' if self == Alphabet::Url => 62,
            b'_' if self == Alphabet::Url => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }
}

/// Encodes `data`; with `pad`, the last group is filled up with `=`.
pub fn encode(data: &[u8], alphabet: Alphabet, pad: bool) -> String {
    let symbols = alphabet.symbols();
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(symbols[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Lower-case hexadecimal (digests as the hub stores them).
pub fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(data.len() * 2);
    for b in data {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Decodes leniently: whitespace is skipped and decoding stops at the first `=` (FHIRPath's
/// `decode`). `None` on a symbol outside the alphabet.
pub fn decode(s: &str, alphabet: Alphabet) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        if c == b'=' {
            break;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        acc = (acc << 6) | alphabet.value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Decodes unpadded base64url strictly, as JOSE requires (RFC 7515 §2): no padding, no
/// whitespace, no impossible length and no stray bits in the last symbol, so that one value
/// has exactly one encoding.
pub fn decode_url_strict(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        acc = (acc << 6) | Alphabet::Url.value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in vectors {
            assert_eq!(encode(plain.as_bytes(), Alphabet::Standard, true), coded);
            assert_eq!(decode(coded, Alphabet::Standard).unwrap(), plain.as_bytes());
            let url = coded.trim_end_matches('=');
            assert_eq!(encode(plain.as_bytes(), Alphabet::Url, false), url);
            assert_eq!(decode_url_strict(url).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255u8).collect();
        let url = encode(&all, Alphabet::Url, false);
        assert!(!url.contains(['+', '/', '=']));
        assert_eq!(decode_url_strict(&url).unwrap(), all);
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn strict_decoding_refuses_what_jose_forbids() {
        for bad in ["Zg==", "Zm9v Yg", "Zh", "Z", "Zm9v+g", "Zm9v/g", "é"] {
            assert_eq!(decode_url_strict(bad), None, "{bad}");
        }
        assert_eq!(decode("Zm9v YmFy", Alphabet::Standard).unwrap(), b"foobar");
        assert_eq!(decode("Zm9v*", Alphabet::Standard), None);
    }
}
