//! The JP-CLINS FHIRPath invariants evaluated natively (`clins::invariants`): for each one a
//! passing and a failing case, built from the official examples at run time (parsed, then
//! mutated) or from small synthetic JSON; the legacy stand-alone eReferral examples; and the
//! published key lists against the IG package snapshots.
//!
//! Like `tests/fixtures.rs`, the official examples are read from `$CLINS_SHARED` (default
//! `../shared` next to the workspace); without it the tests that need them print `skipped` and
//! pass, unless `CLINS_REQUIRE_SHARED=1`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clins::{check, systems, ADVISORY_INVARIANT_KEYS, NATIVE_INVARIANT_KEYS};
use fhir::json::{parse, Value};
use fhir::outcome::{Issue, IssueType, Severity};

// ---------------------------------------------------------------------------------------------
// fixtures and value surgery (test-only: panics are test failures)
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
        panic!("CLINS_SHARED not found at {}", dir.display());
    }
    println!("skipped: CLINS_SHARED not found");
    None
}

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

fn j(text: &str) -> Value {
    parse(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn s(text: &str) -> Value {
    Value::string(text)
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for seg in path.split('.').filter(|s| !s.is_empty()) {
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
        let i: usize = idx.trim_end_matches(']').parse().expect("index");
        node(v, parent).as_array_mut().expect("array")[i] = new;
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
        let i: usize = idx.trim_end_matches(']').parse().expect("index");
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

/// `(detail, expression)` of the issues with `severity` whose code starts with `CLINS-INV-`
/// or is one of the codes the invariants share with the service rules.
fn keys(issues: &[Issue], severity: Severity) -> Vec<(String, String)> {
    let mut k: Vec<(String, String)> = issues
        .iter()
        .filter(|i| i.severity == severity)
        .map(|i| (i.detail.to_string(), i.expression.clone()))
        .collect();
    k.sort();
    k
}

fn sorted(want: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut w: Vec<(String, String)> = want
        .iter()
        .map(|(d, e)| (d.to_string(), e.to_string()))
        .collect();
    w.sort();
    w
}

/// The errors of `check(v)` are exactly `errors`, and the `CLINS-INV-` warnings exactly
/// `warnings`. Every issue has both messages; every `CLINS-INV-` issue is an invariant issue
/// whose messages cite what to do.
fn expect(name: &str, v: &Value, errors: &[(&str, &str)], warnings: &[(&str, &str)]) {
    let issues = check(v);
    assert_eq!(
        keys(&issues, Severity::Error),
        sorted(errors),
        "{name}: errors\n{}",
        dump(&issues)
    );
    let inv_warnings: Vec<(String, String)> = keys(&issues, Severity::Warning)
        .into_iter()
        .filter(|(d, _)| d.starts_with("CLINS-INV-"))
        .collect();
    assert_eq!(
        inv_warnings,
        sorted(warnings),
        "{name}: CLINS-INV- warnings\n{}",
        dump(&issues)
    );
    for i in &issues {
        assert!(
            !i.en.is_empty() && !i.ja.is_empty(),
            "{name}: empty message"
        );
        if i.detail.starts_with("CLINS-INV-") {
            assert_eq!(i.code, IssueType::Invariant, "{name}: {}", i.detail);
        }
    }
}

fn expect_clean(name: &str, v: &Value) {
    expect(name, v, &[], &[]);
}

const OBSERVATIONS: &str = "clinical-core/Bundle-Bundle-CLINS-Observations-Example-01.json";
const REFERRAL: &str = "clinical-core/Bundle-Bundle-CLINS-Referral-Example-01.json";
const CHECKUP: &str = "eCheckupReport/Bundle-Bundle-eCheckupReport-Sample-01.json";
const MAKINO: &str = "clinical-core/Patient-Example-JP-Patient-eCS-MAKINO.json";
const MEDREQ_SID: &str = "clinical-core/MedicationRequest-Example-JP-MedReq-PO-SID-28days.json";
const MEDREQ_DUMMY: &str =
    "clinical-core/MedicationRequest-Example-JP-MedReq-PO-TID-2days-dummyUsageCode.json";
const ALB: &str = "clinical-core/Observation-Example-JP-Obs-LabResult-eCS-Alb.json";
const DOCTOR: &str =
    "clinical-core/Practitioner-Example-Contained-JP-Practitioner-minimun-D001.json";
const FOOD_ALLERGY: &str =
    "clinical-core/AllergyIntolerance-Example-JP-AllergyIntolerance-eCS-01.json";
const DRUG_ALLERGY: &str =
    "clinical-core/AllergyIntolerance-Example-JP-AllergyIntolerance-eCS-03.json";

const PATIENT_ECS: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Patient_eCS";
const INST_EXT: &str =
    "http://jpfhir.jp/fhir/clins/Extension/StructureDefinition/JP_eCS_InstitutionNumber";

fn institution_ext(value: &str) -> Value {
    j(&format!(
        r#"{{"url":"{INST_EXT}","valueIdentifier":{{"system":"http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no","value":"{value}"}}}}"#
    ))
}

/// The invariant warning of the official referral: its drug allergy has no criticality.
const REFERRAL_WARNINGS: &[(&str, &str)] = &[(
    "CLINS-INV-ALLERGY-CRITICALITY",
    "Bundle.entry[15].resource.criticality",
)];

/// The official Observations bundle has exactly one (non-invariant) warning.
fn observations(dir: &Path) -> Value {
    load(dir, OBSERVATIONS)
}

// ---------------------------------------------------------------------------------------------
// JP_Bundle_CLINS
// ---------------------------------------------------------------------------------------------

#[test]
fn patients_profile_is_jp_patient_ecs() {
    let dir = shared!();
    let base = observations(&dir);
    expect_clean("official Observations bundle", &base);

    let mut v = base.clone();
    set(
        &mut v,
        "entry[0].resource.meta.profile",
        j(&format!(r#"["{PATIENT_ECS}|1.5.5"]"#)),
    );
    expect_clean("Patient profile with an IG-version suffix", &v);

    let mut v = base.clone();
    remove(&mut v, "entry[0].resource.meta.profile");
    expect(
        "Patient without meta.profile",
        &v,
        &[(
            "CLINS-INV-PATIENT-PROFILE",
            "Bundle.entry[0].resource.meta.profile",
        )],
        &[],
    );

    let mut v = base;
    set(
        &mut v,
        "entry[0].resource.meta.profile",
        j(r#"["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]"#),
    );
    expect(
        "Patient claiming only JP Core",
        &v,
        &[(
            "CLINS-INV-PATIENT-PROFILE",
            "Bundle.entry[0].resource.meta.profile",
        )],
        &[],
    );
}

#[test]
fn valid_entry_profile_in_the_clins_bundle() {
    let dir = shared!();
    let base = observations(&dir);

    let mut v = base.clone();
    set(
        &mut v,
        "entry[1].resource.meta.profile",
        j(r#"["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Observation_LabResult_eCS|1"]"#),
    );
    expect_clean("lab result profile with |1", &v);

    let mut v = base.clone();
    set(
        &mut v,
        "entry[1].resource.meta.profile",
        j(r#"["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Observation_Common_eCS"]"#),
    );
    expect(
        "Observation entry claiming the non-lab profile",
        &v,
        &[(
            "CLINS-INV-ENTRY-PROFILE",
            "Bundle.entry[1].resource.meta.profile",
        )],
        &[],
    );

    // A Condition unit built from the official stand-alone Condition.
    let mut unit = base;
    set(&mut unit, "meta.tag[0].code", s("Condition"));
    node(&mut unit, "entry")
        .as_array_mut()
        .expect("array")
        .truncate(1);
    let mut condition = load(
        &dir,
        "clinical-core/Condition-Example-JP-Condition-eCS-01.json",
    );
    let patient_url = get(&unit, "entry[0].fullUrl");
    set(&mut condition, "subject", j("{}"));
    set(&mut condition, "subject.reference", patient_url);
    let mut entry = j(r#"{"fullUrl":"urn:uuid:7d3e2a10-5b4c-4e8f-9a61-0c2d3e4f5a6b"}"#);
    set(&mut entry, "resource", condition);
    push(&mut unit, "entry", entry);
    expect_clean("Condition unit", &unit);

    let mut v = unit;
    remove(&mut v, "entry[1].resource.meta.profile");
    expect(
        "Condition entry without profile",
        &v,
        &[(
            "CLINS-INV-ENTRY-PROFILE",
            "Bundle.entry[1].resource.meta.profile",
        )],
        &[],
    );
}

#[test]
fn valid_entry_profile_medication_request_in_documents() {
    let dir = shared!();
    let mut referral = load(&dir, REFERRAL);
    let mut entry = j(r#"{"fullUrl":"urn:uuid:3c9d1e2f-4a5b-4c6d-8e7f-901a2b3c4d5e"}"#);
    set(&mut entry, "resource", load(&dir, MEDREQ_SID));
    push(&mut referral, "entry", entry);
    let n = get(&referral, "entry").items().len() - 1;
    expect(
        "referral with a JP_MedicationRequest_eCS entry",
        &referral,
        &[],
        REFERRAL_WARNINGS,
    );

    let mut v = referral.clone();
    remove(&mut v, &format!("entry[{n}].resource.meta.profile"));
    let path = format!("Bundle.entry[{n}].resource.meta.profile");
    expect(
        "referral MedicationRequest without profile",
        &v,
        &[("CLINS-INV-ENTRY-PROFILE", path.as_str())],
        REFERRAL_WARNINGS,
    );

    // Without the profile claim the entry is still a JP_MedicationRequest_eCS in a referral,
    // so R3010 applies to it.
    set(
        &mut v,
        &format!("entry[{n}].resource.medicationCodeableConcept.coding[0].system"),
        s("urn:oid:1.2.392.100495.20.1.81"),
    );
    let code_path = format!("Bundle.entry[{n}].resource.medicationCodeableConcept.coding");
    expect(
        "referral MedicationRequest without profile and standard code",
        &v,
        &[
            ("CLINS-INV-ENTRY-PROFILE", path.as_str()),
            ("CLINS-INV-MEDICATION-CODE", code_path.as_str()),
        ],
        REFERRAL_WARNINGS,
    );
}

#[test]
fn contained_encounter_declares_jp_encounter() {
    let dir = shared!();
    let base = observations(&dir);

    let mut v = base.clone();
    set(
        &mut v,
        "entry[1].resource.contained[0].meta.profile",
        j(r#"["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Encounter_eCS|1"]"#),
    );
    expect_clean("contained JP_Encounter_eCS|1", &v);

    let mut v = base.clone();
    remove(&mut v, "entry[1].resource.contained[0].meta.profile");
    expect(
        "contained Encounter without profile",
        &v,
        &[(
            "CLINS-INV-CONTAINED-ENCOUNTER",
            "Bundle.entry[1].resource.contained[0].meta.profile",
        )],
        &[],
    );

    // Only the Specimen claims a profile: no contained Encounter at all.
    let mut v = base;
    remove(&mut v, "entry[1].resource.contained[0]");
    expect(
        "no contained Encounter",
        &v,
        &[
            (
                "CLINS-INV-CONTAINED-ENCOUNTER",
                "Bundle.entry[1].resource.contained",
            ),
            (
                "CLINS-REF-CONTAINED-MISSING",
                "Bundle.entry[1].resource.encounter.reference",
            ),
        ],
        &[],
    );
}

#[test]
fn institution_extension_format_on_contained_resources() {
    let dir = shared!();
    let base = observations(&dir);

    let mut v = base.clone();
    set(
        &mut v,
        "entry[1].resource.contained[0].extension",
        Value::Array(vec![institution_ext("1311234567")]),
    );
    expect_clean("valid institution number on a contained Encounter", &v);

    let mut v = base;
    set(
        &mut v,
        "entry[1].resource.contained[0].extension",
        Value::Array(vec![institution_ext("131123456X")]),
    );
    expect(
        "invalid institution number on a contained Encounter",
        &v,
        &[(
            "CLINS-INSTITUTION-FORMAT",
            "Bundle.entry[1].resource.contained[0].extension[0].valueIdentifier.value",
        )],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// JP_Patient_eCS
// ---------------------------------------------------------------------------------------------

#[test]
fn local_patient_id_system() {
    let dir = shared!();
    let base = load(&dir, MAKINO);
    expect_clean("official MAKINO", &base);

    let cases = [
        "urn:oid:1.2.392.100495.20.3.51.1131881479",
        "urn:oid:1.2.392.100495.20.3.51.21318814790",
        "urn:oid:1.2.392.100495.20.3.51.14918814790",
        "urn:oid:1.2.392.100495.20.3.51.",
    ];
    for system in cases {
        let mut v = base.clone();
        set(&mut v, "identifier[0].system", s(system));
        expect(
            system,
            &v,
            &[("CLINS-INV-LOCAL-PATIENT-ID", "Patient.identifier[0].system")],
            &[],
        );
    }

    let mut v = base.clone();
    let id = get(&v, "identifier[0]");
    push(&mut v, "identifier", id);
    expect(
        "two 施設患者ID",
        &v,
        &[("CLINS-INV-LOCAL-PATIENT-ID", "Patient.identifier[2].system")],
        &[],
    );

    // In a 6情報 bundle the Patient is a JP_Patient_eCS even without claiming it.
    let mut bundle = observations(&dir);
    set(
        &mut bundle,
        "entry[0].resource.identifier[0].system",
        s("urn:oid:1.2.392.100495.20.3.51.1318814790"),
    );
    expect(
        "bad 施設患者ID in a 6情報 bundle",
        &bundle,
        &[(
            "CLINS-INV-LOCAL-PATIENT-ID",
            "Bundle.entry[0].resource.identifier[0].system",
        )],
        &[],
    );
}

#[test]
fn local_patient_id_former_oid_and_institution() {
    let dir = shared!();
    let base = load(&dir, MAKINO);

    let mut v = base.clone();
    set(
        &mut v,
        "identifier[0].system",
        s("urn:oid:1.2.392.200119.6.102.11318814790"),
    );
    expect(
        "former patient-ID OID",
        &v,
        &[],
        &[(
            "CLINS-INV-LOCAL-PATIENT-ID-OID",
            "Patient.identifier[0].system",
        )],
    );
    let issues = check(&v);
    let w = issues
        .iter()
        .find(|i| i.detail == "CLINS-INV-LOCAL-PATIENT-ID-OID")
        .expect("warning");
    assert!(
        w.en.contains("urn:oid:1.2.392.100495.20.3.51.11318814790"),
        "{}",
        w.en
    );

    let mut v = base.clone();
    set(
        &mut v,
        "extension",
        Value::Array(vec![institution_ext("1318814790")]),
    );
    expect_clean("institution extension matching the 施設患者ID", &v);

    set(
        &mut v,
        "extension",
        Value::Array(vec![institution_ext("1311234567")]),
    );
    expect(
        "institution extension differing from the 施設患者ID",
        &v,
        &[],
        &[(
            "CLINS-INV-LOCAL-PATIENT-ID-INSTITUTION",
            "Patient.identifier[0].system",
        )],
    );
}

#[test]
fn insurance_member_id_on_a_standalone_patient() {
    let dir = shared!();
    let base = load(&dir, MAKINO);

    let mut v = base.clone();
    remove(&mut v, "identifier[1]");
    expect(
        "stand-alone JP_Patient_eCS without member id",
        &v,
        &[],
        &[("CLINS-INV-PATIENT-MEMBER-ID", "Patient.identifier")],
    );

    let mut v = base.clone();
    let id = get(&v, "identifier[1]");
    push(&mut v, "identifier", id);
    expect(
        "stand-alone JP_Patient_eCS with two member ids",
        &v,
        &[],
        &[("CLINS-INV-PATIENT-MEMBER-ID", "Patient.identifier[2]")],
    );

    // A Patient that does not claim JP_Patient_eCS is not checked.
    let mut v = base.clone();
    remove(&mut v, "identifier[1]");
    set(
        &mut v,
        "meta.profile",
        j(r#"["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]"#),
    );
    expect_clean("JP Core Patient without member id", &v);

    // Inside a submission the service rule reports it as an error instead.
    let mut bundle = observations(&dir);
    remove(&mut bundle, "entry[0].resource.identifier[1]");
    expect(
        "6情報 Patient without member id",
        &bundle,
        &[(
            "CLINS-PATIENT-INSURANCE-ID-MISSING",
            "Bundle.entry[0].resource.identifier",
        )],
        &[],
    );
}

#[test]
fn names_without_fullwidth_space() {
    let dir = shared!();
    let base = load(&dir, MAKINO);

    let mut v = base.clone();
    set(&mut v, "name[0].text", s("牧野爛漫"));
    expect_clean("kanji name without separator", &v);

    let mut v = base.clone();
    set(&mut v, "name[1].text", s("マキノ　ランマン"));
    expect(
        "kana name with a full-width space",
        &v,
        &[("CLINS-INV-PATIENT-NAME-SPACE", "Patient.name[1].text")],
        &[],
    );

    // The invariant only looks at names marked as kanji or kana.
    let mut v = base.clone();
    push(&mut v, "name", j(r#"{"use":"nickname","text":"Ｍ　Ｒ"}"#));
    expect_clean("unmarked name with a full-width space", &v);

    let mut bundle = load(&dir, REFERRAL);
    set(
        &mut bundle,
        "entry[1].resource.name[0].text",
        s("牧野　爛漫"),
    );
    expect(
        "document Patient with a full-width space",
        &bundle,
        &[(
            "CLINS-INV-PATIENT-NAME-SPACE",
            "Bundle.entry[1].resource.name[0].text",
        )],
        REFERRAL_WARNINGS,
    );
}

#[test]
fn kanji_or_kana_name() {
    let dir = shared!();
    let base = load(&dir, MAKINO);

    let mut v = base.clone();
    remove(&mut v, "name[0]");
    expect_clean("kana name only", &v);

    let mut v = base;
    remove(&mut v, "name[1].extension");
    remove(&mut v, "name[0].extension");
    expect(
        "no name marked IDE or SYL",
        &v,
        &[],
        &[("CLINS-INV-PATIENT-NAME-KANJI-KANA", "Patient.name")],
    );
}

// ---------------------------------------------------------------------------------------------
// JP_Observation_LabResult_eCS
// ---------------------------------------------------------------------------------------------

#[test]
fn lab_result_needs_institution_number() {
    let dir = shared!();
    let base = load(&dir, ALB);
    expect_clean("official Alb", &base);

    let mut v = base;
    remove(&mut v, "extension[0]");
    expect(
        "stand-alone lab result without institution number",
        &v,
        &[("CLINS-INV-OBS-INSTITUTION", "Observation.extension")],
        &[],
    );

    // 6情報 entries: reported once, by the service rule.
    let mut bundle = observations(&dir);
    remove(&mut bundle, "entry[1].resource.extension[0]");
    expect(
        "6情報 lab result without institution number",
        &bundle,
        &[(
            "CLINS-INSTITUTION-MISSING",
            "Bundle.entry[1].resource.extension",
        )],
        &[],
    );
}

#[test]
fn lab_result_local_code() {
    let dir = shared!();
    let base = load(&dir, ALB);

    let mut v = base.clone();
    remove(&mut v, "code.coding[0]");
    expect(
        "stand-alone lab result without local code",
        &v,
        &[],
        &[("CLINS-INV-LABRESULT-LOCAL-CODE", "Observation.code.coding")],
    );

    // In a 6情報 bundle the service rule makes it an error.
    let mut bundle = observations(&dir);
    remove(&mut bundle, "entry[1].resource.code.coding[0]");
    expect(
        "6情報 lab result without local code",
        &bundle,
        &[(
            "CLINS-OBS-LOCAL-CODE",
            "Bundle.entry[1].resource.code.coding[0].system",
        )],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// JP_MedicationRequest_eCS / JP_MedicationDosage_eCS
// ---------------------------------------------------------------------------------------------

#[test]
fn medication_needs_a_standard_code() {
    let dir = shared!();
    let base = load(&dir, MEDREQ_SID);
    expect_clean("official PO-SID-28days (一般名処方コード)", &base);

    for system in [
        systems::YJ_CODE,
        systems::MEDICATION_NOCODED_CS,
        systems::MEDICATION_GENERAL_ORDER_CODE,
    ] {
        let mut v = base.clone();
        set(
            &mut v,
            "medicationCodeableConcept.coding[0].system",
            s(system),
        );
        expect_clean(system, &v);
    }

    let mut v = base.clone();
    set(
        &mut v,
        "medicationCodeableConcept.coding[0].system",
        s("urn:oid:1.2.392.100495.20.1.81"),
    );
    expect(
        "only the former OID of the general-name master",
        &v,
        &[(
            "CLINS-INV-MEDICATION-CODE",
            "MedicationRequest.medicationCodeableConcept.coding",
        )],
        &[],
    );

    let mut v = base.clone();
    let coding = get(&v, "medicationCodeableConcept.coding[0]");
    push(&mut v, "medicationCodeableConcept.coding", coding);
    expect(
        "the general-name code twice",
        &v,
        &[(
            "CLINS-INV-MEDICATION-CODE",
            "MedicationRequest.medicationCodeableConcept.coding",
        )],
        &[],
    );

    let mut v = base;
    remove(&mut v, "medicationCodeableConcept");
    set(
        &mut v,
        "medicationReference",
        j(r##"{"reference":"#med"}"##),
    );
    push(
        &mut v,
        "contained",
        j(r#"{"resourceType":"Medication","id":"med"}"#),
    );
    expect(
        "medicationReference instead of a code",
        &v,
        &[(
            "CLINS-INV-MEDICATION-CODE",
            "MedicationRequest.medicationCodeableConcept",
        )],
        &[],
    );
}

#[test]
fn dosage_usage_code() {
    let dir = shared!();
    let mhlw = load(&dir, MEDREQ_SID);
    let dummy = load(&dir, MEDREQ_DUMMY);
    expect_clean("official MHLW usage code", &mhlw);
    expect_clean("official dummy usage code", &dummy);

    // JAMI code only.
    let mut v = mhlw.clone();
    remove(&mut v, "dosageInstruction[0].timing.code.coding[1]");
    expect(
        "JAMI usage code only",
        &v,
        &[(
            "CLINS-INV-USAGE-CODE",
            "MedicationRequest.dosageInstruction[0].timing.code.coding",
        )],
        &[],
    );

    let mut v = mhlw.clone();
    remove(&mut v, "dosageInstruction[0].timing.code");
    expect(
        "no timing.code",
        &v,
        &[(
            "CLINS-INV-USAGE-CODE",
            "MedicationRequest.dosageInstruction[0].timing.code",
        )],
        &[],
    );

    let mut v = dummy.clone();
    set(
        &mut v,
        "dosageInstruction[0].timing.code.coding[0].code",
        s("0X0XXXXXXXXX9999"),
    );
    expect(
        "dummy system with another code",
        &v,
        &[(
            "CLINS-INV-USAGE-CODE",
            "MedicationRequest.dosageInstruction[0].timing.code.coding",
        )],
        &[],
    );

    let mut v = dummy;
    let real = get(&mhlw, "dosageInstruction[0].timing.code.coding[1]");
    push(&mut v, "dosageInstruction[0].timing.code.coding", real);
    expect(
        "both the MHLW and the dummy usage code",
        &v,
        &[(
            "CLINS-INV-USAGE-CODE-BOTH",
            "MedicationRequest.dosageInstruction[0].timing.code.coding[0]",
        )],
        &[],
    );

    // A second dosage is checked on its own.
    let mut v = mhlw;
    let mut second = get(&v, "dosageInstruction[0]");
    remove(&mut second, "timing.code.coding[1]");
    push(&mut v, "dosageInstruction", second);
    expect(
        "second dosage without MHLW code",
        &v,
        &[(
            "CLINS-INV-USAGE-CODE",
            "MedicationRequest.dosageInstruction[1].timing.code.coding",
        )],
        &[],
    );
}

#[test]
fn medication_invariants_apply_to_claims_and_assigned_entries_only() {
    let dir = shared!();
    let mut v = load(&dir, MEDREQ_SID);
    remove(&mut v, "dosageInstruction[0].timing.code.coding[1]");
    set(
        &mut v,
        "meta.profile",
        j(r#"["http://jpfhir.jp/fhir/core/StructureDefinition/JP_MedicationRequest"]"#),
    );
    expect_clean("JP Core MedicationRequest, not JP-CLINS", &v);
}

// ---------------------------------------------------------------------------------------------
// Practitioner, AllergyIntolerance (FSH-only invariants, warnings)
// ---------------------------------------------------------------------------------------------

#[test]
fn local_doctor_id_system() {
    let dir = shared!();
    let base = load(&dir, DOCTOR);
    expect_clean("official contained-doctor example", &base);

    let mut v = base.clone();
    set(
        &mut v,
        "identifier[0].system",
        s("urn:oid:1.2.392.100495.20.3.41.1131123456"),
    );
    expect(
        "施設医師ID with 9 digits",
        &v,
        &[],
        &[(
            "CLINS-INV-LOCAL-DOCTOR-ID",
            "Practitioner.identifier[0].system",
        )],
    );

    let mut bundle = observations(&dir);
    set(
        &mut bundle,
        "entry[1].resource.contained[2].identifier[0].system",
        s("urn:oid:1.2.392.100495.20.3.41.01311234567"),
    );
    expect(
        "contained Practitioner with a bad 施設医師ID",
        &bundle,
        &[],
        &[(
            "CLINS-INV-LOCAL-DOCTOR-ID",
            "Bundle.entry[1].resource.contained[2].identifier[0].system",
        )],
    );
}

#[test]
fn drug_allergy_criticality() {
    let dir = shared!();
    let base = load(&dir, DRUG_ALLERGY);
    expect(
        "official drug allergy without criticality",
        &base,
        &[],
        &[(
            "CLINS-INV-ALLERGY-CRITICALITY",
            "AllergyIntolerance.criticality",
        )],
    );
    let mut v = base;
    set(&mut v, "criticality", s("high"));
    expect_clean("drug allergy with criticality high", &v);

    let food = load(&dir, FOOD_ALLERGY);
    expect_clean("food allergy without criticality", &food);
}

#[test]
fn allergen_coded_with_jfagy() {
    let dir = shared!();
    let base = load(&dir, FOOD_ALLERGY);
    expect_clean("official food allergy (JFAGY)", &base);

    let mut v = base.clone();
    set(
        &mut v,
        "code.coding[0].system",
        s("urn:oid:1.2.392.200119.4.101.2"),
    );
    expect(
        "food allergy coded outside JFAGY",
        &v,
        &[],
        &[("CLINS-INV-ALLERGY-CODE", "AllergyIntolerance.code.coding")],
    );

    let mut v = base;
    remove(&mut v, "code.coding");
    expect(
        "text-only allergen",
        &v,
        &[],
        &[("CLINS-INV-ALLERGY-CODE", "AllergyIntolerance.code.coding")],
    );

    // Drug allergies with criticality high are outside R2013.
    let mut drug = load(&dir, DRUG_ALLERGY);
    set(&mut drug, "criticality", s("high"));
    set(&mut drug, "code.coding[0].system", s(systems::YJ_CODE));
    expect_clean("high-criticality drug allergy with a YJ code", &drug);

    // In a JP-CLINS document every AllergyIntolerance is a JP_AllergyIntolerance_eCS.
    let mut referral = load(&dir, REFERRAL);
    remove(&mut referral, "entry[13].resource.meta.profile");
    remove(&mut referral, "entry[13].resource.code.coding");
    expect(
        "referral allergy without JFAGY code and profile",
        &referral,
        &[],
        &[
            (
                "CLINS-INV-ALLERGY-CODE",
                "Bundle.entry[13].resource.code.coding",
            ),
            (
                "CLINS-INV-ALLERGY-CRITICALITY",
                "Bundle.entry[15].resource.criticality",
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Compositions, 健診結果報告書
// ---------------------------------------------------------------------------------------------

fn composition(profile: &str, section_codes: &[&str]) -> Value {
    let sections: Vec<String> = section_codes
        .iter()
        .map(|c| {
            format!(
                r#"{{"title":"s","code":{{"coding":[{{"system":"http://jpfhir.jp/fhir/clins/CodeSystem/document-section","code":"{c}"}}]}},"text":{{"status":"additional","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}}}"#
            )
        })
        .collect();
    j(&format!(
        r#"{{"resourceType":"Composition","meta":{{"profile":["{profile}|1"]}},"status":"final",
            "section":[{}]}}"#,
        sections.join(",")
    ))
}

#[test]
fn cda_xor_structured_on_standalone_compositions() {
    for profile in [
        systems::COMPOSITION_EREFERRAL,
        systems::COMPOSITION_EDISCHARGE,
    ] {
        expect_clean("structured", &composition(profile, &["920", "910", "300"]));
        expect_clean("CDA", &composition(profile, &["920", "910", "200"]));
        expect(
            "neither 200 nor 300",
            &composition(profile, &["920", "910"]),
            &[("CLINS-SECTION-200-XOR-300", "Composition.section")],
            &[],
        );
        expect(
            "both 200 and 300",
            &composition(profile, &["200", "300"]),
            &[(
                "CLINS-SECTION-200-XOR-300",
                "Composition.section[1].code.coding[0].code",
            )],
            &[],
        );
    }
    // A Composition that claims neither profile is not checked.
    expect_clean(
        "ePCS Composition",
        &composition(
            "http://jpfhir.jp/fhir/ePCS/StructureDefinition/JP_Composition_ePCS",
            &["422"],
        ),
    );
}

#[test]
fn checkup_entry_profiles() {
    let dir = shared!();
    let base = load(&dir, CHECKUP);
    // Only the member-id and former-OID warnings of its Patient (checkup IG 1.1.3 example).
    expect(
        "official checkup sample",
        &base,
        &[],
        &[
            (
                "CLINS-INV-LOCAL-PATIENT-ID-OID",
                "Bundle.entry[1].resource.identifier[0].system",
            ),
            (
                "CLINS-INV-PATIENT-MEMBER-ID",
                "Bundle.entry[1].resource.identifier",
            ),
        ],
    );
    let warnings = [
        (
            "CLINS-INV-LOCAL-PATIENT-ID-OID",
            "Bundle.entry[1].resource.identifier[0].system",
        ),
        (
            "CLINS-INV-PATIENT-MEMBER-ID",
            "Bundle.entry[1].resource.identifier",
        ),
    ];

    let mut v = base.clone();
    set(
        &mut v,
        "entry[1].resource.meta.profile",
        j(
            r#"["http://jpfhir.jp/fhir/clins/StructureDefinition/JP_Patient_eCheckupGeneral|1.5.0"]"#,
        ),
    );
    // No longer a JP_Patient_eCS claim: the Patient rules of JP-CLINS do not apply.
    expect_clean("v1.5.0 CLINS checkup Patient profile", &v);

    let mut v = base.clone();
    remove(&mut v, "entry[0].resource.meta.profile");
    expect(
        "Composition without profile",
        &v,
        &[(
            "CLINS-INV-CHECKUP-ENTRY-PROFILE",
            "Bundle.entry[0].resource.meta.profile",
        )],
        &warnings,
    );

    for (i, rt) in [(2, "Practitioner"), (3, "Organization"), (4, "Encounter")] {
        let mut v = base.clone();
        assert_eq!(get(&v, &format!("entry[{i}].resource.resourceType")), s(rt));
        remove(&mut v, &format!("entry[{i}].resource.meta.profile"));
        expect(
            rt,
            &v,
            &[("CLINS-INV-CHECKUP-ENTRY-PROFILE", "Bundle.entry")],
            &warnings,
        );
    }

    let mut v = base;
    remove(&mut v, "entry[1].resource.meta.profile");
    expect(
        "Patient without profile",
        &v,
        &[("CLINS-INV-CHECKUP-ENTRY-PROFILE", "Bundle.entry")],
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// the legacy stand-alone eReferral examples
// ---------------------------------------------------------------------------------------------

/// `(file, expected errors, expected CLINS-INV- warnings)`.
type LegacyCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str)],
);

/// The examples of the superseded stand-alone eReferral IG package. Only the MedicationRequest
/// fails (errors); the Patient and the AllergyIntolerance get warnings, the others conform.
#[test]
fn legacy_package_examples() {
    let dir = shared!();
    let cases: &[LegacyCase] = &[
        (
            "MedicationRequest-MedicationRequestExample01.json",
            &[
                (
                    "CLINS-INV-MEDICATION-CODE",
                    "MedicationRequest.medicationCodeableConcept.coding",
                ),
                (
                    "CLINS-INV-USAGE-CODE",
                    "MedicationRequest.dosageInstruction[0].timing.code.coding",
                ),
            ],
            &[],
        ),
        (
            "Patient-jppatientExample01.json",
            &[],
            &[
                (
                    "CLINS-INV-LOCAL-PATIENT-ID-OID",
                    "Patient.identifier[0].system",
                ),
                ("CLINS-INV-PATIENT-MEMBER-ID", "Patient.identifier"),
            ],
        ),
        (
            "AllergyIntolerance-alg1ReferralExample01.json",
            &[],
            &[("CLINS-INV-ALLERGY-CODE", "AllergyIntolerance.code.coding")],
        ),
        ("Condition-cc1ReferralExample01.json", &[], &[]),
        ("Condition-cc2ReferralExample01.json", &[], &[]),
        ("Condition-ph1ReferralExample01.json", &[], &[]),
        ("DocumentReference-ccourseReferralExample01.json", &[], &[]),
        ("Encounter-encounterReferralExample01.json", &[], &[]),
        ("Observation-obsCommonExample01.json", &[], &[]),
        (
            "Organization-referralFromOrganizationExample01.json",
            &[],
            &[],
        ),
        (
            "Organization-referralToOrganizationExample01.json",
            &[],
            &[],
        ),
        (
            "Practitioner-referralFromPractitionerExample01.json",
            &[],
            &[],
        ),
        (
            "Practitioner-referralToPractitionerExample01.json",
            &[],
            &[],
        ),
    ];
    let mut files = BTreeSet::new();
    if let Ok(read) = std::fs::read_dir(dir.join("fixtures/jp-clins/eReferral/package-examples")) {
        for e in read.flatten() {
            files.insert(e.file_name().to_string_lossy().into_owned());
        }
    }
    let listed: BTreeSet<String> = cases.iter().map(|(f, _, _)| f.to_string()).collect();
    assert_eq!(files, listed, "the legacy package examples changed");
    for (file, errors, warnings) in cases {
        let v = load(&dir, &format!("eReferral/package-examples/{file}"));
        expect(file, &v, errors, warnings);
    }
}

// ---------------------------------------------------------------------------------------------
// the key lists against the IG packages
// ---------------------------------------------------------------------------------------------

/// Invariant keys of the JP-CLINS / checkup FSH that no stored package binds.
const FSH_ONLY: &[&str] = &[
    "condition-needs-encounter",
    "observation-needs-encounter",
    "needs-localCode-observation-laboresult",
    "valid-system-local-patientID-with-institutionNumber",
    "either-KanjiName-KanaName-exist",
    "valid-system-local-doctorID",
    "warning-medication-allergy",
    "valid-allergy-code",
    "bundle-profile-is-JP-Bundle-eCheckupGeneral",
    "bundle-entry-JP-Patient-CLINS-eCheckupGeneral",
];

/// `key → source` of the constraints declared by the jpfhir.jp profiles of a package folder.
fn package_keys(folder: &Path) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let Ok(read) = std::fs::read_dir(folder) else {
        return keys;
    };
    for e in read.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("StructureDefinition-") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).expect("readable");
        let sd = parse(&text).expect("JSON");
        let elements = sd
            .get("snapshot")
            .and_then(|s| s.get("element"))
            .map(Value::items)
            .unwrap_or_default();
        for el in elements {
            for c in el.get("constraint").map(Value::items).unwrap_or_default() {
                let source = c.get("source").and_then(Value::as_str).unwrap_or("");
                if let (Some(key), true) = (
                    c.get("key").and_then(Value::as_str),
                    source.starts_with("http://jpfhir.jp/"),
                ) {
                    keys.insert(key.to_string());
                }
            }
        }
    }
    keys
}

#[test]
fn native_keys_cover_the_jp_clins_package() {
    let dir = shared!();
    let clins = package_keys(&dir.join("spec/jp-clins/package-1.5.2-snapshot"));
    let checkup = package_keys(&dir.join("spec/eCheckupReport/package-1.1.3"));
    assert!(clins.len() >= 30, "{clins:?}");

    let native: BTreeSet<&str> = NATIVE_INVARIANT_KEYS.iter().copied().collect();
    let advisory: BTreeSet<&str> = ADVISORY_INVARIANT_KEYS.iter().copied().collect();
    assert_eq!(native.len(), NATIVE_INVARIANT_KEYS.len(), "duplicate key");
    assert!(native.is_disjoint(&advisory));

    // Every JP-CLINS constraint bound in the 1.5.2 package is enforced natively.
    let missing: Vec<&String> = clins
        .iter()
        .filter(|k| !native.contains(k.as_str()))
        .collect();
    assert!(missing.is_empty(), "not native: {missing:?}");
    // ... and so is every one of the checkup package.
    let missing: Vec<&String> = checkup
        .iter()
        .filter(|k| !native.contains(k.as_str()))
        .collect();
    assert!(missing.is_empty(), "checkup keys not native: {missing:?}");

    // Every listed key exists in a package or in the FSH.
    for key in native.iter().chain(advisory.iter()) {
        assert!(
            clins.contains(*key) || checkup.contains(*key) || FSH_ONLY.contains(key),
            "unknown key {key}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// robustness
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
fn never_panics_on_mutated_resources() {
    let dir = shared!();
    let odd = [
        Value::Null,
        Value::Number("0".into()),
        s(""),
        s("urn:oid:1.2.392.100495.20.3.51.1"),
        Value::Array(vec![Value::Null]),
        j("{}"),
    ];
    for file in [MEDREQ_SID, MEDREQ_DUMMY, MAKINO, DRUG_ALLERGY, ALB, DOCTOR] {
        let base = load(&dir, file);
        let mut paths = Vec::new();
        all_paths(&base, String::new(), &mut paths);
        for path in &paths {
            for value in &odd {
                let mut v = base.clone();
                set(&mut v, path, value.clone());
                let _ = check(&v);
            }
        }
    }
}
