//! `-v` and `--tmpfs`: host paths that exist, absolute container paths without `..`.

use super::{bad, OptionsError, UserMount};
use std::path::{Component, Path};

/// An absolute path inside the container without `..`.
fn container_path(flag: &'static str, value: &str, p: &str) -> Result<String, OptionsError> {
    let path = Path::new(p);
    if !path.is_absolute() {
        return Err(bad(
            flag,
            value,
            format!("container path {p:?} is not absolute"),
        ));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(bad(
            flag,
            value,
            format!("container path {p:?} contains '..'"),
        ));
    }
    if path == Path::new("/") {
        return Err(bad(flag, value, "cannot mount over the container's /"));
    }
    Ok(p.trim_end_matches('/').to_string())
}

/// `-v HOST:CONTAINER[:OPTIONS]`, OPTIONS a comma-separated list of `ro`/`rw`,
/// `ro-non-recursive`, `z`/`Z` and a propagation.
pub(super) fn volume(v: &str) -> Result<UserMount, OptionsError> {
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts[..] {
        [s, d] => (s, d, ""),
        [s, d, m] => (s, d, m),
        _ => return Err(bad("--volume", v, "want HOST:CONTAINER[:OPTIONS]")),
    };
    if !src.starts_with('/') {
        return Err(bad(
            "--volume",
            v,
            "named volumes are not supported yet: give an absolute host path",
        ));
    }
    let (mut read_only, mut top_only, mut propagation) = (false, false, None);
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "rw" => read_only = false,
            "ro" => read_only = true,
            "ro-non-recursive" => (read_only, top_only) = (true, true),
            // SELinux relabelling: berth gives containers no SELinux label, so there is
            // nothing to relabel for (docker skips it too where SELinux is off).
            "z" | "Z" => {}
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                propagation = Some(o.to_string())
            }
            _ => {
                return Err(bad(
                    "--volume",
                    v,
                    format!(
                        "unknown option {o:?} (ro, rw, ro-non-recursive, z, Z, [r]shared, \
                         [r]slave, [r]private)"
                    ),
                ))
            }
        }
    }
    let source = std::fs::canonicalize(src)
        .map_err(|e| bad("--volume", v, format!("host path {src}: {e}")))?;
    Ok(UserMount::Bind {
        source,
        destination: container_path("--volume", v, dst)?,
        read_only,
        top_only,
        propagation,
    })
}

pub(super) fn tmpfs(t: &str) -> Result<UserMount, OptionsError> {
    let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
    let mut options: Vec<String> = ["rw", "nosuid", "nodev", "noexec"].map(String::from).into();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let key = o.split('=').next().unwrap_or(o);
        let known = [
            "ro",
            "rw",
            "exec",
            "noexec",
            "suid",
            "nosuid",
            "dev",
            "nodev",
            "size",
            "mode",
            "uid",
            "gid",
            "nr_inodes",
            "nr_blocks",
            "atime",
            "noatime",
            "relatime",
            "strictatime",
        ];
        if !known.contains(&key) {
            return Err(bad("--tmpfs", t, format!("unknown option {o:?}")));
        }
        options.push(o.to_string());
    }
    Ok(UserMount::Tmpfs {
        destination: container_path("--tmpfs", t, dst)?,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_and_tmpfs() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().display().to_string();
        let m = volume(&format!("{host}:/data:ro")).unwrap();
        assert_eq!(
            m,
            UserMount::Bind {
                source: std::fs::canonicalize(tmp.path()).unwrap(),
                destination: "/data".into(),
                read_only: true,
                top_only: false,
                propagation: None,
            }
        );
        let m = volume(&format!("{host}:/data:ro-non-recursive,Z,rslave")).unwrap();
        assert!(matches!(
            m,
            UserMount::Bind { read_only: true, top_only: true, propagation: Some(p), .. } if p == "rslave"
        ));
        for b in [
            format!("{host}/missing:/d"),
            format!("{host}:relative"),
            format!("{host}:/a/../b"),
            format!("{host}:/"),
            format!("{host}:/d:zz"),
            "named:/d".to_string(),
            "/a".to_string(),
        ] {
            let e = volume(&b).unwrap_err().to_string();
            assert!(e.starts_with("--volume "), "{e}");
        }
        let t = tmpfs("/run:size=1m,exec").unwrap();
        assert_eq!(
            t,
            UserMount::Tmpfs {
                destination: "/run".into(),
                options: ["rw", "nosuid", "nodev", "noexec", "size=1m", "exec"]
                    .map(String::from)
                    .into()
            }
        );
        assert!(tmpfs("/run:bogus").is_err());
    }
}
