//! One validation pipeline: R4 base, loaded IG profiles, JP-CLINS service rules.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use conformance::{Definitions, Validator};
use fhir::outcome::{Issue, IssueType, Severity};

/// IG folders from `--ig` followed by those in `CLINS_IG_PATH` (colon-separated).
pub fn ig_dirs(explicit: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = explicit.to_vec();
    if let Ok(env) = std::env::var("CLINS_IG_PATH") {
        dirs.extend(env.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    dirs
}

/// The validator for the given IG folders (plus `CLINS_IG_PATH`), with the JP-CLINS service
/// rules plugged in.
pub fn build_validator(ig: &[PathBuf]) -> Result<Validator, String> {
    let defs = Definitions::load(&ig_dirs(ig)).map_err(|e| e.to_string())?;
    Ok(validator_for(Arc::new(defs)))
}

/// The pipeline over already loaded definitions.
pub fn validator_for(defs: Arc<Definitions>) -> Validator {
    Validator::new(defs).with_rules(Arc::new(clins::rules::check), clins::NATIVE_INVARIANT_KEYS)
}

/// Reads and validates one file. Oversized files are refused before they are read.
pub fn validate_file(v: &Validator, path: &Path) -> Vec<Issue> {
    if let Ok(m) = std::fs::metadata(path) {
        if m.len() > conformance::MAX_BYTES as u64 {
            return vec![Issue::new(
                Severity::Fatal,
                IssueType::TooLong,
                "SIZE-LIMIT",
                "",
                format!(
                    "the file is {} bytes; the limit is 10 MB (10485760 bytes)",
                    m.len()
                ),
                format!(
                    "ファイルサイズが{}バイトです。上限は10MB（10485760バイト）です",
                    m.len()
                ),
            )];
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => v.validate_bytes(&bytes),
        Err(e) => vec![Issue::new(
            Severity::Fatal,
            IssueType::Exception,
            "FILE-READ",
            "",
            format!("cannot read the file: {e}"),
            format!("ファイルを読み込めません: {e}"),
        )],
    }
}
