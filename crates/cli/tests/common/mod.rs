//! Test helpers shared by the `clins-hub` integration tests: where the shared conformance
//! material lives, and one validator per test binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use conformance::{Definitions, Validator};

/// `$CLINS_SHARED` or `../shared` beside the project. `None` (test skipped, with a note) when
/// absent, unless `CLINS_REQUIRE_SHARED=1`, which turns absence into a failure.
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("CLINS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    if dir.join("conformance").is_dir() {
        return Some(dir);
    }
    if std::env::var("CLINS_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "CLINS_REQUIRE_SHARED=1 but the shared folder {} is missing",
            dir.display()
        );
    }
    eprintln!("skipped: CLINS_SHARED not found ({})", dir.display());
    println!("skipped: CLINS_SHARED not found ({})", dir.display());
    None
}

/// Returns from the calling test when the shared folder is absent (see [`shared`]).
#[allow(unused_macros)]
macro_rules! shared_or_skip {
    () => {
        match common::shared() {
            Some(d) => d,
            None => return,
        }
    };
}

/// The JP IG package folders inside the shared folder.
pub fn ig_dirs(shared: &Path) -> Vec<PathBuf> {
    [
        "spec/jp-core/package-1.1.2-url-snapshot",
        "spec/jp-clins/package-1.5.2-snapshot",
        "spec/eCheckupReport/package-1.1.3",
    ]
    .iter()
    .map(|p| shared.join(p))
    .collect()
}

/// The project's own `examples/` folder.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
}

/// Every `*.json` below `dir`, sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    walk(dir, &mut out);
    out.sort();
    out
}

/// The validator with the three JP packages of `shared` (R4 + IGs + JP-CLINS rules), built
/// once per test binary. The folders are passed explicitly: `CLINS_IG_PATH` is not read.
pub fn jp_validator(shared: &Path) -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let defs = Definitions::load(&ig_dirs(shared))
            .unwrap_or_else(|e| panic!("cannot load the JP IG packages: {e}"));
        clins_hub::pipeline::validator_for(Arc::new(defs))
    })
}

/// The validator without any IG package (R4 + JP-CLINS rules), built once per test binary.
pub fn r4_validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let defs = Definitions::load(&[]).unwrap_or_else(|e| panic!("cannot load R4: {e}"));
        clins_hub::pipeline::validator_for(Arc::new(defs))
    })
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn parse_file(path: &Path) -> fhir::json::Value {
    let text = String::from_utf8(read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    fhir::json::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One line per issue: `severity expression [DETAIL] english`.
pub fn show(issues: &[fhir::outcome::Issue]) -> String {
    issues
        .iter()
        .map(|i| {
            format!(
                "    {} {} [{}] {}",
                i.severity.as_str(),
                if i.expression.is_empty() {
                    "-"
                } else {
                    &i.expression
                },
                i.detail,
                i.en
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn errors(issues: &[fhir::outcome::Issue]) -> Vec<&fhir::outcome::Issue> {
    issues.iter().filter(|i| i.severity.is_error()).collect()
}
