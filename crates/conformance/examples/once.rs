// Validates one file N times; for instruction counting under callgrind.
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
    let n: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(10);
    v.validate_bytes(&bytes);
    for _ in 0..n {
        run(&v, &bytes);
    }
}
#[inline(never)]
fn run(v: &conformance::Validator, b: &[u8]) {
    std::hint::black_box(v.validate_bytes(b));
}
