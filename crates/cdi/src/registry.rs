//! The spec files of the CDI directories, and device names resolved against them. As the
//! CDI specification orders them, a later directory (`/var/run/cdi`, where tools write
//! specs at run time) overrides an earlier one (`/etc/cdi`); within one directory, two
//! files defining the same device are a conflict.

use crate::names;
use crate::spec::{Device, Spec};
use crate::Error;
use std::path::{Path, PathBuf};

/// Where CDI specs are looked for, lowest priority first.
pub const DEFAULT_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];

/// Every spec of the directories.
#[derive(Debug, Default)]
pub struct Registry {
    dirs: Vec<PathBuf>,
    specs: Vec<Loaded>,
    /// Files that did not load: named when a device cannot be found.
    broken: Vec<Error>,
}

#[derive(Debug)]
struct Loaded {
    path: PathBuf,
    /// The directory's place in the search order.
    priority: usize,
    spec: Spec,
}

/// A device found: its name and what it and its spec edit.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub spec: &'a Spec,
    pub device: &'a Device,
    pub path: &'a Path,
}

impl Registry {
    /// The `.json`, `.yaml` and `.yml` files of `dirs` (missing directories are skipped),
    /// each directory in name order.
    pub fn load(dirs: &[PathBuf]) -> Registry {
        let mut r = Registry {
            dirs: dirs.to_vec(),
            ..Registry::default()
        };
        for (priority, dir) in dirs.iter().enumerate() {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "json" || e == "yaml" || e == "yml")
                })
                .collect();
            files.sort();
            for path in files {
                match Spec::load(&path) {
                    Ok(spec) => r.specs.push(Loaded {
                        path,
                        priority,
                        spec,
                    }),
                    Err(e) => r.broken.push(e),
                }
            }
        }
        r
    }

    /// Adds a spec made rather than read (`--gpus`), above every directory.
    pub fn add(&mut self, label: &str, spec: Spec) {
        self.specs.push(Loaded {
            path: PathBuf::from(label),
            priority: usize::MAX,
            spec,
        });
    }

    /// Every device's qualified name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .specs
            .iter()
            .flat_map(|l| {
                l.spec
                    .devices
                    .iter()
                    .map(|d| format!("{}={}", l.spec.kind, d.name))
            })
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Why the files that did not load did not.
    pub fn broken(&self) -> &[Error] {
        &self.broken
    }

    /// The devices `names` name (`vendor.com/class=name`; `=all` is every device of the
    /// kind unless a spec defines one called `all`), each once, in the order asked.
    pub fn resolve<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<Resolved<'_>>, Error> {
        let mut out: Vec<Resolved<'_>> = Vec::new();
        for n in names {
            let n = n.as_ref();
            let q = names::parse(n).map_err(|reason| Error::BadName {
                name: n.to_string(),
                reason,
            })?;
            let found = match self.find(q.kind, q.name)? {
                Some(one) => vec![one],
                None if q.name == "all" => self.all_of(q.kind)?,
                None => Vec::new(),
            };
            if found.is_empty() {
                return Err(self.unknown(n, q.kind));
            }
            for f in found {
                if !out
                    .iter()
                    .any(|o| std::ptr::eq(o.device, f.device) && std::ptr::eq(o.spec, f.spec))
                {
                    out.push(f);
                }
            }
        }
        Ok(out)
    }

    /// The device of the highest-priority directory that defines it.
    fn find(&self, kind: &str, name: &str) -> Result<Option<Resolved<'_>>, Error> {
        let defining: Vec<(&Loaded, &Device)> = self
            .specs
            .iter()
            .filter(|l| l.spec.kind == kind)
            .filter_map(|l| {
                l.spec
                    .devices
                    .iter()
                    .find(|d| d.name == name)
                    .map(|d| (l, d))
            })
            .collect();
        let Some(top) = defining.iter().map(|(l, _)| l.priority).max() else {
            return Ok(None);
        };
        let mut at_top = defining.iter().filter(|(l, _)| l.priority == top);
        let Some((l, d)) = at_top.next() else {
            return Ok(None);
        };
        if let Some((other, _)) = at_top.next() {
            return Err(Error::Conflict {
                name: format!("{kind}={name}"),
                first: l.path.clone(),
                second: other.path.clone(),
            });
        }
        Ok(Some(Resolved {
            spec: &l.spec,
            device: d,
            path: &l.path,
        }))
    }

    fn all_of(&self, kind: &str) -> Result<Vec<Resolved<'_>>, Error> {
        let mut names: Vec<&str> = self
            .specs
            .iter()
            .filter(|l| l.spec.kind == kind)
            .flat_map(|l| l.spec.devices.iter().map(|d| d.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut out = Vec::new();
        for n in names {
            out.extend(self.find(kind, n)?);
        }
        Ok(out)
    }

    fn unknown(&self, name: &str, kind: &str) -> Error {
        let mut known: Vec<String> = self
            .specs
            .iter()
            .filter(|l| l.spec.kind == kind)
            .flat_map(|l| l.spec.devices.iter().map(|d| format!("{kind}={}", d.name)))
            .collect();
        known.sort();
        known.dedup();
        let mut hint = match known.is_empty() {
            true => {
                let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
                format!("no spec in {} defines the kind {kind}", dirs.join(", "))
            }
            false => format!("known: {}", known.join(", ")),
        };
        if !self.broken.is_empty() {
            let broken: Vec<String> = self.broken.iter().map(|e| e.to_string()).collect();
            hint = format!("{hint}; not loaded: {}", broken.join("; "));
        }
        Error::Unknown {
            name: name.to_string(),
            hint,
        }
    }
}
