//! `clins-hub backup-key`, `backup` and `restore`: encrypted generations of the embedded store
//! (store::backup; docs/operations.md).

use std::path::Path;

use store::backup::{self, BackupKey};

use crate::progress::Progress;

/// `clins-hub backup-key --out FILE`.
pub fn key(out: &Path) -> Result<(), String> {
    BackupKey::create(out)?;
    println!(
        "backup key written to {} (32 random bytes, owner-only): keep a copy apart from the backups; without it no backup can be restored",
        out.display()
    );
    Ok(())
}

/// `clins-hub backup --to DIR --key FILE [--keep N] [--data DIR]`.
pub fn run(data: &Path, to: &Path, key: &Path, keep: usize) -> Result<(), String> {
    let key = BackupKey::load(key)?;
    if !data.join("clins.sqlite").is_file() {
        return Err(format!(
            "{} holds no embedded store (no clins.sqlite); a PostgreSQL database is backed up with pg_basebackup and WAL archiving (docs/operations.md)",
            data.display()
        ));
    }
    let store = store::Store::open_sqlite(data).map_err(|e| e.to_string())?;
    let size: u64 = ["clins.sqlite", "audit.sqlite"]
        .iter()
        .filter_map(|f| std::fs::metadata(data.join(f)).ok())
        .map(|m| m.len())
        .sum();
    let bar = Progress::new((size >> 20) as usize + 2, "encrypting (MiB)");
    let r = backup::backup(&store, data, to, &key, keep, &store::now_utc(), &|n| {
        // One tick per piece of 1 MiB.
        if n > 0 {
            bar.inc();
        }
    })?;
    bar.finish();
    println!("backup written: {}", r.generation.display());
    for f in &r.manifest.files {
        println!("  {} {} bytes sha256 {}", f.name, f.size, f.sha256);
    }
    for old in &r.removed {
        println!(
            "removed the older generation {} (keeping {keep})",
            old.display()
        );
    }
    Ok(())
}

/// `clins-hub restore --from GENERATION --key FILE (--data DIR | --verify-only)`.
pub fn restore(from: &Path, key: &Path, data: Option<&Path>) -> Result<(), String> {
    let key = BackupKey::load(key)?;
    let m = match data {
        Some(d) => backup::restore(from, &key, d)?,
        None => backup::verify(from, &key)?,
    };
    let what = match data {
        Some(d) => format!("restored into {} and checked", d.display()),
        None => "verified (nothing written)".to_string(),
    };
    println!("backup of {}: {what}", m.created);
    for f in &m.files {
        println!("  {} {} bytes sha256 {} ok", f.name, f.size, f.sha256);
    }
    Ok(())
}
