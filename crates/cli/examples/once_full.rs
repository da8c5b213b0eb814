//! The full pipeline (R4, profiles, JP-CLINS rules) on one file N times: a fixed workload for
//! instruction counting under callgrind (`bench/validate.sh`).
//!
//! `once_full FILE [N] [IG_DIR...]`
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        eprintln!("usage: once_full FILE [N] [IG_DIR...]");
        std::process::exit(2);
    };
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let igs: Vec<PathBuf> = args.iter().skip(2).map(Into::into).collect();
    let defs = conformance::Definitions::load(&igs).expect("packages load");
    let v = clins_hub::pipeline::validator_for(std::sync::Arc::new(defs));
    let bytes = std::fs::read(file).expect("readable file");
    v.validate_bytes(&bytes);
    for _ in 0..n {
        run(&v, &bytes);
    }
}

#[inline(never)]
fn run(v: &conformance::Validator, b: &[u8]) {
    std::hint::black_box(v.validate_bytes(b));
}
