//! The image endpoints that move images: pull (`POST /images/create`, with docker's JSON
//! progress stream), push, save (`GET /images/get`) and load (`POST /images/load`), and
//! the ones that name them: tag, remove. Registry credentials come from the request's
//! `X-Registry-Auth`, else from what `berth login` saved.

use crate::body::{self, ChannelBody, ChannelReader, ChannelWriter, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::Service;
use base64::Engine as _;
use berth_engine::images::Images;
use berth_image::archive::{self, Format};
use berth_image::progress::Progress;
use berth_image::registry::{self, Credentials, Platform, PullOptions, RegistryConfig};
use berth_image::Reference;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Layers fetched at once by a pull, as `berth pull`'s default.
const PARALLEL_LAYERS: usize = 4;

/// A `Downloading` line at most every this many bytes of a layer.
const PROGRESS_STEP: u64 = 512 * 1024;

/// The credentials of `X-Registry-Auth` (base64url JSON, padded or not); none when absent
/// or empty (`{}`).
fn registry_auth(headers: &HeaderMap) -> Result<Option<Credentials>, ApiError> {
    let Some(raw) = headers.get("x-registry-auth") else {
        return Ok(None);
    };
    let raw = raw.as_bytes();
    let bad = |why: String| ApiError::bad_request(format!("X-Registry-Auth: {why}"));
    let decoded = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .map_err(|e| bad(e.to_string()))?;
    let v: Value = serde_json::from_slice(&decoded).map_err(|e| bad(e.to_string()))?;
    let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    if !field("identitytoken").is_empty() {
        return Err(ApiError::not_supported(
            "identity tokens in X-Registry-Auth",
        ));
    }
    let (username, password) = (field("username"), field("password"));
    Ok((!username.is_empty()).then_some(Credentials { username, password }))
}

/// docker's progress stream: one JSON object a line.
struct JsonProgress {
    tx: mpsc::Sender<Bytes>,
    /// Per transfer: bytes done, total, and the bytes done at the last line sent.
    transfers: Mutex<HashMap<String, (u64, u64, u64)>>,
}

impl JsonProgress {
    fn new(tx: mpsc::Sender<Bytes>) -> Self {
        JsonProgress {
            tx,
            transfers: Mutex::new(HashMap::new()),
        }
    }

    fn send(&self, v: Value) {
        // A client gone away ends the stream; the transfer itself finishes regardless, as
        // dockerd's does.
        let _ = self.tx.blocking_send(Bytes::from(format!("{v}\r\n")));
    }

    fn status(&self, status: &str) {
        self.send(json!({ "status": status }));
    }

    fn error(&self, message: &str) {
        self.send(json!({"errorDetail": {"message": message}, "error": message}));
    }
}

impl Progress for JsonProgress {
    fn begin(&self, id: &str, _label: &str, total: u64) {
        if let Ok(mut t) = self.transfers.lock() {
            t.insert(id.to_string(), (0, total, 0));
        }
        self.send(json!({"status": "Waiting", "progressDetail": {}, "id": id}));
    }

    fn advance(&self, id: &str, n: u64) {
        let line = self.transfers.lock().ok().and_then(|mut t| {
            let e = t.get_mut(id)?;
            e.0 += n;
            (e.0 - e.2 >= PROGRESS_STEP || e.0 == e.1).then(|| {
                e.2 = e.0;
                (e.0, e.1)
            })
        });
        if let Some((current, total)) = line {
            self.send(json!({"status": "Downloading", "id": id,
                "progressDetail": {"current": current, "total": total}}));
        }
    }

    fn finish(&self, id: &str, status: &str) {
        let status = match status {
            "exists" => "Already exists",
            "mounted" => "Mounted from another repository",
            "done" => "Download complete",
            other => other,
        };
        self.send(json!({"status": status, "progressDetail": {}, "id": id}));
    }

    fn message(&self, msg: &str) {
        self.status(msg);
    }
}

/// `fromImage` and `tag` as one reference (`tag` may be a digest).
fn reference(q: &Query) -> Result<Reference, ApiError> {
    let image = q
        .get("fromImage")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("fromImage is required"))?;
    let full = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(d) if d.contains(':') => format!("{image}@{d}"),
        Some(t) => format!("{image}:{t}"),
        None => image.to_string(),
    };
    Reference::parse(&full).map_err(|e| ApiError::bad_request(format!("{full}: {e}")))
}

impl Service {
    fn registry_config(
        &self,
        credentials: Option<Credentials>,
    ) -> Result<RegistryConfig, ApiError> {
        let mut cfg = RegistryConfig::load(&self.setup.config)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        cfg.credentials = credentials;
        Ok(cfg)
    }

    /// `POST /images/create?fromSrc=-|URL&repo=&tag=&changes=&message=`: `berth import` of
    /// the request body or of an http(s) URL's (a root filesystem tar); docker's answer, the
    /// image ID as a status line.
    pub(crate) async fn import(self: Arc<Self>, q: Query, b: Incoming) -> Result<Reply, ApiError> {
        let url = match q.get("fromSrc").unwrap_or_default() {
            "-" => None,
            u if archive::is_url(u) => Some(u.to_string()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "fromSrc {other:?}: neither - (the request body) nor an http(s) URL"
                )))
            }
        };
        let name = match (q.get("repo").filter(|r| !r.is_empty()), q.get("tag")) {
            (None, _) => "imported".to_string(),
            (Some(r), Some(t)) if !t.is_empty() => format!("{r}:{t}"),
            (Some(r), _) => r.to_string(),
        };
        let reference = Reference::parse_local(&name)
            .map_err(|e| ApiError::bad_request(format!("{name}: {e}")))?;
        let opts = archive::ImportOptions {
            changes: q.all("changes"),
            message: q.get("message").filter(|m| !m.is_empty()).map(String::from),
        };
        let mut reader = ChannelReader::new(b);
        let id = self
            .blocking(move |e, s| {
                let bad = |err: archive::ArchiveError| ApiError::bad_request(err.to_string());
                let image = match &url {
                    Some(u) => {
                        let mut body = std::io::BufReader::new(archive::fetch(u).map_err(bad)?);
                        archive::import(e.store(), &mut body, &reference, &opts, u)
                    }
                    None => {
                        archive::import(e.store(), &mut reader, &reference, &opts, "request body")
                    }
                }
                .map_err(bad)?;
                let id = image.id.to_string();
                Images::new(e.store(), &s.setup.root).image_event(
                    "import",
                    &id,
                    &reference.to_string(),
                );
                Ok(id)
            })
            .await?;
        let text = json!({"status": id}).to_string() + "\r\n";
        Ok(body::stream("application/json", body::full(text)))
    }

    /// `POST /images/create?fromImage=&tag=`: a pull.
    pub(crate) async fn pull(
        self: Arc<Self>,
        q: Query,
        headers: &HeaderMap,
    ) -> Result<Reply, ApiError> {
        let platform = match q.get("platform").filter(|p| !p.is_empty()) {
            Some(p) => p
                .parse::<Platform>()
                .map_err(|e| ApiError::bad_request(format!("platform {p:?}: {e}")))?,
            None => Platform::host(),
        };
        let reference = reference(&q)?;
        let opts = PullOptions {
            platform,
            config: self.registry_config(registry_auth(headers)?)?,
            parallel: PARALLEL_LAYERS,
        };
        let (tx, reply_body) = ChannelBody::channel(64);
        let me = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            let progress = JsonProgress::new(tx);
            let name = reference.to_string();
            progress.send(
                json!({"status": format!("Pulling from {}", reference.repository()),
                                 "id": reference.tag().unwrap_or("latest")}),
            );
            let pulled = berth_image::store::Store::open(&me.setup.root)
                .map_err(|e| e.to_string())
                .and_then(|store| {
                    let img = registry::pull(&store, &reference, &opts, &progress)
                        .map_err(|e| format!("pulling {name}: {e}"))?;
                    Images::new(&store, &me.setup.root).image_event(
                        "pull",
                        &img.id.to_string(),
                        &name,
                    );
                    Ok(img)
                });
            match pulled {
                Ok(img) => {
                    progress.status(&format!("Digest: {}", img.manifest_digest));
                    progress.status(&format!("Status: {name} is in the store"));
                }
                Err(e) => progress.error(&e),
            }
        });
        Ok(body::stream("application/json", reply_body))
    }

    /// `POST /auth`: checks credentials against the registry, as `docker login` asks; they
    /// are kept by the client (which sends them back in `X-Registry-Auth`), not here.
    pub(crate) async fn auth(self: Arc<Self>, b: Incoming) -> Result<Reply, ApiError> {
        let v: Value = body::read_json(b).await?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let (username, password) = (field("username"), field("password"));
        let server = field("serveraddress");
        let host = server
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let host = match host.as_str() {
            "" | "index.docker.io" => "docker.io".to_string(),
            _ => host,
        };
        let cfg = self.registry_config(None)?;
        let checked = tokio::task::spawn_blocking(move || {
            registry::Client::new(&host, &cfg, Some(Credentials { username, password }))
                .and_then(|c| c.verify_login())
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
        match checked {
            Ok(()) => Ok(body::ok(
                &json!({"Status": "Login Succeeded", "IdentityToken": ""}),
            )),
            Err(e) => Err(ApiError::new(StatusCode::UNAUTHORIZED, e.to_string())),
        }
    }

    /// `POST /images/{name}/push?tag=`.
    pub(crate) async fn push(
        self: Arc<Self>,
        name: &str,
        q: Query,
        headers: &HeaderMap,
    ) -> Result<Reply, ApiError> {
        let full = match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{name}:{t}"),
            None => name.to_string(),
        };
        let dest =
            Reference::parse(&full).map_err(|e| ApiError::bad_request(format!("{full}: {e}")))?;
        let cfg = self.registry_config(registry_auth(headers)?)?;
        // An image that is not here is a 404 before the stream starts.
        let image = {
            let full = full.clone();
            self.blocking(move |e, _| Ok(e.store().image(&full)?))
                .await?
        };
        let (tx, reply_body) = ChannelBody::channel(64);
        let me = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            let progress = JsonProgress::new(tx);
            progress.status(&format!(
                "The push refers to repository [{}]",
                dest.repository()
            ));
            let pushed = berth_image::store::Store::open(&me.setup.root)
                .map_err(|e| e.to_string())
                .and_then(|store| {
                    let digest = registry::push(&store, &image, &dest, &cfg, &progress)
                        .map_err(|e| format!("pushing {full}: {e}"))?;
                    Images::new(&store, &me.setup.root).image_event(
                        "push",
                        &image.id.to_string(),
                        &full,
                    );
                    Ok(digest)
                });
            match pushed {
                Ok(digest) => progress.status(&format!(
                    "{}: digest: {digest}",
                    dest.tag().unwrap_or("latest")
                )),
                Err(e) => progress.error(&e),
            }
        });
        Ok(body::stream("application/json", reply_body))
    }

    /// `POST /images/{name}/tag?repo=&tag=`.
    pub(crate) async fn tag(self: Arc<Self>, name: &str, q: Query) -> Result<Reply, ApiError> {
        let repo = q
            .get("repo")
            .filter(|r| !r.is_empty())
            .ok_or_else(|| ApiError::bad_request("tag: repo is required"))?;
        let new = match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        };
        let name = name.to_string();
        self.blocking(move |e, s| {
            Images::new(e.store(), &s.setup.root).tag_image(&name, &new)?;
            Ok(body::status(StatusCode::CREATED))
        })
        .await
    }

    /// `DELETE /images/{name}?force=`: docker's list of what was untagged and deleted.
    pub(crate) async fn remove_image(
        self: Arc<Self>,
        name: &str,
        q: Query,
    ) -> Result<Reply, ApiError> {
        let (name, force) = (name.to_string(), q.flag("force"));
        self.blocking(move |e, s| {
            let images = Images::new(e.store(), &s.setup.root);
            let id = e.store().image(&name)?.id.to_string();
            let untagged = images.untag_image(&name, force)?;
            let mut out: Vec<Value> = untagged
                .names
                .iter()
                .map(|n| json!({ "Untagged": n }))
                .collect();
            images.collect(&name)?;
            if e.store().image(&id).is_err() {
                out.push(json!({ "Deleted": id }));
            }
            Ok(body::ok(&Value::Array(out)))
        })
        .await
    }

    /// `GET /images/{name}/get` and `GET /images/get?names=`: a docker-archive tar.
    pub(crate) async fn save(self: Arc<Self>, names: Vec<String>) -> Result<Reply, ApiError> {
        if names.is_empty() {
            return Err(ApiError::bad_request("save: no image named"));
        }
        let images = {
            let names = names.clone();
            self.blocking(move |e, s| {
                let journal = Images::new(e.store(), &s.setup.root);
                let mut out = Vec::new();
                for n in &names {
                    let img = e.store().image(n)?;
                    journal.image_event("save", &img.id.to_string(), n);
                    let refs = archive::names_to_save(&img, n);
                    out.push((img, refs));
                }
                Ok(out)
            })
            .await?
        };
        let (tx, reply_body) = ChannelBody::channel(16);
        let me = Arc::clone(&self);
        tokio::task::spawn_blocking(move || {
            let saved = berth_image::store::Store::open(&me.setup.root)
                .map_err(|e| e.to_string())
                .and_then(|store| {
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, ChannelWriter(tx));
                    archive::save(&store, &images, Format::DockerArchive, &mut w, "response")
                        .map_err(|e| e.to_string())?;
                    w.flush().map_err(|e| e.to_string())
                });
            // The tar is cut short: the client sees a truncated archive, as with dockerd.
            if let Err(e) = saved {
                tracing::warn!("save {}: {e}", names.join(" "));
            }
        });
        Ok(body::stream("application/x-tar", reply_body))
    }

    /// `POST /images/load`: a docker- or OCI-archive tar as the body.
    pub(crate) async fn load(self: Arc<Self>, b: Incoming) -> Result<Reply, ApiError> {
        let mut reader = ChannelReader::new(b);
        let loaded = self
            .blocking(move |e, s| {
                let names = archive::load(e.store(), &mut reader, "request body")
                    .map_err(|err| ApiError::bad_request(err.to_string()))?;
                let journal = Images::new(e.store(), &s.setup.root);
                for n in &names {
                    journal.image_event("load", &n.to_string(), &n.to_string());
                }
                Ok(names)
            })
            .await?;
        let text: String = loaded
            .iter()
            .map(|n| json!({"stream": format!("Loaded image: {n}\n")}).to_string() + "\r\n")
            .collect();
        Ok(body::stream("application/json", body::full(text)))
    }
}
