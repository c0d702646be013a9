//! `list`: the state of every container under the root.

use crate::state_cmd::{report, Report};
use crate::{Error, Runtime};

/// Reports of all containers, sorted by id. A directory vanishing meanwhile is skipped.
pub fn list(rt: &Runtime) -> Result<Vec<Report>, Error> {
    let mut out = Vec::new();
    for id in rt.root.ids()? {
        match rt.root.peek(&id) {
            Ok(dir) => out.push(report(&dir, &id)?),
            Err(crate::state::StateError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
