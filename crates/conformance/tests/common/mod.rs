//! Test helpers: where the shared conformance material lives.
#![allow(dead_code)]

use std::path::PathBuf;

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
    None
}

/// The JP IG package folders inside the shared folder.
pub fn ig_dirs(shared: &std::path::Path) -> Vec<PathBuf> {
    [
        "spec/jp-core/package-1.1.2-url-snapshot",
        "spec/jp-clins/package-1.5.2-snapshot",
        "spec/eCheckupReport/package-1.1.3",
    ]
    .iter()
    .map(|p| shared.join(p))
    .collect()
}

pub fn json_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(d: &std::path::Path, out: &mut Vec<PathBuf>) {
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
