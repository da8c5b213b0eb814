//! The official FHIRPath R4 suite through `clins-hub fhirpath-tests`, as CI runs it, and the
//! `clins-hub fhirpath` command.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

/// Suite tests we fail, each with its reason (also listed in docs/conformance.md).
const KNOWN_FAILURES: &[(&str, &str)] = &[];

#[test]
fn official_r4_suite_passes_at_least_97_percent() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("conformance/fhirpath");
    let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .arg("fhirpath-tests")
        .arg(dir.join("tests-fhir-r4.xml"))
        .arg("--inputs")
        .arg(dir.join("input"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    println!("{last}");
    let nums: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    let (passed, failed) = (nums[0], nums[1]);
    assert!(passed + failed >= 700, "the suite has 702 tests: {last}");
    let rate = passed as f64 / (passed + failed) as f64;
    assert!(rate >= 0.97, "{last}");
    for line in text.lines().filter(|l| l.starts_with("FAIL ")) {
        let name = line
            .trim_start_matches("FAIL ")
            .split(':')
            .next()
            .unwrap_or_default();
        assert!(
            KNOWN_FAILURES.iter().any(|(n, _)| *n == name),
            "unexpected failure {line}"
        );
    }
    assert_eq!(out.status.success(), failed == 0);
}

fn fhirpath(expr: &str, input: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .arg("fhirpath")
        .arg(expr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writes");
    let out = child.wait_with_output().expect("finishes");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn fhirpath_command_prints_the_result_collection() {
    let patient = r#"{"resourceType":"Patient","name":[{"given":["花子","B"]}],"birthDate":"1974-12-25","deceasedBoolean":false}"#;
    let (ok, out, _) = fhirpath("name.given", patient);
    assert!(ok);
    let v = fhir::json::parse(&out).expect("JSON output");
    assert_eq!(fhir::json::to_string(&v), r#"["花子","B"]"#);
    let (ok, out, _) = fhirpath("birthDate < @2000-01-01 and deceased.not()", patient);
    assert!(ok);
    assert_eq!(
        fhir::json::to_string(&fhir::json::parse(&out).unwrap()),
        "[true]"
    );
    let (ok, _, err) = fhirpath("name.given.(", patient);
    assert!(!ok);
    assert!(
        err.contains("1:12"),
        "syntax errors carry the position: {err}"
    );
    let (ok, _, err) = fhirpath("name.foo", patient);
    assert!(!ok, "unknown elements are semantic errors");
    assert!(err.contains("foo"), "{err}");
}
