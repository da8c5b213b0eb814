//! The JOSE the hub needs, over `ring`: compact JWS parsing, ES256 and RS256 verification with
//! keys given as JWKs, ES256 signing with the hub's key, and JWK thumbprints (RFC 7638).
//! A key verifies only with the algorithm of its type (EC ↔ ES256, RSA ↔ RS256), so neither
//! `alg: none` nor an algorithm confusion (HS256 keyed with a public key) can pass.

use fhir::base64::{self, Alphabet};
use fhir::json::{self, Object, Value};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};

/// Longest token or assertion accepted (bytes): far above any real one.
pub const MAX_JWT: usize = 16 * 1024;

/// A signature algorithm the hub accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Es256,
    Rs256,
}

impl Alg {
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::Es256),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }
}

/// A parsed compact JWS whose signature is not checked yet.
pub struct Jws<'a> {
    pub header: Object,
    pub claims: Object,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// Why a token could not be read (it says nothing about the token's content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

fn object(part: &str) -> Result<Object, Malformed> {
    let bytes = base64::decode_url_strict(part).ok_or(Malformed("not base64url"))?;
    match json::parse_bytes(&bytes) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(Malformed("not a JSON object")),
    }
}

/// Splits and decodes a compact JWS (three base64url parts; a JWE has five and is refused).
pub fn parse(token: &str) -> Result<Jws<'_>, Malformed> {
    if token.len() > MAX_JWT {
        return Err(Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed("not three parts"));
    };
    let header = object(h)?;
    let claims = object(c)?;
    let signature = base64::decode_url_strict(s).ok_or(Malformed("signature not base64url"))?;
    Ok(Jws {
        header,
        claims,
        signing_input: &token[..h.len() + 1 + c.len()],
        signature,
    })
}

impl Jws<'_> {
    /// The header's `alg` when it is one the hub accepts.
    pub fn alg(&self) -> Option<Alg> {
        self.header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Alg::parse)
    }
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
    /// A NumericDate claim (whole seconds; a fraction is cut off).
    pub fn claim_time(&self, name: &str) -> Option<i64> {
        let n = self.claims.get(name)?.as_number()?;
        let whole = n.split(['.', 'e', 'E']).next()?;
        if n.contains(['e', 'E']) {
            return None;
        }
        whole.parse().ok()
    }
    /// Whether the signature verifies with `key` under the header's algorithm.
    pub fn verify(&self, key: &PublicKey) -> bool {
        match self.alg() {
            Some(alg) => key.verify(alg, self.signing_input.as_bytes(), &self.signature),
            None => false,
        }
    }
}

/// A public key from a JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// P-256, as the uncompressed point (0x04 ‖ x ‖ y).
    P256(Vec<u8>),
    /// RSA (2048 bits or more), modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl PublicKey {
    pub fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        match (self, alg) {
            (PublicKey::P256(point), Alg::Es256) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (PublicKey::Rsa { n, e }, Alg::Rs256) => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            _ => false,
        }
    }
}

/// A public JWK: its `kid`, key and the algorithm it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    pub kid: String,
    pub key: PublicKey,
    pub alg: Alg,
}

fn b64_field(o: &Object, name: &str) -> Result<Vec<u8>, String> {
    let s = o
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{name}` is missing"))?;
    base64::decode_url_strict(s).ok_or_else(|| format!("`{name}` is not base64url"))
}

/// Reads one public JWK (EC P-256 for ES256, or RSA ≥ 2048 bits for RS256). Private members
/// (`d`, `p`, `q`, …) are refused: a client must never send its private key.
pub fn parse_jwk(v: &Value) -> Result<Jwk, String> {
    let o = v.as_object().ok_or("a key is not a JSON object")?;
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        if o.contains_key(private) {
            return Err(format!(
                "the key holds the private member `{private}`; send public keys only (and replace this key: it is no longer secret)"
            ));
        }
    }
    let kid = o
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .ok_or("every key needs a `kid` (1–128 characters)")?
        .to_string();
    if let Some(u) = o.get("use").and_then(Value::as_str) {
        if u != "sig" {
            return Err(format!(
                "key {kid}: `use` is `{u}`; only signing keys (`sig`)"
            ));
        }
    }
    let alg = o.get("alg").and_then(Value::as_str);
    match o.get("kty").and_then(Value::as_str) {
        Some("EC") => {
            if o.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err(format!("key {kid}: only the P-256 curve (ES256)"));
            }
            if alg.is_some_and(|a| a != "ES256") {
                return Err(format!("key {kid}: an EC P-256 key is for ES256"));
            }
            let (x, y) = (b64_field(o, "x")?, b64_field(o, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(format!("key {kid}: x and y must be 32 bytes each"));
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok(Jwk {
                kid,
                key: PublicKey::P256(point),
                alg: Alg::Es256,
            })
        }
        Some("RSA") => {
            if alg.is_some_and(|a| a != "RS256") {
                return Err(format!("key {kid}: an RSA key is for RS256"));
            }
            let (n, e) = (b64_field(o, "n")?, b64_field(o, "e")?);
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if bits < 2048 {
                return Err(format!("key {kid}: RSA keys need at least 2048 bits"));
            }
            Ok(Jwk {
                kid,
                key: PublicKey::Rsa { n, e },
                alg: Alg::Rs256,
            })
        }
        other => Err(format!(
            "key {kid}: `kty` {} is not supported; use EC (P-256) or RSA",
            other.unwrap_or("(missing)")
        )),
    }
}

/// Reads a JWKS document (`{"keys": [...]}`); at least one key, `kid`s unique.
pub fn parse_jwks(text: &str) -> Result<Vec<(Jwk, Value)>, String> {
    let doc = json::parse(text).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("a JWKS is an object with a `keys` array")?;
    if keys.is_empty() || keys.len() > 20 {
        return Err("a JWKS holds 1 to 20 keys".into());
    }
    let mut out: Vec<(Jwk, Value)> = Vec::new();
    for k in keys {
        let jwk = parse_jwk(k)?;
        if out.iter().any(|(o, _)| o.kid == jwk.kid) {
            return Err(format!("the kid {} is used twice", jwk.kid));
        }
        out.push((jwk, k.clone()));
    }
    Ok(out)
}

/// The hub's signing key (ES256), kept as PKCS#8.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    pub kid: String,
    rng: SystemRandom,
}

impl SigningKey {
    /// A new P-256 key as PKCS#8 DER.
    pub fn generate() -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| "could not generate a key".to_string())
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, String> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| "not a PKCS#8 P-256 private key".to_string())?;
        let kid = thumbprint(&ec_public_jwk(pair.public_key().as_ref(), None));
        Ok(SigningKey { pair, kid, rng })
    }

    /// The public key as a JWK (with `kid`, `alg` and `use`).
    pub fn public_jwk(&self) -> Value {
        ec_public_jwk(self.pair.public_key().as_ref(), Some(&self.kid))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::P256(self.pair.public_key().as_ref().to_vec())
    }

    /// Signs bytes (ES256, the fixed r‖s form), base64url without padding.
    pub fn sign_bytes(&self, message: &[u8]) -> Result<String, String> {
        self.pair
            .sign(&self.rng, message)
            .map(|s| base64::encode(s.as_ref(), Alphabet::Url, false))
            .map_err(|_| "signing failed".to_string())
    }

    /// Signs `claims` as a compact JWS with this key's `kid` and the header `typ`.
    pub fn sign(&self, typ: &str, claims: &Object) -> Result<String, String> {
        let mut header = Object::new();
        header.insert("alg", Value::string("ES256"));
        header.insert("typ", Value::string(typ));
        header.insert("kid", Value::string(self.kid.as_str()));
        sign_with(&header, claims, |m| {
            self.pair
                .sign(&self.rng, m)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "signing failed".to_string())
        })
    }
}

/// Signs with any signing function: the header and claims are encoded and joined.
pub fn sign_with(
    header: &Object,
    claims: &Object,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<String, String> {
    let mut out = base64::encode(
        json::to_string(&Value::Object(header.clone())).as_bytes(),
        Alphabet::Url,
        false,
    );
    out.push('.');
    out.push_str(&base64::encode(
        json::to_string(&Value::Object(claims.clone())).as_bytes(),
        Alphabet::Url,
        false,
    ));
    let sig = sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&base64::encode(&sig, Alphabet::Url, false));
    Ok(out)
}

/// A client's private key (the command line's `token`, tests): ES256 or RS256, PKCS#8.
pub enum ClientKey {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl ClientKey {
    /// Reads a PKCS#8 private key, PEM (`-----BEGIN PRIVATE KEY-----`) or DER.
    pub fn from_pkcs8(data: &[u8]) -> Result<ClientKey, String> {
        let der = pem_body(data).unwrap_or_else(|| data.to_vec());
        let rng = SystemRandom::new();
        if let Ok(k) =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
        {
            return Ok(ClientKey::Ec(k));
        }
        RsaKeyPair::from_pkcs8(&der).map(ClientKey::Rsa).map_err(|_| {
            "the key is neither a PKCS#8 P-256 nor a PKCS#8 RSA private key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 makes one)".to_string()
        })
    }

    pub fn alg(&self) -> Alg {
        match self {
            ClientKey::Ec(_) => Alg::Es256,
            ClientKey::Rsa(_) => Alg::Rs256,
        }
    }

    /// The public key as a JWK with the given `kid` (its thumbprint when `None`).
    pub fn public_jwk(&self, kid: Option<&str>) -> Value {
        match self {
            ClientKey::Ec(k) => {
                let bare = ec_public_jwk(k.public_key().as_ref(), None);
                let kid = kid.map_or_else(|| thumbprint(&bare), str::to_string);
                ec_public_jwk(k.public_key().as_ref(), Some(&kid))
            }
            ClientKey::Rsa(k) => {
                let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(k.public());
                let strip = |b: &[u8]| {
                    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                    b[first..].to_vec()
                };
                let (n, e) = (strip(&c.n), strip(&c.e));
                let mut o = Object::new();
                o.insert("e", Value::string(base64::encode(&e, Alphabet::Url, false)));
                o.insert("kty", Value::string("RSA"));
                o.insert("n", Value::string(base64::encode(&n, Alphabet::Url, false)));
                let bare = Value::Object(o.clone());
                let kid = kid.map_or_else(|| thumbprint(&bare), str::to_string);
                o.insert("kid", Value::string(kid));
                o.insert("alg", Value::string("RS256"));
                o.insert("use", Value::string("sig"));
                Value::Object(o)
            }
        }
    }

    /// Signs `claims` with header `kid`.
    pub fn sign(&self, kid: &str, claims: &Object) -> Result<String, String> {
        let mut header = Object::new();
        header.insert("alg", Value::string(self.alg().name()));
        header.insert("typ", Value::string("JWT"));
        header.insert("kid", Value::string(kid));
        let rng = SystemRandom::new();
        sign_with(&header, claims, |m| match self {
            ClientKey::Ec(k) => k
                .sign(&rng, m)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "signing failed".to_string()),
            ClientKey::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, m, &mut sig)
                    .map_err(|_| "signing failed".to_string())?;
                Ok(sig)
            }
        })
    }
}

/// The DER inside a PEM block, when `data` is PEM.
pub fn pem_body(data: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(data).ok()?;
    let start = text.find("-----BEGIN ")?;
    let body_start = start + text[start..].find('\n')? + 1;
    let end = body_start + text[body_start..].find("-----END ")?;
    base64::decode(&text[body_start..end], Alphabet::Standard)
}

/// Wraps DER as a PEM block with `label` (e.g. `PRIVATE KEY`).
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::encode(der, Alphabet::Standard, true);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn ec_public_jwk(point: &[u8], kid: Option<&str>) -> Value {
    // Members in lexicographic order: the thumbprint hashes exactly this form (RFC 7638 §3).
    let (x, y) = if point.len() == 65 {
        (&point[1..33], &point[33..65])
    } else {
        (&point[0..0], &point[0..0])
    };
    let mut o = Object::new();
    o.insert("crv", Value::string("P-256"));
    o.insert("kty", Value::string("EC"));
    o.insert("x", Value::string(base64::encode(x, Alphabet::Url, false)));
    o.insert("y", Value::string(base64::encode(y, Alphabet::Url, false)));
    if let Some(kid) = kid {
        o.insert("kid", Value::string(kid));
        o.insert("alg", Value::string("ES256"));
        o.insert("use", Value::string("sig"));
    }
    Value::Object(o)
}

/// The RFC 7638 thumbprint of a public JWK written with its required members only, in
/// lexicographic order (as `ec_public_jwk` and `ClientKey::public_jwk` write them).
fn thumbprint(bare: &Value) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, json::to_string(bare).as_bytes());
    base64::encode(digest.as_ref(), Alphabet::Url, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, Value)]) -> Object {
        let mut o = Object::new();
        for (k, v) in pairs {
            o.insert(*k, v.clone());
        }
        o
    }

    #[test]
    fn es256_signs_and_verifies_and_nothing_else_passes() {
        let key = SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap();
        let other = SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap();
        let token = key
            .sign("JWT", &claims(&[("sub", Value::string("a"))]))
            .unwrap();
        let jws = parse(&token).unwrap();
        assert_eq!(jws.alg(), Some(Alg::Es256));
        assert_eq!(jws.kid(), Some(key.kid.as_str()));
        assert_eq!(jws.claim_str("sub"), Some("a"));
        assert!(jws.verify(&key.public_key()));
        assert!(!jws.verify(&other.public_key()), "another key");
        // Tampered claims.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = base64::encode(br#"{"sub":"b"}"#, Alphabet::Url, false);
        parts[1] = &forged;
        let forged_token = parts.join(".");
        assert!(!parse(&forged_token).unwrap().verify(&key.public_key()));
        // alg: none, with or without a signature.
        let none = base64::encode(br#"{"alg":"none","kid":"x"}"#, Alphabet::Url, false);
        let body = token.split('.').nth(1).unwrap();
        for t in [format!("{none}.{body}."), format!("{none}.{body}.AAAA")] {
            let j = parse(&t).unwrap();
            assert_eq!(j.alg(), None);
            assert!(!j.verify(&key.public_key()));
        }
        // Malformed.
        for bad in ["", "a.b", "a.b.c.d.e", "!!.e30.AA", "e30.e30.A"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jwks_are_read_strictly() {
        let key = SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap();
        let jwk = json::to_string(&key.public_jwk());
        let jwks = format!(r#"{{"keys":[{jwk}]}}"#);
        let parsed = parse_jwks(&jwks).unwrap();
        assert_eq!(parsed[0].0.kid, key.kid);
        assert_eq!(parsed[0].0.key, key.public_key());
        assert!(parse_jwks(&format!(r#"{{"keys":[{jwk},{jwk}]}}"#))
            .unwrap_err()
            .contains("twice"));
        assert!(parse_jwks(r#"{"keys":[]}"#).is_err());
        let private = jwk.replacen('{', r#"{"d":"AAAA","#, 1);
        assert!(parse_jwks(&format!(r#"{{"keys":[{private}]}}"#))
            .unwrap_err()
            .contains("private"));
        let hmac = r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#;
        assert!(parse_jwks(hmac).is_err());
        let p384 = jwk.replace("P-256", "P-384");
        assert!(parse_jwks(&format!(r#"{{"keys":[{p384}]}}"#)).is_err());
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1: the RSA example key's thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let bare = json::parse(&format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#)).unwrap();
        assert_eq!(
            thumbprint(&bare),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn pem_round_trips() {
        let der = SigningKey::generate().unwrap();
        let text = pem("PRIVATE KEY", &der);
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert_eq!(pem_body(text.as_bytes()).unwrap(), der);
        let k = ClientKey::from_pkcs8(text.as_bytes()).unwrap();
        assert_eq!(k.alg(), Alg::Es256);
        let t = k
            .sign("k1", &claims(&[("iss", Value::string("c"))]))
            .unwrap();
        let jwk = parse_jwk(&k.public_jwk(Some("k1"))).unwrap();
        assert!(parse(&t).unwrap().verify(&jwk.key));
    }
}
