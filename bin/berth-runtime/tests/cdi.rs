//! CDI devices named by `cdi.k8s.io/*` annotations, as containerd and CRI-O pass a
//! Kubernetes device plugin's: the spec's edits reach the container (a stand-in node made
//! with mknod, its cgroup rule, env), and a device no spec defines fails `create` in one
//! line with nothing left behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{text, unique, Bundle};
use serde_json::json;
use std::path::Path;

/// A spec directory with one stand-in device (the numbers of /dev/fuse, 10:229).
fn spec_dir(dir: &Path) -> String {
    let specs = dir.join("cdi");
    std::fs::create_dir_all(&specs).unwrap();
    let node = dir.join("standin");
    let st = std::process::Command::new("mknod")
        .args(["-m", "0660"])
        .arg(&node)
        .args(["c", "10", "229"])
        .status()
        .unwrap();
    assert!(st.success());
    let spec = json!({
        "cdiVersion": "0.5.0", "kind": "example.com/gpu",
        "devices": [{"name": "0", "containerEdits": {
            "deviceNodes": [{"path": "/dev/standin0", "hostPath": node}],
            "env": ["STANDIN_VISIBLE=0"]}}]
    });
    std::fs::write(specs.join("standin.json"), spec.to_string()).unwrap();
    specs.display().to_string()
}

/// `berth-runtime --cdi-spec-dir SPECS run` of the bundle.
fn run(b: &Bundle, specs: &str) -> std::process::Output {
    let id = unique("cdi");
    b.rt(&[
        "--cdi-spec-dir",
        specs,
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ])
}

#[test]
fn annotated_cdi_devices_reach_the_container() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "ls -ln /dev/standin0 | cut -c1-10; echo $STANDIN_VISIBLE; \
         (exec 3<>/dev/standin0) && echo opened; { mknod /dev/other c 1 11 && exec 3>/dev/other; } 2>/dev/null || echo refused",
    ]);
    let specs = spec_dir(b.path());
    b.config["annotations"] = json!({"cdi.k8s.io/standin": "example.com/gpu=0"});
    // A node no rule allows (the numbers of /dev/kmsg, which any process may open for
    // writing), made inside with CAP_MKNOD: the device cgroup (v1, or the eBPF filter on
    // v2) refuses it (its mknod or its open) while it lets the CDI device through.
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_MKNOD"));
    }
    let out = run(&b, &specs);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "crw-rw----\n0\nopened\nrefused\n");
    // The control: with a rule for it, the same node is made and opened.
    b.config["linux"]["resources"]["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rwm"}));
    let out = run(&b, &specs);
    assert_eq!(
        text(&out.stdout),
        "crw-rw----\n0\nopened\n",
        "{}",
        text(&out.stderr)
    );
    b.assert_host_clean();
}

#[test]
fn an_unknown_annotated_device_fails_create_and_leaves_nothing() {
    let mut b = Bundle::new(&["true"]);
    let specs = spec_dir(b.path());
    b.config["annotations"] = json!({"cdi.k8s.io/standin": "example.com/gpu=7"});
    let id = unique("cdi");
    let out = b.rt(&[
        "--cdi-spec-dir",
        &specs,
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("config.json: annotations: unknown CDI device example.com/gpu=7 (known: example.com/gpu=0)"),
        "{err}"
    );
    b.assert_host_clean();
}
