//! `clins-hub`: the command line of the JP-CLINS information sharing hub.
#![forbid(unsafe_code)]

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod fhirpath_cmd;
mod progress;
mod validate;

#[derive(Parser)]
#[command(
    name = "clins-hub",
    version,
    about = "JP-CLINS (電子カルテ情報共有サービス) hub: validate, store and share 3文書6情報"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Validate FHIR JSON files or folders against R4, the loaded IG packages and the JP-CLINS
    /// service rules.
    Validate {
        /// IG package folder (repeatable); also read from CLINS_IG_PATH (colon-separated).
        #[arg(long = "ig", value_name = "DIR")]
        ig: Vec<PathBuf>,
        /// Report format: a readable text report, or one OperationOutcome per file (NDJSON-like
        /// JSON array).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Show information-level issues in the text report too.
        #[arg(long)]
        verbose: bool,
        /// Worker threads (default: all cores).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Files or folders (folders are searched recursively for *.json).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Evaluate a FHIRPath expression against a resource (stdin without FILE); prints the
    /// result collection as JSON.
    Fhirpath {
        /// The expression.
        expression: String,
        /// A FHIR resource in JSON (default: stdin).
        file: Option<PathBuf>,
    },
    /// Write synthetic JP-CLINS submissions (6情報 units for now) to OUT_DIR/submissions/, with
    /// OUT_DIR/manifest.json. The same seed gives the same bytes.
    Gen {
        /// Number of patients.
        #[arg(long, value_name = "N")]
        patients: u64,
        /// Number of institutions (default: one per 50 patients, at least 3).
        #[arg(long, value_name = "M")]
        institutions: Option<u32>,
        /// Random seed.
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
        /// Write one NDJSON stream (OUT_DIR/submissions.ndjson) instead of one file per
        /// submission.
        #[arg(long)]
        ndjson: bool,
        /// Output folder.
        out_dir: PathBuf,
    },
    /// Run an official FHIRPath test-suite file; prints each failure, then
    /// `N passed, N failed, N skipped`.
    FhirpathTests {
        /// The suite (e.g. tests-fhir-r4.xml).
        suite: PathBuf,
        /// Folder with the input resources (JSON; `x.xml` inputs are read from `x.json`).
        #[arg(long, value_name = "DIR")]
        inputs: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Validate {
            ig,
            format,
            verbose,
            jobs,
            paths,
        } => validate::run(validate::Args {
            ig,
            format,
            verbose,
            jobs,
            paths,
        }),
        Command::Gen {
            patients,
            institutions,
            seed,
            ndjson,
            out_dir,
        } => {
            if institutions == Some(0) {
                eprintln!("clins-hub gen: --institutions must be at least 1");
                return ExitCode::from(2);
            }
            let cfg = synth::Config {
                patients,
                institutions,
                seed,
            };
            let bar = progress::Progress::new(patients as usize, "patients");
            match clins_hub::gen::write(&cfg, &out_dir, ndjson, &|| bar.inc()) {
                Ok(m) => {
                    bar.finish();
                    println!(
                        "wrote {} submissions ({} resources) for {} patients at {} institutions to {}",
                        m.submissions,
                        m.resources,
                        m.patients,
                        m.institutions,
                        out_dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    bar.finish();
                    eprintln!("clins-hub gen: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Fhirpath { expression, file } => fhirpath_cmd::eval(&expression, file.as_deref()),
        Command::FhirpathTests { suite, inputs } => fhirpath_cmd::suite(&suite, inputs.as_deref()),
    }
}
