//! The pages follow the API's access decisions: a staff session sees on the viewer exactly
//! what its institution may see through the API (refused before consent, shown after,
//! refused again after revocation); a patient's session opens only the patient's own
//! documents; one kind of person's session opens no other area; forms without the CSRF token
//! change nothing; every page carries the strict security headers.

use fhir::json::Value;

use crate::harness::*;

const NOW: &str = "2026-11-20T03:00:00.000Z";

fn totp(secret: &str, ahead: i64) -> String {
    let s = app::dates::instant_millis(NOW).unwrap() / 1000;
    app::auth::secrets::totp_code(secret, app::auth::secrets::totp_step(s) + ahead, 6).unwrap()
}

fn json_post(port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    request(port, "POST", path, &h, body.as_bytes())
}

fn text(r: &Resp, k: &str) -> String {
    r.json()
        .get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{k} in {}", r.body))
        .to_string()
}

/// Activates an account (`who` is the JSON of its identity) and signs it in: the cookie.
fn signed_in(port: u16, who: &str, code: &str) -> String {
    let password = "a long test passphrase";
    secret(password);
    secret(code);
    let r = json_post(
        port,
        "/auth/activate",
        &[],
        &format!(r#"{{{who},"code":"{code}","password":"{password}"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = text(&r, "totp_secret");
    secret(&t);
    let r = json_post(
        port,
        "/auth/login",
        &[],
        &format!(
            r#"{{{who},"password":"{password}","totp":"{}"}}"#,
            totp(&t, 0)
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    secret(c.split('=').nth(1).unwrap());
    c
}

fn page(port: u16, path: &str, cookie: &str) -> Resp {
    request(port, "GET", path, &[("Cookie", cookie)], b"")
}

pub fn pages_follow_the_access_decision(kind: &str, ig: &[std::path::PathBuf]) {
    let Some(backend) = fresh(kind) else { return };
    let hub = Hub::start(&backend, ig, Some(NOW));
    let port = hub.port;
    let subs = crate::population(6, 10);
    for s in &subs {
        let r = submit_to(port, &crate::bytes(&s.bundle));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Two patients with documents; the first one's own institution.
    let with_docs: Vec<&synth::Submission> =
        subs.iter().filter(|s| s.kind.starts_with('e')).collect();
    // The first patient has a 患者サマリー (for the portal's care-plan page).
    let member = member_of(
        &with_docs
            .iter()
            .find(|s| s.kind == "ePCS")
            .expect("a patient with a 患者サマリー in the population")
            .bundle,
    );
    let other = with_docs
        .iter()
        .map(|s| member_of(&s.bundle))
        .find(|m| *m != member)
        .expect("a second patient with a document");
    // A hospital that submitted nothing for the patient: its doctor.
    let viewer = "1311000077";
    register_as(port, viewer, "hospital");
    let op = [("X-Clins-Dev-Role", "operator")];
    let r = json_post(
        port,
        "/auth/staff",
        &op,
        &format!(
            r#"{{"institution":"{viewer}","login":"dr","name":"医師 一郎","qualification":"doctor"}}"#
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let dr = signed_in(
        port,
        &format!(r#""kind":"staff","institution":"{viewer}","login":"dr""#),
        &text(&r, "activation_code"),
    );
    let path = format!("/viewer/patient?member={}", enc(&member));
    let api = |inst: &str| hub.get(&summary_path(&member), inst).status;

    // Before consent: the page is refused with the API's status, and shows no clinical data.
    let before = page(port, &path, &dr);
    assert_eq!(
        before.status,
        api(viewer),
        "page and API agree before consent"
    );
    assert_ne!(before.status, 200);
    assert!(!before.body.contains("class=\"danger\""), "{}", before.body);
    for h in [
        "content-security-policy",
        "x-content-type-options",
        "cache-control",
        "x-frame-options",
    ] {
        assert!(before.header(h).is_some(), "{h} on a page");
    }
    assert!(before
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));

    // After consent: both show the patient.
    hub.grant(&member, viewer);
    let after = page(port, &path, &dr);
    assert_eq!((after.status, api(viewer)), (200, 200), "{}", after.body);
    assert!(after.body.contains("class=\"danger\""));

    // Prescriptions come from referrals and discharge summaries: once the patient releases a
    // held referral, the API shows its prescriptions to a consented institution, and so does
    // the page.
    let rx_member = member_of(
        &subs
            .iter()
            .find(|s| {
                s.kind == "eReferral"
                    && fhir::json::to_string(&s.bundle).contains("\"MedicationRequest\"")
            })
            .expect("a referral with a prescription in the population")
            .bundle,
    );
    let as_patient = [("X-Clins-Dev-Patient", enc(&rx_member))];
    let as_patient: Vec<(&str, &str)> = as_patient.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let held = request(
        port,
        "GET",
        "/fhir/DocumentReference?status=held",
        &as_patient,
        b"",
    );
    assert_eq!(held.status, 200, "{}", held.body);
    let data: Vec<String> = held
        .entries()
        .iter()
        .filter_map(|e| e.pointer("resource.id").and_then(Value::as_str))
        .map(|id| {
            format!(
                r#"{{"meaning":"instance","reference":{{"reference":"DocumentReference/{id}"}}}}"#
            )
        })
        .collect();
    assert!(!data.is_empty(), "the referral is held: {}", held.body);
    let mut h = as_patient.clone();
    h.push(("Content-Type", "application/fhir+json"));
    let r = request(
        port,
        "POST",
        "/fhir/Consent",
        &h,
        format!(
            r#"{{"resourceType":"Consent","status":"active","patient":{{"identifier":{{"system":"http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID","value":"{rx_member}"}}}},"provision":{{"data":[{}]}}}}"#,
            data.join(",")
        )
        .as_bytes(),
    );
    assert!(r.status < 300, "release: {}", r.body);
    hub.grant(&rx_member, viewer);
    let api_rx = hub.get(&summary_path(&rx_member), viewer);
    let names: Vec<String> = api_rx
        .entries()
        .iter()
        .filter_map(|e| e.get("resource"))
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("MedicationRequest"))
        .filter_map(|r| {
            let c = r.get("medicationCodeableConcept")?;
            c.get("text").and_then(Value::as_str).or_else(|| {
                c.get("coding")?
                    .as_array()?
                    .iter()
                    .find_map(|x| x.get("display")?.as_str())
            })
        })
        .map(str::to_string)
        .collect();
    assert!(
        !names.is_empty(),
        "released prescriptions on the API: {}",
        api_rx.body
    );
    let rx_page = page(
        port,
        &format!("/viewer/patient?member={}", enc(&rx_member)),
        &dr,
    );
    assert_eq!(rx_page.status, 200);
    for n in &names {
        assert!(
            rx_page.body.contains(n.as_str()),
            "{n} on the page: {}",
            rx_page.body
        );
    }

    // A form without the session's CSRF token changes nothing.
    let r = request(
        port,
        "POST",
        "/viewer/signout",
        &[
            ("Cookie", &dr),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"csrf=wrong",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(page(port, &path, &dr).status, 200, "still signed in");

    // The patient: own record and own documents; another patient's document is refused as the
    // API refuses it; the viewer and the console are not open to a patient.
    let r = json_post(
        port,
        "/auth/patients/activation",
        &[("X-Clins-Dev-Role", "qualification-service")],
        &format!(r#"{{"member_id":"{member}"}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let pt = signed_in(
        port,
        &format!(r#""kind":"patient","login":"{member}""#),
        &text(&r, "activation_code"),
    );
    assert_eq!(page(port, "/portal/record", &pt).status, 200);
    // The newest 患者サマリー, section by section.
    let pcs = page(port, "/portal/summary", &pt);
    assert_eq!(pcs.status, 200, "{}", pcs.body);
    assert!(
        pcs.body.contains("患者サマリー（療養計画書）") && pcs.body.contains("class=\"docsec\""),
        "{}",
        pcs.body
    );
    assert_eq!(page(port, "/portal", &pt).status, 200);
    let docs_of = |m: &str| {
        // A patient's own documents: no patient parameter.
        let r = request(
            port,
            "GET",
            "/fhir/DocumentReference",
            &[("X-Clins-Dev-Patient", &enc(m))],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.entries()
            .iter()
            .filter_map(|e| {
                e.pointer("resource.id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect::<Vec<_>>()
    };
    let mine = docs_of(&member);
    let theirs = docs_of(&other);
    assert!(
        !mine.is_empty() && !theirs.is_empty(),
        "both patients have documents"
    );
    let r = page(port, &format!("/portal/document?id={}", enc(&mine[0])), &pt);
    assert_eq!(r.status, 200, "own document: {}", r.body);
    let r = page(
        port,
        &format!("/portal/document?id={}", enc(&theirs[0])),
        &pt,
    );
    let api_status = request(
        port,
        "GET",
        &format!("/fhir/Bundle/{}", theirs[0]),
        &[("X-Clins-Dev-Patient", &enc(&member))],
        b"",
    )
    .status;
    assert_eq!(
        r.status, api_status,
        "another patient's document: page as API"
    );
    assert_eq!(r.status, 404);
    for area in ["/viewer", "/admin"] {
        let r = page(port, area, &pt);
        assert_eq!(r.status, 303, "{area} with a patient's session");
        assert_eq!(
            r.header("location"),
            Some(format!("{area}/signin").as_str())
        );
    }
    // Revocation by the patient on the portal takes effect at once on the viewer.
    let consents = request(
        port,
        "GET",
        "/fhir/Consent",
        &[("X-Clins-Dev-Patient", &enc(&member))],
        b"",
    );
    let csrf = text(
        &request(port, "GET", "/auth/session", &[("Cookie", &pt)], b""),
        "csrf",
    );
    for e in consents.entries() {
        let id = e
            .pointer("resource.id")
            .and_then(Value::as_str)
            .unwrap()
            .to_string();
        let r = request(
            port,
            "POST",
            "/portal/revoke",
            &[
                ("Cookie", &pt),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            format!("csrf={}&id={}", enc(&csrf), enc(&id)).as_bytes(),
        );
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let revoked = page(port, &path, &dr);
    assert_eq!(
        revoked.status,
        api(viewer),
        "page and API agree after revocation"
    );
    assert_ne!(revoked.status, 200);
}
