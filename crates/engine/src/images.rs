//! `tag` and `rmi`: an image's names, and the content garbage-collected once no name refers
//! to it. Both record docker's image events. They need the store only, not the engine
//! (which needs root): image commands work for any user.

use crate::journal::Journal;
use crate::Error;
use berth_image::store::{ImageRecord, Store};
use berth_image::Reference;
use std::path::Path;

/// The image store with berth's events journal.
pub struct Images<'a> {
    store: &'a Store,
    journal: Journal,
}

/// What `rmi` did to one name given.
#[derive(Debug, Default)]
pub struct Untagged {
    /// The names removed.
    pub names: Vec<String>,
    /// The image's manifest digest.
    pub manifest: String,
}

fn bad_name(name: &str, e: impl std::fmt::Display) -> Error {
    Error::Failed {
        name: name.to_string(),
        reason: format!("not an image name: {e}"),
    }
}

impl<'a> Images<'a> {
    /// The images of `store`, opened on berth's `root`.
    pub fn new(store: &'a Store, root: &Path) -> Self {
        Images {
            store,
            journal: Journal::new(root),
        }
    }

    /// Records an image event (pull, push, tag, untag, delete, load, save, import).
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        self.journal.record("image", action, id, &[("name", name)]);
    }

    /// Gives image `image` the name `new` (a short name is local: `localhost/NAME`);
    /// returns the image's id.
    pub fn tag_image(&self, image: &str, new: &str) -> Result<String, Error> {
        let digest = self.store.find(image)?;
        let img = self.store.image_by_manifest(&digest)?;
        let size = self.store.read_blob(&digest)?.len() as u64;
        let r = Reference::parse_local(new).map_err(|e| bad_name(new, e))?;
        self.store
            .set_name(&r, &digest, &img.manifest_media_type, size)?;
        self.image_event("tag", &img.id.to_string(), &r.to_string());
        Ok(img.id.to_string())
    }

    /// Removes name `name` (or, given an id, every name of that image); an image a
    /// container uses keeps its last name unless `force`. Content is collected by
    /// [`Images::collect`].
    pub fn untag_image(&self, name: &str, force: bool) -> Result<Untagged, Error> {
        let names = self.names_to_remove(name)?;
        let manifest = self.store.find(name)?;
        let remaining = self
            .store
            .records()?
            .iter()
            .filter(|r| r.manifest == manifest && !names.contains(&r.reference))
            .count();
        if remaining == 0 && !force {
            if let Some(c) = self.store.containers_using(&manifest)?.first() {
                return Err(Error::ImageInUse {
                    image: name.to_string(),
                    container: c.to_string(),
                });
            }
        }
        let mut out = Untagged {
            manifest: manifest.to_string(),
            ..Untagged::default()
        };
        for r in self.store.remove_names(&names)? {
            self.image_event("untag", &out.manifest, &r.reference.to_string());
            out.names.push(r.reference.to_string());
        }
        Ok(out)
    }

    /// Removes the content no image name refers to any more; returns how many blobs and
    /// layers went.
    pub fn collect(&self, what: &str) -> Result<(usize, usize), Error> {
        let report = self.store.gc()?;
        if report.blobs + report.snapshots > 0 {
            self.image_event("delete", "", what);
        }
        Ok((report.blobs, report.snapshots))
    }

    /// The names `rmi NAME` removes: the one it names, else (an id) all of the image's.
    fn names_to_remove(&self, name: &str) -> Result<Vec<Reference>, Error> {
        let records: Vec<ImageRecord> = self.store.records()?;
        let mut candidates: Vec<Reference> = Reference::parse(name).into_iter().collect();
        if Reference::is_short(name) {
            candidates.extend(Reference::parse_local(name));
        }
        if let Some(r) = candidates
            .iter()
            .find(|c| records.iter().any(|r| r.reference == **c))
        {
            return Ok(vec![r.clone()]);
        }
        let manifest = self.store.find(name)?;
        Ok(records
            .into_iter()
            .filter(|r| r.manifest == manifest)
            .map(|r| r.reference)
            .collect())
    }
}
