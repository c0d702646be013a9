//! The image endpoints: list and inspect, from the store `berth images` reads.

use crate::body::{self, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::Service;
use berth_engine::commit::CommitOptions;
use berth_engine::filters::{image_passes, Filters};
use berth_engine::time::Timestamp;
use berth_image::store::{Image, Store};
use serde_json::{json, Value};
use std::sync::Arc;

/// The filters `GET /images/json` takes.
const LIST_FILTERS: [&str; 5] = ["reference", "label", "dangling", "before", "since"];

fn created_unix(img: &Image) -> i64 {
    img.config
        .created()
        .as_deref()
        .and_then(Timestamp::parse)
        .map_or(0, |t| t.unix_nanos() / 1_000_000_000)
}

fn size(img: &Image) -> u64 {
    img.manifest.layers().iter().map(|l| l.size()).sum()
}

fn labels(img: &Image) -> std::collections::BTreeMap<String, String> {
    img.config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .map(|l| l.into_iter().collect())
        .unwrap_or_default()
}

fn tags(img: &Image) -> Vec<String> {
    img.names
        .iter()
        .filter(|n| n.tag().is_some())
        .map(ToString::to_string)
        .collect()
}

fn digests(img: &Image) -> Vec<String> {
    img.names
        .iter()
        .map(|n| format!("{}@{}", n.name(), img.manifest_digest))
        .collect()
}

pub(crate) fn list(store: &Store, filters: &Filters) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in store.records()? {
        let img = store.image_by_manifest(&r.manifest)?;
        let (name, tag) = (
            r.reference.name().to_string(),
            r.reference.tag().unwrap_or("<none>"),
        );
        if !filters.keep(|k, v| image_passes(store, &img, &name, tag, k, v))
            || !seen.insert(img.id.to_string())
        {
            continue;
        }
        let size = size(&img);
        out.push(json!({
            "Id": img.id.to_string(),
            "ParentId": "",
            "RepoTags": tags(&img),
            "RepoDigests": digests(&img),
            "Created": created_unix(&img),
            "Size": size,
            "VirtualSize": size,
            "SharedSize": -1,
            "Labels": labels(&img),
            "Containers": -1,
        }));
    }
    Ok(out)
}

fn inspect(store: &Store, name: &str) -> Result<Value, ApiError> {
    let img = store.image(name)?;
    let config: Value = serde_json::from_slice(&store.read_blob(&img.id)?)
        .map_err(|e| ApiError::internal(format!("config of {name}: {e}")))?;
    let size = size(&img);
    Ok(json!({
        "Id": img.id.to_string(),
        "RepoTags": tags(&img),
        "RepoDigests": digests(&img),
        "Parent": "",
        "Comment": "",
        "Created": config.get("created"),
        "Author": config.get("author").cloned().unwrap_or(json!("")),
        "Config": config.get("config"),
        "Architecture": config.get("architecture"),
        "Os": config.get("os"),
        "Size": size,
        "VirtualSize": size,
        "RootFS": config.get("rootfs"),
        "GraphDriver": {"Name": "overlay2", "Data": null},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }))
}

impl Service {
    pub(crate) async fn images(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let pairs = q.filters()?;
        if let Some((k, _)) = pairs
            .iter()
            .find(|(k, _)| !LIST_FILTERS.contains(&k.as_str()))
        {
            return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
        }
        let v = self
            .blocking(move |e, _| list(e.store(), &Filters::group(pairs)))
            .await?;
        Ok(body::ok(&Value::Array(v)))
    }

    /// `GET /images/{name}/history`: newest first, as docker lists it.
    pub(crate) async fn history(self: Arc<Self>, name: &str) -> Result<Reply, ApiError> {
        let name = name.to_string();
        let img = self
            .blocking(move |e, _| Ok(e.store().image(&name)?))
            .await?;
        let mut sizes = img.manifest.layers().iter().map(|l| l.size()).rev();
        let history = img.config.history().clone().unwrap_or_default();
        let rows: Vec<Value> = history
            .iter()
            .rev()
            .enumerate()
            .map(|(i, h)| {
                let size = match h.empty_layer().unwrap_or(false) {
                    true => 0,
                    false => sizes.next().unwrap_or(0),
                };
                let created = h
                    .created()
                    .as_deref()
                    .and_then(Timestamp::parse)
                    .map_or(0, |t| t.unix_nanos() / 1_000_000_000);
                json!({
                    "Id": if i == 0 { img.id.to_string() } else { "<missing>".into() },
                    "Created": created,
                    "CreatedBy": h.created_by().clone().unwrap_or_default(),
                    "Tags": if i == 0 { tags(&img) } else { Vec::new() },
                    "Size": size,
                    "Comment": h.comment().clone().unwrap_or_default(),
                })
            })
            .collect();
        Ok(body::ok(&Value::Array(rows)))
    }

    /// `POST /images/prune`: berth keeps no dangling images; with `dangling=false`, every
    /// image no container uses goes (docker's `image prune -a`).
    pub(crate) async fn prune_images(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let all = q
            .filters()?
            .iter()
            .any(|(k, v)| k == "dangling" && (v == "false" || v == "0"));
        let gone = self.blocking(move |e, _| Ok(e.prune_images(all)?)).await?;
        let gone: Vec<Value> = gone.iter().map(|n| json!({ "Untagged": n })).collect();
        Ok(body::ok(
            &json!({"ImagesDeleted": gone, "SpaceReclaimed": 0}),
        ))
    }

    /// `POST /commit?container=&repo=&tag=`: `berth commit`; the body's config is not
    /// applied (docker's client sends none; `changes` are the Dockerfile instructions).
    pub(crate) async fn commit(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let container = q
            .get("container")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ApiError::bad_request("commit: container is required"))?
            .to_string();
        let reference = q.get("repo").filter(|r| !r.is_empty()).map(|r| {
            match q.get("tag").filter(|t| !t.is_empty()) {
                Some(t) => format!("{r}:{t}"),
                None => r.to_string(),
            }
        });
        let text = |k: &str| q.get(k).filter(|v| !v.is_empty()).map(str::to_string);
        let o = CommitOptions {
            reference,
            author: text("author"),
            message: text("comment"),
            changes: q
                .all("changes")
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect(),
            pause: q.get("pause").is_none_or(|p| p == "1" || p == "true"),
        };
        let id = self
            .blocking(move |e, _| Ok(e.commit(&container, &o)?.id.to_string()))
            .await?;
        Ok(body::json(http::StatusCode::CREATED, &json!({ "Id": id })))
    }

    pub(crate) async fn image(self: Arc<Self>, name: &str) -> Result<Reply, ApiError> {
        let name = name.to_string();
        let v = self.blocking(move |e, _| inspect(e.store(), &name)).await?;
        Ok(body::ok(&v))
    }
}
