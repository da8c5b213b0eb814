//! `clins-hub fhirpath` and `clins-hub fhirpath-tests`.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clins_hub::fhirpath_suite::{load_inputs, read_suite, render_json, run_test, Outcome};
use conformance::{Definitions, DefinitionsModel};
use fhir::json;

fn model() -> Result<DefinitionsModel, String> {
    let defs = Definitions::r4().map_err(|e| e.to_string())?;
    Ok(DefinitionsModel::new(Arc::new(defs)))
}

pub fn eval(expression: &str, file: Option<&Path>) -> ExitCode {
    let bytes = match file {
        Some(f) => std::fs::read(f).map_err(|e| format!("{}: {e}", f.display())),
        None => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .map(|_| b)
                .map_err(|e| format!("stdin: {e}"))
        }
    };
    let run = || -> Result<String, String> {
        let bytes = bytes?;
        let resource = json::parse_bytes(&bytes).map_err(|e| format!("input is not JSON: {e}"))?;
        let model = model()?;
        let compiled = fhirpath::compile(expression).map_err(|e| e.to_string())?;
        let mut ctx = fhirpath::Context::for_resource(&model, &resource);
        let start: fhirpath::Collection<'_> = ctx.context.clone().into_iter().collect();
        let result = fhirpath::evaluate(&compiled, &start, &mut ctx).map_err(|e| e.to_string())?;
        Ok(json::to_string_pretty(&render_json(&result)))
    };
    match run() {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("clins-hub fhirpath: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn suite(path: &Path, inputs: Option<&Path>) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("clins-hub fhirpath-tests: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let tests = match read_suite(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("clins-hub fhirpath-tests: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let dir = inputs
        .map(Path::to_path_buf)
        .or_else(|| path.parent().map(|p| p.join("input")))
        .unwrap_or_default();
    let inputs = match load_inputs(&dir) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("clins-hub fhirpath-tests: inputs: {e}");
            return ExitCode::from(2);
        }
    };
    let model = match model() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("clins-hub fhirpath-tests: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for t in &tests {
        // A panic in one test must not end the run (and is reported as a failure).
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_test(t, &inputs, &model)
        }))
        .unwrap_or_else(|_| Outcome::Fail("panicked".into()));
        match outcome {
            Outcome::Pass => passed += 1,
            Outcome::Skip(why) => {
                skipped += 1;
                println!("SKIP {}/{}: {why}", t.group, t.name);
            }
            Outcome::Fail(why) => {
                failed += 1;
                println!("FAIL {}/{}: {}\n     {why}", t.group, t.name, t.expression);
            }
        }
    }
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
