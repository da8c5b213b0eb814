use std::sync::Arc;
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shared = std::path::PathBuf::from("../shared");
    let igs: Vec<_> = [
        "spec/jp-core/package-1.1.2-url-snapshot",
        "spec/jp-clins/package-1.5.2-snapshot",
        "spec/eCheckupReport/package-1.1.3",
    ]
    .iter()
    .map(|p| shared.join(p))
    .collect();
    let defs = conformance::Definitions::load(&igs).unwrap();
    let v = conformance::Validator::new(Arc::new(defs));
    let bytes = std::fs::read(&args[0]).unwrap();
    let val = fhir::json::parse_bytes(&bytes).unwrap();
    let n: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(500);
    v.validate(&val);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(v.validate(&val));
    }
    let el = t.elapsed();
    eprintln!("validate (parsed): {:.0}/s", n as f64 / el.as_secs_f64());
}
