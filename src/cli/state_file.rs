//! `--state FILE`: the window state on disk. The core makes and checks the bytes
//! (`Engine::snapshot` / `Engine::restore`); this writes them atomically (temp file in the
//! same directory, fsync, rename, fsync of the directory), so a crash mid-write leaves the
//! previous state, never half a file.

use crate::engine_host::{Backend, Fault, StateLoad};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Load FILE into a fresh engine. A damaged or incompatible state file is reported, moved
/// aside to `FILE.rejected` (it may still be wanted, e.g. after a config change is undone)
/// and the state starts empty. A file that is not a state file at all is an error: the end
/// of the run would overwrite it, and it may be a mistyped path to something precious.
///
/// `strict` (`--pull`): the file also holds the pull cursor, which must not be set aside (the
/// run would start again from `--since`): an incompatible file is refused instead.
pub(crate) fn load(path: &Path, engine: &mut Backend, strict: bool) -> Result<Vec<u8>, Fault> {
    let shown = path.display();
    // A state file is at most about the tables' size: a much bigger file is not one of ours
    // (and is not read into memory).
    let limit = engine.stats()?.state_bytes * 2 + (1 << 20);
    match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::info!("state: {shown} does not exist yet; starting with empty state");
            return Ok(Vec::new());
        }
        Ok(m) if m.len() == 0 => {
            tracing::warn!("state: {shown} is empty; starting with empty state");
            return Ok(Vec::new());
        }
        Ok(m) if m.len() > limit => {
            // Too big for these tables: a state of a bigger `memory_mb` (then moved aside
            // like any incompatible one), or not a state file at all (then refused).
            let mut head = [0u8; 8];
            let is_state = File::open(path)
                .and_then(|mut f| io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && &head == jcdetect::state::MAGIC;
            if !is_state {
                return Err(Fault::Usage(format!(
                    "--state {shown} exists and is not a jcdetect state file; refusing to \
                     overwrite it"
                )));
            }
            let why = format!(
                "{} bytes, more than the tables of this configuration can hold ([state] \
                 memory_mb was lowered?)",
                m.len()
            );
            if strict {
                return Err(refused(path, &why));
            }
            reject(path, &why);
            return Ok(Vec::new());
        }
        _ => {}
    }
    match fs::read(path) {
        Err(e) => Err(Fault::Usage(format!("cannot read --state {shown}: {e}"))),
        Ok(bytes) => match engine.restore(&bytes)? {
            StateLoad::NotAStateFile => Err(Fault::Usage(format!(
                "--state {shown} exists and is not a jcdetect state file; refusing to \
                 overwrite it"
            ))),
            StateLoad::Refused(e) if strict => Err(refused(path, &e)),
            StateLoad::Refused(e) => {
                reject(path, &e);
                Ok(Vec::new())
            }
            StateLoad::Loaded {
                keys,
                watermark,
                host,
            } => {
                tracing::info!(
                    "state: loaded {keys} keys from {shown} (stream time {})",
                    watermark
                        .map(jcdetect::decode::time::to_rfc3339)
                        .unwrap_or_else(|| "unknown".into())
                );
                Ok(host)
            }
        },
    }
}

/// A state file `--pull` cannot use: said, and left where it is.
fn refused(path: &Path, why: &str) -> Fault {
    Fault::Usage(format!(
        "--state {}: {why}; with --pull it also holds the API cursor, so it is not set aside: \
         restore the configuration it was written with, or move it away to start again from \
         --since",
        path.display()
    ))
}

/// Hold `FILE.lock` for the whole run: a second jcdetect on the same state would overwrite
/// this one's (and, with `--pull`, deliver the same events). Released when the process ends.
pub(crate) fn lock(path: &Path) -> Result<Option<File>, String> {
    #[cfg(target_os = "linux")]
    {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock_path = path.with_file_name(name);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        use rustix::fs::{flock, FlockOperation};
        flock(&file, FlockOperation::NonBlockingLockExclusive).map_err(|_| {
            format!(
                "--state {} is in use by another jcdetect ({} is locked)",
                path.display(),
                lock_path.display()
            )
        })?;
        Ok(Some(file))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Ok(None)
    }
}

/// Report a refused state file and move it aside to `FILE.rejected`.
fn reject(path: &Path, why: &str) {
    // Built as an OS string: a non-UTF-8 name keeps its bytes.
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".rejected");
    let aside = path.with_file_name(name);
    let moved = fs::rename(path, &aside)
        .map(|()| format!("moved to {}", aside.display()))
        .unwrap_or_else(|e| format!("could not be moved aside: {e}"));
    tracing::warn!(
        "state: {}: {why}; {moved}; starting with empty state",
        path.display()
    );
}

/// Save the engine's state (or `jcdetect pull`'s cursor) to FILE, atomically.
pub(crate) fn save(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    // A name nobody can have planted (pid and clock), created exclusively: an existing file
    // or symlink there is never written through.
    let (tmp, mut file) = {
        let mut tries = 0;
        loop {
            let nonce = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let tmp = dir.join(format!(
                ".{}.{}.{nonce:x}.tmp",
                name.as_deref().unwrap_or("jcdetect-state"),
                std::process::id()
            ));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 16 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    };
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename itself must reach the disk too.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
