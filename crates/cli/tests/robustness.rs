//! Robustness: damaged inputs never panic the validator.
//!
//! For every example file (the official R4 examples and the JP-CLINS fixtures of the shared
//! folder, and the project's `examples/`), deterministic pseudo-random variants are validated
//! with `validate_bytes` inside `catch_unwind`:
//!
//! - 16 truncations at pseudo-random lengths; a non-empty truncated prefix that cannot be JSON
//!   (it ends before the closing brace of the document) must give one `fatal` `JSON-SYNTAX`
//!   (a whitespace-only prefix: `JSON-EMPTY`);
//! - 16 single-byte flips (xor with a non-zero byte);
//! - 4 single random bytes inserted at random offsets.
//!
//! The generator is a xorshift64 seeded by the file's index, so every run sees the same inputs.

#[macro_use]
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use conformance::Validator;
use fhir::outcome::{Issue, Severity};

/// xorshift64 (Marsaglia). Never seeded with 0.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let mut s = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        // Warm up so that close seeds diverge.
        for _ in 0..8 {
            s.next();
        }
        s
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 24) as u8
    }
    fn nonzero_byte(&mut self) -> u8 {
        loop {
            let b = self.byte();
            if b != 0 {
                return b;
            }
        }
    }
}

fn files() -> (Vec<PathBuf>, Option<PathBuf>) {
    let mut files = Vec::new();
    let shared = common::shared();
    if let Some(s) = &shared {
        files.extend(common::json_files(&s.join("conformance/r4-examples")));
        files.extend(common::json_files(&s.join("fixtures/jp-clins")));
    }
    files.extend(common::json_files(&common::examples_dir()));
    (files, shared)
}

fn validate(v: &Validator, bytes: &[u8]) -> Result<Vec<Issue>, String> {
    catch_unwind(AssertUnwindSafe(|| v.validate_bytes(bytes))).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into())
    })
}

fn trim_end_len(b: &[u8]) -> usize {
    b.iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1)
}

#[test]
fn damaged_inputs_never_panic() {
    let (files, shared) = files();
    let v: &Validator = match &shared {
        Some(s) => common::jp_validator(s),
        None => common::r4_validator(),
    };
    assert!(!files.is_empty());
    let (mut truncations, mut flips, mut inserts) = (0usize, 0usize, 0usize);
    let mut panics: Vec<String> = Vec::new();
    let mut wrong: Vec<String> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        let orig = common::read(f);
        if orig.len() < 2 {
            continue;
        }
        let mut rng = XorShift::new(fi as u64 + 1);
        let content_end = trim_end_len(&orig);
        // Truncations.
        for _ in 0..16 {
            let n = 1 + rng.below(orig.len() - 1);
            let prefix = &orig[..n];
            truncations += 1;
            match validate(v, prefix) {
                Err(p) => panics.push(format!("{} truncated to {n}: {p}", f.display())),
                Ok(issues) => {
                    let blank = prefix.iter().all(u8::is_ascii_whitespace);
                    let want = if blank {
                        Some("JSON-EMPTY")
                    } else if trim_end_len(prefix) < content_end {
                        // The document's closing brace is cut off: this cannot be JSON.
                        Some("JSON-SYNTAX")
                    } else {
                        None
                    };
                    if let Some(want) = want {
                        let ok = issues
                            .iter()
                            .any(|i| i.severity == Severity::Fatal && i.detail == want);
                        if !ok {
                            wrong.push(format!(
                                "{} truncated to {n}: expected fatal {want}, got:\n{}",
                                f.display(),
                                common::show(&issues)
                            ));
                        }
                    }
                }
            }
        }
        // Byte flips.
        for _ in 0..16 {
            let at = rng.below(orig.len());
            let x = rng.nonzero_byte();
            let mut m = orig.clone();
            m[at] ^= x;
            flips += 1;
            if let Err(p) = validate(v, &m) {
                panics.push(format!("{} byte {at} ^= {x:#04x}: {p}", f.display()));
            }
        }
        // Inserted bytes.
        for _ in 0..4 {
            let at = rng.below(orig.len() + 1);
            let b = rng.byte();
            let mut m = orig.clone();
            m.insert(at, b);
            inserts += 1;
            if let Err(p) = validate(v, &m) {
                panics.push(format!(
                    "{} byte {b:#04x} inserted at {at}: {p}",
                    f.display()
                ));
            }
        }
    }
    println!(
        "robustness: {} files, {} variants ({truncations} truncations, {flips} byte flips, {inserts} inserted bytes), {} panics, {} truncations without the expected fatal issue",
        files.len(),
        truncations + flips + inserts,
        panics.len(),
        wrong.len()
    );
    for p in &panics {
        println!("PANIC {p}");
    }
    for w in wrong.iter().take(20) {
        println!("WRONG {w}");
    }
    assert!(panics.is_empty(), "{} variants panicked", panics.len());
    assert!(
        wrong.is_empty(),
        "{} truncated prefixes were not reported as fatal JSON errors",
        wrong.len()
    );
}

#[test]
fn xorshift_is_deterministic_and_spreads() {
    let a: Vec<u64> = {
        let mut r = XorShift::new(1);
        (0..4).map(|_| r.next()).collect()
    };
    let b: Vec<u64> = {
        let mut r = XorShift::new(1);
        (0..4).map(|_| r.next()).collect()
    };
    let c: Vec<u64> = {
        let mut r = XorShift::new(2);
        (0..4).map(|_| r.next()).collect()
    };
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mut r = XorShift::new(7);
    let mut hit = [false; 10];
    for _ in 0..200 {
        hit[r.below(10)] = true;
    }
    assert!(hit.iter().all(|h| *h));
    assert!((0..100).all(|_| r.nonzero_byte() != 0));
}
