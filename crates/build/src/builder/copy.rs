//! COPY and ADD: the sources (from the context, an earlier stage or an image) packed into
//! one tar stream, hashed for the cache, then unpacked into a created container's root
//! filesystem with `berth_image::unpack`'s copy rules and committed. Every source path is
//! resolved with `RESOLVE_IN_ROOT` in its root: a symlink in the context leads nowhere
//! outside it. What `.dockerignore` leaves out is not there to copy.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_image::change::{unquote, words};
use berth_image::pack::{Format, Packer};
use berth_image::unpack::{self, CopyInto};
use berth_sys::fs::{self as sysfs, Resolve};
use sha2::{Digest as _, Sha256};

use super::stage::{scratch_options, StageState};
use super::{Build, BuildError};
use crate::dockerfile::expand::{expand, expand_text};
use crate::dockerfile::{Copy, CopyArgs, Heredoc, Step};
use crate::ignore::{glob, Ignore};

/// The sources packed: a tar stream (segments one after another) in a temporary file.
pub(super) struct Packed {
    file: File,
    /// One regular file (or heredoc): DEST without a trailing `/` is its new name.
    single_file: bool,
    /// What history calls the sources: `file`, `dir` or `multi`.
    kind: &'static str,
    /// Tar streams one after another (the unpacker reads one: more are joined first).
    segments: usize,
    /// The digest of what was packed (names, types, modes, owners, content; no times).
    pub content: String,
}

impl Build<'_> {
    pub(super) fn copy_step(
        &mut self,
        st: &mut StageState,
        step: &Step,
        c: &Copy,
        add: bool,
    ) -> Result<(), BuildError> {
        let err = |b: &Self, why: String| b.error(step.line, &step.keyword, why);
        let vars = |n: &str| st.var(n);
        let mut args = match &c.args {
            CopyArgs::Json(list) => list
                .iter()
                .map(|a| expand(a, self.escape, &vars).and_then(|a| unquote(&a)))
                .collect::<Result<Vec<_>, _>>(),
            CopyArgs::Text(t) => expand(t, self.escape, &vars).and_then(|t| words(&t)),
        }
        .map_err(|e| err(self, e))?;
        let dest = args.pop().unwrap_or_default();
        // `<<NAME` words are the heredocs, not paths.
        args.retain(|a| {
            let name = a.trim_start_matches("<<").trim_start_matches('-');
            !(a.starts_with("<<")
                && c.heredocs
                    .iter()
                    .any(|h| name.trim_matches(['"', '\'']) == h.name))
        });
        let dest = absolute(&st.workdir(), &dest);
        let owner = match &c.chown {
            Some(spec) => Some(
                self.owner(
                    st,
                    &expand(spec, self.escape, &vars).map_err(|e| err(self, e))?,
                )
                .map_err(|e| err(self, e))?,
            ),
            None => None,
        };
        let mode = match &c.chmod {
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| err(self, format!("--chmod={m}: want an octal mode")))?,
            ),
            None => None,
        };
        let heredocs: Vec<(Heredoc, String)> = c
            .heredocs
            .iter()
            .map(|h| {
                let body = match h.expand {
                    true => expand_text(&h.body, &vars),
                    false => Ok(h.body.clone()),
                };
                body.map(|b| (h.clone(), b))
            })
            .collect::<Result<_, _>>()
            .map_err(|e| err(self, e))?;
        let packed = match &c.from {
            Some(from) => {
                let from = self.expand_global(from, step.line, "COPY")?;
                let image = self.base_image(&from, self.current, step.line, "COPY")?;
                let o = scratch_options(&image.id.to_string());
                self.in_container(&o, |_, _, root| {
                    pack(root, &args, &heredocs, None, add, false)
                })
            }
            None => {
                let ignore = Some(&self.ignore).filter(|i| **i != Ignore::default());
                pack(&self.context, &args, &heredocs, ignore, add, true)
            }
        }
        .map_err(|e| err(self, e))?;
        let sources = args.len() + heredocs.len();
        if sources > 1 && !dest.ends_with('/') {
            return Err(err(
                self,
                format!("with more than one source the destination must be a directory ending in /: {dest}"),
            ));
        }
        // History says what was copied by content, as docker's and buildah's do; the
        // cache key also has the flags and the sources as written.
        let created_by = format!(
            "/bin/sh -c #(nop) {} {}:{} in {dest}",
            step.keyword, packed.kind, packed.content
        );
        let content = format!("{:?} {:?} {:?} {args:?}", c.from, c.chown, c.chmod);
        self.commit(st, step, &created_by, &content, |b, st, opts, name| {
            let o = scratch_options(&st.image.id.to_string());
            b.in_container(&o, |b, id, merged| {
                copy_into(merged, packed, &dest, owner, mode)?;
                b.engine
                    .commit_and_consume(id, opts, Some(name))
                    .map_err(|e| e.to_string())
            })
        })
    }

    /// `--chown=USER[:GROUP]`: names looked up in the image's /etc/passwd and /etc/group.
    fn owner(&self, st: &StageState, spec: &str) -> Result<(u32, u32), String> {
        let read = |p: &str| {
            self.engine
                .store()
                .read_image_file(&st.image, p)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let lookup = |file: &str, name: &str| -> Option<(u32, Option<u32>)> {
            read(file).lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                if f.first() != Some(&name) {
                    return None;
                }
                Some((
                    f.get(2)?.parse().ok()?,
                    f.get(3).and_then(|g| g.parse().ok()),
                ))
            })
        };
        let (uid, primary) = match user.parse::<u32>() {
            Ok(n) => (n, None),
            Err(_) => lookup("/etc/passwd", user).ok_or_else(|| {
                format!("--chown={spec}: no user {user} in the image's /etc/passwd")
            })?,
        };
        let gid = match group {
            Some(g) => match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => lookup("/etc/group", g).map(|(gid, _)| gid).ok_or_else(|| {
                    format!("--chown={spec}: no group {g} in the image's /etc/group")
                })?,
            },
            // A user alone: its primary group, or the same number.
            None => primary.unwrap_or(uid),
        };
        Ok((uid, gid))
    }
}

/// DEST made absolute from WORKDIR, with its trailing `/` kept.
fn absolute(workdir: &str, dest: &str) -> String {
    let joined = match dest.starts_with('/') {
        true => dest.to_string(),
        false => format!("{}/{dest}", workdir.trim_end_matches('/')),
    };
    let dir = joined.ends_with('/') || dest == "." || dest.ends_with("/.");
    let clean = clean(&joined);
    match dir && clean != "/" {
        true => format!("{clean}/"),
        false => clean,
    }
}

/// An absolute, clean path.
fn clean(p: &str) -> String {
    format!("/{}", crate::ignore::clean(p))
}

/// Opens `root` as a directory.
pub(super) fn open_root(root: &Path) -> Result<OwnedFd, String> {
    sysfs::open(root, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .map_err(|e| format!("{}: {e}", root.display()))
}

/// `rel` (relative to root, `/`-separated) opened in the root, symlinks followed inside it.
pub(super) fn open_in(root: &OwnedFd, rel: &str) -> std::io::Result<OwnedFd> {
    let rel = if rel.is_empty() { "." } else { rel };
    sysfs::openat2(
        root.as_fd(),
        Path::new(rel),
        libc::O_PATH,
        0,
        Resolve::InRoot,
    )
}

/// The paths a source names: itself, or what its wildcards match (sorted).
fn matches(root: &OwnedFd, src: &str) -> Result<Vec<String>, String> {
    let rel = clean(src).trim_start_matches('/').to_string();
    if !rel.contains(['*', '?', '[']) {
        return Ok(vec![rel]);
    }
    let mut found = vec![String::new()];
    for comp in rel.split('/') {
        let mut next = Vec::new();
        for base in &found {
            let join = |n: &str| match base.is_empty() {
                true => n.to_string(),
                false => format!("{base}/{n}"),
            };
            if !comp.contains(['*', '?', '[']) {
                next.push(join(comp));
                continue;
            }
            let Ok(dir) = open_in(root, base) else {
                continue;
            };
            let Ok(list) = std::fs::read_dir(sysfs::fd_path(std::os::fd::AsRawFd::as_raw_fd(&dir)))
            else {
                continue;
            };
            let mut names: Vec<String> = list
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| glob(comp.as_bytes(), n.as_bytes()))
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join(n)));
        }
        found = next;
    }
    Ok(found)
}

/// Packs the sources under `root` (and the heredocs) into a temporary tar file.
pub(super) fn pack(
    root: &Path,
    sources: &[String],
    heredocs: &[(Heredoc, String)],
    ignore: Option<&Ignore>,
    add: bool,
    context: bool,
) -> Result<Packed, String> {
    let io = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    // Buffered: a tar entry is a header write and a data write.
    let mut file = BufWriter::new(tempfile::tempfile().map_err(io("temporary file"))?);
    let rootfd = open_root(root)?;
    let mut items = heredocs.len();
    let mut single_file = false;
    let mut dirs = 0;
    for src in sources {
        if add && (src.starts_with("http://") || src.starts_with("https://")) {
            let (name, body, mtime) = download(src)?;
            one_file(&mut file, &name, &body, 0o600, mtime).map_err(io(src))?;
            items += 1;
            single_file = true;
            continue;
        }
        if src.starts_with("git@") || add && src.ends_with(".git") && src.contains("://") {
            return Err(format!("ADD {src}: git sources are not supported yet"));
        }
        let missing =
            || format!("{src}: not found in the build context (or left out by .dockerignore)");
        let mut any = false;
        for rel in matches(&rootfd, src)? {
            let excluded = ignore.is_some_and(|i| !rel.is_empty() && i.excludes(&rel));
            // A directory left out may have exceptions inside: those are copied.
            if excluded && !ignore.is_some_and(Ignore::has_exceptions) {
                continue;
            }
            let fd = match open_in(&rootfd, &rel) {
                Ok(fd) => fd,
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                    continue
                }
                Err(e) => return Err(format!("{src}: {e}")),
            };
            let st = sysfs::fstat(fd.as_fd()).map_err(io(src))?;
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            if excluded && !is_dir {
                continue;
            }
            any = true;
            items += 1;
            dirs += usize::from(is_dir);
            if add && !is_dir {
                if let Some(kind) = archive_kind(&fd).map_err(io(src))? {
                    extract(&fd, kind, &mut file).map_err(|e| format!("{src}: {e}"))?;
                    continue;
                }
            }
            let mut p = Packer::new(&mut file, Format::Plain);
            // Files of the context become root's, as docker makes them (a stage's keep
            // their owners).
            if context {
                p = p.owner((0, 0));
            }
            if let Some(i) = ignore.filter(|_| is_dir) {
                let i = i.clone();
                let prefix = rel.clone();
                let exceptions = i.has_exceptions();
                p = p.skip(Box::new(move |name: &Path, dir: bool| {
                    let full = match prefix.is_empty() {
                        true => name.to_string_lossy().into_owned(),
                        false => format!("{prefix}/{}", name.display()),
                    };
                    // An exception may take back something inside a directory left out.
                    i.excludes(&full) && !(dir && exceptions)
                }));
            }
            if is_dir {
                p.add_children(fd.as_fd()).map_err(|e| e.to_string())?;
            } else {
                let name = Path::new(&rel)
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(&rel));
                p.add(fd.as_fd(), &name).map_err(|e| e.to_string())?;
                single_file = true;
            }
            p.finish().map_err(|e| e.to_string())?;
        }
        if !any {
            return Err(missing());
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for (h, body) in heredocs {
        one_file(&mut file, &h.name, body.as_bytes(), 0o644, now).map_err(io("heredoc"))?;
        single_file = true;
    }
    let kind = match (items, dirs) {
        (1, 0) => "file",
        (1, _) => "dir",
        _ => "multi",
    };
    let single_file = single_file && items == 1;
    let mut file = file
        .into_inner()
        .map_err(|e| format!("temporary file: {e}"))?;
    let content = digest(&mut file)?;
    Ok(Packed {
        file,
        single_file,
        kind,
        segments: items,
        content,
    })
}

/// A segment of one regular file owned by root: a heredoc's or a download's.
fn one_file(
    out: &mut impl Write,
    name: &str,
    body: &[u8],
    mode: u32,
    mtime: u64,
) -> std::io::Result<()> {
    let mut b = tar::Builder::new(out);
    let mut header = tar::Header::new_gnu();
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_size(body.len() as u64);
    header.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut header, name, body)?;
    b.into_inner().map(drop)
}

/// ADD of a URL: the file's name (the URL path's last part), its content, and its time
/// (`Last-Modified`, else now), as docker fetches it.
fn download(url: &str) -> Result<(String, Vec<u8>, u64), String> {
    let fail = |why: String| format!("ADD {url}: {why}");
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !path.ends_with("//") && path.matches('/').count() > 2)
        .ok_or_else(|| fail("the URL names no file".into()))?
        .to_string();
    let client = reqwest::blocking::Client::builder()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let resp = client.get(url).send().map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status())));
    }
    let mtime = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(http_date)
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    let body = resp.bytes().map_err(|e| fail(e.to_string()))?.to_vec();
    Ok((name, body, mtime))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) in seconds since the epoch.
fn http_date(s: &str) -> Option<u64> {
    let w: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = w.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x == month)? as i64 + 1;
    let (d, y): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, se] = hms.as_slice() else {
        return None;
    };
    // Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86400 + h * 3600 + mi * 60 + se).ok()
}

/// Compressions ADD extracts a local tar archive from.
#[derive(Clone, Copy)]
enum Archive {
    Tar,
    Gzip,
    Zstd,
}

/// Whether the file is a tar archive ADD extracts, and how it is compressed.
fn archive_kind(fd: &OwnedFd) -> std::io::Result<Option<Archive>> {
    let f = File::from(sysfs::reopen(fd.as_fd(), libc::O_RDONLY)?);
    let mut head = Vec::new();
    f.take(512).read_to_end(&mut head)?;
    let kind = match head.as_slice() {
        [0x1f, 0x8b, ..] => Archive::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Archive::Zstd,
        _ => Archive::Tar,
    };
    // It is a tar when its first block (decompressed) is a tar header.
    let mut block = Vec::new();
    decompressed(File::from(sysfs::reopen(fd.as_fd(), libc::O_RDONLY)?), kind)?
        .take(512)
        .read_to_end(&mut block)?;
    let is_tar = block.len() == 512 && tar_header(&block);
    Ok(is_tar.then_some(kind))
}

fn decompressed(f: File, kind: Archive) -> std::io::Result<Box<dyn Read>> {
    Ok(match kind {
        Archive::Tar => Box::new(f),
        Archive::Gzip => Box::new(flate2::read::GzDecoder::new(f)),
        Archive::Zstd => Box::new(zstd::stream::read::Decoder::new(f)?),
    })
}

/// A 512-byte block whose checksum field matches its bytes.
pub(super) fn tar_header(b: &[u8]) -> bool {
    let field = String::from_utf8_lossy(&b[148..156]);
    let Ok(want) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = b
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(c)
            }
        })
        .sum();
    sum == want
}

/// Appends the archive's tar stream (decompressed) as a segment.
fn extract(fd: &OwnedFd, kind: Archive, out: &mut impl Write) -> std::io::Result<()> {
    let f = File::from(sysfs::reopen(fd.as_fd(), libc::O_RDONLY)?);
    std::io::copy(&mut decompressed(f, kind)?, out)?;
    Ok(())
}

/// Visits every entry of the packed segments, from the start.
fn for_each_entry(
    file: &mut File,
    mut f: impl FnMut(&mut tar::Entry<'_, BufReader<&mut File>>) -> Result<(), String>,
) -> Result<(), String> {
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut a = tar::Archive::new(BufReader::new(file));
    a.set_ignore_zeros(true);
    for e in a
        .entries()
        .map_err(|e| format!("reading the packed sources: {e}"))?
    {
        let mut e = e.map_err(|e| format!("reading the packed sources: {e}"))?;
        f(&mut e)?;
    }
    Ok(())
}

/// The digest of what the segments hold, without times: the cache's view of the sources.
fn digest(file: &mut File) -> Result<String, String> {
    let mut h = Sha256::new();
    for_each_entry(file, |e| {
        let hd = e.header();
        let path = e.path_bytes().into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        for part in [
            &path[..],
            &[hd.entry_type().as_byte()],
            &hd.mode().unwrap_or(0).to_le_bytes(),
            &hd.uid().unwrap_or(0).to_le_bytes(),
            &hd.gid().unwrap_or(0).to_le_bytes(),
            &link[..],
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = e.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(())
    })?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Unpacks the packed sources into the root filesystem at `merged`, at DEST.
fn copy_into(
    merged: &Path,
    packed: Packed,
    dest: &str,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
) -> Result<(), String> {
    let root = open_root(merged)?;
    let dest_is_dir = dest.ends_with('/')
        || open_in(&root, dest.trim_start_matches('/'))
            .and_then(|fd| sysfs::fstat(fd.as_fd()))
            .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
    // One file onto a DEST that is not a directory: DEST is its name.
    let (into, rename) = match packed.single_file && !dest_is_dir {
        true => {
            let p = Path::new(dest);
            let parent = p
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| "/".into());
            let name = p.file_name().map(|n| n.as_bytes().to_vec());
            (parent, name)
        }
        false => (dest.to_string(), None),
    };
    mkdir_all(&root, &into, owner)?;
    let as_packed = rename.is_none() && owner.is_none() && mode.is_none() && packed.segments == 1;
    let mut stream = match (as_packed, packed.file) {
        (true, mut file) => {
            file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
            file
        }
        (false, mut file) => rewrite(&mut file, rename.as_deref(), owner, mode)?,
    };
    stream.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let components = into
        .split('/')
        .filter(|c| !c.is_empty())
        .map(std::ffi::OsString::from)
        .collect();
    let opts = unpack::Options {
        copy: Some(CopyInto {
            into: components,
            owner: None,
            host: false,
        }),
        ..Default::default()
    };
    unpack::unpack(BufReader::new(stream), root, opts, dest).map_err(|e| e.to_string())?;
    Ok(())
}

/// The packed segments as one stream to unpack: the one entry renamed, with --chown and
/// --chmod applied.
fn rewrite(
    file: &mut File,
    rename: Option<&[u8]>,
    owner: Option<(u32, u32)>,
    mode: Option<u32>,
) -> Result<File, String> {
    let out = tempfile::tempfile().map_err(|e| format!("temporary file: {e}"))?;
    let mut b = tar::Builder::new(BufWriter::new(out));
    for_each_entry(file, |e| {
        let mut h = e.header().clone();
        let path = match rename {
            Some(n) => PathBuf::from(std::ffi::OsStr::from_bytes(n)),
            None => PathBuf::from(std::ffi::OsStr::from_bytes(&e.path_bytes())),
        };
        if let Some((u, g)) = owner {
            h.set_uid(u.into());
            h.set_gid(g.into());
        }
        if let Some(m) = mode {
            h.set_mode(m);
        }
        let shown = path.display().to_string();
        let res = match h.entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = e
                    .link_name()
                    .map_err(|err| format!("{shown}: {err}"))?
                    .unwrap_or_default()
                    .into_owned();
                b.append_link(&mut h, &path, target)
            }
            _ => b.append_data(&mut h, &path, &mut *e),
        };
        res.map_err(|err| format!("{shown}: {err}"))
    })?;
    b.into_inner()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .map_err(|e| format!("temporary file: {e}"))
}

/// Unpacks a tar stream of unknown origin into the directory `dir` (on the host): with the
/// rules of a copy out of a container (no device nodes, no set-user-ID or set-group-ID bits,
/// no extended attributes), every entry resolved inside `dir`.
pub(super) fn unpack_untrusted(stream: impl Read, dir: &Path) -> Result<(), String> {
    let opts = unpack::Options {
        copy: Some(CopyInto {
            into: Vec::new(),
            owner: None,
            host: true,
        }),
        ..Default::default()
    };
    unpack::unpack(stream, open_root(dir)?, opts, &dir.display().to_string())
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Makes `dir` and its missing parents in the root (mode 0755, owned by `owner` or root),
/// each resolved in the root.
fn mkdir_all(root: &OwnedFd, dir: &str, owner: Option<(u32, u32)>) -> Result<(), String> {
    let mut path = String::new();
    for c in dir.split('/').filter(|c| !c.is_empty()) {
        let parent = path.clone();
        path = match path.is_empty() {
            true => c.to_string(),
            false => format!("{path}/{c}"),
        };
        match open_in(root, &path) {
            Ok(fd) => {
                let st = sysfs::fstat(fd.as_fd()).map_err(|e| format!("/{path}: {e}"))?;
                if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                    return Err(format!("/{path}: not a directory"));
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let p = open_in(root, &parent).map_err(|e| format!("/{parent}: {e}"))?;
                sysfs::mkdirat(p.as_fd(), Path::new(c), 0o755)
                    .map_err(|e| format!("mkdir /{path}: {e}"))?;
                let (u, g) = owner.unwrap_or((0, 0));
                sysfs::lchownat(p.as_fd(), Path::new(c), u, g)
                    .map_err(|e| format!("chown /{path}: {e}"))?;
            }
            Err(e) => return Err(format!("/{path}: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(absolute("/", "app"), "/app");
        assert_eq!(absolute("/w", "app/"), "/w/app/");
        assert_eq!(absolute("/w", "."), "/w/");
        assert_eq!(absolute("/w/", "../x"), "/x");
        assert_eq!(absolute("/", "/"), "/");
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(http_date("yesterday"), None);
    }

    #[test]
    fn tar_headers() {
        let mut h = tar::Header::new_gnu();
        h.set_path("a").unwrap();
        h.set_cksum();
        assert!(tar_header(h.as_bytes()));
        assert!(!tar_header(&[0u8; 512]));
    }
}
