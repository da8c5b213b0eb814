//! FHIRPath throughput: every expression of the official R4 suite that clins-hub passes,
//! evaluated against its input, repeatedly, on one thread. `bench/fhirpath-vs-js.sh` runs this
//! and fhirpath.js on the same selection (written to `CLINS_FHIRPATH_SELECTION`).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clins_hub::fhirpath_suite::{load_inputs, read_suite, run_test, Outcome};
use conformance::{Definitions, DefinitionsModel};
use fhir::json::{self, Object, Value};

fn main() {
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let shared = std::env::var_os("CLINS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    let dir = shared.join("conformance/fhirpath");
    let Ok(text) = std::fs::read_to_string(dir.join("tests-fhir-r4.xml")) else {
        eprintln!("skipped: CLINS_SHARED not found (the benchmark needs the FHIRPath suite)");
        return;
    };
    let secs: f64 = std::env::var("CLINS_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let tests = read_suite(&text).expect("suite parses");
    let inputs = load_inputs(&dir.join("input")).expect("inputs load");
    let model = DefinitionsModel::new(Arc::new(Definitions::r4().expect("R4 loads")));

    // The passing tests, minus those with side effects (trace) or a varying answer (now).
    let mut selected = Vec::new();
    for t in &tests {
        if t.invalid.is_some()
            || t.expression.contains("trace(")
            || t.expression.contains("now()")
            || t.expression.contains("today()")
            || t.expression.contains("timeOfDay()")
        {
            continue;
        }
        if matches!(run_test(t, &inputs, &model), Outcome::Pass) {
            selected.push(t.clone());
        }
    }
    // Restrict to a given list (the expressions the other engine can run), when asked.
    if let Some(path) = std::env::var_os("CLINS_FHIRPATH_ONLY") {
        let text = std::fs::read_to_string(&path).expect("selection readable");
        let list = json::parse(&text).expect("selection is JSON");
        let keep: Vec<&str> = list
            .as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.get("expression").and_then(Value::as_str))
            .collect();
        selected.retain(|t| keep.contains(&t.expression.as_str()));
    }
    if let Some(path) = std::env::var_os("CLINS_FHIRPATH_SELECTION") {
        let list: Vec<Value> = selected
            .iter()
            .map(|t| {
                let mut o = Object::new();
                o.insert("expression", Value::string(t.expression.as_str()));
                let input = t.input_file.as_ref().map(|f| match f.strip_suffix(".xml") {
                    Some(stem) => format!("{stem}.json"),
                    None => f.clone(),
                });
                o.insert("input", input.map_or(Value::Null, Value::string));
                Value::Object(o)
            })
            .collect();
        std::fs::write(&path, json::to_string(&Value::Array(list))).expect("selection written");
    }
    let compiled: Vec<(Arc<fhirpath::Compiled>, Option<&Value>)> = selected
        .iter()
        .map(|t| {
            let c = fhirpath::compile_cached(&t.expression).expect("passing tests compile");
            let input = t.input_file.as_ref().and_then(|f| {
                let name = match f.strip_suffix(".xml") {
                    Some(stem) => format!("{stem}.json"),
                    None => f.clone(),
                };
                inputs.get(&name)
            });
            (c, input)
        })
        .collect();
    let empty = Value::Object(Object::new());
    let run_all = || eval_all(&compiled, &model, &empty);
    if secs <= 0.0 {
        return;
    }
    for _ in 0..20 {
        run_all();
    }
    let t0 = Instant::now();
    let mut n = 0usize;
    while t0.elapsed().as_secs_f64() < secs {
        run_all();
        n += compiled.len();
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    println!(
        "clins-hub FHIRPath: {} expressions of the R4 suite, evaluations_per_second={rate:.0}",
        compiled.len()
    );
}

/// One pass over every selected expression (a separate function so that profilers can
/// attribute the work).
#[inline(never)]
fn eval_all(
    compiled: &[(Arc<fhirpath::Compiled>, Option<&Value>)],
    model: &DefinitionsModel,
    empty: &Value,
) {
    for (c, input) in compiled {
        let resource = input.unwrap_or(empty);
        let mut ctx = fhirpath::Context::for_resource(model, resource);
        let start: fhirpath::Collection<'_> = ctx.context.clone().into_iter().collect();
        let r = fhirpath::evaluate(c, &start, &mut ctx);
        std::hint::black_box(r.ok());
    }
}
