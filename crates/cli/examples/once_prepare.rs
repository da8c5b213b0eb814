//! The CPU half of `$submit` (parse, validate, service rules, index, render, pack) on one
//! 6情報 bundle N times, without the write: a fixed workload for instruction counting under
//! callgrind (docs/benchmarks.md, `$submit`). The store is a fresh embedded one in a temporary
//! folder (the rendering asks it for the patient key), removed at the end.
//!
//! `once_prepare FILE [N] [IG_DIR...]`
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        eprintln!("usage: once_prepare FILE [N] [IG_DIR...]");
        std::process::exit(2);
    };
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let igs: Vec<PathBuf> = args.iter().skip(2).map(Into::into).collect();
    let dir = std::env::temp_dir().join(format!("clins-once-prepare-{}", std::process::id()));
    let store = store::Store::open_sqlite(&dir).expect("a temporary store");
    let hub = clins_hub::hub::build_hub(
        store,
        &igs,
        server::Clock::System,
        true,
        "http://127.0.0.1/fhir".into(),
    )
    .expect("hub");
    let bytes = std::fs::read(file).expect("readable file");
    assert!(
        app::submit::prepare(&hub, None, &bytes, None).is_ok(),
        "the bundle must be valid"
    );
    for _ in 0..n {
        run(&hub, &bytes);
    }
    drop(hub);
    let _ = std::fs::remove_dir_all(dir);
}

#[inline(never)]
fn run(hub: &server::Hub, b: &[u8]) {
    std::hint::black_box(app::submit::prepare(hub, None, b, None).is_ok());
}
