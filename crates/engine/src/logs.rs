//! `logs`: what a container wrote, from its log file (see [`crate::logging`]): stdout and
//! stderr apart, with their times; the last lines, a time window, and `follow` until the
//! container stops.

use crate::logging::{Driver, Entry, LogReader};
use crate::record::State;
use crate::time::Timestamp;
use crate::{Engine, Error};
use std::time::Duration;

/// How often `logs -f` looks for more output.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// The flags of `logs`.
#[derive(Clone, Debug, Default)]
pub struct LogsOptions {
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
    /// Only lines written at or after this moment.
    pub since: Option<Timestamp>,
    /// Only lines written before this moment.
    pub until: Option<Timestamp>,
}

impl Engine {
    /// Passes container `what`'s log entries to `emit`, oldest first.
    pub fn logs(
        &self,
        what: &str,
        o: &LogsOptions,
        emit: &mut dyn FnMut(&Entry) -> std::io::Result<()>,
    ) -> Result<(), Error> {
        let r = self.container(what)?;
        let refuse = |why: &str| Error::Failed {
            name: r.name.clone(),
            reason: format!("logs: {why}"),
        };
        match r.settings.log.driver {
            Driver::JsonFile | Driver::K8sFile => {}
            Driver::Journald => {
                return Err(refuse(&format!(
                    "it logs to the journal: journalctl CONTAINER_ID_FULL={}",
                    r.id
                )))
            }
            Driver::None => return Err(refuse("its log driver is none: nothing was kept")),
            Driver::Passthrough => {
                return Err(refuse(
                    "its log driver is passthrough: its output went to the terminal",
                ))
            }
        }
        let path = self.containers.log_path(&r.id);
        let mut reader = LogReader::new(&path, r.settings.log.driver);
        let within = |e: &Entry| {
            e.time
                .is_none_or(|t| o.since.is_none_or(|s| t >= s) && o.until.is_none_or(|u| t < u))
        };
        let mut pass = |entries: Vec<Entry>| -> Result<(), Error> {
            for e in entries.iter().filter(|e| within(e)) {
                emit(e).map_err(Error::io("write the log"))?;
            }
            Ok(())
        };
        let read = |e| Error::path(&path)(e);
        // --tail counts the lines of the window, as docker does.
        let mut first = reader.entries(None).map_err(read)?;
        first.retain(within);
        if let Some(n) = o.tail {
            first.drain(..first.len().saturating_sub(n));
        }
        pass(first)?;
        if !o.follow {
            return Ok(());
        }
        loop {
            let running = self
                .refresh(&r.id)?
                .is_some_and(|r| r.state == State::Running);
            pass(reader.more().map_err(read)?)?;
            if !running || o.until.is_some_and(|u| Timestamp::now() >= u) {
                return Ok(());
            }
            std::thread::sleep(FOLLOW_INTERVAL);
        }
    }
}
