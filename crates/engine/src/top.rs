//! `top`: the container's processes, as the host's `ps` shows them.

use crate::record::State;
use crate::{Engine, Error};

impl Engine {
    /// `ps` output (with `ps_args`, `-ef` by default) for the processes of container `what`.
    pub fn top(&self, what: &str, ps_args: &[String]) -> Result<String, Error> {
        let r = self.settled(what)?;
        if r.state != State::Running {
            return Err(Error::WrongState {
                name: r.name,
                state: r.state.to_string(),
                action: "list its processes",
            });
        }
        let pids =
            berth_container::ps::pids(&self.runtime, &r.id).map_err(Error::runtime(&r.name))?;
        berth_container::ps::table(&pids, ps_args).map_err(Error::runtime(&r.name))
    }
}
