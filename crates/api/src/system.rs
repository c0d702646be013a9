//! `_ping`, `version`, `info`.

use crate::body::{self, ChannelBody, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::{Service, API_VERSION, MIN_API_VERSION};
use berth_engine::filters::Filters;
use berth_engine::journal::{Event, Journal};
use berth_engine::time::Timestamp;
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How often a followed journal is read again.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// The filters `GET /events` takes.
const EVENT_FILTERS: [&str; 6] = ["type", "event", "container", "image", "name", "label"];

pub fn ping() -> Reply {
    let mut r = http::Response::new(body::full("OK"));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        "cache-control",
        http::HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    r
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn version() -> Reply {
    let version = env!("CARGO_PKG_VERSION");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    body::ok(&json!({
        "Platform": {"Name": "berth"},
        "Components": [{"Name": "Engine", "Version": version,
                        "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                                    "Os": "linux", "Arch": arch(), "KernelVersion": kernel.trim()}}],
        "Version": version,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel.trim(),
        "BuildTime": "",
    }))
}

impl Service {
    pub(crate) async fn info(self: Arc<Self>) -> Result<Reply, ApiError> {
        let (info, root) = self
            .blocking(|e, s| Ok((e.info()?, s.setup.root.clone())))
            .await?;
        let mut v =
            serde_json::to_value(&info).map_err(|e| ApiError::internal(format!("info: {e}")))?;
        if let Some(m) = v.as_object_mut() {
            m.insert("DockerRootDir".into(), json!(root));
            m.insert("Runtimes".into(), json!({"berth": {"path": "berth"}}));
            m.insert("Swarm".into(), json!({"LocalNodeState": "inactive"}));
            m.insert("Plugins".into(), json!({"Volume": ["local"], "Network": ["bridge", "host", "none"], "Log": ["json-file", "k8s-file", "journald", "none"]}));
            m.insert(
                "IndexServerAddress".into(),
                json!("https://index.docker.io/v1/"),
            );
            m.insert(
                "RegistryConfig".into(),
                json!({"IndexConfigs": {}, "InsecureRegistryCIDRs": []}),
            );
            m.insert("Labels".into(), json!([]));
            m.insert("ExperimentalBuild".into(), json!(false));
        }
        Ok(body::ok(&v))
    }

    /// `GET /events`: the journal `berth events` reads, streamed; the past only with
    /// `since`, until `until` or the client goes.
    pub(crate) async fn events(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let now = Timestamp::now();
        let moment = |key: &str| -> Result<Option<Timestamp>, ApiError> {
            match q.get(key).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => Timestamp::from_user(v, now).map(Some).ok_or_else(|| {
                    ApiError::bad_request(format!("{key}={v:?}: want Unix seconds or RFC 3339"))
                }),
            }
        };
        let (since, until) = (moment("since")?, moment("until")?);
        let pairs = q.filters()?;
        if let Some((k, _)) = pairs
            .iter()
            .find(|(k, _)| !EVENT_FILTERS.contains(&k.as_str()))
        {
            return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
        }
        let filters = Filters::group(pairs);
        let journal = Journal::new(&self.setup.root);
        let (tx, reply_body) = ChannelBody::channel(64);
        tokio::task::spawn_blocking(move || {
            let keep = |e: &Event| {
                until.is_none_or(|u| e.time_nano < u.unix_nanos())
                    && filters.keep(|k, v| e.passes(k, v))
            };
            let send = |events: Vec<Event>| {
                events.iter().filter(|e| keep(e)).all(|e| {
                    let line = serde_json::to_string(e).unwrap_or_default() + "\n";
                    tx.blocking_send(Bytes::from(line)).is_ok()
                })
            };
            let Ok((past, mut offset)) = journal.read(since) else {
                return;
            };
            if since.is_some() && !send(past) {
                return;
            }
            while until.is_none_or(|u| Timestamp::now() < u) && !tx.is_closed() {
                std::thread::sleep(FOLLOW_POLL);
                let Ok((new, end)) = journal.follow(offset) else {
                    return;
                };
                offset = end;
                if !send(new) {
                    return;
                }
            }
        });
        Ok(body::stream("application/json", reply_body))
    }
}

impl Service {
    /// `GET /system/df`: every image, container and volume with the space it takes, from
    /// which docker's `system df` makes its table (build cache: berth's is images, listed
    /// with them).
    pub(crate) async fn df(self: Arc<Self>) -> Result<Reply, ApiError> {
        self.blocking(|e, _| {
            let d = e.disk_usage()?;
            let mut images = crate::images::list(e.store(), &Filters::default())?;
            for i in &mut images {
                let users = i["Id"]
                    .as_str()
                    .and_then(|id| d.image_containers.get(id).copied())
                    .unwrap_or(0);
                i["Containers"] = json!(users);
                i["SharedSize"] = json!(0);
            }
            let containers: Vec<serde_json::Value> = e
                .list(true)?
                .iter()
                .map(|c| {
                    let mut v = crate::containers::summary_json(c);
                    v["SizeRw"] = json!(d.container_sizes.get(&c.id).copied().unwrap_or(0));
                    v
                })
                .collect();
            let volumes: Vec<serde_json::Value> = e
                .volumes()?
                .iter()
                .map(|v| {
                    let mut j = v.inspect_json();
                    let size = d.volume_sizes.get(&v.volume.name).copied().unwrap_or(0);
                    j["UsageData"] = json!({"Size": size, "RefCount": v.containers.len()});
                    j
                })
                .collect();
            Ok(body::ok(&json!({
                "LayersSize": d.images.size, "Images": images, "Containers": containers,
                "Volumes": volumes, "BuildCache": [],
            })))
        })
        .await
    }
}
