//! Sign-in of people: staff accounts (the operator makes an institution's administrator, the
//! administrator its staff), activation with a one-time code, password + TOTP, each code once,
//! lockout, CSRF on every change, session expiry and sign-out; patients activated through the
//! qualification service, who reach only their own data. No password, code or cookie in the
//! log.

use fhir::json::Value;

use crate::harness::*;

const NOW: &str = "2026-11-20T03:00:00.000Z";

fn seconds(t: &str) -> i64 {
    app::dates::instant_millis(t).unwrap() / 1000
}

/// The TOTP code of `secret` at `t`, `ahead` steps on.
fn code(secret: &str, t: &str, ahead: i64) -> String {
    let step = app::auth::secrets::totp_step(seconds(t)) + ahead;
    app::auth::secrets::totp_code(secret, step, 6).unwrap()
}

/// Keeps a secret for this test's own check and the suite's (`harness::secret`).
fn remember(list: &mut Vec<String>, s: impl Into<String>) {
    let s = s.into();
    secret(&s);
    list.push(s);
}

fn post_json(port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    request(port, "POST", path, &h, body.as_bytes())
}

fn field(r: &Resp, k: &str) -> String {
    r.json()
        .get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{k} in {}", r.body))
        .to_string()
}

/// The session cookie of a sign-in answer, as a `Cookie` header value.
fn cookie_of(r: &Resp) -> String {
    let set = r.header("set-cookie").expect("Set-Cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    set.split(';').next().unwrap().to_string()
}

fn login(port: u16, body: &str) -> Resp {
    post_json(port, "/auth/login", &[], body)
}

fn staff_login(port: u16, inst: &str, login_id: &str, password: &str, totp: &str) -> Resp {
    login(
        port,
        &format!(
            r#"{{"kind":"staff","institution":"{inst}","login":"{login_id}","password":"{password}","totp":"{totp}"}}"#
        ),
    )
}

pub fn people_sign_in(kind: &str, ig: &[std::path::PathBuf]) {
    let Some(backend) = fresh(kind) else { return };
    let mut hub = Hub::start_verbose(&backend, ig, Some(NOW), &[]);
    let port = hub.port;
    let inst = "1312000001";
    register(port, inst);
    register(port, "1312000002");
    let op = [("X-Clins-Dev-Role", "operator")];
    let mut secrets: Vec<String> = Vec::new();

    // The operator makes the institution's administrator.
    let r = post_json(
        port,
        "/auth/staff",
        &op,
        &format!(r#"{{"institution":"{inst}","login":"admin","name":"管理 太郎","admin":true}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let admin_code = field(&r, "activation_code");
    remember(&mut secrets, admin_code.clone());
    // Activation: a weak password, a wrong code, then the code (once).
    let activate = |login_id: &str, code: &str, password: &str| {
        post_json(
            port,
            "/auth/activate",
            &[],
            &format!(
                r#"{{"kind":"staff","institution":"{inst}","login":"{login_id}","code":"{code}","password":"{password}"}}"#
            ),
        )
    };
    let r = activate("admin", &admin_code, "short");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("PASSWORD-WEAK"));
    let r = activate("admin", "AAAA-BBBB-CCCC", "a long admin passphrase");
    assert_eq!(r.status, 401, "{}", r.body);
    let admin_password = "a long admin passphrase";
    remember(&mut secrets, admin_password);
    let r = activate("admin", &admin_code.to_lowercase(), admin_password);
    assert_eq!(r.status, 200, "{}", r.body);
    let admin_totp = field(&r, "totp_secret");
    assert!(field(&r, "otpauth").starts_with("otpauth://totp/"));
    remember(&mut secrets, admin_totp.clone());
    assert_eq!(
        activate("admin", &admin_code, admin_password).status,
        401,
        "a code works once"
    );

    // Sign-in: wrong password, wrong TOTP, right; the same code again is refused.
    let now_code = code(&admin_totp, NOW, 0);
    assert_eq!(
        staff_login(port, inst, "admin", "wrong passphrase!!", &now_code).status,
        401
    );
    let wrong = format!("{:06}", (now_code.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        staff_login(port, inst, "admin", admin_password, &wrong).status,
        401
    );
    let r = staff_login(port, inst, "admin", admin_password, &now_code);
    assert_eq!(r.status, 200, "{}", r.body);
    let admin_cookie = cookie_of(&r);
    let admin_csrf = field(&r, "csrf");
    remember(
        &mut secrets,
        admin_cookie.split('=').nth(1).unwrap().to_string(),
    );
    remember(&mut secrets, admin_csrf.clone());
    let r = staff_login(port, inst, "admin", admin_password, &now_code);
    assert_eq!(r.status, 401, "a TOTP code signs in once: {}", r.body);
    let r = staff_login(
        port,
        inst,
        "admin",
        admin_password,
        &code(&admin_totp, NOW, 1),
    );
    assert_eq!(r.status, 200, "the next code works: {}", r.body);

    // The administrator makes a doctor; CSRF is required, and only for its own institution.
    let doctor = r#"{"institution":"1312000001","login":"dr1","name":"医師 花子","qualification":"doctor","emergency":true}"#;
    let r = post_json(port, "/auth/staff", &[("Cookie", &admin_cookie)], doctor);
    assert_eq!(r.status, 403, "no CSRF token: {}", r.body);
    assert!(r.body.contains("CSRF"));
    let r = post_json(
        port,
        "/auth/staff",
        &[("Cookie", &admin_cookie), ("X-CSRF-Token", "forged")],
        doctor,
    );
    assert_eq!(r.status, 403, "a wrong CSRF token: {}", r.body);
    let with_csrf = [
        ("Cookie", admin_cookie.as_str()),
        ("X-CSRF-Token", admin_csrf.as_str()),
    ];
    let r = post_json(port, "/auth/staff", &with_csrf, doctor);
    assert_eq!(r.status, 201, "{}", r.body);
    let dr_code = field(&r, "activation_code");
    remember(&mut secrets, dr_code.clone());
    let r = post_json(
        port,
        "/auth/staff",
        &with_csrf,
        r#"{"institution":"1312000002","login":"x","name":"他院"}"#,
    );
    assert_eq!(r.status, 403, "another institution's staff: {}", r.body);
    let r = request(
        port,
        "GET",
        "/auth/staff",
        &[("Cookie", &admin_cookie)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().items().len(), 2, "{}", r.body);

    // The doctor: activation, sign-in, its session; not an administrator.
    let dr_password = "the doctor's passphrase";
    remember(&mut secrets, dr_password);
    let r = activate("dr1", &dr_code, dr_password);
    assert_eq!(r.status, 200, "{}", r.body);
    let dr_totp = field(&r, "totp_secret");
    let r = staff_login(port, inst, "dr1", dr_password, &code(&dr_totp, NOW, 0));
    assert_eq!(r.status, 200, "{}", r.body);
    let dr_cookie = cookie_of(&r);
    let dr_csrf = field(&r, "csrf");
    let r = request(port, "GET", "/auth/session", &[("Cookie", &dr_cookie)], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(field(&r, "institution"), inst);
    assert_eq!(
        r.json().get("staff_admin").and_then(Value::as_bool),
        Some(false)
    );
    let r = post_json(
        port,
        "/auth/staff",
        &[("Cookie", &dr_cookie), ("X-CSRF-Token", &dr_csrf)],
        r#"{"institution":"1312000001","login":"dr2","name":"x"}"#,
    );
    assert_eq!(r.status, 403, "not an administrator: {}", r.body);
    // A session and a development header together are ambiguous.
    let r = request(
        port,
        "GET",
        "/auth/session",
        &[("Cookie", &dr_cookie), ("X-Clins-Dev-Role", "operator")],
        b"",
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // Lockout: five failures lock the account, even against the right password and code.
    for _ in 0..5 {
        assert_eq!(
            staff_login(port, inst, "dr1", "not the passphrase", "000000").status,
            401
        );
    }
    let r = staff_login(port, inst, "dr1", dr_password, &code(&dr_totp, NOW, 1));
    assert_eq!(r.status, 401, "locked: {}", r.body);

    // A patient: the qualification service issues the code at the card reader.
    let subs = crate::population(1, 7);
    for s in &subs {
        let r = submit_to(port, &crate::bytes(&s.bundle));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let member = member_of(&subs[0].bundle);
    let r = post_json(
        port,
        "/auth/patients/activation",
        &[("X-Clins-Dev-Institution", inst)],
        &format!(r#"{{"member_id":"{member}"}}"#),
    );
    assert_eq!(
        r.status, 403,
        "an institution does not issue patients' codes: {}",
        r.body
    );
    let r = post_json(
        port,
        "/auth/patients/activation",
        &[("X-Clins-Dev-Role", "qualification-service")],
        &format!(r#"{{"member_id":"{member}"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let p_code = field(&r, "activation_code");
    remember(&mut secrets, p_code.clone());
    let p_password = "the patient's passphrase";
    remember(&mut secrets, p_password);
    let r = post_json(
        port,
        "/auth/activate",
        &[],
        &format!(
            r#"{{"kind":"patient","login":"{member}","code":"{p_code}","password":"{p_password}"}}"#
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let p_totp = field(&r, "totp_secret");
    let r = login(
        port,
        &format!(
            r#"{{"kind":"patient","login":"{member}","password":"{p_password}","totp":"{}"}}"#,
            code(&p_totp, NOW, 0)
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let p_cookie = cookie_of(&r);
    let p_csrf = field(&r, "csrf");
    remember(
        &mut secrets,
        p_cookie.split('=').nth(1).unwrap().to_string(),
    );
    let own = request(
        port,
        "GET",
        "/fhir/Patient/$summary",
        &[("Cookie", &p_cookie)],
        b"",
    );
    assert_eq!(own.status, 200, "own summary: {}", own.body);
    let other = "06139999:1:99999:";
    let r = request(
        port,
        "GET",
        &summary_path(other),
        &[("Cookie", &p_cookie)],
        b"",
    );
    assert_eq!(r.status, 404, "another patient's data: {}", r.body);
    let r = request(
        port,
        "GET",
        &format!(
            "/fhir/Condition?patient.identifier={}",
            enc(&format!("{MEMBER_SYSTEM}|{other}"))
        ),
        &[("Cookie", &p_cookie)],
        b"",
    );
    assert_eq!(r.status, 404, "another patient's search: {}", r.body);
    // A change without the CSRF token is refused; with it, it goes through the decision.
    let consent = format!(
        r#"{{"resourceType":"Consent","status":"active","patient":{{"identifier":{{"value":"{member}"}}}},"provision":{{"actor":[{{"reference":{{"identifier":{{"value":"{inst}"}}}}}}]}}}}"#
    );
    let r = request(
        port,
        "POST",
        "/fhir/Consent",
        &[
            ("Cookie", &p_cookie),
            ("Content-Type", "application/fhir+json"),
        ],
        consent.as_bytes(),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = request(
        port,
        "POST",
        "/fhir/Consent",
        &[
            ("Cookie", &p_cookie),
            ("X-CSRF-Token", &p_csrf),
            ("Content-Type", "application/fhir+json"),
        ],
        consent.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    // Sign-out ends the session.
    let r = request(
        port,
        "POST",
        "/auth/logout",
        &[("Cookie", &p_cookie), ("X-CSRF-Token", &p_csrf)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("set-cookie")
        .is_some_and(|c| c.contains("Max-Age=0")));
    let r = request(
        port,
        "GET",
        "/fhir/Patient/$summary",
        &[("Cookie", &p_cookie)],
        b"",
    );
    assert_eq!(r.status, 401, "{}", r.body);

    // 31 minutes on (a restart with the clock moved): the administrator's session has expired
    // (idle); the doctor's lock (15 minutes) is over.
    hub.terminate();
    let mut logs = vec![hub.log()];
    let later = "2026-11-20T03:31:00.000Z";
    let listen = format!("127.0.0.1:{port}");
    let hub2 = Hub::start_verbose(&backend, ig, Some(later), &["--listen", &listen]);
    let r = request(
        port,
        "GET",
        "/auth/session",
        &[("Cookie", &admin_cookie)],
        b"",
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("SESSION-EXPIRED"), "{}", r.body);
    let r = staff_login(port, inst, "dr1", dr_password, &code(&dr_totp, later, 0));
    assert_eq!(r.status, 200, "unlocked after 15 minutes: {}", r.body);
    logs.push(hub2.log());
    drop(hub2);

    let all = logs.concat();
    assert!(all.contains("/auth/login"), "the sign-ins are logged");
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(!all.contains(s.as_str()), "a secret in the log: {s}");
    }
    drop_backend(&backend);
}
