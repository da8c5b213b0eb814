//! The pages in a real browser: starts `clins-hub demo` and runs `tests/browser/run.mjs`
//! (playwright-core driving Debian's chromium, axe-core, html-validate). Needs node, chromium
//! and `npm ci` in `tests/browser`; without them the test says it skips, unless
//! `CLINS_REQUIRE_BROWSER=1` (set by `.ci/run`), which makes their absence a failure.
//! Screenshots and the result are written to `target/browser-artifacts`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn require() -> bool {
    std::env::var("CLINS_REQUIRE_BROWSER").as_deref() == Ok("1")
}

fn skip(why: &str) {
    if require() {
        panic!("CLINS_REQUIRE_BROWSER=1 but {why}");
    }
    println!("skipped: {why}");
    eprintln!("skipped: {why}");
}

#[test]
fn pages_in_a_browser() {
    let Some(shared) = common::shared() else {
        return;
    };
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let dir = root.join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if Command::new("node").arg("--version").output().is_err() {
        return skip("node is not installed");
    }
    if !PathBuf::from(&chromium).exists() {
        return skip("chromium is not installed (apt-get install chromium)");
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return skip("tests/browser has no node_modules (npm ci in tests/browser)");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let ig = common::ig_dirs(&shared)
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_clins-hub"))
        .args(["demo", "--patients", "20", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("CLINS_IG_PATH", ig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("clins-hub demo starts");
    // The banner ends with its last line; the server is ready when it answers.
    let mut banner = String::new();
    let mut lines = BufReader::new(demo.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        let line = line.expect("banner line");
        let done = line.starts_with("Stop with Ctrl-C");
        banner.push_str(&line);
        banner.push('\n');
        if done {
            break;
        }
    }
    // Keep reading (and dropping) whatever the demo prints later.
    std::thread::spawn(move || for _ in lines {});
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the demo did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let artifacts = root.join("target/browser-artifacts");
    let banner_file = artifacts.join("demo-banner.txt");
    std::fs::create_dir_all(&artifacts).expect("artifacts folder");
    std::fs::write(&banner_file, &banner).expect("banner written");
    let run = Command::new("node")
        .arg("run.mjs")
        .arg(&artifacts)
        .current_dir(&dir)
        .env("CLINS_BASE", format!("http://127.0.0.1:{port}"))
        .env("CLINS_DEMO", &banner_file)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let _ = Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status();
    let _ = demo.wait();
    let out = String::from_utf8_lossy(&run.stdout);
    println!("{out}");
    eprintln!("{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        run.status.success(),
        "browser tests failed:\n{}",
        out.lines()
            .filter(|l| !l.starts_with("ok "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.contains(" passed, 0 failed") && !last.starts_with("0 passed"),
        "{last}"
    );
}
