//! How FHIRPath invariant results are judged: only `true` satisfies a constraint.

use std::sync::Arc;

use conformance::{Definitions, Validator};
use fhir::json;

fn invariant_failures(text: &str) -> Vec<String> {
    let v = Validator::new(Arc::new(Definitions::r4().expect("R4 loads")));
    let value = json::parse(text).expect("JSON");
    v.validate(&value)
        .into_iter()
        .filter(|i| i.detail == "INVARIANT" && i.en.contains("per-1"))
        .map(|i| i.expression)
        .collect()
}

#[test]
fn per_1_holds_fails_and_treats_empty_as_failure() {
    let encounter = |start: &str, end: &str| {
        format!(
            r#"{{"resourceType":"Encounter","text":{{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">e</div>"}},"status":"finished","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}},"period":{{"start":"{start}","end":"{end}"}}}}"#
        )
    };
    // start before end: satisfied.
    assert!(invariant_failures(&encounter("2023-06-20", "2023-06-21")).is_empty());
    // start after end: false.
    assert_eq!(
        invariant_failures(&encounter("2023-06-22", "2023-06-21")),
        ["Encounter.period"]
    );
    // A date against a dateTime on the same day: the comparison is empty, which is not true.
    assert_eq!(
        invariant_failures(&encounter("2023-06-21", "2023-06-21T06:20:00Z")),
        ["Encounter.period"]
    );
}

/// A hostile Bundle (100,000 empty entries, 1.1 MB) gets at most `MAX_ISSUES` issues and a
/// last one saying how many more there were; the work stops early instead of growing with it.
#[test]
fn issues_are_capped_and_the_work_is_bounded() {
    let v = Validator::new(Arc::new(Definitions::r4().expect("R4 loads")));
    let entries = vec!["{}"; 100_000].join(",");
    let text = format!(r#"{{"resourceType":"Bundle","type":"collection","entry":[{entries}]}}"#);
    let started = std::time::Instant::now();
    let issues = v.validate_bytes(text.as_bytes());
    let took = started.elapsed();
    assert!(
        issues.len() <= conformance::validator::MAX_ISSUES + 1,
        "{} issues",
        issues.len()
    );
    let last = issues.last().expect("issues");
    assert_eq!(last.detail, "TOO-MANY-ISSUES", "{}", last.en);
    assert!(last.en.contains("more issue(s) not listed"), "{}", last.en);
    assert!(issues[..issues.len() - 1]
        .iter()
        .all(|i| i.detail != "TOO-MANY-ISSUES"));
    // Seconds at most even unoptimised; it took minutes and gigabytes before the cap.
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    assert!(
        last.severity.is_error() && last.en.contains("stopped early"),
        "{}",
        last.en
    );
    // A small invalid Bundle keeps every issue and no cap notice.
    let few = v.validate_bytes(br#"{"resourceType":"Bundle","type":"collection","entry":[{},{}]}"#);
    assert!(!few.is_empty() && few.iter().all(|i| i.detail != "TOO-MANY-ISSUES"));
}

/// Warnings, however many, do not make the cap notice an error: a Bundle without errors stays
/// acceptable when its warnings are cut to the first thousand.
#[test]
fn many_warnings_stay_warnings() {
    let v = Validator::new(Arc::new(Definitions::r4().expect("R4 loads")));
    let entry =
        r#"{"fullUrl":"urn:uuid:ID","resource":{"resourceType":"Basic","code":{"text":"x"}}}"#;
    let bundle = |n: usize| {
        let entries: Vec<String> = (0..n)
            .map(|i| entry.replace("ID", &format!("00000000-0000-4000-8000-{i:012}")))
            .collect();
        format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[{}]}}"#,
            entries.join(",")
        )
    };
    let one = v.validate_bytes(bundle(1).as_bytes());
    assert!(
        !one.is_empty() && one.iter().all(|i| !i.severity.is_error()),
        "one entry: warnings only: {one:?}"
    );
    let many = v.validate_bytes(bundle(2_500).as_bytes());
    assert!(many.len() <= conformance::validator::MAX_ISSUES + 1);
    let last = many.last().unwrap();
    assert_eq!(last.detail, "TOO-MANY-ISSUES");
    assert!(
        many.iter().all(|i| !i.severity.is_error()),
        "no error among {} issues: {}",
        many.len(),
        last.en
    );
}
