//! `update`: change the resource limits of a created, running or paused container. The
//! request is merged into the resources saved with the container (runc's rule: unchanged
//! values can be omitted), the sections it touches are applied, and the merged resources are
//! saved for the next `update`.

use crate::cgroup::{self, load, manager};
use crate::state::Status;
use crate::{Error, Runtime};
use oci_spec::runtime::{LinuxResources, Spec};
use serde_json::{Map, Value};

/// Applies `request` to container `id` and saves the result.
pub fn update(rt: &Runtime, id: &str, request: &LinuxResources) -> Result<(), Error> {
    let (dir, mut saved) = load(
        rt,
        id,
        &[Status::Created, Status::Running, Status::Paused],
        "update it",
    )?;
    let cg = manager(&saved, "update its resources")?.clone();
    let request = request_value(request)?;
    let config = merged_config(&saved.config, &request)?;
    cg.update(&to_apply(&config, &request, saved.rootless)?)?;
    saved.config = config;
    dir.save(&saved).map_err(Error::from)
}

/// The request as JSON, holding only what it sets. A pids limit of 0 means "unchanged", as
/// in runc (its `--pids-limit` defaults to 0).
fn request_value(request: &LinuxResources) -> Result<Value, Error> {
    let mut v = serde_json::to_value(request).map_err(Error::json("update request"))?;
    if let Some(m) = v.as_object_mut() {
        if m.get("pids").is_some_and(|p| p["limit"] == 0) {
            m.remove("pids");
        }
    }
    Ok(v)
}

/// The config with `request` merged into `linux.resources`: objects key by key, anything
/// else (numbers, strings, lists such as `devices`) replaced.
fn merged_config(config: &Spec, request: &Value) -> Result<Spec, Error> {
    let mut spec = serde_json::to_value(config).map_err(Error::json("saved config"))?;
    merge(&mut spec["linux"]["resources"], request.clone());
    serde_json::from_value(spec).map_err(Error::json("merged resources"))
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

/// What to write: the merged value of each section the request names, whole, since some
/// values depend on others (memory+swap on the limit, a quota on its period). Devices are
/// rewritten only when the request lists them, then with the default rules after them (none
/// for a rootless container).
fn to_apply(config: &Spec, request: &Value, rootless: bool) -> Result<LinuxResources, Error> {
    let full = serde_json::to_value(cgroup::resources(config, rootless))
        .map_err(Error::json("resources"))?;
    let sections: Map<String, Value> = request
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .filter_map(|k| full.get(k).map(|v| (k.clone(), v.clone())))
        .collect();
    serde_json::from_value(Value::Object(sections)).map_err(Error::json("resources to apply"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(resources: Value) -> Spec {
        let mut s = serde_json::to_value(Spec::default()).unwrap();
        s["linux"]["resources"] = resources;
        serde_json::from_value(s).unwrap()
    }

    fn res(v: Value) -> Value {
        request_value(&serde_json::from_value(v).unwrap()).unwrap()
    }

    fn resources_of(s: &Spec) -> Value {
        serde_json::to_value(s.linux().as_ref().unwrap().resources()).unwrap()
    }

    #[test]
    fn merge_keeps_what_the_request_omits() {
        let old = spec(json!({
            "memory": {"limit": 100, "swap": 200},
            "cpu": {"quota": 1000, "period": 10000},
            "pids": {"limit": 5},
            "devices": [{"allow": false, "access": "rwm"}],
            "unified": {"a": "1"}
        }));
        let req = res(json!({"memory": {"limit": 150}, "unified": {"b": "2"}}));
        let merged = merged_config(&old, &req).unwrap();
        assert_eq!(
            resources_of(&merged),
            json!({
                "memory": {"limit": 150, "swap": 200},
                "cpu": {"quota": 1000, "period": 10000},
                "pids": {"limit": 5},
                "devices": [{"allow": false, "access": "rwm"}],
                "unified": {"a": "1", "b": "2"}
            })
        );
        // Only the memory and unified sections are written, memory with its swap.
        let applied = serde_json::to_value(to_apply(&merged, &req, false).unwrap()).unwrap();
        assert_eq!(
            applied,
            json!({"memory": {"limit": 150, "swap": 200}, "unified": {"a": "1", "b": "2"}})
        );
    }

    #[test]
    fn lists_are_replaced_and_devices_get_the_defaults() {
        let old = spec(json!({"devices": [{"allow": false, "access": "rwm"}]}));
        let req = res(
            json!({"devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"}]}),
        );
        let merged = merged_config(&old, &req).unwrap();
        assert_eq!(
            resources_of(&merged)["devices"],
            json!([{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"}])
        );
        let applied = to_apply(&merged, &req, false).unwrap();
        let devices = applied.devices().as_ref().unwrap();
        assert!(devices.len() > 1, "default rules follow the request's");
        assert_eq!(devices[0].access().as_deref(), Some("r"));
        assert!(applied.memory().is_none());
    }

    #[test]
    fn a_zero_pids_limit_leaves_the_limit_alone() {
        let old = spec(json!({"pids": {"limit": 5}}));
        let req = res(json!({"pids": {"limit": 0}, "cpu": {"shares": 10}}));
        let merged = merged_config(&old, &req).unwrap();
        assert_eq!(resources_of(&merged)["pids"], json!({"limit": 5}));
        assert!(to_apply(&merged, &req, false).unwrap().pids().is_none());
    }

    #[test]
    fn a_config_without_resources_gets_them() {
        let mut s = serde_json::to_value(Spec::default()).unwrap();
        s.as_object_mut().unwrap().remove("linux");
        let old: Spec = serde_json::from_value(s).unwrap();
        let merged = merged_config(&old, &res(json!({"pids": {"limit": 9}}))).unwrap();
        assert_eq!(resources_of(&merged), json!({"pids": {"limit": 9}}));
    }
}
