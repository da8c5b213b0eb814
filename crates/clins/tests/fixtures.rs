//! The JP-CLINS service rules against the official JP-CLINS examples.
//!
//! The examples are CC BY-ND and are not in this repository: they are read at run time from
//! `$CLINS_SHARED/fixtures/jp-clins` (default: `../shared` next to the workspace). Without that
//! folder every test prints `skipped: CLINS_SHARED not found` and passes, unless
//! `CLINS_REQUIRE_SHARED=1`, which turns the absence into a failure (use it in CI).
//!
//! Mutation tests change one thing in a parsed official bundle and assert the exact set of
//! error issues (detail code + expression) that change causes.

use std::path::{Path, PathBuf};

use clins::{
    allergy_item, check, detect, is_patient_only, lab_item, systems, AllergyItem, ItemType,
    LabItem, SubmissionKind,
};
use fhir::json::{parse, Value};
use fhir::outcome::{Issue, Severity};

// ---------------------------------------------------------------------------------------------
// fixture access
// ---------------------------------------------------------------------------------------------

fn shared_dir() -> Option<PathBuf> {
    let workspace = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let dir = match std::env::var_os("CLINS_SHARED") {
        Some(d) => workspace.join(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
    };
    if dir.join("fixtures/jp-clins").is_dir() {
        return Some(dir);
    }
    if std::env::var("CLINS_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "CLINS_SHARED not found: {} has no fixtures/jp-clins (CLINS_REQUIRE_SHARED=1)",
            dir.display()
        );
    }
    println!("skipped: CLINS_SHARED not found");
    None
}

/// Returns from the test when the shared folder is absent.
macro_rules! shared {
    () => {
        match shared_dir() {
            Some(d) => d,
            None => return,
        }
    };
}

fn load(dir: &Path, rel: &str) -> Value {
    let path = dir.join("fixtures/jp-clins").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const OBSERVATIONS: &str = "clinical-core/Bundle-Bundle-CLINS-Observations-Example-01.json";
const REFERRAL: &str = "clinical-core/Bundle-Bundle-CLINS-Referral-Example-01.json";
const PCS: &str = "clinical-core/Bundle-Bundle-CLINS-PCS-Example-01.json";
const CHECKUP: &str = "eCheckupReport/Bundle-Bundle-eCheckupReport-Sample-01.json";
const LEGACY_REFERRAL: &str = "eReferral/Bundle-BundleReferralExample01.json";

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for e in read.flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// value surgery (test-only: panics are test failures)
// ---------------------------------------------------------------------------------------------

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for seg in path.split('.') {
        let mut parts = seg.split('[');
        if let Some(key) = parts.next().filter(|k| !k.is_empty()) {
            out.push(Step::Key(key));
        }
        for idx in parts {
            let n = idx
                .trim_end_matches(']')
                .parse()
                .unwrap_or_else(|_| panic!("bad index in {path}"));
            out.push(Step::Index(n));
        }
    }
    out
}

fn node<'a>(v: &'a mut Value, path: &str) -> &'a mut Value {
    let mut cur = v;
    if path.is_empty() {
        return cur;
    }
    for step in steps(path) {
        cur = match step {
            Step::Key(k) => cur
                .as_object_mut()
                .and_then(|o| o.get_mut(k))
                .unwrap_or_else(|| panic!("no `{k}` on the way to {path}")),
            Step::Index(i) => cur
                .as_array_mut()
                .and_then(|a| a.get_mut(i))
                .unwrap_or_else(|| panic!("no [{i}] on the way to {path}")),
        };
    }
    cur
}

fn split_last(path: &str) -> (&str, &str) {
    match path.rfind(['.', '[']) {
        Some(i) if path.as_bytes()[i] == b'.' => (&path[..i], &path[i + 1..]),
        Some(i) => (&path[..i], &path[i..]),
        None => ("", path),
    }
}

/// Sets `path` (creating the last key when absent).
fn set(v: &mut Value, path: &str, new: Value) {
    let (parent, last) = split_last(path);
    if let Some(idx) = last.strip_prefix('[') {
        let i: usize = idx.trim_end_matches(']').parse().unwrap_or(usize::MAX);
        let arr = node(v, parent).as_array_mut().expect("array");
        arr[i] = new;
    } else {
        node(v, parent)
            .as_object_mut()
            .expect("object")
            .insert(last, new);
    }
}

fn remove(v: &mut Value, path: &str) {
    let (parent, last) = split_last(path);
    if let Some(idx) = last.strip_prefix('[') {
        let i: usize = idx.trim_end_matches(']').parse().unwrap_or(usize::MAX);
        node(v, parent).as_array_mut().expect("array").remove(i);
    } else {
        let removed = node(v, parent)
            .as_object_mut()
            .expect("object")
            .remove(last);
        assert!(removed.is_some(), "nothing to remove at {path}");
    }
}

fn push(v: &mut Value, path: &str, new: Value) {
    node(v, path).as_array_mut().expect("array").push(new);
}

fn get(v: &Value, path: &str) -> Value {
    let mut copy = v.clone();
    node(&mut copy, path).clone()
}

fn s(text: &str) -> Value {
    Value::string(text)
}

fn j(text: &str) -> Value {
    parse(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Index of the extension with `url` on the resource at `path`.
fn ext_index(v: &Value, path: &str, url: &str) -> usize {
    get(v, &format!("{path}.extension"))
        .items()
        .iter()
        .position(|e| e.get("url").and_then(Value::as_str) == Some(url))
        .unwrap_or_else(|| panic!("no extension {url} at {path}"))
}

// ---------------------------------------------------------------------------------------------
// assertions
// ---------------------------------------------------------------------------------------------

fn dump(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| {
            format!(
                "  {} {} @ {} | {}",
                i.severity.as_str(),
                i.detail,
                i.expression,
                i.en
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn error_keys(issues: &[Issue]) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = issues
        .iter()
        .filter(|i| i.severity.is_error())
        .map(|i| (i.detail.to_string(), i.expression.clone()))
        .collect();
    keys.sort();
    keys
}

/// The error issues of `check(v)` are exactly `expected` (as a multiset).
fn expect_errors(name: &str, v: &Value, expected: &[(&str, &str)]) -> Vec<Issue> {
    let issues = check(v);
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(d, e)| (d.to_string(), e.to_string()))
        .collect();
    want.sort();
    assert_eq!(
        error_keys(&issues),
        want,
        "{name}: unexpected error set; all issues:\n{}",
        dump(&issues)
    );
    for i in &issues {
        assert!(
            !i.en.is_empty() && !i.ja.is_empty(),
            "{name}: empty message"
        );
        assert!(i.detail.starts_with("CLINS-"), "{name}: {}", i.detail);
    }
    issues
}

fn expect_no_errors(name: &str, v: &Value) -> Vec<Issue> {
    expect_errors(name, v, &[])
}

fn has_warning(issues: &[Issue], detail: &str, expr: &str) -> bool {
    issues
        .iter()
        .any(|i| i.severity == Severity::Warning && i.detail == detail && i.expression == expr)
}

type Mutation = (
    &'static str,
    fn(&mut Value),
    Vec<(&'static str, &'static str)>,
);

fn run_mutations(base: &Value, cases: Vec<Mutation>) {
    for (name, mutate, expected) in cases {
        let mut v = base.clone();
        mutate(&mut v);
        expect_errors(name, &v, &expected);
    }
}

// ---------------------------------------------------------------------------------------------
// the official examples
// ---------------------------------------------------------------------------------------------

/// Every example the README describes as valid (all of clinical-core except the intentional
/// `ErrorExample`, and the eCheckupReport package examples) passes the service rules.
#[test]
fn official_valid_examples_have_no_errors() {
    let dir = shared!();
    let mut files = Vec::new();
    json_files(&dir.join("fixtures/jp-clins/clinical-core"), &mut files);
    json_files(&dir.join("fixtures/jp-clins/eCheckupReport"), &mut files);
    files.sort();
    let valid: Vec<&PathBuf> = files
        .iter()
        .filter(|p| !p.to_string_lossy().contains("ErrorExample"))
        .collect();
    assert!(
        valid.len() >= 45,
        "expected the 48 valid examples, found {}",
        valid.len()
    );
    for path in valid {
        let text = std::fs::read_to_string(path).expect("readable");
        let v = parse(&text).expect("JSON");
        let issues = check(&v);
        assert!(
            issues.iter().all(|i| !i.severity.is_error()),
            "{}:\n{}",
            path.display(),
            dump(&issues)
        );
    }
}

/// The intentional error example is a terminology error (wrong 一般名処方コード), which is not a
/// service rule: `check` must not panic and finds nothing; the terminology layer catches it.
#[test]
fn error_example_is_out_of_scope_and_does_not_panic() {
    let dir = shared!();
    let v = load(
        &dir,
        "clinical-core/MedicationRequest-ErrorExample-JP-MedReq-PO-SID-28days.json",
    );
    expect_no_errors("MedReq ErrorExample", &v);
}

#[test]
fn detects_the_official_kinds() {
    let dir = shared!();
    assert_eq!(
        detect(&load(&dir, OBSERVATIONS)),
        SubmissionKind::Clins6 {
            item: Some(ItemType::Observation)
        }
    );
    assert_eq!(detect(&load(&dir, REFERRAL)), SubmissionKind::EReferral);
    assert_eq!(detect(&load(&dir, PCS)), SubmissionKind::EPcs);
    assert_eq!(
        detect(&load(&dir, CHECKUP)),
        SubmissionKind::ECheckupGeneral
    );
    assert_eq!(
        detect(&load(&dir, LEGACY_REFERRAL)),
        SubmissionKind::LegacyEReferral
    );
    assert_eq!(
        detect(&load(
            &dir,
            "clinical-core/Patient-Example-JP-Patient-eCS-MAKINO.json"
        )),
        SubmissionKind::Other
    );
}

#[test]
fn observations_example_only_warns_about_the_patient_institution() {
    let dir = shared!();
    let v = load(&dir, OBSERVATIONS);
    let issues = expect_no_errors("Observations example", &v);
    assert!(has_warning(
        &issues,
        "CLINS-PATIENT-INSTITUTION-RECOMMENDED",
        "Bundle.entry[0].resource.extension"
    ));
    assert_eq!(issues.len(), 1, "{}", dump(&issues));
}

#[test]
fn legacy_ereferral_is_rejected_with_one_clear_error_and_the_old_system() {
    let dir = shared!();
    let v = load(&dir, LEGACY_REFERRAL);
    let issues = expect_errors(
        "legacy eReferral",
        &v,
        &[
            ("CLINS-LEGACY-PROFILE", "Bundle.meta.profile[0]"),
            ("CLINS-LEGACY-IDENTIFIER-SYSTEM", "Bundle.identifier.system"),
        ],
    );
    let legacy = issues
        .iter()
        .find(|i| i.detail == "CLINS-LEGACY-PROFILE")
        .expect("present");
    assert!(
        legacy.en.contains(systems::BUNDLE_EREFERRAL),
        "{}",
        legacy.en
    );
    assert!(
        legacy.ja.contains(systems::BUNDLE_EREFERRAL),
        "{}",
        legacy.ja
    );
}

#[test]
fn legacy_package_examples_do_not_panic() {
    let dir = shared!();
    let mut files = Vec::new();
    json_files(&dir.join("fixtures/jp-clins/eReferral"), &mut files);
    assert!(!files.is_empty());
    for path in files {
        let v = parse(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
        let _ = check(&v);
    }
}

// ---------------------------------------------------------------------------------------------
// 6情報: mutations of the official Observations bundle
// ---------------------------------------------------------------------------------------------

#[test]
fn observations_bundle_rules() {
    let dir = shared!();
    let base = load(&dir, OBSERVATIONS);
    let cases: Vec<Mutation> = vec![
        (
            "type batch",
            |v| set(v, "type", s("batch")),
            vec![("CLINS-BUNDLE-TYPE", "Bundle.type")],
        ),
        (
            "no identifier",
            |v| remove(v, "identifier"),
            vec![("CLINS-BUNDLE-ID-MISSING", "Bundle.identifier")],
        ),
        (
            "identifier array",
            |v| {
                let id = get(v, "identifier");
                set(v, "identifier", Value::Array(vec![id]));
            },
            vec![("CLINS-BUNDLE-ID-FORMAT", "Bundle.identifier")],
        ),
        (
            "hyphen-joined Bundle-ID",
            |v| {
                set(
                    v,
                    "identifier.value",
                    s("1318814790-2024-0123-IDa-203949583949"),
                )
            },
            vec![("CLINS-BUNDLE-ID-FORMAT", "Bundle.identifier.value")],
        ),
        (
            "no identifier value",
            |v| remove(v, "identifier.value"),
            vec![("CLINS-BUNDLE-ID-MISSING", "Bundle.identifier.value")],
        ),
        (
            "identifier system",
            |v| {
                set(
                    v,
                    "identifier.system",
                    s(systems::LEGACY_DOCUMENT_IDENTIFIER_SYSTEM),
                )
            },
            vec![("CLINS-BUNDLE-ID-SYSTEM", "Bundle.identifier.system")],
        ),
        (
            "no timestamp",
            |v| remove(v, "timestamp"),
            vec![("CLINS-BUNDLE-TIMESTAMP", "Bundle.timestamp")],
        ),
        (
            "no meta.lastUpdated",
            |v| remove(v, "meta.lastUpdated"),
            vec![("CLINS-META-LASTUPDATED", "Bundle.meta.lastUpdated")],
        ),
        (
            "no profile: recognised by the tag",
            |v| remove(v, "meta.profile"),
            vec![("CLINS-BUNDLE-PROFILE", "Bundle.meta.profile")],
        ),
        (
            "MedicationRequest tag",
            |v| set(v, "meta.tag[0].code", s("MedicationRequest")),
            vec![("CLINS-BUNDLE-TAG-CODE", "Bundle.meta.tag[0].code")],
        ),
        (
            "unknown tag code",
            |v| set(v, "meta.tag[0].code", s("Procedure")),
            vec![("CLINS-BUNDLE-TAG-CODE", "Bundle.meta.tag[0].code")],
        ),
        (
            "no tag",
            |v| remove(v, "meta.tag"),
            vec![("CLINS-BUNDLE-TAG-MISSING", "Bundle.meta.tag")],
        ),
        (
            "two tags",
            |v| {
                push(
                    v,
                    "meta.tag",
                    j(
                        r#"{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/BundleResourceType_CS","code":"Condition"}"#,
                    ),
                )
            },
            vec![("CLINS-BUNDLE-TAG-MULTIPLE", "Bundle.meta.tag[1].code")],
        ),
        (
            "mixed resource types",
            |v| set(v, "entry[2].resource.resourceType", s("Condition")),
            vec![
                (
                    "CLINS-ENTRY-TYPE-MISMATCH",
                    "Bundle.entry[2].resource.resourceType",
                ),
                // it still claims JP_Observation_LabResult_eCS
                (
                    "CLINS-INV-ENTRY-PROFILE",
                    "Bundle.entry[2].resource.meta.profile",
                ),
            ],
        ),
        (
            "second Patient",
            |v| {
                let mut p = get(v, "entry[0]");
                set(
                    &mut p,
                    "fullUrl",
                    s("urn:uuid:0c1d2e3f-0000-4000-8000-000000000001"),
                );
                let ext = j(
                    r#"[{"url":"http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber",
                    "valueIdentifier":{"system":"http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no","value":"1318814790"}}]"#,
                );
                set(&mut p, "resource.extension", ext);
                push(v, "entry", p);
            },
            vec![(
                "CLINS-ENTRY-TYPE-MISMATCH",
                "Bundle.entry[5].resource.resourceType",
            )],
        ),
        (
            "no tagged entry, only an ignored type",
            |v| {
                let entries = node(v, "entry").as_array_mut().expect("array");
                entries.truncate(2);
                set(v, "entry[1].resource.resourceType", s("Specimen"));
            },
            vec![("CLINS-BUNDLE-NO-ITEM", "Bundle.entry")],
        ),
        (
            "no entries",
            |v| set(v, "entry", Value::Array(vec![])),
            vec![("CLINS-FIRST-ENTRY-PATIENT", "Bundle.entry")],
        ),
        (
            "entry without resource",
            |v| remove(v, "entry[3].resource"),
            vec![("CLINS-ENTRY-RESOURCE-MISSING", "Bundle.entry[3].resource")],
        ),
        (
            "patient without insurance member id",
            |v| remove(v, "entry[0].resource.identifier[1]"),
            vec![(
                "CLINS-PATIENT-INSURANCE-ID-MISSING",
                "Bundle.entry[0].resource.identifier",
            )],
        ),
        (
            "insurance member id without trailing part",
            |v| {
                set(
                    v,
                    "entry[0].resource.identifier[1].value",
                    s("00012345:あいう:１８７"),
                )
            },
            vec![(
                "CLINS-INSURANCE-ID-FORMAT",
                "Bundle.entry[0].resource.identifier[1].value",
            )],
        ),
        (
            "insurance member id with mixed-width number",
            |v| {
                set(
                    v,
                    "entry[0].resource.identifier[1].value",
                    s("00012345:あいう:１８7:01"),
                )
            },
            vec![(
                "CLINS-INSURANCE-ID-FORMAT",
                "Bundle.entry[0].resource.identifier[1].value",
            )],
        ),
        (
            "two insurance member ids",
            |v| {
                let id = get(v, "entry[0].resource.identifier[1]");
                push(v, "entry[0].resource.identifier", id);
            },
            vec![(
                "CLINS-PATIENT-INSURANCE-ID-MULTIPLE",
                "Bundle.entry[0].resource.identifier[2]",
            )],
        ),
        (
            "institution extension missing",
            |v| remove(v, "entry[1].resource.extension[0]"),
            vec![(
                "CLINS-INSTITUTION-MISSING",
                "Bundle.entry[1].resource.extension",
            )],
        ),
        (
            "institution differs from the Bundle-ID",
            |v| {
                set(
                    v,
                    "entry[2].resource.extension[0].valueIdentifier.value",
                    s("1311234567"),
                )
            },
            vec![(
                "CLINS-INSTITUTION-MISMATCH",
                "Bundle.entry[2].resource.extension[0].valueIdentifier.value",
            )],
        ),
        (
            "institution number with 9 digits",
            |v| {
                set(
                    v,
                    "entry[3].resource.extension[0].valueIdentifier.value",
                    s("131881479"),
                )
            },
            vec![(
                "CLINS-INSTITUTION-FORMAT",
                "Bundle.entry[3].resource.extension[0].valueIdentifier.value",
            )],
        ),
        (
            "institution number with prefecture 48",
            |v| {
                set(
                    v,
                    "entry[3].resource.extension[0].valueIdentifier.value",
                    s("4818814790"),
                )
            },
            vec![(
                "CLINS-INSTITUTION-FORMAT",
                "Bundle.entry[3].resource.extension[0].valueIdentifier.value",
            )],
        ),
        (
            "institution number system",
            |v| {
                set(
                    v,
                    "entry[1].resource.extension[0].valueIdentifier.system",
                    s("urn:oid:1.2.392.100495.20.3.23"),
                )
            },
            vec![(
                "CLINS-INSTITUTION-SYSTEM",
                "Bundle.entry[1].resource.extension[0].valueIdentifier.system",
            )],
        ),
        (
            "patient carrying another institution",
            |v| {
                let ext = j(
                    r#"[{"url":"http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber",
                    "valueIdentifier":{"system":"http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no","value":"1311234567"}}]"#,
                );
                set(v, "entry[0].resource.extension", ext);
            },
            vec![(
                "CLINS-INSTITUTION-MISMATCH",
                "Bundle.entry[0].resource.extension[0].valueIdentifier.value",
            )],
        ),
        (
            "relative reference to the patient",
            |v| set(v, "entry[1].resource.subject.reference", s("Patient/123")),
            vec![(
                "CLINS-REF-NOT-CONTAINED",
                "Bundle.entry[1].resource.subject.reference",
            )],
        ),
        (
            "logical reference to the patient",
            |v| {
                set(
                    v,
                    "entry[1].resource.subject",
                    j(
                        r#"{"identifier":{"system":"http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID","value":"00012345:あいう:１８７:01"}}"#,
                    ),
                )
            },
            vec![(
                "CLINS-REF-NOT-CONTAINED",
                "Bundle.entry[1].resource.subject.identifier",
            )],
        ),
        (
            "reference to another entry",
            |v| {
                let other = get(v, "entry[2].fullUrl");
                set(v, "entry[1].resource.specimen.reference", other);
            },
            vec![(
                "CLINS-REF-NOT-CONTAINED",
                "Bundle.entry[1].resource.specimen.reference",
            )],
        ),
        (
            "practitioner as a relative reference",
            |v| {
                set(
                    v,
                    "entry[1].resource.performer[0].reference",
                    s("Practitioner/D002"),
                )
            },
            vec![(
                "CLINS-REF-NOT-CONTAINED",
                "Bundle.entry[1].resource.performer[0].reference",
            )],
        ),
        (
            "#id without contained resource",
            |v| set(v, "entry[1].resource.performer[0].reference", s("#nope")),
            vec![(
                "CLINS-REF-CONTAINED-MISSING",
                "Bundle.entry[1].resource.performer[0].reference",
            )],
        ),
        (
            "duplicate fullUrl",
            |v| {
                let url = get(v, "entry[1].fullUrl");
                set(v, "entry[2].fullUrl", url);
            },
            vec![("CLINS-FULLURL-DUPLICATE", "Bundle.entry[2].fullUrl")],
        ),
        (
            "uppercase uuid",
            |v| {
                set(
                    v,
                    "entry[1].fullUrl",
                    s("urn:uuid:F2C5A40B-C7EA-1D52-7E81-7440B1F26F91"),
                )
            },
            vec![("CLINS-FULLURL-FORMAT", "Bundle.entry[1].fullUrl")],
        ),
        (
            "RESTful fullUrl",
            |v| {
                set(
                    v,
                    "entry[3].fullUrl",
                    s("http://example.org/fhir/Observation/1"),
                )
            },
            vec![("CLINS-FULLURL-FORMAT", "Bundle.entry[3].fullUrl")],
        ),
        (
            "no fullUrl",
            |v| remove(v, "entry[1].fullUrl"),
            vec![("CLINS-FULLURL-MISSING", "Bundle.entry[1].fullUrl")],
        ),
        (
            "entry.request",
            |v| {
                set(
                    v,
                    "entry[1].request",
                    j(r#"{"method":"POST","url":"Observation"}"#),
                )
            },
            vec![("CLINS-ENTRY-FORBIDDEN-ELEMENT", "Bundle.entry[1].request")],
        ),
        (
            "entry.search",
            |v| set(v, "entry[4].search", j(r#"{"mode":"match"}"#)),
            vec![("CLINS-ENTRY-FORBIDDEN-ELEMENT", "Bundle.entry[4].search")],
        ),
        (
            "UNINFORMED on an Observation",
            |v| {
                set(
                    v,
                    "entry[1].resource.meta.tag",
                    j(
                        r#"[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"UNINFORMED"}]"#,
                    ),
                )
            },
            vec![(
                "CLINS-FLAG-RESOURCE-TYPE",
                "Bundle.entry[1].resource.meta.tag[0].code",
            )],
        ),
        (
            "unknown flag code",
            |v| {
                set(
                    v,
                    "entry[1].resource.meta.tag",
                    j(
                        r#"[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"SECRET"}]"#,
                    ),
                )
            },
            vec![(
                "CLINS-FLAG-CODE",
                "Bundle.entry[1].resource.meta.tag[0].code",
            )],
        ),
        (
            "LTS on the Patient",
            |v| {
                set(
                    v,
                    "entry[0].resource.meta.tag",
                    j(
                        r#"[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"LTS"}]"#,
                    ),
                )
            },
            vec![(
                "CLINS-FLAG-RESOURCE-TYPE",
                "Bundle.entry[0].resource.meta.tag[0].code",
            )],
        ),
        (
            "LTS on an Observation is fine",
            |v| {
                set(
                    v,
                    "entry[1].resource.meta.tag",
                    j(
                        r#"[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"LTS"}]"#,
                    ),
                )
            },
            vec![],
        ),
        (
            "local code not first",
            |v| {
                let codings = node(v, "entry[1].resource.code.coding")
                    .as_array_mut()
                    .expect("array");
                codings.swap(0, 1);
            },
            vec![(
                "CLINS-OBS-LOCAL-CODE",
                "Bundle.entry[1].resource.code.coding[0].system",
            )],
        ),
        (
            "local code only",
            |v| remove(v, "entry[1].resource.code.coding[1]"),
            vec![(
                "CLINS-OBS-STANDARD-CODE",
                "Bundle.entry[1].resource.code.coding",
            )],
        ),
        (
            "uncoded JLAC is a standard code",
            |v| {
                set(
                    v,
                    "entry[1].resource.code.coding[1]",
                    j(
                        r#"{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_CLINS_ObsLabResult_Uncoded_CS","code":"99999999999999999"}"#,
                    ),
                )
            },
            vec![],
        ),
        (
            "no code",
            |v| remove(v, "entry[1].resource.code"),
            vec![("CLINS-OBS-LOCAL-CODE", "Bundle.entry[1].resource.code")],
        ),
        (
            "no encounter",
            |v| remove(v, "entry[1].resource.encounter"),
            vec![(
                "CLINS-ENCOUNTER-CONTAINED",
                "Bundle.entry[1].resource.encounter",
            )],
        ),
        (
            "encounter points at the specimen",
            |v| {
                set(
                    v,
                    "entry[1].resource.encounter.reference",
                    s("#Example-Contained-JP-Specimen-Serum"),
                )
            },
            vec![(
                "CLINS-ENCOUNTER-CONTAINED",
                "Bundle.entry[1].resource.encounter.reference",
            )],
        ),
        (
            "no department",
            |v| remove(v, "entry[1].resource.extension[1]"),
            vec![(
                "CLINS-DEPARTMENT-MISSING",
                "Bundle.entry[1].resource.extension",
            )],
        ),
        (
            "entry without meta.lastUpdated",
            |v| remove(v, "entry[4].resource.meta.lastUpdated"),
            vec![(
                "CLINS-META-LASTUPDATED",
                "Bundle.entry[4].resource.meta.lastUpdated",
            )],
        ),
    ];
    run_mutations(&base, cases);
}

/// JP-CLINS 4.1: a bundle holding only the Patient deletes the unit; it is valid.
#[test]
fn patient_only_bundle_is_a_valid_delete() {
    let dir = shared!();
    let mut v = load(&dir, OBSERVATIONS);
    node(&mut v, "entry")
        .as_array_mut()
        .expect("array")
        .truncate(1);
    assert!(is_patient_only(&v));
    expect_no_errors("Patient-only", &v);
}

#[test]
fn swapped_first_entry_reports_the_patient_position() {
    let dir = shared!();
    let mut v = load(&dir, OBSERVATIONS);
    node(&mut v, "entry")
        .as_array_mut()
        .expect("array")
        .swap(0, 1);
    let issues = check(&v);
    let keys = error_keys(&issues);
    for want in [
        (
            "CLINS-FIRST-ENTRY-PATIENT",
            "Bundle.entry[0].resource.resourceType",
        ),
        (
            "CLINS-ENTRY-TYPE-MISMATCH",
            "Bundle.entry[1].resource.resourceType",
        ),
        (
            "CLINS-INSTITUTION-MISSING",
            "Bundle.entry[1].resource.extension",
        ),
        // without a Patient first, no reference to the patient is allowed
        (
            "CLINS-REF-NOT-CONTAINED",
            "Bundle.entry[0].resource.subject.reference",
        ),
    ] {
        assert!(
            keys.contains(&(want.0.to_string(), want.1.to_string())),
            "missing {want:?}:\n{}",
            dump(&issues)
        );
    }
}

#[test]
fn lab_items_are_classified_by_code_system() {
    let dir = shared!();
    let mut v = load(&dir, OBSERVATIONS);
    for i in 1..=4 {
        assert_eq!(
            lab_item(&get(&v, &format!("entry[{i}].resource"))),
            LabItem::Lab
        );
    }
    set(
        &mut v,
        "entry[1].resource.code.coding[1].system",
        s(systems::OBS_INFECTION_LABO_JLAC10),
    );
    assert_eq!(lab_item(&get(&v, "entry[1].resource")), LabItem::Infection);
    // 感染症 and 検査 may share a unit: still a valid Observation bundle
    expect_no_errors("infection in the lab unit", &v);
}

// ---------------------------------------------------------------------------------------------
// 6情報: Condition and AllergyIntolerance units built from the official stand-alone examples
// ---------------------------------------------------------------------------------------------

/// The official Observations bundle with its Observations replaced by `resource`, tagged `tag`.
fn unit_with(dir: &Path, tag: &str, resource: Value) -> Value {
    let mut v = load(dir, OBSERVATIONS);
    set(&mut v, "meta.tag[0].code", s(tag));
    node(&mut v, "entry")
        .as_array_mut()
        .expect("array")
        .truncate(1);
    let mut entry = j(r#"{"fullUrl":"urn:uuid:7d3e2a10-5b4c-4e8f-9a61-0c2d3e4f5a6b"}"#);
    set(&mut entry, "resource", resource);
    push(&mut v, "entry", entry);
    v
}

fn patient_ref(v: &Value) -> Value {
    let url = get(v, "entry[0].fullUrl");
    let mut r = j("{}");
    set(&mut r, "reference", url);
    r
}

fn condition_unit(dir: &Path) -> Value {
    let condition = load(
        dir,
        "clinical-core/Condition-Example-JP-Condition-eCS-01.json",
    );
    let mut v = unit_with(dir, "Condition", condition);
    let r = patient_ref(&v);
    set(&mut v, "entry[1].resource.subject", r);
    v
}

#[test]
fn condition_unit_rules() {
    let dir = shared!();
    let base = condition_unit(&dir);
    expect_no_errors("Condition unit", &base);
    assert_eq!(
        detect(&base),
        SubmissionKind::Clins6 {
            item: Some(ItemType::Condition)
        }
    );

    // The stand-alone example references the patient logically; inside a bundle that is an error.
    let condition = load(
        &dir,
        "clinical-core/Condition-Example-JP-Condition-eCS-01.json",
    );
    let as_published = unit_with(&dir, "Condition", condition);
    expect_errors(
        "Condition example as published",
        &as_published,
        &[(
            "CLINS-REF-NOT-CONTAINED",
            "Bundle.entry[1].resource.subject.identifier",
        )],
    );

    let cases: Vec<Mutation> = vec![
        (
            "no MEDIS code",
            |v| {
                set(
                    v,
                    "entry[1].resource.code.coding",
                    j(
                        r#"[{"system":"http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full","code":"K269"}]"#,
                    ),
                )
            },
            vec![(
                "CLINS-CONDITION-MEDIS-CODE",
                "Bundle.entry[1].resource.code.coding",
            )],
        ),
        (
            "no code.text",
            |v| remove(v, "entry[1].resource.code.text"),
            vec![(
                "CLINS-CONDITION-CODE-TEXT",
                "Bundle.entry[1].resource.code.text",
            )],
        ),
        (
            "no onsetDateTime",
            |v| remove(v, "entry[1].resource.onsetDateTime"),
            vec![(
                "CLINS-CONDITION-ONSET",
                "Bundle.entry[1].resource.onsetDateTime",
            )],
        ),
        (
            "onsetString instead of onsetDateTime",
            |v| {
                remove(v, "entry[1].resource.onsetDateTime");
                set(v, "entry[1].resource.onsetString", s("2020年春"));
            },
            vec![(
                "CLINS-CONDITION-ONSET",
                "Bundle.entry[1].resource.onsetDateTime",
            )],
        ),
        (
            "no department",
            |v| remove(v, "entry[1].resource.extension[1]"),
            vec![(
                "CLINS-DEPARTMENT-MISSING",
                "Bundle.entry[1].resource.extension",
            )],
        ),
        (
            "contained encounter removed",
            |v| remove(v, "entry[1].resource.contained"),
            vec![
                (
                    "CLINS-REF-CONTAINED-MISSING",
                    "Bundle.entry[1].resource.encounter.reference",
                ),
                (
                    "CLINS-INV-CONTAINED-ENCOUNTER",
                    "Bundle.entry[1].resource.contained",
                ),
            ],
        ),
        (
            "encounter as an entry reference",
            |v| {
                set(
                    v,
                    "entry[1].resource.encounter.reference",
                    s("urn:uuid:7cad1f19-3435-451d-9a71-a81b61f3358e"),
                )
            },
            vec![(
                "CLINS-REF-NOT-CONTAINED",
                "Bundle.entry[1].resource.encounter.reference",
            )],
        ),
        (
            "UNINFORMED, UNDELIVERED and LTS on a Condition are fine",
            |v| {
                set(
                    v,
                    "entry[1].resource.meta.tag",
                    j(
                        r#"[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"LTS"},
                          {"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"UNINFORMED"},
                          {"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"UNDELIVERED"}]"#,
                    ),
                )
            },
            vec![],
        ),
        (
            "an Observation in a Condition unit",
            |v| {
                let mut e = j(r#"{"fullUrl":"urn:uuid:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}"#);
                let mut obs = get(v, "entry[1].resource");
                set(&mut obs, "resourceType", s("Observation"));
                set(&mut e, "resource", obs);
                push(v, "entry", e);
            },
            vec![
                (
                    "CLINS-ENTRY-TYPE-MISMATCH",
                    "Bundle.entry[2].resource.resourceType",
                ),
                // it claims JP_Condition_eCS, not JP_Observation_LabResult_eCS
                (
                    "CLINS-INV-ENTRY-PROFILE",
                    "Bundle.entry[2].resource.meta.profile",
                ),
            ],
        ),
    ];
    run_mutations(&base, cases);
}

#[test]
fn allergy_unit_rules() {
    let dir = shared!();
    let allergy = load(
        &dir,
        "clinical-core/AllergyIntolerance-Example-JP-AllergyIntolerance-eCS-03.json",
    );
    assert_eq!(allergy_item(&allergy), AllergyItem::Drug);
    let food = load(
        &dir,
        "clinical-core/AllergyIntolerance-Example-JP-AllergyIntolerance-eCS-02.json",
    );
    assert_eq!(allergy_item(&food), AllergyItem::Other);

    let as_published = unit_with(&dir, "AllergyIntolerance", allergy);
    expect_errors(
        "allergy example as published (Patient/id reference)",
        &as_published,
        &[(
            "CLINS-REF-NOT-CONTAINED",
            "Bundle.entry[1].resource.patient.reference",
        )],
    );
    let mut base = as_published.clone();
    let r = patient_ref(&base);
    set(&mut base, "entry[1].resource.patient", r);
    expect_no_errors("allergy unit", &base);

    let cases: Vec<Mutation> = vec![(
        "UNDELIVERED on an allergy",
        |v| {
            push(
                v,
                "entry[1].resource.meta.tag",
                j(
                    r#"{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"UNDELIVERED"}"#,
                ),
            )
        },
        vec![(
            "CLINS-FLAG-RESOURCE-TYPE",
            "Bundle.entry[1].resource.meta.tag[1].code",
        )],
    )];
    run_mutations(&base, cases);
}

// ---------------------------------------------------------------------------------------------
// documents: mutations of the official Referral and PCS bundles
// ---------------------------------------------------------------------------------------------

const SECTION_CS: &str = "http://jpfhir.jp/fhir/clins/CodeSystem/document-section";

#[test]
fn referral_bundle_rules() {
    let dir = shared!();
    let base = load(&dir, REFERRAL);
    expect_no_errors("Referral example", &base);
    let cases: Vec<Mutation> = vec![
        (
            "composition type of a discharge summary",
            |v| set(v, "entry[0].resource.type.coding[0].code", s("18842-5")),
            vec![(
                "CLINS-COMPOSITION-TYPE",
                "Bundle.entry[0].resource.type.coding[0].code",
            )],
        ),
        (
            "no composition type",
            |v| remove(v, "entry[0].resource.type"),
            vec![("CLINS-COMPOSITION-TYPE", "Bundle.entry[0].resource.type")],
        ),
        (
            "status preliminary",
            |v| set(v, "entry[0].resource.status", s("preliminary")),
            vec![(
                "CLINS-COMPOSITION-STATUS",
                "Bundle.entry[0].resource.status",
            )],
        ),
        (
            "no addressee section 910",
            |v| remove(v, "entry[0].resource.section[1]"),
            vec![(
                "CLINS-REFERRAL-ADDRESSEE",
                "Bundle.entry[0].resource.section",
            )],
        ),
        (
            "910 without the addressee organization",
            |v| remove(v, "entry[0].resource.section[1].entry[0]"),
            vec![(
                "CLINS-REFERRAL-ADDRESSEE",
                "Bundle.entry[0].resource.section[1].entry",
            )],
        ),
        (
            "910 organization not in the bundle",
            |v| {
                set(
                    v,
                    "entry[0].resource.section[1].entry[0].reference",
                    s("urn:uuid:00000000-0000-4000-8000-000000000000"),
                )
            },
            vec![
                (
                    "CLINS-REF-UNRESOLVED",
                    "Bundle.entry[0].resource.section[1].entry[0].reference",
                ),
                (
                    "CLINS-REFERRAL-ADDRESSEE",
                    "Bundle.entry[0].resource.section[1].entry",
                ),
            ],
        ),
        (
            "no referral-from section 920",
            |v| remove(v, "entry[0].resource.section[0]"),
            vec![("CLINS-SECTION-MISSING", "Bundle.entry[0].resource.section")],
        ),
        (
            "920 twice",
            |v| {
                let sec = get(v, "entry[0].resource.section[0]");
                push(v, "entry[0].resource.section", sec);
            },
            vec![(
                "CLINS-SECTION-DUPLICATE",
                "Bundle.entry[0].resource.section[3].code.coding[0].code",
            )],
        ),
        (
            "both 300 and 200",
            |v| {
                let mut sec = j(r#"{"title":"CDA参照","code":{"coding":[{"code":"200"}]}}"#);
                set(&mut sec, "code.coding[0].system", s(SECTION_CS));
                push(v, "entry[0].resource.section", sec);
            },
            vec![(
                "CLINS-SECTION-200-XOR-300",
                "Bundle.entry[0].resource.section[3].code.coding[0].code",
            )],
        ),
        (
            "neither 300 nor 200",
            |v| remove(v, "entry[0].resource.section[2]"),
            vec![(
                "CLINS-SECTION-200-XOR-300",
                "Bundle.entry[0].resource.section",
            )],
        ),
        (
            "200 instead of 300 is fine",
            |v| {
                set(
                    v,
                    "entry[0].resource.section[2].code.coding[0].code",
                    s("200"),
                );
                remove(v, "entry[0].resource.section[2].section");
            },
            vec![],
        ),
        (
            "no 340 inside 300",
            |v| remove(v, "entry[0].resource.section[2].section[1]"),
            vec![(
                "CLINS-SECTION-MISSING",
                "Bundle.entry[0].resource.section[2].section",
            )],
        ),
        (
            "no 950 and no 360 inside 300",
            |v| {
                remove(v, "entry[0].resource.section[2].section[2]");
                remove(v, "entry[0].resource.section[2].section[0]");
            },
            vec![
                (
                    "CLINS-SECTION-MISSING",
                    "Bundle.entry[0].resource.section[2].section",
                ),
                (
                    "CLINS-SECTION-MISSING",
                    "Bundle.entry[0].resource.section[2].section",
                ),
            ],
        ),
        (
            "hyphen-joined Bundle-ID",
            |v| set(v, "identifier.value", s("1318814790-2024-0123")),
            vec![("CLINS-BUNDLE-ID-FORMAT", "Bundle.identifier.value")],
        ),
        (
            "no Bundle-ID",
            |v| remove(v, "identifier"),
            vec![("CLINS-BUNDLE-ID-MISSING", "Bundle.identifier")],
        ),
        (
            "type collection",
            |v| set(v, "type", s("collection")),
            vec![("CLINS-BUNDLE-TYPE", "Bundle.type")],
        ),
        (
            "patient first",
            |v| {
                node(v, "entry").as_array_mut().expect("array").swap(0, 1);
            },
            vec![(
                "CLINS-FIRST-ENTRY-COMPOSITION",
                "Bundle.entry[0].resource.resourceType",
            )],
        ),
        (
            "insurance member id with a 6-digit insurer",
            |v| {
                set(
                    v,
                    "entry[1].resource.identifier[1].value",
                    s("012345:あいう:１８７:05"),
                )
            },
            vec![(
                "CLINS-INSURANCE-ID-FORMAT",
                "Bundle.entry[1].resource.identifier[1].value",
            )],
        ),
        (
            "patient without insurance member id",
            |v| remove(v, "entry[1].resource.identifier[1]"),
            vec![(
                "CLINS-PATIENT-INSURANCE-ID-MISSING",
                "Bundle.entry[1].resource.identifier",
            )],
        ),
        (
            "composition subject not in the bundle",
            |v| {
                set(
                    v,
                    "entry[0].resource.subject.reference",
                    s("urn:uuid:11111111-1111-4111-8111-111111111111"),
                )
            },
            vec![(
                "CLINS-REF-UNRESOLVED",
                "Bundle.entry[0].resource.subject.reference",
            )],
        ),
        (
            "composition author as a relative reference that does not resolve",
            |v| {
                set(
                    v,
                    "entry[0].resource.author[0].reference",
                    s("Practitioner/nobody"),
                )
            },
            vec![(
                "CLINS-REF-UNRESOLVED",
                "Bundle.entry[0].resource.author[0].reference",
            )],
        ),
        (
            "UNDELIVERED on an allergy in a document",
            |v| set(v, "entry[13].resource.meta.tag[0].code", s("UNDELIVERED")),
            vec![(
                "CLINS-FLAG-RESOURCE-TYPE",
                "Bundle.entry[13].resource.meta.tag[0].code",
            )],
        ),
        (
            "UNINFORMED on a condition in a document is fine",
            |v| {
                set(
                    v,
                    "entry[10].resource.meta.tag",
                    j(
                        r#"[{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/JP_ehrshrs_indication","code":"UNINFORMED"}]"#,
                    ),
                )
            },
            vec![],
        ),
        (
            "no profile: recognised by the Composition type",
            |v| remove(v, "meta.profile"),
            vec![("CLINS-BUNDLE-PROFILE", "Bundle.meta.profile")],
        ),
        (
            "duplicate fullUrl",
            |v| {
                let url = get(v, "entry[3].fullUrl");
                set(v, "entry[4].fullUrl", url);
            },
            vec![
                ("CLINS-FULLURL-DUPLICATE", "Bundle.entry[4].fullUrl"),
                // entry[4] (the addressee doctor) can no longer be resolved
                (
                    "CLINS-REF-UNRESOLVED",
                    "Bundle.entry[0].resource.section[1].entry[1].reference",
                ),
            ],
        ),
        (
            "contained reference without target in an entry",
            |v| set(v, "entry[10].resource.encounter.reference", s("#none")),
            vec![(
                "CLINS-REF-CONTAINED-MISSING",
                "Bundle.entry[10].resource.encounter.reference",
            )],
        ),
    ];
    run_mutations(&base, cases);
}

#[test]
fn unresolved_reference_outside_the_composition_is_a_warning() {
    let dir = shared!();
    let mut v = load(&dir, REFERRAL);
    set(
        &mut v,
        "entry[8].resource.subject.reference",
        s("urn:uuid:22222222-2222-4222-8222-222222222222"),
    );
    let issues = expect_no_errors("condition subject unresolved", &v);
    assert!(has_warning(
        &issues,
        "CLINS-REF-UNRESOLVED",
        "Bundle.entry[8].resource.subject.reference"
    ));
}

#[test]
fn discharge_summary_requires_its_structured_sections() {
    let dir = shared!();
    let mut v = load(&dir, REFERRAL);
    set(
        &mut v,
        "meta.profile[0]",
        s("http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Bundle_eDischargeSummary|1"),
    );
    set(
        &mut v,
        "entry[0].resource.type.coding[0].code",
        s("18842-5"),
    );
    assert_eq!(detect(&v), SubmissionKind::EDischargeSummary);
    let missing = (
        "CLINS-SECTION-MISSING",
        "Bundle.entry[0].resource.section[2].section",
    );
    expect_errors("discharge with referral sections", &v, &[missing; 10]);

    // The 1.3.0-rc3 canonical is still recognised, with a warning.
    set(
        &mut v,
        "meta.profile[0]",
        s("http://jpfhir.jp/fhir/eDischargeSummary/StructureDefinition/JP_Bundle_eDischargeSummary"),
    );
    let issues = expect_errors("old discharge canonical", &v, &[missing; 10]);
    assert!(has_warning(
        &issues,
        "CLINS-PROFILE-OUTDATED",
        "Bundle.meta.profile[0]"
    ));

    // With CDA (200) instead of 300 no structured section is required; 200 and 300 are exclusive.
    set(
        &mut v,
        "entry[0].resource.section[2].code.coding[0].code",
        s("200"),
    );
    expect_no_errors("discharge with CDA", &v);
    let mut s300 = j(r#"{"title":"構造情報","code":{"coding":[{"code":"300"}]}}"#);
    set(&mut s300, "code.coding[0].system", s(SECTION_CS));
    push(&mut v, "entry[0].resource.section", s300);
    // The second of the two is reported; the added (empty) 300 also lacks its sub-sections,
    // since the sender may fix the document either way.
    let mut expected = vec![(
        "CLINS-SECTION-200-XOR-300",
        "Bundle.entry[0].resource.section[3].code.coding[0].code",
    )];
    expected.extend(
        [(
            "CLINS-SECTION-MISSING",
            "Bundle.entry[0].resource.section[3].section",
        ); 10],
    );
    expect_errors("discharge with 200 and 300", &v, &expected);
}

#[test]
fn pcs_bundle_rules() {
    let dir = shared!();
    let base = load(&dir, PCS);
    expect_no_errors("PCS example", &base);
    let cases: Vec<Mutation> = vec![
        (
            "composition type of a referral",
            |v| set(v, "entry[0].resource.type.coding[0].code", s("57133-1")),
            vec![(
                "CLINS-COMPOSITION-TYPE",
                "Bundle.entry[0].resource.type.coding[0].code",
            )],
        ),
        (
            "no section",
            |v| remove(v, "entry[0].resource.section"),
            vec![("CLINS-SECTION-MISSING", "Bundle.entry[0].resource.section")],
        ),
        (
            "422 twice",
            |v| {
                let sec = get(v, "entry[0].resource.section[0]");
                push(v, "entry[0].resource.section", sec);
            },
            vec![(
                "CLINS-SECTION-DUPLICATE",
                "Bundle.entry[0].resource.section[1].code.coding[0].code",
            )],
        ),
        (
            "another section",
            |v| {
                let mut sec = j(r#"{"title":"紹介先情報","code":{"coding":[{"code":"910"}]}}"#);
                set(&mut sec, "code.coding[0].system", s(SECTION_CS));
                push(v, "entry[0].resource.section", sec);
            },
            vec![(
                "CLINS-SECTION-UNEXPECTED",
                "Bundle.entry[0].resource.section[1].code.coding[0].code",
            )],
        ),
        (
            "Bundle-ID of a past decade",
            |v| {
                set(
                    v,
                    "identifier.value",
                    s("1318814790^2019^0123-PCS-203949583949"),
                )
            },
            vec![("CLINS-BUNDLE-ID-FORMAT", "Bundle.identifier.value")],
        ),
        (
            "author not in the bundle",
            |v| {
                set(
                    v,
                    "entry[0].resource.author[0].reference",
                    s("urn:uuid:33333333-3333-4333-8333-333333333333"),
                )
            },
            vec![(
                "CLINS-REF-UNRESOLVED",
                "Bundle.entry[0].resource.author[0].reference",
            )],
        ),
        (
            "section entry not in the bundle",
            |v| {
                set(
                    v,
                    "entry[0].resource.section[0].entry[2].reference",
                    s("urn:uuid:44444444-4444-4444-8444-444444444444"),
                )
            },
            vec![(
                "CLINS-REF-UNRESOLVED",
                "Bundle.entry[0].resource.section[0].entry[2].reference",
            )],
        ),
        (
            "condition encounter without contained target",
            |v| set(v, "entry[6].resource.encounter.reference", s("#missing")),
            vec![(
                "CLINS-REF-CONTAINED-MISSING",
                "Bundle.entry[6].resource.encounter.reference",
            )],
        ),
        (
            "condition institution number with fee table 5",
            |v| {
                set(
                    v,
                    "entry[6].resource.extension[0].valueIdentifier.value",
                    s("1358814790"),
                )
            },
            vec![(
                "CLINS-INSTITUTION-FORMAT",
                "Bundle.entry[6].resource.extension[0].valueIdentifier.value",
            )],
        ),
        (
            "no patient",
            |v| {
                set(v, "entry[1].resource.resourceType", s("RelatedPerson"));
            },
            vec![("CLINS-PATIENT-MISSING", "Bundle.entry")],
        ),
    ];
    run_mutations(&base, cases);
}

// ---------------------------------------------------------------------------------------------
// 健診結果報告書
// ---------------------------------------------------------------------------------------------

#[test]
fn checkup_rules() {
    let dir = shared!();
    let general = load(&dir, CHECKUP);
    let issues = expect_no_errors("checkup sample (general-use profile)", &general);
    assert!(has_warning(
        &issues,
        "CLINS-CHECKUP-GENERAL-PROFILE",
        "Bundle.meta.profile[0]"
    ));

    // The same content under the CLINS profile must carry a Bundle-ID and the member id.
    let mut v = general.clone();
    set(&mut v, "meta.profile[0]", s(systems::BUNDLE_ECHECKUP));
    assert_eq!(detect(&v), SubmissionKind::ECheckup);
    expect_errors(
        "checkup sample under the CLINS profile",
        &v,
        &[
            ("CLINS-BUNDLE-ID-SYSTEM", "Bundle.identifier.system"),
            ("CLINS-BUNDLE-ID-FORMAT", "Bundle.identifier.value"),
            (
                "CLINS-PATIENT-INSURANCE-ID-MISSING",
                "Bundle.entry[1].resource.identifier",
            ),
        ],
    );
    set(
        &mut v,
        "identifier",
        j(
            r#"{"system":"http://jpfhir.jp/fhir/clins/bundle-identifier","value":"1311234567^2024^checkup-0001"}"#,
        ),
    );
    let member = j(
        r#"{"system":"http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID","value":"06123456:１２３４５:６７８９０:01"}"#,
    );
    match get(&v, "entry[1].resource.identifier") {
        Value::Array(_) => push(&mut v, "entry[1].resource.identifier", member),
        single => set(
            &mut v,
            "entry[1].resource.identifier",
            Value::Array(vec![single, member]),
        ),
    }
    expect_no_errors("CLINS checkup with Bundle-ID and member id", &v);

    set(
        &mut v,
        "entry[0].resource.type.coding[0].code",
        s("57133-1"),
    );
    expect_errors(
        "checkup with a referral type",
        &v,
        &[(
            "CLINS-COMPOSITION-TYPE",
            "Bundle.entry[0].resource.type.coding[0].code",
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// stand-alone resources
// ---------------------------------------------------------------------------------------------

#[test]
fn standalone_resource_rules() {
    let dir = shared!();

    let mut alb = load(
        &dir,
        "clinical-core/Observation-Example-JP-Obs-LabResult-eCS-Alb.json",
    );
    set(&mut alb, "meta.tag[0].code", s("UNINFORMED"));
    expect_errors(
        "UNINFORMED on a stand-alone Observation",
        &alb,
        &[("CLINS-FLAG-RESOURCE-TYPE", "Observation.meta.tag[0].code")],
    );

    let mut k = load(
        &dir,
        "clinical-core/Observation-Example-JP-Obs-LabResult-eCS-K.json",
    );
    let i = ext_index(&k, "", systems::INSTITUTION_NUMBER_EXT);
    set(
        &mut k,
        &format!("extension[{i}].valueIdentifier.value"),
        s("1234567"),
    );
    let expr = format!("Observation.extension[{i}].valueIdentifier.value");
    expect_errors(
        "7-digit institution number",
        &k,
        &[("CLINS-INSTITUTION-FORMAT", expr.as_str())],
    );

    let mut patient = load(
        &dir,
        "clinical-core/Patient-Example-JP-Patient-eCS-MAKINO.json",
    );
    let idx = get(&patient, "identifier")
        .items()
        .iter()
        .position(|i| {
            i.get("system").and_then(Value::as_str) == Some(systems::INSURANCE_MEMBER_ID_SYSTEM)
        })
        .expect("member id");
    set(
        &mut patient,
        &format!("identifier[{idx}].value"),
        s("00012345 あいう １８７ 05"),
    );
    let expr = format!("Patient.identifier[{idx}].value");
    expect_errors(
        "member id with spaces",
        &patient,
        &[("CLINS-INSURANCE-ID-FORMAT", expr.as_str())],
    );

    let mut cond = load(
        &dir,
        "clinical-core/Condition-Example-JP-Condition-eCS-01.json",
    );
    set(&mut cond, "encounter.reference", s("#elsewhere"));
    expect_errors(
        "stand-alone #id without contained resource",
        &cond,
        &[(
            "CLINS-REF-CONTAINED-MISSING",
            "Condition.encounter.reference",
        )],
    );

    // Relative and logical references are fine outside a 6情報 bundle.
    let allergy = load(
        &dir,
        "clinical-core/AllergyIntolerance-Example-JP-AllergyIntolerance-eCS-01.json",
    );
    expect_no_errors("stand-alone allergy with Patient/id", &allergy);
}

// ---------------------------------------------------------------------------------------------
// robustness: replacing any node of the official bundles with an odd value never panics
// ---------------------------------------------------------------------------------------------

fn all_paths(v: &Value, prefix: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter() {
                let p = if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(p.clone());
                all_paths(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let p = format!("{prefix}[{i}]");
                out.push(p.clone());
                all_paths(child, p, out);
            }
        }
        _ => {}
    }
}

#[test]
fn never_panics_on_mutated_official_bundles() {
    let dir = shared!();
    let odd = [
        Value::Null,
        Value::Number("0".into()),
        s(""),
        Value::Array(vec![Value::Null]),
        j("{}"),
    ];
    for file in [OBSERVATIONS, PCS, REFERRAL, LEGACY_REFERRAL] {
        let base = load(&dir, file);
        let mut paths = Vec::new();
        all_paths(&base, String::new(), &mut paths);
        let mut runs = 0usize;
        for path in &paths {
            for value in &odd {
                let mut v = base.clone();
                set(&mut v, path, value.clone());
                let _ = check(&v);
                let _ = detect(&v);
                runs += 1;
            }
        }
        assert!(runs > 100, "{file}: only {runs} runs");
    }
}
