//! Who may see what, over HTTP: the authorisation matrix (every endpoint × every kind of caller
//! × consent state × emergency claim × disaster declaration → the status), and the patient's
//! and the insurer's views. The matrix is one table of data.

use std::collections::BTreeSet;

use fhir::json::Value;

use super::harness::*;
use super::{bytes, entries_mut, ig, population, resource_mut};

const NOW: &str = "2026-11-20T03:00:00.000Z";

/// A caller: its name in the table and the headers it sends.
struct Actor {
    name: &'static str,
    headers: Vec<(&'static str, String)>,
}

fn inst(name: &'static str, number: &str) -> Actor {
    Actor {
        name,
        headers: vec![("X-Clins-Dev-Institution", number.to_string())],
    }
}

fn doctor(name: &'static str, number: &str, practitioner: &str, etreat: bool) -> Actor {
    let mut headers = vec![
        ("X-Clins-Dev-Institution", number.to_string()),
        ("X-Clins-Dev-Practitioner", practitioner.to_string()),
    ];
    if etreat {
        headers.push(("X-Clins-Purpose-Of-Use", "ETREAT".to_string()));
    }
    Actor { name, headers }
}

fn consent_body(member: &str, institution: &str, period: Option<(&str, &str)>) -> String {
    let period = period
        .map(|(s, e)| format!(r#","period":{{"start":"{s}","end":"{e}"}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"resourceType":"Consent","status":"active","patient":{{"identifier":{{"system":"{MEMBER_SYSTEM}","value":"{member}"}}}},"provision":{{"actor":[{{"reference":{{"identifier":{{"value":"{institution}"}}}}}}]{period}}}}}"#
    )
}

/// The data of the matrix: a patient with a 傷病名 unit (flags removed, all confirmed), a
/// 健診結果報告書 and a 患者サマリー, each from its own institution.
struct Data {
    member: String,
    /// `name=…&birthdate=…&gender=…&address=…` of the patient.
    four: String,
    /// The 傷病名 unit as stored (every condition confirmed, no flags).
    unit: Value,
    submitter: String,
    checkup_sender: String,
    pcs_sender: String,
    condition: String,
    patient_id: String,
    checkup: String,
    pcs: String,
}

fn clean_unit(unit: &Value) -> Value {
    let mut v = unit.clone();
    for e in entries_mut(&mut v).iter_mut().skip(1) {
        let r = resource_mut(e);
        if let Some(Value::Object(m)) = r.get_mut("meta") {
            m.remove("tag");
        }
        r.insert(
            "verificationStatus",
            fhir::json::parse(r#"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]}"#).unwrap(),
        );
    }
    v
}

fn load(hub: &Hub) -> Data {
    let subs = population(1000, 21);
    let of = |member: &str, kind: &str| -> Vec<&synth::Submission> {
        subs.iter()
            .filter(|s| {
                s.kind == kind
                    && s.action == synth::Action::Submit
                    && super::member_of(&s.bundle) == member
            })
            .collect()
    };
    // A patient with a 患者サマリー, a 健診 and a 傷病名 unit of four conditions or more, each
    // from a different institution.
    let members: BTreeSet<String> = subs
        .iter()
        .filter(|s| s.kind == "ePCS")
        .map(|s| super::member_of(&s.bundle))
        .collect();
    let (member, unit, checkup, pcs) = members
        .into_iter()
        .find_map(|m| {
            let pcs = *of(&m, "ePCS").first()?;
            let checkup = *of(&m, "eCheckup").first()?;
            let senders = [
                institution_of(&bytes(&pcs.bundle)),
                institution_of(&bytes(&checkup.bundle)),
            ];
            if senders[0] == senders[1] {
                return None;
            }
            let unit = of(&m, "Condition").into_iter().find(|u| {
                u.resources >= 5 && !senders.contains(&institution_of(&bytes(&u.bundle)))
            })?;
            Some((m, unit, checkup, pcs))
        })
        .expect("a patient with 傷病名, 健診 and 患者サマリー from three institutions");
    let pick = |kind: &str| match kind {
        "Condition" => unit,
        "eCheckup" => checkup,
        _ => pcs,
    };
    let unit = clean_unit(&pick("Condition").bundle);
    let r = hub.submit(&bytes(&unit));
    assert_eq!(r.status, 200, "{}", r.body);
    let condition = super::stored_ids_in_order(&r)[0].clone();
    let r = hub.submit(&bytes(&pick("eCheckup").bundle));
    assert_eq!(r.status, 200, "{}", r.body);
    let checkup = super::document_of(&r);
    let r = hub.submit(&bytes(&pick("ePCS").bundle));
    assert_eq!(r.status, 200, "{}", r.body);
    let pcs = super::document_of(&r);
    let r = hub.get_as(
        &summary_path(&member),
        &[("X-Clins-Dev-Patient", &enc(&member))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let patient_id = r.entries()[0]
        .pointer("resource.id")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    Data {
        four: four_items(&unit),
        submitter: institution_of(&bytes(&unit)),
        checkup_sender: institution_of(&bytes(&pick("eCheckup").bundle)),
        pcs_sender: institution_of(&bytes(&pick("ePCS").bundle)),
        member,
        unit,
        condition,
        patient_id,
        checkup,
        pcs,
    }
}

/// The 4 情報 query of the Patient of a Bundle (its first entry).
fn four_items(bundle: &Value) -> String {
    let p = bundle.get("entry").map(Value::items).unwrap()[0]
        .get("resource")
        .unwrap();
    let name = p.get("name").map(Value::items).unwrap()[0]
        .get("text")
        .and_then(Value::as_str)
        .unwrap();
    let address = p.get("address").map(Value::items).unwrap()[0]
        .get("text")
        .and_then(Value::as_str)
        .unwrap();
    format!(
        "name={}&birthdate={}&gender={}&address={}",
        enc(name),
        p.get("birthDate").and_then(Value::as_str).unwrap(),
        p.get("gender").and_then(Value::as_str).unwrap(),
        enc(address)
    )
}

fn run_cli(backend: &Backend, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(args)
        .args(backend_args(backend))
        .output()
        .expect("run clins-hub");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The same actors signed in with real credentials: every registered institution gets a client
/// (`clins-hub clients register`) and each institution actor an access token (all scopes; a
/// user assertion for the practitioners, two factors as `amr` pwd + otp). The unregistered
/// institution cannot get a token and keeps its header; patients, the qualification service
/// and the operator have no sign-in of this kind yet and keep theirs.
fn with_tokens(backend: &Backend, port: u16, actors: Vec<Actor>) -> Vec<Actor> {
    let key = crate::tokens::ec_key("k1");
    let jwks = temp(&format!("matrix-jwks-{}.json", store::random_id()));
    std::fs::write(&jwks, crate::tokens::jwks(&[&key])).unwrap();
    let jwks_arg = jwks.to_string_lossy().into_owned();
    let header = |a: &Actor, name: &str| {
        a.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let mut done: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for a in actors {
        if let Some(encoded) = header(&a, "X-Clins-Dev-Patient") {
            // A patient signs in: a code from the qualification service, a password, TOTP.
            let cookie = patient_session(port, &percent_decode(&encoded));
            out.push(Actor {
                name: a.name,
                headers: vec![("Cookie", cookie)],
            });
            continue;
        }
        let Some(number) = header(&a, "X-Clins-Dev-Institution").filter(|n| n != "1319999999")
        else {
            out.push(a);
            continue;
        };
        if !done.contains(&number) {
            run_cli(
                backend,
                &["clients", "register", &number, "--jwks", &jwks_arg],
            );
            done.push(number.clone());
        }
        let token = match header(&a, "X-Clins-Dev-Practitioner") {
            Some(p) => {
                let mut parts = p.split(';');
                let id = parts.next().unwrap().to_string();
                let flags: Vec<&str> = parts.collect();
                let amr: &[&str] = if flags.contains(&"2fa") {
                    &["pwd", "otp"]
                } else {
                    &["pwd"]
                };
                crate::tokens::user_token(
                    port,
                    &number,
                    &key,
                    &id,
                    flags.contains(&"emergency"),
                    amr,
                )
            }
            None => crate::tokens::token(port, &number, &key, "system/*.cruds")
                .unwrap_or_else(|r| panic!("token for {number}: {}", r.body)),
        };
        let mut headers: Vec<(&'static str, String)> = a
            .headers
            .into_iter()
            .filter(|(k, _)| !k.starts_with("X-Clins-Dev-"))
            .collect();
        headers.push(("Authorization", format!("Bearer {token}")));
        out.push(Actor {
            name: a.name,
            headers,
        });
    }
    let _ = std::fs::remove_file(&jwks);
    let signed_in = out
        .iter()
        .filter(|a| a.headers.iter().any(|(k, _)| *k == "Authorization"))
        .count();
    assert_eq!(signed_in, 23, "institution actors with a token");
    let sessions = out
        .iter()
        .filter(|a| a.headers.iter().any(|(k, _)| *k == "Cookie"))
        .count();
    assert_eq!(sessions, 2, "patients with a session");
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A signed-in session of patient `member` (the `Cookie` header value).
fn patient_session(port: u16, member: &str) -> String {
    let json = |path: &str, headers: &[(&str, &str)], body: String| {
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        request(port, "POST", path, &h, body.as_bytes())
    };
    let field = |r: &Resp, k: &str| {
        r.json()
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{k}: {}", r.body))
            .to_string()
    };
    let body_member = fhir::json::to_string(&Value::string(member));
    let r = json(
        "/auth/patients/activation",
        &[("X-Clins-Dev-Role", "qualification-service")],
        format!(r#"{{"member_id":{body_member}}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let code = field(&r, "activation_code");
    let password = format!("passphrase of {}", store::random_id());
    let r = json(
        "/auth/activate",
        &[],
        format!(
            r#"{{"kind":"patient","login":{body_member},"code":"{code}","password":"{password}"}}"#
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let totp = field(&r, "totp_secret");
    let step = app::auth::secrets::totp_step(app::dates::instant_millis(NOW).unwrap() / 1000);
    let now_code = app::auth::secrets::totp_code(&totp, step, 6).unwrap();
    let r = json(
        "/auth/login",
        &[],
        format!(
            r#"{{"kind":"patient","login":{body_member},"password":"{password}","totp":"{now_code}"}}"#
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    secret(&code);
    secret(&password);
    secret(cookie.split('=').nth(1).unwrap());
    cookie
}

/// The authorisation matrix with development headers.
pub fn authorization_matrix(kind: &str) {
    matrix(kind, false);
}

/// The authorisation matrix with real credentials (tokens of SMART Backend Services).
pub fn authorization_matrix_with_tokens(kind: &str) {
    matrix(kind, true);
}

fn matrix(kind: &str, tokens: bool) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), Some(NOW));
    let d = load(&hub);
    let member = d.member.as_str();
    let insurer = member.split(':').next().unwrap().to_string();
    let port = hub.port;
    // The registry: one institution per consent state, kinds, insurers, disaster coverage.
    for (n, k) in [
        ("1311000001", "hospital"), // no consent
        ("1311000002", "hospital"), // live consent
        ("1311000003", "hospital"), // expired consent
        ("1311000004", "hospital"), // consent for another institution only
        ("1311000005", "hospital"), // revoked consent
        ("1311000006", "hospital"), // emergency doctors
        ("1311000007", "clinic"),
        ("1311000008", "clinic"), // emergency claim by a clinic
        ("1331000009", "dental"),
        ("1341000010", "pharmacy"),
        ("1321000011", "checkup"),
        ("2711000012", "hospital"), // inside a declared disaster
        ("2811000013", "hospital"), // covered by a disaster that has ended its period
        ("2911000014", "hospital"), // not covered
        ("1311000015", "hospital"), // to be disabled
        ("06139999", "insurer"),    // another insurer
    ] {
        register_as(port, n, k);
    }
    register_as(port, &insurer, "insurer");
    if !tokens {
        run_cli(&backend, &["institutions", "disable", "1311000015"]);
    }
    let qs = [
        ("X-Clins-Dev-Role", "qualification-service"),
        ("Content-Type", "application/fhir+json"),
    ];
    let grant = |inst: &str, period: Option<(&str, &str)>| {
        let r = request(
            port,
            "POST",
            "/fhir/Consent",
            &qs,
            consent_body(member, inst, period).as_bytes(),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
            .get("id")
            .and_then(Value::as_str)
            .unwrap()
            .to_string()
    };
    for inst in ["1311000002", "1311000007", "1331000009", "1341000010"] {
        grant(inst, None);
    }
    register_as(port, "1311000099", "hospital");
    grant("1311000099", None);
    grant(
        "1311000003",
        Some(("2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z")),
    );
    let revoked = grant("1311000005", None);
    let r = request(
        port,
        "DELETE",
        &format!("/fhir/Consent/{revoked}"),
        &[("X-Clins-Dev-Patient", &enc(member))],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Disasters: prefecture 27 now; prefecture 28 a month ago.
    run_cli(
        &backend,
        &[
            "disaster",
            "declare",
            "--from",
            "2026-11-19",
            "--to",
            "2026-11-22",
            "--prefecture",
            "27",
        ],
    );
    run_cli(
        &backend,
        &[
            "disaster",
            "declare",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-10",
            "--prefecture",
            "28",
        ],
    );

    let other_patient = "06139999:1:99999:";
    let actors = vec![
        inst("submitter", &d.submitter),
        inst("hospital, no consent", "1311000001"),
        inst("hospital, live consent", "1311000002"),
        inst("hospital, expired consent", "1311000003"),
        inst("hospital, consent for another", "1311000004"),
        inst("hospital, revoked consent", "1311000005"),
        inst("clinic, consent", "1311000007"),
        inst("dental, consent", "1331000009"),
        inst("pharmacy, consent", "1341000010"),
        inst("checkup centre", "1321000011"),
        inst("checkup sender", &d.checkup_sender),
        inst("pcs sender", &d.pcs_sender),
        inst("own insurer", &insurer),
        inst("other insurer", "06139999"),
        Actor {
            name: "patient",
            headers: vec![("X-Clins-Dev-Patient", enc(member))],
        },
        Actor {
            name: "other patient",
            headers: vec![("X-Clins-Dev-Patient", enc(other_patient))],
        },
        Actor {
            name: "qualification service",
            headers: vec![("X-Clins-Dev-Role", "qualification-service".into())],
        },
        Actor {
            name: "operator",
            headers: vec![("X-Clins-Dev-Role", "operator".into())],
        },
        inst("unregistered", "1319999999"),
        inst("disabled", "1311000015"),
        Actor {
            name: "no credentials",
            headers: vec![],
        },
        doctor("emergency: valid", "1311000006", "er1;emergency;2fa", true),
        doctor("emergency: clinic", "1311000008", "er2;emergency;2fa", true),
        doctor("emergency: no privilege", "1311000006", "dr3;2fa", true),
        doctor("emergency: no 2FA", "1311000006", "er4;emergency", true),
        doctor(
            "emergency: no ETREAT",
            "1311000006",
            "er5;emergency;2fa",
            false,
        ),
        inst("disaster: inside, covered", "2711000012"),
        inst("disaster: outside the period", "2811000013"),
        inst("disaster: not covered", "2911000014"),
    ];
    let actors = if tokens {
        let a = with_tokens(&backend, port, actors);
        // Disabled after its token was issued, through the hub (which forgets its cached
        // registry entry at once).
        let r = request(
            port,
            "POST",
            "/admin/institutions/1311000015/disable",
            &[("X-Clins-Dev-Role", "operator")],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.body);
        a
    } else {
        actors
    };
    let ident = enc(&format!("{MEMBER_SYSTEM}|{member}"));
    let endpoints: Vec<(&str, String)> = vec![
        ("GET", format!("/fhir/Patient/$summary?identifier={ident}")),
        ("GET", format!("/fhir/Condition?patient.identifier={ident}")),
        ("GET", format!("/fhir/{}", d.condition)),
        ("GET", format!("/fhir/{}/_history", d.condition)),
        ("GET", format!("/fhir/Patient/{}", d.patient_id)),
        ("GET", format!("/fhir/Bundle/{}", d.checkup)),
        ("GET", format!("/fhir/Bundle/{}", d.pcs)),
        ("GET", format!("/fhir/DocumentReference/{}", d.checkup)),
        ("GET", format!("/fhir/Consent?patient={}", enc(member))),
        ("GET", format!("/fhir/Patient?{}", d.four)),
        ("GET", "/admin/institutions".to_string()),
    ];
    // The expected status per actor, in the order of `endpoints`.
    #[rustfmt::skip]
    let table: &[(&str, [u16; 11])] = &[
        //                                 summary search read hist  Pat  chk  pcs  DRef Cons 4情報 admin
        ("submitter",                     [403, 403, 200, 200, 404, 404, 404, 404, 403, 403, 403]),
        ("hospital, no consent",          [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("hospital, live consent",        [200, 200, 200, 200, 200, 200, 404, 200, 403, 403, 403]),
        ("hospital, expired consent",     [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("hospital, consent for another", [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("hospital, revoked consent",     [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("clinic, consent",               [200, 200, 200, 200, 200, 200, 404, 200, 403, 403, 403]),
        ("dental, consent",               [200, 200, 200, 200, 200, 200, 404, 200, 403, 403, 403]),
        ("pharmacy, consent",             [200, 200, 200, 200, 200, 200, 404, 200, 403, 403, 403]),
        ("checkup centre",                [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("checkup sender",                [403, 403, 404, 404, 404, 200, 404, 200, 403, 403, 403]),
        ("pcs sender",                    [403, 403, 404, 404, 404, 404, 200, 404, 403, 403, 403]),
        ("own insurer",                   [403, 403, 404, 404, 404, 200, 404, 200, 403, 403, 403]),
        ("other insurer",                 [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("patient",                       [200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 403]),
        ("other patient",                 [404, 404, 404, 404, 404, 404, 404, 404, 404, 403, 403]),
        ("qualification service",         [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("operator",                      [403, 403, 404, 404, 404, 404, 404, 404, 200, 403, 200]),
        ("unregistered",                  [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
        ("disabled",                      [403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]),
        ("no credentials",                [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401]),
        ("emergency: valid",              [200, 200, 200, 200, 200, 403, 404, 403, 403, 200, 403]),
        ("emergency: clinic",             [403, 403, 403, 403, 403, 403, 404, 403, 403, 403, 403]),
        ("emergency: no privilege",       [403, 403, 403, 403, 403, 403, 404, 403, 403, 403, 403]),
        ("emergency: no 2FA",             [403, 403, 403, 403, 403, 403, 404, 403, 403, 403, 403]),
        ("emergency: no ETREAT",          [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("disaster: inside, covered",     [200, 200, 200, 200, 200, 200, 404, 200, 403, 200, 403]),
        ("disaster: outside the period",  [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
        ("disaster: not covered",         [403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403]),
    ];
    assert_eq!(table.len(), actors.len());
    let mut failures = Vec::new();
    let mut n = 0;
    let audited_before = hub.audit_records();
    for (name, want) in table {
        let actor = actors
            .iter()
            .find(|a| a.name == *name)
            .expect("actor of the row");
        let headers: Vec<(&str, &str)> = actor
            .headers
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        for ((method, path), want) in endpoints.iter().zip(want) {
            n += 1;
            let r = request(port, method, path, &headers, b"");
            if r.status != *want {
                failures.push(format!(
                    "{name}: {method} {path} → {} (want {want}) {}",
                    r.status,
                    &r.body[..r.body.len().min(300)]
                ));
            }
            // Every refusal is an OperationOutcome.
            if r.status >= 400 {
                let body = r.json();
                if body.get("resourceType").and_then(Value::as_str) != Some("OperationOutcome") {
                    failures.push(format!("{name}: {method} {path}: not an OperationOutcome"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every request of the matrix left exactly one audit record.
    assert_eq!(
        hub.audit_records() - audited_before,
        n as i64,
        "one audit record per request of the matrix"
    );
    // A hidden resource answers exactly as one that does not exist.
    let hidden = request(
        port,
        "GET",
        &format!("/fhir/{}", d.condition),
        &[("X-Clins-Dev-Institution", "1311000001")],
        b"",
    );
    let absent = request(
        port,
        "GET",
        "/fhir/Condition/0-0000000000000000",
        &[("X-Clins-Dev-Institution", "1311000001")],
        b"",
    );
    assert_eq!(
        (hidden.status, hidden.details()),
        (absent.status, absent.details())
    );
    // Development authentication: a header sent twice, or two kinds of caller, is refused.
    for headers in [
        vec![
            ("X-Clins-Dev-Institution", "1311000002"),
            ("X-Clins-Dev-Institution", "1311000001"),
        ],
        vec![
            ("X-Clins-Dev-Institution", "1311000002"),
            ("X-Clins-Dev-Role", "operator"),
        ],
        vec![
            ("X-Clins-Dev-Institution", "1311000002"),
            ("X-Clins-Purpose-Of-Use", "TREAT"),
        ],
        vec![
            ("X-Clins-Dev-Patient", "x"),
            ("X-Clins-Dev-Practitioner", "dr"),
        ],
    ] {
        let r = request(port, "GET", &endpoints[0].1, &headers, b"");
        assert!(
            matches!(r.status, 400 | 401),
            "{headers:?} → {}: {}",
            r.status,
            r.body
        );
    }
    // Every access without consent was recorded for the patient to see (checked in the
    // database: the patient's view of the log comes with the audit log).
    if let Backend::Postgres(url) = &backend {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        let normalized = clins::InsuranceMemberId::parse(member)
            .unwrap()
            .normalized();
        let rows: Vec<(String, String, String)> = c
            .query(
                "SELECT DISTINCT basis, institution, practitioner FROM access_records WHERE member_id = $1 ORDER BY 1, 2, 3",
                &[&normalized],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    "disaster".to_string(),
                    "2711000012".to_string(),
                    String::new()
                ),
                (
                    "emergency".to_string(),
                    "1311000006".to_string(),
                    "er1".to_string()
                ),
            ]
        );
    }
    drop(hub);
    drop_backend(&backend);
}

/// The patient's own view: no UNINFORMED, UNDELIVERED or suspected diagnosis (not even
/// counted), 患者サマリー for six months, another patient's data 404; the insurer's: its own
/// insured's 健診 only.
pub fn patient_and_insurer_views(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), Some(NOW));
    let d = load(&hub);
    let member = d.member.clone();
    let me = [("X-Clins-Dev-Patient", enc(&member))];
    let me: Vec<(&str, &str)> = me.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The unit again, its conditions flagged: UNINFORMED, UNDELIVERED, none, suspected.
    let mut flagged = d.unit.clone();
    for (i, code) in [(1, "UNINFORMED"), (2, "UNDELIVERED")] {
        super::add_tag(resource_mut(&mut entries_mut(&mut flagged)[i]), code);
    }
    resource_mut(&mut entries_mut(&mut flagged)[4]).insert(
        "verificationStatus",
        fhir::json::parse(r#"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"provisional"}]}"#).unwrap(),
    );
    let r = hub.submit(&bytes(&flagged));
    assert_eq!(r.status, 200, "{}", r.body);
    let ids = super::stored_ids_in_order(&r);
    let (uninformed, undelivered, plain, suspected) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let summary = hub.get_as("/fhir/Patient/$summary", &me);
    assert_eq!(summary.status, 200, "{}", summary.body);
    let seen = super::entry_ids(&summary);
    assert!(seen.contains(plain), "{seen:?}");
    for hidden in [uninformed, undelivered, suspected] {
        assert!(
            !seen.contains(hidden),
            "{hidden} is not shown to the patient"
        );
        assert!(
            !summary.body.contains(hidden.split('/').nth(1).unwrap()),
            "nor mentioned"
        );
        let r = hub.get_as(&format!("/fhir/{hidden}"), &me);
        assert_eq!(r.status, 404, "{hidden}: {}", r.body);
    }
    // Not counted: a search's entries are the shown ones only.
    let search = hub.get_as("/fhir/Condition?_count=1000", &me);
    assert_eq!(search.status, 200, "{}", search.body);
    let found = super::entry_ids(&search);
    assert!(found.iter().all(|i| seen.contains(i)), "{found:?}");
    assert!(
        !search.body.contains("\"total\""),
        "no count that would betray hidden entries"
    );
    // Another patient's data: 404, exactly like data that does not exist.
    let other = [("X-Clins-Dev-Patient", enc("06139999:1:99999:"))];
    let other: Vec<(&str, &str)> = other.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for path in [
        format!("/fhir/{plain}"),
        format!("/fhir/Bundle/{}", d.pcs),
        format!("/fhir/Patient/{}", d.patient_id),
        summary_path(&member),
    ] {
        assert_eq!(hub.get_as(&path, &other).status, 404, "{path}");
    }
    // The patient's documents: 健診 and 患者サマリー listed and readable.
    let docs = hub.get_as("/fhir/DocumentReference", &me);
    assert_eq!(docs.status, 200, "{}", docs.body);
    let listed = super::entry_ids(&docs);
    assert!(
        listed.contains(&format!("DocumentReference/{}", d.pcs)),
        "{listed:?}"
    );
    assert!(
        listed.contains(&format!("DocumentReference/{}", d.checkup)),
        "{listed:?}"
    );
    assert_eq!(
        hub.get_as(&format!("/fhir/Bundle/{}", d.pcs), &me).status,
        200
    );
    // Insurers: the own insured's checkup listed (without naming a patient) and readable;
    // another insurer's insured's not.
    let insurer = member.split(':').next().unwrap().to_string();
    register_as(hub.port, &insurer, "insurer");
    register_as(hub.port, "06139999", "insurer");
    let own = hub.get_as(
        "/fhir/DocumentReference",
        &[("X-Clins-Dev-Institution", &insurer)],
    );
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(
        super::entry_ids(&own),
        [format!("DocumentReference/{}", d.checkup)]
            .into_iter()
            .collect(),
        "{}",
        own.body
    );
    assert_eq!(
        hub.get_as(
            &format!("/fhir/Bundle/{}", d.checkup),
            &[("X-Clins-Dev-Institution", &insurer)]
        )
        .status,
        200
    );
    let theirs = hub.get_as(
        "/fhir/DocumentReference",
        &[("X-Clins-Dev-Institution", "06139999")],
    );
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert!(super::entry_ids(&theirs).is_empty(), "{}", theirs.body);
    assert_eq!(
        hub.get_as(
            &format!("/fhir/Bundle/{}", d.checkup),
            &[("X-Clins-Dev-Institution", "06139999")]
        )
        .status,
        404
    );
    // Seven months later the 患者サマリー is gone for the patient; the 健診 stays.
    drop(hub);
    let hub = Hub::start(&backend, &ig(), Some("2027-06-20T03:00:00.000Z"));
    let docs = hub.get_as("/fhir/DocumentReference", &me);
    let listed = super::entry_ids(&docs);
    assert!(
        !listed.contains(&format!("DocumentReference/{}", d.pcs)),
        "{listed:?}"
    );
    assert!(
        listed.contains(&format!("DocumentReference/{}", d.checkup)),
        "{listed:?}"
    );
    assert_eq!(
        hub.get_as(&format!("/fhir/Bundle/{}", d.pcs), &me).status,
        404
    );
    drop(hub);
    drop_backend(&backend);
}

/// Identification by the 4 情報: all four required, the address matched loosely after the
/// prefecture, one patient or 404, several → 409 (never a list); only in an emergency or a
/// disaster.
pub fn identification_by_four_items(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, &ig(), Some(NOW));
    let d = load(&hub);
    let port = hub.port;
    register_as(port, "1311000006", "hospital");
    let er = [
        ("X-Clins-Dev-Institution", "1311000006"),
        ("X-Clins-Dev-Practitioner", "er1;emergency;2fa"),
        ("X-Clins-Purpose-Of-Use", "ETREAT"),
    ];
    let get = |q: &str| request(port, "GET", &format!("/fhir/Patient?{q}"), &er, b"");
    let r = get(&d.four);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.entries().len(), 1);
    assert_eq!(
        r.entries()[0]
            .pointer("resource.id")
            .and_then(Value::as_str),
        Some(d.patient_id.as_str())
    );
    // Loosely: spaces, full-width digits, 丁目/番/号 written as dashes, no prefecture.
    let p = d.unit.get("entry").map(Value::items).unwrap()[0]
        .get("resource")
        .unwrap()
        .clone();
    let address = p.get("address").map(Value::items).unwrap()[0]
        .get("text")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let state = p.get("address").map(Value::items).unwrap()[0]
        .get("state")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let loose = address
        .trim_start_matches(state.as_str())
        .replace("丁目", "－")
        .replace('番', "-")
        .replace('号', "");
    let q = d.four.split("&address=").next().unwrap().to_string();
    let r = get(&format!("{q}&address={}", enc(&loose)));
    assert_eq!(r.status, 200, "{loose}: {}", r.body);
    // Another prefecture, another date of birth: nobody.
    assert_eq!(
        get(&format!("{q}&address={}", enc("沖縄県那覇市"))).status,
        404
    );
    // All four are required; each once.
    for missing in ["name", "birthdate", "gender", "address"] {
        let partial: Vec<&str> = d
            .four
            .split('&')
            .filter(|kv| !kv.starts_with(&format!("{missing}=")))
            .collect();
        let r = get(&partial.join("&"));
        assert_eq!(r.status, 400, "without {missing}: {}", r.body);
    }
    assert_eq!(get(&format!("{}&gender=male", d.four)).status, 400);
    // A second patient with the same name, date of birth, sex and address: 409, never a list.
    let subs = population(200, 33);
    let twin = subs
        .iter()
        .find(|s| {
            s.kind == "Condition"
                && s.action == synth::Action::Submit
                && super::member_of(&s.bundle) != d.member
        })
        .unwrap();
    let mut twin = twin.bundle.clone();
    {
        let r = resource_mut(&mut entries_mut(&mut twin)[0]);
        for key in ["name", "birthDate", "gender", "address"] {
            r.insert(key, p.get(key).unwrap().clone());
        }
    }
    let r = hub.submit(&bytes(&twin));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(&d.four);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.details().contains(&"IDENTIFY-AMBIGUOUS".to_string()),
        "{}",
        r.body
    );
    assert!(!r.body.contains(&d.patient_id), "no patient is named");
    // Without an emergency or a disaster: refused, whoever asks.
    register_as(port, "1311000001", "hospital");
    for headers in [
        vec![("X-Clins-Dev-Institution", "1311000001")],
        vec![("X-Clins-Dev-Role", "qualification-service")],
        vec![("X-Clins-Dev-Role", "operator")],
    ] {
        let r = request(
            port,
            "GET",
            &format!("/fhir/Patient?{}", d.four),
            &headers,
            b"",
        );
        assert_eq!(r.status, 403, "{headers:?}: {}", r.body);
    }
    drop(hub);
    drop_backend(&backend);
}

/// Viewing consent lasts as long as `serve --consent-hours` says: a longer period is refused, a
/// grant without a period ends that many hours after it starts, and a revoked one stops at once.
pub fn consent_validity_is_a_setting(kind: &str) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start_with(&backend, &ig(), Some(NOW), &["--consent-hours", "2"]);
    let port = hub.port;
    register_as(port, "1311000002", "hospital");
    let member = "06139999:1:4242:";
    let qs = [
        ("X-Clins-Dev-Role", "qualification-service"),
        ("Content-Type", "application/fhir+json"),
    ];
    let post = |period| {
        request(
            port,
            "POST",
            "/fhir/Consent",
            &qs,
            consent_body(member, "1311000002", period).as_bytes(),
        )
    };
    let r = post(Some(("2026-11-20T03:00:00Z", "2026-11-20T06:00:00Z")));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.details().contains(&"CONSENT-PERIOD".to_string()),
        "{}",
        r.body
    );
    let r = post(None);
    assert_eq!(r.status, 201, "{}", r.body);
    let c = r.json();
    assert_eq!(
        c.pointer("provision.period.start").and_then(Value::as_str),
        Some(NOW)
    );
    assert_eq!(
        c.pointer("provision.period.end").and_then(Value::as_str),
        Some("2026-11-20T05:00:00.000Z")
    );
    assert_eq!(c.get("status").and_then(Value::as_str), Some("active"));
    drop(hub);
    drop_backend(&backend);
}
