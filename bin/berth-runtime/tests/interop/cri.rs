//! containerd's CRI plugin with the runtime handler of docs/KUBERNETES.md: a pod sandbox and a
//! container started as the kubelet would (gRPC, here through `curl --http2-prior-knowledge`),
//! checked to run on berth-runtime.

use crate::common::text;
use crate::proto::{bytes, get_bytes, get_int, int};
use crate::{env, runtime, sh, sh_ok, wait_for, IMAGE};
use std::io::Write;
use std::process::{Command, Stdio};

/// The handler name docs/KUBERNETES.md registers and its RuntimeClass selects.
const HANDLER: &str = "berth";
/// CRI's namespace in containerd; the runc shim keeps runtime state under this root.
const STATE_ROOT: &str = "/run/containerd/runc/k8s.io";

/// One unary CRI call; returns the reply message, or the gRPC error text.
fn call(method: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
    let sock = env("BERTH_INTEROP_CONTAINERD");
    let headers = format!("{}/cri-headers", env("BERTH_INTEROP_DIR"));
    let url = format!("http://localhost/runtime.v1.RuntimeService/{method}");
    let mut child = Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "--max-time",
            "60",
            "--unix-socket",
            &sock,
        ])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .args(["--data-binary", "@-", "-D", &headers, &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut frame = vec![0u8];
    frame.extend((msg.len() as u32).to_be_bytes());
    frame.extend(msg);
    child.stdin.take().unwrap().write_all(&frame).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "curl {method}: {}", text(&out.stderr));
    let head = std::fs::read_to_string(&headers).unwrap();
    let field = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    match field("grpc-status:").as_str() {
        "0" => Ok(out.stdout.get(5..).unwrap_or_default().to_vec()),
        s => Err(format!(
            "{method}: grpc-status {s}: {}",
            field("grpc-message:")
        )),
    }
}

fn must(method: &str, msg: &[u8]) -> Vec<u8> {
    call(method, msg).unwrap_or_else(|e| panic!("{e}"))
}

/// `state` of a container in the shim's runtime root, through berth-runtime itself.
fn berth_status(id: &str) -> String {
    let out = sh_ok(&runtime(), &["--root", STATE_ROOT, "state", id]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["status"].as_str().unwrap_or_default().to_string()
}

#[test]
#[ignore = "run by scripts/test.d/60-interop.sh"]
fn cri_runtime_handler_of_the_kubernetes_doc() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/KUBERNETES.md"
    ))
    .unwrap();
    assert!(
        doc.contains(&format!("handler: {HANDLER}")),
        "the RuntimeClass must select {HANDLER}"
    );
    let version = must("Version", &bytes(1, "v1"));
    assert_eq!(get_bytes(&version, 2), b"containerd");

    let logs = format!("{}/pod-logs", env("BERTH_INTEROP_DIR"));
    // A host-network pod, as the kubelet asks for it (no CNI here, and no hostname): a pid
    // namespace per container, the ipc namespace shared in the pod.
    let ns = [int(1, 2), int(2, 1), int(3, 0)].concat();
    let linux = bytes(2, bytes(1, ns));
    let meta = [
        bytes(1, "berth-pod"),
        bytes(2, "berth-pod-uid"),
        bytes(3, "default"),
    ]
    .concat();
    let pod_config = [bytes(1, meta), bytes(3, &logs), bytes(8, linux)].concat();
    let pod = must(
        "RunPodSandbox",
        &[bytes(1, &pod_config), bytes(2, HANDLER)].concat(),
    );
    let pod = String::from_utf8(get_bytes(&pod, 1)).unwrap();
    assert_eq!(berth_status(&pod), "running");

    let config = [
        bytes(1, bytes(1, "app")),
        bytes(2, bytes(1, IMAGE)),
        bytes(3, "sh"),
        bytes(4, "-c"),
        bytes(4, "echo hello from cri; exec sleep 1000"),
        bytes(11, "app.log"),
    ]
    .concat();
    let ctr = must(
        "CreateContainer",
        &[bytes(1, &pod), bytes(2, config), bytes(3, &pod_config)].concat(),
    );
    let ctr = String::from_utf8(get_bytes(&ctr, 1)).unwrap();
    must("StartContainer", &bytes(1, &ctr));
    assert_eq!(berth_status(&ctr), "running");
    let status = must("ContainerStatus", &bytes(1, &ctr));
    assert_eq!(get_int(&get_bytes(&status, 1), 3), 1, "CONTAINER_RUNNING");
    wait_for("the container's log", 10, || {
        std::fs::read_to_string(format!("{logs}/app.log"))
            .ok()
            .filter(|l| l.contains("hello from cri"))
    });

    let cmd = ["sh", "-c", "echo in exec; exit 3"]
        .map(|a| bytes(2, a))
        .concat();
    let exec = must("ExecSync", &[bytes(1, &ctr), cmd, int(3, 20)].concat());
    assert_eq!(get_bytes(&exec, 1), b"in exec\n");
    assert_eq!(get_int(&exec, 3), 3);

    must("StopContainer", &[bytes(1, &ctr), int(2, 5)].concat());
    let status = must("ContainerStatus", &bytes(1, &ctr));
    assert_eq!(get_int(&get_bytes(&status, 1), 3), 2, "CONTAINER_EXITED");
    must("RemoveContainer", &bytes(1, &ctr));
    must("StopPodSandbox", &bytes(1, &pod));
    must("RemovePodSandbox", &bytes(1, &pod));
    let gone = sh(&runtime(), &["--root", STATE_ROOT, "state", &pod]);
    assert!(!gone.status.success(), "the sandbox's state is left");
}
