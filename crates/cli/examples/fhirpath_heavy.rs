//! Per-expression cost of the FHIRPath suite, heaviest first: `fhirpath_heavy [FILTER]` (the
//! suite is read from `$CLINS_SHARED/conformance/fhirpath`, default `../shared`).

use clins_hub::fhirpath_suite::{load_inputs, read_suite, run_test, Outcome};
use conformance::{Definitions, DefinitionsModel};
use fhir::json::{Object, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let shared = std::env::var("CLINS_SHARED").unwrap_or_else(|_| "../shared".into());
    let dir = PathBuf::from(shared).join("conformance/fhirpath");
    let tests =
        read_suite(&std::fs::read_to_string(dir.join("tests-fhir-r4.xml")).unwrap()).unwrap();
    let inputs = load_inputs(&dir.join("input")).unwrap();
    let model = DefinitionsModel::new(Arc::new(Definitions::r4().unwrap()));
    let empty = Value::Object(Object::new());
    let mut times = Vec::new();
    let mut total = 0.0;
    let only = std::env::args().nth(1).unwrap_or_default();
    let rounds: usize = if only.is_empty() { 2000 } else { 200_000 };
    for t in &tests {
        if !t.expression.contains(&only) {
            continue;
        }
        if t.invalid.is_some()
            || t.expression.contains("trace(")
            || t.expression.contains("now()")
            || t.expression.contains("today()")
        {
            continue;
        }
        if !matches!(run_test(t, &inputs, &model), Outcome::Pass) {
            continue;
        }
        let c = fhirpath::compile_cached(&t.expression).unwrap();
        let input = t
            .input_file
            .as_ref()
            .and_then(|f| inputs.get(&f.replace(".xml", ".json")))
            .unwrap_or(&empty);
        let t0 = Instant::now();
        for _ in 0..rounds {
            let mut ctx = fhirpath::Context::for_resource(&model, input);
            let start: fhirpath::Collection<'_> = ctx.context.clone().into_iter().collect();
            std::hint::black_box(fhirpath::evaluate(&c, &start, &mut ctx).ok());
        }
        let us = t0.elapsed().as_secs_f64() / rounds as f64 * 1e6;
        total += us;
        times.push((us, t.expression.clone()));
    }
    times.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    println!(
        "total per pass {total:.1} µs over {} expressions",
        times.len()
    );
    for (us, e) in times.iter().take(25) {
        println!("{us:8.2} µs  {:.1}%  {e}", us / total * 100.0);
    }
}
