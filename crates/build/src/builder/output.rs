//! `--output`: the result's files, besides the image in the store, as BuildKit exports them:
//! `type=local,dest=DIR` (or `DIR`) unpacks them into a directory, `type=tar,dest=FILE`
//! (`dest=-`, or `-`: stdout) writes a tar. Only the image's own files: the mount points a
//! container would get are left out. Files unpacked into DIR lose set-user-ID and
//! set-group-ID bits, and device nodes are left out: an image is not trusted with the host.

use std::collections::HashSet;
use std::fs;
use std::io::{BufReader, BufWriter, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use berth_image::pack::{Format, Packer};
use berth_image::store::Image;

use super::Build;

/// Where `--output` puts the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Local(PathBuf),
    /// None: stdout.
    Tar(Option<PathBuf>),
}

impl Output {
    /// Parses `--output` (docker's forms).
    pub fn parse(spec: &str) -> Result<Output, String> {
        if spec == "-" {
            return Ok(Output::Tar(None));
        }
        if !spec.contains('=') {
            return Ok(Output::Local(PathBuf::from(spec)));
        }
        let (mut kind, mut dest) = (None, None);
        for f in spec.split(',') {
            match f.split_once('=') {
                Some(("type", v)) => kind = Some(v.to_string()),
                Some(("dest", v)) => dest = Some(v.to_string()),
                _ => return Err(format!("--output {spec}: {f:?}: want type= and dest=")),
            }
        }
        let dest = dest.ok_or_else(|| format!("--output {spec}: dest= is required"))?;
        match kind.as_deref().unwrap_or("local") {
            "local" => Ok(Output::Local(PathBuf::from(dest))),
            "tar" if dest == "-" => Ok(Output::Tar(None)),
            "tar" => Ok(Output::Tar(Some(PathBuf::from(dest)))),
            other => Err(format!(
                "--output {spec}: type={other} is not supported: want local or tar"
            )),
        }
    }
}

impl Build<'_> {
    /// Writes `image`'s files where `out` says.
    pub(super) fn export(&mut self, image: &Image, out: &Output) -> Result<(), String> {
        let id = self.scratch(&image.id.to_string())?;
        let written = self.export_from(&id, out);
        let removed = self
            .engine
            .remove(&id, true, true)
            .map_err(|e| e.to_string());
        written.and(removed.map(drop))
    }

    fn export_from(&mut self, id: &str, out: &Output) -> Result<(), String> {
        let store = self.engine.store();
        let merged = store.rootfs_mount_point(id).map_err(|e| e.to_string())?;
        let stubs = store.stub_paths(id).map_err(|e| e.to_string())?;
        let skip = stub_only(&merged, &stubs);
        let root = super::copy::open_root(&merged)?;
        let pack = |w: &mut dyn Write| -> Result<(), String> {
            let skip = skip.clone();
            let mut p = Packer::new(w, Format::Plain)
                .skip(Box::new(move |name: &Path, _| skip.contains(name)));
            p.add_children(root.as_fd()).map_err(|e| e.to_string())?;
            p.finish().map(drop).map_err(|e| e.to_string())
        };
        match out {
            Output::Tar(None) => {
                let mut w = BufWriter::new(std::io::stdout().lock());
                pack(&mut w)?;
                w.flush().map_err(|e| format!("stdout: {e}"))
            }
            Output::Tar(Some(p)) => {
                let f = fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let mut w = BufWriter::new(f);
                pack(&mut w)?;
                w.flush().map_err(|e| format!("{}: {e}", p.display()))
            }
            Output::Local(dir) => {
                let mut tmp = tempfile::tempfile().map_err(|e| e.to_string())?;
                {
                    let mut w = BufWriter::new(&mut tmp);
                    pack(&mut w)?;
                    w.flush().map_err(|e| e.to_string())?;
                }
                tmp.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
                fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                super::copy::unpack_untrusted(BufReader::new(tmp), dir)
            }
        }
    }
}

/// The stub layer's paths (names relative to the root) that hold nothing but stubs: empty
/// files, and directories of such only.
fn stub_only(merged: &Path, stubs: &[(PathBuf, bool)]) -> HashSet<PathBuf> {
    let mut sorted: Vec<&(PathBuf, bool)> = stubs.iter().collect();
    sorted.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    let mut out: HashSet<PathBuf> = HashSet::new();
    for (p, dir) in sorted {
        let rel = p.strip_prefix("/").unwrap_or(p).to_path_buf();
        let at = merged.join(&rel);
        let only_stubs = match dir {
            true => fs::read_dir(&at).is_ok_and(|entries| {
                entries
                    .flatten()
                    .all(|e| out.contains(&rel.join(e.file_name())))
            }),
            false => fs::symlink_metadata(&at).is_ok_and(|m| m.is_file() && m.len() == 0),
        };
        if only_stubs {
            out.insert(rel);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(Output::parse("out").unwrap(), Output::Local("out".into()));
        assert_eq!(Output::parse("-").unwrap(), Output::Tar(None));
        assert_eq!(
            Output::parse("type=tar,dest=x.tar").unwrap(),
            Output::Tar(Some("x.tar".into()))
        );
        assert_eq!(Output::parse("type=tar,dest=-").unwrap(), Output::Tar(None));
        assert_eq!(
            Output::parse("type=local,dest=d").unwrap(),
            Output::Local("d".into())
        );
        assert!(Output::parse("type=registry,dest=x").is_err());
        assert!(Output::parse("type=local").is_err());
    }
}
