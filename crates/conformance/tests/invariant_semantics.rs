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
