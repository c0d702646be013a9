//! The container endpoints, each what the matching `berth` command does: list (`ps`),
//! create, inspect, start, stop, restart, kill, pause/unpause, rename, wait, resize, remove
//! (`rm`), logs, top, changes (`diff`), export, update, prune.

use crate::body::{self, ChannelBody, ChannelWriter, Reply};
use crate::create::{run_options, CreateBody};
use crate::error::ApiError;
use crate::query::Query;
use crate::{no_content, Service};
use berth_engine::filters::Filters;
use berth_engine::list::Summary;
use berth_engine::logs::LogsOptions;
use berth_engine::options::{Network, UpdateOptions, UserMount};
use berth_engine::record::{Record, State};
use berth_engine::time::Timestamp;
use berth_image::store::ChangeKind;
use bytes::Bytes;
use http::StatusCode;
use hyper::body::Incoming;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How often a wait looks whether a created container has started.
const START_POLL: Duration = Duration::from_millis(20);

/// What `POST /containers/{id}/update` may change.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    memory: i64,
    memory_swap: i64,
    memory_reservation: i64,
    nano_cpus: i64,
    cpu_period: i64,
    cpu_quota: i64,
    cpu_shares: i64,
    cpuset_cpus: String,
    cpuset_mems: String,
    blkio_weight: u16,
    pids_limit: Option<i64>,
    restart_policy: Option<crate::create::RestartPolicy>,
}

/// The filters `GET /containers/json` takes.
const LIST_FILTERS: [&str; 6] = ["id", "name", "label", "status", "exited", "ancestor"];

/// A container of the list as docker shows it.
pub(crate) fn summary_json(c: &Summary) -> Value {
    let ports: Vec<Value> = c.ports.iter().filter_map(|p| port_json(p)).collect();
    let networks: serde_json::Map<String, Value> =
        c.networks.iter().map(|n| (n.clone(), json!({}))).collect();
    json!({
        "Id": c.id,
        "Names": c.names.iter().map(|n| format!("/{n}")).collect::<Vec<_>>(),
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": c.command.join(" "),
        "Created": c.created.unix_nanos() / 1_000_000_000,
        "Ports": ports,
        "Labels": c.labels,
        "State": if c.paused { "paused".to_string() } else { c.state.to_string() },
        "Status": c.status,
        "HostConfig": {"NetworkMode": c.networks.first().map_or("none", String::as_str)},
        "NetworkSettings": {"Networks": networks},
        "Mounts": c.mounts.iter().map(|d| json!({"Destination": d})).collect::<Vec<_>>(),
    })
}

/// `0.0.0.0:8080->80/tcp` (or `80/tcp`, exposed only) as docker's port object.
fn port_json(p: &str) -> Option<Value> {
    let (host, inside) = match p.split_once("->") {
        Some((h, i)) => (Some(h), i),
        None => (None, p),
    };
    let (private, kind) = inside.split_once('/').unwrap_or((inside, "tcp"));
    let private: u16 = private.parse().ok()?;
    Some(match host.and_then(|h| h.rsplit_once(':')) {
        Some((ip, public)) => json!({
            "IP": ip.trim_matches(['[', ']']), "PrivatePort": private,
            "PublicPort": public.parse::<u16>().ok()?, "Type": kind,
        }),
        None => json!({"PrivatePort": private, "Type": kind}),
    })
}

/// `berth inspect`'s document where docker's clients read other types: the name with its
/// slash, the user as a string, ports and mounts as docker lists them.
fn docker_shape(v: &mut Value, r: &Record) {
    let s = &r.settings;
    v["Name"] = json!(format!("/{}", r.name));
    v["Config"]["User"] = json!(s.user.clone().unwrap_or_default());
    v["Config"]["Image"] = json!(r.image);
    v["Config"]["Entrypoint"] = json!(s.entrypoint);
    v["Config"]["Labels"] = json!(s.labels);
    let mut bindings = serde_json::Map::new();
    for p in &s.net.ports {
        for (i, port) in (p.container.first..=p.container.last).enumerate() {
            let host = p.host.map(|h| (h.first as usize + i).to_string());
            let b = json!({"HostIp": p.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                           "HostPort": host.unwrap_or_default()});
            let list = bindings
                .entry(format!("{port}/{}", p.proto))
                .or_insert(json!([]));
            if let Some(l) = list.as_array_mut() {
                l.push(b);
            }
        }
    }
    v["HostConfig"]["PortBindings"] = Value::Object(bindings);
    v["HostConfig"]["NetworkMode"] = json!(match s.network {
        Network::None => "none".to_string(),
        Network::Host => "host".to_string(),
        Network::Pasta => "pasta".to_string(),
        Network::Slirp4netns => "slirp4netns".to_string(),
        Network::Container => format!("container:{}", s.net.join.clone().unwrap_or_default()),
        Network::Bridge => s
            .net
            .endpoints
            .first()
            .map_or("bridge".to_string(), |e| e.network.clone()),
    });
    v["Mounts"] = Value::Array(s.mounts.iter().map(mount_json).collect());
    let log = &s.log;
    let mut config = serde_json::Map::new();
    if let Some(size) = log.max_size {
        config.insert("max-size".into(), json!(size.to_string()));
        config.insert("max-file".into(), json!(log.max_file.to_string()));
    }
    if let Some(tag) = &log.tag {
        config.insert("tag".into(), json!(tag));
    }
    if !log.env.is_empty() {
        config.insert("env".into(), json!(log.env.join(",")));
    }
    v["HostConfig"]["LogConfig"] = json!({"Type": log.driver.name(), "Config": config});
}

fn mount_json(m: &UserMount) -> Value {
    match m {
        UserMount::Bind {
            source,
            destination,
            read_only,
            propagation,
            ..
        } => json!({"Type": "bind", "Source": source, "Destination": destination,
                    "Mode": if *read_only { "ro" } else { "" }, "RW": !read_only,
                    "Propagation": propagation.clone().unwrap_or_else(|| "rprivate".into())}),
        UserMount::Volume {
            name,
            destination,
            read_only,
            ..
        } => json!({"Type": "volume", "Name": name, "Driver": "local", "Destination": destination,
                    "Mode": if *read_only { "ro" } else { "z" }, "RW": !read_only,
                    "Propagation": ""}),
        UserMount::Tmpfs { destination, .. } => json!({"Type": "tmpfs", "Source": "",
                    "Destination": destination, "Mode": "", "RW": true, "Propagation": ""}),
    }
}

/// `since`/`until` of logs: Unix seconds, with a fraction or not.
fn moment(q: &Query, key: &str) -> Result<Option<Timestamp>, ApiError> {
    let Some(v) = q.get(key).filter(|v| !v.is_empty() && *v != "0") else {
        return Ok(None);
    };
    let secs: f64 = v
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{key}={v:?}: want Unix seconds")))?;
    Ok(Some(Timestamp::from_unix_nanos((secs * 1e9) as i64)))
}

impl Service {
    pub(crate) async fn list(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let pairs = q.filters()?;
        if let Some((k, _)) = pairs
            .iter()
            .find(|(k, _)| !LIST_FILTERS.contains(&k.as_str()))
        {
            return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
        }
        // docker's clients send limit=-1 for no limit.
        let limit = q
            .number::<i64>("limit")?
            .filter(|&n| n > 0)
            .map(|n| n as usize);
        let all = q.flag("all");
        let list = self
            .blocking(move |e, _| {
                let filters = Filters::group(pairs);
                let mut list = e.list(all || limit.is_some())?;
                list.retain(|c| filters.keep(|k, v| c.passes(k, v, &|i| e.image_id(i))));
                Ok(list)
            })
            .await?;
        let take = limit.unwrap_or(usize::MAX);
        Ok(body::ok(&Value::Array(
            list.iter().take(take).map(summary_json).collect(),
        )))
    }

    pub(crate) async fn create(self: Arc<Self>, q: Query, b: Incoming) -> Result<Reply, ApiError> {
        let request: CreateBody = body::read_json(b).await?;
        let o = run_options(q.get("name").map(str::to_string), request)?;
        let id = self.blocking(move |e, _| Ok(e.create(&o)?.id)).await?;
        Ok(body::json(
            StatusCode::CREATED,
            &json!({"Id": id, "Warnings": []}),
        ))
    }

    pub(crate) async fn inspect(self: Arc<Self>, id: &str) -> Result<Reply, ApiError> {
        let id = id.to_string();
        let v = self
            .blocking(move |e, _| {
                let r = e.container(&id)?;
                let mut v = e.inspect(&r.id)?;
                docker_shape(&mut v, &r);
                Ok(v)
            })
            .await?;
        Ok(body::ok(&v))
    }

    pub(crate) async fn start(self: Arc<Self>, id: &str) -> Result<Reply, ApiError> {
        let id = id.to_string();
        self.blocking(move |e, s| {
            let r = e.container(&id)?;
            if r.state == State::Running {
                return Ok(body::status(StatusCode::NOT_MODIFIED));
            }
            let waiting = s.waiting.take(&r.id);
            if waiting.is_empty() {
                e.start(&r.id, &s.setup.monitor)?;
                return Ok(no_content());
            }
            // The first attach waits from before the program runs; the others join it.
            let first = e.start_attached(&r.id, &s.setup.monitor)?;
            let mut waiting = waiting.into_iter();
            if let Some(w) = waiting.next() {
                let _ = w.send(first);
            }
            for w in waiting {
                if let Ok(a) = e.attach(&r.id) {
                    let _ = w.send(a);
                }
            }
            Ok(no_content())
        })
        .await
    }

    pub(crate) async fn stop(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let (id, t) = (id.to_string(), q.number::<u64>("t")?);
        let signal = q
            .get("signal")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        self.blocking(move |e, _| {
            if e.container(&id)?.state != State::Running {
                return Ok(body::status(StatusCode::NOT_MODIFIED));
            }
            e.stop(&id, t.map(Duration::from_secs), signal.as_deref())?;
            Ok(no_content())
        })
        .await
    }

    pub(crate) async fn restart(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let (id, t) = (id.to_string(), q.number::<u64>("t")?);
        let signal = q
            .get("signal")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        self.blocking(move |e, s| {
            e.restart(
                &id,
                t.map(Duration::from_secs),
                signal.as_deref(),
                &s.setup.monitor,
            )?;
            Ok(no_content())
        })
        .await
    }

    pub(crate) async fn kill(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let id = id.to_string();
        let signal = q
            .get("signal")
            .filter(|s| !s.is_empty())
            .unwrap_or("KILL")
            .to_string();
        self.blocking(move |e, _| {
            e.kill(&id, &signal)?;
            Ok(no_content())
        })
        .await
    }

    pub(crate) async fn pause(self: Arc<Self>, id: &str, freeze: bool) -> Result<Reply, ApiError> {
        let id = id.to_string();
        self.blocking(move |e, _| {
            match freeze {
                true => e.pause(&id)?,
                false => e.unpause(&id)?,
            };
            Ok(no_content())
        })
        .await
    }

    pub(crate) async fn rename(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let id = id.to_string();
        let name = q
            .get("name")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::bad_request("rename: the name parameter is required"))?
            .to_string();
        self.blocking(move |e, _| {
            e.rename(&id, &name)?;
            Ok(no_content())
        })
        .await
    }

    /// `wait`: the answer's head goes out at once (docker's client sends its start only
    /// after it), the status when the condition is met.
    pub(crate) async fn wait(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let condition = q.get("condition").unwrap_or("not-running").to_string();
        if !["not-running", "next-exit", "removed", ""].contains(&condition.as_str()) {
            return Err(ApiError::bad_request(format!(
                "wait: condition {condition:?}: want not-running, next-exit or removed"
            )));
        }
        let id = id.to_string();
        // An unknown container is a 404 before the head goes out.
        let id = self.blocking(move |e, _| Ok(e.container(&id)?.id)).await?;
        let (tx, reply_body) = ChannelBody::channel(1);
        let me = Arc::clone(&self);
        tokio::spawn(async move {
            // The polls stop when the client is gone (a wait on a process's exit holds its
            // thread until that exit, as dockerd's does).
            let client = tx.clone();
            let wanted = move || !client.is_closed();
            let outcome = me
                .blocking(move |e, _| {
                    let r = e.container(&id)?;
                    let code = match condition.as_str() {
                        "next-exit" | "removed" => e.wait_next_exit(&id, START_POLL, &wanted)?,
                        _ if r.state == State::Created => Some(0),
                        _ => Some(e.wait(&id)?),
                    };
                    if condition == "removed" {
                        while wanted() && e.container(&id).is_ok() {
                            std::thread::sleep(START_POLL * 5);
                        }
                    }
                    Ok(code)
                })
                .await;
            let v = match outcome {
                Ok(Some(code)) => json!({"StatusCode": code, "Error": null}),
                Ok(None) => return,
                Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.message}}),
            };
            let _ = tx.send(Bytes::from(v.to_string())).await;
        });
        Ok(body::stream("application/json", reply_body))
    }

    pub(crate) async fn resize(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let id = id.to_string();
        let (h, w) = (q.number::<u16>("h")?, q.number::<u16>("w")?);
        self.blocking(move |e, _| {
            let a = e.attach(&id)?;
            a.input()
                .and_then(|i| i.resize(h.unwrap_or(0), w.unwrap_or(0)))
                .map_err(|err| ApiError::internal(format!("resize {id}: {err}")))?;
            Ok(body::status(StatusCode::OK))
        })
        .await
    }

    pub(crate) async fn remove(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let (id, force, volumes) = (id.to_string(), q.flag("force"), q.flag("v"));
        if q.flag("link") {
            return Err(ApiError::not_supported("removing a link (links)"));
        }
        self.blocking(move |e, _| {
            e.container(&id)?;
            e.remove(&id, force, volumes)?;
            Ok(no_content())
        })
        .await
    }

    /// `logs`: docker's frames (raw bytes for a container with a terminal), streamed as they
    /// are read; with `follow`, until the container ends or the client goes.
    pub(crate) async fn logs(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let (stdout, stderr) = (q.flag("stdout"), q.flag("stderr"));
        if !stdout && !stderr {
            return Err(ApiError::bad_request("you must choose at least one stream"));
        }
        let o = LogsOptions {
            follow: q.flag("follow"),
            tail: match q.get("tail") {
                None | Some("" | "all") => None,
                Some(_) => q.number::<usize>("tail")?,
            },
            since: moment(&q, "since")?,
            until: moment(&q, "until")?,
        };
        let timestamps = q.flag("timestamps");
        let id = id.to_string();
        let tty = {
            let id = id.clone();
            self.blocking(move |e, _| Ok(e.container(&id)?.settings.tty))
                .await?
        };
        let (tx, reply_body) = ChannelBody::channel(64);
        let me = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            let Ok(engine) = me.engine() else { return };
            let outcome = engine.logs(&id, &o, &mut |entry| {
                let Some(chunk) = log_chunk(entry, (stdout, stderr), timestamps, tty) else {
                    return Ok(());
                };
                tx.blocking_send(chunk)
                    .map_err(|_| std::io::Error::other("the client went away"))
            });
            if let Err(e) = outcome {
                tracing::debug!("logs {id}: {e}");
            }
        });
        Ok(body::stream(body::output_type(tty), reply_body))
    }

    /// `GET /containers/{id}/changes`: docker's kinds, 0 changed, 1 added, 2 deleted.
    pub(crate) async fn changes(self: Arc<Self>, id: &str) -> Result<Reply, ApiError> {
        let id = id.to_string();
        let changes = self.blocking(move |e, _| Ok(e.diff(&id)?)).await?;
        let list: Vec<Value> = changes
            .iter()
            .map(|c| {
                let kind = match c.kind {
                    ChangeKind::Changed => 0,
                    ChangeKind::Added => 1,
                    ChangeKind::Deleted => 2,
                };
                json!({"Path": c.path, "Kind": kind})
            })
            .collect();
        Ok(body::ok(&Value::Array(list)))
    }

    /// `GET /containers/{id}/export`: its root filesystem as a tar, as `berth export`.
    pub(crate) async fn export(self: Arc<Self>, id: &str) -> Result<Reply, ApiError> {
        let id = id.to_string();
        // An unknown container is a 404 before the stream starts.
        let id = {
            let id = id.clone();
            self.blocking(move |e, _| Ok(e.container(&id)?.id)).await?
        };
        let (tx, reply_body) = ChannelBody::channel(16);
        let me = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            let Ok(engine) = me.engine() else { return };
            let mut w = std::io::BufWriter::with_capacity(1 << 20, ChannelWriter(tx));
            // A failure half-way leaves the client a short tar, as dockerd's does.
            if let Err(e) = engine.export(&id, &mut w) {
                tracing::warn!("export {id}: {e}");
            }
            let _ = std::io::Write::flush(&mut w);
        });
        Ok(body::stream("application/x-tar", reply_body))
    }

    /// `POST /containers/{id}/update`: the limits `berth update` changes.
    pub(crate) async fn update(self: Arc<Self>, id: &str, b: Incoming) -> Result<Reply, ApiError> {
        let u: UpdateBody = body::read_json(b).await?;
        let positive = |n: i64| (n > 0).then(|| n.to_string());
        let o = UpdateOptions {
            memory: positive(u.memory),
            memory_swap: (u.memory_swap != 0).then(|| u.memory_swap.to_string()),
            memory_reservation: positive(u.memory_reservation),
            cpus: (u.nano_cpus > 0).then(|| format!("{}", u.nano_cpus as f64 / 1e9)),
            cpu_period: (u.cpu_period > 0).then_some(u.cpu_period as u64),
            cpu_quota: (u.cpu_quota > 0).then_some(u.cpu_quota),
            cpu_shares: (u.cpu_shares > 0).then_some(u.cpu_shares as u64),
            cpuset_cpus: (!u.cpuset_cpus.is_empty()).then_some(u.cpuset_cpus),
            cpuset_mems: (!u.cpuset_mems.is_empty()).then_some(u.cpuset_mems),
            blkio_weight: (u.blkio_weight > 0).then_some(u.blkio_weight),
            pids_limit: u.pids_limit.filter(|&p| p != 0),
            restart: u.restart_policy.filter(|p| !p.name.is_empty()).map(|p| {
                match p.maximum_retry_count {
                    n if n > 0 && p.name == "on-failure" => format!("on-failure:{n}"),
                    _ => p.name,
                }
            }),
        };
        let id = id.to_string();
        self.blocking(move |e, _| {
            e.update_container(&id, &o)?;
            Ok(body::ok(&json!({"Warnings": []})))
        })
        .await
    }

    pub(crate) async fn top(self: Arc<Self>, id: &str, q: Query) -> Result<Reply, ApiError> {
        let id = id.to_string();
        let args: Vec<String> = q
            .get("ps_args")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let table = self.blocking(move |e, _| Ok(e.top(&id, &args)?)).await?;
        Ok(body::ok(&top_json(&table)))
    }

    pub(crate) async fn prune(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let pairs = q.filters()?;
        if let Some((k, _)) = pairs.iter().find(|(k, _)| k != "label") {
            return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
        }
        let removed = self
            .blocking(move |e, _| {
                let filters = Filters::group(pairs);
                Ok(e.prune_containers(&|r| {
                    filters.keep(|_, v| berth_engine::filters::label_matches(&r.settings.labels, v))
                })?)
            })
            .await?;
        let space: u64 = removed.iter().map(|(_, s)| s).sum();
        Ok(body::ok(&json!({
            "ContainersDeleted": removed.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            "SpaceReclaimed": space,
        })))
    }
}

/// `ps` output as docker's `top` answer: the titles, then each process's columns (the last
/// one, the command, keeps its spaces).
fn top_json(table: &str) -> Value {
    let mut lines = table.lines().filter(|l| !l.trim().is_empty());
    let titles: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let n = titles.len().max(1);
    let processes: Vec<Vec<String>> = lines
        .map(|l| {
            let mut cols: Vec<String> = Vec::with_capacity(n);
            let mut rest = l.trim_start();
            while cols.len() + 1 < n {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                cols.push(rest[..end].to_string());
                rest = rest[end..].trim_start();
            }
            cols.push(rest.to_string());
            cols
        })
        .collect();
    json!({"Titles": titles, "Processes": processes})
}

/// A log entry as the client reads it: a frame of its stream (raw bytes with a terminal),
/// with its time first when asked; none when its stream was not asked for.
pub(crate) fn log_chunk(
    entry: &berth_engine::logging::Entry,
    (stdout, stderr): (bool, bool),
    timestamps: bool,
    tty: bool,
) -> Option<Bytes> {
    let kind = match entry.stream {
        berth_engine::logging::Stream::Stdout if stdout => 1,
        berth_engine::logging::Stream::Stderr if stderr => 2,
        _ => return None,
    };
    let mut data = Vec::with_capacity(entry.text.len() + 32);
    if timestamps {
        if let Some(t) = entry.time {
            data.extend_from_slice(format!("{t} ").as_bytes());
        }
    }
    data.extend_from_slice(&entry.text);
    Some(match tty {
        true => Bytes::from(data),
        false => body::frame(kind, &data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_top_tables_take_dockers_shape() {
        assert_eq!(
            port_json("0.0.0.0:8080->80/tcp").unwrap(),
            json!({"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"})
        );
        assert_eq!(
            port_json("[::]:53->53/udp").unwrap(),
            json!({"IP": "::", "PrivatePort": 53, "PublicPort": 53, "Type": "udp"})
        );
        assert_eq!(
            port_json("443/tcp").unwrap(),
            json!({"PrivatePort": 443, "Type": "tcp"})
        );
        let t = top_json("UID  PID  CMD\nroot 1    sh -c sleep 9\n");
        assert_eq!(t["Titles"], json!(["UID", "PID", "CMD"]));
        assert_eq!(t["Processes"], json!([["root", "1", "sh -c sleep 9"]]));
    }
}
