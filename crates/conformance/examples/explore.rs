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
    let t = std::time::Instant::now();
    let defs = conformance::Definitions::load(&igs).unwrap();
    eprintln!("loaded in {:?}", t.elapsed());
    let v = conformance::Validator::new(Arc::new(defs));
    for f in &args {
        let issues = v.validate_bytes(&std::fs::read(f).unwrap());
        println!("== {f}");
        for i in issues {
            if i.severity != fhir::Severity::Information || args.len() == 1 {
                println!(
                    "  {:?} {} [{}] {}",
                    i.severity, i.expression, i.detail, i.en
                );
            }
        }
    }
}
