//! A `$submit` body through the validation the hub runs before anything is stored: JSON, R4
//! structure and invariants, and the JP-CLINS service rules (the IG packages are not loaded:
//! the fuzzer runs without ../shared). Every answer is a list of issues; a panic, a hang or
//! an overflow is a finding.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;

static VALIDATOR: OnceLock<conformance::Validator> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let v = VALIDATOR.get_or_init(|| {
        let defs = conformance::Definitions::r4().expect("the embedded R4 definitions");
        conformance::Validator::new(Arc::new(defs))
            .with_rules(Arc::new(clins::rules::check), clins::NATIVE_INVARIANT_KEYS)
    });
    let issues = v.validate_bytes(data);
    // At most the documented number of issues comes back, whatever the input.
    assert!(issues.len() <= 1_001, "{} issues", issues.len());
});
