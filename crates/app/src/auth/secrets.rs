//! Secrets people hold: passwords (argon2id, OWASP's parameters: 19 MiB, 2 passes, 1 lane),
//! TOTP second factors (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) and one-time codes
//! (activation codes, session ids), which are stored only as their SHA-256.

use fhir::base64::{self, Alphabet};
use ring::rand::{SecureRandom, SystemRandom};

/// Memory (KiB), passes and lanes of argon2id.
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    if SystemRandom::new().fill(&mut b).is_err() {
        // The OS random source failed: never fall back to something guessable.
        panic!("the operating system's random source is unavailable");
    }
    b
}

/// A random token of 32 bytes, base64url (session ids, CSRF tokens).
pub fn random_token() -> String {
    base64::encode(&random_bytes(32), Alphabet::Url, false)
}

/// A one-time code people type: 12 characters from an alphabet without look-alikes, in groups
/// of four (`K7QM-2XRH-9TWP`), about 60 bits.
pub fn one_time_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let bytes = random_bytes(12);
    let mut out = String::with_capacity(14);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
    }
    out
}

/// A one-time code as typed: upper case, without spaces and dashes.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// SHA-256 in hex: how one-time codes and session ids are stored.
pub fn digest_hex(s: &str) -> String {
    base64::hex(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref())
}

/// Equal without revealing where two strings differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn argon2(password: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Option<Vec<u8>> {
    let params = argon2::Params::new(m, t, p, Some(32)).ok()?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = vec![0u8; 32];
    a.hash_password_into(password.as_bytes(), salt, &mut out)
        .ok()?;
    Some(out)
}

/// The stored form of a password: `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (PHC string,
/// base64 without padding).
pub fn hash_password(password: &str) -> String {
    let salt = random_bytes(16);
    let hash = argon2(password, &salt, M_COST, T_COST, P_COST).unwrap_or_default();
    format!(
        "$argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}${}${}",
        base64::encode(&salt, Alphabet::Standard, false),
        base64::encode(&hash, Alphabet::Standard, false)
    )
}

/// Whether `password` matches a stored hash (with the parameters it was made with).
pub fn verify_password(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [_, "argon2id", "v=19", params, salt, hash] = parts.as_slice() else {
        return false;
    };
    let mut m = 0;
    let mut t = 0;
    let mut p = 0;
    for kv in params.split(',') {
        match kv.split_once('=') {
            Some(("m", v)) => m = v.parse().unwrap_or(0),
            Some(("t", v)) => t = v.parse().unwrap_or(0),
            Some(("p", v)) => p = v.parse().unwrap_or(0),
            _ => return false,
        }
    }
    let (Some(salt), Some(want)) = (
        base64::decode(salt, Alphabet::Standard),
        base64::decode(hash, Alphabet::Standard),
    ) else {
        return false;
    };
    argon2(password, &salt, m, t, p).is_some_and(|got| same(&got, &want))
}

/// Whether a new password is acceptable: at least 12 characters, not all one character.
pub fn password_problem(password: &str) -> Option<(&'static str, &'static str)> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Some((
            "the password needs at least 12 characters",
            "パスワードは12文字以上にしてください",
        ));
    }
    if n > 256 {
        return Some((
            "the password may have at most 256 characters",
            "パスワードは256文字以内にしてください",
        ));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Some((
            "the password must not repeat one character",
            "同じ文字の繰り返しはパスワードに使えません",
        ));
    }
    None
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (the form authenticator apps take).
pub fn base32(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0);
    for b in data {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = BASE32.iter().position(|x| *x == c.to_ascii_uppercase())? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A new TOTP secret (20 random bytes), base32.
pub fn new_totp_secret() -> String {
    base32(&random_bytes(20))
}

/// The TOTP time step of an instant given in seconds.
pub fn totp_step(seconds: i64) -> i64 {
    seconds.div_euclid(30)
}

/// The code of a base32 secret at a time step (`digits` digits, HOTP of RFC 4226).
pub fn totp_code(secret: &str, step: i64, digits: u32) -> Option<String> {
    let key = base32_decode(secret)?;
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key);
    let mac = ring::hmac::sign(&k, &step.to_be_bytes());
    let m = mac.as_ref();
    let offset = usize::from(m[m.len() - 1] & 0x0f);
    let bin = (u32::from(m[offset] & 0x7f) << 24)
        | (u32::from(m[offset + 1]) << 16)
        | (u32::from(m[offset + 2]) << 8)
        | u32::from(m[offset + 3]);
    let code = bin % 10u32.pow(digits);
    Some(format!("{code:0width$}", width = digits as usize))
}

/// The step at which `code` is valid for `secret` around `step` (one step either side, for
/// clocks that differ), and later than `last_used` (a code is accepted once); `None`: refused.
pub fn totp_accept(secret: &str, code: &str, step: i64, last_used: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (step - 1..=step + 1)
        .filter(|s| *s > last_used)
        .find(|s| totp_code(secret, *s, 6).is_some_and(|c| same(c.as_bytes(), code.as_bytes())))
}

/// The `otpauth://` URI an authenticator app reads (as a QR code).
pub fn otpauth_uri(secret: &str, account: &str) -> String {
    let enc: String = account
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("otpauth://totp/clins-hub:{enc}?secret={secret}&issuer=clins-hub&algorithm=SHA1&digits=6&period=30")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_matches_rfc6238() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890", 8 digits.
        let secret = base32(b"12345678901234567890");
        for (t, want) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
        ] {
            assert_eq!(totp_code(&secret, totp_step(t), 8).unwrap(), want, "t={t}");
        }
    }

    #[test]
    fn totp_window_and_reuse() {
        let secret = new_totp_secret();
        let step = 1000;
        let now = totp_code(&secret, step, 6).unwrap();
        let next = totp_code(&secret, step + 1, 6).unwrap();
        let old = totp_code(&secret, step - 2, 6).unwrap();
        assert_eq!(totp_accept(&secret, &now, step, 0), Some(step));
        assert_eq!(totp_accept(&secret, &now, step, step), None, "used once");
        assert_eq!(totp_accept(&secret, &next, step, step), Some(step + 1));
        assert_eq!(totp_accept(&secret, &old, step, 0), None, "too old");
        assert_eq!(totp_accept(&secret, "12345", step, 0), None);
        assert_eq!(totp_accept(&secret, "abcdef", step, 0), None);
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        let b = random_bytes(20);
        assert_eq!(base32_decode(&base32(&b)).unwrap(), b);
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password(
            "correct horse battery",
            "$argon2id$v=19$m=8,t=1,p=1$AAAA$AAAA"
        ));
        assert!(!verify_password("x", "plain"));
        assert_ne!(h, hash_password("correct horse battery"), "salted");
        assert!(password_problem("short").is_some());
        assert!(password_problem("aaaaaaaaaaaaaa").is_some());
        assert!(password_problem("a good long passphrase").is_none());
    }

    #[test]
    fn codes() {
        let c = one_time_code();
        assert_eq!(c.len(), 14);
        assert_eq!(normalize_code(&c.to_lowercase()), c.replace('-', ""));
        assert_ne!(c, one_time_code());
        assert_eq!(digest_hex("abc").len(), 64);
    }
}
