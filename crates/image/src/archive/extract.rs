//! Unpacking an archive (not a layer) into a scratch directory: only directories and
//! regular files, with names checked like layer entries; anything else is skipped.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::ArchiveError;
use crate::unpack::checked_components;

/// Extracts `input` below `dir`.
pub fn extract(input: &mut dyn Read, dir: &Path, archive: &str) -> Result<(), ArchiveError> {
    let io = |op| {
        move |source| ArchiveError::Io {
            archive: archive.to_string(),
            op,
            source,
        }
    };
    let mut a = tar::Archive::new(input);
    for entry in a.entries().map_err(io("read"))? {
        let mut entry = entry.map_err(io("read"))?;
        let name = entry.path_bytes().into_owned();
        let parts = checked_components(&name).map_err(|why| ArchiveError::Invalid {
            archive: archive.to_string(),
            why: format!("entry {:?}: {why}", String::from_utf8_lossy(&name)),
        })?;
        let mut dest = dir.to_path_buf();
        dest.extend(&parts);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                fs::create_dir_all(&dest).map_err(io("create directory"))?
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(p) = dest.parent() {
                    fs::create_dir_all(p).map_err(io("create directory"))?;
                }
                // Never through a symlink: archives from berth's extraction hold none, and a
                // name that exists already is replaced, not followed.
                let _ = fs::remove_file(&dest);
                let mut f = fs::File::create_new(&dest).map_err(io("create file"))?;
                std::io::copy(&mut entry, &mut f).map_err(io("write file"))?;
            }
            _ => {}
        }
    }
    // Drain the rest so a pipe writer (docker save | berth load) sees no broken pipe.
    std::io::copy(&mut a.into_inner(), &mut std::io::sink()).map_err(io("read"))?;
    Ok(())
}
