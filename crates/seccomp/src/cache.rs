//! The compile cache: one JSON file per distinct seccomp object, named by a SHA-256 of what
//! decides the program, written atomically (temp file + rename). The directory must belong
//! to the caller and not be writable by others: a cached program is installed as-is.

use crate::compile;
use crate::error::{Error, Result};
use crate::filter::Filter;
use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub(crate) fn compile_cached(seccomp: &LinuxSeccomp, dir: &Path) -> Result<Filter> {
    prepare_dir(dir)?;
    let path = dir.join(format!("{}.json", key(seccomp)?));
    if let Some(filter) = load(&path)? {
        return Ok(filter);
    }
    let filter = compile::compile(seccomp)?;
    store(&path, &filter)?;
    Ok(filter)
}

/// Bumped when the same object would compile differently (rules, prologue, entry format).
const FORMAT: u32 = 1;

/// SHA-256 over the format, crate and libseccomp versions, the architecture and the object.
pub(crate) fn key(seccomp: &LinuxSeccomp) -> Result<String> {
    let json = serde_json::to_vec(seccomp).map_err(|e| Error::Cache {
        path: PathBuf::new(),
        message: format!("serialize the seccomp object: {e}"),
    })?;
    let mut h = Sha256::new();
    h.update(format!(
        "berth-seccomp {} format {FORMAT}\nlibseccomp {}\narch {}\n",
        env!("CARGO_PKG_VERSION"),
        compile::libseccomp_version(),
        std::env::consts::ARCH
    ));
    h.update(&json);
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn prepare_dir(dir: &Path) -> Result<()> {
    let err = |message: String| Error::Cache {
        path: dir.to_path_buf(),
        message,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| err(format!("create: {e}")))?;
    let meta = fs::symlink_metadata(dir).map_err(|e| err(format!("stat: {e}")))?;
    trusted(&meta).map_err(err)
}

/// A cache entry (or its directory) must be ours and not writable by group or others.
fn trusted(meta: &fs::Metadata) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid {
        return Err(format!(
            "owned by uid {}, not {euid}: refusing to use it",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "mode {:o} is writable by others: refusing to use it",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The cached filter, or None when there is none. An unreadable or corrupt entry is a miss
/// (it is rewritten); an entry that is not trusted is an error.
fn load(path: &Path) -> Result<Option<Filter>> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    let meta = file.metadata().map_err(|e| Error::Cache {
        path: path.to_path_buf(),
        message: format!("stat: {e}"),
    })?;
    trusted(&meta).map_err(|message| Error::Cache {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(serde_json::from_reader(std::io::BufReader::new(file)).ok())
}

fn store(path: &Path, filter: &Filter) -> Result<()> {
    let err = |p: &Path, message: String| Error::Cache {
        path: p.to_path_buf(),
        message,
    };
    let json = serde_json::to_vec(filter).map_err(|e| err(path, format!("serialize: {e}")))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = path.with_extension(format!("{}.{nanos}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&json)?;
        f.sync_data()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        err(&tmp, format!("write: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn profile(default: &str) -> LinuxSeccomp {
        serde_json::from_str(&format!(
            r#"{{"defaultAction":"{default}","syscalls":[{{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn key_depends_on_the_object() {
        let a = key(&profile("SCMP_ACT_ALLOW")).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(a, key(&profile("SCMP_ACT_ALLOW")).unwrap());
        assert_ne!(a, key(&profile("SCMP_ACT_LOG")).unwrap());
    }

    #[test]
    fn miss_then_hit_then_corrupt_entry_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("seccomp");
        let p = profile("SCMP_ACT_ALLOW");
        let first = compile_cached(&p, &cache).unwrap();
        assert_eq!(fs::metadata(&cache).unwrap().mode() & 0o777, 0o700);
        let entry = cache.join(format!("{}.json", key(&p).unwrap()));
        assert!(entry.exists());
        assert_eq!(compile_cached(&p, &cache).unwrap(), first);
        fs::write(&entry, b"{not json").unwrap();
        assert_eq!(compile_cached(&p, &cache).unwrap(), first);
        let entries = fs::read_dir(&cache).unwrap().count();
        assert_eq!(entries, 1, "no temp files left behind");
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = compile_cached(&profile("SCMP_ACT_ALLOW"), dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("writable by others"), "{err}");
    }
}
