//! Load generator for the hub (bench/hub.sh drives it). Targets a server on 127.0.0.1 only and
//! stops by itself after `--seconds`.
//!
//! ```text
//! load submit  --port P [--clients 16] [--seconds 30] [--conditions 10] [--seed 1] [--offset 0]
//!                      [--patients 500] [--dump FILE]
//! load summary --port P [--clients 16] [--seconds 30] --patients N [--seed 1]
//! load consent --port P [--clients 16] [--seconds 30] --patients N [--seed 1]
//! load setup   --port P --patients N [--seed 1] [--grants 1]
//! load token   --port P [--clients 16] [--seconds 30]
//! ```
//! `--tokens 1` (submit, summary): every institution the requests name gets a client
//! (`POST /admin/clients`, one key) and an access token, sent as `Authorization: Bearer`
//! instead of the development header, so the hub verifies a token on every request.
//! `--pages 1` (summary, with `--sessions FILE` to keep the sessions for the next run): every institution the requests name gets a staff account, activated
//! and signed in over HTTP (password and TOTP), and each request becomes the viewer's patient
//! page `GET /viewer/patient?member=…` with that session's cookie: the page against the API.
//! `token` registers one client and posts client assertions, all signed before the run (each
//! with its own `jti`), to `POST /auth/token`: token issuance per second (run the hub with
//! `--sign-in-rate-limit 0`).
//! `setup` registers the world's institutions and insurers (as the operator) and, with
//! `--grants 1`, grants each patient's summary institution viewing consent (as the
//! qualification service), so that `summary` reads what it read before access control; a hub
//! without a registry answers 404 to it, which is ignored. `consent` posts viewing consents for
//! random patients and institutions (201 each).
//! `submit` posts 6情報 Condition units of `--conditions` Conditions each (new Bundle-IDs, so
//! every request stores a unit) for `--patients` patients in turn; `summary` asks `Patient/$summary` for random patients of a
//! population loaded with `clins-hub gen --patients N --seed S`. Prints requests/s, p50, p99, max
//! p95 and when the slowest request was sent (seconds into the run).
//! `--dump FILE` writes the first request body to FILE and exits (for profiling the pipeline
//! on exactly what the load sends: `once_full FILE`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fhir::json::Value;

struct Args {
    mode: String,
    port: u16,
    clients: usize,
    seconds: u64,
    conditions: usize,
    seed: u64,
    patients: u64,
    offset: u64,
    dump: Option<String>,
    grants: bool,
    tokens: bool,
    pages: bool,
    sessions: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        mode: String::new(),
        port: 8080,
        clients: 16,
        seconds: 30,
        conditions: 10,
        seed: 1,
        patients: 0,
        offset: 0,
        dump: None,
        grants: false,
        tokens: false,
        pages: false,
        sessions: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    a.mode = v.first().cloned().unwrap_or_default();
    let mut i = 1;
    while i + 1 < v.len() + 1 && i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        let n = || {
            val.parse::<u64>()
                .unwrap_or_else(|_| panic!("{} needs a number", v[i]))
        };
        match v[i].as_str() {
            "--port" => a.port = n() as u16,
            "--clients" => a.clients = n() as usize,
            "--seconds" => a.seconds = n(),
            "--conditions" => a.conditions = n() as usize,
            "--seed" => a.seed = n(),
            "--patients" => a.patients = n(),
            "--offset" => a.offset = n(),
            "--dump" => a.dump = Some(val.clone()),
            "--grants" => a.grants = n() == 1,
            "--tokens" => a.tokens = n() == 1,
            "--pages" => a.pages = n() == 1,
            "--sessions" => a.sessions = Some(val.clone()),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    a
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    port: u16,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).ok();
        Conn {
            s,
            buf: Vec::new(),
            port,
        }
    }

    /// [`Conn::call`] as a polite client of the set-up requests: on 429 it waits a second
    /// and sends again; a connection the server closed is opened again.
    fn call_patiently(&mut self, head: &str, body: &[u8]) -> (u16, usize) {
        for _ in 0..120 {
            match self.try_call(head, body) {
                Ok((429, _)) => std::thread::sleep(Duration::from_secs(1)),
                Ok(r) => return r,
                Err(_) => *self = Conn::open(self.port),
            }
        }
        panic!("the hub kept refusing a set-up request");
    }

    /// Sends a request and reads the response; returns the status and the body length.
    fn call(&mut self, head: &str, body: &[u8]) -> (u16, usize) {
        self.try_call(head, body).expect("request")
    }

    fn try_call(&mut self, head: &str, body: &[u8]) -> std::io::Result<(u16, usize)> {
        let closed = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed");
        self.s.write_all(head.as_bytes())?;
        self.s.write_all(body)?;
        self.buf.clear();
        let mut chunk = [0u8; 65536];
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Err(closed());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head_text = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status = head_text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let len: usize = head_text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("content-length");
        while self.buf.len() < head_end + len {
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Err(closed());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, len))
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// A Condition unit of patient `n` with exactly `k` Conditions (the generated ones repeated
/// under new fullUrls and identifiers), and a Bundle-ID unique to (`n`, `round`).
fn condition_unit(
    cfg: &synth::Config,
    world: &synth::World,
    n: u64,
    k: usize,
    round: u64,
) -> Option<(String, Vec<u8>)> {
    let mut unit = None;
    synth::patient_submissions(cfg, world, n, &mut |s| {
        if unit.is_none() && s.kind == "Condition" && s.action == synth::Action::Submit {
            unit = Some(s.bundle);
        }
    });
    let mut b = unit?;
    let bid = b.pointer("identifier.value")?.as_str()?.to_string();
    let inst = bid.split('^').next()?.to_string();
    let Value::Object(o) = &mut b else {
        return None;
    };
    if let Some(Value::Object(id)) = o.get_mut("identifier") {
        id.insert("value", Value::string(format!("{bid}-R{round:08}")));
    }
    let Some(Value::Array(entries)) = o.get_mut("entry") else {
        return None;
    };
    let conditions: Vec<Value> = entries.drain(1..).collect();
    for i in 0..k {
        let mut e = conditions[i % conditions.len()].clone();
        if let Value::Object(eo) = &mut e {
            eo.insert(
                "fullUrl",
                Value::string(format!(
                    "urn:uuid:{:08x}-0000-4000-8000-{:012x}",
                    n as u32,
                    (round << 8) + i as u64
                )),
            );
            if let Some(Value::Object(r)) = eo.get_mut("resource") {
                if i >= conditions.len() {
                    // Only the first copy is the 主病名.
                    if let Some(Value::Array(ext)) = r.get_mut("extension") {
                        ext.retain(|x| {
                            !x.get("url")
                                .and_then(Value::as_str)
                                .is_some_and(|u| u.ends_with("JP_eCS_DiagnosisType"))
                        });
                    }
                }
                if let Some(Value::Array(ids)) = r.get_mut("identifier") {
                    if let Some(Value::Object(id)) = ids.first_mut() {
                        let v = id
                            .get("value")
                            .and_then(Value::as_str)
                            .unwrap_or("x")
                            .to_string();
                        id.insert("value", Value::string(format!("{v}-{round}-{i}")));
                    }
                }
            }
        }
        entries.push(e);
    }
    Some((inst, fhir::json::to_string(&b).into_bytes()))
}

/// Request templates: (method line and headers without Content-Length, body, offset of the
/// 8-digit Bundle-ID counter in the body or usize::MAX).
type Template = (String, Vec<u8>, usize);

fn templates(a: &Args, cfg: &synth::Config) -> Vec<Template> {
    let world = synth::World::new(cfg);
    let mut out = Vec::new();
    if a.mode == "submit" {
        let mut n = a.offset;
        // One template per patient (default 500): requests go round the patients.
        let patients = if a.patients == 0 { 500 } else { a.patients };
        while (out.len() as u64) < patients {
            if let Some((inst, body)) = condition_unit(cfg, &world, n, a.conditions, 0) {
                let at = body
                    .windows(10)
                    .position(|w| w == b"-R00000000")
                    .map_or(usize::MAX, |p| p + 2);
                out.push((
                    format!("POST /fhir/Bundle/$submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\nX-Clins-Dev-Institution: {inst}\r\n"),
                    body,
                    at,
                ));
            }
            n += 1;
        }
    } else {
        for n in 0..a.patients {
            let mut first = None;
            synth::patient_submissions(cfg, &world, n, &mut |s| {
                if first.is_none() {
                    first = Some(s.bundle);
                }
            });
            let Some(b) = first else { continue };
            let inst = b
                .pointer("identifier.value")
                .and_then(Value::as_str)
                .and_then(|v| v.split('^').next())
                .unwrap_or_default()
                .to_string();
            let member = b
                .get("entry")
                .map(Value::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|e| e.pointer("resource.identifier"))
                .flat_map(|i| i.items().iter())
                .find_map(|i| {
                    i.get("value")
                        .and_then(Value::as_str)
                        .filter(|v| v.matches(':').count() == 3)
                })
                .unwrap_or_default()
                .to_string();
            let enc = server::percent_encode(&member);
            if a.mode == "summary" {
                out.push((
                    format!("GET /fhir/Patient/$summary?identifier={enc} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Clins-Dev-Institution: {inst}\r\n"),
                    Vec::new(),
                    usize::MAX,
                ));
            } else {
                // `consent` and `setup`: a viewing consent of this patient for this institution.
                out.push((
                    "POST /fhir/Consent HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\nX-Clins-Dev-Role: qualification-service\r\n".to_string(),
                    consent_body(&member, &inst),
                    usize::MAX,
                ));
            }
        }
    }
    out
}

/// A viewing consent of `member` for `institution`.
fn consent_body(member: &str, institution: &str) -> Vec<u8> {
    let mut out = String::from(
        "{\"resourceType\":\"Consent\",\"status\":\"active\",\"patient\":{\"identifier\":{\"value\":",
    );
    fhir::json::write_str(&mut out, member);
    out.push_str("}},\"provision\":{\"actor\":[{\"reference\":{\"identifier\":{\"value\":");
    fhir::json::write_str(&mut out, institution);
    out.push_str("}}}]}}");
    out.into_bytes()
}

/// `setup`: registers the world's institutions and insurers; with `--grants 1`, the consents
/// of the summary requests. Returns (registered, granted, refused).
fn setup(a: &Args, cfg: &synth::Config, templates: &[Template]) -> (usize, usize, usize) {
    let world = synth::World::new(cfg);
    let mut conn = Conn::open(a.port);
    let (mut registered, mut granted, mut refused) = (0, 0, 0);
    for inst in world.institutions.iter().chain(world.insurers.iter()) {
        let (number, kind) = clins_hub::hub::registry_entry(inst);
        let mut body = String::from("{\"number\":");
        fhir::json::write_str(&mut body, &number);
        body.push_str(",\"kind\":\"");
        body.push_str(kind);
        body.push_str("\",\"name\":");
        fhir::json::write_str(&mut body, &inst.name);
        body.push('}');
        let head = format!("POST /admin/institutions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Clins-Dev-Role: operator\r\nContent-Length: {}\r\n\r\n", body.len());
        match conn.call_patiently(&head, body.as_bytes()).0 {
            200 => registered += 1,
            _ => refused += 1,
        }
    }
    if a.grants {
        for (head, body, _) in templates {
            let head = format!("{head}Content-Length: {}\r\n\r\n", body.len());
            match conn.call_patiently(&head, body).0 {
                201 => granted += 1,
                _ => refused += 1,
            }
        }
    }
    (registered, granted, refused)
}

/// The load's client key: one P-256 key for every client it registers.
fn load_key() -> (app::auth::jose::ClientKey, String) {
    let der = app::auth::jose::SigningKey::generate().expect("key");
    let key = app::auth::jose::ClientKey::from_pkcs8(&der).expect("key");
    (key, "load-1".to_string())
}

/// Gives `number` a client with `key` (as the operator) and returns an access token for it.
fn client_token(
    conn: &mut Conn,
    port: u16,
    number: &str,
    key: &app::auth::jose::ClientKey,
    kid: &str,
) -> String {
    let jwk = fhir::json::to_string(&key.public_jwk(Some(kid)));
    let body = format!("{{\"number\":\"{number}\",\"jwks\":{{\"keys\":[{jwk}]}}}}");
    let head = format!("POST /admin/clients HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Clins-Dev-Role: operator\r\nContent-Length: {}\r\n\r\n", body.len());
    let (status, _) = conn.call_patiently(&head, body.as_bytes());
    assert_eq!(status, 200, "register a client for {number}");
    let url = format!("http://127.0.0.1:{port}/auth/token");
    let assertion = app::auth::client_assertion(key, kid, number, &url, app::auth::now_seconds())
        .expect("assertion");
    let form = token_form(&assertion);
    let head = format!("POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n", form.len());
    let (status, len) = conn.call_patiently(&head, form.as_bytes());
    let text = String::from_utf8_lossy(&conn.buf[conn.buf.len() - len..]).into_owned();
    assert_eq!(status, 200, "token for {number}: {text}");
    fhir::json::parse(&text)
        .ok()
        .and_then(|v| {
            v.get("access_token")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .expect("access_token")
}

fn token_form(assertion: &str) -> String {
    format!("grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}&scope=system%2F%2A.cruds")
}

/// The institution a request template names in its development header.
fn dev_institution(head: &str) -> String {
    head.split("X-Clins-Dev-Institution: ")
        .nth(1)
        .and_then(|r| r.split("\r\n").next())
        .expect("a development header")
        .to_string()
}

/// `--tokens 1`: the development header of each template replaced by a bearer token.
fn with_tokens(a: &Args, templates: Vec<Template>) -> Vec<Template> {
    let (key, kid) = load_key();
    let mut conn = Conn::open(a.port);
    let mut tokens: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let t = Instant::now();
    let out: Vec<Template> = templates
        .into_iter()
        .map(|(head, body, at)| {
            let number = dev_institution(&head);
            let token = tokens
                .entry(number.clone())
                .or_insert_with(|| client_token(&mut conn, a.port, &number, &key, &kid))
                .clone();
            let head = head.replace(
                &format!("X-Clins-Dev-Institution: {number}\r\n"),
                &format!("Authorization: Bearer {token}\r\n"),
            );
            (head, body, at)
        })
        .collect();
    eprintln!(
        "{} clients registered with tokens in {:.1}s",
        tokens.len(),
        t.elapsed().as_secs_f64()
    );
    out
}

/// Sends a JSON request of the set-up and returns its status and response body.
fn json_call(conn: &mut Conn, head: &str, body: &str) -> (u16, String) {
    let head = format!(
        "{head}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (status, len) = conn.call_patiently(&head, body.as_bytes());
    let text = String::from_utf8_lossy(&conn.buf[conn.buf.len() - len..]).into_owned();
    (status, text)
}

fn json_text(text: &str, key: &str) -> String {
    fhir::json::parse(text)
        .ok()
        .and_then(|v| v.get(key).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| panic!("`{key}` in {text}"))
}

/// A signed-in staff session of `number` (account `load`): its cookie value.
fn staff_session(conn: &mut Conn, number: &str) -> String {
    let (status, text) = json_call(
        conn,
        "POST /auth/staff HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Clins-Dev-Role: operator\r\n",
        &format!("{{\"institution\":\"{number}\",\"login\":\"load\",\"name\":\"負荷 試験\",\"qualification\":\"doctor\"}}"),
    );
    assert_eq!(status, 201, "staff account of {number}: {text}");
    let code = json_text(&text, "activation_code");
    let password = "load-Password-2026";
    let (status, text) = json_call(
        conn,
        "POST /auth/activate HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        &format!("{{\"kind\":\"staff\",\"institution\":\"{number}\",\"login\":\"load\",\"code\":\"{code}\",\"password\":\"{password}\"}}"),
    );
    assert_eq!(status, 200, "activation of {number}: {text}");
    let secret = json_text(&text, "totp_secret");
    let step = app::auth::secrets::totp_step(app::auth::now_seconds());
    let totp = app::auth::secrets::totp_code(&secret, step, 6).expect("a TOTP code");
    let (status, text) = json_call(
        conn,
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        &format!("{{\"kind\":\"staff\",\"institution\":\"{number}\",\"login\":\"load\",\"password\":\"{password}\",\"totp\":\"{totp}\"}}"),
    );
    assert_eq!(status, 200, "sign-in of {number}: {text}");
    let head = String::from_utf8_lossy(&conn.buf).into_owned();
    head.lines()
        .find_map(|l| {
            let l = l
                .strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))?;
            l.split(';')
                .next()?
                .split_once('=')
                .map(|(_, v)| v.to_string())
        })
        .expect("the session cookie")
}

/// `--pages 1`: each `$summary` request replaced by the viewer's patient page of a staff
/// session of the same institution.
fn with_pages(a: &Args, templates: Vec<Template>) -> Vec<Template> {
    let mut conn = Conn::open(a.port);
    // Sessions of an earlier run (`--sessions FILE`: `number<TAB>cookie` lines) are used again:
    // a sign-in costs two password hashes.
    let mut sessions: std::collections::HashMap<String, String> = a
        .sessions
        .as_deref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, c)| (n.to_string(), c.to_string()))
        .collect();
    let t = Instant::now();
    let out: Vec<Template> = templates
        .into_iter()
        .map(|(head, body, at)| {
            let number = dev_institution(&head);
            let member = head
                .split("identifier=")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .expect("a member id")
                .to_string();
            let cookie = sessions
                .entry(number.clone())
                .or_insert_with(|| staff_session(&mut conn, &number))
                .clone();
            (
                format!("GET /viewer/patient?member={member} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: __Host-clins-session={cookie}\r\n"),
                body,
                at,
            )
        })
        .collect();
    eprintln!(
        "{} staff sessions signed in in {:.1}s",
        sessions.len(),
        t.elapsed().as_secs_f64()
    );
    if let Some(f) = &a.sessions {
        let text: String = sessions
            .iter()
            .map(|(n, c)| format!("{n}\t{c}\n"))
            .collect();
        std::fs::write(f, text).unwrap_or_else(|e| panic!("cannot write {f}: {e}"));
    }
    out
}

/// `token`: one client, and client assertions signed before the run.
fn token_templates(a: &Args) -> Vec<Template> {
    let (key, kid) = load_key();
    let mut conn = Conn::open(a.port);
    let number = "1319990001";
    let body = format!("{{\"number\":\"{number}\",\"kind\":\"hospital\",\"name\":\"load\"}}");
    let head = format!("POST /admin/institutions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Clins-Dev-Role: operator\r\nContent-Length: {}\r\n\r\n", body.len());
    assert_eq!(
        conn.call_patiently(&head, body.as_bytes()).0,
        200,
        "register the load's institution"
    );
    client_token(&mut conn, a.port, number, &key, &kid);
    let url = format!("http://127.0.0.1:{}/auth/token", a.port);
    let now = app::auth::now_seconds();
    // Enough for 12,000 tokens/s over the run; each assertion is used once (a client that
    // has used its share stops early, and the rate is over the time actually taken).
    let n = (a.seconds as usize * 12_000).max(1000);
    (0..n)
        .map(|_| {
            let assertion = app::auth::client_assertion(&key, &kid, number, &url, now)
                .expect("assertion");
            (
                "POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n".to_string(),
                token_form(&assertion).into_bytes(),
                usize::MAX,
            )
        })
        .collect()
}

/// What one client measured: latencies (µs), errors, the slowest (µs, when sent), body bytes.
type ClientResult = (Vec<u32>, usize, (u32, f64), usize);

fn main() {
    let a = args();
    let cfg = synth::Config {
        patients: a.patients.max(1),
        institutions: None,
        seed: a.seed,
    };
    let t0 = Instant::now();
    let templates = if a.mode == "token" {
        token_templates(&a)
    } else {
        templates(&a, &cfg)
    };
    eprintln!(
        "{} request templates in {:.1}s",
        templates.len(),
        t0.elapsed().as_secs_f64()
    );
    if a.mode == "setup" {
        let t = Instant::now();
        let (registered, granted, refused) = setup(&a, &cfg, &templates);
        println!(
            "setup: {registered} institutions registered, {granted} consents granted, {refused} refused, in {:.1}s",
            t.elapsed().as_secs_f64()
        );
        return;
    }
    let templates = if a.tokens {
        with_tokens(&a, templates)
    } else if a.pages {
        with_pages(&a, templates)
    } else {
        templates
    };
    if let Some(path) = &a.dump {
        let body = &templates.first().expect("a request template").1;
        std::fs::write(path, body).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let results: Vec<ClientResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.clients)
            .map(|c| {
                let (a, templates, started) = (&a, &templates, &started);
                s.spawn(move || {
                    let mut conn = Conn::open(a.port);
                    let mut lat = Vec::new();
                    let mut slowest = (0u32, 0f64);
                    let mut errors = 0usize;
                    let mut bytes = 0usize;
                    let mut k = 0u64;
                    let mut rng = c as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
                    let mut body = Vec::new();
                    while Instant::now() < deadline {
                        k += 1;
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        // Assertions are used once each, in turn; other requests at random.
                        let pick = if a.mode == "token" {
                            let i = c as u64 + (k - 1) * a.clients as u64;
                            if i >= templates.len() as u64 {
                                break; // every assertion used: a replay would be refused
                            }
                            i
                        } else {
                            rng % templates.len() as u64
                        };
                        let (head, template, at) = &templates[pick as usize];
                        body.clear();
                        body.extend_from_slice(template);
                        if *at != usize::MAX {
                            // A new Bundle-ID for every request: client, then a running number.
                            let id = format!("{:02}{:06}", c % 100, (k + a.offset) % 1_000_000);
                            body[*at..*at + 8].copy_from_slice(id.as_bytes());
                        }
                        let head = format!("{head}Content-Length: {}\r\n\r\n", body.len());
                        let t = Instant::now();
                        let (status, len) = conn.call(&head, &body);
                        bytes += len;
                        let us = t.elapsed().as_micros().min(u32::MAX as u128) as u32;
                        if us > slowest.0 {
                            slowest = (us, (t - *started).as_secs_f64());
                        }
                        lat.push(us);
                        if status >= 300 {
                            errors += 1;
                            if errors <= 3 {
                                eprintln!("status {status}");
                            }
                        }
                    }
                    (lat, errors, slowest, bytes)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<u32> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    let errors: usize = results.iter().map(|r| r.1).sum();
    let bytes: usize = results.iter().map(|r| r.3).sum();
    let slowest_at = results
        .iter()
        .map(|r| r.2)
        .max_by_key(|s| s.0)
        .map_or(0.0, |s| s.1);
    all.sort_unstable();
    println!(
        "mode={} clients={} requests={} errors={} seconds={:.1} rate={:.0}/s p50={:.2}ms p95={:.2}ms p99={:.2}ms max={:.2}ms (sent at {:.1}s) body={:.0}B",
        a.mode,
        a.clients,
        all.len(),
        errors,
        elapsed,
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
        slowest_at,
        bytes as f64 / all.len().max(1) as f64
    );
}
