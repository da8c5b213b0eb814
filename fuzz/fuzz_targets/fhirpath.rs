//! The FHIRPath parser and evaluator: the input is `expression\n` followed by a JSON resource
//! (or only an expression, evaluated against a fixed Patient). Errors are fine; a panic, a
//! hang or an overflow is a finding.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;

static MODEL: OnceLock<conformance::DefinitionsModel> = OnceLock::new();
const PATIENT: &str = r#"{"resourceType":"Patient","id":"p","name":[{"family":"山田","given":["太郎"]}],"birthDate":"1970-01-01","gender":"male","identifier":[{"system":"urn:x","value":"1"}]}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (expr, json) = text.split_once('\n').unwrap_or((text, PATIENT));
    if expr.len() > 2000 {
        return;
    }
    let Ok(compiled) = fhirpath::compile(expr) else {
        return;
    };
    let Ok(resource) = fhir::json::parse(json) else {
        return;
    };
    let model = MODEL.get_or_init(|| {
        conformance::DefinitionsModel::new(Arc::new(
            conformance::Definitions::r4().expect("the embedded R4 definitions"),
        ))
    });
    let mut ctx = fhirpath::Context::for_resource(model, &resource);
    let start: fhirpath::Collection<'_> = ctx.context.clone().into_iter().collect();
    let _ = fhirpath::evaluate(&compiled, &start, &mut ctx);
});
