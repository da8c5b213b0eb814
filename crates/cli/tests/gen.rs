//! `clins-hub gen`: determinism, validity against the JP-CLINS packages, and the command line.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use fhir::outcome::Severity;
use synth::Config;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("clins-gen-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn generate(seed: u64, patients: u64, dir: &Path) -> synth::Manifest {
    let cfg = Config {
        patients,
        institutions: None,
        seed,
    };
    clins_hub::gen::write(&cfg, dir, false, &|| {}).expect("generates")
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (temp_dir("a"), temp_dir("b"), temp_dir("c"));
    let ma = generate(5, 120, &a);
    let mb = generate(5, 120, &b);
    generate(6, 120, &c);
    assert_eq!(ma, mb);
    let files_a = common::json_files(&a);
    assert!(files_a.len() as u64 > ma.patients, "{}", files_a.len());
    assert_eq!(
        files_a.len() as u64,
        ma.submissions + 1,
        "submissions and the manifest"
    );
    for f in &files_a {
        let other = b.join(f.strip_prefix(&a).unwrap());
        assert_eq!(common::read(f), common::read(&other), "{}", f.display());
    }
    let first = "submissions/00000000-01-condition.json";
    assert_ne!(common::read(&a.join(first)), common::read(&c.join(first)));
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn ndjson_stream_holds_the_same_bundles() {
    let (files, stream) = (temp_dir("files"), temp_dir("stream"));
    let cfg = Config {
        patients: 40,
        institutions: Some(5),
        seed: 11,
    };
    let m1 = clins_hub::gen::write(&cfg, &files, false, &|| {}).unwrap();
    let m2 = clins_hub::gen::write(&cfg, &stream, true, &|| {}).unwrap();
    assert_eq!(m1, m2);
    let text = std::fs::read_to_string(stream.join("submissions.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, m1.submissions);
    let mut names: Vec<PathBuf> = common::json_files(&files.join("submissions"));
    names.sort();
    // Files are named patient by patient in generation order, as the stream is written.
    for (line, file) in lines.iter().zip(&names) {
        let from_file = fhir::json::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
        let from_line = fhir::json::parse(line).unwrap();
        assert_eq!(from_file, from_line, "{}", file.display());
    }
    let _ = std::fs::remove_dir_all(files);
    let _ = std::fs::remove_dir_all(stream);
}

/// The two warnings that follow from inconsistencies inside the IG packages rather than from
/// the generated content (docs/synthetic-data.md), one per document of the kind:
/// - JP_Composition_eDischargeSummary requires the 現病歴 sub-section with code `362`, which the
///   complete document-section CodeSystem of the same package does not define;
/// - the checkup IG fixes Composition.type to `53576-5` in doc-typecodes, but the JP-CLINS
///   package's doc-typecodes CodeSystem (version 5.11, the one that is used) does not define it
///   (the official checkup example gets the same warning).
fn ig_inconsistency(file: &Path, i: &fhir::outcome::Issue) -> bool {
    let name = file.to_string_lossy();
    let discharge = name.ends_with("-discharge.json")
        && i.expression == "Bundle.entry[0].resource.section[0].section[4].code.coding[0].code"
        && i.en.contains("\"362\"");
    let checkup = name.ends_with("-checkup.json")
        && i.expression == "Bundle.entry[0].resource.type.coding[0].code"
        && i.en.contains("\"53576-5\"");
    i.severity == Severity::Warning && i.detail == "CODE-UNKNOWN" && (discharge || checkup)
}

#[test]
fn every_generated_file_passes_validation_with_the_jp_packages() {
    let shared = shared_or_skip!();
    let v = common::jp_validator(&shared);
    for seed in [1, 2, 3] {
        let dir = temp_dir(&format!("valid-{seed}"));
        let m = generate(seed, 200, &dir);
        assert!(
            m.condition_units >= 200 && m.allergy_units > 0 && m.observation_units > 0,
            "{m:?}"
        );
        // Every document kind is in the run.
        assert!(
            m.referrals > 0
                && m.discharge_summaries > 0
                && m.checkups > 0
                && m.patient_summaries > 0
                && m.prescriptions > 0,
            "{m:?}"
        );
        let files = common::json_files(&dir.join("submissions"));
        assert_eq!(files.len() as u64, m.submissions);
        let mut known = 0;
        for f in &files {
            let issues = clins_hub::pipeline::validate_file(v, f);
            known += issues.iter().filter(|i| ig_inconsistency(f, i)).count();
            let bad: Vec<_> = issues
                .iter()
                .filter(|i| {
                    matches!(
                        i.severity,
                        Severity::Error | Severity::Fatal | Severity::Warning
                    ) && !ig_inconsistency(f, i)
                })
                .collect();
            assert!(bad.is_empty(), "seed {seed}, {}: {bad:#?}", f.display());
        }
        // Exactly one known warning per discharge summary and per checkup report.
        assert_eq!(
            known as u64,
            m.discharge_summaries + m.checkups,
            "seed {seed}"
        );
        println!(
            "seed {seed}: {} submissions valid (referrals {}, discharge summaries {}, checkups {}, patient summaries {}; {known} known IG warnings)",
            files.len(),
            m.referrals,
            m.discharge_summaries,
            m.checkups,
            m.patient_summaries
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn command_line_writes_files_and_manifest() {
    let dir = temp_dir("cli");
    let out = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(["gen", "--patients", "25", "--seed", "4"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let m = fhir::json::parse(&manifest).expect("manifest is JSON");
    assert_eq!(m.get("seed").and_then(|s| s.as_number()), Some("4"));
    assert_eq!(m.get("patients").and_then(|s| s.as_number()), Some("25"));
    let n: usize = m
        .get("submissions")
        .and_then(|s| s.as_number())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(common::json_files(&dir.join("submissions")).len(), n);
    // Bad arguments are usage errors.
    let bad = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(["gen", "--patients", "x"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let zero = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(["gen", "--patients", "3", "--institutions", "0"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(zero.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_fabricated_infection_code_is_reported() {
    let shared = shared_or_skip!();
    let v = common::jp_validator(&shared);
    let dir = temp_dir("fabricated");
    generate(21, 200, &dir);
    let file = common::json_files(&dir.join("submissions"))
        .into_iter()
        .find(|f| f.to_string_lossy().ends_with("infection.json"))
        .expect("200 patients include an infection screening");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("5F016141002305111"));
    let bad = text.replace("5F016141002305111", "5F016141002305199");
    let issues = v.validate_bytes(bad.as_bytes());
    assert!(
        issues.iter().any(|i| i.detail == "CODE-UNKNOWN"
            && i.severity == Severity::Warning
            && i.expression.ends_with(".code.coding[1].code")),
        "{issues:#?}"
    );
    let good = v.validate_bytes(text.as_bytes());
    assert!(!good.iter().any(|i| i.detail == "CODE-UNKNOWN"));
    let _ = std::fs::remove_dir_all(dir);
}
