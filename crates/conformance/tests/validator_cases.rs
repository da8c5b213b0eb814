//! Agreement with the HL7 Java reference validator on the FHIR validator test cases
//! (`shared/conformance/validator/`, see section 3 of its README).
//!
//! Every test case is validated as the manifest describes: a base pass (R4 core plus the case's
//! `supporting`/`profiles` definitions) and, when the case has a `profile`, a second pass against
//! that profile. Each pass is one *check*. A check agrees when both validators say "valid" (no
//! error or fatal issue) or both say "invalid". A stricter secondary score counts the checks
//! where the error counts are equal.
//!
//! Scored: modules general, bundle, references, extensions, profile, fmt and (none). The xhtml and
//! invariants modules are run and printed but not scored (narrative rules and FHIRPath
//! invariants are not implemented yet). Checks whose Java verdict "invalid" rests only on
//! external terminology (see `TERMINOLOGY_MARKERS`) are printed separately and not scored.
//!
//! Output (with `-- --nocapture`): a table per module, one line per disagreement, the
//! expected and our (severity, expression) pairs of every invalid check, and the table as
//! Markdown for docs/conformance.md. `CLINS_VCASE=name1,name2` (or `*`) also prints every
//! issue we report for those cases, warnings and information included.
//!
//! Harness limitations, each reported in the output:
//! * there is no API to add single definition files, so a case's definitions are copied into a
//!   temp folder per case and loaded with `Definitions::load_package`;
//! * there is no "validate against this profile" API, so the profile pass inserts the profile's
//!   canonical URL into `meta.profile` and validates the modified resource;
//! * some profiles are XML; they are converted to JSON here (`xml` module below), guided by the
//!   R4 definitions, before loading.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use conformance::{Definitions, Validator};
use fhir::json::{self, Object, Value};
use fhir::outcome::Issue;

/// The project's acceptance bar: share of scored checks where both validators agree on
/// valid/invalid.
const ACCEPTANCE: f64 = 0.90;

/// Modules in the score: structure, bundles, references, extensions, profiles and invariants.
const SCORED_MODULES: &[&str] = &[
    "general",
    "bundle",
    "references",
    "extensions",
    "profile",
    "fmt",
    "invariants",
    "(none)",
];

/// Modules run and printed, but not scored, and why.
const UNSCORED_MODULES: &[(&str, &str)] = &[(
    "xhtml",
    "narrative XHTML and markdown rules are not implemented yet",
)];

/// What marks an expected error as resting on terminology content we do not have locally (the
/// upstream outcomes were produced with the tx.fhir.org terminology server). Kept small and
/// explicit: (text in the message, whether it counts only when the code system it names is not
/// available locally, reason).
/// * Display names and code lookups are decidable here only for code systems we hold in full;
///   LOINC, SNOMED CT, ICD-10, CVX and NCI are not in R4 core, so these checks count only when
///   the code system named after the phrase is missing (or not `content: complete`) locally.
/// * The bare words "LOINC"/"SNOMED" are NOT markers: obs-temp-bad's "magic LOINC code 8310-5
///   required" is a pattern check of the core bodytemp profile, decidable locally.
/// * Membership messages such as "None of the codings provided are in the value set 'X' ...
///   (codes = http://loinc.org#...)" are NOT markers: the value set is local, only the code
///   is LOINC (additional-bindings-observation-2).
/// * Warnings and information are never markers: they do not decide valid/invalid. E.g.
///   "A definition for CodeSystem 'X' could not be found" concerns systems neither validator
///   has and is a warning for both.
///
/// A check is excluded from the score only when *all* its expected errors are marked, i.e. the
/// Java verdict "invalid" hinges on terminology. A check that has other errors too stays
/// scored (it must still be found invalid), and the strict count score then compares our count
/// with the locally decidable errors only.
const TERMINOLOGY_MARKERS: &[(&str, bool, &str)] = &[
    (
        "tx.fhir.org",
        false,
        "the Java validator asked the tx.fhir.org terminology server",
    ),
    (
        "Unable to check",
        false,
        "the Java validator could not check a code locally",
    ),
    (
        "terminology server",
        false,
        "the outcome depends on the terminology server",
    ),
    (
        "Wrong Display Name",
        true,
        "display check against a code system not available locally",
    ),
    (
        "Unknown code",
        true,
        "code lookup in a code system not available locally",
    ),
    (
        "a valid code from the system",
        true,
        "ValueSet filter lookup in a code system not available locally",
    ),
];

/// Disagreements understood and documented, with the reason. They still count as
/// disagreements in the score; this list only explains them.
/// Reasons are grouped by the missing validator feature (S = snapshot generation for
/// differential-only profiles, which nearly all profiles in this suite are).
const KNOWN_DISAGREEMENTS: &[(&str, &str)] = &[
    // S: differential-only profiles are not compiled (Plan::compile needs a snapshot), so
    // the profile is reported as not loaded (warning) and nothing is checked.
    (
        "patient-ig-bad",
        "S + ImplementationGuide.global profiles are not applied",
    ),
    (
        "additional-bindings-observation-2 (profile)",
        "S + additional-binding extension (purpose required) not supported",
    ),
    // Bundle rules.
    (
        "bundle-with-contained",
        "fullUrl/type/id mismatch is a warning here, an error in Java",
    ),
    // References.
    (
        "bundle-document-versioned-references-bad",
        "ambiguous / wrong-version references in a Bundle: not checked",
    ),
    (
        "parameters-reference-bad",
        "references between Parameters.parameter.resource are not resolved",
    ),
    (
        "contained-resource-bad-id-ignore",
        "Java option validateContains=IGNORE has no equivalent",
    ),
    // Extensions.
    (
        "pat-dob-ext",
        "unknown extension URLs are accepted silently (Java: error)",
    ),
    (
        "pat-example-extensions",
        "unknown extension URLs accepted; Java option examples=false",
    ),
    (
        "maiden-name-extension",
        "extension context (HumanName.family) is not checked",
    ),
    // General.
    (
        "dr-example-org",
        "Java option examples=false (example.org URLs rejected) has no equivalent",
    ),
    (
        "obs-temp-bad",
        "core vital-signs profiles are not applied implicitly by Observation.code",
    ),
];

// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Pass {
    Base,
    Profile,
}

/// One expected issue from a Java OperationOutcome.
#[derive(Clone, Debug)]
struct ExpIssue {
    severity: String,
    expression: String,
    message: String,
    /// Why this error rests on terminology we do not have (see `TERMINOLOGY_MARKERS`).
    terminology: Option<String>,
}

#[derive(Clone, Debug)]
struct Expected {
    errors: usize,
    /// Empty when the outcome is an inline count.
    issues: Vec<ExpIssue>,
}

impl Expected {
    fn error_issues(&self) -> impl Iterator<Item = &ExpIssue> {
        self.issues
            .iter()
            .filter(|i| matches!(i.severity.as_str(), "error" | "fatal"))
    }
    /// Expected errors that do not rest on external terminology.
    fn local_errors(&self) -> usize {
        self.errors
            - self
                .error_issues()
                .filter(|i| i.terminology.is_some())
                .count()
    }
    /// Why the verdict "invalid" hinges on terminology: every expected error is marked.
    fn terminology_verdict(&self) -> Option<String> {
        if self.errors == 0 || self.local_errors() > 0 {
            return None;
        }
        self.error_issues().find_map(|i| {
            i.terminology
                .as_ref()
                .map(|w| format!("{w} (at {})", show_expr(&i.expression)))
        })
    }
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Category {
    Scored,
    Terminology,
    Unscored,
}

struct Check {
    case: String,
    pass: Pass,
    module: String,
    file: String,
    expected: Expected,
    ours: Vec<Issue>,
    /// Why the check is not scored (terminology or module).
    excluded_why: Option<String>,
    category: Category,
    /// Problems setting up the check (definitions that could not be loaded, ...).
    notes: Vec<String>,
}

impl Check {
    fn name(&self) -> String {
        match self.pass {
            Pass::Base => self.case.clone(),
            Pass::Profile => format!("{} (profile)", self.case),
        }
    }
    fn our_errors(&self) -> Vec<&Issue> {
        self.ours.iter().filter(|i| i.severity.is_error()).collect()
    }
    fn agrees(&self) -> bool {
        (self.expected.errors == 0) == self.our_errors().is_empty()
    }
    /// Strict score: our error count equals the expected count of locally decidable errors.
    fn same_count(&self) -> bool {
        self.expected.local_errors() == self.our_errors().len()
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn validator_cases_agree_with_java() {
    let Some(shared) = common::shared() else {
        return;
    };
    let dir = shared.join("conformance/validator");
    let manifest_bytes = std::fs::read(dir.join("manifest.json")).expect("manifest.json");
    let manifest = json::parse_bytes(&manifest_bytes).expect("manifest.json is JSON");
    let cases = manifest
        .get("test-cases")
        .and_then(Value::as_array)
        .expect("test-cases[]");
    assert_eq!(cases.len(), 124, "expected the 124 selected R4 test cases");

    let core = Arc::new(Definitions::r4().expect("R4 core definitions"));
    let tmp_root = std::env::temp_dir().join("clins-vcases");
    let started = std::time::Instant::now();

    let mut checks = Vec::new();
    for case in cases {
        checks.extend(run_case(case, &dir, &core, &tmp_root));
    }
    let elapsed = started.elapsed();

    // --------------------------------------------------------------------- report
    println!(
        "\n=== validator test cases: {} cases, {} checks, {:.1}s ===",
        cases.len(),
        checks.len(),
        elapsed.as_secs_f64()
    );

    let notes: Vec<&Check> = checks.iter().filter(|c| !c.notes.is_empty()).collect();
    if !notes.is_empty() {
        println!("\n--- harness notes (set-up problems; the checks still ran) ---");
        for c in notes {
            for n in &c.notes {
                println!("  {}: {n}", c.name());
            }
        }
    }

    // Per module table (scored checks only).
    #[derive(Default)]
    struct Row {
        checks: usize,
        agree: usize,
        same: usize,
    }
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for m in SCORED_MODULES {
        rows.insert(m.to_string(), Row::default());
    }
    let mut total = Row::default();
    for c in checks.iter().filter(|c| c.category == Category::Scored) {
        let r = rows.entry(c.module.clone()).or_default();
        r.checks += 1;
        total.checks += 1;
        if c.agrees() {
            r.agree += 1;
            total.agree += 1;
        }
        if c.same_count() {
            r.same += 1;
            total.same += 1;
        }
    }
    let pct = |a: usize, n: usize| {
        if n == 0 {
            "-".to_string()
        } else {
            format!("{:.1}%", 100.0 * a as f64 / n as f64)
        }
    };
    println!("\n--- scored checks per module (agree = same valid/invalid verdict) ---");
    println!(
        "  {:<12} {:>6} {:>6} {:>9} {:>10} {:>11}",
        "module", "checks", "agree", "disagree", "agreement", "same count"
    );
    for (m, r) in &rows {
        println!(
            "  {:<12} {:>6} {:>6} {:>9} {:>10} {:>11}",
            m,
            r.checks,
            r.agree,
            r.checks - r.agree,
            pct(r.agree, r.checks),
            pct(r.same, r.checks)
        );
    }
    println!(
        "  {:<12} {:>6} {:>6} {:>9} {:>10} {:>11}",
        "TOTAL",
        total.checks,
        total.agree,
        total.checks - total.agree,
        pct(total.agree, total.checks),
        pct(total.same, total.checks)
    );

    // Disagreements, one line each.
    println!("\n--- scored disagreements ---");
    for c in checks
        .iter()
        .filter(|c| c.category == Category::Scored && !c.agrees())
    {
        print_disagreement(c);
    }

    // Known-disagreement list hygiene.
    for (name, _) in KNOWN_DISAGREEMENTS {
        let found = checks.iter().any(|c| c.name() == *name && !c.agrees());
        if !found {
            println!("  note: KNOWN_DISAGREEMENTS lists {name}, which now agrees (or does not exist): remove it");
        }
    }

    // Terminology-dependent checks.
    println!(
        "\n--- not scored: Java's \"invalid\" rests only on external terminology \
         (\"local\" = ours is valid, as the locally decidable part says) ---"
    );
    for c in checks
        .iter()
        .filter(|c| c.category == Category::Terminology)
    {
        println!(
            "  {:<6} {:<45} java errors {:>3}, ours {:>3}  ({})",
            if c.our_errors().is_empty() {
                "local"
            } else {
                "OURS!"
            },
            c.name(),
            c.expected.errors,
            c.our_errors().len(),
            c.excluded_why.as_deref().unwrap_or("")
        );
    }
    let partly: Vec<&Check> = checks
        .iter()
        .filter(|c| c.category == Category::Scored && c.expected.local_errors() < c.expected.errors)
        .collect();
    if !partly.is_empty() {
        println!("  scored although some expected errors need terminology (strict count uses the local ones):");
        for c in partly {
            println!(
                "    {} java errors {} (locally decidable {}), ours {}",
                c.name(),
                c.expected.errors,
                c.expected.local_errors(),
                c.our_errors().len()
            );
        }
    }

    // Unscored modules.
    println!("\n--- not scored: modules xhtml and invariants ---");
    for c in checks.iter().filter(|c| c.category == Category::Unscored) {
        println!(
            "  {:<6} [{}] {:<40} java errors {:>3}, ours {:>3}  ({})",
            if c.agrees() { "agree" } else { "DIFF" },
            c.module,
            c.name(),
            c.expected.errors,
            c.our_errors().len(),
            c.excluded_why.as_deref().unwrap_or("")
        );
    }

    // Details for invalid checks: expected (severity, expression) against ours.
    println!("\n--- details: checks where either side reports errors ---");
    for c in &checks {
        if c.expected.errors == 0 && c.our_errors().is_empty() {
            continue;
        }
        print_details(c);
    }

    // Everything we report (all severities) for the checks named in $CLINS_VCASE
    // (comma-separated case names, or `*` for all), to help fixing.
    if let Ok(names) = std::env::var("CLINS_VCASE") {
        let names: Vec<&str> = names.split(',').map(str::trim).collect();
        let all = names.contains(&"*");
        for c in checks
            .iter()
            .filter(|c| all || names.contains(&c.case.as_str()))
        {
            println!("\n--- all our issues: {} ({}) ---", c.name(), c.file);
            for i in &c.ours {
                println!(
                    "  {:<11} {}  [{}] {}",
                    i.severity.as_str(),
                    show_expr(&i.expression),
                    i.detail,
                    i.en
                );
            }
            for e in &c.expected.issues {
                println!(
                    "  java {:<11} {}  «{}»",
                    e.severity,
                    show_expr(&e.expression),
                    short(&e.message, 200)
                );
            }
        }
    }

    // Markdown for docs/conformance.md.
    println!("\n--- markdown (docs/conformance.md) ---");
    println!(
        "Agreement with the HL7 Java validator on the {} selected R4 validator test cases \
         (`shared/conformance/validator`), base pass and profile pass counted as separate checks.",
        cases.len()
    );
    println!();
    println!("| module | checks | agree | disagree | agreement | same error count |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (m, r) in &rows {
        println!(
            "| {m} | {} | {} | {} | {} | {} |",
            r.checks,
            r.agree,
            r.checks - r.agree,
            pct(r.agree, r.checks),
            pct(r.same, r.checks)
        );
    }
    println!(
        "| **total** | **{}** | **{}** | **{}** | **{}** | **{}** |",
        total.checks,
        total.agree,
        total.checks - total.agree,
        pct(total.agree, total.checks),
        pct(total.same, total.checks)
    );
    let term: Vec<&Check> = checks
        .iter()
        .filter(|c| c.category == Category::Terminology)
        .collect();
    let unscored: Vec<&Check> = checks
        .iter()
        .filter(|c| c.category == Category::Unscored)
        .collect();
    println!();
    println!(
        "Not scored: {} checks whose Java verdict \"invalid\" rests only on terminology we do \
         not have locally (LOINC/SNOMED CT/CVX displays and codes; we report {} of them valid, \
         as the locally decidable part says) and {} checks of the xhtml/invariants modules \
         ({} agree). \"Same error count\" compares with Java's locally decidable errors.",
        term.len(),
        term.iter().filter(|c| c.our_errors().is_empty()).count(),
        unscored.len(),
        unscored.iter().filter(|c| c.agrees()).count()
    );
    println!("--- end markdown ---\n");

    let share = if total.checks == 0 {
        0.0
    } else {
        total.agree as f64 / total.checks as f64
    };
    assert!(
        share >= ACCEPTANCE,
        "agreement with the Java validator is {:.1}% ({} of {} scored checks), below the {:.0}% bar",
        share * 100.0,
        total.agree,
        total.checks,
        ACCEPTANCE * 100.0
    );
}

fn print_disagreement(c: &Check) {
    let ours: Vec<String> = c
        .our_errors()
        .iter()
        .take(3)
        .map(|i| format!("{} [{}]", show_expr(&i.expression), i.detail))
        .collect();
    let exp: Vec<String> = c
        .expected
        .error_issues()
        .take(3)
        .map(|i| format!("{} «{}»", show_expr(&i.expression), short(&i.message, 90)))
        .collect();
    let known = KNOWN_DISAGREEMENTS
        .iter()
        .find(|(n, _)| *n == c.name())
        .map(|(_, why)| format!("  [known: {why}]"))
        .unwrap_or_default();
    let local = if c.expected.local_errors() != c.expected.errors {
        format!(" (locally decidable {})", c.expected.local_errors())
    } else {
        String::new()
    };
    println!(
        "  {} [{}] java {}{local} / ours {}{known}\n      ours: {}\n      java: {}",
        c.name(),
        c.module,
        c.expected.errors,
        c.our_errors().len(),
        if ours.is_empty() {
            "-".into()
        } else {
            ours.join(" | ")
        },
        if exp.is_empty() {
            "-".into()
        } else {
            exp.join(" | ")
        }
    );
}

fn print_details(c: &Check) {
    const MAX: usize = 12;
    let exp: Vec<&ExpIssue> = c.expected.error_issues().collect();
    let ours = c.our_errors();
    let matched = exp
        .iter()
        .filter(|e| {
            let ne = normalize_expr(&e.expression);
            ours.iter().any(|o| normalize_expr(&o.expression) == ne)
        })
        .count();
    println!(
        "  {} [{}] {} ({}): java {} error(s), ours {}; expressions matched {}/{}",
        if c.agrees() { "agree" } else { "DIFF " },
        c.module,
        c.name(),
        c.file,
        c.expected.errors,
        ours.len(),
        matched,
        exp.len()
    );
    if exp.is_empty() && c.expected.errors > 0 {
        println!("      java: (inline count only)");
    }
    for e in exp.iter().take(MAX) {
        println!(
            "      java {:<5} {}  «{}»{}",
            e.severity,
            show_expr(&e.expression),
            short(&e.message, 110),
            if e.terminology.is_some() {
                "  [terminology]"
            } else {
                ""
            }
        );
    }
    if exp.len() > MAX {
        println!("      java ... {} more", exp.len() - MAX);
    }
    for o in ours.iter().take(MAX) {
        println!(
            "      ours {:<5} {}  [{}] {}",
            o.severity.as_str(),
            show_expr(&o.expression),
            o.detail,
            short(&o.en, 110)
        );
    }
    if ours.len() > MAX {
        println!("      ours ... {} more", ours.len() - MAX);
    }
}

fn show_expr(e: &str) -> &str {
    if e.is_empty() {
        "(root)"
    } else {
        e
    }
}

fn short(s: &str, n: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= n {
        s
    } else {
        let t: String = s.chars().take(n).collect();
        format!("{t}…")
    }
}

/// Java expressions carry `/*Type/id*/` comments and `.ofType(X)`; drop both for comparing.
fn normalize_expr(e: &str) -> String {
    let mut out = String::with_capacity(e.len());
    let mut rest = e;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        match rest[start..].find("*/") {
            Some(end) => rest = &rest[start + end + 2..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    let mut s = out;
    while let Some(p) = s.find(".ofType(") {
        let Some(close) = s[p..].find(')') else { break };
        s.replace_range(p..p + close + 1, "");
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Running one case

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn run_case(case: &Value, dir: &Path, core: &Arc<Definitions>, tmp_root: &Path) -> Vec<Check> {
    let name = case.get("name").and_then(Value::as_str).unwrap_or("?");
    let file = case.get("file").and_then(Value::as_str).unwrap_or("?");
    let module = case
        .get("module")
        .and_then(Value::as_str)
        .unwrap_or("(none)")
        .to_string();
    let mut defs_files = str_list(case.get("supporting"));
    defs_files.extend(str_list(case.get("profiles")));
    let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let case_tmp = tmp_root.join(&safe);

    let mut out = Vec::new();

    // Base pass.
    {
        let mut notes = Vec::new();
        let defs = definitions_for(core, dir, &defs_files, &case_tmp.join("base"), &mut notes);
        let ours = Validator::new(defs).validate_bytes(&bytes);
        let expected = expected_outcome(case.get("java"), dir, core, &mut notes);
        out.push(finish_check(
            name,
            Pass::Base,
            &module,
            file,
            expected,
            ours,
            notes,
        ));
    }

    // Profile pass.
    if let Some(p) = case.get("profile") {
        let mut notes = Vec::new();
        let source = p.get("source").and_then(Value::as_str).unwrap_or_default();
        let mut files = defs_files.clone();
        files.extend(str_list(p.get("supporting")));
        if !source.is_empty() && !files.iter().any(|f| f == source) {
            files.push(source.to_string());
        }
        let tmp = case_tmp.join("profile");
        let defs = definitions_for(core, dir, &files, &tmp, &mut notes);
        let url = read_definition(&dir.join(source), core)
            .ok()
            .and_then(|sd| sd.get("url").and_then(Value::as_str).map(str::to_string));
        if url.is_none() {
            notes.push(format!("profile source {source}: no canonical url found"));
        }
        let validator = Validator::new(defs);
        // Emulation of "validate against this profile": claim it in meta.profile.
        // A proper API (Validator::validate_against(&Value, &[&str])) would be better.
        let ours = match (json::parse_bytes(&bytes), &url) {
            (Ok(mut v), Some(url)) => {
                claim_profile(&mut v, url);
                validator.validate(&v)
            }
            _ => validator.validate_bytes(&bytes),
        };
        let expected = expected_outcome(p.get("java"), dir, core, &mut notes);
        out.push(finish_check(
            name,
            Pass::Profile,
            &module,
            file,
            expected,
            ours,
            notes,
        ));
    }
    out
}

fn finish_check(
    case: &str,
    pass: Pass,
    module: &str,
    file: &str,
    expected: Expected,
    ours: Vec<Issue>,
    notes: Vec<String>,
) -> Check {
    let terminology = expected.terminology_verdict();
    let (category, excluded_why) =
        if let Some((_, why)) = UNSCORED_MODULES.iter().find(|(m, _)| *m == module) {
            (Category::Unscored, Some(why.to_string()))
        } else if let Some(why) = terminology {
            (Category::Terminology, Some(why))
        } else if SCORED_MODULES.contains(&module) {
            (Category::Scored, None)
        } else {
            (
                Category::Unscored,
                Some(format!("module {module} is not in the scored set")),
            )
        };
    Check {
        case: case.to_string(),
        pass,
        module: module.to_string(),
        file: file.to_string(),
        expected,
        ours,
        excluded_why,
        category,
        notes,
    }
}

/// Whether an expected issue rests on terminology content we do not have (errors only).
fn terminology_marker(severity: &str, message: &str, core: &Definitions) -> Option<String> {
    if !matches!(severity, "error" | "fatal") {
        return None;
    }
    for (marker, needs_missing_system, why) in TERMINOLOGY_MARKERS {
        let Some(at) = message.find(marker) else {
            continue;
        };
        if !needs_missing_system {
            return Some(why.to_string());
        }
        let system = first_url(&message[at..])?;
        if !code_system_local(core, system) {
            return Some(format!("{why}: {system}"));
        }
    }
    None
}

/// The first absolute URL (http, https, urn) in `s`, up to a delimiter or `#code`.
fn first_url(s: &str) -> Option<&str> {
    let start = ["http://", "https://", "urn:"]
        .iter()
        .filter_map(|p| s.find(p))
        .min()?;
    let tail = &s[start..];
    let end = tail
        .find(|c: char| c.is_whitespace() || "'\"#|),".contains(c))
        .unwrap_or(tail.len());
    Some(&tail[..end])
}

/// A code system held in full locally.
fn code_system_local(core: &Definitions, url: &str) -> bool {
    core.code_system(url).is_some_and(|cs| {
        matches!(
            cs.get("content").and_then(Value::as_str),
            Some("complete") | None
        )
    })
}

/// Inserts `url` into `meta.profile`, creating `meta` and `profile` when absent.
fn claim_profile(v: &mut Value, url: &str) {
    let Some(obj) = v.as_object_mut() else { return };
    if obj.get("meta").and_then(Value::as_object).is_none() {
        obj.insert("meta", Value::Object(Object::new()));
    }
    let meta = obj.get_mut("meta").and_then(Value::as_object_mut).unwrap();
    if meta.get("profile").and_then(Value::as_array).is_none() {
        meta.insert("profile", Value::Array(Vec::new()));
    }
    let list = meta
        .get_mut("profile")
        .and_then(Value::as_array_mut)
        .unwrap();
    if !list.iter().any(|p| p.as_str() == Some(url)) {
        list.push(Value::string(url));
    }
}

/// R4 core plus the given definition files (copied, or converted from XML, into `tmp`).
fn definitions_for(
    core: &Arc<Definitions>,
    dir: &Path,
    files: &[String],
    tmp: &Path,
    notes: &mut Vec<String>,
) -> Arc<Definitions> {
    if files.is_empty() {
        return core.clone();
    }
    let _ = std::fs::remove_dir_all(tmp);
    std::fs::create_dir_all(tmp).expect("temp folder");
    for (i, f) in files.iter().enumerate() {
        let src = dir.join(f);
        match read_definition(&src, core) {
            Ok(v) => {
                let stem = Path::new(f)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let dest = tmp.join(format!("{i:02}-{stem}.json"));
                std::fs::write(&dest, json::to_string_pretty(&v)).expect("write temp");
                if f.ends_with(".xml") {
                    notes.push(format!("{f}: XML converted to JSON by the test harness"));
                }
            }
            Err(e) => notes.push(format!("{f}: not loaded: {e}")),
        }
    }
    let mut defs = Definitions::r4().expect("R4 core");
    if let Err(e) = defs.load_package(tmp) {
        notes.push(format!("load_package: {e}"));
    }
    Arc::new(defs)
}

/// A definition file as JSON: JSON files are parsed, XML files converted.
fn read_definition(path: &Path, core: &Definitions) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|x| x == "xml") {
        let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
        let root = xml::parse(&text)?;
        xml::to_fhir_json(&root, core)
    } else {
        json::parse_bytes(&bytes).map_err(|e| e.to_string())
    }
}

/// The Java outcome: an OperationOutcome file under `outcomes/`, or an inline object with
/// `errorCount` (or an inline `outcome`).
fn expected_outcome(
    java: Option<&Value>,
    dir: &Path,
    core: &Definitions,
    notes: &mut Vec<String>,
) -> Expected {
    let oo = match java {
        Some(Value::String(p)) => {
            let path = dir.join("outcomes").join(&**p);
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| json::parse_bytes(&b).map_err(|e| e.to_string()))
            {
                Ok(v) => v,
                Err(e) => {
                    notes.push(format!("expected outcome {}: {e}", path.display()));
                    return Expected {
                        errors: 0,
                        issues: Vec::new(),
                    };
                }
            }
        }
        Some(v @ Value::Object(_)) => {
            if let Some(n) = v
                .get("errorCount")
                .and_then(Value::as_number)
                .and_then(|n| n.parse().ok())
            {
                return Expected {
                    errors: n,
                    issues: Vec::new(),
                };
            }
            match v.get("outcome") {
                Some(o) => o.clone(),
                None => {
                    notes.push("inline expected outcome without errorCount or outcome".into());
                    return Expected {
                        errors: 0,
                        issues: Vec::new(),
                    };
                }
            }
        }
        _ => {
            notes.push("no java expected outcome".into());
            return Expected {
                errors: 0,
                issues: Vec::new(),
            };
        }
    };
    let issues: Vec<ExpIssue> = oo
        .get("issue")
        .map(Value::items)
        .unwrap_or(&[])
        .iter()
        .map(|i| {
            let text = i
                .pointer("details.text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let diag = i
                .get("diagnostics")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let message = if diag.is_empty() || diag.starts_with('[') {
                // diagnostics holds "[line,col]" in these outcomes
                text.to_string()
            } else {
                format!("{text} {diag}")
            };
            let expression = i
                .get("expression")
                .or_else(|| i.get("location"))
                .map(Value::items)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let severity = i
                .get("severity")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            ExpIssue {
                terminology: terminology_marker(&severity, &message, core),
                severity,
                expression,
                message,
            }
        })
        .collect();
    let errors = issues
        .iter()
        .filter(|i| matches!(i.severity.as_str(), "error" | "fatal"))
        .count();
    Expected { errors, issues }
}

// ---------------------------------------------------------------------------------------------

/// A small XML reader for the FHIR XML definitions among the test cases, and a converter to FHIR
/// JSON guided by the R4 definitions (which elements repeat, which primitives are numbers or
/// booleans).
mod xml {
    use std::sync::Arc;

    use conformance::plan::{NodeId, Plan};
    use conformance::Definitions;
    use fhir::json::{Object, Value};
    use fhir::primitive;

    #[derive(Debug)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub children: Vec<Element>,
        /// The element as written, for xhtml content.
        pub raw: String,
    }

    impl Element {
        fn attr(&self, k: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.as_str())
        }
    }

    pub fn parse(text: &str) -> Result<Element, String> {
        let mut p = Reader {
            s: text.trim_start_matches('\u{feff}'),
            pos: 0,
        };
        p.misc()?;
        let e = p.element()?;
        p.misc()?;
        if p.pos != p.s.len() {
            return Err(format!("XML: content after the root element at {}", p.pos));
        }
        Ok(e)
    }

    struct Reader<'a> {
        s: &'a str,
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn rest(&self) -> &'a str {
            &self.s[self.pos..]
        }
        fn ws(&mut self) {
            let r = self.rest();
            self.pos += r.len() - r.trim_start().len();
        }
        fn skip_past(&mut self, end: &str) -> Result<(), String> {
            match self.rest().find(end) {
                Some(i) => {
                    self.pos += i + end.len();
                    Ok(())
                }
                None => Err(format!("XML: missing {end}")),
            }
        }
        /// Whitespace, comments, processing instructions and doctype.
        fn misc(&mut self) -> Result<(), String> {
            loop {
                self.ws();
                if self.rest().starts_with("<?") {
                    self.skip_past("?>")?;
                } else if self.rest().starts_with("<!--") {
                    self.skip_past("-->")?;
                } else if self.rest().starts_with("<!") {
                    self.skip_past(">")?;
                } else {
                    return Ok(());
                }
            }
        }
        fn name(&mut self) -> Result<String, String> {
            let r = self.rest();
            let n = r
                .find(|c: char| c.is_whitespace() || c == '/' || c == '>' || c == '=')
                .unwrap_or(r.len());
            if n == 0 {
                return Err(format!("XML: name expected at {}", self.pos));
            }
            self.pos += n;
            Ok(r[..n].to_string())
        }
        fn element(&mut self) -> Result<Element, String> {
            let start = self.pos;
            if !self.rest().starts_with('<') {
                return Err(format!("XML: '<' expected at {}", self.pos));
            }
            self.pos += 1;
            let name = local(&self.name()?);
            let mut attrs = Vec::new();
            loop {
                self.ws();
                if self.rest().starts_with("/>") {
                    self.pos += 2;
                    return Ok(Element {
                        name,
                        attrs,
                        children: Vec::new(),
                        raw: self.s[start..self.pos].to_string(),
                    });
                }
                if self.rest().starts_with('>') {
                    self.pos += 1;
                    break;
                }
                let an = self.name()?;
                self.ws();
                if !self.rest().starts_with('=') {
                    return Err(format!("XML: '=' expected at {}", self.pos));
                }
                self.pos += 1;
                self.ws();
                let q = self.rest().chars().next().ok_or("XML: eof")?;
                if q != '"' && q != '\'' {
                    return Err(format!("XML: quote expected at {}", self.pos));
                }
                self.pos += 1;
                let end = self.rest().find(q).ok_or("XML: unterminated attribute")?;
                let raw = &self.rest()[..end];
                let val = unescape(raw);
                self.pos += end + 1;
                if an != "xmlns" && !an.starts_with("xmlns:") {
                    attrs.push((local(&an), val));
                }
            }
            let mut children = Vec::new();
            loop {
                let r = self.rest();
                if r.is_empty() {
                    return Err(format!("XML: element {name} not closed"));
                }
                if r.starts_with("</") {
                    self.pos += 2;
                    let close = local(&self.name()?);
                    if close != name {
                        return Err(format!("XML: </{close}> closes <{name}>"));
                    }
                    self.ws();
                    self.skip_past(">")?;
                    break;
                } else if r.starts_with("<!--") {
                    self.skip_past("-->")?;
                } else if r.starts_with("<![CDATA[") {
                    self.skip_past("]]>")?;
                } else if r.starts_with("<?") {
                    self.skip_past("?>")?;
                } else if r.starts_with('<') {
                    children.push(self.element()?);
                } else {
                    // Text: only meaningful inside xhtml, which keeps `raw`.
                    let n = r.find('<').unwrap_or(r.len());
                    self.pos += n;
                }
            }
            Ok(Element {
                name,
                attrs,
                children,
                raw: self.s[start..self.pos].to_string(),
            })
        }
    }

    fn local(n: &str) -> String {
        n.rsplit(':').next().unwrap_or(n).to_string()
    }

    fn unescape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let Some(semi) = tail.find(';') else {
                out.push_str(tail);
                return out;
            };
            let ent = &tail[1..semi];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if ent.starts_with("#x") => u32::from_str_radix(&ent[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            match c {
                Some(c) => out.push(c),
                None => out.push_str(&tail[..=semi]),
            }
            rest = &tail[semi + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Converts a FHIR XML resource to FHIR JSON.
    pub fn to_fhir_json(root: &Element, defs: &Definitions) -> Result<Value, String> {
        let plan = defs
            .base_plan(&root.name)
            .filter(|p| &*p.kind == "resource")
            .ok_or_else(|| format!("XML: {} is not an R4 resource", root.name))?;
        let mut obj = Object::new();
        obj.insert("resourceType", Value::string(root.name.as_str()));
        fill(&mut obj, root, &plan, 0, defs)?;
        Ok(Value::Object(obj))
    }

    fn typed(code: &str, s: &str) -> Value {
        match code {
            "boolean" => Value::Bool(s == "true"),
            "integer" | "decimal" | "positiveInt" | "unsignedInt" => Value::Number(s.into()),
            _ => Value::string(s),
        }
    }

    fn fill(
        obj: &mut Object,
        e: &Element,
        plan: &Arc<Plan>,
        node: NodeId,
        defs: &Definitions,
    ) -> Result<(), String> {
        let mut node = node;
        if let Some(cr) = &plan.node(node).content_reference {
            node = plan
                .content_reference(cr)
                .ok_or_else(|| format!("XML: unresolved contentReference {cr}"))?;
        }
        let n = plan.node(node);
        // Attributes: Element.id and Extension.url.
        for (k, v) in &e.attrs {
            if k == "value" {
                continue;
            }
            obj.insert(k.as_str(), Value::string(v.as_str()));
        }
        for x in &e.children {
            let mut hit = None;
            for &c in &n.children {
                let cn = plan.node(c);
                if let Some(t) = cn.matches_key(&x.name) {
                    let code = t
                        .map(|t| t.code.to_string())
                        .or_else(|| cn.types.first().map(|t| t.code.to_string()))
                        .unwrap_or_default();
                    hit = Some((c, code));
                    break;
                }
            }
            let (c, code) =
                hit.ok_or_else(|| format!("XML: {} has no element {}", n.path, x.name))?;
            let cn = plan.node(c);
            let many = cn.max != Some(1);
            let (value, under) = convert(x, &code, plan, c, defs)?;
            if many && under.is_some() {
                return Err(format!(
                    "XML: extensions on repeating primitive {} not supported",
                    x.name
                ));
            }
            if let Some(v) = value {
                if many {
                    match obj.get_mut(&x.name).and_then(Value::as_array_mut) {
                        Some(a) => a.push(v),
                        None => {
                            obj.insert(x.name.as_str(), Value::Array(vec![v]));
                        }
                    }
                } else {
                    obj.insert(x.name.as_str(), v);
                }
            }
            if let Some(u) = under {
                obj.insert(format!("_{}", x.name), u);
            }
        }
        Ok(())
    }

    fn convert(
        x: &Element,
        code: &str,
        plan: &Arc<Plan>,
        node: NodeId,
        defs: &Definitions,
    ) -> Result<(Option<Value>, Option<Value>), String> {
        if code == "xhtml" {
            return Ok((Some(Value::string(x.raw.as_str())), None));
        }
        if primitive::is_primitive(code) {
            let value = x.attr("value").map(|s| typed(code, s));
            let has_more = !x.children.is_empty() || x.attrs.iter().any(|(k, _)| k != "value");
            let under = if has_more {
                let p = defs
                    .base_plan(code)
                    .ok_or_else(|| format!("XML: no definition for {code}"))?;
                let mut o = Object::new();
                for (k, v) in &x.attrs {
                    if k != "value" {
                        o.insert(k.as_str(), Value::string(v.as_str()));
                    }
                }
                let stripped = Element {
                    name: x.name.clone(),
                    attrs: Vec::new(),
                    children: x.children.iter().map(clone_el).collect(),
                    raw: String::new(),
                };
                fill(&mut o, &stripped, &p, 0, defs)?;
                Some(Value::Object(o))
            } else {
                None
            };
            return Ok((value, under));
        }
        if code == "Resource" || defs.base_plan(code).is_some_and(|p| &*p.kind == "resource") {
            let inner = x
                .children
                .first()
                .ok_or_else(|| format!("XML: empty resource wrapper {}", x.name))?;
            return Ok((Some(to_fhir_json(inner, defs)?), None));
        }
        let mut o = Object::new();
        let cn = plan.node(node);
        if !cn.children.is_empty() || cn.content_reference.is_some() {
            fill(&mut o, x, plan, node, defs)?;
        } else {
            let p = defs
                .base_plan(code)
                .ok_or_else(|| format!("XML: no definition for type {code}"))?;
            fill(&mut o, x, &p, 0, defs)?;
        }
        Ok((Some(Value::Object(o)), None))
    }

    fn clone_el(e: &Element) -> Element {
        Element {
            name: e.name.clone(),
            attrs: e.attrs.clone(),
            children: e.children.iter().map(clone_el).collect(),
            raw: e.raw.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn expression_normalization() {
    assert_eq!(
        normalize_expr("Bundle.entry[0].resource/*Composition/1*/.type.coding[0]"),
        "Bundle.entry[0].resource.type.coding[0]"
    );
    assert_eq!(
        normalize_expr("Observation.value.ofType(Quantity).code"),
        "Observation.value.code"
    );
}

#[test]
fn xml_structure_definition_converts() {
    let text = r#"<?xml version="1.0"?>
<StructureDefinition xmlns="http://hl7.org/fhir">
  <!-- a comment -->
  <url value="http://example.org/sd"/>
  <abstract value="false"/>
  <differential>
    <element id="Patient.identifier">
      <path value="Patient.identifier"/>
      <min value="1"/>
      <patternIdentifier><use value="usual"/></patternIdentifier>
      <type><code value="Identifier"/><profile value="a&amp;b"/></type>
    </element>
  </differential>
</StructureDefinition>"#;
    let core = Definitions::r4().unwrap();
    let v = xml::to_fhir_json(&xml::parse(text).unwrap(), &core).unwrap();
    let got = json::to_string(&v);
    assert_eq!(
        got,
        r#"{"resourceType":"StructureDefinition","url":"http://example.org/sd","abstract":false,"differential":{"element":[{"id":"Patient.identifier","path":"Patient.identifier","min":1,"patternIdentifier":{"use":"usual"},"type":[{"code":"Identifier","profile":["a&b"]}]}]}}"#
    );
}
