//! `rename`: a container's new name, taken before the old one is let go, so that no other
//! container can get either in between.

use crate::{names, Engine, Error};

impl Engine {
    /// Gives container `what` the name `new`; returns its id.
    pub fn rename(&self, what: &str, new: &str) -> Result<String, Error> {
        names::validate(new)?;
        let id = self.containers.resolve(what)?;
        let _lock = self
            .containers
            .lock(&id, true)?
            .ok_or_else(|| Error::NoSuchContainer(what.to_string()))?;
        let mut r = self
            .refresh_locked(&id)?
            .ok_or_else(|| Error::NoSuchContainer(what.to_string()))?;
        if r.name == new {
            return Ok(id);
        }
        self.containers.reserve_name(new, &id)?;
        let old = std::mem::replace(&mut r.name, new.to_string());
        if let Err(e) = self.containers.save(&r) {
            self.containers.release_name(new, &id);
            return Err(e.into());
        }
        self.containers.release_name(&old, &id);
        self.event(&r, "rename", &[("oldName", &old)]);
        Ok(id)
    }
}
