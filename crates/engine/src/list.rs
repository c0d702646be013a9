//! `ps`: the containers, newest first, with docker's status words.

use crate::options::Network;
use crate::record::{Record, State};
use crate::time::{human, Timestamp};
use crate::{Engine, Error};
use serde::Serialize;

/// One container as `ps` shows it (and `ps --format json` prints it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Summary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: Vec<String>,
    pub created: Timestamp,
    pub state: State,
    /// `Up 5 seconds`, `Exited (0) 2 minutes ago`, `Created`.
    pub status: String,
    /// Why it ended, in plain words (see [`Record::end_reason`]).
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    /// The init's pid while it runs, else 0.
    pub pid: i32,
    pub auto_remove: bool,
    /// Destinations of `-v` and `--tmpfs` mounts.
    pub mounts: Vec<String>,
    /// The networks it is on (`none` and `host` included).
    pub networks: Vec<String>,
    /// Its published ports while it runs: `0.0.0.0:8080->80/tcp`.
    pub ports: Vec<String>,
    /// Frozen by `pause`.
    pub paused: bool,
    /// Its own labels (`--label`).
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Summary {
    /// Whether it passes filter `key=v` of `ps` (id, name, label, status, exited,
    /// ancestor); `image_id` resolves an image name for `ancestor`.
    pub fn passes(&self, key: &str, v: &str, image_id: &dyn Fn(&str) -> Option<String>) -> bool {
        match key {
            "id" => self.id.starts_with(v),
            "name" => self.names.iter().any(|n| n.contains(v)),
            "label" => crate::filters::label_matches(&self.labels, v),
            "status" => self.state.to_string() == v,
            "exited" => {
                self.state == State::Exited
                    && self.exit_code.map(|e| e.to_string()) == Some(v.into())
            }
            "ancestor" => self.image == v || image_id(v).is_some_and(|id| id == self.image_id),
            _ => false,
        }
    }
}

/// docker's status text for `r` at `now`.
fn status_text(r: &Record, now: Timestamp) -> String {
    let since = |t: Option<Timestamp>| human(t.map_or(0, |t| t.seconds_until(now)));
    match r.state {
        State::Created => "Created".into(),
        State::Running => match &r.health {
            Some(h) if h.status == "starting" => {
                format!("Up {} (health: starting)", since(r.started_at))
            }
            Some(h) => format!("Up {} ({})", since(r.started_at), h.status),
            None => format!("Up {}", since(r.started_at)),
        },
        State::Restarting => format!(
            "Restarting ({}) {} ago",
            r.exit_code.map_or("unknown".into(), |c| c.to_string()),
            since(r.finished_at)
        ),
        State::Exited => format!(
            "Exited ({}) {} ago",
            r.exit_code.map_or("unknown".into(), |c| c.to_string()),
            since(r.finished_at)
        ),
    }
}

impl Engine {
    /// The ID of the image `reference` names, if the store has it.
    pub fn image_id(&self, reference: &str) -> Option<String> {
        self.store.image(reference).ok().map(|i| i.id.to_string())
    }

    /// The containers, running ones only unless `all`.
    pub fn list(&self, all: bool) -> Result<Vec<Summary>, Error> {
        let now = Timestamp::now();
        let mut out = Vec::new();
        for id in self.containers.ids()? {
            let Some(r) = self.refresh(&id)? else {
                continue;
            };
            if !all && r.state != State::Running {
                continue;
            }
            let pid = match r.state {
                State::Running => self.init(&id)?.map_or(0, |o| o.pid),
                _ => 0,
            };
            let networks = match r.settings.network {
                Network::Bridge => r
                    .settings
                    .net
                    .endpoints
                    .iter()
                    .map(|e| e.network.clone())
                    .collect(),
                mode => serde_json::to_value(mode)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .into_iter()
                    .collect(),
            };
            let ports = self
                .attachment(&id)
                .map(|a| a.ports.iter().map(|m| m.published()).collect())
                .unwrap_or_default();
            let paused = r.state == State::Running && self.paused(&id);
            out.push(Summary {
                paused,
                networks,
                ports,
                labels: r.settings.labels.clone(),
                status: status_text(&r, now),
                reason: r.end_reason(),
                names: vec![r.name.clone()],
                mounts: r
                    .settings
                    .mounts
                    .iter()
                    .map(|m| m.destination().to_string())
                    .collect(),
                id: r.id,
                image: r.image,
                image_id: r.image_id,
                command: r.command,
                created: r.created,
                state: r.state,
                exit_code: r.exit_code,
                pid,
                auto_remove: r.settings.auto_remove,
            });
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.created));
        Ok(out)
    }
}
