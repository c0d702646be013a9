//! `-v`, `--mount`, `--tmpfs` and `--volumes-from` with docker's syntax, and how they and an
//! image's VOLUMEs make a container's mounts: binds of host paths that exist, volumes whose
//! names follow docker's rule, tmpfs; container paths absolute and without `..`.

use super::values::size;
use super::{bad, OptionsError, UserMount};
use crate::volumes::{self, VolumeError, VolumeSpec};
use std::path::{Component, Path};

const PROPAGATIONS: [&str; 6] = [
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

/// What every tmpfs starts with, as docker's.
const TMPFS_DEFAULTS: [&str; 4] = ["rw", "nosuid", "nodev", "noexec"];

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

/// A bind's source: an absolute host path that exists, with its links resolved.
fn host_path(
    flag: &'static str,
    value: &str,
    src: &str,
) -> Result<std::path::PathBuf, OptionsError> {
    if !src.starts_with('/') {
        return Err(bad(
            flag,
            value,
            format!("host path {src:?} is not absolute"),
        ));
    }
    std::fs::canonicalize(src).map_err(|e| bad(flag, value, format!("host path {src}: {e}")))
}

/// A volume mount; `name` empty for an anonymous volume.
fn volume_mount(
    flag: &'static str,
    value: &str,
    name: &str,
    destination: String,
    (read_only, no_copy): (bool, bool),
    spec: VolumeSpec,
) -> Result<UserMount, OptionsError> {
    if !name.is_empty() && !volumes::valid_name(name) {
        return Err(bad(
            flag,
            value,
            VolumeError::BadName(name.into()).to_string(),
        ));
    }
    volumes::local::check_options(&spec.options).map_err(|e| bad(flag, value, e.to_string()))?;
    Ok(UserMount::Volume {
        name: name.to_string(),
        destination,
        read_only,
        anonymous: name.is_empty(),
        no_copy,
        spec,
    })
}

/// `-v [SOURCE:]CONTAINER[:OPTIONS]`. SOURCE is an absolute host path (a bind) or a volume's
/// name (made on first use); without it the container gets an anonymous volume. OPTIONS is
/// a comma-separated list of `ro`/`rw` and `z`/`Z`, for binds `ro-non-recursive` and a
/// propagation, for volumes `nocopy`.
pub(super) fn volume(v: &str) -> Result<UserMount, OptionsError> {
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts[..] {
        [d] => ("", d, ""),
        [s, d] if !s.is_empty() => (s, d, ""),
        [s, d, m] if !s.is_empty() => (s, d, m),
        _ => return Err(bad("--volume", v, "want [SOURCE:]CONTAINER[:OPTIONS]")),
    };
    let bind = src.starts_with('/');
    let (mut read_only, mut top_only, mut propagation, mut no_copy) = (false, false, None, false);
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "rw" => read_only = false,
            "ro" => read_only = true,
            // SELinux relabelling: berth gives containers no SELinux label, so there is
            // nothing to relabel for (docker skips it too where SELinux is off).
            "z" | "Z" => {}
            "ro-non-recursive" if bind => (read_only, top_only) = (true, true),
            _ if bind && PROPAGATIONS.contains(&o) => propagation = Some(o.to_string()),
            "nocopy" if !bind => no_copy = true,
            _ => {
                let (what, known) = match bind {
                    true => (
                        "bind mount",
                        "ro, rw, ro-non-recursive, z, Z, [r]shared, [r]slave, [r]private",
                    ),
                    false => ("volume", "ro, rw, nocopy, z, Z"),
                };
                return Err(bad(
                    "--volume",
                    v,
                    format!("unknown option {o:?} for a {what} ({known})"),
                ));
            }
        }
    }
    let destination = container_path("--volume", v, dst)?;
    if !bind {
        let spec = VolumeSpec::default();
        return volume_mount("--volume", v, src, destination, (read_only, no_copy), spec);
    }
    Ok(UserMount::Bind {
        source: host_path("--volume", v, src)?,
        destination,
        read_only,
        top_only,
        non_recursive: false,
        propagation,
    })
}

/// The fields of a `--mount` value.
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    source: Option<String>,
    target: Option<String>,
    read_only: bool,
    propagation: Option<String>,
    recursive: Option<String>,
    no_copy: bool,
    volume: VolumeSpec,
    driver: Option<String>,
    tmpfs: Vec<String>,
    /// The families of type-specific keys given: `bind`, `volume`, `tmpfs`.
    families: Vec<&'static str>,
}

/// Go's `strconv.ParseBool`, and a key alone is true.
fn flag(field: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(_) => Err(format!("field {field:?}: want true or false")),
    }
}

/// The fields of a line of comma-separated values as Go's `encoding/csv` reads it (docker
/// reads `--mount` so): a field in double quotes may hold commas, and `""` in it is a quote.
fn csv(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field does not end".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                match c {
                    ',' => break,
                    '"' => return Err("a quote inside a field that is not quoted".into()),
                    _ => field.push(c),
                }
                chars.next();
            }
        }
        out.push(field);
        match chars.next() {
            None => return Ok(out),
            Some(',') => {}
            Some(c) => return Err(format!("{c:?} after a quoted field")),
        }
    }
}

fn fields(spec: &str) -> Result<Fields, String> {
    let mut f = Fields::default();
    for field in csv(spec)? {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let need = || {
            value
                .map(String::from)
                .ok_or_else(|| format!("field {field:?} must be a key=value pair"))
        };
        let one_of = |known: &[&str]| match value {
            Some(v) if known.contains(&v) => Ok(Some(v.to_string())),
            _ => Err(format!("field {field:?}: want one of {}", known.join(", "))),
        };
        match key.as_str() {
            "type" => f.kind = Some(need()?),
            "source" | "src" => f.source = Some(need()?),
            "target" | "destination" | "dst" => f.target = Some(need()?),
            "readonly" | "ro" => f.read_only = flag(&field, value)?,
            // macOS's file sharing modes: nothing on Linux, as in docker.
            "consistency" => {
                need()?;
            }
            "bind-propagation" => f.propagation = one_of(&PROPAGATIONS)?,
            "bind-recursive" => {
                f.recursive = one_of(&["enabled", "disabled", "writable", "readonly"])?
            }
            "volume-nocopy" => f.no_copy = flag(&field, value)?,
            "volume-opt" | "volume-label" => {
                let v = need()?;
                let (k, val) = v.split_once('=').unwrap_or((&v, ""));
                let map = match key.as_str() {
                    "volume-opt" => &mut f.volume.options,
                    _ => &mut f.volume.labels,
                };
                map.insert(k.to_string(), val.to_string());
            }
            "volume-driver" => f.driver = Some(need()?),
            "tmpfs-size" => {
                let bytes = size("tmpfs-size", &need()?)
                    .ok()
                    .filter(|b| *b >= 1)
                    .ok_or_else(|| format!("field {field:?}: want a size such as 64m"))?;
                f.tmpfs.push(format!("size={bytes}"));
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(&need()?, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| format!("field {field:?}: want an octal mode such as 1777"))?;
                f.tmpfs.push(format!("mode={mode:o}"));
            }
            _ => return Err(format!("unexpected key {key:?}")),
        }
        let family = ["bind", "volume", "tmpfs"]
            .into_iter()
            .find(|p| key.strip_prefix(p).is_some_and(|r| r.starts_with('-')));
        f.families.extend(family);
    }
    Ok(f)
}

/// `--mount` with docker's keys: `type` (`bind`, `volume` (the default) or `tmpfs`),
/// `source`/`src`, `target`/`destination`/`dst`, `readonly`/`ro`, `bind-propagation`,
/// `bind-recursive`, `volume-nocopy`, `volume-opt`, `volume-label`, `volume-driver`,
/// `tmpfs-size`, `tmpfs-mode`; `consistency` is accepted, as docker does on Linux.
pub(super) fn mount(spec: &str) -> Result<UserMount, OptionsError> {
    let err = |reason: String| bad("--mount", spec, reason);
    let f = fields(spec).map_err(err)?;
    let kind = f.kind.as_deref().unwrap_or("volume");
    if !["bind", "volume", "tmpfs"].contains(&kind) {
        return Err(err(format!(
            "unknown mount type {kind:?} (bind, volume, tmpfs)"
        )));
    }
    if let Some(family) = f.families.iter().find(|x| **x != kind) {
        return Err(err(format!(
            "cannot mix '{family}-*' options with mount type '{kind}'"
        )));
    }
    let target = f
        .target
        .as_deref()
        .ok_or_else(|| err("target is required".into()))?;
    let destination = container_path("--mount", spec, target)?;
    let source = f.source.as_deref().unwrap_or_default();
    match kind {
        "bind" => {
            if source.is_empty() {
                return Err(err("source is required for a bind mount".into()));
            }
            let (top_only, non_recursive) = match f.recursive.as_deref() {
                Some("disabled") => (false, true),
                // Writable below: only the top mount is read-only.
                Some("writable") => (true, false),
                Some("readonly") if !f.read_only => {
                    return Err(err("bind-recursive=readonly needs readonly".into()))
                }
                _ => (false, false),
            };
            Ok(UserMount::Bind {
                source: host_path("--mount", spec, source)?,
                destination,
                read_only: f.read_only,
                top_only,
                non_recursive,
                propagation: f.propagation,
            })
        }
        "tmpfs" => {
            if !source.is_empty() {
                return Err(err("source is not allowed for a tmpfs mount".into()));
            }
            let mut options: Vec<String> = TMPFS_DEFAULTS.map(String::from).into();
            options.extend(f.tmpfs);
            if f.read_only {
                options.push("ro".into());
            }
            Ok(UserMount::Tmpfs {
                destination,
                options,
            })
        }
        _ => {
            if let Some(d) = f.driver.filter(|d| d != volumes::DRIVER) {
                return Err(err(VolumeError::Driver(d).to_string()));
            }
            let flags = (f.read_only, f.no_copy);
            volume_mount("--mount", spec, source, destination, flags, f.volume)
        }
    }
}

pub(super) fn tmpfs(t: &str) -> Result<UserMount, OptionsError> {
    let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
    let mut options: Vec<String> = TMPFS_DEFAULTS.map(String::from).into();
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

/// `--volumes-from CONTAINER[:ro|rw]`: the container, and whether its mounts become
/// read-only (`rw`, the default, keeps each one's own mode).
pub(crate) fn volumes_from(v: &str) -> Result<(&str, bool), OptionsError> {
    match v.split_once(':') {
        None if !v.is_empty() => Ok((v, false)),
        Some((c, "ro")) if !c.is_empty() => Ok((c, true)),
        Some((c, "rw")) if !c.is_empty() => Ok((c, false)),
        _ => Err(bad("--volumes-from", v, "want CONTAINER[:ro|rw]")),
    }
}

/// A container's mounts: the flags' own; then those of `--volumes-from` containers at
/// destinations the flags leave free; then an anonymous volume for each of the image's
/// VOLUMEs that nothing mounts. A mount comes after the ones it lies inside.
pub fn complete(
    flags: Vec<UserMount>,
    inherited: Vec<UserMount>,
    image_volumes: &[String],
) -> Result<Vec<UserMount>, OptionsError> {
    let mut mounts = flags;
    for m in inherited {
        if !mounts.iter().any(|o| o.destination() == m.destination()) {
            mounts.push(m);
        }
    }
    for v in image_volumes {
        let destination = container_path("the image's VOLUME", v, v)?;
        if !mounts.iter().any(|o| o.destination() == destination) {
            mounts.push(UserMount::Volume {
                name: String::new(),
                destination,
                read_only: false,
                anonymous: true,
                no_copy: false,
                spec: VolumeSpec::default(),
            });
        }
    }
    mounts.sort_by_key(|m| Path::new(m.destination()).components().count());
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str, destination: &str, read_only: bool, no_copy: bool) -> UserMount {
        UserMount::Volume {
            name: name.into(),
            destination: destination.into(),
            read_only,
            anonymous: name.is_empty(),
            no_copy,
            spec: VolumeSpec::default(),
        }
    }

    fn err(r: Result<UserMount, OptionsError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn dash_v_binds_volumes_and_anonymous_volumes() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().display().to_string();
        let canonical = std::fs::canonicalize(tmp.path()).unwrap();
        let m = volume(&format!("{host}:/data:ro")).unwrap();
        assert_eq!(
            m,
            UserMount::Bind {
                source: canonical.clone(),
                destination: "/data".into(),
                read_only: true,
                top_only: false,
                non_recursive: false,
                propagation: None,
            }
        );
        let m = volume(&format!("{host}:/data:ro-non-recursive,Z,rslave")).unwrap();
        assert!(matches!(
            m,
            UserMount::Bind { read_only: true, top_only: true, propagation: Some(p), .. } if p == "rslave"
        ));
        assert_eq!(
            volume("db:/var/lib/db").unwrap(),
            vol("db", "/var/lib/db", false, false)
        );
        assert_eq!(
            volume("db:/d/:ro,nocopy,z").unwrap(),
            vol("db", "/d", true, true)
        );
        assert_eq!(volume("/cache").unwrap(), vol("", "/cache", false, false));
        for b in [
            format!("{host}/missing:/d"),
            format!("{host}:relative"),
            format!("{host}:/a/../b"),
            format!("{host}:/"),
            format!("{host}:/d:zz"),
            format!("{host}:/d:nocopy"),
            "db:/d:rshared".to_string(),
            "db:/d:ro-non-recursive".to_string(),
            "a/b:/d".to_string(),
            "x:/d".to_string(),
            ":/d".to_string(),
            "db:/d:ro:x".to_string(),
            "relative".to_string(),
            "/d:ro".to_string(),
        ] {
            let e = err(volume(&b));
            assert!(e.starts_with("--volume "), "{b}: {e}");
        }
        assert!(err(volume("a/b:/d")).contains("absolute path"));
    }

    #[test]
    fn csv_as_gos() {
        assert_eq!(csv("a=1,b=2").unwrap(), ["a=1", "b=2"]);
        assert_eq!(
            csv(r#"type=volume,"volume-opt=o=size=1m,uid=1",dst=/x"#).unwrap(),
            ["type=volume", "volume-opt=o=size=1m,uid=1", "dst=/x"]
        );
        assert_eq!(csv(r#""say ""hi""",,"#).unwrap(), [r#"say "hi""#, "", ""]);
        for b in [r#""open"#, r#"a"b"#, r#""q"x"#] {
            assert!(csv(b).is_err(), "{b}");
        }
    }

    #[test]
    fn dash_dash_mount_as_dockers() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().display().to_string();
        let m = mount(&format!(
            "type=bind,src={host},dst=/h,readonly,bind-propagation=rshared,bind-recursive=writable"
        ))
        .unwrap();
        assert!(matches!(
            m,
            UserMount::Bind { read_only: true, top_only: true, non_recursive: false, propagation: Some(p), .. }
                if p == "rshared"
        ));
        let m = mount(&format!(
            "type=bind,source={host},target=/h,bind-recursive=disabled"
        ))
        .unwrap();
        assert!(matches!(
            m,
            UserMount::Bind {
                read_only: false,
                non_recursive: true,
                ..
            }
        ));
        assert_eq!(
            mount("target=/v,ro=true,volume-nocopy").unwrap(),
            vol("", "/v", true, true)
        );
        let m = mount(
            r#"type=volume,src=fast,dst=/v,volume-driver=local,volume-label=tier=1,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=1m,mode=700",consistency=cached"#,
        )
        .unwrap();
        let UserMount::Volume {
            name,
            spec,
            read_only: false,
            anonymous: false,
            ..
        } = m
        else {
            panic!("{m:?}");
        };
        assert_eq!(name, "fast");
        assert_eq!(spec.labels["tier"], "1");
        assert_eq!(spec.options["o"], "size=1m,mode=700");
        assert_eq!(
            mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770,readonly").unwrap(),
            UserMount::Tmpfs {
                destination: "/t".into(),
                options: [
                    "rw",
                    "nosuid",
                    "nodev",
                    "noexec",
                    "size=67108864",
                    "mode=1770",
                    "ro"
                ]
                .map(String::from)
                .into()
            }
        );
        for (b, why) in [
            ("type=bind,dst=/x".to_string(), "source is required"),
            (format!("type=bind,src={host}"), "target is required"),
            (
                format!("type=bind,src={host},dst=/x,color=red"),
                "unexpected key",
            ),
            (
                format!("type=bind,src={host},dst=/x,volume-opt=a=b"),
                "cannot mix 'volume-*'",
            ),
            (
                "type=volume,dst=/x,bind-propagation=shared".into(),
                "cannot mix 'bind-*'",
            ),
            (
                "type=volume,dst=/x,tmpfs-size=1m".into(),
                "cannot mix 'tmpfs-*'",
            ),
            ("type=tmpfs,src=x,dst=/x".into(), "source is not allowed"),
            ("type=nfs,dst=/x".into(), "unknown mount type"),
            ("dst=/x,volume-driver=flocker".into(), "only local"),
            ("dst=/x,volume-opt=size=1g".into(), "\"size\""),
            ("src=a/b,dst=/x".into(), "invalid volume name"),
            (
                format!("type=bind,src={host},dst=/x,bind-recursive=readonly"),
                "needs readonly",
            ),
            (
                format!("type=bind,src={host},dst=/x,bind-propagation=up"),
                "want one of",
            ),
            ("type=tmpfs,dst=/x,tmpfs-mode=9".into(), "octal"),
            ("type=tmpfs,dst=/x,tmpfs-size=lots".into(), "size"),
            ("dst=/x,readonly=maybe".into(), "true or false"),
            ("dst".into(), "key=value"),
            ("type=bind,src=rel,dst=/x".into(), "not absolute"),
            ("dst=relative".into(), "not absolute"),
        ] {
            let e = err(mount(&b));
            assert!(e.starts_with("--mount ") && e.contains(why), "{b}: {e}");
        }
    }

    #[test]
    fn flags_volumes_from_and_image_volumes_complete_each_other() {
        assert_eq!(volumes_from("db:ro").unwrap(), ("db", true));
        assert_eq!(volumes_from("db").unwrap(), ("db", false));
        for b in ["", ":ro", "db:rx", "db:ro:x"] {
            assert!(volumes_from(b).is_err(), "{b}");
        }
        let flags = vec![
            vol("cache", "/data/cache", false, false),
            tmpfs("/run").unwrap(),
        ];
        let inherited = vec![
            vol("other", "/run", true, false),
            vol("logs", "/logs", true, false),
        ];
        let image = [
            "/data/".to_string(),
            "/run".to_string(),
            "/logs".to_string(),
        ];
        let all = complete(flags, inherited, &image).unwrap();
        let shown: Vec<(&str, Option<&str>)> =
            all.iter().map(|m| (m.destination(), m.volume())).collect();
        assert_eq!(
            shown,
            [
                ("/run", None),
                ("/logs", Some("logs")),
                ("/data", Some("")),
                ("/data/cache", Some("cache"))
            ]
        );
        assert!(complete(vec![], vec![], &["rel".into()]).is_err());
    }

    #[test]
    fn tmpfs_options() {
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
