//! Backups of the embedded store (GL6 §4.2: several generations, not rewritten, encrypted).
//!
//! A backup is a generation folder `clins-backup-<UTC time>` in the backup folder, holding:
//!
//! - a consistent snapshot of each database file (`clins.sqlite`; `audit.sqlite` after the
//!   audit journal is copied into it), made by SQLite's `VACUUM INTO` from a read transaction,
//!   so the hub keeps serving while it is taken; and the audit anchor file when there is one;
//! - each encrypted with AES-256-GCM under the backup key (a 32-byte file of its own, kept
//!   apart from the backups): the file is sealed in pieces of 1 MiB, each with a nonce of its
//!   own and, as additional data, the file's name, the piece's number and whether it is the
//!   last, so that a piece changed, moved, removed or added is detected, and so is a cut file;
//! - a manifest (also sealed) with each file's size and SHA-256, checked again on restore.
//!
//! The generation is written under a temporary name and renamed once complete and synced, its
//! files made read-only; the oldest generations beyond `keep` are removed. [`restore`]
//! decrypts into an empty folder, checks every piece, every size and checksum, and SQLite's
//! `integrity_check` of both databases, before it says the store is usable.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};

use crate::{DbError, Store, StoreError};

/// The start of every encrypted file (format version 1).
const MAGIC: &[u8; 8] = b"CLINSBK1";
/// Plaintext bytes per sealed piece.
const PIECE: usize = 1 << 20;
/// The files of the embedded store a backup holds (the anchor only when present).
const DATABASES: [&str; 2] = ["clins.sqlite", "audit.sqlite"];
const ANCHOR: &str = "audit-anchor.tsv";
const MANIFEST: &str = "manifest.enc";
const PREFIX: &str = "clins-backup-";

/// The backup key: 32 random bytes in a file of their own.
pub struct BackupKey(LessSafeKey);

fn fail(what: impl std::fmt::Display) -> String {
    what.to_string()
}

impl BackupKey {
    /// Writes a new random key to `path` (readable by its owner only); refuses to overwrite.
    pub fn create(path: &Path) -> Result<(), String> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| fail("no random numbers from the operating system"))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(path)
            .map_err(|e| format!("{}: {e} (a key file is never overwritten)", path.display()))?;
        f.write_all(&bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads the key at `path`.
    pub fn load(path: &Path) -> Result<BackupKey, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if bytes.len() != 32 {
            return Err(format!(
                "{}: a backup key is 32 bytes (this file has {}); create one with `clins-hub backup-key --out FILE`",
                path.display(),
                bytes.len()
            ));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| fail("unusable key"))?;
        Ok(BackupKey(LessSafeKey::new(key)))
    }
}

fn nonce(prefix: &[u8; 8], piece: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(prefix);
    n[8..].copy_from_slice(&piece.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(name: &str, piece: u32, last: bool) -> Vec<u8> {
    let mut a = Vec::with_capacity(name.len() + 6);
    a.extend_from_slice(name.as_bytes());
    a.push(0);
    a.extend_from_slice(&piece.to_be_bytes());
    a.push(u8::from(last));
    a
}

/// Reads up to `buf.len()` bytes (fewer only at the end of the file).
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Encrypts `from` into `to` under `name`; returns the plaintext's size and SHA-256 (hex).
fn seal_file(
    key: &BackupKey,
    name: &str,
    from: &Path,
    to: &Path,
    progress: &dyn Fn(u64),
) -> Result<(u64, String), String> {
    let io = |e: std::io::Error| format!("{}: {e}", from.display());
    let mut src = File::open(from).map_err(io)?;
    let mut out =
        std::io::BufWriter::new(File::create(to).map_err(|e| format!("{}: {e}", to.display()))?);
    let mut prefix = [0u8; 8];
    SystemRandom::new()
        .fill(&mut prefix)
        .map_err(|_| fail("no random numbers from the operating system"))?;
    let wio = |e: std::io::Error| format!("{}: {e}", to.display());
    out.write_all(MAGIC).map_err(wio)?;
    out.write_all(&prefix).map_err(wio)?;
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut size = 0u64;
    let mut cur = vec![0u8; PIECE];
    let mut next = vec![0u8; PIECE];
    let mut n = fill(&mut src, &mut cur).map_err(io)?;
    let mut piece = 0u32;
    loop {
        let m = if n == PIECE {
            fill(&mut src, &mut next).map_err(io)?
        } else {
            0
        };
        let last = m == 0;
        digest.update(&cur[..n]);
        size += n as u64;
        // Sealed where it was read: the piece, then its tag.
        let tag = key
            .0
            .seal_in_place_separate_tag(
                nonce(&prefix, piece),
                Aad::from(aad(name, piece, last)),
                &mut cur[..n],
            )
            .map_err(|_| fail("encryption failed"))?;
        let tag = tag.as_ref();
        out.write_all(&((n + tag.len()) as u32).to_be_bytes())
            .map_err(wio)?;
        out.write_all(&cur[..n]).map_err(wio)?;
        out.write_all(tag).map_err(wio)?;
        progress(n as u64);
        if last {
            break;
        }
        piece = piece
            .checked_add(1)
            .ok_or_else(|| fail("file too large for one backup (4 PiB)"))?;
        std::mem::swap(&mut cur, &mut next);
        n = m;
    }
    let f = out.into_inner().map_err(|e| wio(e.into_error()))?;
    f.sync_all().map_err(wio)?;
    Ok((size, hex(digest.finish().as_ref())))
}

/// Decrypts `from` (sealed under `name`) into `to` (when given); returns the plaintext's size
/// and SHA-256. Any change to the file makes this fail.
fn open_file(
    key: &BackupKey,
    name: &str,
    from: &Path,
    mut to: Option<&mut dyn Write>,
) -> Result<(u64, String), String> {
    let bad = |why: &str| format!("{}: {why}", from.display());
    let mut src =
        std::io::BufReader::new(File::open(from).map_err(|e| format!("{}: {e}", from.display()))?);
    let mut head = [0u8; 16];
    src.read_exact(&mut head)
        .map_err(|_| bad("not a clins-hub backup file (too short)"))?;
    if &head[..8] != MAGIC {
        return Err(bad("not a clins-hub backup file"));
    }
    let prefix: [u8; 8] = head[8..].try_into().unwrap_or_default();
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut size = 0u64;
    let mut piece = 0u32;
    let mut len = [0u8; 4];
    src.read_exact(&mut len)
        .map_err(|_| bad("cut short: no piece"))?;
    let mut sealed: Vec<u8> = Vec::with_capacity(PIECE + 16);
    loop {
        let n = u32::from_be_bytes(len) as usize;
        if !(16..=PIECE + 16).contains(&n) {
            return Err(bad(&format!("damaged at piece {piece} (a length of {n})")));
        }
        // One buffer for every piece.
        sealed.resize(n, 0);
        src.read_exact(&mut sealed)
            .map_err(|_| bad(&format!("cut short in piece {piece}")))?;
        // The last piece is the one the file ends after.
        let last = match fill(&mut src, &mut len) {
            Ok(0) => true,
            Ok(4) => false,
            Ok(_) => return Err(bad(&format!("damaged after piece {piece} (stray bytes)"))),
            Err(e) => return Err(bad(&e.to_string())),
        };
        let plain = key
            .0
            .open_in_place(nonce(&prefix, piece), Aad::from(aad(name, piece, last)), &mut sealed)
            .map_err(|_| {
                bad(&format!(
                    "piece {piece} does not decrypt: the file was changed, cut or moved, or the key is not the one it was made with"
                ))
            })?;
        digest.update(plain);
        size += plain.len() as u64;
        if let Some(w) = to.as_deref_mut() {
            w.write_all(plain).map_err(|e| e.to_string())?;
        }
        if last {
            break;
        }
        piece = piece.checked_add(1).ok_or_else(|| bad("too many pieces"))?;
    }
    Ok((size, hex(digest.finish().as_ref())))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One file of a generation: its name, size and SHA-256 (hex) before encryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackedUp {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// A generation's manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub created: String,
    pub files: Vec<BackedUp>,
}

impl Manifest {
    fn text(&self) -> String {
        let mut s = format!("clins-hub backup 1\ncreated {}\n", self.created);
        for f in &self.files {
            s.push_str(&format!("file {} {} {}\n", f.name, f.size, f.sha256));
        }
        s
    }

    fn parse(text: &str) -> Option<Manifest> {
        let mut lines = text.lines();
        if lines.next()? != "clins-hub backup 1" {
            return None;
        }
        let created = lines.next()?.strip_prefix("created ")?.to_string();
        let mut files = Vec::new();
        for l in lines {
            let mut p = l.strip_prefix("file ")?.split(' ');
            let (name, size, sha) = (p.next()?, p.next()?, p.next()?);
            let allowed = DATABASES.contains(&name) || name == ANCHOR;
            if !allowed || p.next().is_some() {
                return None;
            }
            files.push(BackedUp {
                name: name.to_string(),
                size: size.parse().ok()?,
                sha256: sha.to_string(),
            });
        }
        Some(Manifest { created, files })
    }
}

/// What [`backup`] did.
pub struct BackupReport {
    pub generation: PathBuf,
    pub manifest: Manifest,
    /// Older generations removed (beyond `keep`).
    pub removed: Vec<PathBuf>,
}

impl Store {
    /// Writes a consistent snapshot of the embedded store's databases into `out` (an existing
    /// folder): the audit journal is copied into its table first. The hub may be serving.
    pub fn snapshot(&self, data: &Path, out: &Path) -> Result<Vec<PathBuf>, StoreError> {
        let Some(j) = &self.journal else {
            return Err(StoreError::Db(DbError::Other(
                "a backup of PostgreSQL is made with pg_basebackup and WAL archiving (docs/operations.md), not by clins-hub backup".into(),
            )));
        };
        j.catch_up()?;
        let mut made = Vec::new();
        for name in DATABASES {
            let to = out.join(name);
            let _ = std::fs::remove_file(&to);
            let src = rusqlite::Connection::open_with_flags(
                data.join(name),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| StoreError::Db(DbError::Other(format!("{name}: {e}"))))?;
            src.busy_timeout(std::time::Duration::from_secs(30))
                .and_then(|_| src.execute("VACUUM INTO ?1", [to.display().to_string()]))
                .map_err(|e| StoreError::Db(DbError::Other(format!("snapshot of {name}: {e}"))))?;
            made.push(to);
        }
        Ok(made)
    }
}

impl Store {
    /// SQLite's `quick_check` of the embedded store's database files (every page read once):
    /// `Err` names the file and SQLite's first findings. Nothing to check on PostgreSQL (its
    /// pages carry checksums when the cluster was initialised with them).
    pub fn quick_check(&self) -> Result<(), String> {
        let Some(j) = &self.journal else {
            return Ok(());
        };
        let verdict = |c: &mut dyn crate::driver::Conn| -> Result<Vec<String>, DbError> {
            Ok(c.query("PRAGMA quick_check(5)", &[])?
                .into_iter()
                .filter_map(|r| r.into_iter().next().map(|v| v.text()))
                .collect())
        };
        let damaged = |file: &str, found: Vec<String>| {
            format!(
                "{file} is damaged (SQLite quick_check: {}); the hub does not start on a damaged store: restore the latest backup into a new folder (clins-hub restore, docs/operations.md) and serve from it",
                found.join("; ")
            )
        };
        let main = self
            .read(|c| verdict(c))
            .map_err(|e| damaged("clins.sqlite", vec![e.to_string()]))?;
        if main != ["ok"] {
            return Err(damaged("clins.sqlite", main));
        }
        let audit = {
            let mut c =
                j.db.lock()
                    .map_err(|_| "audit store poisoned".to_string())?;
            verdict(&mut *c).map_err(|e| damaged("audit.sqlite", vec![e.to_string()]))?
        };
        if audit != ["ok"] {
            return Err(damaged("audit.sqlite", audit));
        }
        Ok(())
    }
}

/// The generations in `dir`, oldest first.
pub fn generations(dir: &Path) -> Vec<PathBuf> {
    let mut g: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with(PREFIX))
                })
                .collect()
        })
        .unwrap_or_default();
    g.sort();
    g
}

fn read_only(p: &Path, on: bool) {
    if let Ok(m) = std::fs::metadata(p) {
        let mut perm = m.permissions();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = match (p.is_dir(), on) {
                (true, true) => 0o500,
                (true, false) => 0o700,
                (false, true) => 0o400,
                (false, false) => 0o600,
            };
            perm.set_mode(mode);
        }
        #[cfg(not(unix))]
        perm.set_readonly(on);
        let _ = std::fs::set_permissions(p, perm);
    }
}

/// Backs up the embedded store in `data` into a new generation in `to` (created if missing),
/// encrypted with `key`; keeps the newest `keep` generations. `now` names the generation
/// (UTC, as `store::now_utc`). `progress` is told the plaintext bytes encrypted.
pub fn backup(
    store: &Store,
    data: &Path,
    to: &Path,
    key: &BackupKey,
    keep: usize,
    now: &str,
    progress: &dyn Fn(u64),
) -> Result<BackupReport, String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let stamp: String = now
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let name = format!("{PREFIX}{stamp}Z");
    let generation = to.join(&name);
    if generation.exists() {
        return Err(format!("{} exists already", generation.display()));
    }
    let partial = to.join(format!(".partial-{name}"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    // The plaintext snapshot stays beside the live data (same protection), and goes.
    let plain = data.join(format!("backup-snapshot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&plain);
    std::fs::create_dir(&plain).map_err(|e| format!("{}: {e}", plain.display()))?;
    let result = (|| {
        let mut files = Vec::new();
        // The anchor first, cut to its last whole line: every checkpoint it names is then in
        // the database snapshots taken after it (a checkpoint signed during the backup would
        // name records the snapshot does not hold, and a restore would look rolled back).
        let anchor = if data.join(ANCHOR).exists() {
            let mut text =
                std::fs::read(data.join(ANCHOR)).map_err(|e| format!("{ANCHOR}: {e}"))?;
            text.truncate(text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1));
            let copy = plain.join(ANCHOR);
            std::fs::write(&copy, text).map_err(|e| format!("{}: {e}", copy.display()))?;
            Some(copy)
        } else {
            None
        };
        let mut sources: Vec<(String, PathBuf)> = store
            .snapshot(data, &plain)
            .map_err(|e| e.to_string())?
            .into_iter()
            .zip(DATABASES)
            .map(|(p, n)| (n.to_string(), p))
            .collect();
        if let Some(copy) = anchor {
            sources.push((ANCHOR.to_string(), copy));
        }
        for (n, src) in &sources {
            let (size, sha256) =
                seal_file(key, n, src, &partial.join(format!("{n}.enc")), progress)?;
            files.push(BackedUp {
                name: n.clone(),
                size,
                sha256,
            });
        }
        let manifest = Manifest {
            created: now.to_string(),
            files,
        };
        let m = partial.join("manifest.txt");
        std::fs::write(&m, manifest.text()).map_err(|e| format!("{}: {e}", m.display()))?;
        seal_file(key, MANIFEST, &m, &partial.join(MANIFEST), &|_| {})?;
        std::fs::remove_file(&m).map_err(|e| format!("{}: {e}", m.display()))?;
        Ok::<_, String>(manifest)
    })();
    let _ = std::fs::remove_dir_all(&plain);
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    for entry in std::fs::read_dir(&partial).map_err(|e| e.to_string())? {
        read_only(&entry.map_err(|e| e.to_string())?.path(), true);
    }
    std::fs::rename(&partial, &generation).map_err(|e| format!("{}: {e}", generation.display()))?;
    read_only(&generation, true);
    if let Ok(d) = File::open(to) {
        let _ = d.sync_all();
    }
    let mut removed = Vec::new();
    let all = generations(to);
    if all.len() > keep.max(1) {
        for old in &all[..all.len() - keep.max(1)] {
            read_only(old, false);
            if let Ok(rd) = std::fs::read_dir(old) {
                for e in rd.filter_map(Result::ok) {
                    read_only(&e.path(), false);
                }
            }
            if std::fs::remove_dir_all(old).is_ok() {
                removed.push(old.clone());
            }
        }
    }
    Ok(BackupReport {
        generation,
        manifest,
        removed,
    })
}

/// Reads and checks a generation's manifest, and (with `data`) every file.
fn check(generation: &Path, key: &BackupKey) -> Result<Manifest, String> {
    let mut text = Vec::new();
    open_file(key, MANIFEST, &generation.join(MANIFEST), Some(&mut text))?;
    let text = String::from_utf8(text).map_err(|_| fail("the manifest is not text"))?;
    Manifest::parse(&text).ok_or_else(|| {
        format!(
            "{}: the manifest is not one of clins-hub backup 1",
            generation.display()
        )
    })
}

/// Checks a generation without writing anything: every piece of every file decrypts, and each
/// file's size and SHA-256 are the manifest's.
pub fn verify(generation: &Path, key: &BackupKey) -> Result<Manifest, String> {
    let manifest = check(generation, key)?;
    for f in &manifest.files {
        let (size, sha) = open_file(
            key,
            &f.name,
            &generation.join(format!("{}.enc", f.name)),
            None,
        )?;
        if size != f.size || sha != f.sha256 {
            return Err(format!(
                "{}: its content is not the one the manifest names",
                f.name
            ));
        }
    }
    Ok(manifest)
}

/// Restores a generation into `data`, which must be missing or empty: every file is checked
/// as by [`verify`], then both databases pass SQLite's `integrity_check`. On any failure the
/// files written are removed.
pub fn restore(generation: &Path, key: &BackupKey, data: &Path) -> Result<Manifest, String> {
    if data.exists()
        && std::fs::read_dir(data)
            .map_err(|e| format!("{}: {e}", data.display()))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{} is not empty: restore into a new folder, then point the hub at it",
            data.display()
        ));
    }
    let manifest = check(generation, key)?;
    for name in DATABASES {
        if !manifest.files.iter().any(|f| f.name == name) {
            return Err(format!("the manifest has no {name}"));
        }
    }
    std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
    let result = (|| {
        for f in &manifest.files {
            let target = data.join(&f.name);
            let mut out = std::io::BufWriter::new(
                File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?,
            );
            let (size, sha) = open_file(
                key,
                &f.name,
                &generation.join(format!("{}.enc", f.name)),
                Some(&mut out),
            )?;
            let file = out.into_inner().map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
            if size != f.size || sha != f.sha256 {
                return Err(format!(
                    "{}: its content is not the one the manifest names",
                    f.name
                ));
            }
        }
        for name in DATABASES {
            let c = rusqlite::Connection::open(data.join(name)).map_err(|e| e.to_string())?;
            let verdict: String = c
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(|e| format!("{name}: {e}"))?;
            if verdict != "ok" {
                return Err(format!("{name} fails SQLite's integrity check: {verdict}"));
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        for f in &manifest.files {
            let _ = std::fs::remove_file(data.join(&f.name));
        }
        return Err(e);
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let d = crate::test_folder(&format!("backup-{name}"));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn key(d: &Path) -> BackupKey {
        let p = d.join("key");
        BackupKey::create(&p).unwrap();
        BackupKey::load(&p).unwrap()
    }

    #[test]
    fn sealed_files_round_trip_and_every_change_is_detected() {
        let d = folder("seal");
        let k = key(&d);
        // Two and a half pieces.
        let plain: Vec<u8> = (0..(PIECE * 5 / 2)).map(|i| (i % 251) as u8).collect();
        std::fs::write(d.join("p"), &plain).unwrap();
        let (size, sha) =
            seal_file(&k, "clins.sqlite", &d.join("p"), &d.join("s"), &|_| {}).unwrap();
        assert_eq!(size, plain.len() as u64);
        let sealed = std::fs::read(d.join("s")).unwrap();
        assert!(
            !sealed.windows(64).any(|w| w == &plain[1000..1064]),
            "encrypted"
        );
        let mut out = Vec::new();
        assert_eq!(
            open_file(&k, "clins.sqlite", &d.join("s"), Some(&mut out)).unwrap(),
            (size, sha)
        );
        assert_eq!(out, plain);
        // Under another name, with another key: refused.
        assert!(open_file(&k, "audit.sqlite", &d.join("s"), None).is_err());
        let other = {
            BackupKey::create(&d.join("key2")).unwrap();
            BackupKey::load(&d.join("key2")).unwrap()
        };
        assert!(open_file(&other, "clins.sqlite", &d.join("s"), None).is_err());
        let piece = 4 + PIECE + 16;
        let variants: Vec<(&str, Vec<u8>)> = vec![
            ("a flipped bit", {
                let mut v = sealed.clone();
                v[20 + PIECE / 2] ^= 1;
                v
            }),
            ("cut after the first piece", sealed[..16 + piece].to_vec()),
            ("the last piece removed", sealed[..16 + 2 * piece].to_vec()),
            ("two pieces swapped", {
                let mut v = sealed[..16].to_vec();
                v.extend_from_slice(&sealed[16 + piece..16 + 2 * piece]);
                v.extend_from_slice(&sealed[16..16 + piece]);
                v.extend_from_slice(&sealed[16 + 2 * piece..]);
                v
            }),
            ("a byte appended", {
                let mut v = sealed.clone();
                v.push(0);
                v
            }),
            ("empty", Vec::new()),
        ];
        for (what, bytes) in variants {
            std::fs::write(d.join("t"), &bytes).unwrap();
            assert!(
                open_file(&k, "clins.sqlite", &d.join("t"), None).is_err(),
                "{what}"
            );
        }
        // An empty file is one (empty, last) piece.
        std::fs::write(d.join("e"), b"").unwrap();
        seal_file(&k, "x", &d.join("e"), &d.join("es"), &|_| {}).unwrap();
        assert_eq!(open_file(&k, "x", &d.join("es"), None).unwrap().0, 0);
        // Keys are never overwritten and must have 32 bytes.
        assert!(BackupKey::create(&d.join("key")).is_err());
        std::fs::write(d.join("short"), b"abc").unwrap();
        assert!(BackupKey::load(&d.join("short")).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn manifest_round_trip_and_names_are_checked() {
        let m = Manifest {
            created: "2026-12-07T00:00:00.000Z".into(),
            files: vec![BackedUp {
                name: "clins.sqlite".into(),
                size: 5,
                sha256: "ab".into(),
            }],
        };
        assert_eq!(Manifest::parse(&m.text()), Some(m));
        assert!(
            Manifest::parse("clins-hub backup 1\ncreated x\nfile ../etc/passwd 1 ab\n").is_none()
        );
    }

    #[test]
    fn a_store_is_backed_up_while_open_restored_and_generations_are_kept() {
        use crate::{AuditRow, Durability, TRAIL, WRITES};
        let d = folder("store");
        let k = key(&d);
        let data = d.join("data");
        let store = Store::open_sqlite(&data).unwrap();
        store.start_audit_journal(Durability::Flush).unwrap();
        let h = |prev: &str, r: &AuditRow| format!("{}:{}", prev.len(), r.seq);
        let consent = crate::test_consent;
        let row = AuditRow {
            at: "2026-12-07T00:00:00.000Z".into(),
            action: "summary".into(),
            ..AuditRow::default()
        };
        store
            .with_audit(row.clone(), h)
            .add_consent(&consent("c1"))
            .unwrap();
        // In the journal only (not copied yet): the snapshot copies it first.
        store
            .append_audit(vec![row.clone(), row.clone()], h)
            .unwrap();
        // A checkpoint line being written as the backup starts: not part of the backup.
        std::fs::write(data.join(ANCHOR), "anchor line\ntorn").unwrap();
        let to = d.join("backups");
        let mut made = Vec::new();
        for i in 0..3 {
            let now = format!("2026-12-07T00:00:0{i}.000Z");
            let r = backup(&store, &data, &to, &k, 2, &now, &|_| {}).unwrap();
            assert_eq!(r.manifest.files.len(), 3);
            made.push(r.generation.clone());
            if i == 2 {
                assert_eq!(r.removed, vec![made[0].clone()]);
            }
        }
        assert_eq!(generations(&to), made[1..].to_vec());
        assert!(!data
            .join(format!("backup-snapshot-{}", std::process::id()))
            .exists());
        // Written after the backup: not in it.
        store.add_consent(&consent("c2")).unwrap();
        let newest = &made[2];
        let m = verify(newest, &k).unwrap();
        assert_eq!(m.created, "2026-12-07T00:00:02.000Z");
        // Restored: the same data, the journal's records in the table.
        let back = d.join("restored");
        restore(newest, &k, &back).unwrap();
        assert_eq!(
            std::fs::read_to_string(back.join(ANCHOR)).unwrap(),
            "anchor line\n"
        );
        let again = Store::open_sqlite(&back).unwrap();
        assert!(again.consent("c1").unwrap().is_some());
        assert!(again.consent("c2").unwrap().is_none());
        assert_eq!(again.audit_head(WRITES).unwrap().0, 1);
        assert_eq!(again.audit_head(TRAIL).unwrap().0, 2);
        drop(again);
        // Not into a folder that holds anything.
        assert!(restore(newest, &k, &back)
            .unwrap_err()
            .contains("not empty"));
        // A changed file: verify and restore refuse, and restore leaves nothing behind.
        let f = newest.join("clins.sqlite.enc");
        read_only(newest, false);
        read_only(&f, false);
        let mut bytes = std::fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&f, bytes).unwrap();
        let e = verify(newest, &k).unwrap_err();
        assert!(e.contains("does not decrypt"), "{e}");
        let back2 = d.join("restored2");
        assert!(restore(newest, &k, &back2).is_err());
        assert!(!back2.join("clins.sqlite").exists());
        // The earlier generation is intact.
        verify(&made[1], &k).unwrap();
        drop(store);
        for g in generations(&to) {
            read_only(&g, false);
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
