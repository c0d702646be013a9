//! What a build reads: the context (a directory, or a tar on stdin unpacked under berth's
//! root for the build) and the Dockerfile (in the context, `-f FILE`, or `-f -` on stdin).
//! A stdin that is not a tar is the Dockerfile itself, with an empty context, as docker
//! takes it.

use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

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
        let stdin_context = o.context.as_os_str() == "-";
        let stdin_file = o
            .dockerfile
            .as_deref()
            .is_some_and(|f| f.as_os_str() == "-");
        if stdin_context && stdin_file {
            return Err(usage(
                "the context and the Dockerfile cannot both come from stdin",
            ));
        }
        let mut inputs = Inputs {
            context: o.context.clone(),
            text: String::new(),
            file: "Dockerfile".into(),
            staged: None,
        };
        // Whatever fails, a context unpacked so far goes.
        let read = inputs.read_into(o, owner, stdin_context, stdin_file);
        if read.is_err() {
            inputs.remove();
        }
        read.map(|()| inputs)
    }

    fn read_into(
        &mut self,
        o: &BuildOptions,
        owner: &str,
        stdin_context: bool,
        stdin_file: bool,
    ) -> Result<(), BuildError> {
        if stdin_context {
            let dir = staged_dir(&o.root, owner);
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).map_err(|e| usage(&format!("{}: {e}", dir.display())))?;
            self.staged = Some(dir.clone());
            self.context = dir.clone();
            if let Some(text) =
                unpack_stdin(&dir).map_err(|e| usage(&format!("the context on stdin: {e}")))?
            {
                self.text = text;
                return Ok(());
            }
        } else if !o.context.is_dir() {
            return Err(usage(&format!(
                "build context {}: not a directory",
                o.context.display()
            )));
        }
        if stdin_file {
            return std::io::stdin()
                .read_to_string(&mut self.text)
                .map(drop)
                .map_err(|e| usage(&format!("reading the Dockerfile from stdin: {e}")));
        }
        let path = match &o.dockerfile {
            // In a context that came as a tar, a Dockerfile's path is inside it (docker's
            // API sends `dockerfile=` so).
            Some(f) if stdin_context && f.is_relative() => self.context.join(f),
            Some(f) => f.clone(),
            None => ["Dockerfile", "Containerfile"]
                .iter()
                .map(|n| self.context.join(n))
                .find(|p| p.exists())
                .unwrap_or_else(|| self.context.join("Dockerfile")),
        };
        self.text = fs::read_to_string(&path)
            .map_err(|e| usage(&format!("reading {}: {e}", path.display())))?;
        self.file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(())
    }

    /// Removes a context unpacked from stdin.
    pub fn remove(&mut self) {
        if let Some(d) = self.staged.take() {
            let _ = fs::remove_dir_all(d);
        }
    }
}

fn usage(why: &str) -> BuildError {
    BuildError::Usage(why.to_string())
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
    super::copy::unpack_untrusted(reader(&f, gzip)?, dir)?;
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
