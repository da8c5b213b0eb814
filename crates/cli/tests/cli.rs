//! End-to-end tests of the `clins-hub` binary: exit codes, the text and JSON reports, the
//! "profiles not checked" notice, hostile files and IG package loading.
//!
//! `CLINS_IG_PATH` is removed from the child's environment unless a test sets it. Temporary
//! files go to `<temp>/clins-cli-tests-<pid>/<test>/` and are removed at the end of each test.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use fhir::json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run_env(args: &[&str], env: &[(&str, String)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clins-hub"));
    cmd.args(args).env_remove("CLINS_IG_PATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Relative paths (examples/) are resolved from the workspace root.
    cmd.current_dir(workspace());
    let o = cmd.output().expect("cannot run clins-hub");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Out {
    run_env(args, &[])
}

fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A fresh folder for one test; removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new(name: &str) -> Tmp {
        let d = std::env::temp_dir()
            .join(format!("clins-cli-tests-{}", std::process::id()))
            .join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Tmp(d)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir(parent); // only when empty
        }
    }
}

fn as_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The `--format json` report, parsed with the project's own JSON parser.
fn report(out: &Out) -> Vec<Value> {
    let v = fhir::json::parse(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}\n{out:?}"));
    let Value::Array(items) = v else {
        panic!("the JSON report is not an array:\n{out:?}")
    };
    items
}

/// (severity, detail code, diagnostics, expression) of each issue of one file's outcome.
fn issues_of(file: &Value) -> Vec<(String, String, String, String)> {
    let oo = file.get("outcome").expect("outcome");
    assert_eq!(
        oo.get("resourceType").and_then(Value::as_str),
        Some("OperationOutcome")
    );
    let list = oo
        .get("issue")
        .and_then(Value::as_array)
        .expect("outcome.issue[]");
    assert!(
        !list.is_empty(),
        "an OperationOutcome has at least one issue"
    );
    list.iter()
        .map(|i| {
            let s = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let detail = i
                .pointer("details.coding")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
                .and_then(|c| c.get("code"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let expr = i
                .get("expression")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            (s("severity"), detail, s("diagnostics"), expr)
        })
        .collect()
}

fn file_entry<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items
        .iter()
        .find(|f| {
            f.get("file")
                .and_then(Value::as_str)
                .is_some_and(|s| s.ends_with(name))
        })
        .unwrap_or_else(|| panic!("no report for {name}"))
}

/// One hostile file, validated with `--format json`; returns its issues.
fn hostile(name: &str, bytes: &[u8]) -> (Out, Vec<(String, String, String, String)>) {
    let t = Tmp::new(&format!("hostile-{}", name.replace('.', "-")));
    let f = t.write(name, bytes);
    let out = run(&["validate", "--format", "json", p(&f)]);
    let items = report(&out);
    assert_eq!(items.len(), 1, "{out:?}");
    assert_eq!(
        items[0].get("valid").and_then(Value::as_bool),
        Some(false),
        "{out:?}"
    );
    let issues = issues_of(&items[0]);
    (out, issues)
}

fn example_bytes(name: &str) -> Vec<u8> {
    common::read(&common::examples_dir().join(name))
}

/// The condition example with a bad Bundle-ID (hyphen-joined).
fn invalid_bundle() -> Vec<u8> {
    let text = String::from_utf8(example_bytes("clins-condition-bundle.json")).unwrap();
    let mut v = fhir::json::parse(&text).unwrap();
    v.as_object_mut()
        .unwrap()
        .get_mut("identifier")
        .and_then(Value::as_object_mut)
        .unwrap()
        .insert("value", Value::string("1311234567-2024-123"));
    fhir::json::to_string(&v).into_bytes()
}

// ----------------------------------------------------------------------------- exit codes

#[test]
fn examples_folder_is_valid() {
    let out = run(&["validate", "examples/"]);
    assert_eq!(out.code, 0, "{out:?}");
    let n = common::json_files(&common::examples_dir()).len();
    let ok_lines = out.stdout.lines().filter(|l| l.starts_with("OK ")).count();
    assert_eq!(ok_lines, n, "{out:?}");
    assert!(
        !out.stdout.lines().any(|l| l.starts_with("FAIL")),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(&format!("{n} file(s): {n} valid, 0 invalid")),
        "{out:?}"
    );
}

#[test]
fn folder_with_an_invalid_file_exits_1_and_reports_both_languages() {
    let t = Tmp::new("invalid-folder");
    t.write(
        "a-valid.json",
        &example_bytes("clins-condition-bundle.json"),
    );
    let bad = invalid_bundle();
    t.write("b-invalid.json", &bad);
    let out = run(&["validate", t.s()]);
    assert_eq!(out.code, 1, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("OK ") && l.contains("a-valid.json")),
        "{out:?}"
    );
    let fail = lines
        .iter()
        .position(|l| l.starts_with("FAIL") && l.contains("b-invalid.json"))
        .unwrap_or_else(|| panic!("no FAIL line for b-invalid.json\n{out:?}"));
    // Each error is shown with its location, detail code and the message in Japanese and then
    // in English, as the library reports it.
    let issues = common::r4_validator().validate_bytes(&bad);
    let errs = common::errors(&issues);
    assert!(!errs.is_empty());
    assert!(
        lines[fail].contains(&format!("({} error", errs.len())),
        "error count in {:?}",
        lines[fail]
    );
    let body = lines[fail + 1..].join("\n");
    for i in &errs {
        let head = format!("{} [{}]", i.expression, i.detail);
        let at = body
            .find(&head)
            .unwrap_or_else(|| panic!("missing `{head}`\n{out:?}"));
        let after = &body[at..];
        let ja = after
            .find(&i.ja)
            .unwrap_or_else(|| panic!("no Japanese message for {head}"));
        let en = after
            .find(&i.en)
            .unwrap_or_else(|| panic!("no English message for {head}"));
        assert!(ja < en, "Japanese first, then English: {head}");
    }
    assert!(
        body.contains("CLINS-BUNDLE-ID-FORMAT") && body.contains("Bundle.identifier.value"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("2 file(s): 1 valid, 1 invalid"),
        "{out:?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let t = Tmp::new("usage");
    let missing = t.0.join("does-not-exist.json");
    let out = run(&["validate", p(&missing)]);
    assert_eq!(out.code, 2, "missing path: {out:?}");
    assert!(out.stderr.contains("does-not-exist.json"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");

    let out = run(&[]);
    assert_eq!(out.code, 2, "no arguments: {out:?}");
    assert!(out.stderr.contains("Usage"), "{out:?}");

    let out = run(&["validate"]);
    assert_eq!(out.code, 2, "no path: {out:?}");
    assert!(out.stderr.contains("Usage"), "{out:?}");

    let out = run(&["validate", "--format", "xml", "examples/"]);
    assert_eq!(out.code, 2, "bad --format: {out:?}");

    let out = run(&["validate", "--bogus", "examples/"]);
    assert_eq!(out.code, 2, "unknown option: {out:?}");

    let out = run(&["frobnicate"]);
    assert_eq!(out.code, 2, "unknown command: {out:?}");

    // A folder without any .json file.
    let empty = Tmp::new("usage-empty-folder");
    empty.write("notes.txt", b"not json");
    let out = run(&["validate", empty.s()]);
    assert_eq!(out.code, 2, "no .json: {out:?}");

    // An IG folder that cannot be loaded.
    let out = run(&["validate", "--ig", p(&missing), "examples/"]);
    assert_eq!(out.code, 2, "bad --ig: {out:?}");
    let out = run_env(
        &["validate", "examples/"],
        &[("CLINS_IG_PATH", p(&missing).to_string())],
    );
    assert_eq!(out.code, 2, "bad CLINS_IG_PATH: {out:?}");

    let out = run(&["--help"]);
    assert_eq!(out.code, 0, "--help: {out:?}");
}

// ----------------------------------------------------------------------------- JSON report

#[test]
fn json_report_has_one_outcome_per_file() {
    let t = Tmp::new("json-report");
    t.write("a-valid.json", &example_bytes("clins-allergy-bundle.json"));
    t.write("b-invalid.json", &invalid_bundle());
    std::fs::create_dir_all(t.0.join("sub")).unwrap();
    t.write(
        "sub/c-valid.json",
        &example_bytes("clins-delete-unit-bundle.json"),
    );
    t.write("ignored.txt", b"{}");
    let out = run(&["validate", "--format", "json", t.s()]);
    assert_eq!(out.code, 1, "{out:?}");
    let items = report(&out);
    assert_eq!(items.len(), 3, "one object per .json file:\n{out:?}");
    for f in &items {
        let file = f.get("file").and_then(Value::as_str).expect("file");
        let valid = f.get("valid").and_then(Value::as_bool).expect("valid");
        let errors: usize = f
            .get("errors")
            .and_then(Value::as_number)
            .expect("errors")
            .parse()
            .unwrap();
        let issues = issues_of(f);
        let counted = issues
            .iter()
            .filter(|(s, ..)| s == "error" || s == "fatal")
            .count();
        assert_eq!(errors, counted, "{file}: errors vs outcome");
        assert_eq!(valid, errors == 0, "{file}: valid vs errors");
        assert_eq!(valid, !file.ends_with("b-invalid.json"), "{file}");
        for (s, d, _, _) in &issues {
            assert!(
                ["fatal", "error", "warning", "information"].contains(&s.as_str()),
                "{file}: severity {s}"
            );
            let _ = d;
        }
    }
    let bad = issues_of(file_entry(&items, "b-invalid.json"));
    assert!(
        bad.iter().any(|(s, d, _, e)| s == "error"
            && d == "CLINS-BUNDLE-ID-FORMAT"
            && e == "Bundle.identifier.value"),
        "{bad:?}"
    );
    // Nothing in the report for the .txt file.
    assert!(!out.stdout.contains("ignored.txt"));
}

#[test]
fn without_packages_the_user_is_told_profiles_were_not_checked() {
    // Text: a note after the summary, even without --verbose.
    let out = run(&["validate", "examples/clins-condition-bundle.json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("profiles were NOT checked"), "{out:?}");
    assert!(
        out.stdout.contains("プロファイルは検証していません"),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("[NO-IG-PACKAGES]"),
        "information issues are hidden without --verbose:\n{out:?}"
    );
    // --verbose shows the information issue itself.
    let out = run(&[
        "validate",
        "--verbose",
        "examples/clins-condition-bundle.json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("information"), "{out:?}");
    assert!(out.stdout.contains("[NO-IG-PACKAGES]"), "{out:?}");
    // JSON: every file's outcome carries NO-IG-PACKAGES (information).
    let out = run(&["validate", "--format", "json", "examples/"]);
    assert_eq!(out.code, 0, "{out:?}");
    let items = report(&out);
    assert_eq!(
        items.len(),
        common::json_files(&common::examples_dir()).len()
    );
    for f in &items {
        let issues = issues_of(f);
        assert!(
            issues
                .iter()
                .any(|(s, d, ..)| s == "information" && d == "NO-IG-PACKAGES"),
            "{issues:?}"
        );
    }
}

// ----------------------------------------------------------------------------- hostile files

#[test]
fn empty_file_is_fatal_json_empty() {
    let (out, issues) = hostile("empty.json", b"");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        issues
            .iter()
            .any(|(s, d, ..)| s == "fatal" && d == "JSON-EMPTY"),
        "{issues:?}"
    );
    let (out, issues) = hostile("blank.json", b"  \n\t ");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        issues
            .iter()
            .any(|(s, d, ..)| s == "fatal" && d == "JSON-EMPTY"),
        "{issues:?}"
    );
}

#[test]
fn non_utf8_is_fatal_json_syntax_mentioning_utf8() {
    // Shift_JIS bytes for 患者 inside an otherwise valid resource.
    let mut bytes = b"{\"resourceType\":\"Basic\",\"code\":{\"text\":\"".to_vec();
    bytes.extend_from_slice(&[0x8a, 0xb3, 0x8e, 0xd2]);
    bytes.extend_from_slice(b"\"}}");
    let (out, issues) = hostile("sjis.json", &bytes);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        issues
            .iter()
            .any(|(s, d, en, _)| s == "fatal" && d == "JSON-SYNTAX" && en.contains("UTF-8")),
        "{issues:?}"
    );
}

#[test]
fn resource_type_problems_are_clear_errors() {
    for (name, body, detail, mention) in [
        (
            "rt-number.json",
            &br#"{"resourceType": 5}"#[..],
            "RESOURCE-TYPE",
            "resourceType",
        ),
        (
            "rt-unknown.json",
            &br#"{"resourceType":"Nope"}"#[..],
            "RESOURCE-TYPE-UNKNOWN",
            "Nope",
        ),
        ("array.json", &b"[]"[..], "RESOURCE-TYPE", "object"),
        (
            "string.json",
            &br#""Patient""#[..],
            "RESOURCE-TYPE",
            "object",
        ),
        (
            "no-rt.json",
            &br#"{"id":"x"}"#[..],
            "RESOURCE-TYPE",
            "resourceType",
        ),
    ] {
        let (out, issues) = hostile(name, body);
        assert_eq!(out.code, 1, "{name}: {out:?}");
        assert!(
            issues
                .iter()
                .any(|(s, d, en, _)| (s == "error" || s == "fatal")
                    && d == detail
                    && en.contains(mention)),
            "{name}: expected {detail} mentioning {mention:?}: {issues:?}"
        );
    }
}

#[test]
fn resource_type_of_wrong_json_type_is_not_called_missing() {
    // `{"resourceType": 5}` has a resourceType; the message must say what is wrong with it
    // (not a string) rather than that it is missing.
    let (_, issues) = hostile("rt-number2.json", br#"{"resourceType": 5}"#);
    let msg: Vec<&String> = issues
        .iter()
        .filter(|(s, ..)| s == "error" || s == "fatal")
        .map(|(_, _, en, _)| en)
        .collect();
    assert!(
        msg.iter()
            .any(|en| en.contains("string") || en.contains("number")),
        "the message should say that resourceType must be a string: {msg:?}"
    );
}

#[test]
fn file_over_10_mb_is_fatal_size_limit() {
    let t = Tmp::new("size-limit");
    let head = br#"{"resourceType":"Basic","code":{"text":""#;
    let tail = br#""}}"#;
    let limit = 10 * 1024 * 1024;
    let mut bytes = Vec::with_capacity(limit + 1);
    bytes.extend_from_slice(head);
    bytes.resize(limit + 1 - tail.len(), b' ');
    bytes.extend_from_slice(tail);
    assert_eq!(bytes.len(), limit + 1);
    let f = t.write("big.json", &bytes);
    let out = run(&["validate", "--format", "json", p(&f)]);
    assert_eq!(out.code, 1, "{out:?}");
    let items = report(&out);
    let issues = issues_of(&items[0]);
    assert!(
        issues
            .iter()
            .any(|(s, d, ..)| s == "fatal" && d == "SIZE-LIMIT"),
        "{issues:?}"
    );
    // Exactly at the limit the file is read and validated (and is valid).
    let mut ok = Vec::with_capacity(limit);
    ok.extend_from_slice(head);
    ok.resize(limit - tail.len(), b' ');
    ok.extend_from_slice(tail);
    let f = t.write("at-limit.json", &ok);
    let out = run(&["validate", "--format", "json", p(&f)]);
    let items = report(&out);
    let issues = issues_of(&items[0]);
    assert!(
        !issues.iter().any(|(_, d, ..)| d == "SIZE-LIMIT"),
        "{issues:?}"
    );
}

// ----------------------------------------------------------------------------- packages

fn package_labels(dirs: &[PathBuf]) -> Vec<String> {
    dirs.iter()
        .map(|d| {
            let v = common::parse_file(&d.join("package.json"));
            let name = v.get("name").and_then(Value::as_str).unwrap().to_string();
            let version = v.get("version").and_then(Value::as_str).unwrap_or("");
            if version.is_empty() {
                name
            } else {
                format!("{name}#{version}")
            }
        })
        .collect()
}

#[test]
fn official_referral_validates_with_packages() {
    let shared = shared_or_skip!();
    let dirs = common::ig_dirs(&shared);
    let referral =
        shared.join("fixtures/jp-clins/clinical-core/Bundle-Bundle-CLINS-Referral-Example-01.json");
    let labels = package_labels(&dirs);
    let joined = dirs
        .iter()
        .map(|d| p(d).to_string())
        .collect::<Vec<_>>()
        .join(":");
    let by_env = run_env(&["validate", p(&referral)], &[("CLINS_IG_PATH", joined)]);
    let mut args = vec!["validate"];
    for d in &dirs {
        args.push("--ig");
        args.push(p(d));
    }
    args.push(p(&referral));
    let by_flag = run(&args);
    for (how, out) in [("CLINS_IG_PATH", &by_env), ("--ig", &by_flag)] {
        assert_eq!(out.code, 0, "{how}: {out:?}");
        assert!(out.stdout.starts_with("OK "), "{how}: {out:?}");
        let summary = out
            .stdout
            .lines()
            .find(|l| l.contains("file(s):"))
            .unwrap_or_else(|| panic!("{how}: no summary line\n{out:?}"));
        for l in &labels {
            assert!(
                summary.contains(l.as_str()),
                "{how}: {l} not named in {summary:?}"
            );
        }
        assert!(
            !out.stdout.contains("NOT checked"),
            "{how}: profiles were checked:\n{out:?}"
        );
    }
    assert_eq!(by_env.stdout, by_flag.stdout);
    // With packages, no NO-IG-PACKAGES issue.
    let mut args = vec!["validate", "--format", "json"];
    for d in &dirs {
        args.push("--ig");
        args.push(p(d));
    }
    args.push(p(&referral));
    let out = run(&args);
    assert_eq!(out.code, 0, "{out:?}");
    let items = report(&out);
    assert!(!issues_of(&items[0])
        .iter()
        .any(|(_, d, ..)| d == "NO-IG-PACKAGES"));
}

#[test]
fn jobs_do_not_change_the_report() {
    let (dir, ig): (PathBuf, Vec<PathBuf>) = match common::shared() {
        Some(s) => (s.join("fixtures/jp-clins"), common::ig_dirs(&s)),
        None => (common::examples_dir(), Vec::new()),
    };
    let mut base: Vec<String> = vec!["validate".into(), "--format".into(), "json".into()];
    for d in &ig {
        base.push("--ig".into());
        base.push(p(d).into());
    }
    let mut one = base.clone();
    one.extend(["--jobs".into(), "1".into(), p(&dir).into()]);
    let mut four = base.clone();
    four.extend(["--jobs".into(), "4".into(), p(&dir).into()]);
    let mut dflt = base;
    dflt.push(p(&dir).into());
    let a = run(&as_refs(&one));
    let b = run(&as_refs(&dflt));
    let c = run(&as_refs(&four));
    assert!(a.code == 0 || a.code == 1, "{a:?}");
    assert_eq!(a.code, b.code);
    assert_eq!(a.code, c.code);
    let n = report(&a).len();
    assert_eq!(n, common::json_files(&dir).len());
    assert!(a.stdout == b.stdout, "--jobs 1 and default differ");
    assert!(a.stdout == c.stdout, "--jobs 1 and --jobs 4 differ");
}

/// `--summary` counts issues per rule code across a folder (text and JSON), and `--fail-on`
/// sets the severity that makes the exit code 1.
#[test]
fn summary_counts_rules_and_fail_on_sets_the_exit_code() {
    let t = Tmp::new("summary");
    for name in ["clins-allergy-bundle.json", "clins-condition-bundle.json"] {
        t.write(name, &example_bytes(name));
    }
    t.write("broken1.json", b"{\"resourceType\": \"Bundle\",");
    t.write("broken2.json", b"{");
    let out = run(&["validate", "--summary", "--format", "json", t.s()]);
    assert_eq!(out.code, 1, "{out:?}");
    let v = fhir::json::parse(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let num = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| v.get(k).map(fhir::json::to_string))
            .unwrap_or_default()
    };
    assert_eq!(num(&v, "files"), "4");
    assert_eq!(num(&v, "invalid"), "2");
    let rules = v.get("rules").map(Value::items).unwrap_or_default();
    let rule = |code: &str| {
        rules
            .iter()
            .find(|r| r.get("code").and_then(Value::as_str) == Some(code))
            .unwrap_or_else(|| panic!("{code} not in {out:?}"))
    };
    let syntax = rule("JSON-SYNTAX");
    assert_eq!(num(syntax, "issues"), "2");
    assert_eq!(num(syntax, "files"), "2");
    // Each file's own report agrees with the summary's count for every rule.
    let full = report(&run(&["validate", "--format", "json", t.s()]));
    for r in rules {
        let code = r.get("code").and_then(Value::as_str).unwrap();
        let sev = r.get("severity").and_then(Value::as_str).unwrap();
        let n: usize = full
            .iter()
            .map(|f| {
                issues_of(f)
                    .iter()
                    .filter(|(s, c, _, _)| s == sev && c == code)
                    .count()
            })
            .sum();
        assert_eq!(num(r, "issues"), n.to_string(), "{code} {sev}");
    }
    let text = run(&["validate", "--summary", t.s()]);
    assert!(
        text.stdout.contains("Issues by rule across 4 file(s)"),
        "{text:?}"
    );
    assert!(
        text.stdout
            .lines()
            .any(|l| l.trim_end().ends_with("JSON-SYNTAX") && l.trim_start().starts_with('2')),
        "{text:?}"
    );
    assert!(!text.stdout.contains("OK  "), "no per-file lines: {text:?}");
    // The valid examples carry warnings only (no IG packages): 0 by default, 1 on warnings.
    let ok = Tmp::new("summary-ok");
    for name in ["clins-allergy-bundle.json", "clins-condition-bundle.json"] {
        ok.write(name, &example_bytes(name));
    }
    let warned = report(&run(&["validate", "--format", "json", ok.s()]));
    assert!(warned
        .iter()
        .flat_map(issues_of)
        .any(|(s, _, _, _)| s == "warning"));
    assert_eq!(run(&["validate", ok.s()]).code, 0);
    assert_eq!(run(&["validate", "--fail-on", "error", ok.s()]).code, 0);
    assert_eq!(run(&["validate", "--fail-on", "warning", ok.s()]).code, 1);
    assert_eq!(run(&["validate", "--fail-on", "nonsense", ok.s()]).code, 2);
}
