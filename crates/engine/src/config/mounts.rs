//! Mounts: berth's defaults, the generated /etc files, the container markers, then the user's (`-v`, `--mount`,
//! `--tmpfs`, `--volumes-from`, the image's VOLUMEs). A user mount on a default's
//! destination (say `/dev/shm`) replaces that default, as in docker. A volume is a bind of
//! its `_data`.

use super::Inputs;
use crate::options::UserMount;
use crate::volumes::data_path;
use berth_image::store::MountPoint;
use serde_json::{json, Value};
use std::path::Path;

fn bind(source: &str, destination: &str, options: &[&str]) -> Value {
    json!({"destination": destination, "type": "bind", "source": source, "options": options})
}

fn user_mount(m: &UserMount, volumes: &Path) -> Value {
    match m {
        UserMount::Bind {
            source,
            destination,
            read_only,
            top_only,
            non_recursive,
            propagation,
        } => {
            let kind = if *non_recursive { "bind" } else { "rbind" };
            let mut options = vec![kind, propagation.as_deref().unwrap_or("rprivate")];
            // `rro` (mount_setattr with AT_RECURSIVE) reaches the mounts below the source.
            match (read_only, top_only) {
                (true, false) => options.extend(["ro", "rro"]),
                (true, true) => options.push("ro"),
                (false, _) => {}
            }
            bind(&source.display().to_string(), destination, &options)
        }
        UserMount::Tmpfs {
            destination,
            options,
        } => json!({"destination": destination, "type": "tmpfs", "source": "tmpfs",
                    "options": options}),
        UserMount::Volume {
            name,
            destination,
            read_only,
            ..
        } => {
            let mut options = vec!["rbind", "rprivate"];
            if *read_only {
                options.extend(["ro", "rro"]);
            }
            let source = data_path(volumes, name);
            bind(&source.display().to_string(), destination, &options)
        }
    }
}

/// The mount points of the mounts berth gives every container in `config` (not the user's
/// `-v`/`--mount`/`--tmpfs`, nor those inside another mount, such as `/dev/pts`): what the
/// image store makes once per image instead of in each container's changes. berth's own bind
/// mounts are all of files; a CDI device's may bind a directory.
pub(crate) fn stubbed(config: &Value, user: &[UserMount]) -> Vec<MountPoint> {
    let mounts = config["mounts"].as_array().map_or(&[][..], Vec::as_slice);
    let dests: Vec<&str> = mounts
        .iter()
        .filter_map(|m| m["destination"].as_str())
        .collect();
    mounts
        .iter()
        .filter_map(|m| {
            let dest = m["destination"].as_str()?;
            let inside = |d: &&str| dest.strip_prefix(*d).is_some_and(|r| r.starts_with('/'));
            if user.iter().any(|u| u.destination() == dest) || dests.iter().any(inside) {
                return None;
            }
            let dir = m["type"] != "bind"
                || m["source"]
                    .as_str()
                    .is_some_and(|s| std::path::Path::new(s).is_dir());
            MountPoint::new(dest, dir)
        })
        .collect()
}

pub(super) fn apply(v: &mut Value, i: &Inputs<'_>) {
    let mut mounts: Vec<Value> = v["mounts"].as_array().cloned().unwrap_or_default();
    let user = &i.settings.mounts;
    mounts.retain(|m| !user.iter().any(|u| m["destination"] == u.destination()));
    for name in i.etc.names() {
        let dest = format!("/etc/{name}");
        if !user.iter().any(|u| u.destination() == dest) {
            let source = i.etc.source(i.dir, name).display().to_string();
            mounts.push(bind(&source, &dest, &["rbind", "rprivate"]));
        }
    }
    for (file, dest) in super::markers::MARKERS {
        let source = super::markers::source(file, i.settings.privileged, i.dir, i.shared);
        let source = source.display().to_string();
        mounts.push(bind(&source, dest, &["rbind", "rprivate", "ro"]));
    }
    mounts.extend(user.iter().map(|m| user_mount(m, i.volumes)));
    if i.settings.init {
        let source = i.shared.join(super::init::FILE).display().to_string();
        mounts.push(bind(
            &source,
            super::init::PATH,
            &["rbind", "rprivate", "ro"],
        ));
    }
    v["mounts"] = Value::Array(mounts);
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use crate::options::RunOptions;
    use serde_json::json;

    #[test]
    fn only_berths_own_top_mounts_are_stubbed() {
        let o = RunOptions {
            volumes: vec!["db:/db".into(), "/tmp:/etc/hosts".into()],
            ..Default::default()
        };
        let settings = o.check(&|_| None).unwrap();
        let v = config(o);
        let stubs: Vec<String> = super::stubbed(&v, &settings.mounts)
            .into_iter()
            .map(|m| format!("{}{}", m.path, if m.dir { "/" } else { "" }))
            .collect();
        for want in [
            "proc/",
            "dev/",
            "sys/",
            "etc/hostname",
            ".dockerenv",
            "run/.containerenv",
        ] {
            assert!(stubs.iter().any(|s| s == want), "{want} in {stubs:?}");
        }
        for not in ["db/", "etc/hosts", "dev/pts/", "sys/fs/cgroup/", "dev/shm/"] {
            assert!(!stubs.iter().any(|s| s == not), "{not} in {stubs:?}");
        }
    }

    #[test]
    fn etc_files_volumes_and_tmpfs() {
        let tmp = tempfile::tempdir().unwrap();
        let host = std::fs::canonicalize(tmp.path())
            .unwrap()
            .display()
            .to_string();
        let v = config(RunOptions {
            volumes: vec![
                format!("{host}:/data:ro"),
                format!("{host}:/etc/hosts"),
                "db:/db:ro".into(),
            ],
            mounts: vec![format!(
                "type=bind,src={host},dst=/flat,bind-recursive=disabled"
            )],
            tmpfs: vec!["/dev/shm:size=1m".into()],
            ..Default::default()
        });
        let m = v["mounts"].as_array().unwrap();
        let find = |d: &str| {
            m.iter()
                .filter(|x| x["destination"] == d)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            find("/etc/hostname")[0],
            &json!({"destination": "/etc/hostname", "type": "bind", "source": "/c/hostname",
                    "options": ["rbind", "rprivate"]})
        );
        assert_eq!(
            find("/data")[0]["options"],
            json!(["rbind", "rprivate", "ro", "rro"])
        );
        assert_eq!(
            find("/db")[0],
            &json!({"destination": "/db", "type": "bind", "source": "/v/db/_data",
                    "options": ["rbind", "rprivate", "ro", "rro"]})
        );
        assert_eq!(find("/flat")[0]["options"], json!(["bind", "rprivate"]));
        assert_eq!(find("/etc/hosts").len(), 1);
        assert_eq!(find("/etc/hosts")[0]["source"], json!(host));
        let shm = find("/dev/shm");
        assert_eq!(shm.len(), 1);
        assert_eq!(shm[0]["type"], json!("tmpfs"));
        assert!(shm[0]["options"]
            .as_array()
            .unwrap()
            .contains(&json!("size=1m")));
    }
}
