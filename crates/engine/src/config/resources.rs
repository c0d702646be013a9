//! cgroup limits: `--memory`, `--cpus`, `--pids-limit`.

use crate::options::{Settings, CPU_PERIOD};
use serde_json::{json, Value};

pub(super) fn apply(v: &mut Value, s: &Settings) {
    let r = &mut v["linux"]["resources"];
    if let Some(m) = s.memory {
        r["memory"] = json!({"limit": m});
    }
    if let Some(q) = s.cpu_quota {
        r["cpu"] = json!({"quota": q, "period": CPU_PERIOD});
    }
    if let Some(p) = s.pids_limit {
        r["pids"] = json!({"limit": p});
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use crate::options::RunOptions;
    use serde_json::json;

    #[test]
    fn limits() {
        let v = config(RunOptions {
            memory: Some("64m".into()),
            cpus: Some("0.5".into()),
            pids_limit: Some(10),
            ..Default::default()
        });
        let r = &v["linux"]["resources"];
        assert_eq!(r["memory"], json!({"limit": 64 << 20}));
        assert_eq!(r["cpu"], json!({"quota": 50_000, "period": 100_000}));
        assert_eq!(r["pids"], json!({"limit": 10}));
        assert!(r["devices"].is_array());
    }
}
