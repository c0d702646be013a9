//! What real clients (podman, containerd, dockerd, crun's test suite) send that the other
//! tests do not: each case here is one a client tripped over.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;

/// Docker 20.10 writes `blockIO.weight: 0` and `cpu.shares: 0` for "unset", as runc reads them.
#[test]
fn zero_weights_from_docker_mean_unset() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("cgroupsPath");
    b.config["linux"]["resources"]["blockIO"] = json!({"weight": 0, "leafWeight": 0});
    b.config["linux"]["resources"]["cpu"] = json!({"shares": 0});
    let out = b.run(&unique("zero"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    b.assert_host_clean();
}
