//! Sign-in of systems: 利用申請 and its approval, `POST /auth/token` with every way a client
//! assertion can be wrong (the token matrix), bearer tokens on the FHIR API with scopes
//! enforced on top of the access decision, key rotation, client revocation and replay
//! protection across a restart.

use app::auth::jose::{self, ClientKey};
use fhir::base64::{self, Alphabet};
use fhir::json::{self, Object, Value};

use crate::harness::*;

/// The hub's fixed clock in these tests, and as seconds.
const NOW: &str = "2026-11-20T03:00:00.000Z";

fn now_s() -> i64 {
    app::dates::instant_millis(NOW).unwrap() / 1000
}

/// A client key and its `kid`.
pub struct Key {
    pub key: ClientKey,
    pub kid: String,
}

pub fn ec_key(kid: &str) -> Key {
    let der = jose::SigningKey::generate().unwrap();
    Key {
        key: ClientKey::from_pkcs8(&der).unwrap(),
        kid: kid.to_string(),
    }
}

/// An RSA key made by openssl (ring does not generate RSA keys). The suite needs openssl;
/// `.ci/run` installs it.
pub fn rsa_key(kid: &str) -> Key {
    let path = temp(&format!("rsa-{kid}-{}.pem", store::random_id()));
    let _ = std::fs::remove_file(&path);
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .output()
        .expect("openssl is needed by the token tests (apt-get install openssl)");
    assert!(out.status.success(), "openssl genpkey failed");
    let pem = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    Key {
        key: ClientKey::from_pkcs8(&pem).unwrap(),
        kid: kid.to_string(),
    }
}

pub fn jwks(keys: &[&Key]) -> String {
    let list: Vec<Value> = keys
        .iter()
        .map(|k| k.key.public_jwk(Some(&k.kid)))
        .collect();
    let mut o = Object::new();
    o.insert("keys", Value::Array(list));
    json::to_string(&Value::Object(o))
}

fn num(n: i64) -> Value {
    Value::Number(n.to_string().into())
}

/// The claims of a valid client assertion of `client` for the hub on `port`.
fn claims(port: u16, client: &str, jti: &str) -> Object {
    let mut c = Object::new();
    c.insert("iss", Value::string(client));
    c.insert("sub", Value::string(client));
    c.insert(
        "aud",
        Value::string(format!("http://127.0.0.1:{port}/auth/token")),
    );
    c.insert("exp", num(now_s() + 240));
    c.insert("iat", num(now_s()));
    c.insert("jti", Value::string(jti));
    c
}

/// `POST /auth/token` with a client assertion (and extra form fields).
pub fn token_request(port: u16, assertion: &str, scope: &str, extra: &str) -> Resp {
    secret(assertion);
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}&scope={}{extra}",
        server::percent_encode(app::auth::JWT_BEARER),
        server::percent_encode(scope)
    );
    request(
        port,
        "POST",
        "/auth/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
}

/// An access token for `client` signed with `key`, or the refusal.
pub fn token(port: u16, client: &str, key: &Key, scope: &str) -> Result<String, Resp> {
    let a = key
        .key
        .sign(&key.kid, &claims(port, client, &store::random_id()))
        .unwrap();
    let r = token_request(port, &a, scope, "");
    match r.json().get("access_token").and_then(Value::as_str) {
        Some(t) if r.status == 200 => {
            secret(t);
            Ok(t.to_string())
        }
        _ => Err(r),
    }
}

/// A token with a user assertion for practitioner `id`.
pub fn user_token(
    port: u16,
    client: &str,
    key: &Key,
    id: &str,
    emergency: bool,
    amr: &[&str],
) -> String {
    let token_url = format!("http://127.0.0.1:{port}/auth/token");
    let user = app::auth::UserClaims {
        id: id.to_string(),
        qualification: clins::policy::Qualification::Doctor,
        emergency,
        amr: amr.iter().map(|a| a.to_string()).collect(),
    };
    let ua =
        app::auth::user_assertion(&key.key, &key.kid, client, &token_url, now_s(), &user).unwrap();
    let a = key
        .key
        .sign(&key.kid, &claims(port, client, &store::random_id()))
        .unwrap();
    let r = token_request(port, &a, "user/*.cruds", &format!("&user_assertion={ua}"));
    assert_eq!(r.status, 200, "user token: {}", r.body);
    secret(&ua);
    secret(&field_of(&r, "access_token"));
    r.json()
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap()
        .to_string()
}

/// Signs arbitrary header and claims with `key` (for malformed assertions).
fn sign_raw(header: &str, claims: &Object, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let h = base64::encode(header.as_bytes(), Alphabet::Url, false);
    let c = base64::encode(
        json::to_string(&Value::Object(claims.clone())).as_bytes(),
        Alphabet::Url,
        false,
    );
    let input = format!("{h}.{c}");
    let sig = sign(input.as_bytes());
    format!("{input}.{}", base64::encode(&sig, Alphabet::Url, false))
}

/// A search parameter naming a patient (not stored: a search of nobody).
fn who() -> String {
    format!(
        "patient.identifier={}",
        enc(&format!("{MEMBER_SYSTEM}|06139999:1:2:"))
    )
}

fn field_of(r: &Resp, k: &str) -> String {
    r.json()
        .get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn operator() -> [(&'static str, &'static str); 2] {
    [
        ("X-Clins-Dev-Role", "operator"),
        ("Content-Type", "application/json"),
    ]
}

/// Files an application for `number` with `keys` and approves it over HTTP.
pub fn apply_and_approve(port: u16, number: &str, kind: &str, keys: &[&Key]) {
    let body = format!(
        r#"{{"number":"{number}","kind":"{kind}","name":"申請テスト {number}","address":"東京都千代田区1-1","jwks":{}}}"#,
        jwks(keys)
    );
    let r = request(
        port,
        "POST",
        "/admin/applications",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 201, "apply: {}", r.body);
    let id = r
        .json()
        .get("id")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let r = request(
        port,
        "POST",
        &format!("/admin/applications/{id}/approve"),
        &operator(),
        b"",
    );
    assert_eq!(r.status, 200, "approve: {}", r.body);
}

fn hs256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::sign(&k, input).as_ref().to_vec()
}

pub fn token_matrix(kind: &str, ig: &[std::path::PathBuf]) {
    let Some(backend) = fresh(kind) else { return };
    let mut hub = Hub::start_verbose(&backend, ig, Some(NOW), &[]);
    let port = hub.port;
    let ec = ec_key("ec-1");
    let rsa = rsa_key("rsa-1");
    let client = "1312000001";
    // 利用申請: before approval the client is unknown.
    let before = token(port, client, &ec, "system/*.rs").unwrap_err();
    assert_eq!(before.status, 401, "{}", before.body);
    apply_and_approve(port, client, "hospital", &[&ec, &rsa]);
    // A second application of the same number after approval is a new one; a second pending
    // one is refused; approving twice is refused.
    let list = request(
        port,
        "GET",
        "/admin/applications?status=approved",
        &operator(),
        b"",
    );
    assert_eq!(list.status, 200);
    assert_eq!(list.json().items().len(), 1, "{}", list.body);
    let id = list.json().items()[0]
        .get("id")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let again = request(
        port,
        "POST",
        &format!("/admin/applications/{id}/approve"),
        &operator(),
        b"",
    );
    assert_eq!(again.status, 409, "{}", again.body);
    // An application is checked: a private key, a bad number, no keys.
    for (body, what) in [
        (
            format!(
                r#"{{"number":"1312000002","kind":"hospital","name":"x","address":"y","jwks":{}}}"#,
                jwks(&[&ec]).replacen(r#""kty""#, r#""d":"AAAA","kty""#, 1)
            ),
            "private",
        ),
        (
            r#"{"number":"13120000","kind":"hospital","name":"x","address":"y","jwks_url":"https://x.example/jwks"}"#.to_string(),
            "10-digit",
        ),
        (
            r#"{"number":"1312000002","kind":"hospital","name":"x","address":"y"}"#.to_string(),
            "jwks",
        ),
    ] {
        let r = request(port, "POST", "/admin/applications", &[("Content-Type", "application/json")], body.as_bytes());
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        assert!(r.body.contains(what), "{what}: {}", r.body);
    }

    // The token matrix: (name, assertion, scope, expected status, expected OAuth error).
    let aud = format!("http://127.0.0.1:{port}/auth/token");
    let sign = |k: &Key, c: &Object| k.key.sign(&k.kid, c).unwrap();
    let with = |f: &dyn Fn(&mut Object)| {
        let mut c = claims(port, client, &store::random_id());
        f(&mut c);
        c
    };
    let other = ec_key("ec-1"); // same kid, another key
    let ec_public = json::to_string(&ec.key.public_jwk(Some("ec-1")));
    let replayed = sign(&ec, &claims(port, client, "jti-once"));
    let rows: Vec<(&str, String, &str, u16, &str)> = vec![
        (
            "valid ES256",
            sign(&ec, &with(&|_| {})),
            "system/*.rs",
            200,
            "",
        ),
        (
            "valid RS256",
            sign(&rsa, &with(&|_| {})),
            "system/*.rs",
            200,
            "",
        ),
        (
            "expired",
            sign(
                &ec,
                &with(&|c| {
                    c.insert("exp", num(now_s() - 120));
                }),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "exp too far ahead",
            sign(
                &ec,
                &with(&|c| {
                    c.insert("exp", num(now_s() + 3600));
                }),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "not yet valid",
            sign(
                &ec,
                &with(&|c| {
                    c.insert("nbf", num(now_s() + 600));
                }),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "no exp",
            sign(
                &ec,
                &with(&|c| {
                    c.remove("exp");
                }),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "no jti",
            sign(
                &ec,
                &with(&|c| {
                    c.remove("jti");
                }),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "wrong aud",
            sign(
                &ec,
                &with(&|c| {
                    c.insert("aud", Value::string("http://127.0.0.1:1/auth/token"));
                }),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "wrong iss",
            sign(
                &ec,
                &with(&|c| {
                    c.insert("iss", Value::string("1312000009"));
                }),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "sub differs from iss",
            sign(
                &ec,
                &with(&|c| {
                    c.insert("sub", Value::string("someone"));
                }),
            ),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "bad signature",
            sign(&other, &with(&|_| {})),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "unknown kid",
            {
                let k = Key {
                    key: ClientKey::from_pkcs8(&jose::SigningKey::generate().unwrap()).unwrap(),
                    kid: "nope".into(),
                };
                sign(&k, &with(&|_| {}))
            },
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "alg none",
            sign_raw(r#"{"alg":"none","kid":"ec-1"}"#, &with(&|_| {}), |_| {
                Vec::new()
            }),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "HS256 keyed with the public key",
            sign_raw(r#"{"alg":"HS256","kid":"ec-1"}"#, &with(&|_| {}), |m| {
                hs256(ec_public.as_bytes(), m)
            }),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "RS256 header on the EC key",
            sign_raw(r#"{"alg":"RS256","kid":"ec-1"}"#, &with(&|_| {}), |m| {
                hs256(b"x", m)
            }),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "garbage",
            "not.a.jwt".to_string(),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "first use of a jti",
            replayed.clone(),
            "system/*.rs",
            200,
            "",
        ),
        (
            "replayed jti",
            replayed.clone(),
            "system/*.rs",
            401,
            "invalid_client",
        ),
        (
            "no grantable scope",
            sign(&ec, &with(&|_| {})),
            "openid patient/*.rs",
            400,
            "invalid_scope",
        ),
        (
            "user scope without a user",
            sign(&ec, &with(&|_| {})),
            "user/*.rs",
            400,
            "invalid_scope",
        ),
        (
            "granular scope",
            sign(&ec, &with(&|_| {})),
            "system/Observation.rs?category=laboratory",
            400,
            "invalid_scope",
        ),
    ];
    // Every assertion and token of this test, to be looked for in the hub's log at the end.
    let mut secrets: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    let mut failures = Vec::new();
    for (name, assertion, scope, want, error) in &rows {
        let r = token_request(port, assertion, scope, "");
        let got_error = r
            .json()
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if r.status != *want || (!error.is_empty() && got_error != *error) {
            failures.push(format!(
                "{name}: {} {got_error} (want {want} {error}): {}",
                r.status, r.body
            ));
        }
        if r.status == 200 {
            let v = r.json();
            assert_eq!(v.get("token_type").and_then(Value::as_str), Some("bearer"));
            assert_eq!(v.get("expires_in").and_then(Value::as_number), Some("300"));
            assert_eq!(r.header("cache-control"), Some("no-store"));
        }
        // Nothing of the assertion is echoed.
        if assertion.len() > 20 && r.body.contains(assertion.as_str()) {
            failures.push(format!("{name}: the answer echoes the assertion"));
        }
    }
    // Request form errors.
    for (body, want) in [
        ("grant_type=password&username=x", "unsupported_grant_type"),
        (
            "grant_type=client_credentials&client_assertion=x",
            "invalid_request",
        ),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            "invalid_request",
        ),
    ] {
        let r = request(
            port,
            "POST",
            "/auth/token",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        );
        if r.status != 400 || !r.body.contains(want) {
            failures.push(format!("form {body}: {} {}", r.status, r.body));
        }
    }
    let r = request(
        port,
        "POST",
        "/auth/token",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(r.status, 400, "JSON body: {}", r.body);
    assert!(
        failures.is_empty(),
        "{} token cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // SMART configuration and the CapabilityStatement.
    let conf = request(port, "GET", "/.well-known/smart-configuration", &[], b"").json();
    assert_eq!(
        conf.get("token_endpoint").and_then(Value::as_str),
        Some(aud.as_str())
    );
    assert!(json::to_string(&conf).contains("private_key_jwt"));
    let meta = request(port, "GET", "/fhir/metadata", &[], b"").json();
    assert!(
        json::to_string(&meta).contains("SMART-on-FHIR"),
        "rest.security"
    );
    let keys = request(port, "GET", "/.well-known/jwks.json", &[], b"").json();
    assert_eq!(
        keys.get("keys").map(Value::items).map(<[Value]>::len),
        Some(1)
    );
    assert!(
        !json::to_string(&keys).contains("\"d\""),
        "no private member"
    );

    let api = |t: &str| {
        request(
            port,
            "GET",
            &format!("/fhir/Condition?{}", who()),
            &[("Authorization", &bearer(t))],
            b"",
        )
        .status
    };
    // Bearer tokens on the API: none, malformed, forged, foreign; scopes on top of the decision.
    let all = token(port, client, &ec, "system/*.rs").unwrap();
    let conditions = token(port, client, &ec, "system/Patient.r system/Condition.rs").unwrap();
    let path = "/fhir/Consent?patient=06139999%3A1%3A2%3A";
    let r = request(port, "GET", &format!("/fhir/Condition?{}", who()), &[], b"");
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    for bad in [
        "Bearer".to_string(),
        "Basic dXNlcjpwYXNz".to_string(),
        bearer("x.y.z"),
        bearer(&format!("{all}x")),
        // A token of the client's own key, not the hub's.
        bearer(&sign(
            &ec,
            &with(&|c| {
                c.insert("scope", Value::string("system/*.cruds"));
                c.insert("institution", Value::string(client));
            }),
        )),
    ] {
        let r = request(
            port,
            "GET",
            &format!("/fhir/Condition?{}", who()),
            &[("Authorization", &bad)],
            b"",
        );
        assert_eq!(r.status, 401, "{bad}: {}", r.body);
        assert!(!r.body.contains(&all), "no token in an answer");
    }
    let both = request(
        port,
        "GET",
        &format!("/fhir/Condition?{}", who()),
        &[
            ("Authorization", &bearer(&all)),
            ("X-Clins-Dev-Institution", client),
        ],
        b"",
    );
    assert_eq!(both.status, 400, "token and dev headers: {}", both.body);
    // The token's institution is a hospital without consent: the access decision refuses
    // (403), and a token without the scope is refused before (403, SCOPE-MISSING).
    let r = request(
        port,
        "GET",
        &format!("/fhir/Observation?{}", who()),
        &[("Authorization", &bearer(&all))],
        b"",
    );
    assert_ne!(r.status, 401, "{}", r.body);
    let r = request(
        port,
        "GET",
        &format!("/fhir/Observation?{}", who()),
        &[("Authorization", &bearer(&conditions))],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("SCOPE-MISSING") && r.body.contains("system/Observation.s"),
        "{}",
        r.body
    );
    let r = request(
        port,
        "GET",
        path,
        &[("Authorization", &bearer(&conditions))],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("SCOPE-MISSING"), "{}", r.body);

    // A user assertion: the practitioner, licence, privilege and sign-in methods travel in the
    // token; a malformed user is refused.
    let t = user_token(port, client, &ec, "er-1", true, &["pwd", "otp"]);
    let payload = t.split('.').nth(1).unwrap();
    let claims_of = json::parse_bytes(&base64::decode_url_strict(payload).unwrap()).unwrap();
    let p = claims_of.get("practitioner").expect("practitioner claim");
    assert_eq!(p.get("id").and_then(Value::as_str), Some("er-1"));
    assert_eq!(p.get("emergency").and_then(Value::as_bool), Some(true));
    assert_eq!(
        p.get("qualification").and_then(Value::as_str),
        Some("doctor")
    );
    assert_eq!(
        claims_of.get("institution").and_then(Value::as_str),
        Some(client)
    );
    let bad_user = {
        let mut c = claims(port, client, &store::random_id());
        c.insert("sub", Value::string("no spaces allowed"));
        sign(&ec, &c)
    };
    let r = token_request(
        port,
        &sign(&ec, &with(&|_| {})),
        "user/*.rs",
        &format!("&user_assertion={bad_user}"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("invalid_grant"), "{}", r.body);
    assert_ne!(api(&t), 401, "a user token is accepted");

    // Key rotation: a second key works beside the first; a removed key stops at once.
    let ec2 = ec_key("ec-2");
    let r = request(
        port,
        "POST",
        &format!("/admin/clients/{client}/keys"),
        &operator(),
        jwks(&[&ec2]).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(token(port, client, &ec2, "system/*.rs").is_ok());
    assert!(token(port, client, &ec, "system/*.rs").is_ok());
    let r = request(
        port,
        "DELETE",
        &format!("/admin/clients/{client}/keys/ec-1"),
        &operator(),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        token(port, client, &ec, "system/*.rs").unwrap_err().status,
        401
    );
    assert!(token(port, client, &ec2, "system/*.rs").is_ok());

    // A disabled client: no new tokens, and its tokens stop working; enabled again, both work.
    let live = token(port, client, &ec2, "system/*.rs").unwrap();
    assert_ne!(api(&live), 401);
    let r = request(
        port,
        "POST",
        &format!("/admin/clients/{client}/disable"),
        &operator(),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        token(port, client, &ec2, "system/*.rs").unwrap_err().status,
        401
    );
    assert_eq!(api(&live), 401);
    request(
        port,
        "POST",
        &format!("/admin/clients/{client}/enable"),
        &operator(),
        b"",
    );
    assert_ne!(api(&live), 401);
    // A disabled institution: no token (401), and its tokens are refused by the registry (403).
    let r = request(
        port,
        "POST",
        &format!("/admin/institutions/{client}/disable"),
        &operator(),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        token(port, client, &ec2, "system/*.rs").unwrap_err().status,
        401
    );
    assert_eq!(api(&live), 403);
    let r = request(
        port,
        "POST",
        &format!("/admin/institutions/{client}/enable"),
        &operator(),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(api(&live), 401);

    // Replay protection and tokens across a restart (the same store; another hub process
    // sees the same used assertion ids and signing key): the replayed assertion stays
    // refused, the token stays valid, and with the clock 10 minutes on it has expired.
    let replayed = sign(&ec2, &claims(port, client, "jti-before-restart"));
    assert_eq!(
        token_request(port, &replayed, "system/*.rs", "").status,
        200
    );
    secrets.extend([
        all.clone(),
        conditions.clone(),
        live.clone(),
        t.clone(),
        bad_user.clone(),
        replayed.clone(),
    ]);
    hub.terminate();
    let mut logs = vec![hub.log()];
    let listen = format!("127.0.0.1:{port}");
    let mut hub2 = Hub::start_verbose(&backend, ig, Some(NOW), &["--listen", &listen]);
    let r = token_request(port, &replayed, "system/*.rs", "");
    assert_eq!(r.status, 401, "replay after a restart: {}", r.body);
    assert!(r.body.contains("jti"), "refused as a replay: {}", r.body);
    assert_ne!(api(&live), 401, "a token outlives a restart");
    hub2.terminate();
    logs.push(hub2.log());
    let later = "2026-11-20T03:10:00.000Z";
    let hub3 = Hub::start_verbose(&backend, ig, Some(later), &["--listen", &listen]);
    let r = request(
        port,
        "GET",
        &format!("/fhir/Condition?{}", who()),
        &[("Authorization", &bearer(&live))],
        b"",
    );
    assert_eq!(r.status, 401, "an expired access token: {}", r.body);
    assert!(r.body.contains("expired"), "{}", r.body);
    // No secret in any log line: not a token, not an assertion, not a signature of one. The
    // logs are the most verbose the hub writes, and they do record these requests.
    logs.push(hub3.log());
    drop(hub3);
    let all_logs = logs.concat();
    assert!(
        all_logs.contains("/auth/token") && all_logs.contains("/fhir/Condition"),
        "the requests are logged: {}",
        &all_logs[..all_logs.len().min(2000)]
    );
    for s in secrets.iter().filter(|s| s.len() > 40) {
        let signature = s.rsplit('.').next().unwrap_or_default();
        for needle in [s.as_str(), signature] {
            if needle.len() > 20 {
                assert!(!all_logs.contains(needle), "a secret in the log: {needle}");
            }
        }
    }
    drop_backend(&backend);
}

/// Rate limits: a burst beyond the limit gets 429 with `Retry-After`, and service resumes after
/// it; the token endpoint is limited per address; other callers are not affected.
pub fn rate_limits(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start_with(
        &backend,
        &[],
        Some(NOW),
        &["--rate-limit", "5", "--sign-in-rate-limit", "3"],
    );
    let port = hub.port;
    register(port, "1312000001");
    register(port, "1312000002");
    let get = |inst: &str| {
        request(
            port,
            "GET",
            &format!("/fhir/Condition?{}", who()),
            &[("X-Clins-Dev-Institution", inst)],
            b"",
        )
    };
    // Bursts of twice the rate pass (the registration above used the operator's bucket).
    let statuses: Vec<u16> = (0..14).map(|_| get("1312000001").status).collect();
    let passed = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        (10..=12).contains(&passed),
        "a burst of 10 (and one refilled) passes: {statuses:?}"
    );
    let refused = get("1312000001");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("RATE-LIMIT"), "{}", refused.body);
    let wait: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    // Another caller has its own bucket.
    assert_ne!(get("1312000002").status, 429);
    std::thread::sleep(std::time::Duration::from_secs(wait));
    assert_ne!(
        get("1312000001").status,
        429,
        "service resumes after Retry-After"
    );
    // The token endpoint, per address (bursts of 6).
    let statuses: Vec<u16> = (0..9)
        .map(|_| token_request(port, "x.y.z", "system/*.rs", "").status)
        .collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!((2..=3).contains(&refused), "{statuses:?}");
    let r = token_request(port, "x.y.z", "system/*.rs", "");
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    // Request heads are bounded: too many headers, or one too large, never reach a handler.
    let many: Vec<(String, String)> = (0..150)
        .map(|i| (format!("X-Filler-{i}"), "x".to_string()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = request(port, "GET", "/health/live", &many, b"");
    assert_eq!(r.status, 431, "150 headers: {}", r.body);
    let huge = "x".repeat(600 * 1024);
    let r = request(port, "GET", "/health/live", &[("X-Huge", &huge)], b"");
    assert_eq!(r.status, 431, "a 600 KB header: {}", r.body);
    drop(hub);
    drop_backend(&backend);
}
