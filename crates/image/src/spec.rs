//! The image config turned into what a container needs: the process, its identity and
//! the image's metadata. The engine builds its OCI runtime config from this.

use std::collections::BTreeMap;

use oci_spec::image::ImageConfiguration;

use crate::store::{Image, Store};

/// Errors from resolving the image's user.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A user or group name the image's /etc/passwd or /etc/group does not have.
    #[error("image {image}: {kind} {name:?} not found in the image's {file}")]
    UnknownName {
        /// The image.
        image: String,
        /// "user" or "group".
        kind: &'static str,
        /// The name.
        name: String,
        /// /etc/passwd or /etc/group.
        file: &'static str,
    },
    /// A user or group id that cannot be a container's.
    #[error("image {image}: {kind} id {id:?}: not an id from 0 to 2147483647")]
    BadId {
        /// The image.
        image: String,
        /// "user" or "group".
        kind: &'static str,
        /// The id as given or as the image's files have it.
        id: String,
    },
    /// Nothing to run.
    #[error("image {0}: no command: the image has no Entrypoint or Cmd and none was given")]
    NoCommand(String),
}

/// Values given on the command line that replace the image's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces Entrypoint (an empty vector clears it).
    pub entrypoint: Option<Vec<String>>,
    /// Replaces Cmd.
    pub cmd: Option<Vec<String>>,
    /// Added to (and overriding) the image's Env.
    pub env: Vec<String>,
    /// Replaces User.
    pub user: Option<String>,
    /// Replaces WorkingDir.
    pub workdir: Option<String>,
}

/// User and groups, numeric.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Identity {
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary gids (from /etc/group membership).
    pub additional_gids: Vec<u32>,
    /// Home directory from /etc/passwd, if the user is listed there.
    pub home: Option<String>,
}

/// What a container built from an image runs and carries.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ContainerSpec {
    /// argv: Entrypoint followed by Cmd.
    pub args: Vec<String>,
    /// Environment, `KEY=value`; PATH and HOME are filled in when missing.
    pub env: Vec<String>,
    /// Working directory (absolute).
    pub cwd: String,
    /// The process identity.
    pub user: Identity,
    /// Ports the image says it listens on, e.g. `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// Paths the image wants as volumes.
    pub volumes: Vec<String>,
    /// Signal to stop the container with (e.g. `SIGTERM`), if the image sets one.
    pub stop_signal: Option<String>,
    /// Image labels.
    pub labels: BTreeMap<String, String>,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the spec. `read_file` returns a file of the image (used for /etc/passwd and
/// /etc/group); `image` names the image in errors.
pub fn container_spec(
    config: &ImageConfiguration,
    overrides: &Overrides,
    read_file: &dyn Fn(&str) -> Option<Vec<u8>>,
    image: &str,
) -> Result<ContainerSpec, SpecError> {
    let c = config.config().clone().unwrap_or_default();
    let entrypoint = overrides
        .entrypoint
        .clone()
        .or_else(|| c.entrypoint().clone())
        .unwrap_or_default();
    // A new entrypoint drops the image's Cmd, as docker run --entrypoint does.
    let cmd = match (&overrides.cmd, &overrides.entrypoint) {
        (Some(cmd), _) => cmd.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => c.cmd().clone().unwrap_or_default(),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand(image.to_string()));
    }
    let user_spec = overrides
        .user
        .clone()
        .or_else(|| c.user().clone())
        .unwrap_or_default();
    let user = resolve_user(&user_spec, read_file, image)?;
    let mut env = merge_env(c.env().clone().unwrap_or_default(), &overrides.env);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!(
            "HOME={}",
            user.home.clone().unwrap_or_else(|| "/".to_string())
        ));
    }
    let cwd = overrides
        .workdir
        .clone()
        .or_else(|| c.working_dir().clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".to_string());
    Ok(ContainerSpec {
        args,
        env,
        cwd,
        user,
        exposed_ports: c.exposed_ports().clone().unwrap_or_default(),
        volumes: c.volumes().clone().unwrap_or_default(),
        stop_signal: c.stop_signal().clone(),
        labels: c.labels().clone().unwrap_or_default().into_iter().collect(),
    })
}

/// The image's Env with `extra` applied (same key replaces, new keys are appended).
pub fn merge_env(mut env: Vec<String>, extra: &[String]) -> Vec<String> {
    for e in extra {
        let key = e.split('=').next().unwrap_or(e);
        match env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            Some(slot) => *slot = e.clone(),
            None => env.push(e.clone()),
        }
    }
    env
}

/// The spec for `image` in `store`: users are resolved in the image's own files.
pub fn image_spec(
    store: &Store,
    image: &Image,
    overrides: &Overrides,
) -> Result<ContainerSpec, SpecError> {
    let read = |p: &str| store.read_image_file(image, p).ok().flatten();
    let name = image
        .names
        .first()
        .map(ToString::to_string)
        .unwrap_or_else(|| image.id.to_string());
    container_spec(&image.config, overrides, &read, &name)
}

/// Resolves `user[:group]` (names or numbers) against the image's passwd and group files.
pub fn resolve_user(
    spec: &str,
    read_file: &dyn Fn(&str) -> Option<Vec<u8>>,
    image: &str,
) -> Result<Identity, SpecError> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let passwd = read_file("/etc/passwd")
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let groups = read_file("/etc/group")
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let bad_id = |kind, id: &str| SpecError::BadId {
        image: image.to_string(),
        kind,
        id: id.to_string(),
    };
    // -1 (4294967295) means "unchanged" to setresuid and would leave the process root: ids
    // stop at 2^31-1, as podman's do; a malformed id in the image's files is no id either.
    let id = |kind, s: &str| {
        s.parse::<u32>()
            .ok()
            .filter(|&n| n <= i32::MAX as u32)
            .ok_or_else(|| bad_id(kind, s))
    };
    let numeric = !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit());
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == user || (numeric && f[2] == user)));
    let unknown = |kind, name: &str, file| SpecError::UnknownName {
        image: image.to_string(),
        kind,
        name: name.to_string(),
        file,
    };
    let (uid, mut gid, name, home) = match &entry {
        Some(f) => (
            id("user", f[2])?,
            id("group", f[3])?,
            Some(f[0].to_string()),
            f.get(5).map(|h| h.to_string()),
        ),
        None if numeric || user.starts_with('-') => (id("user", user)?, 0, None, None),
        None => return Err(unknown("user", user, "/etc/passwd")),
    };
    let group_lines: Vec<Vec<&str>> = groups
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 3)
        .collect();
    if let Some(g) = group {
        gid = if g.bytes().all(|b| b.is_ascii_digit()) || g.starts_with('-') {
            id("group", g)?
        } else {
            let f = group_lines
                .iter()
                .find(|f| f[0] == g)
                .ok_or_else(|| unknown("group", g, "/etc/group"))?;
            id("group", f[2])?
        };
    }
    // The primary group is a supplementary group too, as in docker; the image's memberships
    // only when the group was not forced.
    let mut additional_gids = vec![gid];
    if let (Some(n), None) = (&name, group) {
        for f in &group_lines {
            let members = f.get(3).copied().unwrap_or("");
            if members.split(',').any(|m| m == n) {
                let g = id("group", f[2])?;
                if !additional_gids.contains(&g) {
                    additional_gids.push(g);
                }
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// `--group-add` entries, group names of the image's /etc/group or ids, as gids.
pub fn resolve_groups(
    list: &[String],
    read_file: &dyn Fn(&str) -> Option<Vec<u8>>,
    image: &str,
) -> Result<Vec<u32>, SpecError> {
    let groups = read_file("/etc/group")
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    list.iter()
        .map(|g| {
            let text = match g.bytes().all(|b| b.is_ascii_digit()) {
                true => g.as_str(),
                false => groups
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() >= 3 && f[0] == g)
                    .map(|f| f[2])
                    .ok_or_else(|| SpecError::UnknownName {
                        image: image.to_string(),
                        kind: "group",
                        name: g.clone(),
                        file: "/etc/group",
                    })?,
            };
            text.parse::<u32>()
                .ok()
                .filter(|&n| n <= i32::MAX as u32)
                .ok_or_else(|| SpecError::BadId {
                    image: image.to_string(),
                    kind: "group",
                    id: text.to_string(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(path: &str) -> Option<Vec<u8>> {
        match path {
            "/etc/passwd" => {
                Some(b"root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n".to_vec())
            }
            "/etc/group" => {
                Some(b"root:x:0:\nwww:x:33:\nadm:x:4:www,root\nstaff:x:50:www\n".to_vec())
            }
            _ => None,
        }
    }

    #[test]
    fn resolves_users_and_groups() {
        let r = |s| resolve_user(s, &files, "img");
        assert_eq!(
            r("").unwrap(),
            Identity {
                uid: 0,
                gid: 0,
                additional_gids: vec![0, 4],
                home: Some("/root".into())
            }
        );
        let www = r("www").unwrap();
        assert_eq!(
            (www.uid, www.gid, www.additional_gids.clone()),
            (33, 33, vec![33, 4, 50])
        );
        assert_eq!(r("33").unwrap().uid, 33);
        assert_eq!(r("www:adm").unwrap().gid, 4);
        assert_eq!(
            r("1234:99").unwrap(),
            Identity {
                uid: 1234,
                gid: 99,
                additional_gids: vec![99],
                home: None
            }
        );
        assert!(r("nobody")
            .unwrap_err()
            .to_string()
            .contains("\"nobody\" not found in the image's /etc/passwd"));
        assert!(r("www:nogroup").is_err());
    }

    #[test]
    fn added_groups_by_name_or_id() {
        let g = |l: &[&str]| {
            let list: Vec<String> = l.iter().map(|s| s.to_string()).collect();
            resolve_groups(&list, &files, "img")
        };
        assert_eq!(g(&["adm", "7", "staff"]).unwrap(), [4, 7, 50]);
        assert!(g(&["nogroup"]).unwrap_err().to_string().contains("nogroup"));
        assert!(g(&["4294967295"]).is_err());
    }

    #[test]
    fn refuses_ids_that_are_no_container_ids() {
        let r = |s| resolve_user(s, &files, "img");
        assert_eq!(r("2147483647:2147483647").unwrap().uid, 2147483647);
        for bad in [
            "4294967295",
            "-1",
            "2147483648",
            "0:4294967295",
            "www:-1",
            "99999999999",
        ] {
            let e = r(bad).unwrap_err().to_string();
            assert!(e.contains("not an id from 0 to 2147483647"), "{bad}: {e}");
        }
        // A hostile image's passwd: a malformed or huge id is not read as root.
        let hostile = |p: &str| match p {
            "/etc/passwd" => Some(
                b"evil:x:4294967295:0::/:/bin/sh
odd:x:abc:0::/:/bin/sh
"
                .to_vec(),
            ),
            _ => None,
        };
        for user in ["evil", "odd"] {
            assert!(resolve_user(user, &hostile, "img").is_err(), "{user}");
        }
    }

    #[test]
    fn builds_spec_from_config() {
        let cfg: ImageConfiguration = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
            "config":{"Entrypoint":["/ep"],"Cmd":["a"],"Env":["A=1","PATH=/bin"],"WorkingDir":"/w","User":"www",
            "ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"StopSignal":"SIGQUIT","Labels":{"k":"v"}}}"#,
        )
        .unwrap();
        let s = container_spec(&cfg, &Overrides::default(), &files, "img").unwrap();
        assert_eq!(s.args, ["/ep", "a"]);
        assert_eq!(s.env, ["A=1", "PATH=/bin", "HOME=/var/www"]);
        assert_eq!((s.cwd.as_str(), s.user.uid), ("/w", 33));
        assert_eq!(
            (s.exposed_ports, s.volumes),
            (vec!["80/tcp".to_string()], vec!["/data".to_string()])
        );
        assert_eq!(s.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(s.labels["k"], "v");
        let o = Overrides {
            entrypoint: Some(vec!["/x".into()]),
            env: vec!["A=2".into()],
            ..Default::default()
        };
        let s = container_spec(&cfg, &o, &files, "img").unwrap();
        assert_eq!((s.args, s.env[0].as_str()), (vec!["/x".to_string()], "A=2"));
    }
}
