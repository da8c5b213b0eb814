//! Sign-in of systems: the hub as an OAuth2 authorization server for SMART Backend Services.
//! An institution's EMR proves itself with a signed client assertion (`private_key_jwt`,
//! RFC 7523) at `POST /auth/token` and gets a short-lived access token (an ES256 JWT signed by
//! the hub) carrying its institution, the granted SMART v2 scopes and, with a signed user
//! assertion, the practitioner acting. [`Authority::authenticate`] turns a bearer token back
//! into a claim and scopes on every request. [`applications`]: 利用申請 and the clients and
//! keys an approval creates.

pub mod applications;
pub mod jose;
pub mod people;
pub mod secrets;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clins::policy::{Practitioner, Qualification, ScopeContext, Scopes};
use fhir::base64::{self, Alphabet};
use fhir::json::{Object, Value};
use store::{ClientRow, Store};

use crate::dates::instant_millis;
use crate::identity::{caller_number, Claim};
use crate::refusal::{Refusal, Why};
use jose::{Jws, SigningKey};

/// How long an access token lives unless set otherwise: 5 minutes.
pub const DEFAULT_TOKEN_SECONDS: i64 = 300;
/// How far ahead a client assertion's `exp` may be (SMART: at most 5 minutes).
pub const MAX_ASSERTION_SECONDS: i64 = 300;
/// Clock difference tolerated between a client and the hub.
pub const SKEW_SECONDS: i64 = 30;
/// `client_assertion_type` of RFC 7523.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The setting that holds the hub's token-signing key (PKCS#8, base64).
const SIGNING_KEY_SETTING: &str = "token-signing-key";
/// Verified tokens remembered (their signature is not checked again until they expire).
const TOKEN_CACHE: usize = 50_000;

/// The hub as an authorization server: its signing key, names and caches.
pub struct Authority {
    key: SigningKey,
    /// `iss` of access tokens: the hub's origin (`http://127.0.0.1:8080`).
    pub issuer: String,
    /// The token endpoint; client assertions name it as `aud`.
    pub token_url: String,
    /// `aud` of access tokens: the FHIR base.
    pub audience: String,
    /// Lifetime of access tokens, in seconds.
    pub lifetime: i64,
    verified: Mutex<HashMap<[u8; 32], Verified>>,
    clients: Mutex<HashMap<String, (ClientRow, Instant)>>,
    client_ttl: Duration,
}

/// What a valid access token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub client_id: String,
    pub claim: Claim,
    pub scopes: Scopes,
    /// Expiry, seconds since 1970.
    pub exp: i64,
}

/// A refusal at the token endpoint, in the terms of RFC 6749 §5.2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenError {
    /// 400 or 401.
    pub status: u16,
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `invalid_scope`,
    /// `unsupported_grant_type`.
    pub error: &'static str,
    /// For the client's developer; never holds the assertion or a secret.
    pub description: String,
}

fn bad(error: &'static str, description: impl Into<String>) -> TokenError {
    TokenError {
        status: 400,
        error,
        description: description.into(),
    }
}

fn client_error(description: impl Into<String>) -> TokenError {
    TokenError {
        status: 401,
        error: "invalid_client",
        description: description.into(),
    }
}

impl From<Refusal> for TokenError {
    fn from(r: Refusal) -> Self {
        let description = r.issues.first().map(|i| i.en.clone()).unwrap_or_default();
        match r.why {
            Why::Forbidden | Why::Unauthenticated | Why::NotFound => client_error(description),
            _ => TokenError {
                status: 503,
                error: "temporarily_unavailable",
                description,
            },
        }
    }
}

impl From<store::StoreError> for TokenError {
    fn from(e: store::StoreError) -> Self {
        Refusal::from(e).into()
    }
}

/// A token request (`application/x-www-form-urlencoded`, each parameter once).
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    pub grant_type: String,
    pub client_assertion_type: String,
    pub client_assertion: String,
    pub scope: String,
    /// Optional: the practitioner acting, asserted by the client's system (a JWT signed with
    /// the client's key; see docs/security.md).
    pub user_assertion: Option<String>,
    /// Optional; when given it must name the assertion's client.
    pub client_id: Option<String>,
}

/// A granted access token.
#[derive(Clone, Debug)]
pub struct Token {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
}

fn seconds(now: &str) -> i64 {
    instant_millis(now).map_or(0, |ms| ms.div_euclid(1000))
}

fn random_token_id() -> String {
    store::random_id()
}

/// Checks the registered claims of an assertion: `iss` = `sub` = the client, `aud` the token
/// URL, `exp` in the future and at most 5 minutes ahead, `nbf`/`iat` not in the future, a
/// `jti`. Returns (client id, exp).
fn assertion_claims(
    jws: &Jws<'_>,
    token_url: &str,
    now: i64,
    what: &str,
) -> Result<(String, i64), TokenError> {
    let iss = jws
        .claim_str("iss")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| client_error(format!("the {what} has no `iss`")))?;
    if what == "client assertion" && jws.claim_str("sub") != Some(iss) {
        return Err(client_error(
            "the client assertion's `sub` must equal its `iss` (the client id)",
        ));
    }
    let aud_ok = match jws.claims.get("aud") {
        Some(Value::String(s)) => s.as_str() == token_url,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(token_url)),
        _ => false,
    };
    if !aud_ok {
        return Err(client_error(format!(
            "the {what}'s `aud` must be the token endpoint {token_url}"
        )));
    }
    let exp = jws
        .claim_time("exp")
        .ok_or_else(|| client_error(format!("the {what} has no `exp`")))?;
    if exp <= now - SKEW_SECONDS {
        return Err(client_error(format!("the {what} has expired")));
    }
    if exp > now + MAX_ASSERTION_SECONDS + SKEW_SECONDS {
        return Err(client_error(format!(
            "the {what}'s `exp` is more than 5 minutes ahead"
        )));
    }
    for name in ["nbf", "iat"] {
        if jws.claim_time(name).is_some_and(|t| t > now + SKEW_SECONDS) {
            return Err(client_error(format!(
                "the {what} is not valid yet (`{name}` in the future)"
            )));
        }
    }
    let jti = jws.claim_str("jti").unwrap_or_default();
    if jti.is_empty() || jti.len() > 255 {
        return Err(client_error(format!(
            "the {what} needs a `jti` of 1–255 characters"
        )));
    }
    Ok((iss.to_string(), exp))
}

/// A practitioner id: 1–64 letters, digits or `- _ . @` (as the development header).
pub fn practitioner_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
}

/// Whether an `amr` list (RFC 8176) shows two factors: `mfa`, or two different factors.
pub fn two_factors(amr: &[String]) -> bool {
    const FACTORS: &[&str] = &[
        "pwd", "pin", "otp", "hwk", "swk", "sc", "fpt", "face", "iris", "retina", "vbm", "pop",
        "sms", "tel",
    ];
    if amr.iter().any(|a| a == "mfa") {
        return true;
    }
    let mut seen: Vec<&str> = amr
        .iter()
        .map(String::as_str)
        .filter(|a| FACTORS.contains(a))
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len() >= 2
}

fn practitioner_value(p: &Practitioner, amr: &[String]) -> Value {
    let mut o = Object::new();
    o.insert("id", Value::string(p.id.as_str()));
    o.insert("qualification", Value::string(p.qualification.code()));
    o.insert("emergency", Value::Bool(p.emergency));
    o.insert(
        "amr",
        Value::Array(amr.iter().map(|a| Value::string(a.as_str())).collect()),
    );
    Value::Object(o)
}

fn number(n: i64) -> Value {
    Value::Number(n.to_string().into())
}

impl Authority {
    /// The authority of the hub at `base` (the FHIR base URL): its signing key is made the
    /// first time and kept in the database, so every process on it signs and verifies alike.
    pub fn load(store: &Store, base: &str, client_ttl: Duration) -> Result<Authority, String> {
        let stored = store
            .setting_or(SIGNING_KEY_SETTING, || {
                SigningKey::generate()
                    .map(|der| base64::encode(&der, Alphabet::Standard, true))
                    .unwrap_or_default()
            })
            .map_err(|e| format!("cannot read the token-signing key: {e}"))?;
        let der = base64::decode(&stored, Alphabet::Standard)
            .ok_or("the stored token-signing key is not base64")?;
        let key = SigningKey::from_pkcs8(&der)?;
        let issuer = base.strip_suffix("/fhir").unwrap_or(base).to_string();
        Ok(Authority {
            key,
            token_url: format!("{issuer}/auth/token"),
            issuer,
            audience: base.to_string(),
            lifetime: DEFAULT_TOKEN_SECONDS,
            verified: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            client_ttl,
        })
    }

    /// The hub's signing key (the audit trail's checkpoints are signed with it too).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The hub's public keys (for `jwks_uri`).
    pub fn jwks(&self) -> Value {
        let mut o = Object::new();
        o.insert("keys", Value::Array(vec![self.key.public_jwk()]));
        Value::Object(o)
    }

    /// Forgets a cached client (after a change made through this process).
    pub fn invalidate_client(&self, client_id: &str) {
        if let Ok(mut c) = self.clients.lock() {
            c.remove(client_id);
        }
        if let Ok(mut v) = self.verified.lock() {
            v.retain(|_, t| t.client_id != client_id);
        }
    }

    fn client(&self, store: &Store, client_id: &str) -> Result<Option<ClientRow>, Refusal> {
        if let Ok(c) = self.clients.lock() {
            if let Some((row, at)) = c.get(client_id) {
                if at.elapsed() < self.client_ttl {
                    return Ok(Some(row.clone()));
                }
            }
        }
        let row = store.client(client_id)?;
        if let (Some(r), Ok(mut c)) = (&row, self.clients.lock()) {
            if c.len() > 100_000 {
                c.clear();
            }
            c.insert(client_id.to_string(), (r.clone(), Instant::now()));
        }
        Ok(row)
    }

    /// `POST /auth/token`: verifies the client assertion (and a user assertion) and issues an
    /// access token. `directory` checks the institution in the registry.
    pub fn issue(
        &self,
        store: &Store,
        directory: &crate::identity::Directory,
        req: &TokenRequest,
        now: &str,
    ) -> Result<Token, TokenError> {
        if req.grant_type != "client_credentials" {
            return Err(bad(
                "unsupported_grant_type",
                "grant_type must be client_credentials",
            ));
        }
        if req.client_assertion_type != JWT_BEARER {
            return Err(bad(
                "invalid_request",
                format!("client_assertion_type must be {JWT_BEARER}"),
            ));
        }
        if req.client_assertion.is_empty() {
            return Err(bad("invalid_request", "client_assertion is missing"));
        }
        let now_s = seconds(now);
        let jws = jose::parse(&req.client_assertion)
            .map_err(|m| client_error(format!("the client assertion is malformed: {}", m.0)))?;
        if jws.alg().is_none() {
            return Err(client_error(
                "the client assertion's `alg` must be ES256 or RS256",
            ));
        }
        let kid = jws
            .kid()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| client_error("the client assertion's header needs a `kid`"))?
            .to_string();
        let (client_id, exp) = assertion_claims(&jws, &self.token_url, now_s, "client assertion")?;
        if req.client_id.as_deref().is_some_and(|c| c != client_id) {
            return Err(client_error(
                "client_id does not match the client assertion's `iss`",
            ));
        }
        let unknown = || client_error("unknown client or key (`iss`, `kid`)");
        let (client, key) = store
            .client_with_key(&client_id, &kid)?
            .ok_or_else(unknown)?;
        let key = key.ok_or_else(unknown)?;
        let jwk = fhir::json::parse(&key.jwk)
            .ok()
            .and_then(|v| jose::parse_jwk(&v).ok())
            .ok_or_else(|| {
                Refusal::internal(format!("stored key {kid} of {client_id} is unreadable"))
            })
            .map_err(TokenError::from)?;
        if Some(jwk.alg) != jws.alg() || !jws.verify(&jwk.key) {
            return Err(client_error(
                "the client assertion's signature does not verify with the registered key",
            ));
        }
        if !client.enabled {
            return Err(client_error("the client is disabled; contact the operator"));
        }
        directory.principal(Claim::Institution {
            number: client.institution.clone(),
            practitioner: None,
        })?;
        if !store.use_jti(
            &client_id,
            jws.claim_str("jti").unwrap_or_default(),
            &crate::dates::format_seconds(exp),
        )? {
            return Err(client_error(
                "the client assertion's `jti` was used before (replay); sign a new assertion for every request",
            ));
        }
        let practitioner = match &req.user_assertion {
            Some(ua) => Some(self.user(store, &client, ua, now_s)?),
            None => None,
        };
        // Scopes: resource scopes for the client itself, or for its user with a user
        // assertion; never patient scopes (a patient signs in for themselves).
        let requested = Scopes::parse(&req.scope);
        let granted: Vec<_> = match requested {
            Scopes::Granted(list) => list
                .into_iter()
                .filter(|s| match s.context {
                    ScopeContext::System => true,
                    ScopeContext::User => practitioner.is_some(),
                    ScopeContext::Patient => false,
                })
                .collect(),
            Scopes::Unrestricted => Vec::new(),
        };
        if granted.is_empty() {
            return Err(bad(
                "invalid_scope",
                "no grantable scope requested: ask for SMART v2 resource scopes such as system/Condition.rs or system/Bundle.c (user/ scopes need a user assertion)",
            ));
        }
        let scopes = Scopes::Granted(granted);
        let mut claims = Object::new();
        claims.insert("iss", Value::string(self.issuer.as_str()));
        claims.insert("sub", Value::string(client_id.as_str()));
        claims.insert("aud", Value::string(self.audience.as_str()));
        claims.insert("iat", number(now_s));
        claims.insert("exp", number(now_s + self.lifetime));
        claims.insert("jti", Value::string(random_token_id()));
        claims.insert("client_id", Value::string(client_id.as_str()));
        claims.insert("institution", Value::string(client.institution.as_str()));
        claims.insert("scope", Value::string(scopes.text()));
        if let Some((p, amr)) = &practitioner {
            claims.insert("practitioner", practitioner_value(p, amr));
        }
        let access_token = self
            .key
            .sign("at+jwt", &claims)
            .map_err(|e| TokenError::from(Refusal::internal(e)))?;
        Ok(Token {
            access_token,
            expires_in: self.lifetime,
            scope: scopes.text(),
        })
    }

    /// Verifies a user assertion of `client`: signed with one of its keys, `iss` the client,
    /// `aud` the token URL, short-lived, one-time; `sub` the practitioner id.
    fn user(
        &self,
        store: &Store,
        client: &ClientRow,
        assertion: &str,
        now: i64,
    ) -> Result<(Practitioner, Vec<String>), TokenError> {
        let bad_user = |d: String| bad("invalid_grant", d);
        let jws = jose::parse(assertion)
            .map_err(|m| bad_user(format!("the user assertion is malformed: {}", m.0)))?;
        let kid = jws.kid().unwrap_or_default().to_string();
        let (iss, exp) = assertion_claims(&jws, &self.token_url, now, "user assertion")
            .map_err(|e| bad_user(e.description))?;
        if iss != client.client_id {
            return Err(bad_user(
                "the user assertion's `iss` must be the client".into(),
            ));
        }
        let key = store
            .client_with_key(&client.client_id, &kid)?
            .and_then(|(_, k)| k)
            .ok_or_else(|| {
                bad_user("the user assertion's `kid` is not a key of the client".into())
            })?;
        let jwk = fhir::json::parse(&key.jwk)
            .ok()
            .and_then(|v| jose::parse_jwk(&v).ok())
            .ok_or_else(|| bad_user("the client's key is unreadable".into()))?;
        if Some(jwk.alg) != jws.alg() || !jws.verify(&jwk.key) {
            return Err(bad_user(
                "the user assertion's signature does not verify with the client's key".into(),
            ));
        }
        let id = jws.claim_str("sub").unwrap_or_default();
        if !practitioner_id_ok(id) {
            return Err(bad_user(
                "the user assertion's `sub` (practitioner id) must be 1–64 letters, digits or - _ . @"
                    .into(),
            ));
        }
        let qualification = match jws.claim_str("qualification") {
            Some(q) => Qualification::from_code(q).ok_or_else(|| {
                bad_user(format!(
                    "qualification `{q}`: use doctor, dentist, pharmacist or other"
                ))
            })?,
            None => Qualification::Other,
        };
        let emergency = match jws.claims.get("emergency") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad_user("`emergency` must be true or false".into())),
        };
        let amr: Vec<String> = match jws.claims.get("amr") {
            None => Vec::new(),
            Some(Value::Array(a)) if a.len() <= 16 => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| bad_user("`amr` must be a list of strings".into()))?,
            Some(_) => return Err(bad_user("`amr` must be a list of strings".into())),
        };
        let user_jti = format!("user:{}", jws.claim_str("jti").unwrap_or_default());
        if !store.use_jti(
            &client.client_id,
            &user_jti,
            &crate::dates::format_seconds(exp),
        )? {
            return Err(bad_user(
                "the user assertion's `jti` was used before (replay)".into(),
            ));
        }
        Ok((
            Practitioner {
                id: id.to_string(),
                emergency,
                two_factor: two_factors(&amr),
                qualification,
            },
            amr,
        ))
    }

    /// The claim and scopes of a bearer token: an access token of this hub, signed with its
    /// key, for this FHIR base, not expired; its client still enabled. A refusal is 401.
    pub fn authenticate(&self, store: &Store, token: &str, now: &str) -> Result<Verified, Refusal> {
        let now_s = seconds(now);
        let digest = digest32(token);
        let cached = self
            .verified
            .lock()
            .ok()
            .and_then(|c| c.get(&digest).cloned());
        let v = match cached {
            Some(v) => v,
            None => {
                let v = self.verify(token, now_s)?;
                if let Ok(mut c) = self.verified.lock() {
                    if c.len() >= TOKEN_CACHE {
                        c.retain(|_, t| t.exp > now_s);
                        if c.len() >= TOKEN_CACHE {
                            c.clear();
                        }
                    }
                    c.insert(digest, v.clone());
                }
                v
            }
        };
        if v.exp <= now_s {
            return Err(invalid_token(
                "the access token has expired; request a new one",
            ));
        }
        match self.client(store, &v.client_id)? {
            Some(c) if c.enabled => Ok(v),
            _ => Err(invalid_token(
                "the access token's client is disabled or removed",
            )),
        }
    }

    /// [`Authority::authenticate`] when it needs no query and no signature check: the token
    /// was verified before and has not expired, and its client's entry is cached and enabled.
    /// `None`: call `authenticate`.
    pub fn authenticate_cached(&self, token: &str, now: &str) -> Option<Verified> {
        let now_s = seconds(now);
        let v = self.verified.lock().ok()?.get(&digest32(token)).cloned()?;
        if v.exp <= now_s {
            return None;
        }
        let clients = self.clients.lock().ok()?;
        let (row, at) = clients.get(&v.client_id)?;
        (row.enabled && at.elapsed() < self.client_ttl).then_some(v)
    }

    fn verify(&self, token: &str, now: i64) -> Result<Verified, Refusal> {
        let jws = jose::parse(token)
            .map_err(|m| invalid_token(&format!("the access token is malformed: {}", m.0)))?;
        if jws.alg() != Some(jose::Alg::Es256) || jws.kid() != Some(self.key.kid.as_str()) {
            return Err(invalid_token("the access token was not issued by this hub"));
        }
        if !jws.verify(&self.key.public_key()) {
            return Err(invalid_token(
                "the access token's signature does not verify",
            ));
        }
        if jws.claim_str("iss") != Some(self.issuer.as_str())
            || jws.claim_str("aud") != Some(self.audience.as_str())
        {
            return Err(invalid_token(
                "the access token is for another issuer or audience",
            ));
        }
        let exp = jws
            .claim_time("exp")
            .ok_or_else(|| invalid_token("the access token has no expiry"))?;
        if exp <= now {
            return Err(invalid_token(
                "the access token has expired; request a new one",
            ));
        }
        if jws.claim_time("iat").is_none_or(|t| t > now + SKEW_SECONDS) {
            return Err(invalid_token("the access token is not valid yet"));
        }
        let client_id = jws.claim_str("sub").unwrap_or_default().to_string();
        let institution = jws.claim_str("institution").unwrap_or_default();
        let (number, _) = caller_number(institution)
            .map_err(|_| invalid_token("the access token names no institution"))?;
        let practitioner = match jws.claims.get("practitioner") {
            None => None,
            Some(p) => {
                let id = p.get("id").and_then(Value::as_str).unwrap_or_default();
                let amr: Vec<String> = p
                    .get("amr")
                    .map(Value::items)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .collect();
                Some(Practitioner {
                    id: id.to_string(),
                    emergency: p.get("emergency").and_then(Value::as_bool) == Some(true),
                    two_factor: two_factors(&amr),
                    qualification: p
                        .get("qualification")
                        .and_then(Value::as_str)
                        .and_then(Qualification::from_code)
                        .unwrap_or(Qualification::Other),
                })
            }
        };
        Ok(Verified {
            client_id,
            claim: Claim::Institution {
                number,
                practitioner,
            },
            scopes: Scopes::parse(jws.claim_str("scope").unwrap_or_default()),
            exp,
        })
    }
}

/// SHA-256 of a token: the key of the verified-token cache (the token itself is not kept).
fn digest32(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A bearer token that is not (or no longer) valid: 401.
fn invalid_token(en: &str) -> Refusal {
    Refusal::new(
        Why::Unauthenticated,
        fhir::outcome::IssueType::Login,
        "TOKEN-INVALID",
        "",
        en.to_string(),
        "アクセストークンが無効です（期限切れ、改ざん、または発行元が異なります）。新しいトークンを取得してください",
    )
}

/// The practitioner a client's system asserts (the claims of a user assertion).
#[derive(Clone, Debug)]
pub struct UserClaims {
    pub id: String,
    pub qualification: Qualification,
    pub emergency: bool,
    /// How the user signed in to the system (RFC 8176: `pwd`, `otp`, `hwk`, `mfa`, …).
    pub amr: Vec<String>,
}

fn assertion_base(client_id: &str, token_url: &str, now_s: i64) -> Object {
    let mut c = Object::new();
    c.insert("iss", Value::string(client_id));
    c.insert("aud", Value::string(token_url));
    c.insert("exp", number(now_s + 240));
    c.insert("iat", number(now_s));
    c.insert("jti", Value::string(store::random_id()));
    c
}

/// A client assertion (RFC 7523) of `client_id` for `token_url`, valid 4 minutes from
/// `now_s`, signed with `key` under `kid` (the command line's `token`, the load generator,
/// tests).
pub fn client_assertion(
    key: &jose::ClientKey,
    kid: &str,
    client_id: &str,
    token_url: &str,
    now_s: i64,
) -> Result<String, String> {
    let mut c = assertion_base(client_id, token_url, now_s);
    c.insert("sub", Value::string(client_id));
    key.sign(kid, &c)
}

/// A user assertion: the client's system says which practitioner acts and how they signed in.
pub fn user_assertion(
    key: &jose::ClientKey,
    kid: &str,
    client_id: &str,
    token_url: &str,
    now_s: i64,
    user: &UserClaims,
) -> Result<String, String> {
    let mut c = assertion_base(client_id, token_url, now_s);
    c.insert("sub", Value::string(user.id.as_str()));
    c.insert("qualification", Value::string(user.qualification.code()));
    c.insert("emergency", Value::Bool(user.emergency));
    c.insert(
        "amr",
        Value::Array(user.amr.iter().map(|a| Value::string(a.as_str())).collect()),
    );
    key.sign(kid, &c)
}

/// Now as seconds since 1970 (the system clock).
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
