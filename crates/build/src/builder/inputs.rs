//! What a build reads: the context (a directory, or a tar on stdin unpacked under berth's
//! root for the build) and the Dockerfile (in the context, `-f FILE`, or `-f -` on stdin).
//! A stdin that is not a tar is the Dockerfile itself, with an empty context, as docker
//! takes it.

use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use berth_image::unpack::{self, CopyInto};

use super::{BuildError, BuildOptions};

/// The context directory and the Dockerfile's text and name.
pub(super) struct Inputs {
    pub context: PathBuf,
    pub text: String,
    pub file: String,
    /// A context unpacked from stdin, removed when the build ends.
    staged: Option<PathBuf>,
}

/// Where a stdin context is unpacked (`owner` as [`super::OWNER_LABEL`] names the build).
pub(super) fn staged_dir(root: &Path, owner: &str) -> PathBuf {
    root.join("build-mounts/contexts")
        .join(owner.replace(':', "-"))
}

impl Inputs {
    pub fn read(o: &BuildOptions, owner: &str) -> Result<Inputs, BuildError> {
        let usage = |why: String| BuildError::Usage(why);
        let stdin_context = o.context.as_os_str() == "-";
        let stdin_file = o
            .dockerfile
            .as_deref()
            .is_some_and(|f| f.as_os_str() == "-");
        if stdin_context && stdin_file {
            return Err(usage(
                "the context and the Dockerfile cannot both come from stdin".into(),
            ));
        }
        let mut staged = None;
        let mut from_stdin = None;
        let context = match stdin_context {
            false if o.context.is_dir() => o.context.clone(),
            false => {
                return Err(usage(format!(
                    "build context {}: not a directory",
                    o.context.display()
                )))
            }
            true => {
                let dir = staged_dir(&o.root, owner);
                let _ = fs::remove_dir_all(&dir);
                fs::create_dir_all(&dir).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
                staged = Some(dir.clone());
                let mut inputs = Inputs {
                    context: dir.clone(),
                    text: String::new(),
                    file: String::new(),
                    staged,
                };
                from_stdin = unpack_stdin(&dir).map_err(|e| {
                    inputs.remove();
                    usage(format!("the context on stdin: {e}"))
                })?;
                staged = inputs.staged.take();
                dir
            }
        };
        let mut inputs = Inputs {
            context,
            text: String::new(),
            file: String::new(),
            staged,
        };
        let read = |p: &Path| {
            fs::read_to_string(p).map_err(|e| usage(format!("reading {}: {e}", p.display())))
        };
        let found = match (&o.dockerfile, from_stdin) {
            (_, Some(text)) => Ok((text, "Dockerfile".to_string())),
            (Some(f), None) if stdin_file => {
                let _ = f;
                let mut t = String::new();
                std::io::stdin()
                    .read_to_string(&mut t)
                    .map(|_| (t, "Dockerfile".to_string()))
                    .map_err(|e| usage(format!("reading the Dockerfile from stdin: {e}")))
            }
            (Some(f), None) => read(f).map(|t| (t, name_of(f))),
            (None, None) => {
                let default = ["Dockerfile", "Containerfile"]
                    .iter()
                    .map(|n| inputs.context.join(n))
                    .find(|p| p.exists())
                    .unwrap_or_else(|| inputs.context.join("Dockerfile"));
                read(&default).map(|t| (t, name_of(&default)))
            }
        };
        match found {
            Ok((text, file)) => {
                inputs.text = text;
                inputs.file = file;
                Ok(inputs)
            }
            Err(e) => {
                inputs.remove();
                Err(e)
            }
        }
    }

    /// Removes a context unpacked from stdin.
    pub fn remove(&mut self) {
        if let Some(d) = self.staged.take() {
            let _ = fs::remove_dir_all(d);
        }
    }
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Unpacks a tar (or gzipped tar) on stdin into `dir`; if stdin is no tar, returns its
/// text (a Dockerfile) and leaves `dir` empty.
fn unpack_stdin(dir: &Path) -> Result<Option<String>, String> {
    let mut f = tempfile::tempfile().map_err(|e| e.to_string())?;
    std::io::copy(&mut std::io::stdin().lock(), &mut f).map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let gzip = n == 2 && magic == [0x1f, 0x8b];
    let mut head = Vec::new();
    reader(&f, gzip)?
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| e.to_string())?;
    if head.len() < 512 || !super::copy::tar_header(&head) {
        let mut text = String::new();
        f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        f.read_to_string(&mut text)
            .map_err(|_| "neither a tar archive nor a Dockerfile".to_string())?;
        return Ok(Some(text));
    }
    let root = super::copy::open_root(dir)?;
    let opts = unpack::Options {
        copy: Some(CopyInto {
            into: Vec::new(),
            owner: None,
            // Nothing privileged comes in from a tar of unknown origin.
            host: true,
        }),
        ..Default::default()
    };
    unpack::unpack(reader(&f, gzip)?, root, opts, "stdin").map_err(|e| e.to_string())?;
    Ok(None)
}

fn reader(f: &File, gzip: bool) -> Result<Box<dyn Read>, String> {
    let mut f = f.try_clone().map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let f = BufReader::new(f);
    Ok(match gzip {
        true => Box::new(flate2::read::GzDecoder::new(f)),
        false => Box::new(f),
    })
}
