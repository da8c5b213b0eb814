//! `clins-hub gen`: writes synthetic submissions to `OUT_DIR/submissions/`, one JSON file per
//! submission (or one NDJSON stream, `OUT_DIR/submissions.ndjson`), plus `OUT_DIR/manifest.json`. Patients are generated and written one at a time,
//! so memory does not grow with `--patients`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use synth::{Config, Manifest};

/// Writes the run into `out_dir` (created if needed). With `ndjson`, every Bundle goes on one
/// line of `submissions.ndjson` instead of a file of its own. `tick` is called after each
/// patient.
pub fn write(
    cfg: &Config,
    out_dir: &Path,
    ndjson: bool,
    tick: &dyn Fn(),
) -> Result<Manifest, String> {
    let fail = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
    let files_dir = out_dir.join("submissions");
    let dir = if ndjson { out_dir } else { &files_dir };
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create", dir, e))?;
    let world = synth::World::new(cfg);
    let mut m = Manifest {
        seed: cfg.seed,
        patients: cfg.patients,
        institutions: world.institutions.len() as u64,
        insurers: world.insurers.len() as u64,
        ..Manifest::default()
    };
    let stream_path = out_dir.join("submissions.ndjson");
    let mut stream = if ndjson {
        Some(BufWriter::new(
            File::create(&stream_path).map_err(|e| fail("cannot write", &stream_path, e))?,
        ))
    } else {
        None
    };
    let mut error: Option<String> = None;
    for n in 0..cfg.patients {
        synth::patient_submissions(cfg, &world, n, &mut |sub| {
            if error.is_some() {
                return;
            }
            synth::count(&mut m, &sub);
            let result = match stream.as_mut() {
                Some(w) => {
                    let mut line = fhir::json::to_string(&sub.bundle);
                    line.push('\n');
                    w.write_all(line.as_bytes())
                        .map_err(|e| fail("cannot write", &stream_path, e))
                }
                None => {
                    let path = files_dir.join(&sub.file_name);
                    let mut text = fhir::json::to_string_pretty(&sub.bundle);
                    text.push('\n');
                    std::fs::write(&path, text).map_err(|e| fail("cannot write", &path, e))
                }
            };
            if let Err(e) = result {
                error = Some(e);
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        tick();
    }
    if let Some(mut w) = stream {
        w.flush()
            .map_err(|e| fail("cannot write", &stream_path, e))?;
    }
    let manifest = out_dir.join("manifest.json");
    std::fs::write(&manifest, m.to_json()).map_err(|e| fail("cannot write", &manifest, e))?;
    Ok(m)
}
