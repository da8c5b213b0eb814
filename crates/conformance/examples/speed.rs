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
    let n: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(500);
    v.validate_bytes(&bytes);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(v.validate_bytes(&bytes));
    }
    let el = t.elapsed();
    println!(
        "{} bytes: {:.0}/s ({:?} each)",
        bytes.len(),
        n as f64 / el.as_secs_f64(),
        el / n as u32
    );
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(fhir::json::parse_bytes(&bytes).unwrap());
    }
    println!("parse only: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
    let r4 = conformance::Validator::new(Arc::new(conformance::Definitions::r4().unwrap()));
    let val = fhir::json::parse_bytes(&bytes).unwrap();
    let mut stripped = val.clone();
    fn strip(v: &mut fhir::Value) {
        match v {
            fhir::Value::Object(o) => {
                o.remove("profile");
                for (_, x) in o.iter_mut() {
                    strip(x)
                }
            }
            fhir::Value::Array(a) => {
                for x in a {
                    strip(x)
                }
            }
            _ => {}
        }
    }
    strip(&mut stripped);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(r4.validate(&stripped));
    }
    println!(
        "base only (no profiles): {:.0}/s",
        n as f64 / t.elapsed().as_secs_f64()
    );
}
#[allow(dead_code)]
fn unused() {}
