//! `update`: new cgroup limits and restart policy for a container. A running (or paused)
//! container's cgroup gets them at once (through the runtime core's `update`); the record and
//! the generated config keep them, so that every later start has them too.

use crate::options::UpdateOptions;
use crate::record::State;
use crate::{config, Engine, Error};
use oci_spec::runtime::LinuxResources;

impl Engine {
    /// Applies `o` to container `what`; returns its id.
    pub fn update_container(&self, what: &str, o: &UpdateOptions) -> Result<String, Error> {
        let id = self.settled(what)?.id;
        // The container's lock, then the runtime's (in the runtime core's update): the
        // engine's one order.
        let gone = || Error::NoSuchContainer(what.to_string());
        let _lock = self.containers.lock(&id, true)?.ok_or_else(gone)?;
        let mut r = self.containers.load(&id)?.ok_or_else(gone)?;
        let settings = o.apply(&r.settings)?;
        let limits = config::limits(&settings);
        // A paused container is running to the record; its cgroup takes limits too.
        if r.state == State::Running {
            let resources: LinuxResources =
                serde_json::from_value(limits.clone()).map_err(|e| Error::Config {
                    field: "linux.resources".into(),
                    reason: e.to_string(),
                })?;
            // Nothing is saved unless the cgroup took it (a memory limit under what the
            // container uses now is refused by the kernel).
            berth_container::update::update(&self.runtime, &id, &resources)
                .map_err(Error::runtime(&r.name))?;
        }
        let mut oci = self.oci_config(&r)?;
        let section = &mut oci["linux"]["resources"];
        for key in config::LIMITS {
            match (&limits[key], section.as_object_mut()) {
                (serde_json::Value::Null, Some(s)) => {
                    s.remove(key);
                }
                (new, _) => section[key] = new.clone(),
            }
        }
        self.save_oci_config(&id, &oci)?;
        r.settings = settings;
        self.containers.save(&r)?;
        self.event(&r, "update", &[]);
        Ok(id)
    }
}
