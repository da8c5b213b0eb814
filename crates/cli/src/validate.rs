//! `clins-hub validate`: files and folders, all cores, one report per file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clins_hub::pipeline::{build_validator, validate_file};
use conformance::Validator;
use fhir::json::{Object, Value};
use fhir::outcome::{operation_outcome, Issue, IssueType, Severity};

use crate::progress::Progress;
use crate::Format;

/// The severity from which a file makes `validate` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
}

impl FailOn {
    fn fails(self, i: &Issue) -> bool {
        match self {
            FailOn::Error => i.severity.is_error(),
            FailOn::Warning => i.severity.is_error() || i.severity == Severity::Warning,
        }
    }
}

pub struct Args {
    pub ig: Vec<PathBuf>,
    pub format: Format,
    pub verbose: bool,
    pub summary: bool,
    pub fail_on: FailOn,
    pub jobs: Option<usize>,
    pub paths: Vec<PathBuf>,
}

struct FileResult {
    path: PathBuf,
    issues: Vec<Issue>,
}

pub fn run(args: Args) -> ExitCode {
    let mut files = Vec::new();
    for p in &args.paths {
        if let Err(e) = collect(p, &mut files) {
            eprintln!("clins-hub validate: {}: {e}", p.display());
            return ExitCode::from(2);
        }
    }
    if files.is_empty() {
        eprintln!("clins-hub validate: no .json files found in the given paths");
        return ExitCode::from(2);
    }
    let validator = match build_validator(&args.ig) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("clins-hub validate: cannot load IG packages: {e}");
            return ExitCode::from(2);
        }
    };
    let no_packages = !validator.definitions().has_packages();
    let progress = Progress::new(files.len(), "validating");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FileResult>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    let threads = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64)
        .min(files.len());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let mut issues = validate_file(&validator, path);
                if no_packages {
                    issues.push(Issue::new(
                        Severity::Information,
                        IssueType::Informational,
                        "NO-IG-PACKAGES",
                        "",
                        "profiles were not checked: no IG packages loaded (use --ig DIR or CLINS_IG_PATH); R4 and JP-CLINS service rules were checked",
                        "IGパッケージが読み込まれていないため、プロファイルは検証していません（--ig または CLINS_IG_PATH を指定）。R4とJP-CLINSサービス規則は検証しました",
                    ));
                }
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(FileResult {
                        path: path.clone(),
                        issues,
                    });
                }
                progress.inc();
            });
        }
    });
    progress.finish();
    let results: Vec<FileResult> = results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    let failing = results
        .iter()
        .filter(|r| r.issues.iter().any(|i| args.fail_on.fails(i)))
        .count();
    let out = std::io::stdout();
    let mut out = out.lock();
    let written = match (args.format, args.summary) {
        (Format::Json, false) => write_json(&mut out, &results),
        (Format::Json, true) => write_summary_json(&mut out, &results),
        (Format::Text, false) => {
            write_text(&mut out, &results, args.verbose, no_packages, &validator)
        }
        (Format::Text, true) => write_summary_text(&mut out, &results, args.verbose)
            .and_then(|_| write_totals(&mut out, &results, no_packages, &validator)),
    };
    if written.is_err() {
        return ExitCode::from(2);
    }
    if failing > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(p)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect(&e, out)?;
            } else if e.extension().is_some_and(|x| x == "json") {
                out.push(e);
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

fn write_json(out: &mut impl Write, results: &[FileResult]) -> std::io::Result<()> {
    let mut list = Vec::with_capacity(results.len());
    for r in results {
        let mut o = Object::new();
        o.insert("file", Value::string(r.path.display().to_string()));
        let errors = fhir::outcome::error_count(&r.issues);
        o.insert("valid", Value::Bool(errors == 0));
        o.insert("errors", Value::Number(errors.to_string().into()));
        o.insert("outcome", operation_outcome(&r.issues));
        list.push(Value::Object(o));
    }
    writeln!(out, "{}", fhir::json::to_string_pretty(&Value::Array(list)))
}

/// One rule's count across the files: (code, severity) → issues, files.
struct RuleCount {
    code: &'static str,
    severity: Severity,
    issues: usize,
    files: usize,
}

fn rule_counts(results: &[FileResult]) -> Vec<RuleCount> {
    let mut counts: std::collections::HashMap<(&'static str, &'static str), RuleCount> =
        std::collections::HashMap::new();
    for r in results {
        let mut seen: std::collections::HashSet<(&'static str, &'static str)> =
            std::collections::HashSet::new();
        for i in &r.issues {
            let key = (i.detail, i.severity.as_str());
            let c = counts.entry(key).or_insert(RuleCount {
                code: i.detail,
                severity: i.severity,
                issues: 0,
                files: 0,
            });
            c.issues += 1;
            if seen.insert(key) {
                c.files += 1;
            }
        }
    }
    let mut list: Vec<RuleCount> = counts.into_values().collect();
    list.sort_by(|a, b| {
        b.issues
            .cmp(&a.issues)
            .then(a.code.cmp(b.code))
            .then(a.severity.as_str().cmp(b.severity.as_str()))
    });
    list
}

fn write_summary_text(
    out: &mut impl Write,
    results: &[FileResult],
    verbose: bool,
) -> std::io::Result<()> {
    let counts = rule_counts(results);
    writeln!(out, "Issues by rule across {} file(s):", results.len())?;
    writeln!(
        out,
        "{:>9} {:>7}  {:<11} code",
        "issues", "files", "severity"
    )?;
    for c in &counts {
        if c.severity == Severity::Information && !verbose {
            continue;
        }
        writeln!(
            out,
            "{:>9} {:>7}  {:<11} {}",
            c.issues,
            c.files,
            c.severity.as_str(),
            c.code
        )?;
    }
    Ok(())
}

fn write_summary_json(out: &mut impl Write, results: &[FileResult]) -> std::io::Result<()> {
    let invalid = results
        .iter()
        .filter(|r| fhir::outcome::error_count(&r.issues) > 0)
        .count();
    let num = |n: usize| Value::Number(n.to_string().into());
    let mut o = Object::new();
    o.insert("files", num(results.len()));
    o.insert("valid", num(results.len() - invalid));
    o.insert("invalid", num(invalid));
    let rules = rule_counts(results)
        .iter()
        .map(|c| {
            let mut r = Object::new();
            r.insert("code", Value::string(c.code));
            r.insert("severity", Value::string(c.severity.as_str()));
            r.insert("issues", num(c.issues));
            r.insert("files", num(c.files));
            Value::Object(r)
        })
        .collect();
    o.insert("rules", Value::Array(rules));
    writeln!(out, "{}", fhir::json::to_string_pretty(&Value::Object(o)))
}

fn write_text(
    out: &mut impl Write,
    results: &[FileResult],
    verbose: bool,
    no_packages: bool,
    validator: &Validator,
) -> std::io::Result<()> {
    for r in results {
        let errors = fhir::outcome::error_count(&r.issues);
        let warnings = r
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
            .count();
        writeln!(
            out,
            "{} {} ({} error{}, {} warning{})",
            if errors > 0 { "FAIL" } else { "OK  " },
            r.path.display(),
            errors,
            if errors == 1 { "" } else { "s" },
            warnings,
            if warnings == 1 { "" } else { "s" },
        )?;
        for i in &r.issues {
            if i.severity == Severity::Information && !verbose {
                continue;
            }
            let at = if i.expression.is_empty() {
                String::new()
            } else {
                format!(" {}", i.expression)
            };
            writeln!(
                out,
                "  {:<11}{at} [{}]\n             {}\n             {}",
                i.severity.as_str(),
                i.detail,
                i.ja,
                i.en
            )?;
        }
    }
    write_totals(out, results, no_packages, validator)
}

/// The last lines of the text report: files valid and invalid, and what was checked.
fn write_totals(
    out: &mut impl Write,
    results: &[FileResult],
    no_packages: bool,
    validator: &Validator,
) -> std::io::Result<()> {
    let invalid = results
        .iter()
        .filter(|r| fhir::outcome::error_count(&r.issues) > 0)
        .count();
    let pk: Vec<String> = validator
        .definitions()
        .packages()
        .iter()
        .map(|p| {
            if p.version.is_empty() {
                p.name.clone()
            } else {
                format!("{}#{}", p.name, p.version)
            }
        })
        .collect();
    writeln!(
        out,
        "\n{} file(s): {} valid, {} invalid. Checked: FHIR R4 4.0.1{}, JP-CLINS service rules.",
        results.len(),
        results.len() - invalid,
        invalid,
        if pk.is_empty() {
            String::new()
        } else {
            format!(", {}", pk.join(", "))
        }
    )?;
    if no_packages {
        writeln!(
            out,
            "Note: profiles were NOT checked (no IG packages loaded; use --ig DIR or CLINS_IG_PATH). / IGパッケージ未読込のため、プロファイルは検証していません。"
        )?;
    }
    Ok(())
}
